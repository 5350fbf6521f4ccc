import RedisClient
import SessionFormats
import SessionKit

/// Spring Session Data Redis, indexed (`RedisIndexedSessionRepository`, with `expires:`
/// shadow keys, minute expiration sets and principal index sets) and non-indexed
/// (`RedisSessionRepository`: only the hash). See README.md, "Schemas".
public struct SpringSchema: RedisSchema {
    public static let principalAttribute =
        "org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME"
    public static let securityContextAttribute = "SPRING_SECURITY_CONTEXT"

    public var namespace: String
    /// Whether the indexed repository's companion keys exist (detected from the keyspace).
    public var indexed: Bool

    public init(namespace: String = "spring:session", indexed: Bool = true) {
        self.namespace = namespace
        self.indexed = indexed
    }

    public var name: String { "spring" }
    public var label: String { "spring (\(indexed ? "indexed" : "non-indexed"), namespace \(namespace))" }
    var sessionsPrefix: String { namespace + ":sessions:" }
    var expiresPrefix: String { namespace + ":sessions:expires:" }
    public var scanPattern: String { Glob.escape(sessionsPrefix) + "*" }
    public var scanType: String? { "hash" }

    public func sessionID(forKey key: String) -> String? {
        // On UTF-8 bytes: a listing asks this of every key it scans. `expires:<id>`, the
        // 3.4+ `expirations` sorted set and reactive `<id>:idx` keys are not sessions.
        let prefixCount = sessionsPrefix.utf8.count
        let ok =
            key.utf8.withContiguousStorageIfAvailable { k in
                sessionsPrefix.utf8.withContiguousStorageIfAvailable { p in
                    guard k.count > p.count else { return false }
                    for i in 0..<p.count where k[i] != p[i] { return false }
                    for i in p.count..<k.count where k[i] == UInt8(ascii: ":") { return false }
                    return true
                }
            } ?? nil
        guard ok ?? Self.slowCheck(key, sessionsPrefix) else { return nil }
        let id = String(Substring(key.utf8.dropFirst(prefixCount)))
        return id == "expirations" ? nil : id
    }

