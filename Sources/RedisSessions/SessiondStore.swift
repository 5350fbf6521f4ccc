import RedisClient
import SessionKit

/// Sessions in the in-house store: one or more `sessiond` nodes, spoken to over RESP with
/// the same hiredis client. Sessions are native there, so listing is `SESSION.SCAN` (rows
/// carry TTL, idle, creation and size: no per-session round trips), `show` is
/// `SESSION.PEEK` (never touches), logout is one `SESSION.LOGOUT` per node.
public final class SessiondStore: SessionStore {
    public struct Node: Sendable {
        public let url: RedisURL
        public let client: RedisClient
        public let name: String
    }
    public let nodes: [Node]
    let password: String?

    /// `sessiond://[:password@]host:port` (the scheme is the only difference from redis://).
    public static func url(_ text: String) throws(RedisURL.ParseError) -> RedisURL {
        guard text.hasPrefix("sessiond://") else { throw RedisURL.ParseError(message: "not a sessiond:// URL") }
        return try RedisURL("redis://" + text.dropFirst("sessiond://".count))
    }

    public init(urls: [RedisURL], timeouts: RedisConnection.Timeouts = .init(), fallbackPassword: String? = nil) {
        password = fallbackPassword
        nodes = urls.map { Node(url: $0, client: RedisClient(url: $0, timeouts: timeouts, fallbackPassword: fallbackPassword), name: $0.nodeName) }
    }

    public var displayName: String {
        nodes.map { "sessiond://" + ($0.url.password != nil ? ":***@" : "") + $0.name }.joined(separator: ", ")
    }
    public var nodeNames: [String] { nodes.map(\.name) }

    public func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws -> ListOutcome {
        let progress = ListProgress(limit: query.limit)
        var failures: [NodeFailure] = []
        var scanned = 0
        for node in nodes {
            do {
                var cursor = "0"
                repeat {
                    var args: [RedisArgument] = [cursor, "COUNT", 1000]
                    if let u = query.filter.exactUser { args += ["PRINCIPAL", u] }
                    let reply = try await node.client.send(RedisCommand("SESSION.SCAN", arguments: args)).orThrow()
                    guard let parts = reply.array, parts.count == 2, let next = parts[0].text, let rows = parts[1].array else {
                        throw RedisError.protocolViolation("SESSION.SCAN reply")
                    }
                    cursor = next
                    scanned += rows.count
                    let now = currentTimeMs()
                    var page = rows.compactMap { SessiondStore.session(row: $0, node: node.name, now: now) }
                    if query.withAttributes || query.filter.needsAttributes {
                        page = try await withAttributes(page, node: node)
                    }
                    let accepted = await progress.accept(page.filter { query.filter.matches($0, nowMs: now) })
                    if !accepted.sessions.isEmpty { try await onPage(accepted.sessions) }
                    if accepted.done { break }
                } while cursor != "0"
            } catch let e as RedisError {
                failures.append(NodeFailure(node: node.name, message: e.description))
            }
            if await progress.done { break }
        }
        return ListOutcome(scannedKeys: scanned, matched: await progress.matched, failedNodes: failures)
    }

    /// `[id, principal, ttl_ms, idle_ms, created_ms, size]`
    static func session(row: RedisReply, node: String, now: Int64) -> Session? {
        guard let f = row.array, f.count == 6, let id = f[0].text else { return nil }
        let idle = f[3].int
        return Session(id: id, key: id, user: f[1].text, node: node, ttlMs: f[2].int ?? -1, createdAtMs: f[4].int,
                       lastAccessedAtMs: idle.map { now - $0 }, sizeBytes: f[5].int, schema: "sessiond")
    }

    /// `[id, principal, created_ms, last_access_ms, max_inactive_ms, ttl_ms, size, [name, value, ...]]`
    static func session(peek: RedisReply, node: String) -> Session? {
        guard let f = peek.array, f.count == 8, let id = f[0].text else { return nil }
        let maxInactive = f[4].int ?? -1
        var s = Session(id: id, key: id, user: f[1].text, node: node, ttlMs: f[5].int ?? -1, createdAtMs: f[2].int,
                        lastAccessedAtMs: f[3].int, maxInactiveSeconds: maxInactive < 0 ? -1 : maxInactive / 1000,
                        sizeBytes: f[6].int, schema: "sessiond")
        let items = f[7].array ?? []
        var k = 0
        while k + 1 < items.count {
            s.attributes.append(Decode.attribute(name: items[k].text ?? "", raw: items[k + 1].bytes ?? []))
            k += 2
        }
        return s
    }

    private func withAttributes(_ page: [Session], node: Node) async throws -> [Session] {
        let replies = try await node.client.pipeline(page.map { RedisCommand("SESSION.PEEK", $0.id) })
        return zip(page, replies).compactMap { SessiondStore.session(peek: $1, node: node.name) ?? $0 }
    }

