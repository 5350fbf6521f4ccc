import SessionKit

/// Python's pickle, protocols 2 to 5, read as data. The stream is a program for a stack
/// machine; this runs only the opcodes that build plain data (dict, list, tuple, set, str,
/// bytes, int, float, bool, None). Anything that would import or call (`GLOBAL`,
/// `STACK_GLOBAL`, `REDUCE`, `NEWOBJ`, `BUILD`) only *describes* the call: the class's
/// qualified name with its arguments and state. Nothing is imported, nothing is called.
public enum Pickle {
    public static func looksLikePickle(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0x80 && (2...5).contains(bytes[1])
    }

    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = DecodeLimits()) throws(DecodeError)
        -> DecodedValue
    {
        var m = PickleMachine(ByteReader(bytes, format: "pickle", limits: limits))
        let root = try m.run()
        var budget = limits.maxNodes
        return try m.value(root, depth: 0, budget: &budget, path: [])
    }
}

/// A value under construction; containers are shared by reference, as in Python, so
/// memoized objects filled in later (the usual order) are seen complete.
final class PickleNode {
    enum Kind {
        case scalar(DecodedValue)
        case list, tuple, dict, set, frozenset
        case global(String)
        case call(String)
    }
    var kind: Kind
    var items: [PickleNode] = []
    var pairs: [(PickleNode, PickleNode)] = []
    /// For `call`: the arguments; then the state given by BUILD.
    var args: PickleNode?
    var state: PickleNode?
    init(_ kind: Kind) { self.kind = kind }
}

struct PickleMachine {
    var r: ByteReader
    var stack: [PickleNode?] = []  // nil: a MARK
    var memo: [Int: PickleNode] = [:]
    var frames = 0

    init(_ r: ByteReader) { self.r = r }

    mutating func push(_ n: PickleNode) throws(DecodeError) {
        try r.node(depth: 0)
        stack.append(n)
    }
    mutating func pop() throws(DecodeError) -> PickleNode {
        guard let last = stack.popLast(), let n = last else { throw r.fail("stack underflow") }
        return n
    }
    mutating func popToMark() throws(DecodeError) -> [PickleNode] {
        guard let m = stack.lastIndex(where: { $0 == nil }) else { throw r.fail("no MARK on the stack") }
        let items = stack[(m + 1)...].compactMap { $0 }
        stack.removeSubrange(m...)
        return items
    }
    mutating func top() throws(DecodeError) -> PickleNode {
        guard let last = stack.last, let n = last else { throw r.fail("stack underflow") }
        return n
    }
    mutating func text(_ n: Int) throws(DecodeError) -> PickleNode {
        PickleNode(.scalar(.text(try r.take(n))))
    }
    mutating func len(_ bytes: Int) throws(DecodeError) -> Int {
        let v = try r.uint(bytes, bigEndian: false)
        guard v <= UInt64(r.limits.maxLength) else { throw r.fail("length \(v) over the limit") }
        return Int(v)
    }

