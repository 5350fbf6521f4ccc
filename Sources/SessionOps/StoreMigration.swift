import SessionKit

/// Moves sessions from one store to another (Redis to sessiond, and back, or any two kinds
/// whose target can write): count first (the confirmation names it), copy a batch, delete
/// it at the source only once the target confirmed it, repeat; verify both sides at the end.
/// A failure stops the move with nothing lost: running it again resumes (the target
/// replaces a session it already has).
public struct StoreMigration: Sendable {
    public let source: any SessionStore
    public let target: any SessionStore
    public let filter: Filter
    public let batchSize: Int

    public init(source: any SessionStore, target: any SessionStore, filter: Filter, batchSize: Int) {
        self.source = source
        self.target = target
        self.filter = filter
        self.batchSize = max(1, batchSize)
    }

    /// Runs the move under `ops`'s policy, audit and reporter; returns the exit code.
    public func run(_ ops: Operations) async throws -> Int32 {
        guard let writer = await target.capabilities().writer else {
            throw ConsoleError.usage("\(target.displayName) cannot take sessions")
        }
        let query = ListQuery(filter: filter)
        // Count first: the confirmation names it, and the end compares against it.
        let counter = Counter()
        let counted = try await source.list(query) { await counter.add($0.map(\.id)) }
        let total = await counter.count
        for f in counted.failedNodes { ops.reporter.error("node \(f.node) failed: \(Redaction.redact(f.message))") }
        let what = "move sessions from \(source.displayName) to \(target.displayName)"
        guard try ops.policy.authorize(what, count: total, reporter: ops.reporter) else {
            ops.output?.line(
                "dry run: \(total) session(s) would move from \(source.displayName) to \(target.displayName)")
            return Exit.ok
        }
        try ops.audit.ensureWritable()
        let state = MoveState()
        let batchSize = self.batchSize
        let source = self.source
        let reporter = ops.reporter
        do {
            let outcome = try await source.list(ListQuery(filter: filter, withAttributes: true)) { page in
                var start = 0
                while start < page.count {
                    let chunk = Array(page[start..<min(page.count, start + batchSize)])
                    start += chunk.count
                    let (written, failures) = await writer.write(chunk)
                    if let first = failures.first {
                        await state.fail(first)
                        throw ConsoleError(
                            code: Exit.partial,
                            message: "the target refused or failed: \(first.node): \(Redaction.redact(first.message))")
                    }
                    // Only what the target confirmed leaves the source.
                    let confirmed = Set(written)
                    let removed = try await source.delete(.sessions(chunk.filter { confirmed.contains($0.id) }))
                    await state.moved(removed.affected)
                    reporter.progress("moved \(await state.count)/\(total)…")
                }
            }
            // A node failure at the source, or the target failing (thrown from the page
            // callback and reported by the listing as its node's failure), stops the move.
            if let first = await state.failures.first ?? outcome.failedNodes.first {
                throw ConsoleError(code: Exit.partial, message: "\(first.node): \(first.message)")
            }
        } catch {
            reporter.clearProgress()
            let moved = await state.movedIDs
            ops.audit.record(
                action: "migrate-store", store: source.displayName, commandLine: ops.commandLine,
                target: target.displayName,
                sessions: moved, result: MutationResult(affected: moved, failedNodes: await state.failures))
            reporter.error(
                "stopped after moving \(moved.count) of \(total) session(s): \(Redaction.redact("\(error)")); nothing was lost: "
                    + "the rest is still at the source, run the same command again to resume")
            return moved.isEmpty ? Exit.connection : Exit.partial
        }
        reporter.clearProgress()
        let moved = await state.movedIDs
        // Verify: nothing matching is left at the source, everything moved is at the target.
        let left = Counter()
        _ = try await source.list(query) { await left.add($0.map(\.id)) }
        let leftCount = await left.count
        var missing = 0
        var start = 0
        while start < moved.count {
            let slice = Array(moved[start..<min(moved.count, start + 1000)])
            missing += await target.locate(ids: slice).notFound.count
            start += slice.count
        }
        ops.audit.record(
            action: "migrate-store", store: source.displayName, commandLine: ops.commandLine,
            target: target.displayName,
            sessions: moved, result: MutationResult(affected: moved, keysTouched: moved.count))
        ops.output?.line(
            "moved \(moved.count) session(s) from \(source.displayName) to \(target.displayName); "
                + "verified: \(moved.count - missing) at the target, \(leftCount) matching left at the source")
        if missing > 0 || leftCount > 0 {
            reporter.error(
                "verification: \(missing) moved session(s) not found at the target, \(leftCount) left at the source "
                    + "(new ones, or expired meanwhile)")
            return Exit.partial
        }
        return Exit.ok
    }
}

/// Counts ids across pages without keeping the sessions.
actor Counter {
    private(set) var count = 0
    func add(_ ids: [String]) { count += ids.count }
}

/// Progress of a move between stores, shared with the listing's page callback.
actor MoveState {
    private(set) var movedIDs: [String] = []
    private(set) var failures: [NodeFailure] = []
    var count: Int { movedIDs.count }
    func moved(_ ids: [String]) { movedIDs += ids }
    func fail(_ f: NodeFailure) { failures.append(f) }
}
