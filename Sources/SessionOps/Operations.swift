import Foundation
import SessionKit

/// What the console does to sessions, written once for the batch commands, `batch` files
/// and the TUI: find what an action touches, apply the safety policy, do it through the
/// store core or a capability, audit it, and say what happened.
public struct Operations: Sendable {
    public let store: any SessionStore
    public let policy: SafetyPolicy
    public let audit: AuditLog
    /// Where results and dry-run lines go; nil where a screen shows them instead (the TUI).
    public let output: Output?
    public let reporter: any Reporter
    /// The command line (redacted), for the audit log; `tui` for the TUI.
    public let commandLine: String
    /// Record confirmed actions that found nothing to change too (the TUI: an operator's
    /// decision on the screen always leaves a trace). The batch commands record changes only.
    public let auditAttempts: Bool

    public init(
        store: any SessionStore, policy: SafetyPolicy, audit: AuditLog, output: Output?, reporter: any Reporter,
        commandLine: String, auditAttempts: Bool = false
    ) {
        self.auditAttempts = auditAttempts
        self.store = store
        self.policy = policy
        self.audit = audit
        self.output = output
        self.reporter = reporter
        self.commandLine = Redaction.redact(commandLine)
    }

    /// The same operations under another policy or command line (a line of a batch).
    public func with(policy: SafetyPolicy, commandLine: String) -> Operations {
        Operations(
            store: store, policy: policy, audit: audit, output: output, reporter: reporter, commandLine: commandLine,
            auditAttempts: auditAttempts)
    }

    /// What an operation did.
    public struct Outcome: Sendable {
        /// What the store reported (empty on a dry run or when nothing matched).
        public var result = MutationResult()
        /// How many sessions the operation found to act on.
        public var found = 0
        /// True when nothing was changed because of `--dry-run`.
        public var dryRun = false
        /// One line for a person.
        public var summary = ""
        /// The batch exit code.
        public var exitCode: Int32 = Exit.ok
    }

    // MARK: reporting

    /// Reports node failures; exit code 3 when every node failed.
    public func report(failures: [NodeFailure]) -> Int32 {
        for f in failures { reporter.error("node \(f.node) failed: \(f.reason)") }
        if failures.isEmpty { return Exit.ok }
        return Set(failures.map(\.node)).count >= store.nodeNames.count ? Exit.connection : Exit.partial
    }

    /// Reports a listing's node failures with how far each node got (`listed`: sessions
    /// delivered per node). A listing that printed anything before a node failed is partial
    /// (exit 1: the output is a part of the answer); exit 3 only when every node failed
    /// before delivering a session.
    public func report(listing failures: [NodeFailure], listed: [String: Int]) -> Int32 {
        for f in failures {
            let n = listed[f.node] ?? 0
            let howFar =
                n == 0
                ? "before listing any of its sessions"
                : "after listing \(n) of its session(s): the listing is incomplete"
            reporter.error("node \(f.node) failed \(howFar): \(f.reason)")
        }
        if failures.isEmpty { return Exit.ok }
        let everyNode = Set(failures.map(\.node)).count >= store.nodeNames.count
        return everyNode && listed.values.reduce(0, +) == 0 ? Exit.connection : Exit.partial
    }

    /// The exit code of a mutation: ok, partial (some not found, a node failed), not found,
    /// or connection (every node failed and nothing was found).
    public func exitCode(found: Int, notFound: Int, failures: [NodeFailure]) -> Int32 {
        let nodeCode = report(failures: failures)
        // Refused by the server's permissions and nothing done: a refusal (exit 2), in the
        // server's words above, not a connection problem.
        if found == 0 && !failures.isEmpty && failures.allSatisfy(\.refused) { return Exit.usage }
        if nodeCode == Exit.connection && found == 0 { return Exit.connection }
        if found == 0 && failures.isEmpty { return Exit.notFound }
        if notFound > 0 || !failures.isEmpty { return Exit.partial }
        return Exit.ok
    }

