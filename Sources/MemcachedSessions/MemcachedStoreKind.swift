import DedicatedThread
import MemcachedClient
import SessionKit

extension MemcachedStore {
    /// Memcached as the store factory knows it: `memcached://[user:password@]h1:p1[,h2:p2]`,
    /// several URLs for several nodes; `--schema` picks a framework layout or `auto`.
    public static let kind = StoreKind(name: "memcached", schemes: ["memcached"]) { texts, options in
        var endpoints: [MemcachedEndpoint] = []
        for t in texts {
            do { endpoints += try MemcachedEndpoint.parse(t) } catch { throw SchemaError(description: "\(error)") }
        }
        if let ssh = options.ssh {
            let jump: JumpHost
            do { jump = try JumpHost(ssh.destination, command: ssh.command) } catch {
                throw SchemaError(description: "\(error)")
            }
            for i in endpoints.indices { endpoints[i].jump = jump }
        }
        let schema = try MemcachedSchema.parse(options.schema)
        return MemcachedStore(
            endpoints: endpoints, schema: schema,
            timeouts: .init(connectMs: options.connectTimeoutMs, commandMs: options.commandTimeoutMs))
    }
}

extension MemcachedError: ClassifiedStoreError {
    public var errorClass: StoreErrorClass {
        switch self {
        case .connection, .authentication: return .connection
        case .usage: return .usage
        case .refused, .protocolError: return .failure
        }
    }
}
