import ArgumentParser
import Foundation
import SessionKit
import SessionOps

struct DoctorCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check a session store for what goes wrong in production; --fix repairs what is safe to.",
        discussion: """
            Every store: nodes down, sessions that never expire, very large sessions, users with
            unusually many sessions, a node clock off from this console's. Redis with Spring
            Session: principal index members, expiration-set members and expires: keys whose
            session is gone, session hashes without a TTL, keyspace notifications missing for the
            indexed repository, an eviction policy that evicts live sessions, memory near its
            limit, lagging replicas, cluster slots not served. Memcached: dumps or the LRU crawler
            off, evictions. Each finding has a severity, a count, examples and
            the fix in words; exit code 1 when something is wrong.
            --fix removes only what was reported and is still wrong (checked again item by
            item): leaked index and expiration-set members, orphan expires: keys. It is
            confirmed (--yes), audited, and --dry-run shows it.
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Repair what is safe to repair.") var fix = false
    @Option(name: .shortAndLong, help: "Output: table or json.") var output: OutputFormat = .table

    func validate() throws {
        guard output == .table || output == .json else { throw ValidationError("doctor prints table or json") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        let findings = try await Doctor().run(console.store, reporter: Terminal.reporter)
        let out = console.output
        if output == .json {
            var w = JSONWriter()
            w.raw("[")
            for (i, f) in findings.enumerated() {
                w.raw(i == 0 ? "{\"check\":" : ",{\"check\":")
                w.string(f.check)
                w.raw(",\"severity\":")
                w.string(f.severity.rawValue)
                w.raw(",\"node\":")
                w.optionalString(f.node)
                w.raw(",\"title\":")
                w.string(f.title)
                w.raw(",\"count\":")
                w.int(Int64(f.count))
                w.raw(",\"examples\":[")
                for (k, e) in f.examples.enumerated() {
                    if k > 0 { w.raw(",") }
                    w.string(e)
                }
                w.raw("],\"fix\":")
                w.string(f.fix)
                w.raw(",\"repairable\":\(f.repairable)}")
            }
            w.raw("]\n")
            out.write(w.bytes)
        } else if findings.isEmpty {
            out.line("no problems found in \(console.store.displayName)")
        } else {
            for f in findings {
                let node = f.node.map { " [\(Sanitizer.display($0))]" } ?? ""
                out.line(
                    "\(f.severity.rawValue.uppercased())  \(f.check)\(node): \(Sanitizer.display(f.title, limit: 300)) — \(f.count)"
                )
                for e in f.examples { out.line("    " + Sanitizer.display(e, limit: 200)) }
                out.line("    fix: " + f.fix + (f.repairable ? " (repairable)" : ""))
            }
        }
        out.flush()
        var code: Int32 = findings.contains { $0.severity >= .warning } ? Exit.partial : Exit.ok
        if fix {
            let outcome = try await console.ops.repair(findings)
            if outcome.exitCode != Exit.ok { code = outcome.exitCode }
        }
        return code
    }
}
