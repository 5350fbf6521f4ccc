import Foundation
import MemcachedClient
import MemcachedSessions
import RedisClient
import RedisSessions
import SessionKit
import SessiondSessions
import TestSupport
import Testing

/// One store under test with the servers it runs on (kept alive while the test runs).
final class StoreUnderTest: @unchecked Sendable {
    let store: any SessionStore
    /// How many nodes `nodes(.full)` lists as holding sessions (masters).
    let nodeCount: Int
    /// Makes the store's event subscription lose its connection (the store must say so).
    let breakEvents: @Sendable () throws -> Void
    /// Stops (SIGSTOP) and resumes the node a listing reaches first, on stores of several
    /// independent nodes.
    var stopFirstNode: (pause: @Sendable () -> Void, resume: @Sendable () -> Void)?
    /// A store on the second node alone, where the store's writer puts every session on
    /// its first node (Redis nodes that are not a cluster).
    var secondNode: (any SessionStore)?
    private let keep: [AnyObject]

    init(
        _ store: any SessionStore, nodeCount: Int, keep: [AnyObject], breakEvents: @escaping @Sendable () throws -> Void
    ) {
        self.store = store
        self.nodeCount = nodeCount
        self.keep = keep
        self.breakEvents = breakEvents
    }
}

/// The stores every contract test runs over. A new store joins by adding a case here.
enum StoreKindUnderTest: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, redis, redisNodes, redisCluster, sessiond, sessiondCluster, memcached, memcachedNodes
    var testDescription: String { rawValue }

    /// Whether the store keeps decoded values rather than each attribute's bytes (memcached
    /// takes sessions as JSON: the value round-trips, its bytes are JSON's).
    var writesDecodedValues: Bool { self == .memcached || self == .memcachedNodes }

    /// Kills the pub/sub connections of a Redis server (the subscriber reconnects).
    static func killSubscribers(_ server: RedisServer) throws {
        _ = try server.command("CLIENT", "KILL", "TYPE", "pubsub")
    }

    func start() throws -> StoreUnderTest {
        switch self {
        case .memory:
            let m = MemoryStore(nodes: ["m1", "m2"])
            return StoreUnderTest(m, nodeCount: 2, keep: [m]) { m.simulateGap("subscriber reconnected") }
        case .redis:
            let r = try RedisServer()
            return StoreUnderTest(RedisSessionStore(urls: [r.url]), nodeCount: 1, keep: [r]) {
                try Self.killSubscribers(r)
            }
        case .redisNodes:
            let a = try RedisServer()
            let b = try RedisServer()
            let under = StoreUnderTest(RedisSessionStore(urls: [a.url, b.url]), nodeCount: 2, keep: [a, b]) {
                try Self.killSubscribers(a)
                try Self.killSubscribers(b)
            }
            under.stopFirstNode = ({ a.pause() }, { a.resume() })
            under.secondNode = RedisSessionStore(urls: [b.url])
            return under
        case .redisCluster:
            let c = try RedisClusterHarness(masters: 3, replicas: 0)
            return StoreUnderTest(RedisSessionStore(urls: [c.servers[0].url]), nodeCount: 3, keep: [c]) {
                for s in c.servers { try Self.killSubscribers(s) }
            }
        case .sessiond:
            let s = try SessiondServer()
            let url = try SessiondStore.url(s.urlString)
            return StoreUnderTest(SessiondStore(urls: [url]), nodeCount: 1, keep: [s]) {
                s.kill9()
                try s.restart()
            }
        case .sessiondCluster:
            let c = try SessiondCluster(count: 3)
            let url = try SessiondStore.url(c["n1"].urlString)
            let under = StoreUnderTest(SessiondStore(urls: [url]), nodeCount: 3, keep: [c]) {
                c["n2"].kill9()
                try c["n2"].restart()
            }
            under.stopFirstNode = ({ c["n1"].pause() }, { c["n1"].resume() })
            return under
        case .memcached:
            let m = try MemcachedServer()
            let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
            // A restarted node loses the watch connection (and its items).
            return StoreUnderTest(store, nodeCount: 1, keep: [m]) { try m.restart() }
        case .memcachedNodes:
            let a = try MemcachedServer()
            let b = try MemcachedServer()
            let store = MemcachedStore(
                endpoints: try MemcachedEndpoint.parse("memcached://\(a.address),\(b.address)"))
            let under = StoreUnderTest(store, nodeCount: 2, keep: [a, b]) { try b.restart() }
            under.stopFirstNode = ({ a.pause() }, { a.resume() })
            return under
        }
    }
}

