import SessionKit

/// JSON Web Tokens: header and claims shown, `exp`/`iat`/`nbf` as times, `sub` understood.
/// The signature is **not verified** (the console has no key) and the result says so.
public enum JWT {
    /// `xxx.yyy.zzz` with base64url parts whose first decodes to a JSON object.
    public static func looksLikeJWT(_ bytes: [UInt8]) -> Bool {
        bytes.count > 20 && bytes.count < 1 << 16 && bytes.starts(with: Array("eyJ".utf8))
            && bytes.filter { $0 == UInt8(ascii: ".") }.count == 2
    }

    public struct Token: Sendable, Equatable {
        public var header: DecodedValue
        public var claims: DecodedValue
        public var subject: String?
        public var expiresAtMs: Int64?
        public var signatureBytes: Int
    }

    public static func parse(_ bytes: [UInt8]) throws(DecodeError) -> Token {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw DecodeError(
                format: "JWT", message: "expected three dot-separated parts, found \(parts.count)", offset: 0)
        }
        var offset = 0
        var decoded: [[UInt8]] = []
        for p in parts {
            guard let d = Base64URL.decode(p) else {
                throw DecodeError(format: "JWT", message: "a part is not base64url", offset: offset)
            }
            decoded.append(d)
            offset += p.count + 1
        }
        let header: DecodedValue
        let claims: DecodedValue
        do {
            header = try JSONDecoding.decode(decoded[0])
            claims = try JSONDecoding.decode(decoded[1])
        } catch { throw DecodeError(format: "JWT", message: "header or claims are not JSON: \(error)", offset: 0) }
        var sub: String? = nil
        if case .string(let s)? = claims["sub"] { sub = s }
        var exp: Int64? = nil
        if case .int(let e)? = claims["exp"] { exp = e.multipliedReportingOverflow(by: 1000).overflow ? nil : e * 1000 }
        return Token(header: header, claims: claims, subject: sub, expiresAtMs: exp, signatureBytes: decoded[2].count)
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> DecodedValue {
        let t = try parse(bytes)
        var claims: [DecodedValue.Entry] = []
        if case .map(let entries) = t.claims {
            for e in entries {
                if ["exp", "iat", "nbf", "auth_time"].contains(e.key), case .int(let s) = e.value,
                    !s.multipliedReportingOverflow(by: 1000).overflow
                {
                    claims.append(.init(e.key, .string("\(s) (\(ISOTime.format(ms: s * 1000)))")))
                } else {
                    claims.append(e)
                }
            }
        }
        return .object(
            className: "JWT",
            fields: [
                .init("header", t.header),
                .init("claims", claims.isEmpty ? t.claims : .map(claims)),
                .init("signature", .string("\(t.signatureBytes) bytes, NOT verified")),
            ])
    }
}

/// URL-safe base64 (`-_`; `+/` and padding accepted when reading), as JWTs and Django use it.
public enum Base64URL {
    public static func decode<S: Collection>(_ s: S) -> [UInt8]? where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(s.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in s {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }

    /// Without padding.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let chunk = bytes[i..<min(i + 3, bytes.count)]
            var n: UInt32 = 0
            for (k, b) in chunk.enumerated() { n |= UInt32(b) << UInt32(16 - 8 * k) }
            for k in 0...chunk.count { out.append(alphabet[Int(n >> UInt32(18 - 6 * k) & 63)]) }
            i += 3
        }
        return out
    }
}

/// The `data` field of an ASP.NET Core session (`DistributedSession`, serialization
/// revision 2): `02`, u24 entry count, the 16-byte session id, then per entry a u16 key
/// length, the UTF-8 key, a u32 value length and the value (strings are UTF-8; `SetInt32`
/// writes 4 big-endian bytes).
public enum AspNetSession {
    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(DecodeError)
        -> DecodedValue
    {
        var r = ByteReader(bytes, format: "ASP.NET session", limits: limits)
        let revision = try r.u8()
        guard revision == 2 else { throw r.fail("serialization revision \(revision) (2 is read)", at: 0) }
        let count = try r.checkedCount(Int(try r.uint(3, bigEndian: true)), minBytes: 6)
        let id = Array(try r.take(16))
        var entries: [DecodedValue.Entry] = []
        for _ in 0..<count {
            try r.node(depth: 1)
            let key = String(decoding: try r.take(Int(try r.uint(2, bigEndian: true))), as: UTF8.self)
            let value = try r.take(Int(try r.uint(4, bigEndian: true)))
            // 4 bytes that are not text are SetInt32's big-endian integer.
            entries.append(
                .init(
                    key,
                    value.count == 4 && !Sanitizer.looksLikeText(Array(value))
                        ? .int(Int64(Int32(bitPattern: value.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })))
                        : .text(value)))
        }
        guard r.atEnd else { throw r.fail("\(r.remaining) bytes after the last entry") }
        return .object(className: "ASP.NET session", fields: [.init("id", .string(AspNetSession.guid(id)))] + entries)
    }

    /// .NET's GUID text for its 16 bytes (the first three groups little-endian).
    static func guid(_ b: [UInt8]) -> String {
        func hex(_ s: [UInt8]) -> String { s.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        return hex(b[0..<4].reversed()) + "-" + hex(b[4..<6].reversed()) + "-" + hex(b[6..<8].reversed()) + "-"
            + hex(Array(b[8..<10])) + "-" + hex(Array(b[10..<16]))
    }
}
