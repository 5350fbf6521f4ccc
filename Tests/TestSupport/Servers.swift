import Foundation
import RedisClient
import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// Errors of the test harness itself (a missing server binary is a failure, never a skip).
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Finds an executable on PATH.
public func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// A fresh directory under the system's temporary one, named `PREFIX-random` (the caller
/// removes it).
public func makeTemporaryDirectory(_ prefix: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        .path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A raw TCP connection to a loopback port, for tests that speak bytes or must not send.
/// `receiveBuffer` is set before connecting (a small one makes a slow reader).
public func connectLoopback(port: Int, receiveTimeoutSeconds: Int = 5, receiveBuffer: Int32? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
    var tv = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard ok == 0 else {
        close(fd)
        throw HarnessError("connect to 127.0.0.1:\(port) failed")
    }
    return fd
}

/// Writes all of `text` to a raw connection.
public func send(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        off += n
    }
}

/// Reads until the peer closes (or a read times out); what it said.
public func readUntilClosed(_ fd: Int32) -> String {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// A TCP socket bound to an ephemeral loopback port (not listening): the fd and the port.
func bindLoopbackEphemeral() -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    guard bound == 0 else {
        close(fd)
        return nil
    }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// A free TCP port on loopback (bound then released; `RedisServer` retries if it is taken).
public func freePort(below limit: Int = 60000) -> Int {
    for _ in 0..<50 {
        guard let (fd, port) = bindLoopbackEphemeral() else { continue }
        close(fd)
        if port > 0 && port < limit { return port }
    }
    return Int.random(in: 20000..<limit)
}

/// Whether a RESP server (redis-server, sessiond) at `url` answers PING now.
func answersPing(_ url: RedisURL) -> Bool {
    guard let c = try? RedisConnection(url: url, timeouts: .init(connectMs: 200, commandMs: 1000)),
        let r = try? c.send([RedisCommand("PING")])
    else { return false }
    return r.first == .status("PONG")
}

/// A real `redis-server` on a free loopback port, stopped when released.
public final class RedisServer: @unchecked Sendable {
    public private(set) var port: Int
    public let password: String?
    private var process: ChildProcess
    private var arguments: [String]
    private let binary: String
    public let directory: URL

    public var url: RedisURL {
        RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port), password: password)
    }
    public var urlString: String {
        password.map { "redis://:\($0)@127.0.0.1:\(port)" } ?? "redis://127.0.0.1:\(port)"
    }

    /// Starts a server; `config` are extra `--name value` pairs.
    /// `portBelow`: a cluster node's bus listens on port + 10000, so those stay below 55536.
    public init(password: String? = nil, config: [String] = [], portBelow: Int = 60000) throws {
        guard let binary = findExecutable("redis-server") else {
            throw HarnessError("redis-server not found on PATH: install redis-server (the README's test command does)")
        }
        port = freePort(below: portBelow)
        self.password = password
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sessionctl-redis-\(port)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.binary = binary
        var args = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--daemonize", "no", "--loglevel", "warning",
        ]
        if let password { args += ["--requirepass", password] }
        args += config
        arguments = args
        process = try ChildProcess(
            path: binary, arguments: args, outputPath: directory.appendingPathComponent("server.log").path)
        // A port picked as free can be taken by the time the server binds it: retry on
        // another port a few times before failing.
        var attempt = 0
        while true {
            do {
                try waitUntilReady()
                break
            } catch {
                attempt += 1
                guard attempt < 3, !process.isRunning else { throw error }
                port = freePort(below: portBelow)
                arguments[1] = String(port)
                process = try ChildProcess(
                    path: binary, arguments: arguments, outputPath: directory.appendingPathComponent("server.log").path)
            }
        }
    }

    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning {
                let log =
                    (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
                throw HarnessError("redis-server exited at start (port \(port)): \(log.suffix(400))")
            }
            if answersPing(url) { return }
            usleep(20_000)
        }
        throw HarnessError("redis-server did not answer PING within 10 s (port \(port))")
    }

    /// A blocking connection for test set-up and checks.
    public func connection() throws -> RedisConnection {
        try RedisConnection(url: url)
    }

    /// Runs one command and returns its reply (test helper).
    @discardableResult
    public func command(_ args: String...) throws -> RedisReply {
        try connection().send([RedisCommand(args.map { Array($0.utf8) })])[0]
    }

    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Kills the server hard (for connection-loss tests); `restart()` brings it back on
    /// the same port.
    public func kill() {
        process.signal(SIGKILL)
        process.wait(seconds: 5)
    }

    /// Stops the process (SIGSTOP): the port still takes connections, nothing answers.
    public func pause() { process.signal(SIGSTOP) }
    /// Lets a paused process go on (SIGCONT).
    public func resume() { process.signal(SIGCONT) }

    public func restart() throws {
        kill()
        process = try ChildProcess(
            path: binary, arguments: arguments, outputPath: directory.appendingPathComponent("server.log").path)
        try waitUntilReady()
    }

    deinit { stop() }
}

