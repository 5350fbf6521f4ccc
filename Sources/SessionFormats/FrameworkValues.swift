import SessionKit

/// What one framework's session value looks like, whatever store holds it: how the bytes
/// are encoded, where the user is, which times the value carries.
/// A store module pairs a value format with its own key layout (prefix, key type, locks).
public struct SessionValueFormat: Sendable {
    /// The encoding's short name, shown in listings (`php-session`, `pickle`, `marshal`...).
    public let format: String
    /// The value as a tree; errors are shown, never fatal.
    public let decode: @Sendable ([UInt8]) throws -> DecodedValue
    /// The user, where the framework keeps one.
    public let user: @Sendable (DecodedValue) -> String?
    /// Times the value carries (Symfony's `_sf2_meta`).
    public let times: @Sendable (DecodedValue, inout Session) -> Void

    public init(
        format: String, decode: @escaping @Sendable ([UInt8]) throws -> DecodedValue,
        user: @escaping @Sendable (DecodedValue) -> String?,
        times: @escaping @Sendable (DecodedValue, inout Session) -> Void = { _, _ in }
    ) {
        self.format = format
        self.decode = decode
        self.user = user
        self.times = times
    }

    /// Whether a value's first bytes fit this encoding (detection's cheap confirmation).
    public func headMatches(_ head: [UInt8]) -> Bool {
        guard let first = head.first else { return format == "jwt" }
        switch format {
        case "php-session": return head.contains(UInt8(ascii: "|")) || first == UInt8(ascii: "a") || first < 0x80
        case "php": return head.count >= 2 && head[1] == UInt8(ascii: ":")
        case "pickle": return Pickle.looksLikePickle(head) || head.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        case "msgpack":
            return (0x80...0x8F).contains(first) || first == 0xDE || first == 0xDF || first == UInt8(ascii: "{")
        case "marshal": return RubyMarshal.looksLikeMarshal(head) || first == UInt8(ascii: "{")
        case "aspnet": return first == 2
        case "json": return first == UInt8(ascii: "{")
        default: return true
        }
    }

    /// The value's top-level entries as attributes (each re-encoded as JSON for `raw`).
    public func attributes(of tree: DecodedValue) -> [Attribute] {
        let entries: [DecodedValue.Entry]
        switch tree {
        case .map(let e): entries = e
        case .object(_, let e): entries = e
        default: entries = [.init("(value)", tree)]
        }
        return entries.map { e in
            var w = JSONWriter()
            w.value(e.value)
            return Attribute(name: e.key, raw: w.bytes, decoded: e.value, format: format)
        }
    }
}

/// The value formats of the frameworks we know, one each.
public enum FrameworkValues {
    /// PHP's native session encoding (`php` serialize_handler), as phpredis, memcached and
    /// Symfony's handlers write it.
    public static let phpSession = SessionValueFormat(
        format: "php-session", decode: { try PHPSerialize.decodeSession($0).value },
        user: { UserSearch.first(in: $0, keys: UserSearch.common) })

    /// Laravel's cache driver serializes the already serialized session array.
    public static let laravelCache = SessionValueFormat(
        format: "php",
        decode: { raw in
            let outer = try PHPSerialize.decode(raw)
            if case .string(let inner) = outer { return try PHPSerialize.decode(Array(inner.utf8)) }
            return outer
        },
        user: laravelUser)

    /// Laravel keeps the user id under `login_web_<sha1>`.
    public static let laravelUser: @Sendable (DecodedValue) -> String? = { v in
        if case .map(let entries) = v, let e = entries.first(where: { $0.key.hasPrefix("login_web_") }) {
            return UserSearch.scalar(e.value)
        }
        return nil
    }

    /// Symfony: the PHP session encoding with `_sf2_attributes` and `_sf2_meta`.
    public static let symfony = SessionValueFormat(
        format: "php-session", decode: { try PHPSerialize.decodeSession($0).value },
        user: { v in
            // `_sf2_attributes._security_<firewall>` holds the serialized token.
            guard let attrs = v["_sf2_attributes"], case .map(let entries) = attrs else { return nil }
            let tokenKeys = ["userIdentifier", "username", "identifier", "email", "user"]
            for e in entries where e.key.hasPrefix("_security_") {
                if case .string(let s) = e.value, let token = try? PHPSerialize.decode(Array(s.utf8)),
                    let u = UserSearch.first(in: token, keys: tokenKeys, depth: 6)
                {
                    return u
                }
            }
            return UserSearch.first(in: attrs, keys: UserSearch.common)
        },
        times: { v, s in
            guard let meta = v["_sf2_meta"] else { return }
            if case .int(let c)? = meta["c"] { s.createdAtMs = c * 1000 }
            if case .int(let u)? = meta["u"] { s.lastAccessedAtMs = u * 1000 }
            if case .int(let l)? = meta["l"], l > 0 { s.maxInactiveSeconds = l }
        })

    /// Django's cache sessions: a pickled dict (integers stored as digits by Redis caches).
    public static let django = SessionValueFormat(
        format: "pickle", decode: UserSearch.pickleOrInt, user: { UserSearch.first(in: $0, keys: ["_auth_user_id"]) })

    /// Flask-Session: msgpack (0.8), pickle (older) or JSON.
    public static let flask = SessionValueFormat(
        format: "msgpack",
        decode: { raw in
            if Pickle.looksLikePickle(raw) { return try Pickle.decode(raw) }
            if raw.first == UInt8(ascii: "{") { return try JSONDecoding.decode(raw) }
            return try MessagePack.decode(raw)
        },
        user: { UserSearch.first(in: $0, keys: ["_user_id", "user_id", "user", "username"]) })

    /// Rails and Rack: Ruby Marshal (or the JSON serializer), the user under Warden's key.
    public static let rails = SessionValueFormat(
        format: "marshal", decode: UserSearch.marshalOrJSON, user: UserSearch.warden)

    /// ASP.NET Core's distributed session blob.
    public static let aspnet = SessionValueFormat(
        format: "aspnet", decode: { try AspNetSession.decode($0) },
        user: { UserSearch.first(in: $0, keys: ["UserName", "userName", "user", "username", "UserId", "userId"]) })

    /// Go's gob is not decoded: its printable strings are shown.
    public static let gob = SessionValueFormat(
        format: "gob",
        decode: { raw in
            .object(
                className: "gob (not decoded)",
                fields: [.init("strings", .list(UserSearch.strings(in: raw).map { .string($0) }))])
        },
        user: { _ in nil })

    /// A JSON object (Vapor, Hummingbird, express).
    public static let json = SessionValueFormat(
        format: "json", decode: { try JSONDecoding.decode($0) },
        user: { UserSearch.first(in: $0, keys: UserSearch.common) })

    /// A JWT kept in an allow or deny list.
    public static let jwt = SessionValueFormat(
        format: "jwt", decode: UserSearch.tokenValue, user: UserSearch.jwtSubject)
}
