import SessionKit

/// The sessions table (1).
extension Renderer {

    static let fixedWidths: [Column: Int] = [.user: 14, .node: 16, .ttl: 8, .idle: 7, .age: 7, .size: 6, .schema: 13]

    static func columnWidths(_ cols: Int) -> [(Column, Int)] {
        var fixed = Column.allCases.filter { $0 != .id }
        var used = fixed.reduce(0) { $0 + (fixedWidths[$1] ?? 8) + 1 } + 2
        // Narrow terminals drop columns from the right, keeping id, user, ttl.
        for drop in [Column.schema, .size, .age, .node, .idle] where cols - used < 12 {
            fixed.removeAll { $0 == drop }
            used -= (fixedWidths[drop] ?? 8) + 1
        }
        let idWidth = max(8, min(40, cols - used))
        return [(.id, idWidth)] + fixed.map { ($0, fixedWidths[$0] ?? 8) }
    }

    static func sessions(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        let widths = columnWidths(c.cols)
        var x = 2
        c.fill(body.lowerBound, from: 0, .tableHeader)
        for (col, w) in widths {
            var title = col.title
            if col == s.sortColumn { title += s.sortAscending ? "↑" : "↓" }
            x = c.put(body.lowerBound, x, fit(title, w, alignRight: isNumeric(col)) + " ", .tableHeader)
        }
        let first = body.lowerBound + 1
        let capacity = body.count - 1
        if s.visible.isEmpty {
            let msg =
                s.loading
                ? "loading sessions…"
                : (s.filter.isEmpty ? "no sessions" : "no session matches the filter (esc clears it)")
            c.put(first + 1, 2, msg, .dim)
            return
        }
        for i in 0..<capacity {
            let pos = s.top + i
            guard pos < s.visible.count else { break }
            let row = s.rows[s.visible[pos]]
            let y = first + i
            let selected = pos == s.cursor
            let marked = s.marked.contains(row.id)
            let base: Role = selected ? .selected : (marked ? .marked : (s.stale ? .stale : .row))
            if selected { c.fill(y, from: 0, .selected) }
            c.put(y, 0, marked ? "▌" : " ", marked ? .marked : base)
            var x = 2
            for (col, w) in widths {
                let (text, role) = cell(row, col, s, now)
                x = c.put(
                    y, x, fit(text, w, alignRight: isNumeric(col)) + " ", selected || s.stale ? base : (role ?? base))
            }
        }
        if s.visible.count > capacity {
            let pct = s.visible.count <= 1 ? 100 : s.cursor * 100 / (s.visible.count - 1)
            c.put(
                body.upperBound - 1, c.cols - 14,
                fit("\(s.cursor + 1)/\(group(s.visible.count)) \(pct)%", 13, alignRight: true), .dim)
        }
    }

    static func isNumeric(_ col: Column) -> Bool { [.ttl, .idle, .age, .size].contains(col) }

    /// Whole seconds, `0s` under a second.
    static func secs(_ ms: Int64) -> String { ms < 1000 ? "0s" : DurationText.compact(ms: ms / 1000 * 1000) }

    static func cell(_ r: Row, _ col: Column, _ s: AppState, _ now: Int64) -> (String, Role?) {
        switch col {
        case .id: return (Sanitizer.display(r.id.description, limit: 120), nil)
        case .user: return (r.user.map { Sanitizer.display($0, limit: 60) } ?? "-", r.user == nil ? .dim : nil)
        case .node: return (s.names.nodes[Int(r.node)], nil)
        case .ttl:
            let ttl = r.ttlMs(now: now)
            if ttl < 0 { return ("∞", .ttlNever) }
            return (secs(ttl), ttl < 60_000 ? .ttlCritical : (ttl < 300_000 ? .ttlWarning : nil))
        case .idle: return (r.lastAccessMs == .min ? "-" : secs(max(0, now - r.lastAccessMs)), nil)
        case .age: return (r.createdMs == .min ? "-" : secs(max(0, now - r.createdMs)), nil)
        case .size: return (r.sizeBytes < 0 ? "-" : bytes(Int64(r.sizeBytes)), nil)
        case .schema: return (s.names.schemas[Int(r.schema)], .dim)
        }
    }
}
