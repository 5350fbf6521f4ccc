import RedisClient
import SessionKit

/// Spring Session Data Redis, indexed (`RedisIndexedSessionRepository`, with `expires:`
/// shadow keys, minute expiration sets and principal index sets) and non-indexed
/// (`RedisSessionRepository`: only the hash). See FORMATS.md.
public struct SpringSchema: RedisSchema {
    public static let principalAttribute = "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"
    public static let securityContextAttribute = "SPRING_SECURITY_CONTEXT"

    public var namespace: String
    /// Whether the indexed repository's companion keys exist (detected from the keyspace).
    public var indexed: Bool

    public init(namespace: String = "spring:session", indexed: Bool = true) {
        self.namespace = namespace; self.indexed = indexed
    }

    public var name: String { "spring" }
    public var label: String { "spring (\(indexed ? "indexed" : "non-indexed"), namespace \(namespace))" }
    var sessionsPrefix: String { namespace + ":sessions:" }
    var expiresPrefix: String { namespace + ":sessions:expires:" }
    public var scanPattern: String { Glob.escape(sessionsPrefix) + "*" }
    public var scanType: String? { "hash" }

    public func sessionID(forKey key: String) -> String? {
        guard key.hasPrefix(sessionsPrefix) else { return nil }
        let id = key.dropFirst(sessionsPrefix.count)
        // `expires:<id>`, the 3.4+ `expirations` sorted set and reactive `<id>:idx` keys are not sessions.
        if id.hasPrefix("expires:") || id == "expirations" || id.isEmpty || id.contains(":") { return nil }
        return String(id)
    }

    public func sessionID(forEventKey key: String) -> String? {
        if key.hasPrefix(expiresPrefix) {
            let id = key.dropFirst(expiresPrefix.count)
            return id.isEmpty ? nil : String(id)
        }
        return sessionID(forKey: key)
    }

    public func key(forID id: String) -> String { sessionsPrefix + id }
    public func expiryKey(forID id: String) -> String { indexed ? expiresPrefix + id : sessionsPrefix + id }

    static let listFields = ["creationTime", "lastAccessedTime", "maxInactiveInterval",
                             "sessionAttr:" + principalAttribute, "sessionAttr:" + securityContextAttribute]

    public func listCommands(key: String, id: String, withAttributes: Bool) -> [RedisCommand] {
        var cmds = [RedisCommand("PTTL", indexed ? expiresPrefix + id : key),
                    RedisCommand("MEMORY", "USAGE", key)]
        if withAttributes {
            cmds.append(RedisCommand("HGETALL", key))
        } else {
            cmds.append(RedisCommand("HMGET", arguments: [key] + SpringSchema.listFields))
        }
        return cmds
    }

    public func parseListing(key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, withAttributes: Bool) -> Session? {
        let r = Array(replies)
        guard r.count == 3 else { return nil }
        var fields: [String: [UInt8]] = [:]
        var attributes: [Attribute] = []
        if withAttributes {
            guard let items = r[2].array, !items.isEmpty else { return nil }
            var k = 0
            while k + 1 < items.count {
                let name = items[k].text ?? ""
                let value = items[k + 1].bytes ?? []
                fields[name] = value
                if name.hasPrefix("sessionAttr:") {
                    attributes.append(Decode.attribute(name: String(name.dropFirst("sessionAttr:".count)), raw: value))
                }
                k += 2
            }
        } else {
            guard let items = r[2].array, items.count == SpringSchema.listFields.count else { return nil }
            if items.allSatisfy({ $0 == .null }) { return nil }   // the hash vanished
            for (name, item) in zip(SpringSchema.listFields, items) { if let b = item.bytes { fields[name] = b } }
        }
        let maxInactive = Decode.number(fields["maxInactiveInterval"])
        var ttl = Decode.int(r[0]) ?? -2
        if ttl == -2 {
            // Indexed, but the shadow key is gone (expired or deleted, cleanup pending): the
            // hash is only kept for the application's clean-up; the session is over.
            ttl = 0
        }
        if let mi = maxInactive, mi < 0 { ttl = -1 }
        let user = Decode.userName(fields["sessionAttr:" + SpringSchema.principalAttribute])
            ?? Decode.userName(fields["sessionAttr:" + SpringSchema.securityContextAttribute])
        return Session(id: id, key: key, user: user, node: node, ttlMs: ttl,
                       createdAtMs: Decode.number(fields["creationTime"]),
                       lastAccessedAtMs: Decode.number(fields["lastAccessedTime"]),
                       maxInactiveSeconds: maxInactive, storeIdleMs: nil,
                       sizeBytes: Decode.int(r[1]), schema: name, attributes: attributes)
    }

