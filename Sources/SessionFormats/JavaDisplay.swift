import SessionKit

/// How decoded Java values are shown: trees for the inspect view, principal names.
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
