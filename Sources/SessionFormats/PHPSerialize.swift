import SessionKit

/// PHP's `serialize()` format and the three session encodings built on it (`php`,
/// `php_binary`, `php_serialize`), read as data: objects become descriptions with their
/// class name, `__wakeup`/`__unserialize` never run because nothing runs at all.
public enum PHPSerialize {
    /// One serialized value; the input must end after it.
    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(DecodeError)
        -> DecodedValue
    {
        var p = PHPParser(ByteReader(bytes, format: "PHP serialize", limits: limits))
        let v = try p.value(depth: 0)
        guard p.r.atEnd else { throw p.r.fail("\(p.r.remaining) bytes after the value") }
        return v
    }

    /// A session string in any of PHP's encodings (tried in the order `php_serialize`,
    /// `php`, `php_binary`); a map of the session's variables.
    public static func decodeSession(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(DecodeError) -> (
        handler: String, value: DecodedValue
    ) {
        if bytes.first == UInt8(ascii: "a"), let v = try? decode(bytes, limits: limits), case .map = v {
            return ("php_serialize", v)
        }
        if bytes.first == UInt8(ascii: "a"), let v = try? decode(bytes, limits: limits), case .list(let items) = v {
            return ("php_serialize", .map(items.enumerated().map { .init(String($0.offset), $0.element) }))
        }
        if bytes.isEmpty { return ("php", .map([])) }
        do { return ("php", try sessionPairs(bytes, binary: false, limits: limits)) } catch {
            if let v = try? sessionPairs(bytes, binary: true, limits: limits) { return ("php_binary", v) }
            throw error
        }
    }

    /// `name|value name|value ...` (`php`) or `<len byte>name value ...` (`php_binary`).
    static func sessionPairs(_ bytes: [UInt8], binary: Bool, limits: DecodeLimits) throws(DecodeError) -> DecodedValue {
        var p = PHPParser(
            ByteReader(bytes, format: binary ? "PHP session (php_binary)" : "PHP session (php)", limits: limits))
        var entries: [DecodedValue.Entry] = []
        while !p.r.atEnd {
            let name: ArraySlice<UInt8>
            if binary {
                let len = Int(try p.r.u8())
                guard len < 128 else { throw p.r.fail("name length \(len)") }
                name = try p.r.take(len)
            } else {
                name = try p.r.until(UInt8(ascii: "|"), max: 4096)
            }
            guard !name.isEmpty else { throw p.r.fail("empty variable name") }
            entries.append(.init(String(decoding: name, as: UTF8.self), try p.value(depth: 1)))
            guard entries.count <= limits.maxNodes else { throw p.r.fail("too many variables") }
        }
        return .map(entries)
    }
}

struct PHPParser {
    var r: ByteReader
    /// Values in order, for `r:N;`/`R:N;` back references (1-based, keys excluded).
    var seen: [DecodedValue] = []

    init(_ r: ByteReader) { self.r = r }

