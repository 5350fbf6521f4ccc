import Foundation
import SessionKit
import SessionOps
import TestSupport
import Testing

/// Records what operations say to a person, and answers questions as told.
final class RecordingReporter: Reporter, @unchecked Sendable {
    private let lock = NSLock()
    private var _errors: [String] = []
    private var _notes: [String] = []
    private var _questions: [String] = []
    let answer: Bool
    init(answer: Bool = false) { self.answer = answer }
    var errors: [String] { lock.withLock { _errors } }
    var notes: [String] { lock.withLock { _notes } }
    var questions: [String] { lock.withLock { _questions } }
    func progress(_ message: String) {}
    func clearProgress() {}
    func note(_ message: String) { lock.withLock { _notes.append(message) } }
    func error(_ message: String) { lock.withLock { _errors.append(message) } }
    func confirm(_ question: String) -> Bool {
        lock.withLock { _questions.append(question) }
        return answer
    }
}

/// An output that captures what would go to standard output (a pipe read back).
struct Captured {
    let output: Output
    let read: () -> String
    init() {
        let pipe = Pipe()
        output = Output(fd: pipe.fileHandleForWriting.fileDescriptor)
        let out = output
        read = {
            out.flush()
            try? pipe.fileHandleForWriting.close()
            return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
    }
}

/// A temporary audit log and its records.
struct Audit {
    let dir: String
    let log: AuditLog
    init() {
        dir = NSTemporaryDirectory() + "sessionops-\(UUID().uuidString)"
        log = AuditLog(path: dir + "/audit.log")
    }
    var records: [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: dir + "/audit.log") else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

func ops(
    _ store: any SessionStore, _ policy: SafetyPolicy, audit: Audit, output: Output? = nil,
    reporter: RecordingReporter = RecordingReporter(), commandLine: String = "sessionctl test"
) -> Operations {
    Operations(
        store: store, policy: policy, audit: audit.log, output: output, reporter: reporter, commandLine: commandLine)
}

@Suite struct OperationsTests {
    @Test func expireNowRemovesConfirmedSessionsAuditsAndReportsTheMissing() async throws {
        let store = MemoryStore()
        store.put(id: "a", user: "alice")
        store.put(id: "b", user: "bob")
        let audit = Audit()
        let reporter = RecordingReporter()
        let o = try await ops(store, SafetyPolicy(confirmed: true), audit: audit, reporter: reporter)
            .expire(ids: ["a", "zz"], after: nil)
        #expect(o.result.affected == ["a"] && o.exitCode == Exit.partial)
        let a = try await store.get(id: "a")
        let b = try await store.get(id: "b")
        #expect(a == nil && b != nil)
        #expect(reporter.errors.contains { $0.contains("zz") && $0.contains("not found") })
        let r = audit.records
        #expect(r.count == 1 && r[0]["action"] as? String == "expire" && r[0]["sessions"] as? [String] == ["a"])
        #expect(r[0]["not_found"] as? Int == 1 && r[0]["result"] as? String == "partial")
    }

    @Test func expireLaterSetsTheRemainingTime() async throws {
        let store = MemoryStore()
        store.put(id: "a", ttlMs: 3_600_000)
        let audit = Audit()
        let o = try await ops(store, SafetyPolicy(confirmed: true), audit: audit).expire(
            ids: ["a"], after: (30_000, "30s"))
        let ttl = try #require(try await store.get(id: "a")).ttlMs
        #expect(o.exitCode == Exit.ok && ttl <= 30_000 && ttl > 25_000)
        #expect(
            audit.records.first?["action"] as? String == "expire-in"
                && audit.records.first?["in_ms"] as? String == "30000")
    }

    @Test func dryRunChangesNothingAndSaysWhatItWouldDo() async throws {
        let store = MemoryStore()
        store.put(id: "a", user: "alice")
        let audit = Audit()
        let out = Captured()
        let o = try await ops(store, SafetyPolicy(dryRun: true), audit: audit, output: out.output).logout(
            .user("alice"))
        let text = out.read()
        #expect(
            o.dryRun && o.found == 1 && text.contains("would log out: a of alice")
                && text.contains("dry run: 1 session(s)"))
        let kept = try await store.get(id: "a")
        #expect(kept != nil && audit.records.isEmpty)
    }

