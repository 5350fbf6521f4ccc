/// Pure parsers for what a memcached node says in its text and meta protocol: metadump
/// lines, meta replies, `watch` log lines, `stats` lines. No I/O: the connection feeds them,
/// the fuzz harnesses too. Every input is untrusted; nothing here traps on bad bytes.
public enum MetaProtocol {
    /// One live item of `lru_crawler metadump`: `key=K exp=E la=L cas=C fetch=yes cls=N size=S`.
    public struct DumpItem: Sendable, Equatable {
        /// The key, percent-decoded (any bytes).
        public var key: [UInt8]
        /// Absolute unix seconds the item expires at; -1 never.
        public var expiresAt: Int64
        /// Absolute unix seconds of the last access.
        public var lastAccess: Int64?
        /// The whole item's size in memory (key, value and header).
        public var size: Int64?
        public var fetched: Bool?
        public init(key: [UInt8], expiresAt: Int64, lastAccess: Int64? = nil, size: Int64? = nil, fetched: Bool? = nil)
        {
            self.key = key
            self.expiresAt = expiresAt
            self.lastAccess = lastAccess
            self.size = size
            self.fetched = fetched
        }
    }

    /// What a metadump line is.
    public enum DumpLine: Sendable, Equatable {
        case item(DumpItem)
        /// `END`: the dump is complete.
        case end
        /// `BUSY ...`: another crawler runs; retry.
        case busy
        /// `ERROR ...`, `CLIENT_ERROR ...`, `SERVER_ERROR ...`: the node refused.
        case refused(String)
        /// A line we cannot read (kept for the report).
        case malformed(String)
    }

    /// Parses one metadump line (without its line ending). Unknown `k=v` fields are ignored;
    /// a line without a key is malformed.
    public static func dumpLine(_ line: ArraySlice<UInt8>) -> DumpLine {
        if line.elementsEqual("END".utf8) { return .end }
        if line.starts(with: "BUSY".utf8) { return .busy }
        for prefix in ["ERROR", "CLIENT_ERROR", "SERVER_ERROR"] where line.starts(with: prefix.utf8) {
            return .refused(printable(line))
        }
        var key: [UInt8]?
        var exp: Int64?
        var la: Int64?
        var size: Int64?
        var fetched: Bool?
        // One pass, no allocation but the key: a dump is millions of these lines.
        var i = line.startIndex
        let end = line.endIndex
        while i < end {
            while i < end && line[i] == UInt8(ascii: " ") { i += 1 }
            let nameStart = i
            while i < end && line[i] != UInt8(ascii: "=") && line[i] != UInt8(ascii: " ") { i += 1 }
            guard i < end, line[i] == UInt8(ascii: "=") else { continue }
            let name = line[nameStart..<i]
            i += 1
            let valueStart = i
            while i < end && line[i] != UInt8(ascii: " ") { i += 1 }
            let value = line[valueStart..<i]
            switch (name.count, name.first) {
            case (3, UInt8(ascii: "k")?) where name.elementsEqual("key".utf8): key = percentDecode(value)
            case (3, UInt8(ascii: "e")?) where name.elementsEqual("exp".utf8): exp = integer(value)
            case (2, UInt8(ascii: "l")?) where name.elementsEqual("la".utf8): la = integer(value)
            case (4, UInt8(ascii: "s")?) where name.elementsEqual("size".utf8): size = integer(value)
            case (5, UInt8(ascii: "f")?) where name.elementsEqual("fetch".utf8):
                fetched = value.elementsEqual("yes".utf8)
            default: break
            }
        }
        guard let key, !key.isEmpty else { return .malformed(printable(line)) }
        return .item(DumpItem(key: key, expiresAt: exp ?? -1, lastAccess: la, size: size, fetched: fetched))
    }

