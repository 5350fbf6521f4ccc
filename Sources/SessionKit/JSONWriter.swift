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
                // Runs of plain ASCII are copied at once.
                let run = i
                while i < n, u[i] >= 0x20, u[i] < 0x7F, u[i] != 0x22, u[i] != 0x5C { i += 1 }
                if i > run { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: u[run..<i])) }
                guard i < n else { break }
                let b = u[i]
                switch b {
                case 0x22:
                    bytes.append(0x5C)
                    bytes.append(0x22)
                    i += 1
                case 0x5C:
                    bytes.append(0x5C)
                    bytes.append(0x5C)
                    i += 1
                case 0x0A:
                    bytes.append(0x5C)
                    bytes.append(UInt8(ascii: "n"))
                    i += 1
                case 0x0D:
                    bytes.append(0x5C)
                    bytes.append(UInt8(ascii: "r"))
                    i += 1
                case 0x09:
                    bytes.append(0x5C)
                    bytes.append(UInt8(ascii: "t"))
                    i += 1
                case 0x00..<0x20, 0x7F:
                    escapeU(UInt32(b))
                    i += 1
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
        bytes.append(0x5C)
        bytes.append(UInt8(ascii: "u"))
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
        if v >= 0 && v < 10 {
            bytes.append(0x30 + UInt8(v))
            return
        }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var m = v.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[19 - count] = 0x30 + UInt8(m % 10)
                m /= 10
                count += 1
            } while m > 0
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
        case .bytes(let b):
            raw("{\"hex\":")
            string(Sanitizer.hex(b))
            raw("}")
        case .list(let items):
            raw("[")
            for (n, item) in items.enumerated() {
                if n > 0 { raw(",") }
                value(item)
            }
            raw("]")
        case .map(let entries):
            fields(entries)
        case .object(let cls, let entries):
            raw("{\"@class\":")
            string(cls)
            for e in entries {
                raw(",")
                string(e.key)
                raw(":")
                value(e.value)
            }
            raw("}")
        case .undecodable(let why):
            raw("{\"@error\":")
            string(why)
            raw("}")
        }
    }

    private mutating func fields(_ entries: [DecodedValue.Entry]) {
        raw("{")
        for (n, e) in entries.enumerated() {
            if n > 0 { raw(",") }
            string(e.key)
            raw(":")
            value(e.value)
        }
        raw("}")
    }
}
