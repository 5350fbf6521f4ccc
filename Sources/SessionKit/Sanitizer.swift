/// Turns untrusted bytes from a store into text that is safe to put on a terminal.
///
/// - control characters (C0, DEL, C1) and so every escape sequence are shown escaped
///   (`\e`, `\n`, `\x07`, `\u{9b}`), never passed through;
/// - bidirectional overrides and other invisible format characters are shown as `\u{...}`,
///   so text cannot disguise itself;
/// - invalid UTF-8 is shown byte by byte as `\xNN`;
/// - a backslash is shown as `\\`, so the rendering is unambiguous;
/// - long values are cut, with the number of bytes left out.
public enum Sanitizer {
    /// Default cut for single values in tables and attribute views.
    public static let defaultLimit = 4096

    public static func display(_ bytes: some Collection<UInt8>, limit: Int = defaultLimit) -> String {
        var out = ""
        out.reserveCapacity(min(bytes.count, limit) + 8)
        var it = bytes.startIndex
        var shown = 0
        while it != bytes.endIndex {
            if shown >= limit {
                out += "…(+\(bytes.distance(from: it, to: bytes.endIndex)) bytes)"
                break
            }
            let (scalar, length) = decodeScalar(bytes, at: it)
            if let scalar {
                append(scalar, to: &out)
                it = bytes.index(it, offsetBy: length)
                shown += length
            } else {
                out += "\\x" + hex2(bytes[it])
                it = bytes.index(after: it)
                shown += 1
            }
        }
        return out
    }

    public static func display(_ text: String, limit: Int = defaultLimit) -> String {
        display(Array(text.utf8), limit: limit)
    }

    /// Whether the bytes are text worth showing as text (valid UTF-8, few controls).
    public static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        var controls = 0
        var i = 0
        while i < bytes.count {
            let (scalar, length) = decodeScalar(bytes, at: i)
            guard let s = scalar else { return false }
            if s.value < 0x20 && s.value != 0x0A && s.value != 0x09 && s.value != 0x0D { controls += 1 }
            i += length
        }
        return controls * 10 <= bytes.count
    }

    public static func hex(_ bytes: some Collection<UInt8>, limit: Int = defaultLimit) -> String {
        var out = ""
        for (n, b) in bytes.enumerated() {
            if n >= limit {
                out += "…(+\(bytes.count - n) bytes)"
                break
            }
            out += hex2(b)
        }
        return out
    }

    /// Classic hex dump lines: offset, 16 bytes in hex, the printable ASCII.
    public static func hexDump(_ bytes: [UInt8], limit: Int = 64 * 1024) -> [String] {
        var lines: [String] = []
        let n = min(bytes.count, limit)
        var off = 0
        while off < n {
            let row = bytes[off..<min(off + 16, n)]
            var line = String(off, radix: 16)
            line = String(repeating: "0", count: max(0, 8 - line.count)) + line + "  "
            for (i, b) in row.enumerated() { line += hex2(b) + (i == 7 ? "  " : " ") }
            line += String(repeating: " ", count: (16 - row.count) * 3 + (row.count <= 8 ? 1 : 0))
            line += " |" + String(row.map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." }) + "|"
            lines.append(line)
            off += 16
        }
        if bytes.count > n { lines.append("…(+\(bytes.count - n) bytes)") }
        return lines
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }

    private static func append(_ s: Unicode.Scalar, to out: inout String) {
        switch s.value {
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case 0x1B: out += "\\e"
        case 0x00..<0x20, 0x7F: out += "\\x" + hex2(UInt8(s.value))
        case 0x80..<0xA0: out += "\\u{" + String(s.value, radix: 16) + "}"
        // Bidi controls and invisible formatters that can make text lie about itself.
        case 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2069, 0xFEFF, 0xFFF9...0xFFFB:
            out += "\\u{" + String(s.value, radix: 16) + "}"
        default: out.unicodeScalars.append(s)
        }
    }

    /// Decodes one UTF-8 scalar strictly (no overlongs, no surrogates, ≤ U+10FFFF).
    static func decodeScalar<C: Collection<UInt8>>(_ b: C, at i: C.Index) -> (Unicode.Scalar?, Int) {
        let b0 = b[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        let need: Int
        var value: UInt32
        switch b0 {
        case 0xC2...0xDF:
            need = 1
            value = UInt32(b0 & 0x1F)
        case 0xE0...0xEF:
            need = 2
            value = UInt32(b0 & 0x0F)
        case 0xF0...0xF4:
            need = 3
            value = UInt32(b0 & 0x07)
        default: return (nil, 1)
        }
        var j = b.index(after: i)
        for _ in 0..<need {
            guard j != b.endIndex, b[j] & 0xC0 == 0x80 else { return (nil, 1) }
            value = value << 6 | UInt32(b[j] & 0x3F)
            j = b.index(after: j)
        }
        if need == 2 && value < 0x800 { return (nil, 1) }
        if need == 3 && (value < 0x10000 || value > 0x10FFFF) { return (nil, 1) }
        guard let s = Unicode.Scalar(value) else { return (nil, 1) }
        return (s, need + 1)
    }
}
