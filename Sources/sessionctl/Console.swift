import ArgumentParser
import Foundation
import RedisClient
import RedisSessions
import HouseStore
import SessionKit

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: ArgumentHelp("Store URL; repeat for several nodes (default: $SESSIONCTL_STORE, else redis://127.0.0.1:6379).", valueName: "url"))
    var stores: [String] = []

    @Option(help: ArgumentHelp("Session schema: auto, spring[:NAMESPACE], connect-redis[:PREFIX], phpredis, laravel, symfony, django, django-cached-db, flask, rails, rack, rails-cache, aspnet:PREFIX, go-redistore, vapor, hummingbird, jwt-allowlist, jwt-denylist (each [:PREFIX]), prefix=PREFIX; comma-separated for several.", valueName: "schema"))
    var schema: String = "auto"

    @Flag(name: .customLong("read-only"), help: "Refuse every mutation.")
    var readOnly = false

    @Flag(name: [.short, .customLong("yes")], help: "Confirm destructive commands (required when not asked on a terminal).")
    var yes = false

    @Flag(name: .customLong("dry-run"), help: "Show what a mutation would do, change nothing.")
    var dryRun = false

    @Option(name: .customLong("audit-log"), help: ArgumentHelp("Audit log file (default: $SESSIONCTL_AUDIT_LOG, else $XDG_STATE_HOME/sessionctl/audit.log).", valueName: "path"))
    var auditLog: String?

    @Option(help: ArgumentHelp("A named context from the config file (stores, schema, read-only, theme).", valueName: "name"))
    var context: String?

    @Flag(name: .customLong("ask-password"), help: "Prompt for the Redis password on the terminal (not echoed) when the URL has none.")
    var askPassword = false

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Connect timeout (e.g. 2s, 500ms).", valueName: "duration"))
    var connectTimeout: String = "2s"

    @Option(name: .customLong("timeout"), help: ArgumentHelp("Command timeout (e.g. 10s).", valueName: "duration"))
    var commandTimeout: String = "10s"
}

/// A command that runs against a store; `batch` runs many of them on one `Console`.
protocol ConsoleCommand: ParsableCommand {
    var global: GlobalOptions { get }
    func execute(_ console: Console) async throws -> Int32
}

extension ConsoleCommand {
    mutating func run() throws {
        throw ConsoleError.usage("internal: console commands run through Main")
    }

    func runStandalone() async throws -> Int32 {
        let console = try Console(options: global, commandLine: CommandLine.arguments)
        defer { console.output.flush() }
        return try await console.run { try await execute(console) }
    }
}

/// Everything a command needs: the store, the options, output and the audit log.
final class Console: @unchecked Sendable {
    let options: GlobalOptions
    let store: any SessionStore
    let output: Output
    let audit: AuditLog
    let commandLine: String

    let timeouts: RedisConnection.Timeouts
    let password: String?

    /// A store from URLs: all `redis://`/`unix://` (Redis, any schema) or all `sessiond://`.
    static func makeStore(_ texts: [String], schema: String, timeouts: RedisConnection.Timeouts, password: String?) throws -> any SessionStore {
        var urls: [RedisURL] = []
        let sessiond = texts.allSatisfy { $0.hasPrefix("sessiond://") }
        if !sessiond && texts.contains(where: { $0.hasPrefix("sessiond://") }) {
            throw ConsoleError.usage("one store per invocation: give either redis:// or sessiond:// URLs, not both")
        }
        for t in texts {
            do { urls.append(sessiond ? try SessiondStore.url(t) : try RedisURL(t)) } catch { throw ConsoleError.usage(RedisURL.redact(error.description)) }
        }
        if sessiond { return SessiondStore(urls: urls, timeouts: timeouts, fallbackPassword: password) }
        let schemaOption: SchemaOption
        do { schemaOption = try SchemaOption.parse(schema) } catch { throw ConsoleError.usage(error.description) }
        return RedisSessionStore(urls: urls, schema: schemaOption, timeouts: timeouts, fallbackPassword: password)
    }

    /// The context's theme, for the TUI.
    let contextTheme: String?
    /// The context's name, shown in the TUI header.
    let contextName: String?

    init(options given: GlobalOptions, commandLine: [String]) throws {
        var options = given
        var contextTheme: String? = nil
        var contextName: String? = nil
        if let (name, ctx) = try ConfigFile.load().context(named: given.context) {
            contextName = name
            if options.stores.isEmpty { options.stores = ctx.stores }
            if options.schema == "auto", let s = ctx.schema { options.schema = s }
            options.readOnly = options.readOnly || ctx.readOnly
            contextTheme = ctx.theme
        }
        self.contextTheme = contextTheme
        self.contextName = contextName
        self.options = options
        var texts = options.stores
        if texts.isEmpty {
            texts = [ProcessInfo.processInfo.environment["SESSIONCTL_STORE"] ?? "redis://127.0.0.1:6379"]
        }
        let connectMs: Int64, commandMs: Int64
        do {
            connectMs = try DurationText.milliseconds(options.connectTimeout, bareUnitMs: 1000)
            commandMs = try DurationText.milliseconds(options.commandTimeout, bareUnitMs: 1000)
        } catch { throw ConsoleError.usage(error.description) }
        var password = ProcessInfo.processInfo.environment["REDISCLI_AUTH"]
        if options.askPassword {
            guard let typed = Terminal.readSecret("Redis password: ") else {
                throw ConsoleError.usage("--ask-password needs a terminal")
            }
            password = typed
        }
        let timeouts = RedisConnection.Timeouts(connectMs: Int(connectMs), commandMs: Int(commandMs))
        self.timeouts = timeouts
        self.password = password
        store = try Console.makeStore(texts, schema: options.schema, timeouts: timeouts, password: password)
        audit = AuditLog(path: options.auditLog)
        output = Output()
        self.commandLine = commandLine.map { RedisURL.redact($0) }.joined(separator: " ")
    }

