/// Readable, terminal-safe lines for a decoded value: what `show` prints and the TUI's
/// inspect pane displays (one renderer for both).
extension DecodedValue {
    /// Whether the value fits on its key's line.
    public var isScalar: Bool {
        switch self {
        case .map(let e): return e.isEmpty
        case .list(let l): return l.isEmpty
        case .object: return false
        default: return true
        }
    }

    /// One-line rendering of a scalar: strings quoted, bytes counted (hex prefix), every
    /// store byte sanitized and cut at `limit`.
    public func scalarText(limit: Int = Sanitizer.defaultLimit) -> String {
        switch self {
        case .string(let s): return "\"" + Sanitizer.display(s, limit: limit) + "\""
        case .bytes(let b): return "<\(b.count) bytes> " + Sanitizer.hex(b, limit: min(limit, 64))
        case .map: return "{}"
        case .list: return "[]"
        case .undecodable(let why): return "<undecodable: " + Sanitizer.display(why) + ">"
        default: return Sanitizer.display(summary, limit: limit)
        }
    }

    /// The value as indented lines (`key: value`, nested structures one level deeper).
    public func treeLines(indent: Int = 0, limit: Int = Sanitizer.defaultLimit) -> [String] {
        let pad = String(repeating: "  ", count: indent)
        func field(_ key: String, _ value: DecodedValue) -> [String] {
            let name = Sanitizer.display(key, limit: 200)
            if value.isScalar { return [pad + name + ": " + value.scalarText(limit: limit)] }
            return [pad + name + ":"] + value.treeLines(indent: indent + 1, limit: limit)
        }
        switch self {
        case .map(let entries) where !entries.isEmpty:
            return entries.flatMap { field($0.key, $0.value) }
        case .object(let cls, let fields):
            return [pad + "(" + Sanitizer.display(cls) + ")"] + fields.flatMap { field($0.key, $0.value) }
        case .list(let items) where !items.isEmpty:
            return items.enumerated().flatMap { field("[\($0.offset)]", $0.element) }
        default:
            return [pad + scalarText(limit: limit)]
        }
    }
}
