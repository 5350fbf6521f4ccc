/// A session as the engine stores it: the attributes packed into one buffer (per
/// attribute: name length, name, value length, value; lengths as LEB128 varints), so a
/// session is one record and one allocation for all its attributes instead of two per
/// attribute. Replies and log records are written from this form without unpacking it.
public struct StoredSession: Sendable, Equatable {
    public let id: String
    public var principal: String?
    /// The packed attributes (see the type's description).
    public private(set) var packed: [UInt8] = []
    public var createdMs: Int64
    public var lastAccessMs: Int64
    /// Sliding timeout; -1: none.
    public var maxInactiveMs: Int64
    /// Hard deadline; `Int64.max`: none (an optional would cost 8 bytes more per session).
    var absoluteDeadline: Int64
    public private(set) var attributeCount: UInt32 = 0

    public init(
        id: String, principal: String?, createdMs: Int64, lastAccessMs: Int64, maxInactiveMs: Int64,
        absoluteDeadlineMs: Int64? = nil
    ) {
        self.id = id
        self.principal = principal
        self.createdMs = createdMs
        self.lastAccessMs = lastAccessMs
        self.maxInactiveMs = maxInactiveMs
        self.absoluteDeadline = absoluteDeadlineMs ?? .max
    }

    public init(_ s: HouseSession) {
        self.init(
            id: s.id, principal: s.principal, createdMs: s.createdMs, lastAccessMs: s.lastAccessMs,
            maxInactiveMs: s.maxInactiveMs, absoluteDeadlineMs: s.absoluteDeadlineMs)
        for a in s.attributes { appendAttribute(name: Array(a.name.utf8)[...], value: a.value[...]) }
    }

    /// The unpacked form.
    public var session: HouseSession {
        var attributes: [HouseSession.Attribute] = []
        attributes.reserveCapacity(Int(attributeCount))
        forEachAttribute { name, value in attributes.append(.init(String(decoding: name, as: UTF8.self), Array(value)))
        }
        return HouseSession(
            id: id, principal: principal, attributes: attributes, createdMs: createdMs, lastAccessMs: lastAccessMs,
            maxInactiveMs: maxInactiveMs, absoluteDeadlineMs: absoluteDeadlineMs)
    }

    public var absoluteDeadlineMs: Int64? {
        get { absoluteDeadline == .max ? nil : absoluteDeadline }
        set { absoluteDeadline = newValue ?? .max }
    }

    /// When the session ends; `Int64.max`: never.
    var deadline: Int64 {
        let sliding = maxInactiveMs >= 0 ? saturatingSum(lastAccessMs, maxInactiveMs) : .max
        return min(sliding, absoluteDeadline)
    }

    /// When the session ends; nil: never.
    public var deadlineMs: Int64? {
        let d = deadline
        return d == .max ? nil : d
    }

    /// Bytes the engine accounts for the session (`--maxmemory`, `used_memory`, `size`); the
    /// same as `HouseSession.accountedBytes`.
    public var accountedBytes: Int {
        StoredSession.accountedBytes(id: id.utf8.count, principal: principal?.utf8.count ?? 0, packed: packed.count)
    }

    /// What a session costs, close to the measured growth of the process (BENCHMARKS.md:
    /// 212 bytes a session with three small attributes): 150 for its slot, its index entries
    /// and its expiry entry; the packed attributes with their buffer's header and the
    /// allocator's rounding; an id or user name over 15 bytes is a string of its own
    /// (shorter ones are stored inline). A user's name is counted in each of their sessions,
    /// though they share it: the count errs on the high side.
    static func accountedBytes(id: Int, principal: Int, packed: Int) -> Int {
        func string(_ n: Int) -> Int { n > 15 ? 40 + n : 0 }
        return 150 + (packed > 0 ? 44 + packed : 0) + string(id) + string(principal)
    }

    /// Adds an attribute (concrete slices: this is the hot path of `SESSION.PUT`, called
    /// from another module, where a generic would not be specialized).
    public mutating func appendAttribute(name: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        Varint.append(name.count, to: &packed)
        packed.append(contentsOf: name)
        Varint.append(value.count, to: &packed)
        packed.append(contentsOf: value)
        attributeCount += 1
    }

    /// Sets an attribute in place: the first one of that name gets the value, else it is
    /// added at the end (`SESSION.SETATTR`).
    public mutating func setAttribute(name: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        guard let found = locate(name) else {
            appendAttribute(name: name, value: value)
            return
        }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(Varint.size(value.count) + value.count)
        Varint.append(value.count, to: &encoded)
        encoded.append(contentsOf: value)
        packed.replaceSubrange(found.value, with: encoded)
    }

    /// Removes every attribute of that name (`SESSION.DELATTR`); whether there was one.
    public mutating func removeAttribute(name: ArraySlice<UInt8>) -> Bool {
        var removed = false
        while let found = locate(name) {
            packed.removeSubrange(found.attribute)
            attributeCount -= 1
            removed = true
        }
        return removed
    }

    /// Where the first attribute of that name is: all of it, and its value with its length.
    private func locate(_ name: ArraySlice<UInt8>) -> (attribute: Range<Int>, value: Range<Int>)? {
        var i = 0
        while i < packed.count {
            let start = i
            let nameLength = Varint.read(packed, &i)
            let nameRange = i..<i + nameLength
            i += nameLength
            let valueStart = i
            i += Varint.read(packed, &i)
            if packed[nameRange].elementsEqual(name) { return (start..<i, valueStart..<i) }
        }
        return nil
    }

    /// Calls `body` with each attribute's name and value, in order.
    public func forEachAttribute(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) throws -> Void) rethrows {
        var i = 0
        while i < packed.count {
            let nameLength = Varint.read(packed, &i)
            let name = packed[i..<i + nameLength]
            i += nameLength
            let valueLength = Varint.read(packed, &i)
            let value = packed[i..<i + valueLength]
            i += valueLength
            try body(name, value)
        }
    }
}

extension HouseSession {
    /// See `StoredSession.accountedBytes`.
    public var accountedBytes: Int {
        var packed = 0
        for a in attributes {
            let name = a.name.utf8.count
            packed += Varint.size(name) + name + Varint.size(a.value.count) + a.value.count
        }
        return StoredSession.accountedBytes(id: id.utf8.count, principal: principal?.utf8.count ?? 0, packed: packed)
    }
}

/// `a + b`, or `Int64.max` (never) when it would overflow: times come from clients
/// (`SESSION.PUT id 9223372036854775`), and an overflow must not wrap into the past or trap.
func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b > 0 ? .max : .min) : sum
}

/// LEB128 lengths for the packed attributes (the buffer is written only by
/// `StoredSession`, so reading it needs no error path).
enum Varint {
    static func append(_ v: Int, to out: inout [UInt8]) {
        var v = UInt(v)
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func read(_ bytes: [UInt8], _ i: inout Int) -> Int {
        var v = 0
        var shift = 0
        while true {
            let b = bytes[i]
            i += 1
            v |= Int(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    static func size(_ v: Int) -> Int {
        var n = 1
        var v = UInt(v)
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }
}
