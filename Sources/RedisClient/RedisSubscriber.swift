import DedicatedThread
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Pub/sub on a connection of its own (a subscribed connection can do nothing else),
/// read by a dedicated thread that sleeps in `poll` until the socket or a wake-up pipe is
/// readable: no busy polling, and cancelling the stream wakes and ends the thread at once.
public enum RedisSubscriber {
    public struct Message: Sendable, Equatable {
        /// The channel the message was published on.
        public var channel: String
        public var payload: [UInt8]
        /// The pattern that matched, for pattern subscriptions.
        public var pattern: String?
    }

    /// Subscribes and streams messages until the consumer stops or the connection fails
    /// (the stream then finishes with the `RedisError`). The stream first yields nothing
    /// until every subscription is confirmed, so a caller that awaits `ready` knows
    /// events published afterwards will arrive.
    public static func subscribe(
        url: RedisURL, channels: [String], patterns: [String] = [],
        timeouts: RedisConnection.Timeouts = .init(),
        fallbackPassword: String? = nil
    ) -> Subscription {
        let (stream, continuation) = AsyncThrowingStream<Message, Error>.makeStream(
            bufferingPolicy: .bufferingNewest(100_000))
        let (readyStream, readyContinuation) = AsyncStream<Result<String, RedisError>>.makeStream()
        let wake = WakePipe()
        continuation.onTermination = { _ in wake.signal() }
        let thread = Thread {
            run(
                url: url, channels: channels, patterns: patterns, timeouts: timeouts, password: fallbackPassword,
                wake: wake, continuation: continuation, ready: readyContinuation)
            wake.close()
        }
        thread.name = "subscriber " + url.nodeName
        thread.start()
        return Subscription(messages: stream, readyStream: readyStream)
    }

    public struct Subscription: Sendable {
        public let messages: AsyncThrowingStream<Message, Error>
        let readyStream: AsyncStream<Result<String, RedisError>>

        /// Waits until the server confirmed every subscription (or the connection failed);
        /// returns the address subscribed to (for a Sentinel URL, the master named then).
        @discardableResult
        public func ready() async throws -> String {
            for await r in readyStream { return try r.get() }
            throw RedisError.connection(node: "subscriber", message: "subscription ended before it was confirmed")
        }
    }

    private static func run(
        url: RedisURL, channels: [String], patterns: [String], timeouts: RedisConnection.Timeouts,
        password: String?, wake: WakePipe,
        continuation: AsyncThrowingStream<Message, Error>.Continuation,
        ready: AsyncStream<Result<String, RedisError>>.Continuation
    ) {
        let conn: RedisConnection
        do {
            // No command timeout: the reads below only happen when poll says data is there.
            conn = try RedisConnection(
                url: url, timeouts: .init(connectMs: timeouts.connectMs, commandMs: 0), fallbackPassword: password)
            var commands: [RedisCommand] = []
            if !channels.isEmpty { commands.append(RedisCommand("SUBSCRIBE", arguments: channels)) }
            if !patterns.isEmpty { commands.append(RedisCommand("PSUBSCRIBE", arguments: patterns)) }
            try conn.append(commands)
            try conn.flush()
        } catch {
            ready.yield(.failure(error))
            ready.finish()
            continuation.finish(throwing: error)
            return
        }
        var pendingConfirmations = channels.count + patterns.count
        if pendingConfirmations == 0 {
            ready.yield(.success(conn.address))
            ready.finish()
        }
        var pfds = [
            pollfd(fd: conn.fileDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0),
        ]
        do {
            while true {
                while let reply = try conn.bufferedReply() {
                    guard let parts = reply.array, let kind = parts.first?.text else { continue }
                    switch kind {
                    case "message" where parts.count == 3:
                        continuation.yield(
                            Message(channel: parts[1].text ?? "", payload: parts[2].bytes ?? [], pattern: nil))
                    case "pmessage" where parts.count == 4:
                        continuation.yield(
                            Message(channel: parts[2].text ?? "", payload: parts[3].bytes ?? [], pattern: parts[1].text)
                        )
                    case "subscribe", "psubscribe":
                        pendingConfirmations -= 1
                        if pendingConfirmations == 0 {
                            ready.yield(.success(conn.address))
                            ready.finish()
                        }
                    default:
                        break
                    }
                }
                if conn.hasPendingInput {
                    try conn.fillBuffer()  // TLS records already decrypted: poll would not see them
                    continue
                }
                pfds[0].revents = 0
                pfds[1].revents = 0
                let n = poll(&pfds, 2, -1)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RedisError.connection(node: url.nodeName, message: "poll failed")
                }
                if pfds[1].revents != 0 { break }  // cancelled
                if pfds[0].revents != 0 { try conn.fillBuffer() }
            }
            ready.finish()
            continuation.finish()
        } catch {
            ready.yield(.failure(error as? RedisError ?? .connection(node: url.nodeName, message: "\(error)")))
            ready.finish()
            continuation.finish(throwing: error)
        }
        conn.close()
    }
}
