/// An item read with `mg KEY s v t f l u`: without bumping it in the LRU, marking it fetched
/// or moving its last access (the `u` flag), so an inspection changes nothing.
public struct MetaValue: Sendable, Equatable {
    public var value: [UInt8]
    /// Remaining seconds; -1 when the item never expires.
    public var ttlSeconds: Int64
    public var clientFlags: UInt32
    /// Seconds since the last access, when the node reports it.
    public var idleSeconds: Int64?
}

/// One item to store with `ms`.
public struct MetaSet: Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var clientFlags: UInt32
    /// Seconds to live (0: never); above 30 days memcached reads it as a unix time.
    public var ttlSeconds: Int64
    public init(key: [UInt8], value: [UInt8], clientFlags: UInt32, ttlSeconds: Int64) {
        self.key = key
        self.value = value
        self.clientFlags = clientFlags
        self.ttlSeconds = ttlSeconds
    }
}

/// The largest relative expiry memcached accepts; beyond it an exptime is a unix time.
public let relativeExpiryLimit: Int64 = 30 * 24 * 3600

/// The commands sessionctl sends, each pipelined: one write for the whole batch, then the
/// replies in order.
extension MemcachedConnection {
    private func metaLine(_ verb: String, _ key: [UInt8], _ flags: String) -> [UInt8] {
        var line: [UInt8] = []
        appendMetaLine(&line, verb, key, flags)
        return line
    }

    /// Appends `VERB KEY FLAGS [b]\r\n` to a request buffer (no intermediate arrays: a
    /// listing sends one per session).
    private func appendMetaLine(_ out: inout [UInt8], _ verb: String, _ key: [UInt8], _ flags: String) {
        out.append(contentsOf: verb.utf8)
        out.append(UInt8(ascii: " "))
        let plain = MetaProtocol.isPlainKey(key)
        if plain { out.append(contentsOf: key) } else { out.append(contentsOf: MetaProtocol.base64(key)) }
        if !flags.isEmpty {
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: flags.utf8)
        }
        if !plain { out.append(contentsOf: " b".utf8) }
        out.append(13)
        out.append(10)
    }

    private func refusal(_ header: MetaProtocol.MetaHeader?, _ line: ArraySlice<UInt8>) -> MemcachedError {
        if let header, header.code.hasSuffix("ERROR") {
            return .refused(node: endpoint.nodeName, message: MetaProtocol.printable(line))
        }
        return .protocolError(node: endpoint.nodeName, message: "unexpected reply '\(MetaProtocol.printable(line))'")
    }

    /// Reads items without touching them; nil where the key is absent.
    public func metaGet(_ keys: [[UInt8]]) throws(MemcachedError) -> [MetaValue?] {
        guard !keys.isEmpty else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(keys.count * 48)
        for k in keys { appendMetaLine(&out, "mg", k, "s v t f l u") }
        try write(out)
        var values: [MetaValue?] = []
        values.reserveCapacity(keys.count)
        for _ in keys {
            let line = try readLine()
            switch MetaProtocol.valueHeader(line) {
            case .miss:
                values.append(nil)
            case .value(let n, let ttl, let flags, let idle):
                let value = try readValue(n)
                values.append(MetaValue(value: value, ttlSeconds: ttl, clientFlags: flags, idleSeconds: idle))
            case .other:
                throw refusal(MetaProtocol.metaHeader(line), line)
            }
        }
        return values
    }

    /// Deletes items for real (`md`); true where the key was there.
    public func metaDelete(_ keys: [[UInt8]]) throws(MemcachedError) -> [Bool] {
        try simpleBatch(keys.map { metaLine("md", $0, "") }, yes: "HD", no: "NF")
    }

    /// Sets the remaining time of items without reading them (`mg KEY T<secs>`, no value);
    /// true where the key was there.
    public func metaTouch(_ keys: [[UInt8]], seconds: Int64) throws(MemcachedError) -> [Bool] {
        let exptime = Self.exptime(seconds)
        return try simpleBatch(keys.map { metaLine("mg", $0, "T\(exptime)") }, yes: "HD", no: "EN")
    }

    /// Stores items (`ms`); true where the node stored them.
    public func metaSet(_ items: [MetaSet]) throws(MemcachedError) -> [Bool] {
        var lines: [[UInt8]] = []
        for item in items {
            let header = metaLine(
                "ms", item.key, "\(item.value.count) T\(Self.exptime(item.ttlSeconds)) F\(item.clientFlags)")
            lines.append(header + item.value + [13, 10])
        }
        return try simpleBatch(lines, yes: "HD", no: "NS")
    }

    /// An exptime for `seconds` from now: relative up to 30 days, a unix time beyond.
    static func exptime(_ seconds: Int64) -> Int64 {
        guard seconds > relativeExpiryLimit else { return max(0, seconds) }
        return Int64(time(nil)) + seconds
    }

    private func simpleBatch(_ lines: [[UInt8]], yes: String, no: String) throws(MemcachedError) -> [Bool] {
        guard !lines.isEmpty else { return [] }
        try write(lines.flatMap { $0 })
        var out: [Bool] = []
        out.reserveCapacity(lines.count)
        for _ in lines {
            let line = try readLine()
            let h = MetaProtocol.metaHeader(line)
            if h?.code == yes {
                out.append(true)
            } else if h?.code == no {
                out.append(false)
            } else {
                throw refusal(h, line)
            }
        }
        return out
    }

    /// Starts `lru_crawler metadump all`; read its lines with `nextDumpLines`.
    public func startMetadump() throws(MemcachedError) {
        try write(Array("lru_crawler metadump all\r\n".utf8))
    }

    /// Up to `max` parsed dump lines (the last is `.end`, `.busy` or `.refused` when the dump
    /// stops there).
    public func nextDumpLines(max: Int) throws(MemcachedError) -> [MetaProtocol.DumpLine] {
        var out: [MetaProtocol.DumpLine] = []
        out.reserveCapacity(max)
        while out.count < max {
            let line = MetaProtocol.dumpLine(try readLine())
            out.append(line)
            switch line {
            case .item, .malformed: continue
            case .end, .busy, .refused: return out
            }
        }
        return out
    }
}

#if canImport(Glibc)
    import Glibc
#endif
