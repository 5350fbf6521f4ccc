/// The core every session store answers: list, read without touching, locate, expire or
/// delete a target, node facts. Everything else is a capability (`StoreCapabilities`) that
/// callers discover from `capabilities()`, never by casting to a concrete store, so that a
/// wrapper (read-only, audited) keeps them by forwarding one call.
public protocol SessionStore: Sendable {
    /// Human name of the store for headers and messages, with passwords redacted.
    var displayName: String { get }

    /// The node names (for "all nodes failed" decisions).
    var nodeNames: [String] { get }

    /// Lists sessions page by page. `onPage` is awaited before the next page is read, so a
    /// slow consumer slows the scan instead of growing a buffer. Nodes that fail are
    /// reported in the outcome; the others are still listed.
    func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome

    /// One session with every attribute, read without touching it (its TTL and idle time
    /// stay what they were).
    func get(id: String) async throws -> Session?

    /// Finds sessions by id: what a mutation of them would touch (`--dry-run`, confirmations).
    /// The plan can be handed back to `expire`/`delete` without locating them again.
    func locate(ids: [String]) async -> SessionPlan

    /// Ends the target's sessions now (`after == nil`) or sets their remaining time.
    func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult

    /// Removes the target's sessions and every trace the framework keeps of them
    /// (`.user`: a forced logout, through the store's fastest honest path).
    func delete(_ target: SessionTarget) async throws -> MutationResult

    /// Per-node facts at the chosen detail.
    func nodes(_ detail: NodeDetail) async -> [NodeInfo]

    /// The same, each node handed to `each` as it answers (a node that does not answer holds
    /// no other back), then all of them in order. Default: all at once.
    func nodes(_ detail: NodeDetail, each: @escaping @Sendable (NodeInfo) async -> Void) async -> [NodeInfo]

    /// What this store can do beyond the core (may look at the store's topology first).
    func capabilities() async -> StoreCapabilities
}

/// What a mutation applies to.
public enum SessionTarget: Sendable, Equatable {
    /// Sessions by id (located by the store).
    case ids([String])
    /// Sessions already located (a plan's or a listing's rows): not read again.
    case sessions([Session])
    /// Every session of a user (force logout).
    case user(String)
}

/// Sessions found by id, the ids not found, and the nodes that failed while looking.
public struct SessionPlan: Sendable, Equatable {
    public var sessions: [Session]
    public var notFound: [String]
    public var failures: [NodeFailure]
    public init(sessions: [Session] = [], notFound: [String] = [], failures: [NodeFailure] = []) {
        self.sessions = sessions
        self.notFound = notFound
        self.failures = failures
    }

    /// A plan made by reading each id with `get` (stores with no cheaper batch lookup).
    public static func byReading(_ ids: [String], from store: some SessionStore) async -> SessionPlan {
        var plan = SessionPlan()
        for id in ids {
            do {
                if let s = try await store.get(id: id) { plan.sessions.append(s) } else { plan.notFound.append(id) }
            } catch {
                plan.failures.append(NodeFailure(node: store.displayName, message: "\(error)"))
            }
        }
        return plan
    }
}

/// How much a node listing should find out.
public enum NodeDetail: Sendable, Equatable {
    /// Everything, including session counts that may cost a scan.
    case full
    /// What is cheap (the TUI's refresh): counts only where the store keeps them.
    case cheap
}

/// Optional abilities of a store. A nil member means the store cannot do it.
public struct StoreCapabilities: Sendable {
    /// Live session events.
    public var events: (any SessionEventSource)?
    /// Moving sessions between nodes, draining a node.
    public var migration: (any SessionMigrator)?
    /// Moving hash slots (a Redis Cluster: sessions move only with their slots).
    public var slotMoves: (any SlotMover)?
    /// Taking sessions read from another store (migration target, import).
    public var writer: (any SessionWriter)?
    /// A server setting that must be on for events (Redis keyspace notifications).
    public var eventSettings: (any EventSettings)?
    /// The store's own health checks (`doctor`).
    public var diagnostics: (any StoreDiagnostics)?

