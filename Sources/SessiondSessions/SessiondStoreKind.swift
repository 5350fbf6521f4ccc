import DedicatedThread
import HouseStore
import RedisClient
import SessionKit

extension SessiondStore {
    /// The in-house store as the store factory knows it: `sessiond://` URLs, one node or a
    /// cluster (found from any member).
    public static let kind = StoreKind(name: "sessiond", schemes: ["sessiond", "sessionds"]) { texts, options in
        var urls: [RedisURL] = []
        for t in texts {
            do { urls.append(try SessiondStore.url(t)) } catch {
                throw SessiondURLError(description: Redaction.redact("\(error)"))
            }
        }
        // TLS (`sessionds://`, or `--tls`) with the console's TLS flags; members found later
        // get the same settings (`RedisURL.member`).
        let t = options.tls
        for i in urls.indices where urls[i].tls != nil || t.enabled {
            urls[i].tls = TLSOptions(
                caFile: t.caFile, caDir: t.caDir, certFile: t.certFile, keyFile: t.keyFile, serverName: t.serverName,
                insecure: t.insecure)
        }
        if let ssh = options.ssh {
            let jump: JumpHost
            do { jump = try JumpHost(ssh.destination, command: ssh.command) } catch {
                throw SessiondURLError(description: "\(error)")
            }
            for i in urls.indices { urls[i].jump = jump }
        }
        return SessiondStore(
            urls: urls,
            timeouts: RedisConnection.Timeouts(
                connectMs: options.connectTimeoutMs, commandMs: options.commandTimeoutMs),
            fallbackPassword: options.password)
    }
}

struct SessiondURLError: Error, CustomStringConvertible {
    var description: String
}
