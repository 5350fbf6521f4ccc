import SessionKit

/// The live events pane (2).
extension Renderer {

    static func events(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        var y = body.lowerBound
        var x = c.put(y, 1, "rates (10 s):", .dim)
        for (k, role) in [
            (SessionEvent.Kind.expired, Role.eventExpired), (.evicted, .eventEvicted), (.deleted, .eventDeleted),
            (.migrated, .eventMigrated),
        ] {
            x = c.put(y, x + 2, "\(k.rawValue) \(format1(s.eventRate(k, now: now)))/s", role)
        }
        let kinds =
            s.eventKinds.count >= SessionEvent.Kind.allCases.count
            ? "all" : s.eventKinds.filter { $0 != .gap }.map(\.rawValue).sorted().joined(separator: ",")
        c.put(y, x + 4, "showing: \(kinds) (f)", .dim)
        y += 1
        if !s.notificationsOff.isEmpty {
            c.fill(y, from: 0, .eventGap)
            c.put(
                y, 1,
                "\(s.eventSetting?.name ?? "session events") are off on \(s.notificationsOff.joined(separator: ", ")): no events from there. Press E to turn them on.",
                .eventGap)
            y += 1
        }
        for note in s.eventNotes where y + 2 < body.upperBound {
            c.put(y, 1, "note: " + note, .dim)
            y += 1
        }
        c.fill(y, from: 0, .tableHeader)
        c.put(y, 1, fit("TIME", 13) + fit("EVENT", 10) + fit("NODE", 17) + fit("SESSION", 38) + "USER", .tableHeader)
        y += 1
        // Lazily: only the rows on screen are looked at (a storm keeps thousands).
        let shown = s.events.lazy.reversed().filter { s.eventKinds.contains($0.kind) }
        if shown.isEmpty {
            c.put(y + 1, 2, "no events yet", .dim)
            return
        }
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
                c.put(
                    y, 1,
                    time + " " + fit("GAP", 9) + " " + fit(e.node, 17)
                        + Sanitizer.display(e.detail ?? "events were lost", limit: 200), .eventGap)
            } else {
                let mark = e.prompted ? " (prompted)" : ""
                c.put(
                    y, 1,
                    time + " " + fit(e.kind.rawValue, 9) + " " + fit(e.node, 17)
                        + fit(e.sessionID.map { Sanitizer.display($0, limit: 80) } ?? "-", 38)
                        + (e.user.map { Sanitizer.display($0, limit: 40) } ?? "-") + mark, role)
            }
            y += 1
        }
    }
}
