import SessionKit
import Testing

@Suite struct SessionStatsTests {
    @Test func countsBucketsAndTopUsers() throws {
        var st = SessionStats()
        let m: Int64 = 60_000
        st.add(node: "a", schema: "spring", user: "ann", ttlMs: 30_000, idleMs: 0, ageMs: 2 * m, sizeBytes: 100)
        st.add(node: "a", schema: "spring", user: "ann", ttlMs: 10 * m, idleMs: 3 * m, ageMs: nil, sizeBytes: 5000)
        st.add(node: "b", schema: "php", user: "bob", ttlMs: -1, idleMs: nil, ageMs: 8 * 24 * 60 * m, sizeBytes: nil)
        st.add(node: "b", schema: "php", user: nil, ttlMs: 60 * m, idleMs: 61 * m, ageMs: m, sizeBytes: 2_000_000)
        #expect(st.total == 4 && st.signedIn == 3 && st.anonymous == 1)
        #expect(st.perNode == ["a": 2, "b": 2] && st.perSchema == ["spring": 2, "php": 2])
        #expect(st.topUsers(1).map(\.user) == ["ann"] && st.topUsers(5).map(\.sessions) == [2, 1])
        // ≤1m, 5–15m, never, 15m–1h (60m is the bound's own bucket).
        #expect(st.ttl.counts == [1, 0, 1, 1, 0, 0, 0, 0] && st.ttl.never == 1)
        #expect(st.idle.counts == [1, 1, 0, 0, 1, 0, 0, 0] && st.idle.unknown == 1)
        #expect(st.age.counts[7] == 1 && st.age.unknown == 1)
        #expect(st.size.counts == [1, 0, 0, 1, 0, 0, 0, 1] && st.size.unknown == 1)
        let text = st.lines(top: 3, barWidth: 10).joined(separator: "\n")
        #expect(text.contains("signed in 3 (75%)") && text.contains("TOP USERS") && text.contains("never"))
        let json = String(decoding: st.json(top: 2), as: UTF8.self)
        #expect(json.hasPrefix("{\"sessions\":4,\"signed_in\":3,\"anonymous\":1"), "\(json)")
        #expect(json.contains("\"top_users\":[{\"user\":\"ann\",\"sessions\":2}"))
        // The largest bucket gets the full bar; an empty bucket none.
        let bars = st.ttl.lines(width: 10)
        #expect(bars.allSatisfy { !$0.contains("███████████") } && bars[1].hasSuffix("0  "))
    }

    @Test func hostileNamesAreSanitizedInText() {
        var st = SessionStats()
        st.add(node: "n", schema: "s", user: "evil\u{1B}[2J", ttlMs: 1, idleMs: nil, ageMs: nil, sizeBytes: nil)
        #expect(!st.lines(top: 1, barWidth: 5).joined().unicodeScalars.contains { $0.value == 0x1B })
    }
}

@Suite struct ClockSkewTests {
    @Test func skewBeyondToleranceAndRoundTripIsReported() throws {
        // In step, or off by less than the tolerance plus half the round trip: nothing.
        #expect(Finding.clockSkew(node: "n", serverMs: 10_000, sentMs: 9_000, receivedMs: 11_000) == nil)
        #expect(Finding.clockSkew(node: "n", serverMs: 11_900, sentMs: 10_000, receivedMs: 10_000) == nil)
        #expect(Finding.clockSkew(node: "n", serverMs: 12_900, sentMs: 10_000, receivedMs: 10_000) != nil)
        let ahead = try #require(Finding.clockSkew(node: "n", serverMs: 15_000, sentMs: 10_000, receivedMs: 10_000))
        #expect(ahead.title.contains("5.0 s ahead") && ahead.check == "clock-skew" && ahead.node == "n")
        let behind = try #require(Finding.clockSkew(node: "n", serverMs: 1_000, sentMs: 10_000, receivedMs: 10_200))
        #expect(behind.title.contains("behind"))
        // A clock read in whole seconds gets a second more.
        #expect(
            Finding.clockSkew(node: "n", serverMs: 13_000, sentMs: 10_000, receivedMs: 10_000, resolutionMs: 1000)
                == nil)
    }
}
