import ArgumentParser
import Foundation
import RedisClient
import SessionKit

struct Migrate: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move sessions to another node of an in-house cluster, or drain a node.",
        discussion: """
        sessionctl migrate ID... --to NODE          move these sessions (TTL, user, attributes kept)
        sessionctl migrate --from-node N [--to NODE] drain N: every session goes to NODE, or else
                                                     to its next node on the ring (spread over the rest)
        Nobody is logged out: lookups follow the session to its new node. A drain makes
        several passes, so sessions created during the drain are moved too; stop the node
        when it reports 0 left. Needs --yes (or a confirmation on a terminal).
        """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Session ids (instead of --from-node).") var ids: [String] = []
    @Option(help: ArgumentHelp("Target node id (see `sessionctl nodes`).", valueName: "node")) var to: String?
    @Option(name: .customLong("from-node"), help: ArgumentHelp("Drain this node: move every session off it.", valueName: "node"))
    var fromNode: String?

    func validate() throws {
        if ids.isEmpty == (fromNode == nil) { throw ValidationError("give either session ids with --to NODE, or --from-node NODE") }
        if !ids.isEmpty && to == nil { throw ValidationError("--to NODE is required when moving sessions by id") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        if let fromNode { return try await drain(fromNode, console) }
        guard let to else { return Exit.usage }
        let targets = await console.store.migrationTargets()
        guard !targets.isEmpty else {
            throw ConsoleError.usage("\(console.store.displayName) cannot migrate sessions: migration needs an in-house cluster (sessiond --cluster)")
        }
        guard targets.contains(to) else { throw ConsoleError.usage("unknown node '\(to)'; nodes: \(targets.joined(separator: ", "))") }
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
            result.merge(try await console.store.migrate(ids: batch, to: to))
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
        let after = await console.store.nodes(countSessions: true).first { $0.name == node }?.sessions
        console.audit.record(action: "drain", store: console.store.displayName, commandLine: console.commandLine,
                             target: node, sessions: result.affected, result: result, extra: to.map { ["to": $0] } ?? [:])
        let secs = Double(max(1, currentTimeMs() - started)) / 1000
        console.output.line("drained \(node): moved \(result.affected.count) session(s) in \(String(format: "%.1f", secs)) s; "
                            + "\(after.map(String.init) ?? "?") left on \(node)")
        if let after, after > 0 { Terminal.note("\(after) session(s) remain on \(node) (created during the drain, or failed); run the drain again") }
        return Mutations.exitCode(found: max(result.affected.count, count == 0 ? 1 : 0), notFound: 0, failures: result.failedNodes, console: console)
    }
}
