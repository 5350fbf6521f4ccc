import Foundation
import RedisClient
import SessionKit
import TestSupport
import Testing

@Suite struct RedisURLTests {
    @Test func parsesFullURL() throws {
        let u = try RedisURL("redis://admin:s3cr%40t@10.0.0.5:6380/3")
        #expect(u.endpoint == .tcp(host: "10.0.0.5", port: 6380))
        #expect(u.user == "admin")
        #expect(u.password == "s3cr@t")
        #expect(u.db == 3)
        #expect(u.description == "redis://admin:***@10.0.0.5:6380/3")
        #expect(!u.description.contains("s3cr"))
    }

    @Test func defaultsAndLonePassword() throws {
        let u = try RedisURL("redis://:pw@localhost")
        #expect(u.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(u.user == nil && u.password == "pw" && u.db == 0)
        #expect(u.description == "redis://:***@localhost:6379")
        let lone = try RedisURL("redis://onlysecret@h:1")
        #expect(lone.password == "onlysecret" && lone.user == nil)
    }

    @Test func unixAndIPv6() throws {
        let u = try RedisURL("unix:///run/redis.sock?db=2&password=x")
        #expect(u.endpoint == .unix(path: "/run/redis.sock"))
        #expect(u.db == 2 && u.password == "x")
        #expect(u.description == "unix:///run/redis.sock?db=2&password=***")
        let v6 = try RedisURL("redis://[::1]:7000")
        #expect(v6.endpoint == .tcp(host: "::1", port: 7000))
        #expect(v6.nodeName == "[::1]:7000")
    }

    @Test func rejectsBadURLsWithoutEchoingPassword() {
        for bad in [
            "http://x", "redis://u:topsecret@h:notaport", "redis://u:topsecret@h:1/x", "unix://relative",
            "unix:///s?password=topsecret&db=x", "redis://topsecret@h:1/x",
        ] {
            do {
                _ = try RedisURL(bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(!error.description.contains("topsecret"))
            }
        }
    }

    @Test func sentinelURLs() throws {
        let u = try RedisURL(
            "rediss+sentinel://app:data%21pw@s1:26380,[::1],s3/mymaster/2?sentinel_username=mon&sentinel_password=mon-pw"
        )
        let set = try #require(u.sentinel)
        #expect(set.sentinels.map(\.description) == ["s1:26380", "[::1]:26379", "s3:26379"])
        #expect(set.masterName == "mymaster" && set.username == "mon" && set.password == "mon-pw")
        #expect(u.user == "app" && u.password == "data!pw" && u.db == 2 && u.tls != nil)
        #expect(u.nodeName == "mymaster")
        #expect(
            u.description
                == "rediss+sentinel://app:***@s1:26380,[::1]:26379,s3:26379/mymaster/2?sentinel_username=mon&sentinel_password=***"
        )
        // The master's URL keeps the data credentials, TLS and database.
        let m = u.member(host: "10.0.0.9", port: 6379)
        #expect(
            m.endpoint == .tcp(host: "10.0.0.9", port: 6379) && m.password == "data!pw" && m.db == 2 && m.tls != nil)
        for bad in [
            "redis+sentinel://s1:26379", "redis+sentinel://s1:x/m", "redis+sentinel:///m",
            "redis+sentinel://s1/m?sentinel_password=topsecret&nope=1",
            "redis+sentinel://s1/m/x?sentinel_password=topsecret",
        ] {
            #expect(throws: RedisURL.ParseError.self, "\(bad)") { try RedisURL(bad) }
            do { _ = try RedisURL(bad) } catch { #expect(!error.description.contains("topsecret"), "\(error)") }
        }
        #expect(
            Redaction.redact("redis+sentinel://:pw1@s1/m?sentinel_password=pw2")
                == "redis+sentinel://:***@s1/m?sentinel_password=***")
    }

    @Test func redactsFreeText() {
        #expect(
            Redaction.redact("cannot reach redis://bob:hunter2@db:6379/0 now")
                == "cannot reach redis://bob:***@db:6379/0 now")
        #expect(Redaction.redact("redis://hunter2@db") == "redis://***@db")
        #expect(Redaction.redact("unix:///s?password=hunter2&db=1") == "unix:///s?password=***&db=1")
    }
}

