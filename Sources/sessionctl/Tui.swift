import ArgumentParser
import ConsoleUI
import Foundation
import SessionKit
import SessionOps

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

    @Option(
        help: ArgumentHelp(
            "Re-list every DURATION (default: adaptive, 5 s on small stores, rarer on huge ones).",
            valueName: "duration"))
    var refresh: String?

    func execute(_ console: Console) async throws -> Int32 {
        guard Terminal.stdinIsTTY && Terminal.stdoutIsTTY else {
            throw ConsoleError.usage("the TUI needs a terminal; for scripts use a subcommand (see sessionctl --help)")
        }
        let library = ThemeLibrary.standard(executablePath: CommandLine.executablePath)
        let env = ProcessInfo.processInfo.environment
        let noColor = env["NO_COLOR"].map { !$0.isEmpty } ?? false
        let requested =
            theme ?? env["SESSIONCTL_THEME"] ?? (noColor ? "monochrome" : nil) ?? console.contextTheme ?? "default"
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
            do { refreshMs = max(1000, try DurationText.milliseconds(refresh)) } catch {
                throw ConsoleError.usage(error.description)
            }
        }
        let backend = await StoreBackend(console: console)
        let controller = TUIController(
            backend: backend, theme: chosen, themes: library, noColor: noColor,
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
        lock.lock()
        defer { lock.unlock() }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        h.seekToEndOfFile()
        h.write(Data((ISOTime.format(ms: currentTimeMs()) + " " + Redaction.redact(line) + "\n").utf8))
        try? h.close()
    }
}

/// The TUI's view of a store: the core, the capabilities it found, and every mutation
/// through the same operations (and audit records) as the batch commands.
struct StoreBackend: ConsoleBackend {
    let console: Console
    let capabilities: StoreCapabilities
    /// The cluster's nodes (empty: the store cannot migrate).
    let migrateTargets: [String]

    init(console: Console) async {
        self.console = console
        capabilities = await console.store.capabilities()
        migrateTargets = await capabilities.migration?.migrationTargets() ?? []
    }

    var store: any SessionStore { console.store }
    var storeName: String { console.store.displayName }
    var context: ContextBadge? {
        guard let name = console.contextName else { return nil }
        let color = console.context?.color.flatMap { Color.parse(.string($0)) }
        return ContextBadge(
            name: name, label: console.context?.label, production: console.context?.production ?? false, color: color)
    }
    var eventSetting: EventSettingWords? {
        capabilities.eventSettings.map { EventSettingWords(name: $0.settingName, change: $0.changeDescription) }
    }

    /// The TUI's own dialogs name the count and confirm: the operations run confirmed, with
    /// read-only still refusing, and report nothing on the terminal the screen owns.
    private var ops: Operations {
        Operations(
            store: console.store, policy: SafetyPolicy(readOnly: console.options.readOnly, confirmed: true),
            audit: console.audit, output: nil, reporter: SilentReporter(), commandLine: "tui", auditAttempts: true)
    }

    func nodeFacts(each: @escaping @Sendable (NodeInfo) -> Void) async -> [NodeInfo] {
        await console.store.nodes(.cheap) { each($0) }
    }

    var eventNotes: [String] { capabilities.events?.notes ?? [] }

    func events() -> AsyncThrowingStream<SessionEvent, Error> {
        guard let source = capabilities.events else {
            return AsyncThrowingStream { $0.finish() }
        }
        return source.events(kinds: Set(SessionEvent.Kind.allCases), deadlines: .byCaller)
    }

    func promptExpiry(ids: [String]) async { await capabilities.events?.promptExpiry(ids: ids) }

    func notificationsOff() async -> [String] {
        guard let settings = capabilities.eventSettings else { return [] }
        return await settings.eventSettingStatus().compactMap { r in
            if case .success(let s) = r, !s.isSufficient { return s.node }
            return nil
        }
    }

    func perform(_ action: PendingAction) async -> (message: String, error: Bool) {
        if console.options.readOnly { return ("read-only: refused", true) }
        let ops = self.ops
        do {
            switch action {
            case .expire(let ids, let after):
                let o = try await ops.expire(ids: ids, after: after.map { ($0, DurationText.compact(ms: $0)) })
                return (summary("expired", o.result), !o.result.failedNodes.isEmpty)
            case .logout(let user, _):
                let o = try await ops.logout(.user(user))
                return (
                    summary("logged out \(Sanitizer.display(user, limit: 60)):", o.result),
                    !o.result.failedNodes.isEmpty
                )
            case .delete(let ids):
                let o = try await ops.delete(ids: ids)
                return (summary("deleted", o.result), !o.result.failedNodes.isEmpty)
            case .migrate(let ids, let node):
                if let mover = capabilities.slotMoves {
                    // In a cluster the sessions' slots would move, with everything in them:
                    // more than the confirmation named, so the TUI says what and how.
                    return (await ops.slotMoveExplanation(ids: ids, to: node, mover: mover), true)
                }
                let o = try await ops.migrate(ids: ids, to: node)
                return (summary("migrated to \(node):", o.result), !o.result.failedNodes.isEmpty)
            case .enableNotifications:
                guard let settings = capabilities.eventSettings else {
                    return ("this store has no event setting", true)
                }
                let changes = try await ops.enableEventSettings(settings)
                return (
                    "\(settings.settingName) on: "
                        + changes.map { "\($0.node) '\($0.before)' -> '\($0.after)'" }.joined(separator: ", "), false
                )
            }
        } catch let e as ConsoleError {
            return (e.message, true)
        } catch {
            return (Redaction.redact("\(error)"), true)
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
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the themes found (and where they are looked for).")
    func run() throws {
        let lib = ThemeLibrary.standard(executablePath: CommandLine.executablePath)
        for name in lib.available() {
            let status: String
            do {
                _ = try lib.load(name)
                status = "ok"
            } catch { status = "BROKEN: \(error)" }
            let place = lib.path(for: name) ?? "(built in)"
            print(name.padding(toLength: 18, withPad: " ", startingAt: 0) + place + "  " + status)
        }
    }
}

struct ThemesValidate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check theme files (names or paths); exit 1 if any is broken.")
    @Argument(help: "Theme names or .toml paths (default: all found).") var themes: [String] = []
    func run() throws {
        let lib = ThemeLibrary.standard(executablePath: CommandLine.executablePath)
        var broken = 0
        for t in themes.isEmpty ? lib.available() : themes {
            do {
                let th = try lib.load(t)
                print("ok      \(t) (\(th.name))")
            } catch {
                broken += 1
                print("BROKEN  \(t): \(error)")
            }
        }
        if broken > 0 { throw ExitCode(1) }
    }
}
