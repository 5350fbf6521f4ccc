import SessionKit

/// A reader for the Java Object Serialization stream format (JOSS, chapter 6 of the
/// specification), as written by `ObjectOutputStream` and so by Spring's
/// `JdkSerializationRedisSerializer`.
///
/// It follows the stream grammar and builds a description of what the stream holds:
/// class names, field values, array elements, block data. It never loads or instantiates a
/// class, so a hostile stream (gadget chains included) is just data. Depth, element counts
/// and total nodes are bounded; every malformed input is a `JavaStreamError` with the offset.
public enum JavaStream {
    public static let magic: [UInt8] = [0xAC, 0xED, 0x00, 0x05]

    public struct Limits: Sendable {
        public var maxDepth = 64
        public var maxNodes = 200_000
        public var maxArrayLength = 1 << 20
        public init() {}
    }

    /// Whether the bytes start like a serialization stream.
    public static func looksLikeStream(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0xAC && bytes[1] == 0xED
    }

    /// Decodes the first content of the stream (one object, string, array...).
    public static func decode(_ bytes: [UInt8], limits: Limits = Limits()) throws(JavaStreamError) -> JavaValue {
        var r = JavaStreamReader(bytes: bytes, limits: limits)
        return try r.readStream()
    }
}

public struct JavaStreamError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var offset: Int
    public var description: String { "Java serialization: \(message) at byte \(offset)" }
}

/// What a Java stream holds, described, never instantiated.
public indirect enum JavaValue: Sendable, Equatable {
    case null
    case string(String)
    case bool(Bool)
    case byte(Int8)
    case char(UInt16)
    case short(Int16)
    case int(Int32)
    case long(Int64)
    case float(Float)
    case double(Double)
    /// An object: its class, fields of the whole class chain (superclass first), and the
    /// extra contents its `writeObject` wrote (annotations: objects and block data).
    case object(JavaObject)
    case array(className: String, elements: [JavaValue])
    case enumConstant(className: String, name: String)
    case classReference(String)
    case blockData([UInt8])
    /// A reference to an object still being read (a cycle); `handle` identifies it.
    case cycle(handle: Int)

    /// The named field of an object, searched through the class chain.
    public func field(_ name: String) -> JavaValue? {
        guard case .object(let o) = self else { return nil }
        return o.fields.last(where: { $0.name == name })?.value
    }

    public var className: String? {
        switch self {
        case .object(let o): return o.className
        case .array(let c, _), .enumConstant(let c, _): return c
        default: return nil
        }
    }
}

public struct JavaObject: Sendable, Equatable {
    public var className: String
    public var fields: [JavaField]
    public var annotations: [JavaValue]
}

public struct JavaField: Sendable, Equatable {
    public var name: String
    public var value: JavaValue
}

/// A class descriptor as the stream declares it.
struct JavaClassDesc {
    struct FieldDesc {
        var type: UInt8
        var name: String
        var className: String?
    }
    var name: String
    var flags: UInt8
    var fields: [FieldDesc]
    var superDesc: Int?  // index into the reader's descriptor table
    var isProxy: Bool = false
}

struct JavaStreamReader {
    private let b: [UInt8]
    private var i = 0
    private let limits: JavaStream.Limits
    private var nodes = 0

    /// Handle table: what each wire handle (0x7E0000 + index) refers to.
    private enum Slot {
        case pending
        case value(JavaValue)
        case desc(Int)
    }
    private var handles: [Slot] = []
    private var descs: [JavaClassDesc] = []

    private static let baseWireHandle = 0x7E_0000

    init(bytes: [UInt8], limits: JavaStream.Limits) {
        self.b = bytes
        self.limits = limits
    }

    private func fail(_ m: String) -> JavaStreamError { JavaStreamError(message: m, offset: i) }

    mutating func readStream() throws(JavaStreamError) -> JavaValue {
        guard b.count >= 4 else { throw fail("too short for a stream header") }
        guard b[0] == 0xAC, b[1] == 0xED else { throw fail("no stream magic (AC ED)") }
        guard b[2] == 0x00, b[3] == 0x05 else {
            throw JavaStreamError(message: "unsupported stream version", offset: 2)
        }
        i = 4
        return try content(depth: 0)
    }

