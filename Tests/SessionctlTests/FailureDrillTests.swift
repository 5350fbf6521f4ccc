import Foundation
import HouseStore
import RedisClient
import SessionKit
import SessiondSessions
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Failure drills: the store dies or stops answering in the middle of a command. Each drill
/// checks that nothing is lost or done twice and that the operator is told exactly what
/// happened. (A store killed during a store-to-store migration: `StoreMigrationTests`.)
@Suite(.serialized) struct FailureDrillTests {
    /// Writes `count` Spring sessions (`users` distinct users, every tenth anonymous).
    static func seed(_ server: RedisServer, count: Int, users: Int, start: Int = 0) throws {
        let seed = try ChildProcess(
            path: try CLI.binary("session-seed"),
            arguments: [
                "--store", server.urlString, "--spring", String(count), "--users", String(users), "--start",
                String(start),
            ],
            outputPath: "/dev/null")
        guard seed.wait(seconds: 300), seed.exitCode == 0 else { throw HarnessError("session-seed failed") }
    }

    /// Every session as id → user ("" for anonymous), read through the console.
    static func sessions(_ server: RedisServer) throws -> [String: String] {
        let r = try CLI.run(["ls", "--store", server.urlString, "-o", "jsonl"], timeout: 300)
        guard r.code == 0 else { throw HarnessError("ls failed: \(r)") }
        var out: [String: String] = [:]
        for line in r.lines {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = o["id"] as? String
            else { throw HarnessError("not a session line: \(line)") }
            out[id] = o["user"] as? String ?? ""
        }
        return out
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    static func auditedSessions(_ path: String) throws -> [Set<String>] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return Set(o?["sessions"] as? [String] ?? [])
        }
    }

    /// The store is killed while `ls` streams: what was printed is whole lines, the error
    /// names the node and how many of its sessions were listed (exactly the lines printed),
    /// and the exit code says the listing is partial.
    @Test func aListingCutByAKilledStoreSaysWhichNodeAndHowFar() throws {
        let server = try RedisServer()
        try Self.seed(server, count: 40_000, users: 50)
        let dir = try makeTemporaryDirectory("drill-ls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out"
        let err = dir + "/err"
        let ls = try ChildProcess(
            path: try CLI.binary("sessionctl"), arguments: ["ls", "--store", server.urlString, "-o", "jsonl"],
            outputPath: out, errorPath: err)
        let started = Date().addingTimeInterval(120)
        while Self.fileSize(out) == 0 && ls.isRunning && Date() < started { usleep(1_000) }
        // Frozen while its store dies, so the kill lands in the middle of the listing.
        ls.signal(SIGSTOP)
        server.kill()
        ls.signal(SIGCONT)
        #expect(ls.wait(seconds: 60))
        let printed = try String(contentsOfFile: out, encoding: .utf8)
        let lines = printed.split(separator: "\n")
        let stderr = try String(contentsOfFile: err, encoding: .utf8)
        #expect(ls.exitCode == 1, "a listing cut short is partial: \(stderr)")
        #expect(lines.count > 0 && lines.count < 40_000, "the kill came part way (\(lines.count) lines)")
        #expect(printed.hasSuffix("\n"), "no half line")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "a whole JSON line: \(line)")
        }
        #expect(
            stderr.contains("node 127.0.0.1:\(server.port) failed after listing \(lines.count) of its session(s)"),
            "names the node and how far it got: \(stderr)")
        #expect(stderr.contains("incomplete"))
    }

    /// The store is killed (kill -9) while `logout --user` deletes: the report counts only what
    /// the store acknowledged, names the batch whose fate is unknown and what was not sent;
    /// after a restart (append-only file) everything reported removed is gone, the same
    /// command finishes the job, nothing is removed twice and no other user is touched.
    @Test func aLogoutCutByAKilledStoreReportsWhatWasDoneAndARerunFinishes() throws {
        let server = try RedisServer(config: ["--appendonly", "yes"])
        try Self.seed(server, count: 20_000, users: 1)
        try Self.seed(server, count: 300, users: 20, start: 20_000)
        let before = try Self.sessions(server)
        let alice = Set(before.filter { $0.value == "alice" }.keys)
        let others = Set(before.keys).subtracting(alice)
        #expect(alice.count > 15_000 && others.count > 100)

        let dir = try makeTemporaryDirectory("drill-logout")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var env = ProcessInfo.processInfo.environment
        env["SESSIONCTL_AUDIT_LOG"] = dir + "/audit-1.log"
        let logout = try ChildProcess(
            path: try CLI.binary("sessionctl"),
            arguments: ["logout", "--user", "alice", "--yes", "--store", server.urlString], environment: env,
            outputPath: dir + "/out", errorPath: dir + "/err")
        // Wait until deletions are under way (the key count falls), then kill the store.
        let conn = try server.connection()
        let keysBefore = try conn.send([RedisCommand("DBSIZE")])[0].int ?? 0
        let deadline = Date().addingTimeInterval(120)
        while logout.isRunning, Date() < deadline,
            (try conn.send([RedisCommand("DBSIZE")])[0].int ?? 0) > keysBefore - 2_000
        {
            usleep(1_000)
        }
        logout.signal(SIGSTOP)
        server.kill()
        logout.signal(SIGCONT)
        #expect(logout.wait(seconds: 60))
        let out = try String(contentsOfFile: dir + "/out", encoding: .utf8)
        let err = try String(contentsOfFile: dir + "/err", encoding: .utf8)
        #expect(logout.exitCode == 1, "partial: \(out) \(err)")
        let first = try Self.auditedSessions(dir + "/audit-1.log")
        #expect(first.count >= 1, "what was done is audited")
        let removed = first.reduce(into: Set<String>()) { $0.formUnion($1) }
        #expect(removed.count > 0 && removed.count < alice.count, "the kill came part way")
        #expect(removed.isSubset(of: alice))
        #expect(out.contains("logged out user alice: \(removed.count) session(s) removed"), "\(out)")
        #expect(err.contains("node 127.0.0.1:\(server.port) failed"), "\(err)")
        #expect(err.contains("\(removed.count) session(s) done before it failed"), "\(err)")
        #expect(err.contains("run the command again"), "\(err)")

        try server.restart()
        let afterKill = try Self.sessions(server)
        #expect(Set(afterKill.keys).isDisjoint(with: removed), "what the report counts as removed is gone")
        #expect(others.isSubset(of: Set(afterKill.keys)), "no other user's session was touched")

        let again = try CLI.run(
            ["logout", "--user", "alice", "--yes", "--store", server.urlString],
            env: ["SESSIONCTL_AUDIT_LOG": dir + "/audit-2.log"], timeout: 300)
        #expect(again.code == 0, "\(again)")
        let second = try Self.auditedSessions(dir + "/audit-2.log").reduce(into: Set<String>()) { $0.formUnion($1) }
        #expect(second.isDisjoint(with: removed), "nothing removed twice")
        #expect(second.union(removed).isSubset(of: alice))
        // Only the batch in flight at the kill may be neither reported nor left over.
        #expect(alice.subtracting(second.union(removed)).count <= 500)
        let after = try Self.sessions(server)
        #expect(!after.values.contains("alice"), "the rerun finished the job")
        #expect(Set(after.keys) == others, "every other session is still there")
    }
}

