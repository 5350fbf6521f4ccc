import HouseStore
import SessionKit
import Testing

/// Each reply layout is written by the server and read by the clients through `Wire`:
/// what one side writes, the other reads back exactly.
@Suite struct WireTests {
    static func stored() -> StoredSession {
        StoredSession(
            HouseSession(
                id: "s-1", principal: "alice",
                attributes: [.init("cart", [0, 1, 2]), .init("lang", Array("en".utf8))],
                createdMs: 1_000, lastAccessMs: 5_000, maxInactiveMs: 60_000))
    }

    static func decode(_ bytes: [UInt8]) throws -> RESPReply? {
        var d = RESPReplyDecoder()
        d.append(bytes)
        return try d.next()
    }

    @Test func aSessionReadsBackAsWritten() throws {
        var w = RESPWriter()
        Wire.writeSession(Self.stored(), now: 10_000, into: &w)
        let reply = try #require(try Self.decode(w.bytes))
        let r = try #require(Wire.sessionReply(reply))
        #expect(r.id == "s-1" && r.principal == "alice" && r.createdMs == 1_000 && r.lastAccessMs == 5_000)
        #expect(r.maxInactiveMs == 60_000 && r.ttlMs == 55_000 && r.sizeBytes > 0)
        #expect(r.attributes.map(\.name) == ["cart", "lang"] && r.attributes[0].value == [0, 1, 2])
        #expect(Wire.sessionReply(.array([.bulk("x")])) == nil, "another shape is refused, not guessed")
    }

    @Test func scanRowsReadBackAsWritten() throws {
        let reply = Wire.scanReply(next: 42, rows: [Self.stored()], now: 10_000)
        let decoded = try #require(try Self.decode(reply.bytes))
        let (next, rows) = try #require(Wire.scanPage(decoded))
        #expect(next == "42" && rows.count == 1)
        #expect(
            rows[0]
                == Wire.ScanRow(
                    id: "s-1", principal: "alice", ttlMs: 55_000, idleMs: 5_000, createdMs: 1_000,
                    sizeBytes: rows[0].sizeBytes) && (rows[0].sizeBytes ?? 0) > 0)
    }

    @Test func clusterNodesAndEventsReadBackAsWritten() throws {
        let lines = [
            Wire.NodeLine(
                member: ClusterMember(id: "n1", host: "127.0.0.1", port: 7001), state: "myself,up", sessions: 12,
                share: 0.334),
            Wire.NodeLine(
                member: ClusterMember(id: "n2", host: "::1", port: 7002), state: "down", sessions: nil, share: 0.5),
        ]
        #expect(Wire.parseClusterNodes(Wire.clusterNodesText(lines)) == lines)
        let e = EngineEvent(kind: .migrated, id: "s\u{1B}1", principal: "bob", node: "n1", timeMs: 77, reason: "to n2")
        let back = try #require(Wire.event(Wire.eventJSON(e), node: "n1"))
        #expect(back.kind == .migrated && back.sessionID == "s\u{1B}1" && back.user == "bob" && back.timeMs == 77)
        #expect(back.target == "n2")
        let gap = try #require(Wire.event(Wire.gapJSON(missed: 9, node: "n\"2", timeMs: 5), node: "n2"))
        #expect(gap.kind == .gap && gap.detail?.contains("9 events missed") == true && gap.timeMs == 5)
    }
}