    // MARK: primitives

    private mutating func u1() throws(JavaStreamError) -> UInt8 {
        guard i < b.count else { throw fail("unexpected end of stream") }
        defer { i += 1 }
        return b[i]
    }
    private mutating func u2() throws(JavaStreamError) -> UInt16 { UInt16(try u1()) << 8 | UInt16(try u1()) }
    private mutating func u4() throws(JavaStreamError) -> UInt32 { UInt32(try u2()) << 16 | UInt32(try u2()) }
    private mutating func u8() throws(JavaStreamError) -> UInt64 { UInt64(try u4()) << 32 | UInt64(try u4()) }
    private mutating func bytes(_ n: Int) throws(JavaStreamError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= b.count - i else { throw fail("length \(n) runs past the end of the stream") }
        defer { i += n }
        return b[i..<i + n]
    }

    /// Modified UTF-8 (null as C0 80, supplementary characters as surrogate pairs).
    private mutating func modifiedUTF8(length n: Int) throws(JavaStreamError) -> String {
        let start = i
        let raw = try bytes(n)
        var units: [UInt16] = []
        units.reserveCapacity(n)
        var k = raw.startIndex
        while k < raw.endIndex {
            let c = raw[k]
            if c < 0x80 {
                units.append(UInt16(c))
                k += 1
            } else if c & 0xE0 == 0xC0, k + 1 < raw.endIndex, raw[k + 1] & 0xC0 == 0x80 {
                units.append(UInt16(c & 0x1F) << 6 | UInt16(raw[k + 1] & 0x3F))
                k += 2
            } else if c & 0xF0 == 0xE0, k + 2 < raw.endIndex, raw[k + 1] & 0xC0 == 0x80, raw[k + 2] & 0xC0 == 0x80 {
                units.append(UInt16(c & 0x0F) << 12 | UInt16(raw[k + 1] & 0x3F) << 6 | UInt16(raw[k + 2] & 0x3F))
                k += 3
            } else {
                throw JavaStreamError(message: "invalid modified UTF-8", offset: start + (k - raw.startIndex))
            }
        }
        // Unpaired surrogates become U+FFFD: the text stays displayable.
        return String(decoding: units, as: UTF16.self)
    }

    private mutating func utf() throws(JavaStreamError) -> String { try modifiedUTF8(length: Int(try u2())) }

    private mutating func countNode() throws(JavaStreamError) {
        nodes += 1
        if nodes > limits.maxNodes { throw fail("more than \(limits.maxNodes) values") }
    }

    private mutating func newHandle(_ slot: Slot) -> Int {
        handles.append(slot)
        return handles.count - 1
    }

    private mutating func handleIndex() throws(JavaStreamError) -> Int {
        let h = Int(try u4()) - JavaStreamReader.baseWireHandle
        guard h >= 0, h < handles.count else { throw fail("reference to unknown handle") }
        return h
    }

    // MARK: grammar