    @Test func readOnlyRefusesEveryMutation() async throws {
        let store = MemoryStore(nodes: ["m1", "m2"])
        store.put(id: "a", user: "alice", node: "m1")
        let audit = Audit()
        let o = ops(store, SafetyPolicy(readOnly: true, confirmed: true), audit: audit)
        await #expect(throws: ConsoleError.self) { try await o.expire(ids: ["a"], after: nil) }
        await #expect(throws: ConsoleError.self) { try await o.logout(.user("alice")) }
        await #expect(throws: ConsoleError.self) { try await o.migrate(ids: ["a"], to: "m2") }
        await #expect(throws: ConsoleError.self) { try await o.drain(node: "m1", to: nil) }
        await #expect(throws: ConsoleError.self) { try await o.delete(ids: ["a"]) }
        let kept = try await store.get(id: "a")
        #expect(kept?.node == "m1" && audit.records.isEmpty)
    }

    @Test func withoutYesTheQuestionNamesTheCountAndANoChangesNothing() async throws {
        let store = MemoryStore()
        for i in 0..<3 { store.put(id: "s\(i)", user: "alice") }
        let audit = Audit()
        let reporter = RecordingReporter(answer: false)
        await #expect(throws: ConsoleError.self) {
            try await ops(store, SafetyPolicy(), audit: audit, reporter: reporter).logout(.user("alice"))
        }
        #expect(reporter.questions == ["Log out user alice: 3 sessions will be affected. Continue?"])
        #expect(store.count == 3)
        let yes = RecordingReporter(answer: true)
        let o = try await ops(store, SafetyPolicy(), audit: audit, reporter: yes).logout(.user("alice"))
        #expect(o.result.affected.count == 3 && store.count == 0 && yes.questions.count == 1)
    }

    @Test func logoutIsOneAlgorithmWithOneAuditRecordForCLIAndTUI() async throws {
        let store = MemoryStore(nodes: ["m1", "m2"])
        for i in 0..<4 { store.put(id: "c\(i)", user: "carol") }
        for i in 0..<4 { store.put(id: "t\(i)", user: "tom") }
        store.put(id: "other", user: "dave")
        let audit = Audit()
        let cli = try await ops(
            store, SafetyPolicy(confirmed: true), audit: audit, commandLine: "sessionctl logout --user carol"
        )
        .logout(.user("carol"))
        let tui = try await ops(store, SafetyPolicy(confirmed: true), audit: audit, commandLine: "tui").logout(
            .user("tom"))
        #expect(cli.result.affected.sorted() == (0..<4).map { "c\($0)" } && tui.result.affected.count == 4)
        #expect(store.count == 1)
        let r = audit.records
        #expect(r.count == 2 && r.allSatisfy { $0["action"] as? String == "logout" })
        let keys = r.map { Set($0.keys) }
        #expect(keys[0] == keys[1], "the CLI's and the TUI's records have the same fields")
        #expect(r[1]["command"] as? String == "tui" && r[1]["target"] as? String == "tom")
    }

    @Test func logoutOfNobodyIsNotFound() async throws {
        let store = MemoryStore()
        store.put(id: "a", user: "alice")
        let reporter = RecordingReporter()
        let o = try await ops(store, SafetyPolicy(confirmed: true), audit: Audit(), reporter: reporter).logout(
            .user("nobody"))
        #expect(o.exitCode == Exit.notFound && reporter.errors.contains { $0.contains("no sessions of user nobody") })
    }

    @Test func migrationNeedsTheCapabilityAndAKnownNode() async throws {
        let single = MemoryStore()
        single.put(id: "a")
        let audit = Audit()
        await #expect(throws: ConsoleError.self) {
            try await ops(single, SafetyPolicy(confirmed: true), audit: audit).migrate(ids: ["a"], to: "m2")
        }
        let cluster = MemoryStore(nodes: ["m1", "m2"])
        cluster.put(id: "a", node: "m1")
        cluster.put(id: "b", node: "m2")
        let o = ops(cluster, SafetyPolicy(confirmed: true), audit: audit)
        do {
            _ = try await o.migrate(ids: ["a"], to: "m9")
            Issue.record("an unknown node must be refused")
        } catch let e as ConsoleError {
            #expect(e.code == Exit.usage && e.message.contains("m1, m2"))
        }
        let reporter = RecordingReporter()
        let moved = try await ops(cluster, SafetyPolicy(confirmed: true), audit: audit, reporter: reporter)
            .migrate(ids: ["a", "b"], to: "m2")
        #expect(moved.result.affected == ["a"] && moved.exitCode == Exit.ok)
        #expect(reporter.notes.contains { $0.contains("b is already on m2") })
        #expect(try await cluster.get(id: "a")?.node == "m2")
        #expect(audit.records.last?["action"] as? String == "migrate" && audit.records.last?["to"] as? String == "m2")
    }

    @Test func drainMovesEverySessionOffTheNode() async throws {
        let store = MemoryStore(nodes: ["m1", "m2", "m3"])
        for i in 0..<10 { store.put(id: "d\(i)", node: "m1") }
        let audit = Audit()
        let o = try await ops(store, SafetyPolicy(confirmed: true), audit: audit).drain(node: "m1", to: "m3")
        let left = await store.nodes(.full).first { $0.name == "m1" }?.sessions
        #expect(o.result.affected.count == 10 && left == 0 && o.summary.contains("0 left on m1"))
        #expect(audit.records.first?["action"] as? String == "drain")
    }

    @Test func nodeFailuresAreReportedAndAllDownIsAConnectionFailure() async throws {
        let store = MemoryStore(nodes: ["m1", "m2"])
        store.downNodes = ["m1", "m2"]
        let reporter = RecordingReporter()
        let o = ops(store, SafetyPolicy(), audit: Audit(), reporter: reporter)
        let code = o.report(failures: [
            NodeFailure(node: "m1", message: "redis://u:secret@h:1 refused"), NodeFailure(node: "m2", message: "x"),
        ])
        #expect(code == Exit.connection && reporter.errors.count == 2 && !reporter.errors.joined().contains("secret"))
        #expect(o.report(failures: [NodeFailure(node: "m1", message: "x")]) == Exit.partial)
    }
}