    public init(
        events: (any SessionEventSource)? = nil, migration: (any SessionMigrator)? = nil,
        slotMoves: (any SlotMover)? = nil, writer: (any SessionWriter)? = nil,
        eventSettings: (any EventSettings)? = nil, diagnostics: (any StoreDiagnostics)? = nil
    ) {
        self.events = events
        self.migration = migration
        self.slotMoves = slotMoves
        self.writer = writer
        self.eventSettings = eventSettings
        self.diagnostics = diagnostics
    }
}

/// Who watches deadlines so that late expiries are reported near their time.
public enum DeadlineTracking: Sendable, Equatable {
    /// The store's event stream does it (a batch `watch`).
    case byStore
    /// The caller does (the TUI knows every listed session's deadline) and calls
    /// `promptExpiry` when one passes.
    case byCaller
}

/// Live events of a store.
public protocol SessionEventSource: Sendable {
    /// True when the store reports expiries lazily (Redis), so deadlines must be watched.
    var expiresLazily: Bool { get }
    /// Events of `kinds` until the task is cancelled; gaps are reported as `.gap` events.
    func events(kinds: Set<SessionEvent.Kind>, deadlines: DeadlineTracking) -> AsyncThrowingStream<SessionEvent, Error>
    /// Makes the store notice expiries whose deadline passed (a no-op where expiry is on time).
    func promptExpiry(ids: [String]) async
    /// What the store cannot report, said once where events are shown ("memcached 1.6.18
    /// logs no deletions: ...").
    var notes: [String] { get }
}

extension SessionEventSource {
    public var notes: [String] { [] }
}

/// Options of a migration between nodes.
public struct MigrationOptions: Sendable, Equatable {
    /// Overwrite a session the target already has (Redis MIGRATE REPLACE).
    public var replace: Bool
    public init(replace: Bool = false) { self.replace = replace }
}

/// Moving sessions between the nodes of one store.
public protocol SessionMigrator: Sendable {
    /// Nodes sessions can be moved to.
    func migrationTargets() async -> [String]
    /// Moves sessions to `node` (TTL, user and attributes kept); `affected` are the moved ones.
    func migrate(ids: [String], to node: String, options: MigrationOptions) async throws -> MutationResult
    /// Moves every session off `node`, to `target` or else to each session's next node;
    /// `progress(moved, total)` after each batch.
    func drain(
        node: String, to target: String?, progress: @escaping @Sendable (Int, Int) async -> Void
    ) async throws -> MutationResult
}

/// One hash slot a set of sessions lives in.
public struct SlotMove: Sendable, Equatable {
    public var slot: Int
    public var owner: String
    public var keys: Int
    public init(slot: Int, owner: String, keys: Int) {
        self.slot = slot
        self.owner = owner
        self.keys = keys
    }
}

/// A store whose sessions move only with their hash slots (Redis Cluster).
public protocol SlotMover: Sendable {
    /// The slots of these sessions, their owners and key counts; the ids not found.
    func slotPlan(ids: [String]) async -> (slots: [SlotMove], notFound: [String])
    /// Moves the slots (everything in them) to `node`; the keys moved.
    func moveSlots(_ slots: [Int], to node: String, progress: @escaping @Sendable (Int, Int) async -> Void) async throws
        -> Int
}

/// A store that can take sessions read from another store (`migrate --from --to`):
/// TTL, user, times and attributes (raw bytes) kept; a session with the same id is replaced,
/// so writing twice (a resumed migration) never duplicates.
public protocol SessionWriter: Sendable {
    /// Writes the sessions; the ids the store confirmed, and what failed.
    func write(_ sessions: [Session]) async -> (written: [String], failures: [NodeFailure])
}

/// A node's state of a server setting that events need.
public struct EventSettingStatus: Sendable, Equatable {
    public var node: String
    /// The setting's current value.
    public var current: String
    /// What is missing for the events sessionctl shows (empty: sufficient).
    public var missing: String
    public var isSufficient: Bool { missing.isEmpty }
    public init(node: String, current: String, missing: String) {
        self.node = node
        self.current = current
        self.missing = missing
    }
}

