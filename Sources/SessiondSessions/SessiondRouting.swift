import Foundation
import HouseStore
import RedisClient
import SessionKit

/// How a client of sessiond reaches a session: the nodes it was given until one says they
/// form a cluster (`CLUSTER.NODES`), then every member, and each request sent to the
/// session's home on the ring and on wherever `MOVED` points. The console's store and the
/// application client (`SessiondClient`) share this; neither reaches into the other.
public final class SessiondRouting: @unchecked Sendable {
    public struct Node: Sendable {
        public let url: RedisURL
        public let client: RedisClient
        public let name: String
    }
    /// The nodes as this console knows them: the URLs it was given until a node says they
    /// belong to a cluster (`CLUSTER.NODES`), then every member of that cluster.
    public struct Topology: Sendable {
        public let nodes: [Node]
        /// nil: independent nodes (no routing).
        public let ring: HashRing?
        public var shares: [String: Double]
        /// `up`, `down`, `unknown` per node, as the answering node sees them.
        public var states: [String: String] = [:]
        public func node(_ name: String) -> Node? { nodes.first { $0.name == name } }
        public func home(of id: String) -> Node? { ring?.owner(of: id).flatMap { node($0.id) } }
    }

    let seeds: [Node]
    let password: String?
    let timeouts: RedisConnection.Timeouts
    private let lock = NSLock()
    private var known: Topology?

    public init(urls: [RedisURL], timeouts: RedisConnection.Timeouts = .init(), fallbackPassword: String? = nil) {
        password = fallbackPassword
        self.timeouts = timeouts
        seeds = urls.map {
            Node(
                url: $0, client: RedisClient(url: $0, timeouts: timeouts, fallbackPassword: fallbackPassword),
                name: $0.nodeName)
        }
    }

    /// The nodes, learnt from the first seed that answers `CLUSTER.NODES`.
    public func topology(refresh: Bool = false) async -> Topology {
        if !refresh, let t = lock.withLock({ known }) { return t }
        for seed in seeds {
            guard let text = try? await seed.client.send(RedisCommand("CLUSTER.NODES")).orThrow().text else { continue }
            let lines = Wire.parseClusterNodes(text)
            guard lines.count > 1 else { continue }
            let members = lines.map(\.member)
            let previous = lock.withLock { known }
            let nodes = members.map { m in
                previous?.node(m.id).flatMap { $0.url.nodeName == m.address ? $0 : nil }
                    ?? seeds.first { $0.url.nodeName == m.address }.map {
                        Node(url: $0.url, client: $0.client, name: m.id)
                    }
                    ?? { () -> Node in
                        let url = seed.url.member(host: m.host, port: m.port)
                        return Node(
                            url: url, client: RedisClient(url: url, timeouts: timeouts, fallbackPassword: password),
                            name: m.id)
                    }()
            }
            var shares: [String: Double] = [:]
            var states: [String: String] = [:]
            for l in lines {
                shares[l.member.id] = l.share
                states[l.member.id] = l.state.contains("down") ? "down" : l.state.contains("up") ? "up" : "unknown"
            }
            let t = Topology(nodes: nodes, ring: HashRing(members), shares: shares, states: states)
            lock.withLock { known = t }
            return t
        }
        if let t = lock.withLock({ known }) { return t }
        let t = Topology(nodes: seeds, ring: nil, shares: [:])
        // Remember "no cluster" only when a seed answered (a down seed may be a cluster's).
        return t
    }

    public var displayName: String {
        let nodes = lock.withLock { known?.nodes } ?? seeds
        let names = nodes.map { "sessiond://" + ($0.url.password != nil ? ":***@" : "") + $0.url.nodeName }
        return names.count > 3
            ? names.prefix(2).joined(separator: ", ") + " +\(names.count - 2) nodes" : names.joined(separator: ", ")
    }
    public var nodes: [Node] { lock.withLock { known?.nodes } ?? seeds }

    /// Sends `make(id)` for each id to the node that holds it: first its home on the ring,
    /// then wherever `MOVED` points (at most 8 hops); `TRYAGAIN` (a migration in progress, a
    /// copy arriving) waits a moment and asks again, for up to 5 s (a wait is not a hop: a
    /// slow move under load used up the hops and looked like a redirect loop). One pipeline
    /// per node per round.
    public func routed(_ ids: [String], _ make: (String) -> RedisCommand, topology t: Topology) async -> [String:
        Result<(RedisReply, Node), RedisError>]
    {
        var results: [String: Result<(RedisReply, Node), RedisError>] = [:]
        guard let first = t.nodes.first else { return results }
        var pending = ids.map { ($0, t.home(of: $0) ?? first) }
        var hops: [String: Int] = [:]
        let waitUntil = currentTimeMs() + 5_000
        var waitMs: UInt64 = 20
        while !pending.isEmpty {
            var next: [(String, Node)] = []
            var wait = false
            var byNode: [String: [(String, Node)]] = [:]
            for p in pending { byNode[p.1.name, default: []].append(p) }
            for (_, items) in byNode.sorted(by: { $0.key < $1.key }) {
                let node = items[0].1
                do {
                    let replies = try await node.client.pipeline(items.map { make($0.0) })
                    for (item, r) in zip(items, replies) {
                        if let m = r.errorMessage, m.hasPrefix("MOVED ") {
                            let to = m.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                            hops[item.0, default: 0] += 1
                            if hops[item.0, default: 0] > 8 {
                                results[item.0] = .failure(
                                    .server("redirect loop for this session (a node's pointer is stale); try again"))
                            } else if let n = t.node(to) {
                                next.append((item.0, n))
                            } else {
                                results[item.0] = .failure(.server(m + " (node unknown here)"))
                            }
                        } else if let m = r.errorMessage, m.hasPrefix("TRYAGAIN") {
                            if currentTimeMs() < waitUntil {
                                next.append(item)
                                wait = true
                            } else {
                                results[item.0] = .failure(.server(m + " (still busy after 5 s)"))
                            }
                        } else {
                            results[item.0] = .success((r, node))
                        }
                    }
                } catch {
                    for item in items { results[item.0] = .failure(error) }
                }
            }
            if wait {
                try? await Task.sleep(nanoseconds: waitMs * 1_000_000)
                waitMs = min(waitMs * 2, 200)
            }
            pending = next
        }
        return results
    }
}