/// Sessions as an application would have them, for the writer to store.
func sampleSessions(_ n: Int, users: Int = 4, ttlMs: Int64 = 600_000) -> [Session] {
    let now = currentTimeMs()
    return (0..<n).map { i in
        let id = String(format: "c0ffee%02d-%04d-4a4a-9b9b-%012d", i % 100, i, i)
        let attrs = [
            Attribute(name: "cart", raw: Array("item-\(i)".utf8), decoded: .string("item-\(i)"), format: "text")
        ]
        return Session(
            id: id, key: "", user: i % 5 == 4 ? nil : "user\(i % users)", node: "", ttlMs: ttlMs,
            createdAtMs: now - 60_000,
            lastAccessedAtMs: now - 1_000, maxInactiveSeconds: ttlMs / 1000, schema: "", attributes: attrs)
    }
}

/// Collects a whole listing.
func listAll(_ store: any SessionStore, _ query: ListQuery = ListQuery()) async throws -> (
    sessions: [Session], outcome: ListOutcome
) {
    let collector = Collector()
    let outcome = try await store.list(query) { await collector.add($0) }
    return (await collector.sessions, outcome)
}

/// The store contract: what the console relies on, checked over every store with its real
/// server. Serialized: each case starts its own servers (a Redis Cluster is three).
@Suite(.serialized) struct ContractTests {
    static let stores = StoreKindUnderTest.allCases

    func written(_ kind: StoreKindUnderTest, _ sessions: [Session]) async throws -> StoreUnderTest {
        let under = try kind.start()
        let writer = try #require(await under.store.capabilities().writer, "every store in the suite can take sessions")
        let (ids, failures) = await writer.write(sessions)
        #expect(failures.isEmpty && Set(ids) == Set(sessions.map(\.id)), "\(failures)")
        return under
    }

