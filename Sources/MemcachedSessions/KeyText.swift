import MemcachedClient

/// Memcached keys are bytes; sessions carry keys and ids as text. Printable UTF-8 keys stay
/// as they are; any other byte (control, space, `%`, invalid UTF-8) is written `%XX`, so
/// the text round-trips to the same key and never puts a raw control byte on a terminal.
enum KeyText {
    static func text(_ key: [UInt8]) -> String {
        if key.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) {
            return String(decoding: key, as: UTF8.self)
        }
        if let s = String(validating: key, as: UTF8.self),
            !s.unicodeScalars.contains(where: {
                $0.value < 0x21 || $0.value == 0x7F || $0 == "%" || ($0.value >= 0x80 && $0.value < 0xA0)
            })
        {
            return s
        }
        var out = ""
        for b in key {
            if b > 0x20 && b < 0x7F && b != UInt8(ascii: "%") {
                out.unicodeScalars.append(UnicodeScalar(b))
            } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// The key a text stands for: `%XX` decoded as memcached's own dump writes it.
    static func bytes(_ text: String) -> [UInt8] { MetaProtocol.percentDecode(ArraySlice(text.utf8)) }
}
