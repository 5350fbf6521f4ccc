import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `sshd` (Debian openssh-server) on a free loopback port in a temporary directory,
/// with a host key and a client key made by `ssh-keygen`, for the `--ssh` jump-host tests.
/// `sshCommand` is the client side: `ssh -F CONFIG`, whose config names the host `jump`
/// (this port, this user, the test key) the way an operator's `~/.ssh/config` would.
/// sshd logs at DEBUG1, so `forwardedPorts` shows which ports were reached through it.
public final class SSHServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    private let process: ChildProcess
    public var configFile: String { directory + "/ssh_config" }
    public var clientKey: String { directory + "/client_key" }
    /// `SESSIONCTL_SSH_COMMAND` for the tests.
    public var sshCommand: String { "ssh -F \(configFile)" }
    public var user: String { String(cString: getpwuid(getuid()).pointee.pw_name) }

    public init() throws {
        guard let sshd = findExecutable("sshd") ?? ["/usr/sbin/sshd"].first(where: FileManager.default.isExecutableFile)
        else { throw HarnessError("sshd not found: install openssh-server (the README's test command does)") }
        guard let keygen = findExecutable("ssh-keygen") else {
            throw HarnessError("ssh-keygen not found: install openssh-client")
        }
        directory = try makeTemporaryDirectory("sessionctl-sshd")
        let d = directory
        for key in ["host_key", "client_key", "stranger_key"] {
            _ = try ChildProcess.output(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", key, "-f", "\(d)/\(key)"])
        }
        try FileManager.default.copyItem(atPath: "\(d)/client_key.pub", toPath: "\(d)/authorized_keys")
        // sshd run by root needs its privilege separation directory.
        if getuid() == 0 {
            try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        }
        var started: ChildProcess? = nil
        var chosen = 0
        for _ in 0..<3 {
            let p = freePort()
            try """
            Port \(p)
            ListenAddress 127.0.0.1
            HostKey \(d)/host_key
            PidFile \(d)/sshd.pid
            AuthorizedKeysFile \(d)/authorized_keys
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PubkeyAuthentication yes
            PermitRootLogin prohibit-password
            AllowTcpForwarding yes
            X11Forwarding no
            PrintMotd no
            LogLevel DEBUG1

            """.write(toFile: "\(d)/sshd_config", atomically: true, encoding: .utf8)
            let child = try ChildProcess(
                path: sshd, arguments: ["-D", "-e", "-f", "\(d)/sshd_config"],
                outputPath: "\(d)/sshd.out", errorPath: "\(d)/sshd.log")
            let deadline = Date().addingTimeInterval(10)
            var up = false
            while Date() < deadline && child.isRunning {
                if let fd = try? connectLoopback(port: p) {
                    Glibc.close(fd)
                    up = true
                    break
                }
                usleep(20_000)
            }
            if up {
                started = child
                chosen = p
                break
            }
            child.stop()
        }
        guard let started else {
            let log = (try? String(contentsOfFile: "\(d)/sshd.log", encoding: .utf8)) ?? ""
            throw HarnessError("sshd did not start: \(log.suffix(600))")
        }
        process = started
        port = chosen
        try """
        Host jump
          HostName 127.0.0.1
          Port \(port)
          User \(user)
        Host *
          IdentityFile \(d)/client_key
          IdentitiesOnly yes
          UserKnownHostsFile /dev/null
          GlobalKnownHostsFile /dev/null
          StrictHostKeyChecking no

        """.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    /// The ports sshd opened `direct-tcpip` channels to (one per `ssh -W`), in order.
    public var forwardedPorts: [Int] {
        let log = (try? String(contentsOfFile: directory + "/sshd.log", encoding: .utf8)) ?? ""
        return log.split(whereSeparator: \.isNewline).compactMap { line -> Int? in
            guard line.contains("server_request_direct_tcpip"), let r = line.range(of: "target 127.0.0.1 port ") else {
                return nil
            }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
    }

    /// Stops sshd (its keys and config stay, for a client that tries again).
    public func stop() { process.stop() }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
