import MemcachedClient
import SessionFormats
import SessionKit

/// Fans the events the console itself causes out to every open event stream.
actor EventHub {
    private var sinks: [Int: AsyncThrowingStream<SessionEvent, Error>.Continuation] = [:]
    private var nextID = 0

    func add(_ c: AsyncThrowingStream<SessionEvent, Error>.Continuation) -> Int {
        nextID += 1
        sinks[nextID] = c
        return nextID
    }
    func remove(_ id: Int) { sinks[id] = nil }
    func publish(_ e: SessionEvent) { for c in sinks.values { c.yield(e) } }
}

/// Memcached's events, with what 1.6.18 can and cannot tell:
/// - evictions come from `watch evictions` on every node (a `skipped=N` line is a gap);
/// - expiries are never logged by memcached: they are reported when a known deadline passes
///   and a read confirms the session is gone (`prompted`);
/// - deletions are seen only when this console makes them (no `deletions` watcher before
///   1.6.20); an application's deletion shows at the next listing.
struct MemcachedEvents: SessionEventSource {
    let store: MemcachedStore

    var expiresLazily: Bool { true }

    /// What an operator must know about these events (the events view and `watch` say it).
    var notes: [String] { Self.limitations }

    static let limitations = [
        "memcached logs no expiries: they are shown when a known deadline passes and a read confirms the session is gone",
        "memcached 1.6.18 logs no deletions: only this console's are shown; an application's shows at the next listing",
    ]

