import SessionKit

/// What a key does. One table maps keys to commands with their help text: the help
/// screen and the footer are generated from it (tig, htop).
public enum Command: String, CaseIterable, Sendable {
    case up, down, pageUp, pageDown, home, end
    case inspect, back, filter, command, help, quit
    case mark, expire, logout, migrate
    case sortNext, sortReverse, refresh
    case viewSessions, viewEvents, viewNodes
    case eventKinds, enableNotifications
}

public struct Binding: Sendable {
    public var keys: [Key]
    public var label: String
    public var help: String
    public var command: Command
    /// Views where the binding is active (empty: everywhere).
    public var views: Set<View>
    /// Shown in the footer of these views.
    public var footer: Bool
    public var mutates: Bool

    /// The footer's word for it.
    public var short: String {
        switch command {
        case .inspect: return "inspect"
        case .filter: return "filter"
        case .command: return "cmd"
        case .mark: return "mark"
        case .expire: return "expire"
        case .logout: return "logout"
        case .migrate: return "migrate"
        case .viewEvents: return "events"
        case .viewNodes: return "nodes"
        case .eventKinds: return "kinds"
        case .enableNotifications: return "notify on"
        case .help: return "help"
        case .quit: return "quit"
        default: return command.rawValue
        }
    }
}

public enum Bindings {
    public static let table: [Binding] = [
        Binding(
            keys: [.up, .char("k")], label: "↑/k", help: "move up", command: .up, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.down, .char("j")], label: "↓/j", help: "move down", command: .down, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.pageUp], label: "PgUp", help: "page up", command: .pageUp, views: [], footer: false, mutates: false),
        Binding(
            keys: [.pageDown], label: "PgDn", help: "page down", command: .pageDown, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.home, .char("g")], label: "g", help: "first row", command: .home, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.end, .char("G")], label: "G", help: "last row", command: .end, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.enter], label: "⏎", help: "inspect the session (every attribute decoded)", command: .inspect,
            views: [.sessions], footer: true, mutates: false),
        Binding(
            keys: [.escape], label: "esc", help: "back, cancel, clear the filter", command: .back, views: [],
            footer: false, mutates: false),
        Binding(
            keys: [.char("/")], label: "/", help: "filter (same language as ls --filter)", command: .filter,
            views: [.sessions], footer: true, mutates: false),
        Binding(
            keys: [.char(":")], label: ":", help: "command (:logout U, :expire 30s, :migrate N, :theme T, :sort C, :q)",
            command: .command, views: [], footer: true, mutates: false),
        Binding(
            keys: [.char(" ")], label: "␣", help: "mark or unmark the session", command: .mark, views: [.sessions],
            footer: true, mutates: false),
        Binding(
            keys: [.char("e")], label: "e", help: "expire the marked sessions (or the selected one) now",
            command: .expire, views: [.sessions, .inspect], footer: true, mutates: true),
        Binding(
            keys: [.char("L")], label: "L", help: "force logout of the selected session's user", command: .logout,
            views: [.sessions, .inspect], footer: true, mutates: true),
        Binding(
            keys: [.char("m")], label: "m", help: "migrate the marked (or selected) sessions to a node",
            command: .migrate, views: [.sessions, .inspect], footer: true, mutates: true),
        Binding(
            keys: [.char("s"), .tab], label: "s", help: "sort by the next column", command: .sortNext,
            views: [.sessions], footer: false, mutates: false),
        Binding(
            keys: [.char("S"), .backTab], label: "S", help: "reverse the sort order", command: .sortReverse,
            views: [.sessions], footer: false, mutates: false),
        Binding(
            keys: [.char("r"), .ctrlL], label: "r", help: "refresh now", command: .refresh, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.char("1")], label: "1", help: "sessions view", command: .viewSessions, views: [], footer: false,
            mutates: false),
        Binding(
            keys: [.char("2")], label: "2", help: "events view (expired, evicted, deleted, migrated)",
            command: .viewEvents, views: [], footer: true, mutates: false),
        Binding(
            keys: [.char("3")], label: "3", help: "nodes view", command: .viewNodes, views: [], footer: true,
            mutates: false),
        Binding(
            keys: [.char("f")], label: "f", help: "events: cycle the kinds shown", command: .eventKinds,
            views: [.events], footer: true, mutates: false),
        Binding(
            keys: [.char("E")], label: "E", help: "events: turn on the store's event setting (asks first)",
            command: .enableNotifications, views: [.events], footer: true, mutates: true),
        Binding(
            keys: [.char("?")], label: "?", help: "this help", command: .help, views: [], footer: true, mutates: false),
        Binding(
            keys: [.char("q"), .ctrlC], label: "q", help: "quit (esc first in sub-views)", command: .quit, views: [],
            footer: true, mutates: false),
    ]

    public static func command(for key: Key, in view: View) -> Binding? {
        table.first { $0.keys.contains(key) && ($0.views.isEmpty || $0.views.contains(view)) }
    }

    public static func footer(for view: View) -> [Binding] {
        table.filter { $0.footer && ($0.views.isEmpty || $0.views.contains(view)) }
    }

    /// `:` commands, for completion.
    public static let colonCommands = [
        "logout", "expire", "migrate", "theme", "sort", "filter", "events", "nodes", "sessions", "help", "q", "quit",
    ]
}

