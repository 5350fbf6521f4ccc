import RedisClient
import SessionKit

/// How one framework stores a whole session under one key (FORMATS.md): where the key is,
/// how the value is encoded, where the user is, what else belongs to the session. One
/// description per framework; `FrameworkSchema` does the Redis work for all of them.
public struct Framework: Sendable {
    /// The `--schema` name.
    public let name: String
    public let title: String
    public let defaultPrefix: String
    /// `string` values, or a `hash` (ASP.NET Core).
    public let keyType: String
    /// Extra check of the id part of a key (Rails ids are `2::` + 64 hex digits).
    let idMatches: @Sendable (Substring) -> Bool
    /// The value (or the hash's `data`) as a tree; errors are shown, never fatal.
    let decode: @Sendable ([UInt8]) throws -> DecodedValue
    let format: String
    /// The user, where the framework keeps one.
    let user: @Sendable (DecodedValue) -> String?
    /// Keys besides the session key that belong to it (locks).
    let extraKeys: @Sendable (String) -> [String]
    /// Times the value carries (Symfony's `_sf2_meta`).
    let times: @Sendable (DecodedValue, inout Session) -> Void

    init(name: String, title: String, prefix: String, keyType: String = "string", format: String,
         idMatches: @escaping @Sendable (Substring) -> Bool = { _ in true },
         decode: @escaping @Sendable ([UInt8]) throws -> DecodedValue,
         user: @escaping @Sendable (DecodedValue) -> String?,
         extraKeys: @escaping @Sendable (String) -> [String] = { _ in [] },
         times: @escaping @Sendable (DecodedValue, inout Session) -> Void = { _, _ in }) {
        self.name = name; self.title = title; self.defaultPrefix = prefix; self.keyType = keyType; self.format = format
        self.idMatches = idMatches; self.decode = decode; self.user = user; self.extraKeys = extraKeys; self.times = times
    }

    public static func named(_ name: String) -> Framework? { all.first { $0.name == name } }