    /// `%XX` sequences decoded; a stray or bad `%` is kept as is.
    public static func percentDecode(_ s: ArraySlice<UInt8>) -> [UInt8] {
        guard s.contains(UInt8(ascii: "%")) else { return Array(s) }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == UInt8(ascii: "%"), i + 2 < s.endIndex {
                if let h = hex(s[i + 1]), let l = hex(s[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
            }
            out.append(c)
            i += 1
        }
        return out
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A decimal integer (optionally negative) or nil; never traps on overflow.
    public static func integer(_ s: ArraySlice<UInt8>) -> Int64? {
        var i = s.startIndex
        var negative = false
        if i < s.endIndex, s[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        guard i < s.endIndex else { return nil }
        var n: Int64 = 0
        while i < s.endIndex {
            let c = s[i]
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            n = a
            i += 1
        }
        return negative ? -n : n
    }

    /// The line as text safe to put in a message (control bytes and invalid UTF-8 escaped,
    /// long lines cut).
    public static func printable(_ s: ArraySlice<UInt8>, limit: Int = 200) -> String {
        var out = ""
        for c in s.prefix(limit) {
            if c >= 0x20 && c < 0x7F {
                out.unicodeScalars.append(UnicodeScalar(c))
            } else {
                out += "\\x" + String(c, radix: 16).leftPadded(2)
            }
        }
        if s.count > limit { out += "…" }
        return out
    }

    /// Whether a key can go on a text-protocol line as it is (no spaces, no control bytes,
    /// at most 250 bytes); others are sent base64-encoded with the meta `b` flag.
    public static func isPlainKey(_ key: [UInt8]) -> Bool {
        !key.isEmpty && key.count <= 250 && key.allSatisfy { $0 > 0x20 && $0 != 0x7F }
    }

    /// The key as a meta command argument and whether it needs the `b` flag.
    public static func metaKey(_ key: [UInt8]) -> (token: [UInt8], base64: Bool) {
        isPlainKey(key) ? (key, false) : (base64(key), true)
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func base64(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < data.count {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(n >> UInt32(shift) & 63)]) }
            i += 3
        }
        let rest = data.count - i
        if rest == 1 {
            let n = UInt32(data[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "="),
            ]
        }
        return out
    }

    /// The header line of a meta reply: its code (`VA`, `HD`, `EN`, `NF`, `NS`, `EX`) and
    /// flags (`t30` → `t: "30"`); for `VA` the value length.
    public struct MetaHeader: Sendable, Equatable {
        public var code: String
        public var valueLength: Int?
        public var flags: [UInt8: ArraySlice<UInt8>]
        /// A flag's integer value.
        public func int(_ flag: Character) -> Int64? {
            guard let a = flag.asciiValue, let v = flags[a] else { return nil }
            return MetaProtocol.integer(v)
        }
    }

    /// The reply to `mg ... s v t f l`: `EN` (nil), or `VA` with the value length and the
    /// flags this client asks for; `.other` for anything else (an error line). A fast path:
    /// every listed session's reply goes through here.
    public enum ValueHeader: Sendable, Equatable {
        case miss
        case value(length: Int, ttl: Int64, flags: UInt32, idle: Int64?)
        case other
    }

    public static func valueHeader(_ line: ArraySlice<UInt8>) -> ValueHeader {
        if line.elementsEqual("EN".utf8) { return .miss }
        guard line.count > 3, line.starts(with: "VA ".utf8) else { return .other }
        var i = line.startIndex + 3
        let end = line.endIndex
        var tokenStart = i
        while i < end && line[i] != UInt8(ascii: " ") { i += 1 }
        guard let length = integer(line[tokenStart..<i]), length >= 0, length <= Int64(Int32.max) else {
            return .other
        }
        var ttl: Int64 = -1
        var flags: UInt32 = 0
        var idle: Int64?
        while i < end {
            i += 1
            tokenStart = i
            while i < end && line[i] != UInt8(ascii: " ") { i += 1 }
            guard tokenStart < i else { continue }
            let v = line[(tokenStart + 1)..<i]
            switch line[tokenStart] {
            case UInt8(ascii: "t"): ttl = integer(v) ?? -1
            case UInt8(ascii: "f"): flags = UInt32(truncatingIfNeeded: integer(v) ?? 0)
            case UInt8(ascii: "l"): idle = integer(v)
            default: break
            }
        }
        return .value(length: Int(length), ttl: ttl, flags: flags, idle: idle)
    }

    /// Parses a meta reply header; nil when it is not one (an error line is returned as the
    /// code `ERROR`/`CLIENT_ERROR`/`SERVER_ERROR` with no flags).
    public static func metaHeader(_ line: ArraySlice<UInt8>) -> MetaHeader? {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard let first = parts.first else { return nil }
        let code = String(decoding: first, as: UTF8.self)
        switch code {
        case "ERROR", "CLIENT_ERROR", "SERVER_ERROR":
            return MetaHeader(code: code, valueLength: nil, flags: [:])
        case "VA", "HD", "EN", "NF", "NS", "EX", "MN":
            break
        default:
            return nil
        }
        var rest = parts.dropFirst()
        var length: Int?
        if code == "VA" {
            guard let l = rest.first.flatMap({ integer($0) }), l >= 0, l <= Int64(Int32.max) else { return nil }
            length = Int(l)
            rest = rest.dropFirst()
        }
        var flags: [UInt8: ArraySlice<UInt8>] = [:]
        for token in rest where !token.isEmpty {
            flags[token[token.startIndex]] = token.dropFirst()
        }
        return MetaHeader(code: code, valueLength: length, flags: flags)
    }

    /// One line of `watch`: `ts=1.5 gid=7 type=eviction key=K ttl=… la=… size=…`, or the
    /// `skipped=N` notice that lines were lost.
    public enum WatchLine: Sendable, Equatable {
        case entry(WatchEntry)
        case skipped(Int64)
        case other(String)
    }

    public struct WatchEntry: Sendable, Equatable {
        /// Microseconds since the epoch (`ts=SEC.USEC`, USEC not zero-padded).
        public var timeUs: Int64?
        public var gid: Int64?
        public var type: String
        public var key: [UInt8]?
        public var ttl: Int64?
        public var lastAccess: Int64?
        public var size: Int64?
        public var status: String?
    }

    public static func watchLine(_ line: ArraySlice<UInt8>) -> WatchLine {
        var entry = WatchEntry(type: "")
        var sawType = false
        for field in line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true) {
            guard let eq = field.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: field[field.startIndex..<eq], as: UTF8.self)
            let value = field[(eq + 1)...]
            switch name {
            case "skipped": return .skipped(integer(value) ?? 0)
            case "ts":
                let parts = value.split(separator: UInt8(ascii: "."), maxSplits: 1)
                if let s = parts.first.flatMap({ integer($0) }) {
                    let us = parts.count > 1 ? integer(parts[1]) ?? 0 : 0
                    entry.timeUs = s.multipliedReportingOverflow(by: 1_000_000).partialValue &+ min(us, 999_999)
                }
            case "gid": entry.gid = integer(value)
            case "type":
                entry.type = String(decoding: value, as: UTF8.self)
                sawType = true
            case "key": entry.key = percentDecode(value)
            case "ttl": entry.ttl = integer(value)
            case "la": entry.lastAccess = integer(value)
            case "size": entry.size = integer(value)
            case "status": entry.status = String(decoding: value, as: UTF8.self)
            default: break
            }
        }
        return sawType ? .entry(entry) : .other(printable(line))
    }

    /// `STAT name value` lines into a dictionary (other lines ignored).
    public static func stats(_ lines: [ArraySlice<UInt8>]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].elementsEqual("STAT".utf8) else { continue }
            out[String(decoding: parts[1], as: UTF8.self)] =
                parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : ""
        }
        return out
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
