import Foundation
import RedisClient
import TestSupport
import Testing

/// TLS to Redis (issue 13) with the real binary against redis-server's own TLS port and
/// certificates made by the test with `openssl`.
@Suite(.serialized) struct TLSTests {
    func seeded(_ server: TLSRedisServer, users: [String]) throws {
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, u) in users.enumerated() {
            cmds += try Seeder.springCommands(.init(id: "tls-\(i)", user: u, nowMs: now))
        }
        try Seeder.run(cmds, on: server.server)
    }

    @Test func listShowExpireLogoutAndWatchOverTLS() throws {
        let certs = try TLSCertificates()
        let server = try TLSRedisServer(certs, config: ["--notify-keyspace-events", "Egxe"])
        try seeded(server, users: ["alice", "alice", "bob"])
        let store = ["--store", server.tlsURL, "--cacert", certs.caFile]
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,user,node"] + store)
        #expect(ls.code == 0 && ls.lines.count == 3, "\(ls)")
        #expect(ls.stdout.contains(#""node":"127.0.0.1:\#(server.tlsPort)""#))
        let show = try CLI.run(["show", "tls-2"] + store)
        #expect(show.code == 0 && show.stdout.contains("bob"), "\(show)")
        // `watch` holds a subscription over TLS while the session is expired over TLS.
        let watchOut = FileManager.default.temporaryDirectory.appendingPathComponent("tls-watch-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: watchOut) }
        let watch = try ChildProcess(
            path: try CLI.binary("sessionctl"),
            arguments: ["watch", "-o", "jsonl", "--count", "1", "--for", "20s"] + store, outputPath: watchOut)
        Thread.sleep(forTimeInterval: 1.0)
        let expire = try CLI.run(["expire", "tls-2", "--yes"] + store)
        #expect(expire.code == 0, "\(expire)")
        #expect(watch.wait(seconds: 20), "watch ends after one event")
        let events = (try? String(contentsOfFile: watchOut, encoding: .utf8)) ?? ""
        #expect(events.contains(#""id":"tls-2""#), "\(events)")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("2 session(s) removed"), "\(logout)")
        for id in ["tls-0", "tls-1"] {
            #expect(
                try server.server.command("EXISTS", "spring:session:sessions:\(id)") == .integer(0),
                "alice's sessions went, seen on the plain port")
        }
        // `--tls` with a redis:// URL is the same connection.
        try seeded(server, users: ["carol"])
        let flag = try CLI.run(
            [
                "ls", "--fields", "user", "-o", "csv", "--tls", "--cacert", certs.caFile, "--store",
                "redis://127.0.0.1:\(server.tlsPort)",
            ])
        #expect(flag.code == 0 && flag.lines == ["user", "carol"], "\(flag)")
    }

    /// Migration between TLS nodes: node to node (`MIGRATE` from the source to the target's
    /// TLS port, `tls-cluster yes` makes Redis dial it in TLS) and store to store (the console
    /// reads one side and writes the other, both over TLS).
    @Test func migrationBetweenTLSNodes() throws {
        let certs = try TLSCertificates()
        let a = try TLSRedisServer(certs, config: ["--tls-cluster", "yes"])
        let b = try TLSRedisServer(certs, config: ["--tls-cluster", "yes"])
        try seeded(a, users: ["gina", "hugo", "gina"])
        let both = ["--store", a.tlsURL, "--store", b.tlsURL, "--cacert", certs.caFile]
        let move = try CLI.run(["migrate", "tls-1", "--to", "127.0.0.1:\(b.tlsPort)", "--yes"] + both)
        #expect(move.code == 0, "\(move)")
        #expect(try b.server.command("EXISTS", "spring:session:sessions:tls-1") == .integer(1), "\(move)")
        #expect(try a.server.command("EXISTS", "spring:session:sessions:tls-1") == .integer(0))
        let copy = try CLI.run(
            ["migrate", "--from", a.tlsURL, "--to", b.tlsURL, "--yes", "--cacert", certs.caFile])
        #expect(copy.code == 0, "\(copy)")
        for id in ["tls-0", "tls-2"] {
            #expect(try b.server.command("EXISTS", "spring:session:sessions:\(id)") == .integer(1), "\(copy)")
        }
        let ls = try CLI.run(["ls", "-o", "csv", "--fields", "user", "--store", b.tlsURL, "--cacert", certs.caFile])
        #expect(ls.code == 0 && ls.lines.sorted() == ["gina", "gina", "hugo", "user"], "\(ls)")
    }

    @Test func theTUIOverTLS() throws {
        let certs = try TLSCertificates()
        let server = try TLSRedisServer(certs)
        try seeded(server, users: ["erin", "frank"])
        let term = try TmuxSession(
            command:
                "'\(try CLI.binary("sessionctl"))' --store \(server.tlsURL) --cacert '\(certs.caFile)'",
            environment: ["TERM": "xterm-256color", "HOME": NSTemporaryDirectory()])
        let screen = try term.wait("both rows over TLS") { $0.contains("tls-0") && $0.contains("tls-1") }
        #expect(screen.contains("sessions 2 ") && screen.contains("rediss://"), "\(screen)")
        try term.send("Enter")
        try term.wait(for: "Attributes (1)")  // inspect reads the session over TLS
        try term.send("C-c")
        try term.wait(for: "EXITED-0")
    }

    @Test func verificationFailuresSayWhatIsWrongAndExit3() throws {
        let certs = try TLSCertificates()
        let server = try TLSRedisServer(certs)
        let url = server.tlsURL
        func ls(_ extra: [String], url: String = url) throws -> CLI.Result {
            try CLI.run(["ls", "--store", url, "--connect-timeout", "3s", "--timeout", "3s"] + extra, timeout: 30)
        }
        let unknown = try ls([])  // the system's trust store does not know the test CA
        #expect(unknown.code == 3 && unknown.stderr.contains("unknown CA"), "\(unknown)")
        let other = try ls(["--cacert", certs.otherCAFile])
        #expect(other.code == 3 && other.stderr.contains("unknown CA"), "\(other)")
        let name = try ls(["--cacert", certs.caFile, "--sni", "redis.example.com"])
        #expect(name.code == 3 && name.stderr.contains("does not name 'redis.example.com'"), "\(name)")
        let byName = try ls(["--cacert", certs.caFile], url: "rediss://localhost:\(server.tlsPort)")
        #expect(byName.code == 0, "a DNS name in the certificate: \(byName)")
        let insecure = try ls(["--insecure"])
        #expect(insecure.code == 0 && insecure.stderr.contains("not verified"), "\(insecure)")
        let badFile = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-cert-\(UUID()).pem").path
        try "this is not a certificate\n".write(toFile: badFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: badFile) }
        let unparsable = try ls(["--cacert", badFile])
        #expect(unparsable.code == 3 && unparsable.stderr.contains("cannot load the CA"), "\(unparsable)")
        // Plain on the TLS port, TLS on the plain port: errors in words, no hang.
        let plainOnTLS = try ls([], url: "redis://127.0.0.1:\(server.tlsPort)")
        #expect(plainOnTLS.code == 3 && plainOnTLS.stderr.contains("rediss://"), "\(plainOnTLS)")
        let tlsOnPlain = try ls(["--cacert", certs.caFile], url: "rediss://127.0.0.1:\(server.server.port)")
        #expect(tlsOnPlain.code == 3 && tlsOnPlain.stderr.contains("did not answer in TLS"), "\(tlsOnPlain)")
    }

    /// A handshake cut short, by a close or by silence: an error in words within the connect
    /// timeout, never a hang.
    @Test func aTruncatedHandshakeIsAnErrorNotAHang() throws {
        let certs = try TLSCertificates()
        for hangUp in [true, false] {
            let fake = try TruncatedTLSServer(hangUp: hangUp)
            let started = Date()
            let r = try CLI.run(
                [
                    "ls", "--store", "rediss://127.0.0.1:\(fake.port)", "--cacert", certs.caFile, "--connect-timeout",
                    "2s",
                ], timeout: 30)
            #expect(r.code == 3 && r.stderr.contains("TLS"), "\(r)")
            #expect(
                r.stderr.contains(hangUp ? "closed the connection during the handshake" : "no handshake within 2 s"),
                "\(r)")
            #expect(Date().timeIntervalSince(started) < 20, "bounded by the connect timeout, not retried")
        }
    }

    @Test func expiredAndClientCertificates() throws {
        let certs = try TLSCertificates()
        let expired = try TLSRedisServer(certs, cert: certs.expiredCert)
        let old = try CLI.run(["ls", "--store", expired.tlsURL, "--cacert", certs.caFile])
        #expect(old.code == 3 && old.stderr.contains("expired"), "\(old)")
        let strict = try TLSRedisServer(certs, clientCertificates: true)
        try seeded(strict, users: ["dave"])
        let without = try CLI.run(["ls", "--store", strict.tlsURL, "--cacert", certs.caFile, "--timeout", "3s"])
        #expect(without.code == 3 && without.stderr.contains("client certificate"), "\(without)")
        let with = try CLI.run(
            [
                "ls", "--fields", "user", "-o", "csv", "--store", strict.tlsURL, "--cacert", certs.caFile, "--cert",
                certs.clientCert, "--key", certs.clientKey,
            ])
        #expect(with.code == 0 && with.lines == ["user", "dave"], "\(with)")
        let keyless = try CLI.run([
            "ls", "--store", strict.tlsURL, "--cacert", certs.caFile, "--cert", certs.clientCert,
        ])
        #expect(keyless.code == 3 && keyless.stderr.contains("--cert needs --key"), "\(keyless)")
    }

    @Test func aPasswordOverTLSIsNeverPrinted() throws {
        let certs = try TLSCertificates()
        let server = try TLSRedisServer(certs, password: "tls-s3cret")
        let wrong = try CLI.run(
            ["ls", "--store", "rediss://:wrong-s3cret@127.0.0.1:\(server.tlsPort)", "--cacert", certs.caFile])
        #expect(wrong.code == 3, "\(wrong)")
        #expect(!wrong.stdout.contains("wrong-s3cret") && !wrong.stderr.contains("wrong-s3cret"))
        let right = try CLI.run(
            [
                "nodes", "-o", "json", "--store", "rediss://:tls-s3cret@127.0.0.1:\(server.tlsPort)", "--cacert",
                certs.caFile,
            ])
        #expect(right.code == 0 && !right.stdout.contains("tls-s3cret"), "\(right)")
        #expect(right.stdout.contains("rediss://"), "the address says TLS: \(right.stdout.prefix(300))")
    }
}

