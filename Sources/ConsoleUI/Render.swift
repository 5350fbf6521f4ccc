import SessionKit

/// Draws the whole screen from the state. Pure: the same state and time give the same
/// screen, which is what the golden tests check.
public enum Renderer {
    public static func draw(_ s: inout AppState, on c: Canvas, now: Int64) {
        c.clear()
        guard c.rows >= 8, c.cols >= 30 else {
            c.put(0, 0, "terminal too small", .flashError)
            return
        }
        s.rows_per_page = max(1, c.rows - 5)
        s.clampScroll()
        header(s, c, now)
        tabs(s, c, now)
        let body = 2..<(c.rows - 2)
        switch s.view {
        case .sessions: sessions(s, c, body, now)
        case .events: events(s, c, body, now)
        case .nodes: nodes(s, c, body, now)
        case .inspect: inspect(s, c, body, now)
        case .help: help(s, c, body)
        }
        status(s, c, now)
        footer(s, c)
        if let d = s.dialog { dialog(d, c) }
    }

    // MARK: header and bars

    static func header(_ s: AppState, _ c: Canvas, _ now: Int64) {
        c.fill(0, from: 0, .header)
        let state: (String, Role)
        switch s.connection {
        case .connecting: state = ("● connecting", .header)
        case .connected: state = (s.stale ? "● stale" : "● connected", .header)
        case .lost: state = ("● disconnected", .nodeDown)
        }
        let badge = s.readOnly ? " READ-ONLY " : ""
        let right = cellWidth(state.0) + 1 + cellWidth(badge) + (badge.isEmpty ? 0 : 1)
        var x = c.put(0, 0, " sessionctl ", .headerAccent)
        let up = s.nodes.isEmpty ? "?" : String(s.nodes.filter(\.up).count)
        let total = s.nodes.isEmpty ? String(max(1, s.names.nodes.count)) : String(s.nodes.count)
        var parts = ["nodes \(up)/\(total)", "sessions \(group(s.liveCount))"]
        let used = s.nodes.compactMap(\.usedMemory).reduce(0, +)
        let max = s.nodes.compactMap(\.maxMemory).reduce(0, +)
        if used > 0 { parts.append("mem \(bytes(used))/\(max > 0 ? bytes(max) : "∞")") }
        parts.append("expired \(format1(s.eventRate(.expired, now: now)))/s")
        parts.append("evicted \(format1(s.eventRate(.evicted, now: now)))/s")
        let facts = " " + parts.joined(separator: " │ ") + " "
        // The store name gives way first: the facts and the state always show.
        let room = c.cols - x - cellWidth(facts) - right - 1
        if room >= 8 { x = c.put(0, x, " " + fit(s.storeName, min(room - 1, cellWidth(s.storeName))), .header) }
        x = c.put(0, x, facts, .header)
        if !badge.isEmpty { c.put(0, c.cols - right, badge, .readOnly) }
        c.put(0, c.cols - cellWidth(state.0) - 1, state.0, state.1)
    }

    static func tabs(_ s: AppState, _ c: Canvas, _ now: Int64) {
        if case .lost(let message, let retryAt) = s.connection {
            c.fill(1, from: 0, .banner)
            let secs = max(0, (retryAt - now + 999) / 1000)
            let since = s.loadedAtMs > 0 ? "; showing data from \(ISOTime.format(ms: s.loadedAtMs).dropFirst(11).prefix(8)) (stale)" : ""
            c.put(1, 0, " disconnected: \(Sanitizer.display(message, limit: 80)), retrying in \(secs) s\(since)", .banner)
            return
        }
        var x = 0
        for (n, (v, title)) in [(View.sessions, "Sessions"), (.events, "Events"), (.nodes, "Nodes")].enumerated() {
            let active = s.view == v || (v == .sessions && s.view == .inspect)
            x = c.put(1, x, " \(n + 1) \(title) ", active ? .selected : .dim)
        }
        var info: [String] = []
        if !s.filter.isEmpty { info.append("filter: " + Sanitizer.display(s.filter.source, limit: 60)) }
        if s.view == .sessions {
            info.append("sort: \(s.sortColumn.rawValue) \(s.sortAscending ? "↑" : "↓")")
            if !s.marked.isEmpty { info.append("\(s.marked.count) marked") }
            if s.loading { info.append("loading…") }
            else if s.loadedAtMs > 0, now - s.loadedAtMs > 15_000 { info.append("listed \(secs(now - s.loadedAtMs)) ago (r refreshes)") }
        }
        if !s.failedNodes.isEmpty { info.append("down: " + s.failedNodes.joined(separator: ", ")) }
        c.put(1, x + 2, info.joined(separator: "   "), s.failedNodes.isEmpty ? .filter : .nodeDown)
    }

