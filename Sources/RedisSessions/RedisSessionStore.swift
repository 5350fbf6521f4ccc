import Foundation
import RedisClient
import SessionFormats
import SessionKit

/// Sessions kept in one or several independent Redis nodes, in any known schema.
/// (`@unchecked Sendable`: the cluster state is behind `lock`; everything else is immutable.)
public final class RedisSessionStore: SessionStore, SessionEventSource, @unchecked Sendable {
    public struct Node: Sendable {
        public let url: RedisURL
        /// The node's shared connection for request/response commands.
        public let client: RedisClient
        /// `host:port`, computed once (every listed row carries it).
        public let name: String
        let fallbackPassword: String?
        /// Where listings scan: `url`, or with `--read-from replica` the same Sentinel set
        /// resolved to a replica (mutations and follow-up reads stay on the master).
        let readURL: RedisURL
        /// The shared client of `readURL` (schema detection reads there too).
        let reader: RedisClient
        init(url: RedisURL, client: RedisClient, fallbackPassword: String?, readURL: RedisURL? = nil) {
            self.url = url
            self.client = client
            self.fallbackPassword = fallbackPassword
            self.readURL = readURL ?? url
            reader =
                readURL.map { RedisClient(url: $0, timeouts: client.timeouts, fallbackPassword: fallbackPassword) }
                ?? client
            name = url.nodeName
        }

        /// A connection of its own, for scans that keep replies in flight across awaits
        /// (on the shared one, another caller's pipeline would read them).
        func dedicatedClient() -> RedisClient {
            RedisClient(url: readURL, timeouts: client.timeouts, fallbackPassword: fallbackPassword)
        }
    }

    /// The nodes given (`--store`); in a Redis Cluster, the masters replace them.
    public let seedNodes: [Node]
    public let schemaOption: SchemaOption
    private let lock = NSLock()
    private var clusterState: (router: ClusterRouter, nodes: [Node])?
    private var resolved = false
    let timeouts: RedisConnection.Timeouts
    let fallbackPassword: String?

    /// The nodes to scan: the given ones, or the masters of a Redis Cluster once detected.
    public var nodes: [Node] { lock.withLock { clusterState?.nodes ?? seedNodes } }
    /// The cluster's router (nil: independent nodes).
    public var router: ClusterRouter? { lock.withLock { clusterState?.router } }

    /// Detects Redis Cluster mode once (`INFO cluster` on the first node that answers) and
    /// reads the topology; `refresh` re-reads it (after a failover or a slot move).
    @discardableResult
    public func resolve(refresh: Bool = false) async -> [Node] {
        if let state = lock.withLock({ clusterState }) {
            guard refresh else { return state.nodes }
            if let shards = try? await state.router.refresh() { install(shards, router: state.router) }
            return nodes
        }
        if lock.withLock({ resolved }) { return seedNodes }
        for seed in seedNodes {
            guard let info = try? await seed.client.send(RedisCommand("INFO", "cluster")).orThrow().text else {
                continue
            }
            lock.withLock { resolved = true }
            guard RedisInfo.parse(info)["cluster_enabled"] == "1" else { return seedNodes }
            let router = ClusterRouter(seed: seed.url, timeouts: timeouts, fallbackPassword: fallbackPassword)
            if let shards = try? await router.refresh() { install(shards, router: router) }
            return nodes
        }
        return seedNodes
    }

    /// The node of a cluster member, on the router's shared client for its address.
    func node(_ m: ClusterShard.Member, _ router: ClusterRouter) -> Node {
        Node(
            url: router.url(host: m.host, port: m.port), client: router.client(host: m.host, port: m.port),
            fallbackPassword: fallbackPassword)
    }

    private func install(_ shards: [ClusterShard], router: ClusterRouter) {
        let masters = shards.map { node($0.master, router) }
        lock.withLock { clusterState = (router, masters) }
    }

    /// Runs commands against the node holding their keys: the node itself, or in a
    /// cluster wherever each key's slot lives.
    func execute(_ commands: [RedisCommand], on node: Node) async throws(RedisError) -> [RedisReply] {
        if let router { return try await router.pipeline(commands) }
        return try await node.client.pipeline(commands)
    }

    /// The node that owns a key (in a cluster, the master of its slot).
    func owner(ofKey key: String, default node: Node) -> String {
        guard let router, let m = router.master(forKey: Array(key.utf8)) else { return node.name }
        return m.address
    }
    /// Keys per SCAN page; about 1000 is the measured sweet spot (BENCHMARKS.md, listing).
    public let scanCount: Int
    private let schemaCache = SchemaCache()

    /// `readFromReplica`: listings of Sentinel-named masters scan a replica.
    public init(
        urls: [RedisURL], schema: SchemaOption = .auto, timeouts: RedisConnection.Timeouts = .init(),
        fallbackPassword: String? = nil, scanCount: Int = 1000, readFromReplica: Bool = false
    ) {
        self.scanCount = scanCount
        self.timeouts = timeouts
        self.fallbackPassword = fallbackPassword
        seedNodes = urls.map { url in
            var readURL: RedisURL? = nil
            if readFromReplica, var set = url.sentinel {
                set.readFrom = .replica
                var r = url
                r.endpoint = .sentinel(set)
                readURL = r
            }
            return Node(
                url: url, client: RedisClient(url: url, timeouts: timeouts, fallbackPassword: fallbackPassword),
                fallbackPassword: fallbackPassword, readURL: readURL)
        }
        schemaOption = schema
    }

