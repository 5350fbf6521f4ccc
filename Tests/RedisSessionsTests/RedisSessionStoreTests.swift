import Foundation
import RedisClient
import RedisSessions
import SessionKit
import TestSupport
import Testing

func collect(_ store: RedisSessionStore, _ query: ListQuery = ListQuery()) async throws -> ([Session], ListOutcome) {
    let c = Collector()
    let outcome = try await store.list(query) { await c.add($0) }
    return (await c.sessions, outcome)
}

@Suite struct RedisSessionStoreTests {
    @Test func listsSpringAndConnectRedisAcrossNodesWithOneDown() async throws {
        let a = try RedisServer()
        let b = try RedisServer()
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, user) in ["alice", "bob", "carol", nil].enumerated() {
            cmds += try Seeder.springCommands(.init(id: "spring-\(i)", user: user, nowMs: now))
        }
        cmds.append(RedisCommand("SET", "unrelated:key", "x"))
        try Seeder.run(cmds, on: a)
        try Seeder.run(
            [
                Seeder.connectCommands(id: "c1", user: "dave", ttlSeconds: 600),
                Seeder.connectCommands(id: "c2", user: nil, ttlSeconds: 900),
            ], on: b)
        let deadPort = try DeadPort()
        let dead = RedisURL(endpoint: .tcp(host: "127.0.0.1", port: deadPort.port))
        let store = RedisSessionStore(urls: [a.url, b.url, dead], timeouts: .init(connectMs: 500, commandMs: 2000))
        let listedFrom = Seeder.nowMs()
        let (sessions, outcome) = try await collect(store)
        let listedUntil = Seeder.nowMs()
        #expect(outcome.failedNodes.map(\.node) == [dead.nodeName])
        #expect(
            Set(sessions.map(\.id)) == ["spring-0", "spring-1", "spring-2", "spring-3", "c1", "c2"],
            "expires:, expirations:, index keys and unrelated keys are not sessions")
        let s0 = try #require(sessions.first { $0.id == "spring-0" })
        #expect(s0.user == "alice" && s0.schema == "spring" && s0.node == a.url.nodeName)
        #expect(s0.createdAtMs == now - 60_000 && s0.lastAccessedAtMs == now - 5_000 && s0.maxInactiveSeconds == 1800)
        // The TTL was read at some instant of the listing (which waits for the dead node).
        let deadline = now - 5_000 + 1_800_000
        #expect(
            s0.ttlMs <= deadline - listedFrom + 1_000 && s0.ttlMs >= deadline - listedUntil - 1_000,
            "TTL is the expires: key's (\(deadline - listedUntil)...\(deadline - listedFrom)), not the hash's (+300 s): \(s0.ttlMs)"
        )
        #expect((s0.sizeBytes ?? 0) > 1000, "MEMORY USAGE includes the security context")
        #expect(sessions.first { $0.id == "spring-3" }?.user == nil)
        let c1 = try #require(sessions.first { $0.id == "c1" })
        #expect(
            c1.user == "dave" && c1.schema == "connect-redis" && c1.node == b.url.nodeName
                && c1.maxInactiveSeconds == 600)
        let expectedC1 = 600_000 - (Seeder.nowMs() - now)
        #expect(c1.ttlMs > expectedC1 - 3_000 && c1.ttlMs <= 600_000, "TTL \(c1.ttlMs), expected about \(expectedC1)")
    }

    @Test func nonIndexedSpringAndPrincipalAttribute() async throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        var s = Seeder.SpringSession(id: "n1", user: "erin", nowMs: now, maxInactive: 120)
        s.securityContext = false
        try Seeder.run(
            try Seeder.springCommands(s, namespace: "myapp", indexed: false)
                + Seeder.springCommands(.init(id: "n2", user: "bob", nowMs: now), namespace: "myapp", indexed: false),
            on: server)
        let store = RedisSessionStore(urls: [server.url])
        let schemas = try await store.schemas(on: store.nodes[0])
        let spring = try #require(schemas.first as? SpringSchema)
        #expect(spring.namespace == "myapp" && !spring.indexed)
        let (sessions, _) = try await collect(store)
        #expect(sessions.count == 2)
        let n1 = try #require(sessions.first { $0.id == "n1" })
        #expect(n1.user == "erin")
        // TTL of the hash itself: EXPIREAT last access (5 s before seeding) + max inactive (120 s),
        // less the time the test has taken since (seconds on a loaded machine).
        let expectedN1 = 115_000 - (Seeder.nowMs() - now)
        #expect(n1.ttlMs > expectedN1 - 3_000 && n1.ttlMs <= 115_000, "TTL \(n1.ttlMs), expected about \(expectedN1)")
        #expect(sessions.first { $0.id == "n2" }?.user == "bob")
        // Logout by scanning (no index): removes only bob's.
        let result = try await store.logout(user: "bob")
        #expect(result.affected == ["n2"])
        #expect(try server.command("EXISTS", "myapp:sessions:n2") == .integer(0))
        #expect(try server.command("EXISTS", "myapp:sessions:n1") == .integer(1))
    }

    @Test func logoutOfAUserAmongAThousandLeavesNoTraceAndTouchesNothingElse() async throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for i in 0..<997 {
            var s = Seeder.SpringSession(id: "s\(i)", user: "user\(i % 50)", nowMs: now)
            s.securityContext = false
            cmds += try Seeder.springCommands(s)
        }
        for i in 0..<3 {
            cmds += try Seeder.springCommands(.init(id: "alice-\(i)", user: "alice", nowMs: now - Int64(i) * 90_000))
        }
        try Seeder.run(cmds, on: server)
        let conn = try server.connection()
        func allKeys() throws -> Set<String> {
            var keys: Set<String> = []
            var cursor = "0"
            repeat {
                let r = try conn.send([RedisCommand("SCAN", cursor, "COUNT", "1000")])[0].array ?? []
                cursor = r[0].text ?? "0"
                for k in r[1].array ?? [] { keys.insert(k.text ?? "") }
            } while cursor != "0"
            return keys
        }
        let before = try allKeys()
        // Snapshot of what must stay: every other session's hash and every other set's members.
        let store = RedisSessionStore(urls: [server.url])
        let result = try await store.logout(user: "alice")
        #expect(Set(result.affected) == ["alice-0", "alice-1", "alice-2"])
        let after = try allKeys()
        let removed = before.subtracting(after)
        #expect(removed.contains("spring:session:index:\(Seeder.principalAttr):alice"))
        for i in 0..<3 {
            #expect(removed.contains("spring:session:sessions:alice-\(i)"))
            #expect(removed.contains("spring:session:sessions:expires:alice-\(i)"))
        }
        #expect(
            removed.count == 7 || removed.count <= 10, "only alice's keys (and expiration buckets that held only hers)")
        for k in removed {
            #expect(k.contains("alice") || k.contains(":expirations:"), "removed an unrelated key \(k)")
        }
        // No expiration set still names an alice session.
        for k in after where k.contains(":expirations:") {
            let members = try conn.send([RedisCommand("SMEMBERS", k)])[0].array ?? []
            for m in members {
                #expect(
                    !(String(decoding: m.bytes ?? [], as: UTF8.self).contains("alice")),
                    "\(k) still lists an alice session")
            }
        }
        #expect(try conn.send([RedisCommand("HLEN", "spring:session:sessions:s0")])[0] == .integer(4))
        let (left, _) = try await collect(store)
        #expect(left.count == 997)
        #expect(!left.contains { $0.user == "alice" })
    }

    @Test func expireNowAndIn() async throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        try Seeder.run(
            try Seeder.springCommands(.init(id: "e1", user: "alice", nowMs: now))
                + Seeder.springCommands(.init(id: "e2", user: "bob", nowMs: now))
                + [Seeder.connectCommands(id: "c1", user: "x")], on: server)
        let store = RedisSessionStore(urls: [server.url])
        let r1 = try await store.expire(ids: ["e1", "c1", "nope"], after: nil)
        #expect(Set(r1.affected) == ["e1", "c1"])
        #expect(r1.notFound == ["nope"])
        #expect(try server.command("EXISTS", "spring:session:sessions:expires:e1") == .integer(0))
        #expect(try server.command("EXISTS", "sess:c1") == .integer(0))
        let hashTTL = try server.command("PTTL", "spring:session:sessions:e1").int ?? 0
        #expect(hashTTL > 290_000 && hashTTL <= 300_001, "the hash stays 5 minutes for the application's clean-up")
        _ = try await store.expire(ids: ["e2"], after: 120_000)
        let ttl = try server.command("PTTL", "spring:session:sessions:expires:e2").int ?? 0
        #expect(ttl > 115_000 && ttl <= 120_000)
        let (rows, _) = try await collect(store, ListQuery(filter: try Filter("id=e2")))
        #expect(rows.first.map { $0.ttlMs <= 120_000 } == true, "the listing shows the new TTL")
        let (hidden, _) = try await collect(store, ListQuery(filter: try Filter("id=e1")))
        #expect(hidden.isEmpty, "an expired Spring session is not a live session")
        let (gone, _) = try await collect(store, ListQuery(filter: try Filter("id=e1"), includeExpired: true))
        #expect(gone.first?.ttlMs == 0, "asked for, it shows with TTL 0 while its hash awaits clean-up")
        // Logout still removes the leftovers: no trace of the user.
        let out = try await store.logout(user: "alice")
        #expect(out.affected == ["e1"])
        #expect(try server.command("EXISTS", "spring:session:sessions:e1") == .integer(0))
    }

    @Test func showReadsAttributesWithoutChangingIdleFirst() async throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        var s = Seeder.SpringSession(id: "x1", user: "alice", nowMs: now)
        s.attributes = [
            ("cart", try Fixtures.bytes("java/arraylist-cart.bin")),
            ("broken", Array(try Fixtures.bytes("java/hashmap-prefs.bin").prefix(40))),
            ("title", Array("\u{1B}[2Jhello".utf8)),
        ]
        try Seeder.run(try Seeder.springCommands(s), on: server)
        let store = RedisSessionStore(urls: [server.url])
        let got = try #require(try await store.get(id: "x1"))
        #expect(got.user == "alice")
        let byName = Dictionary(uniqueKeysWithValues: got.attributes.map { ($0.name, $0) })
        #expect(byName["cart"]?.decoded == .list([.string("sku-1"), .string("sku-2"), .int(3)]))
        guard case .undecodable(let why)? = byName["broken"]?.decoded else {
            Issue.record("truncated stream decoded")
            return
        }
        #expect(why.contains("Java serialization"))
        #expect(byName["broken"]?.raw.count == 40, "the raw bytes are kept")
        #expect(byName["SPRING_SECURITY_CONTEXT"]?.format == "java")
        #expect(got.storeIdleMs != nil)
        #expect(try await store.get(id: "missing") == nil)
    }

    @Test func prefixSchemaAndExplicitOverride() async throws {
        let server = try RedisServer()
        try Seeder.run(
            [
                RedisCommand("SET", "myapp:sess:a", "v1", "EX", "100"),
                RedisCommand("HSET", "myapp:sess:b", "user", "zed"),
                Seeder.connectCommands(id: "c", user: "u"),
            ], on: server)
        let store = RedisSessionStore(urls: [server.url], schema: try SchemaOption.parse("prefix=myapp:sess:"))
        let (rows, _) = try await collect(store)
        #expect(Set(rows.map(\.id)) == ["a", "b"])
        #expect(rows.first { $0.id == "b" }?.ttlMs == -1)
        let b = try #require(try await store.get(id: "b"))
        #expect(b.attributes.first?.name == "user" && b.attributes.first?.decoded == .string("zed"))
        #expect(throws: SchemaError.self) { try SchemaOption.parse("nonsense") }
    }

    @Test func limitAndFilterAndIndexLookup() async throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for i in 0..<300 {
            cmds += try Seeder.springCommands(.init(id: "l\(i)", user: i % 3 == 0 ? "bob" : "carol", nowMs: now))
        }
        try Seeder.run(cmds, on: server)
        let store = RedisSessionStore(urls: [server.url], scanCount: 50)
        let (limited, _) = try await collect(store, ListQuery(limit: 7))
        #expect(limited.count == 7)
        let (bobs, _) = try await collect(store, ListQuery(filter: try Filter("user=bob")))
        #expect(bobs.count == 100 && bobs.allSatisfy { $0.user == "bob" })
        let (wild, _) = try await collect(store, ListQuery(filter: try Filter("user=b* id~l1")))
        #expect(!wild.isEmpty && wild.allSatisfy { $0.user == "bob" && $0.id.contains("l1") })
    }
}
