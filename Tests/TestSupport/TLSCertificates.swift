import Foundation

/// Certificates made for a test with the `openssl` command line in a temporary directory: a
/// CA, a server certificate for `localhost` and `127.0.0.1` signed by it, a client
/// certificate, a server certificate that expired in 2020, and a second CA nobody trusts.
public final class TLSCertificates: @unchecked Sendable {
    public let directory: URL
    public var caFile: String { path("ca.crt") }
    public var serverCert: String { path("server.crt") }
    public var serverKey: String { path("server.key") }
    public var expiredCert: String { path("expired.crt") }
    public var clientCert: String { path("client.crt") }
    public var clientKey: String { path("client.key") }
    public var otherCAFile: String { path("other-ca.crt") }

    public init() throws {
        guard let openssl = findExecutable("openssl") else {
            throw HarnessError("openssl not found on PATH: install openssl (the README's test command does)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sessionctl-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let d = directory.path
        func run(_ args: [String]) throws { _ = try ChildProcess.output(openssl, args, timeout: 30) }
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n".write(
            toFile: "\(d)/san.ext", atomically: true, encoding: .utf8)
        for ca in ["ca", "other-ca"] {
            try run([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/\(ca).key", "-out", "\(d)/\(ca).crt",
                "-days", "2", "-subj", "/CN=sessionctl test \(ca)",
            ])
        }
        for (name, cn) in [("server", "localhost"), ("client", "sessionctl client")] {
            try run([
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr",
                "-subj", "/CN=\(cn)",
            ])
            try run([
                "x509", "-req", "-in", "\(d)/\(name).csr", "-CA", "\(d)/ca.crt", "-CAkey", "\(d)/ca.key",
                "-CAcreateserial", "-out", "\(d)/\(name).crt", "-days", "2", "-extfile", "\(d)/san.ext",
            ])
        }
        // Expired: `openssl ca` is the command that takes explicit dates.
        try FileManager.default.createDirectory(atPath: "\(d)/ca-db", withIntermediateDirectories: true)
        try "".write(toFile: "\(d)/ca-db/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: "\(d)/ca-db/serial", atomically: true, encoding: .utf8)
        let config = """
            [ca]
            default_ca = test
            [test]
            dir = \(d)/ca-db
            database = $dir/index.txt
            serial = $dir/serial
            new_certs_dir = $dir
            certificate = \(d)/ca.crt
            private_key = \(d)/ca.key
            default_md = sha256
            policy = any
            copy_extensions = none
            x509_extensions = ext
            [any]
            commonName = supplied
            [ext]
            subjectAltName = DNS:localhost,IP:127.0.0.1
            basicConstraints = CA:FALSE

            """
        try config.write(toFile: "\(d)/ca.cnf", atomically: true, encoding: .utf8)
        try run([
            "ca", "-batch", "-config", "\(d)/ca.cnf", "-in", "\(d)/server.csr", "-out", "\(d)/expired.crt",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext",
        ])
    }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// A redis-server with a plain port (for set-up and checks) and a TLS port.
public final class TLSRedisServer: @unchecked Sendable {
    public let server: RedisServer
    public let tlsPort: Int
    public var plainURL: String { server.urlString }
    public var tlsURL: String { "rediss://127.0.0.1:\(tlsPort)" }

    /// `clientCertificates`: the server requires a client certificate signed by the CA.
    public init(
        _ certs: TLSCertificates, cert: String? = nil, clientCertificates: Bool = false, password: String? = nil,
        config: [String] = []
    ) throws {
        tlsPort = freePort()
        server = try RedisServer(
            password: password,
            config: [
                "--tls-port", String(tlsPort), "--tls-cert-file", cert ?? certs.serverCert, "--tls-key-file",
                certs.serverKey, "--tls-ca-cert-file", certs.caFile, "--tls-auth-clients",
                clientCertificates ? "yes" : "no",
            ] + config)
    }
}

/// A loopback server that answers a TLS hello with the start of a handshake record and
/// then closes (`hangUp`) or goes silent: a truncated handshake.
public final class TruncatedTLSServer: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init(hangUp: Bool) throws {
        guard let (fd, port) = bindLoopbackEphemeral(), listen(fd, 4) == 0 else {
            throw HarnessError("cannot listen on loopback")
        }
        self.fd = fd
        self.port = port
        let listener = fd
        Thread.detachNewThread {
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                var hello = [UInt8](repeating: 0, count: 512)
                _ = read(c, &hello, hello.count)
                // A handshake record header announcing 64 bytes, and 3 of them.
                let partial: [UInt8] = [0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00]
                _ = partial.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
                if hangUp {
                    close(c)
                } else {
                    Thread.sleep(forTimeInterval: 30)
                    close(c)
                }
            }
        }
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
