import DedicatedThread

#if canImport(Glibc)
    import Glibc
#endif

/// A connection to one Redis node, owned by an actor that runs on its own thread
/// (`ThreadExecutor`): every blocking hiredis call stays off the cooperative pool.
///
/// The connection is opened lazily. When it breaks, the client reconnects with
/// exponential backoff (100 ms, 200 ms, 400 ms) and retries the failed batch once; the
/// commands the console sends are idempotent (reads, DEL, SREM, PEXPIRE), so a retry
/// cannot apply a change twice in a different way.
public actor RedisClient {
    public nonisolated let url: RedisURL
    public nonisolated let timeouts: RedisConnection.Timeouts
    private nonisolated let fallbackPassword: String?
    private let executor: ThreadExecutor
    private var connection: RedisConnection?
    /// Reconnect attempts before a connection error reaches the caller.
    public nonisolated let reconnectAttempts: Int

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// `fallbackPassword` is used when the URL has none (`REDISCLI_AUTH`, a prompt).
    public init(
        url: RedisURL, timeouts: RedisConnection.Timeouts = .init(), fallbackPassword: String? = nil,
        reconnectAttempts: Int = 3
    ) {
        self.url = url
        self.timeouts = timeouts
        self.fallbackPassword = fallbackPassword
        self.reconnectAttempts = reconnectAttempts
        self.executor = ThreadExecutor(name: "redis " + url.nodeName)
    }

    deinit { executor.shutdown() }

    public nonisolated var nodeName: String { url.nodeName }

    /// Connects now (instead of on the first command) to report errors early.
    public func connect() throws(RedisError) {
        _ = try ensureConnected()
    }

    public func close() {
        connection?.close()
        connection = nil
        inFlight = 0
        sentinelLink?.close()
        sentinelLink = nil
    }

    /// Replies of `send` not yet read by `receive`.
    private var inFlight = 0
    /// A connection of its own to a sentinel, kept to ask where the master is.
    private var sentinelLink: RedisConnection?
    private var sentinelCheckedMs: Int64 = 0
    private var lastUseMs: Int64 = 0

    /// Whether the sentinels name another master than `address` now, asked on a kept
    /// connection before a command that follows a pause (100 ms), and once a second in a
    /// burst (a listing's pipelines). A sentinel that does not answer changes nothing.
    private func masterMoved(_ set: SentinelSet, from address: String) -> Bool {
        let now = Self.monotonicMs()
        defer { lastUseMs = now }
        guard now - sentinelCheckedMs >= 1000 || now - lastUseMs >= 100 else { return false }
        sentinelCheckedMs = now
        for _ in 0..<2 {
            if sentinelLink?.isOpen != true {
                sentinelLink = nil
                for a in set.sentinels {
                    if let c = try? Sentinel.connection(a, set: set, base: url, timeouts: timeouts) {
                        sentinelLink = c
                        break
                    }
                }
            }
            guard let link = sentinelLink else { return false }
            if let r = try? link.send([RedisCommand("SENTINEL", "GET-MASTER-ADDR-BY-NAME", set.masterName)])[0],
                let parts = r.array, parts.count == 2, let host = parts[0].text, let port = parts[1].text
            {
                let named = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
                return named != address
            }
            sentinelLink = nil  // that sentinel failed: another one, once
        }
        return false
    }

    private static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The address the open connection reached (for a Sentinel URL, the node named then).
    public var connectedAddress: String? { connection?.address }

    /// For a Sentinel URL: the master's replicas and every sentinel, asked on this client's
    /// thread (the calls block). Empty for other URLs.
    public func sentinelView() -> (replicas: [Sentinel.Replica], sentinels: [Sentinel.Member], error: String?) {
        guard let set = url.sentinel else { return ([], [], nil) }
        var problem: String? = nil
        var replicas: [Sentinel.Replica] = []
        do { replicas = try Sentinel.replicas(set, base: url, timeouts: timeouts) } catch {
            problem = error.description
        }
        return (replicas, Sentinel.members(set, base: url, timeouts: timeouts), problem)
    }

    public func send(_ command: RedisCommand) throws(RedisError) -> RedisReply {
        try pipeline([command])[0]
    }

    /// Sends all commands in one write and returns their replies in order.
    public func pipeline(_ commands: [RedisCommand]) throws(RedisError) -> [RedisReply] {
        if commands.isEmpty { return [] }
        do {
            return try ensureConnected().send(commands)
        } catch let e where e.isConnectionError && !e.isTimeout {
            connection = nil
            return try reconnectWithBackoff().send(commands)
        }
    }

    /// Writes commands without waiting for their replies; `receive` reads them later, in
    /// order. Lets a caller keep the server busy with the next batch while it works on the
    /// previous replies. A broken connection here is not retried (replies may be lost):
    /// the caller gets the connection error.
    public func send(_ commands: [RedisCommand]) throws(RedisError) {
        let c = try ensureConnected()
        do {
            try c.append(commands)
            try c.flush()
            inFlight += commands.count
        } catch {
            connection = nil
            inFlight = 0
            throw error
        }
    }

    /// Reads `count` replies of earlier `send`s.
    public func receive(_ count: Int) throws(RedisError) -> [RedisReply] {
        guard let c = connection else {
            throw RedisError.connection(node: url.nodeName, message: "connection lost before the replies arrived")
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(count)
        do {
            for _ in 0..<count {
                replies.append(try c.readReply())
                inFlight = max(0, inFlight - 1)
            }
        } catch {
            connection = nil
            inFlight = 0
            throw error
        }
        return replies
    }

    /// Runs `body` with the raw connection on this actor's thread, for protocols that
    /// interleave writes and reads (scans that pipeline the next page with the reads of
    /// the current one).
    public func withConnection<T>(_ body: (RedisConnection) throws(RedisError) -> T) throws(RedisError) -> T {
        do {
            return try body(try ensureConnected())
        } catch let e where e.isConnectionError && !e.isTimeout && !e.isPermanent {
            connection = nil
            return try body(try reconnectWithBackoff())
        }
    }

    private func ensureConnected() throws(RedisError) -> RedisConnection {
        if let c = connection, c.isOpen {
            // Never with replies in flight: they would be lost with the connection.
            guard inFlight == 0, let set = url.sentinel, set.readFrom == .master, masterMoved(set, from: c.address)
            else { return c }
            // A failover: the old master may still take writes until Sentinel demotes it.
            c.close()
            connection = nil
        }
        let c = try RedisConnection(url: url, timeouts: timeouts, fallbackPassword: fallbackPassword)
        connection = c
        return c
    }

    private func reconnectWithBackoff() throws(RedisError) -> RedisConnection {
        var delayMs = 100
        var last: RedisError = .connection(node: url.nodeName, message: "connection lost")
        for _ in 0..<max(1, reconnectAttempts) {
            usleep(useconds_t(delayMs * 1000))  // this actor's own thread: nothing else waits on it
            do {
                return try ensureConnected()
            } catch let e where e.isConnectionError && !e.isTimeout && !e.isPermanent {
                last = e
                delayMs = min(delayMs * 2, 2000)
            }
        }
        throw last
    }
}
