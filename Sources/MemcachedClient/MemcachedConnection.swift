import DedicatedThread

#if canImport(Glibc)
    import Glibc
#endif

/// What went wrong talking to a memcached node. Messages never contain a password.
public enum MemcachedError: Error, CustomStringConvertible, Sendable, Equatable {
    case connection(node: String, message: String)
    case authentication(node: String, message: String)
    /// The node refused a command (`ERROR`, `CLIENT_ERROR`, `SERVER_ERROR`).
    case refused(node: String, message: String)
    /// The node said something this client cannot read.
    case protocolError(node: String, message: String)
    case usage(String)

    public var description: String {
        switch self {
        case .connection(let n, let m): return "\(n): \(m)"
        case .authentication(let n, let m): return "\(n): authentication failed: \(m)"
        case .refused(let n, let m): return "\(n): \(m)"
        case .protocolError(let n, let m): return "\(n): protocol error: \(m)"
        case .usage(let m): return m
        }
    }
}

/// One TCP connection to a memcached node speaking the text and meta protocol. Blocking and
/// not thread-safe: it lives inside a `MemcachedClient` actor (its own thread) or a watcher's
/// thread, never shared.
public final class MemcachedConnection {
    public let endpoint: MemcachedEndpoint
    private var fd: Int32 = -1
    /// The ssh process carrying the connection (`--ssh`), ended with it.
    private var tunnel: SSHTunnel?
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    /// Whether the node ever answered (a node that hangs up at once speaks another protocol).
    private var answered = false

    public struct Timeouts: Sendable {
        public var connectMs: Int
        /// 0: wait forever (a watch stream).
        public var commandMs: Int
        public init(connectMs: Int = 2000, commandMs: Int = 10_000) {
            self.connectMs = connectMs
            self.commandMs = commandMs
        }
    }

    /// Connects and, when the endpoint has credentials, logs in (ASCII auth, `-Y`).
    public init(endpoint: MemcachedEndpoint, timeouts: Timeouts = Timeouts()) throws(MemcachedError) {
        self.endpoint = endpoint
        buffer = [UInt8](repeating: 0, count: 1 << 18)
        (fd, tunnel) = try Self.connect(endpoint, timeouts: timeouts)
        if let user = endpoint.user {
            let token = Array("\(user) \(endpoint.password ?? "")".utf8)
            try write(Array("set sessionctl-auth 0 0 \(token.count)\r\n".utf8) + token + [13, 10])
            let reply = try readLine()
            guard reply.elementsEqual("STORED".utf8) else {
                close()
                // The reply never contains the password; it is cut and escaped anyway.
                throw .authentication(node: endpoint.nodeName, message: MetaProtocol.printable(reply))
            }
        }
    }

    deinit { close() }

