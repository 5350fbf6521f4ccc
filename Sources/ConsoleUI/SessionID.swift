/// A session id stored compactly: canonical UUIDs (Spring, most Java and .NET stacks) as
/// 16 bytes with no heap allocation; anything else as its string. A million listed rows
/// then cost no string buffer each.
public enum SessionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    case uuid(UInt64, UInt64)
    case text(String)

    public init(_ s: String) {
        if let (hi, lo) = SessionID.parseUUID(s) { self = .uuid(hi, lo) } else { self = .text(s) }
    }

    public var description: String {
        switch self {
        case .text(let s): return s
        case .uuid(let hi, let lo):
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            var out = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
            var k = 0
            for (word, range) in [(hi, 0..<16), (lo, 16..<32)] {
                for i in range {
                    if k == 8 || k == 13 || k == 18 || k == 23 { k += 1 }
                    out[k] = hex[Int((word >> UInt64(60 - 4 * (i - range.lowerBound))) & 0xF)]
                    k += 1
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Text order (for lowercase canonical UUIDs the numeric order is the text order, so no
    /// string is built when both are UUIDs).
    public static func < (a: SessionID, b: SessionID) -> Bool {
        switch (a, b) {
        case (.uuid(let ah, let al), .uuid(let bh, let bl)): return (ah, al) < (bh, bl)
        case (.text(let x), .text(let y)): return x < y
        default: return a.description < b.description
        }
    }

    /// Lowercase canonical `8-4-4-4-12` only, so that printing gives back the same text.
    static func parseUUID(_ s: String) -> (UInt64, UInt64)? {
        guard s.utf8.count == 36 else { return nil }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        var n = 0
        for (i, c) in s.utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            let v: UInt64
            switch c {
            case 48...57: v = UInt64(c - 48)
            case 97...102: v = UInt64(c - 87)
            default: return nil
            }
            if n < 16 { hi = hi << 4 | v } else { lo = lo << 4 | v }
            n += 1
        }
        return (hi, lo)
    }
}
