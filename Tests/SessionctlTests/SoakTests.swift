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

/// Soaks: long mixed load, then invariants and memory. `SOAK_SECONDS` sets the length (the
/// suite runs 20 s; `Benchmarks/soak.sh` runs 600 s and prints the figures BENCHMARKS.md
/// quotes).
enum Soak {
    static var seconds: Double {
        Double(ProcessInfo.processInfo.environment["SOAK_SECONDS"] ?? "") ?? 20
    }

    /// Resident memory of a process in KiB (`VmRSS`), nil when it is gone.
    static func rssKiB(_ pid: pid_t) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }

    /// Samples taken at fractions of the run: (fraction, KiB).
    final class Samples: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(Double, Int)] = []
        func add(_ at: Double, _ kib: Int) {
            lock.lock()
            items.append((at, kib))
            lock.unlock()
        }
        /// The highest reading in a part of the run.
        func peak(from: Double, to: Double) -> Int {
            lock.lock()
            defer { lock.unlock() }
            return items.filter { $0.0 >= from && $0.0 <= to }.map(\.1).max() ?? 0
        }
        var count: Int {
            lock.lock()
            defer { lock.unlock() }
            return items.count
        }
    }

    /// Memory is flat when the peak of the last quarter is within 25% (plus 8 MiB for the
    /// allocator's slack) of the peak of the second quarter, after warm-up.
    static func flat(_ s: Samples) -> (warm: Int, late: Int, flat: Bool) {
        let warm = s.peak(from: 0.25, to: 0.5)
        let late = s.peak(from: 0.75, to: 1.0)
        return (warm, late, late <= warm + warm / 4 + 8 * 1024)
    }
}

/// What the load did and saw, shared by its tasks.
actor SoakModel {
    var attempted = Set<String>()
    var acked = Set<String>()
    var recent: [String] = []
    var ended = Set<String>()
    /// Events seen per node (an INFO count and a listing agree when none came between).
    var perNode: [String: Int] = [:]
    var endings: [String: Int] = [:]
    var gaps = 0
    var logoutStarted: [String: Int64] = [:]
    var ops: [String: Int] = [:]
    var errors: [String] = []

    func attempt(_ id: String) { attempted.insert(id) }
    func ack(_ id: String) {
        acked.insert(id)
        recent.append(id)
        if recent.count > 4_000 { recent.removeFirst(2_000) }
    }
    func pick(_ r: UInt64) -> String? { recent.isEmpty ? nil : recent[Int(r % UInt64(recent.count))] }
    func count(_ op: String) { ops[op, default: 0] += 1 }
    func error(_ e: String) { if errors.count < 20 { errors.append(e) } }
    func event(_ kind: String, _ id: String, node: String) {
        perNode[node, default: 0] += 1
        if kind == "gap" { gaps += 1 }
        if ["expired", "evicted", "deleted"].contains(kind) {
            ended.insert(id)
            endings[kind, default: 0] += 1
        }
    }
    func logout(_ user: String, at ms: Int64) { if logoutStarted[user] == nil { logoutStarted[user] = ms } }
}

