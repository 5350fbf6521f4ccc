/// What a set of sessions looks like, computed while a listing streams (one pass, memory
/// per node, schema and user, not per session): counts per node and schema, anonymous against
/// signed-in, the top users, and histograms of TTL, idle time, age and size.
public struct SessionStats: Sendable, Equatable {
    public private(set) var total = 0
    public private(set) var signedIn = 0
    public private(set) var perNode: [String: Int] = [:]
    public private(set) var perSchema: [String: Int] = [:]
    public private(set) var perUser: [String: Int] = [:]
    public private(set) var ttl = Histogram.durations()
    public private(set) var idle = Histogram.durations()
    public private(set) var age = Histogram.durations()
    public private(set) var size = Histogram.sizes()

    public init() {}

    public mutating func add(
        node: String, schema: String, user: String?, ttlMs: Int64, idleMs: Int64?, ageMs: Int64?, sizeBytes: Int64?
    ) {
        total += 1
        perNode[node, default: 0] += 1
        perSchema[schema, default: 0] += 1
        if let user {
            signedIn += 1
            perUser[user, default: 0] += 1
        }
        ttl.add(ttlMs < 0 ? nil : ttlMs, never: ttlMs < 0)
        idle.add(idleMs)
        age.add(ageMs)
        size.add(sizeBytes)
    }

    public mutating func add(_ s: Session, nowMs: Int64) {
        add(
            node: s.node, schema: s.schema, user: s.user, ttlMs: s.ttlMs, idleMs: s.idleMs(now: nowMs),
            ageMs: s.ageMs(now: nowMs), sizeBytes: s.sizeBytes)
    }

    public var anonymous: Int { total - signedIn }

    /// The users with the most sessions, most first (ties by name).
    public func topUsers(_ n: Int) -> [(user: String, sessions: Int)] {
        perUser.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(n).map {
            ($0.key, $0.value)
        }
    }

