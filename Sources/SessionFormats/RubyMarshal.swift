import SessionKit

/// Ruby's Marshal format 4.8 (`Marshal.dump`), as Rails session stores write it. Objects
/// are described by class name and instance variables; `_load`, `marshal_load` and
/// `_dump` payloads are never run, user-defined payloads are shown as bytes or text.
public enum RubyMarshal {
    public static func looksLikeMarshal(_ bytes: [UInt8]) -> Bool { bytes.count >= 3 && bytes[0] == 4 && bytes[1] == 8 }

    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(DecodeError)
        -> DecodedValue
    {
        var p = MarshalParser(r: ByteReader(bytes, format: "Ruby Marshal", limits: limits))
        guard try p.r.u8() == 4, try p.r.u8() == 8 else { throw p.r.fail("not Marshal 4.8", at: 0) }
        let v = try p.value(depth: 0)
        guard p.r.atEnd else { throw p.r.fail("\(p.r.remaining) bytes after the value") }
        return v
    }
}

struct MarshalParser {
    var r: ByteReader
    var symbols: [String] = []
    var objects: [DecodedValue] = []

    /// Marshal's packed integer.
    mutating func int() throws(DecodeError) -> Int {
        let c = Int8(bitPattern: try r.u8())
        switch c {
        case 0: return 0
        case 5...127: return Int(c) - 5
        case -128 ... -5: return Int(c) + 5
        case 1...4:
            var v = 0
            for i in 0..<Int(c) { v |= Int(try r.u8()) << (8 * i) }
            return v
        default:  // -4 ... -1
            var v = -1
            for i in 0..<Int(-c) {
                v &= ~(0xFF << (8 * i))
                v |= Int(try r.u8()) << (8 * i)
            }
            return v
        }
    }

    mutating func bytes() throws(DecodeError) -> ArraySlice<UInt8> {
        let n = try int()
        return try r.take(n)
    }

    /// A symbol or a symbol link; `depth` counts the encoding wrappers around it (each one
    /// is a level: tens of thousands of them overflowed the stack).
    mutating func symbol(depth: Int = 0) throws(DecodeError) -> String {
        try r.node(depth: depth)
        let at = r.pos
        switch try r.u8() {
        case UInt8(ascii: ":"):
            let s = String(decoding: try bytes(), as: UTF8.self)
            symbols.append(s)
            return s
        case UInt8(ascii: ";"):
            let i = try int()
            guard i >= 0, i < symbols.count else { throw r.fail("symbol link \(i) of \(symbols.count)", at: at) }
            return symbols[i]
        case UInt8(ascii: "I"):  // a symbol with an encoding ivar
            let s = try symbol(depth: depth + 1)
            _ = try ivars(depth: depth + 1)
            return s
        default: throw r.fail("expected a symbol", at: at)
        }
    }

    mutating func ivars(depth: Int) throws(DecodeError) -> [DecodedValue.Entry] {
        let n = try r.checkedCount(try int(), minBytes: 2)
        var out: [DecodedValue.Entry] = []
        for _ in 0..<n {
            let name = try symbol(depth: depth + 1)
            out.append(.init(name.hasPrefix("@") ? String(name.dropFirst()) : name, try value(depth: depth + 1)))
        }
        return out
    }

    mutating func remember(_ v: DecodedValue) -> Int {
        objects.append(v)
        return objects.count - 1
    }