    public var displayName: String { nodes.map { $0.url.description }.joined(separator: ", ") }
    public var nodeNames: [String] { nodes.map(\.name) }

    /// The schemas in use on a node (detected once, then cached).
    public func schemas(on node: Node) async throws(RedisError) -> [any RedisSchema] {
        if router != nil { return try await clusterSchemas() }
        if let cached = await schemaCache.get(node.name) { return cached }
        let found = try await SchemaDetector.detect(client: node.reader, option: schemaOption)
        await schemaCache.set(node.name, found)
        return found
    }

    /// In a cluster every master holds a share of every schema's keys: the union of what
    /// the masters' samples found.
    private func clusterSchemas() async throws(RedisError) -> [any RedisSchema] {
        if let cached = await schemaCache.get("(cluster)") { return cached }
        var all: [any RedisSchema] = []
        var lastError: RedisError? = nil
        for node in nodes {
            do {
                for s in try await SchemaDetector.detect(client: node.client, option: schemaOption)
                where !all.contains(where: { $0.label == s.label }) {
                    all.append(s)
                }
            } catch { lastError = error }
        }
        if all.isEmpty, let lastError { throw lastError }
        await schemaCache.set("(cluster)", all)
        return all
    }

    // MARK: - Listing

    public func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome
    {
        let progress = ListProgress(limit: query.limit)
        let current = await resolve()
        let clustered = router != nil
        let results = await listEveryNode(current, name: \.name) { node in
            let scanned =
                clustered
                ? try await self.listClusterNode(node, query: query, progress: progress, onPage: onPage)
                : try await self.listNode(node, query: query, progress: progress, onPage: onPage)
            return (scanned, nil)
        }
        return ListOutcome(scannedKeys: results.scanned, matched: await progress.matched, failedNodes: results.failures)
    }

    /// Scans one node. A master named by Sentinel that fails during the scan is scanned
    /// again from the start once the sentinels name its successor; sessions already listed
    /// are not listed twice (a hash per listed key: 8 bytes a session, only for Sentinel).
    func listNode(
        _ node: Node, query: ListQuery, progress: ListProgress,
        onPage: @escaping @Sendable ([Session]) async throws -> Void
    ) async throws -> Int {
        guard node.url.sentinel != nil else {
            return try await listNodeOnce(node, query: query, progress: progress, onPage: onPage, admit: { _ in true })
        }
        var listed = Set<UInt64>()
        var restarts = 0
        while true {
            do {
                // The count of keys is the last scan's: the keys the node holds.
                return try await listNodeOnce(
                    node, query: query, progress: progress, onPage: onPage,
                    admit: { listed.insert(HashRing.fnv1a(Array($0.utf8))).inserted })
            } catch let e as RedisError
                where e.isConnectionError && !e.isPermanent && restarts < 10
                && !e.description.contains(Sentinel.noAnswerPrefix)
            {
                // A failover under way: the sentinels still answer and will name the new master.
                restarts += 1
                try await Task.sleep(nanoseconds: 1_000_000_000)
            }
        }
    }

    /// One scan of a node. The reads for a page and the SCAN for the next page go out in
    /// one pipeline, so a page costs one round trip.
    func listNodeOnce(
        _ node: Node, query: ListQuery, progress: ListProgress,
        onPage: @escaping @Sendable ([Session]) async throws -> Void, admit: (String) -> Bool
    ) async throws -> Int {
        let reads = ListReads(query)
        var scanned = 0
        for schema in try await schemas(on: node) {
            // A pinned user with a principal index: read the index instead of scanning.
            if let user = query.filter.exactUser, let spring = schema as? SpringSchema, spring.indexed,
                let indexKey = spring.userIndexKey(user)
            {
                let members = try await node.client.send(RedisCommand("SMEMBERS", indexKey)).orThrow().array ?? []
                let ids = spring.sessionIDs(fromIndexMembers: members.compactMap(\.bytes))
                let sessions = try await read(ids: ids, schema: spring, node: node, reads: reads)
                let now = currentTimeMs()
                let page = await progress.accept(
                    sessions.filter { PageReads.keep($0, query, nowMs: now) && admit($0.id) })
                if !page.sessions.isEmpty { try await onPage(page.sessions) }
                continue
            }
            // Each pipeline is [SCAN of the next page, reads of this page]. The SCAN reply comes
            // back first, so the next pipeline goes out while Redis is still answering this
            // page's reads, and the page is parsed while Redis works on the next: Redis never
            // waits for this side.
            let scanner = node.dedicatedClient()
            defer { Task { await scanner.close() } }
            let first = try await scanner.send(scanCommand(cursor: "0", schema: schema)).orThrow()
            var (pageKeys, next) = try parseScan(first, schema: schema)
            scanned += pageKeys.count
            var reads = try await sendPage(pageKeys, next: next, schema: schema, client: scanner, query: query)
            while true {
                var upcoming: PageReads? = nil
                if next != "0" {
                    let scanReply = try await scanner.receive(1)[0]
                    let nextKeys: [(key: String, id: String)]
                    (nextKeys, next) = try parseScan(try scanReply.orThrow(), schema: schema)
                    scanned += nextKeys.count
                    upcoming = try await sendPage(nextKeys, next: next, schema: schema, client: scanner, query: query)
                }
                let replies = try await scanner.receive(reads.replyCount)
                let sessions = try await finish(reads, replies: replies[...], query: query, node: node, admit: admit)
                let page = await progress.accept(sessions)
                if !page.sessions.isEmpty { try await onPage(page.sessions) }
                guard let upcoming else { break }
                if page.done {
                    break  // the dedicated connection is closed with what is still in flight
                }
                reads = upcoming
            }
            if await progress.done { break }
        }
        return scanned
    }

