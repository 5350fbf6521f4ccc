/// Reads RESP2 replies as a peer or client receives them: fed bytes as they arrive, it
/// returns each complete reply. Bounded like the request decoder (bulk and array sizes,
/// nesting), so a broken or hostile peer can only produce an error.
public struct RESPReplyDecoder: Sendable {
    public let limits: RESPLimits
    /// The deepest nesting accepted (sessiond's replies nest three deep at most).
    public let maxDepth: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(limits: RESPLimits = RESPLimits(), maxDepth: Int = 16) {
        self.limits = limits
        self.maxDepth = maxDepth
    }

    public var pendingBytes: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 << 10 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete reply, or nil when more bytes are needed.
    public mutating func next() throws(RESPProtocolError) -> RESPReply? {
        guard let (reply, end) = try parse(at: start, depth: 0) else { return nil }
        start = end
        return reply
    }

    private func line(from i: Int) throws(RESPProtocolError) -> (text: ArraySlice<UInt8>, next: Int)? {
        var j = i
        while j + 1 < buffer.count {
            if buffer[j] == 0x0D && buffer[j + 1] == 0x0A { return (buffer[i..<j], j + 2) }
            j += 1
            if j - i > limits.maxInlineLength { throw RESPProtocolError(message: "reply line too long") }
        }
        return nil
    }

    private func integer(_ bytes: ArraySlice<UInt8>) throws(RESPProtocolError) -> Int64 {
        guard let v = Int64(String(decoding: bytes, as: UTF8.self)) else {
            throw RESPProtocolError(message: "invalid integer in a reply")
        }
        return v
    }

    private func parse(at i: Int, depth: Int) throws(RESPProtocolError) -> (RESPReply, Int)? {
        guard i < buffer.count else { return nil }
        guard depth <= maxDepth else { throw RESPProtocolError(message: "reply nested too deep") }
        let kind = buffer[i]
        guard let (text, next) = try line(from: i + 1) else { return nil }
        switch kind {
        case UInt8(ascii: "+"): return (.simple(String(decoding: text, as: UTF8.self)), next)
        case UInt8(ascii: "-"): return (.error(String(decoding: text, as: UTF8.self)), next)
        case UInt8(ascii: ":"): return (.integer(try integer(text)), next)
        case UInt8(ascii: "$"):
            let n = try integer(text)
            if n == -1 { return (.null, next) }
            guard n >= 0, n <= Int64(limits.maxBulkLength) else {
                throw RESPProtocolError(message: "invalid bulk length \(n)")
            }
            let end = next + Int(n)
            guard end + 2 <= buffer.count else { return nil }
            guard buffer[end] == 0x0D, buffer[end + 1] == 0x0A else {
                throw RESPProtocolError(message: "bulk reply not terminated by CRLF")
            }
            return (.bulk(Array(buffer[next..<end])), end + 2)
        case UInt8(ascii: "*"):
            let n = try integer(text)
            if n == -1 { return (.null, next) }
            guard n >= 0, n <= Int64(limits.maxArrayLength) else {
                throw RESPProtocolError(message: "invalid array length \(n)")
            }
            var items: [RESPReply] = []
            items.reserveCapacity(Int(min(n, 1024)))
            var at = next
            for _ in 0..<n {
                guard let (item, after) = try parse(at: at, depth: depth + 1) else { return nil }
                items.append(item)
                at = after
            }
            return (.array(items), at)
        default:
            throw RESPProtocolError(message: "unexpected reply type byte \(kind)")
        }
    }
}

extension RESPReply {
    /// The integer of an integer reply.
    public var int: Int64? {
        if case .integer(let v) = self { return v }
        return nil
    }
    /// The text of a simple or bulk reply.
    public var text: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }
    public var errorMessage: String? {
        if case .error(let m) = self { return m }
        return nil
    }
    public var array: [RESPReply]? {
        if case .array(let items) = self { return items }
        return nil
    }
}

extension RESPWriter {
    /// A request as a client sends it: an array of bulk strings.
    public mutating func command(_ args: [[UInt8]]) {
        arrayHeader(args.count)
        for a in args { bulk(a[...]) }
    }
}