    private func line(_ s: String) { output?.line(s) }

    /// Records a confirmed action that found nothing to change, when `auditAttempts`.
    private func recordAttempt(_ action: String, target: String?, notFound: [String], extra: [String: String] = [:]) {
        guard auditAttempts, (try? audit.ensureWritable()) != nil else { return }
        audit.record(
            action: action, store: store.displayName, commandLine: commandLine, target: target, sessions: [],
            result: MutationResult(notFound: notFound), extra: extra)
    }

    private func reportNotFound(_ ids: [String]) {
        for id in ids { reporter.error("session \(Sanitizer.display(id, limit: 200)) not found") }
    }

    // MARK: expire

    /// Expires sessions now, or sets their remaining time (`after`: milliseconds and the
    /// text the person gave, for messages).
    public func expire(ids: [String], after: (ms: Int64, text: String)?) async throws -> Outcome {
        let action = after.map { "set the remaining time to \($0.text)" } ?? "expire"
        let plan = await store.locate(ids: ids)
        reportNotFound(plan.notFound)
        var outcome = Outcome(found: plan.sessions.count)
        guard try policy.authorize(action, count: plan.sessions.count, reporter: reporter) else {
            for s in plan.sessions { line("would \(action): \(Sanitizer.display(s.id)) on \(s.node) (\(s.schema))") }
            line("dry run: \(plan.sessions.count) session(s) would be affected")
            outcome.dryRun = true
            outcome.exitCode = exitCode(
                found: plan.sessions.count, notFound: plan.notFound.count, failures: plan.failures)
            return outcome
        }
        if plan.sessions.isEmpty {
            recordAttempt(after == nil ? "expire" : "expire-in", target: nil, notFound: plan.notFound)
            outcome.exitCode = exitCode(found: 0, notFound: plan.notFound.count, failures: plan.failures)
            return outcome
        }
        try audit.ensureWritable()
        var result = try await store.expire(.sessions(plan.sessions), after: after?.ms)
        result.notFound += plan.notFound
        audit.record(
            action: after == nil ? "expire" : "expire-in", store: store.displayName, commandLine: commandLine,
            target: nil,
            sessions: result.affected, result: result, extra: after.map { ["in_ms": String($0.ms)] } ?? [:])
        outcome.result = result
        outcome.summary =
            after.map { "set \(result.affected.count) session(s) to expire in \($0.text)" }
            ?? "expired \(result.affected.count) session(s)"
        line(outcome.summary)
        outcome.exitCode = exitCode(
            found: result.affected.count, notFound: plan.notFound.count, failures: plan.failures + result.failedNodes)
        return outcome
    }

    // MARK: logout

    /// Whose sessions a logout removes.
    public enum LogoutTarget: Sendable, Equatable {
        case user(String)
        case ids([String])
    }

