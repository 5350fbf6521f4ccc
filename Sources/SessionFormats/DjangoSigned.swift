import SessionKit

/// Django's signed session data (`django.core.signing`, Django 3.1 and later), as its `db`
/// and `file` backends store it: `payload:timestamp:signature`. The payload is URL-safe base64
/// without padding, a leading `.` marking zlib compression, of JSON (the default serializer).
/// Decoding needs no secret; the signature is only checked when the secret key is given
/// (elsewhere). Parses, never executes: a pickle payload is decoded by `Pickle` like the
/// cache backends'.
public enum DjangoSigned {
    public struct Parts: Sendable, Equatable {
        /// The serialized session (JSON or pickle bytes).
        public var payload: [UInt8]
        /// When it was signed (the last save), unix seconds.
        public var signedAtSeconds: Int64?
        public var compressed: Bool
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func split(_ text: String, limit: Int = 16 << 20) throws(Failure) -> Parts {
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count >= 3 else {
            throw Failure(description: "not Django signed data (expected payload:timestamp:signature)")
        }
        var payload = pieces[0]
        let compressed = payload.hasPrefix(".")
        if compressed { payload = payload.dropFirst() }
        guard var bytes = Base64URL.decode(payload.utf8) else {
            throw Failure(description: "the payload is not URL-safe base64")
        }
        if compressed {
            do { bytes = try Inflate.zlib(bytes, limit: limit) } catch {
                throw Failure(description: "the compressed payload: \(error)")
            }
        }
        return Parts(payload: bytes, signedAtSeconds: base62(pieces[pieces.count - 2]), compressed: compressed)
    }

    /// The session as a tree, with the format name (`json` or `pickle`).
    public static func decode(_ text: String) throws -> (tree: DecodedValue, format: String) {
        let parts = try split(text)
        if parts.payload.first == UInt8(ascii: "{") { return (try JSONDecoding.decode(parts.payload), "json") }
        return (try Pickle.decode(parts.payload), "pickle")
    }

    /// Django's base62 (`0-9A-Za-z`).
    static func base62(_ text: Substring) -> Int64? {
        var n: Int64 = 0
        for c in text.utf8 {
            let v: Int64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = Int64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = Int64(c - UInt8(ascii: "A")) + 10
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = Int64(c - UInt8(ascii: "a")) + 36
            default: return nil
            }
            let (m, o1) = n.multipliedReportingOverflow(by: 62)
            let (s, o2) = m.addingReportingOverflow(v)
            if o1 || o2 { return nil }
            n = s
        }
        return text.isEmpty ? nil : n
    }
}
