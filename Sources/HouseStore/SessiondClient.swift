import RedisClient

/// What an application uses to keep its sessions in sessiond: create, read (and touch),
/// touch, set an attribute, delete. Built on the same hiredis client as the console; one
/// instance can be shared by many tasks (requests are serialized on its connection).
public struct SessiondClient: Sendable {
    public let client: RedisClient

    public struct ServerError: Error, CustomStringConvertible { public var description: String }

    /// `url`: `sessiond://[:password@]host:port`.
    public init(url: String, timeouts: RedisConnection.Timeouts = .init()) throws {
        guard url.hasPrefix("sessiond://") else { throw ServerError(description: "expected a sessiond:// URL") }
        do { client = RedisClient(url: try RedisURL("redis://" + url.dropFirst("sessiond://".count)), timeouts: timeouts) }
        catch { throw ServerError(description: error.description) }
    }

    public init(client: RedisClient) { self.client = client }

    /// Creates (or replaces) a session with a sliding timeout (`nil`: none).
    public func create(id: String, timeoutSeconds: Int?, principal: String? = nil,
                       attributes: [(name: String, value: [UInt8])] = []) async throws {
        var args: [[UInt8]] = [Array("SESSION.PUT".utf8), Array(id.utf8), Array(String(timeoutSeconds ?? -1).utf8)]
        if let principal { args += [Array("PRINCIPAL".utf8), Array(principal.utf8)] }
        for a in attributes { args += [Array("ATTR".utf8), Array(a.name.utf8), a.value] }
        try check(try await client.send(RedisCommand(args)))
    }

    /// Reads a session and slides its expiry, as an application does on each request.
    public func get(_ id: String) async throws -> HouseSession? {
        let r = try check(try await client.send(RedisCommand("SESSION.GET", id)))
        return SessiondClient.session(from: r)
    }

    public func touch(_ id: String) async throws -> Bool {
        try check(try await client.send(RedisCommand("SESSION.TOUCH", id))).int == 1
    }

    public func setAttribute(_ id: String, name: String, value: [UInt8]) async throws -> Bool {
        try check(try await client.send(RedisCommand("SESSION.SETATTR", id, name, value))).int == 1
    }

    public func delete(_ id: String) async throws -> Bool {
        try check(try await client.send(RedisCommand("SESSION.DEL", id))).int == 1
    }

    @discardableResult
    private func check(_ r: RedisReply) throws -> RedisReply {
        if let m = r.errorMessage { throw ServerError(description: m) }
        return r
    }

    /// `[id, principal, created_ms, last_access_ms, max_inactive_ms, ttl_ms, size, [name, value, ...]]`
    static func session(from r: RedisReply) -> HouseSession? {
        guard let f = r.array, f.count == 8, let id = f[0].text, let created = f[2].int, let last = f[3].int,
              let maxInactive = f[4].int else { return nil }
        var attrs: [HouseSession.Attribute] = []
        let items = f[7].array ?? []
        var k = 0
        while k + 1 < items.count { attrs.append(.init(items[k].text ?? "", items[k + 1].bytes ?? [])); k += 2 }
        return HouseSession(id: id, principal: f[1].text, attributes: attrs, createdMs: created, lastAccessMs: last, maxInactiveMs: maxInactive)
    }
}
