import HouseStore
import Testing

/// The reply decoder sessiond's peers use: every reply the server writes reads back the
/// same, fed whole or a byte at a time; malformed input is an error, never a crash.
@Suite struct RESPReplyDecoderTests {
    static let samples: [RESPReply] = [
        .simple("OK"), .error("MOVED n2 127.0.0.1:7001"), .integer(-42), .integer(Int64.max), .bulk([0, 13, 10, 255]),
        .bulk([]), .null, .array([]), .array([.bulk("id"), .null, .integer(3), .array([.bulk("a"), .bulk("b")])]),
    ]

    @Test func repliesRoundTripWholeAndChunked() throws {
        var wire: [UInt8] = []
        for r in Self.samples { wire += r.bytes }
        var whole = RESPReplyDecoder()
        whole.append(wire)
        var got: [RESPReply] = []
        while let r = try whole.next() { got.append(r) }
        #expect(got == Self.samples && whole.pendingBytes == 0)
        var chunked = RESPReplyDecoder()
        var again: [RESPReply] = []
        for b in wire {
            chunked.append([b])
            while let r = try chunked.next() { again.append(r) }
        }
        #expect(again == Self.samples)
    }

    @Test func malformedRepliesAreErrors() {
        for bad in ["?x\r\n", ":12a\r\n", "$5\r\nabcdefg\r\n", "$-7\r\n", "*-3\r\n"] {
            var d = RESPReplyDecoder()
            d.append(Array(bad.utf8))
            #expect(throws: RESPProtocolError.self, "\(bad)") { _ = try d.next() }
        }
        var deep = RESPReplyDecoder(maxDepth: 4)
        deep.append(Array(String(repeating: "*1\r\n", count: 10).utf8) + Array(":1\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { _ = try deep.next() }
        var huge = RESPReplyDecoder()
        huge.append(Array("$999999999999\r\n".utf8))
        #expect(throws: RESPProtocolError.self) { _ = try huge.next() }
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("+-:$*\r\n0123456789-abc".utf8)
        for _ in 0..<3000 {
            var d = RESPReplyDecoder()
            d.append((0..<Int(next() % 40)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] })
            for _ in 0..<8 { if (try? d.next()) == nil { break } }
        }
    }
}

/// The inline limit is the same whether a line arrives whole or a byte at a time (a line one
/// byte over the limit was accepted whole and refused chunked).
@Suite struct InlineLimitTests {
    static func decode(_ line: [UInt8], chunked: Bool, limit: Int) -> Result<Int, RESPProtocolError> {
        var limits = RESPLimits()
        limits.maxInlineLength = limit
        var d = RESPRequestDecoder(limits: limits)
        var count = 0
        do {
            if chunked {
                for b in line {
                    d.append([b])
                    while let r = try d.next() { count += r.count }
                }
            } else {
                d.append(line)
                while let r = try d.next() { count += r.count }
            }
        } catch { return .failure(error) }
        return .success(count)
    }

    @Test func wholeAndChunkedAgreeAtTheLimit() {
        let limit = 64
        for length in [limit - 1, limit, limit + 1, limit + 2] {
            let body = Array("PING ".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: length - 5)
            let line = body + [0x0A]
            let whole = Self.decode(line, chunked: false, limit: limit)
            let chunked = Self.decode(line, chunked: true, limit: limit)
            switch (whole, chunked) {
            case (.success(let a), .success(let b)): #expect(a == b && length <= limit, "length \(length)")
            case (.failure, .failure): #expect(length > limit, "length \(length)")
            default: Issue.record("length \(length): whole \(whole), chunked \(chunked)")
            }
        }
    }
}
