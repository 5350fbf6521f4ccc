import ArgumentParser
import Foundation
import SessionKit
import SessionOps

extension OutputFormat: ExpressibleByArgument {}

enum SortKey: String, ExpressibleByArgument, CaseIterable {
    case ttl, idle, age, user, node, id, size

    /// What the rows must carry to be sorted by this key.
    var parts: SessionParts {
        switch self {
        case .ttl: .ttl
        case .idle, .age: .times
        case .user: .user
        case .size: .size
        case .node, .id: []
        }
    }
}

struct List: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List live sessions.",
        discussion: """
            Filter terms (all must hold): id user node schema key ttl idle age size attr.NAME,
            with = (exact, * wildcard) != ~ (contains) !~ < <= > >=. Durations in seconds unless
            a unit is given. Example: --filter 'user=alice* ttl<5m idle>10m'.
            JSON fields: id, user, node, ttl_ms (-1 = never expires), schema, created_at,
            last_accessed_at, size_bytes, idle_ms, max_inactive_s, key.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Filter expression.", valueName: "expr")) var filter: String?
    @Option(help: "Only sessions of this user.") var user: String?
    @Option(help: "Only sessions on this node (host:port).") var node: String?
    @Option(help: "Sort by ttl|idle|age|user|node|id|size (reads everything before printing).") var sort: SortKey?
    @Flag(help: "Reverse the sort order.") var reverse = false
    @Option(help: "At most this many sessions.") var limit: Int?
    @Option(name: .shortAndLong, help: "Output: table, json, jsonl, csv.") var output: OutputFormat = .table
    @Option(
        help: ArgumentHelp(
            "Only these fields, in this order (JSON names, comma-separated). Fields not asked for are not read: "
                + "without size_bytes (and no size sort or filter) the size is never read, the costliest read on Redis.",
            valueName: "list"))
    var fields: String?
    @Flag(
        name: .customLong("include-expired"),
        help: "Also list expired sessions whose data awaits the framework's clean-up (TTL 0).")
    var includeExpired = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
        if let fields {
            do { _ = try SessionField.parseList(fields) } catch { throw ValidationError(error.message) }
        }
    }

    func execute(_ console: Console) async throws -> Int32 {
        var f: Filter
        do { f = try Filter(filter ?? "") } catch { throw ConsoleError.usage(error.description) }
        if let user { f.add(.user, .eq, user) }
        if let node { f.add(.node, .eq, node) }
        let chosen = try fields.map { try SessionField.parseList($0) }
        // Only what is printed and sorted on is read (every field without --fields).
        var parts: SessionParts = chosen.map { SessionField.parts($0) } ?? .all
        if let sort { parts.formUnion(sort.parts) }
        let query = ListQuery(
            filter: f, limit: sort == nil ? limit : nil, includeExpired: includeExpired, parts: parts)
        let printer = PagePrinter(
            formatter: SessionFormatter(format: output, output: console.output, fields: chosen))
        let collector = sort == nil ? nil : Collector()
        let tally = ListingTally()
        let outcome = try await console.store.list(query) { page in
            await tally.add(page)
            if let collector { await collector.add(page) } else { await printer.print(page) }
        }
        if let collector, let sort {
            var all = await collector.sessions
            let now = currentTimeMs()
            all.sort { a, b in Self.less(a, b, by: sort, now: now) != reverse }
            if let limit { all = Array(all.prefix(limit)) }
            await printer.print(all)
        }
        await printer.finish()
        Terminal.clearProgress()
        return console.ops.report(listing: outcome.failedNodes, listed: await tally.perNode)
    }

    static func less(_ a: Session, _ b: Session, by key: SortKey, now: Int64) -> Bool {
        switch key {
        case .ttl: return (a.ttlMs < 0 ? Int64.max : a.ttlMs) < (b.ttlMs < 0 ? Int64.max : b.ttlMs)
        case .idle: return (a.idleMs(now: now) ?? -1) > (b.idleMs(now: now) ?? -1)
        case .age: return (a.ageMs(now: now) ?? -1) > (b.ageMs(now: now) ?? -1)
        case .user: return (a.user ?? "\u{10FFFF}", a.id) < (b.user ?? "\u{10FFFF}", b.id)
        case .node: return (a.node, a.id) < (b.node, b.id)
        case .id: return a.id < b.id
        case .size: return (a.sizeBytes ?? -1) > (b.sizeBytes ?? -1)
        }
    }
}

/// Serialises printing of pages that arrive from several node scans at once; the progress
/// line on a terminal says how far each node got.
actor PagePrinter {
    private var formatter: SessionFormatter
    private var printed = 0
    private var perNode: [String: Int] = [:]
    init(formatter: SessionFormatter) { self.formatter = formatter }
    func print(_ page: [Session]) {
        formatter.write(page, nowMs: currentTimeMs())
        printed += page.count
        for s in page { perNode[s.node, default: 0] += 1 }
        var text = "\(printed) sessions…"
        if perNode.count > 1 {
            let nodes = perNode.sorted { $0.key < $1.key }.map { "\(Sanitizer.display($0.key, limit: 40)) \($0.value)" }
            text += " (" + nodes.joined(separator: ", ") + ")"
        }
        // One terminal line: \r cannot clear a wrapped one.
        Terminal.progress(String(text.prefix(120)))
    }
    func finish() { formatter.finish() }
}

struct Show: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one session with every attribute decoded.",
        discussion: "Reads idle time and TTL before the value, so inspecting does not change what is shown.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Session id.") var id: String
    @Option(name: .shortAndLong, help: "Output: table or json.") var output: OutputFormat = .table
    @Flag(
        help:
            "Add the raw bytes (hex): each attribute's, or the whole stored value for frameworks that keep the session in one value."
    ) var raw = false
    @Flag(help: "JSON: every value whole (by default a value over 64 KiB is cut and marked \"truncated\": true).")
    var full = false

    func execute(_ console: Console) async throws -> Int32 {
        guard let s = try await console.store.get(id: id) else {
            throw ConsoleError(code: Exit.notFound, message: "session \(Sanitizer.display(id, limit: 200)) not found")
        }
        let now = currentTimeMs()
        let out = console.output
        if output == .json || output == .jsonl {
            var w = JSONWriter()
            SessionFormatter.json(s, into: &w, nowMs: now)
            w.bytes.removeLast()  // reopen the object to add attributes
            w.raw(",\"attributes\":[")
            for (n, a) in s.attributes.enumerated() {
                if n > 0 { w.raw(",") }
                w.raw("{\"name\":")
                w.string(a.name)
                w.raw(",\"format\":")
                w.string(a.format)
                w.raw(",\"size_bytes\":")
                w.int(Int64(a.raw.count))
                w.raw(",\"value\":")
                SessionFormatter.jsonValue(a.decoded, into: &w, limit: full ? nil : SessionFormatter.valueLimit)
                if raw {
                    w.raw(",\"raw_hex\":")
                    w.string(Sanitizer.hex(a.raw, limit: Int.max))
                }
                w.raw("}")
            }
            w.raw("]")
            if raw, let stored = s.storedValue {
                w.raw(",\"stored_value_hex\":")
                w.string(Sanitizer.hex(stored, limit: Int.max))
            }
            w.raw("}\n")
            out.write(w.bytes)
            return Exit.ok
        }
        let rows: [(String, String)] = [
            ("Session", Sanitizer.display(s.id)), ("Key", Sanitizer.display(s.key)), ("Node", s.node),
            ("Schema", s.schema), ("User", s.user.map { Sanitizer.display($0) } ?? "-"),
            ("TTL", s.ttlMs < 0 ? "never expires" : "\(DurationText.compact(ms: s.ttlMs)) (\(s.ttlMs) ms)"),
            ("Created", s.createdAtMs.map { ISOTime.format(ms: $0) } ?? "-"),
            ("Last access", s.lastAccessedAtMs.map { ISOTime.format(ms: $0) } ?? "-"),
            ("Idle", s.idleMs(now: now).map { DurationText.compact(ms: $0) } ?? "-"),
            ("Max inactive", s.maxInactiveSeconds.map { $0 < 0 ? "never" : "\($0) s" } ?? "-"),
            ("Size", s.sizeBytes.map { "\($0) bytes" } ?? "-"),
        ]
        for (k, v) in rows { out.line(k.padding(toLength: 13, withPad: " ", startingAt: 0) + v) }
        out.line("Attributes (\(s.attributes.count))")
        for a in s.attributes {
            let name = Sanitizer.display(a.name, limit: 200)
            if a.decoded.isScalar {
                out.line("  \(name) [\(a.format), \(a.raw.count) B]: " + a.decoded.scalarText())
            } else {
                out.line("  \(name) [\(a.format), \(a.raw.count) B]:")
                for l in a.decoded.treeLines(indent: 2) { out.line(l) }
            }
            if raw && s.storedValue == nil {
                for l in Sanitizer.hexDump(a.raw) { out.line("      " + l) }
            }
        }
        // Sessions stored as one value: the exact bytes the framework wrote.
        if raw, let stored = s.storedValue {
            out.line("Stored value (\(stored.count) bytes)")
            for l in Sanitizer.hexDump(stored) { out.line("  " + l) }
        }
        return Exit.ok
    }
}

struct Expire: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Expire sessions now, or set their remaining time (--in).",
        discussion: "Expiring now makes the framework see a normal timeout (its expired event fires).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Session ids.") var ids: [String]
    @Option(
        name: .customLong("in"),
        help: ArgumentHelp("Remaining time instead of now (e.g. 30s, 5m).", valueName: "duration"))
    var after: String?

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give at least one session id") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        var ms: Int64? = nil
        if let after {
            do { ms = try DurationText.milliseconds(after) } catch { throw ConsoleError.usage(error.description) }
        }
        var timing: (ms: Int64, text: String)? = nil
        if let ms, let after { timing = (ms, after) }
        return try await console.ops.expire(ids: ids, after: timing).exitCode
    }
}

struct Logout: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Force a logout: remove sessions and every trace the framework keeps of them.",
        discussion: """
            --user removes all of a user's sessions (through the principal index where the
            framework keeps one, else by scanning). For Spring Session this removes the hash,
            the expires: key, the index member and the expiration-set member.
            Frameworks that write the whole session at the end of a request (connect-redis)
            can write a session back if a request was in flight: --repeat-after deletes again.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Log out every session of this user.") var user: String?
    @Argument(help: "Session ids (instead of --user).") var ids: [String] = []
    @Option(
        name: .customLong("repeat-after"),
        help: ArgumentHelp("Delete again after this delay (e.g. 2s).", valueName: "duration"))
    var repeatAfter: String?

    func validate() throws {
        if (user == nil) == ids.isEmpty { throw ValidationError("give either --user NAME or session ids") }
    }

    func execute(_ console: Console) async throws -> Int32 {
        var repeatMs: Int64? = nil
        if let repeatAfter {
            do { repeatMs = try DurationText.milliseconds(repeatAfter) } catch {
                throw ConsoleError.usage(error.description)
            }
        }
        let target: Operations.LogoutTarget = user.map { .user($0) } ?? .ids(ids)
        return try await console.ops.logout(target, repeatAfterMs: repeatMs).exitCode
    }
}
