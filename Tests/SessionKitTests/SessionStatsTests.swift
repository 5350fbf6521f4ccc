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
