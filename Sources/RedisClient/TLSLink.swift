import CHiredis
import COpenSSL
import DedicatedThread

#if canImport(Glibc)
    import Glibc
#endif

/// TLS settings of a Redis connection: `rediss://`, or `--tls` with the flags named like
/// redis-cli's. The peer is verified against the system's trust store (or `caFile` /
/// `caDir`) and its name (DNS or IP SAN) unless `insecure`.
public struct TLSOptions: Sendable, Equatable {
    public var caFile: String?
    public var caDir: String?
    public var certFile: String?
    public var keyFile: String?
    /// The name sent as SNI and checked in the certificate (default: the host connected to).
    public var serverName: String?
    /// Skip every verification (`--insecure`).
    public var insecure: Bool

    public init(
        caFile: String? = nil, caDir: String? = nil, certFile: String? = nil, keyFile: String? = nil,
        serverName: String? = nil, insecure: Bool = false
    ) {
        self.caFile = caFile
        self.caDir = caDir
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.insecure = insecure
    }
}

/// One TLS connection to a Redis node. hiredis 0.14 has no TLS, so this side runs the
/// session with OpenSSL and hands the decrypted bytes to hiredis' RESP reader: replies are
/// parsed by the same code as on plain connections. Blocking, with the connect timeout on
/// the TCP connect and the handshake and the command timeout on every read and write
/// (`SO_RCVTIMEO`/`SO_SNDTIMEO`). Like a `redisContext`, never shared between threads.
final class TLSLink {
    let fd: Int32
    private let ctx: OpaquePointer
    private let ssl: OpaquePointer
    private let reader: UnsafeMutablePointer<redisReader>
    private var out: [UInt8] = []
    private let node: String
    private let commandMs: Int
    private var closed = false
    /// The ssh process carrying the connection (`--ssh`), ended with it.
    private let tunnel: SSHTunnel?

    init(
        host: String, port: Int, options: TLSOptions, connectMs: Int, commandMs: Int, node: String,
        via jump: JumpHost? = nil
    ) throws(RedisError) {
        self.node = node
        self.commandMs = commandMs
        let deadline = TLSLink.nowMs() + Int64(max(1, connectMs))
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw RedisError.connection(node: node, message: "TLS: cannot create a context")
        }
        _ = cos_set_min_tls12(ctx)
        do {
            try TLSLink.configure(ctx, options, node: node)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        let sock: Int32
        do {
            (sock, tunnel) = try TCPConnect.open(host: host, port: port, timeoutMs: max(1, connectMs), via: jump)
        } catch {
            SSL_CTX_free(ctx)
            throw RedisError.connection(node: node, message: error.message)
        }
        guard let ssl = SSL_new(ctx), let reader = redisReaderCreate() else {
            Glibc.close(sock)
            tunnel?.terminate()
            SSL_CTX_free(ctx)
            throw RedisError.connection(node: node, message: "TLS: cannot create a session")
        }
        self.ctx = ctx
        self.ssl = ssl
        self.reader = reader
        fd = sock
        _ = SSL_set_fd(ssl, sock)
        let name = options.serverName ?? host
        let isIP = TLSLink.isIPAddress(name)
        if !isIP { _ = cos_set_sni(ssl, name) }
        if !options.insecure {
            SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
            if isIP {
                _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
            } else {
                _ = SSL_set1_host(ssl, name)
            }
        }
        // The handshake is bounded by what is left of the connect timeout.
        TCPConnect.setTimeouts(sock, ms: Int(max(1, deadline - TLSLink.nowMs())))
        ERR_clear_error()
        errno = 0
        if SSL_connect(ssl) != 1 {
            let message = tunnel?.diagnosis() ?? describeHandshakeFailure(name: name, connectMs: connectMs)
            close()
            throw RedisError.connection(node: node, message: message)
        }
        TCPConnect.setTimeouts(sock, ms: commandMs)
    }

    deinit {
        close()
        readBuffer?.deallocate()
    }

