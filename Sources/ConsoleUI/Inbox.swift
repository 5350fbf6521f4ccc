import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// Messages from the data tasks to the UI thread.
enum Message: Sendable {
    case listingStarted
    case page([Row], RowNames.Delta, perNode: [String: Int])
    case listingEnded(failed: [String])
    case listingAborted
    case sizes([String: Int64])
    case loadFailed(String, retryInMs: Int64)
    case nodes([NodeInfo])
    /// One node's facts, ahead of the others.
    case node(NodeInfo)
    case notificationsOff([String])
    case event(SessionEvent)
    case detail(Session?, id: String)
    case detailFailed(String)
    case filterMatches(String, [String])
    case done(String, error: Bool)
}

/// A queue the UI thread drains, with a pipe that wakes its `poll`.
final class Inbox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var items: [Message] = []
    let readFD: Int32
    let writeFD: Int32

    init() {
        pthread_mutex_init(&mutex, nil)
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        readFD = fds[0]
        writeFD = fds[1]
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(writeFD, F_SETFL, fcntl(writeFD, F_GETFL) | O_NONBLOCK)
    }

    /// Queues a message; only the first one into an empty queue writes to the pipe (an
    /// eviction storm posts tens of thousands of events a second: one wake-up, not a
    /// system call each).
    func post(_ m: Message) {
        pthread_mutex_lock(&mutex)
        let wasEmpty = items.isEmpty
        items.append(m)
        pthread_mutex_unlock(&mutex)
        if wasEmpty {
            var b: UInt8 = 1
            _ = write(writeFD, &b, 1)
        }
    }

    func drain() -> [Message] {
        var buf = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buf, buf.count) > 0 {}
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let out = items
        items.removeAll(keepingCapacity: true)
        return out
    }
}

/// Signals end the TUI cleanly: the handler only sets a flag and writes to the pipe.
nonisolated(unsafe) var signalWakeFD: Int32 = -1
nonisolated(unsafe) var signalQuit: sig_atomic_t = 0
/// For crash paths: restore the terminal before dying.
nonisolated(unsafe) var cursesActive: sig_atomic_t = 0

/// Wakes the data tasks when the UI asks for a refresh.
actor Kicker {
    private var waiter: CheckedContinuation<Void, Never>?
    private var pending = false
    func kick() {
        if let w = waiter {
            waiter = nil
            w.resume()
        } else {
            pending = true
        }
    }
    /// Returns after `ms` or when kicked, whichever is first.
    func wait(ms: Int64) async {
        if pending {
            pending = false
            return
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, ms)) * 1_000_000)
            await self?.kick()
        }
        await withCheckedContinuation { waiter = $0 }
        timer.cancel()
        pending = false
    }
}
