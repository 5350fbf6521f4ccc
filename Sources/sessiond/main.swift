import ArgumentParser
import Dispatch
import HouseStore
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

struct Sessiond: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessiond",
        abstract: "A node of the in-house session store; speaks RESP2 (redis-cli and hiredis work).",
        discussion: "Persistence, the cluster and migration are not built yet (issues 4 and 5): data lives in memory.")

    @Option(help: "Address to listen on (loopback unless told otherwise).") var bind = "127.0.0.1"
    @Option(help: "TCP port (0: pick a free one and print it).") var port = 7379
    @Option(name: .customLong("node-id"), help: "This node's id (default host:port).") var nodeID: String?
    @Option(help: "Require AUTH with this password (also $SESSIOND_PASSWORD).") var requirepass: String?
    @Option(name: .customLong("max-clients"), help: "Most simultaneous clients.") var maxClients = 10_000
    @Option(help: "Close clients idle for this many seconds (0: never; subscribers are exempt).") var timeout: Int64 = 0
    @Option(name: .customLong("max-sessions"), help: "Evict least recently used sessions above this count.") var maxSessions: Int?
    @Option(help: "Evict least recently used sessions above this many bytes (k, m, g suffixes).") var maxmemory: String?
    @Option(name: .customLong("max-bulk"), help: "Largest value accepted, in bytes.") var maxBulk = 16 << 20

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
        // One event loop owns all state (like Redis's single thread): no locks anywhere.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let configTemplate = NodeConfig(nodeID: nodeID ?? "", password: password, maxClients: maxClients, idleTimeoutSeconds: timeout,
                                        maxSessions: maxSessions, maxMemory: memory, limits: limits)
        let idle = timeout
        let node = try loop.submit { NIOLoopBound(NodeServer(config: configTemplate, loop: loop), eventLoop: loop) }.wait()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 << 10, high: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
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
            s.setEventHandler { server.close(promise: nil) }
            s.resume()
        }
        try server.closeFuture.wait()
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
