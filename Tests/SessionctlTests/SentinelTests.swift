import Foundation
import RedisClient
import RedisSessions
import SessionKit
import TestSupport
import Testing

/// Redis Sentinel (issue 13): a master, a replica and three real `redis-sentinel`s, with a
/// real `SENTINEL FAILOVER` under a store that stays open and under `watch` (heavy phase).
@Suite(.serialized) struct SentinelTests {
    static let notifications = ["--notify-keyspace-events", "Egxe"]

    func seed(_ h: SentinelHarness, users: [String]) throws {
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, u) in users.enumerated() {
            cmds += try Seeder.springCommands(.init(id: "sen-\(i)", user: u, nowMs: now))
        }
        try Seeder.run(cmds, on: h.master)
        _ = try h.master.command("WAIT", "1", "5000")  // on the replica too
    }

    static func scanCalls(_ server: RedisServer) throws -> Int {
        let text = try server.command("INFO", "commandstats").text ?? ""
        guard let line = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_scan:") }),
            let r = line.range(of: "calls=")
        else { return 0 }
        return Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0
    }

    @Test func listNodesAndReadFromAReplica() throws {
        let h = try SentinelHarness()
        try seed(h, users: ["alice", "alice", "bob", "carol"])
        let store = ["--store", h.urlString]
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,user,node"] + store)
        #expect(ls.code == 0 && ls.lines.count == 4, "\(ls)")
        #expect(ls.lines.allSatisfy { $0.contains(#""node":"mymaster""#) }, "\(ls.stdout)")
        // nodes: the master where it is now, its replica, and the three sentinels.
        let nodes = try CLI.run(["nodes", "-o", "json"] + store)
        #expect(nodes.code == 0, "\(nodes)")
        let rows = try JSONSerialization.jsonObject(with: Data(nodes.stdout.utf8)) as? [[String: Any]] ?? []
        let roles = rows.compactMap { $0["role"] as? String }
        #expect(roles.filter { $0 == "sentinel" }.count == 3, "\(nodes.stdout)")
        #expect(roles.contains("replica of mymaster"), "\(roles)")
        #expect(
            rows.contains { ($0["address"] as? String) == "127.0.0.1:\(h.master.port)" && ($0["up"] as? Bool) == true },
            "\(nodes.stdout)")
        // --read-from replica: the scan goes to the replica, the master sees none.
        let masterScans = try Self.scanCalls(h.master)
        let replicaScans = try Self.scanCalls(h.replica)
        let fromReplica = try CLI.run(["ls", "-o", "jsonl", "--read-from", "replica"] + store)
        #expect(fromReplica.code == 0 && fromReplica.lines.count == 4, "\(fromReplica)")
        #expect(try Self.scanCalls(h.replica) > replicaScans)
        #expect(try Self.scanCalls(h.master) == masterScans)
        // A mutation asked that way still goes to the master.
        let logout = try CLI.run(["logout", "--user", "alice", "--yes", "--read-from", "replica"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("2 session(s) removed"), "\(logout)")
        #expect(try h.master.command("EXISTS", "spring:session:sessions:sen-0") == .integer(0))
        // --read-from replica means nothing without Sentinel: said, not ignored.
        let plain = try CLI.run(["ls", "--read-from", "replica", "--store", h.master.urlString])
        #expect(plain.code == 2 && plain.stderr.contains("Sentinel"), "\(plain)")
    }

    @Test func anOpenStoreFollowsAFailover() async throws {
        let h = try SentinelHarness()
        try seed(h, users: ["dan", "erin", "dan"])
        let store = RedisSessionStore(
            urls: [try RedisURL(h.urlString)], timeouts: .init(connectMs: 1000, commandMs: 5000))
        let before = IDs()
        _ = try await store.list(ListQuery()) { page in await before.add(page) }
        #expect(await before.sorted == ["sen-0", "sen-1", "sen-2"])
        let promoted = try h.failover()
        #expect(promoted.port == h.replica.port)
        // The same store, its connections now to a replica: every command reaches the new master.
        let after = IDs()
        let outcome = try await store.list(ListQuery()) { page in await after.add(page) }
        #expect(await after.sorted == ["sen-0", "sen-1", "sen-2"] && outcome.failedNodes.isEmpty, "\(outcome)")
        let result = try await store.delete(.user("dan"))
        #expect(result.affected.sorted() == ["sen-0", "sen-2"], "\(result)")
        #expect(try promoted.command("EXISTS", "spring:session:sessions:sen-0") == .integer(0))
        #expect(try promoted.command("EXISTS", "spring:session:sessions:sen-1") == .integer(1))
        let infos = await store.nodes(.cheap)
        #expect(
            infos.contains { $0.address == "127.0.0.1:\(promoted.port)" && $0.role.hasPrefix("master") }, "\(infos)")
    }

    @Test func aListingCutByAFailoverEndsOnTheNewMasterWithNothingTwice() async throws {
        let h = try SentinelHarness()
        try seed(h, users: (0..<4000).map { "u\($0 % 50)" })
        let store = RedisSessionStore(
            urls: [try RedisURL(h.urlString)], timeouts: .init(connectMs: 1000, commandMs: 5000), scanCount: 200)
        let ids = IDs()
        let failedOver = Flag()
        let outcome = try await store.list(ListQuery()) { page in
            await ids.add(page)
            // After the first page, while the scan is under way: a real failover.
            if await failedOver.set() { _ = try h.failover() }
        }
        #expect(await failedOver.isSet)
        let all = await ids.all
        #expect(outcome.failedNodes.isEmpty, "\(outcome)")
        #expect(all.count == 4000 && Set(all).count == 4000, "\(all.count) rows, \(Set(all).count) distinct")
    }

    @Test func watchResubscribesOnTheNewMaster() throws {
        let h = try SentinelHarness(config: Self.notifications)
        try seed(h, users: ["fay", "gus"])
        let store = ["--store", h.urlString]
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-watch-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let watch = try ChildProcess(
            path: try CLI.binary("sessionctl"), arguments: ["watch", "-o", "jsonl", "--for", "60s"] + store,
            outputPath: out)
        defer { watch.stop() }
        func events() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try CLI.run(["expire", "sen-0", "--yes"] + store).code == 0)
        let deadline = Date().addingTimeInterval(10)
        while !events().contains(#""id":"sen-0""#) && Date() < deadline { usleep(100_000) }
        #expect(events().contains(#""id":"sen-0""#), "the event from the first master: \(events())")
        let promoted = try h.failover()
        // Expired on the new master once watch is there again: retried until it is seen.
        let again = Date().addingTimeInterval(30)
        while !events().contains(#""id":"sen-1""#) && Date() < again {
            let expire = try CLI.run(["expire", "sen-1", "--yes"] + store)
            if expire.code != 0 {
                usleep(300_000)
                continue
            }
            usleep(500_000)
            if !events().contains(#""id":"sen-1""#) {
                // The session is gone already: write it again on the new master for the next try.
                var cmds: [RedisCommand] = []
                cmds += try Seeder.springCommands(.init(id: "sen-1", user: "gus", nowMs: Seeder.nowMs()))
                try Seeder.run(cmds, on: promoted)
            }
        }
        let text = events()
        let lines = text.split(separator: "\n")
        let gap = lines.firstIndex { $0.contains(#""event":"gap""#) && $0.contains("failover") }
        let second = lines.firstIndex { $0.contains(#""id":"sen-1""#) }
        #expect(gap != nil, "a gap notice names the failover: \(text)")
        #expect(text.contains("127.0.0.1:\(promoted.port)"), "the new master is named: \(text)")
        if let gap, let second { #expect(gap < second, "the notice comes before the new master's events") }
    }

    /// The TUI on a Sentinel URL: rows, then a failover said on the tabs line (tmux).
    @Test func theTUISaysAFailoverHappened() throws {
        let h = try SentinelHarness(config: Self.notifications)
        try seed(h, users: ["ivy", "jon"])
        let home = try makeTemporaryDirectory("sessionctl-tui-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let term = try TmuxSession(
            command: "'\(try CLI.binary("sessionctl"))' --store '\(h.urlString)' --timeout 3s",
            environment: ["SESSIONCTL_AUDIT_LOG": home + "/audit.log", "TERM": "xterm-256color", "HOME": home],
            cols: 200)
        try term.wait("both rows") { $0.contains("sen-0") && $0.contains("sen-1") && $0.contains("mymaster") }
        let promoted = try h.failover()
        let screen = try term.wait("the failover said", timeout: 30) { $0.contains("failover") }
        #expect(screen.contains("127.0.0.1:\(promoted.port)"), "\(screen)")
        // The nodes view shows where the master is now.
        try term.send("3")
        try term.wait("the new master in the nodes view", timeout: 20) { s in
            s.split(separator: "\n").contains { $0.contains("127.0.0.1:\(promoted.port)") && $0.contains("master") }
        }
        try term.send("q")
    }

    /// `rediss+sentinel://`: the sentinels on their TLS ports, the master they name on its
    /// TLS port, before and after a failover.
    @Test func sentinelOverTLS() throws {
        let certs = try TLSCertificates()
        let h = try SentinelHarness(tls: certs)
        try seed(h, users: ["kim", "lee"])
        #expect(h.urlString.hasPrefix("rediss+sentinel://"))
        let store = ["--store", h.urlString, "--cacert", certs.caFile]
        let ls = try CLI.run(["ls", "--fields", "user", "-o", "csv"] + store)
        #expect(ls.code == 0 && ls.lines.sorted() == ["kim", "lee", "user"], "\(ls)")
        let promoted = try h.failover()
        let after = try CLI.run(["nodes", "-o", "json"] + store)
        #expect(after.code == 0 && after.stdout.contains("127.0.0.1:\(h.dataPort(promoted))"), "\(after)")
        let logout = try CLI.run(["logout", "--user", "kim", "--yes"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("1 session(s) removed"), "\(logout)")
        #expect(try promoted.command("EXISTS", "spring:session:sessions:sen-0") == .integer(0))
        // Without the CA: refused, in words, whichever sentinel is asked.
        let refused = try CLI.run(["ls", "--store", h.urlString])
        #expect(refused.code == 3 && refused.stderr.contains("unknown CA"), "\(refused)")
    }

    @Test func sentinelCredentialsAreUsedAndNeverShown() throws {
        let h = try SentinelHarness(sentinelPassword: "s3ntinel-pw")
        try seed(h, users: ["hal"])
        let ok = try CLI.run(["ls", "--fields", "user", "-o", "csv", "--store", h.urlString])
        #expect(ok.code == 0 && ok.lines == ["user", "hal"], "\(ok)")
        let wrong = h.urlString.replacingOccurrences(of: "s3ntinel-pw", with: "wrong-pw")
        let refused = try CLI.run(["ls", "--store", wrong])
        #expect(refused.code == 3 && refused.stderr.contains("no Sentinel could name master"), "\(refused)")
        #expect(!refused.stderr.contains("wrong-pw") && !refused.stdout.contains("wrong-pw"), "\(refused)")
        let unknown = try CLI.run(["ls", "--store", h.urlString.replacingOccurrences(of: "/mymaster", with: "/nosuch")])
        #expect(unknown.code == 3 && unknown.stderr.contains("does not monitor a master named 'nosuch'"), "\(unknown)")
        let bad = try CLI.run(["ls", "--store", "redis+sentinel://127.0.0.1:1"])
        #expect(bad.code == 2 && bad.stderr.contains("names its master"), "\(bad)")
    }
}

actor IDs {
    private var ids: [String] = []
    func add(_ page: [Session]) { ids += page.map(\.id) }
    var sorted: [String] { ids.sorted() }
    var all: [String] { ids }
}

actor Flag {
    private(set) var isSet = false
    /// Sets the flag; true the first time.
    func set() -> Bool {
        defer { isSet = true }
        return !isSet
    }
}
