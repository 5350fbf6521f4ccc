import DedicatedThread
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `watch <streams>` on a connection of its own (it becomes a log stream), read by a
/// dedicated thread that sleeps in `poll` until the socket or a wake-up pipe is readable:
/// no busy polling, and ending the stream wakes and ends the thread at once.
public enum MemcachedWatch {
    /// Streams the node's log lines for `streams` (`evictions`, `fetchers`, ...) until the
    /// consumer stops or the connection fails (the stream then finishes with the error).
    /// `ready` is called once the node confirmed the watch with `OK`.
    public static func watch(
        endpoint: MemcachedEndpoint, streams: [String], timeouts: MemcachedConnection.Timeouts = .init(),
        ready: @escaping @Sendable () -> Void = {}
    ) -> AsyncThrowingStream<MetaProtocol.WatchLine, Error> {
        let (stream, continuation) = AsyncThrowingStream<MetaProtocol.WatchLine, Error>.makeStream(
            bufferingPolicy: .bufferingNewest(100_000))
        let wake = WakePipe()
        continuation.onTermination = { _ in wake.signal() }
        let thread = Thread {
            run(
                endpoint: endpoint, streams: streams, timeouts: timeouts, wake: wake, continuation: continuation,
                ready: ready)
            wake.close()
        }
        thread.name = "watch " + endpoint.nodeName
        thread.start()
        return stream
    }

    private static func run(
        endpoint: MemcachedEndpoint, streams: [String], timeouts: MemcachedConnection.Timeouts, wake: WakePipe,
        continuation: AsyncThrowingStream<MetaProtocol.WatchLine, Error>.Continuation, ready: @Sendable () -> Void
    ) {
        do {
            let conn = try MemcachedConnection(endpoint: endpoint, timeouts: timeouts)
            defer { conn.close() }
            let reply = try conn.simple("watch " + streams.joined(separator: " "))
            guard reply == "OK" else {
                var message = reply
                if reply.contains("not allowed") { message += " (the node runs with -W: watch commands disabled)" }
                if reply.hasPrefix("ERROR") { message += " (this memcached has no `watch`: 1.6.0 or later needed)" }
                throw MemcachedError.refused(node: endpoint.nodeName, message: message)
            }
            ready()
            var pfds = [
                pollfd(fd: conn.fileDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
            ]
            while true {
                while let line = conn.bufferedLine() { continuation.yield(MetaProtocol.watchLine(line)) }
                pfds[0].revents = 0
                pfds[1].revents = 0
                let n = poll(&pfds, 2, -1)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw MemcachedError.connection(node: endpoint.nodeName, message: "poll failed")
                }
                if pfds[1].revents != 0 { break }
                if pfds[0].revents != 0 { try conn.fillOnce() }
            }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
}
