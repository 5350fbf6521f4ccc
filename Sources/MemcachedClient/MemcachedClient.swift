import DedicatedThread

/// A connection to one memcached node, owned by an actor that runs on its own thread: every
/// blocking socket call stays off the cooperative pool. Reconnects on the next call after a
/// connection error.
public actor MemcachedClient {
    public nonisolated let endpoint: MemcachedEndpoint
    public nonisolated let timeouts: MemcachedConnection.Timeouts
    private let executor: ThreadExecutor
    private var connection: MemcachedConnection?

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public init(endpoint: MemcachedEndpoint, timeouts: MemcachedConnection.Timeouts = .init()) {
        self.endpoint = endpoint
        self.timeouts = timeouts
        executor = ThreadExecutor(name: "memcached " + endpoint.nodeName)
    }

    deinit { executor.shutdown() }

    /// Runs `body` on the node's connection (connecting first when needed). A connection
    /// error drops the connection so that the next call reconnects.
    public func run<T: Sendable>(_ body: (MemcachedConnection) throws -> T) throws -> T {
        let c: MemcachedConnection
        if let open = connection, open.isOpen {
            c = open
        } else {
            c = try MemcachedConnection(endpoint: endpoint, timeouts: timeouts)
            connection = c
        }
        do {
            return try body(c)
        } catch {
            switch error as? MemcachedError {
            case .connection?, .protocolError?: connection = nil
            default: break
            }
            throw error
        }
    }

    public func metaGet(_ keys: [[UInt8]]) throws -> [MetaValue?] { try run { try $0.metaGet(keys) } }
    public func metaDelete(_ keys: [[UInt8]]) throws -> [Bool] { try run { try $0.metaDelete(keys) } }
    public func metaTouch(_ keys: [[UInt8]], seconds: Int64) throws -> [Bool] {
        try run { try $0.metaTouch(keys, seconds: seconds) }
    }
    public func metaSet(_ items: [MetaSet]) throws -> [Bool] { try run { try $0.metaSet(items) } }
    public func stats(_ group: String = "") throws -> [String: String] {
        try run { try $0.stats(group) }
    }
}

/// One `lru_crawler metadump all` on a connection of its own (the dump owns it until `END`),
/// read batch by batch on its own thread: the caller pulls the next batch when it is ready
/// for it, so a slow consumer slows the dump instead of growing a buffer.
public actor MetadumpReader {
    public nonisolated let endpoint: MemcachedEndpoint
    private let executor: ThreadExecutor
    private let timeouts: MemcachedConnection.Timeouts
    private var connection: MemcachedConnection?
    private var finished = false
    /// Lines that were not items (kept for the report, at most 20).
    public private(set) var malformed: [String] = []
    public private(set) var malformedCount = 0

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public init(endpoint: MemcachedEndpoint, timeouts: MemcachedConnection.Timeouts = .init()) {
        self.endpoint = endpoint
        self.timeouts = timeouts
        executor = ThreadExecutor(name: "metadump " + endpoint.nodeName)
    }

    deinit { executor.shutdown() }

    /// The next items (nil when the dump is complete). `BUSY` (another crawler running) is
    /// retried for up to `busyRetrySeconds`; a refusal says which server setting is at fault.
    public func next(max: Int = 2000, busyRetrySeconds: Double = 30) throws(MemcachedError) -> [MetaProtocol.DumpItem]?
    {
        if finished { return nil }
        if connection == nil {
            let c = try MemcachedConnection(endpoint: endpoint, timeouts: timeouts)
            try c.startMetadump()
            connection = c
        }
        var items: [MetaProtocol.DumpItem] = []
        var busySince: timespec?
        while items.isEmpty {
            guard let c = connection else { return nil }
            let lines = try c.nextDumpLines(max: max)
            for line in lines {
                switch line {
                case .item(let item):
                    items.append(item)
                case .malformed(let text):
                    malformedCount += 1
                    if malformed.count < 20 { malformed.append(text) }
                case .end:
                    finish()
                    return items.isEmpty ? nil : items
                case .busy:
                    let now = Self.monotonic()
                    let since = busySince ?? now
                    busySince = since
                    guard Double(now.tv_sec - since.tv_sec) < busyRetrySeconds else {
                        finish()
                        throw .refused(
                            node: endpoint.nodeName,
                            message:
                                "the LRU crawler stayed busy for \(Int(busyRetrySeconds)) s (another dump running?)")
                    }
                    usleep(50_000)
                    try c.startMetadump()
                case .refused(let text):
                    finish()
                    throw .refused(node: endpoint.nodeName, message: Self.explain(text))
                }
            }
        }
        return items
    }

    /// Stops reading (the connection is closed: the node ends its dump).
    public func finish() {
        finished = true
        connection?.close()
        connection = nil
    }

    /// A refusal with the server setting that causes it.
    static func explain(_ text: String) -> String {
        if text.contains("metadump not allowed") {
            return "\(text): the node runs with -X (dump commands disabled); start it without -X to list sessions"
        }
        if text.contains("lru crawler disabled") || text.contains("crawler") {
            return "\(text): the LRU crawler is off (-o no_lru_crawler); run `lru_crawler enable` or restart without it"
        }
        if text == "ERROR" {
            return
                "ERROR: the node does not know `lru_crawler metadump` (memcached before 1.4.31, or a node with SASL, "
                + "which speaks only the binary protocol)"
        }
        return text
    }

    static func monotonic() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts
    }
}

#if canImport(Glibc)
    import Glibc
#endif
