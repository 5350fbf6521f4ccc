import ArgumentParser
import Foundation
import RedisClient
import RedisSessions
import SessionFormats
import SessionKit

/// Writes realistic sessions into a Redis, the way the frameworks do: for the demo, the
/// benchmark and trying the console by hand. Not part of the product's CLI.
@main
struct SessionSeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session-seed",
        abstract: "Write Spring Session (indexed) and connect-redis sessions into Redis, pipelined.")

    @Option(help: "Redis URL.") var store = "redis://127.0.0.1:6379"
    @Option(help: "Spring Session sessions to write.") var spring = 1000
    @Option(help: "connect-redis sessions to write.") var connect = 0
    @Option(help: "Distinct users.") var users = 200
    @Option(help: "Sessions (of the Spring ones) that expire within --short-ttl seconds, spread evenly.") var expiring =
        0
    @Option(help: "Window for --expiring, in seconds.") var shortTTL = 60
    @Option(help: "Spring Session namespace.") var namespace = "spring:session"
    @Flag(help: "Spring Session 3's default repository (RedisSessionRepository): only the hash, no indexes.")
    var nonIndexed = false
    @Flag(help: "The store is a Redis Cluster: each command goes to its slot's master.")
    var cluster = false
    @Option(help: "First session number (to add more without collisions).") var start = 0

    func run() async throws {
        let url = try RedisURL(store)
        let client = RedisClient(url: url, fallbackPassword: ProcessInfo.processInfo.environment["REDISCLI_AUTH"])
        let schema = SpringSchema(namespace: namespace, indexed: !nonIndexed)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
        func user(_ i: Int) -> String {
            let u = i % max(1, users)
            return u < names.count ? names[u] : "user\(u)"
        }
        var batch: [RedisCommand] = []
        var written = 0
        let router = cluster ? ClusterRouter(seed: url, timeouts: .init(), fallbackPassword: nil) : nil
        if let router { _ = try await router.refresh() }
        func flush() async throws {
            let replies: [RedisReply]
            if let router {
                replies = try await router.pipeline(batch)
            } else {
                replies = try await client.pipeline(batch)
            }
            for r in replies {
                if let e = r.errorMessage { throw ValidationError("Redis refused a write: \(e)") }
            }
            batch.removeAll(keepingCapacity: true)
        }
        let cart = JavaStream.serializedString(String(repeating: "sku-1234;", count: 20))
        for n in start..<(start + spring) {
            let id = uuid(n)
            let u = n % 10 == 9 ? nil : user(n)  // a few anonymous sessions
            var maxInactive: Int32 = 1800
            var last = now - Int64(n % 600) * 1000
            if n - start < expiring {
                // Expire evenly over the window: deadline = last + maxInactive.
                maxInactive = 60
                last = now - 60_000 + Int64((n - start) * shortTTL * 1000 / max(1, expiring)) + 1000
            }
            var attrs: [(name: String, value: [UInt8])] = [
                ("cart", cart), ("locale", JavaStream.serializedString("en_GB")),
            ]
            if let u { attrs.append((SpringSchema.principalAttribute, JavaStream.serializedString(u))) }
            batch += schema.saveCommands(
                id: id, user: u, createdMs: last - Int64(n % 3600) * 1000, lastAccessedMs: last,
                maxInactive: maxInactive, attributes: attrs)
            written += 1
            if batch.count >= 6000 {
                try await flush()
                progress(written)
            }
        }
        for n in start..<(start + connect) {
            let u = user(n)
            let json =
                #"{"cookie":{"originalMaxAge":86400000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"passport":{"user":"\#(u)"},"views":\#(n % 40)}"#
            batch.append(RedisCommand("SET", "sess:" + uuid(n + 10_000_000), json, "EX", 86400 - n % 3600))
            written += 1
            if batch.count >= 6000 {
                try await flush()
                progress(written)
            }
        }
        try await flush()
        if isatty(2) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print("wrote \(spring) Spring and \(connect) connect-redis sessions to \(url)")
    }

    func progress(_ n: Int) {
        guard isatty(2) != 0 else { return }
        FileHandle.standardError.write(Data("\r\(n) sessions written…".utf8))
    }

    /// A UUID-shaped id derived from n (stable across runs).
    func uuid(_ n: Int) -> String {
        var x = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03
        var hex = ""
        for _ in 0..<2 {
            x = (x ^ (x >> 31)) &* 0xBF58_476D_1CE4_E5B9
            hex += String(x, radix: 16).leftPadded(16)
        }
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-4" + String(h[13..<16]) + "-a" + String(h[17..<20]) + "-"
            + String(h[20..<32])
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
