import SessionKit

/// Confirmations: what an action will do and to how many sessions.
extension AppState {

    /// Opens a confirmation that says what will happen and to how many sessions.
    mutating func confirm(_ action: PendingAction, now: Int64) {
        switch action {
        case .expire(let ids, let after):
            let when = after.map { "in \(DurationText.compact(ms: $0))" } ?? "now"
            dialog = Dialog(
                title: "Expire \(ids.count) session\(ids.count == 1 ? "" : "s")?",
                lines: [
                    "\(ids.count) session\(ids.count == 1 ? "" : "s") will expire \(when).",
                    "The application sees a normal timeout.",
                ], action: action)
        case .logout(let user, let count):
            dialog = Dialog(
                title: "Log out \(Sanitizer.display(user, limit: 60))?",
                lines: [
                    "Removes every session of this user (\(count) listed here,",
                    "all nodes searched) and every trace the framework keeps.",
                ], action: action)
        case .delete(let ids):
            dialog = Dialog(
                title: "Delete \(ids.count) session\(ids.count == 1 ? "" : "s")?", lines: ["They are removed now."],
                action: action)
        case .migrate(let ids, let node):
            dialog = Dialog(
                title: "Migrate \(ids.count) session\(ids.count == 1 ? "" : "s") to \(node)?",
                lines: ["TTL, user and attributes are kept."], action: action)
        case .enableNotifications:
            dialog = Dialog(
                title: "Turn on \(eventSetting?.name ?? "session events")?",
                lines: [
                    eventSetting?.change ?? "Changes a server setting on",
                    notificationsOff.joined(separator: ", ") + " (a server setting; audited).",
                ], action: action)
        }
        if let ctx = context, ctx.production, var d = dialog {
            d.title = "[\(Sanitizer.display(ctx.name, limit: 30))] " + d.title
            d.lines.append("This is the PRODUCTION context '\(Sanitizer.display(ctx.name, limit: 30))'.")
            dialog = d
        }
    }

    mutating func handleDialog(_ key: Key, now: Int64) -> [Effect] {
        guard var d = dialog else { return [] }
        if !d.choices.isEmpty {
            switch key {
            case .up, .char("k"):
                d.choice = max(0, d.choice - 1)
                dialog = d
            case .down, .char("j"):
                d.choice = min(d.choices.count - 1, d.choice + 1)
                dialog = d
            case .enter: confirm(.migrate(ids: d.pickFor, node: d.choices[d.choice]), now: now)
            case .escape, .char("n"), .char("q"): dialog = nil
            default: break
            }
            return []
        }
        guard let action = d.action else {
            dialog = nil
            return []
        }
        switch key {
        case .char("y"), .char("Y"), .enter:
            dialog = nil
            if case .expire = action { marked = [] }
            if case .migrate = action { marked = [] }
            return [.perform(action)]
        case .char("n"), .char("N"), .escape, .char("q"):
            dialog = nil
            showFlash("cancelled", error: false, now: now)
        default: break
        }
        return []
    }
}
