import SessionFormats
import SessionKit

/// The reply layouts sessiond writes and its clients read, each in one place: the server
/// encodes with these, the console store and the application client decode with these
/// (after turning their client's reply into a `RESPReply`), so the two sides cannot drift.
public enum Wire {
    // MARK: SESSION.PEEK / SESSION.GET

    /// A whole session: `[id, principal, created_ms, last_access_ms, max_inactive_ms,
    /// ttl_ms, size, [name, value, ...]]`.
    public struct SessionReply: Sendable, Equatable {
        public var id: String
        public var principal: String?
        public var createdMs: Int64
        public var lastAccessMs: Int64
        /// -1: no sliding timeout.
        public var maxInactiveMs: Int64
        /// -1: never expires.
        public var ttlMs: Int64
        public var sizeBytes: Int64
        public var attributes: [(name: String, value: [UInt8])]

        public static func == (a: SessionReply, b: SessionReply) -> Bool {
            a.id == b.id && a.principal == b.principal && a.createdMs == b.createdMs && a.lastAccessMs == b.lastAccessMs
                && a.maxInactiveMs == b.maxInactiveMs && a.ttlMs == b.ttlMs && a.sizeBytes == b.sizeBytes
                && a.attributes.elementsEqual(b.attributes) { $0.name == $1.name && $0.value == $1.value }
        }
    }

    /// Writes a stored session straight from its packed form (the hot path: no reply tree).
    public static func writeSession(_ s: StoredSession, now: Int64, into out: inout RESPWriter) {
        out.arrayHeader(8)
        out.bulk(s.id)
        out.bulk(s.principal)
        out.integer(s.createdMs)
        out.integer(s.lastAccessMs)
        out.integer(s.maxInactiveMs)
        out.integer(s.deadlineMs.map { max(0, $0 - now) } ?? -1)
        out.integer(Int64(s.accountedBytes))
        out.arrayHeader(2 * Int(s.attributeCount))
        s.forEachAttribute { name, value in
            out.bulk(name)
            out.bulk(value)
        }
    }

    public static func sessionReply(_ r: RESPReply) -> SessionReply? {
        guard let f = r.array, f.count == 8, let id = f[0].text, let created = f[2].int, let last = f[3].int,
            let maxInactive = f[4].int
        else { return nil }
        var attributes: [(name: String, value: [UInt8])] = []
        let items = f[7].array ?? []
        var k = 0
        while k + 1 < items.count {
            attributes.append((items[k].text ?? "", items[k + 1].bulkBytes ?? []))
            k += 2
        }
        return SessionReply(
            id: id, principal: f[1].text, createdMs: created, lastAccessMs: last, maxInactiveMs: maxInactive,
            ttlMs: f[5].int ?? -1, sizeBytes: f[6].int ?? 0, attributes: attributes)
    }

    // MARK: SESSION.SCAN

    /// One listing row: `[id, principal, ttl_ms, idle_ms, created_ms, size]`.
    public struct ScanRow: Sendable, Equatable {
        public var id: String
        public var principal: String?
        public var ttlMs: Int64
        public var idleMs: Int64?
        public var createdMs: Int64?
        public var sizeBytes: Int64?
        public init(id: String, principal: String?, ttlMs: Int64, idleMs: Int64?, createdMs: Int64?, sizeBytes: Int64?)
        {
            self.id = id
            self.principal = principal
            self.ttlMs = ttlMs
            self.idleMs = idleMs
            self.createdMs = createdMs
            self.sizeBytes = sizeBytes
        }
    }

    /// `[next-cursor, [row, ...]]`.
    public static func scanReply(next: Int, rows: [StoredSession], now: Int64) -> RESPReply {
        .array([
            .bulk(String(next)),
            .array(
                rows.map { s in
                    .array([
                        .bulk(s.id), s.principal.map { .bulk($0) } ?? .null,
                        .integer(s.deadlineMs.map { max(0, $0 - now) } ?? -1),
                        .integer(max(0, now - s.lastAccessMs)), .integer(s.createdMs),
                        .integer(Int64(s.accountedBytes)),
                    ])
                }),
        ])
    }

