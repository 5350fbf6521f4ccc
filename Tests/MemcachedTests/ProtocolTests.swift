import SessionFormats
import SessionKit
import Testing

@testable import MemcachedClient
@testable import MemcachedSessions

@Suite struct MemcachedProtocolTests {
    func line(_ s: String) -> ArraySlice<UInt8> { ArraySlice(Array(s.utf8)) }

    @Test func metadumpLinesAreReadLenientlyAndKeysPercentDecoded() {
        let item = MetaProtocol.dumpLine(
            line("key=memc.sess.key.a%20b%0A exp=1700000000 la=1699999000 cas=7 fetch=no cls=1 size=90 flags=0"))
        guard case .item(let i) = item else {
            Issue.record("not an item: \(item)")
            return
        }
        #expect(i.key == Array("memc.sess.key.a b\n".utf8))
        #expect(i.expiresAt == 1_700_000_000 && i.lastAccess == 1_699_999_000 && i.size == 90 && i.fetched == false)
        #expect(MetaProtocol.dumpLine(line("END")) == .end)
        #expect(MetaProtocol.dumpLine(line("BUSY currently processing crawler request")) == .busy)
        if case .refused = MetaProtocol.dumpLine(line("ERROR metadump not allowed")) {
        } else {
            Issue.record("a refusal")
        }
        // Truncated or odd lines: no key is malformed, a bad number is left unknown.
        if case .malformed = MetaProtocol.dumpLine(line("exp=1 la=2")) {} else { Issue.record("no key") }
        if case .item(let odd) = MetaProtocol.dumpLine(line("key=k exp=99999999999999999999999 size=-")) {
            #expect(odd.expiresAt == -1 && odd.size == nil)
        } else {
            Issue.record("a key with odd numbers is still an item")
        }
        // A stray `%` stays as it is.
        #expect(MetaProtocol.percentDecode(ArraySlice("100%".utf8)) == Array("100%".utf8))
        #expect(MetaProtocol.percentDecode(ArraySlice("%zz%4".utf8)) == Array("%zz%4".utf8))
    }

    @Test func watchLinesGiveEvictionsAndGaps() {
        let l = MetaProtocol.watchLine(
            line("ts=1700000000.5123 gid=9 type=eviction key=rack%3Asession%3Aab fetch=no ttl=10 la=3 clsid=1 size=70"))
        guard case .entry(let e) = l else {
            Issue.record("\(l)")
            return
        }
        // USEC is not zero-padded: .5123 is 5123 µs.
        #expect(e.timeUs == 1_700_000_000_005_123 && e.gid == 9 && e.type == "eviction")
        #expect(e.key == Array("rack:session:ab".utf8) && e.ttl == 10 && e.size == 70)
        #expect(MetaProtocol.watchLine(line("skipped=42")) == .skipped(42))
    }

    @Test func metaHeadersAndKeysThatNeedBase64() {
        let h = MetaProtocol.metaHeader(line("VA 5 t30 f1 s5 l2"))
        #expect(h?.code == "VA" && h?.valueLength == 5 && h?.int("t") == 30 && h?.int("f") == 1 && h?.int("l") == 2)
        #expect(MetaProtocol.metaHeader(line("EN"))?.code == "EN")
        #expect(MetaProtocol.metaHeader(line("VA -1")) == nil)
        #expect(MetaProtocol.metaHeader(line("garbage")) == nil)
        #expect(MetaProtocol.metaKey(Array("plain".utf8)).base64 == false)
        let spaced = MetaProtocol.metaKey(Array("a b\r\n".utf8))
        #expect(spaced.base64 && spaced.token == Array("YSBiDQo=".utf8))
        #expect(MetaProtocol.base64(Array("ab".utf8)) == Array("YWI=".utf8))
    }

    @Test func urlsParseNodesAndNeverShowThePassword() throws {
        let nodes = try MemcachedEndpoint.parse("memcached://ops:s%40cret@h1:11311,h2")
        #expect(nodes.map(\.nodeName) == ["h1:11311", "h2:11211"])
        #expect(nodes[0].user == "ops" && nodes[0].password == "s@cret")
        #expect(!nodes[0].description.contains("cret") && nodes[0].description.contains("***"))
        #expect(throws: MemcachedError.self) { try MemcachedEndpoint.parse("memcached://h1:notaport") }
        do {
            _ = try MemcachedEndpoint.parse("memcached://u:topsecret@h1:0")
            Issue.record("port 0 is invalid")
        } catch {
            #expect(!"\(error)".contains("topsecret"), "\(error)")
        }
    }

