import Foundation
import SessionKit
import SessionOps
import TestSupport
import Testing

@Suite struct StoreFactoryTests {
    static let memoryKind = StoreKind(name: "memory", schemes: ["memory"]) { urls, _ in
        MemoryStore(name: urls.joined(separator: ","))
    }
    static let otherKind = StoreKind(name: "other", schemes: ["other", "other+tls"]) { urls, _ in
        guard !urls.contains(where: { $0.contains("bad") }) else {
            throw UnsupportedOperation("bad URL redis://u:pw@h")
        }
        return MemoryStore(name: "other")
    }
    let factory = StoreFactory([memoryKind, otherKind])

    @Test func picksTheKindByScheme() throws {
        #expect(try factory.open(["memory://x"], options: StoreOptions()).displayName == "memory://x")
        #expect(try factory.open(["OTHER+TLS://x"], options: StoreOptions()).displayName == "other")
        #expect(factory.knownSchemes == "memory://, other://, other+tls://")
    }

    @Test func refusesUnknownSchemesMixedKindsAndRedactsErrors() {
        #expect(throws: ConsoleError.self) { try factory.open(["ftp://u:secret@h"], options: StoreOptions()) }
        do {
            _ = try factory.open(["ftp://u:secret@h"], options: StoreOptions())
        } catch let e as ConsoleError {
            #expect(e.code == Exit.usage && !e.message.contains("secret") && e.message.contains("memory://"))
        } catch { Issue.record("\(error)") }
        #expect(throws: ConsoleError.self) { try factory.open(["memory://a", "other://b"], options: StoreOptions()) }
        do {
            _ = try factory.open(["other://bad"], options: StoreOptions())
        } catch let e as ConsoleError {
            #expect(e.code == Exit.usage && !e.message.contains("pw"))
        } catch { Issue.record("\(error)") }
    }

    struct Classified: ClassifiedStoreError {
        var errorClass: StoreErrorClass
        var description: String { "node redis://u:pw@h down" }
    }

    @Test func storeErrorsMapToExitCodes() {
        #expect(ConsoleError.from(Classified(errorClass: .connection)).code == Exit.connection)
        #expect(ConsoleError.from(Classified(errorClass: .usage)).code == Exit.usage)
        #expect(ConsoleError.from(Classified(errorClass: .failure)).code == Exit.partial)
        #expect(!ConsoleError.from(Classified(errorClass: .connection)).message.contains("pw"))
        #expect(ConsoleError.from(ConsoleError(code: 4, message: "x")).code == 4)
    }
}

@Suite struct SafetyPolicyTests {
    @Test func linesOfABatchCanOnlyTighten() {
        let batch = SafetyPolicy(readOnly: true)
        let line = SafetyPolicy(dryRun: true, confirmed: true)
        let merged = batch.tightened(by: line)
        #expect(merged.readOnly && merged.dryRun && merged.confirmed)
        #expect(SafetyPolicy().tightened(by: SafetyPolicy()) == SafetyPolicy())
    }

    @Test func nothingToDoNeedsNoConfirmation() throws {
        let reporter = RecordingReporter(answer: false)
        #expect(try SafetyPolicy().authorize("expire", count: 0, reporter: reporter))
        #expect(reporter.questions.isEmpty)
        #expect(throws: ConsoleError.self) {
            try SafetyPolicy(readOnly: true).authorize("expire", count: 0, reporter: reporter)
        }
        #expect(try SafetyPolicy(dryRun: true).authorize("expire", count: 5, reporter: reporter) == false)
    }
}

