import Foundation
import RedisClient
import SessionKit
import TestSupport
import Testing

@testable import RedisSessions

#if canImport(Glibc)
    import Glibc
#endif

/// A real Redis Cluster (3 masters, 1 replica each) on loopback.
@Suite(.serialized) struct RedisClusterTests {
    static func seed(_ cluster: RedisClusterHarness, sessions: Int, users: Int = 7) async throws -> ClusterRouter {
        let router = ClusterRouter(seed: cluster.servers[0].url, timeouts: .init(), fallbackPassword: nil)
        try await router.refresh()
        var commands: [RedisCommand] = []
        for i in 0..<sessions {
            commands += try Seeder.springCommands(.init(id: "s-\(i)", user: "u\(i % users)", nowMs: Seeder.nowMs()))
        }
        let replies = try await router.pipeline(commands)
        #expect(replies.allSatisfy { $0.errorMessage == nil }, "\(replies.first { $0.errorMessage != nil } ?? .null)")
        return router
    }

    @Test func slotsAndHashTags() {
        #expect(ClusterRouter.slot(of: Array("123456789".utf8)) == 12739, "CRC16/XMODEM check value")
        #expect(
            ClusterRouter.slot(of: Array("{user1000}.following".utf8))
                == ClusterRouter.slot(of: Array("{user1000}.followers".utf8)))
        #expect(ClusterRouter.slot(of: Array("foo{}{bar}".utf8)) == ClusterRouter.slot(of: Array("foo{}{bar}".utf8)))
        #expect(
            ClusterRouter.slot(of: Array("{}x".utf8)) == ClusterRouter.slot(of: Array("{}x".utf8))
                && ClusterRouter.slot(of: Array("{}x".utf8)) != ClusterRouter.slot(of: Array("x".utf8)))
    }

    @Test func doctorSaysWhenSlotsAreNotCovered() async throws {
        // No sessions: requests for keys in an unserved slot would wait out a failover.
        let cluster = try RedisClusterHarness(masters: 3, replicas: 0)
        let store = RedisSessionStore(urls: [cluster.servers[0].url])
        _ = await store.resolve()
        let diagnostics = try #require(await store.capabilities().diagnostics)
        #expect(!(await diagnostics.diagnose()).contains { $0.check == "cluster-slots" }, "every slot is served")
        // Slot 0 loses its master's assignment.
        for server in cluster.servers { _ = try? server.command("CLUSTER", "DELSLOTS", "0") }
        let findings = await diagnostics.diagnose()
        let slots = findings.filter { $0.check == "cluster-slots" }
        #expect(slots.count == 1 && slots[0].severity == .error && slots[0].count >= 1, "\(findings)")
    }

    @Test func ownersNodesLogoutAndEventsAcrossMasters() async throws {
        let cluster = try RedisClusterHarness()
        let router = try await Self.seed(cluster, sessions: 300)
        let store = RedisSessionStore(urls: [cluster.servers[3].url])  // any node, a replica even
        let (sessions, outcome) = try await collect(store)
        #expect(outcome.failedNodes.isEmpty && sessions.count == 300, "\(outcome)")
        for s in sessions {
            #expect(s.node == router.master(forKey: Array(s.key.utf8))?.address, "\(s.id) on \(s.node)")
        }
        #expect(Set(sessions.map(\.node)).count == 3, "spread over every master")
        #expect(sessions.allSatisfy { $0.user != nil && $0.ttlMs > 0 }, "the expires: keys in other slots were read")
        let nodes = await store.nodes()
        #expect(
            nodes.count == 6 && nodes.filter { $0[fact: "slots"] != nil }.count == 3
                && nodes.filter { $0.role.hasPrefix("replica") }.count == 3, "\(nodes)")
        #expect(nodes.compactMap(\.sessions).reduce(0, +) == 300)
        // Show reads across slots.
        let one = try #require(try await store.get(id: "s-5"))
        #expect(
            one.user == "u5" && one.node == router.master(forKey: Array("spring:session:sessions:s-5".utf8))?.address)
        // Events from every master.
        _ = try await store.enableNotifications()
        let events = store.events(kinds: [.deleted], deadlines: .byCaller)
        let collector = Task { () -> [SessionEvent] in
            var out: [SessionEvent] = []
            for try await e in events where e.kind == .deleted {
                out.append(e)
                if Set(out.map(\.node)).count == 3 { break }
            }
            return out
        }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        // Logout: Spring's keys of one session live in different slots (hash, expires:, index set).
        let r = try await store.logout(user: "u3")
        #expect(r.affected.count == 43 && r.failedNodes.isEmpty, "\(r)")
        let traces = try await router.pipeline(
            r.affected.flatMap { id in
                [
                    RedisCommand("EXISTS", "spring:session:sessions:\(id)"),
                    RedisCommand("EXISTS", "spring:session:sessions:expires:\(id)"),
                ]
            } + [
                RedisCommand(
                    "EXISTS",
                    "spring:session:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:u3"
                )
            ])
        #expect(traces.allSatisfy { $0 == .integer(0) }, "every trace gone")
        let seen = try await withThrowingTaskGroup(of: [SessionEvent].self) { g in
            g.addTask { try await collector.value }
            g.addTask {
                try await Task.sleep(nanoseconds: 15_000_000_000)
                return []
            }
            let first = try await g.next() ?? []
            g.cancelAll()
            return first
        }
        #expect(Set(seen.map(\.node)).count == 3, "deleted events from each master: \(Set(seen.map(\.node)))")
    }

    @Test func aFailoverDuringListingLosesNothing() async throws {
        let cluster = try RedisClusterHarness()
        let router = try await Self.seed(cluster, sessions: 1500)
        try await Task.sleep(nanoseconds: 1_000_000_000)  // let the replicas catch up
        let store = RedisSessionStore(urls: [cluster.servers[0].url], scanCount: 50)
        let victim = try #require(router.shards.last?.master)
        let pages = Collector()
        let listing = Task { () -> ListOutcome in
            try await store.list(ListQuery()) { page in
                await pages.add(page)
                try await Task.sleep(nanoseconds: 40_000_000)  // a slow consumer: the listing spans the failover
            }
        }
        try await Task.sleep(nanoseconds: 400_000_000)
        cluster.server(victim.address)?.kill()
        let outcome = try await listing.value
        let sessions = await pages.sessions
        #expect(outcome.failedNodes.isEmpty, "\(outcome.failedNodes)")
        var perNode: [String: Int] = [:]
        for s in sessions { perNode[s.node, default: 0] += 1 }
        #expect(
            sessions.count == 1500 && Set(sessions.map(\.id)).count == 1500,
            "all listed once: \(sessions.count) \(perNode) scanned \(outcome.scannedKeys) victim \(victim.address)")
        let after = await store.nodes()
        #expect(
            !after.contains {
                $0.name == victim.address && $0[fact: "slots"] != nil && $0[fact: "slots"]?.text != "none"
            }, "a replica took over the failed master's slots")
    }

    /// A session moves with its slots: the CLI says what else is in them, refuses without
    /// --move-slot, and moves them (SETSLOT/MIGRATE) when asked; nothing is lost.
    @Test func aSlotMoveWithSessionsInIt() async throws {
        let cluster = try RedisClusterHarness(replicas: 0)
        let router = try await Self.seed(cluster, sessions: 300)
        let key = "spring:session:sessions:s-5"
        let from = try #require(router.master(forKey: Array(key.utf8)))
        let to = try #require(router.shards.map(\.master).first { $0.address != from.address })
        let store = ["--store", cluster.seedURLString]
        let refused = try CLI.run(["migrate", "s-5", "--to", to.address, "--yes"] + store)
        #expect(
            refused.code == 2 && refused.stderr.contains("--move-slot")
                && refused.stdout.contains("slot \(ClusterRouter.slot(of: Array(key.utf8)))"), "\(refused)")
        let moved = try CLI.run(["migrate", "s-5", "--to", to.address, "--move-slot", "--yes"] + store)
        #expect(moved.code == 0 && moved.stdout.contains("moved 2 slot(s)"), "the hash and the expires: key: \(moved)")
        try await router.refresh()
        #expect(router.master(forKey: Array(key.utf8))?.address == to.address)
        #expect(router.master(forKey: Array("spring:session:sessions:expires:s-5".utf8))?.address == to.address)
        let ls = try CLI.run(["ls", "-o", "jsonl"] + store)
        #expect(ls.lines.count == 300, "nothing lost: \(ls.lines.count)")
        #expect(
            ls.lines.contains { $0.contains("\"id\":\"s-5\"") && $0.contains("\"node\":\"\(to.address)\"") },
            "ls shows the new owner")
        let nodes = try CLI.run(["nodes"] + store)
        #expect(nodes.code == 0 && nodes.stdout.contains("SLOTS"), "\(nodes)")
    }

    @Test func drainingAMasterMovesItsSlotsAndKeepsEverySession() async throws {
        let cluster = try RedisClusterHarness(replicas: 0)
        let router = try await Self.seed(cluster, sessions: 200)
        let victim = try #require(router.shards.first?.master)
        let store = ["--store", cluster.seedURLString]
        let drain = try CLI.run(["migrate", "--from-node", victim.address, "--yes"] + store, timeout: 300)
        let after = try CLI.run(["nodes"] + store)
        #expect(drain.code == 0 && drain.stdout.contains("0 left on \(victim.address)"), "\(drain) \(after)")
        try await router.refresh()
        #expect(
            !router.shards.contains { $0.master.address == victim.address && $0.slotCount > 0 },
            "no slot left on the drained master")
        #expect(
            after.stdout.contains("replica of")
                || after.lines.contains { $0.hasPrefix(victim.address) && $0.hasSuffix("none") }, "\(after)")
        let ls = try CLI.run(["ls", "-o", "jsonl"] + store)
        #expect(
            ls.lines.count == 200 && !ls.stdout.contains(victim.address),
            "every session kept, none on the drained master")
    }

    /// After a failover the watcher subscribes to the promoted replica: events of the failed
    /// master's slots keep coming, from the new master.
    @Test func eventsFollowAFailover() async throws {
        let cluster = try RedisClusterHarness()
        let router = try await Self.seed(cluster, sessions: 60)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let store = RedisSessionStore(urls: [cluster.servers[0].url])
        _ = try await store.enableNotifications()  // masters and replicas
        let victim = try #require(router.shards.last?.master)
        let events = store.events(kinds: [.deleted], deadlines: .byCaller)
        let seen = Collector()
        let reader = Task {
            for try await e in events where e.kind == .deleted {
                await seen.add([Session(id: e.sessionID ?? "", key: e.key ?? "", node: e.node, ttlMs: 0, schema: "")])
            }
        }
        defer { reader.cancel() }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        cluster.server(victim.address)?.kill()
        // Wait for the promotion, then delete a session that lived on the failed master.
        var newMaster: String? = nil
        for _ in 0..<100 where newMaster == nil {
            try await Task.sleep(nanoseconds: 200_000_000)
            _ = try? await router.refresh()
            let m = router.shards.first { s in
                s.slots.contains { $0.contains(router.shards.last?.slots.first?.lowerBound ?? -1) }
            }?.master
            if let m, m.address != victim.address, m.health == "online" { newMaster = m.address }
        }
        let promoted = try #require(newMaster, "a replica was promoted")
        let id = try #require(
            (0..<60).map { "s-\($0)" }.first {
                router.master(forKey: Array("spring:session:sessions:\($0)".utf8))?.address == promoted
            })
        var got = false
        for _ in 0..<40 where !got {
            _ = try? await router.pipeline([RedisCommand("DEL", "spring:session:sessions:expires:\(id)")])
            try await Task.sleep(nanoseconds: 500_000_000)
            got = await seen.sessions.contains { $0.node == promoted && $0.id == id }
            if !got {
                _ = try? await router.pipeline(
                    try Seeder.springCommands(.init(id: id, user: "u", nowMs: Seeder.nowMs())))
            }
        }
        #expect(got, "a deleted event from the promoted master \(promoted)")
    }
}
