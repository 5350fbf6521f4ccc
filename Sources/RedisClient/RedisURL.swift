import DedicatedThread

/// Where a Redis node is and how to log in: `redis://[user[:password]@]host[:port][/db]`
/// or `unix:///path/to/redis.sock[?db=N]`. `description` never contains the password.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// A master named to Sentinel: the node is found at each connect.
        case sentinel(SentinelSet)
    }

    public var endpoint: Endpoint
    public var user: String?
    public var password: String?
    public var db: Int
    /// TLS (`rediss://`, or `--tls` and its flags); nil: plain TCP.
    public var tls: TLSOptions?
    /// A jump host every connection goes through (`--ssh`); nil: direct.
    public var jump: JumpHost?

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
    }

    public init(endpoint: Endpoint, user: String? = nil, password: String? = nil, db: Int = 0) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.db = db
    }

    public init(_ text: String) throws(ParseError) {
        let redactedInput = RedisURL.masked(text)
        if text.hasPrefix("unix://") {
            var rest = String(text.dropFirst("unix://".count))
            var db = 0
            var password: String? = nil
            if let q = rest.firstIndex(of: "?") {
                let query = rest[rest.index(after: q)...]
                rest = String(rest[..<q])
                for pair in query.split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    guard kv.count == 2 else { continue }
                    if kv[0] == "db" {
                        guard let n = Int(kv[1]), n >= 0 else {
                            throw ParseError(message: "invalid db in '\(redactedInput)'")
                        }
                        db = n
                    } else if kv[0] == "password" {
                        password = RedisURL.percentDecode(kv[1])
                    }
                }
            }
            guard rest.hasPrefix("/") else {
                throw ParseError(message: "unix socket URL needs an absolute path: '\(redactedInput)'")
            }
            self.init(endpoint: .unix(path: rest), password: password, db: db)
            return
        }
        if text.hasPrefix("redis+sentinel://") || text.hasPrefix("rediss+sentinel://") {
            try self.init(sentinel: text, redacted: redactedInput)
            return
        }
        let secure = text.hasPrefix("rediss://")
        guard text.hasPrefix("redis://") || secure else {
            throw ParseError(
                message:
                    "unsupported store URL '\(redactedInput)' (expected redis://host:port[/db], rediss:// for TLS, "
                    + "redis+sentinel://host:port[,host:port]/MASTER, or unix:///path)")
        }
        var rest = Substring(text.dropFirst(secure ? "rediss://".count : "redis://".count))
        let (user, password) = RedisURL.takeCredentials(&rest)
        var db = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let n = Int(dbText), n >= 0 else {
                    throw ParseError(message: "invalid database number in '\(redactedInput)'")
                }
                db = n
            }
        }
        let (named, port) = try RedisURL.hostAndPort(rest, defaultPort: 6379, in: redactedInput)
        let host = named.isEmpty ? "127.0.0.1" : named
        self.init(endpoint: .tcp(host: host, port: port), user: user, password: password, db: db)
        if secure { tls = TLSOptions() }
    }

    /// `redis+sentinel://[user[:password]@]h1[:p1][,h2[:p2]...]/MASTER[/db][?sentinel_username=U&sentinel_password=P]`.
    private init(sentinel text: String, redacted: String) throws(ParseError) {
        let secure = text.hasPrefix("rediss+")
        var rest = Substring(text.dropFirst(secure ? "rediss+sentinel://".count : "redis+sentinel://".count))
        var sentinelUser: String? = nil
        var sentinelPassword: String? = nil
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                switch (kv.first, kv.count) {
                case ("sentinel_username", 2): sentinelUser = RedisURL.percentDecode(kv[1])
                case ("sentinel_password", 2): sentinelPassword = RedisURL.percentDecode(kv[1])
                default:
                    throw ParseError(
                        message: "unknown parameter '\(kv.first ?? "")' in '\(redacted)' "
                            + "(sentinel_username, sentinel_password)")
                }
            }
            rest = rest[..<q]
        }
        let (user, password) = RedisURL.takeCredentials(&rest)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[1].isEmpty else {
            throw ParseError(
                message: "a Sentinel URL names its master: redis+sentinel://host:26379[,host2:26379]/MASTER[/db] "
                    + "('\(redacted)')")
        }
        var db = 0
        if parts.count >= 3, !parts[2].isEmpty {
            guard parts.count == 3, let n = Int(parts[2]), n >= 0 else {
                throw ParseError(message: "invalid database number in '\(redacted)'")
            }
            db = n
        }
        var sentinels: [SentinelSet.Address] = []
        for item in parts[0].split(separator: ",") {
            let (host, port) = try RedisURL.hostAndPort(item, defaultPort: 26379, in: redacted)
            guard !host.isEmpty else { throw ParseError(message: "empty sentinel address in '\(redacted)'") }
            sentinels.append(.init(host: host, port: port))
        }
        guard !sentinels.isEmpty else { throw ParseError(message: "no sentinel address in '\(redacted)'") }
        self.init(
            endpoint: .sentinel(
                SentinelSet(
                    sentinels: sentinels, masterName: RedisURL.percentDecode(String(parts[1])), username: sentinelUser,
                    password: sentinelPassword)),
            user: user, password: password, db: db)
        if secure { tls = TLSOptions() }
    }

    /// The Sentinel set when this URL names a master to Sentinel.
    public var sentinel: SentinelSet? {
        if case .sentinel(let s) = endpoint { return s }
        return nil
    }

    /// Another node of the same deployment (a cluster member, the master a Sentinel names):
    /// this URL's credentials, database, TLS settings and jump host, the node's address.
    /// The name TLS checks is the member's own unless one was given.
    public func member(host: String, port: Int) -> RedisURL {
        var url = RedisURL(endpoint: .tcp(host: host, port: port), user: user, password: password, db: db)
        url.tls = tls
        url.jump = jump
        return url
    }

    /// `host:port` or the socket path: how rows name their node.
    public var nodeName: String {
        switch endpoint {
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return path
        case .sentinel(let set): return set.masterName
        }
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        var cred = ""
        if user != nil || password != nil {
            cred = (user ?? "") + (password != nil ? ":***" : "") + "@"
        }
        switch endpoint {
        case .tcp:
            return (tls == nil ? "redis://" : "rediss://") + "\(cred)\(nodeName)" + (db != 0 ? "/\(db)" : "")
        case .sentinel(let set):
            var q: [String] = []
            if let u = set.username { q.append("sentinel_username=\(u)") }
            if set.password != nil { q.append("sentinel_password=***") }
            return (tls == nil ? "redis+sentinel://" : "rediss+sentinel://") + cred
                + set.sentinels.map(\.description).joined(separator: ",") + "/\(set.masterName)"
                + (db != 0 ? "/\(db)" : "") + (q.isEmpty ? "" : "?" + q.joined(separator: "&"))
        case .unix(let path):
            var q: [String] = []
            if db != 0 { q.append("db=\(db)") }
            if password != nil { q.append("password=***") }
            return "unix://\(path)" + (q.isEmpty ? "" : "?" + q.joined(separator: "&"))
        }
    }
    /// The URL text as messages may echo it: credentials and a `password=` value hidden.
    /// (The console redacts every text with SessionKit's `Redaction`; the client knows
    /// nothing of the domain and only hides the secrets of the URL it was given.)
    static func masked(_ text: String) -> String {
        var out = text
        if let scheme = out.range(of: "://"), let at = out[scheme.upperBound...].firstIndex(of: "@") {
            let cred = out[scheme.upperBound..<at]
            let secret = cred.firstIndex(of: ":").map { out.index(after: $0)..<at } ?? (scheme.upperBound..<at)
            if !secret.isEmpty { out.replaceSubrange(secret, with: "***") }
        }
        var from = out.startIndex
        while let p = out[from...].range(of: "password=") {
            let end = out[p.upperBound...].firstIndex(of: "&") ?? out.endIndex
            let offset = out.distance(from: out.startIndex, to: p.upperBound)
            out.replaceSubrange(p.upperBound..<end, with: "***")
            from = out.index(out.startIndex, offsetBy: offset + 3)
        }
        return out
    }

    /// `[user[:password]@]` off the front of an authority (a lone credential is the
    /// password, as in redis-cli).
    static func takeCredentials(_ rest: inout Substring) -> (user: String?, password: String?) {
        guard let at = rest.lastIndex(of: "@") else { return (nil, nil) }
        let cred = rest[..<at]
        rest = rest[rest.index(after: at)...]
        if let colon = cred.firstIndex(of: ":") {
            let u = String(cred[..<colon])
            return (u.isEmpty ? nil : percentDecode(u), percentDecode(String(cred[cred.index(after: colon)...])))
        }
        return (nil, cred.isEmpty ? nil : percentDecode(String(cred)))
    }

    /// `host[:port]` or `[v6][:port]`; `text` names the URL (redacted) in errors.
    static func hostAndPort(_ item: Substring, defaultPort: Int, in text: String) throws(ParseError) -> (String, Int) {
        var host = String(item)
        var port = defaultPort
        if host.hasPrefix("[") {  // IPv6 literal
            guard let close = host.firstIndex(of: "]") else {
                throw ParseError(message: "unclosed IPv6 address in '\(text)'")
            }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw ParseError(message: "invalid port in '\(text)'")
                }
                port = p
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw ParseError(message: "invalid port in '\(text)'")
            }
            port = p
            host = String(host[..<colon])
        }
        return (host, port)
    }

    static func percentDecode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.first {
            if c == UInt8(ascii: "%"), it.count >= 3,
                let v = UInt8(String(decoding: it.dropFirst().prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                it = it.dropFirst(3)
            } else {
                bytes.append(c)
                it = it.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