    mutating func integer(until stop: UInt8) throws(DecodeError) -> Int64 {
        let at = r.pos
        let text = try r.until(stop, max: 24)
        // Parsed from the bytes (an optional sign, then digits; overflow is an error).
        var i = text.startIndex
        var negative = false
        if i < text.endIndex, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") {
            negative = text[i] == UInt8(ascii: "-")
            i += 1
        }
        var v: Int64 = 0
        var ok = i < text.endIndex
        while ok, i < text.endIndex {
            let d = text[i]
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else {
                ok = false
                break
            }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) =
                negative ? m.subtractingReportingOverflow(Int64(d - 48)) : m.addingReportingOverflow(Int64(d - 48))
            if o1 || o2 { ok = false }
            v = a
            i += 1
        }
        guard ok else { throw r.fail("'\(String(decoding: text, as: UTF8.self))' is not an integer", at: at) }
        return v
    }

    /// `"<len bytes>"`
    mutating func quoted(_ len: Int64) throws(DecodeError) -> ArraySlice<UInt8> {
        try r.expect(UInt8(ascii: "\""))
        let s = try r.take(Int(clamping: len))
        try r.expect(UInt8(ascii: "\""))
        return s
    }

    mutating func value(depth: Int) throws(DecodeError) -> DecodedValue {
        try r.node(depth: depth)
        let at = r.pos
        let tag = try r.u8()
        if tag == UInt8(ascii: "N") {
            try r.expect(UInt8(ascii: ";"))
            return remember(.null)
        }
        try r.expect(UInt8(ascii: ":"))
        switch tag {
        case UInt8(ascii: "b"):
            let v = try integer(until: UInt8(ascii: ";"))
            guard v == 0 || v == 1 else { throw r.fail("boolean \(v)", at: at) }
            return remember(.bool(v == 1))
        case UInt8(ascii: "i"): return remember(.int(try integer(until: UInt8(ascii: ";"))))
        case UInt8(ascii: "d"):
            let text = String(decoding: try r.until(UInt8(ascii: ";"), max: 64), as: UTF8.self)
            switch text {
            case "INF": return remember(.double(.infinity))
            case "-INF": return remember(.double(-.infinity))
            case "NAN": return remember(.double(.nan))
            default:
                guard let d = Double(text) else { throw r.fail("'\(text)' is not a number", at: at) }
                return remember(.double(d))
            }
        case UInt8(ascii: "s"):
            let s = try quoted(try integer(until: UInt8(ascii: ":")))
            try r.expect(UInt8(ascii: ";"))
            return remember(.text(s))
        case UInt8(ascii: "a"):
            let n = try r.checkedCount(Int(clamping: try integer(until: UInt8(ascii: ":"))), minBytes: 4)
            try r.expect(UInt8(ascii: "{"))
            let slot = reserve()
            var entries: [DecodedValue.Entry] = []
            var sequential = true
            for i in 0..<n {
                let key = try arrayKey(depth: depth + 1)
                if key != String(i) { sequential = false }
                entries.append(.init(key, try value(depth: depth + 1)))
            }
            try r.expect(UInt8(ascii: "}"))
            let v: DecodedValue = sequential ? .list(entries.map(\.value)) : .map(entries)
            seen[slot] = v
            return v
        case UInt8(ascii: "O"):
            let cls = String(decoding: try quoted(try integer(until: UInt8(ascii: ":"))), as: UTF8.self)
            try r.expect(UInt8(ascii: ":"))
            let n = try r.checkedCount(Int(clamping: try integer(until: UInt8(ascii: ":"))), minBytes: 4)
            try r.expect(UInt8(ascii: "{"))
            let slot = reserve()
            var fields: [DecodedValue.Entry] = []
            for _ in 0..<n {
                let key = PHPParser.propertyName(try arrayKey(depth: depth + 1))
                fields.append(.init(key, try value(depth: depth + 1)))
            }
            try r.expect(UInt8(ascii: "}"))
            let v = DecodedValue.object(className: cls, fields: fields)
            seen[slot] = v
            return v
        case UInt8(ascii: "C"):
            // A class with its own serialize(): the payload is opaque to PHP too; shown as
            // text (or decoded when it is itself serialized data).
            let cls = String(decoding: try quoted(try integer(until: UInt8(ascii: ":"))), as: UTF8.self)
            try r.expect(UInt8(ascii: ":"))
            let len = try integer(until: UInt8(ascii: ":"))
            try r.expect(UInt8(ascii: "{"))
            let payload = try r.take(Int(clamping: len))
            try r.expect(UInt8(ascii: "}"))
            var limits = r.limits
            limits.maxDepth = max(0, limits.maxDepth - depth - 1)
            let inner = (try? PHPSerialize.decode(Array(payload), limits: limits)) ?? .text(payload)
            return remember(.object(className: cls, fields: [.init("data", inner)]))
        case UInt8(ascii: "E"):
            let name = String(decoding: try quoted(try integer(until: UInt8(ascii: ":"))), as: UTF8.self)
            try r.expect(UInt8(ascii: ";"))
            let parts = name.split(separator: ":", maxSplits: 1)
            return remember(
                .object(
                    className: String(parts.first ?? ""),
                    fields: [.init("case", .string(parts.count > 1 ? String(parts[1]) : ""))]))
        case UInt8(ascii: "r"), UInt8(ascii: "R"):
            let n = try integer(until: UInt8(ascii: ";"))
            guard n >= 1, n <= Int64(seen.count) else {
                throw r.fail("reference to value \(n) of \(seen.count)", at: at)
            }
            let target = seen[Int(n - 1)]
            // Scalars are shown again; containers as a pointer (a copy could grow without bound).
            switch target {
            case .list, .map, .object: return remember(.string("<reference to value #\(n)>"))
            default: return remember(target)
            }
        default:
            throw r.fail("unknown type '\(Character(UnicodeScalar(tag)))'", at: at)
        }
    }

    /// Array keys are `i:N;` or `s:N:"...";` and do not count as values for references.
    mutating func arrayKey(depth: Int) throws(DecodeError) -> String {
        try r.node(depth: depth)
        let at = r.pos
        let tag = try r.u8()
        try r.expect(UInt8(ascii: ":"))
        switch tag {
        case UInt8(ascii: "i"): return String(try integer(until: UInt8(ascii: ";")))
        case UInt8(ascii: "s"):
            let s = try quoted(try integer(until: UInt8(ascii: ":")))
            try r.expect(UInt8(ascii: ";"))
            return String(decoding: s, as: UTF8.self)
        default: throw r.fail("array key of type '\(Character(UnicodeScalar(tag)))'", at: at)
        }
    }

    /// `\0*\0name` (protected) and `\0Class\0name` (private) become `name`.
    static func propertyName(_ raw: String) -> String {
        guard raw.hasPrefix("\0"), let end = raw.dropFirst().firstIndex(of: "\0") else { return raw }
        return String(raw[raw.index(after: end)...])
    }

    mutating func remember(_ v: DecodedValue) -> DecodedValue {
        seen.append(v)
        return v
    }
    mutating func reserve() -> Int {
        seen.append(.null)
        return seen.count - 1
    }
}