    public var isOpen: Bool { fd >= 0 }
    /// The socket, for another thread to `shutdown` (ending a blocked read).
    public var fileDescriptor: Int32 { fd }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        tunnel?.terminate()
        tunnel = nil
    }

    private static func connect(_ e: MemcachedEndpoint, timeouts: Timeouts) throws(MemcachedError) -> (
        Int32, SSHTunnel?
    ) {
        do {
            return try TCPConnect.open(
                host: e.host, port: e.port, timeoutMs: timeouts.connectMs, ioTimeoutMs: timeouts.commandMs,
                via: e.jump)
        } catch {
            throw .connection(node: e.nodeName, message: error.message)
        }
    }

    /// Writes every byte (a pipelined batch is one write).
    public func write(_ bytes: [UInt8]) throws(MemcachedError) {
        guard fd >= 0 else { throw .connection(node: endpoint.nodeName, message: "connection closed") }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw failure("write failed") }
            off += n
        }
    }

    private func failure(_ what: String) -> MemcachedError {
        let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
        let reason = timedOut ? "timed out" : String(cString: strerror(errno))
        if !timedOut, let words = tunnel?.diagnosis(waitMs: 300) {
            close()
            return .connection(node: endpoint.nodeName, message: words)
        }
        close()
        return .connection(node: endpoint.nodeName, message: "\(what): \(reason)")
    }

    /// Reads more bytes into the buffer (compacting or growing it); false at end of stream.
    private func fill() throws(MemcachedError) {
        guard fd >= 0 else { throw .connection(node: endpoint.nodeName, message: "connection closed") }
        if start > 0 && start == end {
            start = 0
            end = 0
        } else if end == buffer.count {
            if start > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    guard let base = b.baseAddress else { return }
                    memmove(base, base + start, end - start)
                }
                end -= start
                start = 0
            } else {
                buffer += [UInt8](repeating: 0, count: buffer.count)
            }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { b in
                recv(fd, b.baseAddress.map { $0 + end }, b.count - end, 0)
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 {
                if let words = tunnel?.diagnosis(waitMs: 300) {
                    close()
                    throw .connection(node: endpoint.nodeName, message: words)
                }
                close()
                guard answered else {
                    throw .connection(
                        node: endpoint.nodeName,
                        message:
                            "the node closed the connection without a reply: a node with SASL (-S) speaks only the "
                            + "binary protocol, which has no metadump or watch; give sessionctl ASCII auth (-Y) instead"
                    )
                }
                throw .connection(node: endpoint.nodeName, message: "the node closed the connection")
            }
            if n < 0 { throw failure("read failed") }
            answered = true
            end += n
            return
        }
    }

    /// The next line without its `\n` or `\r\n`. Lines longer than `maxLine` are an error
    /// (a node never sends them; a stream that does is not memcached).
    public func readLine(maxLine: Int = 1 << 20) throws(MemcachedError) -> ArraySlice<UInt8> {
        var scanFrom = start
        while true {
            if let nl = buffer[scanFrom..<end].firstIndex(of: 10) {
                var lineEnd = nl
                if lineEnd > start && buffer[lineEnd - 1] == 13 { lineEnd -= 1 }
                let line = buffer[start..<lineEnd]
                start = nl + 1
                return line
            }
            if end - start > maxLine {
                close()
                throw .protocolError(node: endpoint.nodeName, message: "a reply line longer than \(maxLine) bytes")
            }
            let consumed = end - start
            try fill()
            scanFrom = start + consumed
        }
    }

    /// A whole line already buffered, or nil (a poll-driven reader asks before reading more).
    public func bufferedLine() -> ArraySlice<UInt8>? {
        guard let nl = buffer[start..<end].firstIndex(of: 10) else { return nil }
        var lineEnd = nl
        if lineEnd > start && buffer[lineEnd - 1] == 13 { lineEnd -= 1 }
        let line = buffer[start..<lineEnd]
        start = nl + 1
        return line
    }

    /// Reads what the socket has now (after `poll` said it is readable).
    public func fillOnce() throws(MemcachedError) { try fill() }

    /// Exactly `n` bytes followed by `\r\n`.
    public func readValue(_ n: Int) throws(MemcachedError) -> [UInt8] {
        if buffer.count - start < n + 2 {
            // Make room for the whole value after what is buffered.
            let pending = Array(buffer[start..<end])
            buffer = pending + [UInt8](repeating: 0, count: max(n + 2, buffer.count) - pending.count + 4096)
            start = 0
            end = pending.count
        }
        while end - start < n + 2 { try fill() }
        let value = Array(buffer[start..<(start + n)])
        guard buffer[start + n] == 13, buffer[start + n + 1] == 10 else {
            close()
            throw .protocolError(node: endpoint.nodeName, message: "a value not followed by CRLF")
        }
        start += n + 2
        return value
    }

    /// Sends one command and reads its single-line reply.
    public func simple(_ line: String) throws(MemcachedError) -> String {
        try write(Array((line + "\r\n").utf8))
        return String(decoding: try readLine(), as: UTF8.self)
    }

    /// `stats [group]`: the `STAT` lines up to `END`.
    public func stats(_ group: String = "") throws(MemcachedError) -> [String: String] {
        try write(Array((group.isEmpty ? "stats\r\n" : "stats \(group)\r\n").utf8))
        var lines: [ArraySlice<UInt8>] = []
        while true {
            let line = try readLine()
            if line.elementsEqual("END".utf8) { break }
            if line.starts(with: "ERROR".utf8) || line.starts(with: "CLIENT_ERROR".utf8)
                || line.starts(with: "SERVER_ERROR".utf8)
            {
                throw .refused(node: endpoint.nodeName, message: MetaProtocol.printable(line))
            }
            lines.append(line)
        }
        return MetaProtocol.stats(lines)
    }
}
