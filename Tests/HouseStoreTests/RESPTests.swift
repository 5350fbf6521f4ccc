import Testing

@testable import HouseStore

@Suite struct RESPTests {
    func decodeAll(_ bytes: [UInt8], limits: RESPLimits = RESPLimits(), chunk: Int = .max) throws -> [[String]] {
        var d = RESPRequestDecoder(limits: limits)
        var out: [[String]] = []
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + chunk)
            d.append(bytes[i..<end])
            i = end
            while let req = try d.next() { out.append(req.map { String(decoding: $0, as: UTF8.self) }) }
        }
        return out
    }

    @Test func multibulkInlineAndPipelines() throws {
        let wire = Array(
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\nPING\r\nSESSION.PUT id1 60 \"with space\"\n*0\r\n\r\n"
                .utf8)
        let expected = [["SET", "k", ""], ["PING"], ["PING"], ["SESSION.PUT", "id1", "60", "with space"]]
        #expect(try decodeAll(wire) == expected)
        // Every split point gives the same requests: partial frames wait for more bytes.
        for chunk in [1, 2, 3, 7] { #expect(try decodeAll(wire, chunk: chunk) == expected) }
    }

    @Test func binaryValuesAreKept() throws {
        var wire = Array("*2\r\n$3\r\nSET\r\n$5\r\n".utf8)
        wire += [0x00, 0x0D, 0x0A, 0xFF, 0x1B]
        wire += Array("\r\n".utf8)
        var d = RESPRequestDecoder()
        d.append(wire)
        #expect(try d.next()?[1] == [0x00, 0x0D, 0x0A, 0xFF, 0x1B])
        #expect(d.pendingBytes == 0)
    }

    @Test func malformedShapesAreErrors() {
        let bad: [(String, String)] = [
            ("*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$'"),
            ("*x\r\n", "invalid multibulk length"),
            ("*1\r\n$-5\r\n", "invalid bulk length"),
            ("*1\r\n$3\r\nabcXY", "not terminated"),
            ("*1\r\n$abc\r\n", "invalid bulk length"),
            ("*99999999999999999999\r\n", "invalid multibulk length"),
            ("GET \"unclosed\r\n", "unbalanced quotes"),
        ]
        for (wire, message) in bad {
            var d = RESPRequestDecoder()
            d.append(Array(wire.utf8))
            do {
                _ = try d.next()
                Issue.record("\(wire.debugDescription) decoded")
            } catch {
                #expect(error.description.contains(message), "\(wire.debugDescription): \(error)")
            }
        }
    }

    @Test func limitsBoundBuffering() {
        var limits = RESPLimits()
        limits.maxBulkLength = 10
        limits.maxArrayLength = 3
        limits.maxInlineLength = 16
        for (wire, message) in [
            ("*1\r\n$11\r\n", "exceeds"), ("*4\r\n", "too many arguments"),
            (String(repeating: "A", count: 40), "inline request too long"),
        ] {
            var d = RESPRequestDecoder(limits: limits)
            d.append(Array(wire.utf8))
            #expect(throws: RESPProtocolError.self) { try d.next() }
            do { _ = try d.next() } catch { #expect(error.description.contains(message)) }
        }
        // A header line that never ends is refused, not buffered forever.
        var d = RESPRequestDecoder(limits: limits)
        d.append(Array(("*" + String(repeating: "1", count: 40)).utf8))
        #expect(throws: RESPProtocolError.self) { try d.next() }
    }

    @Test func repliesEncode() {
        let r = RESPReply.array([.ok, .integer(-3), .bulk("é"), .null, .error("ERR bad\r\nthing"), .array([])])
        #expect(
            String(decoding: r.bytes, as: UTF8.self)
                == "*6\r\n+OK\r\n:-3\r\n$2\r\né\r\n$-1\r\n-ERR bad  thing\r\n*0\r\n")
    }

    @Test func globs() {
        func m(_ s: String, _ p: String) -> Bool { globMatch(Array(s.utf8), Array(p.utf8)) }
        #expect(m("sess:abc", "sess:*") && m("abc", "a?c") && m("abc", "*") && m("abc", "[xa]bc") && m("a*c", "a\\*c"))
        #expect(!m("abc", "a?") && !m("abd", "a[xy]d") && !m("abc", "b*"))
    }
}

@Suite struct RESPSequenceTests {
    @Test func sequencesAreSeparateReplies() {
        let r = RESPReply.sequence([
            .array([.bulk("subscribe"), .bulk("a"), .integer(1)]),
            .array([.bulk("subscribe"), .bulk("b"), .integer(2)]),
        ])
        #expect(
            String(decoding: r.bytes, as: UTF8.self)
                == "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n")
    }
}

@Suite struct RESPViewTests {
    func request(_ args: String...) throws -> RESPRequest {
        var wire = Array("*\(args.count)\r\n".utf8)
        for a in args { wire += Array("$\(a.utf8.count)\r\n\(a)\r\n".utf8) }
        var d = RESPRequestDecoder()
        d.append(wire)
        return try #require(try d.nextRequest())
    }

