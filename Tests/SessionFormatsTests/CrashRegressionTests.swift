import SessionFormats
import SessionKit
import Testing

/// Inputs that trapped or overflowed the stack (found by a coverage-guided fuzzer, issue 18):
/// each must now give a clear error or a value, never a crash.
@Suite struct DecoderCrashRegressionTests {
    static let magic: [UInt8] = [0xAC, 0xED, 0x00, 0x05]

    static func utf(_ s: String) -> [UInt8] { [0, UInt8(s.utf8.count)] + Array(s.utf8) }

    @Test func aResetInsideAValueIsAnErrorNotAWritePastTheHandleTable() {
        // TC_ENUM with a class descriptor, then TC_RESET before the constant's name: the
        // enum's handle is gone when its value is stored.
        var b = Self.magic + [0x7E, 0x72] + Self.utf("E") + [UInt8](repeating: 0, count: 8)
        b += [0x12, 0x00, 0x00, 0x78, 0x70]  // flags, no fields, end of annotation, no super
        b += [0x79, 0x74] + Self.utf("X")  // TC_RESET, then the name
        #expect(throws: JavaStreamError.self) { try JavaStream.decode(b) }
    }

    @Test func aLongRunOfResetsNeitherRecursesNorHangs() throws {
        let b = Self.magic + [UInt8](repeating: 0x79, count: 150_000) + [0x74] + Self.utf("ok")
        do {
            let v = try JavaStream.decode(b)
            #expect(v.decoded == .string("ok"))
        } catch {
            #expect(error.description.contains("values"), "the only acceptable error is the value limit: \(error)")
        }
    }

    @Test func deeplyWrappedMarshalSymbolsHitTheDepthLimit() {
        // An object whose class symbol is wrapped in 50,000 encoding ivar wrappers.
        let b: [UInt8] =
            [4, 8, UInt8(ascii: "o")] + [UInt8](repeating: UInt8(ascii: "I"), count: 50_000) + [UInt8(ascii: ":"), 6]
            + Array("A".utf8)
        #expect(throws: DecodeError.self) { try RubyMarshal.decode(b) }
    }

    @Test func extremeMsgpackTimestampsDoNotTrap() throws {
        // ext 12 (0xc7 len 12), type -1: nanoseconds 999,999,999 and seconds Int64.max.
        let max: [UInt8] = [0xC7, 12, 0xFF, 0x3B, 0x9A, 0xC9, 0xFF] + [0x7F] + [UInt8](repeating: 0xFF, count: 7)
        let v = try MessagePack.decode(max)
        #expect(v != .null)
        // Seconds at Int64.max / 1000: the milliseconds fit, adding the nanoseconds did not.
        let edge = Int64.max / 1000
        let secs = (0..<8).map { UInt8(truncatingIfNeeded: edge >> (56 - 8 * Int64($0))) }
        let near = try MessagePack.decode([0xC7, 12, 0xFF, 0x3B, 0x9A, 0xC9, 0xFF] + secs)
        #expect(near != .null)
    }
}

@Suite struct TextCrashRegressionTests {
    @Test func timesFarOutsideTheCalendarAreShownNotTrapped() {
        #expect(ISOTime.format(ms: Int64.min).contains("out of range"))
        #expect(ISOTime.format(ms: Int64.max).contains("out of range"))
        #expect(ISOTime.format(ms: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISOTime.format(ms: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(ISOTime.format(ms: -62_167_219_200_000) == "0000-01-01T00:00:00.000Z")
    }

    @Test func hugeSizesAndDurationsAreParseErrors() {
        #expect(throws: Filter.ParseError.self) { try Filter("size>9223372036854775807M") }
        #expect(throws: DurationText.ParseError.self) {
            try DurationText.milliseconds("9223372036854775s9223372036854775s")
        }
        #expect(throws: Filter.ParseError.self) { try Filter("ttl<9223372036854775s9223372036854775s") }
        #expect((try? DurationText.milliseconds("1h30m")) == 5_400_000)
    }
}