/// Where the committed fixtures live (`Tests/Fixtures`).
public enum Fixtures {
    public static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "Fixtures")
    }
    public static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relative)))
    }

    /// Restores a framework fixture (`frameworks/NAME.json`, written by
    /// `generators/dump_redis.py` or `generators/formats/generate.py`) into a Redis, byte
    /// for byte, with its TTLs. Returns the keys written.
    @discardableResult
    public static func restoreFramework(_ name: String, into server: RedisServer) throws -> [String] {
        let data = try Data(contentsOf: root.appendingPathComponent("frameworks/\(name).json"))
        guard let doc = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let keys = doc["keys"] as? [[String: Any]]
        else {
            throw HarnessError("frameworks/\(name).json is not a fixture")
        }
        func hex(_ s: String) -> [UInt8] {
            var out: [UInt8] = []
            var i = s.startIndex
            while let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex), j > i, let b = UInt8(s[i..<j], radix: 16) {
                out.append(b)
                i = j
            }
            return out
        }
        var commands: [RedisCommand] = []
        var written: [String] = []
        for k in keys {
            guard let keyHex = k["key_hex"] as? String, let type = k["type"] as? String else { continue }
            let key = hex(keyHex)
            switch type {
            case "string":
                commands.append(RedisCommand([Array("SET".utf8), key, hex(k["value_hex"] as? String ?? "")]))
            case "hash":
                var args: [[UInt8]] = [Array("HSET".utf8), key]
                for (f, v) in (k["fields_hex"] as? [String: String] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    args += [Array(f.utf8), hex(v)]
                }
                commands.append(RedisCommand(args))
            default: continue
            }
            if let ttl = k["ttl_ms"] as? Int, ttl > 0 {
                commands.append(RedisCommand([Array("PEXPIRE".utf8), key, Array(String(ttl).utf8)]))
            }
            written.append(String(decoding: key, as: UTF8.self))
        }
        let replies = try RedisConnection(url: server.url).send(commands)
        if let bad = replies.first(where: { $0.errorMessage != nil }) {
            throw HarnessError("restoring \(name): \(bad)")
        }
        return written
    }
}

/// A loopback port that refuses connections for as long as this object lives: the socket
/// is bound (so no other test's server can take the port) but never listens.
public final class DeadPort: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        guard let (fd, port) = bindLoopbackEphemeral() else { throw HarnessError("cannot reserve a port") }
        self.fd = fd
        self.port = port
    }

    public var urlString: String { "redis://127.0.0.1:\(port)" }
    deinit { close(fd) }
}

/// A real `sessiond` (the built binary) on a free loopback port.
public final class SessiondServer: @unchecked Sendable {
    public private(set) var port: Int
    public let password: String?
    /// Where it listens (loopback, or an address in a network namespace).
    public let host: String
    /// A command the server runs under (`ip netns exec NS`), or empty.
    private let launcher: [String]
    private var process: ChildProcess
    private var arguments: [String]
    public let log: String
    /// How clients reach a TLS node (its CA, a client certificate); nil: plain TCP.
    public let tls: TLSOptions?

