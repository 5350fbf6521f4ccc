import ArgumentParser
import Foundation
import RedisClient
import SessionKit
import RedisSessions

struct Migrate: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move sessions between nodes (in-house cluster, Redis nodes, Redis Cluster slots) or between stores; drain a node.",
        discussion: """
        sessionctl migrate ID... --to NODE          move these sessions (TTL, user, attributes kept)
        sessionctl migrate --from-node N [--to NODE] drain N: every session goes to NODE, or else
                                                     to its next node on the ring (spread over the rest)
        sessionctl migrate --from URL --to URL [--filter EXPR]
                                                     copy sessions between stores (Redis <-> sessiond),
                                                     deleting each at the source once the target has it
        Between stores: TTL, user, times and attributes are kept; each batch is deleted at the
        source only after the target confirmed it, so an interruption loses nothing and running
        the same command again resumes (a session written twice is replaced, never doubled).
        The end checks the counts on both sides.
        Nobody is logged out: lookups follow the session to its new node. A drain makes
        several passes, so sessions created during the drain are moved too; stop the node
        when it reports 0 left. Needs --yes (or a confirmation on a terminal).
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Session ids (instead of --from-node).") var ids: [String] = []
    @Option(help: ArgumentHelp("Target node id (see `sessionctl nodes`).", valueName: "node")) var to: String?
    @Option(name: .customLong("from-node"), help: ArgumentHelp("Drain this node: move every session off it.", valueName: "node"))
    var fromNode: String?
    @Option(help: ArgumentHelp("Copy sessions from this store (with --to URL) to another.", valueName: "url")) var from: String?
    @Option(help: ArgumentHelp("Between stores: only the sessions matching this filter.", valueName: "expr")) var filter: String?
    @Option(help: "Between stores: sessions per batch.") var batch = 1000
    @Flag(name: .customLong("move-slot"), help: "Redis Cluster: move the hash slots of these sessions (with everything else in them).")
    var moveSlot = false
    @Flag(help: "Redis MIGRATE: overwrite the session if the target node has it already.") var replace = false

    func validate() throws {
        if from != nil {
            guard to != nil, ids.isEmpty, fromNode == nil else { throw ValidationError("--from URL needs --to URL (and no ids, no --from-node)") }
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
            return
        }
        if filter != nil { throw ValidationError("--filter goes with --from URL --to URL") }
        if ids.isEmpty == (fromNode == nil) { throw ValidationError("give either session ids with --to NODE, --from-node NODE, or --from URL --to URL") }
        if !ids.isEmpty && to == nil { throw ValidationError("--to NODE is required when moving sessions by id") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        if let from, let to { return try await betweenStores(from: from, to: to, console) }
        if let fromNode { return try await drain(fromNode, console) }
        guard let to else { return Exit.usage }
        let targets = await console.store.migrationTargets()
        guard !targets.isEmpty else {
            throw ConsoleError.usage("\(console.store.displayName) cannot migrate sessions: migration needs an in-house cluster (sessiond --cluster)")
        }
        guard targets.contains(to) else { throw ConsoleError.usage("unknown node '\(to)'; nodes: \(targets.joined(separator: ", "))") }
        if let redis = console.store as? RedisSessionStore, redis.router != nil {
            return try await moveSlots(redis, to: to, console)
        }
        let plan = await console.store.plan(ids: ids)
        for id in plan.notFound { Terminal.error("session \(Sanitizer.display(id, limit: 200)) not found") }
        let moving = plan.sessions.filter { $0.node != to }
        for s in plan.sessions where s.node == to { Terminal.note("\(Sanitizer.display(s.id)) is already on \(to)") }
        guard try console.authorize("migrate to \(to)", count: moving.count) else {
            for s in moving { console.output.line("would migrate: \(Sanitizer.display(s.id)) from \(s.node) to \(to)") }
            console.output.line("dry run: \(moving.count) session(s) would be migrated")
            return Mutations.exitCode(found: plan.sessions.count, notFound: plan.notFound.count, failures: plan.failures, console: console)
        }
        if moving.isEmpty {
            return Mutations.exitCode(found: plan.sessions.count, notFound: plan.notFound.count, failures: plan.failures, console: console)
        }
        try console.audit.ensureWritable()
        var result = MutationResult()
        var done = 0
        // Batches keep progress moving on long lists.
        for start in stride(from: 0, to: moving.count, by: 200) {
            let batch = moving[start..<min(moving.count, start + 200)].map(\.id)
            if let redis = console.store as? RedisSessionStore {
                result.merge(try await redis.migrate(ids: batch, to: to, replace: replace))
            } else {
                result.merge(try await console.store.migrate(ids: batch, to: to))
            }
            done += batch.count
            Terminal.progress("migrated \(done)/\(moving.count)…")
        }
        Terminal.clearProgress()
        result.notFound += plan.notFound
        console.audit.record(action: "migrate", store: console.store.displayName, commandLine: console.commandLine,
                             target: to, sessions: result.affected, result: result, extra: ["to": to])
        console.output.line("migrated \(result.affected.count) session(s) to \(to)")
        return Mutations.exitCode(found: result.affected.count + plan.sessions.count - moving.count, notFound: result.notFound.count,
                                  failures: plan.failures + result.failedNodes, console: console)
    }

    private func drain(_ node: String, _ console: Console) async throws -> Int32 {
        let targets = await console.store.migrationTargets()
        guard !targets.isEmpty else {
            throw ConsoleError.usage("\(console.store.displayName) cannot drain nodes: draining needs an in-house cluster (sessiond --cluster)")
        }
        guard targets.contains(node) else { throw ConsoleError.usage("unknown node '\(node)'; nodes: \(targets.joined(separator: ", "))") }
        if let to, !targets.contains(to) { throw ConsoleError.usage("unknown node '\(to)'; nodes: \(targets.joined(separator: ", "))") }
        let facts = await console.store.nodes(countSessions: true)
        let count = facts.first { $0.name == node }?.sessions ?? 0
        let where_ = to ?? "the other nodes (by the ring)"
        guard try console.authorize("drain \(node) to \(where_)", count: count) else {
            console.output.line("dry run: \(count) session(s) would move from \(node) to \(where_)")
            return Exit.ok
        }
        try console.audit.ensureWritable()
        let started = currentTimeMs()
        let result = try await console.store.drain(node: node, to: to) { moved, total in
            let pct = total > 0 ? " (\(moved * 100 / total)%)" : ""
            Terminal.progress("draining \(node): \(moved)/\(total) moved\(pct)…")
        }
        Terminal.clearProgress()
        let afterInfo = await console.store.nodes(countSessions: true).first { $0.name == node }
        // A Redis Cluster master left without slots becomes a replica: nothing of its own left.
        let after = afterInfo?.sessions ?? (afterInfo?.role.hasPrefix("replica") == true ? 0 : nil)
        console.audit.record(action: "drain", store: console.store.displayName, commandLine: console.commandLine,
                             target: node, sessions: result.affected, result: result, extra: to.map { ["to": $0] } ?? [:])
        let secs = Double(max(1, currentTimeMs() - started)) / 1000
        let what = result.affected.isEmpty && result.keysTouched > 0 ? "its slots with \(result.keysTouched) key(s)" : "\(result.affected.count) session(s)"
        console.output.line("drained \(node): moved \(what) in \(String(format: "%.1f", secs)) s; "
                            + "\(after.map(String.init) ?? "?") left on \(node)"
                            + (afterInfo?.role.hasPrefix("replica") == true ? " (now a \(afterInfo?.role ?? "replica"))" : ""))
        if let after, after > 0 { Terminal.note("\(after) session(s) remain on \(node) (created during the drain, or failed); run the drain again") }
        // Nothing to drain, or everything moved: success; failures are reported per node.
        return result.failedNodes.isEmpty ? Exit.ok : console.report(failures: result.failedNodes)
    }

    /// Redis Cluster: a session moves with its hash slots; say what else is in them, and
    /// move them only when asked (`--move-slot`) and confirmed.
    private func moveSlots(_ redis: RedisSessionStore, to: String, _ console: Console) async throws -> Int32 {
        let (slots, notFound) = await redis.slotPlan(ids: ids)
        for id in notFound { Terminal.error("session \(Sanitizer.display(id, limit: 200)) not found") }
        let moving = slots.filter { $0.owner != to }
        let keys = moving.reduce(0) { $0 + $1.keys }
        for s in slots {
            console.output.line("slot \(s.slot) on \(s.owner): \(s.keys) key(s)" + (s.owner == to ? " (already there)" : " would move to \(to)"))
        }
        guard moveSlot else {
            throw ConsoleError.usage("in a Redis Cluster a session moves with its hash slots: \(moving.count) slot(s) holding \(keys) key(s) "
                                     + "(other sessions and data too) would move to \(to); add --move-slot to do it")
        }
        guard try console.authorize("move \(moving.count) hash slot(s) with \(keys) key(s) to \(to)", count: keys) else {
            console.output.line("dry run: \(moving.count) slot(s), \(keys) key(s) would move to \(to)")
            return Exit.ok
        }
        if moving.isEmpty { return notFound.isEmpty ? Exit.ok : Exit.notFound }
        try console.audit.ensureWritable()
        let moved = try await redis.moveSlots(moving.map(\.slot), to: to) { n, total in Terminal.progress("moved \(n)/\(total) slot(s)…") }
        Terminal.clearProgress()
        console.audit.record(action: "move-slots", store: redis.displayName, commandLine: console.commandLine, target: to, sessions: ids,
                             result: MutationResult(affected: ids.filter { !notFound.contains($0) }, keysTouched: moved),
                             extra: ["slots": moving.map { String($0.slot) }.joined(separator: ",")])
        console.output.line("moved \(moving.count) slot(s) with \(moved) key(s) to \(to)")
        return notFound.isEmpty ? Exit.ok : Exit.partial
    }

    /// Redis <-> sessiond (or any two stores): copy a batch, delete it at the source once
    /// the target confirmed it, repeat; verify at the end.
    private func betweenStores(from: String, to: String, _ console: Console) async throws -> Int32 {
        let source = try Console.makeStore([from], schema: console.options.schema, timeouts: console.timeouts, password: console.password)
        let target = try Console.makeStore([to], schema: "auto", timeouts: console.timeouts, password: console.password)
        guard let writer = target as? any SessionWriter else { throw ConsoleError.usage("\(target.displayName) cannot take sessions") }
        var f: Filter
        do { f = try Filter(filter ?? "") } catch { throw ConsoleError.usage(error.description) }
        let query = ListQuery(filter: f)
        // Count first: the confirmation names it, and the end compares against it.
        let counter = Collector()
        let counted = try await source.list(query) { await counter.add($0.map { Session(id: $0.id, key: $0.key, node: $0.node, ttlMs: $0.ttlMs, schema: $0.schema) }) }
        let total = await counter.sessions.count
        for f in counted.failedNodes { Terminal.error("node \(f.node) failed: \(RedisURL.redact(f.message))") }
        let what = "move sessions from \(source.displayName) to \(target.displayName)"
        guard try console.authorize(what, count: total) else {
            console.output.line("dry run: \(total) session(s) would move from \(source.displayName) to \(target.displayName)")
            return Exit.ok
        }
        try console.audit.ensureWritable()
        let state = MoveState()
        let batchSize = batch
        do {
            let outcome = try await source.list(ListQuery(filter: f, withAttributes: true)) { page in
                var start = 0
                while start < page.count {
                    let chunk = Array(page[start..<min(page.count, start + batchSize)])
                    start += chunk.count
                    let (written, failures) = await writer.write(chunk)
                    if let first = failures.first {
                        await state.fail(first)
                        throw ConsoleError(code: Exit.partial, message: "the target refused or failed: \(first.node): \(RedisURL.redact(first.message))")
                    }
                    // Only what the target confirmed leaves the source.
                    let confirmed = Set(written)
                    let removed = try await source.delete(sessions: chunk.filter { confirmed.contains($0.id) })
                    await state.moved(removed.affected)
                    let n = await state.count
                    Terminal.progress("moved \(n)/\(total)…")
                }
            }
            // A node failure at the source, or the target failing (thrown from the page
            // callback and reported by the listing as its node's failure), stops the move.
            if let first = await state.failures.first ?? outcome.failedNodes.first {
                throw ConsoleError(code: Exit.partial, message: "\(first.node): \(first.message)")
            }
        } catch {
            Terminal.clearProgress()
            let moved = await state.movedIDs
            console.audit.record(action: "migrate-store", store: source.displayName, commandLine: console.commandLine, target: target.displayName,
                                 sessions: moved, result: MutationResult(affected: moved, failedNodes: await state.failures))
            Terminal.error("stopped after moving \(moved.count) of \(total) session(s): \(RedisURL.redact("\(error)")); nothing was lost: "
                           + "the rest is still at the source, run the same command again to resume")
            return moved.isEmpty ? Exit.connection : Exit.partial
        }
        Terminal.clearProgress()
        let moved = await state.movedIDs
        // Verify: nothing matching is left at the source, everything moved is at the target.
        let left = Collector()
        _ = try await source.list(query) { await left.add($0) }
        let leftCount = await left.sessions.count
        var missing = 0
        var start = 0
        while start < moved.count {
            let slice = Array(moved[start..<min(moved.count, start + 1000)])
            missing += await target.plan(ids: slice).notFound.count
            start += slice.count
        }
        console.audit.record(action: "migrate-store", store: source.displayName, commandLine: console.commandLine, target: target.displayName,
                             sessions: moved, result: MutationResult(affected: moved, keysTouched: moved.count))
        console.output.line("moved \(moved.count) session(s) from \(source.displayName) to \(target.displayName); "
                            + "verified: \(moved.count - missing) at the target, \(leftCount) matching left at the source")
        if missing > 0 || leftCount > 0 {
            Terminal.error("verification: \(missing) moved session(s) not found at the target, \(leftCount) left at the source (new ones, or expired meanwhile)")
            return Exit.partial
        }
        return Exit.ok
    }
}

/// Progress of a move between stores, shared with the listing's page callback.
actor MoveState {
    private(set) var movedIDs: [String] = []
    private(set) var failures: [NodeFailure] = []
    var count: Int { movedIDs.count }
    func moved(_ ids: [String]) { movedIDs += ids }
    func fail(_ f: NodeFailure) { failures.append(f) }
}
