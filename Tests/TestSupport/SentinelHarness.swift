import Foundation
import RedisClient

#if canImport(Glibc)
    import Glibc
#endif

/// A master, a replica and three real `redis-sentinel`s monitoring them as `mymaster`, on
/// free loopback ports in temporary directories. `failover()` runs `SENTINEL FAILOVER` and
/// waits until the sentinels name the replica.
public final class SentinelHarness: @unchecked Sendable {
    public let master: RedisServer
    public let replica: RedisServer
    public let sentinelPorts: [Int]
    public let masterName = "mymaster"
    public let sentinelPassword: String?
    /// With TLS: the TLS port of each server (by its plain port) and of each sentinel.
    public let tls: TLSCertificates?
    public private(set) var tlsPorts: [Int: Int] = [:]
    private var sentinels: [ChildProcess] = []
    private let directory: String

    /// `config`: extra settings for both data nodes (notifications...). `tls`: every server
    /// and sentinel also listens on a TLS port, replication and monitoring go over TLS, and
    /// the sentinels name the masters by their TLS ports.
    public init(config: [String] = [], sentinelPassword: String? = nil, tls: TLSCertificates? = nil) throws {
        guard let binary = findExecutable("redis-sentinel") else {
            throw HarnessError(
                "redis-sentinel not found on PATH: install redis-sentinel (the README's test command does)")
        }
        self.sentinelPassword = sentinelPassword
        self.tls = tls
        func tlsArgs(_ port: Int) -> [String] {
            guard let tls else { return [] }
            return [
                "--tls-port", String(port), "--tls-cert-file", tls.serverCert, "--tls-key-file", tls.serverKey,
                "--tls-ca-cert-file", tls.caFile, "--tls-auth-clients", "no", "--tls-replication", "yes",
            ]
        }
        let masterTLS = freePort()
        let replicaTLS = freePort()
        master = try RedisServer(config: config + tlsArgs(masterTLS))
        let masterData = tls == nil ? master.port : masterTLS
        replica = try RedisServer(
            config: config + tlsArgs(replicaTLS) + ["--replicaof", "127.0.0.1", String(masterData)])
        if tls != nil { tlsPorts = [master.port: masterTLS, replica.port: replicaTLS] }
        directory = try makeTemporaryDirectory("sessionctl-sentinel")
        var ports: [Int] = []
        while ports.count < 3 {
            let p = freePort()
            if !ports.contains(p) && p != master.port && p != replica.port && p != masterTLS && p != replicaTLS {
                ports.append(p)
            }
        }
        sentinelPorts = ports
        for (i, port) in ports.enumerated() {
            let dir = "\(directory)/s\(i)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var conf = """
                port \(port)
                bind 127.0.0.1
                daemonize no
                dir \(dir)
                sentinel monitor \(masterName) 127.0.0.1 \(masterData) 2
                sentinel down-after-milliseconds \(masterName) 1000
                sentinel failover-timeout \(masterName) 10000
                sentinel parallel-syncs \(masterName) 1

                """
            if let tls {
                let tp = freePort()
                tlsPorts[port] = tp
                conf += """
                    tls-port \(tp)
                    tls-cert-file \(tls.serverCert)
                    tls-key-file \(tls.serverKey)
                    tls-ca-cert-file \(tls.caFile)
                    tls-auth-clients no
                    tls-replication yes

                    """
            }
            if let sentinelPassword {
                conf += "requirepass \(sentinelPassword)\nsentinel sentinel-pass \(sentinelPassword)\n"
            }
            try conf.write(toFile: "\(dir)/sentinel.conf", atomically: true, encoding: .utf8)
            sentinels.append(
                try ChildProcess(path: binary, arguments: ["\(dir)/sentinel.conf"], outputPath: "\(dir)/sentinel.log"))
        }
        // Ready when every sentinel knows the replica (linked) and the two other sentinels.
        let deadline = Date().addingTimeInterval(30)
        while true {
            if ports.allSatisfy({ p in
                let replicas = (try? sentinelCommand(p, "SENTINEL", "REPLICAS", masterName))?.array ?? []
                let others = (try? sentinelCommand(p, "SENTINEL", "SENTINELS", masterName))?.array ?? []
                return replicas.contains { Self.field($0, "master-link-status") == "ok" } && others.count == 2
            }) {
                break
            }
            if Date() > deadline { throw HarnessError("the sentinels did not find the replica and each other in 30 s") }
            usleep(200_000)
        }
    }

    /// `redis+sentinel://127.0.0.1:P1,…/mymaster`, with the sentinel password when set.
    public var urlString: String {
        (tls == nil ? "redis+sentinel://" : "rediss+sentinel://")
            + sentinelPorts.map { "127.0.0.1:\(tlsPorts[$0] ?? $0)" }.joined(separator: ",") + "/\(masterName)"
            + (sentinelPassword.map { "?sentinel_password=\($0)" } ?? "")
    }

    /// One command to one sentinel.
    @discardableResult
    public func sentinelCommand(_ port: Int, _ args: String...) throws -> RedisReply {
        let url = RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port), password: sentinelPassword)
        let c = try RedisConnection(url: url, timeouts: .init(connectMs: 1000, commandMs: 5000))
        defer { c.close() }
        return try c.send([RedisCommand(args.map { Array($0.utf8) })])[0]
    }

    /// The port the sentinels name for a server (its TLS port with TLS).
    public func dataPort(_ server: RedisServer) -> Int { tlsPorts[server.port] ?? server.port }

    /// The port the sentinels name as master now.
    public func masterPort() throws -> Int? {
        let r = try sentinelCommand(sentinelPorts[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
        return r.array.flatMap { $0.count == 2 ? $0[1].text.flatMap { Int($0) } : nil }
    }

    /// `SENTINEL FAILOVER`, then waits until the sentinels name the replica and it says it
    /// is master. Returns the new master.
    @discardableResult
    public func failover() throws -> RedisServer {
        let before = try masterPort()
        let promoted = before == dataPort(master) ? replica : master
        let reply = try sentinelCommand(sentinelPorts[0], "SENTINEL", "FAILOVER", masterName)
        if let m = reply.errorMessage { throw HarnessError("SENTINEL FAILOVER: \(m)") }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try masterPort() == dataPort(promoted),
                (try? promoted.command("ROLE").array?.first?.text) == "master"
            {
                return promoted
            }
            usleep(100_000)
        }
        throw HarnessError("the failover did not complete in 30 s")
    }

    static func field(_ entry: RedisReply, _ name: String) -> String? {
        let items = entry.array ?? []
        var i = 0
        while i + 1 < items.count {
            if items[i].text == name { return items[i + 1].text }
            i += 2
        }
        return nil
    }

    public func stop() {
        for s in sentinels { s.stop() }
        master.stop()
        replica.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
