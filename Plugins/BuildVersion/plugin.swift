import Foundation
import PackagePlugin

/// Stamps the version into `sessionctl` at build time: `git describe` of the checkout (tag,
/// commits since, commit, `-dirty`), or `unknown` outside a git checkout. Runs before every
/// build; the file is rewritten only when the version changed, so nothing recompiles for it.
@main struct BuildVersion: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = """
            set -e
            mkdir -p "$2"
            v=$(git -C "$1" describe --tags --always --dirty 2>/dev/null || echo unknown)
            new="let buildVersion = \\"$v\\""
            f="$2/BuildVersion.swift"
            [ -f "$f" ] && [ "$(cat "$f")" = "$new" ] || printf '%s' "$new" > "$f"
            """
        return [
            .prebuildCommand(
                displayName: "Stamping the version from git describe",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", context.package.directoryURL.path, out.path],
                outputFilesDirectory: out)
        ]
    }
}
