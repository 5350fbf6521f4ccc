import SessionFormats
import SessionKit
import TestSupport
import Testing

@Suite struct FilterTests {
    let now: Int64 = 1_800_000_000_000
    func session(
        id: String = "abc", user: String? = "alice", node: String = "n2", ttl: Int64 = 30_000,
        idleS: Int64 = 700, ageS: Int64 = 3600, size: Int64 = 900, attrs: [Attribute] = []
    ) -> Session {
        Session(
            id: id, key: "k:" + id, user: user, node: node, ttlMs: ttl, createdAtMs: now - ageS * 1000,
            lastAccessedAtMs: now - idleS * 1000, maxInactiveSeconds: 1800, sizeBytes: size, schema: "spring",
            attributes: attrs)
    }

    @Test func theIssueExampleMatches() throws {
        let f = try Filter("user=alice node=n2 ttl<60 idle>600 schema=spring attr.role~admin")
        #expect(f.needsAttributes)
        let admin = session(attrs: [Attribute(name: "role", raw: [], decoded: .string("super-ADMIN"), format: "text")])
        #expect(f.matches(admin, nowMs: now))
        #expect(
            !f.matches(
                session(attrs: [Attribute(name: "role", raw: [], decoded: .string("user"), format: "text")]), nowMs: now
            ))
        #expect(!f.matches(session(ttl: 61_000, attrs: admin.attributes), nowMs: now))
        #expect(!f.matches(session(idleS: 500, attrs: admin.attributes), nowMs: now))
        #expect(!f.matches(session(node: "n1", attrs: admin.attributes), nowMs: now))
    }

    @Test func operatorsUnitsAndWildcards() throws {
        let s = session()
        #expect(try Filter("user=al*").matches(s, nowMs: now))
        #expect(try !Filter("user=bo*").matches(s, nowMs: now))
        #expect(try Filter("user!=bob").matches(s, nowMs: now))
        #expect(try Filter("ttl<=30s ttl>=30000ms").matches(s, nowMs: now))
        #expect(try Filter("age>59m age<2h").matches(s, nowMs: now))
        #expect(try Filter("size<1k size>=900").matches(s, nowMs: now))
        #expect(try Filter("ALI").matches(s, nowMs: now), "a bare word matches id or user")
        #expect(try Filter("user='alice'").matches(s, nowMs: now))
        #expect(try Filter("id~B").matches(s, nowMs: now))
        #expect(try !Filter("user=alice").matches(session(user: nil), nowMs: now))
        #expect(
            try Filter("ttl>1d").matches(session(ttl: -1), nowMs: now), "never-expiring sessions have an infinite TTL")
        #expect(try Filter("user=alice").exactUser == "alice")
        #expect(try Filter("user=al*").exactUser == nil)
    }

    @Test func errorsAreClear() {
        #expect(throws: Filter.ParseError.self) { try Filter("colour=red") }
        #expect(throws: Filter.ParseError.self) { try Filter("ttl<soon") }
        #expect(throws: Filter.ParseError.self) { try Filter("user='alice") }
        #expect(throws: Filter.ParseError.self) { try Filter("=x") }
        do { _ = try Filter("colour=red") } catch { #expect(error.description.contains("colour")) }
    }
}

@Suite struct SanitizerTests {
    @Test func escapesControlsAndEscapeSequences() {
        let hostile = Array("\u{1B}]0;pwned\u{07}\u{1B}[2Jhi\r\n\t\\".utf8)
        let shown = Sanitizer.display(hostile)
        #expect(shown == "\\e]0;pwned\\x07\\e[2Jhi\\r\\n\\t\\\\")
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(Sanitizer.display([0xC2, 0x9B, 0x41]) == "\\u{9b}A", "C1 CSI is escaped")
        #expect(Sanitizer.display(Array("a\u{202E}b".utf8)) == "a\\u{202e}b", "bidi override is escaped")
    }

    @Test func invalidUTF8IsHexAndValidTextStays() {
        #expect(Sanitizer.display([0x66, 0xFF, 0xC3, 0x28, 0xE2, 0x82]) == "f\\xff\\xc3(\\xe2\\x82")
        #expect(Sanitizer.display(Array("Jörg €".utf8)) == "Jörg €")
        #expect(Sanitizer.display([0xC0, 0x80]) == "\\xc0\\x80", "overlong encodings are invalid")
    }

    @Test func longValuesAreCut() {
        let big = [UInt8](repeating: 0x41, count: 5 << 20)
        let shown = Sanitizer.display(big, limit: 100)
        #expect(shown.hasPrefix(String(repeating: "A", count: 100)))
        #expect(shown.hasSuffix("…(+\((5 << 20) - 100) bytes)"))
        #expect(shown.count < 200)
    }

    @Test func jsonWriterEscapesEveryControl() {
        var w = JSONWriter()
        w.string("a\u{1B}[2J\u{9B}\u{202E}\"\\\n")
        #expect(String(decoding: w.bytes, as: UTF8.self) == "\"a\\u001b[2J\\u009b\\u202e\\\"\\\\\\n\"")
    }
}

@Suite struct TextTests {
    @Test func durations() throws {
        #expect(try DurationText.milliseconds("90") == 90_000)
        #expect(try DurationText.milliseconds("1h30m") == 5_400_000)
        #expect(try DurationText.milliseconds("500ms") == 500)
        #expect(try DurationText.milliseconds("2d") == 172_800_000)
        #expect(throws: DurationText.ParseError.self) { try DurationText.milliseconds("5x") }
        #expect(throws: DurationText.ParseError.self) { try DurationText.milliseconds("") }
        #expect(throws: DurationText.ParseError.self) { try DurationText.milliseconds("99999999999999999999d") }
        #expect(DurationText.compact(ms: 245_000) == "4m05s")
        #expect(DurationText.compact(ms: -1) == "∞")
    }

    @Test func isoTimes() {
        #expect(ISOTime.format(ms: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISOTime.format(ms: 1_764_190_000_123) == "2025-11-26T20:46:40.123Z")
        #expect(ISOTime.format(ms: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
    }

    @Test func jsonDecoding() throws {
        let v = try JSONDecoding.decode(
            Array(
                #"{"cookie":{"originalMaxAge":86400000,"expires":"2026-01-01T00:00:00.000Z"},"passport":{"user":"alice"},"n":[1,2.5,true,null,"\u00e9\ud83d\ude00"]}"#
                    .utf8))
        #expect(v["passport"]?["user"] == .string("alice"))
        #expect(v["cookie"]?["originalMaxAge"] == .int(86_400_000))
        #expect(v["n"] == .list([.int(1), .double(2.5), .bool(true), .null, .string("é😀")]))
        #expect(throws: JSONDecoding.DecodeError.self) { try JSONDecoding.decode(Array("{\"a\":".utf8)) }
        #expect(throws: JSONDecoding.DecodeError.self) {
            try JSONDecoding.decode(Array(repeating: UInt8(ascii: "["), count: 100_000))
        }
    }
}

@Suite struct DeadlineHeapTests {
    @Test func popsInDeadlineOrder() {
        var h = DeadlineHeap<Int>()
        var rng = SplitMix(seed: 7)
        var pushed: [Int64] = []
        for i in 0..<500 {
            let d = Int64(rng.next() % 10_000)
            pushed.append(d)
            h.push(d, i)
        }
        var out: [Int64] = []
        while let top = h.popFirst() { out.append(top.deadline) }
        #expect(out == pushed.sorted())
        #expect(h.isEmpty && h.popFirst() == nil)
    }
}