@Suite struct StoreToStoreTests {
    @Test func movesEverySessionAndDeletesOnlyWhatTheTargetConfirmed() async throws {
        let source = MemoryStore(name: "memory://a", nodes: ["a1", "a2"])
        let target = MemoryStore(name: "memory://b", nodes: ["b1"])
        for i in 0..<20 { source.put(id: "s\(i)", user: "u\(i % 3)", attributes: [("cart", "item-\(i)")]) }
        target.refuseWrites = ["s7"]
        let audit = Audit()
        let reporter = RecordingReporter()
        let move = StoreMigration(source: source, target: target, filter: Filter(), batchSize: 4)
        let first = try await move.run(ops(source, SafetyPolicy(confirmed: true), audit: audit, reporter: reporter))
        // The refused session stops the move: what was confirmed moved, nothing was lost.
        #expect(first == Exit.partial && reporter.errors.contains { $0.contains("nothing was lost") })
        // A batch the target refused in part stays whole at the source (copies already
        // written are replaced on resume): every session is somewhere, s7 only at the source.
        var everywhere = Set<String>()
        for i in 0..<20 {
            let id = "s\(i)"
            let here = try await source.get(id: id)
            let there = try await target.get(id: id)
            if here != nil || there != nil { everywhere.insert(id) }
        }
        #expect(everywhere.count == 20 && source.count < 20)
        let atSource = try await source.get(id: "s7")
        let atTarget = try await target.get(id: "s7")
        #expect(atSource != nil && atTarget == nil)
        // Resumed once the target takes it: everything arrives exactly once, with attributes.
        target.refuseWrites = []
        let second = try await move.run(ops(source, SafetyPolicy(confirmed: true), audit: audit))
        #expect(second == Exit.ok && source.count == 0 && target.count == 20)
        let s5 = try #require(try await target.get(id: "s5"))
        #expect(s5.user == "u2" && s5.attributes.first?.decoded == .string("item-5"))
        #expect(audit.records.allSatisfy { $0["action"] as? String == "migrate-store" } && audit.records.count == 2)
    }

