import Foundation
import HouseStore
import RedisClient
import SessionFormats
import SessionKit

/// Sessions in the in-house store: one or more `sessiond` nodes, spoken to over RESP with
/// the same hiredis client. Sessions are native there, so listing is `SESSION.SCAN` (rows
/// carry TTL, idle, creation and size: no per-session round trips), `show` is
/// `SESSION.PEEK` (never touches), logout is one `SESSION.LOGOUT` per node.
public final class SessiondStore: SessionStore, SessionEventSource, SessionMigrator, @unchecked Sendable {
    public typealias Node = SessiondRouting.Node
    public typealias Topology = SessiondRouting.Topology

    /// The nodes and how to reach a session's holder (shared with `SessiondClient`).
    public let routing: SessiondRouting
    var password: String? { routing.password }

    /// `sessiond://[:password@]host:port` (the scheme is the only difference from redis://).
    /// `sessiond://[:password@]host:port` or `sessionds://` (TLS).
    public static func url(_ text: String) throws(RedisURL.ParseError) -> RedisURL {
        if text.hasPrefix("sessionds://") { return try RedisURL("rediss://" + text.dropFirst("sessionds://".count)) }
        guard text.hasPrefix("sessiond://") else {
            throw RedisURL.ParseError(message: "not a sessiond:// or sessionds:// URL")
        }
        return try RedisURL("redis://" + text.dropFirst("sessiond://".count))
    }

    public init(urls: [RedisURL], timeouts: RedisConnection.Timeouts = .init(), fallbackPassword: String? = nil) {
        routing = SessiondRouting(urls: urls, timeouts: timeouts, fallbackPassword: fallbackPassword)
    }

    public init(routing: SessiondRouting) { self.routing = routing }

    public func topology(refresh: Bool = false) async -> Topology { await routing.topology(refresh: refresh) }

    public func routed(
        _ ids: [String], _ make: (String) -> RedisCommand, topology t: Topology
    ) async -> [String: Result<(RedisReply, Node), RedisError>] {
        await routing.routed(ids, make, topology: t)
    }

    public var displayName: String { routing.displayName }
    public var nodeNames: [String] { routing.nodes.map(\.name) }
    public var nodes: [Node] { routing.nodes }

    public func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome
    {
        let progress = ListProgress(limit: query.limit)
        // Every member at once: one slow or dead member holds no other back.
        let results = await listEveryNode(await topology().nodes, name: \.name) { node in
            var scanned = 0
            var cursor = "0"
            repeat {
                var args: [RedisArgument] = [cursor, "COUNT", 1000]
                if let u = query.filter.exactUser { args += ["PRINCIPAL", u] }
                let reply = try await node.client.send(RedisCommand("SESSION.SCAN", arguments: args)).orThrow()
                guard let (next, rows) = Wire.scanPage(reply.resp) else {
                    throw RedisError.protocolViolation("SESSION.SCAN reply")
                }
                cursor = next
                scanned += rows.count
                let now = currentTimeMs()
                var page = rows.map { SessiondStore.session(row: $0, node: node.name, now: now) }
                if query.withAttributes || query.filter.needsAttributes {
                    page = try await self.withAttributes(page, node: node)
                }
                let accepted = await progress.accept(page.filter { query.filter.matches($0, nowMs: now) })
                if !accepted.sessions.isEmpty { try await onPage(accepted.sessions) }
                if accepted.done { break }
                if await progress.done { break }
            } while cursor != "0"
            return (scanned, nil)
        }
        return ListOutcome(scannedKeys: results.scanned, matched: await progress.matched, failedNodes: results.failures)
    }

    /// A listing row (`Wire.ScanRow`) as a session.
    static func session(row r: Wire.ScanRow, node: String, now: Int64) -> Session {
        Session(
            id: r.id, key: r.id, user: r.principal, node: node, ttlMs: r.ttlMs, createdAtMs: r.createdMs,
            lastAccessedAtMs: r.idleMs.map { now - $0 }, sizeBytes: r.sizeBytes, schema: "sessiond")
    }

