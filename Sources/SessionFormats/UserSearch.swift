import SessionKit

/// Helpers shared by the framework descriptions.
public enum UserSearch {
    public static let common = ["user", "username", "user_id", "userId", "UserId", "login", "email", "uid"]

    /// The first value under one of `keys`, searched breadth-first down to `depth`.
    public static func first(in v: DecodedValue, keys: [String], depth: Int = 3) -> String? {
        var level: [DecodedValue] = [v]
        for _ in 0...depth {
            var next: [DecodedValue] = []
            for node in level {
                let entries: [DecodedValue.Entry]
                switch node {
                case .map(let e), .object(_, let e): entries = e
                case .list(let items):
                    next += items
                    continue
                default: continue
                }
                for k in keys {
                    if let hit = entries.first(where: { $0.key == k }), let s = scalar(hit.value) { return s }
                }
                next += entries.map(\.value)
            }
            level = next
            if level.isEmpty { break }
        }
        return nil
    }

    public static func scalar(_ v: DecodedValue) -> String? {
        switch v {
        case .string(let s): return s.isEmpty ? nil : s
        case .int(let n): return String(n)
        case .list(let items): return items.first.flatMap(scalar)
        case .object(_, let fields):
            return first(in: .map(fields), keys: ["username", "name", "id", "email"], depth: 1)
        default: return nil
        }
    }

    /// Django's Redis cache stores integers as plain digits, everything else pickled.
    public static let pickleOrInt: @Sendable ([UInt8]) throws -> DecodedValue = { raw in
        if !raw.isEmpty, raw.count < 20, raw.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 || $0 == UInt8(ascii: "-") }),
            let n = Int64(String(decoding: raw, as: UTF8.self))
        {
            return .int(n)
        }
        return try Pickle.decode(raw)
    }

    public static let marshalOrJSON: @Sendable ([UInt8]) throws -> DecodedValue = { raw in
        RubyMarshal.looksLikeMarshal(raw) ? try RubyMarshal.decode(raw) : try JSONDecoding.decode(raw)
    }

    /// Warden keeps `warden.user.<scope>.key` = `[[id], salt]`.
    public static let warden: @Sendable (DecodedValue) -> String? = { v in
        if case .map(let entries) = v {
            for e in entries where e.key.hasPrefix("warden.user.") && e.key.hasSuffix(".key") {
                if let s = scalar(e.value) { return s }
            }
            if case .object(_, let fields) = v, let hit = fields.first(where: { $0.key.hasPrefix("warden.user.") }) {
                return scalar(hit.value)
            }
        }
        return first(in: v, keys: ["user_id", "user", "username"])
    }

    /// Rack's private session id: `2::` and the SHA-256 of the public id.
    public static let isRackPrivateID: @Sendable (Substring) -> Bool = { id in
        id.count == 67 && id.hasPrefix("2::") && id.dropFirst(3).allSatisfy(\.isHexDigit)
    }

    /// An ASP.NET session key ends with a GUID (`InstanceName` + GUID).
    public static let isGUID: @Sendable (Substring) -> Bool = { id in
        let g = id.suffix(36)
        guard g.count == 36 else { return false }
        for (i, c) in g.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != "-" { return false } } else if !c.isHexDigit { return false }
        }
        return true
    }

    public static let tokenValue: @Sendable ([UInt8]) throws -> DecodedValue = { raw in
        JWT.looksLikeJWT(raw)
            ? try JWT.decode(raw) : (String(validating: raw, as: UTF8.self).map { .string($0) } ?? .bytes(raw))
    }

    public static let jwtSubject: @Sendable (DecodedValue) -> String? = { v in
        if case .map(let claims)? = v["claims"],
            case .string(let sub)? = claims.first(where: { $0.key == "sub" })?.value
        {
            return sub
        }
        return nil
    }

    /// Printable runs of 4 or more bytes (what `strings` shows), at most 50.
    public static func strings(in raw: [UInt8]) -> [String] {
        var out: [String] = []
        var run: [UInt8] = []
        for b in raw + [0] {
            if b >= 0x20 && b < 0x7F {
                run.append(b)
                continue
            }
            if run.count >= 4 { out.append(String(decoding: run, as: UTF8.self)) }
            run.removeAll()
            if out.count >= 50 { break }
        }
        return out
    }
}
