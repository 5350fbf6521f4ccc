import ArgumentParser
import Foundation
import SessionKit
import SessionOps

struct Export: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write whole sessions to a file (JSON lines): a backup, or a move to another environment.",
        discussion: """
            One line per session with its times, TTL, user, schema and every attribute's stored
            bytes (base64), after a header line that names the format and its version; nothing is
            touched. `sessionctl import FILE` writes them into any store that can take sessions.
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Only the sessions matching this filter.", valueName: "expr")) var filter: String?
    @Option(
        name: [.customShort("f"), .customLong("file")],
        help: ArgumentHelp("Write to this file instead of standard output.", valueName: "path"))
    var file: String?

    func execute(_ console: Console) async throws -> Int32 {
        let f: Filter
        do { f = try Filter(filter ?? "") } catch { throw ConsoleError.usage(error.description) }
        let out: Output
        if let file {
            let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else {
                throw ConsoleError.usage("cannot write \(file): \(String(cString: strerror(errno)))")
            }
            out = Output(fd: fd)
        } else {
            out = console.output
        }
        let outcome = try await console.ops.export(filter: f) { out.write($0) }
        out.flush()
        if file != nil { Terminal.note(outcome.summary) }
        return outcome.exitCode
    }
}

struct Import: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write sessions from an export file into the store.",
        discussion: """
            The whole file is read and checked first: a bad line stops the import with its line
            number, before anything is written. Each session keeps its user, times, attributes and
            the TTL it had left, less the time since the export (sessions that expired since are
            skipped and counted). A session the store already has is refused unless --replace.
            Needs --yes (or a confirmation on a terminal); audited; refused under --read-only.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The export file (- for standard input).", valueName: "file")) var file: String
    @Flag(help: "Overwrite the sessions the store already has.") var replace = false

    func execute(_ console: Console) async throws -> Int32 {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: file) else {
                throw ConsoleError.usage("cannot read \(file)")
            }
            data = d
        }
        let archive: (header: SessionArchive.Header, sessions: [Session], expiredSince: [String])
        do { archive = try SessionArchive.read([UInt8](data), nowMs: currentTimeMs()) } catch {
            throw ConsoleError.usage("\(file): \(error): nothing was imported")
        }
        if !archive.expiredSince.isEmpty {
            Terminal.note("\(archive.expiredSince.count) session(s) expired since the export: not imported")
        }
        let outcome = try await console.ops.importSessions(archive.sessions, replace: replace)
        if !outcome.dryRun { console.output.line(outcome.summary) }
        return outcome.exitCode
    }
}
