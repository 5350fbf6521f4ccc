import CZlib

/// zlib (RFC 1950) inflation with a cap on the output: dalli and pymemcache compress large
/// values, Django compresses signed session payloads. A value that inflates beyond the cap, or is not zlib, is an error, never a crash.
public enum Inflate {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func zlib(_ input: [UInt8], limit: Int = 16 << 20) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(description: "zlib: cannot start inflating")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let rc = chunk.withUnsafeMutableBufferPointer { outBuf -> Int32 in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                out += chunk[0..<produced]
                if rc == Z_STREAM_END { return Z_STREAM_END }
                if rc != Z_OK { return rc }
                if out.count > limit { return Z_MEM_ERROR }
                if produced == 0 && stream.avail_in == 0 { return Z_BUF_ERROR }
            }
        }
        switch status {
        case Z_STREAM_END: return out
        case Z_MEM_ERROR: throw Failure(description: "zlib: the value inflates beyond \(limit >> 20) MiB")
        case Z_BUF_ERROR: throw Failure(description: "zlib: the compressed value is truncated")
        default: throw Failure(description: "zlib: not a valid compressed value (\(status))")
        }
    }
}
