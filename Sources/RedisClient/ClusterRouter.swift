import Foundation

/// One shard of a Redis Cluster: its master, replicas, and slot ranges.
public struct ClusterShard: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var id: String
        public var host: String
        public var port: Int
        public var role: String  // master | replica
        public var health: String  // online | failed | loading
        public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }
    public var master: Member
    public var replicas: [Member]
    public var slots: [ClosedRange<Int>]
    public var slotCount: Int { slots.reduce(0) { $0 + $1.count } }
    public var slotText: String {
        slots.isEmpty
            ? "none"
            : slots.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                .joined(separator: ",")
    }
}

/// Redis Cluster routing: the slot of a key (CRC16 with hash tags), the topology from
/// `CLUSTER SHARDS` (fallback `CLUSTER SLOTS`), and pipelines split by the node serving
/// each key's slot, following `MOVED` (the topology is refreshed) and `ASK` (one `ASKING`
/// for that command) per command. Multi-key `DEL`/`UNLINK`/`EXISTS` are split into one
/// command per key (keys of one session usually live in different slots) and their
/// integer replies summed.
public final class ClusterRouter: @unchecked Sendable {
    public let timeouts: RedisConnection.Timeouts
    let seed: RedisURL
    let fallbackPassword: String?
    private let lock = NSLock()
    private var shardsCache: [ClusterShard] = []
    private var slotOwner: [Int16] = Array(repeating: -1, count: 16384)  // index into shards
    private var clients: [String: RedisClient] = [:]

    public init(seed: RedisURL, timeouts: RedisConnection.Timeouts, fallbackPassword: String?) {
        self.seed = seed
        self.timeouts = timeouts
        self.fallbackPassword = fallbackPassword
    }

    public var shards: [ClusterShard] { lock.withLock { shardsCache } }

    /// The URL of a cluster member: the seed's credentials, the member's address.
    public func url(host: String, port: Int) -> RedisURL {
        // Every member over TLS when the seed is (`tls-cluster yes`), through the same jump
        // host; a cluster has database 0 only.
        var url = seed.member(host: host, port: port)
        url.db = 0
        return url
    }

    /// A client per node address, kept for the router's life.
    public func client(host: String, port: Int) -> RedisClient {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return lock.withLock {
            if let c = clients[address] { return c }
            let c = RedisClient(
                url: url(host: host, port: port), timeouts: timeouts, fallbackPassword: fallbackPassword,
                reconnectAttempts: 1)
            clients[address] = c
            return c
        }
    }

    /// Reads the topology from the seed or any node known so far.
    @discardableResult
    public func refresh() async throws(RedisError) -> [ClusterShard] {
        var candidates: [RedisClient] = []
        if case .tcp(let host, let port) = seed.endpoint { candidates.append(client(host: host, port: port)) }
        for s in shards {
            candidates.append(client(host: s.master.host, port: s.master.port))
            candidates += s.replicas.map { client(host: $0.host, port: $0.port) }
        }
        var last: RedisError = .connection(node: seed.nodeName, message: "no cluster node answered")
        for c in candidates {
            do {
                var found = try ClusterRouter.parseShards(
                    try await c.send(RedisCommand("CLUSTER", "SHARDS")).orThrow(), tls: seed.tls != nil)
                if found.isEmpty {
                    found = try ClusterRouter.parseSlots(try await c.send(RedisCommand("CLUSTER", "SLOTS")).orThrow())
                }
                guard !found.isEmpty else { continue }
                install(found)
                return found
            } catch  where error.isConnectionError {
                last = error
            } catch {
                // CLUSTER SHARDS unknown (Redis < 7): CLUSTER SLOTS.
                do {
                    let found = try ClusterRouter.parseSlots(
                        try await c.send(RedisCommand("CLUSTER", "SLOTS")).orThrow())
                    if !found.isEmpty {
                        install(found)
                        return found
                    }
                } catch { last = error }
            }
        }
        throw last
    }

    private func install(_ found: [ClusterShard]) {
        var owner = [Int16](repeating: -1, count: 16384)
        for (i, s) in found.enumerated() {
            for r in s.slots { for slot in r where slot >= 0 && slot < 16384 { owner[slot] = Int16(i) } }
        }
        lock.withLock {
            shardsCache = found
            slotOwner = owner
        }
    }

