import RedisClient
import SessionFormats
import SessionKit

/// Where one framework keeps a whole session in Redis: the key prefix, the key type, which
/// ids are its own, what else belongs to a session (locks). The value's encoding, user and
/// times come from SessionFormats (`SessionValueFormat`), shared with the other stores.
public struct Framework: Sendable {
    /// The `--schema` name.
    public let name: String
    public let title: String
    public let defaultPrefix: String
    /// `string` values, or a `hash` (ASP.NET Core).
    public let keyType: String
    /// Extra check of the id part of a key (Rails ids are `2::` + 64 hex digits).
    let idMatches: @Sendable (Substring) -> Bool
    /// How the value (or the hash's `data`) is encoded, and where the user is.
    public let value: SessionValueFormat
    /// Keys besides the session key that belong to it (locks).
    let extraKeys: @Sendable (String) -> [String]

    var format: String { value.format }

    init(
        name: String, title: String, prefix: String, keyType: String = "string", value: SessionValueFormat,
        idMatches: @escaping @Sendable (Substring) -> Bool = { _ in true },
        extraKeys: @escaping @Sendable (String) -> [String] = { _ in [] }
    ) {
        self.name = name
        self.title = title
        self.defaultPrefix = prefix
        self.keyType = keyType
        self.value = value
        self.idMatches = idMatches
        self.extraKeys = extraKeys
    }

    public static func named(_ name: String) -> Framework? { all.first { $0.name == name } }

    public static let all: [Framework] = [
        Framework(
            name: "phpredis", title: "PHP (phpredis session handler)", prefix: "PHPREDIS_SESSION:",
            value: FrameworkValues.phpSession, extraKeys: { [$0 + "_LOCK"] }),
        Framework(
            name: "laravel", title: "Laravel (redis session driver)", prefix: "laravel_database_laravel_cache_:",
            value: FrameworkValues.laravelCache),
        Framework(
            name: "symfony", title: "Symfony (RedisSessionHandler)", prefix: "sf_s", value: FrameworkValues.symfony),
        Framework(
            name: "django", title: "Django (cache sessions)", prefix: ":1:django.contrib.sessions.cache",
            value: FrameworkValues.django,
            // Session keys are [a-z0-9]: "d_db..." is the cached_db prefix's tail.
            idMatches: { !$0.hasPrefix("d_db") }),
        Framework(
            name: "django-cached-db", title: "Django (cached_db sessions)",
            prefix: ":1:django.contrib.sessions.cached_db",
            value: FrameworkValues.django),
        Framework(
            name: "flask", title: "Flask-Session", prefix: "session:", value: FrameworkValues.flask,
            idMatches: { !$0.contains(":") }),
        Framework(
            name: "rails", title: "Rails (redis-session-store)", prefix: "", value: FrameworkValues.rails,
            idMatches: UserSearch.isRackPrivateID),
        Framework(
            name: "rack", title: "Rack (redis-rack)", prefix: "rack:session:", value: FrameworkValues.rails,
            idMatches: UserSearch.isRackPrivateID),
        Framework(
            name: "rails-cache", title: "Rails (cache store sessions)", prefix: "_session_id:",
            value: FrameworkValues.rails, idMatches: UserSearch.isRackPrivateID),
        Framework(
            name: "aspnet", title: "ASP.NET Core (StackExchangeRedis)", prefix: "", keyType: "hash",
            value: FrameworkValues.aspnet, idMatches: UserSearch.isGUID),
        Framework(
            name: "go-redistore", title: "Go (gorilla redistore)", prefix: "session_", value: FrameworkValues.gob),
        Framework(name: "vapor", title: "Vapor (RedisSessions)", prefix: "vrs-", value: FrameworkValues.json),
        Framework(name: "hummingbird", title: "Hummingbird (sessions)", prefix: "hbs.", value: FrameworkValues.json),
        Framework(name: "jwt-denylist", title: "JWT deny list", prefix: "denylist:", value: FrameworkValues.jwt),
        Framework(name: "jwt-allowlist", title: "JWT allow list", prefix: "allowlist:", value: FrameworkValues.jwt),
    ]
}

/// Sessions of one framework under one prefix.
public struct FrameworkSchema: RedisSchema {
    public let framework: Framework
    public let prefix: String

    public init(_ framework: Framework, prefix: String? = nil) {
        self.framework = framework
        self.prefix = prefix ?? framework.defaultPrefix
    }

