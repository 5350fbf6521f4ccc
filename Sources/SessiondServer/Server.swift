import Dispatch
import HouseStore
import NIOCore
import NIOPosix
import NIOSSL
import SessionKit

/// How to run a node (the `sessiond` options; README "sessiond").
public struct SessiondOptions: Sendable {
    public var bind = "127.0.0.1"
    /// 0: pick a free port.
    public var port = 7379
    public var nodeID: String?
    public var password: String?
    public var maxClients = 10_000
    public var idleTimeoutSeconds: Int64 = 0
    public var maxSessions: Int?
    public var maxMemory: Int?
    public var limits = RESPLimits()
    public var subscriberBuffer = 1 << 20
    /// Folder of the append-only log; nil: memory only.
    public var dir: String?
    public var fsync: AppendLog.FsyncPolicy = .everysec
    /// The cluster's members (this node among them, by `nodeID`); nil: standalone.
    public var cluster: [ClusterMember]?
    /// Test hook: die like `kill -9` at this migration step.
    public var fault: String?
    /// TLS for clients and members; nil: plain TCP.
    public var tls: SessiondTLS?
    public init() {}
}

/// A running sessiond node: one event loop owns all of its state (like Redis's single
/// thread), so the engine needs no lock. `sessiond` runs one; `sessionctl demo` runs three
/// in its own process.
public final class SessiondNode: Sendable {
    public let port: Int
    public let nodeID: String
    /// What the start found in the log (nil without `dir`).
    public let replay: AppendLog.ReplayReport?
    private let group: MultiThreadedEventLoopGroup
    private let server: any Channel
    private let node: NIOLoopBound<NodeServer>

    public static func start(_ o: SessiondOptions) throws -> SessiondNode { try SessiondNode(o) }

    private init(_ o: SessiondOptions) throws {
        if let members = o.cluster {
            guard let id = o.nodeID, members.contains(where: { $0.id == id }) else {
                throw SessiondError(
                    "--cluster needs --node-id naming one of its members (\(members.map(\.id).joined(separator: ", ")))"
                )
            }
        }
        let serverTLS = try o.tls?.serverContext()
        let peerTLS = try o.tls?.peerContext()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let config = NodeConfig(
            nodeID: o.nodeID ?? "", password: o.password, maxClients: o.maxClients,
            idleTimeoutSeconds: o.idleTimeoutSeconds,
            maxSessions: o.maxSessions, maxMemory: o.maxMemory, limits: o.limits, fault: o.fault, peerTLS: peerTLS)
        let node = try loop.submit { NIOLoopBound(NodeServer(config: config, loop: loop), eventLoop: loop) }.wait()
        var report: AppendLog.ReplayReport? = nil
        if let dir = o.dir {
            let path = dir + "/sessiond.aof"
            let policy = o.fsync
            report = try loop.submit { () throws -> AppendLog.ReplayReport in
                var records = AppendLog.ClusterRecords()
                let r = try AppendLog.replay(
                    path: path, into: &node.value.engine, cluster: &records, now: currentTimeMs())
                node.value.replayedCluster = records
                node.value.log = try AppendLog(path: path, policy: policy)
                node.value.armExpiryTimer()
                return r
            }.wait()
            if policy == .everysec {
                // fsync once a second (the write itself happens before each reply).
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                    node.value.log?.syncInBackground()  // off the loop: an fsync can take tens of ms
                }
            }
        }
        // A small subscriber buffer also caps the kernel's send buffer (no auto-tuning), so a
        // slow subscriber is detected early.
        let subscriberBuffer = o.subscriberBuffer
        let sndbuf = subscriberBuffer < 1 << 20 ? Int32(subscriberBuffer) : nil
        let idle = o.idleTimeoutSeconds
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(
                .writeBufferWaterMark, value: .init(low: max(1, subscriberBuffer / 16), high: max(2, subscriberBuffer))
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let serverTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverTLS))
                    }
                    if let sndbuf {
                        try channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sndbuf))
                    }
                    if idle > 0 {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(idle)))
                    }
                    try channel.pipeline.syncOperations.addHandler(Connection(node: node.value))
                }
            }
        let server: any Channel
        do { server = try bootstrap.bind(host: o.bind, port: o.port).wait() } catch {
            try? group.syncShutdownGracefully()
            throw SessiondError("cannot listen on \(o.bind):\(o.port): \(error)")
        }
        let actualPort = server.localAddress?.port ?? o.port
        let name = o.nodeID ?? "\(o.bind):\(actualPort)"
        let bind = o.bind
        try loop.submit {
            node.value.config.nodeID = name
            node.value.config.advertisedHost = bind
            node.value.config.advertisedPort = actualPort
            node.value.engine.node = name
        }.wait()
        self.group = group
        self.server = server
        self.node = node
        self.port = actualPort
        self.nodeID = name
        self.replay = report
        if let members = o.cluster { try join(cluster: members) }
    }

    /// Joins a cluster (static membership). The demo calls it once every node's ephemeral
    /// port is known; `sessiond --cluster` at start.
    public func join(cluster members: [ClusterMember]) throws {
        let node = self.node
        let id = nodeID
        guard members.contains(where: { $0.id == id }) else {
            throw SessiondError("this node (\(id)) is not among the cluster's members")
        }
        try node.eventLoop.submit {
            let n = node.value
            let state = ClusterState(
                selfID: id, members: members, password: n.config.password, tls: n.config.peerTLS, loop: n.loop)
            state.records = n.replayedCluster
            state.owed = Set(state.records.forward.keys)  // confirm every pointer once after a start
            n.replayedCluster = AppendLog.ClusterRecords()
            n.cluster = state
            n.cachedShares = nil
            n.loop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .seconds(1)) { _ in
                node.value.heartbeat()
            }
        }.wait()
    }

    /// Stops accepting clients (the first step of a graceful stop).
    public func closeListener() { server.close(promise: nil) }

    /// Blocks until the listener is closed.
    public func waitUntilClosed() { try? server.closeFuture.wait() }

    /// Graceful stop, in order on the loop: write the log out, tell every client, then stop
    /// the loop.
    public func stop() {
        try? server.close().wait()
        let node = self.node
        try? node.eventLoop.submit {
            do {
                try node.value.commitLog()
                try node.value.log?.sync()
            } catch { logError("\(error)") }
            node.value.log?.abandonCompaction()  // the log as it is is whole; the new file goes
            node.value.shutdownClients()
        }.wait()
        try? group.syncShutdownGracefully()
    }
}

public struct SessiondError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
