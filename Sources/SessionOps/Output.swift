import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Standard output through one buffer, written in large chunks (a million JSON lines
/// must not be a million write calls).
public final class Output: @unchecked Sendable {
    private var buffer: [UInt8] = []
    private let lock = NSLock()
    private let threshold = 64 * 1024
    private let fd: Int32

    /// Writes to file descriptor `fd` (standard output by default).
    public init(fd: Int32 = 1) {
        self.fd = fd
        buffer.reserveCapacity(threshold * 2)
    }

    public func write(_ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        buffer += bytes
        if buffer.count >= threshold { flushLocked() }
    }

    public func line(_ s: String) {
        write(Array((s + "\n").utf8))
    }

    public func flush() {
        lock.lock()
        defer { lock.unlock() }
        flushLocked()
    }

    private func flushLocked() {
        var off = 0
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while off < raw.count {
                let n = Glibc.write(fd, base + off, raw.count - off)
                if n <= 0 {
                    if errno == EINTR { continue }
                    break
                }
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