    public func get(id: String) async throws -> Session? {
        var firstError: Error? = nil
        for node in nodes {
            do {
                let r = try await node.client.send(RedisCommand("SESSION.PEEK", id)).orThrow()
                if let s = SessiondStore.session(peek: r, node: node.name) { return s }
            } catch { if firstError == nil { firstError = error } }
        }
        if let firstError { throw firstError }
        return nil
    }

    /// Runs one command per id on every node; an id counts as affected where a node says 1.
    private func perIDCommand(_ ids: [String], _ make: (String) -> RedisCommand) async -> MutationResult {
        var result = MutationResult()
        var hit = Set<String>()
        for node in nodes {
            do {
                let replies = try await node.client.pipeline(ids.map(make))
                for (id, r) in zip(ids, replies) where (r.int ?? 0) > 0 { hit.insert(id); result.keysTouched += 1 }
            } catch {
                result.failedNodes.append(NodeFailure(node: node.name, message: error.description))
            }
        }
        result.affected = ids.filter { hit.contains($0) }
        result.notFound = result.failedNodes.isEmpty ? ids.filter { !hit.contains($0) } : []
        return result
    }

    public func expire(ids: [String], after milliseconds: Int64?) async throws -> MutationResult {
        await perIDCommand(ids) { RedisCommand("SESSION.PEXPIRE", $0, milliseconds ?? 0) }
    }

    public func delete(ids: [String]) async throws -> MutationResult {
        await perIDCommand(ids) { RedisCommand("SESSION.DEL", $0) }
    }

    public func logout(user: String) async throws -> MutationResult {
        var result = MutationResult()
        for node in nodes {
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

    public func nodes() async -> [NodeInfo] {
        var out: [NodeInfo] = []
        for node in nodes {
            var info = NodeInfo(name: node.name, address: "sessiond://" + node.name, up: false)
            do {
                let fields = RedisInfo.parse(try await node.client.send(RedisCommand("NODE.INFO")).orThrow().text ?? "")
                info.up = true
                info.role = fields["role"] ?? "master"
                info.version = fields["redis_version"]
                info.sessions = fields["sessions"].flatMap { Int($0) }
                info.keys = info.sessions
                info.usedMemory = fields["used_memory"].flatMap { Int64($0) }
                info.maxMemory = fields["maxmemory"].flatMap { Int64($0) }
                info.evictionPolicy = fields["maxmemory_policy"]
                info.expiredTotal = fields["expired_keys"].flatMap { Int64($0) }
                info.evictedTotal = fields["evicted_keys"].flatMap { Int64($0) }
            } catch {
                info.error = error.description
            }
            out.append(info)
        }
        return out
    }

    /// Events from every node's event channel; a lost subscription is a gap, then retried.
    public func events(kinds: Set<SessionEvent.Kind>) -> AsyncThrowingStream<SessionEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: SessionEvent.self, bufferingPolicy: .bufferingNewest(100_000))
        let wanted = kinds.isEmpty ? Set(SessionEvent.Kind.allCases) : kinds
        let nodes = self.nodes, password = self.password
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask {
                        var connectedBefore = false
                        while !Task.isCancelled {
                            let sub = RedisSubscriber.subscribe(url: node.url, channels: ["sessiond:events"], timeouts: node.client.timeouts,
                                                                fallbackPassword: password)
                            do {
                                try await sub.ready()
                                if connectedBefore {
                                    continuation.yield(SessionEvent(kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
                                                                    detail: "resubscribed; events while disconnected were lost"))
                                }
                                connectedBefore = true
                                for try await m in sub.messages {
                                    if let e = SessiondStore.event(m.payload, node: node.name), wanted.contains(e.kind) || e.kind == .gap {
                                        continuation.yield(e)
                                    }
                                }
                            } catch {
                                if Task.isCancelled { return }
                                continuation.yield(SessionEvent(kind: .gap, sessionID: nil, key: nil, node: node.name, timeMs: currentTimeMs(),
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

    /// `{"event":"expired","id":..,"principal":..,"node":..,"time":..,"reason":..}` or a gap notice.
    static func event(_ payload: [UInt8], node: String) -> SessionEvent? {
        guard let v = try? JSONDecoding.decode(payload), case .string(let kind)? = v["event"] else { return nil }
        let time: Int64
        if case .int(let t)? = v["time"] { time = t } else { time = currentTimeMs() }
        if kind == "gap" {
            var missed: Int64 = 0
            if case .int(let n)? = v["missed"] { missed = n }
            return SessionEvent(kind: .gap, sessionID: nil, key: nil, node: node, timeMs: time,
                                detail: "this subscriber fell behind: \(missed) events missed")
        }
        guard let k = SessionEvent.Kind(rawValue: kind) else { return nil }
        var user: String? = nil
        if case .string(let p)? = v["principal"] { user = p }
        var id: String? = nil
        if case .string(let s)? = v["id"] { id = s }
        var detail: String? = nil
        if case .string(let r)? = v["reason"] { detail = "reason: " + r }
        return SessionEvent(kind: k, sessionID: id, key: id, user: user, node: node, timeMs: time, detail: detail)
    }
}
