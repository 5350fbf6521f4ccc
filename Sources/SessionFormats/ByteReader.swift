import SessionKit

/// Limits every decoder honours: nesting depth, values decoded, and the longest string or
/// collection a length field may announce. Untrusted input can claim anything.
public struct DecodeLimits: Sendable {
    public var maxDepth = 64
    public var maxNodes = 200_000
    public var maxLength = 16 << 20
    public init() {}
}

/// A value that could not be decoded: which format, why, and where.
public struct DecodeError: Error, CustomStringConvertible, Equatable {
    public var format: String
    public var message: String
    public var offset: Int
    public init(format: String, message: String, offset: Int) {
        self.format = format
        self.message = message
        self.offset = offset
    }
    public var description: String { "\(format): \(message) at byte \(offset)" }
}

/// A cursor over untrusted bytes shared by the decoders: every read is bounds-checked,
/// every value counted against the limits.
struct ByteReader {
    let bytes: [UInt8]
    var pos = 0
    let limits: DecodeLimits
    let format: String
    var nodes = 0

    init(_ bytes: [UInt8], format: String, limits: DecodeLimits) {
        self.bytes = bytes
        self.format = format
        self.limits = limits
    }

    var atEnd: Bool { pos >= bytes.count }
    var remaining: Int { bytes.count - pos }

    func fail(_ message: String, at offset: Int? = nil) -> DecodeError {
        DecodeError(format: format, message: message, offset: offset ?? pos)
    }

    /// Counts one decoded value and checks the depth it sits at.
    mutating func node(depth: Int) throws(DecodeError) {
        nodes += 1
        guard nodes <= limits.maxNodes else { throw fail("more than \(limits.maxNodes) values") }
        guard depth <= limits.maxDepth else { throw fail("nesting deeper than \(limits.maxDepth)") }
    }

    func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

    mutating func u8() throws(DecodeError) -> UInt8 {
        guard pos < bytes.count else { throw fail("unexpected end") }
        defer { pos += 1 }
        return bytes[pos]
    }

    mutating func take(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= limits.maxLength else { throw fail("length \(n) over the limit") }
        guard n <= remaining else { throw fail("length \(n) runs past the end (\(remaining) bytes left)") }
        defer { pos += n }
        return bytes[pos..<pos + n]
    }

    /// A length-prefixed count of elements: bounded by the limit and by what is left
    /// (each element takes at least `minBytes`), so a lying count cannot allocate.
    func checkedCount(_ n: Int, minBytes: Int = 1) throws(DecodeError) -> Int {
        guard n >= 0, n <= limits.maxLength, n <= remaining / max(1, minBytes) + 1 else {
            throw fail("count \(n) is impossible here (\(remaining) bytes left)")
        }
        return n
    }

    mutating func expect(_ byte: UInt8) throws(DecodeError) {
        let at = pos
        let b = try u8()
        guard b == byte else { throw fail("expected '\(Character(UnicodeScalar(byte)))', found byte \(b)", at: at) }
    }

    /// Unsigned big- or little-endian integer of `n` bytes.
    mutating func uint(_ n: Int, bigEndian: Bool) throws(DecodeError) -> UInt64 {
        let s = try take(n)
        var v: UInt64 = 0
        if bigEndian { for b in s { v = v << 8 | UInt64(b) } } else { for b in s.reversed() { v = v << 8 | UInt64(b) } }
        return v
    }

    /// Bytes up to (not including) `stop`, which is consumed.
    mutating func until(_ stop: UInt8, max: Int = 64) throws(DecodeError) -> ArraySlice<UInt8> {
        let start = pos
        while pos < bytes.count && bytes[pos] != stop {
            pos += 1
            guard pos - start <= max else { throw fail("field longer than \(max) bytes", at: start) }
        }
        guard pos < bytes.count else { throw fail("unexpected end", at: start) }
        defer { pos += 1 }
        return bytes[start..<pos]
    }
}

extension DecodedValue {
    /// Text when the bytes are valid UTF-8, else the bytes themselves (shown as hex).
    static func text(_ bytes: ArraySlice<UInt8>) -> DecodedValue {
        if let s = String(validating: bytes, as: UTF8.self) { return .string(s) }
        return .bytes(Array(bytes))
    }
}