/// A node that takes connections but never answers (a stopped process, like `DEBUG SLEEP`
/// or a long fork): the command timeout ends every wait, the other node's sessions are still
/// listed, and the TUI keeps answering keys and shows the node as not answering.
@Suite(.serialized) struct UnresponsiveNodeDrillTests {
    @Test func aStoppedNodeTimesOutTheBatchCommandsAndTheTUIStaysResponsive() throws {
        let healthy = try RedisServer(config: ["--notify-keyspace-events", "Egxe"])
        let stopped = try RedisServer(config: ["--notify-keyspace-events", "Egxe"])
        let now = Seeder.nowMs()
        try Seeder.run(try Seeder.springCommands(.init(id: "ann-1", user: "ann", nowMs: now)), on: healthy)
        try Seeder.run(try Seeder.springCommands(.init(id: "bo-1", user: "bo", nowMs: now)), on: stopped)
        stopped.pause()
        defer { stopped.resume() }
        let stores = ["--store", healthy.urlString, "--store", stopped.urlString, "--timeout", "1s"]

        let ls = try CLI.run(["ls"] + stores, timeout: 60)
        #expect(ls.code == 1, "one node of two failed: partial \(ls)")
        #expect(ls.stdout.contains("ann-1"), "the healthy node is listed")
        #expect(
            ls.stderr.contains("node 127.0.0.1:\(stopped.port) failed before listing any of its sessions: timed out"),
            "\(ls.stderr)")
        #expect(ls.stderr.contains("no answer within 1 s"))
        let nodes = try CLI.run(["nodes"] + stores, timeout: 60)
        #expect(nodes.code == 1)
        #expect(nodes.stdout.contains("NO ANSWER"), "\(nodes)")
        #expect(nodes.stderr.contains("node 127.0.0.1:\(stopped.port) does not answer: timed out"), "\(nodes.stderr)")

