import SessionKit

/// MessagePack (msgpack.org spec), as Flask-Session ≥ 0.7 writes sessions (through
/// msgspec). Extension types are shown with their type code; the timestamp extension (-1)
/// as an ISO time.
public enum MessagePack {
    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(DecodeError)
        -> DecodedValue
    {
        var r = ByteReader(bytes, format: "msgpack", limits: limits)
        let v = try value(&r, depth: 0)
        guard r.atEnd else { throw r.fail("\(r.remaining) bytes after the value") }
        return v
    }

    static func value(_ r: inout ByteReader, depth: Int) throws(DecodeError) -> DecodedValue {
        try r.node(depth: depth)
        let at = r.pos
        let b = try r.u8()
        switch b {
        case 0x00...0x7F: return .int(Int64(b))
        case 0xE0...0xFF: return .int(Int64(Int8(bitPattern: b)))
        case 0x80...0x8F: return try map(&r, Int(b & 0x0F), depth: depth)
        case 0x90...0x9F: return try array(&r, Int(b & 0x0F), depth: depth)
        case 0xA0...0xBF: return .text(try r.take(Int(b & 0x1F)))
        case 0xC0: return .null
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC4, 0xC5, 0xC6: return .bytes(Array(try r.take(Int(try r.uint(1 << Int(b - 0xC4), bigEndian: true)))))
        case 0xC7, 0xC8, 0xC9:
            let n = Int(try r.uint(1 << Int(b - 0xC7), bigEndian: true))
            return try ext(&r, length: n)
        case 0xCA: return .double(Double(Float(bitPattern: UInt32(try r.uint(4, bigEndian: true)))))
        case 0xCB: return .double(Double(bitPattern: try r.uint(8, bigEndian: true)))
        case 0xCC, 0xCD, 0xCE: return .int(Int64(try r.uint(1 << Int(b - 0xCC), bigEndian: true)))
        case 0xCF:
            let v = try r.uint(8, bigEndian: true)
            return v <= UInt64(Int64.max) ? .int(Int64(v)) : .string(String(v))
        case 0xD0: return .int(Int64(Int8(truncatingIfNeeded: try r.uint(1, bigEndian: true))))
        case 0xD1: return .int(Int64(Int16(truncatingIfNeeded: try r.uint(2, bigEndian: true))))
        case 0xD2: return .int(Int64(Int32(truncatingIfNeeded: try r.uint(4, bigEndian: true))))
        case 0xD3: return .int(Int64(bitPattern: try r.uint(8, bigEndian: true)))
        case 0xD4, 0xD5, 0xD6, 0xD7, 0xD8: return try ext(&r, length: 1 << Int(b - 0xD4))
        case 0xD9, 0xDA, 0xDB: return .text(try r.take(Int(try r.uint(1 << Int(b - 0xD9), bigEndian: true))))
        case 0xDC, 0xDD: return try array(&r, Int(try r.uint(b == 0xDC ? 2 : 4, bigEndian: true)), depth: depth)
        case 0xDE, 0xDF: return try map(&r, Int(try r.uint(b == 0xDE ? 2 : 4, bigEndian: true)), depth: depth)
        default: throw r.fail("byte 0x\(String(b, radix: 16)) is never used", at: at)
        }
    }

    static func array(_ r: inout ByteReader, _ n: Int, depth: Int) throws(DecodeError) -> DecodedValue {
        let count = try r.checkedCount(n)
        var items: [DecodedValue] = []
        for _ in 0..<count { items.append(try value(&r, depth: depth + 1)) }
        return .list(items)
    }

    static func map(_ r: inout ByteReader, _ n: Int, depth: Int) throws(DecodeError) -> DecodedValue {
        let count = try r.checkedCount(n, minBytes: 2)
        var entries: [DecodedValue.Entry] = []
        for _ in 0..<count {
            let k = try value(&r, depth: depth + 1)
            let key: String
            if case .string(let s) = k { key = s } else { key = k.summary }
            entries.append(.init(key, try value(&r, depth: depth + 1)))
        }
        return .map(entries)
    }

    static func ext(_ r: inout ByteReader, length: Int) throws(DecodeError) -> DecodedValue {
        let type = Int8(bitPattern: try r.u8())
        let data = Array(try r.take(length))
        if type == -1 {  // timestamp: 32-bit seconds, 64-bit nsec30|sec34, or 96-bit nsec|sec
            var seconds: Int64 = 0
            var nanos: Int64 = 0
            switch data.count {
            case 4: seconds = Int64(data.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            case 8:
                let v = data.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                nanos = Int64(v >> 34)
                seconds = Int64(v & 0x3_FFFF_FFFF)
            case 12:
                nanos = Int64(data[0..<4].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
                seconds = Int64(bitPattern: data[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            default: return .object(className: "msgpack timestamp", fields: [.init("bytes", .bytes(data))])
            }
            let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            let (total, overflow2) = ms.addingReportingOverflow(nanos / 1_000_000)
            if !overflow && !overflow2 { return .string(ISOTime.format(ms: total)) }
        }
        return .object(className: "msgpack extension \(type)", fields: [.init("data", .bytes(data))])
    }
}
