import ArgumentParser
import Dispatch
import HouseStore
import SessionKit
import SessiondServer

#if canImport(Glibc)
    import Glibc
#endif

struct Sessiond: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessiond",
        abstract: "A node of the in-house session store; speaks RESP2 (redis-cli and hiredis work).",
        discussion: """
            With --dir, every change is appended to DIR/sessiond.aof and replayed at start.
            A cluster: start each node with the same --cluster list and its own --node-id, e.g.
              sessiond --port 7001 --node-id n1 --cluster n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003
            """,
        version: buildVersion)

    @Option(help: "Address to listen on (loopback unless told otherwise).") var bind = "127.0.0.1"
    @Option(help: "TCP port (0: pick a free one and print it).") var port = 7379
    @Option(name: .customLong("node-id"), help: "This node's id (default host:port; required with --cluster).")
    var nodeID: String?
    @Option(
        help: ArgumentHelp(
            "The cluster's members, this node among them (static membership).", valueName: "id=host:port,..."))
    var cluster: String?
    @Option(
        help:
            "Require AUTH with this password; cluster members use it with each other. `ps` shows it: prefer --requirepass-file or $SESSIOND_PASSWORD."
    )
    var requirepass: String?
    @Option(
        name: .customLong("requirepass-file"),
        help: ArgumentHelp("Read the password from the first line of this file.", valueName: "path"))
    var requirepassFile: String?
    @Option(name: .customLong("max-clients"), help: "Most simultaneous clients.") var maxClients = 10_000
    @Option(help: "Close clients idle for this many seconds (0: never; subscribers are exempt).") var timeout: Int64 = 0
    @Option(name: .customLong("max-sessions"), help: "Evict least recently used sessions above this count.")
    var maxSessions: Int?
    @Option(help: "Evict least recently used sessions above this many bytes (k, m, g suffixes).") var maxmemory: String?
    @Option(name: .customLong("max-bulk"), help: "Largest value accepted, in bytes.") var maxBulk = 16 << 20
    @Option(
        name: .customLong("subscriber-buffer"),
        help: "Bytes an event subscriber may have pending before its events are dropped (then a gap notice).")
    var subscriberBuffer = 1 << 20
    @Option(help: "Folder of the append-only log (sessiond.aof); without it sessions live in memory only.") var dir:
        String?
    @Option(help: "When the log is fsynced: always (before each reply), everysec, no.") var fsync: String = "everysec"
    @Option(help: .hidden) var fault: String?
    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "Serve TLS only, with this certificate (PEM); members reach each other over TLS with it.",
            valueName: "file"))
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The certificate's private key (PEM).", valueName: "file"))
    var tlsKey: String?
    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "CA that signs the members' (and with --tls-auth-clients the clients') certificates (default: the system's).",
            valueName: "file"))
    var tlsCA: String?
    @Flag(name: .customLong("tls-auth-clients"), help: "Require a client certificate signed by --tls-ca.")
    var tlsAuthClients = false

    func run() throws {
        var o = SessiondOptions()
        o.bind = bind
        o.port = port
        o.nodeID = nodeID
        o.maxClients = maxClients
        o.idleTimeoutSeconds = timeout
        o.maxSessions = maxSessions
        o.limits.maxBulkLength = maxBulk
        o.subscriberBuffer = subscriberBuffer
        o.dir = dir
        o.fault = fault ?? getenv("SESSIOND_FAULT").map { String(cString: $0) }
        if let m = maxmemory {
            let lower = m.lowercased()
            let mul =
                lower.hasSuffix("g") ? 1 << 30 : lower.hasSuffix("m") ? 1 << 20 : lower.hasSuffix("k") ? 1 << 10 : 1
            guard let n = Int(lower.trimmingCharacters(in: "kmgb")) else {
                throw ValidationError("--maxmemory: '\(m)' is not a size")
            }
            o.maxMemory = n * mul
        }
        if requirepass != nil && requirepassFile != nil {
            throw ValidationError("give the password once: --requirepass or --requirepass-file")
        }
        if let path = requirepassFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("--requirepass-file: cannot read \(path)")
            }
            let first = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let password = first.hasSuffix("\r") ? String(first.dropLast()) : first
            guard !password.isEmpty else { throw ValidationError("--requirepass-file: \(path) holds no password") }
            o.password = password
        } else {
            o.password = requirepass ?? getenv("SESSIOND_PASSWORD").map { String(cString: $0) }
        }
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?):
            o.tls = SessiondTLS(certFile: cert, keyFile: key, caFile: tlsCA, requireClientCertificate: tlsAuthClients)
        case (nil, nil):
            if tlsCA != nil || tlsAuthClients {
                throw ValidationError("--tls-ca and --tls-auth-clients need --tls-cert and --tls-key")
            }
        default:
            throw ValidationError("TLS needs both --tls-cert and --tls-key")
        }
        guard let policy = AppendLog.FsyncPolicy(rawValue: fsync) else {
            throw ValidationError("--fsync: always, everysec or no")
        }
        o.fsync = policy
        if let cluster {
            do { o.cluster = try ClusterMember.parseList(cluster) } catch {
                throw ValidationError("--cluster: \(error)")
            }
        }
        let node: SessiondNode
        do { node = try SessiondNode.start(o) } catch { throw ValidationError("\(error)") }
        if let r = node.replay {
            print(
                "sessiond: replayed \(r.records) log records: \(r.sessions) sessions, \(r.expiredWhileDown) expired while down"
                    + (r.truncatedBytes > 0 ? ", torn tail of \(r.truncatedBytes) bytes truncated" : ""))
        } else {
            print("sessiond: no --dir: sessions live in memory only")
        }
        if let members = o.cluster {
            print("sessiond: cluster of \(members.count): \(members.map(\.description).joined(separator: ", "))")
        }
        print("sessiond \(node.nodeID) listening on \(bind):\(node.port)\(o.tls == nil ? "" : " (TLS)")")
        fflush(nil)

        // SIGINT/SIGTERM: stop accepting, write the log out, tell clients, exit.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let signals = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        for s in signals {
            s.setEventHandler { node.closeListener() }
            s.resume()
        }
        // The sources must outlive the wait (an optimized build may release them after
        // their last use, and then no signal would ever stop the node).
        withExtendedLifetime(signals) { node.waitUntilClosed() }
        node.stop()
        print("sessiond stopped")
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

Sessiond.main()