    func events(kinds: Set<SessionEvent.Kind>, deadlines: DeadlineTracking) -> AsyncThrowingStream<
        SessionEvent, Error
    > {
        let (stream, continuation) = AsyncThrowingStream<SessionEvent, Error>.makeStream(
            bufferingPolicy: .bufferingNewest(100_000))
        let store = self.store
        let task = Task {
            let hubID = await store.hub.add(continuation)
            await withTaskGroup(of: Void.self) { group in
                if kinds.contains(.evicted) || kinds.contains(.gap) {
                    for node in store.nodes {
                        group.addTask {
                            await Self.watchEvictions(node, store: store, kinds: kinds, into: continuation)
                        }
                    }
                }
                if deadlines == .byStore, kinds.contains(.expired) {
                    group.addTask { await Self.trackDeadlines(store: store, into: continuation) }
                }
                await group.waitForAll()
            }
            await store.hub.remove(hubID)
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Follows one node's evictions; a lost connection is a gap, then the watch resumes.
    static func watchEvictions(
        _ node: MemcachedStore.Node, store: MemcachedStore, kinds: Set<SessionEvent.Kind>,
        into out: AsyncThrowingStream<SessionEvent, Error>.Continuation
    ) async {
        var delayMs: UInt64 = 200
        while !Task.isCancelled {
            do {
                let lines = MemcachedWatch.watch(
                    endpoint: node.endpoint, streams: ["evictions"],
                    timeouts: .init(connectMs: store.timeouts.connectMs, commandMs: 0))
                for try await line in lines {
                    delayMs = 200
                    switch line {
                    case .skipped(let n):
                        if kinds.contains(.gap) {
                            out.yield(
                                SessionEvent(
                                    kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
                                    detail: "memcached dropped \(n) log line(s): evictions may be missing"))
                        }
                    case .entry(let e) where e.type == "eviction" && kinds.contains(.evicted):
                        guard let keyBytes = e.key else { continue }
                        let key = KeyText.text(keyBytes)
                        let id: String
                        switch store.schema.classify(key) {
                        case .session(let i, _), .maybe(let i, _): id = i
                        case .other: continue
                        }
                        out.yield(
                            SessionEvent(
                                kind: .evicted, sessionID: id, key: key, node: node.name,
                                timeMs: e.timeUs.map { $0 / 1000 } ?? currentTimeMs()))
                    default:
                        continue
                    }
                }
                if Task.isCancelled { return }
                throw MemcachedError.connection(node: node.name, message: "the watch ended")
            } catch {
                if Task.isCancelled { return }
                if kinds.contains(.gap) {
                    out.yield(
                        SessionEvent(
                            kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
                            detail:
                                "eviction watch lost (\(MemcachedStore.message(error, node: node.name))): reconnecting"
                        ))
                }
                try? await Task.sleep(nanoseconds: delayMs * 1_000_000)
                delayMs = min(delayMs * 2, 5_000)
            }
        }
    }

    /// For a batch `watch`: learns the sessions' deadlines from a listing (again every
    /// minute, for new sessions), and at each deadline confirms the session is gone.
    static func trackDeadlines(store: MemcachedStore, into out: AsyncThrowingStream<SessionEvent, Error>.Continuation)
        async
    {
        let tracker = DeadlineTracker()
        var nextListing: Int64 = 0
        while !Task.isCancelled {
            let now = currentTimeMs()
            if now >= nextListing {
                _ = try? await store.list(ListQuery()) { page in
                    let t = currentTimeMs()
                    for s in page where s.ttlMs >= 0 { await tracker.track(s, deadline: t + s.ttlMs) }
                }
                nextListing = currentTimeMs() + 60_000
            }
            let due = await tracker.due(at: currentTimeMs())
            if !due.isEmpty {
                let (gone, alive, unknown) = await confirmGone(due.map(\.id), store: store, users: due)
                for e in gone { out.yield(e) }
                // Touched since (a sliding timeout): follow the new deadline.
                let t = currentTimeMs()
                for s in alive where s.ttlMs >= 0 { await tracker.track(s, deadline: t + s.ttlMs) }
                // The read failed (a node slow or away): ask again in a second.
                for s in unknown { await tracker.track(s, deadline: t + 1000) }
            }
            let next = min(await tracker.nextDeadline ?? Int64.max, nextListing)
            let wait = max(50, min(next - currentTimeMs(), 60_000))
            try? await Task.sleep(nanoseconds: UInt64(wait) * 1_000_000)
        }
    }

    /// Expired events for the sessions that are gone now (a read that changes nothing).
    static func confirmGone(_ ids: [String], store: MemcachedStore, users: [Session] = []) async -> (
        gone: [SessionEvent], alive: [Session], unknown: [Session]
    ) {
        var events: [SessionEvent] = []
        var alive: [Session] = []
        var unknown: [Session] = []
        for id in ids {
            let now: Session?
            do { now = try await store.get(id: id) } catch {
                if let known = users.first(where: { $0.id == id }) { unknown.append(known) }
                continue
            }
            if let now {
                alive.append(now)
                continue
            }
            let known = users.first { $0.id == id }
            events.append(
                SessionEvent(
                    kind: .expired, sessionID: id, key: known?.key, user: known?.user,
                    node: known?.node ?? store.nodes.first?.name ?? "", timeMs: currentTimeMs(), prompted: true,
                    detail: "confirmed gone at its deadline"))
        }
        return (events, alive, unknown)
    }

    func promptExpiry(ids: [String]) async {
        for e in await Self.confirmGone(ids, store: store).gone { await store.hub.publish(e) }
    }
}

/// The deadlines a batch `watch` knows.
actor DeadlineTracker {
    private var heap = DeadlineHeap<Session>()
    private var deadlines: [String: Int64] = [:]

    func track(_ s: Session, deadline: Int64) {
        guard deadlines[s.id] != deadline else { return }
        deadlines[s.id] = deadline
        heap.push(deadline, s)
    }

    var nextDeadline: Int64? { heap.first?.deadline }

    /// The sessions whose latest known deadline passed.
    func due(at now: Int64) -> [Session] {
        var out: [Session] = []
        while let first = heap.first, first.deadline <= now {
            heap.popFirst()
            if deadlines[first.element.id] == first.deadline {
                deadlines[first.element.id] = nil
                out.append(first.element)
            }
        }
        return out
    }
}
