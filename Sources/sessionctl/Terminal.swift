import Foundation
import RedisClient
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
        defer { tcsetattr(fd, TCSAFLUSH, &old); _ = Glibc.write(fd, "\n", 1) }
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

/// Standard output through one buffer, written in large chunks (a million JSON lines
/// must not be a million write calls).
final class Output: @unchecked Sendable {
    private var buffer: [UInt8] = []
    private let lock = NSLock()
    private let threshold = 64 * 1024

    init() { buffer.reserveCapacity(threshold * 2) }

    func write(_ bytes: [UInt8]) {
        lock.lock(); defer { lock.unlock() }
        buffer += bytes
        if buffer.count >= threshold { flushLocked() }
    }

    func line(_ s: String) {
        write(Array((s + "\n").utf8))
    }

    func flush() {
        lock.lock(); defer { lock.unlock() }
        flushLocked()
    }

    private func flushLocked() {
        var off = 0
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while off < raw.count {
                let n = Glibc.write(1, base + off, raw.count - off)
                if n <= 0 { if errno == EINTR { continue }; break }
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