extension AppState {
    var pageSize: Int { max(1, rowsPerPage) }

    /// Applies a key or a data event; returns what the controller must do.
    public mutating func handle(key: Key, now: Int64) -> [Effect] {
        if key == .resize {
            clampScroll()
            return []
        }
        if dialog != nil { return handleDialog(key, now: now) }
        if input != nil { return handleInput(key, now: now) }
        guard let binding = Bindings.command(for: key, in: view) else { return [] }
        if binding.mutates && readOnly {
            showFlash("read-only: \(binding.help) is disabled", error: true, now: now)
            return []
        }
        return run(binding.command, now: now)
    }

    mutating func run(_ command: Command, now: Int64) -> [Effect] {
        switch command {
        case .up: move(-1)
        case .down: move(1)
        case .pageUp: move(-pageSize)
        case .pageDown: move(pageSize)
        case .home: move(-Int.max / 2)
        case .end: move(Int.max / 2)
        case .inspect:
            guard let row = selectedRow else { return [] }
            returnView = view
            view = .inspect
            inspect = nil
            inspectLines = []
            inspectScroll = 0
            inspectError = nil
            return [.loadDetail(row.id.description)]
        case .back:
            if view == .inspect || view == .help {
                view = returnView
                return []
            }
            if view != .sessions {
                view = .sessions
                return []
            }
            if !filter.isEmpty {
                filter = Filter()
                rebuildVisible(now: now)
                return []
            }
            if !marked.isEmpty {
                marked = []
                return []
            }
        case .filter:
            input = .filter(filter.source)
        case .command:
            input = .command("")
            historyIndex = nil
        case .help:
            if view != .help {
                returnView = view == .inspect ? .sessions : view
                view = .help
            } else {
                view = returnView
            }
        case .quit:
            if view == .inspect || view == .help {
                view = returnView
                return []
            }
            return [.quit]
        case .mark:
            guard let row = selectedRow else { return [] }
            if marked.contains(row.id) { marked.remove(row.id) } else { marked.insert(row.id) }
            move(1)
        case .expire:
            let ids = targetIDs
            guard !ids.isEmpty else { return [] }
            confirm(.expire(ids: ids, afterMs: nil), now: now)
        case .logout:
            guard let user = (view == .inspect ? inspect?.user : selectedRow?.user) else {
                showFlash("the selected session has no known user; use e to expire it", error: true, now: now)
                return []
            }
            let count = rows.filter { $0.user == user && !$0.isGone }.count
            confirm(.logout(user: user, count: count), now: now)
        case .migrate:
            let ids = targetIDs
            guard !ids.isEmpty else { return [] }
            guard !migrateTargets.isEmpty else {
                showFlash(
                    "this store cannot migrate sessions (standalone Redis nodes: see the cluster issues)", error: true,
                    now: now)
                return []
            }
            dialog = Dialog(
                title: "Migrate \(ids.count) session\(ids.count == 1 ? "" : "s") to…", lines: [], action: nil,
                choices: migrateTargets, choice: 0, pickFor: ids)
        case .sortNext:
            let all = Column.allCases
            sortColumn = all[(all.firstIndex(of: sortColumn)! + 1) % all.count]
            rebuildVisible(now: now)
        case .sortReverse:
            sortAscending.toggle()
            rebuildVisible(now: now)
        case .refresh:
            // A refresh re-reads the attributes an `attr.` filter is decided on, too.
            return filter.needsAttributes ? [.refresh, .fetchFilterMatches(filter)] : [.refresh]
        case .viewSessions: view = .sessions
        case .viewEvents: view = .events
        case .viewNodes: view = .nodes
        case .eventKinds:
            let cycle: [Set<SessionEvent.Kind>] = [
                Set(SessionEvent.Kind.allCases), [.expired, .gap], [.evicted, .gap], [.deleted, .gap],
                [.migrated, .gap],
            ]
            let i = cycle.firstIndex(of: eventKinds) ?? 0
            eventKinds = cycle[(i + 1) % cycle.count]
        case .enableNotifications:
            let name = eventSetting?.name ?? "session events"
            guard !notificationsOff.isEmpty else {
                showFlash("\(name) are already on", error: false, now: now)
                return []
            }
            confirm(.enableNotifications, now: now)
        }
        return []
    }

