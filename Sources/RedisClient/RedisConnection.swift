import CHiredis
import DedicatedThread

#if canImport(Glibc)
    import Glibc
#endif

/// One hiredis connection. Blocking and not thread-safe, like the `redisContext` it wraps:
/// it lives inside a `RedisClient` actor (which runs on its own thread) or a subscriber's
/// thread, never shared.
public final class RedisConnection {
    public let url: RedisURL
    private var ctx: UnsafeMutablePointer<redisContext>?
    /// A TLS connection (`rediss://`): bytes go through OpenSSL, replies through hiredis'
    /// reader; `ctx` stays nil.
    private var tls: TLSLink?
    /// The ssh process carrying a plain connection (`--ssh`), ended with it.
    private var tunnel: SSHTunnel?
    private let commandMs: Int
    /// Whether the node ever answered here (a TLS port hangs up before any answer).
    private var answered = false

    public struct Timeouts: Sendable {
        public var connectMs: Int
        public var commandMs: Int
        public init(connectMs: Int = 2000, commandMs: Int = 10_000) {
            self.connectMs = connectMs
            self.commandMs = commandMs
        }
    }

    /// Connects, sets the command timeout, authenticates and selects the database. A
    /// Sentinel URL is resolved first (the master, or a replica when asked) and the node's
    /// `ROLE` checked: the master a failover demoted is refused, so a retry finds the new one.
    public init(url: RedisURL, timeouts: Timeouts = Timeouts(), fallbackPassword: String? = nil) throws(RedisError) {
        self.url = url
        commandMs = timeouts.commandMs
        var target = url
        var expectedRole: String? = nil
        if let set = url.sentinel {
            let (a, role) = try Sentinel.target(set, base: url, timeouts: timeouts)
            target = url.member(host: a.host, port: a.port)
            expectedRole = role
        }
        address = target.nodeName
        let node = url.sentinel == nil ? url.nodeName : "\(url.nodeName) at \(target.nodeName)"
        if let options = target.tls, case .tcp(let host, let port) = target.endpoint {
            tls = try TLSLink(
                host: host, port: port, options: options, connectMs: timeouts.connectMs,
                commandMs: timeouts.commandMs, node: node, via: target.jump)
        } else if let jump = target.jump {
            guard case .tcp(let host, let port) = target.endpoint else {
                throw RedisError.connection(node: node, message: "--ssh carries TCP connections, not unix sockets")
            }
            try connectThrough(jump, host: host, port: port, timeouts: timeouts)
        } else {
            let tv = chr_timeval_ms(timeouts.connectMs)
            let c: UnsafeMutablePointer<redisContext>?
            switch target.endpoint {
            case .tcp(let host, let port): c = redisConnectWithTimeout(host, Int32(port), tv)
            case .unix(let path): c = redisConnectUnixWithTimeout(path, tv)
            case .sentinel: throw RedisError.connection(node: node, message: "Sentinel named no address")
            }
            guard let c else { throw RedisError.connection(node: node, message: "cannot allocate a connection") }
            ctx = c
            if c.pointee.err != 0 {
                let msg = RedisConnection.errorString(c)
                redisFree(c)
                ctx = nil
                throw RedisError.connection(node: node, message: "cannot connect: \(msg)")
            }
            if timeouts.commandMs > 0 { _ = redisSetTimeout(c, chr_timeval_ms(timeouts.commandMs)) }
        }
        if let password = url.password ?? fallbackPassword {
            var auth = RedisCommand("AUTH")
            if let user = url.user { auth.args.append(Array(user.utf8)) }
            auth.args.append(Array(password.utf8))
            let reply = try send([auth])[0]
            if let m = reply.errorMessage {
                close()
                // Never echo the password: the server's message does not contain it.
                throw RedisError.authentication(node: node, message: m)
            }
        }
        if url.db != 0 {
            let reply = try send([RedisCommand("SELECT", url.db)])[0]
            if let m = reply.errorMessage {
                close()
                throw RedisError.connection(node: node, message: "cannot select database \(url.db): \(m)")
            }
        }
        if expectedRole == "master" {
            // A user without ROLE (an ACL viewer) skips the check: the Sentinel's word stands.
            let role = try send([RedisCommand("ROLE")])[0]
            if let first = role.array?.first?.text, first != "master" {
                close()
                throw RedisError.connection(
                    node: node,
                    message: "Sentinel named it master but it is a \(first == "slave" ? "replica" : first) "
                        + "(a failover under way?)")
            }
        }
    }

