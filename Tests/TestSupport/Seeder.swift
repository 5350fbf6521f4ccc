import Foundation
import RedisClient
import RedisSessions
import SessionFormats
import SessionKit

/// Writes sessions into Redis the way the frameworks do, for tests.
public enum Seeder {
    public static let principalAttr =
        "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"

    public struct SpringSession {
        public var id: String
        public var user: String?
        public var maxInactive: Int32 = 1800
        public var lastAccessedMs: Int64
        public var createdMs: Int64
        /// Extra attributes: name → raw bytes.
        public var attributes: [(String, [UInt8])] = []
        /// Store the user as a security context (true) or as the principal attribute (false).
        public var securityContext = true
        public init(id: String, user: String?, nowMs: Int64, maxInactive: Int32 = 1800) {
            self.id = id
            self.user = user
            self.maxInactive = maxInactive
            lastAccessedMs = nowMs - 5_000
            createdMs = nowMs - 60_000
        }
    }

    /// What Spring's repository writes for `s` (the shared writer in RedisSessions); the
    /// user goes in as a JVM-written security context when a fixture exists for them.
    public static func springCommands(_ s: SpringSession, namespace: String = "spring:session", indexed: Bool = true)
        throws -> [RedisCommand]
    {
        var attributes: [(name: String, value: [UInt8])] = []
        if let user = s.user {
            if s.securityContext, let ctx = try? Fixtures.bytes("java/security-context-\(user).bin") {
                attributes.append(("SPRING_SECURITY_CONTEXT", ctx))
            } else {
                attributes.append((principalAttr, JavaStream.serializedString(user)))
            }
        }
        attributes += s.attributes.map { (name: $0.0, value: $0.1) }
        return SpringSchema(namespace: namespace, indexed: indexed)
            .saveCommands(
                id: s.id, user: s.user, createdMs: s.createdMs, lastAccessedMs: s.lastAccessedMs,
                maxInactive: s.maxInactive, attributes: attributes)
    }

    /// connect-redis: `sess:<sid>` JSON with the cookie, SET with EX.
    public static func connectCommands(id: String, user: String?, ttlSeconds: Int = 86400, extra: String = "")
        -> RedisCommand
    {
        var json =
            #"{"cookie":{"originalMaxAge":\#(ttlSeconds * 1000),"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}"#
        if let user { json += #","passport":{"user":"\#(user)"}"# }
        json += extra + "}"
        return RedisCommand("SET", "sess:" + id, json, "EX", ttlSeconds)
    }

    /// Sends commands in pipelined chunks.
    public static func run(_ commands: [RedisCommand], on server: RedisServer) throws {
        let c = try server.connection()
        var i = 0
        while i < commands.count {
            let chunk = Array(commands[i..<min(i + 5000, commands.count)])
            for r in try c.send(chunk) {
                if let e = r.errorMessage { throw HarnessError("seeding failed: \(e)") }
            }
            i += chunk.count
        }
    }

    public static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
