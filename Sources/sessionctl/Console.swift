import ArgumentParser
import Foundation
import MemcachedSessions
import RedisSessions
import SQLSessions
import SessionKit
import SessionOps
import SessiondSessions

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "Store URL; repeat for several nodes (default: $SESSIONCTL_STORE, else redis://127.0.0.1:6379).",
            valueName: "url"))
    var stores: [String] = []

    @Option(
        help: ArgumentHelp(
            "Session schema: auto, spring[:NAMESPACE], connect-redis[:PREFIX], phpredis, laravel, symfony, django, django-cached-db, flask, rails, rack, rails-cache, aspnet:PREFIX, go-redistore, vapor, hummingbird, jwt-allowlist, jwt-denylist (each [:PREFIX]), prefix=PREFIX; comma-separated for several.",
            valueName: "schema"))
    var schema: String = "auto"

    @Flag(name: .customLong("read-only"), help: "Refuse every mutation.")
    var readOnly = false

    @Flag(
        name: [.short, .customLong("yes")],
        help: "Confirm destructive commands (required when not asked on a terminal).")
    var yes = false

    @Flag(name: .customLong("dry-run"), help: "Show what a mutation would do, change nothing.")
    var dryRun = false

    @Option(
        name: .customLong("audit-log"),
        help: ArgumentHelp(
            "Audit log file (default: $SESSIONCTL_AUDIT_LOG, else $XDG_STATE_HOME/sessionctl/audit.log).",
            valueName: "path"))
    var auditLog: String?

    @Option(
        help: ArgumentHelp(
            "A named context from the config file (stores, schema, read-only, theme).", valueName: "name"))
    var context: String?

    @Flag(
        name: .customLong("ask-password"),
        help: "Prompt for the Redis password on the terminal (not echoed) when the URL has none.")
    var askPassword = false

    @Option(
        name: .customLong("connect-timeout"),
        help: ArgumentHelp("Connect timeout (e.g. 2s, 500ms).", valueName: "duration"))
    var connectTimeout: String = "2s"

    @Option(name: .customLong("timeout"), help: ArgumentHelp("Command timeout (e.g. 10s).", valueName: "duration"))
    var commandTimeout: String = "10s"

    @Flag(help: "Connect over TLS (as rediss:// does).")
    var tls = false

    @Option(
        help: ArgumentHelp("CA certificate file to verify the server with (default: the system's).", valueName: "file"))
    var cacert: String?

    @Option(help: ArgumentHelp("Directory of CA certificates (hashed, as c_rehash makes).", valueName: "dir"))
    var cacertdir: String?

    @Option(help: ArgumentHelp("Client certificate (PEM) for servers that ask for one.", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("Server name for SNI and for verifying the certificate.", valueName: "name"))
    var sni: String?

    @Flag(help: "Do not verify the server's TLS certificate (says so on stderr).")
    var insecure = false

    @Option(
        help: ArgumentHelp(
            "Reach every node through this jump host, with the system ssh client ($SESSIONCTL_SSH_COMMAND, default ssh; its config, keys and agent apply).",
            valueName: "[user@]host[:port]"))
    var ssh: String?

    @Option(
        name: .customLong("read-from"),
        help: ArgumentHelp(
            "Where listings read with a Sentinel URL: master, or replica (a healthy replica; mutations still go to the master).",
            valueName: "master|replica"))
    var readFrom: String?

    @Option(
        name: .customLong("secret-key"),
        help: ArgumentHelp(
            "Check Django's signed session data with this SECRET_KEY (default: $DJANGO_SECRET_KEY; the environment keeps it out of ps and shell history).",
            valueName: "key"))
    var secretKey: String?
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

/// Everything a command needs: the store, the options, output, and the operations over
/// them (policy, audit, reporting).
final class Console: @unchecked Sendable {
    let options: GlobalOptions
    let store: any SessionStore
    let output: Output
    let audit: AuditLog
    let commandLine: String
    let storeOptions: StoreOptions
    /// The context's theme, for the TUI.
    let contextTheme: String?
    /// The context's name, shown in the TUI header.
    let contextName: String?
    /// The context's settings (production marker, label, colour).
    let context: ConfigFile.Context?

    /// Every kind of store this program can open.
    static let factory = StoreFactory([
        RedisSessionStore.kind, SessiondStore.kind, MemcachedStore.kind, SQLSessionStore.kind,
    ])

    /// The operations of this command: its store, policy, audit log and output.
    var ops: Operations {
        Operations(
            store: store,
            policy: SafetyPolicy(
                readOnly: options.readOnly, dryRun: options.dryRun, confirmed: options.yes,
                productionContext: context?.production == true ? contextName : nil),
            audit: audit, output: output, reporter: Terminal.reporter, commandLine: commandLine)
    }

    init(options given: GlobalOptions, commandLine: [String]) throws {
        var options = given
        var contextTheme: String? = nil
        var contextName: String? = nil
        var context: ConfigFile.Context? = nil
        if let (name, ctx) = try ConfigFile.load().context(named: given.context) {
            contextName = name
            context = ctx
            if options.stores.isEmpty { options.stores = ctx.stores }
            if options.schema == "auto", let s = ctx.schema { options.schema = s }
            options.readOnly = options.readOnly || ctx.readOnly
            options.tls = options.tls || ctx.tls.enabled
            options.cacert = options.cacert ?? ctx.tls.caFile
            options.cacertdir = options.cacertdir ?? ctx.tls.caDir
            options.cert = options.cert ?? ctx.tls.certFile
            options.key = options.key ?? ctx.tls.keyFile
            options.sni = options.sni ?? ctx.tls.serverName
            options.insecure = options.insecure || ctx.tls.insecure
            options.ssh = options.ssh ?? ctx.ssh
            options.readFrom = options.readFrom ?? ctx.readFrom
            contextTheme = ctx.theme
        }
        self.contextTheme = contextTheme
        self.contextName = contextName
        self.context = context
        self.options = options
        var texts = options.stores
        if texts.isEmpty {
            texts = [ProcessInfo.processInfo.environment["SESSIONCTL_STORE"] ?? "redis://127.0.0.1:6379"]
        }
        let connectMs: Int64
        let commandMs: Int64
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
        let tls = TLSSettings(
            enabled: options.tls, caFile: options.cacert, caDir: options.cacertdir, certFile: options.cert,
            keyFile: options.key, serverName: options.sni, insecure: options.insecure)
        if tls.insecure { Terminal.note("warning: --insecure: TLS certificates are not verified") }
        var ssh: SSHSettings? = nil
        if let destination = options.ssh {
            let text = ProcessInfo.processInfo.environment["SESSIONCTL_SSH_COMMAND"] ?? "ssh"
            let words: [String]
            do { words = try ShellWords.split(text) } catch {
                throw ConsoleError.usage("SESSIONCTL_SSH_COMMAND: \(error)")
            }
            ssh = SSHSettings(destination: destination, command: words)
        }
        var opening = StoreOptions(
            schema: options.schema, connectTimeoutMs: Int(connectMs), commandTimeoutMs: Int(commandMs),
            password: password, tls: tls, ssh: ssh, readFromReplica: try Console.readsFromReplica(options.readFrom))
        opening.secretKey = options.secretKey ?? ProcessInfo.processInfo.environment["DJANGO_SECRET_KEY"]
        storeOptions = opening
        store = try Console.factory.open(texts, options: opening)
        audit = AuditLog(path: options.auditLog)
        output = Output()
        self.commandLine = Console.hidingSecrets(commandLine).map { Redaction.redact($0) }.joined(separator: " ")
    }

    /// The command line with the value of `--secret-key` replaced by `***` (for the audit log).
    static func hidingSecrets(_ words: [String]) -> [String] {
        var out = words
        for i in out.indices {
            if out[i] == "--secret-key", i + 1 < out.count { out[i + 1] = "***" }
            if out[i].hasPrefix("--secret-key=") { out[i] = "--secret-key=***" }
        }
        return out
    }

    static func readsFromReplica(_ text: String?) throws -> Bool {
        switch text {
        case nil, "master": return false
        case "replica": return true
        case let other?: throw ConsoleError.usage("--read-from: '\(other)' is neither master nor replica")
        }
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
        context = other.context
        store = other.store
        storeOptions = other.storeOptions
        audit = other.audit
        output = other.output
        self.commandLine = Redaction.redact(commandLine)
    }

    /// Another store of a kind this program knows (`migrate --from URL --to URL`).
    func open(_ url: String, schema: String) throws -> any SessionStore {
        var o = storeOptions
        o.schema = schema
        return try Console.factory.open([url], options: o)
    }

    /// Runs a command body, mapping store errors to exit codes.
    func run(_ body: () async throws -> Int32) async throws -> Int32 {
        do {
            return try await body()
        } catch {
            throw ConsoleError.from(error)
        }
    }
}
