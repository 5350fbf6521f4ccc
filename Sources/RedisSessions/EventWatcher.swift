import RedisClient
import SessionFormats
import SessionKit

extension RedisSessionStore: EventSettings {
    public var settingName: String { "keyspace notifications" }
    public var parameter: String { "notify-keyspace-events" }
    public var changeDescription: String { "Adds the flags E g x e to notify-keyspace-events on" }

    public func eventSettingStatus() async -> [Result<EventSettingStatus, NodeFailure>] { await notificationStatus() }
    public func enableEventSettings() async throws -> [SettingChange] { try await enableNotifications() }

    /// The event classes `watch` needs: keyevent channel (E), generic commands for `del`
    /// and `expire` (g), expired (x) and evicted (e).
    static let neededFlags: [Character] = ["E", "g", "x", "e"]

    public func notificationStatus() async -> [Result<EventSettingStatus, NodeFailure>] {
        var out: [Result<EventSettingStatus, NodeFailure>] = []
        for node in await notificationNodes() {
            do {
                let r = try await node.client.send(RedisCommand("CONFIG", "GET", "notify-keyspace-events")).orThrow()
                let flags = r.array?.last?.text ?? ""
                out.append(
                    .success(EventSettingStatus(node: node.name, current: flags, missing: Self.missingFlags(flags))))
            } catch {
                out.append(.failure(NodeFailure(node: node.name, message: error.description)))
            }
        }
        return out
    }

    /// The nodes whose notification settings matter: every node, and in a cluster the
    /// replicas too (a promoted replica must publish the same events).
    func notificationNodes() async -> [Node] {
        let masters = await resolve()
        guard let router else { return masters }
        return masters
            + router.shards.flatMap { s in
                s.replicas.map { node($0, router) }
            }
    }

    static func missingFlags(_ flags: String) -> String {
        // `A` is the alias for all classes `g$lshzxet` (evicted `e` included).
        let have = Set(flags)
        return String(
            neededFlags.filter { f in
                if have.contains(f) { return false }
                if f != "E" && f != "K" && have.contains("A") { return false }
                return true
            })
    }

    /// Adds the missing flags (keeping the existing ones) and returns `(node, before, after)`.
    public func enableNotifications() async throws -> [SettingChange] {
        var changes: [SettingChange] = []
        for case .success(let status) in await notificationStatus() where !status.isSufficient {
            guard let node = await notificationNodes().first(where: { $0.name == status.node }) else { continue }
            let after = status.current + status.missing
            _ = try await node.client.send(RedisCommand("CONFIG", "SET", "notify-keyspace-events", after)).orThrow()
            changes.append(SettingChange(node: status.node, before: status.current, after: after))
        }
        return changes
    }
}

/// Streams session events from every node: Redis keyspace events for session keys, plus
/// expiry prompting: the watcher knows the deadlines of the sessions it has seen (from a
/// listing and from `expire` events) and, when one passes, sends EXISTS so that Redis
/// reclaims the key and publishes its `expired` event now instead of minutes later.
final class EventWatcher: Sendable {
    let store: RedisSessionStore
    let kinds: Set<SessionEvent.Kind>
    let trackDeadlines: Bool

    init(store: RedisSessionStore, kinds: Set<SessionEvent.Kind>, trackDeadlines: Bool) {
        self.store = store
        self.kinds = kinds.isEmpty ? [.expired, .evicted, .deleted] : kinds
        self.trackDeadlines = trackDeadlines
    }