@Suite struct RedisClientLiveTests {
    @Test func pipelineRoundTripsBinaryValues() async throws {
        let server = try RedisServer()
        let client = RedisClient(url: server.url)
        var value: [UInt8] = Array(0...255)
        value += [0, 0x1B, 0x5B, 0x32, 0x4A]
        let replies = try await client.pipeline([
            RedisCommand("SET", "k\u{0}bin", value),
            RedisCommand("GET", "k\u{0}bin"),
            RedisCommand("STRLEN", "k\u{0}bin"),
            RedisCommand("GET", "missing"),
            RedisCommand("HSET", "h", "a", "1", "b", ""),
            RedisCommand("HGETALL", "h"),
            RedisCommand("NOSUCHCOMMAND"),
            RedisCommand("PING"),
        ])
        #expect(replies[0] == .status("OK"))
        #expect(replies[1] == .string(value))
        #expect(replies[2] == .integer(Int64(value.count)))
        #expect(replies[3] == .null)
        #expect(replies[5].array?.count == 4)
        #expect(replies[6].errorMessage?.contains("unknown command") == true)
        #expect(replies[7] == .status("PONG"), "an error reply does not break the pipeline")
        // A server error is not a connection error.
        do {
            _ = try await client.send(RedisCommand("INCR", "h")).orThrow()
            Issue.record("INCR on a hash succeeded")
        } catch {
            #expect(!error.isConnectionError)
        }
    }

    @Test func authWithPasswordAndACLUserAndSelect() async throws {
        let server = try RedisServer(password: "pa ss")
        // Wrong password: authentication error, message without the password.
        let wrong = RedisClient(
            url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: server.port), password: "nope-secret"))
        do {
            try await wrong.connect()
            Issue.record("wrong password accepted")
        } catch {
            guard case .authentication = error else {
                Issue.record("expected authentication error, got \(error)")
                return
            }
            #expect(!error.description.contains("nope-secret"))
        }
        // Password via the fallback (REDISCLI_AUTH path), database selection.
        let fallback = RedisClient(url: try RedisURL("redis://127.0.0.1:\(server.port)/5"), fallbackPassword: "pa ss")
        _ = try await fallback.send(RedisCommand("SET", "in5", "x"))
        #expect(try await fallback.send(RedisCommand("CLIENT", "INFO")).text?.contains("db=5") == true)
        // ACL user.
        let admin = try server.connection()
        _ = try admin.send([RedisCommand("AUTH", "pa ss")])
        let acl = try admin.send([RedisCommand("ACL", "SETUSER", "ops", "on", ">opspw", "~*", "+@all")])[0]
        #expect(acl == .status("OK"))
        let ops = RedisClient(url: try RedisURL("redis://ops:opspw@127.0.0.1:\(server.port)"))
        #expect(try await ops.send(RedisCommand("ACL", "WHOAMI")).text == "ops")
    }

    @Test func connectionErrorsAndReconnect() async throws {
        let dead = try DeadPort()
        let client = RedisClient(
            url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: dead.port)), reconnectAttempts: 1)
        do {
            _ = try await client.send(RedisCommand("PING"))
            Issue.record("PING to a closed port succeeded")
        } catch {
            #expect(error.isConnectionError)
        }
        // A live client survives a server-side kill of its connection.
        let server = try RedisServer()
        let live = RedisClient(url: server.url)
        #expect(try await live.send(RedisCommand("CLIENT", "SETNAME", "victim")) == .status("OK"))
        try server.command("CLIENT", "KILL", "SKIPME", "no")
        #expect(try await live.send(RedisCommand("PING")) == .status("PONG"), "reconnects after the link broke")
    }

    @Test func unixSocketWithDatabase() async throws {
        let socketPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sctl-\(UUID().uuidString.prefix(8)).sock"
        ).path
        let server = try RedisServer(config: ["--unixsocket", socketPath, "--unixsocketperm", "700"])
        let client = RedisClient(url: try RedisURL("unix://\(socketPath)?db=3"))
        _ = try await client.send(RedisCommand("SET", "via-socket", "1"))
        #expect(try server.command("SELECT", "3") == .status("OK"))
        let check = try server.connection()
        _ = try check.send([RedisCommand("SELECT", "3")])
        #expect(try check.send([RedisCommand("GET", "via-socket")])[0] == .string(Array("1".utf8)))
    }

    @Test func commandTimeoutIsAConnectionError() async throws {
        let server = try RedisServer()
        let client = RedisClient(
            url: server.url, timeouts: .init(connectMs: 1000, commandMs: 200), reconnectAttempts: 1)
        try await client.connect()
        // Another client pauses the server for 1.5 s: our command cannot be answered in time.
        try server.command("CLIENT", "PAUSE", "1500", "ALL")
        do {
            _ = try await client.send(RedisCommand("PING"))
            Issue.record("a paused server answered within a 200 ms timeout")
        } catch {
            #expect(error.description.contains("timed out"))
        }
    }

    @Test func pubSubDeliversMessagesOnItsOwnConnection() async throws {
        let server = try RedisServer()
        let sub = RedisSubscriber.subscribe(url: server.url, channels: ["news"], patterns: ["ev:*"])
        try await sub.ready()
        let pub = RedisClient(url: server.url)
        _ = try await pub.send(RedisCommand("PUBLISH", "news", [0xFF, 0x00, 0x41]))
        _ = try await pub.send(RedisCommand("PUBLISH", "ev:1", "hello"))
        var got: [RedisSubscriber.Message] = []
        for try await m in sub.messages {
            got.append(m)
            if got.count == 2 { break }
        }
        #expect(got[0].channel == "news" && got[0].payload == [0xFF, 0x00, 0x41])
        #expect(got[1].channel == "ev:1" && got[1].pattern == "ev:*" && got[1].payload == Array("hello".utf8))
    }
}