    /// Scans one master of a Redis Cluster; each page's reads are routed by key (a
    /// session's keys may live in other slots). If the master fails during the scan, the
    /// scan starts again on the replica promoted in its place; keys already listed are
    /// not listed twice.
    func listClusterNode(
        _ start: Node, query: ListQuery, progress: ListProgress,
        onPage: @escaping @Sendable ([Session]) async throws -> Void
    ) async throws -> Int {
        guard let router else { return try await listNode(start, query: query, progress: progress, onPage: onPage) }
        let listReads = ListReads(query)
        let firstSlot = router.shards.first { $0.master.address == start.name }?.slots.first?.lowerBound
        var node = start
        var scanned = 0
        var listed = Set<UInt64>()  // hashes of listed keys, for a restarted scan
        var restarts = 0
        // SCAN on a connection of its own: the next page's SCAN is in flight while this
        // page's reads are routed (mostly to this master, `expires:` keys elsewhere).
        var scanner = node.dedicatedClient()
        defer { Task { [scanner] in await scanner.close() } }
        for schema in try await schemas(on: start) {
            var cursor = "0"
            var prefetched: RedisReply? = nil
            while true {
                do {
                    let reply: RedisReply
                    if let p = prefetched {
                        reply = p
                    } else {
                        reply = try await scanner.send(scanCommand(cursor: cursor, schema: schema))
                    }
                    prefetched = nil
                    let (keys, next) = try parseScan(try reply.orThrow(), schema: schema)
                    scanned += keys.count
                    let reads = PageReads(keys: keys, schema: schema, reads: listReads)
                    let scan = next == "0" ? nil : scanCommand(cursor: next, schema: schema)
                    let scanning = scanner
                    async let upcoming: RedisReply? = {
                        guard let scan else { return nil }
                        return try await scanning.send(scan)
                    }()
                    let replies = try await router.pipeline(reads.commands)
                    let sessions = try await finish(
                        reads, replies: replies[...], query: query, node: node,
                        admit: { listed.insert(HashRing.fnv1a(Array($0.utf8))).inserted })
                    let page = await progress.accept(sessions)
                    if !page.sessions.isEmpty { try await onPage(page.sessions) }
                    prefetched = try await upcoming
                    cursor = next
                    if cursor == "0" || page.done { break }
                } catch let e as RedisError where e.isConnectionError && restarts < 10 {
                    // Failover: wait for the promotion, then scan the new master from the start.
                    restarts += 1
                    try await Task.sleep(nanoseconds: 1_000_000_000)
                    await resolve(refresh: true)
                    guard let slot = firstSlot, let m = router.master(forSlot: slot) else { throw e }
                    node = self.node(m, router)
                    await scanner.close()
                    scanner = node.dedicatedClient()
                    cursor = "0"
                    prefetched = nil
                }
            }
            if await progress.done { break }
        }
        return scanned
    }

    /// A page's rows from its replies: owners the first reads did not find are read in one
    /// more pipeline where the schema has a follow-up (on `node`'s own connection: the
    /// scanner's has the next page in flight), then the query's filter.
    func finish(
        _ reads: PageReads, replies: ArraySlice<RedisReply>, query: ListQuery?, node: Node,
        admit: (String) -> Bool = { _ in true }
    ) async throws -> [Session] {
        let now = currentTimeMs()
        var rows = reads.rows(from: replies, nowMs: now, admit: admit) { self.owner(ofKey: $0, default: node) }
        let more = reads.followUps(rows)
        if !more.isEmpty {
            let replies = try await execute(more.map(\.1), on: node)
            for ((i, _), reply) in zip(more, replies) { rows[i].user = reads.schema.owner(fromFollowUp: reply) }
        }
        guard let query else { return rows }
        return rows.filter { PageReads.keep($0, query, nowMs: now) }
    }

    /// Session keys of a SCAN reply and the next cursor.
    private func parseScan(_ reply: RedisReply, schema: any RedisSchema) throws -> ([(key: String, id: String)], String)
    {
        guard let parts = reply.array, parts.count == 2, let next = parts[0].text, let keyReplies = parts[1].array
        else {
            throw RedisError.protocolViolation("SCAN reply")
        }
        var keys: [(key: String, id: String)] = []
        keys.reserveCapacity(keyReplies.count)
        for k in keyReplies {
            guard let key = k.text, let id = schema.sessionID(forKey: key) else { continue }
            keys.append((key, id))
        }
        return (keys, next)
    }

