import Foundation
import RedisClient
import SessiondSessions
import TestSupport
import Testing

/// `--ssh` (issue 13): every connection through a real sshd on loopback with the system ssh
/// client, checked in sshd's own log (one `direct-tcpip` channel per connection, to the
/// node's port), including nodes found later (sessiond members from `CLUSTER.NODES`). Memcached's is in
/// MemcachedTests (`memcachedThroughAJumpHost`).
@Suite(.serialized) struct SSHTests {
    func seeded(_ server: RedisServer, users: [String], prefix: String = "ssh") throws {
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, u) in users.enumerated() {
            cmds += try Seeder.springCommands(.init(id: "\(prefix)-\(i)", user: u, nowMs: now))
        }
        try Seeder.run(cmds, on: server)
    }

    @Test func redisThroughAJumpHostFromTheSSHConfig() throws {
        let sshd = try SSHServer()
        let redis = try RedisServer(config: ["--notify-keyspace-events", "Egxe"])
        try seeded(redis, users: ["alice", "alice", "bob"])
        let env = ["SESSIONCTL_SSH_COMMAND": sshd.sshCommand]
        let store = ["--store", redis.urlString, "--ssh", "jump"]
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,user"] + store, env: env)
        #expect(ls.code == 0 && ls.lines.count == 3, "\(ls)")
        #expect(sshd.forwardedPorts.contains(redis.port), "the listing went through sshd: \(sshd.forwardedPorts)")
        // watch holds its subscription through the tunnel while a mutation goes through another.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ssh-watch-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var watchEnv = ProcessInfo.processInfo.environment
        watchEnv["SESSIONCTL_SSH_COMMAND"] = sshd.sshCommand
        let watch = try ChildProcess(
            path: try CLI.binary("sessionctl"),
            arguments: ["watch", "-o", "jsonl", "--count", "1", "--for", "20s"] + store, environment: watchEnv,
            outputPath: out)
        Thread.sleep(forTimeInterval: 1.5)
        let expire = try CLI.run(["expire", "ssh-2", "--yes"] + store, env: env)
        #expect(expire.code == 0, "\(expire)")
        #expect(watch.wait(seconds: 20), "watch ends after one event")
        let events = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(events.contains(#""id":"ssh-2""#), "\(events)")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + store, env: env)
        #expect(logout.code == 0 && logout.stdout.contains("2 session(s) removed"), "\(logout)")
        for id in ["ssh-0", "ssh-1"] {
            #expect(try redis.command("EXISTS", "spring:session:sessions:\(id)") == .integer(0), "seen directly")
        }
        // Every tunnel ended with its connection: no ssh client of ours is left behind.
        #expect(Self.sshClients(using: sshd.configFile).isEmpty, "\(Self.sshClients(using: sshd.configFile))")
    }

    @Test func userHostAndPortOnTheCommandLine() throws {
        let sshd = try SSHServer()
        let redis = try RedisServer()
        try seeded(redis, users: ["carol"])
        // No Host alias: user, address and port from --ssh; the key from the ssh command.
        let command =
            "ssh -i \(sshd.clientKey) -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"
        let ls = try CLI.run(
            [
                "ls", "--fields", "user", "-o", "csv", "--store", redis.urlString, "--ssh",
                "\(sshd.user)@127.0.0.1:\(sshd.port)",
            ],
            env: ["SESSIONCTL_SSH_COMMAND": command])
        #expect(ls.code == 0 && ls.lines == ["user", "carol"], "\(ls)")
        #expect(
            !sshd.forwardedPorts.isEmpty && sshd.forwardedPorts.allSatisfy { $0 == redis.port },
            "\(sshd.forwardedPorts)")
    }

    @Test func sessiondMembersFoundLaterGoThroughTheJumpHostToo() async throws {
        let sshd = try SSHServer()
        let cluster = try SessiondCluster(count: 3)
        let app = try SessiondClient(url: cluster["n1"].urlString)
        for i in 0..<60 { try await app.create(id: "ssh-\(i)", timeoutSeconds: 600, principal: "u\(i % 4)") }
        let ls = try CLI.run(
            ["ls", "-o", "jsonl", "--fields", "id,node", "--store", cluster["n1"].urlString, "--ssh", "jump"],
            env: ["SESSIONCTL_SSH_COMMAND": sshd.sshCommand])
        #expect(ls.code == 0 && ls.lines.count == 60, "\(ls)")
        let ports = Set(sshd.forwardedPorts)
        for id in cluster.ids {
            #expect(ports.contains(cluster[id].port), "member \(id) reached through sshd: \(ports)")
        }
    }

    @Test func aBrokenTunnelIsAConnectionErrorInSSHWords() throws {
        let sshd = try SSHServer()
        let redis = try RedisServer()
        let env = ["SESSIONCTL_SSH_COMMAND": sshd.sshCommand]
        // The jump host cannot reach the node.
        let deadPort = try DeadPort()
        let unreachable = try CLI.run(
            ["ls", "--store", "redis://127.0.0.1:\(deadPort.port)", "--ssh", "jump"], env: env, timeout: 30)
        #expect(unreachable.code == 3, "\(unreachable)")
        #expect(unreachable.stderr.contains("ssh jump host jump"), "\(unreachable)")
        #expect(unreachable.stderr.contains("forwarding failed") || unreachable.stderr.contains("refused"))
        // A key the jump host does not know.
        let stranger =
            "ssh -F /dev/null -i \(sshd.directory)/stranger_key -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null "
            + "-o StrictHostKeyChecking=no"
        let denied = try CLI.run(
            ["ls", "--store", redis.urlString, "--ssh", "\(sshd.user)@127.0.0.1:\(sshd.port)"],
            env: ["SESSIONCTL_SSH_COMMAND": stranger], timeout: 30)
        #expect(denied.code == 3 && denied.stderr.contains("Permission denied"), "\(denied)")
        // The jump host is down.
        sshd.stop()
        let down = try CLI.run(["ls", "--store", redis.urlString, "--ssh", "jump"], env: env, timeout: 30)
        #expect(down.code == 3 && down.stderr.contains("Connection refused"), "\(down)")
        #expect(!down.stderr.contains("TLS"), "not mistaken for a TLS port: \(down.stderr)")
        // Bad input.
        let bad = try CLI.run(["ls", "--store", redis.urlString, "--ssh", "host:notaport"], timeout: 30)
        #expect(bad.code == 2 && bad.stderr.contains("--ssh"), "\(bad)")
        let unix = try CLI.run(["ls", "--store", "unix:///tmp/none.sock", "--ssh", "jump"], timeout: 30)
        #expect(unix.code == 2 && unix.stderr.contains("unix"), "\(unix)")
    }

    /// ssh clients still running with this test's config file.
    static func sshClients(using config: String) -> [String] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { pid -> String? in
            guard Int(pid) != nil,
                let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return nil }
            let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.hasPrefix("ssh ") && line.contains(config) ? line : nil
        }
    }
}

