import Foundation
import SessionOps

#if canImport(Glibc)
    import Glibc
#endif

/// Buffered standard output and unbuffered diagnostics.
enum Terminal {
    static var stdoutIsTTY: Bool { isatty(1) != 0 }
    static var stderrIsTTY: Bool { isatty(2) != 0 }
    static var stdinIsTTY: Bool { isatty(0) != 0 }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data(("sessionctl: " + message + "\n").utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// A progress line on stderr, only when stderr is a terminal (scripts see nothing).
    static func progress(_ message: String) {
        guard stderrIsTTY else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + message).utf8))
    }

    static func clearProgress() {
        guard stderrIsTTY else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    /// Reads a line from the terminal with echo off; nil without a terminal.
    static func readSecret(_ prompt: String) -> String? {
        let fd = open("/dev/tty", O_RDWR)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        _ = prompt.withCString { Glibc.write(fd, $0, strlen($0)) }
        var old = termios()
        tcgetattr(fd, &old)
        var quiet = old
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(fd, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(fd, TCSAFLUSH, &old)
            _ = Glibc.write(fd, "\n", 1)
        }
        var bytes: [UInt8] = []
        var c: UInt8 = 0
        while Glibc.read(fd, &c, 1) == 1, c != 0x0A, c != 0x0D { bytes.append(c) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Asks a yes/no question on the terminal; false when there is no terminal.
    static func confirm(_ question: String) -> Bool {
        guard stdinIsTTY else { return false }
        FileHandle.standardError.write(Data((question + " [y/N] ").utf8))
        guard let line = readLine() else { return false }
        return ["y", "yes"].contains(line.trimmingCharacters(in: .whitespaces).lowercased())
    }
}

extension Terminal {
    /// Operations report through the terminal: errors and notes on stderr, progress only
    /// when stderr is a terminal, questions only when stdin is one.
    static let reporter = TerminalReporter()
}

struct TerminalReporter: Reporter {
    func progress(_ message: String) { Terminal.progress(message) }
    func clearProgress() { Terminal.clearProgress() }
    func note(_ message: String) { Terminal.note(message) }
    func error(_ message: String) { Terminal.error(message) }
    func confirm(_ question: String) -> Bool { Terminal.confirm(question) }
}
