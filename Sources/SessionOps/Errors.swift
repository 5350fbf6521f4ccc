import SessionKit

/// Exit codes (documented in the README and in `--help`).
public enum Exit {
    public static let ok: Int32 = 0
    public static let partial: Int32 = 1
    public static let usage: Int32 = 2
    public static let connection: Int32 = 3
    public static let notFound: Int32 = 4
}

/// An error that ends a command with a given code and message.
public struct ConsoleError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var description: String { message }
    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
    public static func usage(_ m: String) -> ConsoleError { ConsoleError(code: Exit.usage, message: m) }

    /// The console error for any error a store threw: its class decides the code, the
    /// message is redacted.
    public static func from(_ error: Error) -> ConsoleError {
        if let e = error as? ConsoleError { return e }
        let text = Redaction.redact("\(error)")
        guard let classified = error as? any ClassifiedStoreError else {
            return ConsoleError(code: Exit.partial, message: text)
        }
        switch classified.errorClass {
        case .connection: return ConsoleError(code: Exit.connection, message: text)
        case .usage: return ConsoleError(code: Exit.usage, message: text)
        case .failure: return ConsoleError(code: Exit.partial, message: text)
        }
    }
}

/// Where operations report to a person: progress, notes, errors, and yes/no questions.
/// The batch console writes to stderr (progress only on a terminal); tests record.
public protocol Reporter: Sendable {
    func progress(_ message: String)
    func clearProgress()
    func note(_ message: String)
    func error(_ message: String)
    /// Asks a yes/no question; false when nobody can answer.
    func confirm(_ question: String) -> Bool
}

/// A reporter that says nothing and answers no (the TUI confirms in its own dialogs).
public struct SilentReporter: Reporter {
    public init() {}
    public func progress(_ message: String) {}
    public func clearProgress() {}
    public func note(_ message: String) {}
    public func error(_ message: String) {}
    public func confirm(_ question: String) -> Bool { false }
}
