/// A master known by name to Redis Sentinel: `redis+sentinel://[user[:password]@]host1:port1[,host2:port2...]/MASTER[/db]`
/// (`rediss+sentinel://` for TLS everywhere). The URL's credentials are the data nodes';
/// the sentinels' come from `?sentinel_username=` and `?sentinel_password=`.
///
/// A connection to such a URL asks the sentinels in turn where the master is
/// (`SENTINEL GET-MASTER-ADDR-BY-NAME`) each time it connects, and checks the answer with
/// `ROLE`: a reconnect after a failover reaches the new master by itself. With
/// `readFrom = .replica` it picks a healthy replica from `SENTINEL REPLICAS` instead (the
/// master when there is none).
public struct SentinelSet: Sendable, Hashable {
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public enum ReadFrom: String, Sendable, Hashable {
        case master, replica
    }

    public var sentinels: [Address]
    public var masterName: String
    public var username: String?
    public var password: String?
    public var readFrom: ReadFrom = .master

    public init(
        sentinels: [Address], masterName: String, username: String? = nil, password: String? = nil,
        readFrom: ReadFrom = .master
    ) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.username = username
        self.password = password
        self.readFrom = readFrom
    }
}

/// What the sentinels say, asked over plain request/response connections (blocking: callers
/// run on a client's own thread or off the cooperative pool).
public enum Sentinel {
    /// How an error begins when no sentinel named the master.
    public static let noAnswerPrefix = "no Sentinel could name master"

    /// A replica as `SENTINEL REPLICAS` describes it.
    public struct Replica: Sendable, Equatable {
        public var address: SentinelSet.Address
        /// Sentinel's flags (`slave`, `s_down`, `disconnected`...).
        public var flags: String
        public var linkOK: Bool
        public var healthy: Bool {
            linkOK && !flags.contains("s_down") && !flags.contains("o_down") && !flags.contains("disconnected")
        }
    }

    /// A sentinel and whether it answered.
    public struct Member: Sendable, Equatable {
        public var address: SentinelSet.Address
        public var up: Bool
        public var error: String?
    }

    /// A connection to one sentinel: its own credentials; TLS and jump host as the data
    /// nodes'.
    static func connection(
        _ a: SentinelSet.Address, set: SentinelSet, base: RedisURL, timeouts: RedisConnection.Timeouts
    )
        throws(RedisError) -> RedisConnection
    {
        var url = RedisURL(endpoint: .tcp(host: a.host, port: a.port), user: set.username, password: set.password)
        url.tls = base.tls
        url.jump = base.jump
        return try RedisConnection(url: url, timeouts: timeouts)
    }

    /// Asks each sentinel in turn; the first answer wins. Errors name every sentinel tried.
    static func ask<T>(
        _ set: SentinelSet, base: RedisURL, timeouts: RedisConnection.Timeouts,
        _ body: (RedisConnection, SentinelSet.Address) throws(RedisError) -> T
    ) throws(RedisError) -> T {
        var problems: [String] = []
        for a in set.sentinels {
            do {
                let c = try connection(a, set: set, base: base, timeouts: timeouts)
                defer { c.close() }
                return try body(c, a)
            } catch {
                problems.append("\(a): \(Self.reason(error))")
            }
        }
        throw RedisError.connection(
            node: set.masterName,
            message: "\(noAnswerPrefix) '\(set.masterName)' (\(problems.joined(separator: "; ")))")
    }

    private static func reason(_ e: RedisError) -> String {
        if case .connection(_, let m) = e { return m }
        if case .authentication(_, let m) = e { return "authentication failed: \(m)" }
        return e.description
    }

    /// The master's address now.
    public static func master(_ set: SentinelSet, base: RedisURL, timeouts: RedisConnection.Timeouts)
        throws(RedisError) -> SentinelSet.Address
    {
        try ask(set, base: base, timeouts: timeouts) { c, a throws(RedisError) in
            let r = try c.send([RedisCommand("SENTINEL", "GET-MASTER-ADDR-BY-NAME", set.masterName)])[0]
            if let m = r.errorMessage { throw RedisError.connection(node: a.description, message: m) }
            guard let parts = r.array, parts.count == 2, let host = parts[0].text,
                let port = parts[1].text.flatMap({ Int($0) })
            else {
                throw RedisError.connection(
                    node: a.description, message: "this Sentinel does not monitor a master named '\(set.masterName)'")
            }
            return SentinelSet.Address(host: host, port: port)
        }
    }

    /// The master's replicas as the first sentinel that answers sees them.
    public static func replicas(_ set: SentinelSet, base: RedisURL, timeouts: RedisConnection.Timeouts)
        throws(RedisError) -> [Replica]
    {
        try ask(set, base: base, timeouts: timeouts) { c, a throws(RedisError) in
            let r = try c.send([RedisCommand("SENTINEL", "REPLICAS", set.masterName)])[0]
            if let m = r.errorMessage { throw RedisError.connection(node: a.description, message: m) }
            return (r.array ?? []).compactMap { entry -> Replica? in
                let fields = pairs(entry)
                guard let host = fields["ip"], let port = fields["port"].flatMap({ Int($0) }) else { return nil }
                return Replica(
                    address: .init(host: host, port: port), flags: fields["flags"] ?? "",
                    linkOK: fields["master-link-status"] == "ok")
            }
        }
    }

    /// Every sentinel: those given, and those the first answering one knows of
    /// (`SENTINEL SENTINELS`), each asked `PING`.
    public static func members(_ set: SentinelSet, base: RedisURL, timeouts: RedisConnection.Timeouts) -> [Member] {
        var addresses = set.sentinels
        if let others = try? ask(
            set, base: base, timeouts: timeouts,
            { c, _ throws(RedisError) in try c.send([RedisCommand("SENTINEL", "SENTINELS", set.masterName)])[0] })
        {
            for entry in others.array ?? [] {
                let f = pairs(entry)
                if let host = f["ip"], let port = f["port"].flatMap({ Int($0) }) {
                    let a = SentinelSet.Address(host: host, port: port)
                    if !addresses.contains(a) { addresses.append(a) }
                }
            }
        }
        return addresses.map { a -> Member in
            do throws(RedisError) {
                let c = try connection(a, set: set, base: base, timeouts: timeouts)
                defer { c.close() }
                let r = try c.send([RedisCommand("PING")])[0]
                return Member(address: a, up: r.errorMessage == nil, error: r.errorMessage)
            } catch {
                return Member(address: a, up: false, error: reason(error))
            }
        }
    }

    /// Where a connection to this set goes now: the master, or with `.replica` a healthy
    /// replica (the master when none is), and the role the node must confirm.
    static func target(_ set: SentinelSet, base: RedisURL, timeouts: RedisConnection.Timeouts)
        throws(RedisError) -> (address: SentinelSet.Address, role: String)
    {
        if set.readFrom == .replica, let healthy = try? replicas(set, base: base, timeouts: timeouts).filter(\.healthy),
            let pick = healthy.randomElement()
        {
            return (pick.address, "slave")
        }
        return (try master(set, base: base, timeouts: timeouts), "master")
    }

    /// A flat `[name, value, name, value...]` reply as a dictionary.
    static func pairs(_ r: RedisReply) -> [String: String] {
        let items = r.array ?? []
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < items.count {
            if let k = items[i].text, let v = items[i + 1].text { out[k] = v }
            i += 2
        }
        return out
    }
}
