/// What a session store offers the console. Redis (any schema) and the in-house store
/// both implement it; the batch commands and the TUI only speak this protocol.
public protocol SessionStore: Sendable {
    /// Human name of the store for headers and messages, with passwords redacted.
    var displayName: String { get }

    /// Lists sessions page by page. `onPage` is awaited before the next page is read, so a
    /// slow consumer slows the scan instead of growing a buffer. Nodes that fail are
    /// reported in the outcome; the others are still listed.
    func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws -> ListOutcome

    /// One session with every attribute, read without touching it where the store allows.
    func get(id: String) async throws -> Session?

    /// Ends sessions now (`after == nil`) or sets their remaining time.
    func expire(ids: [String], after milliseconds: Int64?) async throws -> MutationResult

    /// Removes sessions and every trace the framework keeps of them.
    func delete(ids: [String]) async throws -> MutationResult

    /// Removes sessions already read (a listing's rows), with every trace, without reading
    /// them again to find them.
    func delete(sessions: [Session]) async throws -> MutationResult

    /// Removes every session of `user` (force logout).
    func logout(user: String) async throws -> MutationResult

    /// Per-node facts: address, role, up/down, sessions, memory, expiry and eviction totals.
    func nodes() async -> [NodeInfo]

    /// Live session events until the task is cancelled.
    func events(kinds: Set<SessionEvent.Kind>) -> AsyncThrowingStream<SessionEvent, Error>

    /// The node names (for "all nodes failed" decisions).
    var nodeNames: [String] { get }

    /// What a mutation of `ids` would touch (`--dry-run`, confirmations).
    func plan(ids: [String]) async -> (sessions: [Session], notFound: [String], failures: [NodeFailure])

    /// Node facts; `countSessions: false` may skip an expensive count.
    func nodes(countSessions: Bool) async -> [NodeInfo]

    /// Events for a caller that tracks deadlines itself (see `promptExpiry`).
    func untrackedEvents(kinds: Set<SessionEvent.Kind>) -> AsyncThrowingStream<SessionEvent, Error>

    /// Asks the store to report expiries whose deadline passed (stores that expire lazily).
    func promptExpiry(ids: [String]) async

    /// Nodes sessions can be moved to (empty: this store cannot migrate).
    func migrationTargets() async -> [String]

    /// Moves sessions to `node` (TTL, user and attributes kept); `affected` are the moved ones.
    func migrate(ids: [String], to node: String) async throws -> MutationResult

    /// Moves every session off `node`, to `target` or else to each session's next node on
    /// the ring; `progress(moved, total)` after each batch.
    func drain(node: String, to target: String?, progress: @escaping @Sendable (Int, Int) async -> Void) async throws -> MutationResult
}

/// A store that can take sessions read from another store (`migrate --from --to`):
/// TTL, user, times and attributes (raw bytes) kept; a session with the same id is replaced,
/// so writing twice (a resumed migration) never duplicates.
public protocol SessionWriter: Sendable {
    /// Writes the sessions; the ids the store confirmed, and what failed.
    func write(_ sessions: [Session]) async -> (written: [String], failures: [NodeFailure])
}

/// A store that cannot do what was asked (e.g. migration on standalone Redis).
public struct UnsupportedOperation: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension SessionStore {
    public func plan(ids: [String]) async -> (sessions: [Session], notFound: [String], failures: [NodeFailure]) {
        var found: [Session] = [], missing: [String] = [], failures: [NodeFailure] = []
        for id in ids {
            do {
                if let s = try await get(id: id) { found.append(s) } else { missing.append(id) }
            } catch {
                failures.append(NodeFailure(node: displayName, message: "\(error)"))
            }
        }
        return (found, missing, failures)
    }
    public func nodes(countSessions: Bool) async -> [NodeInfo] { await nodes() }
    public func delete(sessions: [Session]) async throws -> MutationResult { try await delete(ids: sessions.map(\.id)) }
    public func untrackedEvents(kinds: Set<SessionEvent.Kind>) -> AsyncThrowingStream<SessionEvent, Error> { events(kinds: kinds) }
    public func promptExpiry(ids: [String]) async {}
    public func migrationTargets() async -> [String] { [] }
    public func migrate(ids: [String], to node: String) async throws -> MutationResult {
        throw UnsupportedOperation("\(displayName) cannot migrate sessions (migration needs an in-house cluster; Redis Cluster is issue 7)")
    }
    public func drain(node: String, to target: String?, progress: @escaping @Sendable (Int, Int) async -> Void) async throws -> MutationResult {
        throw UnsupportedOperation("\(displayName) cannot drain nodes (draining needs an in-house cluster; Redis Cluster is issue 7)")
    }
}

