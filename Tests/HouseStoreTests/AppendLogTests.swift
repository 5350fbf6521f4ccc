import Foundation
import Testing

@testable import HouseStore

@Suite struct AppendLogTests {
    func tempLog() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("aof-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("sessiond.aof").path
    }

    @Test func replayRebuildsTheSessions() throws {
        let path = try tempLog()
        let log = try AppendLog(path: path, policy: .always)
        var e = SessionEngine(node: "n1")
        e.put(
            id: "a", maxInactiveMs: 60_000, principal: "alice", attributes: [.init("cart", [0, 0xFF, 0x0D, 0x0A])],
            now: 1_000)
        e.put(id: "b", maxInactiveMs: -1, principal: nil, attributes: [], absoluteDeadlineMs: 500_000, now: 1_000)
        e.put(id: "c", maxInactiveMs: 60_000, principal: "carol", attributes: [], now: 1_000)
        for id in ["a", "b", "c"] { log.logPut(e.get(id, now: 1_000, touch: false).0!) }
        _ = e.get("a", now: 5_000, touch: true)
        log.logTouch("a", at: 5_000)
        _ = e.delete(["c"], now: 6_000)
        log.logDelete("c")
        try log.commit()
        var r = SessionEngine(node: "n1")
        let report = try AppendLog.replay(path: path, into: &r, now: 7_000)
        #expect(report.records == 5 && report.sessions == 2 && report.truncatedBytes == 0)
        #expect(r.get("a", now: 7_000, touch: false).0 == e.get("a", now: 7_000, touch: false).0)
        #expect(r.get("b", now: 7_000, touch: false).0?.absoluteDeadlineMs == 500_000)
        #expect(r.sessions(of: "alice") == ["a"] && r.sessions(of: "carol").isEmpty)
        #expect(r.checkConsistency().isEmpty)
    }

    @Test func aTornTailIsTruncatedAndReported() throws {
        let path = try tempLog()
        let log = try AppendLog(path: path, policy: .no)
        log.logPut(
            HouseSession(id: "ok", principal: nil, attributes: [], createdMs: 0, lastAccessMs: 0, maxInactiveMs: -1))
        try log.commit()
        let goodSize = log.size
        // A crash in the middle of the next record.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile()
        h.write(Data("*8\r\n$7\r\nLOG.PUT\r\n$4\r\nhalf".utf8))
        try h.close()
        var r = SessionEngine(node: "n1")
        let report = try AppendLog.replay(path: path, into: &r, now: 1)
        #expect(report.sessions == 1 && report.truncatedBytes > 0)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
        #expect(size == goodSize, "the file ends at the last complete record")
        // Garbage instead of a record: also a tail, not a refusal to start.
        try Data("not resp at all\r\n".utf8).append(to: path)
        var fresh = SessionEngine(node: "n1")
        let again = try AppendLog.replay(path: path, into: &fresh, now: 1)
        #expect(again.sessions == 1 && again.truncatedBytes > 0)
    }

    @Test func sessionsPastTheirDeadlineAreDroppedAndReported() throws {
        let path = try tempLog()
        let log = try AppendLog(path: path, policy: .no)
        log.logPut(
            HouseSession(id: "old", principal: nil, attributes: [], createdMs: 0, lastAccessMs: 0, maxInactiveMs: 1_000)
        )
        log.logPut(
            HouseSession(
                id: "new", principal: nil, attributes: [], createdMs: 0, lastAccessMs: 0, maxInactiveMs: 100_000))
        try log.commit()
        var r = SessionEngine(node: "n1")
        let report = try AppendLog.replay(path: path, into: &r, now: 50_000)
        #expect(report.expiredWhileDown == 1 && report.sessions == 1 && r.count == 1)
    }

    @Test func rewriteCompactsAndKeepsEverything() throws {
        let path = try tempLog()
        let log = try AppendLog(path: path, policy: .no)
        var e = SessionEngine(node: "n1")
        for round in 0..<50 {
            for i in 0..<20 {
                e.put(
                    id: "s\(i)", maxInactiveMs: -1, principal: "p\(i % 3)",
                    attributes: [.init("round", Array(String(round).utf8))], now: 0)
                log.logPut(e.get("s\(i)", now: 0, touch: false).0!)
            }
        }
        try log.commit()
        let before = log.size
        try log.rewrite(from: e, now: 0)
        #expect(log.size < before / 10)
        var r = SessionEngine(node: "n1")
        #expect(try AppendLog.replay(path: path, into: &r, now: 0).sessions == 20)
        #expect(r.get("s7", now: 0, touch: false).0?.attributes.first?.value == Array("49".utf8))
        // The log keeps working after the rewrite.
        log.logDelete("s7")
        try log.commit()
        var fresh = SessionEngine(node: "n1")
        #expect(try AppendLog.replay(path: path, into: &fresh, now: 0).sessions == 19)
    }

