import MemcachedClient
import SessionFormats
import SessionKit

extension MemcachedStore: SessionWriter {
    /// Writes sessions as express-session with connect-memcached keeps them: the id as the
    /// key (no prefix), a JSON object with the `cookie` (its max age and expiry), the user
    /// under `passport.user` and each attribute's decoded value. It is the one memcached
    /// layout every client library reads; a session lands on one node chosen by its id.
    public func write(_ sessions: [Session]) async -> (written: [String], failures: [NodeFailure]) {
        guard !nodes.isEmpty else { return ([], [NodeFailure(node: displayName, message: "no node")]) }
        var byNode: [Int: [(String, MetaSet)]] = [:]
        let now = currentTimeMs()
        for s in sessions {
            let ttlSeconds: Int64 = s.ttlMs < 0 ? 0 : max(1, (s.ttlMs + 999) / 1000)
            let item = MetaSet(
                key: KeyText.bytes(MemcachedLayout.express.key(forID: s.id)), value: Self.expressJSON(s, nowMs: now),
                clientFlags: 0, ttlSeconds: ttlSeconds)
            byNode[Self.nodeIndex(s.id, count: nodes.count), default: []].append((s.id, item))
        }
        var written: [String] = []
        var failures: [NodeFailure] = []
        for (i, items) in byNode.sorted(by: { $0.key < $1.key }) {
            let node = nodes[i]
            do {
                let stored = try await node.client.metaSet(items.map(\.1))
                for (item, ok) in zip(items, stored) {
                    if ok {
                        written.append(item.0)
                    } else {
                        failures.append(NodeFailure(node: node.name, message: "not stored: \(item.0)"))
                    }
                }
            } catch {
                failures.append(NodeFailure(node: node.name, message: Self.message(error, node: node.name)))
            }
        }
        return (written, failures)
    }

    /// A stable node for an id (FNV-1a), so a resumed migration writes to the same node.
    static func nodeIndex(_ id: String, count: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return Int(h % UInt64(max(1, count)))
    }

    static func expressJSON(_ s: Session, nowMs: Int64) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"cookie\":{")
        if s.ttlMs >= 0 {
            w.raw("\"originalMaxAge\":")
            w.int(s.maxInactiveSeconds.map { $0 * 1000 } ?? s.ttlMs)
            w.raw(",\"expires\":")
            w.time(ms: nowMs + s.ttlMs)
            w.raw(",")
        } else {
            w.raw("\"originalMaxAge\":null,")
        }
        w.raw("\"httpOnly\":true,\"path\":\"/\"}")
        if let user = s.user {
            w.raw(",\"passport\":{\"user\":")
            w.string(user)
            w.raw("}")
        }
        for a in s.attributes where a.name != "cookie" && a.name != "passport" {
            w.raw(",")
            w.string(a.name)
            w.raw(":")
            w.value(a.decoded)
        }
        w.raw("}")
        return w.bytes
    }
}