    /// Forces a logout: finds the sessions (a user's through the store's listing, which uses
    /// a principal index where the store has one, expired leftovers included), confirms with
    /// their count, and removes them with every trace the framework keeps, from the rows
    /// already read. `repeatAfterMs` deletes again for frameworks that write a whole session
    /// back at the end of a request.
    public func logout(_ target: LogoutTarget, repeatAfterMs: Int64? = nil) async throws -> Outcome {
        var sessions: [Session]
        var notFound: [String] = []
        var failures: [NodeFailure] = []
        var user: String? = nil
        switch target {
        case .user(let name):
            user = name
            var f = Filter()
            f.add(.user, .eq, name)
            let collector = Collector()
            let shown = Sanitizer.display(name, limit: 60)
            let reporter = self.reporter
            // Only what names the owner (no size, no times where deleting needs none).
            let query = ListQuery(filter: f, includeExpired: true, parts: .owner)
            if policy.confirmed && !policy.readOnly && !policy.dryRun {
                return try await logoutAsFound(name, query: query, repeatAfterMs: repeatAfterMs)
            }
            let outcome = try await store.list(query) { page in
                await collector.add(page)
                reporter.progress("finding the sessions of \(shown): \(await collector.sessions.count) so far…")
            }
            reporter.clearProgress()
            sessions = await collector.sessions
            failures = outcome.failedNodes
        case .ids(let ids):
            let plan = await store.locate(ids: ids)
            sessions = plan.sessions
            notFound = plan.notFound
            failures = plan.failures
            reportNotFound(notFound)
        }
        let what = user.map { "user \(Sanitizer.display($0, limit: 200))" } ?? "\(sessions.count) session(s)"
        var outcome = Outcome(found: sessions.count)
        guard try policy.authorize("log out \(what)", count: sessions.count, reporter: reporter) else {
            for s in sessions {
                let owner = s.user.map { Sanitizer.display($0) } ?? "-"
                line("would log out: \(Sanitizer.display(s.id)) of \(owner) on \(s.node) (\(s.schema))")
            }
            line("dry run: \(sessions.count) session(s) would be logged out")
            outcome.dryRun = true
            outcome.exitCode = exitCode(found: sessions.count, notFound: notFound.count, failures: failures)
            return outcome
        }
        if sessions.isEmpty {
            recordAttempt("logout", target: user, notFound: notFound)
            if user != nil { reporter.error("no sessions of \(what)") }
            outcome.summary = "no sessions of \(what)"
            outcome.exitCode = exitCode(found: 0, notFound: notFound.count, failures: failures)
            return outcome
        }
        try audit.ensureWritable()
        var result = try await store.delete(.sessions(sessions))  // already read: no second read
        result.notFound += notFound
        return try await finishLogout(
            what: what, user: user, result: result, schemas: Set(sessions.map(\.schema)), outcome: outcome,
            listingFailures: failures, notFound: notFound.count, repeatAfterMs: repeatAfterMs)
    }

    /// A confirmed logout of a user (`--yes`, or the TUI's dialog): each page of the user's
    /// sessions is deleted as it is found, in the store's pipelined batches, so a store
    /// without a principal index is read once and nothing waits for the whole listing.
    private func logoutAsFound(_ user: String, query: ListQuery, repeatAfterMs: Int64?) async throws -> Outcome {
        try audit.ensureWritable()
        let shown = Sanitizer.display(user, limit: 60)
        let tally = LogoutTally()
        let reporter = self.reporter
        let store = self.store
        let listing = try await store.list(query) { page in
            let r = try await store.delete(.sessions(page))
            let removed = await tally.add(r, page: page)
            reporter.progress("logging out \(shown): \(removed) session(s) removed so far…")
        }
        reporter.clearProgress()
        let (result, found, schemas) = await tally.totals
        let what = "user \(Sanitizer.display(user, limit: 200))"
        if found == 0 && result.failedNodes.isEmpty {
            recordAttempt("logout", target: user, notFound: [])
            reporter.error("no sessions of \(what)")
            var outcome = Outcome(found: 0)
            outcome.summary = "no sessions of \(what)"
            outcome.exitCode = exitCode(found: 0, notFound: 0, failures: listing.failedNodes)
            return outcome
        }
        return try await finishLogout(
            what: what, user: user, result: result, schemas: schemas, outcome: Outcome(found: found),
            listingFailures: listing.failedNodes, notFound: 0, repeatAfterMs: repeatAfterMs)
    }

