import HouseStore
import NIOCore
import NIOPosix
import NIOSSL

/// Why a call to a peer failed.
struct PeerError: Error, CustomStringConvertible {
    var description: String
}

/// One connection to another member, over SwiftNIO on this node's own event loop (no
/// threads, no blocking): commands are pipelined and replies matched in order. It connects
/// on first use, authenticates when the cluster has a password, and connects again after
/// a failure. Confined to the node's loop: every method runs there.
final class PeerLink: @unchecked Sendable {
    let name: String
    let host: String
    let port: Int
    let password: String?
    /// TLS to the member (the cluster runs TLS); nil: plain TCP.
    let tls: NIOSSLContext?
    let loop: EventLoop
    let connectTimeout: TimeAmount = .seconds(1)
    let callTimeout: TimeAmount = .seconds(5)
    private var connection: (channel: Channel, handler: PeerReplyHandler)?
    private var connecting: EventLoopFuture<Void>?

    init(name: String, host: String, port: Int, password: String?, tls: NIOSSLContext? = nil, loop: EventLoop) {
        self.name = name
        self.host = host
        self.port = port
        self.password = password
        self.tls = tls
        self.loop = loop
    }

    /// Sends the commands in one write; their replies in order, or why not.
    func call(_ commands: [[[UInt8]]]) -> EventLoopFuture<Result<[RESPReply], PeerError>> {
        loop.preconditionInEventLoop()
        return ensureConnected().flatMap { [self] () -> EventLoopFuture<[RESPReply]> in
            guard let c = connection else {
                return loop.makeFailedFuture(PeerError(description: "\(name): not connected"))
            }
            return send(commands, on: c)
        }.map { .success($0) }.recover { [name] error in
            .failure(error as? PeerError ?? PeerError(description: "\(name): \(error)"))
        }
    }

    private func send(_ commands: [[[UInt8]]], on c: (channel: Channel, handler: PeerReplyHandler)) -> EventLoopFuture<
        [RESPReply]
    > {
        let promise = loop.makePromise(of: [RESPReply].self)
        c.handler.expect(commands.count, promise)
        var w = RESPWriter()
        for command in commands { w.command(command) }
        c.channel.writeAndFlush(ByteBuffer(bytes: w.bytes), promise: nil)
        let channel = c.channel
        let name = self.name
        let timeout = loop.scheduleTask(in: callTimeout) {
            promise.fail(PeerError(description: "\(name): no reply within 5 s"))
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        return promise.futureResult
    }

    private func ensureConnected() -> EventLoopFuture<Void> {
        if let c = connection, c.channel.isActive { return loop.makeSucceededVoidFuture() }
        connection = nil
        if let connecting { return connecting }
        let handler = PeerReplyHandler(name: name)
        let future = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [tls, host] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // The member's name is checked (an IP address against the certificate's IP SANs).
                        let isIP = host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":")
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: isIP ? nil : host))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: host, port: port)
            .flatMap { [self] (channel: Channel) -> EventLoopFuture<Void> in
                let c = (channel: channel, handler: handler)
                guard let password else {
                    connection = c
                    return loop.makeSucceededVoidFuture()
                }
                return send([[Array("AUTH".utf8), Array(password.utf8)]], on: c).flatMapThrowing { [self] replies in
                    if let err = replies.first?.errorMessage {
                        channel.close(promise: nil)
                        throw PeerError(description: "\(name): authentication refused: \(err)")
                    }
                    connection = c
                }
            }
        connecting = future
        future.whenComplete { [self] _ in connecting = nil }
        return future.flatMapErrorThrowing { [name] error in
            throw error as? PeerError ?? PeerError(description: "\(name): cannot connect: \(error)")
        }
    }

    /// Closes the connection (the node is stopping).
    func close() {
        connection?.channel.close(promise: nil)
        connection = nil
    }
}

/// Decodes a peer's replies and hands each call its own, in order.
final class PeerReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let name: String
    private var decoder = RESPReplyDecoder()
    private var waiting: [(count: Int, replies: [RESPReply], promise: EventLoopPromise<[RESPReply]>)] = []

    init(name: String) { self.name = name }

    func expect(_ count: Int, _ promise: EventLoopPromise<[RESPReply]>) {
        if count == 0 {
            promise.succeed([])
            return
        }
        waiting.append((count, [], promise))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        decoder.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
        do {
            while let reply = try decoder.next() {
                guard !waiting.isEmpty else {
                    fail(PeerError(description: "\(name): a reply nobody asked for"), context: context)
                    return
                }
                waiting[0].replies.append(reply)
                if waiting[0].replies.count == waiting[0].count {
                    let done = waiting.removeFirst()
                    done.promise.succeed(done.replies)
                }
            }
        } catch {
            fail(PeerError(description: "\(name): \(error)"), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(PeerError(description: "\(name): connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(PeerError(description: "\(name): \(error)"), context: context)
    }

    private func fail(_ error: PeerError, context: ChannelHandlerContext) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: PeerError) {
        let all = waiting
        waiting = []
        for w in all { w.promise.fail(error) }
    }
}
