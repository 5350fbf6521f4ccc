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
    /// The arguments of the request being parsed.
    private var ranges: [Range<Int>] = []

    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// The buffer's reserved space (tests: a large request's space is given back).
    var bufferCapacity: Int { buffer.capacity }

    /// Bytes received but not yet part of a complete request.
    public var pendingBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// `append` for the server's reads (concrete: a generic called from another module is
    /// not specialized).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes before growing, so a long connection does not grow the buffer;
    /// after a large request the space is given back rather than kept for the connection's life.
    private mutating func compact() {
        if start > 0 && start == buffer.count && buffer.capacity > 1 << 20 {
            buffer = []
            start = 0
        } else if start > 0 && (start > 64 << 10 || start == buffer.count) {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    /// The next complete request, nil when more bytes are needed.
    public mutating func next() throws(RESPProtocolError) -> [[UInt8]]? {
        try nextRequest().map { r in (0..<r.count).map { r.bytes($0) } }
    }

    /// The next complete request as a view of the received bytes (no copy per argument),
    /// nil when more bytes are needed. Drop it before appending more bytes, or the buffer
    /// is copied.
    public mutating func nextRequest() throws(RESPProtocolError) -> RESPRequest? {
        while start < buffer.count {
            if buffer[start] == UInt8(ascii: "*") {
                guard let end = try parseMultibulk(at: start) else { return nil }
                start = end
                if ranges.isEmpty { continue }  // `*0\r\n` is ignored, as Redis does
                return RESPRequest(buffer: buffer, ranges: ranges[...])
            }
            guard let (args, end) = try parseInline(at: start) else { return nil }
            start = end
            if args.isEmpty { continue }  // blank lines are ignored
            return RESPRequest(args)
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
        if buffer[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        guard i < to else { throw RESPProtocolError(message: "invalid \(what)") }
        while i < to {
            let c = buffer[i]
            guard c >= 48 && c <= 57 else { throw RESPProtocolError(message: "invalid \(what)") }
            v = v * 10 + Int(c - 48)
            i += 1
        }
        return negative ? -v : v
    }

    /// Parses a request into `ranges`; returns where it ends.
    private mutating func parseMultibulk(at s: Int) throws(RESPProtocolError) -> Int? {
        guard let headerEnd = try lineEnd(from: s + 1, max: 32) else { return nil }
        let count = try integer(s + 1, headerEnd, what: "multibulk length")
        guard count <= limits.maxArrayLength else {
            throw RESPProtocolError(message: "too many arguments (\(count) > \(limits.maxArrayLength))")
        }
        // Reused between requests: the previous request has been dropped by now, so this
        // does not allocate.
        ranges.removeAll(keepingCapacity: true)
        if count <= 0 { return headerEnd + 2 }
        var i = headerEnd + 2
        ranges.reserveCapacity(min(count, 1024))
        for _ in 0..<count {
            guard i < buffer.count else { return nil }
            guard buffer[i] == UInt8(ascii: "$") else {
                throw RESPProtocolError(message: "expected '$', got '\(printable(buffer[i]))'")
            }
            guard let lenEnd = try lineEnd(from: i + 1, max: 32) else { return nil }
            let len = try integer(i + 1, lenEnd, what: "bulk length")
            guard len >= 0 else { throw RESPProtocolError(message: "invalid bulk length") }
            guard len <= limits.maxBulkLength else {
                throw RESPProtocolError(message: "bulk length \(len) exceeds \(limits.maxBulkLength)")
            }
            let dataStart = lenEnd + 2
            guard buffer.count >= dataStart + len + 2 else { return nil }
            guard buffer[dataStart + len] == 0x0D && buffer[dataStart + len + 1] == 0x0A else {
                throw RESPProtocolError(message: "bulk string not terminated by CRLF")
            }
            ranges.append(dataStart..<dataStart + len)
            i = dataStart + len + 2
        }
        return i
    }

    /// An inline command: words separated by spaces; "double" and 'single' quotes group.
    private func parseInline(at s: Int) throws(RESPProtocolError) -> ([[UInt8]], Int)? {
        // Inline lines may end in a bare LF (telnet, nc).
        var end = s
        while end < buffer.count && buffer[end] != 0x0A {
            // The byte at `end` makes the line `end - s + 1` long: the same bound as the
            // chunked check below (it accepted one byte more when the line came whole).
            if end - s >= limits.maxInlineLength { throw RESPProtocolError(message: "inline request too long") }
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
                quote = c
                inWord = true
            } else if c == 0x20 || c == 0x09 {
                if inWord {
                    args.append(cur)
                    cur = []
                    inWord = false
                }
            } else {
                cur.append(c)
                inWord = true
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

/// A decoded request: its arguments as ranges of the received bytes.
public struct RESPRequest: Sendable {
    private let buffer: [UInt8]
    private let ranges: ArraySlice<Range<Int>>

    init(buffer: [UInt8], ranges: ArraySlice<Range<Int>>) {
        self.buffer = buffer
        self.ranges = ranges
    }

    /// A request from separate arguments (inline commands, tests).
    public init(_ args: [[UInt8]]) {
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        for a in args {
            ranges.append(buffer.count..<buffer.count + a.count)
            buffer += a
        }
        self.init(buffer: buffer, ranges: ranges[...])
    }

    public var count: Int { ranges.count }
    public var isEmpty: Bool { ranges.isEmpty }
    /// The arguments after the first (the command name).
    public var arguments: RESPRequest { RESPRequest(buffer: buffer, ranges: ranges.dropFirst()) }

    /// Argument `i` (from 0), without copying.
    public subscript(i: Int) -> ArraySlice<UInt8> { buffer[ranges[ranges.startIndex + i]] }
    public func bytes(_ i: Int) -> [UInt8] { Array(self[i]) }
    public func text(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }
    /// Argument `i` in upper case (command names; most clients send them so already).
    public func upperText(_ i: Int) -> String {
        let arg = self[i]
        return arg.contains(where: { $0 >= 0x61 && $0 <= 0x7A })
            ? String(decoding: arg, as: UTF8.self).uppercased() : String(decoding: arg, as: UTF8.self)
    }
    /// Every argument, copied.
    public var all: [[UInt8]] { (0..<count).map(bytes) }

    /// Whether argument `i` is `word` (ASCII, any case): keywords without building strings.
    public func `is`(_ i: Int, _ word: StaticString) -> Bool {
        let arg = self[i]
        guard arg.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { w in
            var k = 0
            for b in arg {
                let upper = b >= 0x61 && b <= 0x7A ? b - 0x20 : b
                if upper != w[k] { return false }
                k += 1
            }
            return true
        }
    }

    /// Argument `i` as a decimal integer (an optional sign, digits, nothing else).
    public func integer(_ i: Int) -> Int64? {
        let arg = self[i]
        guard !arg.isEmpty, arg.count <= 20 else { return nil }
        var v: Int64 = 0
        var negative = false
        var digits = 0
        for (k, b) in arg.enumerated() {
            if k == 0 && (b == UInt8(ascii: "-") || b == UInt8(ascii: "+")) {
                negative = b == UInt8(ascii: "-")
                continue
            }
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (n, o2) = m.addingReportingOverflow(Int64(b - 0x30))
            guard !o1 && !o2 else { return nil }
            v = n
            digits += 1
        }
        return digits == 0 ? nil : negative ? -v : v
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

    /// Appends the wire form.
    public func encode(into out: inout RESPWriter) {
        switch self {
        case .simple(let s): out.simple(s)
        case .error(let s): out.error(s)
        case .integer(let v): out.integer(v)
        case .bulk(let b): out.bulk(b[...])
        case .null: out.null()
        case .array(let items):
            out.arrayHeader(items.count)
            for item in items { item.encode(into: &out) }
        case .sequence(let replies):
            for r in replies { r.encode(into: &out) }
        }
    }

    public func encode(into out: inout [UInt8]) {
        var w = RESPWriter(bytes: out)
        out = []
        encode(into: &w)
        out = w.bytes
    }

    public var bytes: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }
}

/// Writes RESP2 straight into a byte buffer: replies, and the log's records. Numbers are
/// written digit by digit (no intermediate strings), so a reply costs no allocation beyond
/// the buffer's growth.
public struct RESPWriter: Sendable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8] = []) { self.bytes = bytes }

    @inline(__always) private mutating func end() {
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    /// `+text`: CR and LF become spaces, so a message can never break the framing.
    public mutating func simple(_ s: String) { line(UInt8(ascii: "+"), s) }
    /// `-text`, likewise.
    public mutating func error(_ s: String) { line(UInt8(ascii: "-"), s) }

    private mutating func line(_ prefix: UInt8, _ s: String) {
        bytes.append(prefix)
        for b in s.utf8 { bytes.append(b == 0x0D || b == 0x0A ? 0x20 : b) }
        end()
    }

    public mutating func integer(_ v: Int64) {
        bytes.append(UInt8(ascii: ":"))
        decimal(v)
        end()
    }
    public mutating func arrayHeader(_ count: Int) {
        bytes.append(UInt8(ascii: "*"))
        decimal(Int64(count))
        end()
    }
    public mutating func null() {
        bytes.append(UInt8(ascii: "$"))
        bytes.append(UInt8(ascii: "-"))
        bytes.append(UInt8(ascii: "1"))
        end()
    }

    public mutating func bulk(_ b: ArraySlice<UInt8>) {
        bytes.append(UInt8(ascii: "$"))
        decimal(Int64(b.count))
        end()
        bytes.append(contentsOf: b)
        end()
    }

    public mutating func bulk(_ s: String) {
        bytes.append(UInt8(ascii: "$"))
        decimal(Int64(s.utf8.count))
        end()
        bytes.append(contentsOf: s.utf8)
        end()
    }

    public mutating func bulk(_ s: String?) { if let s { bulk(s) } else { null() } }

    /// A number as a bulk string (the log's fields, like a request's).
    public mutating func bulk(decimal v: Int64) {
        bytes.append(UInt8(ascii: "$"))
        decimal(Int64(RESPWriter.decimalLength(v)))
        end()
        decimal(v)
        end()
    }

    static func decimalLength(_ v: Int64) -> Int {
        var n = v < 0 ? 2 : 1
        var m = v.magnitude
        while m >= 10 {
            m /= 10
            n += 1
        }
        return n
    }

    private mutating func decimal(_ v: Int64) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        if m < 10 {
            bytes.append(0x30 + UInt8(m))
            return
        }
        // Digits from the right into a stack buffer, then one append.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = 20
            while m > 0 {
                i -= 1
                digits[i] = 0x30 + UInt8(m % 10)
                m /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[i...]))
        }
    }
}
