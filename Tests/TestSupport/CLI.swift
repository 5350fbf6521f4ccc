import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `sessionctl` binary (built next to the test bundle).
public enum CLI {
    public struct Result: CustomStringConvertible {
        public var code: Int32
        public var stdout: String
        public var stderr: String
        public var description: String { "exit \(code)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
        public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// The folder of the test binary, where SwiftPM also puts the executables.
    public static var productsDirectory: URL {
        let exe = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? CommandLine.arguments[0])
        var dir = exe.deletingLastPathComponent()
        // Inside `X.xctest/` bundles on some layouts.
        while dir.pathExtension == "xctest" || dir.lastPathComponent == "MacOS" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    public static func binary(_ name: String) throws -> String {
        let path = productsDirectory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(name) not built at \(path)")
        }
        return path
    }

    /// Runs `sessionctl args` with a fresh audit log unless one is given, no terminal.
    public static func run(_ args: [String], env: [String: String] = [:], stdin: String? = nil, timeout: Double = 60)
        throws -> Result
    {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sessionctl-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var environment = ProcessInfo.processInfo.environment
        environment["SESSIONCTL_AUDIT_LOG"] = dir.appendingPathComponent("audit.log").path
        environment.removeValue(forKey: "REDISCLI_AUTH")
        for (k, v) in env { environment[k] = v }
        var stdinPath: String? = nil
        if let stdin {
            stdinPath = dir.appendingPathComponent("stdin").path
            try stdin.write(toFile: stdinPath!, atomically: true, encoding: .utf8)
        }
        let out = dir.appendingPathComponent("out").path
        let err = dir.appendingPathComponent("err").path
        let p = try ChildProcess(
            path: try binary("sessionctl"), arguments: args, environment: environment,
            outputPath: out, errorPath: err, stdinPath: stdinPath)
        if !p.wait(seconds: timeout) {
            p.stop(grace: 1)
            throw HarnessError("sessionctl \(args) did not finish in \(timeout) s")
        }
        let o = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return Result(code: p.exitCode ?? -1, stdout: o, stderr: e)
    }
}
