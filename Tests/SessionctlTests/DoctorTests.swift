import Foundation
import RedisClient
import SessionKit
import TestSupport
import Testing

/// `doctor` against real servers with planted problems.
@Suite(.serialized) struct DoctorTests {
    static let index =
        "spring:session:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:"

    func seed(_ server: RedisServer, users: [String]) throws {
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, u) in users.enumerated() {
            cmds += try Seeder.springCommands(.init(id: "doc-\(i)", user: u, nowMs: now))
        }
        try Seeder.run(cmds, on: server)
    }

    @Test func aHealthyStoreHasNothingToReport() throws {
        let server = try RedisServer(config: ["--notify-keyspace-events", "Egx"])
        try seed(server, users: ["ann", "bob", "ann"])
        let r = try CLI.run(["doctor", "--store", server.urlString])
        #expect(r.code == 0 && r.stdout.contains("no problems found"), "\(r)")
        let json = try CLI.run(["doctor", "-o", "json", "--store", server.urlString])
        #expect(json.code == 0 && json.stdout == "[]\n", "\(json)")
    }

    @Test func plantedProblemsAreFoundAndFixOnlyRemovesThem() throws {
        let server = try RedisServer(config: ["--maxmemory-policy", "allkeys-lru"])
        try seed(server, users: ["ann", "bob"] + Array(repeating: "bot", count: 55))
        // Planted: an index member, an expiration-set member and an expires: key whose session
        // is gone; a session hash without a TTL; notifications off (the server's default).
        try server.command("SADD", Self.index + "ann", "ghost-1")
        let bucket = try #require(
            try server.command("KEYS", "spring:session:expirations:*").array?.first?.text)
        let c = try server.connection()
        _ = try c.send([
            RedisCommand([Array("SADD".utf8), Array(bucket.utf8), JavaStreamFixtures.string("expires:ghost-2")])
        ])
        try server.command("SET", "spring:session:sessions:expires:ghost-3", "")
        try server.command("HSET", "spring:session:sessions:leaky", "creationTime", "x")
        let before = try #require(try server.command("DBSIZE").int)

        let r = try CLI.run(["doctor", "-o", "json", "--store", server.urlString])
        #expect(r.code == 1, "something is wrong: exit 1 (\(r))")
        for check in [
            "spring-orphan-index", "spring-expiration-set-orphans", "spring-expires-without-session",
            "spring-hash-without-ttl", "notifications-off", "eviction-policy", "users-with-many-sessions",
        ] {
            #expect(r.stdout.contains("\"check\":\"\(check)\""), "\(check) missing: \(r.stdout)")
        }
        #expect(r.stdout.contains("ghost-1") && r.stdout.contains("bot: 55"))

        let refused = try CLI.run(["doctor", "--fix", "--store", server.urlString])
        #expect(refused.code == 2 && refused.stderr.contains("--yes"), "\(refused)")
        let dry = try CLI.run(["doctor", "--fix", "--dry-run", "--store", server.urlString])
        #expect(dry.stdout.contains("would repair: spring-orphan-index"), "\(dry)")
        #expect(try server.command("DBSIZE").int == before, "a dry run changes nothing")

        let audit = try makeTemporaryDirectory("doctor-audit") + "/audit.log"
        let fixed = try CLI.run(
            ["doctor", "--fix", "--yes", "--store", server.urlString], env: ["SESSIONCTL_AUDIT_LOG": audit])
        #expect(
            fixed.stdout.contains("repaired spring-orphan-index on 127.0.0.1:\(server.port): 1 item(s)"), "\(fixed)")
        #expect(fixed.stdout.contains("repaired spring-expiration-set-orphans"))
        #expect(fixed.stdout.contains("repaired spring-expires-without-session"))
        // Only the planted items went: the ghost index member, the orphan expires: key (a key),
        // the expiration-set member (the set itself stays: it has live members).
        #expect(try server.command("DBSIZE").int == before - 1)
        #expect(try server.command("SISMEMBER", Self.index + "ann", "ghost-1") == .integer(0))
        #expect(try server.command("SCARD", Self.index + "ann").int == 1, "ann's live member stays")
        #expect(try server.command("EXISTS", "spring:session:sessions:leaky") == .integer(1), "never deleted by --fix")
        #expect((try String(contentsOfFile: audit, encoding: .utf8)).contains("\"action\":\"doctor-fix\""))
        let after = try CLI.run(["doctor", "-o", "json", "--store", server.urlString])
        #expect(!after.stdout.contains("spring-orphan-index") && after.stdout.contains("spring-hash-without-ttl"))
    }

    @Test func everyStoresChecksAndServerSettings() throws {
        let server = try RedisServer(config: ["--notify-keyspace-events", "Egx", "--maxmemory-policy", "noeviction"])
        let now = Seeder.nowMs()
        var big = Seeder.SpringSession(id: "big-1", user: "ann", nowMs: now)
        big.attributes = [("blob", [UInt8](repeating: 0x41, count: 1_200_000))]
        var cmds = try Seeder.springCommands(big)
        cmds.append(
            RedisCommand("SET", "sess:forever-1", #"{"cookie":{"originalMaxAge":null},"passport":{"user":"cy"}}"#))
        try Seeder.run(cmds, on: server)
        // maxmemory just above what the server uses now: memory near its limit, and with
        // noeviction the next login would fail.
        let info = try server.command("INFO", "memory").text ?? ""
        // ("\r\n" is one Character: split on either.)
        let usedLine = try #require(
            info.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).first { $0.hasPrefix("used_memory:") })
        let used = try #require(
            Int(usedLine.dropFirst("used_memory:".count).trimmingCharacters(in: .whitespacesAndNewlines)))
        try server.command("CONFIG", "SET", "maxmemory", String(used + used / 20))
        let dead = freePort()
        let r = try CLI.run([
            "doctor", "-o", "json", "--store", server.urlString, "--store", "redis://127.0.0.1:\(dead)",
            "--connect-timeout", "500ms",
        ])
        #expect(r.code == 1)
        for check in ["node-down", "sessions-without-expiry", "large-sessions", "eviction-policy", "memory-near-limit"]
        {
            #expect(r.stdout.contains("\"check\":\"\(check)\""), "\(check) missing: \(r.stdout)")
        }
        #expect(r.stdout.contains("forever-1") && r.stdout.contains("big-1"))
        #expect(r.stdout.contains("noeviction"))
    }

    @Test func aReplicaThatFallsBehindIsReported() async throws {
        let master = try RedisServer(config: ["--notify-keyspace-events", "Egx"])
        let replica = try RedisServer(config: [
            "--replicaof", "127.0.0.1", String(master.port), "--enable-debug-command", "yes",
        ])
        // Wait until the master counts the replica online.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !(try master.command("INFO", "replication").text ?? "").contains("state=online") {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        let healthy = try CLI.run(["doctor", "--store", master.urlString])
        #expect(!healthy.stdout.contains("replica-lagging"), "\(healthy)")
        // The replica stops acknowledging for 20 s (a frozen process).
        let sleeper = Task.detached {
            let fd = try connectLoopback(port: replica.port, receiveTimeoutSeconds: 30)
            send(fd, "DEBUG SLEEP 20\r\n")
            _ = readUntilClosed(fd)
            close(fd)
        }
        defer { sleeper.cancel() }
        var found = ""
        let until = Date().addingTimeInterval(19)
        while Date() < until {
            try await Task.sleep(nanoseconds: 1_000_000_000)
            let r = try CLI.run(["doctor", "--store", master.urlString])
            if r.stdout.contains("replica-lagging") {
                found = r.stdout
                break
            }
        }
        #expect(found.contains("127.0.0.1:\(replica.port)") && found.contains("behind"), "\(found)")
    }

    @Test func memcachedWithDumpsOffAndEvictionsIsReported() throws {
        let off = try MemcachedServer(options: ["-X"])
        let r = try CLI.run(["doctor", "--store", off.urlString])
        #expect(r.code == 1 && r.stdout.contains("memcached-dump-disabled"), "\(r)")
        let small = try MemcachedServer(memoryMB: 2)
        let big = [UInt8](repeating: 0x61, count: 200_000)
        for i in 0..<40 { try small.set("filler\(i)", big) }
        let e = try CLI.run(["doctor", "-o", "json", "--store", small.urlString])
        #expect(e.stdout.contains("\"check\":\"memcached-evictions\""), "\(e)")
    }
}

/// Java-serialized strings, as Spring's JDK serializer writes set members.
enum JavaStreamFixtures {
    static func string(_ s: String) -> [UInt8] {
        let u = Array(s.utf8)
        return [0xAC, 0xED, 0x00, 0x05, 0x74, UInt8(u.count >> 8), UInt8(u.count & 0xFF)] + u
    }
}