    /// Counts by key, largest first.
    public static func ranked(_ d: [String: Int]) -> [(String, Int)] {
        d.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// A histogram over fixed buckets, with counts for unknown values and (TTL) "never".
    public struct Histogram: Sendable, Equatable {
        /// Upper bounds (inclusive) of every bucket but the last, which is open.
        public let bounds: [Int64]
        public let labels: [String]
        public private(set) var counts: [Int]
        public private(set) var unknown = 0
        public private(set) var never = 0

        init(bounds: [Int64], labels: [String]) {
            self.bounds = bounds
            self.labels = labels
            counts = Array(repeating: 0, count: bounds.count + 1)
        }

        static func durations() -> Histogram {
            let m: Int64 = 60_000
            return Histogram(
                bounds: [m, 5 * m, 15 * m, 60 * m, 360 * m, 1440 * m, 10080 * m],
                labels: ["≤ 1m", "1–5m", "5–15m", "15m–1h", "1–6h", "6h–1d", "1–7d", "> 7d"])
        }

        static func sizes() -> Histogram {
            let k: Int64 = 1024
            return Histogram(
                bounds: [512, k, 4 * k, 16 * k, 64 * k, 256 * k, 1024 * k],
                labels: ["≤ 512B", "½–1K", "1–4K", "4–16K", "16–64K", "64–256K", "256K–1M", "> 1M"])
        }

        mutating func add(_ v: Int64?, never isNever: Bool = false) {
            if isNever {
                never += 1
                return
            }
            guard let v else {
                unknown += 1
                return
            }
            var i = 0
            while i < bounds.count && v > bounds[i] { i += 1 }
            counts[i] += 1
        }

        /// Bars for a terminal: `label count bar`, the bar `width` cells at the largest count.
        public func lines(width: Int) -> [String] {
            let extra = [("never", never), ("unknown", unknown)].filter { $0.1 > 0 }
            let all = zip(labels, counts).map { ($0, $1) } + extra
            let peak = max(1, all.map(\.1).max() ?? 1)
            let labelWidth = all.map { $0.0.count }.max() ?? 0
            let countWidth = String(all.map(\.1).max() ?? 0).count
            return all.map { label, n in
                let cells = n == 0 ? 0 : max(1, n * width / peak)
                let padded = label + String(repeating: " ", count: labelWidth - label.count)
                let number = String(repeating: " ", count: countWidth - String(n).count) + String(n)
                return "\(padded)  \(number)  " + String(repeating: "█", count: cells)
            }
        }

        func json(into w: inout JSONWriter) {
            w.raw("{\"buckets\":[")
            for (i, (label, n)) in zip(labels, counts).enumerated() {
                w.raw(i == 0 ? "{\"le\":" : ",{\"le\":")
                if i < bounds.count { w.int(bounds[i]) } else { w.raw("null") }
                w.raw(",\"label\":")
                w.string(label)
                w.raw(",\"count\":")
                w.int(Int64(n))
                w.raw("}")
            }
            w.raw("],\"never\":")
            w.int(Int64(never))
            w.raw(",\"unknown\":")
            w.int(Int64(unknown))
            w.raw("}")
        }
    }

    /// The statistics as one JSON object (`top` users).
    public func json(top: Int) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"sessions\":")
        w.int(Int64(total))
        w.raw(",\"signed_in\":")
        w.int(Int64(signedIn))
        w.raw(",\"anonymous\":")
        w.int(Int64(anonymous))
        for (key, dict) in [("per_node", perNode), ("per_schema", perSchema)] {
            w.raw(",\"\(key)\":{")
            for (i, (k, n)) in Self.ranked(dict).enumerated() {
                if i > 0 { w.raw(",") }
                w.string(k)
                w.raw(":")
                w.int(Int64(n))
            }
            w.raw("}")
        }
        w.raw(",\"top_users\":[")
        for (i, u) in topUsers(top).enumerated() {
            w.raw(i == 0 ? "{\"user\":" : ",{\"user\":")
            w.string(u.user)
            w.raw(",\"sessions\":")
            w.int(Int64(u.sessions))
            w.raw("}")
        }
        w.raw("],\"users\":")
        w.int(Int64(perUser.count))
        for (key, h) in [("ttl_ms", ttl), ("idle_ms", idle), ("age_ms", age), ("size_bytes", size)] {
            w.raw(",\"\(key)\":")
            h.json(into: &w)
        }
        w.raw("}")
        return w.bytes
    }

    /// The statistics as text for a terminal or the TUI's stats view (`top` users, bars of
    /// `barWidth` cells). Names from stores are sanitized.
    public func lines(top: Int, barWidth: Int) -> [String] {
        func share(_ n: Int) -> String {
            total == 0 ? "0%" : String(Int((Double(n) * 100 / Double(total)).rounded())) + "%"
        }
        var out: [String] = []
        out.append(
            "sessions \(total)   signed in \(signedIn) (\(share(signedIn)))   anonymous \(anonymous) "
                + "(\(share(anonymous)))   users \(perUser.count)")
        out.append("")
        for (title, dict) in [("per node", perNode), ("per schema", perSchema)] {
            out.append(title.uppercased())
            for (k, n) in Self.ranked(dict) {
                out.append("  " + Sanitizer.display(k, limit: 60) + "  \(n) (\(share(n)))")
            }
            out.append("")
        }
        out.append("TOP USERS")
        for u in topUsers(top) { out.append("  " + Sanitizer.display(u.user, limit: 60) + "  \(u.sessions)") }
        if perUser.isEmpty { out.append("  (no signed-in sessions)") }
        for (title, h) in [("TTL", ttl), ("IDLE", idle), ("AGE", age), ("SIZE", size)] {
            out.append("")
            out.append(title)
            out += h.lines(width: barWidth).map { "  " + $0 }
        }
        return out
    }
}