    /// `host:port` (or the socket) this connection reached: for a Sentinel URL, the node
    /// the sentinels named when it connected.
    public let address: String

    /// A plain connection carried by `ssh -W`: hiredis gets the socket pair's end. A PING
    /// within the connect timeout proves the tunnel, so a broken one fails here in ssh's words.
    private func connectThrough(_ jump: JumpHost, host: String, port: Int, timeouts: Timeouts) throws(RedisError) {
        let link: SSHTunnel
        do { link = try SSHTunnel(jump: jump, host: host, port: port, connectTimeoutMs: timeouts.connectMs) } catch {
            throw RedisError.connection(node: url.nodeName, message: error.message)
        }
        tunnel = link
        guard let c = redisConnectFd(link.fd) else {
            Glibc.close(link.fd)
            link.terminate()
            tunnel = nil
            throw RedisError.connection(node: url.nodeName, message: "cannot allocate a connection")
        }
        ctx = c
        _ = redisSetTimeout(c, chr_timeval_ms(max(1, timeouts.connectMs) + 2000))
        let probe = try send([RedisCommand("PING")])[0]
        if case .error(let m) = probe, !m.hasPrefix("NOAUTH") {
            close()
            throw RedisError.connection(node: url.nodeName, message: m)
        }
        _ = redisSetTimeout(c, chr_timeval_ms(timeouts.commandMs > 0 ? timeouts.commandMs : 0))
    }

    deinit { close() }

    public var isOpen: Bool { ctx != nil || tls != nil }

    /// The socket, for `poll`; -1 when closed.
    public var fileDescriptor: Int32 { tls?.fd ?? ctx.map { $0.pointee.fd } ?? -1 }

    /// Input already received but not visible to `poll` on the socket (TLS records that
    /// OpenSSL decrypted ahead): read it with `fillBuffer` before sleeping in `poll`.
    public var hasPendingInput: Bool { tls?.hasPendingInput ?? false }

    public func close() {
        if let c = ctx { redisFree(c) }
        ctx = nil
        tls?.close()
        tls = nil
        tunnel?.terminate()
        tunnel = nil
    }

    /// Sends the commands in one write and reads their replies in order (pipelining).
    /// A connection error closes the connection; error replies are returned as `.error`.
    public func send(_ commands: [RedisCommand]) throws(RedisError) -> [RedisReply] {
        try append(commands)
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands.indices { replies.append(try readReply()) }
        return replies
    }

    /// Queues commands in hiredis' output buffer (written by the next read). The whole
    /// batch is formatted as RESP into one buffer and handed over in one call.
    public func append(_ commands: [RedisCommand]) throws(RedisError) {
        var buf: [UInt8] = []
        buf.reserveCapacity(commands.count * 64)
        for command in commands { RedisConnection.formatRESP(command, into: &buf) }
        if let tls {
            tls.append(buf)
            return
        }
        guard let c = ctx else { throw RedisError.connection(node: url.nodeName, message: "not connected") }
        let rc = buf.withUnsafeBufferPointer { p -> Int32 in
            guard let base = p.baseAddress else { return REDIS_OK }
            return base.withMemoryRebound(to: CChar.self, capacity: p.count) {
                redisAppendFormattedCommand(c, $0, p.count)
            }
        }
        if rc != REDIS_OK { throw fail() }
    }

    /// RESP2 multibulk request: `*N\r\n` then `$len\r\narg\r\n` per argument.
    static func formatRESP(_ command: RedisCommand, into buf: inout [UInt8]) {
        func decimal(_ n: Int) {
            if n < 10 {
                buf.append(0x30 + UInt8(n))
                return
            }
            var div = 1
            while div <= n / 10 { div *= 10 }
            var rest = n
            while div > 0 {
                buf.append(0x30 + UInt8(rest / div))
                rest %= div
                div /= 10
            }
        }
        buf.append(UInt8(ascii: "*"))
        decimal(command.args.count)
        buf.append(0x0D)
        buf.append(0x0A)
        for a in command.args {
            buf.append(UInt8(ascii: "$"))
            decimal(a.count)
            buf.append(0x0D)
            buf.append(0x0A)
            buf.append(contentsOf: a)
            buf.append(0x0D)
            buf.append(0x0A)
        }
    }

