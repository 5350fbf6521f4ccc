import Foundation
import RedisClient
import SessionKit
import TestSupport
import Testing

/// The real binary against real redis-servers.
@Suite struct CLITests {
    func seedSpring(_ server: RedisServer, users: [String?]) throws {
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, u) in users.enumerated() {
            cmds += try Seeder.springCommands(.init(id: "sess-\(i)", user: u, nowMs: now))
        }
        try Seeder.run(cmds, on: server)
    }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test func lsFormatsCarryEveryField() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice", "bob", nil])
        let r = try CLI.run(["ls", "--store", server.urlString, "-o", "json"])
        #expect(r.code == 0, "\(r)")
        let rows = try #require(try json(r.stdout) as? [[String: Any]])
        #expect(rows.count == 3)
        for row in rows {
            for field in ["id", "user", "node", "ttl_ms", "schema", "created_at", "last_accessed_at", "size_bytes"] {
                #expect(row.keys.contains(field), "missing \(field)")
            }
            #expect(row["node"] as? String == "127.0.0.1:\(server.port)")
            #expect(row["schema"] as? String == "spring")
            #expect((row["created_at"] as? String)?.hasSuffix("Z") == true)
        }
        #expect(rows.contains { $0["user"] is NSNull }, "unknown user is null")
        let jsonl = try CLI.run(["ls", "--store", server.urlString, "-o", "jsonl", "--user", "bob"])
        #expect(jsonl.code == 0)
        #expect(jsonl.lines.count == 1)
        let bob = try #require(try json(jsonl.lines[0]) as? [String: Any])
        #expect(bob["user"] as? String == "bob")
        let csv = try CLI.run(["ls", "--store", server.urlString, "-o", "csv", "--sort", "user"])
        #expect(csv.lines.first == "id,user,node,ttl_ms,schema,created_at,last_accessed_at,size_bytes,idle_ms")
        #expect(csv.lines.count == 4)
        #expect(csv.lines[1].contains(",alice,") && csv.lines[2].contains(",bob,"))
        let table = try CLI.run(["ls", "--store", server.urlString, "--filter", "user=al*"])
        #expect(table.lines.first?.hasPrefix("ID") == true)
        #expect(table.lines.count == 2 && table.lines[1].contains("alice") && table.lines[1].contains("29m"))
        let bad = try CLI.run(["ls", "--store", server.urlString, "--filter", "colour=red"])
        #expect(bad.code == 2 && bad.stderr.contains("colour"))
    }

    @Test func aNodeDownGivesPartialResultAndExitOne() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice"])
        let dead = try DeadPort()
        let deadPort = dead.port
        let r = try CLI.run([
            "ls", "--store", server.urlString, "--store", "redis://127.0.0.1:\(deadPort)", "-o", "jsonl",
            "--connect-timeout", "500ms",
        ])
        #expect(r.code == 1, "\(r)")
        #expect(r.lines.count == 1)
        #expect(r.stderr.contains("127.0.0.1:\(deadPort)"))
        let allDown = try CLI.run(["ls", "--store", "redis://127.0.0.1:\(deadPort)"])
        #expect(allDown.code == 3)
        let nodes = try CLI.run([
            "nodes", "--store", server.urlString, "--store", "redis://127.0.0.1:\(deadPort)", "-o", "json",
        ])
        #expect(nodes.code == 1)
        let list = try #require(try json(nodes.stdout) as? [[String: Any]])
        #expect(list.count == 2)
        #expect(
            list[0]["up"] as? Bool == true && list[0]["sessions"] as? Int == 1 && list[0]["role"] as? String == "master"
        )
        #expect(
            (list[0]["used_memory"] as? Int ?? 0) > 100_000 && list[0]["keys"] as? Int == 4,
            "hash, expires:, minute bucket, index set")
        #expect(list[0]["eviction_policy"] as? String == "noeviction" && list[0]["expired_total"] as? Int == 0)
        #expect(list[1]["up"] as? Bool == false)
    }

    @Test func passwordsAreNeverPrinted() throws {
        let server = try RedisServer(password: "s3cret-pw")
        let wrong = try CLI.run(["ls", "--store", "redis://:wrong-pw-123@127.0.0.1:\(server.port)"])
        #expect(wrong.code == 3, "\(wrong)")
        #expect(!wrong.stderr.contains("wrong-pw-123") && !wrong.stdout.contains("wrong-pw-123"))
        #expect(wrong.stderr.contains("authentication"))
        let dead = try DeadPort()
        let down = try CLI.run(["nodes", "--store", "redis://admin:topsecret@127.0.0.1:\(dead.port)", "-o", "json"])
        #expect(!down.stdout.contains("topsecret") && !down.stderr.contains("topsecret"))
        #expect(down.stdout.contains("admin:***@"))
        let badURL = try CLI.run(["ls", "--store", "redis://u:topsecret@host:notaport"])
        #expect(badURL.code == 2 && !badURL.stderr.contains("topsecret"))
        let viaEnv = try CLI.run(
            ["ls", "--store", "redis://127.0.0.1:\(server.port)", "-o", "json"], env: ["REDISCLI_AUTH": "s3cret-pw"])
        #expect(viaEnv.code == 0, "\(viaEnv)")
    }

    @Test func mutationsNeedYesRespectReadOnlyAndAreAudited() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice", "alice", "bob"])
        let audit = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: audit) }
        let store = ["--store", server.urlString, "--audit-log", audit]
        let ro = try CLI.run(["logout", "--user", "alice", "--read-only"] + store)
        #expect(ro.code == 2 && ro.stderr.contains("read-only"))
        let noYes = try CLI.run(["logout", "--user", "alice"] + store)
        #expect(noYes.code == 2 && noYes.stderr.contains("--yes"), "\(noYes)")
        let dry = try CLI.run(["logout", "--user", "alice", "--dry-run"] + store)
        #expect(dry.code == 0 && dry.stdout.contains("2 session(s) would be logged out"))
        #expect(
            try server.command("EXISTS", "spring:session:sessions:sess-0") == .integer(1),
            "nothing changed by refusals and dry runs")
        let auditBefore = (try? String(contentsOfFile: audit, encoding: .utf8)) ?? ""
        #expect(auditBefore.isEmpty, "refusals and dry runs are not mutations")
        let done = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(done.code == 0, "\(done)")
        #expect(done.stdout.contains("2 session(s) removed"))
        #expect(
            try server.command("EXISTS", "spring:session:sessions:sess-0", "spring:session:sessions:sess-1")
                == .integer(0))
        let nobody = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(nobody.code == 4)
        let expire = try CLI.run(["expire", "sess-2", "missing-id", "--yes"] + store)
        #expect(expire.code == 1, "one found, one not: partial")
        let missing = try CLI.run(["show", "missing-id"] + store)
        #expect(missing.code == 4)
        let lines = try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(try json(String(lines[0])) as? [String: Any])
        #expect(
            first["action"] as? String == "logout" && first["target"] as? String == "alice"
                && first["affected"] as? Int == 2)
        #expect((first["sessions"] as? [String])?.sorted() == ["sess-0", "sess-1"])
        let second = try #require(try json(String(lines[1])) as? [String: Any])
        #expect(second["action"] as? String == "expire" && second["result"] as? String == "partial")
    }

    @Test func hostileValuesPrintSafely() throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        var s = Seeder.SpringSession(id: "evil\u{1B}[2J", user: nil, nowMs: now)
        s.attributes = [
            ("title\u{1B}]0;x\u{07}", Array("\u{1B}[31mred\u{9B}".utf8)),
            ("bytes", [0xFF, 0xFE, 0x41, 0x00]),
            ("huge", [UInt8](repeating: 0x41, count: 5 << 20)),
            ("javaEscape", try Fixtures.bytes("java/string-escape.bin")),
            ("badJava", [0xAC, 0xED, 0x00, 0x05, 0x73, 0x72, 0xFF]),
        ]
        try Seeder.run(try Seeder.springCommands(s), on: server)
        let show = try CLI.run(["show", "evil\u{1B}[2J", "--store", server.urlString])
        #expect(show.code == 0, "\(show)")
        #expect(
            !show.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B },
            "no raw escape reaches the terminal")
        #expect(show.stdout.contains("\\e[31mred"))
        #expect(show.stdout.contains("Java serialization"), "a malformed Java stream is a decode error")
        #expect(show.stdout.utf8.count < 100_000, "the 5 MB attribute is cut")
        #expect(show.stdout.contains("bytes)"))
        let table = try CLI.run(["ls", "--store", server.urlString])
        #expect(!table.stdout.unicodeScalars.contains { $0.value == 0x1B })
        let js = try CLI.run(["show", "evil\u{1B}[2J", "--store", server.urlString, "-o", "json", "--raw"])
        #expect(js.code == 0)
        #expect(!js.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B })
        let obj = try #require(try json(js.stdout) as? [String: Any])
        #expect(obj["id"] as? String == "evil\u{1B}[2J", "JSON keeps the exact value, escaped")
    }

    /// A logout on Spring's default (non-indexed) repository reads only what names the owner:
    /// the principal attribute (one `HMGET` field per session), and the security context
    /// (`HGET`) only for sessions without it; nothing else of the user's is left.
    @Test func logoutWithoutAnIndexReadsTheOwnerOnly() throws {
        let server = try RedisServer()
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        // alice: three by principal attribute, two by security context only; bob: two; one anonymous.
        let specs: [(String, String?, Bool)] = [
            ("a1", "alice", false), ("a2", "alice", false), ("a3", "alice", false), ("a4", "alice", true),
            ("a5", "alice", true), ("b1", "bob", false), ("b2", "bob", false), ("n1", nil, false),
        ]
        for (id, user, context) in specs {
            var s = Seeder.SpringSession(id: id, user: user, nowMs: now)
            s.securityContext = context
            cmds += try Seeder.springCommands(s, indexed: false)
        }
        try Seeder.run(cmds, on: server)
        func calls(_ command: String) throws -> Int {
            let text = try server.command("INFO", "commandstats").text ?? ""
            guard let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_\(command):") }),
                let n = line.split(separator: "=").dropFirst().first?.split(separator: ",").first
            else { return 0 }
            return Int(n) ?? -1
        }
        try server.command("CONFIG", "RESETSTAT")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes", "--store", server.urlString])
        #expect(logout.code == 0 && logout.stdout.contains("5 session(s) removed"), "\(logout)")
        #expect(try calls("hmget") == 8, "one principal read per session")
        #expect(try calls("hget") == 3, "the security context only where the principal attribute is absent")
        #expect(try calls("memory|usage") == 0 && calls("hgetall") == 0)
        let left = try CLI.run(["ls", "--fields", "id", "-o", "jsonl", "--store", server.urlString])
        #expect(Set(left.lines) == [#"{"id":"b1"}"#, #"{"id":"b2"}"#, #"{"id":"n1"}"#], "\(left)")
    }

    /// The README's two `ACL SETUSER` lines, read from the README itself: the viewer can do
    /// every read-only command and no mutation; the operator can also expire and log out.
    @Test func theReadmeACLUsersCanDoTheirRolesAndNoMore() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n").filter { $0.hasPrefix("ACL SETUSER ") }
        #expect(lines.count == 2, "the README gives a viewer and an operator")
        let server = try RedisServer(config: ["--notify-keyspace-events", "Egxe"])
        try seedSpring(server, users: ["alice", "alice", "bob"])
        for line in lines {
            let words = line.replacingOccurrences(of: "CHANGE-ME", with: "pw").split(separator: " ").map(String.init)
            let r = try server.connection().send([RedisCommand(words.map { Array($0.utf8) })])[0]
            #expect(r.errorMessage == nil, "\(line): \(r)")
        }
        let viewer = ["--store", "redis://viewer:pw@127.0.0.1:\(server.port)"]
        let operatorStore = ["--store", "redis://operator:pw@127.0.0.1:\(server.port)"]
        let ls = try CLI.run(["ls", "-o", "jsonl"] + viewer)
        #expect(ls.code == 0 && ls.lines.count == 3 && !ls.stdout.contains("\"size_bytes\":null"), "\(ls)")
        for args in [["show", "sess-0"], ["nodes"], ["stats"], ["watch", "--for", "1s"]] {
            let r = try CLI.run(args + viewer)
            #expect(r.code == 0 && !r.stderr.contains("NOPERM"), "viewer \(args): \(r)")
        }
        let doctor = try CLI.run(["doctor"] + viewer)
        #expect(!doctor.stdout.contains("NOPERM") && !doctor.stderr.contains("NOPERM"), "\(doctor)")
        let refused = try CLI.run(["logout", "--user", "alice", "--yes"] + viewer)
        #expect(refused.code == 2 && refused.stderr.contains("NOPERM"), "\(refused)")
        let expire = try CLI.run(["expire", "sess-2", "--yes"] + operatorStore)
        #expect(expire.code == 0 && !expire.stderr.contains("NOPERM"), "\(expire)")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + operatorStore)
        #expect(logout.code == 0 && logout.stdout.contains("2 session(s) removed"), "\(logout)")
    }

    /// `ls --fields`: only the fields asked for, in that order, in every format; the size
    /// (`MEMORY USAGE`) is read only when shown, sorted or filtered on.
    @Test func lsFieldsPrintsAndReadsOnlyWhatIsAskedFor() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice", "bob", nil])
        let store = ["--store", server.urlString]
        func memoryCalls() throws -> Int {
            let text = try server.command("INFO", "commandstats").text ?? ""
            guard let line = text.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_memory|usage:") }),
                let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first
            else { return 0 }
            return Int(calls) ?? -1
        }
        try server.command("CONFIG", "RESETSTAT")
        let some = try CLI.run(["ls", "--fields", "user,id,ttl_ms", "-o", "jsonl"] + store)
        #expect(some.code == 0, "\(some)")
        #expect(some.lines.count == 3)
        for line in some.lines {
            #expect(line.hasPrefix("{\"user\":"), "the order asked: \(line)")
            let o = try #require(try json(line) as? [String: Any])
            #expect(Set(o.keys) == ["user", "id", "ttl_ms"], "\(o)")
        }
        #expect(try memoryCalls() == 0, "no size asked, none read")
        let sized = try CLI.run(["ls", "--fields", "id,size_bytes", "-o", "csv"] + store)
        #expect(sized.lines.first == "id,size_bytes" && sized.lines.count == 4, "\(sized)")
        #expect(sized.lines.dropFirst().allSatisfy { Int($0.split(separator: ",").last ?? "") ?? 0 > 0 })
        #expect(try memoryCalls() == 3)
        let filtered = try CLI.run(["ls", "--fields", "id", "--filter", "size>10", "-o", "jsonl"] + store)
        #expect(filtered.lines.count == 3)
        #expect(try memoryCalls() == 6, "a size filter reads the size")
        let table = try CLI.run(["ls", "--fields", "user,key"] + store)
        #expect(table.lines.first?.hasPrefix("USER") == true && table.lines.first?.contains("KEY") == true)
        #expect(!table.stdout.contains("SIZE") && table.lines.count == 4)
        let whole = try CLI.run(["ls", "-o", "jsonl"] + store)
        let row = try #require(try json(whole.lines[0]) as? [String: Any])
        #expect(row.count == 11 && row["size_bytes"] is Int, "the default shape stays every field: \(row)")
        // Without `user` the owner's fields are not read (the server's slow log, set to keep
        // every command, shows each HMGET's fields).
        func hmgetFields(_ args: [String]) throws -> [String] {
            try server.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
            try server.command("CONFIG", "SET", "slowlog-max-len", "10000")
            try server.command("SLOWLOG", "RESET")
            let r = try CLI.run(args + store)
            #expect(r.code == 0, "\(r)")
            let log = try server.command("SLOWLOG", "GET", "10000").array ?? []
            try server.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
            return log.compactMap { entry in
                guard let argv = entry.array?.dropFirst(3).first?.array?.compactMap(\.text), argv.first == "HMGET"
                else { return nil }
                return argv.dropFirst(2).joined(separator: " ")
            }
        }
        let noOwner = try hmgetFields(["ls", "--fields", "id,ttl_ms,created_at", "-o", "jsonl"])
        #expect(noOwner.count == 3 && noOwner.allSatisfy { $0 == "creationTime lastAccessedTime maxInactiveInterval" })
        let withOwner = try hmgetFields(["ls", "--fields", "id,user", "-o", "jsonl"])
        #expect(withOwner.count == 3 && withOwner.allSatisfy { $0.contains("SPRING_SECURITY_CONTEXT") })
        let bad = try CLI.run(["ls", "--fields", "id,nope"] + store)
        #expect(bad.code == 2 && bad.stderr.contains("unknown field 'nope'"), "\(bad)")
        // A logout reads whose sessions they are, never how big.
        try server.command("CONFIG", "RESETSTAT")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("1 session(s) removed"), "\(logout)")
        #expect(try memoryCalls() == 0, "no size read by a logout")
    }

    /// A user who may read but not write or ask `MEMORY`: the listing degrades (no size),
    /// and a logout is refused in the server's words, exit 2, with nothing claimed or changed.
    @Test func aReadOnlyACLUserListsAndIsRefusedMutationsHonestly() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice", "alice", "bob"])
        try server.command(
            "ACL", "SETUSER", "viewer", "on", ">pw", "~*", "&*", "+@read", "+@connection", "+info", "-memory")
        let keys = try server.command("DBSIZE").int
        let store = ["--store", "redis://viewer:pw@127.0.0.1:\(server.port)"]
        let ls = try CLI.run(["ls", "-o", "jsonl"] + store)
        #expect(ls.code == 0 && ls.lines.count == 3, "\(ls)")
        #expect(ls.lines.allSatisfy { $0.contains("\"size_bytes\":null") }, "no size without MEMORY")
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(logout.code == 2, "a refusal: \(logout)")
        #expect(logout.stdout.contains("0 session(s) removed"), "claims nothing: \(logout.stdout)")
        #expect(logout.stderr.contains("NOPERM"), "in the server's words: \(logout.stderr)")
        #expect(try server.command("DBSIZE").int == keys, "nothing changed")
    }

    @Test func hugeValuesAreCutInJSONUnlessFullAndTheirSizeIsExact() throws {
        let server = try RedisServer()
        var s = Seeder.SpringSession(id: "big", user: "alice", nowMs: Seeder.nowMs())
        // Many small fields and one of 2 MiB: a sampled MEMORY USAGE can miss the big one.
        s.attributes = (0..<40).map { ("small\($0)", Array("value-\($0)-with-some-length-to-be-a-hashtable".utf8)) }
        s.attributes.append(("huge", [UInt8](repeating: 0x41, count: 2 << 20)))
        try Seeder.run(try Seeder.springCommands(s), on: server)
        let js = try CLI.run(["show", "big", "--store", server.urlString, "-o", "json"])
        #expect(js.code == 0 && js.stdout.utf8.count < 200_000, "cut by default: \(js.stdout.utf8.count) bytes")
        let obj = try #require(try json(js.stdout) as? [String: Any])
        let attrs = try #require(obj["attributes"] as? [[String: Any]])
        let huge = try #require(attrs.first { $0["name"] as? String == "huge" })
        #expect(huge["truncated"] as? Bool == true && huge["size_bytes"] as? Int == 2 << 20)
        #expect((huge["value"] as? String)?.utf8.count ?? 0 <= 64 * 1024)
        #expect(attrs.filter { $0["truncated"] != nil }.count == 1, "small values stay whole")
        let full = try CLI.run(["show", "big", "--store", server.urlString, "-o", "json", "--full"])
        #expect(full.code == 0 && full.stdout.utf8.count > 2 << 20 && !full.stdout.contains("\"truncated\""))
        let ls = try CLI.run(["ls", "--store", server.urlString, "-o", "jsonl"])
        let row = try #require(try json(String(ls.stdout.split(separator: "\n")[0])) as? [String: Any])
        #expect((row["size_bytes"] as? Int ?? 0) >= 2 << 20, "size_bytes counts every field: \(row)")
    }

    @Test func batchRunsLinesOverOneConnectionAndStopsOrKeepsGoing() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice", "bob", "carol"])
        let store = ["--store", server.urlString, "--yes"]
        let script = """
            # runbook
            logout --user alice

            expire sess-1 --in 5m
            logout --user nobody
            expire sess-2
            """
        let stop = try CLI.run(["batch", "-"] + store, stdin: script)
        #expect(stop.code == 4, "stops at the first failure with its code: \(stop)")
        #expect(
            stop.stdout.contains("[line 2] ok") && stop.stdout.contains("[line 4] ok")
                && stop.stdout.contains("[line 5] failed"))
        #expect(stop.stdout.contains("4 line(s): 2 ok, 1 failed, 1 skipped"))
        #expect(
            try server.command("EXISTS", "spring:session:sessions:expires:sess-2") == .integer(1), "line 6 did not run")
        let ttl = try server.command("PTTL", "spring:session:sessions:expires:sess-1").int ?? 0
        #expect(ttl > 290_000 && ttl <= 300_000)
        let keep = try CLI.run(["batch", "-", "--keep-going", "-o", "jsonl"] + store, stdin: script)
        #expect(keep.code == 1)
        let summary = try #require(try json(keep.lines.last ?? "") as? [String: Any])
        let counts = try #require(summary["summary"] as? [String: Int])
        #expect(counts["lines"] == 4 && counts["failed"] == 2 && counts["ok"] == 2)
        #expect(try server.command("EXISTS", "spring:session:sessions:expires:sess-2") == .integer(0))
        let typo = try CLI.run(["batch", "-"] + store, stdin: "expire sess-0\nlogut --user x\n")
        #expect(typo.code == 2 && typo.stderr.contains("line 2"), "\(typo)")
        let dry = try CLI.run(["batch", "-", "--dry-run"] + store, stdin: "logout --user carol\n")
        #expect(dry.code == 0 && dry.stdout.contains("would be logged out"))
        #expect(try server.command("EXISTS", "spring:session:sessions:sess-2") == .integer(1))
    }

    @Test func watchRefusesWithoutNotificationsThenStreams() throws {
        let server = try RedisServer()
        try seedSpring(server, users: ["alice", "bob"])
        let off = try CLI.run(["watch", "--store", server.urlString, "--for", "1s"])
        #expect(off.code == 1 && off.stderr.contains("--enable-notifications"), "\(off)")
        let dry = try CLI.run(["watch", "--store", server.urlString, "--enable-notifications", "--dry-run"])
        #expect(dry.code == 0 && dry.stdout.contains("would set notify-keyspace-events"), "\(dry)")
        #expect(
            try server.command("CONFIG", "GET", "notify-keyspace-events").array?.last?.text == "",
            "a dry run changes nothing")
        let ro = try CLI.run(["watch", "--store", server.urlString, "--enable-notifications", "--read-only"])
        #expect(ro.code == 2 && ro.stderr.contains("read-only"))
        // Delete a session shortly after watch starts, from a background thread.
        let url = server.url
        let t = Thread {
            usleep(1_500_000)
            _ = try? RedisConnection(url: url).send([RedisCommand("DEL", "spring:session:sessions:sess-1")])
        }
        t.start()
        let on = try CLI.run([
            "watch", "--store", server.urlString, "--enable-notifications", "-o", "jsonl", "--count", "1", "--for",
            "20s",
        ])
        #expect(on.code == 0, "\(on)")
        #expect(on.stderr.contains("notify-keyspace-events '' ->"))
        let event = try #require(try json(on.lines.first ?? "") as? [String: Any])
        #expect(
            event["event"] as? String == "deleted" && event["id"] as? String == "sess-1"
                && event["user"] as? String == "bob")
    }

    @Test func helpAndUsageErrors() throws {
        let help = try CLI.run(["--help"])
        #expect(help.code == 0)
        for cmd in ["ls", "show", "expire", "logout", "watch", "nodes", "batch"] { #expect(help.stdout.contains(cmd)) }
        #expect(help.stdout.contains("Exit codes"))
        let lsHelp = try CLI.run(["ls", "--help"])
        #expect(lsHelp.stdout.contains("--filter") && lsHelp.stdout.contains("ttl_ms"))
        let bad = try CLI.run(["ls", "--limit", "-3"])
        #expect(bad.code == 2)
        let unknown = try CLI.run(["frobnicate"])
        #expect(unknown.code == 2)
    }
}