    func start() -> AsyncThrowingStream<SessionEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: SessionEvent.self, bufferingPolicy: .bufferingNewest(100_000))
        let task = Task {
            let nodes = await store.resolve()
            guard store.router != nil else {
                await withTaskGroup(of: Void.self) { group in
                    for node in nodes { group.addTask { await self.watch(node: node, continuation: continuation) } }
                }
                continuation.finish()
                return
            }
            // Redis Cluster: one subscription per master; the set of masters is re-read every
            // 2 s, so after a failover the promoted replica is watched and the failed master
            // dropped (with a gap notice for what was lost between).
            var watching: [String: Task<Void, Never>] = [:]
            while !Task.isCancelled {
                let masters = await store.resolve(refresh: !watching.isEmpty)
                for node in masters where watching[node.name] == nil {
                    watching[node.name] = Task { await self.watch(node: node, continuation: continuation) }
                }
                for (name, t) in watching where !masters.contains(where: { $0.name == name }) {
                    t.cancel()
                    watching[name] = nil
                    emit(
                        SessionEvent(
                            kind: .gap, sessionID: nil, key: nil, node: name, timeMs: currentTimeMs(),
                            detail: "no longer a master (failover); its events now come from the new master"),
                        continuation)
                }
                try? await Task.sleep(nanoseconds: 2_000_000_000)
            }
            for t in watching.values { t.cancel() }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func emit(_ e: SessionEvent, _ c: AsyncThrowingStream<SessionEvent, Error>.Continuation) {
        if kinds.contains(e.kind) || e.kind == .gap { c.yield(e) }
    }

    private func watch(
        node: RedisSessionStore.Node, continuation c: AsyncThrowingStream<SessionEvent, Error>.Continuation
    ) async {
        let tracker = DeadlineTracker()
        var schemas: [any RedisSchema] = []
        var backoffMs: UInt64 = 500
        var connectedTo: String? = nil  // the address of the last subscription
        while !Task.isCancelled {
            do {
                if schemas.isEmpty { schemas = try await store.schemas(on: node) }
                let db = node.url.db
                let names = ["expired", "evicted", "del", "expire"].map { "__keyevent@\(db)__:\($0)" }
                let sub = RedisSubscriber.subscribe(url: node.url, channels: names, timeouts: node.client.timeouts)
                let address = try await sub.ready()
                if let before = connectedTo {
                    let detail =
                        node.url.sentinel != nil && before != address
                        ? "failover: Sentinel names \(address) master of \(node.name) (was \(before)); "
                            + "resubscribed there, events while switching were lost"
                        : "resubscribed; events while disconnected were lost"
                    emit(
                        SessionEvent(
                            kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
                            detail: detail), c)
                }
                connectedTo = address
                backoffMs = 500
                // Deadlines of the sessions that exist now (read after subscribing, so none is
                // missed), learnt alongside the event loop: a slow listing never holds events back.
                let seeder = Task { [schemas] in
                    if self.trackDeadlines { try? await self.seed(tracker: tracker, node: node, schemas: schemas) }
                }
                let prompter = Task { if self.trackDeadlines { await self.prompt(tracker: tracker, node: node) } }
                defer {
                    prompter.cancel()
                    seeder.cancel()
                }
                for try await m in sub.messages {
                    guard let kindName = m.channel.split(separator: ":").last,
                        let key = String(validating: m.payload, as: UTF8.self)
                    else { continue }
                    guard let schema = schemas.first(where: { $0.sessionID(forEventKey: key) != nil }),
                        let id = schema.sessionID(forEventKey: key)
                    else { continue }
                    let now = currentTimeMs()
                    switch kindName {
                    case "expire":
                        if trackDeadlines, key == schema.expiryKey(forID: id),
                            let ttl = try? await node.client.send(RedisCommand("PTTL", key)).int, ttl > 0
                        {
                            await tracker.schedule(key: key, deadline: now + ttl)
                        }
                    case "expired":
                        let prompted = await tracker.finished(key: key, now: now)
                        emit(
                            SessionEvent(
                                kind: .expired, sessionID: id, key: key, user: await tracker.user(id),
                                node: node.name, timeMs: now, prompted: prompted), c)
                    case "evicted":
                        _ = await tracker.finished(key: key, now: now)
                        emit(
                            SessionEvent(
                                kind: .evicted, sessionID: id, key: key, user: await tracker.user(id), node: node.name,
                                timeMs: now), c)
                    case "del":
                        _ = await tracker.finished(key: key, now: now)
                        emit(
                            SessionEvent(
                                kind: .deleted, sessionID: id, key: key, user: await tracker.user(id), node: node.name,
                                timeMs: now), c)
                    default:
                        break
                    }
                }
                if Task.isCancelled { return }
                throw RedisError.connection(node: node.name, message: "subscription ended")
            } catch {
                if Task.isCancelled { return }
                emit(
                    SessionEvent(
                        kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
                        detail:
                            "events lost: \((error as? RedisError)?.description ?? "\(error)"); retrying in \(backoffMs) ms"
                    ), c)
                try? await Task.sleep(nanoseconds: backoffMs * 1_000_000)
                backoffMs = min(backoffMs * 2, 5000)
            }
        }
    }

    private func seed(tracker: DeadlineTracker, node: RedisSessionStore.Node, schemas: [any RedisSchema]) async throws {
        let progress = ListProgress(limit: nil)
        _ = try await store.listNode(node, query: ListQuery(), progress: progress) { page in
            let now = currentTimeMs()
            for s in page {
                let schema = schemas.first { $0.name == s.schema } ?? schemas[0]
                await tracker.remember(id: s.id, user: s.user)
                if s.ttlMs > 0 { await tracker.schedule(key: schema.expiryKey(forID: s.id), deadline: now + s.ttlMs) }
            }
        }
    }

    /// Sleeps until the next deadline (at most 1 s, to pick up earlier deadlines learnt
    /// meanwhile), then pokes the due keys with one pipelined EXISTS.
    private func prompt(tracker: DeadlineTracker, node: RedisSessionStore.Node) async {
        while !Task.isCancelled {
            let now = currentTimeMs()
            let due = await tracker.takeDue(now: now - 20)
            if !due.isEmpty {
                _ = try? await node.client.pipeline(due.map { RedisCommand("EXISTS", $0) })
            }
            let next = await tracker.nextDeadline ?? (now + 1000)
            let wait = max(10, min(1000, next + 20 - currentTimeMs()))
            try? await Task.sleep(nanoseconds: UInt64(wait) * 1_000_000)
        }
    }
}

/// Deadlines of known sessions' expiry keys (a binary heap with lazy deletion), the keys
/// the watcher prompted, and the users of known sessions.
actor DeadlineTracker {
    private var heap = DeadlineHeap<String>()
    private var current: [String: Int64] = [:]
    private var prompted: [String: Int64] = [:]
    private var users: [String: String] = [:]

    func remember(id: String, user: String?) { if let user { users[id] = user } }
    func user(_ id: String) -> String? { users[id] }

    func schedule(key: String, deadline: Int64) {
        current[key] = deadline
        heap.push(deadline, key)
    }

    var nextDeadline: Int64? { heap.first?.deadline }

    /// Keys whose deadline passed; they are marked as prompted.
    func takeDue(now: Int64) -> [String] {
        var due: [String] = []
        while let top = heap.first, top.deadline <= now {
            heap.popFirst()
            if current[top.element] == top.deadline {  // else rescheduled or finished since
                current[top.element] = nil
                prompted[top.element] = now
                due.append(top.element)
            }
        }
        // Forget prompts whose event never came (the key was already gone).
        if prompted.count > 10_000 { prompted = prompted.filter { now - $0.value < 10_000 } }
        return due
    }

    /// The key ended; returns whether the watcher prompted it in the last 10 s.
    func finished(key: String, now: Int64) -> Bool {
        current[key] = nil
        if let t = prompted.removeValue(forKey: key) { return now - t < 10_000 }
        return false
    }
}