    /// The master serving `slot`.
    public func master(forSlot slot: Int) -> ClusterShard.Member? {
        lock.withLock {
            let i = Int(slotOwner[slot & 16383])
            return i >= 0 && i < shardsCache.count ? shardsCache[i].master : nil
        }
    }

    public func master(forKey key: [UInt8]) -> ClusterShard.Member? { master(forSlot: ClusterRouter.slot(of: key)) }

    // MARK: routing

    /// Runs `commands` where their keys live; replies in the order given. (A listing routes
    /// millions of commands: the topology is read once per call, nodes are numbered, and a
    /// command's name and slot are worked out on its bytes, with no string made.)
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisReply] {
        if shards.isEmpty { try await refresh() }
        // Split multi-key commands: (original index, part) per routed command.
        var routed: [(origin: Int, command: RedisCommand)] = []
        routed.reserveCapacity(commands.count)
        for (i, c) in commands.enumerated() {
            if c.args.count > 2 && Self.isMultiKey(c.args[0]) {
                for k in c.args.dropFirst() { routed.append((i, RedisCommand([c.args[0], k]))) }
            } else {
                routed.append((i, c))
            }
        }
        var replies = [RedisReply?](repeating: nil, count: routed.count)
        // Nodes by number: the masters first, then any address a redirect names.
        var (owner, known) = lock.withLock { (slotOwner, shardsCache) }
        var nodes: [(host: String, port: Int)] = known.map { ($0.master.host, $0.master.port) }
        func number(_ host: String, _ port: Int) -> Int {
            if let i = nodes.firstIndex(where: { $0.host == host && $0.port == port }) { return i }
            nodes.append((host, port))
            return nodes.count - 1
        }
        let fallback: Int
        if !nodes.isEmpty {
            fallback = 0
        } else if case .tcp(let host, let port) = seed.endpoint {
            fallback = number(host, port)
        } else {
            fallback = number("127.0.0.1", 6379)
        }
        // Per command: the node to send it to next, and whether with ASKING.
        var target: [(node: Int, asking: Bool)] = routed.map { r in
            guard let key = ClusterRouter.key(of: r.command) else { return (fallback, false) }
            let shard = Int(owner[ClusterRouter.slot(of: key)])
            return (shard >= 0 && shard < known.count ? shard : fallback, false)
        }
        var pending = Array(routed.indices)
        var redirects = 0
        var waitedMs = 0
        var lastError: RedisError? = nil
        // Redirects are followed at once (at most 6 rounds); a node that is unreachable or a
        // cluster that is down (a failover in progress) is waited for, up to 8 s, re-reading
        // the topology as it changes. Then the error is thrown, never turned into a reply.
        while !pending.isEmpty && redirects < 6 && waitedMs <= 8000 {
            var byNode = [[Int]](repeating: [], count: nodes.count)
            for i in pending { byNode[target[i].node].append(i) }
            let groups = byNode.filter { !$0.isEmpty }
            let addresses = nodes
            let results = await withTaskGroup(of: ([Int], Result<[RedisReply], RedisError>).self) { group in
                for idx in groups {
                    let t = addresses[target[idx[0]].node]
                    let client = self.client(host: t.host, port: t.port)
                    var cmds: [RedisCommand] = []
                    cmds.reserveCapacity(idx.count)
                    for i in idx {
                        if target[i].asking { cmds.append(RedisCommand("ASKING")) }
                        cmds.append(routed[i].command)
                    }
                    let send = cmds
                    group.addTask {
                        do { return (idx, .success(try await client.pipeline(send))) } catch let e as RedisError {
                            return (idx, .failure(e))
                        } catch {
                            return (idx, .failure(.connection(node: "\(t.host):\(t.port)", message: "\(error)")))
                        }
                    }
                }
                var out: [([Int], Result<[RedisReply], RedisError>)] = []
                for await r in group { out.append(r) }
                return out
            }
            var next: [Int] = []
            var refreshNeeded = false
            var wait = false
            for (idx, result) in results {
                switch result {
                case .failure(let e):
                    guard e.isConnectionError else { throw e }
                    lastError = e
                    wait = true
                    refreshNeeded = true
                    next += idx
                case .success(let rs):
                    var at = 0
                    for i in idx {
                        if target[i].asking { at += 1 }  // the ASKING +OK
                        guard at < rs.count else {
                            next.append(i)
                            continue
                        }
                        let r = rs[at]
                        at += 1
                        target[i].asking = false
                        if let m = r.errorMessage, let (kind, host, port) = ClusterRouter.redirect(m) {
                            target[i] = (number(host, port), kind == "ASK")
                            if kind == "MOVED" { refreshNeeded = true }
                            next.append(i)
                        } else if let m = r.errorMessage, m.hasPrefix("TRYAGAIN") || m.hasPrefix("CLUSTERDOWN") {
                            lastError = .server(m)
                            wait = true
                            refreshNeeded = true
                            next.append(i)
                        } else {
                            replies[i] = r
                        }
                    }
                }
            }
            if wait {
                try? await Task.sleep(nanoseconds: 200_000_000)
                waitedMs += 200
            } else if !next.isEmpty {
                redirects += 1
            }
            if refreshNeeded {
                _ = try? await refresh()
                (owner, known) = lock.withLock { (slotOwner, shardsCache) }
                for i in next where !target[i].asking {
                    guard let key = ClusterRouter.key(of: routed[i].command) else { continue }
                    let shard = Int(owner[ClusterRouter.slot(of: key)])
                    if shard >= 0 && shard < known.count {
                        target[i] = (number(known[shard].master.host, known[shard].master.port), false)
                    }
                }
            }
            pending = next
        }
        if !pending.isEmpty {
            throw lastError ?? .server("CLUSTERDOWN no answer after \(redirects) redirects")
        }
        // Reassemble, summing the split parts.
        var out = [RedisReply](repeating: .null, count: commands.count)
        var seen = [Bool](repeating: false, count: commands.count)
        for (i, r) in routed.enumerated() {
            let reply = replies[i] ?? .null
            if seen[r.origin], case .integer(let a) = out[r.origin], case .integer(let b) = reply {
                out[r.origin] = .integer(a + b)
            } else if !seen[r.origin] || reply.errorMessage != nil {
                out[r.origin] = reply
            }
            seen[r.origin] = true
        }
        return out
    }

    /// `MOVED 3999 127.0.0.1:6381` / `ASK 3999 127.0.0.1:6381`.
    static func redirect(_ message: String) -> (String, String, Int)? {
        let parts = message.split(separator: " ")
        guard parts.count >= 3, parts[0] == "MOVED" || parts[0] == "ASK", let colon = parts[2].lastIndex(of: ":"),
            let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        return (String(parts[0]), host, port)
    }

    /// The key a command addresses (nil: keyless, any node answers).
    public static func key(of c: RedisCommand) -> [UInt8]? {
        guard let name = c.args.first else { return nil }
        if named(name, "OBJECT") || named(name, "MEMORY") { return c.args.count > 2 ? c.args[2] : nil }
        for keyless in keylessNames where named(name, keyless) { return nil }
        return c.args.count > 1 ? c.args[1] : nil
    }

    private static let keylessNames: [StaticString] = [
        "PING", "INFO", "SCAN", "CONFIG", "CLUSTER", "ASKING", "DBSIZE", "SUBSCRIBE", "PSUBSCRIBE", "RANDOMKEY",
    ]

    /// Multi-key commands split into one command per key.
    static func isMultiKey(_ name: [UInt8]) -> Bool {
        named(name, "DEL") || named(name, "UNLINK") || named(name, "EXISTS") || named(name, "TOUCH")
    }

    /// Whether a command's name is `upper` (ASCII, any case), compared on bytes.
    static func named(_ bytes: [UInt8], _ upper: StaticString) -> Bool {
        guard bytes.count == upper.utf8CodeUnitCount else { return false }
        return upper.withUTF8Buffer { u in
            for i in 0..<u.count where bytes[i] & 0xDF != u[i] { return false }
            return true
        }
    }

    /// The hash slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}`.
    public static func slot(of key: [UInt8]) -> Int {
        var bytes = key[...]
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            bytes = key[(open + 1)..<close]
        }
        var crc: UInt16 = 0
        for b in bytes { crc = (crc << 8) ^ crcTable[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)] }
        return Int(crc) & 16383
    }

    /// CRC16-XMODEM (polynomial 0x1021) a byte at a time.
    private static let crcTable: [UInt16] = (0..<256).map { n in
        var crc = UInt16(n) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    // MARK: topology replies

    /// `CLUSTER SHARDS` (RESP2): per shard a flat map `slots`, `nodes` (each a flat map).
    /// (Public for the fuzz harnesses.)
    /// `tls`: the client speaks TLS, so a node's `tls-port` is the one to use (a node may
    /// serve both).
    public static func parseShards(_ r: RedisReply, tls: Bool = false) throws(RedisError) -> [ClusterShard] {
        guard let shards = r.array else { throw RedisError.protocolViolation("CLUSTER SHARDS reply") }
        var out: [ClusterShard] = []
        for s in shards {
            let m = flatMap(s)
            var ranges: [ClosedRange<Int>] = []
            let slots = (m["slots"]?.array ?? []).compactMap(\.int)
            var k = 0
            while k + 1 < slots.count {
                if let range = Self.slotRange(slots[k], slots[k + 1]) { ranges.append(range) }
                k += 2
            }
            var master: ClusterShard.Member? = nil
            var replicas: [ClusterShard.Member] = []
            for n in m["nodes"]?.array ?? [] {
                let f = flatMap(n)
                let plain = f["port"]?.int.flatMap { $0 > 0 ? $0 : nil }
                let secure = f["tls-port"]?.int.flatMap { $0 > 0 ? $0 : nil }
                guard let id = f["id"]?.text, let port = tls ? secure ?? plain : plain ?? secure else { continue }
                let host = f["ip"]?.text ?? f["endpoint"]?.text ?? "127.0.0.1"
                let member = ClusterShard.Member(
                    id: id, host: host, port: Int(port), role: f["role"]?.text ?? "master",
                    health: f["health"]?.text ?? "online")
                // After a failover the failed master may still be listed as a master: the
                // healthy one wins.
                if member.role == "master" && (master == nil || master?.health != "online") {
                    if let old = master { replicas.append(old) }
                    master = member
                } else {
                    replicas.append(member)
                }
            }
            // A shard whose master failed and has no promoted replica yet still has slots.
            // A master without slots (drained) is still a member.
            if let master {
                out.append(ClusterShard(master: master, replicas: replicas, slots: ranges))
            } else if master == nil, let first = replicas.first, !ranges.isEmpty {
                out.append(ClusterShard(master: first, replicas: Array(replicas.dropFirst()), slots: ranges))
            }
        }
        return out.sorted { ($0.slots.first?.lowerBound ?? 0) < ($1.slots.first?.lowerBound ?? 0) }
    }

    /// `CLUSTER SLOTS`: `[start, end, [ip, port, id], replicas...]` per range.
    public static func parseSlots(_ r: RedisReply) throws(RedisError) -> [ClusterShard] {
        guard let ranges = r.array else { throw RedisError.protocolViolation("CLUSTER SLOTS reply") }
        var byMaster: [String: ClusterShard] = [:]
        for e in ranges {
            guard let f = e.array, f.count >= 3, let lo = f[0].int, let hi = f[1].int, let range = slotRange(lo, hi),
                let m = f[2].array, m.count >= 2, let host = m[0].text, let port = m[1].int
            else { continue }
            let id = m.count > 2 ? (m[2].text ?? "\(host):\(port)") : "\(host):\(port)"
            let replicas = f.dropFirst(3).compactMap { x -> ClusterShard.Member? in
                guard let a = x.array, a.count >= 2, let h = a[0].text, let p = a[1].int else { return nil }
                return ClusterShard.Member(
                    id: a.count > 2 ? (a[2].text ?? "") : "", host: h, port: Int(p), role: "replica", health: "online")
            }
            var shard =
                byMaster[id]
                ?? ClusterShard(
                    master: .init(id: id, host: host, port: Int(port), role: "master", health: "online"),
                    replicas: replicas, slots: [])
            shard.slots.append(range)
            byMaster[id] = shard
        }
        return byMaster.values.sorted { ($0.slots.first?.lowerBound ?? 0) < ($1.slots.first?.lowerBound ?? 0) }
    }

    /// A range of hash slots from a server's reply, or nil when it is not one (reversed or
    /// outside 0...16383: a server's bytes never make the router trap or index out of its table).
    static func slotRange(_ lo: Int64, _ hi: Int64) -> ClosedRange<Int>? {
        guard lo >= 0, lo <= hi, hi < 16384 else { return nil }
        return Int(lo)...Int(hi)
    }

    static func flatMap(_ r: RedisReply) -> [String: RedisReply] {
        var out: [String: RedisReply] = [:]
        let a = r.array ?? []
        var i = 0
        while i + 1 < a.count {
            if let k = a[i].text { out[k] = a[i + 1] }
            i += 2
        }
        return out
    }
}
