import Foundation
import SessionKit

/// Named contexts, like kubectl's: `$XDG_CONFIG_HOME/sessionctl/config.toml` (or
/// `$SESSIONCTL_CONFIG`).
///
///     current-context = "prod"
///     [contexts.prod]
///     stores = ["redis://10.0.0.5:6379", "redis://10.0.0.6:6379"]
///     schema = "spring"
///     read-only = true
///     theme = "dracula"
///     production = true        # the TUI header shows it in red; confirmations repeat it
///     label = "PROD EU"        # the header's badge (default: the context's name)
///     color = "#d70000"        # the badge's colour
///
/// A context fills what the command line leaves out: `--store` given on the command line
/// wins over the context's stores. Passwords belong in `REDISCLI_AUTH` or a prompt, not here.
public struct ConfigFile: Sendable {
    public struct Context: Equatable, Sendable {
        public var stores: [String] = []
        public var schema: String?
        public var readOnly = false
        public var theme: String?
        /// A production context: marked in red in the TUI, named in every confirmation.
        public var production = false
        /// The header badge's text (default: the context's name).
        public var label: String?
        /// The badge's colour (a theme colour: a name, 0-255 or #rrggbb).
        public var color: String?
        /// TLS, with the flags' names as keys (`tls`, `cacert`, `cacertdir`, `cert`, `key`,
        /// `sni`, `insecure`).
        public var tls = TLSSettings()
        /// A jump host (`ssh = "[user@]bastion[:port]"`), as `--ssh`.
        public var ssh: String?
        /// `read-from = "replica"`, as `--read-from`.
        public var readFrom: String?
        public init(
            stores: [String] = [], schema: String? = nil, readOnly: Bool = false, theme: String? = nil,
            production: Bool = false, label: String? = nil, color: String? = nil
        ) {
            self.stores = stores
            self.schema = schema
            self.readOnly = readOnly
            self.theme = theme
            self.production = production
            self.label = label
            self.color = color
        }
    }

    public init(path: String, currentContext: String? = nil, contexts: [String: Context] = [:]) {
        self.path = path
        self.currentContext = currentContext
        self.contexts = contexts
    }

    public var currentContext: String?
    public var contexts: [String: Context] = [:]
    public var path: String

    public static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["SESSIONCTL_CONFIG"] { return p }
        let base = env["XDG_CONFIG_HOME"] ?? ((env["HOME"] ?? "/tmp") + "/.config")
        return base + "/sessionctl/config.toml"
    }

    /// Loads the file; a missing file is an empty configuration, a broken one an error.
    public static func load(path: String = defaultPath) throws -> ConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else { return ConfigFile(path: path) }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Reads a configuration's text (`path` names it in messages); a broken one is an error.
    public static func parse(_ text: String, path: String) throws -> ConfigFile {
        var config = ConfigFile(path: path)
        let doc: [String: TOMLValue]
        do { doc = try TOMLSubset.parse(text) } catch {
            throw ConsoleError.usage("config \(path): \(error)")
        }
        for key in doc.keys where key != "current-context" && key != "contexts" {
            throw ConsoleError.usage("config \(path): unknown key '\(key)' (current-context, [contexts.NAME])")
        }
        config.currentContext = doc["current-context"]?.string
        for (name, value) in doc["contexts"]?.table ?? [:] {
            guard let t = value.table else {
                throw ConsoleError.usage("config \(path): contexts.\(name) must be a table")
            }
            var c = Context()
            for (k, v) in t {
                switch (k, v) {
                case ("stores", .array(let items)):
                    c.stores = try items.map {
                        guard let s = $0.string else {
                            throw ConsoleError.usage("config \(path): contexts.\(name).stores holds strings")
                        }
                        return s
                    }
                case ("schema", .string(let s)): c.schema = s
                case ("read-only", .bool(let b)): c.readOnly = b
                case ("theme", .string(let s)): c.theme = s
                case ("production", .bool(let b)): c.production = b
                case ("label", .string(let s)): c.label = s
                case ("color", .string(let s)): c.color = s
                case ("tls", .bool(let b)): c.tls.enabled = b
                case ("cacert", .string(let s)): c.tls.caFile = s
                case ("cacertdir", .string(let s)): c.tls.caDir = s
                case ("cert", .string(let s)): c.tls.certFile = s
                case ("key", .string(let s)): c.tls.keyFile = s
                case ("sni", .string(let s)): c.tls.serverName = s
                case ("insecure", .bool(let b)): c.tls.insecure = b
                case ("ssh", .string(let s)): c.ssh = s
                case ("read-from", .string(let s)): c.readFrom = s
                default:
                    throw ConsoleError.usage(
                        "config \(path): contexts.\(name): unknown or mistyped key '\(k)' "
                            + "(stores, schema, read-only, theme, production, label, color, tls, cacert, cacertdir, "
                            + "cert, key, sni, insecure, ssh, read-from)")
                }
            }
            config.contexts[name] = c
        }
        return config
    }

    /// The context to use: `--context`, else `$SESSIONCTL_CONTEXT`, else `current-context`.
    public func context(named requested: String?) throws -> (String, Context)? {
        let name = requested ?? ProcessInfo.processInfo.environment["SESSIONCTL_CONTEXT"] ?? currentContext
        guard let name else { return nil }
        guard let c = contexts[name] else {
            throw ConsoleError.usage(
                "no context '\(name)' in \(path) (known: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        return (name, c)
    }
}
