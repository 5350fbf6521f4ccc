import ConsoleUI
import SessionKit

/// A fixed state for golden screens and reducer tests: the time is fixed, so TTLs are too.
enum Scene {
    static let now: Int64 = 1_800_000_000_000

    static func state(readOnly: Bool = false) -> AppState {
        var s = AppState(
            storeName: "redis://10.0.0.5:6379, redis://10.0.0.6:6379", readOnly: readOnly, themeName: "default")
        s.eventSetting = EventSettingWords(
            name: "keyspace notifications", change: "Adds the flags E g x e to notify-keyspace-events on")
        var names = RowNames()
        let specs: [(String, String?, String, Int64, Int64, Int64, Int32, String)] = [
            ("6f1c2a90-0d4e-4b7a-9e21-5c3b7d8e9f01", "alice", "10.0.0.5:6379", 45_000, 30_000, 600_000, 1136, "spring"),
            (
                "a7e4c3b2-19f8-4d6c-8b5a-2e1f0c9d8b7a", "bob", "10.0.0.6:6379", 1_500_000, 120_000, 3_600_000, 1250,
                "spring"
            ),
            ("c0ffee00-1111-4222-8333-444455556666", nil, "10.0.0.5:6379", -1, 5_000, 86_400_000, 312, "connect-redis"),
            (
                "e\u{1B}[2Jvil-\u{202E}id", "mallory\u{7}", "10.0.0.6:6379", 240_000, 60_000, 120_000, 5_242_900,
                "spring"
            ),
            (
                "d00dfeed-aaaa-4bbb-8ccc-dddddddddddd", "carol", "10.0.0.6:6379", 900_000, 900_000, 7_200_000, 980,
                "spring"
            ),
        ]
        var rows: [Row] = []
        for (id, user, node, ttl, idle, age, size, schema) in specs {
            rows.append(
                Row(
                    id: id, user: user, node: names.node(node), schema: names.schema(schema),
                    deadlineMs: ttl < 0 ? -1 : now + ttl, lastAccessMs: now - idle, createdMs: now - age,
                    sizeBytes: size))
        }
        var n1 = NodeInfo(name: "10.0.0.5:6379", address: "redis://10.0.0.5:6379", up: true)
        n1.usedMemory = 3 << 20
        n1.maxMemory = 8 << 20
        n1.sessions = 2
        n1.evictionPolicy = "allkeys-lru"
        n1.expiredTotal = 100
        n1.evictedTotal = 10
        var n2 = NodeInfo(name: "10.0.0.6:6379", address: "redis://10.0.0.6:6379", up: true)
        n2.usedMemory = 6 << 20
        n2.maxMemory = 8 << 20
        n2.sessions = 3
        n2.expiredTotal = 50
        n2.evictedTotal = 0
        s.loadNodes([n1, n2], now: now - 4000)
        n1.expiredTotal = 140
        n1.evictedTotal = 30
        n2.expiredTotal = 52
        s.loadNodes([n1, n2], now: now - 2000)
        n1.expiredTotal = 150
        n1.evictedTotal = 36
        n2.expiredTotal = 60
        s.loadNodes([n1, n2], now: now)
        s.load(rows: rows, names: names, failedNodes: [], now: now)
        s.themeNames = ["default", "dracula", "light", "monochrome"]
        return s
    }

    static func events() -> [SessionEvent] {
        [
            SessionEvent(
                kind: .expired, sessionID: "11111111-2222-4333-8444-555555555555",
                key: "spring:session:sessions:expires:1", user: "dave", node: "10.0.0.5:6379", timeMs: now - 9000,
                prompted: true),
            SessionEvent(
                kind: .evicted, sessionID: "22222222-2222-4333-8444-555555555555", key: "k", user: nil,
                node: "10.0.0.6:6379", timeMs: now - 6000),
            SessionEvent(
                kind: .gap, sessionID: nil, key: nil, node: "10.0.0.6:6379", timeMs: now - 5000,
                detail: "events lost: connection lost; retrying in 500 ms"),
            SessionEvent(
                kind: .deleted, sessionID: "33333333-2222-4333-8444-555555555555", key: "k", user: "erin",
                node: "10.0.0.5:6379", timeMs: now - 1000),
        ]
    }

    static func session() -> Session {
        Session(
            id: "6f1c2a90-0d4e-4b7a-9e21-5c3b7d8e9f01",
            key: "spring:session:sessions:6f1c2a90-0d4e-4b7a-9e21-5c3b7d8e9f01",
            user: "alice", node: "10.0.0.5:6379", ttlMs: 45_000, createdAtMs: now - 600_000,
            lastAccessedAtMs: now - 30_000,
            maxInactiveSeconds: 1800, sizeBytes: 1136, schema: "spring",
            attributes: [
                Attribute(name: "cart", raw: [1, 2], decoded: .list([.string("sku-1"), .int(3)]), format: "java"),
                Attribute(name: "title", raw: [], decoded: .string("\u{1B}[31mred"), format: "text"),
                Attribute(
                    name: "blob", raw: [0xFF, 0x00, 0x41], decoded: .bytes([0xFF, 0x00, 0x41]), format: "binary"),
            ])
    }
}
