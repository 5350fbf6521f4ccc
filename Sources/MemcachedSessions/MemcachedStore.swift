import Foundation
import MemcachedClient
import SessionFormats
import SessionKit

/// Sessions in one or more memcached nodes. Keys are found with `lru_crawler metadump all`
/// (memcached has no SCAN), values read with pipelined `mg ... u` (nothing touched), each
/// key's framework told by its shape and, where the shape cannot, by its value.
public final class MemcachedStore: SessionStore {
    struct Node: Sendable {
        let name: String
        let endpoint: MemcachedEndpoint
        let client: MemcachedClient
    }

    let nodes: [Node]
    let schema: MemcachedSchema
    let timeouts: MemcachedConnection.Timeouts
    /// Events the console itself causes (deletes, expiries), for the event streams.
    let hub = EventHub()

    public init(
        endpoints: [MemcachedEndpoint], schema: MemcachedSchema = .auto,
        timeouts: MemcachedConnection.Timeouts = .init()
    ) {
        var seen = Set<String>()
        nodes = endpoints.filter { seen.insert($0.nodeName).inserted }.map {
            Node(name: $0.nodeName, endpoint: $0, client: MemcachedClient(endpoint: $0, timeouts: timeouts))
        }
        self.schema = schema
        self.timeouts = timeouts
    }

    public var displayName: String {
        guard let first = nodes.first?.endpoint else { return "memcached://" }
        let auth = first.user.map { "\($0)\(first.password == nil ? "" : ":***")@" } ?? ""
        return "memcached://\(auth)" + nodes.map(\.name).joined(separator: ",")
    }
    public var nodeNames: [String] { nodes.map(\.name) }

    // MARK: - Reading

    /// A session key found on a node, before its value is read.
    struct Candidate {
        let key: [UInt8]
        let keyText: String
        let id: String
        let layouts: [MemcachedLayout]
        let size: Int64?
    }

    /// The dump items that may be sessions.
    func candidates(_ items: [MetaProtocol.DumpItem]) -> [Candidate] {
        var out: [Candidate] = []
        out.reserveCapacity(items.count)
        for item in items {
            let text = KeyText.text(item.key)
            switch schema.classify(text) {
            case .session(let id, let layout):
                out.append(Candidate(key: item.key, keyText: text, id: id, layouts: [layout], size: item.size))
            case .maybe(let id, let layouts):
                out.append(Candidate(key: item.key, keyText: text, id: id, layouts: layouts, size: item.size))
            case .other:
                continue
            }
        }
        return out
    }

    /// Reads the candidates' values (and msm's validity keys) in one pipeline and turns
    /// them into sessions; keys whose value is not a session are dropped.
    func read(_ cands: [Candidate], on node: Node, withAttributes: Bool) async throws -> [Session] {
        let fetched = try await fetch(cands, on: node)
        return decode(fetched, node: node.name, withAttributes: withAttributes)
    }

    /// The candidates with their values, as one pipeline read them.
    struct Fetched: Sendable {
        let candidates: [Candidate]
        let values: [MetaValue?]
        /// Where each msm candidate's validity value is in `values`.
        let validityIndex: [Int: Int]
    }

    func fetch(_ cands: [Candidate], on node: Node) async throws -> Fetched {
        guard !cands.isEmpty else { return Fetched(candidates: [], values: [], validityIndex: [:]) }
        var keys = cands.map(\.key)
        var validityIndex: [Int: Int] = [:]
        for (i, c) in cands.enumerated() where c.layouts.first?.name == "msm" {
            validityIndex[i] = keys.count
            keys.append(KeyText.bytes(c.layouts[0].prefix + "validity:" + c.id))
        }
        let values = try await node.client.metaGet(keys)
        return Fetched(candidates: cands, values: values, validityIndex: validityIndex)
    }

    /// Decodes a batch in two halves at once (decoding is most of a listing's work).
    func decodeInParallel(_ f: Fetched, node: String, withAttributes: Bool) async -> [Session] {
        let n = f.candidates.count
        guard n >= 64 else { return decode(f, node: node, withAttributes: withAttributes) }
        async let first = decode(f, range: 0..<(n / 2), node: node, withAttributes: withAttributes)
        let second = decode(f, range: (n / 2)..<n, node: node, withAttributes: withAttributes)
        return await first + second
    }

    func decode(_ f: Fetched, node: String, withAttributes: Bool) -> [Session] {
        decode(f, range: 0..<f.candidates.count, node: node, withAttributes: withAttributes)
    }

