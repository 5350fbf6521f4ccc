import Foundation
import HouseStore
import RedisClient
import SessiondSessions
import TestSupport
import Testing

/// sessiond over TLS (issue 13): a cluster of real sessiond processes with `--tls-cert`,
/// members talking to each other over TLS, the console on `sessionds://`, certificates made
/// by the test with `openssl`.
@Suite(.serialized) struct SessiondTLSTests {
    static func tlsArguments(_ certs: TLSCertificates, authClients: Bool = false) -> [String] {
        ["--tls-cert", certs.serverCert, "--tls-key", certs.serverKey, "--tls-ca", certs.caFile]
            + (authClients ? ["--tls-auth-clients"] : [])
    }

    func app(_ node: SessiondServer) -> SessiondClient {
        SessiondClient(routing: SessiondRouting(urls: [node.url]))
    }

    @Test func aTLSClusterListsAndMigratesBetweenMembersOverTLS() async throws {
        let certs = try TLSCertificates()
        let cluster = try SessiondCluster(
            count: 3, extra: Self.tlsArguments(certs), tls: TLSOptions(caFile: certs.caFile))
        let app = app(cluster["n1"])
        for i in 0..<45 { try await app.create(id: "tls-\(i)", timeoutSeconds: 600, principal: "u\(i % 5)") }
        let store = ["--store", cluster["n2"].urlString, "--cacert", certs.caFile]
        #expect(cluster["n2"].urlString.hasPrefix("sessionds://"))
        // Every member (found from n2's CLUSTER.NODES) is listed over TLS.
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,node"] + store)
        #expect(ls.code == 0 && ls.lines.count == 45, "\(ls)")
        let owners = Set(
            ls.lines.compactMap { line in line.range(of: #""node":"n\d""#, options: .regularExpression).map { line[$0] }
            })
        #expect(owners.count == 3, "\(owners)")
        // A migration: the members copy the session to each other over TLS.
        let id = "tls-7"
        let from = try await app.node(of: id)
        let to = cluster.ids.first { $0 != from } ?? "n1"
        let run = try CLI.run(["migrate", id, "--to", to, "--yes"] + store)
        #expect(run.code == 0 && run.stdout.contains("migrated 1 session(s) to \(to)"), "\(run)")
        #expect(try await app.node(of: id) == to)
        #expect(try await app.get(id)?.principal == "u2")
        // The port speaks TLS only: a plain client is told what to do.
        let plain = try CLI.run(["ls", "--store", "sessiond://127.0.0.1:\(cluster["n1"].port)"])
        #expect(plain.code == 3 && plain.stderr.contains("TLS"), "\(plain)")
        // Without the CA the certificate is refused.
        let unknown = try CLI.run(["ls", "--store", cluster["n1"].urlString])
        #expect(unknown.code == 3 && unknown.stderr.contains("unknown CA"), "\(unknown)")
    }

    @Test func clientCertificatesRequiredOfClientsAndMembers() async throws {
        let certs = try TLSCertificates()
        let clientTLS = TLSOptions(caFile: certs.caFile, certFile: certs.clientCert, keyFile: certs.clientKey)
        let cluster = try SessiondCluster(count: 2, extra: Self.tlsArguments(certs, authClients: true), tls: clientTLS)
        let app = app(cluster["n1"])
        for i in 0..<10 { try await app.create(id: "mtls-\(i)", timeoutSeconds: 600, principal: "v") }
        let url = cluster["n1"].urlString
        let refused = try CLI.run(["ls", "--store", url, "--cacert", certs.caFile])
        #expect(refused.code == 3 && refused.stderr.contains("client certificate"), "\(refused)")
        let ok = try CLI.run(
            [
                "ls", "-o", "jsonl", "--store", url, "--cacert", certs.caFile, "--cert", certs.clientCert, "--key",
                certs.clientKey,
            ])
        #expect(ok.code == 0 && ok.lines.count == 10, "\(ok)")
        // Members present their certificate to each other: a migration works.
        let id = "mtls-3"
        let from = try await app.node(of: id)
        let to = from == "n1" ? "n2" : "n1"
        let run = try CLI.run(
            [
                "migrate", id, "--to", to, "--yes", "--store", url, "--cacert", certs.caFile, "--cert",
                certs.clientCert,
                "--key", certs.clientKey,
            ])
        #expect(run.code == 0, "\(run)")
        #expect(try await app.node(of: id) == to)
    }

    @Test func badTLSSettingsStopTheServerWithWords() throws {
        let certs = try TLSCertificates()
        let broken = certs.directory.appendingPathComponent("broken.pem").path
        try "not a certificate\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let sessiond = try CLI.binary("sessiond")
        for (args, words) in [
            (["--tls-cert", broken, "--tls-key", certs.serverKey], "--tls-cert"),
            (["--tls-cert", certs.serverCert, "--tls-key", broken], "--tls-key"),
            (["--tls-cert", certs.serverCert], "both --tls-cert and --tls-key"),
            (["--tls-cert", certs.serverCert, "--tls-key", certs.clientKey], "do not go together"),
            (["--tls-cert", certs.serverCert, "--tls-key", certs.serverKey, "--tls-auth-clients"], "needs --tls-ca"),
        ] {
            let out = try? ChildProcess.output(sessiond, ["--port", "0"] + args, timeout: 10)
            #expect(out == nil, "refused: \(args)")
            do { _ = try ChildProcess.output(sessiond, ["--port", "0"] + args, timeout: 10) } catch {
                #expect("\(error)".contains(words), "\(args): \(error)")
            }
        }
    }
}