    private mutating func content(depth: Int) throws(JavaStreamError) -> JavaValue {
        guard depth <= limits.maxDepth else { throw fail("nesting deeper than \(limits.maxDepth)") }
        try countNode()
        let tc = try u1()
        switch tc {
        case 0x70: return .null  // TC_NULL
        case 0x71:  // TC_REFERENCE
            let h = try handleIndex()
            switch handles[h] {
            case .value(let v): return v
            case .pending: return .cycle(handle: h)
            case .desc(let d): return .classReference(descs[d].name)
            }
        case 0x73: return try newObject(depth: depth)  // TC_OBJECT
        case 0x74:  // TC_STRING
            let s = try utf()
            _ = newHandle(.value(.string(s)))
            return .string(s)
        case 0x7C:  // TC_LONGSTRING
            let n = try u8()
            guard n <= UInt64(b.count) else { throw fail("long string length past the end") }
            let s = try modifiedUTF8(length: Int(n))
            _ = newHandle(.value(.string(s)))
            return .string(s)
        case 0x75: return try newArray(depth: depth)  // TC_ARRAY
        case 0x76:  // TC_CLASS
            guard let d = try classDesc(depth: depth) else { throw fail("TC_CLASS without a descriptor") }
            let v = JavaValue.classReference(descs[d].name)
            _ = newHandle(.value(v))
            return v
        case 0x7E:  // TC_ENUM
            guard let d = try classDesc(depth: depth) else { throw fail("TC_ENUM without a descriptor") }
            let h = newHandle(.pending)
            guard case .string(let name) = try content(depth: depth + 1) else {
                throw fail("enum constant name is not a string")
            }
            let v = JavaValue.enumConstant(className: descs[d].name, name: name)
            handles[h] = .value(v)
            return v
        case 0x72, 0x7D:  // a class descriptor as content
            i -= 1
            guard let d = try classDesc(depth: depth) else { return .null }
            return .classReference(descs[d].name)
        case 0x77:  // TC_BLOCKDATA
            let n = Int(try u1())
            return .blockData(Array(try bytes(n)))
        case 0x7A:  // TC_BLOCKDATALONG
            let n = Int(try u4())
            return .blockData(Array(try bytes(n)))
        case 0x79:  // TC_RESET
            handles.removeAll()
            return try content(depth: depth)
        case 0x7B:  // TC_EXCEPTION
            handles.removeAll()
            let thrown = try content(depth: depth + 1)
            throw fail("stream holds an exception written mid-serialization (\(thrown.className ?? "?"))")
        case 0x78:
            throw fail("unexpected end-of-block-data marker")
        default:
            throw JavaStreamError(message: "unknown type code 0x\(String(tc, radix: 16))", offset: i - 1)
        }
    }

    /// classDesc: TC_CLASSDESC | TC_PROXYCLASSDESC | TC_NULL | TC_REFERENCE. Returns the
    /// descriptor index, nil for TC_NULL.
    private mutating func classDesc(depth: Int) throws(JavaStreamError) -> Int? {
        guard depth <= limits.maxDepth else { throw fail("nesting deeper than \(limits.maxDepth)") }
        let tc = try u1()
        switch tc {
        case 0x70: return nil
        case 0x71:
            let h = try handleIndex()
            guard case .desc(let d) = handles[h] else { throw fail("reference is not a class descriptor") }
            return d
        case 0x72:
            let name = try utf()
            _ = try u8()  // serialVersionUID
            let h = newHandle(.pending)
            let flags = try u1()
            let count = Int(try u2())
            var fields: [JavaClassDesc.FieldDesc] = []
            for _ in 0..<count {
                let type = try u1()
                let fname = try utf()
                switch type {
                case UInt8(ascii: "B"), UInt8(ascii: "C"), UInt8(ascii: "D"), UInt8(ascii: "F"),
                    UInt8(ascii: "I"), UInt8(ascii: "J"), UInt8(ascii: "S"), UInt8(ascii: "Z"):
                    fields.append(.init(type: type, name: fname, className: nil))
                case UInt8(ascii: "L"), UInt8(ascii: "["):
                    guard case .string(let cls) = try content(depth: depth + 1) else {
                        throw fail("field type name is not a string")
                    }
                    fields.append(.init(type: type, name: fname, className: cls))
                default:
                    throw fail("unknown field type code '\(Character(UnicodeScalar(type)))'")
                }
            }
            descs.append(JavaClassDesc(name: name, flags: flags, fields: fields, superDesc: nil))
            let d = descs.count - 1
            handles[h] = .desc(d)
            try skipAnnotation(depth: depth)
            descs[d].superDesc = try classDesc(depth: depth + 1)
            return d
        case 0x7D:
            let h = newHandle(.pending)
            let n = Int(try u4())
            guard n <= 65535 else { throw fail("proxy interface count \(n) too large") }
            var names: [String] = []
            for _ in 0..<n { names.append(try utf()) }
            descs.append(
                JavaClassDesc(
                    name: "Proxy(" + names.joined(separator: ",") + ")", flags: 0x02, fields: [], superDesc: nil,
                    isProxy: true))
            let d = descs.count - 1
            handles[h] = .desc(d)
            try skipAnnotation(depth: depth)
            descs[d].superDesc = try classDesc(depth: depth + 1)
            return d
        default:
            throw JavaStreamError(
                message: "expected a class descriptor, found 0x\(String(tc, radix: 16))", offset: i - 1)
        }
    }