    @Test(arguments: stores) func theWriterRoundTripsAndGetNeverTouches(_ kind: StoreKindUnderTest) async throws {
        let sessions = sampleSessions(6)
        let under = try await written(kind, sessions)
        let store = under.store
        let first = try #require(try await store.get(id: sessions[1].id))
        #expect(first.id == sessions[1].id && first.user == "user1")
        #expect(
            first.attributes.contains {
                $0.name == "cart"
                    && (kind.writesDecodedValues ? $0.decoded == .string("item-1") : $0.raw == Array("item-1".utf8))
            }, "\(first.attributes)")
        #expect(first.ttlMs > 0 && first.ttlMs <= 600_000)
        try await Task.sleep(nanoseconds: 1_100_000_000)
        let again = try #require(try await store.get(id: sessions[1].id))
        // A touch would have pushed the deadline back out to the full timeout.
        #expect(again.ttlMs <= first.ttlMs - 900, "get must not touch: \(first.ttlMs) then \(again.ttlMs)")
        #expect(again.lastAccessedAtMs == first.lastAccessedAtMs)
        #expect(try await store.get(id: "no-such-session") == nil)
    }

    @Test(arguments: stores) func listingPagesEverySessionOnceWithLimitsAndFilters(_ kind: StoreKindUnderTest)
        async throws
    {
        let sessions = sampleSessions(25)
        let under = try await written(kind, sessions)
        let (all, outcome) = try await listAll(under.store)
        #expect(all.count == 25 && Set(all.map(\.id)) == Set(sessions.map(\.id)) && outcome.failedNodes.isEmpty)
        #expect(all.allSatisfy { $0.attributes.isEmpty || $0.attributes.count == 1 })
        let (limited, _) = try await listAll(under.store, ListQuery(limit: 7))
        #expect(limited.count == 7)
        var byUser = Filter()
        byUser.add(.user, .eq, "user2")
        let (mine, _) = try await listAll(under.store, ListQuery(filter: byUser))
        let expected = sessions.filter { $0.user == "user2" }.map(\.id)
        #expect(Set(mine.map(\.id)) == Set(expected) && !expected.isEmpty)
        let (short, _) = try await listAll(under.store, ListQuery(filter: try Filter("ttl<1m")))
        #expect(short.isEmpty, "every session has ten minutes left")
    }

    /// Nodes are listed at once: with the first node stopped, the others' pages still
    /// arrive (the test resumes the stopped node from the first of them). Listed one node
    /// after another, the stopped node would hold the rest back until it timed out.
    @Test(arguments: stores) func aStoppedNodeHoldsNoOtherBack(_ kind: StoreKindUnderTest) async throws {
        var sessions = sampleSessions(40)
        let under = try await written(kind, Array(sessions.prefix(20)))
        guard let stop = under.stopFirstNode else { return }  // one node, or nodes that are not independent
        let rest = Array(sessions.suffix(20))
        let writer = try #require(await (under.secondNode ?? under.store).capabilities().writer)
        let (ids, _) = await writer.write(rest)
        sessions = Array(sessions.prefix(20)) + rest.filter { ids.contains($0.id) }
        #expect(sessions.count == 40)
        _ = await under.store.nodes(.cheap)  // topology known before the stop
        let first = try #require(under.store.nodeNames.first)
        stop.pause()
        let resumed = Flag()
        let collector = Collector()
        let outcome = try await under.store.list(ListQuery()) { page in
            await collector.add(page)
            if page.contains(where: { $0.node != first }), await resumed.setOnce() { stop.resume() }
        }
        if !(await resumed.value) { stop.resume() }
        #expect(await resumed.value, "another node's rows arrived while the first node was stopped")
        #expect(outcome.failedNodes.isEmpty, "\(outcome.failedNodes)")
        #expect(Set(await collector.sessions.map(\.id)) == Set(sessions.map(\.id)))
    }

    @Test(arguments: stores) func expireNowAndLaterLocateAndDelete(_ kind: StoreKindUnderTest) async throws {
        let sessions = sampleSessions(6)
        let under = try await written(kind, sessions)
        let store = under.store
        let ids = sessions.map(\.id)
        let plan = await store.locate(ids: [ids[0], ids[1], "missing-id"])
        #expect(plan.sessions.map(\.id).sorted() == [ids[0], ids[1]].sorted() && plan.notFound == ["missing-id"])

        let now = try await store.expire(.sessions(plan.sessions.filter { $0.id == ids[0] }), after: nil)
        #expect(now.affected == [ids[0]] && now.failedNodes.isEmpty)
        // Gone for the application: absent, or (where the framework keeps the data for its
        // clean-up, as Spring does for five minutes) shown with no time left.
        let expired = try await store.get(id: ids[0])
        #expect(expired == nil || expired?.ttlMs == 0, "\(String(describing: expired))")

        let later = try await store.expire(.ids([ids[2]]), after: 30_000)
        let ttl = try #require(try await store.get(id: ids[2])).ttlMs
        #expect(later.affected == [ids[2]] && ttl <= 30_000 && ttl > 20_000, "ttl \(ttl)")

        let missing = try await store.expire(.ids(["missing-id"]), after: nil)
        #expect(missing.affected.isEmpty && missing.notFound == ["missing-id"])

        let deleted = try await store.delete(.ids([ids[3], "missing-id"]))
        #expect(deleted.affected == [ids[3]] && deleted.notFound == ["missing-id"])
        let (left, _) = try await listAll(store)
        #expect(Set(left.map(\.id)) == Set([ids[1], ids[2], ids[4], ids[5]]))
    }

    @Test(arguments: stores) func logoutRemovesEverySessionOfTheUserAndNothingElse(_ kind: StoreKindUnderTest)
        async throws
    {
        let sessions = sampleSessions(20)
        let under = try await written(kind, sessions)
        let theirs = Set(sessions.filter { $0.user == "user3" }.map(\.id))
        let r = try await under.store.delete(.user("user3"))
        #expect(Set(r.affected) == theirs && !theirs.isEmpty && r.failedNodes.isEmpty)
        let (left, _) = try await listAll(under.store)
        #expect(left.count == 20 - theirs.count && left.allSatisfy { $0.user != "user3" })
        var f = Filter()
        f.add(.user, .eq, "user3")
        let (none, _) = try await listAll(under.store, ListQuery(filter: f, includeExpired: true))
        #expect(none.isEmpty, "no trace of the user is left")
    }

    @Test(arguments: stores) func nodeFactsCoverEveryNode(_ kind: StoreKindUnderTest) async throws {
        let under = try await written(kind, sampleSessions(12))
        let nodes = await under.store.nodes(.full)
        let holding = nodes.filter { !$0.role.hasPrefix("replica") }
        #expect(holding.count == under.nodeCount && nodes.allSatisfy(\.up), "\(nodes)")
        #expect(holding.reduce(0) { $0 + ($1.sessions ?? 0) } == 12, "\(holding.map(\.sessions))")
        #expect(nodes.allSatisfy { !$0.name.isEmpty && !$0.address.isEmpty })
        let cheap = await under.store.nodes(.cheap)
        #expect(cheap.count == nodes.count)
    }

    @Test(arguments: stores) func eventsReportDeletionsAndSayWhenTheyMayHaveBeenLost(_ kind: StoreKindUnderTest)
        async throws
    {
        let sessions = sampleSessions(4)
        let under = try await written(kind, sessions)
        let caps = await under.store.capabilities()
        let source = try #require(caps.events)
        if let settings = caps.eventSettings {
            // A fresh server may publish nothing until its setting is on (Redis).
            _ = try await settings.enableEventSettings()
            for case .success(let status) in await settings.eventSettingStatus() { #expect(status.isSufficient) }
        }
        let seen = EventLog()
        let task = Task {
            for try await e in source.events(kinds: [.deleted, .gap], deadlines: .byCaller) { await seen.add(e) }
        }
        defer { task.cancel() }
        // Subscriptions start asynchronously: delete until an event shows (at most 15 s).
        var deletedIndex = 0
        let deadline = Date().addingTimeInterval(15)
        while await !seen.contains(.deleted), Date() < deadline, deletedIndex < sessions.count - 1 {
            _ = try await under.store.delete(.ids([sessions[deletedIndex].id]))
            deletedIndex += 1
            try await Task.sleep(nanoseconds: 500_000_000)
        }
        let deletedIDs = Set(sessions.prefix(deletedIndex).map(\.id))
        let first = await seen.first(.deleted)
        #expect(first.map { deletedIDs.contains($0.sessionID ?? "") } == true, "a deleted event for a deleted session")
        try under.breakEvents()
        let gapDeadline = Date().addingTimeInterval(15)
        while await !seen.contains(.gap), Date() < gapDeadline { try await Task.sleep(nanoseconds: 100_000_000) }
        #expect(await seen.contains(.gap), "a lost subscription is reported as a gap, never silence")
    }
}

actor EventLog {
    private var events: [SessionEvent] = []
    func add(_ e: SessionEvent) { events.append(e) }
    func contains(_ kind: SessionEvent.Kind) -> Bool { events.contains { $0.kind == kind } }
    func first(_ kind: SessionEvent.Kind) -> SessionEvent? { events.first { $0.kind == kind } }
}

/// Set once, from any task.
actor Flag {
    private(set) var value = false
    /// True for the caller that set it.
    func setOnce() -> Bool {
        defer { value = true }
        return !value
    }
}
