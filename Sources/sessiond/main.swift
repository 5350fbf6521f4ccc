import ArgumentParser
import Dispatch
import HouseStore
import SessionKit
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

struct Sessiond: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessiond",
        abstract: "A node of the in-house session store; speaks RESP2 (redis-cli and hiredis work).",
        discussion: "With --dir, every change is appended to DIR/sessiond.aof and replayed at start. The cluster and migration are issue 5.")

    @Option(help: "Address to listen on (loopback unless told otherwise).") var bind = "127.0.0.1"
    @Option(help: "TCP port (0: pick a free one and print it).") var port = 7379
    @Option(name: .customLong("node-id"), help: "This node's id (default host:port).") var nodeID: String?
    @Option(help: "Require AUTH with this password (also $SESSIOND_PASSWORD).") var requirepass: String?
    @Option(name: .customLong("max-clients"), help: "Most simultaneous clients.") var maxClients = 10_000
    @Option(help: "Close clients idle for this many seconds (0: never; subscribers are exempt).") var timeout: Int64 = 0
    @Option(name: .customLong("max-sessions"), help: "Evict least recently used sessions above this count.") var maxSessions: Int?
    @Option(help: "Evict least recently used sessions above this many bytes (k, m, g suffixes).") var maxmemory: String?
    @Option(name: .customLong("max-bulk"), help: "Largest value accepted, in bytes.") var maxBulk = 16 << 20
    @Option(name: .customLong("subscriber-buffer"), help: "Bytes an event subscriber may have pending before its events are dropped (then a gap notice).")
    var subscriberBuffer = 1 << 20
    @Option(help: "Folder of the append-only log (sessiond.aof); without it sessions live in memory only.") var dir: String?
    @Option(help: "When the log is fsynced: always (before each reply), everysec, no.") var fsync: String = "everysec"

    func run() throws {
        var limits = RESPLimits()
        limits.maxBulkLength = maxBulk
        var memory: Int? = nil
        if let m = maxmemory {
            let lower = m.lowercased()
            let mul = lower.hasSuffix("g") ? 1 << 30 : lower.hasSuffix("m") ? 1 << 20 : lower.hasSuffix("k") ? 1 << 10 : 1
            guard let n = Int(lower.trimmingCharacters(in: "kmgb")) else { throw ValidationError("--maxmemory: '\(m)' is not a size") }
            memory = n * mul
        }
        let password = requirepass ?? getenv("SESSIOND_PASSWORD").map { String(cString: $0) }
        guard let policy = AppendLog.FsyncPolicy(rawValue: fsync) else { throw ValidationError("--fsync: always, everysec or no") }
        // One event loop owns all state (like Redis's single thread): no locks anywhere.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let configTemplate = NodeConfig(nodeID: nodeID ?? "", password: password, maxClients: maxClients, idleTimeoutSeconds: timeout,
                                        maxSessions: maxSessions, maxMemory: memory, limits: limits)
        let idle = timeout
        let node = try loop.submit { NIOLoopBound(NodeServer(config: configTemplate, loop: loop), eventLoop: loop) }.wait()
        if let dir {
            let path = dir + "/sessiond.aof"
            let report = try loop.submit { () throws -> AppendLog.ReplayReport in
                let r = try AppendLog.replay(path: path, into: node.value.engine, now: currentTimeMs())
                node.value.log = try AppendLog(path: path, policy: policy)
                node.value.armExpiryTimer()
                return r
            }.wait()
            print("sessiond: replayed \(report.records) log records: \(report.sessions) sessions, \(report.expiredWhileDown) expired while down"
                  + (report.truncatedBytes > 0 ? ", torn tail of \(report.truncatedBytes) bytes truncated" : ""))
            if policy == .everysec {
                // fsync once a second, on the loop (the write itself happens before each reply).
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                    do { try node.value.log?.sync() } catch { logError("\(error)") }
                }
            }
        } else {
            print("sessiond: no --dir: sessions live in memory only")
        }
        // A small subscriber buffer also caps the kernel's send buffer (no auto-tuning), so a
        // slow subscriber is detected early.
        let sndbuf = subscriberBuffer < 1 << 20 ? Int32(subscriberBuffer) : nil
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: max(1, subscriberBuffer / 16), high: max(2, subscriberBuffer)))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sndbuf { try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sndbuf)) }
                    if idle > 0 { try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(idle))) }
                    try channel.pipeline.syncOperations.addHandler(Connection(node: node.value))
                }
            }
        let server = try bootstrap.bind(host: bind, port: port).wait()
        let actualPort = server.localAddress?.port ?? port
        let nodeName = nodeID ?? "\(bind):\(actualPort)"
        try loop.submit {
            node.value.config.nodeID = nodeName
            node.value.engine.node = nodeName
        }.wait()
        print("sessiond \(nodeName) listening on \(bind):\(actualPort)")
        fflush(nil)

        // SIGINT/SIGTERM: stop accepting, close clients, exit.
        signal(SIGINT, SIG_IGN); signal(SIGTERM, SIG_IGN)
        let signals = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        for s in signals {
            s.setEventHandler { server.close(promise: nil) }   // stop accepting; the rest follows below
            s.resume()
        }
        try server.closeFuture.wait()
        // In order, on the loop: write the log out, tell every client, then stop the loop.
        try? loop.submit {
            do { try node.value.commitLog(); try node.value.log?.sync() } catch { logError("\(error)") }
            node.value.shutdownClients()
        }.wait()
        try group.syncShutdownGracefully()
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
