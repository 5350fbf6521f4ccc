import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid`.
///
/// Foundation's `Process.waitUntilExit()` spins a run loop on the calling thread; called
/// from test teardown on both threads of the 2-core cooperative pool it deadlocked the
/// suite. This type never blocks for long and never needs the pool.
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private var exitStatus: Int32?
    private let lock = NSLock()

    /// Starts `path` with `arguments`; stdout/stderr go to `outputPath` (or /dev/null).
    public init(
        path: String, arguments: [String], environment: [String: String]? = nil,
        outputPath: String? = nil, errorPath: String? = nil, stdinPath: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let out = outputPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for e in envp { free(e) } }
        // The spawning thread may block signals (the concurrency runtime's threads do):
        // the child must start with an empty mask and default handlers, or it ignores SIGTERM.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child = pid_t()
        let rc = posix_spawn(&child, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw HarnessError("cannot start \(path): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Whether the child still runs (reaps it when it has ended).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            exitStatus = status
            return false
        }
        if r < 0 {
            exitStatus = -1
            return false
        }
        return true
    }

    /// The raw wait status once ended.
    public var status: Int32? {
        _ = isRunning
        return exitStatus
    }

    /// Exit code when the child exited normally.
    public var exitCode: Int32? {
        guard let s = status, s >= 0, s & 0x7F == 0 else { return nil }
        return (s >> 8) & 0xFF
    }

    public func signal(_ sig: Int32) { if isRunning { kill(pid, sig) } }

    /// Waits up to `seconds` for the child to end; true when it did.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() > deadline { return false }
            usleep(5_000)
        }
        return true
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    public func stop(grace: Double = 5) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if !wait(seconds: grace) {
            kill(pid, SIGKILL)
            wait(seconds: 5)
        }
    }

    /// Runs a tool to its end (up to `timeout` seconds) and returns what it printed;
    /// throws with that output when it fails.
    public static func output(_ path: String, _ arguments: [String], timeout: Double = 20) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let name = (path as NSString).lastPathComponent
        let p = try ChildProcess(path: path, arguments: arguments, outputPath: out)
        guard p.wait(seconds: timeout) else { throw HarnessError("\(name) \(arguments) hung") }
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard p.exitCode == 0 else { throw HarnessError("\(name) \(arguments.joined(separator: " ")) failed: \(text)") }
        return text
    }

    deinit { stop() }
}
