import CHiredis

/// hiredis's own RESP reader over bytes, without a connection: the reference the fuzz
/// harnesses compare sessiond's reply decoder against.
public final class RedisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    public init?() {
        guard let r = redisReaderCreate() else { return nil }
        reader = r
    }

    deinit { redisReaderFree(reader) }

    /// Adds bytes to read.
    public func feed(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            b.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: b.count) { redisReaderFeed(reader, $0, b.count) }
            } ?? REDIS_OK
        } == REDIS_OK
    }

    /// The next whole reply; nil when more bytes are needed; throws on a protocol error.
    public func next() throws(RedisError) -> RedisReply? {
        var out: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &out) == REDIS_OK else {
            throw RedisError.protocolViolation("hiredis reader error")
        }
        guard let raw = out else { return nil }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return RedisConnection.convert(reply)
    }
}
