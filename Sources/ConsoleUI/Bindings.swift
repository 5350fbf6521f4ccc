import SessionKit

/// What a key does. One table maps keys to commands with their help text: the help
/// screen and the footer are generated from it (tig, htop).
public enum Command: String, CaseIterable, Sendable {
    case up, down, pageUp, pageDown, home, end
    case inspect, back, filter, command, help, quit
    case mark, expire, logout, migrate
    case sortNext, sortReverse, refresh
    case viewSessions, viewEvents, viewNodes, viewStats
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
        case .viewStats: return "stats"
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
            keys: [.char("4")], label: "4",
            help: "stats view (per node and schema, signed in, top users, TTL/idle/age/size histograms)",
            command: .viewStats, views: [], footer: false, mutates: false),
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