    /// The end of every logout: the optional second pass, the audit record, the summary.
    private func finishLogout(
        what: String, user: String?, result: MutationResult, schemas: Set<String>, outcome: Outcome,
        listingFailures: [NodeFailure], notFound: Int, repeatAfterMs: Int64?
    ) async throws -> Outcome {
        var result = result
        var outcome = outcome
        if let repeatAfterMs {
            try await Task.sleep(nanoseconds: UInt64(max(0, repeatAfterMs)) * 1_000_000)
            let again = try await store.delete(.ids(result.affected))
            if !again.affected.isEmpty {
                reporter.note("\(again.affected.count) session(s) had been written back and were deleted again")
            }
            result.keysTouched += again.keysTouched
            result.failedNodes += again.failedNodes
        }
        audit.record(
            action: "logout", store: store.displayName, commandLine: commandLine, target: user,
            sessions: result.affected,
            result: result)
        outcome.result = result
        outcome.summary =
            "logged out \(what): \(result.affected.count) session(s) removed, \(result.keysTouched) key(s)/member(s) deleted"
        line(outcome.summary)
        // Stores that write the whole session at the end of a request can bring it back.
        let rewritable = schemas.subtracting(["spring", "sessiond"])
        if !rewritable.isEmpty && repeatAfterMs == nil && output != nil {
            reporter.note(
                "note: \(rewritable.sorted().joined(separator: ", ")) sessions can be written back by a request in flight; "
                    + "use --repeat-after 2s to delete again")
        }
        outcome.exitCode = exitCode(
            found: result.affected.count, notFound: notFound, failures: listingFailures + result.failedNodes)
        return outcome
    }

    // MARK: delete (TUI)

    /// Deletes sessions by id (the TUI's delete of marked rows), audited.
    public func delete(ids: [String]) async throws -> Outcome {
        guard try policy.authorize("delete", count: ids.count, reporter: reporter) else { return Outcome(dryRun: true) }
        try audit.ensureWritable()
        let result = try await store.delete(.ids(ids))
        audit.record(
            action: "delete", store: store.displayName, commandLine: commandLine, target: nil,
            sessions: result.affected,
            result: result)
        return Outcome(
            result: result, found: result.affected.count, summary: "deleted \(result.affected.count) session(s)")
    }

    // MARK: migrate

    /// The store's migration capability, or a usage error that says why there is none.
    public func migrator(for verb: String) async throws -> (any SessionMigrator, [String]) {
        let caps = await store.capabilities()
        guard let migrator = caps.migration, case let targets = await migrator.migrationTargets(), !targets.isEmpty
        else {
            throw ConsoleError.usage(
                "\(store.displayName) cannot \(verb): \(verb == "drain nodes" ? "draining" : "migration") "
                    + "needs an in-house cluster (sessiond --cluster)")
        }
        return (migrator, targets)
    }

    /// Moves sessions to `node`. In a Redis Cluster sessions move only with their hash slots:
    /// that needs `moveSlots` (it says what else is in them), never a silent bigger move.
    public func migrate(ids: [String], to node: String, options: MigrationOptions = MigrationOptions()) async throws
        -> Outcome
    {
        let (migrator, targets) = try await migrator(for: "migrate sessions")
        guard targets.contains(node) else {
            throw ConsoleError.usage("unknown node '\(node)'; nodes: \(targets.joined(separator: ", "))")
        }
        let plan = await store.locate(ids: ids)
        reportNotFound(plan.notFound)
        let moving = plan.sessions.filter { $0.node != node }
        for s in plan.sessions where s.node == node {
            reporter.note("\(Sanitizer.display(s.id)) is already on \(node)")
        }
        var outcome = Outcome(found: plan.sessions.count)
        guard try policy.authorize("migrate to \(node)", count: moving.count, reporter: reporter) else {
            for s in moving { line("would migrate: \(Sanitizer.display(s.id)) from \(s.node) to \(node)") }
            line("dry run: \(moving.count) session(s) would be migrated")
            outcome.dryRun = true
            outcome.exitCode = exitCode(
                found: plan.sessions.count, notFound: plan.notFound.count, failures: plan.failures)
            return outcome
        }
        if moving.isEmpty {
            recordAttempt("migrate", target: node, notFound: plan.notFound, extra: ["to": node])
            outcome.exitCode = exitCode(
                found: plan.sessions.count, notFound: plan.notFound.count, failures: plan.failures)
            return outcome
        }
        try audit.ensureWritable()
        var result = MutationResult()
        var done = 0
        // Batches keep progress moving on long lists.
        for start in stride(from: 0, to: moving.count, by: 200) {
            let batch = moving[start..<min(moving.count, start + 200)].map(\.id)
            result.merge(try await migrator.migrate(ids: batch, to: node, options: options))
            done += batch.count
            reporter.progress("migrated \(done)/\(moving.count)…")
        }
        reporter.clearProgress()
        result.notFound += plan.notFound
        audit.record(
            action: "migrate", store: store.displayName, commandLine: commandLine, target: node,
            sessions: result.affected,
            result: result, extra: ["to": node])
        outcome.result = result
        outcome.summary = "migrated \(result.affected.count) session(s) to \(node)"
        line(outcome.summary)
        outcome.exitCode = exitCode(
            found: result.affected.count + plan.sessions.count - moving.count, notFound: result.notFound.count,
            failures: plan.failures + result.failedNodes)
        return outcome
    }