    /// The node compacts a chunk at a time while it keeps changing sessions and logging
    /// them: the compacted log replays to exactly the live state, whatever happened to a
    /// session before, during or after the walk reached it.
    @Test func compactionInChunksWhileTheLogGoesOn() throws {
        let path = try tempLog()
        let log = try AppendLog(path: path, policy: .no)
        var e = SessionEngine(node: "n1")
        var rng = SystemRandomNumberGenerator()
        var now: Int64 = 1_000
        func change() {
            now += 1
            let id = "s\(Int.random(in: 0..<400, using: &rng))"
            switch Int.random(in: 0..<5, using: &rng) {
            case 0, 1:
                let events = e.put(
                    id: id, maxInactiveMs: 600_000,
                    principal: Bool.random(using: &rng) ? "u\(Int.random(in: 0..<5, using: &rng))" : nil,
                    attributes: [.init("v", Array(String(now).utf8))], now: now)
                if let s = e.read(id, now: now, touch: false).0 { log.logPut(s) }
                for ev in events where ev.kind != .created { log.logDelete(ev.id) }
            case 2:
                if e.read(id, now: now, touch: true).0 != nil { log.logTouch(id, at: now) }
            case 3:
                if let s = e.modify(
                    id, now: now, { $0.setAttribute(name: Array("w".utf8)[...], value: Array(String(now).utf8)[...]) }
                ).0 {
                    log.logPut(s)
                }
            default:
                if e.delete([id], now: now).0 > 0 { log.logDelete(id) }
            }
        }
        for _ in 0..<6_000 { change() }
        try log.commit()
        let before = log.size
        try log.beginCompaction(cluster: AppendLog.ClusterRecords())
        #expect(log.needsRewrite(liveBytes: 1) == false, "no second compaction while one runs")
        var done = false
        while !done {
            done = try log.continueCompaction(from: e, now: now, count: 25)
            for _ in 0..<Int.random(in: 0..<40, using: &rng) { change() }
            try log.commit()
        }
        try log.finishCompaction()
        for _ in 0..<500 { change() }  // and after it, in the new file
        try log.commit()
        #expect(log.size < before, "compacted: \(log.size) of \(before) bytes")
        var r = SessionEngine(node: "n1")
        _ = try AppendLog.replay(path: path, into: &r, now: now)
        #expect(r.count == e.count)
        let live = e.scan(cursor: 0, match: nil, principal: nil, count: 10_000, now: now).1
        let replayed = Dictionary(
            uniqueKeysWithValues: r.scan(cursor: 0, match: nil, principal: nil, count: 10_000, now: now).1.map {
                ($0.id, $0)
            })
        for s in live {
            #expect(replayed[s.id] == s, "\(s.id) differs after replay")
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".rewrite"))
    }

    @Test func clusterRecordsReplayAndSurviveARewrite() throws {
        let path = try tempLog()
        let log = try AppendLog(path: path, policy: .always)
        let pending = HouseSession(
            id: "p1", principal: "alice", attributes: [.init("k", [1, 2])], createdMs: 10, lastAccessMs: 20,
            maxInactiveMs: 600_000)
        let stale = HouseSession(
            id: "p2", principal: nil, attributes: [], createdMs: 0, lastAccessMs: 0, maxInactiveMs: 1_000)
        log.logPending(pending)
        log.logPending(stale)
        log.logPending(
            HouseSession(
                id: "p3", principal: nil, attributes: [], createdMs: 0,
                lastAccessMs: 0, maxInactiveMs: 600_000))
        log.logUnpend("p3")
        log.logForward("a", to: "n2")
        log.logForward("b", to: "n3")
        log.logForward("b", to: nil)
        try log.commit()
        var records = AppendLog.ClusterRecords()
        var e = SessionEngine(node: "n1")
        let report = try AppendLog.replay(path: path, into: &e, cluster: &records, now: 5_000)
        #expect(
            report.records == 7 && report.truncatedBytes == 0 && e.count == 0, "pending copies are not live sessions")
        #expect(records.forward == ["a": "n2"])
        #expect(
            Array(records.pending.keys) == ["p1"],
            "a pending copy past its deadline is dropped, an unpended one is gone")
        #expect(records.pending["p1"] == pending)
        try log.rewrite(from: e, cluster: records, now: 5_000)
        var again = AppendLog.ClusterRecords()
        var fresh = SessionEngine(node: "n1")
        _ = try AppendLog.replay(path: path, into: &fresh, cluster: &again, now: 5_000)
        #expect(again == records)
    }

    @Test func restoreFieldsRoundTripAndRejectLies() {
        let s = HouseSession(
            id: "x", principal: "bob", attributes: [.init("a", [0]), .init("b", Array("v".utf8))], createdMs: 1,
            lastAccessMs: 2, maxInactiveMs: 3, absoluteDeadlineMs: 99)
        let f = AppendLog.fields(of: s)
        #expect(AppendLog.session(fields: f[...]) == s)
        var lying = f
        lying[6] = Array("9".utf8)  // claims more attributes than follow
        #expect(AppendLog.session(fields: lying[...]) == nil)
        lying[6] = Array("-1".utf8)
        #expect(AppendLog.session(fields: lying[...]) == nil)
        #expect(AppendLog.session(fields: f.prefix(5)) == nil)
        for (field, value) in [(2, Int64.min), (1, -1), (3, -2), (4, -7)] {  // times no node writes
            var bad = f
            bad[field] = Array(String(value).utf8)
            #expect(AppendLog.session(fields: bad[...]) == nil, "field \(field) = \(value)")
        }
    }
}

extension Data {
    func append(to path: String) throws {
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile()
        h.write(self)
        try h.close()
    }
}
