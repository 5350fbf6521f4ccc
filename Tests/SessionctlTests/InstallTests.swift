import Foundation
import TestSupport
import Testing

/// scripts/install.sh into a temporary prefix; the installed binary run from elsewhere.
@Suite(.serialized) struct InstallTests {
    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Runs a program with an environment of our choosing; its output and exit code.
    func run(_ path: String, _ args: [String], env: [String: String], cwd: String) throws -> (Int32?, String) {
        let dir = try makeTemporaryDirectory("sessionctl-install-run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "cd '\(cwd)' && exec \"$@\""
        let p = try ChildProcess(
            path: "/bin/sh", arguments: ["-c", script, "sh", path] + args, environment: env,
            outputPath: dir + "/out")
        guard p.wait(seconds: 120) else {
            p.signal(SIGKILL)
            throw HarnessError("\(path) did not finish")
        }
        return (p.exitCode, (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "")
    }

    @Test func installsBinariesThemesManPagesAndCompletionsAndUninstalls() throws {
        let prefix = try makeTemporaryDirectory("sessionctl-prefix")
        let elsewhere = try makeTemporaryDirectory("sessionctl-elsewhere")
        defer {
            try? FileManager.default.removeItem(atPath: prefix)
            try? FileManager.default.removeItem(atPath: elsewhere)
        }
        let base = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": elsewhere,
            "SESSIONCTL_BIN_DIR": CLI.productsDirectory.path,
        ]
        let (code, out) = try run(Self.repository + "/scripts/install.sh", [prefix], env: base, cwd: Self.repository)
        #expect(code == 0 && out.contains("installed sessionctl"), "\(out)")
        let bin = prefix + "/bin/sessionctl"
        let clean = ["PATH": "/usr/bin:/bin", "HOME": elsewhere]
        // No checkout around: the themes come from PREFIX/share.
        let (listCode, themes) = try run(bin, ["themes", "list"], env: clean, cwd: elsewhere)
        #expect(listCode == 0 && themes.contains(prefix + "/share/sessionctl/themes/dracula.toml"), "\(themes)")
        #expect(!themes.contains("BROKEN"))
        let (vCode, version) = try run(bin, ["--version"], env: clean, cwd: elsewhere)
        #expect(vCode == 0 && !version.isEmpty && version != "unknown\n", "\(version)")
        // The man pages render; one per subcommand.
        for page in ["sessionctl.1", "sessionctl-ls.1", "sessionctl-logout.1", "sessionctl-export.1", "sessiond.1"] {
            let path = prefix + "/share/man/man1/" + page
            #expect(FileManager.default.fileExists(atPath: path), "\(page)")
            let (manCode, text) = try run(
                "/usr/bin/man", ["-l", path], env: clean.merging(["MANPAGER": "cat", "MANWIDTH": "80"]) { $1 },
                cwd: elsewhere)
            #expect(manCode == 0 && text.contains("NAME") && text.contains("SYNOPSIS"), "\(page): \(text.prefix(300))")
        }
        // The completion script loads in bash and completes subcommands.
        let completion = prefix + "/share/bash-completion/completions/sessionctl"
        let (bashCode, bashOut) = try run(
            "/bin/bash", ["-c", "source '\(completion)' && complete -p sessionctl"], env: clean, cwd: elsewhere)
        #expect(bashCode == 0 && bashOut.contains("sessionctl"), "\(bashOut)")
        #expect(FileManager.default.fileExists(atPath: prefix + "/share/zsh/site-functions/_sessionctl"))
        #expect(FileManager.default.fileExists(atPath: prefix + "/share/fish/vendor_completions.d/sessionctl.fish"))

        let (unCode, unOut) = try run(
            Self.repository + "/scripts/install.sh", ["--uninstall", prefix], env: base, cwd: Self.repository)
        #expect(unCode == 0, "\(unOut)")
        #expect(!FileManager.default.fileExists(atPath: bin))
        #expect(!FileManager.default.fileExists(atPath: prefix + "/share/man/man1/sessionctl.1"))
        #expect(!FileManager.default.fileExists(atPath: prefix + "/share/sessionctl"))
    }

    @Test func aLoneBinaryHasItsDefaultThemeBuiltIn() throws {
        // A lone copy of the binary, with no themes folder anywhere around it.
        let lone = try makeTemporaryDirectory("sessionctl-lone")
        defer { try? FileManager.default.removeItem(atPath: lone) }
        try FileManager.default.copyItem(atPath: try CLI.binary("sessionctl"), toPath: lone + "/sessionctl")
        let env = ["PATH": "/usr/bin:/bin", "HOME": lone]
        // A binary copied a moment ago can fail to start with "text file busy" while a
        // process spawned by a parallel test still holds the copy's descriptor: try again.
        var (code, out) = try run(lone + "/sessionctl", ["themes", "list"], env: env, cwd: lone)
        for _ in 0..<10 where code != 0 && out.contains("busy") {
            usleep(200_000)
            (code, out) = try run(lone + "/sessionctl", ["themes", "list"], env: env, cwd: lone)
        }
        #expect(code == 0 && out.contains("default") && out.contains("(built in)  ok"), "\(out)")
    }
}
