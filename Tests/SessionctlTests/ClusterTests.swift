import Foundation
import HouseStore
import RedisClient
import SessionKit
import SessiondSessions
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real three-node in-house cluster (sessiond processes): ownership, redirects,
/// migration, drain, failures at every step of a migration, logout and events across nodes.
@Suite(.serialized) struct ClusterTests {
    /// Which nodes list `id` (a session visible on two nodes would be a duplicate).
    static func holders(_ id: String, _ cluster: SessiondCluster, among: [String]? = nil) throws -> [String] {
        try (among ?? cluster.ids).filter { n in
            let rows = try cluster[n].command("SESSION.SCAN", "0", "MATCH", id, "COUNT", "10000").array?[1].array ?? []
            return rows.contains { $0.array?.first?.text == id }
        }
    }

    static func count(_ node: SessiondServer) throws -> Int { Int(try node.command("SESSION.COUNT").int ?? -1) }

    /// A session id whose home on the ring is `node`.
    static func id(homedOn node: String, _ cluster: SessiondCluster, prefix: String = "s") -> String {
        let ring = HashRing(cluster.memberList)
        var i = 0
        while true {
            let id = "\(prefix)-\(i)"
            if ring.owner(of: id)?.id == node { return id }
            i += 1
        }
    }

    @Test func ownershipFollowsTheRingAndOthersRedirect() async throws {
        let cluster = try SessiondCluster()
        let app = try SessiondClient(url: cluster["n2"].urlString)  // any node: the rest is discovered
        let ring = HashRing(cluster.memberList)
        for i in 0..<300 { try await app.create(id: "sess-\(i)", timeoutSeconds: 600, principal: "u\(i % 7)") }
        var perNode: [String: Int] = [:]
        for n in cluster.ids { perNode[n] = try Self.count(cluster[n]) }
        #expect(perNode.values.reduce(0, +) == 300)
        for n in cluster.ids { #expect((70...130).contains(perNode[n] ?? 0), "balanced: \(perNode)") }
        for i in stride(from: 0, to: 300, by: 17) {
            let id = "sess-\(i)"
            let home = try #require(ring.owner(of: id))
            #expect(try Self.holders(id, cluster) == [home.id])
            #expect(try await app.node(of: id) == home.id)
            // Asked directly, another node redirects to the home with its address.
            let other = cluster.ids.first { $0 != home.id } ?? "n1"
            let reply = try cluster[other].command("SESSION.PEEK", id)
            #expect(reply.errorMessage == "MOVED \(home.id) \(home.address)", "\(reply)")
        }
        let text = try cluster["n1"].command("CLUSTER.NODES").text ?? ""
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3 && lines.contains { $0.hasPrefix("n1 ") && $0.contains("myself") }, "\(text)")
        // The console learns the whole cluster from one URL and lists every session with its true owner.
        let ls = try CLI.run(["ls", "-o", "json", "--store", cluster["n3"].urlString])
        let rows = try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(ls.code == 0 && rows.count == 300, "\(ls.stderr)")
        #expect(rows.allSatisfy { ($0["node"] as? String) == ring.owner(of: $0["id"] as? String ?? "")?.id })
        let nodes = try CLI.run(["nodes", "--store", cluster["n1"].urlString])
        #expect(
            nodes.code == 0 && nodes.stdout.contains("RING") && nodes.lines.filter { $0.contains("%") }.count == 3,
            "\(nodes)")
    }

    @Test func migrateMovesEverythingAndLookupsFollow() async throws {
        let cluster = try SessiondCluster()
        let app = try SessiondClient(url: cluster["n1"].urlString)
        let id = Self.id(homedOn: "n1", cluster)
        try await app.create(
            id: id, timeoutSeconds: 900, principal: "alice",
            attributes: [("cart", Array("{\"items\":3}".utf8)), ("bin", [0, 0xFF, 0x7F])])
        let before = try #require(try await app.get(id))
        let audit = FileManager.default.temporaryDirectory.appendingPathComponent(
            "audit-\(UUID().uuidString.prefix(6)).log"
        ).path
        let dry = try CLI.run(["migrate", id, "--to", "n3", "--dry-run", "--store", cluster["n2"].urlString])
        #expect(dry.code == 0 && dry.stdout.contains("would migrate: \(id) from n1 to n3"), "\(dry)")
        #expect(try Self.holders(id, cluster) == ["n1"], "a dry run moves nothing")
        let noYes = try CLI.run(["migrate", id, "--to", "n3", "--store", cluster["n2"].urlString])
        #expect(noYes.code == 2 && noYes.stderr.contains("--yes"))
        let ro = try CLI.run(["migrate", id, "--to", "n3", "--yes", "--read-only", "--store", cluster["n2"].urlString])
        #expect(ro.code == 2 && ro.stderr.contains("read-only"))
        let run = try CLI.run(
            ["migrate", id, "--to", "n3", "--yes", "--store", cluster["n2"].urlString],
            env: ["SESSIONCTL_AUDIT_LOG": audit])
        #expect(run.code == 0 && run.stdout.contains("migrated 1 session(s) to n3"), "\(run)")
        #expect(try Self.holders(id, cluster) == ["n3"])
        // Everything kept; the home (n1) redirects to the new owner; the app still finds it.
        let after = try #require(try await app.get(id))
        #expect(
            after.principal == "alice" && after.attributes == before.attributes && after.createdMs == before.createdMs
                && after.maxInactiveMs == before.maxInactiveMs)
        #expect(try cluster["n1"].command("SESSION.PEEK", id).errorMessage?.hasPrefix("MOVED n3 ") == true)
        #expect(try await app.node(of: id) == "n3")
        let ls = try CLI.run(["ls", "--filter", "id=\(id)", "-o", "jsonl", "--store", cluster["n1"].urlString])
        #expect(ls.stdout.contains("\"node\":\"n3\""), "ls shows the true owner: \(ls)")
        let log = (try? String(contentsOfFile: audit, encoding: .utf8)) ?? ""
        #expect(log.contains("\"action\":\"migrate\"") && log.contains(id))
        // Onwards to n2 (a third node): the home learns the new place.
        let onwards = try CLI.run(["migrate", id, "--to", "n2", "--yes", "--store", cluster["n1"].urlString])
        #expect(onwards.code == 0, "\(onwards)")
        #expect(try Self.holders(id, cluster) == ["n2"])
        #expect(try cluster["n1"].command("SESSION.PEEK", id).errorMessage?.hasPrefix("MOVED n2 ") == true)
        #expect(try await app.get(id)?.attributes == before.attributes)
        // Writes keep following it.
        #expect(try await app.setAttribute(id, name: "cart", value: Array("{\"items\":4}".utf8)))
        #expect(try cluster["n2"].command("SESSION.PEEK", id).array?[7].array?[1].text == "{\"items\":4}")
        // A standalone node cannot migrate: a clear error.
        let single = try SessiondServer()
        let refused = try CLI.run(["migrate", "x", "--to", "n1", "--yes", "--store", single.urlString])
        #expect(refused.code == 2 && refused.stderr.contains("in-house cluster"), "\(refused)")
    }

    @Test func drainMovesEveryoneOffNoneLostNoneDuplicated() async throws {
        let cluster = try SessiondCluster()
        let app = try SessiondClient(url: cluster["n1"].urlString)
        for i in 0..<900 {
            try await app.create(
                id: "d-\(i)", timeoutSeconds: 900, principal: "u\(i % 13)", attributes: [("n", Array(String(i).utf8))])
        }
        let onN1 = try Self.count(cluster["n1"])
        #expect(onN1 > 200)
        let drain = try CLI.run(["migrate", "--from-node", "n1", "--yes", "--store", cluster["n2"].urlString])
        #expect(
            drain.code == 0 && drain.stdout.contains("drained n1: moved \(onN1) session(s)")
                && drain.stdout.contains("0 left on n1"), "\(drain)")
        #expect(try Self.count(cluster["n1"]) == 0)
        #expect(try Self.count(cluster["n2"]) + Self.count(cluster["n3"]) == 900)
        var seen = Set<String>()
        for n in ["n2", "n3"] {
            let rows = try cluster[n].command("SESSION.SCAN", "0", "COUNT", "10000").array?[1].array ?? []
            for r in rows {
                let fresh = seen.insert(r.array?.first?.text ?? "").inserted
                #expect(fresh, "listed once")
            }
        }
        #expect(seen == Set((0..<900).map { "d-\($0)" }))
        for i in stride(from: 0, to: 900, by: 29) {
            #expect(try await app.get("d-\(i)")?.attributes.first?.value == Array(String(i).utf8))
        }
        // Drain to a named node.
        let named = try CLI.run([
            "migrate", "--from-node", "n3", "--to", "n1", "--yes", "--store", cluster["n1"].urlString,
        ])
        #expect(named.code == 0, "\(named)")
        #expect(try Self.count(cluster["n3"]) == 0 && Self.count(cluster["n1"]) + Self.count(cluster["n2"]) == 900)
    }

    /// Kills the source or the target (a real `kill -9` at the step, via `--fault`) or cuts
    /// the link after the hand-over; after the node is back, the session is on exactly one
    /// node and found by an ordinary lookup, with its contents.
    @Test(arguments: [
        ("target-before-restore", "n2", false), ("target-after-restore", "n2", false),
        ("source-after-ack", "n1", false), ("source-after-delete", "n1", true), ("source-drop-commit", "n1", true),
    ])
    func migrationSurvivesAFailureAtEveryStep(step: String, victim: String, movedExpected: Bool) async throws {
        let cluster = try SessiondCluster(faults: [victim: step])
        let id = Self.id(homedOn: "n1", cluster)
        let other = Self.id(homedOn: "n1", cluster, prefix: "keep")
        let app = try SessiondClient(url: cluster["n3"].urlString)
        try await app.create(id: id, timeoutSeconds: 900, principal: "alice", attributes: [("k", Array("v".utf8))])
        try await app.create(id: other, timeoutSeconds: 900, principal: "bob")
        let reply = try? cluster["n1"].command("SESSION.MIGRATE", id, "n2")
        if step == "source-drop-commit" {
            #expect(reply?.errorMessage == nil, "the move itself succeeded: \(String(describing: reply))")
        } else {
            #expect(
                reply == nil || reply?.errorMessage != nil,
                "the caller hears of the failure: \(String(describing: reply))")
        }
        let node = cluster[victim]
        if step != "source-drop-commit" {
            #expect(
                node.isRunning == false || (usleep(500_000), node.isRunning).1 == false, "\(victim) died at \(step)")
            try node.restart(removing: "--fault")  // back as a healthy node
        }
        // The next access settles it: exactly one copy, contents intact, wherever it is.
        let s = try #require(try await app.get(id), "never lost (\(step))")
        #expect(s.principal == "alice" && s.attributes.first?.value == Array("v".utf8))
        let copies = try Self.holders(id, cluster)
        #expect(copies.count == 1, "exactly one copy after \(step): \(copies)")
        if movedExpected {
            #expect(copies == ["n2"], "\(step): the hand-over had happened")
        } else {
            #expect(copies == ["n1"], "\(step): the session stays at the source")
        }
        #expect(try await app.get(other) != nil, "bystanders untouched")
        // A later migration works (no stuck state).
        let again = try await SessiondStore(routing: app.routing).migrate(ids: [id], to: "n3")
        #expect(again.affected == [id], "\(again)")
        #expect(try Self.holders(id, cluster) == ["n3"])
    }

    /// A partition's leftover: n1 gave up on a move (no reply to its `CLUSTER.RESTORE` in
    /// time) and kept the session, but the RESTORE reached n2 later. A request sent to n2
    /// directly must not bring that copy to life beside n1's (it did: the session was
    /// served twice, each copy going its own way); n2 asks the members, finds n1 holding
    /// it, drops its copy, and redirects.
    @Test func anOrphanedRestoreIsNeverServedBesideTheLiveSession() async throws {
        let cluster = try SessiondCluster()
        let id = Self.id(homedOn: "n1", cluster)
        let app = try SessiondClient(url: cluster["n1"].urlString)
        try await app.create(id: id, timeoutSeconds: 900, principal: "alice", attributes: [("k", Array("v".utf8))])
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let late = try cluster["n2"].command(
            "CLUSTER.RESTORE", id, String(now), String(now), "900000", String(now + 900_000), "alice", "1", "k",
            "stale")
        #expect(late == .status("OK"))
        let direct = try RedisConnection(url: cluster["n2"].url)
        let first = try direct.send([RedisCommand("SESSION.PEEK", id)])[0]
        #expect(first.errorMessage?.hasPrefix("TRYAGAIN") == true, "not served while unsettled: \(first)")
        // Once settled, n2 sends the request where the session lives.
        var reply = first
        let deadline = Date().addingTimeInterval(10)
        while reply.errorMessage?.hasPrefix("TRYAGAIN") == true, Date() < deadline {
            usleep(50_000)
            reply = try direct.send([RedisCommand("SESSION.PEEK", id)])[0]
        }
        #expect(reply.errorMessage?.hasPrefix("MOVED n1") == true, "\(reply)")
        #expect(try Self.holders(id, cluster) == ["n1"], "one live copy")
        let s = try #require(try await app.get(id))
        #expect(s.attributes.first?.value == Array("v".utf8), "the live session, not the stale copy")
        // And the copy is gone for good: a later move to n2 works and leaves one copy.
        #expect(try cluster["n1"].command("SESSION.MIGRATE", id, "n2").errorMessage == nil)
        #expect(try Self.holders(id, cluster) == ["n2"])
    }

    /// The other side of the same rule: a request that reaches the target's pending copy
    /// while the source is still handing the session over (a client following a redirect
    /// that went stale) must not make the target drop it; the source's COMMIT settles it and
    /// the session is on the target, once. (The target dropped it, the COMMIT found nothing,
    /// and the session was lost: found by the 10-minute soak.)
    @Test func aRequestDuringAHandOverNeitherLosesNorDoublesTheSession() async throws {
        let cluster = try SessiondCluster(faults: ["n1": "source-slow-handover"])
        let id = Self.id(homedOn: "n1", cluster)
        let app = try SessiondClient(url: cluster["n1"].urlString)
        try await app.create(id: id, timeoutSeconds: 900, principal: "alice", attributes: [("k", Array("v".utf8))])
        let n1 = RedisClient(url: cluster["n1"].url, timeouts: .init(connectMs: 1000, commandMs: 10_000))
        let move = Task { try await n1.send(RedisCommand("SESSION.MIGRATE", id, "n2")) }
        // Wait for the pending copy on n2, then ask n2 for the session directly.
        let direct = try RedisConnection(url: cluster["n2"].url)
        // (Sleeps that yield: the move runs on the cooperative pool too.)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let info = RedisInfo.parse(try cluster["n2"].command("INFO").text ?? "")
            if info["cluster_pending_copies"] == "1" { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let early = try direct.send([RedisCommand("SESSION.PEEK", id)])[0]
        #expect(early.errorMessage?.hasPrefix("TRYAGAIN") == true, "not served before the hand-over: \(early)")
        try await Task.sleep(nanoseconds: 300_000_000)  // the members have answered: n1 is still moving it
        let still = RedisInfo.parse(try cluster["n2"].command("INFO").text ?? "")
        #expect(still["cluster_pending_copies"] == "1", "the copy of a move under way is kept")
        let reply = try await move.value
        #expect(reply.errorMessage == nil, "the move went through: \(reply)")
        #expect(try Self.holders(id, cluster) == ["n2"], "on the target, once")
        let s = try #require(try await app.get(id), "never lost")
        #expect(s.attributes.first?.value == Array("v".utf8))
    }

    @Test func logoutReachesEveryNodeAndEventsMerge() async throws {
        let cluster = try SessiondCluster()
        let app = try SessiondClient(url: cluster["n1"].urlString)
        let ids = cluster.ids.map { Self.id(homedOn: $0, cluster, prefix: "alice") }
        // Watch the cluster through one URL while alice logs in on every node and is logged out.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID().uuidString.prefix(6))")
            .path
        let watch = try ChildProcess(
            path: try CLI.binary("sessionctl"),
            arguments: ["watch", "--store", cluster["n2"].urlString, "-o", "jsonl", "--count", "3", "--for", "30s"],
            outputPath: out)
        defer {
            watch.stop(grace: 1)
            try? FileManager.default.removeItem(atPath: out)
        }
        usleep(1_500_000)
        for id in ids { try await app.create(id: id, timeoutSeconds: 600, principal: "alice") }
        try await app.create(id: "bob-1", timeoutSeconds: 600, principal: "bob")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes", "--store", cluster["n3"].urlString])
        #expect(logout.code == 0 && logout.stdout.contains("3 session(s) removed"), "\(logout)")
        for n in cluster.ids {
            #expect(try cluster[n].command("SESSION.SCAN", "0", "PRINCIPAL", "alice").array?[1].array?.isEmpty == true)
        }
        #expect(try await app.get("bob-1") != nil)
        #expect(watch.wait(seconds: 20), "watch saw its 3 events")
        let events = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let deleted = events.filter { $0["event"] as? String == "deleted" }
        #expect(
            Set(deleted.compactMap { $0["node"] as? String }) == Set(cluster.ids),
            "events of every node in one stream: \(events)")
        #expect(Set(deleted.compactMap { $0["id"] as? String }) == Set(ids))
    }

    @Test func aDownNodeIsReportedByTheOthersAndTheConsole() async throws {
        let cluster = try SessiondCluster()
        cluster["n3"].kill9()
        var text = ""
        for _ in 0..<40 {
            text = try cluster["n1"].command("CLUSTER.NODES").text ?? ""
            if text.contains("n3 ")
                && text.split(separator: "\n").contains(where: { $0.hasPrefix("n3 ") && $0.contains(" down ") })
            {
                break
            }
            usleep(100_000)
        }
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("n3 ") && $0.contains(" down ") }, "\(text)")
        let nodes = try CLI.run(["nodes", "--store", cluster["n1"].urlString])
        #expect(nodes.code == 1 && nodes.lines.contains { $0.hasPrefix("n3") && $0.contains("DOWN") }, "\(nodes)")
        #expect(nodes.stderr.contains("node n3 is down"))
        // The drain of a live node skips the dead one.
        let app = try SessiondClient(url: cluster["n1"].urlString)
        let id = Self.id(homedOn: "n1", cluster)
        try await app.create(id: id, timeoutSeconds: 600)
        // A move to the dead node fails, says why, and leaves the session where it was.
        let toDead = try CLI.run(["migrate", id, "--to", "n3", "--yes", "--store", cluster["n1"].urlString])
        #expect(toDead.code != 0 && toDead.stderr.contains("unreachable"), "\(toDead)")
        #expect(try Self.holders(id, cluster, among: ["n1", "n2"]) == ["n1"])
        #expect(try await app.get(id) != nil)
        let drain = try CLI.run(["migrate", "--from-node", "n1", "--yes", "--store", cluster["n1"].urlString])
        #expect(drain.code == 0, "\(drain)")
        #expect(try Self.holders(id, cluster, among: ["n1", "n2"]) == ["n2"], "the live successor took it")
    }

    @Test func theDemoRunsExpiresEvictsAndStopsOnSigint() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString.prefix(6))")
            .path
        let demo = try ChildProcess(
            path: try CLI.binary("sessionctl"), arguments: ["demo", "--no-tui", "--max-sessions", "30"], outputPath: out
        )
        defer {
            demo.stop(grace: 1)
            try? FileManager.default.removeItem(atPath: out)
        }
        var url: String? = nil
        for _ in 0..<100 where url == nil {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            url = text.split(separator: " ").first { $0.hasPrefix("sessiond://") }.map {
                String($0.prefix { !$0.isWhitespace })
            }
            usleep(100_000)
        }
        let store = try #require(url, "the demo printed its URLs")
        var expired = 0
        var evicted = 0
        var nodes = 0
        for _ in 0..<30 {
            let r = try CLI.run(["nodes", "-o", "json", "--store", store])
            let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
            nodes = rows.count
            expired = rows.compactMap { $0["expired_total"] as? Int }.reduce(0, +)
            evicted = rows.compactMap { $0["evicted_total"] as? Int }.reduce(0, +)
            if expired > 0 && evicted > 0 { break }
            usleep(500_000)
        }
        #expect(nodes == 3 && expired > 0 && evicted > 0, "expired \(expired), evicted \(evicted)")
        let ls = try CLI.run(["ls", "-o", "json", "--store", store])
        let rows = try JSONSerialization.jsonObject(with: Data(ls.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count > 10 && rows.allSatisfy { $0["user"] is String })
        demo.signal(SIGINT)
        #expect(demo.wait(seconds: 10), "stops on SIGINT")
        #expect(demo.exitCode == 0)
        #expect(((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("demo stopped"))
    }
}