    public static let all: [Framework] = [
        Framework(name: "phpredis", title: "PHP (phpredis session handler)", prefix: "PHPREDIS_SESSION:", format: "php-session",
                  decode: { try PHPSerialize.decodeSession($0).value },
                  user: { UserSearch.first(in: $0, keys: UserSearch.common) },
                  extraKeys: { [$0 + "_LOCK"] }),
        Framework(name: "laravel", title: "Laravel (redis session driver)", prefix: "laravel_database_laravel_cache_:", format: "php",
                  decode: { raw in
                      // The cache serializes the already serialized session array.
                      let outer = try PHPSerialize.decode(raw)
                      if case .string(let inner) = outer { return try PHPSerialize.decode(Array(inner.utf8)) }
                      return outer
                  },
                  user: { v in
                      if case .map(let entries) = v, let e = entries.first(where: { $0.key.hasPrefix("login_web_") }) { return UserSearch.scalar(e.value) }
                      return nil
                  }),
        Framework(name: "symfony", title: "Symfony (RedisSessionHandler)", prefix: "sf_s", format: "php-session",
                  decode: { try PHPSerialize.decodeSession($0).value },
                  user: { v in
                      // `_sf2_attributes._security_<firewall>` holds the serialized token.
                      guard let attrs = v["_sf2_attributes"], case .map(let entries) = attrs else { return nil }
                      for e in entries where e.key.hasPrefix("_security_") {
                          if case .string(let s) = e.value, let token = try? PHPSerialize.decode(Array(s.utf8)),
                             let u = UserSearch.first(in: token, keys: ["userIdentifier", "username", "identifier", "email", "user"], depth: 6) { return u }
                      }
                      return UserSearch.first(in: attrs, keys: UserSearch.common)
                  },
                  times: { v, s in
                      guard let meta = v["_sf2_meta"] else { return }
                      if case .int(let c)? = meta["c"] { s.createdAtMs = c * 1000 }
                      if case .int(let u)? = meta["u"] { s.lastAccessedAtMs = u * 1000 }
                      if case .int(let l)? = meta["l"], l > 0 { s.maxInactiveSeconds = l }
                  }),
        Framework(name: "django", title: "Django (cache sessions)", prefix: ":1:django.contrib.sessions.cache", format: "pickle",
                  // Session keys are [a-z0-9]: "d_db..." is the cached_db prefix's tail.
                  idMatches: { !$0.hasPrefix("d_db") },
                  decode: UserSearch.pickleOrInt, user: { UserSearch.first(in: $0, keys: ["_auth_user_id"]) }),
        Framework(name: "django-cached-db", title: "Django (cached_db sessions)", prefix: ":1:django.contrib.sessions.cached_db", format: "pickle",
                  decode: UserSearch.pickleOrInt, user: { UserSearch.first(in: $0, keys: ["_auth_user_id"]) }),
        Framework(name: "flask", title: "Flask-Session", prefix: "session:", format: "msgpack",
                  idMatches: { !$0.contains(":") },
                  decode: { raw in
                      if Pickle.looksLikePickle(raw) { return try Pickle.decode(raw) }
                      if raw.first == UInt8(ascii: "{") { return try JSONDecoding.decode(raw) }
                      return try MessagePack.decode(raw)
                  },
                  user: { UserSearch.first(in: $0, keys: ["_user_id", "user_id", "user", "username"]) }),
        Framework(name: "rails", title: "Rails (redis-session-store)", prefix: "", format: "marshal",
                  idMatches: UserSearch.isRackPrivateID, decode: UserSearch.marshalOrJSON, user: UserSearch.warden),
        Framework(name: "rack", title: "Rack (redis-rack)", prefix: "rack:session:", format: "marshal",
                  idMatches: UserSearch.isRackPrivateID, decode: UserSearch.marshalOrJSON, user: UserSearch.warden),
        Framework(name: "rails-cache", title: "Rails (cache store sessions)", prefix: "_session_id:", format: "marshal",
                  idMatches: UserSearch.isRackPrivateID, decode: UserSearch.marshalOrJSON, user: UserSearch.warden),
        Framework(name: "aspnet", title: "ASP.NET Core (StackExchangeRedis)", prefix: "", keyType: "hash", format: "aspnet",
                  idMatches: UserSearch.isGUID, decode: { try AspNetSession.decode($0) },
                  user: { UserSearch.first(in: $0, keys: ["UserName", "userName", "user", "username", "UserId", "userId"]) }),
        Framework(name: "go-redistore", title: "Go (gorilla redistore)", prefix: "session_", format: "gob",
                  decode: { raw in .object(className: "gob (not decoded)", fields: [.init("strings", .list(UserSearch.strings(in: raw).map { .string($0) }))]) },
                  user: { _ in nil }),
        Framework(name: "vapor", title: "Vapor (RedisSessions)", prefix: "vrs-", format: "json",
                  decode: { try JSONDecoding.decode($0) }, user: { UserSearch.first(in: $0, keys: UserSearch.common) }),
        Framework(name: "hummingbird", title: "Hummingbird (sessions)", prefix: "hbs.", format: "json",
                  decode: { try JSONDecoding.decode($0) }, user: { UserSearch.first(in: $0, keys: UserSearch.common) }),
        Framework(name: "jwt-denylist", title: "JWT deny list", prefix: "denylist:", format: "jwt", decode: UserSearch.tokenValue, user: UserSearch.jwtSubject),
        Framework(name: "jwt-allowlist", title: "JWT allow list", prefix: "allowlist:", format: "jwt", decode: UserSearch.tokenValue, user: UserSearch.jwtSubject),
    ]
}

/// Helpers shared by the framework descriptions.
enum UserSearch {
    static let common = ["user", "username", "user_id", "userId", "UserId", "login", "email", "uid"]