    /// Moves every session off `node` (to `target`, else by the store's own placement).
    public func drain(node: String, to target: String?) async throws -> Outcome {
        let (migrator, targets) = try await migrator(for: "drain nodes")
        guard targets.contains(node) else {
            throw ConsoleError.usage("unknown node '\(node)'; nodes: \(targets.joined(separator: ", "))")
        }
        if let target, !targets.contains(target) {
            throw ConsoleError.usage("unknown node '\(target)'; nodes: \(targets.joined(separator: ", "))")
        }
        let count = await store.nodes(.full).first { $0.name == node }?.sessions ?? 0
        let destination = target ?? "the other nodes (by the ring)"
        guard try policy.authorize("drain \(node) to \(destination)", count: count, reporter: reporter) else {
            line("dry run: \(count) session(s) would move from \(node) to \(destination)")
            return Outcome(found: count, dryRun: true)
        }
        try audit.ensureWritable()
        let started = currentTimeMs()
        let reporter = self.reporter
        let result = try await migrator.drain(node: node, to: target) { moved, total in
            let pct = total > 0 ? " (\(moved * 100 / total)%)" : ""
            reporter.progress("draining \(node): \(moved)/\(total) moved\(pct)…")
        }
        reporter.clearProgress()
        let afterInfo = await store.nodes(.full).first { $0.name == node }
        // A Redis Cluster master left without slots becomes a replica: nothing of its own left.
        let becameReplica = afterInfo?.role.hasPrefix("replica") == true
        let after = afterInfo?.sessions ?? (becameReplica ? 0 : nil)
        audit.record(
            action: "drain", store: store.displayName, commandLine: commandLine, target: node,
            sessions: result.affected,
            result: result, extra: target.map { ["to": $0] } ?? [:])
        let secs = Double(max(1, currentTimeMs() - started)) / 1000
        let what =
            result.affected.isEmpty && result.keysTouched > 0
            ? "its slots with \(result.keysTouched) key(s)" : "\(result.affected.count) session(s)"
        var outcome = Outcome(result: result, found: count)
        outcome.summary =
            "drained \(node): moved \(what) in \(String(format: "%.1f", secs)) s; "
            + "\(after.map(String.init) ?? "?") left on \(node)"
            + (becameReplica ? " (now a \(afterInfo?.role ?? "replica"))" : "")
        line(outcome.summary)
        if let after, after > 0 {
            reporter.note(
                "\(after) session(s) remain on \(node) (created during the drain, or failed); run the drain again")
        }
        // Nothing to drain, or everything moved: success; failures are reported per node.
        outcome.exitCode = result.failedNodes.isEmpty ? Exit.ok : report(failures: result.failedNodes)
        return outcome
    }

    /// The store's slot mover when sessions move only with their slots (Redis Cluster).
    public func slotMover() async -> (any SlotMover)? { await store.capabilities().slotMoves }

