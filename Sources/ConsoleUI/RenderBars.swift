import SessionKit

/// The header, the tabs, the status line and the footer.
extension Renderer {

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
        if let ctx = s.context {
            let text = " " + Sanitizer.display(ctx.label, limit: 24) + (ctx.production ? " (production) " : " ")
            x = c.put(0, x, text, ctx.production ? .contextProduction : .contextBadge)
        }
        let up = s.nodes.isEmpty ? "?" : String(s.nodes.filter(\.up).count)
        let total = s.nodes.isEmpty ? String(max(1, s.names.nodes.count)) : String(s.nodes.count)
        // While the first listing streams in: "sessions 412,000 of ~1,000,000, 3 s".
        let count = s.listing?.intoTable == true ? s.listingText(now: now) ?? "" : group(s.liveCount)
        var parts = ["nodes \(up)/\(total)", "sessions \(count)"]
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
            let since =
                s.loadedAtMs > 0
                ? "; showing data from \(ISOTime.format(ms: s.loadedAtMs).dropFirst(11).prefix(8)) (stale)" : ""
            c.put(
                1, 0, " disconnected: \(Sanitizer.display(message, limit: 80)), retrying in \(secs) s\(since)", .banner)
            return
        }
        var x = 0
        for (n, (v, title)) in [
            (View.sessions, "Sessions"), (.events, "Events"), (.nodes, "Nodes"), (.stats, "Stats"),
        ].enumerated() {
            let active = s.view == v || (v == .sessions && s.view == .inspect)
            x = c.put(1, x, " \(n + 1) \(title) ", active ? .selected : .dim)
        }
        var info: [String] = []
        if !s.filter.isEmpty { info.append("filter: " + Sanitizer.display(s.filter.source, limit: 60)) }
        if s.view == .sessions {
            info.append("sort: \(s.sortColumn.rawValue) \(s.sortAscending ? "↑" : "↓")")
            if !s.marked.isEmpty { info.append("\(s.marked.count) marked") }
            if let l = s.listing, !l.intoTable, let text = s.listingText(now: now) {
                info.append("refreshing \(text)")
            } else if s.loading {
                info.append("loading…")
            } else if s.loadedAtMs > 0, now - s.loadedAtMs > 15_000 {
                info.append("listed \(secs(now - s.loadedAtMs)) ago (r refreshes)")
            }
        }
        if !s.failedNodes.isEmpty { info.append("down: " + s.failedNodes.joined(separator: ", ")) }
        let recentFailover = s.failover.flatMap { now - $0.atMs < 300_000 ? $0 : nil }
        if let f = recentFailover {
            let at = ISOTime.format(ms: f.atMs).dropFirst(11).prefix(8)
            info.append("\(at) " + Sanitizer.display(f.text, limit: 100))
        }
        c.put(
            1, x + 2, info.joined(separator: "   "),
            s.failedNodes.isEmpty && recentFailover == nil ? .filter : .nodeDown)
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
}