        let term = try TmuxSession(
            command: "'\(try CLI.binary("sessionctl"))' " + stores.joined(separator: " "),
            environment: ["TERM": "xterm-256color", "HOME": NSTemporaryDirectory()])
        try term.wait(for: "ann-1")
        try term.send("3")
        let nodesView = try term.wait("the stopped node shown as not answering") { $0.contains("NO ANSWER") }
        #expect(nodesView.contains("127.0.0.1:\(healthy.port)"))
        // Keys are answered while a node hangs: the help screen opens and closes, views switch.
        try term.send("?")
        try term.wait(for: "refresh now")
        try term.send("Escape")
        try term.send("1")
        try term.wait(for: "ann-1")
        // When the node answers again, a refresh shows it up with its session.
        stopped.resume()
        try term.send("r")
        try term.wait("the node's session after it came back", timeout: 30) { $0.contains("bo-1") }
        try term.send("3")
        let back = try term.wait("both up", timeout: 30) { !$0.contains("NO ANSWER") && $0.contains("up") }
        #expect(back.contains("127.0.0.1:\(stopped.port)"))
        try term.send("q")
        try term.wait(for: "EXITED-0")
    }
}

/// sessiond's log on a full disk (a 1 MiB tmpfs, filled by another file): the node refuses
/// writes with a clear error and keeps serving reads; when space returns it writes what it
/// kept buffered and takes writes again; after a kill -9 every acknowledged write is there
/// and the log has no torn record.
@Suite(.serialized) struct FullDiskDrillTests {
    static func run(_ tool: String, _ args: [String]) throws -> Int32 {
        guard let path = findExecutable(tool) else { throw HarnessError("\(tool) not found") }
        let p = try ChildProcess(path: path, arguments: args)
        guard p.wait(seconds: 30) else { throw HarnessError("\(tool) \(args) did not finish") }
        return p.exitCode ?? -1
    }

    @Test func aFullDiskRefusesWritesServesReadsAndRecovers() throws {
        guard getuid() == 0 else {
            // Mounting a small tmpfs needs root; CI runs as root, so there the drill always runs.
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "the full-disk drill needs root under CI")
            return
        }
        let dir = try makeTemporaryDirectory("drill-disk")
        #expect(try Self.run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]) == 0, "a 1 MiB tmpfs")
        defer {
            _ = try? Self.run("umount", ["-l", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let server = try SessiondServer(arguments: ["--dir", dir, "--fsync", "always"])
        defer { server.kill9() }
        // Another program takes most of the space.
        let filler = dir + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 700 * 1024)))