@Suite struct ConfigContextTests {
    @Test func contextsSupplyStoresSchemaAndReadOnly() throws {
        let server = try RedisServer()
        try Seeder.run(try Seeder.springCommands(.init(id: "ctx-1", user: "zoe", nowMs: Seeder.nowMs())), on: server)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("config.toml").path
        try """
        current-context = "prod"
        [contexts.prod]
        stores = ["\(server.urlString)"]
        schema = "spring"
        read-only = true
        [contexts.other]
        stores = ["redis://127.0.0.1:1"]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let env = ["SESSIONCTL_CONFIG": path]
        let ls = try CLI.run(["ls", "-o", "jsonl"], env: env)
        #expect(ls.code == 0 && ls.stdout.contains("\"id\":\"ctx-1\""), "\(ls)")
        let refused = try CLI.run(["logout", "--user", "zoe", "--yes"], env: env)
        #expect(refused.code == 2 && refused.stderr.contains("read-only"), "the context is read-only")
        let explicit = try CLI.run(["ls", "--context", "other", "--connect-timeout", "300ms"], env: env)
        #expect(explicit.code == 3, "--context picks another context")
        let unknown = try CLI.run(["ls", "--context", "nope"], env: env)
        #expect(unknown.code == 2 && unknown.stderr.contains("known: other, prod"))
        try "[contexts.bad]\nstores = \"not-a-list\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let broken = try CLI.run(["ls"], env: env)
        #expect(broken.code == 2 && broken.stderr.contains("config"), "\(broken)")
    }
}

/// The console on sessions written by real frameworks (fixtures restored into a real Redis).
@Suite struct FrameworkCLITests {
    @Test func lsShowAndLogoutOnFrameworkSessions() throws {
        let server = try RedisServer()
        for name in ["php", "django", "flask", "formats"] { try Fixtures.restoreFramework(name, into: server) }
        let ls = try CLI.run(["ls", "-o", "jsonl", "--store", server.urlString])
        #expect(ls.code == 0 && ls.lines.count == 17, "\(ls)")
        #expect(
            ls.stdout.contains("\"schema\":\"django\"") && ls.stdout.contains("\"schema\":\"aspnet\"")
                && ls.stdout.contains("\"schema\":\"laravel\""))
        let show = try CLI.run(["show", "phpsess1abcdef0123456789", "--raw", "--store", server.urlString])
        #expect(
            show.code == 0 && show.stdout.contains("Schema       phpredis")
                && show.stdout.contains("User         alice1"), "\(show)")
        #expect(
            show.stdout.contains("theme: \"dark\"") && show.stdout.contains("Stored value ("),
            "decoded tree and the exact bytes")
        #expect(!show.stdout.contains("\u{1B}"), "terminal escapes in session data are shown escaped")
        let json = try CLI.run([
            "show", "djcache0000000000000000000000000a", "-o", "json", "--raw", "--store", server.urlString,
        ])
        #expect(
            json.code == 0 && json.stdout.contains("\"_auth_user_id\"")
                && json.stdout.contains("\"stored_value_hex\":\"8005"), "\(json)")
        let only = try CLI.run(["ls", "--schema", "flask", "-o", "jsonl", "--store", server.urlString])
        #expect(
            only.code == 0 && only.lines.count == 1 && only.stdout.contains("\"user\":\"alice\""),
            "--schema overrides detection: \(only)")
        let logout = try CLI.run(["logout", "--user", "alice2", "--yes", "--store", server.urlString])
        #expect(
            logout.code == 0 && logout.stdout.contains("1 session(s) removed")
                && logout.stderr.contains("--repeat-after"), "\(logout)")
        #expect(try server.command("EXISTS", "PHPREDIS_SESSION:phpsess2abcdef0123456789") == .integer(0))
    }
}

/// `MIGRATE` between independent Redis nodes: every key of a Spring session, its index and
/// expiration-set memberships fixed on both sides, checked afterwards.
@Suite struct RedisMigrateCLITests {
    @Test func springSessionMovesBetweenNodesWithEveryTrace() throws {
        let a = try RedisServer()
        let b = try RedisServer()
        let now = Seeder.nowMs()
        try Seeder.run(
            try Seeder.springCommands(.init(id: "mv-1", user: "alice", nowMs: now))
                + Seeder.springCommands(.init(id: "stay", user: "alice", nowMs: now)), on: a)
        let store = ["--store", a.urlString, "--store", b.urlString]
        let target = "127.0.0.1:\(b.port)"
        let dry = try CLI.run(["migrate", "mv-1", "--to", target, "--dry-run"] + store)
        #expect(
            dry.code == 0 && dry.stdout.contains("would migrate: mv-1 from 127.0.0.1:\(a.port) to \(target)"), "\(dry)")
        let run = try CLI.run(["migrate", "mv-1", "--to", target, "--yes"] + store)
        #expect(run.code == 0 && run.stdout.contains("migrated 1 session(s)"), "\(run)")
        let index =
            "spring:session:index:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME:alice"
        #expect(
            try b.command("EXISTS", "spring:session:sessions:mv-1", "spring:session:sessions:expires:mv-1")
                == .integer(2))
        #expect((try b.command("PTTL", "spring:session:sessions:expires:mv-1").int ?? 0) > 1_000_000, "TTL kept")
        #expect(
            try b.command("SCARD", index) == .integer(1) && a.command("SCARD", index) == .integer(1),
            "index fixed on both sides")
        #expect(
            try a.command("EXISTS", "spring:session:sessions:mv-1", "spring:session:sessions:expires:mv-1")
                == .integer(0))
        let ls = try CLI.run(["ls", "--user", "alice", "-o", "jsonl"] + store)
        #expect(ls.lines.contains { $0.contains("\"id\":\"mv-1\"") && $0.contains(target) }, "\(ls)")
        // The same id at the source again: the target's copy is not overwritten without --replace.
        try Seeder.run(try Seeder.springCommands(.init(id: "mv-1", user: "alice", nowMs: now)), on: a)
        let busy = try CLI.run([
            "migrate", "mv-1", "--to", target, "--yes", "--store", a.urlString, "--store", b.urlString,
        ])
        #expect(busy.code != 0 && busy.stderr.contains("--replace"), "\(busy)")
        let forced = try CLI.run(["migrate", "mv-1", "--to", target, "--yes", "--replace"] + store)
        #expect(forced.code == 0 && forced.stdout.contains("migrated 1 session(s)"), "\(forced)")
    }
}
