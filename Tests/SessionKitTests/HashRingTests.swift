import SessionKit
import TestSupport
import Testing

@Suite struct HashRingTests {
    let members = [
        ClusterMember(id: "n1", host: "127.0.0.1", port: 7001), ClusterMember(id: "n2", host: "127.0.0.1", port: 7002),
        ClusterMember(id: "n3", host: "127.0.0.1", port: 7003),
    ]

    @Test func balancedWithinTenPercentOverThreeNodes() {
        let ring = HashRing(members)
        var counts: [String: Int] = [:]
        var rng = SplitMix(seed: 42)
        let n = 60_000
        for _ in 0..<n {
            let id = String(rng.next(), radix: 16) + "-" + String(rng.next() % 100_000)
            counts[ring.owner(of: id)?.id ?? "?", default: 0] += 1
        }
        for m in members {
            let share = Double(counts[m.id] ?? 0) / Double(n)
            #expect(abs(share - 1.0 / 3) < 0.1 / 3, "\(m.id): \(share)")
        }
        for (_, share) in ring.shares() { #expect(abs(share - 1.0 / 3) < 0.1 / 3) }
        // Sequential ids (session-1, session-2, ...) too.
        var seq: [String: Int] = [:]
        for i in 0..<30_000 { seq[ring.owner(of: "session-\(i)")?.id ?? "?", default: 0] += 1 }
        #expect(seq.values.allSatisfy { abs(Double($0) / 30_000 - 1.0 / 3) < 0.1 / 3 }, "\(seq)")
    }

    @Test func everyoneAgreesAndRemovingANodeMovesOnlyItsSessions() {
        let a = HashRing(members)
        let b = HashRing(members.reversed())
        let smaller = HashRing(members.filter { $0.id != "n2" })
        for i in 0..<5_000 {
            let id = "s\(i)"
            let owner = a.owner(of: id)
            #expect(owner == b.owner(of: id), "order of the list does not matter")
            if owner?.id != "n2" { #expect(smaller.owner(of: id) == owner, "sessions of other nodes stay put") }
            #expect(
                a.owner(of: id, excluding: ["n2"]) == smaller.owner(of: id),
                "the drain successor is the smaller ring's owner")
        }
        #expect(a.owner(of: "x", excluding: ["n1", "n2", "n3"]) == nil)
    }

    @Test func parsesTheClusterOption() throws {
        let list = try ClusterMember.parseList("n1=127.0.0.1:7001,n2=[::1]:7002")
        #expect(
            list == [
                ClusterMember(id: "n1", host: "127.0.0.1", port: 7001),
                ClusterMember(id: "n2", host: "::1", port: 7002),
            ])
        #expect(list[1].address == "[::1]:7002")
        for bad in ["", "n1", "n1=host", "n1=host:0", "n1=h:1,n1=h:2", "=h:1"] {
            #expect(throws: ClusterMember.ParseError.self) { try ClusterMember.parseList(bad) }
        }
    }
}