    /// A console for one line of a batch: the same connections, output and audit log; the
    /// line's own safety flags add to the batch's (they can never loosen them).
    init(sharing other: Console, line: GlobalOptions, commandLine: String) {
        var merged = other.options
        merged.readOnly = other.options.readOnly || line.readOnly
        merged.dryRun = other.options.dryRun || line.dryRun
        merged.yes = other.options.yes || line.yes
        options = merged
        contextTheme = other.contextTheme
        contextName = other.contextName
        store = other.store
        timeouts = other.timeouts
        password = other.password
        audit = other.audit
        output = other.output
        self.commandLine = RedisURL.redact(commandLine)
    }

    /// Runs a command body, mapping store errors to exit codes.
    func run(_ body: () async throws -> Int32) async throws -> Int32 {
        do {
            return try await body()
        } catch let e as RedisError {
            switch e {
            case .connection, .authentication: throw ConsoleError(code: Exit.connection, message: RedisURL.redact(e.description))
            default: throw ConsoleError(code: Exit.partial, message: RedisURL.redact(e.description))
            }
        } catch let e as SchemaError {
            throw ConsoleError.usage(e.description)
        }
    }

    /// Refuses mutations under --read-only and asks for (or requires) confirmation.
    /// Returns false when the command should stop without changing anything (dry run).
    func authorize(_ action: String, count: Int, dryRun lineDryRun: Bool = false, yes lineYes: Bool = false) throws -> Bool {
        if options.readOnly {
            throw ConsoleError.usage("refusing to \(action): --read-only is set")
        }
        if options.dryRun || lineDryRun { return false }
        if count == 0 { return true }
        if options.yes || lineYes { return true }
        if Terminal.confirm("\(action.prefix(1).uppercased() + action.dropFirst()): \(count) session\(count == 1 ? "" : "s") will be affected. Continue?") {
            return true
        }
        throw ConsoleError.usage("\(action) affects \(count) session\(count == 1 ? "" : "s"): confirm with --yes (no confirmation was given)")
    }

    /// Fails with exit code 3 when every node failed, and reports partial failures.
    func report(failures: [NodeFailure]) -> Int32 {
        for f in failures { Terminal.error("node \(f.node) failed: \(RedisURL.redact(f.message))") }
        if failures.isEmpty { return Exit.ok }
        return Set(failures.map(\.node)).count >= store.nodeNames.count ? Exit.connection : Exit.partial
    }
}

/// Appends one JSON line per mutation: who, when, what, on which store, the outcome.
final class AuditLog: @unchecked Sendable {
    let path: String
    private let lock = NSLock()

    init(path: String?) {
        let env = ProcessInfo.processInfo.environment
        if let p = path ?? env["SESSIONCTL_AUDIT_LOG"] {
            self.path = p
        } else {
            let state = env["XDG_STATE_HOME"] ?? ((env["HOME"] ?? NSTemporaryDirectory()) + "/.local/state")
            self.path = state + "/sessionctl/audit.log"
        }
    }

    /// Checks that the log can be written before anything is changed.
    func ensureWritable() throws {
        let dir = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw ConsoleError.usage("cannot create the audit log folder \(dir): \(error.localizedDescription)")
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw ConsoleError.usage("cannot create the audit log \(path)")
            }
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw ConsoleError.usage("the audit log \(path) is not writable; refusing to change anything")
        }
    }

    func record(action: String, store: String, commandLine: String, target: String?, sessions: [String],
                result: MutationResult, extra: [String: String] = [:]) {
        var w = JSONWriter()
        w.raw("{\"time\":"); w.string(ISOTime.format(ms: currentTimeMs()))
        w.raw(",\"actor\":"); w.string(ProcessInfo.processInfo.environment["USER"] ?? String(getuid()))
        w.raw(",\"host\":"); w.string(ProcessInfo.processInfo.hostName)
        w.raw(",\"action\":"); w.string(action)
        w.raw(",\"store\":"); w.string(RedisURL.redact(store))
        w.raw(",\"command\":"); w.string(commandLine)
        w.raw(",\"target\":"); w.optionalString(target)
        w.raw(",\"sessions\":[")
        for (n, id) in sessions.prefix(10_000).enumerated() { if n > 0 { w.raw(",") }; w.string(id) }
        w.raw("],\"affected\":"); w.int(Int64(result.affected.count))
        w.raw(",\"not_found\":"); w.int(Int64(result.notFound.count))
        w.raw(",\"keys_changed\":"); w.int(Int64(result.keysTouched))
        w.raw(",\"failed_nodes\":[")
        for (n, f) in result.failedNodes.enumerated() { if n > 0 { w.raw(",") }; w.string(f.node) }
        w.raw("],\"result\":"); w.string(result.failedNodes.isEmpty ? (result.notFound.isEmpty ? "ok" : "partial") : "failed")
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { w.raw(","); w.string(k); w.raw(":"); w.string(v) }
        w.raw("}\n")
        lock.lock(); defer { lock.unlock() }
        guard let h = FileHandle(forWritingAtPath: path) else {
            Terminal.error("cannot append to the audit log \(path)")
            return
        }
        h.seekToEndOfFile()
        h.write(Data(w.bytes))
        try? h.close()
    }
}