    func decode(_ f: Fetched, range: Range<Int>, node: String, withAttributes: Bool) -> [Session] {
        let nowMs = currentTimeMs()
        var out: [Session] = []
        out.reserveCapacity(range.count)
        for i in range {
            let c = f.candidates[i]
            guard let v = f.values[i] else { continue }
            let validity = f.validityIndex[i].flatMap { f.values[$0] }.flatMap { TomcatMSM.validity($0.value) }
            if let s = session(c, value: v, validity: validity, node: node, nowMs: nowMs, full: withAttributes) {
                out.append(s)
            }
        }
        return out
    }

    /// One session from its key and value; nil when no candidate layout accepts the value.
    func session(
        _ c: Candidate, value v: MetaValue,
        validity: (maxInactiveSeconds: Int32, lastAccessedMs: Int64, thisAccessedMs: Int64)?, node: String,
        nowMs: Int64, full: Bool
    ) -> Session? {
        var raw = v.value
        guard
            let layout = c.layouts.count == 1 && !c.layouts[0].confirmedByValue
                ? c.layouts[0] : c.layouts.first(where: { $0.valueConfirms(raw) })
        else { return nil }
        var s = Session(
            id: c.id, key: c.keyText, node: node, ttlMs: v.ttlSeconds < 0 ? -1 : v.ttlSeconds * 1000,
            storeIdleMs: v.idleSeconds.map { $0 * 1000 }, sizeBytes: c.size ?? Int64(raw.count), schema: layout.name)
        if full { s.storedValue = raw }
        if layout.compressedFlag != 0, v.clientFlags & layout.compressedFlag != 0 {
            do { raw = try Inflate.zlib(raw) } catch {
                s.attributes = [
                    Attribute(name: "(value)", raw: raw, decoded: .undecodable("\(error)"), format: layout.value.format)
                ]
                return s
            }
        }
        if raw.isEmpty { return s }  // created by the framework, never written (PHP's placeholder)
        let tree: DecodedValue
        do { tree = try layout.value.decode(raw) } catch {
            if full {
                s.attributes = [
                    Attribute(name: "(value)", raw: raw, decoded: .undecodable("\(error)"), format: layout.value.format)
                ]
            }
            return s
        }
        s.user = layout.value.user(tree)
        layout.value.times(tree, &s)
        if let validity {
            // msm's own record of the last access (the session value is only rewritten on change).
            s.maxInactiveSeconds = Int64(validity.maxInactiveSeconds)
            s.lastAccessedAtMs = validity.thisAccessedMs
        }
        if full {
            // msm attributes keep the bytes they had in the stream.
            s.attributes =
                layout.name == "msm"
                ? ((try? TomcatMSM.decode(raw))?.attributes ?? [])
                : layout.value.attributes(of: tree)
        }
        return s
    }

    // MARK: - Listing

    public func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome
    {
        let progress = ListProgress(limit: query.limit)
        // With several nodes a session may have a copy on another (pecl redundancy): the first
        // node that lists it owns it, the copies are not listed again.
        let seen: SeenIDs? = nodes.count > 1 ? SeenIDs() : nil
        let results = await listEveryNode(nodes, name: \.name) { node in
            let n = try await self.listNode(node, query: query, progress: progress, seen: seen) { try await onPage($0) }
            return (n.scanned, n.malformed.map { NodeFailure(node: node.name, message: $0) })
        }
        let failures = results.failures.map { f in
            NodeFailure(node: f.node, message: Self.message(f.message, node: f.node))
        }
        return ListOutcome(scannedKeys: results.scanned, matched: await progress.matched, failedNodes: failures)
    }

    /// A node's error without the node's name in front (the failure names the node).
    static func message(_ text: String, node: String) -> String { NodeFailure.reason(text, node: node) }

    static func message(_ error: any Error, node: String) -> String {
        // The node's name is already the failure's node.
        message("\(error)", node: node)
    }

