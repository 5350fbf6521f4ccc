/// A small, strict JSON reader with limits, producing `DecodedValue`. Store bytes are
/// untrusted: depth, size and string length are bounded and errors say where they are.
public enum JSONDecoding {
    public struct Limits: Sendable {
        public var maxDepth = 64
        public var maxBytes = 16 << 20
        public init() {}
    }

    public struct DecodeError: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var offset: Int
        public var description: String { "JSON: \(message) at byte \(offset)" }
    }

    public static func decode(_ bytes: [UInt8], limits: Limits = Limits()) throws(DecodeError) -> DecodedValue {
        guard bytes.count <= limits.maxBytes else { throw DecodeError(message: "value larger than \(limits.maxBytes) bytes", offset: 0) }
        var p = Parser(b: bytes, i: 0, maxDepth: limits.maxDepth)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.i == bytes.count else { throw DecodeError(message: "trailing bytes", offset: p.i) }
        return v
    }

    private struct Parser {
        let b: [UInt8]
        var i: Int
        let maxDepth: Int

        mutating func skipWS() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        func fail(_ m: String) -> DecodeError { DecodeError(message: m, offset: i) }

        mutating func value(depth: Int) throws(DecodeError) -> DecodedValue {
            guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
            guard i < b.count else { throw fail("unexpected end") }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1; skipWS()
                var entries: [DecodedValue.Entry] = []
                if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .map(entries) }
                while true {
                    skipWS()
                    guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let k = try string()
                    skipWS()
                    guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1; skipWS()
                    entries.append(.init(k, try value(depth: depth + 1)))
                    skipWS()
                    guard i < b.count else { throw fail("unexpected end in object") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "}") { i += 1; return .map(entries) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1; skipWS()
                var items: [DecodedValue] = []
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
                while true {
                    skipWS()
                    items.append(try value(depth: depth + 1))
                    skipWS()
                    guard i < b.count else { throw fail("unexpected end in array") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return try number()
            }
        }

        mutating func literal(_ word: StaticString) throws(DecodeError) {
            let w = word.withUTF8Buffer { Array($0) }
            guard i + w.count <= b.count, Array(b[i..<i + w.count]) == w else { throw fail("invalid literal") }
            i += w.count
        }

        mutating func number() throws(DecodeError) -> DecodedValue {
            let start = i
            if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            var isInt = true
            while i < b.count {
                let c = b[i]
                if c >= 48 && c <= 57 { i += 1 }
                else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { isInt = false; i += 1 }
                else { break }
            }
            guard i > start else { throw fail("unexpected character") }
            let text = String(decoding: b[start..<i], as: UTF8.self)
            if isInt, let v = Int64(text) { return .int(v) }
            guard let d = Double(text) else { throw DecodeError(message: "invalid number", offset: start) }
            return .double(d)
        }

        mutating func string() throws(DecodeError) -> String {
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < b.count else { throw fail("unterminated escape") }
                    let e = b[i + 1]
                    i += 2
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var unit = try hex4()
                        if unit >= 0xD800 && unit < 0xDC00, i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                            i += 2
                            let low = try hex4()
                            if low >= 0xDC00 && low < 0xE000 {
                                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                            } else { unit = 0xFFFD }
                        }
                        let scalar = Unicode.Scalar(unit) ?? "\u{FFFD}"
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw fail("invalid escape")
                    }
                } else {
                    out.append(c); i += 1
                }
            }
            // Invalid UTF-8 inside JSON strings is kept visible rather than replaced.
            if let s = String(validating: out, as: UTF8.self) { return s }
            return Sanitizer.display(out, limit: Int.max)
        }

        mutating func hex4() throws(DecodeError) -> UInt32 {
            guard i + 4 <= b.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = b[i + k]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
            }
            i += 4
            return v
        }
    }
}

/// JSON text output, streaming-friendly: the writer appends to a byte buffer.
public struct JSONWriter {
    public var bytes: [UInt8] = []
    public init() { bytes.reserveCapacity(512) }

