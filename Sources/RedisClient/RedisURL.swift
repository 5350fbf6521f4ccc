import DedicatedThread

/// Where a Redis node is and how to log in: `redis://[user[:password]@]host[:port][/db]`
/// or `unix:///path/to/redis.sock[?db=N]`. `description` never contains the password.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
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
        let secure = text.hasPrefix("rediss://")
        guard text.hasPrefix("redis://") || secure else {
            throw ParseError(
                message:
                    "unsupported store URL '\(redactedInput)' (expected redis://host:port[/db], rediss:// for TLS, "
                    + "or unix:///path)")
        }
        var rest = Substring(text.dropFirst(secure ? "rediss://".count : "redis://".count))
        var user: String? = nil
        var password: String? = nil
        if let at = rest.lastIndex(of: "@") {
            let cred = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = cred.firstIndex(of: ":") {
                let u = String(cred[..<colon])
                user = u.isEmpty ? nil : RedisURL.percentDecode(u)
                password = RedisURL.percentDecode(String(cred[cred.index(after: colon)...]))
            } else if !cred.isEmpty {
                // redis-cli convention: a lone credential is the password.
                password = RedisURL.percentDecode(String(cred))
            }
        }
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
        var host = String(rest)
        var port = 6379
        if host.hasPrefix("[") {  // IPv6 literal
            guard let close = host.firstIndex(of: "]") else {
                throw ParseError(message: "unclosed IPv6 address in '\(redactedInput)'")
            }
            let after = host[host.index(after: close)...]
            let h = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw ParseError(message: "invalid port in '\(redactedInput)'")
                }
                port = p
            }
            host = h
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw ParseError(message: "invalid port in '\(redactedInput)'")
            }
            port = p
            host = String(host[..<colon])
        }
        if host.isEmpty { host = "127.0.0.1" }
        self.init(endpoint: .tcp(host: host, port: port), user: user, password: password, db: db)
        if secure { tls = TLSOptions() }
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
        if let p = out.range(of: "password=") {
            let end = out[p.upperBound...].firstIndex(of: "&") ?? out.endIndex
            out.replaceSubrange(p.upperBound..<end, with: "***")
        }
        return out
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