/// A setting changed on a node (audited).
public struct SettingChange: Sendable, Equatable {
    public var node: String
    public var before: String
    public var after: String
    public init(node: String, before: String, after: String) {
        self.node = node
        self.before = before
        self.after = after
    }
}

/// A server-side setting that must be on for the store to publish session events.
public protocol EventSettings: Sendable {
    /// The setting in the store's own words ("keyspace notifications").
    var settingName: String { get }
    /// The server parameter (`notify-keyspace-events`), for the audit log.
    var parameter: String { get }
    /// What turning it on changes, as a confirmation says it ("Adds the flags E g x e to
    /// notify-keyspace-events on"; the nodes follow).
    var changeDescription: String { get }
    /// Each node's state; a node that could not be asked is a failure.
    func eventSettingStatus() async -> [Result<EventSettingStatus, NodeFailure>]
    /// Turns the setting on where it is insufficient; what changed.
    func enableEventSettings() async throws -> [SettingChange]
}

/// A store that cannot do what was asked.
public struct UnsupportedOperation: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Convenience forms of the core, for callers and tests.
extension SessionStore {
    public func expire(ids: [String], after milliseconds: Int64?) async throws -> MutationResult {
        try await expire(.ids(ids), after: milliseconds)
    }
    public func delete(ids: [String]) async throws -> MutationResult { try await delete(.ids(ids)) }
    public func delete(sessions: [Session]) async throws -> MutationResult { try await delete(.sessions(sessions)) }
    public func logout(user: String) async throws -> MutationResult { try await delete(.user(user)) }
    public func nodes() async -> [NodeInfo] { await nodes(.full) }

    public func nodes(_ detail: NodeDetail, each: @escaping @Sendable (NodeInfo) async -> Void) async -> [NodeInfo] {
        let all = await nodes(detail)
        for n in all { await each(n) }
        return all
    }
}

/// What to list.
/// What a listing's rows must carry beyond id, key and node: a store skips the reads of
/// parts nobody asked for (`ls --fields`, a logout that needs only the owner).
public struct SessionParts: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The remaining time.
    public static let ttl = SessionParts(rawValue: 1)
    /// Created, last accessed, the timeout (and so the idle time).
    public static let times = SessionParts(rawValue: 2)
    /// The stored size (on Redis `MEMORY USAGE`, the costliest read per session).
    public static let size = SessionParts(rawValue: 4)
    /// Whose session it is.
    public static let user = SessionParts(rawValue: 8)
    public static let all: SessionParts = [.ttl, .times, .size, .user]
    /// Only whose session it is.
    public static let owner: SessionParts = [.user]
}

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
    /// The parts the rows must carry (the filter's terms add theirs: `wanted`).
    public var parts: SessionParts

    public init(
        filter: Filter = Filter(), limit: Int? = nil, withAttributes: Bool = false, includeExpired: Bool = false,
        parts: SessionParts = .all
    ) {
        self.filter = filter
        self.limit = limit
        self.withAttributes = withAttributes
        self.includeExpired = includeExpired
        self.parts = parts
    }

    /// The parts to read: those asked for and those the filter's terms compare, and the
    /// remaining time whenever expired leftovers must be told apart to be hidden.
    public var wanted: SessionParts {
        var p = parts
        for t in filter.terms {
            switch t.field {
            case .ttl: p.insert(.ttl)
            case .idle, .age: p.insert(.times)
            case .size: p.insert(.size)
            case .user, .anyText: p.insert(.user)
            default: break
            }
        }
        if !includeExpired { p.insert(.ttl) }
        return p
    }
}

/// How a listing went, node by node.
public struct ListOutcome: Sendable {
    public var scannedKeys: Int
    public var matched: Int
    public var failedNodes: [NodeFailure]
    public init(scannedKeys: Int = 0, matched: Int = 0, failedNodes: [NodeFailure] = []) {
        self.scannedKeys = scannedKeys
        self.matched = matched
        self.failedNodes = failedNodes
    }
}