    /// Marked sessions, else the selected one (the inspected one in the inspect view).
    var targetIDs: [String] {
        if view == .inspect, let s = inspect { return [s.id] }
        if !marked.isEmpty { return rows.filter { marked.contains($0.id) && !$0.isGone }.map(\.id.description) }
        return selectedRow.map { [$0.id.description] } ?? []
    }

    mutating func move(_ delta: Int) {
        switch view {
        case .inspect: inspectScroll = max(0, min(inspectScroll + delta, max(0, inspectLines.count - pageSize)))
        case .events: eventTop = max(0, min(eventTop + delta, max(0, events.count - 1)))
        case .sessions:
            guard !visible.isEmpty else { return }
            cursor = max(0, min(visible.count - 1, cursor + delta))
            clampScroll()
        default: break
        }
    }

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

    mutating func handleInput(_ key: Key, now: Int64) -> [Effect] {
        guard let current = input else { return [] }
        var text: String
        switch current {
        case .filter(let t), .command(let t): text = t
        }
        let isCommand = { if case .command = current { return true } else { return false } }()
        switch key {
        case .escape:
            input = nil
            return []
        case .enter:
            input = nil
            if isCommand { return runColon(text, now: now) }
            do {
                return setFilter(try Filter(text), now: now)
            } catch {
                showFlash("filter: \(error.description)", error: true, now: now)
            }
            return []
        case .backspace, .delete:
            if !text.isEmpty { text.removeLast() }
        case .tab where isCommand:
            text = complete(text)
        case .up where isCommand:
            guard !commandHistory.isEmpty else { return [] }
            let i = max(0, (historyIndex ?? commandHistory.count) - 1)
            historyIndex = i
            text = commandHistory[i]
        case .down where isCommand:
            guard let i = historyIndex else { return [] }
            if i + 1 < commandHistory.count {
                historyIndex = i + 1
                text = commandHistory[i + 1]
            } else {
                historyIndex = nil
                text = ""
            }
        case .char(let c):
            text.append(c)
        default:
            return []
        }
        input = isCommand ? .command(text) : .filter(text)
        return []
    }

