import ArgumentParser
import Foundation
import SessionKit
import SessionOps

struct Stats: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "What the sessions look like: per node and schema, signed in or not, top users, histograms.",
        discussion: """
            Computed while the listing streams (nothing is kept per session): sessions per node and
            per schema, signed-in against anonymous, the users with the most sessions, and
            histograms of the time to live, idle time, age and size. -o json for scripts. The TUI
            shows the same on key 4.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Only the sessions matching this filter.", valueName: "expr")) var filter: String?
    @Option(help: "How many top users to show.") var top = 10
    @Option(name: .shortAndLong, help: "Output: table or json.") var output: OutputFormat = .table

    func validate() throws {
        guard output == .table || output == .json else { throw ValidationError("stats prints table or json") }
        guard top >= 0 else { throw ValidationError("--top must not be negative") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        let f: Filter
        do { f = try Filter(filter ?? "") } catch { throw ConsoleError.usage(error.description) }
        let acc = StatsAccumulator()
        let tally = ListingTally()
        let reporter = Terminal.reporter
        let outcome = try await console.store.list(ListQuery(filter: f)) { page in
            await tally.add(page)
            let n = await acc.add(page, nowMs: currentTimeMs())
            reporter.progress("read \(n) sessions…")
        }
        reporter.clearProgress()
        let stats = await acc.stats
        if output == .json {
            console.output.write(stats.json(top: top) + [10])
        } else {
            for line in stats.lines(top: top, barWidth: 40) { console.output.line(line) }
        }
        return console.ops.report(listing: outcome.failedNodes, listed: await tally.perNode)
    }
}

actor StatsAccumulator {
    private(set) var stats = SessionStats()
    func add(_ page: [Session], nowMs: Int64) -> Int {
        for s in page { stats.add(s, nowMs: nowMs) }
        return stats.total
    }
}