    /// `port`: a fixed port (cluster members must know each other's before they start);
    /// nil: a free one, retried on a collision. `host` and `launcher`: a node in a network
    /// namespace (`NetworkLab`).
    /// `passwordFile`: the password goes in a file given with `--requirepass-file` (not on
    /// the command line, where `ps` shows it).
    public init(
        password: String? = nil, port fixed: Int? = nil, arguments extra: [String] = [], host: String = "127.0.0.1",
        launcher: [String] = [], passwordFile: Bool = false, tls: TLSOptions? = nil
    ) throws {
        let binary = try CLI.binary("sessiond")
        self.password = password
        self.tls = tls
        self.host = host
        self.launcher = launcher
        log =
            FileManager.default.temporaryDirectory.appendingPathComponent("sessiond-\(UUID().uuidString.prefix(8)).log")
            .path
        var attempt = 0
        var port = fixed ?? freePort()
        var args: [String] = []
        var p: ChildProcess? = nil
        while true {
            var secret = password.map { ["--requirepass", $0] } ?? []
            if passwordFile, let password {
                let file = log + ".password"
                _ = FileManager.default.createFile(
                    atPath: file, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600])
                secret = ["--requirepass-file", file]
            }
            args = ["--port", String(port), "--bind", host] + secret + extra
            p = try Self.spawn(binary, args, launcher: launcher, log: log)
            if SessiondServer.waitReady(host: host, port: port, password: password, tls: tls, process: p) { break }
            p?.stop(grace: 1)
            attempt += 1
            guard attempt < 3 && fixed == nil else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw HarnessError("sessiond did not start on port \(port): \(text.suffix(400))")
            }
            port = freePort()
        }
        self.port = port
        arguments = args
        guard let started = p else { throw HarnessError("sessiond did not start") }
        process = started
    }

    static func spawn(_ binary: String, _ args: [String], launcher: [String], log: String) throws -> ChildProcess {
        guard let tool = launcher.first else { return try ChildProcess(path: binary, arguments: args, outputPath: log) }
        return try ChildProcess(
            path: findExecutable(tool) ?? tool, arguments: Array(launcher.dropFirst()) + [binary] + args,
            outputPath: log)
    }

    static func waitReady(
        host: String = "127.0.0.1", port: Int, password: String?, tls: TLSOptions? = nil, process: ChildProcess?
    ) -> Bool {
        var url = RedisURL(endpoint: .tcp(host: host, port: port), password: password)
        url.tls = tls
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if process?.isRunning == false { return false }
            if answersPing(url) { return true }
            usleep(20_000)
        }
        return false
    }

    public var url: RedisURL {
        var u = RedisURL(endpoint: .tcp(host: host, port: port), password: password)
        u.tls = tls
        return u
    }
    /// The process id (memory readings in soaks).
    public var pid: pid_t { process.pid }
    /// Stops the process (SIGSTOP): connections stay open, nothing answers.
    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }
    public var urlString: String {
        let scheme = tls == nil ? "sessiond://" : "sessionds://"
        return scheme + (password.map { ":\($0)@" } ?? "") + "\(host):\(port)"
    }

    @discardableResult
    public func command(_ args: String...) throws -> RedisReply {
        try RedisConnection(url: url).send([RedisCommand(args.map { Array($0.utf8) })])[0]
    }

    /// SIGTERM and wait: the server stops accepting and exits.
    public func stop() { process.stop() }

    /// `kill -9`: no chance to flush anything.
    public func kill9() {
        process.signal(SIGKILL)
        process.wait(seconds: 5)
    }

    /// Starts it again with the same arguments and port (after `kill9` or `stop`);
    /// `removing` drops an option and its value (a fault injection, say).
    public func restart(removing option: String? = nil) throws {
        if let option, let i = arguments.firstIndex(of: option), i + 1 < arguments.count {
            arguments.removeSubrange(i...(i + 1))
        }
        process = try Self.spawn(try CLI.binary("sessiond"), arguments, launcher: launcher, log: log)
        guard SessiondServer.waitReady(host: host, port: port, password: password, tls: tls, process: process) else {
            throw HarnessError("sessiond did not restart: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    /// What the server printed.
    public var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }
    deinit {
        process.stop(grace: 2)
        try? FileManager.default.removeItem(atPath: log)
    }
}

/// A cluster of real sessiond processes on loopback: `n1`, `n2`, ... each with its own log
/// folder (`--fsync always`), so a node killed with `kill -9` restarts with its data.
public final class SessiondCluster: @unchecked Sendable {
    public let nodes: [String: SessiondServer]
    public let ids: [String]
    public let members: String
    public let dirs: [String]

    /// `faults`: node id → migration step at which that node dies (`--fault`).
    /// `tls`: how clients reach the nodes when `extra` turns TLS on.
    public init(
        count: Int = 3, password: String? = nil, faults: [String: String] = [:], extra: [String] = [],
        tls: TLSOptions? = nil
    ) throws {
        var ports: [Int] = []
        while ports.count < count {
            let p = freePort()
            if !ports.contains(p) { ports.append(p) }
        }
        ids = (1...count).map { "n\($0)" }
        members = zip(ids, ports).map { "\($0)=127.0.0.1:\($1)" }.joined(separator: ",")
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sessiond-cluster-\(UUID().uuidString.prefix(8))"
        ).path
        var dirs: [String] = []
        var nodes: [String: SessiondServer] = [:]
        for (id, port) in zip(ids, ports) {
            let dir = base + "/" + id
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            dirs.append(dir)
            var args = ["--node-id", id, "--cluster", members, "--dir", dir, "--fsync", "always"] + extra
            if let f = faults[id] { args += ["--fault", f] }
            nodes[id] = try SessiondServer(password: password, port: port, arguments: args, tls: tls)
        }
        self.nodes = nodes
        self.dirs = dirs
    }

    public subscript(_ id: String) -> SessiondServer {
        guard let n = nodes[id] else { preconditionFailure("no node \(id)") }
        return n
    }
    public var urlStrings: [String] { ids.map { self[$0].urlString } }

    /// The cluster's members as the ring sees them.
    public var memberList: [ClusterMember] { (try? ClusterMember.parseList(members)) ?? [] }

    deinit {
        for n in nodes.values { n.stop() }
        if let first = dirs.first {
            try? FileManager.default.removeItem(atPath: (first as NSString).deletingLastPathComponent)
        }
    }
}