    /// Sends the SCAN of the next page (when there is one), then the listing reads of this
    /// page; the reads, to cut their replies when they come.
    private func sendPage(
        _ keys: [(key: String, id: String)], next: String, schema: any RedisSchema, client: RedisClient,
        query: ListQuery
    ) async throws -> PageReads {
        let reads = PageReads(keys: keys, schema: schema, reads: ListReads(query))
        var commands: [RedisCommand] = []
        commands.reserveCapacity(reads.commands.count + 1)
        if next != "0" { commands.append(scanCommand(cursor: next, schema: schema)) }
        commands += reads.commands
        try await client.send(commands)
        return reads
    }

    private func scanCommand(cursor: String, schema: any RedisSchema) -> RedisCommand {
        var args: [RedisArgument] = [cursor, "MATCH", schema.scanPattern, "COUNT", scanCount]
        if let type = schema.scanType { args += ["TYPE", type] }
        return RedisCommand("SCAN", arguments: args)
    }

    /// Reads known session ids of one schema on one node (listing-level detail), pipelined.
    func read(ids: [String], schema: any RedisSchema, node: Node, reads listReads: ListReads) async throws
        -> [Session]
    {
        let reads = PageReads(keys: ids.map { (schema.key(forID: $0), $0) }, schema: schema, reads: listReads)
        let replies = try await execute(reads.commands, on: node)
        return try await finish(reads, replies: replies[...], query: nil, node: node)
    }

    // MARK: - One session

