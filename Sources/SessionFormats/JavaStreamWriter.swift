import SessionKit

/// Writing what `ObjectOutputStream` writes, for the few values sessionctl stores itself
/// (Spring's times and principal index members, migration to Redis).
extension JavaStream {
    /// The bytes `ObjectOutputStream` writes for a lone `String` (what Spring's default
    /// serializer stores as set members): header, TC_STRING or TC_LONGSTRING, modified UTF-8.
    public static func serializedString(_ s: String) -> [UInt8] {
        var body: [UInt8] = []
        for unit in s.utf16 {
            switch unit {
            case 0x0001...0x007F: body.append(UInt8(unit))
            case 0x0000, 0x0080...0x07FF:
                body.append(0xC0 | UInt8(unit >> 6))
                body.append(0x80 | UInt8(unit & 0x3F))
            default:
                body.append(0xE0 | UInt8(unit >> 12))
                body.append(0x80 | UInt8((unit >> 6) & 0x3F))
                body.append(0x80 | UInt8(unit & 0x3F))
            }
        }
        var out = magic
        if body.count <= 0xFFFF {
            out.append(JavaTypeCode.string)
            out.append(UInt8(body.count >> 8))
            out.append(UInt8(body.count & 0xFF))
        } else {
            out.append(JavaTypeCode.longString)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8((UInt64(body.count) >> UInt64(shift)) & 0xFF))
            }
        }
        return out + body
    }

    /// `ObjectOutputStream` bytes of a `java.lang.Long` (what Spring stores for
    /// `creationTime` and `lastAccessedTime`).
    public static func serializedLong(_ v: Int64) -> [UInt8] {
        boxed(
            className: "java.lang.Long", suid: 0x3B8B_E490_CC8F_23DF, fieldType: "J",
            value: (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * Int64($0))) })
    }

    /// `ObjectOutputStream` bytes of a `java.lang.Integer` (`maxInactiveInterval`).
    public static func serializedInteger(_ v: Int32) -> [UInt8] {
        boxed(
            className: "java.lang.Integer", suid: 0x12E2_A0A4_F781_8738, fieldType: "I",
            value: (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * Int32($0))) })
    }

    private static func boxed(className: String, suid: UInt64, fieldType: Character, value: [UInt8]) -> [UInt8] {
        func utf(_ s: String) -> [UInt8] { [UInt8(s.utf8.count >> 8), UInt8(s.utf8.count & 0xFF)] + Array(s.utf8) }
        func u8(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
        var b = magic
        b += [JavaTypeCode.object, JavaTypeCode.classDesc] + utf(className) + u8(suid)
        b += [0x02, 0x00, 0x01, UInt8(ascii: fieldType.unicodeScalars.first ?? "J")] + utf("value")
        b += [JavaTypeCode.endBlockData, JavaTypeCode.classDesc] + utf("java.lang.Number") + u8(0x86AC_951D_0B94_E08B)
        b += [0x02, 0x00, 0x00, JavaTypeCode.endBlockData, JavaTypeCode.null]
        return b + value
    }
}