    func close() {
        guard !closed else { return }
        closed = true
        SSL_free(ssl)
        SSL_CTX_free(ctx)
        redisReaderFree(reader)
        Glibc.close(fd)
        tunnel?.terminate()
    }

    // MARK: - Bytes in and out

    /// Queues RESP bytes; `flush` writes them.
    func append(_ bytes: [UInt8]) { out += bytes }

    var hasOutput: Bool { !out.isEmpty }

    /// Decrypted bytes OpenSSL holds that `poll` on the socket cannot see.
    var hasPendingInput: Bool { !closed && SSL_pending(ssl) > 0 }

    func flush() throws(RedisError) {
        var sent = 0
        while sent < out.count {
            ERR_clear_error()
            errno = 0
            let n = out.withUnsafeBytes { p -> Int32 in
                guard let base = p.baseAddress else { return 0 }
                return SSL_write(ssl, base + sent, Int32(min(p.count - sent, 1 << 20)))
            }
            if n <= 0 { throw ioError(n, writing: true) }
            sent += Int(n)
        }
        out.removeAll(keepingCapacity: out.count < 1 << 20)
    }

    /// A reply already parsed, if any (the caller frees it with `freeReplyObject`).
    func bufferedReply() throws(RedisError) -> UnsafeMutableRawPointer? {
        var raw: UnsafeMutableRawPointer? = nil
        if redisReaderGetReply(reader, &raw) != REDIS_OK {
            throw RedisError.protocolViolation("unreadable reply from \(node) over TLS")
        }
        return raw
    }

    /// The next reply, reading (and blocking, up to the command timeout) as needed.
    func readReply() throws(RedisError) -> UnsafeMutableRawPointer {
        if hasOutput { try flush() }
        while true {
            if let raw = try bufferedReply() { return raw }
            try fillBuffer()
        }
    }

    /// Reads what the connection has (one record at least), then whatever OpenSSL decrypted.
    func fillBuffer() throws(RedisError) {
        let buffer = readBuffer ?? UnsafeMutableRawPointer.allocate(byteCount: TLSLink.readBufferSize, alignment: 16)
        readBuffer = buffer
        repeat {
            ERR_clear_error()
            errno = 0
            let n = SSL_read(ssl, buffer, Int32(TLSLink.readBufferSize))
            if n <= 0 { throw ioError(n, writing: false) }
            if redisReaderFeed(reader, buffer.assumingMemoryBound(to: CChar.self), Int(n)) != REDIS_OK {
                throw RedisError.protocolViolation("unreadable reply from \(node) over TLS")
            }
        } while SSL_pending(ssl) > 0
    }

    /// One buffer for the connection's life (a listing reads hundreds of MB through it).
    private static let readBufferSize = 64 * 1024
    private var readBuffer: UnsafeMutableRawPointer?

    // MARK: - Errors in words