    /// Dumps one node's keys and reads the session values batch by batch: the next dump
    /// batch is read while this batch's values are read.
    func listNode(
        _ node: Node, query: ListQuery, progress: ListProgress?, seen: SeenIDs?,
        onPage: @escaping @Sendable ([Session]) async throws -> Void
    ) async throws -> (scanned: Int, malformed: String?) {
        let withAttributes = query.withAttributes || query.filter.needsAttributes
        let reader = MetadumpReader(endpoint: node.endpoint, timeouts: timeouts)
        var scanned = 0
        // Four stages overlap: the dump of the next batch (its own thread), the values of
        // this batch (the node's client thread), the decoding of this batch (a task) and the
        // filtering and delivery of the previous one (here).
        var decoding: Task<[Session], Never>?
        defer { decoding?.cancel() }
        var next: [MetaProtocol.DumpItem]? = try await reader.next(max: 1000)
        var stop = false
        while !stop {
            var upcoming: Task<[MetaProtocol.DumpItem]?, Error>?
            var fetched: Fetched?
            if let batch = next {
                scanned += batch.count
                upcoming = Task { try await reader.next(max: 1000) }
                do { fetched = try await fetch(candidates(batch), on: node) } catch {
                    upcoming?.cancel()
                    _ = try? await upcoming?.value
                    throw error
                }
            }
            // This batch decodes while the previous one is filtered and delivered.
            let previous = decoding
            decoding = fetched.map { f in
                Task { await self.decodeInParallel(f, node: node.name, withAttributes: withAttributes) }
            }
            if let previous {
                let sessions = await previous.value
                let now = currentTimeMs()
                var matching = sessions.filter { query.filter.matches($0, nowMs: now) }
                if let seen { matching = await seen.firstSightings(matching) }
                if let progress {
                    let page = await progress.accept(matching)
                    if !page.sessions.isEmpty { try await onPage(page.sessions) }
                    stop = page.done
                } else if !matching.isEmpty {
                    try await onPage(matching)
                }
            }
            if stop {
                upcoming?.cancel()
                _ = try? await upcoming?.value
                await reader.finish()
                break
            }
            // The dump is over and the last batch was delivered.
            guard let upcoming else { break }
            next = try await upcoming.value
        }
        let bad = await reader.malformedCount
        let examples = await reader.malformed
        let note = bad == 0 ? nil : "\(bad) metadump line(s) could not be read, e.g. '\(examples.first ?? "")'"
        return (scanned, note)
    }

    // MARK: - One session

    public func get(id: String) async throws -> Session? {
        var found: Session?
        var copies: [String] = []
        var lastError: (any Error)?
        for node in nodes {
            do {
                if let s = try await read(id: id, on: node, full: true) {
                    if found == nil { found = s } else { copies.append(node.name) }
                }
            } catch {
                lastError = error
            }
        }
        if var s = found {
            if !copies.isEmpty { s.node += " (replica on \(copies.joined(separator: ", ")))" }
            return s
        }
        // Not found, but a node could not be asked: it may hold it.
        if let lastError { throw lastError }
        return nil
    }

    /// The session `id` on one node, trying every key the schema may keep it under.
    func read(id: String, on node: Node, full: Bool) async throws -> Session? {
        let cands = schema.candidates(forID: id)
        var byKey: [String: [MemcachedLayout]] = [:]
        var order: [String] = []
        for c in cands {
            if byKey[c.key] == nil { order.append(c.key) }
            byKey[c.key, default: []].append(c.layout)
        }
        let list = order.map { k in
            Candidate(key: KeyText.bytes(k), keyText: k, id: id, layouts: byKey[k] ?? [], size: nil)
        }
        return try await read(list, on: node, withAttributes: full).first
    }

    public func locate(ids: [String]) async -> SessionPlan {
        await SessionPlan.byReading(ids, from: self)
    }

    // MARK: - Mutations

    /// The sessions a target names (a user's: every node listed and decoded).
    func resolve(_ target: SessionTarget) async throws -> (
        sessions: [Session], notFound: [String], failures: [NodeFailure]
    ) {
        switch target {
        case .sessions(let s): return (s, [], [])
        case .ids(let ids):
            let plan = await locate(ids: ids)
            return (plan.sessions, plan.notFound, plan.failures)
        case .user(let user):
            var filter = Filter()
            filter.add(.user, .eq, user)
            let collector = Collector()
            let outcome = try await list(ListQuery(filter: filter)) { await collector.add($0) }
            return (await collector.sessions, [], outcome.failedNodes)
        }
    }

    /// Every key of a session: its own and the framework's companions.
    func keys(of s: Session) -> [[UInt8]] {
        let layout = schema.layouts.first { $0.name == s.schema && s.key.hasPrefix($0.prefix) }
        let companions = layout?.companions(ofID: s.id) ?? []
        return ([s.key] + companions).map(KeyText.bytes)
    }

    public func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult {
        guard let ms = milliseconds else { return try await remove(target, as: .expired) }
        let (sessions, notFound, failures) = try await resolve(target)
        var result = MutationResult(notFound: notFound, failedNodes: failures)
        let seconds = max(1, (ms + 999) / 1000)
        var touched = Set<String>()
        for node in nodes {
            do {
                let keys = sessions.map { KeyText.bytes($0.key) }
                let hits = try await node.client.metaTouch(keys, seconds: seconds)
                for (s, hit) in zip(sessions, hits) where hit {
                    touched.insert(s.id)
                    result.keysTouched += 1
                }
            } catch {
                result.failedNodes.append(NodeFailure(node: node.name, message: Self.message(error, node: node.name)))
            }
        }
        result.affected = sessions.map(\.id).filter { touched.contains($0) }
        result.notFound += sessions.map(\.id).filter { !touched.contains($0) }
        return result
    }

    public func delete(_ target: SessionTarget) async throws -> MutationResult {
        try await remove(target, as: .deleted)
    }