    /// The same check where a string is not stored as contiguous UTF-8 (bridged strings).
    private static func slowCheck(_ key: String, _ prefix: String) -> Bool {
        let k = Array(key.utf8)
        let p = Array(prefix.utf8)
        return k.count > p.count && k.starts(with: p) && !k[p.count...].contains(UInt8(ascii: ":"))
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

    static let listFields = [
        "creationTime", "lastAccessedTime", "maxInactiveInterval",
        "sessionAttr:" + principalAttribute, "sessionAttr:" + securityContextAttribute,
    ]
    // Pre-encoded command words: a listing builds two commands per session.
    private static let pttl = Array("PTTL".utf8)
    private static let hgetall = Array("HGETALL".utf8), hmget = Array("HMGET".utf8)
    private static let listFieldBytes = listFields.map { Array($0.utf8) }

    private static let hget = Array("HGET".utf8)
    private static let principalField = Array(("sessionAttr:" + principalAttribute).utf8)
    private static let contextField = Array(("sessionAttr:" + securityContextAttribute).utf8)

    /// The TTL when it is wanted, or when it tells expired leftovers apart (indexed: the
    /// `expires:` key is gone while the hash stays five minutes).
    func readsTTL(_ reads: ListReads) -> Bool { reads.ttl || (indexed && !reads.includeExpired) }
    /// Only the owner: no times wanted, and deleting needs none (the indexed layout's
    /// clean-up needs the times for the minute bucket).
    func ownerOnly(_ reads: ListReads) -> Bool { !reads.times && !reads.attributes && reads.user && !indexed }

    public func listCommands(key: String, id: String, reads: ListReads) -> [RedisCommand] {
        let keyBytes = Array(key.utf8)
        let ttlKey = indexed ? Array((expiresPrefix + id).utf8) : keyBytes
        var cmds: [RedisCommand] = []
        if readsTTL(reads) { cmds.append(RedisCommand([SpringSchema.pttl, ttlKey])) }
        if reads.attributes {
            cmds.append(RedisCommand([SpringSchema.hgetall, keyBytes]))
        } else if ownerOnly(reads) {
            cmds.append(RedisCommand([SpringSchema.hmget, keyBytes, SpringSchema.principalField]))
        } else if !reads.user {
            // No owner asked for: the times alone (they also show whether the hash is there).
            cmds.append(RedisCommand([SpringSchema.hmget, keyBytes] + SpringSchema.listFieldBytes.prefix(3)))
        } else {
            cmds.append(RedisCommand([SpringSchema.hmget, keyBytes] + SpringSchema.listFieldBytes))
        }
        return cmds
    }

    public func ownerFollowUp(key: String, reads: ListReads) -> RedisCommand? {
        ownerOnly(reads) ? RedisCommand([SpringSchema.hget, Array(key.utf8), SpringSchema.contextField]) : nil
    }

    public func owner(fromFollowUp reply: RedisReply) -> String? { Decode.userName(reply.bytes) }

    public func parseListing(
        key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, reads: ListReads
    ) -> Session? {
        let withTTL = readsTTL(reads)
        guard replies.count == (withTTL ? 2 : 1) else { return nil }
        let ttlReply = withTTL ? replies[replies.startIndex] : nil
        let hashReply = replies[replies.endIndex - 1]
        // The listing's five fields by position (HMGET), or picked out of HGETALL.
        var values: [[UInt8]?] = [nil, nil, nil, nil, nil]
        var attributes: [Attribute] = []
        guard let items = hashReply.array, !items.isEmpty else { return nil }
        if reads.attributes {
            var k = 0
            while k + 1 < items.count {
                let name = items[k].text ?? ""
                let value = items[k + 1].bytes ?? []
                if let slot = SpringSchema.listFields.firstIndex(of: name) { values[slot] = value }
                if name.hasPrefix("sessionAttr:") {
                    attributes.append(Decode.attribute(name: String(name.dropFirst("sessionAttr:".count)), raw: value))
                }
                k += 2
            }
        } else if ownerOnly(reads) {
            // The principal alone: a vanished hash and a session without one look alike
            // here; the follow-up read (the security context) and the clean-up tell.
            guard items.count == 1 else { return nil }
            values[3] = items[0].bytes
        } else {
            guard items.count == (reads.user ? SpringSchema.listFields.count : 3) else { return nil }
            if items.allSatisfy({ $0 == .null }) { return nil }  // the hash vanished
            for i in 0..<items.count { values[i] = items[i].bytes }
        }
        let maxInactive = Decode.number(values[2])
        // Unknown when not read: -1 (no expiry) is what nobody asked to see.
        var ttl = ttlReply.map { Decode.int($0) ?? -2 } ?? -1
        if ttl == -2 {
            // Indexed, but the shadow key is gone (expired or deleted, cleanup pending): the
            // hash is only kept for the application's clean-up; the session is over. TTL 0
            // marks it; listings hide it unless asked (`ListQuery.includeExpired`).
            ttl = 0
        }
        if let mi = maxInactive, mi < 0 { ttl = -1 }
        let user = Decode.userName(values[3]) ?? Decode.userName(values[4])
        return Session(
            id: id, key: key, user: user, node: node, ttlMs: ttl,
            createdAtMs: Decode.number(values[0]),
            lastAccessedAtMs: Decode.number(values[1]),
            maxInactiveSeconds: maxInactive, storeIdleMs: nil, schema: name, attributes: attributes)
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
            cmds.append(
                RedisCommand(
                    "SREM", arguments: ["\(namespace):expirations:\(bucket)"] + SpringSchema.memberForms(expiresMember))
            )
        }
        // Spring 3.4+ sorted-set expiration store.
        cmds.append(
            RedisCommand("ZREM", arguments: ["\(namespace):sessions:expirations"] + SpringSchema.memberForms(s.id)))
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
    public func saveCommands(
        id: String, user: String?, createdMs: Int64, lastAccessedMs: Int64, maxInactive: Int32,
        attributes: [(name: String, value: [UInt8])]
    ) -> [RedisCommand] {
        let hash = key(forID: id)
        var args: [[UInt8]] = [
            Array(hash.utf8),
            Array("creationTime".utf8), JavaStream.serializedLong(createdMs),
            Array("lastAccessedTime".utf8), JavaStream.serializedLong(lastAccessedMs),
            Array("maxInactiveInterval".utf8), JavaStream.serializedInteger(maxInactive),
        ]
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
        cmds.append(
            RedisCommand("SADD", "\(namespace):expirations:\(bucket)", JavaStream.serializedString("expires:" + id)))
        cmds.append(RedisCommand("PEXPIREAT", "\(namespace):expirations:\(bucket)", expiresAt + 300_000))
        if let user, let index = userIndexKey(user) {
            cmds.append(RedisCommand("SADD", index, JavaStream.serializedString(id)))
        }
        return cmds
    }
}
