/// The one filter language of the console, shared by `ls --filter`, `batch` and the TUI's `/`.
///
/// A filter is a list of terms that must all hold: `user=alice node=n2 ttl<60 idle>10m
/// schema=spring attr.role~admin`. Operators: `=` (exact, `*` as wildcard), `!=`, `~`
/// (contains, case-insensitive), `!~`, `<`, `<=`, `>`, `>=`. Durations (`ttl`, `idle`, `age`)
/// count in seconds unless a unit is given (`500ms`, `5m`, `2h`); `size` counts bytes
/// (`k`, `m` suffixes allowed). A bare word matches the id or the user (contains).
/// Values may be quoted: `attr.name="John Smith"`.
public struct Filter: Sendable, Equatable, CustomStringConvertible {
    public enum Field: Sendable, Equatable {
        case id, user, node, schema, key, ttl, idle, age, size
        case attribute(String)
        case anyText
    }
    public enum Op: String, Sendable, Equatable, CaseIterable {
        case eq = "="
        case ne = "!="
        case contains = "~"
        case notContains = "!~"
        case lt = "<"
        case le = "<="
        case gt = ">"
        case ge = ">="
    }
    public struct Term: Sendable, Equatable {
        public var field: Field
        public var op: Op
        public var text: String
        /// The number for ordered comparisons (ms for durations, bytes for size).
        public var number: Int64?
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public private(set) var terms: [Term]
    public let source: String

    public init() {
        terms = []
        source = ""
    }

    public init(_ text: String) throws(ParseError) {
        source = text
        terms = []
        for word in try Filter.words(text) {
            terms.append(try Filter.term(word))
        }
    }

    public var isEmpty: Bool { terms.isEmpty }
    /// Whether a term compares the stored size (the listing must read it).
    public var usesSize: Bool { terms.contains { $0.field == .size } }
    public var description: String { source }

    /// Whether a term needs the session's attributes (listings do not read them by default).
    public var needsAttributes: Bool {
        terms.contains { if case .attribute = $0.field { return true } else { return false } }
    }

    /// The same filter without its `attr.` terms (what can be decided without attributes).
    public var withoutAttributeTerms: Filter {
        var f = Filter()
        f.terms = terms.filter { if case .attribute = $0.field { return false } else { return true } }
        return f
    }

    /// The exact user a filter pins down (`user=alice`, no wildcard), which lets stores use
    /// a principal index instead of scanning.
    public var exactUser: String? {
        for t in terms where t.field == .user && t.op == .eq && !t.text.contains("*") { return t.text }
        return nil
    }

    /// Adds a term; used for `--user`/`--node` flags, which are sugar for filter terms.
    public mutating func add(_ field: Field, _ op: Op, _ text: String) {
        terms.append(Term(field: field, op: op, text: text, number: nil))
    }

    public func matches(_ s: Session, nowMs: Int64) -> Bool {
        for t in terms where !Filter.holds(t, s, nowMs) { return false }
        return true
    }

    // MARK: - Evaluation

    private static func holds(_ t: Term, _ s: Session, _ now: Int64) -> Bool {
        switch t.field {
        case .id: return compareText(s.id, t)
        case .user: return compareText(s.user ?? "", t)
        case .node: return compareText(s.node, t)
        case .schema: return compareText(s.schema, t)
        case .key: return compareText(s.key, t)
        case .ttl: return compareNumber(s.ttlMs < 0 ? Int64.max : s.ttlMs, t)
        case .idle: return compareNumber(s.idleMs(now: now), t)
        case .age: return compareNumber(s.ageMs(now: now), t)
        case .size: return compareNumber(s.sizeBytes, t)
        case .attribute(let name):
            guard let a = s.attributes.first(where: { $0.name == name || $0.name.hasSuffix("." + name) }) else {
                return t.op == .ne || t.op == .notContains
            }
            return compareText(a.decoded.summary, t)
        case .anyText:
            let hit = contains(s.id, t.text) || contains(s.user ?? "", t.text)
            return t.op == .notContains ? !hit : hit
        }
    }