        let conn = try RedisConnection(url: server.url, timeouts: .init(connectMs: 1000, commandMs: 5000))
        let value = String(repeating: "x", count: 8 * 1024)
        var acked: [String] = []
        var refusal: RedisReply? = nil
        for i in 0..<200 {
            let reply = try? RedisConnection(url: server.url).send([
                RedisCommand("SESSION.PUT", "disk-\(i)", "600", "PRINCIPAL", "dana", "ATTR", "blob", value)
            ])[0]
            if reply == .status("OK") {
                acked.append("disk-\(i)")
            } else {
                refusal = reply
                break
            }
        }
        #expect(acked.count > 5 && acked.count < 200, "the disk filled part way (\(acked.count) writes taken)")
        // The write that hit the full disk was not acknowledged; the next is refused in words.
        let refused = try conn.send([RedisCommand("SESSION.PUT", "after-full", "600", "PRINCIPAL", "dana")])[0]
        #expect(
            refused.errorMessage?.hasPrefix("MISCONF") == true, "\(refused) (first: \(String(describing: refusal)))")
        #expect(refused.errorMessage?.contains("No space left on device") == true)
        #expect(refused.errorMessage?.contains("reads are served") == true)
        let refusedDelete = try conn.send([RedisCommand("SESSION.DEL", acked[0])])[0]
        #expect(refusedDelete.errorMessage?.hasPrefix("MISCONF") == true, "deletes are writes too")
        // Reads go on, through the console too.
        let peek = try conn.send([RedisCommand("SESSION.PEEK", acked[acked.count - 1])])[0]
        #expect(peek.array?.count == 8)
        #expect(try conn.send([RedisCommand("SESSION.GET", acked[0])])[0].array != nil, "GET still slides")
        let info = try conn.send([RedisCommand("INFO")])[0].text ?? ""
        #expect(info.contains("aof_last_write_status:err"))
        let ls = try CLI.run(["ls", "--store", server.urlString, "-o", "jsonl"])
        #expect(ls.code == 0 && ls.lines.count >= acked.count, "\(ls)")
        #expect(server.output.contains("write commands are refused until the log can be written"))
        let nodes = try CLI.run(["nodes", "--store", server.urlString])
        #expect(nodes.stdout.contains("FAILING"), "\(nodes)")
        let nodesJSON = try CLI.run(["nodes", "--store", server.urlString, "-o", "json"])
        #expect(nodesJSON.stdout.contains("No space left on device"), "\(nodesJSON)")

        // Space returns: within a few retries the node writes again.
        try FileManager.default.removeItem(atPath: filler)
        var recovered = false
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if try conn.send([RedisCommand("SESSION.PUT", "after-space", "600", "PRINCIPAL", "dana")])[0]
                == .status("OK")
            {
                recovered = true
                break
            }
            usleep(200_000)
        }
        #expect(recovered, "writes are taken again once there is space")
        #expect(server.output.contains("the log can be written again"))
        #expect((try conn.send([RedisCommand("INFO")])[0].text ?? "").contains("aof_last_write_status:ok"))

        // Nothing acknowledged is lost and the log is whole.
        server.kill9()
        try server.restart()
        let c = try RedisConnection(url: server.url)
        for id in acked + ["after-space"] {
            #expect(try c.send([RedisCommand("SESSION.PEEK", id)])[0].array?.count == 8, "\(id) survived")
        }
        #expect(try c.send([RedisCommand("SESSION.PEEK", "after-full")])[0] == .null, "a refused write left nothing")
        #expect(server.output.contains("replayed"))
        #expect(!server.output.contains("torn tail"), "no half record in the log: \(server.output.suffix(300))")
    }
}

/// Every session a sessiond node holds, as `SESSION.SCAN` lists it (the node alone: no
/// redirects, pending copies invisible).
func scanRows(_ node: SessiondServer) throws -> [Wire.ScanRow] {
    var rows: [Wire.ScanRow] = []
    var cursor = "0"
    repeat {
        let r = try node.command("SESSION.SCAN", cursor, "COUNT", "1000")
        guard let page = Wire.scanPage(r.resp) else { throw HarnessError("bad scan reply \(r)") }
        rows += page.rows
        cursor = page.next
    } while cursor != "0"
    return rows
}