    /// The next cursor and the rows; nil when the reply has another shape.
    public static func scanPage(_ r: RESPReply) -> (next: String, rows: [ScanRow])? {
        guard let parts = r.array, parts.count == 2, let next = parts[0].text, let items = parts[1].array else {
            return nil
        }
        return (
            next,
            items.compactMap { row in
                guard let f = row.array, f.count == 6, let id = f[0].text else { return nil }
                return ScanRow(
                    id: id, principal: f[1].text, ttlMs: f[2].int ?? -1, idleMs: f[3].int, createdMs: f[4].int,
                    sizeBytes: f[5].int)
            }
        )
    }

    // MARK: CLUSTER.NODES

    /// One member as `CLUSTER.NODES` reports it.
    public struct NodeLine: Sendable, Equatable {
        public var member: ClusterMember
        /// `myself,up`, `up`, `down`, `unknown`.
        public var state: String
        public var sessions: Int?
        /// The member's share of the ring, 0...1.
        public var share: Double
        public init(member: ClusterMember, state: String, sessions: Int?, share: Double) {
            self.member = member
            self.state = state
            self.sessions = sessions
            self.share = share
        }
    }

    /// `id host:port state sessions share-per-mille`, one line per member.
    public static func clusterNodesText(_ lines: [NodeLine]) -> String {
        lines.map { l in
            "\(l.member.id) \(l.member.address) \(l.state) \(l.sessions ?? -1) \(Int((l.share * 1000).rounded()))"
        }.joined(separator: "\n") + "\n"
    }

    public static func parseClusterNodes(_ text: String) -> [NodeLine] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let f = line.split(separator: " ")
            guard f.count >= 5, let colon = f[1].lastIndex(of: ":"), let port = Int(f[1][f[1].index(after: colon)...])
            else { return nil }
            var host = String(f[1][..<colon])
            if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
            return NodeLine(
                member: ClusterMember(id: String(f[0]), host: host, port: port), state: String(f[2]),
                sessions: Int(f[3]).flatMap { $0 >= 0 ? $0 : nil }, share: Double(Int(f[4]) ?? 0) / 1000)
        }
    }

    // MARK: events

    /// The event channel's name.
    public static let eventChannel = "sessiond:events"

    /// `{"event":"expired","id":..,"principal":..,"node":..,"time":..,"reason":..}`.
    public static func eventJSON(_ e: EngineEvent) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"event\":")
        w.string(e.kind.rawValue)
        w.raw(",\"id\":")
        w.string(e.id)
        w.raw(",\"principal\":")
        w.optionalString(e.principal)
        w.raw(",\"node\":")
        w.string(e.node)
        w.raw(",\"time\":")
        w.int(e.timeMs)
        if let r = e.reason {
            w.raw(",\"reason\":")
            w.string(r)
        }
        w.raw("}")
        return w.bytes
    }

    /// `{"event":"gap","missed":N,"node":..,"time":..}`: a subscriber fell behind.
    public static func gapJSON(missed: Int, node: String, timeMs: Int64) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"event\":\"gap\",\"missed\":")
        w.int(Int64(missed))
        w.raw(",\"node\":")
        w.string(node)
        w.raw(",\"time\":")
        w.int(timeMs)
        w.raw("}")
        return w.bytes
    }

    /// An event payload as the console shows it; nil for a payload it does not know.
    public static func event(_ payload: [UInt8], node: String) -> SessionEvent? {
        guard let v = try? JSONDecoding.decode(payload), case .string(let kind)? = v["event"] else { return nil }
        let time: Int64
        if case .int(let t)? = v["time"] { time = t } else { time = currentTimeMs() }
        if kind == "gap" {
            var missed: Int64 = 0
            if case .int(let n)? = v["missed"] { missed = n }
            return SessionEvent(
                kind: .gap, sessionID: nil, key: nil, node: node, timeMs: time,
                detail: "this subscriber fell behind: \(missed) events missed")
        }
        guard let k = SessionEvent.Kind(rawValue: kind) else { return nil }
        var user: String? = nil
        if case .string(let p)? = v["principal"] { user = p }
        var id: String? = nil
        if case .string(let s)? = v["id"] { id = s }
        var detail: String? = nil
        var target: String? = nil
        if case .string(let r)? = v["reason"] {
            detail = "reason: " + r
            if k == .migrated && r.hasPrefix("to ") { target = String(r.dropFirst(3)) }
        }
        return SessionEvent(
            kind: k, sessionID: id, key: id, user: user, node: node, timeMs: time, detail: detail, target: target)
    }
}

extension RESPReply {
    /// The bytes of a bulk reply.
    public var bulkBytes: [UInt8]? {
        if case .bulk(let b) = self { return b }
        return nil
    }
}
