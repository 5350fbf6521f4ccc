import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real terminal for end-to-end TUI tests: a private tmux server (its own socket), one
/// session running a command; keys go in with send-keys, the screen comes out of capture-pane.
public final class TmuxSession: @unchecked Sendable {
    public let socket: String
    let tmux: String
    let dir: URL

    public init(command: String, environment: [String: String], cols: Int = 120, rows: Int = 30) throws {
        guard let tmux = findExecutable("tmux") else {
            throw HarnessError("tmux not found: install tmux (the README's test command does)")
        }
        self.tmux = tmux
        socket = "sctl-\(UUID().uuidString.prefix(8))"
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(socket)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // The command runs from a script so no quoting reaches tmux; its exit code is printed.
        // A trap (not an ignore: children must still get SIGINT) keeps the wrapper shell alive
        // when Ctrl-C reaches the pane's whole foreground group, so the exit code is printed.
        var script = "#!/bin/sh\ntrap 'true' INT\n"
        for (k, v) in environment { script += "export \(k)='\(v.replacingOccurrences(of: "'", with: "'\\''"))'\n" }
        script += command + "\necho \"EXITED-$?\"\nsleep 120\n"
        let path = dir.appendingPathComponent("run.sh").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        // Two tmux servers started at the same moment from one test process (suites run in
        // parallel) lost one of them at start-up ("no server running"): starts are one at a
        // time, and a server that is not there afterwards is started again.
        Self.startLock.lock()
        defer { Self.startLock.unlock() }
        for attempt in 1...3 {
            do {
                try run(["new-session", "-d", "-s", "t", "-x", String(cols), "-y", String(rows), path])
            } catch let e as HarnessError where e.description.contains("duplicate session") {
                break  // the earlier start did come up after all
            }
            // A loaded machine can take a while: look for up to 3 s before starting again.
            let until = Date().addingTimeInterval(3)
            var up = false
            while !up && Date() < until {
                up = (try? run(["has-session", "-t", "t"])) != nil
                if !up { usleep(100_000) }
            }
            if up { break }
            guard attempt < 3 else { throw HarnessError("the tmux server did not stay up") }
        }
    }

    static let startLock = NSLock()

    @discardableResult
    func run(_ args: [String]) throws -> String {
        try ChildProcess.output(tmux, ["-L", socket, "-f", "/dev/null"] + args, timeout: 10)
    }

    /// Types keys (tmux key names: Enter, Escape, Up, ...; or literal text with `literal`).
    public func send(_ keys: String..., literal: Bool = false) throws {
        try run(["send-keys", "-t", "t"] + (literal ? ["-l"] : []) + keys)
    }

    /// The process the pane runs the command under (the wrapper shell).
    public func panePID() throws -> pid_t {
        pid_t(
            try run(["display-message", "-p", "-t", "t", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        )
            ?? 0
    }

    public func screen() throws -> String { try run(["capture-pane", "-p", "-t", "t"]) }

    public func resize(cols: Int, rows: Int) throws {
        try run(["resize-window", "-t", "t", "-x", String(cols), "-y", String(rows)])
    }

    /// Waits until the screen satisfies `condition`; throws with the last screen otherwise.
    @discardableResult
    public func wait(_ what: String, timeout: Double = 15, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if condition(last) { return last }
            usleep(100_000)
        }
        throw HarnessError("timed out waiting for \(what); screen was:\n\(last)")
    }

    public func wait(for text: String, timeout: Double = 15) throws {
        try wait("'\(text)'", timeout: timeout) { $0.contains(text) }
    }

    deinit {
        _ = try? run(["kill-server"])
        try? FileManager.default.removeItem(at: dir)
    }
}