public struct NodeFailure: Sendable, Equatable, Error {
    public var node: String
    public var message: String
    /// The node answered and refused (the user lacks the permission, e.g. Redis `NOPERM`):
    /// nothing was done there, and asking again will not help.
    public var refused: Bool
    public init(node: String, message: String, refused: Bool = false) {
        self.node = node
        self.message = message
        self.refused = refused
    }

    /// The message, redacted, without the node's name where the message starts with it
    /// (client errors name their node; the report already does).
    public var reason: String { Self.reason(Redaction.redact(message), node: Redaction.redact(node)) }

    public static func reason(_ message: String, node: String) -> String {
        message.hasPrefix(node + ": ") ? String(message.dropFirst(node.count + 2)) : message
    }
}

/// Result of a mutation: which sessions went, which were not there, which nodes failed.
public struct MutationResult: Sendable, Equatable {
    public var affected: [String]
    public var notFound: [String]
    public var failedNodes: [NodeFailure]
    /// Store keys removed or changed, for the audit log.
    public var keysTouched: Int
    public init(affected: [String] = [], notFound: [String] = [], failedNodes: [NodeFailure] = [], keysTouched: Int = 0)
    {
        self.affected = affected
        self.notFound = notFound
        self.failedNodes = failedNodes
        self.keysTouched = keysTouched
    }
    public mutating func merge(_ other: MutationResult) {
        affected += other.affected
        notFound += other.notFound
        failedNodes += other.failedNodes
        keysTouched += other.keysTouched
    }
}

/// A node of a store: a common core every store fills, and backend facts (`facts`) that
/// views render generically.
public struct NodeInfo: Sendable, Equatable {
    public var name: String
    public var address: String
    public var role: String
    public var up: Bool
    public var error: String?
    /// Down because it took the connection but did not answer in time (busy, stopped):
    /// shown as `NO ANSWER` rather than `DOWN`.
    public var unresponsive = false
    public var sessions: Int?
    /// A cheap estimate of the sessions held when `sessions` is not counted (Redis: keys
    /// times the share of session keys in a random sample), for "412,000 of ~1,000,000".
    public var estimatedSessions: Int?
    public var usedMemory: Int64?
    public var maxMemory: Int64?
    public var evictionPolicy: String?
    public var expiredTotal: Int64?
    public var evictedTotal: Int64?
    public var version: String?
    /// What only some stores know (Redis keys, a ring share, Redis Cluster slots), in order.
    public var facts: [NodeFact] = []

    public init(name: String, address: String, role: String = "master", up: Bool, error: String? = nil) {
        self.name = name
        self.address = address
        self.role = role
        self.up = up
        self.error = error
    }

    /// `up`, `NO ANSWER` (unresponsive) or `DOWN`.
    public var state: String { up ? "up" : unresponsive ? "NO ANSWER" : "DOWN" }

    /// The fact with this key.
    public subscript(fact key: String) -> NodeFact? { facts.first { $0.key == key } }

    /// Sets (or replaces) a fact.
    public mutating func set(_ fact: NodeFact) {
        if let i = facts.firstIndex(where: { $0.key == fact.key }) { facts[i] = fact } else { facts.append(fact) }
    }
}

/// One backend fact of a node: a JSON key, a column title, and the value as text and JSON.
public struct NodeFact: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case int(Int64)
        case number(Double, text: String)
        case string(String)
    }
    /// The JSON key (`keys`, `ring_share`, `slots`).
    public var key: String
    /// The column title (`KEYS`, `RING`, `SLOTS`).
    public var title: String
    public var value: Value

    public init(key: String, title: String, value: Value) {
        self.key = key
        self.title = title
        self.value = value
    }

    /// The value as a table shows it.
    public var text: String {
        switch value {
        case .int(let n): return String(n)
        case .number(_, let t): return t
        case .string(let s): return s
        }
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

    public init(
        kind: Kind, sessionID: String?, key: String?, user: String? = nil, node: String,
        timeMs: Int64, prompted: Bool = false, detail: String? = nil, target: String? = nil
    ) {
        self.kind = kind
        self.sessionID = sessionID
        self.key = key
        self.user = user
        self.node = node
        self.timeMs = timeMs
        self.prompted = prompted
        self.detail = detail
        self.target = target
    }
}