/// What the fuzzer found in the topology readers: a server's reply must never make them trap.
@Suite struct TopologyReplyTests {
    @Test func reversedOrOutOfRangeSlotsAreSkipped() throws {
        func node(_ port: Int64) -> RedisReply {
            .array([.string(Array("127.0.0.1".utf8)), .integer(port), .string([0x61])])
        }
        // `CLUSTER SLOTS` with 0..-5460 (the fuzzer's reproducer), 16000..99999 and a good range.
        let slots = RedisReply.array([
            .array([.integer(0), .integer(-5460), node(7000)]),
            .array([.integer(16000), .integer(99_999), node(7001)]),
            .array([.integer(100), .integer(200), node(7002)]),
        ])
        let parsed = try ClusterRouter.parseSlots(slots)
        #expect(parsed.flatMap(\.slots) == [100...200])
        let shards = RedisReply.array([
            .array([
                .string(Array("slots".utf8)), .array([.integer(50), .integer(10), .integer(-1), .integer(3)]),
                .string(Array("nodes".utf8)),
                .array([
                    .array([
                        .string(Array("id".utf8)), .string(Array("x".utf8)), .string(Array("port".utf8)),
                        .integer(7000),
                        .string(Array("role".utf8)), .string(Array("master".utf8)),
                    ])
                ]),
            ])
        ])
        #expect(try ClusterRouter.parseShards(shards).flatMap(\.slots).isEmpty)
    }
}

/// Cluster routing on bytes (the table CRC and the name checks made for listing speed) must
/// agree with Redis's `CLUSTER KEYSLOT` and with the command table.
@Suite struct ClusterRoutingTests {
    @Test func slotsAgreeWithRedis() {
        // Values from CLUSTER KEYSLOT (and the cluster spec's CRC16 check value 0x31C3).
        #expect(ClusterRouter.slot(of: Array("123456789".utf8)) == 0x31C3 & 16383)
        #expect(ClusterRouter.slot(of: Array("foo".utf8)) == 12182)
        #expect(ClusterRouter.slot(of: Array("bar".utf8)) == 5061)
        #expect(
            ClusterRouter.slot(of: Array("{user1000}.following".utf8))
                == ClusterRouter.slot(of: Array("{user1000}.followers".utf8)))
        #expect(ClusterRouter.slot(of: []) == 0)
    }

    @Test func keysAreFoundOnBytesWhateverTheCase() {
        #expect(ClusterRouter.key(of: RedisCommand("object", "idletime", "k1")) == Array("k1".utf8))
        #expect(ClusterRouter.key(of: RedisCommand("MEMORY", "USAGE", "k2", "SAMPLES", "0")) == Array("k2".utf8))
        #expect(ClusterRouter.key(of: RedisCommand("hmget", "k3", "a")) == Array("k3".utf8))
        #expect(ClusterRouter.key(of: RedisCommand("scan", "0")) == nil)
        #expect(ClusterRouter.key(of: RedisCommand("RandomKey")) == nil)
        #expect(ClusterRouter.key(of: RedisCommand("DBSIZEX", "k4")) == Array("k4".utf8), "a longer name is not DBSIZE")
    }
}