/// `--ssh` to a Redis Cluster: the members named by `CLUSTER SHARDS` are reached through the
/// jump host too (heavy phase: it starts a cluster).
@Suite(.serialized) struct SSHRedisClusterTests {
    @Test func everyMasterThroughTheJumpHost() async throws {
        let sshd = try SSHServer()
        let cluster = try RedisClusterHarness(masters: 3, replicas: 0)
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for i in 0..<90 { cmds += try Seeder.springCommands(.init(id: "cssh-\(i)", user: "u\(i % 3)", nowMs: now)) }
        let router = ClusterRouter(seed: cluster.servers[0].url, timeouts: .init(), fallbackPassword: nil)
        for r in try await router.pipeline(cmds) { #expect(r.errorMessage == nil) }
        let env = ["SESSIONCTL_SSH_COMMAND": sshd.sshCommand]
        let store = ["--store", cluster.seedURLString, "--ssh", "jump"]
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,node"] + store, env: env)
        #expect(ls.code == 0 && ls.lines.count == 90, "\(ls)")
        let ports = Set(sshd.forwardedPorts)
        for s in cluster.servers { #expect(ports.contains(s.port), "master \(s.port) through sshd: \(ports)") }
        // A mutation routed by slot (MOVED followed) through the tunnel.
        let logout = try CLI.run(["logout", "--user", "u1", "--yes"] + store, env: env)
        #expect(logout.code == 0 && logout.stdout.contains("30 session(s) removed"), "\(logout)")
    }
}
