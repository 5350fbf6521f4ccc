import ArgumentParser
import Foundation
import RedisClient
import RedisSessions
import HouseStore
import SessionKit

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
    @Option(help: ArgumentHelp("Event kinds: expired, evicted, deleted, migrated, created (default: all but created).", valueName: "kinds"))
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
        if let duration { do { stopAfterMs = try DurationText.milliseconds(duration) } catch { throw ConsoleError.usage(error.description) } }

        // Notifications (Redis): check, and enable only when asked. sessiond always publishes.
        var failures: [NodeFailure] = []
        var off: [NotificationStatus] = []
        let notifications = console.store as? any KeyspaceNotifications
        for r in await notifications?.notificationStatus() ?? [] {
            switch r {
            case .success(let s) where !s.isSufficient: off.append(s)
            case .failure(let f): failures.append(f)
            default: break
            }
        }
        if failures.count == console.store.nodeNames.count { return console.report(failures: failures) }
        if !off.isEmpty {
            if !enableNotifications {
                for s in off {
                    Terminal.error("keyspace notifications are off on \(s.node) (notify-keyspace-events='\(s.flags)', missing '\(s.missing)'); run with --enable-notifications to add them")
                }
                return Exit.partial
            }
            guard try console.authorize("change notify-keyspace-events", count: 0) else {
                for s in off { console.output.line("would set notify-keyspace-events on \(s.node): '\(s.flags)' -> '\(s.flags + s.missing)'") }
                return Exit.ok
            }
            try console.audit.ensureWritable()
            for change in try await notifications?.enableNotifications() ?? [] {
                Terminal.note("\(change.node): notify-keyspace-events '\(change.before)' -> '\(change.after)'")
                console.audit.record(action: "config-set", store: console.store.displayName, commandLine: console.commandLine,
                                     target: "notify-keyspace-events", sessions: [], result: MutationResult(),
                                     extra: ["node": change.node, "before": change.before, "after": change.after])
            }
        }
        for f in failures { Terminal.error("node \(f.node) failed: \(f.message)") }
        if output == .table { console.output.line("TIME                      EVENT    NODE                  SESSION                               USER") }
        console.output.flush()

        let stream = console.store.events(kinds: kinds)
        let start = currentTimeMs()
        let limit = count
        let format = output
        let out = console.output
        let stopAfter = stopAfterMs
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var seen = 0
                for try await e in stream {
                    Watch.print(e, format: format, to: out)
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

    static func print(_ e: SessionEvent, format: OutputFormat, to out: Output) {
        if format == .json || format == .jsonl {
            var w = JSONWriter()
            w.raw("{\"time\":"); w.string(ISOTime.format(ms: e.timeMs))
            w.raw(",\"event\":"); w.string(e.kind.rawValue)
            w.raw(",\"node\":"); w.string(e.node)
            w.raw(",\"id\":"); w.optionalString(e.sessionID)
            w.raw(",\"user\":"); w.optionalString(e.user)
            w.raw(",\"key\":"); w.optionalString(e.key)
            w.raw(",\"prompted\":"); w.raw(e.prompted ? "true" : "false")
            if let d = e.detail { w.raw(",\"detail\":"); w.string(d) }
            w.raw("}\n")
            out.write(w.bytes)
            return
        }
        let id = e.sessionID.map { Sanitizer.display($0, limit: 64) } ?? "-"
        var line = ISOTime.format(ms: e.timeMs).padding(toLength: 26, withPad: " ", startingAt: 0)
            + e.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            + e.node.padding(toLength: 22, withPad: " ", startingAt: 0)
            + id.padding(toLength: 38, withPad: " ", startingAt: 0)
            + (e.user.map { Sanitizer.display($0, limit: 64) } ?? "-")
        if e.prompted { line += "  (prompted)" }
        if let d = e.detail { line += "  " + Sanitizer.display(d) }
        out.line(line)
    }
}

struct Nodes: ConsoleCommand {
    static let configuration = CommandConfiguration(abstract: "Show the store's nodes: role, state, sessions, memory, expiry and eviction totals.")
    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "Output: table or json.") var output: OutputFormat = .table

    func execute(_ console: Console) async throws -> Int32 {
        let infos = await console.store.nodes()
        let out = console.output
        if output == .json || output == .jsonl {
            var w = JSONWriter()
            w.raw("[")
            for (n, i) in infos.enumerated() {
                w.raw(n == 0 ? "\n" : ",\n")
                w.raw("{\"name\":"); w.string(i.name)
                w.raw(",\"address\":"); w.string(i.address)
                w.raw(",\"role\":"); w.string(i.role)
                w.raw(",\"up\":"); w.raw(i.up ? "true" : "false")
                w.raw(",\"error\":"); w.optionalString(i.error.map { RedisURL.redact($0) })
                w.raw(",\"sessions\":"); w.optionalInt(i.sessions.map(Int64.init))
                w.raw(",\"keys\":"); w.optionalInt(i.keys.map(Int64.init))
                w.raw(",\"used_memory\":"); w.optionalInt(i.usedMemory)
                w.raw(",\"max_memory\":"); w.optionalInt(i.maxMemory)
                w.raw(",\"eviction_policy\":"); w.optionalString(i.evictionPolicy)
                w.raw(",\"expired_total\":"); w.optionalInt(i.expiredTotal)
                w.raw(",\"evicted_total\":"); w.optionalInt(i.evictedTotal)
                w.raw(",\"version\":"); w.optionalString(i.version)
                if let share = i.ringShare { w.raw(",\"ring_share\":"); w.raw(String(format: "%.3f", share)) }
                if let slots = i.slots { w.raw(",\"slots\":"); w.string(slots) }
                w.raw("}")
            }
            w.raw(infos.isEmpty ? "]\n" : "\n]\n")
            out.write(w.bytes)
        } else {
            let ring = infos.contains { $0.ringShare != nil }
            let slots = infos.contains { $0.slots != nil }
            let header = ["NODE", "ROLE", "STATE", "SESSIONS", "KEYS", "MEMORY", "MAXMEMORY", "POLICY", "EXPIRED", "EVICTED"]
                + (ring ? ["RING"] : []) + (slots ? ["SLOTS"] : [])
            var rows = [header]
            for i in infos {
                var row: [String] = [i.name, i.role, i.up ? "up" : "DOWN", i.sessions.map(String.init) ?? "-", i.keys.map(String.init) ?? "-"]
                row.append(i.usedMemory.map(humanBytes) ?? "-")
                row.append(i.maxMemory.map { $0 == 0 ? "none" : humanBytes($0) } ?? "-")
                row += [i.evictionPolicy ?? "-", i.expiredTotal.map(String.init) ?? "-", i.evictedTotal.map(String.init) ?? "-"]
                if ring { row.append(i.ringShare.map { String(format: "%.1f%%", $0 * 100) } ?? "-") }
                if slots { row.append(i.slots ?? "-") }
                rows.append(row)
            }
            let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
            for r in rows { out.line(SessionFormatter.pad(r, widths)) }
            for i in infos where !i.up { Terminal.error("node \(i.name) is down: \(RedisURL.redact(i.error ?? "unknown error"))") }
        }
        let down = infos.filter { !$0.up }.count
        if down == 0 { return Exit.ok }
        return down == infos.count ? Exit.connection : Exit.partial
    }
}
