import SessionKit

/// `sessionctl doctor`: the store's own checks (capabilities().diagnostics) and the ones
/// every store gets from a listing: nodes down, sessions that never expire, very large
/// sessions, users with unusually many sessions.
public struct Doctor: Sendable {
    /// Sessions above this size are reported (the top ones by size).
    public var largeSessionBytes: Int64 = 1 << 20
    /// Users with more sessions than this are reported.
    public var manySessionsPerUser = 50

    public init() {}

    public func run(_ store: any SessionStore, reporter: any Reporter) async throws -> [Finding] {
        var out: [Finding] = []
        for n in await store.nodes(.cheap) where !n.up {
            out.append(
                Finding(
                    check: "node-down", severity: .error, node: n.name, title: "node down: \(n.error ?? "no answer")",
                    count: 1, fix: "bring the node back; its sessions cannot be read or logged out meanwhile"))
        }
        let scan = DoctorScan(large: largeSessionBytes)
        let outcome = try await store.list(ListQuery()) { page in
            let n = await scan.add(page)
            reporter.progress("doctor: read \(n) sessions…")
        }
        reporter.clearProgress()
        for f in outcome.failedNodes where !out.contains(where: { $0.node == f.node }) {
            out.append(
                Finding(
                    check: "node-unreadable", severity: .error, node: f.node,
                    title: "the listing failed: \(Redaction.redact(f.message))", count: 1,
                    fix: "see the message; other checks could not look at this node"))
        }
        let s = await scan.result
        if s.neverExpire.count > 0 {
            out.append(
                Finding(
                    check: "sessions-without-expiry", severity: .warning,
                    title: "sessions without an expiry: they live until deleted", count: s.neverExpire.count,
                    examples: s.neverExpire.examples,
                    fix:
                        "`sessionctl expire --in 30m ID...`; find the application code that stores sessions without a TTL"
                ))
        }
        if !s.large.isEmpty {
            let top = s.large.sorted { $0.1 > $1.1 }
            out.append(
                Finding(
                    check: "large-sessions", severity: .warning,
                    title: "sessions over \(largeSessionBytes >> 10) KiB (every request reads and writes them whole)",
                    count: s.largeCount, examples: top.prefix(5).map { "\($0.0) (\($0.1) bytes)" },
                    fix: "`sessionctl show ID` says which attributes are large; keep caches out of the session"))
        }
        let heavy = s.stats.topUsers(5).filter { $0.sessions > manySessionsPerUser }
        if !heavy.isEmpty {
            let all = s.stats.perUser.values.filter { $0 > manySessionsPerUser }.count
            out.append(
                Finding(
                    check: "users-with-many-sessions", severity: .warning,
                    title:
                        "users with more than \(manySessionsPerUser) sessions (a client that never keeps its cookie, or a shared account)",
                    count: all, examples: heavy.map { "\($0.user): \($0.sessions)" },
                    fix: "`sessionctl ls --user NAME` to look; `sessionctl logout --user NAME` ends them all"))
        }
        if let d = await store.capabilities().diagnostics { out += await d.diagnose() }
        return out.sorted { ($0.severity, $1.check) > ($1.severity, $0.check) }
    }
}

actor DoctorScan {
    struct Result: Sendable {
        var stats = SessionStats()
        var neverExpire = (count: 0, examples: [String]())
        var large: [(String, Int64)] = []
        var largeCount = 0
    }
    private(set) var result = Result()
    let large: Int64
    init(large: Int64) { self.large = large }

    func add(_ page: [Session]) -> Int {
        let now = currentTimeMs()
        for s in page {
            result.stats.add(s, nowMs: now)
            if s.ttlMs < 0 {
                result.neverExpire.count += 1
                if result.neverExpire.examples.count < 5 { result.neverExpire.examples.append(s.id) }
            }
            if let size = s.sizeBytes, size > large {
                result.largeCount += 1
                result.large.append((s.id, size))
                if result.large.count > 1000 {
                    // Keep the largest only: memory stays bounded on a store full of big sessions.
                    result.large = Array(result.large.sorted { $0.1 > $1.1 }.prefix(100))
                }
            }
        }
        return result.stats.total
    }
}

extension Operations {
    /// Repairs the repairable findings (confirmed with their total count, audited; a dry run
    /// says what would be repaired). What each repair touched is re-checked item by item.
    public func repair(_ findings: [Finding]) async throws -> Outcome {
        let fixable = findings.filter(\.repairable)
        var outcome = Outcome(found: fixable.reduce(0) { $0 + $1.count })
        guard !fixable.isEmpty else {
            outcome.summary = "nothing to repair"
            return outcome
        }
        guard let d = await store.capabilities().diagnostics else { return outcome }
        let what = fixable.map { "\($0.check) (\($0.count))" }.joined(separator: ", ")
        guard try policy.authorize("repair \(what)", count: outcome.found, reporter: reporter) else {
            for f in fixable {
                output?.line("would repair: \(f.check) on \(f.node ?? "the store"): \(f.count) item(s)")
            }
            outcome.dryRun = true
            return outcome
        }
        try audit.ensureWritable()
        var repaired = 0
        var failures: [NodeFailure] = []
        for f in fixable {
            do {
                let n = try await d.repair(f)
                repaired += n
                output?.line("repaired \(f.check) on \(f.node ?? "the store"): \(n) item(s)")
            } catch {
                failures.append(NodeFailure(node: f.node ?? store.displayName, message: "\(error)"))
            }
        }
        outcome.result = MutationResult(failedNodes: failures, keysTouched: repaired)
        audit.record(
            action: "doctor-fix", store: store.displayName, commandLine: commandLine, target: what, sessions: [],
            result: outcome.result)
        outcome.exitCode = failures.isEmpty ? Exit.ok : report(failures: failures)
        return outcome
    }
}
