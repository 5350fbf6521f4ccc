import HouseStore
import RedisClient
import SessionKit

/// What an application uses to keep its sessions in sessiond: create, read (and touch),
/// touch, set an attribute, delete. Cluster-aware: given any node of a cluster it learns
/// the members, sends each request to the session's home and follows `MOVED` to wherever
/// the session lives (`SessiondRouting`, shared with the console's store). One instance
/// can be shared by many tasks.
public struct SessiondClient: Sendable {
    public let routing: SessiondRouting

    public struct ServerError: Error, CustomStringConvertible { public var description: String }

    /// `url`: `sessiond://[:password@]host:port` (any node of a cluster).
    public init(url: String, timeouts: RedisConnection.Timeouts = .init()) throws {
        do { routing = SessiondRouting(urls: [try SessiondStore.url(url)], timeouts: timeouts) } catch {
            throw ServerError(description: error.description)
        }
    }

    public init(routing: SessiondRouting) { self.routing = routing }

    /// Creates (or replaces) a session with a sliding timeout (`nil`: none).
    public func create(
        id: String, timeoutSeconds: Int?, principal: String? = nil,
        attributes: [(name: String, value: [UInt8])] = []
    ) async throws {
        var args: [[UInt8]] = [Array("SESSION.PUT".utf8), Array(id.utf8), Array(String(timeoutSeconds ?? -1).utf8)]
        if let principal { args += [Array("PRINCIPAL".utf8), Array(principal.utf8)] }
        for a in attributes { args += [Array("ATTR".utf8), Array(a.name.utf8), a.value] }
        try await call(id, RedisCommand(args))
    }

    /// Reads a session and slides its expiry, as an application does on each request.
    public func get(_ id: String) async throws -> HouseSession? {
        SessiondClient.session(from: try await call(id, RedisCommand("SESSION.GET", id)))
    }

    public func touch(_ id: String) async throws -> Bool {
        try await call(id, RedisCommand("SESSION.TOUCH", id)).int == 1
    }

    public func setAttribute(_ id: String, name: String, value: [UInt8]) async throws -> Bool {
        try await call(id, RedisCommand("SESSION.SETATTR", id, name, value)).int == 1
    }

    /// Ends the session after `seconds` (0: now; its expired event fires then).
    public func expire(_ id: String, afterSeconds seconds: Int) async throws -> Bool {
        try await call(id, RedisCommand("SESSION.EXPIRE", id, String(seconds))).int == 1
    }

    public func delete(_ id: String) async throws -> Bool {
        try await call(id, RedisCommand("SESSION.DEL", id)).int == 1
    }

    /// Ends every session of `principal` on every node; the ids that ended.
    public func logout(_ principal: String) async throws -> [String] {
        var ended: [String] = []
        for node in await routing.topology().nodes {
            let r: RedisReply
            do { r = try await node.client.send(RedisCommand("SESSION.LOGOUT", principal)) } catch {
                throw ServerError(description: "\(node.name): \(error.description)")
            }
            if let m = r.errorMessage { throw ServerError(description: "\(node.name): \(m)") }
            ended += (r.array ?? []).compactMap(\.text)
        }
        return ended
    }

    /// The node that answered for `id` last (its holder).
    public func node(of id: String) async throws -> String {
        try await route(id, RedisCommand("SESSION.TTL", id)).node
    }

    @discardableResult
    private func call(_ id: String, _ command: RedisCommand) async throws -> RedisReply {
        try await route(id, command).reply
    }

    private func route(_ id: String, _ command: RedisCommand) async throws -> (reply: RedisReply, node: String) {
        let t = await routing.topology()
        let result: Result<(RedisReply, SessiondRouting.Node), RedisError>?
        if t.ring == nil, let node = t.nodes.first {
            do { result = .success((try await node.client.send(command), node)) } catch { result = .failure(error) }
        } else {
            result = await routing.routed([id], { _ in command }, topology: t)[id]
        }
        switch result {
        case .success(let (r, node))?:
            if let m = r.errorMessage { throw ServerError(description: m) }
            return (r, node.name)
        case .failure(let e)?: throw ServerError(description: e.description)
        case nil: throw ServerError(description: "no node to ask")
        }
    }

    /// A `SESSION.GET` reply (`Wire.SessionReply`) as the application's session.
    static func session(from r: RedisReply) -> HouseSession? {
        guard let w = Wire.sessionReply(r.resp) else { return nil }
        return HouseSession(
            id: w.id, principal: w.principal, attributes: w.attributes.map { .init($0.name, $0.value) },
            createdMs: w.createdMs, lastAccessMs: w.lastAccessMs, maxInactiveMs: w.maxInactiveMs)
    }
}
