import Foundation
import RedisClient
import SessionKit

/// Writes sessions into Redis the way the frameworks do, for tests.
public enum Seeder {
    public static let principalAttr = "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"

    /// A Java-serialized Long/Integer, from the JVM-written fixtures with the value swapped.
    public static func javaLong(_ v: Int64) throws -> [UInt8] {
        var b = try Fixtures.bytes("java/long-creation.bin")
        for i in 0..<8 { b[b.count - 8 + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * Int64(i))) }
        return b
    }
    public static func javaInt(_ v: Int32) throws -> [UInt8] {
        var b = try Fixtures.bytes("java/integer-1800.bin")
        for i in 0..<4 { b[b.count - 4 + i] = UInt8(truncatingIfNeeded: v >> (24 - 8 * Int32(i))) }
        return b
    }

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
            self.id = id; self.user = user; self.maxInactive = maxInactive
            lastAccessedMs = nowMs - 5_000; createdMs = nowMs - 60_000
        }
    }

    /// The commands `RedisIndexedSessionRepository` issues for a new session (indexed
    /// layout), or only the hash with EXPIREAT for the non-indexed repository.
    public static func springCommands(_ s: SpringSession, namespace: String = "spring:session", indexed: Bool = true) throws -> [RedisCommand] {
        let hash = "\(namespace):sessions:\(s.id)"
        var fields: [[UInt8]] = [Array("creationTime".utf8), try javaLong(s.createdMs),
                                 Array("lastAccessedTime".utf8), try javaLong(s.lastAccessedMs),
                                 Array("maxInactiveInterval".utf8), try javaInt(s.maxInactive)]
        if let user = s.user {
            if s.securityContext, let ctx = try? Fixtures.bytes("java/security-context-\(user).bin") {
                fields += [Array("sessionAttr:SPRING_SECURITY_CONTEXT".utf8), ctx]
            } else {
                fields += [Array("sessionAttr:\(principalAttr)".utf8), JavaStream.serializedString(user)]
            }
        }
        for (name, value) in s.attributes { fields += [Array("sessionAttr:\(name)".utf8), value] }
        var cmds = [RedisCommand([Array("HSET".utf8), Array(hash.utf8)] + fields)]
        let expiresAt = s.lastAccessedMs + Int64(s.maxInactive) * 1000
        if indexed {
            let bucket = (expiresAt / 60_000) * 60_000 + 60_000
            cmds.append(RedisCommand("PEXPIREAT", hash, expiresAt + 300_000))
            cmds.append(RedisCommand("SET", "\(namespace):sessions:expires:\(s.id)", ""))
            cmds.append(RedisCommand("PEXPIREAT", "\(namespace):sessions:expires:\(s.id)", expiresAt))
            cmds.append(RedisCommand("SADD", "\(namespace):expirations:\(bucket)", JavaStream.serializedString("expires:" + s.id)))
            cmds.append(RedisCommand("PEXPIREAT", "\(namespace):expirations:\(bucket)", expiresAt + 300_000))
            if let user = s.user {
                cmds.append(RedisCommand("SADD", "\(namespace):index:\(principalAttr):\(user)", JavaStream.serializedString(s.id)))
            }
        } else {
            cmds.append(RedisCommand("PEXPIREAT", hash, expiresAt))
        }
        return cmds
    }

    /// connect-redis: `sess:<sid>` JSON with the cookie, SET with EX.
    public static func connectCommands(id: String, user: String?, ttlSeconds: Int = 86400, extra: String = "") -> RedisCommand {
        var json = #"{"cookie":{"originalMaxAge":\#(ttlSeconds * 1000),"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}"#
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