    /// A `SESSION.PEEK` reply (`Wire.SessionReply`) as a session with decoded attributes.
    static func session(peek: RedisReply, node: String) -> Session? {
        guard let r = Wire.sessionReply(peek.resp) else { return nil }
        var s = Session(
            id: r.id, key: r.id, user: r.principal, node: node, ttlMs: r.ttlMs, createdAtMs: r.createdMs,
            lastAccessedAtMs: r.lastAccessMs, maxInactiveSeconds: r.maxInactiveMs < 0 ? -1 : r.maxInactiveMs / 1000,
            sizeBytes: r.sizeBytes, schema: "sessiond")
        s.attributes = r.attributes.map { Decode.attribute(name: $0.name, raw: $0.value) }
        return s
    }

    private func withAttributes(_ page: [Session], node: Node) async throws -> [Session] {
        let replies = try await node.client.pipeline(page.map { RedisCommand("SESSION.PEEK", $0.id) })
        return zip(page, replies).compactMap { SessiondStore.session(peek: $1, node: node.name) ?? $0 }
    }

    public func get(id: String) async throws -> Session? {
        let t = await topology()
        if t.ring != nil {
            switch await routed([id], { RedisCommand("SESSION.PEEK", $0) }, topology: t)[id] {
            case .success(let (r, node))?:
                if let m = r.errorMessage { throw RedisError.server(m) }
                return SessiondStore.session(peek: r, node: node.name)
            case .failure(let e)?: throw e
            case nil: return nil
            }
        }
        var firstError: Error? = nil
        for node in t.nodes {
            do {
                let r = try await node.client.send(RedisCommand("SESSION.PEEK", id)).orThrow()
                if let s = SessiondStore.session(peek: r, node: node.name) { return s }
            } catch { if firstError == nil { firstError = error } }
        }
        if let firstError { throw firstError }
        return nil
    }

    /// Runs one command per id: on the node holding it in a cluster, else on every node;
    /// an id counts as affected where a node says 1.
    private func perIDCommand(_ ids: [String], _ make: (String) -> RedisCommand) async -> MutationResult {
        var result = MutationResult()
        var hit = Set<String>()
        let t = await topology()
        if t.ring != nil {
            let replies = await routed(ids, make, topology: t)
            var failed: [String: String] = [:]
            for id in ids {
                switch replies[id] {
                case .success(let (r, _))?:
                    if let m = r.errorMessage {
                        failed[id] = m
                    } else if (r.int ?? 0) > 0 {
                        hit.insert(id)
                        result.keysTouched += 1
                    }
                case .failure(let e)?: failed[id] = e.description
                case nil: break
                }
            }
            for (id, m) in failed.sorted(by: { $0.key < $1.key }) {
                result.failedNodes.append(NodeFailure(node: t.home(of: id)?.name ?? "?", message: "\(id): \(m)"))
            }
            result.affected = ids.filter { hit.contains($0) }
            result.notFound = ids.filter { !hit.contains($0) && failed[$0] == nil }
            return result
        }
        for node in t.nodes {
            do {
                let replies = try await node.client.pipeline(ids.map(make))
                for (id, r) in zip(ids, replies) where (r.int ?? 0) > 0 {
                    hit.insert(id)
                    result.keysTouched += 1
                }
            } catch {
                result.failedNodes.append(NodeFailure(node: node.name, message: error.description))
            }
        }
        result.affected = ids.filter { hit.contains($0) }
        result.notFound = result.failedNodes.isEmpty ? ids.filter { !hit.contains($0) } : []
        return result
    }

    public func locate(ids: [String]) async -> SessionPlan { await SessionPlan.byReading(ids, from: self) }

    public func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult {
        let ids: [String]
        switch target {
        case .ids(let given): ids = given
        case .sessions(let rows): ids = rows.map(\.id)
        case .user(let user): ids = try await sessionIDs(of: user)
        }
        return await perIDCommand(ids) { RedisCommand("SESSION.PEXPIRE", $0, milliseconds ?? 0) }
    }

    public func delete(_ target: SessionTarget) async throws -> MutationResult {
        switch target {
        case .ids(let ids): return await perIDCommand(ids) { RedisCommand("SESSION.DEL", $0) }
        case .sessions(let rows): return await perIDCommand(rows.map(\.id)) { RedisCommand("SESSION.DEL", $0) }
        case .user(let user): return await logoutUser(user)
        }
    }