    /// Contents up to TC_ENDBLOCKDATA, kept.
    private mutating func annotation(depth: Int) throws(JavaStreamError) -> [JavaValue] {
        var items: [JavaValue] = []
        while true {
            guard i < b.count else { throw fail("unexpected end of stream in annotation") }
            if b[i] == 0x78 {
                i += 1
                return items
            }
            items.append(try content(depth: depth + 1))
        }
    }

    private mutating func skipAnnotation(depth: Int) throws(JavaStreamError) {
        _ = try annotation(depth: depth)
    }

    private mutating func newObject(depth: Int) throws(JavaStreamError) -> JavaValue {
        guard let d = try classDesc(depth: depth + 1) else { throw fail("object without a class descriptor") }
        let h = newHandle(.pending)
        // Class chain, superclass first.
        var chain: [Int] = []
        var cursor: Int? = d
        while let c = cursor {
            guard chain.count < limits.maxDepth else { throw fail("class hierarchy deeper than \(limits.maxDepth)") }
            chain.append(c)
            cursor = descs[c].superDesc
        }
        var object = JavaObject(className: descs[d].name, fields: [], annotations: [])
        for c in chain.reversed() {
            let desc = descs[c]
            if desc.flags & 0x04 != 0 {  // SC_EXTERNALIZABLE
                guard desc.flags & 0x08 != 0 else {
                    throw fail(
                        "\(desc.name) is Externalizable with protocol version 1: its contents cannot be read without the class"
                    )
                }
                object.annotations += try annotation(depth: depth)
                continue
            }
            for f in desc.fields {
                object.fields.append(JavaField(name: f.name, value: try fieldValue(f.type, depth: depth)))
            }
            if desc.flags & 0x01 != 0 {  // SC_WRITE_METHOD: custom data follows
                object.annotations += try annotation(depth: depth)
            }
        }
        let v = JavaValue.object(object)
        handles[h] = .value(v)
        return v
    }

    private mutating func fieldValue(_ type: UInt8, depth: Int) throws(JavaStreamError) -> JavaValue {
        switch type {
        case UInt8(ascii: "B"): return .byte(Int8(bitPattern: try u1()))
        case UInt8(ascii: "C"): return .char(try u2())
        case UInt8(ascii: "D"): return .double(Double(bitPattern: try u8()))
        case UInt8(ascii: "F"): return .float(Float(bitPattern: try u4()))
        case UInt8(ascii: "I"): return .int(Int32(bitPattern: try u4()))
        case UInt8(ascii: "J"): return .long(Int64(bitPattern: try u8()))
        case UInt8(ascii: "S"): return .short(Int16(bitPattern: try u2()))
        case UInt8(ascii: "Z"): return .bool(try u1() != 0)
        default: return try content(depth: depth + 1)
        }
    }

    private mutating func newArray(depth: Int) throws(JavaStreamError) -> JavaValue {
        guard let d = try classDesc(depth: depth + 1) else { throw fail("array without a class descriptor") }
        let h = newHandle(.pending)
        let n = Int(Int32(bitPattern: try u4()))
        guard n >= 0, n <= limits.maxArrayLength else { throw fail("array length \(n) out of bounds") }
        let name = descs[d].name
        let elementType: UInt8 = name.utf8.count >= 2 ? Array(name.utf8)[1] : UInt8(ascii: "L")
        var elements: [JavaValue] = []
        if elementType == UInt8(ascii: "B") {
            // byte[] is common (serialized payloads): keep it compact as block data.
            let raw = try bytes(n)
            let v = JavaValue.array(className: name, elements: [.blockData(Array(raw))])
            handles[h] = .value(v)
            return v
        }
        elements.reserveCapacity(min(n, 1024))
        for _ in 0..<n {
            try countNode()
            elements.append(try fieldValue(elementType, depth: depth))
        }
        let v = JavaValue.array(className: name, elements: elements)
        handles[h] = .value(v)
        return v
    }
}

