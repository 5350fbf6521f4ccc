import SessionKit

/// Tomcat's memcached-session-manager (msm) session value: a big-endian header (times,
/// timeout, id, principal) and, from `headerLength` on, one Java serialization stream of
/// `Integer n` then n × (`String name`, value). Described, never instantiated.
public enum TomcatMSM {
    public struct Header: Sendable, Equatable {
        public var version: Int
        public var headerLength: Int
        public var creationTimeMs: Int64
        public var lastAccessedTimeMs: Int64
        public var maxInactiveSeconds: Int32
        public var isNew: Bool
        public var isValid: Bool
        public var thisAccessedTimeMs: Int64
        public var id: String
        public var principal: String?
    }

    /// The header alone (listings need no attributes).
    public static func header(_ b: [UInt8]) throws(DecodeError) -> Header {
        var r = Cursor(b)
        let version = Int(try r.u16())
        guard version == 1 || version == 2 else { throw r.fail("unknown msm version \(version)") }
        let headerLength = Int(try r.u16())
        guard headerLength <= b.count else { throw r.fail("header length \(headerLength) beyond the value") }
        let created = try r.i64()
        let lastAccessed = try r.i64()
        let maxInactive = Int32(bitPattern: try r.u32())
        let isNew = try r.u8()
        let isValid = try r.u8()
        let thisAccessed = try r.i64()
        _ = try r.i64()  // last backup time
        let idLength = Int(try r.u16())
        let id = try r.bytes(idLength)
        _ = try r.u16()  // auth type id
        let principalLength = Int(try r.u16())
        let principalBytes = try r.bytes(principalLength)
        var principal: String?
        if !principalBytes.isEmpty, let v = try? JavaStream.decode(principalBytes) {
            principal = v.principalName ?? Self.firstString(v)
        }
        return Header(
            version: version, headerLength: headerLength, creationTimeMs: created, lastAccessedTimeMs: lastAccessed,
            maxInactiveSeconds: maxInactive, isNew: isNew == 1 || isNew == UInt8(ascii: "1"),
            isValid: isValid == 1 || isValid == UInt8(ascii: "1"), thisAccessedTimeMs: thisAccessed,
            id: Sanitizer.display(id), principal: principal)
    }

    /// The header and the attributes (name, value, the bytes of the value in the stream).
    public static func decode(_ b: [UInt8]) throws(DecodeError) -> (header: Header, attributes: [Attribute]) {
        let h = try header(b)
        let body = Array(b[h.headerLength...])
        if body.isEmpty { return (h, []) }
        let contents: [(value: JavaValue, range: Range<Int>)]
        do { contents = try JavaStream.decodeAll(body) } catch {
            throw DecodeError(format: "msm", message: "attributes: \(error.description)", offset: h.headerLength)
        }
        guard let count = contents.first.flatMap({ Self.integer($0.value) }), count >= 0,
            contents.count == 1 + 2 * Int(count)
        else {
            throw DecodeError(
                format: "msm", message: "attributes: expected Integer n then n name/value pairs", offset: h.headerLength
            )
        }
        var attributes: [Attribute] = []
        var k = 1
        while k + 1 < contents.count {
            let name: String
            if case .string(let s) = contents[k].value { name = s } else { name = "(attribute \(k / 2))" }
            let value = contents[k + 1]
            attributes.append(
                Attribute(name: name, raw: Array(body[value.range]), decoded: value.value.decoded, format: "java"))
            k += 2
        }
        return (h, attributes)
    }

    /// The value format: attributes as the tree's entries, the header under `(msm)`.
    public static let value = SessionValueFormat(
        format: "msm",
        decode: { raw in
            let (h, attributes) = try decode(raw)
            var fields = attributes.map { DecodedValue.Entry($0.name, $0.decoded) }
            fields.append(.init(metaEntry, headerTree(h)))
            return .object(className: "msm session", fields: fields)
        },
        user: { tree in
            if case .string(let p)? = tree[metaEntry]?["principal"] { return p }
            return nil
        },
        times: { tree, s in
            guard let meta = tree[metaEntry] else { return }
            if case .int(let c)? = meta["creationTime"] { s.createdAtMs = c }
            if case .int(let t)? = meta["thisAccessedTime"] { s.lastAccessedAtMs = t }
            if case .int(let m)? = meta["maxInactiveInterval"] { s.maxInactiveSeconds = m }
        })

    /// The entry of the decoded tree that holds the header.
    public static let metaEntry = "(msm)"

    static func headerTree(_ h: Header) -> DecodedValue {
        var e: [DecodedValue.Entry] = [
            .init("version", .int(Int64(h.version))), .init("creationTime", .int(h.creationTimeMs)),
            .init("lastAccessedTime", .int(h.lastAccessedTimeMs)),
            .init("thisAccessedTime", .int(h.thisAccessedTimeMs)),
            .init("maxInactiveInterval", .int(Int64(h.maxInactiveSeconds))), .init("isNew", .bool(h.isNew)),
            .init("isValid", .bool(h.isValid)), .init("id", .string(h.id)),
        ]
        if let p = h.principal { e.append(.init("principal", .string(p))) }
        return .map(e)
    }

    /// msm's `validity:<id>` value: `i32 maxInactive, i64 lastAccessed ms, i64 thisAccessed ms`.
    public static func validity(_ b: [UInt8]) -> (
        maxInactiveSeconds: Int32, lastAccessedMs: Int64, thisAccessedMs: Int64
    )? {
        var r = Cursor(b)
        guard b.count >= 20, let m = try? r.u32(), let l = try? r.i64(), let t = try? r.i64() else { return nil }
        return (Int32(bitPattern: m), l, t)
    }

    /// Whether a key looks like an msm session id: hex, `-`, a node id, an optional `.jvmRoute`.
    public static func looksLikeSessionID(_ key: Substring) -> Bool {
        guard let dash = key.firstIndex(of: "-") else { return false }
        let hex = key[..<dash]
        let rest = key[key.index(after: dash)...]
        return hex.count >= 16 && hex.allSatisfy(\.isHexDigit) && !rest.isEmpty
            && rest.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }
    }

    static func integer(_ v: JavaValue) -> Int32? {
        switch v {
        case .int(let n): return n
        case .object(let o) where o.className == "java.lang.Integer":
            if case .int(let n)? = o.fields.last(where: { $0.name == "value" })?.value { return n }
            return nil
        default: return nil
        }
    }

    static func firstString(_ v: JavaValue) -> String? {
        switch v {
        case .string(let s): return s
        case .object(let o):
            for f in o.fields { if let s = firstString(f.value) { return s } }
            return nil
        default: return nil
        }
    }

    struct Cursor {
        let b: [UInt8]
        var i = 0
        init(_ b: [UInt8]) { self.b = b }
        func fail(_ m: String) -> DecodeError { DecodeError(format: "msm", message: m, offset: i) }
        mutating func u8() throws(DecodeError) -> UInt8 {
            guard i < b.count else { throw fail("unexpected end of the header") }
            defer { i += 1 }
            return b[i]
        }
        mutating func u16() throws(DecodeError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
        mutating func u32() throws(DecodeError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }
        mutating func i64() throws(DecodeError) -> Int64 {
            Int64(bitPattern: UInt64(try u32()) << 32 | UInt64(try u32()))
        }
        mutating func bytes(_ n: Int) throws(DecodeError) -> [UInt8] {
            guard n >= 0, n <= b.count - i else { throw fail("a length of \(n) beyond the value") }
            defer { i += n }
            return Array(b[i..<(i + n)])
        }
    }
}