    /// Completes the command word, or a theme name / node / user for the argument.
    func complete(_ text: String) -> String {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if parts.count <= 1 {
            let matches = Bindings.colonCommands.filter { $0.hasPrefix(text) }
            return matches.count == 1 ? matches[0] + " " : (matches.isEmpty ? text : commonPrefix(matches))
        }
        let word = parts.last ?? ""
        let pool: [String]
        switch parts[0] {
        case "theme": pool = themeNames
        case "migrate": pool = migrateTargets
        case "logout": pool = Array(Set(rows.compactMap(\.user))).sorted()
        case "sort": pool = Column.allCases.map(\.rawValue)
        default: pool = []
        }
        let matches = pool.filter { $0.hasPrefix(word) }
        guard !matches.isEmpty else { return text }
        let head = parts.dropLast().joined(separator: " ")
        return head + " " + (matches.count == 1 ? matches[0] : commonPrefix(matches))
    }

    func commonPrefix(_ items: [String]) -> String {
        guard var p = items.first else { return "" }
        for s in items.dropFirst() { while !s.hasPrefix(p) { p.removeLast() } }
        return p
    }

    mutating func runColon(_ text: String, now: Int64) -> [Effect] {
        let trimmed = text.trimmingCharacters()
        guard !trimmed.isEmpty else { return [] }
        commandHistory.append(trimmed)
        if commandHistory.count > 100 { commandHistory.removeFirst() }
        let parts = trimmed.split(separator: " ", maxSplits: 1).map(String.init)
        let arg = parts.count > 1 ? parts[1].trimmingCharacters() : ""
        let mutating = ["logout", "expire", "migrate"].contains(parts[0])
        if mutating && readOnly {
            showFlash("read-only: :\(parts[0]) is disabled", error: true, now: now)
            return []
        }
        switch parts[0] {
        case "q", "quit": return [.quit]
        case "help": view = .help
        case "sessions": view = .sessions
        case "events": view = .events
        case "nodes": view = .nodes
        case "filter":
            do { return setFilter(try Filter(arg), now: now) } catch {
                showFlash("filter: \(error.description)", error: true, now: now)
            }
        case "sort":
            guard let c = Column(rawValue: arg.lowercased()) else {
                showFlash("sort by: \(Column.allCases.map(\.rawValue).joined(separator: ", "))", error: true, now: now)
                return []
            }
            sortColumn = c
            rebuildVisible(now: now)
        case "theme":
            guard !arg.isEmpty else {
                showFlash("themes: \(themeNames.joined(separator: ", "))", error: false, now: now)
                return []
            }
            return [.setTheme(arg)]
        case "logout":
            let user = arg.isEmpty ? (selectedRow?.user ?? "") : arg
            guard !user.isEmpty else {
                showFlash(":logout USER", error: true, now: now)
                return []
            }
            confirm(.logout(user: user, count: rows.filter { $0.user == user && !$0.isGone }.count), now: now)
        case "expire":
            let ids = targetIDs
            guard !ids.isEmpty else {
                showFlash("no session selected", error: true, now: now)
                return []
            }
            var after: Int64? = nil
            if !arg.isEmpty && arg != "now" {
                do { after = try DurationText.milliseconds(arg) } catch {
                    showFlash(error.description, error: true, now: now)
                    return []
                }
            }
            confirm(.expire(ids: ids, afterMs: after), now: now)
        case "migrate":
            let ids = targetIDs
            guard !ids.isEmpty else {
                showFlash("no session selected", error: true, now: now)
                return []
            }
            guard !migrateTargets.isEmpty else {
                showFlash(
                    "this store cannot migrate sessions (standalone Redis nodes: see the cluster issues)", error: true,
                    now: now)
                return []
            }
            guard migrateTargets.contains(arg) else {
                showFlash("migrate to one of: \(migrateTargets.joined(separator: ", "))", error: true, now: now)
                return []
            }
            confirm(.migrate(ids: ids, node: arg), now: now)
        default:
            showFlash("unknown command :\(parts[0]) (try :help)", error: true, now: now)
        }
        return []
    }
}
