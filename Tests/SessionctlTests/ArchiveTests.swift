import Foundation
import RedisClient
import SessionKit
import TestSupport
import Testing

/// `export` and `import` with the real binary: Redis (Spring) to the in-house store, and back
/// checks on what is refused.
@Suite(.serialized) struct ArchiveTests {
    func temporaryFile(_ name: String) throws -> String {
        try makeTemporaryDirectory("sessionctl-archive") + "/" + name
    }

    @Test func exportFromRedisImportIntoSessiondKeepsUsersTimesAndBytes() throws {
        let redis = try RedisServer()
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for (i, user) in ["kim", "kim", "lou"].enumerated() {
            cmds += try Seeder.springCommands(.init(id: "arch-\(i)", user: user, nowMs: now))
        }
        try Seeder.run(cmds, on: redis)
        let file = try temporaryFile("sessions.jsonl")
        let exported = try CLI.run(["export", "--store", redis.urlString, "-f", file])
        #expect(exported.code == 0 && exported.stderr.contains("exported 3 session(s)"), "\(exported)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("{\"format\":\"sessionctl-sessions\",\"version\":1"), "\(text.prefix(120))")
        #expect(text.split(separator: "\n").count == 4)

        let sessiond = try SessiondServer()
        let refused = try CLI.run(["import", file, "--store", sessiond.urlString])
        #expect(refused.code == 2 && refused.stderr.contains("--yes"), "an import is confirmed: \(refused)")
        let ro = try CLI.run(["import", file, "--store", sessiond.urlString, "--yes", "--read-only"])
        #expect(ro.code == 2 && ro.stderr.contains("read-only"), "\(ro)")
        let imported = try CLI.run(["import", file, "--store", sessiond.urlString, "--yes"])
        #expect(imported.code == 0 && imported.stdout.contains("imported 3 of 3"), "\(imported)")

        let listed = try CLI.run(["ls", "-o", "jsonl", "--store", sessiond.urlString])
        #expect(listed.lines.count == 3 && listed.stdout.contains("\"kim\"") && listed.stdout.contains("\"lou\""))
        // The attributes (names, formats, sizes, decoded values) are the same on both sides.
        func attributes(_ store: String) throws -> Substring {
            let shown = try CLI.run(["show", "arch-0", "-o", "json", "--store", store])
            guard let at = shown.stdout.range(of: "\"attributes\":") else { return "" }
            return shown.stdout[at.lowerBound...]
        }
        let before = try attributes(redis.urlString)
        #expect(!before.isEmpty && before.contains("\"kim\""))
        #expect(try attributes(sessiond.urlString) == before)

        // Again: refused, nothing written; --replace overwrites.
        let again = try CLI.run(["import", file, "--store", sessiond.urlString, "--yes"])
        #expect(again.code == 2 && again.stderr.contains("3 session(s) already exist"), "\(again)")
        let replaced = try CLI.run(["import", file, "--store", sessiond.urlString, "--yes", "--replace"])
        #expect(replaced.code == 0, "\(replaced)")
        let count = try CLI.run(["ls", "-o", "jsonl", "--store", sessiond.urlString])
        #expect(count.lines.count == 3, "replaced, never doubled")
    }

    @Test func aBadLineStopsTheImportBeforeAnythingIsWritten() throws {
        let redis = try RedisServer()
        let now = Seeder.nowMs()
        var cmds: [RedisCommand] = []
        for i in 0..<3 { cmds += try Seeder.springCommands(.init(id: "bad-\(i)", user: "mo", nowMs: now)) }
        try Seeder.run(cmds, on: redis)
        let file = try temporaryFile("broken.jsonl")
        _ = try CLI.run(["export", "--store", redis.urlString, "-f", file])
        var lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[2] = String(lines[2].prefix(40))  // truncated
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let target = try RedisServer()
        let r = try CLI.run(["import", file, "--store", target.urlString, "--yes"])
        #expect(r.code == 2 && r.stderr.contains("line 3") && r.stderr.contains("nothing was imported"), "\(r)")
        #expect(try target.command("DBSIZE") == .integer(0))

        // A file taken long ago: every session has expired since.
        var old = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        old[0] = old[0].replacingOccurrences(
            of: #""exported_at_ms":\d+"#, with: "\"exported_at_ms\":1000", options: .regularExpression)
        old.remove(at: 2)
        try (old.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let late = try CLI.run(["import", file, "--store", target.urlString, "--yes"])
        #expect(late.stderr.contains("2 session(s) expired since the export"), "\(late)")
        #expect(try target.command("DBSIZE") == .integer(0))

        let notArchive = try temporaryFile("other.txt")
        try "hello\n".write(toFile: notArchive, atomically: true, encoding: .utf8)
        let other = try CLI.run(["import", notArchive, "--store", target.urlString, "--yes"])
        #expect(other.code == 2 && other.stderr.contains("not a sessionctl export"), "\(other)")
    }
}
