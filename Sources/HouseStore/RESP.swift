/// RESP2 for the in-house store: an incremental request decoder with limits and a reply
/// encoder. Pure code, no I/O: the server feeds bytes as they arrive and writes what the
/// encoder produces. A malformed or oversized request is an error (the server answers
/// `-ERR Protocol error: ...` and closes), never a crash and never unbounded buffering.
public struct RESPLimits: Sendable, Equatable {
    /// Largest bulk string (an attribute value), in bytes.
    public var maxBulkLength = 16 << 20
    /// Most arguments in one request.
    public var maxArrayLength = 1 << 20
    /// Longest inline command line (`PING\r\n` typed into telnet).
    public var maxInlineLength = 64 << 10
    public init() {}
}

public struct RESPProtocolError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { "Protocol error: \(message)" }
}

/// Decodes requests (arrays of bulk strings, or inline lines) from a byte stream.
public struct RESPRequestDecoder: Sendable {
    public let limits: RESPLimits
    private var buffer: [UInt8] = []
    private var start = 0

    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// Bytes received but not yet part of a complete request.
    public var pendingBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        // Drop consumed bytes before growing, so a long connection does not grow the buffer.
        if start > 0 && (start > 64 << 10 || start == buffer.count) {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete request, nil when more bytes are needed.
    public mutating func next() throws(RESPProtocolError) -> [[UInt8]]? {
        while start < buffer.count {
            if buffer[start] == UInt8(ascii: "*") {
                guard let (args, end) = try parseMultibulk(at: start) else { return nil }
                start = end
                if args.isEmpty { continue }   // `*0\r\n` is ignored, as Redis does
                return args
            }
            guard let (args, end) = try parseInline(at: start) else { return nil }
            start = end
            if args.isEmpty { continue }       // blank lines are ignored
            return args
        }
        return nil
    }

    /// Finds CRLF from `i`; nil when not yet received.
    private func lineEnd(from i: Int, max: Int) throws(RESPProtocolError) -> Int? {
        var j = i
        while j + 1 < buffer.count {
            if buffer[j] == 0x0D && buffer[j + 1] == 0x0A { return j }
            if j - i > max { throw RESPProtocolError(message: "line too long") }
            j += 1
        }
        if buffer.count - i > max { throw RESPProtocolError(message: "line too long") }
        return nil
    }

    private func integer(_ from: Int, _ to: Int, what: String) throws(RESPProtocolError) -> Int {
        guard to > from, to - from <= 18 else { throw RESPProtocolError(message: "invalid \(what)") }
        var v = 0
        var i = from
        var negative = false
        if buffer[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < to else { throw RESPProtocolError(message: "invalid \(what)") }
        while i < to {
            let c = buffer[i]
            guard c >= 48 && c <= 57 else { throw RESPProtocolError(message: "invalid \(what)") }
            v = v * 10 + Int(c - 48)
            i += 1
        }
        return negative ? -v : v
    }

    private func parseMultibulk(at s: Int) throws(RESPProtocolError) -> ([[UInt8]], Int)? {
        guard let headerEnd = try lineEnd(from: s + 1, max: 32) else { return nil }
        let count = try integer(s + 1, headerEnd, what: "multibulk length")
        guard count <= limits.maxArrayLength else { throw RESPProtocolError(message: "too many arguments (\(count) > \(limits.maxArrayLength))") }
        if count <= 0 { return ([], headerEnd + 2) }
        var i = headerEnd + 2
        var args: [[UInt8]] = []
        args.reserveCapacity(min(count, 1024))
        for _ in 0..<count {
            guard i < buffer.count else { return nil }
            guard buffer[i] == UInt8(ascii: "$") else {
                throw RESPProtocolError(message: "expected '$', got '\(printable(buffer[i]))'")
            }
            guard let lenEnd = try lineEnd(from: i + 1, max: 32) else { return nil }
            let len = try integer(i + 1, lenEnd, what: "bulk length")
            guard len >= 0 else { throw RESPProtocolError(message: "invalid bulk length") }
            guard len <= limits.maxBulkLength else { throw RESPProtocolError(message: "bulk length \(len) exceeds \(limits.maxBulkLength)") }
            let dataStart = lenEnd + 2
            guard buffer.count >= dataStart + len + 2 else { return nil }
            guard buffer[dataStart + len] == 0x0D && buffer[dataStart + len + 1] == 0x0A else {
                throw RESPProtocolError(message: "bulk string not terminated by CRLF")
            }
            args.append(Array(buffer[dataStart..<dataStart + len]))
            i = dataStart + len + 2
        }
        return (args, i)
    }

    /// An inline command: words separated by spaces; "double" and 'single' quotes group.
    private func parseInline(at s: Int) throws(RESPProtocolError) -> ([[UInt8]], Int)? {
        // Inline lines may end in a bare LF (telnet, nc).
        var end = s
        while end < buffer.count && buffer[end] != 0x0A {
            if end - s > limits.maxInlineLength { throw RESPProtocolError(message: "inline request too long") }
            end += 1
        }
        guard end < buffer.count else {
            if buffer.count - s > limits.maxInlineLength { throw RESPProtocolError(message: "inline request too long") }
            return nil
        }
        var lineEnd = end
        if lineEnd > s && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        var args: [[UInt8]] = []
        var cur: [UInt8] = []
        var inWord = false
        var quote: UInt8? = nil
        for c in buffer[s..<lineEnd] {
            if let q = quote {
                if c == q { quote = nil } else { cur.append(c) }
            } else if c == 0x22 || c == 0x27 {
                quote = c; inWord = true
            } else if c == 0x20 || c == 0x09 {
                if inWord { args.append(cur); cur = []; inWord = false }
            } else {
                cur.append(c); inWord = true
            }
        }
        guard quote == nil else { throw RESPProtocolError(message: "unbalanced quotes in request") }
        if inWord { args.append(cur) }
        return (args, end + 1)
    }

    private func printable(_ b: UInt8) -> String {
        b >= 0x20 && b < 0x7F ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
    }
}

/// A reply of the in-house store.
public indirect enum RESPReply: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RESPReply])
    /// Several replies in a row (SUBSCRIBE confirms each channel with a reply of its own).
    case sequence([RESPReply])

    public static let ok = RESPReply.simple("OK")

    public static func bulk(_ s: String) -> RESPReply { .bulk(Array(s.utf8)) }

    /// Appends the wire form. Simple strings and errors must not contain CR or LF: they
    /// are replaced by spaces, so an error message can never break the framing.
    public func encode(into out: inout [UInt8]) {
        func line(_ prefix: UInt8, _ s: String) {
            out.append(prefix)
            for b in s.utf8 { out.append(b == 0x0D || b == 0x0A ? 0x20 : b) }
            out.append(0x0D); out.append(0x0A)
        }
        switch self {
        case .simple(let s): line(UInt8(ascii: "+"), s)
        case .error(let s): line(UInt8(ascii: "-"), s)
        case .integer(let v): line(UInt8(ascii: ":"), String(v))
        case .bulk(let b):
            line(UInt8(ascii: "$"), String(b.count))
            out.append(contentsOf: b); out.append(0x0D); out.append(0x0A)
        case .null: line(UInt8(ascii: "$"), "-1")
        case .array(let items):
            line(UInt8(ascii: "*"), String(items.count))
            for item in items { item.encode(into: &out) }
        case .sequence(let replies):
            for r in replies { r.encode(into: &out) }
        }
    }

    public var bytes: [UInt8] { var out: [UInt8] = []; encode(into: &out); return out }
}
