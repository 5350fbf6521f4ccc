import SessionKit

/// Spring's most common values read by their fixed layouts, without the decoder.
extension JavaStream {
    private static let longPrefix = Array(serializedLong(0).dropLast(8))
    private static let integerPrefix = Array(serializedInteger(0).dropLast(4))

    /// The value of a serialized `java.lang.Long` or `Integer` written as a lone object
    /// (Spring's times), read by comparing the fixed layout: no decoder, no allocation.
    /// nil for anything else (the caller falls back to the full decoder).
    public static func fastNumber(_ b: [UInt8]) -> Int64? {
        if b.count == longPrefix.count + 8, hasPrefix(b, longPrefix) {
            var v: UInt64 = 0
            for i in longPrefix.count..<b.count { v = v << 8 | UInt64(b[i]) }
            return Int64(bitPattern: v)
        }
        if b.count == integerPrefix.count + 4, hasPrefix(b, integerPrefix) {
            var v: UInt32 = 0
            for i in integerPrefix.count..<b.count { v = v << 8 | UInt32(b[i]) }
            return Int64(Int32(bitPattern: v))
        }
        return nil
    }

    /// `starts(with:)` on two byte arrays without the generic sequence walk (a listing calls
    /// this twice per session).
    @inline(__always)
    static func hasPrefix(_ b: [UInt8], _ prefix: [UInt8]) -> Bool {
        guard b.count >= prefix.count else { return false }
        for i in 0..<prefix.count where b[i] != prefix[i] { return false }
        return true
    }

    /// A lone serialized ASCII `String` (TC_STRING), read without the decoder.
    public static func fastString(_ b: [UInt8]) -> String? {
        guard b.count >= 7, hasPrefix(b, magic), b[4] == JavaTypeCode.string,
            Int(b[5]) << 8 | Int(b[6]) == b.count - 7
        else { return nil }
        for i in 7..<b.count where b[i] == 0 || b[i] >= 0x80 { return nil }
        return String(decoding: b[7...], as: UTF8.self)
    }
}