/// What to list.
public struct ListQuery: Sendable {
    public var filter: Filter
    /// Stop after this many matching sessions (nil: all).
    public var limit: Int?
    /// Read every attribute of each session (needed by `attr.` filters; slower).
    public var withAttributes: Bool
    /// Also list sessions that already expired but whose data the framework keeps for its
    /// clean-up (Spring keeps the hash 5 minutes after the `expires:` key). The application
    /// no longer sees them; logout and delete still remove them.
    public var includeExpired: Bool

    public init(filter: Filter = Filter(), limit: Int? = nil, withAttributes: Bool = false, includeExpired: Bool = false) {
        self.filter = filter; self.limit = limit; self.withAttributes = withAttributes; self.includeExpired = includeExpired
    }
}

/// How a listing went, node by node.
public struct ListOutcome: Sendable {
    public var scannedKeys: Int
    public var matched: Int
    public var failedNodes: [NodeFailure]
    public init(scannedKeys: Int = 0, matched: Int = 0, failedNodes: [NodeFailure] = []) {
        self.scannedKeys = scannedKeys; self.matched = matched; self.failedNodes = failedNodes
    }
}

public struct NodeFailure: Sendable, Equatable, Error {
    public var node: String
    public var message: String
    public init(node: String, message: String) { self.node = node; self.message = message }
}

/// Result of a mutation: which sessions went, which were not there, which nodes failed.
public struct MutationResult: Sendable, Equatable {
    public var affected: [String]
    public var notFound: [String]
    public var failedNodes: [NodeFailure]
    /// Store keys removed or changed, for the audit log.
    public var keysTouched: Int
    public init(affected: [String] = [], notFound: [String] = [], failedNodes: [NodeFailure] = [], keysTouched: Int = 0) {
        self.affected = affected; self.notFound = notFound; self.failedNodes = failedNodes; self.keysTouched = keysTouched
    }
    public mutating func merge(_ other: MutationResult) {
        affected += other.affected; notFound += other.notFound
        failedNodes += other.failedNodes; keysTouched += other.keysTouched
    }
}

/// A node of a store.
public struct NodeInfo: Sendable, Equatable {
    public var name: String
    public var address: String
    public var role: String
    public var up: Bool
    public var error: String?
    public var sessions: Int?
    public var keys: Int?
    public var usedMemory: Int64?
    public var maxMemory: Int64?
    public var evictionPolicy: String?
    public var expiredTotal: Int64?
    public var evictedTotal: Int64?
    public var version: String?
    /// The node's share of new sessions on its cluster's hash ring (in-house cluster).
    public var ringShare: Double?
    /// The hash slots a Redis Cluster master serves (`0-5460`).
    public var slots: String?

    public init(name: String, address: String, role: String = "master", up: Bool, error: String? = nil) {
        self.name = name; self.address = address; self.role = role; self.up = up; self.error = error
    }
}

/// Something that happened to a session.
public struct SessionEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Comparable {
        case created, expired, evicted, deleted, migrated
        /// Events were lost (disconnect, slow subscriber): `detail` says how.
        case gap
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }
    public var kind: Kind
    public var sessionID: String?
    public var key: String?
    public var user: String?
    public var node: String
    public var timeMs: Int64
    /// True when the console's own read made the store notice an expiry it would have
    /// reported late (Redis reclaims expired keys lazily).
    public var prompted: Bool
    public var detail: String?
    /// For `migrated`: the node the session moved to.
    public var target: String?

    public init(kind: Kind, sessionID: String?, key: String?, user: String? = nil, node: String,
                timeMs: Int64, prompted: Bool = false, detail: String? = nil, target: String? = nil) {
        self.kind = kind; self.sessionID = sessionID; self.key = key; self.user = user
        self.node = node; self.timeMs = timeMs; self.prompted = prompted; self.detail = detail; self.target = target
    }
}
