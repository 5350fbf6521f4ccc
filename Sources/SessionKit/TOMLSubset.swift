/// The part of TOML that theme files use, read strictly: `[table]` and `[a.b]` headers,
/// `key = value` with strings ("..." with escapes, '...'), integers, booleans, arrays and
/// inline tables (`{ fg = "red", attrs = ["bold"] }`), `#` comments. Anything else is an
/// error with its line number, never a guess.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case array([TOMLValue])
    case table([String: TOMLValue])

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var table: [String: TOMLValue]? { if case .table(let t) = self { return t } else { return nil } }
}

public struct TOMLError: Error, CustomStringConvertible, Equatable {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

public enum TOMLSubset {
    public static func parse(_ text: String) throws(TOMLError) -> [String: TOMLValue] {
        var root: [String: TOMLValue] = [:]
        var path: [String] = []
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = n + 1
            var p = Cursor(chars: Array(rawLine), line: lineNo)
            p.skipSpace()
            if p.atEnd || p.peek == "#" { continue }
            if p.peek == "[" {
                p.i += 1
                var name = ""
                while !p.atEnd, p.peek != "]" {
                    name.append(p.peek)
                    p.i += 1
                }
                guard !p.atEnd else { throw TOMLError(line: lineNo, message: "unclosed table header") }
                p.i += 1
                p.skipSpace()
                guard p.atEnd || p.peek == "#" else {
                    throw TOMLError(line: lineNo, message: "text after table header")
                }
                path = name.split(separator: ".").map { String($0).trimmingCharacters() }
                guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
                    throw TOMLError(line: lineNo, message: "empty table name")
                }
                try ensureTable(&root, path, line: lineNo)
                continue
            }
            let key = try p.key()
            p.skipSpace()
            guard !p.atEnd, p.peek == "=" else {
                throw TOMLError(line: lineNo, message: "expected '=' after key '\(key)'")
            }
            p.i += 1
            p.skipSpace()
            let value = try p.value(depth: 0)
            p.skipSpace()
            guard p.atEnd || p.peek == "#" else {
                throw TOMLError(line: lineNo, message: "unexpected text after value")
            }
            try insert(&root, path + [key], value, line: lineNo)
        }
        return root
    }

    private static func ensureTable(_ t: inout [String: TOMLValue], _ path: [String], line: Int) throws(TOMLError) {
        guard let head = path.first else { return }
        var child = t[head]?.table ?? [:]
        if let existing = t[head], existing.table == nil {
            throw TOMLError(line: line, message: "'\(head)' is not a table")
        }
        try ensureTable(&child, Array(path.dropFirst()), line: line)
        t[head] = .table(child)
    }

    private static func insert(_ t: inout [String: TOMLValue], _ path: [String], _ v: TOMLValue, line: Int)
        throws(TOMLError)
    {
        guard let head = path.first else { return }
        if path.count == 1 {
            guard t[head] == nil else { throw TOMLError(line: line, message: "duplicate key '\(head)'") }
            t[head] = v
            return
        }
        var child = t[head]?.table ?? [:]
        try insert(&child, Array(path.dropFirst()), v, line: line)
        t[head] = .table(child)
    }

    private struct Cursor {
        let chars: [Character]
        var i = 0
        let line: Int
        init(chars: [Character], line: Int) {
            self.chars = chars
            self.line = line
        }
        var atEnd: Bool { i >= chars.count }
        var peek: Character { chars[i] }
        mutating func skipSpace() { while !atEnd, peek == " " || peek == "\t" || peek == "\r" { i += 1 } }

        mutating func key() throws(TOMLError) -> String {
            if !atEnd, peek == "\"" { return try quoted() }
            var k = ""
            while !atEnd, peek.isLetter || peek.isNumber || peek == "_" || peek == "-" {
                k.append(peek)
                i += 1
            }
            guard !k.isEmpty else { throw TOMLError(line: line, message: "expected a key") }
            return k
        }

        mutating func quoted() throws(TOMLError) -> String {
            let q = peek
            i += 1
            var s = ""
            while !atEnd, peek != q {
                if q == "\"" && peek == "\\" {
                    i += 1
                    guard !atEnd else { break }
                    switch peek {
                    case "n": s.append("\n")
                    case "t": s.append("\t")
                    case "\"": s.append("\"")
                    case "\\": s.append("\\")
                    default: throw TOMLError(line: line, message: "unsupported escape '\\\(peek)'")
                    }
                } else {
                    s.append(peek)
                }
                i += 1
            }
            guard !atEnd else { throw TOMLError(line: line, message: "unterminated string") }
            i += 1
            return s
        }

        mutating func value(depth: Int) throws(TOMLError) -> TOMLValue {
            guard depth < 16 else { throw TOMLError(line: line, message: "nesting too deep") }
            guard !atEnd else { throw TOMLError(line: line, message: "missing value") }
            switch peek {
            case "\"", "'": return .string(try quoted())
            case "[":
                i += 1
                var items: [TOMLValue] = []
                while true {
                    skipSpace()
                    guard !atEnd else {
                        throw TOMLError(line: line, message: "unclosed array (arrays must fit on one line)")
                    }
                    if peek == "]" {
                        i += 1
                        return .array(items)
                    }
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    if !atEnd, peek == "," { i += 1 }
                }
            case "{":
                i += 1
                var table: [String: TOMLValue] = [:]
                while true {
                    skipSpace()
                    guard !atEnd else { throw TOMLError(line: line, message: "unclosed inline table") }
                    if peek == "}" {
                        i += 1
                        return .table(table)
                    }
                    let k = try key()
                    skipSpace()
                    guard !atEnd, peek == "=" else {
                        throw TOMLError(line: line, message: "expected '=' in inline table")
                    }
                    i += 1
                    skipSpace()
                    guard table[k] == nil else { throw TOMLError(line: line, message: "duplicate key '\(k)'") }
                    table[k] = try value(depth: depth + 1)
                    skipSpace()
                    if !atEnd, peek == "," { i += 1 }
                }
            default:
                var word = ""
                while !atEnd, peek != ",", peek != "]", peek != "}", peek != " ", peek != "#" {
                    word.append(peek)
                    i += 1
                }
                if word == "true" { return .bool(true) }
                if word == "false" { return .bool(false) }
                if let n = Int(word) { return .integer(n) }
                throw TOMLError(line: line, message: "unsupported value '\(word)'")
            }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (no Foundation needed).
    public func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