    mutating func value(depth: Int) throws(DecodeError) -> DecodedValue {
        try r.node(depth: depth)
        let at = r.pos
        let tag = try r.u8()
        switch tag {
        case UInt8(ascii: "0"): return .null
        case UInt8(ascii: "T"): return .bool(true)
        case UInt8(ascii: "F"): return .bool(false)
        case UInt8(ascii: "i"): return .int(Int64(try int()))
        case UInt8(ascii: ":"), UInt8(ascii: ";"):
            r.pos = at
            return .string(":" + (try symbol()))
        case UInt8(ascii: "\""):
            let v = DecodedValue.text(try bytes())
            _ = remember(v)
            return v
        case UInt8(ascii: "I"):  // wrapped value + instance variables (string encodings)
            let slot = objects.count
            let inner = try value(depth: depth + 1)
            let extra = try ivars(depth: depth).filter { $0.key != "E" && $0.key != "encoding" }
            let v: DecodedValue =
                extra.isEmpty ? inner : .object(className: "with ivars", fields: [.init("value", inner)] + extra)
            if slot < objects.count { objects[slot] = v }
            return v
        case UInt8(ascii: "f"):
            let text = String(decoding: try bytes(), as: UTF8.self)
            let v: DecodedValue =
                text == "inf"
                ? .double(.infinity)
                : text == "-inf"
                    ? .double(-.infinity)
                    : text == "nan"
                        ? .double(.nan)
                        : Double(text).map { .double($0) } ?? .string(text)
            _ = remember(v)
            return v
        case UInt8(ascii: "l"):
            let sign = try r.u8()
            let words = try int()
            let b = Array(try r.take(words * 2))
            let v: DecodedValue
            if b.count <= 8 {
                var n: UInt64 = 0
                for (i, x) in b.enumerated() { n |= UInt64(x) << (8 * UInt64(i)) }
                v =
                    n <= UInt64(Int64.max)
                    ? .int(sign == UInt8(ascii: "-") ? -Int64(n) : Int64(n))
                    : .string((sign == UInt8(ascii: "-") ? "-" : "") + String(n))
            } else {
                v = .string("<\(b.count * 8)-bit integer>")
            }
            _ = remember(v)
            return v
        case UInt8(ascii: "["):
            let slot = remember(.null)
            let n = try r.checkedCount(try int())
            var items: [DecodedValue] = []
            for _ in 0..<n { items.append(try value(depth: depth + 1)) }
            objects[slot] = .list(items)
            return .list(items)
        case UInt8(ascii: "{"), UInt8(ascii: "}"):
            let slot = remember(.null)
            let n = try r.checkedCount(try int(), minBytes: 2)
            var entries: [DecodedValue.Entry] = []
            for _ in 0..<n {
                let k = try value(depth: depth + 1)
                let key: String
                if case .string(let s) = k { key = s } else { key = k.summary }
                entries.append(.init(key, try value(depth: depth + 1)))
            }
            if tag == UInt8(ascii: "}") { entries.append(.init("(default)", try value(depth: depth + 1))) }
            objects[slot] = .map(entries)
            return .map(entries)
        case UInt8(ascii: "o"):
            let slot = remember(.null)
            let cls = try symbol()
            let v = DecodedValue.object(className: cls, fields: try ivars(depth: depth))
            objects[slot] = v
            return v
        case UInt8(ascii: "S"):
            let slot = remember(.null)
            let cls = try symbol()
            let n = try r.checkedCount(try int(), minBytes: 2)
            var fields: [DecodedValue.Entry] = []
            for _ in 0..<n {
                let name = try symbol()
                fields.append(.init(name, try value(depth: depth + 1)))
            }
            objects[slot] = .object(className: cls, fields: fields)
            return objects[slot]
        case UInt8(ascii: "u"):  // _dump payload: opaque bytes, never passed to _load
            let cls = try symbol()
            let v = DecodedValue.object(className: cls, fields: [.init("_dump", .text(try bytes()))])
            _ = remember(v)
            return v
        case UInt8(ascii: "U"):  // marshal_dump data, never passed to marshal_load
            let slot = remember(.null)
            let cls = try symbol()
            let v = DecodedValue.object(className: cls, fields: [.init("marshal_dump", try value(depth: depth + 1))])
            objects[slot] = v
            return v
        case UInt8(ascii: "C"):  // a subclass of String/Array/Hash (HashWithIndifferentAccess...)
            let cls = try symbol()
            let inner = try value(depth: depth + 1)
            switch inner {
            case .map(let entries): return .object(className: cls, fields: entries)
            default: return .object(className: cls, fields: [.init("value", inner)])
            }
        case UInt8(ascii: "e"):  // extended by a module
            let module = try symbol()
            let inner = try value(depth: depth + 1)
            return .object(className: "extended by \(module)", fields: [.init("value", inner)])
        case UInt8(ascii: "c"), UInt8(ascii: "m"), UInt8(ascii: "M"):
            let v = DecodedValue.object(
                className: tag == UInt8(ascii: "c") ? "class" : "module",
                fields: [.init("name", .text(try bytes()))])
            _ = remember(v)
            return v
        case UInt8(ascii: "/"):
            let src = try bytes()
            let flags = try r.u8()
            let v = DecodedValue.object(
                className: "Regexp", fields: [.init("source", .text(src)), .init("options", .int(Int64(flags)))])
            _ = remember(v)
            return v
        case UInt8(ascii: "d"):
            let cls = try symbol()
            let v = DecodedValue.object(className: cls, fields: [.init("_load_data", try value(depth: depth + 1))])
            _ = remember(v)
            return v
        case UInt8(ascii: "@"):
            let i = try int()
            guard i >= 0, i < objects.count else { throw r.fail("object link \(i) of \(objects.count)", at: at) }
            switch objects[i] {
            case .list, .map, .object: return .string("<reference to object #\(i)>")
            default: return objects[i]
            }
        default:
            throw r.fail("unknown type byte 0x\(String(tag, radix: 16))", at: at)
        }
    }
}
