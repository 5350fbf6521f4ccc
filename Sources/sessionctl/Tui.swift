import ArgumentParser
import ConsoleUI
import Foundation
import RedisClient
import RedisSessions
import HouseStore
import SessionKit

struct Tui: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "tui",
        abstract: "Open the terminal console (the default with no subcommand on a terminal).",
        discussion: """
        Keys: ↑↓/jk move, ⏎ inspect, / filter, : command, ␣ mark, e expire, L logout, m migrate,
        s/S sort, 1 sessions, 2 events, 3 nodes, ? help, q quit. Every destructive action asks
        first and names how many sessions it touches; --read-only disables them.
        Theme: --theme NAME|PATH, else $SESSIONCTL_THEME, else the context's theme, else default;
        NO_COLOR gives monochrome.
        The TUI logs to $XDG_STATE_HOME/sessionctl/tui.log while it owns the screen.
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Colour theme: a name from themes/ or a path to a .toml file.", valueName: "theme"))
    var theme: String?

    @Option(help: ArgumentHelp("Re-list every DURATION (default: adaptive, 5 s on small stores, rarer on huge ones).", valueName: "duration"))
    var refresh: String?

    func execute(_ console: Console) async throws -> Int32 {
        guard Terminal.stdinIsTTY && Terminal.stdoutIsTTY else {
            throw ConsoleError.usage("the TUI needs a terminal; for scripts use a subcommand (see sessionctl --help)")
        }
        let library = ThemeLibrary.standard(executablePath: CommandLine.executablePath)
        let env = ProcessInfo.processInfo.environment
        let noColor = env["NO_COLOR"].map { !$0.isEmpty } ?? false
        let requested = theme ?? env["SESSIONCTL_THEME"] ?? (noColor ? "monochrome" : nil) ?? console.contextTheme ?? "default"
        var chosen: Theme
        var warning: String? = nil
        do { chosen = try library.load(requested) } catch {
            warning = "\(error); using the default theme"
            chosen = (try? library.load("default")) ?? Theme.monochrome
        }
        let log = TUILog()
        if let warning { log.write(warning) }
        var refreshMs: Int64? = nil
        if let refresh {
            do { refreshMs = max(1000, try DurationText.milliseconds(refresh)) } catch { throw ConsoleError.usage(error.description) }
        }
        let backend = StoreBackend(console: console, migrateTargets: await console.store.migrationTargets())
        let controller = TUIController(backend: backend, theme: chosen, themes: library, noColor: noColor,
                                       readOnly: console.options.readOnly, refreshMs: refreshMs, log: { log.write($0) })
        if let warning { controller.flash(warning, error: true) }
        let code = await controller.run()
        if let warning { Terminal.error(warning) }
        return code
    }
}

extension CommandLine {
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}

/// A log file for the TUI (stderr belongs to the screen while curses runs).
final class TUILog: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    init() {
        let env = ProcessInfo.processInfo.environment
        let state = env["XDG_STATE_HOME"] ?? ((env["HOME"] ?? NSTemporaryDirectory()) + "/.local/state")
        path = state + "/sessionctl/tui.log"
        try? FileManager.default.createDirectory(atPath: state + "/sessionctl", withIntermediateDirectories: true)
    }
    func write(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        h.seekToEndOfFile()
        h.write(Data((ISOTime.format(ms: currentTimeMs()) + " " + RedisURL.redact(line) + "\n").utf8))
        try? h.close()
    }
}

/// The TUI's view of a store (Redis or sessiond); every mutation is audited like the batch
/// commands'.
struct StoreBackend: ConsoleBackend {
    let console: Console
    var store: any SessionStore { console.store }
    var storeName: String { console.contextName.map { "\($0) (\(console.store.displayName))" } ?? console.store.displayName }
    /// The cluster's nodes (empty: the store cannot migrate; Redis Cluster is issue 7).
    let migrateTargets: [String]

    func nodeFacts() async -> [NodeInfo] { await console.store.nodes(countSessions: false) }

    func events() -> AsyncThrowingStream<SessionEvent, Error> {
        console.store.untrackedEvents(kinds: Set(SessionEvent.Kind.allCases))
    }

    func promptExpiry(ids: [String]) async { await console.store.promptExpiry(ids: ids) }

    func notificationsOff() async -> [String] {
        guard let n = console.store as? any KeyspaceNotifications else { return [] }
        return await n.notificationStatus().compactMap { r in
            if case .success(let s) = r, !s.isSufficient { return s.node }
            return nil
        }
    }

    func perform(_ action: PendingAction) async -> (message: String, error: Bool) {
        if console.options.readOnly { return ("read-only: refused", true) }
        do {
            try console.audit.ensureWritable()
            let store = console.store
            switch action {
            case .expire(let ids, let after):
                var r = try await store.expire(ids: ids, after: after)
                r.notFound = r.notFound.filter { !r.affected.contains($0) }
                console.audit.record(action: after == nil ? "expire" : "expire-in", store: store.displayName, commandLine: "tui",
                                     target: nil, sessions: r.affected, result: r, extra: after.map { ["in_ms": String($0)] } ?? [:])
                return (summary("expired", r), !r.failedNodes.isEmpty)
            case .logout(let user, _):
                let r = try await store.logout(user: user)
                console.audit.record(action: "logout", store: store.displayName, commandLine: "tui", target: user, sessions: r.affected, result: r)
                return (summary("logged out \(Sanitizer.display(user, limit: 60)):", r), !r.failedNodes.isEmpty)
            case .delete(let ids):
                let r = try await store.delete(ids: ids)
                console.audit.record(action: "delete", store: store.displayName, commandLine: "tui", target: nil, sessions: r.affected, result: r)
                return (summary("deleted", r), !r.failedNodes.isEmpty)
            case .migrate(let ids, let node):
                if let redis = store as? RedisSessionStore, redis.router != nil {
                    // In a cluster the sessions' slots would move, with everything in them:
                    // more than the confirmation named, so the TUI says what and how.
                    let plan = await redis.slotPlan(ids: ids)
                    let moving = plan.slots.filter { $0.owner != node }
                    return ("Redis Cluster: these sessions move with \(moving.count) hash slot(s) holding \(moving.reduce(0) { $0 + $1.keys }) key(s); "
                            + "run: sessionctl migrate \(ids.prefix(3).joined(separator: " "))\(ids.count > 3 ? " ..." : "") --to \(node) --move-slot", true)
                }
                let r = try await store.migrate(ids: ids, to: node)
                console.audit.record(action: "migrate", store: store.displayName, commandLine: "tui", target: node, sessions: r.affected,
                                     result: r, extra: ["to": node])
                return (summary("migrated to \(node):", r), !r.failedNodes.isEmpty)
            case .enableNotifications:
                let changes = try await (store as? any KeyspaceNotifications)?.enableNotifications() ?? []
                for c in changes {
                    console.audit.record(action: "config-set", store: store.displayName, commandLine: "tui", target: "notify-keyspace-events",
                                         sessions: [], result: MutationResult(), extra: ["node": c.node, "before": c.before, "after": c.after])
                }
                return ("notifications on: " + changes.map { "\($0.node) '\($0.before)' -> '\($0.after)'" }.joined(separator: ", "), false)
            }
        } catch let e as ConsoleError {
            return (e.message, true)
        } catch {
            return (RedisURL.redact("\(error)"), true)
        }
    }

    private func summary(_ verb: String, _ r: MutationResult) -> String {
        var s = "\(verb) \(r.affected.count) session\(r.affected.count == 1 ? "" : "s")"
        if r.keysTouched > 0 { s += " (\(r.keysTouched) keys/members)" }
        if !r.failedNodes.isEmpty { s += "; failed on " + r.failedNodes.map(\.node).joined(separator: ", ") }
        return s
    }
}

struct Themes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or validate colour themes.",
        subcommands: [ThemesList.self, ThemesValidate.self], defaultSubcommand: ThemesList.self)
}

struct ThemesList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the themes found (and where they are looked for).")
    func run() throws {
        let lib = ThemeLibrary.standard(executablePath: CommandLine.executablePath)
        for name in lib.available() {
            let status: String
            do { _ = try lib.load(name); status = "ok" } catch { status = "BROKEN: \(error)" }
            print(name.padding(toLength: 18, withPad: " ", startingAt: 0) + (lib.path(for: name) ?? "") + "  " + status)
        }
    }
}

struct ThemesValidate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check theme files (names or paths); exit 1 if any is broken.")
    @Argument(help: "Theme names or .toml paths (default: all found).") var themes: [String] = []
    func run() throws {
        let lib = ThemeLibrary.standard(executablePath: CommandLine.executablePath)
        var broken = 0
        for t in themes.isEmpty ? lib.available() : themes {
            do { let th = try lib.load(t); print("ok      \(t) (\(th.name))") }
            catch { broken += 1; print("BROKEN  \(t): \(error)") }
        }
        if broken > 0 { throw ExitCode(1) }
    }
}
