import SessionKit

/// The inspect pane and the generated help screen.
extension Renderer {

    static func inspect(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        if let e = s.inspectError {
            c.put(body.lowerBound + 1, 2, Sanitizer.display(e, limit: 300), .flashError)
            return
        }
        guard s.inspect != nil else {
            c.put(body.lowerBound + 1, 2, "reading the session (without touching it)…", .dim)
            return
        }
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
            out.append(
                ("  " + Sanitizer.display(a.name, limit: 200) + "  [\(a.format), \(a.raw.count) B]", .headerAccent))
            for l in a.decoded.treeLines(indent: 2, limit: 1024) { out.append((l, .row)) }
            if case .bytes = a.decoded {
                for l in Sanitizer.hexDump(a.raw, limit: 4096) { out.append(("      " + l, .dim)) }
            }
        }
        return out
    }

    static func help(_ s: AppState, _ c: Canvas, _ body: Range<Int>) {
        var y = body.lowerBound
        c.put(y, 1, "Keys", .tableHeader)
        y += 1
        for b in Bindings.table {
            guard y < body.upperBound else { break }
            let scope = b.views.isEmpty ? "" : "  [" + b.views.map(\.rawValue).sorted().joined(separator: ", ") + "]"
            let ro = b.mutates && s.readOnly ? "  (disabled: read-only)" : ""
            c.put(y, 2, fit(b.label, 8), .footerKey)
            // The event-setting key speaks the store's own words.
            let text =
                b.command == .enableNotifications
                ? "events: turn on \(s.eventSetting?.name ?? "the store's event setting") (asks first)"
                : b.help
            c.put(y, 10, text + scope + ro, b.mutates && s.readOnly ? .dim : .help)
            y += 1
        }
        if y + 1 < body.upperBound {
            c.put(
                y + 1, 1, "Filter: user=alice node=n2 ttl<60 idle>10m schema=spring attr.role~admin (see ls --help)",
                .dim)
        }
    }
}
