import SessionKit

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
        guard bytes.count <= limits.maxBytes else {
            throw DecodeError(message: "value larger than \(limits.maxBytes) bytes", offset: 0)
        }
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
                i += 1
                skipWS()
                var entries: [DecodedValue.Entry] = []
                if i < b.count, b[i] == UInt8(ascii: "}") {
                    i += 1
                    return .map(entries)
                }
                while true {
                    skipWS()
                    guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let k = try string()
                    skipWS()
                    guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipWS()
                    entries.append(.init(k, try value(depth: depth + 1)))
                    skipWS()
                    guard i < b.count else { throw fail("unexpected end in object") }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if b[i] == UInt8(ascii: "}") {
                        i += 1
                        return .map(entries)
                    }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                skipWS()
                var items: [DecodedValue] = []
                if i < b.count, b[i] == UInt8(ascii: "]") {
                    i += 1
                    return .list(items)
                }
                while true {
                    skipWS()
                    items.append(try value(depth: depth + 1))
                    skipWS()
                    guard i < b.count else { throw fail("unexpected end in array") }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if b[i] == UInt8(ascii: "]") {
                        i += 1
                        return .list(items)
                    }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
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
                if c >= 48 && c <= 57 {
                    i += 1
                } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                    || c == UInt8(ascii: "+") || c == UInt8(ascii: "-")
                {
                    isInt = false
                    i += 1
                } else {
                    break
                }
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
                if c == UInt8(ascii: "\"") {
                    i += 1
                    break
                }
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
                        if unit >= 0xD800 && unit < 0xDC00, i + 1 < b.count, b[i] == UInt8(ascii: "\\"),
                            b[i + 1] == UInt8(ascii: "u")
                        {
                            i += 2
                            let low = try hex4()
                            if low >= 0xDC00 && low < 0xE000 {
                                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                unit = 0xFFFD
                            }
                        }
                        let scalar = Unicode.Scalar(unit) ?? "\u{FFFD}"
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw fail("invalid escape")
                    }
                } else {
                    out.append(c)
                    i += 1
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