    /// What the repository itself does on delete: index member, expiration-set member,
    /// the `expires:` key (firing the application's SessionDeletedEvent), then the hash.
    public func deleteCommands(for s: Session) -> [RedisCommand] {
        var cmds: [RedisCommand] = []
        if let user = s.user, let index = userIndexKey(user) {
            cmds.append(RedisCommand("SREM", arguments: [index] + SpringSchema.memberForms(s.id)))
        }
        let expiresMember = "expires:" + s.id
        if let last = s.lastAccessedAtMs, let mi = s.maxInactiveSeconds, mi >= 0 {
            let bucket = SpringSchema.roundUpToNextMinute(last + mi * 1000)
            cmds.append(RedisCommand("SREM", arguments: ["\(namespace):expirations:\(bucket)"] + SpringSchema.memberForms(expiresMember)))
        }
        // Spring 3.4+ sorted-set expiration store.
        cmds.append(RedisCommand("ZREM", arguments: ["\(namespace):sessions:expirations"] + SpringSchema.memberForms(s.id)))
        cmds.append(RedisCommand("DEL", expiresPrefix + s.id))
        cmds.append(RedisCommand("DEL", s.key))
        cmds.append(RedisCommand("DEL", s.key + ":idx"))
        return cmds
    }

    /// Expiring a Spring session the way time would: the `expires:` key goes first and the
    /// hash stays five more minutes so the application can clean its indexes, exactly as
    /// Spring's own TTL layout does. The minute bucket is left alone: Spring's clean-up
    /// only touches keys, and Redis expires them on its own.
    public func expireCommands(for s: Session, afterMs: Int64?) -> [RedisCommand] {
        let ms = max(1, afterMs ?? 1)
        if indexed {
            return [RedisCommand("PEXPIRE", expiresPrefix + s.id, ms), RedisCommand("PEXPIRE", s.key, ms + 300_000)]
        }
        return [RedisCommand("PEXPIRE", s.key, ms)]
    }

    public func userIndexKey(_ user: String) -> String? {
        "\(namespace):index:\(SpringSchema.principalAttribute):\(user)"
    }

    public func sessionIDs(fromIndexMembers members: [[UInt8]]) -> [String] {
        members.compactMap { Decode.userName($0) }
    }

    /// The encodings a member may have, depending on the application's serializer:
    /// JDK serialization (the default), plain string, Jackson JSON string.
    static func memberForms(_ value: String) -> [[UInt8]] {
        [JavaStream.serializedString(value), Array(value.utf8), Array(("\"" + value + "\"").utf8)]
    }

    /// Spring's `RedisSessionExpirationPolicy.roundUpToNextMinute`.
    static func roundUpToNextMinute(_ ms: Int64) -> Int64 {
        (ms / 60_000) * 60_000 + 60_000
    }
}

/// Escaping for SCAN MATCH patterns.
enum Glob {
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

extension SpringSchema {
    /// The commands `RedisIndexedSessionRepository` (or, when not indexed,
    /// `RedisSessionRepository`) issues to save a new session: the hash with Java-serialized
    /// times, the `expires:` shadow key, the minute expiration set and the principal index.
    /// `attributes` are raw values (already serialized by the application's serializer).
    public func saveCommands(id: String, user: String?, createdMs: Int64, lastAccessedMs: Int64, maxInactive: Int32,
                             attributes: [(name: String, value: [UInt8])]) -> [RedisCommand] {
        let hash = key(forID: id)
        var args: [[UInt8]] = [Array(hash.utf8),
                               Array("creationTime".utf8), JavaStream.serializedLong(createdMs),
                               Array("lastAccessedTime".utf8), JavaStream.serializedLong(lastAccessedMs),
                               Array("maxInactiveInterval".utf8), JavaStream.serializedInteger(maxInactive)]
        for a in attributes { args += [Array("sessionAttr:\(a.name)".utf8), a.value] }
        var cmds = [RedisCommand([Array("HSET".utf8)] + args)]
        let expiresAt = lastAccessedMs + Int64(maxInactive) * 1000
        guard indexed else {
            cmds.append(RedisCommand("PEXPIREAT", hash, expiresAt))
            return cmds
        }
        let bucket = SpringSchema.roundUpToNextMinute(expiresAt)
        cmds.append(RedisCommand("PEXPIREAT", hash, expiresAt + 300_000))
        cmds.append(RedisCommand("SET", expiresPrefix + id, "", "PXAT", expiresAt))
        cmds.append(RedisCommand("SADD", "\(namespace):expirations:\(bucket)", JavaStream.serializedString("expires:" + id)))
        cmds.append(RedisCommand("PEXPIREAT", "\(namespace):expirations:\(bucket)", expiresAt + 300_000))
        if let user, let index = userIndexKey(user) {
            cmds.append(RedisCommand("SADD", index, JavaStream.serializedString(id)))
        }
        return cmds
    }
}