/// How a store's error should end a command: the console maps it to an exit code without
/// knowing the store's own error types.
public enum StoreErrorClass: Sendable, Equatable {
    /// Cannot connect or authenticate.
    case connection
    /// The request itself was wrong (an unknown schema, a bad URL).
    case usage
    /// Anything else: a server error, a timeout mid-way.
    case failure
}

/// An error that says how it should end a command.
public protocol ClassifiedStoreError: Error, CustomStringConvertible {
    var errorClass: StoreErrorClass { get }
}

/// What opening a store needs besides its URLs; each store takes what applies to it.
public struct StoreOptions: Sendable {
    /// The `--schema` text (`auto`, `spring:NS`, ...).
    public var schema: String
    public var connectTimeoutMs: Int
    public var commandTimeoutMs: Int
    /// A password for URLs that carry none (`REDISCLI_AUTH`, a prompt).
    public var password: String?
    /// TLS settings (`--tls`, `--cacert`...); each store maps them to its client's.
    public var tls: TLSSettings
    /// A jump host every connection goes through (`--ssh`); nil: direct.
    public var ssh: SSHSettings?
    /// Listings read from a replica where the store knows one (`--read-from replica`:
    /// Sentinel); mutations always go to the master.
    public var readFromReplica: Bool
    /// A framework's signing secret (`--secret-key`, `DJANGO_SECRET_KEY`): signed session
    /// data is checked against it. Never printed.
    public var secretKey: String?

    public init(
        schema: String = "auto", connectTimeoutMs: Int = 2000, commandTimeoutMs: Int = 10_000, password: String? = nil,
        tls: TLSSettings = TLSSettings(), ssh: SSHSettings? = nil, readFromReplica: Bool = false
    ) {
        self.readFromReplica = readFromReplica
        secretKey = nil
        self.schema = schema
        self.connectTimeoutMs = connectTimeoutMs
        self.commandTimeoutMs = commandTimeoutMs
        self.password = password
        self.tls = tls
        self.ssh = ssh
    }
}

/// A jump host as the operator names it: `--ssh [user@]host[:port]`, carried by the system
/// ssh client (`command`: `SESSIONCTL_SSH_COMMAND`, default `ssh`).
public struct SSHSettings: Sendable, Equatable {
    public var destination: String
    public var command: [String]
    public init(destination: String, command: [String] = ["ssh"]) {
        self.destination = destination
        self.command = command
    }
}

/// TLS as the operator asks for it, named like redis-cli's flags. `enabled` turns TLS on
/// for plain URLs (`--tls`); a TLS URL (`rediss://`) turns it on by itself; the other
/// settings apply to every TLS connection.
public struct TLSSettings: Sendable, Equatable {
    public var enabled = false
    public var caFile: String?
    public var caDir: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var insecure = false
    public init(
        enabled: Bool = false, caFile: String? = nil, caDir: String? = nil, certFile: String? = nil,
        keyFile: String? = nil, serverName: String? = nil, insecure: Bool = false
    ) {
        self.enabled = enabled
        self.caFile = caFile
        self.caDir = caDir
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.insecure = insecure
    }
}

/// A kind of store as the store factory knows it: its URL schemes and how to open it.
/// Each store module exports one; the executables hand them to the factory.
public struct StoreKind: Sendable {
    /// `redis`, `sessiond`.
    public var name: String
    /// URL schemes without `://` (`redis`, `unix`).
    public var schemes: [String]
    /// Opens a store over these URLs (all of this kind); errors are usage errors.
    public var open: @Sendable ([String], StoreOptions) throws -> any SessionStore

    public init(
        name: String, schemes: [String], open: @escaping @Sendable ([String], StoreOptions) throws -> any SessionStore
    ) {
        self.name = name
        self.schemes = schemes
        self.open = open
    }
}