    /// Redis Cluster: a session moves with its hash slots. Says what else is in them, and
    /// moves them only when asked (`confirmedSlotMove`) and authorized.
    public func moveSlots(of ids: [String], to node: String, mover: any SlotMover, confirmedSlotMove: Bool) async throws
        -> Outcome
    {
        let (_, targets) = try await migrator(for: "migrate sessions")
        guard targets.contains(node) else {
            throw ConsoleError.usage("unknown node '\(node)'; nodes: \(targets.joined(separator: ", "))")
        }
        let (slots, notFound) = await mover.slotPlan(ids: ids)
        reportNotFound(notFound)
        let moving = slots.filter { $0.owner != node }
        let keys = moving.reduce(0) { $0 + $1.keys }
        for s in slots {
            line(
                "slot \(s.slot) on \(s.owner): \(s.keys) key(s)"
                    + (s.owner == node ? " (already there)" : " would move to \(node)"))
        }
        guard confirmedSlotMove else {
            throw ConsoleError.usage(
                "in a Redis Cluster a session moves with its hash slots: \(moving.count) slot(s) holding \(keys) key(s) "
                    + "(other sessions and data too) would move to \(node); add --move-slot to do it")
        }
        guard
            try policy.authorize(
                "move \(moving.count) hash slot(s) with \(keys) key(s) to \(node)", count: keys, reporter: reporter)
        else {
            line("dry run: \(moving.count) slot(s), \(keys) key(s) would move to \(node)")
            return Outcome(found: keys, dryRun: true)
        }
        if moving.isEmpty { return Outcome(exitCode: notFound.isEmpty ? Exit.ok : Exit.notFound) }
        try audit.ensureWritable()
        let reporter = self.reporter
        let moved = try await mover.moveSlots(moving.map(\.slot), to: node) { n, total in
            reporter.progress("moved \(n)/\(total) slot(s)…")
        }
        reporter.clearProgress()
        let result = MutationResult(affected: ids.filter { !notFound.contains($0) }, keysTouched: moved)
        audit.record(
            action: "move-slots", store: store.displayName, commandLine: commandLine, target: node, sessions: ids,
            result: result,
            extra: ["slots": moving.map { String($0.slot) }.joined(separator: ",")])
        let summary = "moved \(moving.count) slot(s) with \(moved) key(s) to \(node)"
        line(summary)
        return Outcome(
            result: result, found: keys, summary: summary, exitCode: notFound.isEmpty ? Exit.ok : Exit.partial)
    }

    /// What a slot move of these sessions would take, in words (the TUI explains instead of
    /// moving more than its confirmation named).
    public func slotMoveExplanation(ids: [String], to node: String, mover: any SlotMover) async -> String {
        let plan = await mover.slotPlan(ids: ids)
        let moving = plan.slots.filter { $0.owner != node }
        return "Redis Cluster: these sessions move with \(moving.count) hash slot(s) holding "
            + "\(moving.reduce(0) { $0 + $1.keys }) key(s); run: sessionctl migrate "
            + "\(ids.prefix(3).joined(separator: " "))\(ids.count > 3 ? " ..." : "") --to \(node) --move-slot"
    }

    // MARK: event settings

    /// Turns on the server setting events need, where it is off; every change audited.
    public func enableEventSettings(_ settings: any EventSettings) async throws -> [SettingChange] {
        if policy.readOnly { throw ConsoleError.usage("refusing to change \(settings.parameter): --read-only is set") }
        try audit.ensureWritable()
        let changes = try await settings.enableEventSettings()
        for c in changes {
            audit.record(
                action: "config-set", store: store.displayName, commandLine: commandLine, target: settings.parameter,
                sessions: [], result: MutationResult(), extra: ["node": c.node, "before": c.before, "after": c.after])
        }
        return changes
    }
}

/// What a logout that deletes as it finds has done so far.
actor LogoutTally {
    private var result = MutationResult()
    private var found = 0
    private var schemas: Set<String> = []
    /// Adds a page's deletion; returns the sessions removed so far.
    func add(_ r: MutationResult, page: [Session]) -> Int {
        result.merge(r)
        found += page.count
        for s in page { schemas.insert(s.schema) }
        return result.affected.count
    }
    var totals: (MutationResult, Int, Set<String>) { (result, found, schemas) }
}