/// A Redis Cluster with `tls-cluster yes`: every member reached over TLS, redirects followed
/// to TLS ports (runs with the heavy suites: its name matches theirs).
@Suite(.serialized) struct TLSRedisClusterTests {
    @Test func aTLSClusterIsListedAndChangedOverTLSOnly() async throws {
        let certs = try TLSCertificates()
        let cluster = try RedisClusterHarness(masters: 3, replicas: 0, tls: certs)
        let seedPlain = cluster.servers[0]
        let seedTLS = try #require(cluster.tlsPorts[seedPlain.port])
        // Written through the plain ports, as an application might; read through TLS.
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for i in 0..<60 { cmds += try Seeder.springCommands(.init(id: "ctls-\(i)", user: "u\(i % 3)", nowMs: now)) }
        let router = ClusterRouter(seed: seedPlain.url, timeouts: .init(), fallbackPassword: nil)
        for r in try await router.pipeline(cmds) { #expect(r.errorMessage == nil) }
        let store = ["--store", "rediss://127.0.0.1:\(seedTLS)", "--cacert", certs.caFile]
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,node"] + store)
        #expect(ls.code == 0 && ls.lines.count == 60, "\(ls)")
        let tlsNodes = Set(cluster.tlsPorts.values.map { "127.0.0.1:\($0)" })
        let listedNodes = Set(
            ls.lines.compactMap { line in
                line.split(separator: "\"").dropFirst(7).first.map(String.init)
            })
        #expect(listedNodes.isSubset(of: tlsNodes) && listedNodes.count == 3, "rows name the TLS ports: \(listedNodes)")
        let nodes = try CLI.run(["nodes", "-o", "json"] + store)
        #expect(nodes.code == 0 && tlsNodes.allSatisfy { nodes.stdout.contains($0) }, "\(nodes)")
        let logout = try CLI.run(["logout", "--user", "u1", "--yes"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("20 session(s) removed"), "\(logout)")
        let left = try CLI.run(["ls", "-o", "jsonl", "--fields", "user"] + store)
        #expect(left.lines.count == 40 && !left.stdout.contains("u1"), "\(left)")
    }
}