// MARK: - Presentation

extension JavaValue {
    /// The common display tree. Boxed primitives and strings show as plain values; common
    /// collections show their elements; anything else as an object with its fields.
    public var decoded: DecodedValue {
        switch self {
        case .null: return .null
        case .string(let s): return .string(s)
        case .bool(let v): return .bool(v)
        case .byte(let v): return .int(Int64(v))
        case .char(let v): return .string(String(decoding: [v], as: UTF16.self))
        case .short(let v): return .int(Int64(v))
        case .int(let v): return .int(Int64(v))
        case .long(let v): return .int(v)
        case .float(let v): return .double(Double(v))
        case .double(let v): return .double(v)
        case .blockData(let bytes): return .bytes(bytes)
        case .classReference(let c): return .object(className: "java.lang.Class", fields: [.init("name", .string(c))])
        case .enumConstant(let c, let name): return .object(className: c, fields: [.init("name", .string(name))])
        case .cycle(let h): return .string("<cycle to object #\(h)>")
        case .array(let cls, let elements):
            if cls == "[B", case .blockData(let bytes)? = elements.first { return .bytes(bytes) }
            return .list(elements.map(\.decoded))
        case .object(let o):
            switch o.className {
            case "java.lang.Long", "java.lang.Integer", "java.lang.Short", "java.lang.Byte",
                "java.lang.Double", "java.lang.Float", "java.lang.Boolean", "java.lang.Character":
                if let v = o.fields.first(where: { $0.name == "value" }) { return v.value.decoded }
            case "java.util.ArrayList", "java.util.LinkedList", "java.util.HashSet", "java.util.LinkedHashSet",
                "java.util.TreeSet", "java.util.ArrayDeque", "java.util.Vector":
                return .list(
                    o.annotations.filter { if case .blockData = $0 { return false } else { return true } }.map(
                        \.decoded))
            case "java.util.HashMap", "java.util.LinkedHashMap", "java.util.TreeMap", "java.util.Hashtable",
                "java.util.concurrent.ConcurrentHashMap":
                let items = o.annotations.filter { if case .blockData = $0 { return false } else { return true } }
                var entries: [DecodedValue.Entry] = []
                var k = 0
                while k + 1 < items.count {
                    entries.append(.init(items[k].decoded.summary, items[k + 1].decoded))
                    k += 2
                }
                return .map(entries)
            default:
                break
            }
            var fields = o.fields.map { DecodedValue.Entry($0.name, $0.value.decoded) }
            let extra = o.annotations.filter { if case .blockData = $0 { return false } else { return true } }
            if !extra.isEmpty { fields.append(.init("@writeObject", .list(extra.map(\.decoded)))) }
            return .object(className: o.className, fields: fields)
        }
    }

    /// The user name held by a Spring Security context or an authentication token:
    /// `SecurityContextImpl.authentication.principal` when it is a string, else the
    /// principal's `username` (UserDetails) or `name`. A plain string is itself the name.
    public var principalName: String? {
        switch self {
        case .string(let s): return s
        case .object:
            if let auth = field("authentication") { return auth.principalName }
            if let p = field("principal") {
                if case .string(let s) = p { return s }
                if let u = p.field("username"), case .string(let s) = u { return s }
                if let n = p.field("name"), case .string(let s) = n { return s }
                if let n = p.field("login"), case .string(let s) = n { return s }
            }
            if let u = field("username"), case .string(let s) = u { return s }
            return nil
        default:
            return nil
        }
    }
}

