import ArgumentParser
import Foundation
import SessionKit
import SessionOps

struct Batch: ConsoleCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run commands from a file (or - for standard input), one per line.",
        discussion: """
            Each line is a command in the command-line grammar without the program name, e.g.
              logout --user alice
              expire 7f3a... --in 5m
              # comments and blank lines are ignored
            Every line is parsed before anything runs, so a typo on line 10 changes nothing.
            Lines share one set of connections; connection options (--store, --schema) belong
            to the batch command line. A line's --dry-run/--yes/--read-only add to the batch's.
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Batch file, or - for standard input.") var file: String
    @Flag(name: .customLong("keep-going"), help: "Run the remaining lines after a failure.") var keepGoing = false
    @Option(name: .shortAndLong, help: "Line results: table or jsonl.") var output: OutputFormat = .table

    struct Line {
        var number: Int
        var text: String
        var command: any ConsoleCommand
    }

    func execute(_ console: Console) async throws -> Int32 {
        let text: String
        if file == "-" {
            var lines: [String] = []
            while let l = readLine(strippingNewline: true) { lines.append(l) }
            text = lines.joined(separator: "\n")
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConsoleError.usage("cannot read batch file \(file)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        var parsed: [Line] = []
        var errors: [String] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do {
                let words = try ShellWords.split(trimmed)
                let cmd = try SessionCtl.parseAsRoot(words)
                guard let console = cmd as? any ConsoleCommand, !(cmd is Batch), !(cmd is Tui) else {
                    throw ConsoleError.usage("not a store command")
                }
                if !console.global.stores.isEmpty || console.global.schema != "auto" {
                    throw ConsoleError.usage("--store and --schema belong to the batch command line")
                }
                parsed.append(Line(number: i + 1, text: trimmed, command: console))
            } catch let e as ConsoleError {
                errors.append("line \(i + 1): \(e.message)")
            } catch {
                let msg = SessionCtl.fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                errors.append("line \(i + 1): \(Redaction.redact(msg))")
            }
        }
        if !errors.isEmpty {
            for e in errors { Terminal.error(e) }
            throw ConsoleError.usage("batch not run: \(errors.count) line(s) could not be parsed")
        }

        var ok = 0
        var failed = 0
        var skipped = 0
        var firstFailure: Int32 = Exit.ok
        for (n, line) in parsed.enumerated() {
            let lineConsole = Console(sharing: console, line: line.command.global, commandLine: line.text)
            var code: Int32
            var message: String? = nil
            do {
                code = try await lineConsole.run { try await line.command.execute(lineConsole) }
            } catch let e as ConsoleError {
                code = e.code
                message = e.message
                Terminal.error("line \(line.number): \(e.message)")
            }
            console.output.flush()
            if code == Exit.ok {
                ok += 1
            } else {
                failed += 1
                if firstFailure == Exit.ok { firstFailure = code }
            }
            report(line: line, code: code, message: message, console: console)
            if code != Exit.ok && !keepGoing {
                skipped = parsed.count - n - 1
                break
            }
        }
        if output == .jsonl {
            var w = JSONWriter()
            w.raw(
                "{\"summary\":{\"lines\":\(parsed.count),\"ok\":\(ok),\"failed\":\(failed),\"skipped\":\(skipped)}}\n")
            console.output.write(w.bytes)
        } else {
            console.output.line("batch: \(parsed.count) line(s): \(ok) ok, \(failed) failed, \(skipped) skipped")
        }
        if failed == 0 { return Exit.ok }
        return keepGoing ? Exit.partial : firstFailure
    }

    private func report(line: Line, code: Int32, message: String?, console: Console) {
        if output == .jsonl {
            var w = JSONWriter()
            w.raw("{\"line\":\(line.number),\"command\":")
            w.string(Redaction.redact(line.text))
            w.raw(",\"exit\":\(code),\"status\":")
            w.string(code == Exit.ok ? "ok" : "failed")
            w.raw(",\"error\":")
            w.optionalString(message)
            w.raw("}\n")
            console.output.write(w.bytes)
        } else {
            console.output.line(
                "[line \(line.number)] \(code == Exit.ok ? "ok" : "failed (exit \(code))"): \(Redaction.redact(line.text))"
            )
        }
    }
}