    /// Deletes each session's keys (and the framework's lock, validity and backup keys) on
    /// every node: copies and backups go too.
    func remove(_ target: SessionTarget, as kind: SessionEvent.Kind) async throws -> MutationResult {
        let (sessions, notFound, failures) = try await resolve(target)
        var result = MutationResult(notFound: notFound, failedNodes: failures)
        guard !sessions.isEmpty else { return result }
        var removed: [String: String] = [:]  // id → node
        let perSession = sessions.map { keys(of: $0) }
        for node in nodes {
            do {
                let hits = try await node.client.metaDelete(perSession.flatMap { $0 })
                var k = 0
                for (s, keys) in zip(sessions, perSession) {
                    let own = hits[k]
                    result.keysTouched += hits[k..<(k + keys.count)].filter { $0 }.count
                    if own && removed[s.id] == nil { removed[s.id] = node.name }
                    k += keys.count
                }
            } catch {
                result.failedNodes.append(NodeFailure(node: node.name, message: Self.message(error, node: node.name)))
            }
        }
        let now = currentTimeMs()
        for s in sessions {
            if let node = removed[s.id] {
                result.affected.append(s.id)
                await hub.publish(
                    SessionEvent(
                        kind: kind, sessionID: s.id, key: s.key, user: s.user, node: node, timeMs: now,
                        detail: "by sessionctl"))
            } else {
                result.notFound.append(s.id)
            }
        }
        return result
    }

    // MARK: - Nodes

    public func nodes(_ detail: NodeDetail) async -> [NodeInfo] {
        await withTaskGroup(of: (Int, NodeInfo).self) { group in
            for (i, node) in nodes.enumerated() {
                group.addTask { (i, await self.info(node, detail: detail)) }
            }
            var out: [(Int, NodeInfo)] = []
            for await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    func info(_ node: Node, detail: NodeDetail) async -> NodeInfo {
        var info = NodeInfo(name: node.name, address: node.endpoint.nodeName, up: false)
        let stats: [String: String]
        let settings: [String: String]
        do {
            stats = try await node.client.stats()
            settings = (try? await node.client.stats("settings")) ?? [:]
        } catch {
            info.error = Self.message(error, node: node.name)
            return info
        }
        info.up = true
        info.version = stats["version"]
        info.usedMemory = stats["bytes"].flatMap { Int64($0) }
        info.maxMemory = stats["limit_maxbytes"].flatMap { Int64($0) }
        info.evictionPolicy = "lru"
        info.evictedTotal = stats["evictions"].flatMap { Int64($0) }
        info.expiredTotal = stats["reclaimed"].flatMap { Int64($0) }
        func int(_ k: String) -> Int64? { stats[k].flatMap { Int64($0) } }
        if let items = int("curr_items") { info.set(NodeFact(key: "items", title: "ITEMS", value: .int(items))) }
        if let up = int("uptime") { info.set(NodeFact(key: "uptime_s", title: "UPTIME", value: .int(up))) }
        if let hits = int("get_hits"), let misses = int("get_misses") {
            let ratio = hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses)
            info.set(
                NodeFact(
                    key: "hit_ratio", title: "HIT%",
                    value: .number(ratio, text: String(format: "%.1f", ratio * 100))))
        }
        if let r = int("reclaimed") { info.set(NodeFact(key: "reclaimed", title: "RECLAIMED", value: .int(r))) }
        if let c = settings["lru_crawler"] { info.set(NodeFact(key: "crawler", title: "CRAWLER", value: .string(c))) }
        if let d = settings["dump_enabled"] { info.set(NodeFact(key: "dump", title: "DUMP", value: .string(d))) }
        if settings["auth_enabled_sasl"] == "yes" {
            info.error =
                "SASL is on (-S): memcached then speaks only the binary protocol, which has no metadump; "
                + "use ASCII auth (-Y) for sessionctl"
        }
        if detail == .full {
            do {
                let counter = Counter()
                _ = try await listNode(node, query: ListQuery(), progress: nil, seen: nil) {
                    await counter.add($0.count)
                }
                info.sessions = await counter.value
            } catch {
                info.error = Self.message(error, node: node.name)
            }
        }
        return info
    }

    public func capabilities() async -> StoreCapabilities {
        StoreCapabilities(
            events: MemcachedEvents(store: self), writer: self, diagnostics: MemcachedDiagnostics(store: self))
    }
}

/// Session ids already listed (several nodes may hold copies of one session).
actor SeenIDs {
    private var ids = Set<String>()
    func firstSightings(_ sessions: [Session]) -> [Session] { sessions.filter { ids.insert($0.id).inserted } }
}

actor Counter {
    private(set) var value = 0
    func add(_ n: Int) { value += n }
}