    @Test func aLargeRequestsSpaceIsGivenBack() throws {
        var d = RESPRequestDecoder()
        let big = [UInt8](repeating: 0x61, count: 3 << 20)
        d.append(Array("*2\r\n$3\r\nSET\r\n$\(big.count)\r\n".utf8) + big + Array("\r\n".utf8))
        #expect(try d.nextRequest()?[1].count == big.count)
        #expect(d.bufferCapacity >= big.count)
        d.append(Array("*1\r\n$4\r\nPING\r\n".utf8))
        #expect(try d.nextRequest()?.text(0) == "PING")
        #expect(d.bufferCapacity < 1 << 20, "kept \(d.bufferCapacity) bytes after the large request")
    }

    @Test func integersParseStrictly() throws {
        let r = try request(
            "+5", "-0", "", "-", "12a", "9223372036854775807", "9223372036854775808", "-9223372036854775807", " 1",
            "007")
        #expect(r.integer(0) == 5 && r.integer(1) == 0)
        #expect(
            r.integer(2) == nil && r.integer(3) == nil && r.integer(4) == nil, "empty, a lone sign, trailing garbage")
        #expect(r.integer(5) == Int64.max && r.integer(6) == nil, "overflow is refused, not wrapped")
        #expect(r.integer(7) == -Int64.max && r.integer(8) == nil && r.integer(9) == 7)
    }

    @Test func keywordsMatchInAnyCaseAndArgumentsAreViews() throws {
        let r = try request("session.put", "ID", "attr", "AttR", "ATTRS", "Ättr")
        #expect(r.upperText(0) == "SESSION.PUT" && r.text(1) == "ID")
        #expect(r.is(2, "ATTR") && r.is(3, "ATTR") && !r.is(4, "ATTR") && !r.is(5, "ATTR"))
        let a = r.arguments
        #expect(a.count == 5 && a.text(0) == "ID" && Array(a[1]) == Array("attr".utf8))
    }

    @Test func theWriterEncodesEveryNumberExactly() throws {
        var w = RESPWriter()
        for v: Int64 in [0, 9, 10, -1, -10, 1_234_567_890, Int64.max, Int64.min] {
            w.integer(v)
            w.bulk(decimal: v)
        }
        var expected = ""
        for v: Int64 in [0, 9, 10, -1, -10, 1_234_567_890, Int64.max, Int64.min] {
            expected += ":\(v)\r\n$\(String(v).utf8.count)\r\n\(v)\r\n"
        }
        #expect(String(decoding: w.bytes, as: UTF8.self) == expected)
    }
}

@Suite struct StoredSessionTests {
    @Test func packingKeepsEveryAttributeAndItsSize() {
        // Lengths around the varint steps (1, 2 and 3 bytes), empty names and values, binary.
        var attributes: [HouseSession.Attribute] = []
        for (i, n) in [0, 1, 127, 128, 300, 16_383, 16_384, 70_000].enumerated() {
            attributes.append(
                .init(
                    String(repeating: "n", count: i == 0 ? 0 : n % 200),
                    (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        }
        attributes.append(.init("é", [0x00, 0x0D, 0x0A, 0x1B]))
        let s = HouseSession(
            id: "sess-1", principal: "alice", attributes: attributes, createdMs: 1, lastAccessMs: 2,
            maxInactiveMs: 1_800_000, absoluteDeadlineMs: 9_000_000)
        let stored = StoredSession(s)
        #expect(stored.session == s)
        #expect(stored.attributeCount == UInt32(attributes.count))
        #expect(stored.accountedBytes == s.accountedBytes)
        #expect(stored.deadlineMs == 1_800_002 && s.deadlineMs == 1_800_002)
        var none = s
        none.absoluteDeadlineMs = nil
        none.maxInactiveMs = -1
        #expect(StoredSession(none).deadlineMs == nil && StoredSession(none).session == none)
    }

    @Test func attributesChangeInPlaceLikeTheUnpackedForm() {
        var stored = StoredSession(id: "s", principal: nil, createdMs: 0, lastAccessMs: 0, maxInactiveMs: -1)
        var model: [HouseSession.Attribute] = []
        func name(_ s: String) -> ArraySlice<UInt8> { Array(s.utf8)[...] }
        // Values crossing the one- and two-byte length steps, a name set twice, removals.
        for (n, size) in [("a", 10), ("b", 127), ("a", 128), ("c", 0), ("b", 20_000), ("a", 5)] {
            let value = [UInt8](repeating: UInt8(size % 251), count: size)
            stored.setAttribute(name: name(n), value: value[...])
            if let i = model.firstIndex(where: { $0.name == n }) {
                model[i].value = value
            } else {
                model.append(.init(n, value))
            }
            #expect(stored.session.attributes == model, "after setting \(n) to \(size) bytes")
        }
        // A duplicate name (a migrated session may have one).
        stored.appendAttribute(name: name("a"), value: name("dup"))
        #expect(
            stored.removeAttribute(name: name("a")) && !stored.removeAttribute(name: name("a")), "every 'a' goes, once")
        model.removeAll { $0.name == "a" }
        #expect(stored.session.attributes == model && stored.attributeCount == UInt32(model.count))
        #expect(stored.accountedBytes == stored.session.accountedBytes)
    }
}
