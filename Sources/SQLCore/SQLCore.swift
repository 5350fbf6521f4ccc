/// What every SQL client here shares and the SQL session store is written against: values,
/// errors and the database protocol. Knows no sessions and no driver.

/// A value in a row or a parameter.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var int: Int64? {
        switch self {
        case .integer(let n): return n
        case .real(let d): return Int64(exactly: d.rounded(.towardZero))
        case .text(let s): return Int64(s)
        default: return nil
        }
    }

    /// Text, or bytes that are valid UTF-8.
    public var string: String? {
        switch self {
        case .text(let s): return s
        case .blob(let b): return String(validating: b, as: UTF8.self)
        case .integer(let n): return String(n)
        default: return nil
        }
    }

    public var bytes: [UInt8]? {
        switch self {
        case .blob(let b): return b
        case .text(let s): return Array(s.utf8)
        default: return nil
        }
    }

    public var isNull: Bool { self == .null }
}

/// Why a database call failed.
public struct SQLError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case connection, usage, failure, readOnly }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// Which SQL the database speaks where dialects differ.
public enum SQLDialect: Sendable {
    case sqlite, postgres, mysql

    /// The `n`-th parameter (from 1): `?` or `$n`.
    public func parameter(_ n: Int) -> String { self == .postgres ? "$\(n)" : "?" }

    /// An identifier, quoted.
    public func quote(_ name: String) -> String {
        switch self {
        case .mysql:
            return "`" + name.split(separator: "`", omittingEmptySubsequences: false).joined(separator: "``") + "`"
        default:
            return "\"" + name.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
        }
    }
}

/// One database, as the SQL store uses it. Calls are serialized by the implementation;
/// blocking drivers run them on a thread of their own.
public protocol SQLDatabase: Sendable {
    /// Where it is, passwords hidden.
    var displayName: String { get }
    var dialect: SQLDialect { get }
    /// The rows of a query.
    func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [[SQLValue]]
    /// Statements in one transaction: every one applied or none; rows changed by each.
    func transaction(_ statements: [(sql: String, parameters: [SQLValue])]) async throws -> [Int]
    /// The tables the user can see and their columns (lower-cased names).
    func tables() async throws -> [SQLTableInfo]
    /// Server or library version.
    func version() async throws -> String
}

/// A table and its columns.
public struct SQLTableInfo: Sendable, Equatable {
    public var name: String
    public var columns: [String]
    public init(name: String, columns: [String]) {
        self.name = name
        self.columns = columns
    }
}
