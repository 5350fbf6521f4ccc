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
