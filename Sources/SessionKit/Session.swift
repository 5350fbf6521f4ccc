/// A live HTTP session as the console shows it, whatever store and framework keep it.
///
/// Times are milliseconds since the Unix epoch: cheap to keep for a million rows and
/// exact to print. `nil` means the store does not know.
public struct Session: Sendable, Equatable {
    /// The session id as the application knows it (the cookie value), not the store key.
    public var id: String
    /// The store key that holds the session's data (for Spring, the hash).
    public var key: String
    /// The user (principal) owning the session, when the framework records one.
    public var user: String?
    /// The node that holds the session (`host:port`, or a node id in the in-house store).
    public var node: String
    /// Remaining time to live in ms; -1 when the session never expires.
    public var ttlMs: Int64
    public var createdAtMs: Int64?
    public var lastAccessedAtMs: Int64?
    /// Sliding timeout in seconds; negative means "never expires".
    public var maxInactiveSeconds: Int64?
    /// Idle time in ms as the store reports it when the schema has no last-access time.
    public var storeIdleMs: Int64?
    /// Memory the store spends on the session (all its keys it reported), in bytes.
    public var sizeBytes: Int64?
    /// Schema name: `spring`, `connect-redis`, `prefix`, `sessiond`, ...
    public var schema: String
    /// Decoded attributes; empty in listings (details are fetched on demand).
    public var attributes: [Attribute]
    /// The stored bytes of a session kept as one value (PHP, Django, Rails, ...), when
    /// read in detail: `show --raw` prints them.
    public var storedValue: [UInt8]? = nil

    public init(
        id: String, key: String, user: String? = nil, node: String, ttlMs: Int64,
        createdAtMs: Int64? = nil, lastAccessedAtMs: Int64? = nil,
        maxInactiveSeconds: Int64? = nil, storeIdleMs: Int64? = nil,
        sizeBytes: Int64? = nil, schema: String, attributes: [Attribute] = []
    ) {
        self.id = id
        self.key = key
        self.user = user
        self.node = node
        self.ttlMs = ttlMs
        self.createdAtMs = createdAtMs
        self.lastAccessedAtMs = lastAccessedAtMs
        self.maxInactiveSeconds = maxInactiveSeconds
        self.storeIdleMs = storeIdleMs
        self.sizeBytes = sizeBytes
        self.schema = schema
        self.attributes = attributes
    }

    /// Idle time at `nowMs`: from the last access when known, else from the store.
    public func idleMs(now nowMs: Int64) -> Int64? {
        if let last = lastAccessedAtMs { return max(0, nowMs - last) }
        return storeIdleMs
    }

    /// Age at `nowMs`, when the creation time is known.
    public func ageMs(now nowMs: Int64) -> Int64? {
        createdAtMs.map { max(0, nowMs - $0) }
    }
}

/// One session attribute: the bytes the store holds and what they decode to.
public struct Attribute: Sendable, Equatable {
    public var name: String
    public var raw: [UInt8]
    public var decoded: DecodedValue
    /// How the bytes were read: `java`, `json`, `text`, `binary`, `integer`...
    public var format: String

    public init(name: String, raw: [UInt8], decoded: DecodedValue, format: String) {
        self.name = name
        self.raw = raw
        self.decoded = decoded
        self.format = format
    }
}

/// A decoded value tree, the common shape every decoder produces for display.
public indirect enum DecodedValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([DecodedValue])
    case map([Entry])
    /// An object of a class we only describe, never instantiate.
    case object(className: String, fields: [Entry])
    /// The bytes could not be decoded; the message says why (the raw bytes are kept).
    case undecodable(String)

    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: DecodedValue
        public init(_ key: String, _ value: DecodedValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value of a map entry or object field by name.
    public subscript(field: String) -> DecodedValue? {
        switch self {
        case .map(let entries), .object(_, let entries):
            return entries.first(where: { $0.key == field })?.value
        default:
            return nil
        }
    }

    /// A short one-line rendering (for tables and filters); untrusted text still needs
    /// `Sanitizer` before it reaches a terminal.
    public var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s
        case .bytes(let b): return "<\(b.count) bytes>"
        case .list(let items): return "[" + items.map(\.summary).joined(separator: ", ") + "]"
        case .map(let entries):
            return "{" + entries.map { "\($0.key): \($0.value.summary)" }.joined(separator: ", ") + "}"
        case .object(let cls, let fields):
            return "\(cls){" + fields.map { "\($0.key): \($0.value.summary)" }.joined(separator: ", ") + "}"
        case .undecodable(let why): return "<undecodable: \(why)>"
        }
    }
}
