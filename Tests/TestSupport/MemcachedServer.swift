import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `memcached` on a free loopback port, stopped when released.
public final class MemcachedServer: @unchecked Sendable {
    public private(set) var port: Int
    private var process: ChildProcess
    private var arguments: [String]
    private let binary: String
    public let directory: String
    private var environment: [String: String] = [:]

    public var address: String { "127.0.0.1:\(port)" }
    public var urlString: String { "memcached://127.0.0.1:\(port)" }

    /// Starts a node; `options` are extra command-line flags (`-X`, `-o no_lru_crawler`).
    /// `asciiAuth` turns on ASCII auth (`-Y`) with these `user:password` lines; `sasl` turns
    /// on SASL (`-S`, binary protocol only) with a user made by `saslpasswd2`.
    public init(
        memoryMB: Int = 64, options: [String] = [], asciiAuth: [String]? = nil, sasl: Bool = false
    ) throws {
        guard
            let binary = findExecutable("memcached")
                ?? ["/usr/bin/memcached"].first(where: {
                    FileManager.default.isExecutableFile(atPath: $0)
                })
        else {
            throw HarnessError("memcached not found on PATH: install memcached (the README's test command does)")
        }
        self.binary = binary
        directory = try makeTemporaryDirectory("sessionctl-memcached")
        port = freePort()
        var args = ["-p", String(port), "-l", "127.0.0.1", "-U", "0", "-m", String(memoryMB), "-t", "2"]
        // memcached refuses to run as root without a user to switch to.
        if getuid() == 0 { args += ["-u", "root"] }
        if let asciiAuth {
            try (asciiAuth.joined(separator: "\n") + "\n").write(
                toFile: directory + "/auth", atomically: true, encoding: .utf8)
            args += ["-Y", directory + "/auth"]
        }
        var environment = ProcessInfo.processInfo.environment
        if sasl {
            guard
                let saslpasswd = findExecutable("saslpasswd2")
                    ?? ["/usr/sbin/saslpasswd2"].first(where: {
                        FileManager.default.isExecutableFile(atPath: $0)
                    })
            else {
                throw HarnessError("saslpasswd2 not found: install sasl2-bin (the README's test command does)")
            }
            try "mech_list: plain\nsasldb_path: \(directory)/sasldb2\n".write(
                toFile: directory + "/memcached.conf", atomically: true, encoding: .utf8)
            try "secret\n".write(toFile: directory + "/pw", atomically: true, encoding: .utf8)
            let p = try ChildProcess(
                path: saslpasswd, arguments: ["-a", "memcached", "-c", "-p", "-f", directory + "/sasldb2", "ops"],
                stdinPath: directory + "/pw")
            guard p.wait(seconds: 10), p.exitCode == 0 else { throw HarnessError("saslpasswd2 failed") }
            environment["SASL_CONF_PATH"] = directory
            args += ["-S"]
        }
        self.environment = environment
        args += options
        arguments = args
        process = try ChildProcess(
            path: binary, arguments: args, environment: environment, outputPath: directory + "/memcached.log")
        var attempt = 0
        while true {
            do {
                try waitUntilReady()
                break
            } catch {
                attempt += 1
                guard attempt < 3, !process.isRunning else { throw error }
                port = freePort()
                arguments[1] = String(port)
                process = try ChildProcess(
                    path: binary, arguments: arguments, environment: environment,
                    outputPath: directory + "/memcached.log")
            }
        }
    }

    private var sasl: Bool { arguments.contains("-S") }

    private func waitUntilReady() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !process.isRunning {
                let log = (try? String(contentsOfFile: directory + "/memcached.log", encoding: .utf8)) ?? ""
                throw HarnessError("memcached exited at start (port \(port)): \(log.suffix(400))")
            }
            // Any answer will do (a node with ASCII auth answers CLIENT_ERROR before login).
            if let reply = try? command("version"), !reply.isEmpty { return }
            // A SASL node hangs up on text commands: that it accepts a connection is enough.
            if sasl, (try? connectLoopback(port: port)).map({ close($0) }) != nil { return }
            usleep(20_000)
        }
        throw HarnessError("memcached did not answer within 10 s (port \(port))")
    }

    /// Sends raw protocol text and returns what the node answered up to `until` (a line that
    /// ends the reply: `END`, `STORED`...), or the first line.
    @discardableResult
    public func command(_ text: String, until terminator: String? = nil) throws -> String {
        let fd = try connectLoopback(port: port, receiveTimeoutSeconds: 5)
        defer { close(fd) }
        send(fd, text.hasSuffix("\r\n") ? text : text + "\r\n")
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
            let s = String(decoding: out, as: UTF8.self)
            if let terminator {
                if s.hasSuffix(terminator + "\r\n") { break }
            } else if s.hasSuffix("\r\n") {
                break
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Stores raw bytes under a key (any bytes: the key goes base64 with the meta `b` flag).
    public func set(key: [UInt8], value: [UInt8], flags: UInt32 = 0, ttl: Int = 0) throws {
        let b64 = Data(key).base64EncodedString()
        let fd = try connectLoopback(port: port, receiveTimeoutSeconds: 5)
        defer { close(fd) }
        var msg = Array("ms \(b64) \(value.count) T\(ttl) F\(flags) b\r\n".utf8)
        msg += value + [13, 10]
        var off = 0
        while off < msg.count {
            let n = msg[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { throw HarnessError("write to memcached failed") }
            off += n
        }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buf, buf.count)
        let reply = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        guard reply.hasPrefix("HD") else { throw HarnessError("memcached did not store the key: \(reply)") }
    }

    public func set(_ key: String, _ value: [UInt8], flags: UInt32 = 0, ttl: Int = 0) throws {
        try set(key: Array(key.utf8), value: value, flags: flags, ttl: ttl)
    }

    /// Stores many items in one pipelined write (`ms ... q`, then `mn`).
    public func setMany(_ items: [(key: String, value: [UInt8])], ttl: Int = 0) throws {
        let fd = try connectLoopback(port: port, receiveTimeoutSeconds: 30)
        defer { close(fd) }
        var msg: [UInt8] = []
        for (key, value) in items {
            msg += Array("ms \(key) \(value.count) T\(ttl) q\r\n".utf8) + value + [13, 10]
        }
        msg += Array("mn\r\n".utf8)
        var off = 0
        while off < msg.count {
            let n = msg[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { throw HarnessError("write to memcached failed") }
            off += n
        }
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: reply, as: UTF8.self).hasSuffix("MN\r\n") {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { throw HarnessError("memcached did not finish the bulk set") }
            reply += buf[0..<n]
        }
        guard String(decoding: reply, as: UTF8.self) == "MN\r\n" else {
            throw HarnessError("memcached refused some items: \(String(decoding: reply.prefix(200), as: UTF8.self))")
        }
    }

    /// Whether a key is there (read without touching it).
    public func has(_ key: String) throws -> Bool {
        try command("mg \(key) u").hasPrefix("HD")
    }

    public func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills the node hard; `restart()` brings it back (empty) on the same port.
    /// Stops the process (SIGSTOP): connections stay open, nothing answers.
    public func pause() { process.signal(SIGSTOP) }
    public func resume() { process.signal(SIGCONT) }

    public func kill() {
        process.signal(SIGKILL)
        process.wait(seconds: 5)
    }

    public func restart() throws {
        kill()
        process = try ChildProcess(
            path: binary, arguments: arguments, environment: environment, outputPath: directory + "/memcached.log")
        try waitUntilReady()
    }

    deinit { stop() }
}