@Suite(.serialized) struct SoakTests {
    /// sessiond, two members, under create / read / touch / expire / delete / migrate /
    /// logout with a session cap that evicts all along. At the end: no session on two
    /// nodes, none from nowhere, none lost (every acknowledged session is listed unless an
    /// event says it ended), none of a logged-out user from before the logout, counts
    /// within the cap and equal to what INFO says; memory flat after warm-up.
    @Test func sessiondUnderMixedLoadKeepsItsInvariantsAndItsMemory() async throws {
        let cap = 600
        let cluster = try SessiondCluster(
            count: 2, extra: ["--max-sessions", String(cap), "--subscriber-buffer", String(256 << 20)])
        let client = try SessiondClient(url: cluster["n1"].urlString)
        let direct = Dictionary(uniqueKeysWithValues: cluster.ids.map { ($0, RedisClient(url: cluster[$0].url)) })
        let model = SoakModel()

        // Every node's events: what ended is not lost.
        var listeners: [Task<Void, Never>] = []
        for id in cluster.ids {
            let sub = RedisSubscriber.subscribe(url: cluster[id].url, channels: ["sessiond:events"])
            try await sub.ready()
            listeners.append(
                Task {
                    do {
                        for try await m in sub.messages {
                            let o = try? JSONSerialization.jsonObject(with: Data(m.payload)) as? [String: Any]
                            await model.event(
                                o?["event"] as? String ?? "", o?["id"] as? String ?? "",
                                node: o?["node"] as? String ?? "")
                        }
                    } catch {}
                })
        }

        let seconds = Soak.seconds
        let start = Date()
        let end = start.addingTimeInterval(seconds)
        let samples = Dictionary(uniqueKeysWithValues: cluster.ids.map { ($0, Soak.Samples()) })
        let sampler = Task {
            while Date() < end {
                let at = Date().timeIntervalSince(start) / seconds
                for id in cluster.ids { if let k = Soak.rssKiB(cluster[id].pid) { samples[id]?.add(at, k) } }
                try? await Task.sleep(nanoseconds: 500_000_000)
            }
        }
        let ids = cluster.ids
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var rng = SplitMix(seed: UInt64(worker + 1))
                    var n = 0
                    while Date() < end {
                        let roll = rng.next() % 100
                        do {
                            if roll < 40 {
                                let id = "soak-\(worker)-\(n)"
                                n += 1
                                let ttl = rng.next() % 5 == 0 ? Int(1 + rng.next() % 3) : Int(30 + rng.next() % 90)
                                await model.attempt(id)
                                try await client.create(
                                    id: id, timeoutSeconds: ttl, principal: "u\(rng.next() % 400)",
                                    attributes: [
                                        ("cart", Array(String(repeating: "x", count: Int(rng.next() % 512)).utf8))
                                    ]
                                )
                                await model.ack(id)
                                await model.count("create")
                            } else if let id = await model.pick(rng.next()) {
                                if roll < 65 {
                                    _ = try await client.get(id)
                                    await model.count("get")
                                } else if roll < 75 {
                                    _ = try await client.touch(id)
                                    await model.count("touch")
                                } else if roll < 83 {
                                    _ = try await client.expire(id, afterSeconds: Int(rng.next() % 2))
                                    await model.count("expire")
                                } else if roll < 90 {
                                    _ = try await client.delete(id)
                                    await model.count("delete")
                                } else if roll < 97 {
                                    let holder = try await client.node(of: id)
                                    if let other = ids.first(where: { $0 != holder }), let c = direct[holder] {
                                        _ = try await c.send(RedisCommand("SESSION.MIGRATE", id, other))
                                        await model.count("migrate")
                                    }
                                } else if roll < 98 {
                                    let user = "u\(rng.next() % 400)"
                                    await model.logout(user, at: currentTimeMs())
                                    _ = try await client.logout(user)
                                    await model.count("logout")
                                } else {
                                    _ = try await client.get(id)
                                    await model.count("get")
                                }
                            }
                        } catch {
                            await model.error("\(error)")
                        }
                    }
                }
            }
        }
        sampler.cancel()
        // Let the last events arrive, then list every node directly.
        try await Task.sleep(nanoseconds: 500_000_000)
        var holders: [String: [String]] = [:]
        var rows: [Wire.ScanRow] = []
        for id in cluster.ids {
            let eventsBefore = await model.perNode[id, default: 0]
            let nodeRows = try scanRows(cluster[id])
            for row in nodeRows { holders[row.id, default: []].append(id) }
            rows += nodeRows
            let n = nodeRows.count
            let info = RedisInfo.parse(try cluster[id].command("INFO").text ?? "")
            try await Task.sleep(nanoseconds: 200_000_000)
            // Expiries go on after the load stops: the two counts may differ by the events
            // that came between them, and by nothing else.
            let between = await model.perNode[id, default: 0] - eventsBefore
            let counted = info["sessions"].flatMap { Int($0) } ?? -1
            #expect(n <= cap, "\(id) holds \(n) sessions, above its cap")
            #expect(abs(counted - n) <= between, "INFO says \(counted), the listing \(n), \(between) event(s) between")
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        for l in listeners { l.cancel() }

        let attempted = await model.attempted
        let acked = await model.acked
        let ended = await model.ended
        let endings = await model.endings
        let ops = await model.ops
        let errors = await model.errors
        let listed = Set(holders.keys)
        #expect(ops["create", default: 0] > 100 && ops["migrate", default: 0] > 0 && ops["logout", default: 0] > 0)
        #expect(
            endings["evicted", default: 0] > 0 && endings["expired", default: 0] > 0
                && endings["deleted", default: 0] > 0,
            "the mix evicted, expired and deleted: \(endings)")
        #expect(errors.isEmpty, "requests failed: \(errors)")
        #expect(await model.gaps == 0, "the event listeners missed nothing")
        #expect(holders.values.allSatisfy { $0.count == 1 }, "no session on two nodes")
        #expect(listed.isSubset(of: attempted), "no session from nowhere")
        let lost = acked.subtracting(listed).subtracting(ended)
        var whereabouts: [String] = []
        for id in lost.prefix(5) {
            let answers = try cluster.ids.map { n in "\(n): \(try cluster[n].command("CLUSTER.WHERE", id))" }
            whereabouts.append("\(id) [\(answers.joined(separator: ", "))]")
        }
        #expect(lost.isEmpty, "acknowledged, never ended, not there (\(lost.count)): \(whereabouts)")
        let logouts = await model.logoutStarted
        let survivors = rows.filter { r in
            guard let u = r.principal, let at = logouts[u], let created = r.createdMs else { return false }
            return created < at
        }
        #expect(survivors.isEmpty, "sessions from before their user's logout: \(survivors.prefix(3).map(\.id))")
        var figures: [String] = []
        for id in cluster.ids {
            guard let s = samples[id] else { continue }
            let m = Soak.flat(s)
            figures.append("\(id) \(m.warm / 1024)→\(m.late / 1024) MiB")
            #expect(s.count >= 4 && m.flat, "\(id) memory grew: \(m.warm) KiB after warm-up, \(m.late) KiB at the end")
        }
        print(
            "soak sessiond: \(Int(seconds)) s, ops \(ops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), "
                + "ended by events \(endings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), listed at the end \(listed.count), RSS (peak after warm-up → peak in the last quarter) "
                + figures.joined(separator: ", "))
    }

    /// The TUI on the embedded demo (three sessiond nodes with traffic, expiries and
    /// evictions), switching views and moving the cursor all along: the screen keeps
    /// updating and its memory stays flat.
    @Test func theTUIOnTheDemoKeepsItsMemory() throws {
        let seconds = Soak.seconds
        let term = try TmuxSession(
            command: "'\(try CLI.binary("sessionctl"))' demo",
            environment: [
                "TERM": "xterm-256color", "HOME": NSTemporaryDirectory(),
                "SESSIONCTL_AUDIT_LOG": NSTemporaryDirectory() + "soak-tui-\(UUID().uuidString.prefix(6)).log",
            ])
        try term.wait(for: "sessions", timeout: 30)
        let shell = try term.panePID()
        // The console runs as the wrapper shell's child.
        var tui: pid_t = 0
        let found = Date().addingTimeInterval(10)
        while tui == 0 && Date() < found {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = pid_t(entry),
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.count > 1, pid_t(fields[1]) == shell, stat.contains("(sessionctl)") { tui = pid }
            }
            if tui == 0 { usleep(100_000) }
        }
        #expect(tui != 0, "the TUI process was found")
        let samples = Soak.Samples()
        let start = Date()
        let keys = ["2", "3", "4", "1", "j", "j", "k", "G", "g"]
        var i = 0
        var screens = Set<String>()
        while Date().timeIntervalSince(start) < seconds {
            try term.send(keys[i % keys.count])
            i += 1
            usleep(250_000)
            if let k = Soak.rssKiB(tui) { samples.add(Date().timeIntervalSince(start) / seconds, k) }
            if i % 8 == 0 { screens.insert(try term.screen()) }
        }
        #expect(Soak.rssKiB(tui) != nil, "the TUI is still running")
        #expect(screens.count > 1, "the screen kept changing")
        try term.send("1")
        try term.wait(for: "sessions")
        let m = Soak.flat(samples)
        #expect(m.flat, "the TUI's memory grew: \(m.warm) KiB after warm-up, \(m.late) KiB at the end")
        print("soak tui: \(Int(seconds)) s, \(i) keys, RSS \(m.warm / 1024) → \(m.late / 1024) MiB")
        try term.send("q")
        try term.wait(for: "EXITED-0", timeout: 30)
    }
}