    @Test func keyTextRoundTripsAnyBytesAndShowsNoControlBytes() {
        let hostile: [[UInt8]] = [
            Array("plain.key".utf8), [0x00, 0x1B, 0x5B, 0x32, 0x4A], Array("50%".utf8), [0xFF, 0xFE, 0x41],
            Array("ünïcödé".utf8), [0xC2, 0x9B],
        ]
        for key in hostile {
            let text = KeyText.text(key)
            #expect(KeyText.bytes(text) == key, "\(text)")
            #expect(
                !text.unicodeScalars.contains {
                    $0.value < 0x20 || $0.value == 0x7F || (0x80..<0xA0).contains($0.value)
                })
        }
    }

    @Test func schemasClassifyKeysAndRejectUnknownNames() throws {
        let auto = MemcachedSchema.auto
        if case .session(let id, let l) = auto.classify("memc.sess.key.abc") {
            #expect(id == "abc" && l.name == "php-memcached")
        } else {
            Issue.record("php-memcached")
        }
        if case .other = auto.classify("memc.sess.key.lock.abc") {} else { Issue.record("a lock is not a session") }
        if case .other = auto.classify("validity:0123456789ABCDEF0123456789ABCDEF-n1") {
        } else {
            Issue.record("msm validity")
        }
        if case .other = auto.classify("bak:0123456789ABCDEF0123456789ABCDEF-n1") {} else { Issue.record("msm backup") }
        if case .session(_, let l) = auto.classify("0123456789ABCDEF0123456789ABCDEF-n1.route") {
            #expect(l.name == "msm")
        } else {
            Issue.record("msm")
        }
        if case .other = auto.classify("sid123.lock") {} else { Issue.record("pecl lock") }
        if case .maybe(_, let ls) = auto.classify("abcdef123") {
            #expect(ls.map(\.name) == ["express", "php-memcache"])
        } else {
            Issue.record("unprefixed keys need their value")
        }
        let pinned = try MemcachedSchema.parse("msm:app1.")
        #expect(pinned.layouts.count == 1 && pinned.layouts[0].prefix == "app1.")
        #expect(throws: (any Error).self) { try MemcachedSchema.parse("nosuch") }
    }

    @Test func msmValuesDecodeFromTheDocumentedLayout() throws {
        let value = MSMBuilder.session(
            id: "0123456789ABCDEF0123456789ABCDEF-n1", principal: "alice", created: 1_700_000_000_000,
            lastAccessed: 1_700_000_100_000, maxInactive: 1800, attributes: [("cart", "abc"), ("theme", "dark")])
        let (header, attributes) = try TomcatMSM.decode(value)
        #expect(
            header.principal == "alice" && header.creationTimeMs == 1_700_000_000_000
                && header.maxInactiveSeconds == 1800)
        #expect(attributes.map(\.name) == ["cart", "theme"] && attributes[0].decoded == .string("abc"))
        // Every truncation is an error, never a crash.
        for n in stride(from: 0, to: value.count, by: 3) { _ = try? TomcatMSM.decode(Array(value.prefix(n))) }
        let v = try #require(
            TomcatMSM.validity(MSMBuilder.validity(maxInactive: 1800, lastAccessed: 5, thisAccessed: 6)))
        #expect(v.maxInactiveSeconds == 1800 && v.thisAccessedMs == 6)
    }

    @Test func zlibInflatesAndRefusesGarbage() throws {
        #expect(throws: (any Error).self) { try Inflate.zlib([1, 2, 3, 4]) }
        // zlib.compress(b"hello hello hello") from Python.
        let compressed: [UInt8] = [
            0x78, 0x9C, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x57, 0xC8, 0x40, 0x90, 0x00, 0x3A, 0x2E, 0x06, 0x7D,
        ]
        #expect(try Inflate.zlib(compressed) == Array("hello hello hello".utf8))
        #expect(throws: (any Error).self) { try Inflate.zlib(Array(compressed.prefix(8))) }
    }
}

/// msm values built from memcached-session-manager's documented layout (STORES.md), not from
/// our decoder.
enum MSMBuilder {
    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func i32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    static func i64(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    static func javaString(_ s: String) -> [UInt8] { [0x74] + u16(s.utf8.count) + Array(s.utf8) }

    /// `java.lang.Integer` as ObjectOutputStream writes it (class descriptors for Integer and Number).
    static func javaInteger(_ v: Int32) -> [UInt8] {
        var b: [UInt8] = [0x73, 0x72] + u16(17) + Array("java.lang.Integer".utf8)
        b += [0x12, 0xE2, 0xA0, 0xA4, 0xF7, 0x81, 0x87, 0x38, 0x02] + u16(1) + [UInt8(ascii: "I")] + u16(5)
        b += Array("value".utf8) + [0x78]
        b += [0x72] + u16(16) + Array("java.lang.Number".utf8)
        b += [0x86, 0xAC, 0x95, 0x1D, 0x0B, 0x94, 0xE0, 0x8B, 0x02] + u16(0) + [0x78, 0x70]
        return b + i32(v)
    }

    static func session(
        id: String, principal: String?, created: Int64, lastAccessed: Int64, maxInactive: Int32,
        attributes: [(String, String)]
    ) -> [UInt8] {
        let principalBytes = principal.map { [0xAC, 0xED, 0x00, 0x05] + javaString($0) } ?? []
        var rest: [UInt8] =
            i64(created) + i64(lastAccessed) + i32(maxInactive) + [UInt8(ascii: "0"), UInt8(ascii: "1")]
        rest += i64(lastAccessed) + i64(0) + u16(id.utf8.count) + Array(id.utf8) + u16(0)
        rest += u16(principalBytes.count) + principalBytes + u16(0) + u16(0)
        let headerLength = 4 + rest.count
        var attrs: [UInt8] = [0xAC, 0xED, 0x00, 0x05] + javaInteger(Int32(attributes.count))
        for (k, v) in attributes { attrs += javaString(k) + javaString(v) }
        return u16(2) + u16(headerLength) + rest + attrs
    }

    static func validity(maxInactive: Int32, lastAccessed: Int64, thisAccessed: Int64) -> [UInt8] {
        i32(maxInactive) + i64(lastAccessed) + i64(thisAccessed)
    }
}
