import ArgumentParser
import Foundation
import SessionKit
import SessionOps

@main
enum Main {
    static func main() async {
        let code = await run(Array(CommandLine.arguments.dropFirst()))
        exit(code)
    }

    /// Parses and runs one command line; every failure becomes a message on stderr and an
    /// exit code (ArgumentParser's own usage code 64 is mapped to our 2).
    static func run(_ arguments: [String]) async -> Int32 {
        do {
            var command = try SessionCtl.parseAsRoot(arguments)
            if let console = command as? ConsoleCommand {
                return try await console.runStandalone()
            }
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            return Exit.ok
        } catch let e as ConsoleError {
            Terminal.error(e.message)
            return e.code
        } catch {
            let code = SessionCtl.exitCode(for: error)
            let message = SessionCtl.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                return Exit.ok
            }
            Terminal.error(Redaction.redact(message))
            return code == .validationFailure ? Exit.usage : code.rawValue == 1 ? Exit.partial : code.rawValue
        }
    }
}

struct SessionCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessionctl",
        abstract:
            "See and act on the live HTTP sessions of a web cluster (Redis, memcached, sessiond; Spring, PHP, Django, Rails, express...).",
        discussion: """
            Stores are named by URL: redis://[user[:password]@]host[:port][/db], unix:///path,
            memcached://[user:password@]host:port[,host:port...] or sessiond://host:port.
            Repeat --store for several independent nodes. The password may also come from
            REDISCLI_AUTH; it is never printed.

            Exit codes: 0 ok, 1 partial failure (a node down, some ids not found), 2 usage or
            refused (read-only, no --yes), 3 cannot connect or authenticate, 4 not found.
            """,
        version: buildVersion,
        subcommands: [
            Tui.self, List.self, Show.self, Expire.self, Logout.self, Migrate.self, Watch.self, Nodes.self, Batch.self,
            Stats.self, DoctorCommand.self, Export.self, Import.self, Themes.self, Demo.self,
        ],
        defaultSubcommand: Tui.self
    )
}