    @Test func aFilterMovesOnlyWhatMatches() async throws {
        let source = MemoryStore(name: "memory://a")
        let target = MemoryStore(name: "memory://b")
        for i in 0..<6 { source.put(id: "s\(i)", user: i < 2 ? "alice" : "bob") }
        let move = StoreMigration(source: source, target: target, filter: try Filter("user=alice"), batchSize: 100)
        #expect(try await move.run(ops(source, SafetyPolicy(confirmed: true), audit: Audit())) == Exit.ok)
        #expect(target.count == 2 && source.count == 4)
    }
}

@Suite struct AttemptAuditTests {
    @Test func theTUIsConfirmedActionsLeaveATraceEvenWhenNothingChanged() async throws {
        let store = MemoryStore(nodes: ["m1", "m2"])
        store.put(id: "here", node: "m2")
        let audit = Audit()
        let tui = Operations(
            store: store, policy: SafetyPolicy(confirmed: true), audit: audit.log, output: nil,
            reporter: RecordingReporter(),
            commandLine: "tui", auditAttempts: true)
        _ = try await tui.migrate(ids: ["here"], to: "m2")
        _ = try await tui.expire(ids: ["gone"], after: nil)
        let r = audit.records
        #expect(r.map { $0["action"] as? String } == ["migrate", "expire"] && r[1]["not_found"] as? Int == 1)
        let batch = Audit()
        _ = try await ops(store, SafetyPolicy(confirmed: true), audit: batch).expire(ids: ["gone"], after: nil)
        #expect(batch.records.isEmpty, "the batch commands record changes only")
    }
}

/// A decorator as a deployment might add (metrics, a read-only view): it forwards the core
/// and `capabilities()`, and nothing is lost by wrapping.
struct CountingStore: SessionStore {
    let inner: any SessionStore
    let calls = Counter()
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func bump() { lock.withLock { n += 1 } }
        var value: Int { lock.withLock { n } }
    }
    var displayName: String { "counting(\(inner.displayName))" }
    var nodeNames: [String] { inner.nodeNames }
    func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome
    {
        calls.bump()
        return try await inner.list(query, onPage: onPage)
    }
    func get(id: String) async throws -> Session? { try await inner.get(id: id) }
    func locate(ids: [String]) async -> SessionPlan { await inner.locate(ids: ids) }
    func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult {
        calls.bump()
        return try await inner.expire(target, after: milliseconds)
    }
    func delete(_ target: SessionTarget) async throws -> MutationResult {
        calls.bump()
        return try await inner.delete(target)
    }
    func nodes(_ detail: NodeDetail) async -> [NodeInfo] { await inner.nodes(detail) }
    func capabilities() async -> StoreCapabilities { await inner.capabilities() }
}

@Suite struct WrapperTests {
    @Test func capabilitiesSurviveAWrapperWithoutCasts() async throws {
        let inner = MemoryStore(nodes: ["m1", "m2"])
        inner.put(id: "a", node: "m1")
        let wrapped = CountingStore(inner: inner)
        let caps = await wrapped.capabilities()
        #expect(caps.migration != nil && caps.events != nil && caps.writer != nil && caps.slotMoves == nil)
        let o = try await ops(wrapped, SafetyPolicy(confirmed: true), audit: Audit()).migrate(ids: ["a"], to: "m2")
        #expect(o.result.affected == ["a"])
        let target = CountingStore(inner: MemoryStore(name: "memory://t"))
        let code = try await StoreMigration(source: wrapped, target: target, filter: Filter(), batchSize: 10)
            .run(ops(wrapped, SafetyPolicy(confirmed: true), audit: Audit()))
        let moved = try await target.get(id: "a")
        #expect(
            code == Exit.ok && moved != nil && wrapped.calls.value >= 3,
            "listed, deleted and verified through the wrapper")
    }
}