    /// The ids of a user's sessions, through the principal index of every node.
    private func sessionIDs(of user: String) async throws -> [String] {
        var filter = Filter()
        filter.add(.user, .eq, user)
        let collector = Collector()
        _ = try await list(ListQuery(filter: filter)) { await collector.add($0) }
        return await collector.sessions.map(\.id)
    }

    public func capabilities() async -> StoreCapabilities {
        let t = await topology()
        return StoreCapabilities(events: self, migration: t.ring == nil ? nil : self, writer: self)
    }

    /// SESSION.LOGOUT on every node: the native principal index, one command per node.
    private func logoutUser(_ user: String) async -> MutationResult {
        var result = MutationResult()
        for node in await topology().nodes {
            do {
                let r = try await node.client.send(RedisCommand("SESSION.LOGOUT", user)).orThrow()
                let ids = (r.array ?? []).compactMap(\.text)
                result.affected += ids
                result.keysTouched += ids.count
            } catch {
                result.failedNodes.append(NodeFailure(node: node.name, message: error.description))
            }
        }
        return result
    }

    public func nodes(_ detail: NodeDetail) async -> [NodeInfo] {
        var out: [NodeInfo] = []
        let t = await topology(refresh: true)
        for node in t.nodes {
            var info = NodeInfo(name: node.name, address: "sessiond://" + node.url.nodeName, up: false)
            if t.ring != nil, let share = t.shares[node.name] {
                let text = String(format: "%.1f%%", share * 100)
                info.set(NodeFact(key: "ring_share", title: "RING", value: .number(share, text: text)))
            }
            do {
                let fields = RedisInfo.parse(try await node.client.send(RedisCommand("NODE.INFO")).orThrow().text ?? "")
                info.up = true
                info.role = fields["role"] ?? "master"
                info.version = fields["redis_version"]
                info.sessions = fields["sessions"].flatMap { Int($0) }
                if let n = info.sessions { info.set(NodeFact(key: "keys", title: "KEYS", value: .int(Int64(n)))) }
                info.usedMemory = fields["used_memory"].flatMap { Int64($0) }
                info.maxMemory = fields["maxmemory"].flatMap { Int64($0) }
                info.evictionPolicy = fields["maxmemory_policy"]
                info.expiredTotal = fields["expired_keys"].flatMap { Int64($0) }
                info.evictedTotal = fields["evicted_keys"].flatMap { Int64($0) }
                if fields["aof_enabled"] == "1" {
                    // A node that cannot write its log (a full disk) refuses writes: say so.
                    let failing = fields["aof_last_write_status"] == "err"
                    info.set(NodeFact(key: "log", title: "LOG", value: .string(failing ? "FAILING" : "ok")))
                    if failing { info.error = "log: " + (fields["aof_last_write_error"] ?? "cannot be written") }
                }
            } catch {
                info.error = "\(error)"
                info.unresponsive = error.isTimeout
            }
            out.append(info)
        }
        return out
    }

    // MARK: migration (in-house cluster)

    public func migrationTargets() async -> [String] {
        let t = await topology()
        return t.ring == nil ? [] : t.nodes.map(\.name)
    }

    public func migrate(ids: [String], to node: String, options: MigrationOptions = MigrationOptions()) async throws
        -> MutationResult
    {
        let t = try await clusterTopology(target: node)
        let replies = await routed(ids, { RedisCommand("SESSION.MIGRATE", $0, node) }, topology: t)
        var result = MutationResult()
        for id in ids {
            switch replies[id] {
            case .success(let (r, holder))?: SessiondStore.count(r, id: id, node: holder.name, into: &result)
            case .failure(let e)?:
                result.failedNodes.append(
                    NodeFailure(node: t.home(of: id)?.name ?? "?", message: "\(id): \(e.description)"))
            case nil: result.notFound.append(id)
            }
        }
        return result
    }

    /// Sorts one `SESSION.MIGRATE` status into the result.
    static func count(_ r: RedisReply, id: String, node: String, into result: inout MutationResult) {
        if let m = r.errorMessage {
            if m.hasPrefix("NOTFOUND") {
                result.notFound.append(id)
            } else {
                result.failedNodes.append(NodeFailure(node: node, message: "\(id): \(m)"))
            }
        } else {
            result.affected.append(id)
            result.keysTouched += 1
        }
    }