    mutating func run() throws(DecodeError) -> PickleNode {
        while true {
            let at = r.pos
            let op = try r.u8()
            switch op {
            case 0x80:  // PROTO
                let v = try r.u8()
                guard (2...5).contains(v) else { throw r.fail("protocol \(v) (2 to 5 are read)", at: at) }
            case 0x95:
                _ = try r.uint(8, bigEndian: false)
                frames += 1  // FRAME: a length hint
            case UInt8(ascii: "."): return try pop()  // STOP
            case UInt8(ascii: "("): stack.append(nil)  // MARK
            case UInt8(ascii: "N"): try push(PickleNode(.scalar(.null)))
            case 0x88: try push(PickleNode(.scalar(.bool(true))))
            case 0x89: try push(PickleNode(.scalar(.bool(false))))
            case UInt8(ascii: "J"):
                try push(PickleNode(.scalar(.int(Int64(Int32(truncatingIfNeeded: try r.uint(4, bigEndian: false)))))))
            case UInt8(ascii: "K"): try push(PickleNode(.scalar(.int(Int64(try r.u8())))))
            case UInt8(ascii: "M"): try push(PickleNode(.scalar(.int(Int64(try r.uint(2, bigEndian: false))))))
            case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement
                let n = op == 0x8A ? Int(try r.u8()) : try len(4)
                let b = Array(try r.take(n))
                if n <= 8 {
                    var v: UInt64 = 0
                    for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
                    try push(PickleNode(.scalar(.int(Int64(bitPattern: v)))))
                } else {
                    try push(
                        PickleNode(
                            .scalar(
                                .string(
                                    "<\(n * 8)-bit integer 0x\(b.reversed().map { String($0, radix: 16) }.joined())>")))
                    )
                }
            case UInt8(ascii: "G"):
                try push(PickleNode(.scalar(.double(Double(bitPattern: try r.uint(8, bigEndian: true))))))
            case 0x8C: try push(try text(Int(try r.u8())))  // SHORT_BINUNICODE
            case UInt8(ascii: "X"): try push(try text(try len(4)))  // BINUNICODE
            case 0x8D: try push(try text(try len(8)))  // BINUNICODE8
            case UInt8(ascii: "U"): try push(try text(Int(try r.u8())))  // SHORT_BINSTRING (py2 str)
            case UInt8(ascii: "T"): try push(try text(try len(4)))  // BINSTRING
            case UInt8(ascii: "C"): try push(PickleNode(.scalar(.bytes(Array(try r.take(Int(try r.u8())))))))
            case UInt8(ascii: "B"): try push(PickleNode(.scalar(.bytes(Array(try r.take(try len(4)))))))
            case 0x8E, 0x96: try push(PickleNode(.scalar(.bytes(Array(try r.take(try len(8)))))))
            case UInt8(ascii: "}"): try push(PickleNode(.dict))
            case UInt8(ascii: "]"): try push(PickleNode(.list))
            case UInt8(ascii: ")"): try push(PickleNode(.tuple))
            case 0x8F: try push(PickleNode(.set))
            case UInt8(ascii: "t"):
                let n = PickleNode(.tuple)
                n.items = try popToMark()
                try push(n)
            case 0x85, 0x86, 0x87:
                let count = Int(op - 0x84)
                guard stack.count >= count, !stack.suffix(count).contains(where: { $0 == nil }) else {
                    throw r.fail("stack underflow", at: at)
                }
                let n = PickleNode(.tuple)
                n.items = stack.suffix(count).compactMap { $0 }
                stack.removeLast(count)
                try push(n)
            case 0x91:  // FROZENSET
                let n = PickleNode(.frozenset)
                n.items = try popToMark()
                try push(n)
            case UInt8(ascii: "a"):  // APPEND
                let v = try pop()
                try top().items.append(v)
            case UInt8(ascii: "e"), 0x90:  // APPENDS, ADDITEMS
                let items = try popToMark()
                try top().items += items
            case UInt8(ascii: "s"):  // SETITEM
                let v = try pop()
                let k = try pop()
                try top().pairs.append((k, v))
            case UInt8(ascii: "u"):  // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw r.fail("odd SETITEMS", at: at) }
                let d = try top()
                for i in stride(from: 0, to: items.count, by: 2) { d.pairs.append((items[i], items[i + 1])) }
            case 0x94: memo[memo.count] = try top()  // MEMOIZE
            case UInt8(ascii: "q"): memo[Int(try r.u8())] = try top()  // BINPUT
            case UInt8(ascii: "r"): memo[try len(4)] = try top()  // LONG_BINPUT
            case UInt8(ascii: "h"), UInt8(ascii: "j"):  // BINGET, LONG_BINGET
                let i = op == UInt8(ascii: "h") ? Int(try r.u8()) : try len(4)
                guard let n = memo[i] else { throw r.fail("memo \(i) is empty", at: at) }
                try push(n)
            case UInt8(ascii: "c"):  // GLOBAL module\nname\n
                let module = String(decoding: try r.until(0x0A, max: 256), as: UTF8.self)
                let name = String(decoding: try r.until(0x0A, max: 256), as: UTF8.self)
                try push(PickleNode(.global(module + "." + name)))
            case 0x93:  // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case .scalar(.string(let n)) = name.kind, case .scalar(.string(let m)) = module.kind else {
                    throw r.fail("STACK_GLOBAL needs two strings", at: at)
                }
                try push(PickleNode(.global(m + "." + n)))
            case 0x82, 0x83, 0x84:  // EXT1/2/4: a registered class, by code
                let code = try r.uint(op == 0x82 ? 1 : op == 0x83 ? 2 : 4, bigEndian: false)
                try push(PickleNode(.global("copyreg extension #\(code)")))
            case UInt8(ascii: "R"), 0x81:  // REDUCE, NEWOBJ: described, never called
                let args = try pop()
                let callable = try pop()
                try push(call(callable, args))
            case 0x92:  // NEWOBJ_EX
                let kwargs = try pop()
                let args = try pop()
                let cls = try pop()
                let n = call(cls, args)
                n.state = kwargs
                try push(n)
            case UInt8(ascii: "b"):  // BUILD
                let state = try pop()
                let obj = try top()
                if case .call = obj.kind {
                    obj.state = state
                } else {
                    let n = call(obj, PickleNode(.tuple))
                    n.state = state
                    _ = try pop()
                    try push(n)
                }
            case UInt8(ascii: "0"): _ = stack.popLast()
            case UInt8(ascii: "1"): _ = try popToMark()
            case UInt8(ascii: "2"): try push(try top())
            case 0x97, 0x98: throw r.fail("out-of-band buffers are not stored in sessions", at: at)
            default:
                throw r.fail(
                    "opcode 0x\(String(op, radix: 16)) (\(op >= 0x20 && op < 0x7F ? String(UnicodeScalar(op)) : "?")) is not read",
                    at: at)
            }
        }
    }

    func call(_ callable: PickleNode, _ args: PickleNode) -> PickleNode {
        let name: String
        if case .global(let g) = callable.kind { name = g } else { name = "<callable>" }
        let n = PickleNode(.call(name))
        n.args = args
        return n
    }

    /// Converts the built graph; shared nodes count every time they are shown (a small
    /// pickle can reference one list a million times), cycles are cut.
    func value(_ n: PickleNode, depth: Int, budget: inout Int, path: [ObjectIdentifier]) throws(DecodeError)
        -> DecodedValue
    {
        budget -= 1
        guard budget >= 0 else { throw r.fail("more than \(r.limits.maxNodes) values once references are followed") }
        guard depth <= r.limits.maxDepth else { throw r.fail("nesting deeper than \(r.limits.maxDepth)") }
        let id = ObjectIdentifier(n)
        if path.contains(id) { return .string("<cycle>") }
        let p = path + [id]
        func all(_ xs: [PickleNode], _ budget: inout Int) throws(DecodeError) -> [DecodedValue] {
            var out: [DecodedValue] = []
            for x in xs { out.append(try value(x, depth: depth + 1, budget: &budget, path: p)) }
            return out
        }
        switch n.kind {
        case .scalar(let v): return v
        case .list, .tuple: return .list(try all(n.items, &budget))
        case .set, .frozenset:
            return .object(
                className: n.kind.isFrozen ? "frozenset" : "set",
                fields: try all(n.items, &budget).enumerated().map { .init(String($0.offset), $0.element) })
        case .dict:
            var entries: [DecodedValue.Entry] = []
            for (k, v) in n.pairs {
                let key = try value(k, depth: depth + 1, budget: &budget, path: p)
                let keyText: String
                if case .string(let s) = key { keyText = s } else { keyText = key.summary }
                entries.append(.init(keyText, try value(v, depth: depth + 1, budget: &budget, path: p)))
            }
            return .map(entries)
        case .global(let name): return .object(className: "class", fields: [.init("name", .string(name))])
        case .call(let name):
            var fields: [DecodedValue.Entry] = []
            if let a = n.args,
                !(a.items.isEmpty && a.pairs.isEmpty
                    && {
                        if case .tuple = a.kind { return true }
                        return false
                    }())
            {
                fields.append(.init("args", try value(a, depth: depth + 1, budget: &budget, path: p)))
            }
            if let s = n.state {
                let st = try value(s, depth: depth + 1, budget: &budget, path: p)
                if case .map(let entries) = st { fields += entries } else { fields.append(.init("state", st)) }
            }
            return .object(className: name, fields: fields)
        }
    }
}

extension PickleNode.Kind {
    var isFrozen: Bool {
        if case .frozenset = self { return true }
        return false
    }
}