/// A real Redis Cluster on loopback: `masters` masters with `replicas` replicas each,
/// created by `redis-cli --cluster create` (ports below 55536: the bus is port + 10000).
public final class RedisClusterHarness: @unchecked Sendable {
    public let servers: [RedisServer]

    /// TLS ports of the nodes (with `tls`), by plain port.
    public private(set) var tlsPorts: [Int: Int] = [:]

    /// `tls`: every node also serves TLS on a port of its own, and the cluster bus and
    /// replication run over TLS (`tls-cluster yes`); the plain ports stay for set-up.
    public init(masters: Int = 3, replicas: Int = 1, tls: TLSCertificates? = nil) throws {
        var servers: [RedisServer] = []
        for _ in 0..<(masters * (1 + replicas)) {
            var config = [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "1500", "--cluster-replica-validity-factor", "0",
            ]
            var tlsPort: Int? = nil
            if let tls {
                let p = freePort(below: 55000)
                tlsPort = p
                config += [
                    "--tls-port", String(p), "--tls-cluster", "yes", "--tls-replication", "yes", "--tls-cert-file",
                    tls.serverCert, "--tls-key-file", tls.serverKey, "--tls-ca-cert-file", tls.caFile,
                    "--tls-auth-clients", "no",
                ]
            }
            let server = try RedisServer(config: config, portBelow: 55000)
            if let tlsPort { tlsPorts[server.port] = tlsPort }
            servers.append(server)
        }
        self.servers = servers
        guard let cli = findExecutable("redis-cli") else {
            throw HarnessError("redis-cli not found (package redis-tools)")
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cluster-create-\(UUID().uuidString.prefix(6)).log"
        ).path
        let create = try ChildProcess(
            path: cli,
            arguments: ["--cluster", "create"] + servers.map { "127.0.0.1:\($0.port)" }
                + ["--cluster-replicas", String(replicas), "--cluster-yes"], outputPath: log)
        guard create.wait(seconds: 60), create.exitCode == 0 else {
            throw HarnessError(
                "redis-cli --cluster create failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        // Ready when every node says ok and sees every master with its replicas.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let ok = servers.allSatisfy { s in
                guard let info = try? s.command("CLUSTER", "INFO").text, info.contains("cluster_state:ok") else {
                    return false
                }
                let shards = (try? s.command("CLUSTER", "SHARDS").array) ?? []
                guard
                    shards.count == masters
                        && shards.allSatisfy({ ($0.array?.last?.array ?? []).count == 1 + replicas })
                else { return false }
                // A replica counts once its initial sync is done (else a failover loses data).
                let repl = (try? s.command("INFO", "replication").text) ?? ""
                return repl.contains("role:master") || repl.contains("master_link_status:up")
            }
            if ok { return }
            usleep(200_000)
        }
        throw HarnessError("the cluster did not become ready in 30 s")
    }

    public var seedURLString: String { servers[0].urlString }

    /// The server listening on `address` (`127.0.0.1:port`).
    public func server(_ address: String) -> RedisServer? { servers.first { "127.0.0.1:\($0.port)" == address } }
}