    private func clusterTopology(target: String?) async throws -> Topology {
        let t = await topology(refresh: true)
        guard t.ring != nil else {
            throw UnsupportedOperation(
                "\(displayName) is not a cluster: migration moves sessions between the nodes of an in-house cluster (sessiond --cluster)"
            )
        }
        if let target, t.node(target) == nil {
            throw UnsupportedOperation(
                "unknown node '\(target)'; the cluster's nodes are \(t.nodes.map(\.name).joined(separator: ", "))")
        }
        return t
    }

    public func drain(node: String, to target: String?, progress: @escaping @Sendable (Int, Int) async -> Void)
        async throws -> MutationResult
    {
        let t = try await clusterTopology(target: target)
        guard let source = t.node(node), let ring = t.ring else {
            throw UnsupportedOperation(
                "unknown node '\(node)'; the cluster's nodes are \(t.nodes.map(\.name).joined(separator: ", "))")
        }
        if target == node { throw UnsupportedOperation("cannot drain \(node) into itself") }
        let excluded = Set([node] + t.states.filter { $0.value == "down" }.map(\.key))
        guard target != nil || ring.members.contains(where: { !excluded.contains($0.id) }) else {
            throw UnsupportedOperation("no node is up to take \(node)'s sessions")
        }
        let total =
            (try? await source.client.send(RedisCommand("SESSION.COUNT")).orThrow().int).flatMap { $0.map(Int.init) }
            ?? 0
        var result = MutationResult()
        var failures: [String: NodeFailure] = [:]
        // Several passes: sessions created on the node during a pass, or busy ones
        // (TRYAGAIN), are taken by the next.
        for _ in 0..<3 {
            var cursor = "0"
            var movedThisPass = 0
            repeat {
                let reply = try await source.client.send(RedisCommand("SESSION.SCAN", cursor, "COUNT", 4000)).orThrow()
                guard let (next, rows) = Wire.scanPage(reply.resp) else {
                    throw RedisError.protocolViolation("SESSION.SCAN reply")
                }
                cursor = next
                var byTarget: [String: [String]] = [:]
                for row in rows {
                    let id = row.id
                    guard let to = target ?? ring.owner(of: id, excluding: excluded)?.id
                    else { continue }
                    byTarget[to, default: []].append(id)
                }
                for (to, ids) in byTarget.sorted(by: { $0.key < $1.key }) {
                    var start = 0
                    while start < ids.count {
                        let chunk = Array(ids[start..<min(ids.count, start + 2000)])
                        start += chunk.count
                        let r = try await source.client.send(
                            RedisCommand("SESSION.MIGRATE", arguments: ["TO", to] + chunk)
                        ).orThrow()
                        for (id, status) in zip(chunk, r.array ?? []) {
                            var one = MutationResult()
                            SessiondStore.count(status, id: id, node: node, into: &one)
                            result.affected += one.affected
                            result.keysTouched += one.keysTouched
                            movedThisPass += one.affected.count
                            for f in one.failedNodes where !f.message.contains("TRYAGAIN") { failures[id] = f }
                            if !one.affected.isEmpty { failures[id] = nil }
                        }
                        await progress(result.affected.count, max(total, result.affected.count))
                    }
                }
            } while cursor != "0"
            let left = (try? await source.client.send(RedisCommand("SESSION.COUNT")).orThrow().int).flatMap { $0 } ?? 0
            if left == 0 || movedThisPass == 0 { break }
        }
        result.failedNodes = failures.values.sorted { $0.message < $1.message }
        return result
    }

    /// Events from every node's event channel; a lost subscription is a gap, then retried.
    /// sessiond expires on time and publishes every expiry itself: nobody tracks deadlines.
    public var expiresLazily: Bool { false }
    public func promptExpiry(ids: [String]) async {}

