import DedicatedThread

/// One memcached node and how to log in to it (ASCII auth, `-Y`).
public struct MemcachedEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    /// A jump host the connections go through (`--ssh`); nil: direct.
    public var jump: JumpHost?

    public init(host: String, port: Int = 11211, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
    }

    /// `host:port` (`[v6]:port`): how listings name the node.
    public var nodeName: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The URL with the password masked.
    public var description: String {
        let auth = user.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        return "memcached://\(auth)\(nodeName)"
    }

    /// Parses `memcached://[user:password@]host[:port][,host2[:port2]...]` into its nodes
    /// (every node shares the credentials). Error messages never contain the password.
    public static func parse(_ text: String) throws(MemcachedError) -> [MemcachedEndpoint] {
        let scheme = "memcached://"
        guard text.hasPrefix(scheme) else {
            throw .usage("not a memcached URL: '\(masked(text))' (expected memcached://host:port)")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw .usage("memcached has no databases: remove the path from '\(masked(text))'")
            }
            rest = rest[..<slash]
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = auth.firstIndex(of: ":") {
                user = percentDecoded(auth[..<colon])
                password = percentDecoded(auth[auth.index(after: colon)...])
            } else {
                user = percentDecoded(auth)
            }
            if user?.isEmpty == true {
                throw .usage("memcached ASCII auth needs a user name: '\(masked(text))'")
            }
        }
        var nodes: [MemcachedEndpoint] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            var host = String(part)
            var port = 11211
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else {
                    throw .usage("bad IPv6 address in '\(masked(text))'")
                }
                let after = host[host.index(after: close)...]
                let inner = String(host[host.index(after: host.startIndex)..<close])
                if after.hasPrefix(":") {
                    guard let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                        throw .usage("invalid port in '\(masked(text))'")
                    }
                    port = p
                }
                host = inner
            } else if let colon = host.lastIndex(of: ":") {
                guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                    throw .usage("invalid port in '\(masked(text))'")
                }
                port = p
                host = String(host[..<colon])
            }
            guard !host.isEmpty else { throw .usage("missing host in '\(masked(text))'") }
            nodes.append(MemcachedEndpoint(host: host, port: port, user: user, password: password))
        }
        return nodes
    }

    /// The URL text with any password replaced by `***`.
    public static func masked(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > schemeEnd.upperBound
        else { return text }
        let auth = text[schemeEnd.upperBound..<at]
        guard let colon = auth.firstIndex(of: ":") else { return text }
        return text[..<schemeEnd.upperBound] + auth[..<colon] + ":***" + text[at...]
    }

    static func percentDecoded(_ s: Substring) -> String {
        String(decoding: MetaProtocol.percentDecode(ArraySlice(s.utf8)), as: UTF8.self)
    }
}