    /// The first value under one of `keys`, searched breadth-first down to `depth`.
    static func first(in v: DecodedValue, keys: [String], depth: Int = 3) -> String? {
        var level: [DecodedValue] = [v]
        for _ in 0...depth {
            var next: [DecodedValue] = []
            for node in level {
                let entries: [DecodedValue.Entry]
                switch node {
                case .map(let e), .object(_, let e): entries = e
                case .list(let items): next += items; continue
                default: continue
                }
                for k in keys { if let hit = entries.first(where: { $0.key == k }), let s = scalar(hit.value) { return s } }
                next += entries.map(\.value)
            }
            level = next
            if level.isEmpty { break }
        }
        return nil
    }

    static func scalar(_ v: DecodedValue) -> String? {
        switch v {
        case .string(let s): return s.isEmpty ? nil : s
        case .int(let n): return String(n)
        case .list(let items): return items.first.flatMap(scalar)
        case .object(_, let fields): return first(in: .map(fields), keys: ["username", "name", "id", "email"], depth: 1)
        default: return nil
        }
    }

    /// Django's Redis cache stores integers as plain digits, everything else pickled.
    static let pickleOrInt: @Sendable ([UInt8]) throws -> DecodedValue = { raw in
        if !raw.isEmpty, raw.count < 20, raw.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 || $0 == UInt8(ascii: "-") }), let n = Int64(String(decoding: raw, as: UTF8.self)) {
            return .int(n)
        }
        return try Pickle.decode(raw)
    }

    static let marshalOrJSON: @Sendable ([UInt8]) throws -> DecodedValue = { raw in
        RubyMarshal.looksLikeMarshal(raw) ? try RubyMarshal.decode(raw) : try JSONDecoding.decode(raw)
    }

    /// Warden keeps `warden.user.<scope>.key` = `[[id], salt]`.
    static let warden: @Sendable (DecodedValue) -> String? = { v in
        if case .map(let entries) = v {
            for e in entries where e.key.hasPrefix("warden.user.") && e.key.hasSuffix(".key") { if let s = scalar(e.value) { return s } }
            if case .object(_, let fields) = v, let hit = fields.first(where: { $0.key.hasPrefix("warden.user.") }) { return scalar(hit.value) }
        }
        return first(in: v, keys: ["user_id", "user", "username"])
    }

    /// Rack's private session id: `2::` and the SHA-256 of the public id.
    static let isRackPrivateID: @Sendable (Substring) -> Bool = { id in
        id.count == 67 && id.hasPrefix("2::") && id.dropFirst(3).allSatisfy(\.isHexDigit)
    }

    /// An ASP.NET session key ends with a GUID (`InstanceName` + GUID).
    static let isGUID: @Sendable (Substring) -> Bool = { id in
        let g = id.suffix(36)
        guard g.count == 36 else { return false }
        for (i, c) in g.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != "-" { return false } } else if !c.isHexDigit { return false }
        }
        return true
    }

    static let tokenValue: @Sendable ([UInt8]) throws -> DecodedValue = { raw in
        JWT.looksLikeJWT(raw) ? try JWT.decode(raw) : (String(validating: raw, as: UTF8.self).map { .string($0) } ?? .bytes(raw))
    }

    static let jwtSubject: @Sendable (DecodedValue) -> String? = { v in
        if case .map(let claims)? = v["claims"], case .string(let sub)? = claims.first(where: { $0.key == "sub" })?.value { return sub }
        return nil
    }

    /// Printable runs of 4 or more bytes (what `strings` shows), at most 50.
    static func strings(in raw: [UInt8]) -> [String] {
        var out: [String] = [], run: [UInt8] = []
        for b in raw + [0] {
            if b >= 0x20 && b < 0x7F { run.append(b); continue }
            if run.count >= 4 { out.append(String(decoding: run, as: UTF8.self)) }
            run.removeAll()
            if out.count >= 50 { break }
        }
        return out
    }
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
        if framework.name == "rails" || framework.name == "rack" || framework.name == "rails-cache" { return Glob.escape(prefix) + "2::*" }
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

    public func listCommands(key: String, id: String, withAttributes: Bool) -> [RedisCommand] {
        // Idle time before the read (a read resets it).
        [RedisCommand("PTTL", key), RedisCommand("OBJECT", "IDLETIME", key), RedisCommand("MEMORY", "USAGE", key),
         framework.keyType == "hash" ? RedisCommand("HGETALL", key) : RedisCommand("GET", key)]
    }

    public func parseListing(key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, withAttributes: Bool) -> Session? {
        let r = Array(replies)
        guard r.count == 4 else { return nil }
        let ttl = Decode.int(r[0]) ?? -2
        guard ttl != -2 else { return nil }
        var session = Session(id: id, key: key, node: node, ttlMs: ttl, storeIdleMs: Decode.int(r[1]).map { $0 * 1000 },
                              sizeBytes: Decode.int(r[2]), schema: name)
        var raw: [UInt8]
        if framework.keyType == "hash" {
            let items = r[3].array ?? []
            var fields: [String: [UInt8]] = [:]
            var k = 0
            while k + 1 < items.count { fields[items[k].text ?? ""] = items[k + 1].bytes ?? []; k += 2 }
            guard let data = fields["data"] else { return nil }
            raw = data
            // .NET ticks (100 ns): the sliding timeout and the absolute deadline.
            if let sld = fields["sldexp"].flatMap({ Int64(String(decoding: $0, as: UTF8.self)) }), sld > 0 { session.maxInactiveSeconds = sld / 10_000_000 }
        } else {
            guard let bytes = r[3].bytes else { return nil }
            raw = bytes
        }
        if withAttributes { session.storedValue = raw }
        let tree: DecodedValue
        do { tree = try framework.decode(raw) } catch {
            session.attributes = [Attribute(name: "(value)", raw: raw, decoded: .undecodable("\(error)"), format: framework.format)]
            return session
        }
        session.user = framework.user(tree)
        framework.times(tree, &session)
        if session.lastAccessedAtMs == nil, let max = session.maxInactiveSeconds, ttl >= 0 {
            session.lastAccessedAtMs = nowMs - Swift.max(0, max * 1000 - ttl)
        }
        if withAttributes {
            let entries: [DecodedValue.Entry]
            switch tree {
            case .map(let e): entries = e
            case .object(_, let e): entries = e
            default: entries = [.init("(value)", tree)]
            }
            session.attributes = entries.map { e in
                var w = JSONWriter(); w.value(e.value)
                return Attribute(name: e.key, raw: w.bytes, decoded: e.value, format: framework.format)
            }
        }
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
                if !fw.defaultPrefix.isEmpty, key.hasPrefix(fw.defaultPrefix), FrameworkSchema(fw).sessionID(forKey: key) != nil {
                    return (fw, fw.defaultPrefix)
                }
            }
        }
        return nil
    }

    /// Whether a value's first bytes fit the framework's encoding.
    static func valueMatches(_ fw: Framework, head: [UInt8]) -> Bool {
        guard let first = head.first else { return fw.format == "jwt" }
        switch fw.format {
        case "php-session": return head.contains(UInt8(ascii: "|")) || first == UInt8(ascii: "a") || first < 0x80
        case "php": return head.count >= 2 && head[1] == UInt8(ascii: ":")
        case "pickle": return Pickle.looksLikePickle(head) || head.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        case "msgpack": return (0x80...0x8F).contains(first) || first == 0xDE || first == 0xDF || first == UInt8(ascii: "{")
        case "marshal": return RubyMarshal.looksLikeMarshal(head) || first == UInt8(ascii: "{")
        case "aspnet": return first == 2
        case "json": return first == UInt8(ascii: "{")
        default: return true
        }
    }

    public func deleteCommands(for s: Session) -> [RedisCommand] {
        [RedisCommand("DEL", arguments: [s.key] + framework.extraKeys(s.key))]
    }

    public func expireCommands(for s: Session, afterMs: Int64?) -> [RedisCommand] {
        [RedisCommand("PEXPIRE", s.key, max(1, afterMs ?? 1))]
    }
}