    public func events(kinds: Set<SessionEvent.Kind>, deadlines: DeadlineTracking) -> AsyncThrowingStream<
        SessionEvent, Error
    > {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: SessionEvent.self, bufferingPolicy: .bufferingNewest(100_000))
        let wanted = kinds.isEmpty ? Set(SessionEvent.Kind.allCases) : kinds
        let password = self.password
        let task = Task {
            let nodes = await self.topology().nodes
            await withTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask {
                        var connectedBefore = false
                        while !Task.isCancelled {
                            let sub = RedisSubscriber.subscribe(
                                url: node.url, channels: ["sessiond:events"], timeouts: node.client.timeouts,
                                fallbackPassword: password)
                            do {
                                try await sub.ready()
                                if connectedBefore {
                                    continuation.yield(
                                        SessionEvent(
                                            kind: .gap, sessionID: nil, key: nil, node: node.name,
                                            timeMs: currentTimeMs(),
                                            detail: "resubscribed; events while disconnected were lost"))
                                }
                                connectedBefore = true
                                for try await m in sub.messages {
                                    if let e = Wire.event(m.payload, node: node.name),
                                        wanted.contains(e.kind) || e.kind == .gap
                                    {
                                        continuation.yield(e)
                                    }
                                }
                            } catch {
                                if Task.isCancelled { return }
                                continuation.yield(
                                    SessionEvent(
                                        kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
                                        detail: "events lost: \(error); retrying"))
                            }
                            try? await Task.sleep(nanoseconds: 1_000_000_000)
                        }
                    }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

extension SessiondStore: SessionWriter {
    /// `SESSION.PUT` with the session's own times, sliding timeout, user and attributes (raw
    /// bytes), routed to each session's home in a cluster.
    public func write(_ sessions: [Session]) async -> (written: [String], failures: [NodeFailure]) {
        let now = currentTimeMs()
        var commands: [String: RedisCommand] = [:]
        for s in sessions {
            // The sliding timeout when the source knows it, else what is left of its TTL.
            let timeout: Int64 =
                s.maxInactiveSeconds.map { $0 < 0 ? -1 : $0 } ?? (s.ttlMs < 0 ? -1 : max(1, (s.ttlMs + 999) / 1000))
            var args: [[UInt8]] = [Array("SESSION.PUT".utf8), Array(s.id.utf8), Array(String(timeout).utf8)]
            if let u = s.user { args += [Array("PRINCIPAL".utf8), Array(u.utf8)] }
            if let c = s.createdAtMs, c <= now { args += [Array("CREATED".utf8), Array(String(c).utf8)] }
            if s.maxInactiveSeconds != nil, let l = s.lastAccessedAtMs, l <= now {
                args += [Array("LASTACCESS".utf8), Array(String(l).utf8)]
            }
            for a in s.attributes { args += [Array("ATTR".utf8), Array(a.name.utf8), a.raw] }
            commands[s.id] = RedisCommand(args)
        }
        let t = await topology()
        var written: [String] = []
        var failures: [NodeFailure] = []
        let ids = sessions.map(\.id)
        if t.ring == nil {
            guard let node = t.nodes.first else { return ([], [NodeFailure(node: displayName, message: "no node")]) }
            do {
                let replies = try await node.client.pipeline(ids.compactMap { commands[$0] })
                for (id, r) in zip(ids, replies) {
                    if let m = r.errorMessage {
                        failures.append(NodeFailure(node: node.name, message: "\(id): \(m)"))
                    } else {
                        written.append(id)
                    }
                }
            } catch { failures.append(NodeFailure(node: node.name, message: error.description)) }
            return (written, failures)
        }
        let replies = await routed(ids, { commands[$0] ?? RedisCommand("PING") }, topology: t)
        for id in ids {
            switch replies[id] {
            case .success(let (r, node))?:
                if let m = r.errorMessage {
                    failures.append(NodeFailure(node: node.name, message: "\(id): \(m)"))
                } else {
                    written.append(id)
                }
            case .failure(let e)?:
                failures.append(NodeFailure(node: t.home(of: id)?.name ?? "?", message: "\(id): \(e.description)"))
            case nil: failures.append(NodeFailure(node: "?", message: "\(id): no reply"))
            }
        }
        return (written, failures)
    }
}

extension RedisReply {
    /// The reply as sessiond's own wire types read it (`HouseStore.Wire`).
    public var resp: RESPReply {
        switch self {
        case .string(let b): return .bulk(b)
        case .status(let s): return .simple(s)
        case .integer(let v): return .integer(v)
        case .array(let items): return .array(items.map(\.resp))
        case .null: return .null
        case .error(let m): return .error(m)
        }
    }
}