/// A network partition between sessiond members (network namespaces, silent drops): moves
/// across the cut fail and say so, moves elsewhere and the applications' reads go on, every
/// session stays on exactly one node, and after the partition heals (the RESTOREs stuck in
/// TCP's retransmissions arrive late) nothing is served twice and the same drain finishes.
@Suite(.serialized) struct PartitionDrillTests {
    static func holders(_ nodes: [String: SessiondServer]) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (name, node) in nodes {
            for row in try scanRows(node) { out[row.id, default: []].append(name) }
        }
        return out
    }

    @Test func aPartitionBetweenMembersLosesNothingAndServesNothingTwice() async throws {
        let lab = try NetworkLab(members: 3)
        let port = 7379
        let ids = ["n1", "n2", "n3"]
        let members = ids.enumerated().map { "\($1)=\(lab.address($0)):\(port)" }.joined(separator: ",")
        var nodes: [String: SessiondServer] = [:]
        for (i, id) in ids.enumerated() {
            nodes[id] = try SessiondServer(
                port: port, arguments: ["--node-id", id, "--cluster", members], host: lab.address(i),
                launcher: lab.launcher(i))
        }
        defer { for n in nodes.values { n.kill9() } }
        guard let n1 = nodes["n1"], let n2 = nodes["n2"] else { return }
        let app = try SessiondClient(url: n1.urlString, timeouts: .init(connectMs: 1000, commandMs: 20_000))
        let total = 300
        for i in 0..<total {
            try await app.create(
                id: "p-\(i)", timeoutSeconds: 900, principal: "u\(i % 10)", attributes: [("n", Array(String(i).utf8))])
        }
        let before = try Self.holders(nodes)
        #expect(before.count == total && before.values.allSatisfy { $0.count == 1 })
        let onN1 = before.filter { $0.value == ["n1"] }.map(\.key).sorted()
        #expect(onN1.count > 40, "n1 holds its share (\(onN1.count))")
        let acrossTheCut = Array(onN1.prefix(20))
        let elsewhere = Array(onN1.dropFirst(20).prefix(20))

        try lab.partition(0, 1)  // n1 and n2 stop hearing each other
        let source = RedisClient(url: n1.url, timeouts: .init(connectMs: 1000, commandMs: 30_000))
        let failed = try await source.send(
            RedisCommand((["SESSION.MIGRATE", "TO", "n2"] + acrossTheCut).map { Array($0.utf8) }))
        let outcomes = failed.array ?? []
        #expect(outcomes.count == acrossTheCut.count)
        #expect(
            outcomes.allSatisfy { $0.errorMessage?.contains("unreachable") == true },
            "every move across the cut fails and says why: \(outcomes.prefix(2))")
        let moved = try await source.send(
            RedisCommand((["SESSION.MIGRATE", "TO", "n3"] + elsewhere).map { Array($0.utf8) }))
        #expect((moved.array ?? []).allSatisfy { $0.errorMessage == nil }, "moves within a side go on: \(moved)")
        // Applications still read every session (the console side reaches every member).
        for i in stride(from: 0, to: total, by: 7) {
            let s = try await app.get("p-\(i)")
            #expect(s?.attributes.first?.value == Array(String(i).utf8), "p-\(i) readable during the partition")
        }
        let during = try Self.holders(nodes)
        #expect(during.count == total, "nothing lost during the partition")
        #expect(during.values.allSatisfy { $0.count == 1 }, "nothing on two nodes during the partition")
        #expect(acrossTheCut.allSatisfy { during[$0] == ["n1"] }, "a failed move leaves the session at the source")
        #expect(elsewhere.allSatisfy { during[$0] == ["n3"] })

        try lab.heal(0, 1)
        // The RESTOREs n1 gave up on are still in TCP's retransmissions: wait for them to land.
        var pending = 0
        let landed = Date().addingTimeInterval(30)
        while Date() < landed {
            let info = RedisInfo.parse(try n2.command("INFO").text ?? "")
            pending = info["cluster_pending_copies"].flatMap { Int($0) } ?? 0
            if pending > 0 { break }
            usleep(200_000)
        }
        // Direct requests to n2 for those sessions must not bring the late copies to life.
        let direct = try RedisConnection(url: n2.url)
        for id in acrossTheCut {
            let r = try direct.send([RedisCommand("SESSION.PEEK", id)])[0]
            #expect(r.array == nil, "\(id) is not served by n2 while n1 holds it: \(r)")
        }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        let after = try Self.holders(nodes)
        #expect(after.count == total && after.values.allSatisfy { $0.count == 1 }, "one copy each after healing")
        #expect(acrossTheCut.allSatisfy { after[$0] == ["n1"] })
        for id in acrossTheCut {
            let r = try direct.send([RedisCommand("SESSION.PEEK", id)])[0]
            #expect(r.errorMessage?.hasPrefix("MOVED n1") == true, "settled: n2 redirects \(id) to n1: \(r)")
        }
        print("partition drill: \(pending) late RESTORE(s) reached n2 after the heal")

        // The same drain, run again, finishes; still one copy each, contents intact.
        let again = try await source.send(
            RedisCommand((["SESSION.MIGRATE", "TO", "n2"] + acrossTheCut).map { Array($0.utf8) }))
        #expect((again.array ?? []).allSatisfy { $0.errorMessage == nil }, "\(again)")
        let end = try Self.holders(nodes)
        #expect(end.count == total && end.values.allSatisfy { $0.count == 1 })
        #expect(acrossTheCut.allSatisfy { end[$0] == ["n2"] })
        for id in acrossTheCut + elsewhere {
            let n = id.dropFirst(2)
            #expect(try await app.get(id)?.attributes.first?.value == Array(n.utf8), "\(id) intact")
        }
    }
}