    /// Reads one reply, blocking (up to the command timeout).
    public func readReply() throws(RedisError) -> RedisReply {
        if let link = tls {
            let r: UnsafeMutableRawPointer
            do { r = try link.readReply() } catch {
                tls = nil
                throw error
            }
            defer { freeReplyObject(r) }
            return RedisConnection.convert(r.assumingMemoryBound(to: redisReply.self))
        }
        guard let c = ctx else { throw RedisError.connection(node: url.nodeName, message: "not connected") }
        var raw: UnsafeMutableRawPointer? = nil
        if redisGetReply(c, &raw) != REDIS_OK { throw fail() }
        guard let r = raw else { throw fail() }
        answered = true
        defer { freeReplyObject(r) }
        return RedisConnection.convert(r.assumingMemoryBound(to: redisReply.self))
    }

    /// A reply already parsed from the input buffer, without reading the socket.
    public func bufferedReply() throws(RedisError) -> RedisReply? {
        if let link = tls {
            guard let r = try link.bufferedReply() else { return nil }
            defer { freeReplyObject(r) }
            return RedisConnection.convert(r.assumingMemoryBound(to: redisReply.self))
        }
        guard let c = ctx else { throw RedisError.connection(node: url.nodeName, message: "not connected") }
        var raw: UnsafeMutableRawPointer? = nil
        if redisGetReplyFromReader(c, &raw) != REDIS_OK { throw fail() }
        guard let r = raw else { return nil }
        answered = true
        defer { freeReplyObject(r) }
        return RedisConnection.convert(r.assumingMemoryBound(to: redisReply.self))
    }

    /// Reads what the socket has into the input buffer (call when `poll` says readable).
    public func fillBuffer() throws(RedisError) {
        if let link = tls {
            do { try link.fillBuffer() } catch {
                tls = nil
                throw error
            }
            return
        }
        guard let c = ctx else { throw RedisError.connection(node: url.nodeName, message: "not connected") }
        if redisBufferRead(c) != REDIS_OK { throw fail() }
    }

    /// Writes the output buffer (for subscribers, which never read right after writing).
    public func flush() throws(RedisError) {
        if let link = tls {
            do { try link.flush() } catch {
                tls = nil
                throw error
            }
            return
        }
        guard let c = ctx else { throw RedisError.connection(node: url.nodeName, message: "not connected") }
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(c, &done) != REDIS_OK { throw fail() }
        }
    }

    private func fail() -> RedisError {
        guard let c = ctx else { return RedisError.connection(node: url.nodeName, message: "not connected") }
        let message = RedisConnection.errorString(c)
        let timedOut = c.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
        let tunnelWords = timedOut ? nil : tunnel?.diagnosis(waitMs: 300)
        // After an I/O error or a timeout the context cannot be reused.
        close()
        if let tunnelWords { return RedisError.connection(node: url.nodeName, message: tunnelWords) }
        if timedOut {
            return RedisError.connection(
                node: url.nodeName,
                message: "\(RedisError.timeoutPrefix): no answer within \(Self.duration(commandMs)) "
                    + "(the server is busy or stopped; --timeout sets the wait)")
        }
        // A TLS port closes on the plain bytes of the first command (not after answering),
        // or answers them with a TLS alert record (0x15).
        var hint = ""
        if !answered && (message == "Server closed the connection" || message == "Connection reset by peer") {
            hint = " (if the port speaks TLS: rediss://, sessionds:// or --tls)"
        } else if !answered && message.hasPrefix("Protocol error") && message.contains("\\x15") {
            hint = " (the port speaks TLS: rediss://, sessionds:// or --tls)"
        }
        return RedisError.connection(
            node: url.nodeName, message: (message.isEmpty ? "connection lost" : message) + hint)
    }

    private static func duration(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    private static func errorString(_ c: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafePointer(to: &c.pointee.errstr) { p in
            p.withMemoryRebound(to: CChar.self, capacity: 128) { String(cString: $0) }
        }
    }

    static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            guard let s = reply.str, reply.len > 0 else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: s, count: Int(reply.len))))
        case REDIS_REPLY_STATUS, REDIS_REPLY_ERROR:
            let text: String
            if let s = reply.str {
                text = String(decoding: UnsafeRawBufferPointer(start: s, count: Int(reply.len)), as: UTF8.self)
            } else {
                text = ""
            }
            return reply.type == REDIS_REPLY_STATUS ? .status(text) : .error(text)
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(reply.elements))
            if let el = reply.element {
                for k in 0..<Int(reply.elements) {
                    if let child = el[k] { items.append(convert(child)) } else { items.append(.null) }
                }
            }
            return .array(items)
        default:
            return .null
        }
    }
}
