import Foundation
import MemcachedClient
import MemcachedSessions
import SessionKit
import TestSupport
import Testing

/// Runs a real framework's interpreter; its trimmed stdout (a failure throws with stderr).
func runTool(_ name: String, _ args: [String]) throws -> String {
    guard let path = findExecutable(name) else {
        throw HarnessError("\(name) not found on PATH: the README's test command installs it")
    }
    let dir = try makeTemporaryDirectory("sessionctl-tool")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let p = try ChildProcess(path: path, arguments: args, outputPath: dir + "/out", errorPath: dir + "/err")
    guard p.wait(seconds: 60) else {
        p.signal(SIGKILL)
        throw HarnessError("\(name) did not finish in 60 s")
    }
    let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
    guard p.exitCode == 0 else { throw HarnessError("\(name) \(args.prefix(3)) failed: \(err.suffix(600))") }
    return out.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Sessions written and read back by the real frameworks: PHP's memcached and memcache
/// handlers, Django's cache backend over pymemcache, Rack::Session::Dalli.
enum Frameworks {
    static func php(_ handler: String, port: Int, _ code: String) throws -> String {
        let path = handler == "memcached" ? "127.0.0.1:\(port)" : "tcp://127.0.0.1:\(port)"
        return try runTool(
            "php", ["-d", "session.save_handler=\(handler)", "-d", "session.save_path=\(path)", "-r", code])
    }
    static func phpWrite(_ handler: String, port: Int, id: String, _ values: [String: String]) throws {
        let sets = values.map { "$_SESSION['\($0.key)'] = '\($0.value)';" }.joined()
        _ = try php(handler, port: port, "session_id('\(id)'); session_start(); \(sets) session_write_close();")
    }
    /// The session as PHP loads it (JSON; `[]` when PHP has no such session).
    static func phpLoad(_ handler: String, port: Int, id: String) throws -> String {
        try php(handler, port: port, "session_id('\(id)'); session_start(); echo json_encode($_SESSION);")
    }

    static let djangoScript = """
        import sys, json
        from django.conf import settings
        port, mode, arg = sys.argv[1], sys.argv[2], sys.argv[3]
        settings.configure(SECRET_KEY="k", INSTALLED_APPS=["django.contrib.sessions"],
            CACHES={"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                                "LOCATION": "127.0.0.1:" + port}},
            SESSION_ENGINE="django.contrib.sessions.backends.cache")
        import django
        django.setup()
        from django.contrib.sessions.backends.cache import SessionStore
        if mode == "write":
            s = SessionStore()
            s["_auth_user_id"] = arg
            s["theme"] = "dark"
            s.create()
            print(s.session_key)
        else:
            s = SessionStore(session_key=arg)
            print(json.dumps(dict(s.load())))
        """
    static func django(port: Int, _ mode: String, _ arg: String) throws -> String {
        try runTool("python3", ["-c", djangoScript, String(port), mode, arg])
    }

    static let rackScript = """
        require "rack"
        require "rack/session/dalli"
        require "rack/mock"
        port, mode, arg = ARGV
        app = lambda do |env|
          s = env["rack.session"]
          if mode == "write"
            s["warden.user.user.key"] = [[arg.to_i], "salt"]
            s["note"] = "hello"
            # Over dalli's 4 KB threshold: the value is stored zlib-compressed (flag 2).
            s["history"] = (1..600).map { |i| "page-#{i}" }
          end
          [200, {}, [s["note"].to_s]]
        end
        stack = Rack::Session::Dalli.new(app, memcache_server: "127.0.0.1:" + port, expire_after: 600)
        env = mode == "write" ? {} : { "HTTP_COOKIE" => "rack.session=" + arg }
        res = Rack::MockRequest.new(stack).get("/", env)
        puts(mode == "write" ? res["Set-Cookie"].to_s[/rack.session=([^;]+)/, 1] : res.body)
        """
    static func rack(port: Int, _ mode: String, _ arg: String) throws -> String {
        try runTool("ruby", ["-e", rackScript, String(port), mode, arg])
    }
}

actor Counter {
    private var n = 0
    func next() -> Int {
        n += 1
        return n
    }
}

func collect(_ store: any SessionStore, _ query: ListQuery = ListQuery()) async throws -> ([Session], ListOutcome) {
    let c = Collector()
    let outcome = try await store.list(query) { await c.add($0) }
    return (await c.sessions, outcome)
}

@Suite(.serialized) struct MemcachedFrameworkTests {
    static let msmID = "0123456789ABCDEF0123456789ABCDEF-n1"

    @Test func everyFrameworkIsListedDecodedAndLoggedOutThroughItsOwnEyes() async throws {
        let m = try MemcachedServer()
        let port = m.port
        try Frameworks.phpWrite("memcached", port: port, id: "phpalice1", ["user": "alice", "cart": "3 items"])
        try Frameworks.phpWrite("memcached", port: port, id: "phpcarol1", ["user": "carol"])
        try Frameworks.phpWrite("memcache", port: port, id: "peclalice1", ["username": "alice"])
        let djangoAlice = try Frameworks.django(port: port, "write", "alice")
        let djangoDave = try Frameworks.django(port: port, "write", "dave")
        let rackSID = try Frameworks.rack(port: port, "write", "7")
        #expect(!rackSID.isEmpty)
        // msm and connect-memcached values from their documented layouts.
        let msm = MSMBuilder.session(
            id: Self.msmID, principal: "alice", created: currentTimeMs() - 60_000,
            lastAccessed: currentTimeMs() - 30_000,
            maxInactive: 1800, attributes: [("cart", "abc")])
        try m.set(Self.msmID, msm, ttl: 1800)
        try m.set(
            "validity:" + Self.msmID,
            MSMBuilder.validity(maxInactive: 1800, lastAccessed: 1, thisAccessed: currentTimeMs() - 5_000), ttl: 1800)
        try m.set("bak:" + Self.msmID, msm, ttl: 1800)
        try m.set("lock:" + Self.msmID, Array("1".utf8), ttl: 30)
        let express =
            #"{"cookie":{"originalMaxAge":600000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":"alice"},"views":3}"#
        try m.set("exprAlice01", Array(express.utf8), flags: 2, ttl: 600)
        // Not sessions: a page cache entry and a counter.
        try m.set("cache:home", Array("<html>".utf8), ttl: 600)
        try m.set("hits", Array("12".utf8), ttl: 600)

        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
        let (all, outcome) = try await collect(store)
        #expect(outcome.failedNodes.isEmpty, "\(outcome.failedNodes)")
        let byID = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byID["phpalice1"]?.schema == "php-memcached" && byID["phpalice1"]?.user == "alice")
        #expect(byID["peclalice1"]?.schema == "php-memcache" && byID["peclalice1"]?.user == "alice")
        #expect(byID[djangoAlice]?.schema == "django" && byID[djangoAlice]?.user == "alice")
        #expect(byID[rackSID]?.schema == "rails" && byID[rackSID]?.user == "7")
        let rackShown = try #require(try await store.get(id: rackSID))
        #expect(rackShown.attributes.contains { $0.name == "history" }, "the compressed value inflated and decoded")
        let rackFlags = try m.command("mg rack:session:\(rackSID) f u")
        #expect(rackFlags.contains("f3") || rackFlags.contains("f2"), "dalli compressed it: \(rackFlags)")
        #expect(byID[Self.msmID]?.schema == "msm" && byID[Self.msmID]?.user == "alice")
        #expect(byID["exprAlice01"]?.schema == "express" && byID["exprAlice01"]?.user == "alice")
        // msm's validity key gives the real last access; companions are never sessions.
        let msmRow = try #require(byID[Self.msmID])
        #expect(msmRow.maxInactiveSeconds == 1800 && (msmRow.idleMs(now: currentTimeMs()) ?? 0) >= 4_000)
        #expect(all.count == 8, "\(all.map { "\($0.schema):\($0.id)" })")
        #expect(!all.contains { $0.key.hasPrefix("bak:") || $0.key.hasPrefix("validity:") || $0.key == "cache:home" })

        // Reading changed nothing: memcached still reports the items as never fetched.
        let dump = try m.command("lru_crawler metadump all", until: "END")
        #expect(dump.contains("key=phpalice1") == false && dump.contains("fetch=no"))
        #expect(
            !dump.split(separator: "\n").contains { $0.contains("memc.sess.key.phpalice1") && $0.contains("fetch=yes") }
        )

        // show decodes attributes.
        let shown = try #require(try await store.get(id: "phpalice1"))
        #expect(shown.attributes.contains { $0.name == "cart" && $0.decoded == .string("3 items") })
        let shownMSM = try #require(try await store.get(id: Self.msmID))
        #expect(shownMSM.attributes.contains { $0.name == "cart" && $0.decoded == .string("abc") })

        // Logout: every session of alice, in every framework, with every companion key.
        let r = try await store.logout(user: "alice")
        #expect(Set(r.affected) == Set(["phpalice1", "peclalice1", djangoAlice, Self.msmID, "exprAlice01"]))
        #expect(try Frameworks.phpLoad("memcached", port: port, id: "phpalice1") == "[]")
        #expect(try Frameworks.phpLoad("memcache", port: port, id: "peclalice1") == "[]")
        #expect(try Frameworks.django(port: port, "load", djangoAlice) == "{}")
        for key in [Self.msmID, "validity:" + Self.msmID, "bak:" + Self.msmID, "lock:" + Self.msmID, "exprAlice01"] {
            #expect(try !m.has(key), "\(key) is gone")
        }
        // The control sessions still load.
        #expect(try Frameworks.phpLoad("memcached", port: port, id: "phpcarol1").contains("carol"))
        #expect(try Frameworks.django(port: port, "load", djangoDave).contains("dave"))
        #expect(try Frameworks.rack(port: port, "load", rackSID) == "hello")
        // Rack's user, then Rack no longer finds its session.
        let rackOut = try await store.logout(user: "7")
        #expect(rackOut.affected == [rackSID])
        #expect(try Frameworks.rack(port: port, "load", rackSID) == "")
        #expect(try m.has("cache:home"), "what is not a session is never touched")
    }

    @Test func hostileKeysAndValuesAreListedOrReportedAndNeverPrintedRaw() async throws {
        let m = try MemcachedServer()
        try m.set(key: Array("memc.sess.key.evil\u{1B}[2J id".utf8), value: Array("user|s:5:\"mal\u{07}y\";".utf8))
        try m.set(
            key: [0x6D, 0x65, 0x6D, 0x63, 0x2E] + Array("sess.key.".utf8) + [0xFF, 0xFE], value: [0xFF, 0x00, 0x1B])
        try m.set("memc.sess.key.notphp", Array(repeating: 0x41, count: 300_000))
        try m.set("memc.sess.key.good", Array("user|s:3:\"bob\";".utf8))
        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
        let (all, outcome) = try await collect(store)
        #expect(outcome.failedNodes.isEmpty)
        #expect(all.count == 4 && all.contains { $0.user == "bob" }, "\(all.map(\.id))")
        let evil = try #require(all.first { $0.id.hasPrefix("evil") })
        #expect(!evil.id.unicodeScalars.contains { $0.value < 0x20 }, "ids carry no raw control bytes")
        // The CLI prints every one of them without a raw control byte.
        for s in all {
            let shown = try CLI.run(["show", s.id, "--store", m.urlString])
            #expect(shown.code == 0, "\(shown)")
            let bad = shown.stdout.unicodeScalars.filter { $0.value < 0x20 && $0 != "\n" }
            #expect(bad.isEmpty, "raw control bytes in show \(s.id): \(shown.stdout.prefix(300))")
        }
        // The JSON form keeps the escaped id and it round-trips to the same key.
        let expired = try await store.delete(ids: [evil.id])
        #expect(expired.affected == [evil.id])
    }

    @Test func aDownNodeIsReportedAndTheOthersListed() async throws {
        let a = try MemcachedServer()
        try Frameworks.phpWrite("memcached", port: a.port, id: "upnode1", ["user": "erin"])
        let deadPort = freePort()
        let store = MemcachedStore(
            endpoints: try MemcachedEndpoint.parse("memcached://\(a.address),127.0.0.1:\(deadPort)"),
            timeouts: .init(connectMs: 500, commandMs: 2000))
        let (all, outcome) = try await collect(store)
        #expect(all.map(\.id) == ["upnode1"])
        #expect(outcome.failedNodes.map(\.node) == ["127.0.0.1:\(deadPort)"], "\(outcome.failedNodes)")
        let nodes = await store.nodes(.cheap)
        #expect(nodes.map(\.up) == [true, false] && nodes[1].error?.contains("connect") == true)
        let cli = try CLI.run(["ls", "--store", a.urlString, "--store", "memcached://127.0.0.1:\(deadPort)"])
        #expect(cli.stdout.contains("upnode1") && cli.stderr.contains("127.0.0.1:\(deadPort)"), "\(cli)")
    }

    @Test func aNodeThatDiesMidDumpKeepsWhatWasListedAndSaysSo() async throws {
        let m = try MemcachedServer(memoryMB: 256)
        let total = 60_000
        for start in stride(from: 0, to: total, by: 10_000) {
            try m.setMany(
                (start..<(start + 10_000)).map { ("memc.sess.key.mid\($0)", Array("user|s:2:\"u\($0 % 10)\";".utf8)) },
                ttl: 600)
        }
        let store = MemcachedStore(
            endpoints: try MemcachedEndpoint.parse(m.urlString), timeouts: .init(connectMs: 500, commandMs: 2000))
        let pages = Counter()
        let collector = Collector()
        let outcome = try await store.list(ListQuery()) { page in
            await collector.add(page)
            // The node dies after the first page: the listing must stop with what it has.
            if await pages.next() == 1 { m.kill() }
        }
        let listed = await collector.sessions.count
        #expect(listed > 0 && listed < total, "\(listed) listed")
        #expect(outcome.failedNodes.map(\.node) == [m.address], "\(outcome.failedNodes)")
        #expect(Set(await collector.sessions.map(\.id)).count == listed, "nothing listed twice")
    }

    @Test func aNodeThatForbidsDumpsSaysWhichFlag() async throws {
        let m = try MemcachedServer(options: ["-X"])
        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
        let (_, outcome) = try await collect(store)
        #expect(outcome.failedNodes.first?.message.contains("-X") == true, "\(outcome.failedNodes)")
        let crawlerOff = try MemcachedServer(options: ["-o", "no_lru_crawler"])
        let (_, off) = try await collect(MemcachedStore(endpoints: try MemcachedEndpoint.parse(crawlerOff.urlString)))
        #expect(off.failedNodes.first?.message.contains("lru_crawler") == true, "\(off.failedNodes)")
    }

    @Test func asciiAuthLogsInAndASASLNodeIsExplained() async throws {
        let m = try MemcachedServer(asciiAuth: ["ops:s3cret-pw"])
        let good = try CLI.run(["ls", "--store", "memcached://ops:s3cret-pw@\(m.address)"])
        #expect(good.code == 0, "\(good)")
        let bad = try CLI.run(["ls", "--store", "memcached://ops:wrong-pw@\(m.address)"])
        #expect(bad.code == 3 && bad.stderr.contains("authentication failed"), "\(bad)")
        #expect(!bad.stderr.contains("wrong-pw") && !bad.stdout.contains("wrong-pw"), "never print a password")
        let none = try CLI.run(["ls", "--store", m.urlString])
        #expect(none.code == 3 && none.stderr.contains("unauthenticated"), "\(none)")

        let sasl = try MemcachedServer(sasl: true)
        let refused = try CLI.run(["ls", "--store", sasl.urlString])
        #expect(refused.code == 3 && refused.stderr.contains("SASL") && refused.stderr.contains("-Y"), "\(refused)")
    }

    @Test func aCopyOnASecondNodeIsAReplicaNotASecondSession() async throws {
        let a = try MemcachedServer()
        let b = try MemcachedServer()
        // pecl memcache with session_redundancy=2 writes each session to two nodes.
        _ = try Frameworks.php(
            "memcache", port: a.port,
            "ini_set('memcache.session_redundancy', '2'); ini_set('session.save_path', 'tcp://127.0.0.1:\(a.port),tcp://127.0.0.1:\(b.port)'); session_id('redundant1'); session_start(); $_SESSION['username'] = 'frank'; session_write_close();"
        )
        #expect(try a.has("redundant1") && b.has("redundant1"), "pecl wrote both copies")
        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse("memcached://\(a.address),\(b.address)"))
        let (all, _) = try await collect(store)
        #expect(all.filter { $0.id == "redundant1" }.count == 1, "\(all.map(\.node))")
        let shown = try #require(try await store.get(id: "redundant1"))
        #expect(shown.node.contains("replica on"), "\(shown.node)")
        let r = try await store.logout(user: "frank")
        #expect(r.affected == ["redundant1"])
        #expect(try !a.has("redundant1") && !b.has("redundant1"), "both copies go")
    }
}
