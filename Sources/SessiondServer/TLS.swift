import NIOCore
import NIOSSL

/// sessiond's TLS (`--tls-cert`, `--tls-key`, `--tls-ca`, `--tls-auth-clients`): the port
/// speaks TLS only, and members talk to each other over TLS with the same certificate
/// (presented as a client certificate when members require one), verifying each other
/// against `caFile` (the system's trust store without it) and by name or IP address.
public struct SessiondTLS: Sendable {
    public var certFile: String
    public var keyFile: String
    public var caFile: String?
    /// Clients must present a certificate signed by `caFile`.
    public var requireClientCertificate: Bool

    public init(certFile: String, keyFile: String, caFile: String? = nil, requireClientCertificate: Bool = false) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.requireClientCertificate = requireClientCertificate
    }

    private func chain() throws -> [NIOSSLCertificateSource] {
        do { return try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) } } catch {
            throw SessiondError("--tls-cert \(certFile): not a PEM certificate (\(error))")
        }
    }

    private func key() throws -> NIOSSLPrivateKeySource {
        do { return .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)) } catch {
            throw SessiondError("--tls-key \(keyFile): not a PEM private key (\(error))")
        }
    }

    private func trust() throws -> NIOSSLTrustRoots {
        guard let caFile else { return .default }
        do { return .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) } catch {
            throw SessiondError("--tls-ca \(caFile): not a PEM certificate (\(error))")
        }
    }

    /// The listening side.
    func serverContext() throws -> NIOSSLContext {
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: try chain(), privateKey: try key())
        c.minimumTLSVersion = .tlsv12
        if requireClientCertificate {
            guard caFile != nil else {
                throw SessiondError("--tls-auth-clients needs --tls-ca (the CA clients are signed by)")
            }
            c.trustRoots = try trust()
            c.certificateVerification = .noHostnameVerification
        }
        do { return try NIOSSLContext(configuration: c) } catch {
            throw SessiondError("TLS: the certificate and key do not go together (\(error))")
        }
    }

    /// The side that calls other members.
    func peerContext() throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        c.trustRoots = try trust()
        c.certificateChain = try chain()
        c.privateKey = try key()
        c.certificateVerification = .fullVerification
        return try NIOSSLContext(configuration: c)
    }
}
