/// A member of an in-house cluster: its id and where it listens.
public struct ClusterMember: Sendable, Hashable, CustomStringConvertible {
    public var id: String
    public var host: String
    public var port: Int
    public init(id: String, host: String, port: Int) {
        self.id = id
        self.host = host
        self.port = port
    }
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    public var description: String { "\(id)=\(address)" }

    /// `n1=127.0.0.1:7001,n2=127.0.0.1:7002` (the `--cluster` option).
    public static func parseList(_ text: String) throws(ParseError) -> [ClusterMember] {
        var out: [ClusterMember] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ParseError(message: "'\(item)': expected id=host:port")
            }
            let addr = parts[1]
            guard let colon = addr.lastIndex(of: ":"), let port = Int(addr[addr.index(after: colon)...]),
                (1...65535).contains(port)
            else {
                throw ParseError(message: "'\(item)': expected id=host:port")
            }
            var host = String(addr[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let m = ClusterMember(id: String(parts[0]), host: host, port: port)
            guard !out.contains(where: { $0.id == m.id }) else {
                throw ParseError(message: "node id '\(m.id)' appears twice")
            }
            out.append(m)
        }
        guard !out.isEmpty else { throw ParseError(message: "empty cluster list") }
        return out
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// Which node owns a session: rendezvous (highest random weight) hashing. Every node scores
/// `hash(node, id)` and the highest wins. Compared with a ring of virtual nodes it needs no
/// tuning, balances to within sampling noise (each node's share is 1/n in expectation, with
/// no arc-length variance), and removing a node moves only that node's sessions, each to
/// the node that scores next: exactly the "ring successor" a drain wants. Cost: one hash
/// per member per lookup, nothing for clusters of a handful of nodes.
public struct HashRing: Sendable {
    public let members: [ClusterMember]
    private let seeds: [UInt64]

    public init(_ members: [ClusterMember]) {
        self.members = members.sorted { $0.id < $1.id }
        seeds = self.members.map { HashRing.fnv1a(Array($0.id.utf8)) }
    }

    public func member(_ id: String) -> ClusterMember? { members.first { $0.id == id } }

    /// The owner of session `id`; `excluding` removes nodes (a drain's successors).
    public func owner(of id: String, excluding: Set<String> = []) -> ClusterMember? {
        let key = HashRing.fnv1a(Array(id.utf8))
        var best: Int? = nil
        var bestScore: UInt64 = 0
        for (i, m) in members.enumerated() where !excluding.contains(m.id) {
            let score = HashRing.mix(seeds[i] ^ HashRing.mix(key))
            if best == nil || score > bestScore {
                best = i
                bestScore = score
            }
        }
        return best.map { members[$0] }
    }

    /// Each node's share of session ids, measured over `samples` synthetic UUID-shaped ids
    /// (deterministic, so every node and console reports the same numbers).
    public func shares(samples: Int = 20_000) -> [String: Double] {
        var counts: [String: Int] = [:]
        var x: UInt64 = 0x5EED
        for _ in 0..<samples {
            x = HashRing.mix(x &+ 0x9E37_79B9_7F4A_7C15)
            let id = String(x, radix: 16) + "-" + String(HashRing.mix(x), radix: 16)
            if let o = owner(of: id) { counts[o.id, default: 0] += 1 }
        }
        var out: [String: Double] = [:]
        for m in members { out[m.id] = Double(counts[m.id] ?? 0) / Double(max(1, samples)) }
        return out
    }

    /// FNV-1a, 64 bits (also the console's cheap key fingerprint).
    public static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }

    /// splitmix64's finalizer: spreads every input bit over the output.
    static func mix(_ v: UInt64) -> UInt64 {
        var z = v &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