@Suite struct AuditLogTests {
    @Test func recordsAreJSONLinesWithRedactedStoresAndPrivateMode() throws {
        let audit = Audit()
        try audit.log.ensureWritable()
        audit.log.record(
            action: "expire", store: "redis://u:topsecret@h:6379", commandLine: "sessionctl expire a", target: nil,
            sessions: ["a\u{1B}[31m"], result: MutationResult(affected: ["a"], keysTouched: 2))
        let r = try #require(audit.records.first)
        #expect(r["store"] as? String == "redis://u:***@h:6379" || !(r["store"] as? String ?? "").contains("topsecret"))
        #expect(
            r["sessions"] as? [String] == ["a\u{1B}[31m"] && r["keys_changed"] as? Int == 2
                && r["result"] as? String == "ok")
        let raw = String(
            decoding: FileManager.default.contents(atPath: audit.dir + "/audit.log") ?? Data(), as: UTF8.self)
        #expect(!raw.contains("\u{1B}"), "control characters are escaped in the file")
        let mode = try FileManager.default.attributesOfItem(atPath: audit.dir + "/audit.log")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// An action on more ids than one record holds is written as parts: every id once.
    @Test func aLargeActionIsAuditedInPartsWithEveryID() throws {
        let dir = try makeTemporaryDirectory("audit-parts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = AuditLog(path: dir + "/audit.log")
        try log.ensureWritable()
        let ids = (0..<(AuditLog.idsPerRecord * 2 + 7)).map { "s\($0)" }
        log.record(
            action: "logout", store: "redis://h", commandLine: "x", target: "alice", sessions: ids,
            result: MutationResult(affected: ids))
        let text = try String(contentsOfFile: dir + "/audit.log", encoding: .utf8)
        let records = try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(records.count == 3)
        #expect(records.map { $0["part"] as? Int } == [1, 2, 3])
        #expect(records.allSatisfy { $0["parts"] as? Int == 3 && $0["affected"] as? Int == ids.count })
        let logged = records.flatMap { $0["sessions"] as? [String] ?? [] }
        #expect(logged == ids, "every id, once, in order")
    }

    @Test func anUnwritableLogRefusesBeforeAnythingChanges() async throws {
        let store = MemoryStore()
        store.put(id: "a")
        let log = AuditLog(path: "/proc/sessionctl-no/audit.log")
        let o = Operations(
            store: store, policy: SafetyPolicy(confirmed: true), audit: log, output: nil,
            reporter: RecordingReporter(), commandLine: "x")
        await #expect(throws: ConsoleError.self) { try await o.expire(ids: ["a"], after: nil) }
        #expect(try await store.get(id: "a") != nil)
    }
}

@Suite struct FormatterTests {
    static func session() -> Session {
        Session(
            id: "=cmd|' /C calc'!A0", key: "k", user: "a,\"b\"", node: "n1", ttlMs: 61_000, createdAtMs: 0,
            lastAccessedAtMs: 0, sizeBytes: 2048, schema: "spring")
    }

    @Test func csvQuotesAndDisarmsFormulas() {
        #expect(SessionFormatter.csvField("=SUM(A1)") == "'=SUM(A1)")
        #expect(SessionFormatter.csvField("-5") == "-5")
        #expect(SessionFormatter.csvField("a,\"b\"") == "\"a,\"\"b\"\"\"")
    }

    @Test func jsonHasEveryFieldAndEscapesControls() throws {
        var s = Self.session()
        s.user = "e\u{1B}[2J"
        var w = JSONWriter()
        SessionFormatter.json(s, into: &w, nowMs: 1000)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        for f in [
            "id", "user", "node", "ttl_ms", "schema", "created_at", "last_accessed_at", "size_bytes", "idle_ms",
            "max_inactive_s", "key",
        ] {
            #expect(obj.keys.contains(f), "\(f)")
        }
        #expect(obj["user"] as? String == "e\u{1B}[2J" && !String(decoding: w.bytes, as: UTF8.self).contains("\u{1B}"))
    }

