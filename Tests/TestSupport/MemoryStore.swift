import Foundation
import SessionKit

/// A session store in memory, for unit tests of the logic above the stores (operations,
/// migration, the TUI's data flow) and as the reference member of the contract suite.
/// It keeps the core's promises like a real store: `get` never touches, expiry is on time
/// (checked on every access), several nodes, a principal index, events with the user,
/// migration between its nodes, and a writer.
public final class MemoryStore: SessionStore, SessionEventSource, SessionMigrator, SessionWriter, @unchecked Sendable {
    struct Stored {
        var session: Session
        /// Absolute deadline in ms (nil: never expires).
        var deadline: Int64?
    }

    public let displayName: String
    public let nodeNames: [String]
    private let lock = NSLock()
    private var sessions: [String: Stored] = [:]
    private var subscribers: [UUID: (Set<SessionEvent.Kind>, AsyncThrowingStream<SessionEvent, Error>.Continuation)] =
        [:]
    /// Page size of listings (small by default so paging is exercised).
    public var pageSize = 3
    /// Nodes that fail every request (a node down).
    public var downNodes: Set<String> = []
    /// Ids whose write is refused (a target that fails midway).
    public var refuseWrites: Set<String> = []

    public init(name: String = "memory://test", nodes: [String] = ["m1"]) {
        displayName = name
        nodeNames = nodes
    }

    // MARK: test setup

    /// The node a new session lands on (stable across runs).
    public func home(of id: String) -> String {
        nodeNames[Int(HashRing.fnv1a(Array(id.utf8)) % UInt64(nodeNames.count))]
    }

    /// Puts a session on its node (`ttlMs < 0`: never expires).
    public func put(
        id: String, user: String? = nil, node: String? = nil, ttlMs: Int64 = 60_000,
        attributes: [(String, String)] = [], schema: String = "memory"
    ) {
        let now = currentTimeMs()
        let attrs = attributes.map {
            Attribute(name: $0.0, raw: Array($0.1.utf8), decoded: .string($0.1), format: "text")
        }
        let s = Session(
            id: id, key: "session:" + id, user: user, node: node ?? home(of: id), ttlMs: ttlMs,
            createdAtMs: now, lastAccessedAtMs: now, maxInactiveSeconds: ttlMs < 0 ? -1 : ttlMs / 1000,
            sizeBytes: Int64(attrs.reduce(0) { $0 + $1.raw.count }), schema: schema, attributes: attrs)
        lock.withLock { sessions[id] = Stored(session: s, deadline: ttlMs < 0 ? nil : now + ttlMs) }
        publish(SessionEvent(kind: .created, sessionID: id, key: s.key, user: user, node: s.node, timeMs: now))
    }

    /// What an application request does: reads and extends the session (a touch).
    public func touch(id: String) {
        let now = currentTimeMs()
        lock.withLock {
            guard var st = sessions[id], let mi = st.session.maxInactiveSeconds, mi >= 0 else { return }
            st.session.lastAccessedAtMs = now
            st.deadline = now + mi * 1000
            sessions[id] = st
        }
    }

    public var count: Int {
        expireDue()
        return lock.withLock { sessions.count }
    }

    // MARK: core

    /// Removes what is past its deadline and publishes `expired` for each.
    private func expireDue() {
        let now = currentTimeMs()
        let gone: [Stored] = lock.withLock {
            let due = sessions.values.filter { ($0.deadline ?? .max) <= now }
            for d in due { sessions[d.session.id] = nil }
            return due
        }
        for d in gone {
            publish(
                SessionEvent(
                    kind: .expired, sessionID: d.session.id, key: d.session.key, user: d.session.user,
                    node: d.session.node, timeMs: now))
        }
    }

    private func view(_ st: Stored, now: Int64, withAttributes: Bool) -> Session {
        var s = st.session
        s.ttlMs = st.deadline.map { max(0, $0 - now) } ?? -1
        if !withAttributes { s.attributes = [] }
        return s
    }

    public func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome
    {
        expireDue()
        let now = currentTimeMs()
        var outcome = ListOutcome()
        let progress = ListProgress(limit: query.limit)
        for node in nodeNames {
            if downNodes.contains(node) {
                outcome.failedNodes.append(NodeFailure(node: node, message: "connection refused"))
                continue
            }
            let rows: [Session] = lock.withLock {
                sessions.values.filter { $0.session.node == node }.sorted { $0.session.id < $1.session.id }
                    .map { view($0, now: now, withAttributes: true) }
            }
            outcome.scannedKeys += rows.count
            var start = 0
            while start < rows.count {
                let page = rows[start..<min(rows.count, start + pageSize)].filter {
                    query.filter.matches($0, nowMs: now)
                }
                .map { s -> Session in
                    var s = s
                    if !query.withAttributes { s.attributes = [] }
                    return s
                }
                start += pageSize
                let (taken, done) = await progress.accept(page)
                if !taken.isEmpty {
                    do { try await onPage(taken) } catch {
                        outcome.failedNodes.append(NodeFailure(node: node, message: "\(error)"))
                        outcome.matched = await progress.matched
                        return outcome
                    }
                }
                if done {
                    outcome.matched = await progress.matched
                    return outcome
                }
            }
        }
        outcome.matched = await progress.matched
        return outcome
    }

    public func get(id: String) async throws -> Session? {
        expireDue()
        let now = currentTimeMs()
        return lock.withLock { sessions[id].map { view($0, now: now, withAttributes: true) } }
    }

    public func locate(ids: [String]) async -> SessionPlan { await SessionPlan.byReading(ids, from: self) }

