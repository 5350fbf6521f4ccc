import RedisClient
import SessionFormats
import SessionKit

/// express-session with connect-redis: `sess:<sid>` holding the session as JSON, SET with
/// an expiry from the cookie. The user is Passport's `passport.user`.
public struct ConnectRedisSchema: RedisSchema, PrefixedKeys {
    public var prefix: String
    public init(prefix: String = "sess:") { self.prefix = prefix }

    public var name: String { "connect-redis" }
    public var label: String { "connect-redis (prefix \(prefix))" }
    public var scanPattern: String { Glob.escape(prefix) + "*" }
    public var scanType: String? { "string" }

    public func listCommands(key: String, id: String, reads: ListReads) -> [RedisCommand] {
        // OBJECT IDLETIME before GET: the read would reset the idle time.
        Self.headCommands(key) + [RedisCommand("GET", key)]
    }

    public func parseListing(
        key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, reads: ListReads
    ) -> Session? {
        let r = Array(replies)
        guard r.count == 3, let raw = r[2].bytes else { return nil }
        let ttl = Decode.int(r[0]) ?? -2
        guard ttl != -2 else { return nil }
        let idleMs = Decode.int(r[1]).map { $0 * 1000 }
        var session = Session(
            id: id, key: key, node: node, ttlMs: ttl, storeIdleMs: idleMs, schema: name)
        let json: DecodedValue
        do { json = try JSONDecoding.decode(raw) } catch {
            session.attributes = [
                Attribute(name: "(value)", raw: raw, decoded: .undecodable(error.description), format: "json")
            ]
            return session
        }
        if let cookie = json["cookie"], case .int(let maxAge)? = cookie["originalMaxAge"] {
            session.maxInactiveSeconds = maxAge / 1000
            // connect-redis sets the TTL from the cookie on every save/touch, so the last
            // request was (maxAge - ttl) ago.
            if ttl >= 0 { session.lastAccessedAtMs = nowMs - max(0, maxAge - ttl) }
        }
        if let passport = json["passport"], let user = passport["user"] {
            switch user {
            case .string(let s): session.user = s
            case .int(let n): session.user = String(n)
            case .map: session.user = (user["username"] ?? user["id"] ?? user["email"])?.summary
            default: break
            }
        }
        if reads.attributes, case .map(let entries) = json {
            session.attributes = entries.map { e in
                var w = JSONWriter()
                w.value(e.value)
                return Attribute(name: e.key, raw: w.bytes, decoded: e.value, format: "json")
            }
        }
        return session
    }

    public func deleteCommands(for s: Session) -> [RedisCommand] { [RedisCommand("DEL", s.key)] }

    public func expireCommands(for s: Session, afterMs: Int64?) -> [RedisCommand] {
        [RedisCommand("PEXPIRE", s.key, max(1, afterMs ?? 1))]
    }
}

/// Anything else: sessions are the keys under a prefix, values shown as they are.
public struct PrefixSchema: RedisSchema, PrefixedKeys {
    public var prefix: String
    public init(prefix: String) { self.prefix = prefix }

    public var name: String { "prefix" }
    public var label: String { "prefix \(prefix)" }
    public var scanPattern: String { Glob.escape(prefix) + "*" }
    public var scanType: String? { nil }

    public func listCommands(key: String, id: String, reads: ListReads) -> [RedisCommand] {
        // No value read: the value's shape is unknown and reading would reset idle time.
        // `show` reads the value by its type (RedisSessionStore.get).
        Self.headCommands(key)
    }

    public func parseListing(
        key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, reads: ListReads
    ) -> Session? {
        let r = Array(replies)
        guard r.count == 2 else { return nil }
        let ttl = Decode.int(r[0]) ?? -2
        guard ttl != -2 else { return nil }
        return Session(
            id: id, key: key, node: node, ttlMs: ttl, storeIdleMs: Decode.int(r[1]).map { $0 * 1000 }, schema: name)
    }

    public func deleteCommands(for s: Session) -> [RedisCommand] { [RedisCommand("DEL", s.key)] }
    public func expireCommands(for s: Session, afterMs: Int64?) -> [RedisCommand] {
        [RedisCommand("PEXPIRE", s.key, max(1, afterMs ?? 1))]
    }
}

/// Schemas whose session key is the prefix and the id.
protocol PrefixedKeys {
    var prefix: String { get }
}

extension PrefixedKeys {
    public func sessionID(forKey key: String) -> String? {
        guard key.hasPrefix(prefix), key.count > prefix.count else { return nil }
        return String(key.dropFirst(prefix.count))
    }
    public func key(forID id: String) -> String { prefix + id }

    /// What a listing reads of a key without resetting its idle time: TTL, idle time, exact
    /// memory (every field counted).
    static func headCommands(_ key: String) -> [RedisCommand] {
        [
            RedisCommand("PTTL", key), RedisCommand("OBJECT", "IDLETIME", key),
        ]
    }
}