    @Test func nodeTablesShowBackendFactsAsColumns() {
        var a = NodeInfo(name: "n1", address: "x://n1", up: true)
        a.sessions = 3
        a.set(NodeFact(key: "ring_share", title: "RING", value: .number(0.5, text: "50.0%")))
        var b = NodeInfo(name: "n2", address: "x://n2", up: false, error: "down")
        b.set(NodeFact(key: "slots", title: "SLOTS", value: .string("0-100")))
        let lines = NodeFormatter.table([a, b])
        #expect(lines[0].hasSuffix("RING   SLOTS") || (lines[0].contains("RING") && lines[0].contains("SLOTS")))
        #expect(lines[1].contains("50.0%") && lines[2].contains("0-100") && lines[2].contains("DOWN"))
        let json = try? JSONSerialization.jsonObject(with: Data(NodeFormatter.json([a, b]))) as? [[String: Any]]
        #expect(json?[0]["ring_share"] as? Double == 0.5 && json?[1]["slots"] as? String == "0-100")
        #expect(json?[0]["slots"] == nil, "a fact a node does not have is absent, not null")
    }
}

@Suite struct ShellWordsAndConfigTests {
    @Test func splitsLikeAShellWithoutExpansion() throws {
        #expect(
            try ShellWords.split(#"logout --user 'a b' "c\"d" e\ f $HOME"#) == [
                "logout", "--user", "a b", "c\"d", "e f", "$HOME",
            ])
        #expect(throws: ConsoleError.self) { try ShellWords.split("ls 'open") }
    }

    @Test func contextsLoadAndUnknownKeysAreErrors() throws {
        let dir = NSTemporaryDirectory() + "sessionops-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let good = dir + "/good.toml"
        try """
        current-context = "prod"
        [contexts.prod]
        stores = ["redis://10.0.0.5:6379"]
        read-only = true
        production = true
        label = "PROD EU"
        color = "#d70000"
        """.write(toFile: good, atomically: true, encoding: .utf8)
        let c = try ConfigFile.load(path: good)
        let (name, ctx) = try #require(try c.context(named: nil))
        #expect(name == "prod" && ctx.stores == ["redis://10.0.0.5:6379"] && ctx.readOnly)
        #expect(ctx.production && ctx.label == "PROD EU" && ctx.color == "#d70000")
        #expect(throws: ConsoleError.self) { try c.context(named: "nope") }
        let bad = dir + "/bad.toml"
        try "[contexts.x]\npasword = \"x\"\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConsoleError.self) { try ConfigFile.load(path: bad) }
        #expect(try ConfigFile.load(path: dir + "/missing.toml").contexts.isEmpty)
    }
}

@Suite struct ProductionContextTests {
    @Test func refusalsAndConfirmationsNameTheProductionContext() throws {
        let policy = SafetyPolicy(productionContext: "prod")
        do {
            _ = try policy.authorize("log out user alice", count: 3, reporter: SilentReporter())
            Issue.record("needs a confirmation")
        } catch let e as ConsoleError {
            #expect(e.message.contains("PRODUCTION context 'prod'") && e.message.contains("3 sessions"), "\(e.message)")
        }
        let plain = SafetyPolicy()
        do { _ = try plain.authorize("log out user alice", count: 3, reporter: SilentReporter()) } catch let e
            as ConsoleError
        {
            #expect(!e.message.contains("PRODUCTION"))
        }
        // A batch line keeps the context.
        #expect(policy.tightened(by: SafetyPolicy(confirmed: true)).productionContext == "prod")
    }
}

@Suite struct JSONValueLimitTests {
    @Test func bigValuesAreCutOnACharacterBoundaryAndMarked() throws {
        var small = JSONWriter()
        SessionFormatter.jsonValue(.string("é"), into: &small, limit: 64)
        #expect(String(decoding: small.bytes, as: UTF8.self) == "\"é\"")
        var big = JSONWriter()
        big.raw("{\"value\":")
        SessionFormatter.jsonValue(.string(String(repeating: "é", count: 200)), into: &big, limit: 64)
        big.raw("}")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(big.bytes)) as? [String: Any])
        let text = try #require(obj["value"] as? String)
        #expect(obj["truncated"] as? Bool == true && text.utf8.count <= 64 && !text.isEmpty)
        #expect(text.hasPrefix("\"é") && !text.contains("\u{FFFD}"), "cut between characters: \(text)")
        var whole = JSONWriter()
        SessionFormatter.jsonValue(.string(String(repeating: "x", count: 200)), into: &whole, limit: nil)
        #expect(whole.bytes.count == 202)
    }
}
