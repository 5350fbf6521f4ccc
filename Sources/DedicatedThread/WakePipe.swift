import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A pipe that wakes a thread sleeping in `poll` (a subscriber, a watch stream): the
/// stream's consumer signals it when it stops, and the thread ends at once.
public final class WakePipe: @unchecked Sendable {
    /// The end to add to the `poll` set.
    public let readFD: Int32
    private let writeFD: Int32
    private let lock = NSLock()
    private var closed = false

    public init() {
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Makes `readFD` readable (once closed, does nothing).
    public func signal() {
        lock.lock()
        defer { lock.unlock() }
        if !closed {
            var b: UInt8 = 1
            _ = Glibc.write(writeFD, &b, 1)
        }
    }

    /// Closes both ends (the thread calls this when it ends).
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if !closed {
            closed = true
            _ = Glibc.close(readFD)
            _ = Glibc.close(writeFD)
        }
    }
}