    private func ioError(_ result: Int32, writing: Bool) -> RedisError {
        let code = SSL_get_error(ssl, result)
        let savedErrno = errno
        var text = TLSLink.errorText()
        if writing && !closed {
            // TLS 1.3 checks a client certificate after the handshake: the server's alert
            // is waiting to be read while the write sees only a reset. Read it for its words.
            var b = [UInt8](repeating: 0, count: 64)
            ERR_clear_error()
            _ = b.withUnsafeMutableBytes { p in SSL_read(ssl, p.baseAddress, Int32(p.count)) }
            let alert = TLSLink.errorText()
            if !alert.isEmpty { text = alert }
        }
        let tunnelWords = tunnel?.diagnosis(waitMs: 300)
        close()
        if let tunnelWords { return .connection(node: node, message: tunnelWords) }
        if code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && savedErrno == 0 && text.isEmpty) {
            return .connection(node: node, message: "Server closed the connection")
        }
        if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK {
            let secs = commandMs % 1000 == 0 ? "\(commandMs / 1000) s" : "\(commandMs) ms"
            return .connection(
                node: node,
                message: "\(RedisError.timeoutPrefix): no answer within \(secs) "
                    + "(the server is busy or stopped; --timeout sets the wait)")
        }
        if text.contains("certificate required") {
            return .connection(
                node: node, message: "TLS: the server requires a client certificate (give --cert FILE --key FILE)")
        }
        return .connection(
            node: node,
            message: "TLS \(writing ? "write" : "read") failed: "
                + (text.isEmpty ? String(cString: strerror(savedErrno)) : text))
    }

    /// What went wrong in a handshake, in the operator's terms.
    private func describeHandshakeFailure(name: String, connectMs: Int) -> String {
        let savedErrno = errno
        let verify = SSL_get_verify_result(ssl)
        let text = TLSLink.errorText()
        if verify != X509_V_OK {
            switch Int32(verify) {
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
                X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
                return "TLS: the server's certificate is signed by an unknown CA "
                    + "(--cacert FILE trusts a CA; --insecure skips verification)"
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
                return "TLS: the server's certificate does not name '\(name)' "
                    + "(--sni NAME checks another name; --insecure skips verification)"
            case X509_V_ERR_CERT_HAS_EXPIRED:
                return "TLS: the server's certificate has expired"
            case X509_V_ERR_CERT_NOT_YET_VALID:
                return "TLS: the server's certificate is not valid yet"
            default:
                return "TLS: the server's certificate was rejected: "
                    + String(cString: X509_verify_cert_error_string(verify))
            }
        }
        if text.contains("wrong version number") || text.contains("packet length too long")
            || text.contains("record layer failure")
        {
            return "TLS: the server did not answer in TLS (a plain TCP port? use redis:// without --tls)"
        }
        if text.contains("certificate required") || text.contains("handshake failure") && text.contains("alert") {
            return
                "TLS: the server refused the handshake (does it require a client certificate? --cert FILE --key FILE)"
        }
        if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK {
            // A plain Redis port waits for the end of a line that a TLS hello never sends.
            let secs = connectMs % 1000 == 0 ? "\(connectMs / 1000) s" : "\(connectMs) ms"
            return "TLS: no handshake within \(secs): the server did not answer in TLS "
                + "(a plain TCP port? use redis:// without --tls; --connect-timeout sets the wait)"
        }
        if text.isEmpty || text.contains("unexpected eof") {
            return "TLS: the server closed the connection during the handshake"
                + (savedErrno != 0 ? " (\(String(cString: strerror(savedErrno))))" : "")
        }
        return "TLS handshake failed: \(text)"
    }

    static func errorText() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        cos_error_text(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Setup

    private static func configure(_ ctx: OpaquePointer, _ o: TLSOptions, node: String) throws(RedisError) {
        if o.caFile != nil || o.caDir != nil {
            if SSL_CTX_load_verify_locations(ctx, o.caFile, o.caDir) != 1 {
                throw RedisError.connection(
                    node: node,
                    message:
                        "TLS: cannot load the CA \(o.caFile.map { "file \($0)" } ?? "directory \(o.caDir ?? "")"): "
                        + errorText())
            }
        } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
            throw RedisError.connection(node: node, message: "TLS: cannot load the system trust store: \(errorText())")
        }
        if let cert = o.certFile {
            guard let key = o.keyFile else {
                throw RedisError.connection(
                    node: node, message: "TLS: --cert needs --key (the certificate's private key)")
            }
            if SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 {
                throw RedisError.connection(
                    node: node, message: "TLS: cannot load the client certificate \(cert): \(errorText())")
            }
            if SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 {
                throw RedisError.connection(
                    node: node, message: "TLS: cannot load the private key \(key): \(errorText())")
            }
            if SSL_CTX_check_private_key(ctx) != 1 {
                throw RedisError.connection(
                    node: node, message: "TLS: the key \(key) does not match the certificate \(cert)")
            }
        } else if o.keyFile != nil {
            throw RedisError.connection(node: node, message: "TLS: --key needs --cert")
        }
    }

    static func isIPAddress(_ s: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
