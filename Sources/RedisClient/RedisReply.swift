/// A Redis reply, copied out of hiredis' reply tree. Values are bytes: Redis strings are
/// binary-safe and nothing here assumes they are text.
public enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    /// An error reply from the server (`-ERR ...`). The connection is fine.
    case error(String)

    public var bytes: [UInt8]? {
        switch self {
        case .string(let b): return b
        case .status(let s): return Array(s.utf8)
        default: return nil
        }
    }

    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    public var int: Int64? {
        switch self {
        case .integer(let v): return v
        case .string(let b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var errorMessage: String? {
        if case .error(let m) = self { return m }
        return nil
    }

    /// The reply, or a `RedisError.server` when it is an error reply.
    public func orThrow() throws(RedisError) -> RedisReply {
        if case .error(let m) = self { throw RedisError.server(m) }
        return self
    }
}

/// Errors of the client. A server error (the command was refused) is kept apart from a
/// connection error (the node could not be reached or the link broke).
public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// The server answered with an error reply.
    case server(String)
    /// Could not connect, or the connection broke (timeouts included).
    case connection(node: String, message: String)
    /// Authentication was refused.
    case authentication(node: String, message: String)
    /// The reply did not have the expected shape.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .server(let m): return "server error: \(m)"
        case .connection(let node, let m): return "\(node): \(m)"
        case .authentication(let node, let m): return "\(node): authentication failed: \(m)"
        case .protocolViolation(let m): return "unexpected reply: \(m)"
        }
    }

    public var isConnectionError: Bool {
        if case .connection = self { return true }
        return false
    }

    /// A connection error that trying again cannot cure: TLS set-up and verification (an
    /// unknown CA, a name mismatch, a missing client certificate, a port that speaks no TLS),
    /// a jump host that refuses the key or cannot be found, and sentinels that refuse the
    /// credentials or know no such master.
    public var isPermanent: Bool {
        guard case .connection(_, let m) = self else { return false }
        if m.hasPrefix("TLS:") || m.hasPrefix("TLS handshake failed") { return true }
        // Every sentinel refused us or knows no such master.
        if m.hasPrefix(Sentinel.noAnswerPrefix),
            m.contains("authentication failed") || m.contains("does not monitor") || m.contains(": TLS")
        {
            return true
        }
        // A jump host that refuses us or cannot be found will do so again.
        return m.hasPrefix("ssh")
            && ["Permission denied", "Could not resolve", "Host key verification failed", "cannot run"].contains {
                m.contains($0)
            }
    }

    /// How a connection error caused by the command timeout begins: the node took the
    /// connection but did not answer (busy, `DEBUG SLEEP`, a stopped process).
    public static let timeoutPrefix = "timed out"

    /// The node did not answer within the command timeout (the link itself was fine).
    /// Not retried: a second wait would only double the operator's.
    public var isTimeout: Bool {
        if case .connection(_, let m) = self { return m.hasPrefix(Self.timeoutPrefix) }
        return false
    }
}

/// A command argument list; `RedisCommand("HGET", key, field)` reads naturally.
public struct RedisCommand: Sendable, Equatable {
    public var args: [[UInt8]]
    public init(_ args: [[UInt8]]) { self.args = args }
    public init(_ name: String, _ rest: RedisArgument...) {
        args = [Array(name.utf8)] + rest.map(\.bytes)
    }
    public init(_ name: String, arguments: [RedisArgument]) {
        args = [Array(name.utf8)] + arguments.map(\.bytes)
    }
    public var name: String { args.first.map { String(decoding: $0, as: UTF8.self) } ?? "" }
}

/// Something that can be a command argument.
public protocol RedisArgument { var bytes: [UInt8] { get } }
extension String: RedisArgument { public var bytes: [UInt8] { Array(utf8) } }
extension Array: RedisArgument where Element == UInt8 { public var bytes: [UInt8] { self } }
extension Int: RedisArgument { public var bytes: [UInt8] { Array(String(self).utf8) } }
extension Int64: RedisArgument { public var bytes: [UInt8] { Array(String(self).utf8) } }
