import DedicatedThread
import RedisClient
import SessionKit

extension RedisSessionStore {
    /// Redis as the store factory knows it: `redis://` and `unix://` URLs, one node, several
    /// independent nodes or a Redis Cluster (detected), a master named by Sentinel
    /// (`redis+sentinel://`), any schema.
    public static let kind = StoreKind(
        name: "redis", schemes: ["redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel"]
    ) { texts, options in
        var urls: [RedisURL] = []
        for t in texts {
            do { urls.append(try RedisURL(t)) } catch { throw StoreURLError(Redaction.redact("\(error)")) }
        }
        let t = options.tls
        for i in urls.indices {
            guard urls[i].isNetwork, urls[i].tls != nil || t.enabled else {
                if t.enabled { throw StoreURLError("--tls needs a TCP address (not a unix socket)") }
                continue
            }
            urls[i].tls = TLSOptions(
                caFile: t.caFile, caDir: t.caDir, certFile: t.certFile, keyFile: t.keyFile, serverName: t.serverName,
                insecure: t.insecure)
        }
        if let ssh = options.ssh {
            let jump = try JumpHost.from(ssh)
            for i in urls.indices {
                guard urls[i].isNetwork else {
                    throw StoreURLError("--ssh carries TCP connections, not unix sockets")
                }
                urls[i].jump = jump
            }
        }
        if options.readFromReplica, !urls.contains(where: { $0.sentinel != nil }) {
            throw StoreURLError("--read-from replica needs a Sentinel URL (redis+sentinel://host:26379/MASTER)")
        }
        let schema: SchemaOption
        do { schema = try SchemaOption.parse(options.schema) } catch { throw StoreURLError("\(error)") }
        return RedisSessionStore(
            urls: urls, schema: schema,
            timeouts: RedisConnection.Timeouts(
                connectMs: options.connectTimeoutMs, commandMs: options.commandTimeoutMs),
            fallbackPassword: options.password, readFromReplica: options.readFromReplica)
    }
}

extension RedisURL {
    /// Reached over the network (TLS and a jump host apply), not a unix socket.
    var isNetwork: Bool {
        if case .unix = endpoint { return false }
        return true
    }
}

extension JumpHost {
    /// The jump host of `--ssh`; a malformed destination is a usage error.
    static func from(_ ssh: SSHSettings) throws(StoreURLError) -> JumpHost {
        do { return try JumpHost(ssh.destination, command: ssh.command) } catch {
            throw StoreURLError(error.description)
        }
    }
}

/// A store URL or option that cannot be used (a usage error).
struct StoreURLError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension RedisError: ClassifiedStoreError {
    public var errorClass: StoreErrorClass {
        switch self {
        case .connection, .authentication: return .connection
        default: return .failure
        }
    }
}

extension SchemaError: ClassifiedStoreError {
    public var errorClass: StoreErrorClass { .usage }
}
