import ArgumentParser
import Foundation
import SessionKit
import SessionOps

struct Watch: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show session expiry, eviction and deletion as they happen.",
        discussion: """
            Uses Redis keyspace events. Redis reports expiries late on a large keyspace; watch
            knows the deadlines of the sessions it has read and pokes them when due (EXISTS),
            so each expiry shows within about a second: such events are marked "prompted".
            If notifications are off, watch says so and exits 1, unless --enable-notifications
            is given (adds the flags E, g, x, e and prints what changed).
            """)
    @OptionGroup var global: GlobalOptions
    @Option(
        help: ArgumentHelp(
            "Event kinds: expired, evicted, deleted, migrated, created (default: all but created).", valueName: "kinds")
    )
    var events: String = "expired,evicted,deleted,migrated"
    @Option(name: .shortAndLong, help: "Output: table or jsonl.") var output: OutputFormat = .table
    @Flag(name: .customLong("enable-notifications"), help: "Turn on the keyspace notifications watch needs.")
    var enableNotifications = false
    @Option(help: "Stop after this many events.") var count: Int?
    @Option(name: .customLong("for"), help: ArgumentHelp("Stop after this long (e.g. 30s).", valueName: "duration"))
    var duration: String?

    func execute(_ console: Console) async throws -> Int32 {
        var kinds: Set<SessionEvent.Kind> = []
        for k in events.split(separator: ",") {
            guard let kind = SessionEvent.Kind(rawValue: k.trimmingCharacters(in: .whitespaces)), kind != .gap else {
                throw ConsoleError.usage("unknown event kind '\(k)' (expired, evicted, deleted, migrated, created)")
            }
            kinds.insert(kind)
        }
        var stopAfterMs: Int64? = nil
        if let duration {
            do { stopAfterMs = try DurationText.milliseconds(duration) } catch {
                throw ConsoleError.usage(error.description)
            }
        }

        // A server setting events need (Redis keyspace notifications): check it, and change
        // it only when asked. Stores that always publish have none.
        var failures: [NodeFailure] = []
        var off: [EventSettingStatus] = []
        let caps = await console.store.capabilities()
        guard let source = caps.events else {
            throw ConsoleError.usage("\(console.store.displayName) has no session events")
        }
        if let settings = caps.eventSettings {
            for r in await settings.eventSettingStatus() {
                switch r {
                case .success(let s) where !s.isSufficient: off.append(s)
                case .failure(let f): failures.append(f)
                default: break
                }
            }
            if failures.count == console.store.nodeNames.count { return console.ops.report(failures: failures) }
            if !off.isEmpty {
                let name = settings.parameter
                if !enableNotifications {
                    for s in off {
                        Terminal.error(
                            "\(settings.settingName) are off on \(s.node) (\(name)='\(s.current)', missing '\(s.missing)'); "
                                + "run with --enable-notifications to add them")
                    }
                    return Exit.partial
                }
                guard try console.ops.policy.authorize("change \(name)", count: 0, reporter: Terminal.reporter) else {
                    for s in off {
                        console.output.line(
                            "would set \(name) on \(s.node): '\(s.current)' -> '\(s.current + s.missing)'")
                    }
                    return Exit.ok
                }
                for change in try await console.ops.enableEventSettings(settings) {
                    Terminal.note("\(change.node): \(name) '\(change.before)' -> '\(change.after)'")
                }
            }
        }
        for f in failures { Terminal.error("node \(f.node) failed: \(f.message)") }
        if output == .table {
            console.output.line(
                "TIME                      EVENT    NODE                  SESSION                               USER")
        }
        console.output.flush()

        for note in source.notes { Terminal.note("note: \(note)") }
        let stream = source.events(kinds: kinds, deadlines: .byStore)
        let start = currentTimeMs()
        let limit = count
        let format = output
        let out = console.output
        let stopAfter = stopAfterMs
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var seen = 0
                for try await e in stream {
                    EventFormatter.write(e, format: format, to: out)
                    out.flush()
                    if e.kind != .gap { seen += 1 }
                    if let limit, seen >= limit { return }
                    if let stopAfter, currentTimeMs() - start >= stopAfter { return }
                }
            }
            if let stopAfter {
                group.addTask { try? await Task.sleep(nanoseconds: UInt64(stopAfter) * 1_000_000) }
            }
            try await group.next()
            group.cancelAll()
        }
        return failures.isEmpty ? Exit.ok : Exit.partial
    }
}

struct Nodes: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the store's nodes: role, state, sessions, memory, expiry and eviction totals.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "Output: table or json.") var output: OutputFormat = .table

    func execute(_ console: Console) async throws -> Int32 {
        let infos = await console.store.nodes(.full)
        let out = console.output
        if output == .json || output == .jsonl {
            out.write(NodeFormatter.json(infos))
        } else {
            for line in NodeFormatter.table(infos) { out.line(line) }
            for i in infos where !i.up {
                let what = i.unresponsive ? "does not answer" : "is down"
                let reason = NodeFailure(node: i.name, message: i.error ?? "unknown error").reason
                Terminal.error("node \(i.name) \(what): \(reason)")
            }
        }
        let down = infos.filter { !$0.up }.count
        if down == 0 { return Exit.ok }
        return down == infos.count ? Exit.connection : Exit.partial
    }
}
