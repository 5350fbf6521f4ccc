import RedisClient
import SessionFormats
import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// How one framework lays sessions out in Redis. A schema knows which keys are sessions,
/// which commands read a session (listing and detail), and which commands remove every
/// trace of it. Schemas are values: no I/O happens here, so they are tested without Redis.
public protocol RedisSchema: Sendable {
    /// `spring`, `connect-redis`, `prefix`.
    var name: String { get }
    /// Human description including the prefix/namespace in use.
    var label: String { get }
    /// SCAN MATCH pattern covering the session keys.
    var scanPattern: String { get }
    /// SCAN TYPE filter (server-side), when session keys have one type.
    var scanType: String? { get }
    /// The session id when `key` is a session's main key; nil for every other key.
    func sessionID(forKey key: String) -> String?
    /// The session id for keys whose events concern a session (main key or shadow keys).
    func sessionID(forEventKey key: String) -> String?
    /// The main key of a session.
    func key(forID id: String) -> String
    /// The key whose expiry is the session's expiry (Spring indexed: the `expires:` key).
    func expiryKey(forID id: String) -> String

    /// Commands that read what a listing row needs, in order. Reads that do not reset the
    /// key's idle time come first. (The size is read by the listing itself, when wanted:
    /// `ListReads`.)
    func listCommands(key: String, id: String, reads: ListReads) -> [RedisCommand]
    /// Builds a row from the replies of `listCommands`; nil when the key vanished.
    func parseListing(
        key: String, id: String, replies: ArraySlice<RedisReply>, node: String, nowMs: Int64, reads: ListReads
    ) -> Session?

    /// A read for a row whose owner the listing reads did not find (Spring read without
    /// times: the security context, read only when the principal attribute is absent);
    /// nil when there is nothing more to read.
    func ownerFollowUp(key: String, reads: ListReads) -> RedisCommand?
    /// The owner in the reply of `ownerFollowUp`.
    func owner(fromFollowUp reply: RedisReply) -> String?

    /// Commands that remove the session and every trace the framework keeps.
    func deleteCommands(for session: Session) -> [RedisCommand]
    /// Commands that end the session now (`afterMs == nil`) or set its remaining time.
    func expireCommands(for session: Session, afterMs: Int64?) -> [RedisCommand]

    /// The principal index key of `user`, for schemas that keep one.
    func userIndexKey(_ user: String) -> String?
    /// Session ids from the members of a principal index set.
    func sessionIDs(fromIndexMembers members: [[UInt8]]) -> [String]
}

extension RedisSchema {
    public func sessionID(forEventKey key: String) -> String? { sessionID(forKey: key) }
    public func expiryKey(forID id: String) -> String { key(forID: id) }
    public func userIndexKey(_ user: String) -> String? { nil }
    public func ownerFollowUp(key: String, reads: ListReads) -> RedisCommand? { nil }
    public func owner(fromFollowUp reply: RedisReply) -> String? { nil }
    public func sessionIDs(fromIndexMembers members: [[UInt8]]) -> [String] { [] }
}

extension Decode {
    static func int(_ r: RedisReply?) -> Int64? {
        guard let r else { return nil }
        if case .integer(let v) = r { return v }
        return nil
    }
}
