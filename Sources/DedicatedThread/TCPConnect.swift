#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection made within a time limit, each resolved address in turn: the one
/// connect the clients that run their own sockets share (memcached, TLS to Redis).
public enum TCPConnect {
    public struct Failure: Error, Sendable {
        /// "cannot resolve HOST: …" or "cannot connect: …".
        public var message: String
    }

    /// A blocking socket with `TCP_NODELAY` and `SO_KEEPALIVE` (a watch connection may stay
    /// silent for hours: the kernel notices a dead peer), and read/write timeouts of
    /// `ioTimeoutMs` when positive.
    public static func open(host: String, port: Int, timeoutMs: Int, ioTimeoutMs: Int = 0) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw Failure(message: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let s = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if s < 0 { continue }
            let flags = fcntl(s, F_GETFL, 0)
            _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
            var r = Glibc.connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&p, 1, Int32(max(1, timeoutMs)))
                if ready == 1 {
                    var err: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len)
                    r = err == 0 ? 0 : -1
                    if err != 0 { errno = err }
                } else {
                    r = -1
                    if ready == 0 { errno = ETIMEDOUT }
                }
            }
            if r != 0 {
                lastError = String(cString: strerror(errno))
                Glibc.close(s)
                continue
            }
            _ = fcntl(s, F_SETFL, flags)
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            if ioTimeoutMs > 0 { setTimeouts(s, ms: ioTimeoutMs) }
            return s
        }
        throw Failure(message: "cannot connect: \(lastError)")
    }

    /// A connection to `host:port`, directly or through a jump host (`via`): the socket,
    /// and the tunnel its owner terminates after closing it.
    public static func open(host: String, port: Int, timeoutMs: Int, ioTimeoutMs: Int = 0, via jump: JumpHost?)
        throws(Failure) -> (fd: Int32, tunnel: SSHTunnel?)
    {
        guard let jump else {
            return (try open(host: host, port: port, timeoutMs: timeoutMs, ioTimeoutMs: ioTimeoutMs), nil)
        }
        let tunnel: SSHTunnel
        do { tunnel = try SSHTunnel(jump: jump, host: host, port: port, connectTimeoutMs: timeoutMs) } catch {
            throw Failure(message: error.message)
        }
        if ioTimeoutMs > 0 { setTimeouts(tunnel.fd, ms: ioTimeoutMs) }
        return (tunnel.fd, tunnel)
    }

    /// Read and write timeouts (`SO_RCVTIMEO`, `SO_SNDTIMEO`); 0 waits for ever.
    public static func setTimeouts(_ s: Int32, ms: Int) {
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
