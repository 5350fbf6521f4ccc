import HouseStore
import NIOCore
import SessionKit

/// One client connection: decodes requests, runs them on the node, writes the replies of a
/// read batch in one flush (pipelining). A protocol error gets an error reply and the
/// connection closed. Subscribers get events; when one cannot keep up (its socket buffer
/// is full) events are counted as dropped and a gap notice with the count follows.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let node: NodeServer
    var decoder: RESPRequestDecoder
    var authenticated = false
    var subscribed = false
    var closeAfterReply = false
    var dropped = 0
    /// The replies of the batch being run (its capacity is kept between batches).
    private var replies = RESPWriter()
    /// A request waits for another node (migration): later requests wait behind it.
    private var waiting = false
    private var context: ChannelHandlerContext?

    init(node: NodeServer) {
        self.node = node
        decoder = RESPRequestDecoder(limits: node.config.limits)
        authenticated = node.config.password == nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        node.clients += 1
        node.connections[ObjectIdentifier(self)] = self
        if node.clients > node.config.maxClients {
            send(.error("ERR max number of clients reached"), context: context, flush: true)
            context.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        node.clients -= 1
        node.subscribers[ObjectIdentifier(self)] = nil
        node.connections[ObjectIdentifier(self)] = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.append($0) }
        if !waiting { process(context: context) }
    }

    /// Runs the buffered requests in order and writes their replies in one flush. A request
    /// that waits for another node pauses the rest (and reading) until its reply is out.
    private func process(context: ChannelHandlerContext) {
        var later: EventLoopFuture<RESPReply>? = nil
        let now = currentTimeMs()
        do {
            while let request = try decoder.nextRequest() {
                if let future = node.deferred(request, from: self) {
                    later = future
                    break
                }
                node.execute(request, from: self, now: now, into: &replies)
                if closeAfterReply { break }
            }
        } catch {
            replies.error("ERR \(error.description)")
            closeAfterReply = true
        }
        node.armExpiryTimer()  // once per batch: deadlines may have moved
        // The batch's log records reach the file (fsynced under `always`) before any reply:
        // no acknowledgement without durability. If the log cannot be written, no reply.
        do { try node.commitLog() } catch {
            logError("log write failed, closing the client unanswered: \(error)")
            context.close(promise: nil)
            return
        }
        if !replies.bytes.isEmpty {
            var out = context.channel.allocator.buffer(capacity: replies.bytes.count)
            out.writeBytes(replies.bytes)
            // The space is kept for the next batch, unless a large reply (a big session, a
            // long scan page) grew it: then it is given back.
            replies.bytes.removeAll(keepingCapacity: replies.bytes.capacity <= 1 << 20)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        if closeAfterReply {
            context.close(promise: nil)
            return
        }
        guard let later else { return }
        waiting = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        later.assumeIsolated().whenComplete { [self] result in
            waiting = false
            guard self.context != nil else { return }
            var bytes: [UInt8] = []
            switch result {
            case .success(let reply): reply.encode(into: &bytes)
            case .failure(let e): RESPReply.error("ERR \(e)").encode(into: &bytes)
            }
            node.armExpiryTimer()
            do { try node.commitLog() } catch { logError("log write failed: \(error)") }
            var out = context.channel.allocator.buffer(capacity: bytes.count)
            out.writeBytes(bytes)
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            process(context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Idle clients are closed; subscribers are idle by nature and stay.
        if event is IdleStateHandler.IdleStateEvent, !subscribed {
            send(.error("ERR idle timeout"), context: context, flush: true)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && dropped > 0 {
            let notice = Wire.gapJSON(missed: dropped, node: node.config.nodeID, timeMs: currentTimeMs())
            dropped = 0
            write(message: notice, channel: Wire.eventChannel, context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// The node is stopping: say so, then close.
    func shutdown() {
        guard let context else { return }
        send(.error("SHUTDOWN sessiond is stopping"), context: context, flush: true)
        context.close(promise: nil)
    }

    /// Events for a subscriber, written together; dropped (and counted) while its buffer is
    /// full, so a slow subscriber costs bounded memory.
    func deliver(channel: String, payloads: [[UInt8]]) {
        guard let context else { return }
        guard context.channel.isWritable else {
            dropped += payloads.count
            return
        }
        var bytes: [UInt8] = []
        for p in payloads { RESPReply.array([.bulk("message"), .bulk(channel), .bulk(p)]).encode(into: &bytes) }
        var out = context.channel.allocator.buffer(capacity: bytes.count)
        out.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    private func write(message: [UInt8], channel: String, context: ChannelHandlerContext) {
        send(.array([.bulk("message"), .bulk(channel), .bulk(message)]), context: context, flush: true)
    }

    private func send(_ reply: RESPReply, context: ChannelHandlerContext, flush: Bool) {
        var out = context.channel.allocator.buffer(capacity: 64)
        out.writeBytes(reply.bytes)
        if flush {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else {
            context.write(wrapOutboundOut(out), promise: nil)
        }
    }
}
