#if canImport(Glibc)
    import Glibc
#endif

/// A jump host (`--ssh [user@]host[:port]`): every connection to a node is carried by the
/// system `ssh` client as `ssh -W node:port destination`, so the operator's `~/.ssh/config`,
/// keys, agent and `ProxyJump` apply, and nodes found later (cluster members, the master a
/// Sentinel names) are reached the same way.
public struct JumpHost: Sendable, Hashable, CustomStringConvertible {
    /// `[user@]host` as ssh takes it (a `Host` alias of the ssh config works too).
    public var destination: String
    public var port: Int?
    /// The ssh program and its own options (`SESSIONCTL_SSH_COMMAND`, default `ssh`).
    public var command: [String]

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `[user@]host[:port]`, `[user@][v6]:port`.
    public init(_ text: String, command: [String] = ["ssh"]) throws(ParseError) {
        var host = Substring(text)
        var user = ""
        if let at = host.lastIndex(of: "@") {
            user = String(host[...at])
            host = host[host.index(after: at)...]
        }
        var port: Int? = nil
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw ParseError(description: "--ssh: invalid port in '\(text)'")
                }
                port = p
            }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.firstIndex(of: ":") {
            guard host[host.index(after: colon)...].allSatisfy(\.isNumber),
                let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p)
            else { throw ParseError(description: "--ssh: invalid port in '\(text)' (expected [user@]host[:port])") }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.hasPrefix("-"), !host.contains(where: \.isWhitespace) else {
            throw ParseError(description: "--ssh: '\(text)' is not [user@]host[:port]")
        }
        guard !command.isEmpty else { throw ParseError(description: "SESSIONCTL_SSH_COMMAND is empty") }
        destination = user + host
        self.port = port
        self.command = command
    }

    public var description: String { destination + (port.map { ":\($0)" } ?? "") }

    /// The ssh command line that carries one connection to `host:port`. Options given in
    /// the ssh command come first, so they win over these defaults (ssh keeps the first
    /// value of an option).
    public func arguments(toHost host: String, port targetPort: Int, connectTimeoutMs: Int) -> [String] {
        var args = command
        args += [
            "-o", "BatchMode=yes",  // never prompt: the terminal belongs to the console
            "-o", "ExitOnForwardFailure=yes",
            "-o", "ConnectTimeout=\(max(1, (connectTimeoutMs + 999) / 1000))",
            "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
        ]
        if let port { args += ["-p", String(port)] }
        let target = host.contains(":") ? "[\(host)]:\(targetPort)" : "\(host):\(targetPort)"
        args += ["-W", target, "--", destination]
        return args
    }
}

/// One connection through a jump host: a socket pair whose other end is the standard input
/// and output of `ssh -W`. The owner reads and writes `fd` like a TCP socket and closes it;
/// `terminate` ends and reaps the ssh process. ssh's standard error is kept for the words
/// of a failure (`diagnosis`).
public final class SSHTunnel: @unchecked Sendable {
    public let fd: Int32
    private let pid: pid_t
    private var errorPipe: Int32
    private var reaped = false
    private let jump: JumpHost
    private var stderrText: [UInt8] = []

    public struct Failure: Error, Sendable {
        public var message: String
    }

    public init(jump: JumpHost, host: String, port: Int, connectTimeoutMs: Int) throws(Failure) {
        self.jump = jump
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw Failure(message: "ssh: cannot make a socket pair: \(String(cString: strerror(errno)))")
        }
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&errPipe) == 0 else {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
            throw Failure(message: "ssh: cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        for end in errPipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let args = jump.arguments(toHost: host, port: port, connectTimeoutMs: connectTimeoutMs)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], 0)
        posix_spawn_file_actions_adddup2(&actions, pair[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // No other descriptor of ours (a node's socket) may live on in ssh.
        // (hiredis makes its sockets without close-on-exec.)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD, SIGWINCH] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        // A process group of its own: the terminal's Ctrl-C and Ctrl-Z are the console's.
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(
            &attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child = pid_t()
        let rc = posix_spawnp(&child, args[0], &actions, &attr, argv, environ)
        Glibc.close(pair[1])
        Glibc.close(errPipe[1])
        guard rc == 0 else {
            Glibc.close(pair[0])
            Glibc.close(errPipe[0])
            throw Failure(message: "ssh: cannot run '\(args[0])': \(String(cString: strerror(rc)))")
        }
        pid = child
        fd = pair[0]
        errorPipe = errPipe[0]
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { terminate() }

    /// Ends ssh (it would end by itself once `fd` is closed) and reaps it.
    public func terminate() {
        guard !reaped else { return }
        reaped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if errorPipe >= 0 { Glibc.close(errorPipe) }
        errorPipe = -1
    }

    /// Why the tunnel failed, in ssh's words, once ssh has ended or within `waitMs`:
    /// "ssh jump host bastion: Connection refused"; nil when ssh says nothing.
    public func diagnosis(waitMs: Int = 1000) -> String? {
        if errorPipe >= 0 {
            let deadline = Self.nowMs() + Int64(waitMs)
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let left = deadline - Self.nowMs()
                if left <= 0 { break }
                var p = pollfd(fd: errorPipe, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, Int32(left))
                if ready <= 0 { break }
                let n = chunk.withUnsafeMutableBytes { read(errorPipe, $0.baseAddress, $0.count) }
                if n <= 0 { break }  // ssh has ended: its stderr is closed
                if stderrText.count < 16_384 { stderrText += chunk[..<n] }
            }
        }
        let lines = String(decoding: stderrText, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        guard !lines.isEmpty else { return nil }
        let words = lines.suffix(3).joined(separator: "; ").filter { !$0.isASCII || $0 >= " " }
        return "ssh jump host \(jump): \(words.prefix(400))"
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's
    /// Glibc module does not import (it needs `_GNU_SOURCE`).
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