extension JavaStream {
    /// The bytes `ObjectOutputStream` writes for a lone `String` (what Spring's default
    /// serializer stores as set members): header, TC_STRING or TC_LONGSTRING, modified UTF-8.
    public static func serializedString(_ s: String) -> [UInt8] {
        var body: [UInt8] = []
        for unit in s.utf16 {
            switch unit {
            case 0x0001...0x007F: body.append(UInt8(unit))
            case 0x0000, 0x0080...0x07FF:
                body.append(0xC0 | UInt8(unit >> 6))
                body.append(0x80 | UInt8(unit & 0x3F))
            default:
                body.append(0xE0 | UInt8(unit >> 12))
                body.append(0x80 | UInt8((unit >> 6) & 0x3F))
                body.append(0x80 | UInt8(unit & 0x3F))
            }
        }
        var out = magic
        if body.count <= 0xFFFF {
            out.append(0x74)
            out.append(UInt8(body.count >> 8))
            out.append(UInt8(body.count & 0xFF))
        } else {
            out.append(0x7C)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8((UInt64(body.count) >> UInt64(shift)) & 0xFF))
            }
        }
        return out + body
    }
}

extension JavaStream {
    /// `ObjectOutputStream` bytes of a `java.lang.Long` (what Spring stores for
    /// `creationTime` and `lastAccessedTime`).
    public static func serializedLong(_ v: Int64) -> [UInt8] {
        boxed(
            className: "java.lang.Long", suid: 0x3B8B_E490_CC8F_23DF, fieldType: "J",
            value: (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * Int64($0))) })
    }

    /// `ObjectOutputStream` bytes of a `java.lang.Integer` (`maxInactiveInterval`).
    public static func serializedInteger(_ v: Int32) -> [UInt8] {
        boxed(
            className: "java.lang.Integer", suid: 0x12E2_A0A4_F781_8738, fieldType: "I",
            value: (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * Int32($0))) })
    }

    private static func boxed(className: String, suid: UInt64, fieldType: Character, value: [UInt8]) -> [UInt8] {
        func utf(_ s: String) -> [UInt8] { [UInt8(s.utf8.count >> 8), UInt8(s.utf8.count & 0xFF)] + Array(s.utf8) }
        func u8(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
        var b = magic
        b += [0x73, 0x72] + utf(className) + u8(suid)
        b += [0x02, 0x00, 0x01, UInt8(ascii: fieldType.unicodeScalars.first ?? "J")] + utf("value")
        b += [0x78, 0x72] + utf("java.lang.Number") + u8(0x86AC_951D_0B94_E08B) + [0x02, 0x00, 0x00, 0x78, 0x70]
        return b + value
    }
}

extension JavaStream {
    private static let longPrefix = Array(serializedLong(0).dropLast(8))
    private static let integerPrefix = Array(serializedInteger(0).dropLast(4))

    /// The value of a serialized `java.lang.Long` or `Integer` written as a lone object
    /// (Spring's times), read by comparing the fixed layout: no decoder, no allocation.
    /// nil for anything else (the caller falls back to the full decoder).
    public static func fastNumber(_ b: [UInt8]) -> Int64? {
        if b.count == longPrefix.count + 8, b.starts(with: longPrefix) {
            var v: UInt64 = 0
            for i in longPrefix.count..<b.count { v = v << 8 | UInt64(b[i]) }
            return Int64(bitPattern: v)
        }
        if b.count == integerPrefix.count + 4, b.starts(with: integerPrefix) {
            var v: UInt32 = 0
            for i in integerPrefix.count..<b.count { v = v << 8 | UInt32(b[i]) }
            return Int64(Int32(bitPattern: v))
        }
        return nil
    }

    /// A lone serialized ASCII `String` (TC_STRING), read without the decoder.
    public static func fastString(_ b: [UInt8]) -> String? {
        guard b.count >= 7, b[0] == 0xAC, b[1] == 0xED, b[2] == 0x00, b[3] == 0x05, b[4] == 0x74,
            Int(b[5]) << 8 | Int(b[6]) == b.count - 7
        else { return nil }
        for i in 7..<b.count where b[i] == 0 || b[i] >= 0x80 { return nil }
        return String(decoding: b[7...], as: UTF8.self)
    }
}