    public mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Writes a JSON string with the exact text. Control characters (C0, DEL, C1) and
    /// bidi/invisible formatters are `\u`-escaped, so the JSON text is safe on a terminal
    /// while a JSON reader still gets the exact value. Works on UTF-8 bytes (Swift strings
    /// are valid UTF-8): plain ASCII is copied as is.
    public mutating func string(_ s: String) {
        bytes.append(0x22)
        var s = s
        s.withUTF8 { u in
            var i = 0
            let n = u.count
            while i < n {
                let b = u[i]
                if b >= 0x20 && b < 0x7F && b != 0x22 && b != 0x5C { bytes.append(b); i += 1; continue }
                switch b {
                case 0x22: bytes.append(0x5C); bytes.append(0x22); i += 1
                case 0x5C: bytes.append(0x5C); bytes.append(0x5C); i += 1
                case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n")); i += 1
                case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r")); i += 1
                case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t")); i += 1
                case 0x00..<0x20, 0x7F: escapeU(UInt32(b)); i += 1
                default:
                    // Multi-byte: decode the scalar to spot C1 controls and invisible formatters.
                    let len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                    var v = UInt32(b) & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07)
                    for k in 1..<len where i + k < n { v = v << 6 | UInt32(u[i + k] & 0x3F) }
                    switch v {
                    case 0x80...0x9F, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2069, 0xFEFF: escapeU(v)
                    default: for k in 0..<len where i + k < n { bytes.append(u[i + k]) }
                    }
                    i += len
                }
            }
        }
        bytes.append(0x22)
    }

    private mutating func escapeU(_ v: UInt32) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        bytes.append(0x5C); bytes.append(UInt8(ascii: "u"))
        for shift in stride(from: 12, through: 0, by: -4) { bytes.append(hex[Int((v >> UInt32(shift)) & 0xF)]) }
    }

    /// An ISO 8601 UTC time string, written digit by digit.
    public mutating func time(ms: Int64) {
        bytes.append(0x22)
        bytes.append(contentsOf: ISOTime.format(ms: ms).utf8)
        bytes.append(0x22)
    }

    public mutating func optionalString(_ s: String?) { if let s { string(s) } else { raw("null") } }
    public mutating func int(_ v: Int64) {
        if v >= 0 && v < 10 { bytes.append(0x30 + UInt8(v)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var m = v.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[19 - count] = 0x30 + UInt8(m % 10); m /= 10; count += 1 } while m > 0
            if v < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: d[(20 - count)...])
        }
    }
    public mutating func optionalInt(_ v: Int64?) { if let v { int(v) } else { raw("null") } }
    public mutating func optionalTime(_ ms: Int64?) { if let ms { time(ms: ms) } else { raw("null") } }

    /// A decoded value as JSON. Strings from stores are sanitized first (escape sequences,
    /// invalid UTF-8), so that `jq -r` output cannot drive a terminal either.
    public mutating func value(_ v: DecodedValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .int(let i): int(i)
        case .double(let d): raw(d.isFinite ? String(d) : "null")
        case .string(let s): string(s)
        case .bytes(let b): raw("{\"hex\":"); string(Sanitizer.hex(b)); raw("}")
        case .list(let items):
            raw("[")
            for (n, item) in items.enumerated() { if n > 0 { raw(",") }; value(item) }
            raw("]")
        case .map(let entries):
            fields(entries)
        case .object(let cls, let entries):
            raw("{\"@class\":"); string(cls)
            for e in entries { raw(","); string(e.key); raw(":"); value(e.value) }
            raw("}")
        case .undecodable(let why):
            raw("{\"@error\":"); string(why); raw("}")
        }
    }

    private mutating func fields(_ entries: [DecodedValue.Entry]) {
        raw("{")
        for (n, e) in entries.enumerated() {
            if n > 0 { raw(",") }
            string(e.key); raw(":"); value(e.value)
        }
        raw("}")
    }
}