    private func ids(of target: SessionTarget) -> [String] {
        switch target {
        case .ids(let ids): return ids
        case .sessions(let rows): return rows.map(\.id)
        case .user(let user):
            return lock.withLock { sessions.values.filter { $0.session.user == user }.map(\.session.id).sorted() }
        }
    }

    public func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult {
        guard let milliseconds else { return try await remove(target, kind: .expired) }
        expireDue()
        let now = currentTimeMs()
        var result = MutationResult()
        for id in ids(of: target) {
            let hit: Bool = lock.withLock {
                guard sessions[id] != nil else { return false }
                sessions[id]?.deadline = now + milliseconds
                return true
            }
            if hit {
                result.affected.append(id)
                result.keysTouched += 1
            } else {
                result.notFound.append(id)
            }
        }
        return result
    }

    public func delete(_ target: SessionTarget) async throws -> MutationResult {
        try await remove(target, kind: .deleted)
    }

    private func remove(_ target: SessionTarget, kind: SessionEvent.Kind) async throws -> MutationResult {
        expireDue()
        var result = MutationResult()
        let now = currentTimeMs()
        for id in ids(of: target) {
            let gone: Stored? = lock.withLock { sessions.removeValue(forKey: id) }
            if let gone {
                result.affected.append(id)
                result.keysTouched += 1
                publish(
                    SessionEvent(
                        kind: kind, sessionID: id, key: gone.session.key, user: gone.session.user,
                        node: gone.session.node, timeMs: now))
            } else {
                result.notFound.append(id)
            }
        }
        return result
    }

    public func nodes(_ detail: NodeDetail) async -> [NodeInfo] {
        expireDue()
        return nodeNames.map { name in
            var info = NodeInfo(name: name, address: "memory://" + name, up: !downNodes.contains(name))
            if info.up {
                info.sessions = lock.withLock { sessions.values.filter { $0.session.node == name }.count }
                info.set(NodeFact(key: "engine", title: "ENGINE", value: .string("memory")))
            } else {
                info.error = "connection refused"
            }
            return info
        }
    }

    public func capabilities() async -> StoreCapabilities {
        StoreCapabilities(events: self, migration: nodeNames.count > 1 ? self : nil, writer: self)
    }

    // MARK: events

    public var expiresLazily: Bool { false }
    public func promptExpiry(ids: [String]) async { expireDue() }

    public func events(kinds: Set<SessionEvent.Kind>, deadlines: DeadlineTracking) -> AsyncThrowingStream<
        SessionEvent, Error
    > {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: SessionEvent.self)
        let key = UUID()
        lock.withLock { subscribers[key] = (kinds, continuation) }
        continuation.onTermination = { [weak self] _ in
            self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: key) }
        }
        // A clock for on-time expiry while someone listens.
        Task { [weak self] in
            while !Task.isCancelled, let self, self.lock.withLock({ self.subscribers[key] != nil }) {
                self.expireDue()
                try? await Task.sleep(nanoseconds: 20_000_000)
            }
        }
        return stream
    }

    private func publish(_ e: SessionEvent) {
        let targets = lock.withLock { subscribers.values.filter { $0.0.isEmpty || $0.0.contains(e.kind) }.map(\.1) }
        for c in targets { c.yield(e) }
    }

    /// Tells every subscriber that events were lost (what a reconnect does).
    public func simulateGap(_ detail: String) {
        publish(
            SessionEvent(
                kind: .gap, sessionID: nil, key: nil, node: nodeNames[0], timeMs: currentTimeMs(), detail: detail))
    }

    // MARK: migration

    public func migrationTargets() async -> [String] { nodeNames.count > 1 ? nodeNames : [] }

    public func migrate(ids: [String], to node: String, options: MigrationOptions) async throws -> MutationResult {
        guard nodeNames.contains(node) else { throw UnsupportedOperation("unknown node '\(node)'") }
        var result = MutationResult()
        let now = currentTimeMs()
        for id in ids {
            let moved: Session? = lock.withLock {
                guard var st = sessions[id] else { return nil }
                st.session.node = node
                sessions[id] = st
                return st.session
            }
            if let moved {
                result.affected.append(id)
                publish(
                    SessionEvent(
                        kind: .migrated, sessionID: id, key: moved.key, user: moved.user, node: node, timeMs: now,
                        target: node))
            } else {
                result.notFound.append(id)
            }
        }
        return result
    }

    public func drain(
        node: String, to target: String?, progress: @escaping @Sendable (Int, Int) async -> Void
    ) async throws -> MutationResult {
        let ids = lock.withLock { sessions.values.filter { $0.session.node == node }.map(\.session.id).sorted() }
        guard let destination = target ?? nodeNames.first(where: { $0 != node }) else { return MutationResult() }
        let r = try await migrate(ids: ids, to: destination, options: MigrationOptions())
        await progress(r.affected.count, ids.count)
        return r
    }

    // MARK: writer

    public func write(_ rows: [Session]) async -> (written: [String], failures: [NodeFailure]) {
        let now = currentTimeMs()
        var written: [String] = []
        var failures: [NodeFailure] = []
        for s in rows {
            if refuseWrites.contains(s.id) {
                failures.append(NodeFailure(node: nodeNames[0], message: "refused \(s.id)"))
                continue
            }
            var copy = s
            copy.node = home(of: s.id)
            lock.withLock { sessions[s.id] = Stored(session: copy, deadline: s.ttlMs < 0 ? nil : now + s.ttlMs) }
            written.append(s.id)
        }
        return (written, failures)
    }
}