    public func get(id: String) async throws -> Session? {
        var firstError: Error? = nil
        let all = await resolve()
        // In a cluster every read is routed by key: asking one master is asking them all.
        for node in router != nil ? Array(all.prefix(1)) : all {
            do {
                for schema in try await schemas(on: node) {
                    let key = schema.key(forID: id)
                    // Idle time and type first: they do not reset the idle time; the reads after do.
                    let head = try await execute(
                        [RedisCommand("OBJECT", "IDLETIME", key), RedisCommand("TYPE", key)], on: node)
                    guard let type = head[1].text, type != "none" else { continue }
                    guard
                        var s = try await read(
                            ids: [id], schema: schema, node: node, reads: ListReads(attributes: true)
                        ).first
                    else { continue }
                    if s.storeIdleMs == nil, let idle = Decode.int(head[0]) { s.storeIdleMs = idle * 1000 }
                    if schema is PrefixSchema {
                        let holder =
                            router?.master(forKey: Array(key.utf8)).map {
                                router?.client(host: $0.host, port: $0.port) ?? node.client
                            } ?? node.client
                        s.attributes = try await readValue(key: key, type: type, client: holder)
                    }
                    return s
                }
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return nil
    }

    /// The value of any key, by its type, as attributes (prefix schema).
    private func readValue(key: String, type: String, client: RedisClient) async throws -> [Attribute] {
        switch type {
        case "string":
            let v = try await client.send(RedisCommand("GET", key)).orThrow()
            return [Decode.attribute(name: "(value)", raw: v.bytes ?? [])]
        case "hash":
            let items = try await client.send(RedisCommand("HGETALL", key)).orThrow().array ?? []
            return stride(from: 0, to: items.count - 1, by: 2).map {
                Decode.attribute(name: Sanitizer.display(items[$0].bytes ?? []), raw: items[$0 + 1].bytes ?? [])
            }
        case "set":
            let items = try await client.send(RedisCommand("SRANDMEMBER", key, "1000")).orThrow().array ?? []
            return items.enumerated().map { Decode.attribute(name: "[\($0.offset)]", raw: $0.element.bytes ?? []) }
        case "list":
            let items = try await client.send(RedisCommand("LRANGE", key, "0", "999")).orThrow().array ?? []
            return items.enumerated().map { Decode.attribute(name: "[\($0.offset)]", raw: $0.element.bytes ?? []) }
        case "zset":
            let items =
                try await client.send(RedisCommand("ZRANGE", key, "0", "999", "WITHSCORES")).orThrow().array ?? []
            return stride(from: 0, to: items.count - 1, by: 2).map {
                Decode.attribute(
                    name: Sanitizer.display(items[$0].bytes ?? []) + " (score \(items[$0 + 1].text ?? "?"))",
                    raw: items[$0].bytes ?? [])
            }
        default:
            return [
                Attribute(
                    name: "(value)", raw: [], decoded: .undecodable("values of type \(type) are not shown"),
                    format: type)
            ]
        }
    }

    // MARK: - Mutations

    /// Where each id lives: node, schema and the listing-level session (for Spring, the
    /// times and user its clean-up needs).
    struct Located: Sendable {
        var node: Node
        var schema: any RedisSchema
        var session: Session
    }

    func find(ids: [String]) async -> (found: [Located], failures: [NodeFailure]) {
        var found: [Located] = []
        var failures: [NodeFailure] = []
        var remaining = Set(ids)
        let all = await resolve()
        for node in router != nil ? Array(all.prefix(1)) : all where !remaining.isEmpty {
            do {
                for schema in try await schemas(on: node) where !remaining.isEmpty {
                    let wanted = ids.filter { remaining.contains($0) }
                    for s in try await read(ids: wanted, schema: schema, node: node, reads: ListReads()) {
                        found.append(
                            Located(node: nodes.first { $0.name == s.node } ?? node, schema: schema, session: s))
                        remaining.remove(s.id)
                    }
                }
            } catch {
                failures.append(
                    NodeFailure(node: node.name, message: (error as? RedisError)?.description ?? "\(error)"))
            }
        }
        return (found, failures)
    }

    /// What a mutation would do, for `--dry-run`: the sessions it would touch.
    public func locate(ids: [String]) async -> SessionPlan {
        let (found, failures) = await find(ids: ids)
        let foundIDs = Set(found.map(\.session.id))
        return SessionPlan(
            sessions: found.map(\.session), notFound: ids.filter { !foundIDs.contains($0) }, failures: failures)
    }

    public func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult {
        try await mutate(target) {
            $0.schema.expireCommands(for: $0.session, afterMs: milliseconds)
        } after: { found in
            if milliseconds == nil { await self.promptExpiry(found) }
        }
    }

    public func delete(_ target: SessionTarget) async throws -> MutationResult {
        try await mutate(target) {
            $0.schema.deleteCommands(for: $0.session)
        } after: { _ in
        }
    }

    /// Finds the target's sessions (by id, from rows already read, or by user) and runs
    /// each one's commands.
    private func mutate(
        _ target: SessionTarget, commands: @escaping (Located) -> [RedisCommand],
        after: ([Located]) async -> Void
    ) async throws -> MutationResult {
        switch target {
        case .ids(let ids):
            let (found, failures) = await find(ids: ids)
            var result = await apply(found, commands: commands)
            await after(found)
            result.failedNodes += failures
            let hit = Set(found.map(\.session.id))
            result.notFound = ids.filter { !hit.contains($0) && failures.isEmpty }
            return result
        case .sessions(let sessions):
            // The rows carry the node, the key and the fields the clean-up needs: each is
            // matched to its node and schema without another read.
            var found: [Located] = []
            var unmatched: [String] = []
            for s in sessions {
                guard let node = nodes.first(where: { $0.name == s.node }),
                    let schema = try? await schemas(on: node).first(where: { $0.sessionID(forKey: s.key) == s.id })
                else {
                    unmatched.append(s.id)
                    continue
                }
                found.append(Located(node: node, schema: schema, session: s))
            }
            var result = await apply(found, commands: commands)
            await after(found)
            if !unmatched.isEmpty {
                result.merge(try await mutate(.ids(unmatched), commands: commands, after: after))
            }
            return result
        case .user(let user):
            var filter = Filter()
            filter.add(.user, .eq, user)
            let collector = Collector()
            // Expired leftovers too: a logout leaves no trace of the user.
            // Only what names the owner (no size, no times where deleting needs none).
            let query = ListQuery(filter: filter, includeExpired: true, parts: .owner)
            let outcome = try await list(query) { page in
                await collector.add(page)
            }
            var result = try await mutate(.sessions(await collector.sessions), commands: commands, after: after)
            result.failedNodes += outcome.failedNodes
            return result
        }
    }

    /// Sessions per pipelined batch of a mutation: a node that fails part way leaves at most
    /// one batch whose outcome is unknown, and a report that counts what was done.
    static let mutationBatch = 500

    /// Runs each located session's commands, pipelined per node in batches. A session counts
    /// as changed only when every reply to its commands is not an error (an ACL refusal
    /// changes nothing and is reported in the server's words); when a node fails, the
    /// sessions of the batch in flight are named as unknown and the rest as not sent.
    private func apply(_ found: [Located], commands: (Located) -> [RedisCommand]) async -> MutationResult {
        var result = MutationResult()
        let byNode = Dictionary(grouping: found, by: { $0.node.name })
        for node in nodes {
            guard let items = byNode[node.name] else { continue }
            var sent = 0
            var serverError: (message: String, sessions: Int)? = nil
            while sent < items.count {
                let batch = items[sent..<min(items.count, sent + Self.mutationBatch)]
                var all: [RedisCommand] = []
                var counts: [Int] = []
                for item in batch {
                    let c = commands(item)
                    counts.append(c.count)
                    all += c
                }
                let replies: [RedisReply]
                do {
                    replies = try await execute(all, on: node)
                } catch {
                    let notSent = items.count - sent - batch.count
                    result.failedNodes.append(
                        NodeFailure(
                            node: node.name,
                            message:
                                "\(error.description); \(result.affected.count) session(s) done before it failed, "
                                + "\(batch.count) in the batch in flight may or may not be done, \(notSent) not sent "
                                + "(run the command again to finish)"))
                    break
                }
                var at = 0
                for (item, n) in zip(batch, counts) {
                    let mine = replies[at..<min(replies.count, at + n)]
                    at += n
                    result.keysTouched += mine.reduce(0) { $0 + Int(max(0, Decode.int($1) ?? 0)) }
                    if let err = mine.first(where: { $0.errorMessage != nil })?.errorMessage {
                        serverError = (err, (serverError?.sessions ?? 0) + 1)
                    } else if mine.count == n {
                        result.affected.append(item.session.id)
                    }
                }
                sent += batch.count
            }
            if let serverError {
                result.failedNodes.append(
                    NodeFailure(
                        node: node.name,
                        message:
                            "server error: \(serverError.message) (\(serverError.sessions) session(s) not changed)",
                        refused: serverError.message.hasPrefix("NOPERM")))
            }
        }
        return result
    }

    /// Redis reclaims an expired key only when it samples or touches it, which can be
    /// minutes late on a large keyspace. EXISTS on a key whose TTL has passed reclaims it
    /// at once and publishes its `expired` event.
    func promptExpiry(_ found: [Located]) async {
        try? await Task.sleep(nanoseconds: 5_000_000)
        for node in nodes {
            let keys = found.filter { $0.node.name == node.name }.map { $0.schema.expiryKey(forID: $0.session.id) }
            if keys.isEmpty { continue }
            _ = try? await execute(keys.map { RedisCommand("EXISTS", $0) }, on: node)
        }
    }

    // MARK: - Nodes

    /// Node facts; `.cheap` skips the keys-only scan that counts sessions (the TUI counts
    /// its listed rows instead).
    public func nodes(_ detail: NodeDetail) async -> [NodeInfo] { await nodes(detail) { _ in } }

    public func nodes(_ detail: NodeDetail, each: @escaping @Sendable (NodeInfo) async -> Void) async -> [NodeInfo] {
        let countSessions = detail == .full
        let current = await resolve(refresh: true)
        var members: [(Node, String?, String?)] = current.map { ($0, nil, nil) }  // node, slots, replica of
        if let router {
            members = []
            for s in router.shards {
                members.append((node(s.master, router), s.slotText, nil))
                for r in s.replicas {
                    members.append((node(r, router), nil, s.master.address))
                }
            }
        }
        // Sentinel: the master's replicas are listed after it, and the sentinels last.
        var sentinels: [NodeInfo] = []
        for node in current where node.url.sentinel != nil {
            let view = await node.client.sentinelView()
            for r in view.replicas {
                let url = node.url.member(host: r.address.host, port: r.address.port)
                members.append(
                    (
                        Node(
                            url: url,
                            client: RedisClient(url: url, timeouts: timeouts, fallbackPassword: fallbackPassword),
                            fallbackPassword: fallbackPassword), nil, node.name
                    ))
            }
            for m in view.sentinels {
                var info = NodeInfo(
                    name: m.address.description, address: m.address.description, role: "sentinel", up: m.up)
                info.error = m.error
                info.set(NodeFact(key: "monitors", title: "MONITORS", value: .string(node.name)))
                sentinels.append(info)
            }
        }
        let infos = await withTaskGroup(of: (Int, NodeInfo).self) { group in
            for (i, (node, slots, replicaOf)) in members.enumerated() {
                group.addTask {
                    var info = await self.nodeInfo(
                        node, countSessions: countSessions && replicaOf == nil, replicaOf: replicaOf)
                    if let slots { info.set(NodeFact(key: "slots", title: "SLOTS", value: .string(slots))) }
                    if let replicaOf { info.role = "replica of \(replicaOf)" }
                    return (i, info)
                }
            }
            var out: [(Int, NodeInfo)] = []
            for await item in group {
                await each(item.1)
                out.append(item)
            }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        for info in sentinels { await each(info) }
        return infos + sentinels
    }

    /// Keys times the share of session keys among 64 random ones (`RANDOMKEY`, then `TYPE`,
    /// two pipelines): what "412,000 of ~1,000,000" needs, without a scan.
    func estimateSessions(node: Node, keys: Int) async throws -> Int {
        if keys == 0 { return 0 }
        let schemas = try await schemas(on: node)
        // The node itself (RANDOMKEY has no key to route by; TYPE of its own keys stays local).
        let sample = try await node.client.pipeline(Array(repeating: RedisCommand("RANDOMKEY"), count: 64))
            .compactMap(\.text)
        if sample.isEmpty { return 0 }
        let types = try await node.client.pipeline(sample.map { RedisCommand("TYPE", $0) }).map(\.text)
        var hits = 0
        for (key, type) in zip(sample, types)
        where schemas.contains(where: {
            $0.sessionID(forKey: key) != nil && ($0.scanType == nil || $0.scanType == type)
        }) {
            hits += 1
        }
        return Int((Double(keys) * Double(hits) / Double(sample.count)).rounded())
    }

    private func nodeInfo(_ node: Node, countSessions: Bool, replicaOf: String? = nil) async -> NodeInfo {
        var info = NodeInfo(name: node.name, address: node.url.description, up: false)
        do {
            let text = try await node.client.send(RedisCommand("INFO")).orThrow().text ?? ""
            if router != nil, RedisInfo.parse(text)["role"] == "slave" { info.role = "replica" }
            let fields = RedisInfo.parse(text)
            info.up = true
            info.role = fields["role"] ?? "master"
            if node.url.sentinel != nil, let at = await node.client.connectedAddress {
                // Sentinel names the node: show where it is now.
                info.address = at
                info.role = (fields["role"] ?? "master") + " (Sentinel)"
            }
            info.version = fields["redis_version"]
            info.usedMemory = fields["used_memory"].flatMap { Int64($0) }
            info.maxMemory = fields["maxmemory"].flatMap { Int64($0) }
            info.evictionPolicy = fields["maxmemory_policy"]
            info.expiredTotal = fields["expired_keys"].flatMap { Int64($0) }
            info.evictedTotal = fields["evicted_keys"].flatMap { Int64($0) }
            if let keys = RedisInfo.keys(fields, db: node.url.db) {
                info.set(NodeFact(key: "keys", title: "KEYS", value: .int(Int64(keys))))
                if !countSessions, replicaOf == nil {
                    info.estimatedSessions = try? await estimateSessions(node: node, keys: keys)
                }
            }
            if countSessions {
                var count = 0
                for schema in try await schemas(on: node) {
                    count += try await self.countSessions(node: node, schema: schema)
                }
                info.sessions = count
            }
        } catch {
            info.error = (error as? RedisError)?.description ?? "\(error)"
            info.unresponsive = !info.up && (error as? RedisError)?.isTimeout == true
        }
        return info
    }

    /// Counts session keys with a keys-only scan (no per-key reads).
    func countSessions(node: Node, schema: any RedisSchema) async throws -> Int {
        var cursor = "0"
        var count = 0
        repeat {
            let r = try await node.client.send(scanCommand(cursor: cursor, schema: schema)).orThrow()
            guard let parts = r.array, parts.count == 2, let next = parts[0].text else { break }
            count += (parts[1].array ?? []).reduce(0) {
                $0 + ($1.text.flatMap { schema.sessionID(forKey: $0) } != nil ? 1 : 0)
            }
            cursor = next
        } while cursor != "0"
        return count
    }

    // MARK: - Events

    /// Events from every node. `.byStore`: the watcher learns the sessions' deadlines (a
    /// listing alongside) and prompts late expiries; `.byCaller`: no listing, no memory per
    /// session, for callers that know the deadlines and call `promptExpiry`.
    public func events(kinds: Set<SessionEvent.Kind>, deadlines: DeadlineTracking) -> AsyncThrowingStream<
        SessionEvent, Error
    > {
        EventWatcher(store: self, kinds: kinds, trackDeadlines: deadlines == .byStore).start()
    }

    public var expiresLazily: Bool { true }

    public func capabilities() async -> StoreCapabilities {
        let all = await resolve()
        let clustered = router != nil
        return StoreCapabilities(
            events: self, migration: clustered || all.count > 1 ? self : nil, slotMoves: clustered ? self : nil,
            writer: self, eventSettings: self, diagnostics: RedisDiagnostics(store: self))
    }

    /// Makes Redis notice now that these sessions' deadlines passed (EXISTS reclaims an
    /// expired key and publishes its event), one pipeline per node.
    public func promptExpiry(ids: [String]) async {
        guard !ids.isEmpty else { return }
        for node in nodes {
            guard let schemas = try? await schemas(on: node) else { continue }
            let cmds = schemas.flatMap { schema in ids.map { RedisCommand("EXISTS", schema.expiryKey(forID: $0)) } }
            _ = try? await execute(cmds, on: node)
            if router != nil { break }  // routed: one pass reaches every master
        }
    }
}

actor SchemaCache {
    private var byNode: [String: [any RedisSchema]] = [:]
    func get(_ node: String) -> [any RedisSchema]? { byNode[node] }
    func set(_ node: String, _ s: [any RedisSchema]) { byNode[node] = s }
}

extension RedisSessionStore: SessionWriter {
    /// Writes sessions as Spring Session keeps them (the schema found on the target, else
    /// Spring's indexed layout in `spring:session`): hash, `expires:` key, expiration set,
    /// principal index. Attribute values are written as given (a session that came from
    /// Spring goes back byte for byte).
    public func write(_ sessions: [Session]) async -> (written: [String], failures: [NodeFailure]) {
        let all = await resolve()
        guard let node = all.first else { return ([], [NodeFailure(node: displayName, message: "no node")]) }
        let schemas = (try? await self.schemas(on: node)) ?? []
        if let other = schemas.first, !(other is SpringSchema) {
            return (
                [],
                [
                    NodeFailure(
                        node: node.name,
                        message:
                            "the target holds \(other.label) sessions: migration writes Spring Session's layout only (use --schema spring on the target)"
                    )
                ]
            )
        }
        let spring = schemas.first as? SpringSchema ?? SpringSchema(indexed: true)
        if schemas.isEmpty {
            // An empty target had nothing to detect: from now on it holds Spring sessions.
            for n in all { await schemaCache.set(n.name, [spring]) }
            await schemaCache.set("(cluster)", [spring])
        }
        let now = currentTimeMs()
        var commands: [RedisCommand] = []
        var perSession: [Int] = []
        for s in sessions {
            let maxInactive =
                s.maxInactiveSeconds.map { Int32(clamping: $0) }
                ?? Int32(clamping: s.ttlMs < 0 ? -1 : max(1, (s.ttlMs + 999) / 1000))
            let last = s.maxInactiveSeconds != nil ? (s.lastAccessedAtMs ?? now) : now
            var attributes = s.attributes.map { (name: $0.name, value: $0.raw) }
            // Spring finds a session's user in this attribute (what FindByIndexNameSessionRepository stores).
            if let user = s.user, !attributes.contains(where: { $0.name == SpringSchema.principalAttribute }) {
                attributes.append((SpringSchema.principalAttribute, JavaStream.serializedString(user)))
            }
            let c = spring.saveCommands(
                id: s.id, user: s.user, createdMs: s.createdAtMs ?? now, lastAccessedMs: last, maxInactive: maxInactive,
                attributes: attributes)
            perSession.append(c.count)
            commands += c
        }
        do {
            let replies = try await execute(commands, on: node)
            var written: [String] = []
            var failures: [NodeFailure] = []
            var at = 0
            for (s, n) in zip(sessions, perSession) {
                if let m = replies[at..<at + n].first(where: { $0.errorMessage != nil })?.errorMessage {
                    failures.append(NodeFailure(node: node.name, message: "\(s.id): \(m)"))
                } else {
                    written.append(s.id)
                }
                at += n
            }
            return (written, failures)
        } catch {
            return ([], [NodeFailure(node: node.name, message: error.description)])
        }
    }
}

/// What a listing reads per session beyond what its schema's row needs.
public struct ListReads: Equatable, Sendable {
    /// Every attribute (`attr.` filters, export, `show`).
    public var attributes = false
    /// The stored size (`MEMORY USAGE … SAMPLES 0`, exact even with one huge field): the
    /// costliest read per session, so read only when shown, sorted or filtered on.
    public var size = true
    /// The remaining time.
    public var ttl = true
    /// Created, last accessed, the timeout. Without them a schema may read only what names
    /// the owner (Spring: the principal attribute, the security context only when absent).
    public var times = true
    /// Whose session it is (Spring: the principal attribute and the security context).
    public var user = true
    /// Expired leftovers are listed too (nothing needs the TTL to hide them).
    public var includeExpired = false

    public init(attributes: Bool = false, size: Bool = true) {
        self.attributes = attributes
        self.size = size
    }

    init(_ query: ListQuery) {
        let wanted = query.wanted
        attributes = query.withAttributes || query.filter.needsAttributes
        size = wanted.contains(.size)
        ttl = wanted.contains(.ttl)
        times = wanted.contains(.times)
        user = wanted.contains(.user)
        includeExpired = query.includeExpired
    }
}

/// The listing reads of a page of keys, the one way every listing path reads: the size
/// first (when wanted; it resets nothing), then the schema's commands for each key, in one
/// pipeline, and the rows cut from their replies.
struct PageReads {
    let keys: [(key: String, id: String)]
    let schema: any RedisSchema
    let reads: ListReads
    private(set) var commands: [RedisCommand] = []
    private var perKey: [Int] = []
    // Pre-encoded: `MEMORY USAGE key SAMPLES 0`.
    private static let memory = Array("MEMORY".utf8), usage = Array("USAGE".utf8)
    private static let samples = Array("SAMPLES".utf8), all = Array("0".utf8)

    init(keys: [(key: String, id: String)], schema: any RedisSchema, reads: ListReads) {
        self.keys = keys
        self.schema = schema
        self.reads = reads
        commands.reserveCapacity(keys.count * 4)
        perKey.reserveCapacity(keys.count)
        for (key, id) in keys {
            if reads.size {
                commands.append(RedisCommand([Self.memory, Self.usage, Array(key.utf8), Self.samples, Self.all]))
            }
            let c = schema.listCommands(key: key, id: id, reads: reads)
            perKey.append(c.count)
            commands += c
        }
    }

    var replyCount: Int { commands.count }

    /// The rows, in key order: keys `admit` refuses are skipped, vanished keys dropped.
    func rows(
        from replies: ArraySlice<RedisReply>, nowMs: Int64, admit: (String) -> Bool = { _ in true },
        node: (String) -> String
    ) -> [Session] {
        var out: [Session] = []
        out.reserveCapacity(keys.count)
        var at = replies.startIndex
        for (n, (key, id)) in keys.enumerated() {
            var size: Int64? = nil
            if reads.size {
                size = Decode.int(replies[at])
                at += 1
            }
            let slice = replies[at..<at + perKey[n]]
            at += perKey[n]
            guard admit(key),
                var s = schema.parseListing(
                    key: key, id: id, replies: slice, node: node(key), nowMs: nowMs, reads: reads)
            else { continue }
            s.sizeBytes = size
            out.append(s)
        }
        return out
    }

    /// The follow-up reads of rows whose owner the first reads did not find (the schema's
    /// `ownerFollowUp`), by row index.
    func followUps(_ rows: [Session]) -> [(Int, RedisCommand)] {
        var out: [(Int, RedisCommand)] = []
        for (i, s) in rows.enumerated() where s.user == nil {
            if let c = schema.ownerFollowUp(key: s.key, reads: reads) { out.append((i, c)) }
        }
        return out
    }

    /// Whether a row belongs in a listing for `query`: expired leftovers only when asked for.
    static func keep(_ s: Session, _ query: ListQuery, nowMs: Int64) -> Bool {
        (query.includeExpired || s.ttlMs != 0) && query.filter.matches(s, nowMs: nowMs)
    }
}
