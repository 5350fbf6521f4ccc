import SessionKit

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
        try readHeader()
        return try content(depth: 0)
    }

    private mutating func readHeader() throws(JavaStreamError) {
        guard b.count >= 4 else { throw fail("too short for a stream header") }
        guard b[0] == 0xAC, b[1] == 0xED else { throw fail("no stream magic (AC ED)") }
        guard b[2] == 0x00, b[3] == 0x05 else {
            throw JavaStreamError(message: "unsupported stream version", offset: 2)
        }
        i = 4
    }

    /// Every content of the stream in order, with each one's byte range (a stream that
    /// holds several objects, as Tomcat's memcached-session-manager writes attributes).
    mutating func readAllContents(max: Int) throws(JavaStreamError) -> [(JavaValue, Range<Int>)] {
        try readHeader()
        var out: [(JavaValue, Range<Int>)] = []
        while i < b.count {
            guard out.count < max else { throw fail("more than \(max) contents") }
            let start = i
            let v = try content(depth: 0)
            out.append((v, start..<i))
        }
        return out
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

    /// Fills a handle taken before its value was read. A reset inside the value empties the
    /// table, so the handle may be gone: that is an error, never a write past the end.
    private mutating func setHandle(_ h: Int, _ slot: Slot) throws(JavaStreamError) {
        guard h < handles.count else { throw fail("a reset inside a value invalidated its handle") }
        handles[h] = slot
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
        case JavaTypeCode.null: return .null
        case JavaTypeCode.reference:
            let h = try handleIndex()
            switch handles[h] {
            case .value(let v): return v
            case .pending: return .cycle(handle: h)
            case .desc(let d): return .classReference(descs[d].name)
            }
        case JavaTypeCode.object: return try newObject(depth: depth)
        case JavaTypeCode.string:
            let s = try utf()
            _ = newHandle(.value(.string(s)))
            return .string(s)
        case JavaTypeCode.longString:
            let n = try u8()
            guard n <= UInt64(b.count) else { throw fail("long string length past the end") }
            let s = try modifiedUTF8(length: Int(n))
            _ = newHandle(.value(.string(s)))
            return .string(s)
        case JavaTypeCode.array: return try newArray(depth: depth)
        case JavaTypeCode.class:
            guard let d = try classDesc(depth: depth) else { throw fail("TC_CLASS without a descriptor") }
            let v = JavaValue.classReference(descs[d].name)
            _ = newHandle(.value(v))
            return v
        case JavaTypeCode.enum:
            guard let d = try classDesc(depth: depth) else { throw fail("TC_ENUM without a descriptor") }
            let h = newHandle(.pending)
            guard case .string(let name) = try content(depth: depth + 1) else {
                throw fail("enum constant name is not a string")
            }
            let v = JavaValue.enumConstant(className: descs[d].name, name: name)
            try setHandle(h, .value(v))
            return v
        case JavaTypeCode.classDesc, JavaTypeCode.proxyClassDesc:  // a class descriptor as content
            i -= 1
            guard let d = try classDesc(depth: depth) else { return .null }
            return .classReference(descs[d].name)
        case JavaTypeCode.blockData:
            let n = Int(try u1())
            return .blockData(Array(try bytes(n)))
        case JavaTypeCode.blockDataLong:
            let n = Int(try u4())
            return .blockData(Array(try bytes(n)))
        case JavaTypeCode.reset:
            // A run of resets is read in a loop: recursing per reset overflowed the stack.
            handles.removeAll()
            while i < b.count, b[i] == JavaTypeCode.reset {
                i += 1
                try countNode()
            }
            return try content(depth: depth + 1)
        case JavaTypeCode.exception:
            handles.removeAll()
            let thrown = try content(depth: depth + 1)
            throw fail("stream holds an exception written mid-serialization (\(thrown.className ?? "?"))")
        case JavaTypeCode.endBlockData:
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
        case JavaTypeCode.null: return nil
        case JavaTypeCode.reference:
            let h = try handleIndex()
            guard case .desc(let d) = handles[h] else { throw fail("reference is not a class descriptor") }
            return d
        case JavaTypeCode.classDesc:
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
            try setHandle(h, .desc(d))
            try skipAnnotation(depth: depth)
            descs[d].superDesc = try classDesc(depth: depth + 1)
            return d
        case JavaTypeCode.proxyClassDesc:
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
            try setHandle(h, .desc(d))
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
        try setHandle(h, .value(v))
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
            try setHandle(h, .value(v))
            return v
        }
        elements.reserveCapacity(min(n, 1024))
        for _ in 0..<n {
            try countNode()
            elements.append(try fieldValue(elementType, depth: depth))
        }
        let v = JavaValue.array(className: name, elements: elements)
        try setHandle(h, .value(v))
        return v
    }
}
