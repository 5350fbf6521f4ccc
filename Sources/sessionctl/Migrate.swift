import ArgumentParser
import Foundation
import SessionKit
import SessionOps

struct Migrate: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Move sessions between nodes (in-house cluster, Redis nodes, Redis Cluster slots) or between stores; drain a node.",
        discussion: """
            sessionctl migrate ID... --to NODE          move these sessions (TTL, user, attributes kept)
            sessionctl migrate --from-node N [--to NODE] drain N: every session goes to NODE, or else
                                                         to its next node on the ring (spread over the rest)
            sessionctl migrate --from URL --to URL [--filter EXPR]
                                                         copy sessions between stores (Redis <-> sessiond,
                                                         memcached -> Redis or sessiond),
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
    @Option(
        name: .customLong("from-node"),
        help: ArgumentHelp("Drain this node: move every session off it.", valueName: "node"))
    var fromNode: String?
    @Option(help: ArgumentHelp("Copy sessions from this store (with --to URL) to another.", valueName: "url")) var from:
        String?
    @Option(help: ArgumentHelp("Between stores: only the sessions matching this filter.", valueName: "expr"))
    var filter: String?
    @Option(help: "Between stores: sessions per batch.") var batch = 1000
    @Flag(
        name: .customLong("move-slot"),
        help: "Redis Cluster: move the hash slots of these sessions (with everything else in them).")
    var moveSlot = false
    @Flag(help: "Redis MIGRATE: overwrite the session if the target node has it already.") var replace = false

    func validate() throws {
        if from != nil {
            guard to != nil, ids.isEmpty, fromNode == nil else {
                throw ValidationError("--from URL needs --to URL (and no ids, no --from-node)")
            }
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
            return
        }
        if filter != nil { throw ValidationError("--filter goes with --from URL --to URL") }
        if ids.isEmpty == (fromNode == nil) {
            throw ValidationError("give either session ids with --to NODE, --from-node NODE, or --from URL --to URL")
        }
        if !ids.isEmpty && to == nil { throw ValidationError("--to NODE is required when moving sessions by id") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        let ops = console.ops
        if let from, let to {
            var f: Filter
            do { f = try Filter(filter ?? "") } catch { throw ConsoleError.usage(error.description) }
            let move = StoreMigration(
                source: try console.open(from, schema: console.options.schema),
                target: try console.open(to, schema: "auto"),
                filter: f, batchSize: batch)
            return try await move.run(ops)
        }
        if let fromNode { return try await ops.drain(node: fromNode, to: to).exitCode }
        guard let to else { return Exit.usage }
        if let mover = await ops.slotMover() {
            return try await ops.moveSlots(of: ids, to: to, mover: mover, confirmedSlotMove: moveSlot).exitCode
        }
        return try await ops.migrate(ids: ids, to: to, options: MigrationOptions(replace: replace)).exitCode
    }
}