    static func status(_ s: AppState, _ c: Canvas, _ now: Int64) {
        let y = c.rows - 2
        if let input = s.input {
            switch input {
            case .filter(let t): c.put(y, 0, "/" + t + "█", .filter)
            case .command(let t): c.put(y, 0, ":" + t + "█", .filter)
            }
            return
        }
        if let f = s.flash, f.untilMs > now {
            c.put(y, 0, " " + Sanitizer.display(f.text, limit: 300), f.error ? .flashError : .flashInfo)
        }
    }

    static func footer(_ s: AppState, _ c: Canvas) {
        let y = c.rows - 1
        c.fill(y, from: 0, .footer)
        var x = 0
        for b in Bindings.footer(for: s.view) {
            let disabled = b.mutates && s.readOnly
            let word = b.short + (disabled ? "(ro)" : "")
            let w = cellWidth(b.label) + cellWidth(word) + 3
            if x + w >= c.cols { break }
            x = c.put(y, x, " " + b.label, disabled ? .dim : .footerKey)
            x = c.put(y, x, " " + word + " ", disabled ? .dim : .footer)
        }
    }

    // MARK: sessions

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
            let msg = s.loading ? "loading sessions…" : (s.filter.isEmpty ? "no sessions" : "no session matches the filter (esc clears it)")
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
                x = c.put(y, x, fit(text, w, alignRight: isNumeric(col)) + " ", selected || s.stale ? base : (role ?? base))
            }
        }
        if s.visible.count > capacity {
            let pct = s.visible.count <= 1 ? 100 : s.cursor * 100 / (s.visible.count - 1)
            c.put(body.upperBound - 1, c.cols - 14, fit("\(s.cursor + 1)/\(group(s.visible.count)) \(pct)%", 13, alignRight: true), .dim)
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

    // MARK: events

    static func events(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        var y = body.lowerBound
        var x = c.put(y, 1, "rates (10 s):", .dim)
        for (k, role) in [(SessionEvent.Kind.expired, Role.eventExpired), (.evicted, .eventEvicted), (.deleted, .eventDeleted), (.migrated, .eventMigrated)] {
            x = c.put(y, x + 2, "\(k.rawValue) \(format1(s.eventRate(k, now: now)))/s", role)
        }
        let kinds = s.eventKinds.count >= SessionEvent.Kind.allCases.count ? "all" : s.eventKinds.filter { $0 != .gap }.map(\.rawValue).sorted().joined(separator: ",")
        c.put(y, x + 4, "showing: \(kinds) (f)", .dim)
        y += 1
        if !s.notificationsOff.isEmpty {
            c.fill(y, from: 0, .eventGap)
            c.put(y, 1, "\(s.eventSetting?.name ?? "session events") are off on \(s.notificationsOff.joined(separator: ", ")): no events from there. Press E to turn them on.", .eventGap)
            y += 1
        }
        c.fill(y, from: 0, .tableHeader)
        c.put(y, 1, fit("TIME", 13) + fit("EVENT", 10) + fit("NODE", 17) + fit("SESSION", 38) + "USER", .tableHeader)
        y += 1
        let shown = s.events.reversed().filter { s.eventKinds.contains($0.kind) }
        if shown.isEmpty { c.put(y + 1, 2, "no events yet", .dim); return }
        for e in shown.dropFirst(s.eventTop) {
            guard y < body.upperBound else { break }
            let role: Role
            switch e.kind {
            case .expired: role = .eventExpired
            case .evicted: role = .eventEvicted
            case .deleted: role = .eventDeleted
            case .migrated: role = .eventMigrated
            case .created: role = .eventCreated
            case .gap: role = .eventGap
            }
            let time = String(ISOTime.format(ms: e.timeMs).dropFirst(11).prefix(12))
            if e.kind == .gap {
                c.fill(y, from: 0, .eventGap)
                c.put(y, 1, time + " " + fit("GAP", 9) + " " + fit(e.node, 17) + Sanitizer.display(e.detail ?? "events were lost", limit: 200), .eventGap)
            } else {
                let mark = e.prompted ? " (prompted)" : ""
                c.put(y, 1, time + " " + fit(e.kind.rawValue, 9) + " " + fit(e.node, 17)
                      + fit(e.sessionID.map { Sanitizer.display($0, limit: 80) } ?? "-", 38)
                      + (e.user.map { Sanitizer.display($0, limit: 40) } ?? "-") + mark, role)
            }
            y += 1
        }
    }

    // MARK: nodes

    static func nodes(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        var y = body.lowerBound
        c.fill(y, from: 0, .tableHeader)
        // Backend facts (a ring share, keys, slots) as further columns, titled by the store.
        let factColumns = NodeFactColumns(s.nodes)
        c.put(y, 1, fit("NODE", 18) + fit("STATE", 7) + fit("ROLE", 8) + fit("SESSIONS", 10, alignRight: true) + "  "
              + fit("MEMORY", 24) + fit("EXPIRED/s", 22)
              + (factColumns.isEmpty ? "EVICTED/s" : fit("EVICTED/s", 22) + factColumns.header), .tableHeader)
        y += 1
        if s.nodes.isEmpty { c.put(y + 1, 2, "loading nodes…", .dim); return }
        for n in s.nodes {
            guard y < body.upperBound else { break }
            var x = c.put(y, 1, fit(n.name, 18), .row)
            x = c.put(y, x, fit(n.up ? "up" : "DOWN", 7), n.up ? .nodeUp : .nodeDown)
            x = c.put(y, x, fit(n.role, 8), .row)
            x = c.put(y, x, fit(n.sessions.map(group) ?? "-", 10, alignRight: true) + "  ", .row)
            if let used = n.usedMemory {
                let maxMem = n.maxMemory ?? 0
                let barWidth = 10
                let filled = maxMem > 0 ? min(barWidth, Int(Double(used) / Double(maxMem) * Double(barWidth) + 0.5)) : 0
                x = c.put(y, x, String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled), .memoryBar)
                x = c.put(y, x, " " + fit(bytes(used) + "/" + (maxMem > 0 ? bytes(maxMem) : "∞"), 13), .row)
            } else {
                x = c.put(y, x, fit(n.error.map { Sanitizer.display($0, limit: 60) } ?? "-", 24), n.up ? .row : .nodeDown)
            }
            let rates = s.nodeRates[n.name] ?? []
            x = c.put(y, x, fit(sparkline(rates.map(\.expired), width: 12) + " " + format1(rates.last?.expired ?? 0), 22), .sparkline)
            let evicted = sparkline(rates.map(\.evicted), width: 12) + " " + format1(rates.last?.evicted ?? 0)
            if !factColumns.isEmpty {
                x = c.put(y, x, fit(evicted, 22), .sparkline)
                c.put(y, x, factColumns.row(n), .row)
            } else {
                c.put(y, x, evicted, .sparkline)
            }
            y += 1
        }
        if y + 1 < body.upperBound, let p = s.nodes.first?.evictionPolicy {
            c.put(y + 1, 1, "eviction policy: \(p)", .dim)
        }
    }

    /// Columns for the backend facts present on any node, each as wide as its widest cell.
    struct NodeFactColumns {
        let keys: [(key: String, title: String, width: Int)]
        init(_ nodes: [NodeInfo]) {
            var order: [(String, String)] = []
            for n in nodes { for f in n.facts where !order.contains(where: { $0.0 == f.key }) { order.append((f.key, f.title)) } }
            keys = order.map { key, title in
                (key, title, max(title.count, nodes.map { $0[fact: key]?.text.count ?? 1 }.max() ?? 1) + 2)
            }
        }
        var isEmpty: Bool { keys.isEmpty }
        var header: String { keys.map { fit($0.title, $0.width) }.joined() }
        func row(_ n: NodeInfo) -> String {
            keys.map { fit(n[fact: $0.key].map { Sanitizer.display($0.text, limit: 40) } ?? "-", $0.width) }.joined()
        }
    }

    public static func sparkline(_ values: [Double], width: Int) -> String {
        let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let tail = Array(values.suffix(width))
        guard let top = tail.max(), top > 0 else { return String(repeating: "▁", count: max(0, tail.count)) + String(repeating: " ", count: width - tail.count) }
        return String(tail.map { blocks[min(7, Int($0 / top * 7 + 0.5))] }) + String(repeating: " ", count: width - tail.count)
    }

    // MARK: inspect and help

    static func inspect(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        if let e = s.inspectError { c.put(body.lowerBound + 1, 2, Sanitizer.display(e, limit: 300), .flashError); return }
        guard s.inspect != nil else { c.put(body.lowerBound + 1, 2, "reading the session (without touching it)…", .dim); return }
        for (i, line) in s.inspectLines.dropFirst(s.inspectScroll).prefix(body.count).enumerated() {
            c.put(body.lowerBound + i, 1, line.0, line.1)
        }
    }

    /// Lines of the inspect view for a session (every attribute decoded, binary as hex).
    public static func inspectLines(_ s: Session, now: Int64) -> [(String, Role)] {
        var out: [(String, Role)] = []
        func kv(_ k: String, _ v: String) { out.append((fit(k, 14) + v, .row)) }
        kv("Session", Sanitizer.display(s.id))
        kv("Key", Sanitizer.display(s.key))
        kv("Node", s.node)
        kv("Schema", s.schema)
        kv("User", s.user.map { Sanitizer.display($0) } ?? "-")
        kv("TTL", s.ttlMs < 0 ? "never expires" : DurationText.compact(ms: s.ttlMs))
        kv("Created", s.createdAtMs.map { ISOTime.format(ms: $0) } ?? "-")
        kv("Last access", s.lastAccessedAtMs.map { ISOTime.format(ms: $0) } ?? "-")
        kv("Idle", s.idleMs(now: now).map { DurationText.compact(ms: $0) } ?? "-")
        kv("Max inactive", s.maxInactiveSeconds.map { $0 < 0 ? "never" : "\($0) s" } ?? "-")
        kv("Size", s.sizeBytes.map { "\($0) bytes" } ?? "-")
        out.append(("", .row))
        out.append(("Attributes (\(s.attributes.count))", .tableHeader))
        for a in s.attributes {
            out.append(("  " + Sanitizer.display(a.name, limit: 200) + "  [\(a.format), \(a.raw.count) B]", .headerAccent))
            for l in a.decoded.treeLines(indent: 2, limit: 1024) { out.append((l, .row)) }
            if case .bytes = a.decoded {
                for l in Sanitizer.hexDump(a.raw, limit: 4096) { out.append(("      " + l, .dim)) }
            }
        }
        return out
    }

    static func help(_ s: AppState, _ c: Canvas, _ body: Range<Int>) {
        var y = body.lowerBound
        c.put(y, 1, "Keys", .tableHeader); y += 1
        for b in Bindings.table {
            guard y < body.upperBound else { break }
            let scope = b.views.isEmpty ? "" : "  [" + b.views.map(\.rawValue).sorted().joined(separator: ", ") + "]"
            let ro = b.mutates && s.readOnly ? "  (disabled: read-only)" : ""
            c.put(y, 2, fit(b.label, 8), .footerKey)
            // The event-setting key speaks the store's own words.
            let text = b.command == .enableNotifications
                ? "events: turn on \(s.eventSetting?.name ?? "the store's event setting") (asks first)"
                : b.help
            c.put(y, 10, text + scope + ro, b.mutates && s.readOnly ? .dim : .help)
            y += 1
        }
        if y + 1 < body.upperBound {
            c.put(y + 1, 1, "Filter: user=alice node=n2 ttl<60 idle>10m schema=spring attr.role~admin (see ls --help)", .dim)
        }
    }

    // MARK: dialog

    static func dialog(_ d: Dialog, _ c: Canvas) {
        let lines = d.choices.isEmpty ? d.lines + ["", d.action == nil ? "[any key] close" : "[y/⏎] confirm    [n/esc] cancel"]
                                      : d.choices.enumerated().map { ($0.offset == d.choice ? "▶ " : "  ") + $0.element } + ["", "[↑↓] choose  [⏎] pick  [esc] cancel"]
        let width = min(c.cols - 4, max(cellWidth(d.title) + 4, (lines.map(cellWidth).max() ?? 0) + 4))
        let height = lines.count + 4
        let top = max(2, (c.rows - height) / 2)
        let left = max(1, (c.cols - width) / 2)
        c.put(top, left, fit("┌" + String(repeating: "─", count: width - 2) + "┐", width), .dialog)
        c.put(top + 1, left, "│", .dialog)
        c.put(top + 1, left + 1, fit(" " + d.title, width - 2), .dialogTitle)
        c.put(top + 1, left + width - 1, "│", .dialog)
        c.put(top + 2, left, "│" + String(repeating: " ", count: width - 2) + "│", .dialog)
        for (i, l) in lines.enumerated() {
            c.put(top + 3 + i, left, "│" + fit(" " + l, width - 2) + "│", .dialog)
        }
        c.put(top + 3 + lines.count, left, "└" + String(repeating: "─", count: width - 2) + "┘", .dialog)
    }

    // MARK: formatting

    static func group(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(ch) }
        return String(out.reversed())
    }

    static func bytes(_ n: Int64) -> String {
        if n < 1024 { return "\(n)B" }
        if n < 1 << 20 { return format1(Double(n) / 1024) + "K" }
        if n < 1 << 30 { return format1(Double(n) / 1048576) + "M" }
        return format1(Double(n) / 1073741824) + "G"
    }

    static func format1(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }
}