    private static func compareText(_ value: String, _ t: Term) -> Bool {
        switch t.op {
        case .eq: return glob(value, t.text)
        case .ne: return !glob(value, t.text)
        case .contains: return contains(value, t.text)
        case .notContains: return !contains(value, t.text)
        case .lt: return value < t.text
        case .le: return value <= t.text
        case .gt: return value > t.text
        case .ge: return value >= t.text
        }
    }

    private static func compareNumber(_ value: Int64?, _ t: Term) -> Bool {
        guard let v = value, let n = t.number else { return t.op == .ne }
        switch t.op {
        case .eq, .contains: return v == n
        case .ne, .notContains: return v != n
        case .lt: return v < n
        case .le: return v <= n
        case .gt: return v > n
        case .ge: return v >= n
        }
    }

    static func contains(_ haystack: String, _ needle: String) -> Bool {
        needle.isEmpty || haystack.lowercased().contains(needle.lowercased())
    }

    /// `*` matches any run of characters; everything else is literal.
    static func glob(_ value: String, _ pattern: String) -> Bool {
        guard pattern.contains("*") else { return value == pattern }
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        var rest = Substring(value)
        for (i, part) in parts.enumerated() {
            if i == 0 {
                guard rest.hasPrefix(part) else { return false }
                rest = rest.dropFirst(part.count)
            } else if i == parts.count - 1 {
                return part.isEmpty || rest.hasSuffix(part)
            } else if let r = rest.firstRange(of: part) {
                rest = rest[r.upperBound...]
            } else {
                return false
            }
        }
        return rest.isEmpty
    }

    // MARK: - Parsing

    /// Splits on spaces, keeping quoted runs (`"..."` or `'...'`) together.
    static func words(_ text: String) throws(ParseError) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character? = nil
        var inWord = false
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
                inWord = true
            } else if ch.isWhitespace {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if quote != nil { throw ParseError(message: "unclosed quote in filter '\(text)'") }
        if inWord { words.append(current) }
        return words
    }

    static func term(_ word: String) throws(ParseError) -> Term {
        // Find the first operator character; the longest operator at that place wins.
        let chars = Array(word)
        var opIndex: Int? = nil
        for (i, c) in chars.enumerated() where "=!~<>".contains(c) {
            opIndex = i
            break
        }
        guard let at = opIndex, at > 0 else {
            if opIndex == 0 { throw ParseError(message: "filter term '\(word)' has no field before its operator") }
            return Term(field: .anyText, op: .contains, text: word, number: nil)
        }
        let name = String(chars[..<at])
        let afterOp = String(chars[at...])
        guard
            let op = Op.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count })
                .first(where: { afterOp.hasPrefix($0.rawValue) })
        else {
            throw ParseError(message: "filter term '\(word)': unknown operator")
        }
        let value = String(afterOp.dropFirst(op.rawValue.count))
        let field: Field
        switch name.lowercased() {
        case "id", "session": field = .id
        case "user", "principal": field = .user
        case "node": field = .node
        case "schema": field = .schema
        case "key": field = .key
        case "ttl": field = .ttl
        case "idle": field = .idle
        case "age": field = .age
        case "size": field = .size
        default:
            if name.hasPrefix("attr."), name.count > 5 {
                field = .attribute(String(name.dropFirst(5)))
            } else {
                throw ParseError(
                    message:
                        "unknown filter field '\(name)' (fields: id user node schema key ttl idle age size attr.NAME)")
            }
        }
        var term = Term(field: field, op: op, text: value, number: nil)
        switch field {
        case .ttl, .idle, .age:
            do { term.number = try DurationText.milliseconds(value) } catch {
                throw ParseError(message: "filter term '\(word)': \(error)")
            }
        case .size:
            guard let n = parseSize(value) else {
                throw ParseError(message: "filter term '\(word)': '\(value)' is not a size (examples: 512, 4k, 2m)")
            }
            term.number = n
        default:
            break
        }
        return term
    }

    static func parseSize(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let multipliers: [(String, Int64)] = [("kb", 1024), ("mb", 1 << 20), ("k", 1024), ("m", 1 << 20), ("b", 1)]
        for (suffix, mul) in multipliers where lower.hasSuffix(suffix) {
            // A number too large for its unit is not a size (it trapped on overflow before).
            guard let n = Int64(lower.dropLast(suffix.count)) else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: mul)
            return overflow ? nil : bytes
        }
        return Int64(lower)
    }
}