    public var name: String { framework.name }
    public var label: String { "\(framework.title) (prefix \(prefix.isEmpty ? "none" : prefix))" }
    public var scanPattern: String {
        if framework.name == "rails" || framework.name == "rack" || framework.name == "rails-cache" {
            return Glob.escape(prefix) + "2::*"
        }
        return Glob.escape(prefix) + "*"
    }
    public var scanType: String? { framework.keyType }

    public func sessionID(forKey key: String) -> String? {
        guard key.hasPrefix(prefix), key.count > prefix.count else { return nil }
        let id = key.dropFirst(prefix.count)
        guard framework.idMatches(id), !(framework.name == "phpredis" && id.hasSuffix("_LOCK")) else { return nil }
        return String(id)
    }
    public func key(forID id: String) -> String { prefix + id }

    public func listCommands(key: String, id: String, reads: ListReads) -> [RedisCommand] {
        // Idle time before the read (a read resets it).
        [
            RedisCommand("PTTL", key), RedisCommand("OBJECT", "IDLETIME", key),
            framework.keyType == "hash" ? RedisCommand("HGETALL", key) : RedisCommand("GET", key),
        ]
    }

    public func parseListing(
        key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, reads: ListReads
    ) -> Session? {
        let r = Array(replies)
        guard r.count == 3 else { return nil }
        let ttl = Decode.int(r[0]) ?? -2
        guard ttl != -2 else { return nil }
        var session = Session(
            id: id, key: key, node: node, ttlMs: ttl, storeIdleMs: Decode.int(r[1]).map { $0 * 1000 }, schema: name)
        var raw: [UInt8]
        if framework.keyType == "hash" {
            let items = r[2].array ?? []
            var fields: [String: [UInt8]] = [:]
            var k = 0
            while k + 1 < items.count {
                fields[items[k].text ?? ""] = items[k + 1].bytes ?? []
                k += 2
            }
            guard let data = fields["data"] else { return nil }
            raw = data
            // .NET ticks (100 ns): the sliding timeout and the absolute deadline.
            if let sld = fields["sldexp"].flatMap({ Int64(String(decoding: $0, as: UTF8.self)) }), sld > 0 {
                session.maxInactiveSeconds = sld / 10_000_000
            }
        } else {
            guard let bytes = r[2].bytes else { return nil }
            raw = bytes
        }
        if reads.attributes { session.storedValue = raw }
        let tree: DecodedValue
        do { tree = try framework.value.decode(raw) } catch {
            session.attributes = [
                Attribute(name: "(value)", raw: raw, decoded: .undecodable("\(error)"), format: framework.format)
            ]
            return session
        }
        session.user = framework.value.user(tree)
        framework.value.times(tree, &session)
        if session.lastAccessedAtMs == nil, let max = session.maxInactiveSeconds, ttl >= 0 {
            session.lastAccessedAtMs = nowMs - Swift.max(0, max * 1000 - ttl)
        }
        if reads.attributes { session.attributes = framework.value.attributes(of: tree) }
        return session
    }

    /// Which framework a sampled key may belong to, with the prefix in use (Laravel's and
    /// ASP.NET's prefixes vary by version and configuration).
    static func candidate(forKey key: String) -> (Framework, String)? {
        for fw in Framework.all {
            switch fw.name {
            case "laravel":
                // `laravel_database_laravel_cache_:`, `..._cache_`, `laravel-database-laravel-cache-` + 40 chars.
                guard key.hasPrefix("laravel"), key.count > 40 else { continue }
                return (fw, String(key.dropLast(40)))
            case "aspnet":
                if UserSearch.isGUID(Substring(key)) { return (fw, String(key.dropLast(36))) }
            case "rails":
                if UserSearch.isRackPrivateID(Substring(key)) { return (fw, "") }
            default:
                if !fw.defaultPrefix.isEmpty, key.hasPrefix(fw.defaultPrefix),
                    FrameworkSchema(fw).sessionID(forKey: key) != nil
                {
                    return (fw, fw.defaultPrefix)
                }
            }
        }
        return nil
    }

    /// Whether a value's first bytes fit the framework's encoding.
    static func valueMatches(_ fw: Framework, head: [UInt8]) -> Bool { fw.value.headMatches(head) }

    public func deleteCommands(for s: Session) -> [RedisCommand] {
        [RedisCommand("DEL", arguments: [s.key] + framework.extraKeys(s.key))]
    }

    public func expireCommands(for s: Session, afterMs: Int64?) -> [RedisCommand] {
        [RedisCommand("PEXPIRE", s.key, max(1, afterMs ?? 1))]
    }
}
