import Foundation
import SessionKit
import SessionOps
import Testing

@Suite struct SessionArchiveTests {
    @Test func aSessionRoundTripsByteForByteWithItsTTLAged() throws {
        var s = Session(
            id: "id\u{1B}[2J\u{202E}", key: "k:1", user: "ünï\u{0}", node: "n1", ttlMs: 60_000, createdAtMs: 5,
            lastAccessedAtMs: 6, maxInactiveSeconds: 1800, sizeBytes: 99, schema: "spring",
            attributes: [
                Attribute(name: "bin", raw: [0, 0xFF, 0xAC, 0xED], decoded: .bytes([0]), format: "binary"),
                Attribute(name: "text", raw: Array("hello".utf8), decoded: .string("hello"), format: "text"),
            ])
        s.storedValue = [1, 2, 3]
        let never = Session(id: "forever", key: "f", node: "n1", ttlMs: -1, schema: "prefix")
        let file =
            SessionArchive.headerLine(store: "redis://u:secret@h:1", nowMs: 1_000_000) + SessionArchive.line(s)
            + SessionArchive.line(never)
        #expect(!String(decoding: file, as: UTF8.self).contains("secret"), "the store name is redacted")
        #expect(!file.contains(0x1B), "control bytes are escaped in the file")
        let (header, sessions, expired) = try SessionArchive.read(file, nowMs: 1_010_000)
        #expect(header.version == 1 && header.exportedAtMs == 1_000_000 && expired.isEmpty)
        let back = try #require(sessions.first)
        #expect(back.id == s.id && back.user == s.user && back.key == s.key && back.schema == "spring")
        #expect(back.ttlMs == 50_000, "ten seconds passed since the export")
        #expect(back.createdAtMs == 5 && back.lastAccessedAtMs == 6 && back.maxInactiveSeconds == 1800)
        #expect(back.attributes.map(\.raw) == s.attributes.map(\.raw) && back.storedValue == [1, 2, 3])
        #expect(back.attributes[1].decoded == .string("hello"), "attributes are decoded again on import")
        #expect(sessions[1].ttlMs == -1)
        let (_, none, gone) = try SessionArchive.read(file, nowMs: 1_070_000)
        #expect(gone == [s.id] && none.map(\.id) == ["forever"])
    }

    @Test func badFilesNameTheLine() throws {
        let header = SessionArchive.headerLine(store: "x", nowMs: 0)
        let good = SessionArchive.line(Session(id: "a", key: "a", node: "n", ttlMs: -1, schema: "s"))
        let cases: [([UInt8], String)] = [
            ([], "line 1"), (Array("{}\n".utf8), "line 1"),
            (header + good + Array("{\"id\":1}\n".utf8), "line 3"), (header + good + good, "appears twice"),
            (
                Array(
                    String(decoding: header, as: UTF8.self).replacingOccurrences(
                        of: "\"version\":1", with: "\"version\":9"
                    ).utf8), "version 9"
            ),
        ]
        for (bytes, expected) in cases {
            do {
                _ = try SessionArchive.read(bytes, nowMs: 0)
                Issue.record("\(expected): read")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }
}
