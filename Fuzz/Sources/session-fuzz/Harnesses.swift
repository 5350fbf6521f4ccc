import CFuzzDriver
import Foundation
import HouseStore
import MemcachedClient
import RedisClient
import SessionFormats
import SessionKit
import SessionOps

/// Every parser fed from outside, by name (`FUZZ_TARGET`). A harness returns normally for any
/// input; a crash, a failed check or a hang is a finding.
enum Harnesses {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "java": { _ = try? JavaStream.decode($0) },
        "pickle": { _ = try? Pickle.decode($0) },
        "php": { _ = try? PHPSerialize.decode($0) },
        "php-session": { _ = try? PHPSerialize.decodeSession($0) },
        "marshal": { _ = try? RubyMarshal.decode($0) },
        "msgpack": { _ = try? MessagePack.decode($0) },
        "json": { _ = try? JSONDecoding.decode($0) },
        "jwt": { _ = try? JWT.decode($0) },
        "django-signed": { _ = try? DjangoSigned.decode(String(decoding: $0, as: UTF8.self)) },
        "aspnet": { _ = try? AspNetSession.decode($0) },
        "attribute": { bytes in
            // What every store does with an attribute value, and how it is shown.
            let a = Decode.attribute(name: "a", raw: bytes)
            _ = a.decoded.treeLines(indent: 0)
            _ = Sanitizer.display(String(decoding: bytes, as: UTF8.self))
        },
        "filter": { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            if let f = try? Filter(text) {
                let s = Session(id: "i", key: "k", user: "u", node: "n", ttlMs: 1000, schema: "s")
                _ = f.matches(s, nowMs: 0)
            }
            _ = try? DurationText.milliseconds(text)
        },
        "toml": { _ = try? TOMLSubset.parse(String(decoding: $0, as: UTF8.self)) },
        "msm": { bytes in
            _ = try? TomcatMSM.decode(bytes)
            _ = TomcatMSM.validity(bytes)
        },
        "memcached-lines": memcachedLines,
        "redis-replies": redisReplies,
        "resp-differential": respDifferential,
        "cluster-restore": clusterRestore,
        "config": { bytes in
            _ = try? ConfigFile.parse(String(decoding: bytes, as: UTF8.self), path: "fuzz.toml")
        },
        "resp-request": respRequest,
        "resp-reply": respReply,
        "log-replay": logReplay,
    ]

    /// Feeds `data` to a decoder `chunk` bytes at a time: what it read, and whether it
    /// stopped on an error.
    static func feed<Decoder, Item: Equatable>(
        _ data: [UInt8], chunk: Int, into decoder: Decoder, append: (inout Decoder, ArraySlice<UInt8>) -> Void,
        next: (inout Decoder) throws -> Item?
    ) -> (items: [Item], failed: Bool) {
        var d = decoder
        var out: [Item] = []
        var i = 0
        do {
            while i < data.count {
                let end = min(data.count, i + chunk)
                append(&d, data[i..<end])
                i = end
                while let item = try next(&d) { out.append(item) }
            }
        } catch { return (out, true) }
        return (out, false)
    }

    /// sessiond's request decoder: the same requests whether the bytes come whole or in the
    /// chunks the input's first byte chooses (a wrong parse is a finding, not only a crash).
    static let respRequest: @Sendable ([UInt8]) -> Void = { bytes in
        guard let first = bytes.first else { return }
        var limits = RESPLimits()
        limits.maxInlineLength = 256
        limits.maxBulkLength = 4096
        func run(_ chunk: Int) -> (items: [[[UInt8]]], failed: Bool) {
            feed(
                Array(bytes.dropFirst()), chunk: chunk, into: RESPRequestDecoder(limits: limits),
                append: { $0.append($1) }, next: { try $0.nextRequest()?.all })
        }
        // Both must read the same requests and agree on whether the input is malformed.
        let whole = run(Int.max)
        let chunked = run(Int(first % 16) + 1)
        guard whole.items == chunked.items && whole.failed == chunked.failed else {
            fatalError("whole and chunked feeding differ")
        }
    }

    /// The reply decoder peers and the wire readers use, whole and chunked, then the wire
    /// layouts on whatever it read.
    static let respReply: @Sendable ([UInt8]) -> Void = { bytes in
        guard let first = bytes.first else { return }
        func run(_ chunk: Int) -> (items: [RESPReply], failed: Bool) {
            feed(
                Array(bytes.dropFirst()), chunk: chunk, into: RESPReplyDecoder(), append: { $0.append($1) },
                next: { try $0.next() })
        }
        let whole = run(Int.max)
        let chunked = run(Int(first % 16) + 1)
        guard whole.items == chunked.items && whole.failed == chunked.failed else {
            fatalError("whole and chunked replies differ")
        }
        for r in whole.items {
            _ = Wire.sessionReply(r)
            _ = Wire.scanPage(r)
            if let t = r.text { _ = Wire.parseClusterNodes(t) }
            if case .bulk(let b) = r { _ = Wire.event(b, node: "n") }
        }
    }

    /// What a memcached node sends, line by line, through every line parser; the fast meta
    /// header parser must agree with the general one.
    static let memcachedLines: @Sendable ([UInt8]) -> Void = { bytes in
        for line in bytes.split(separator: 10, omittingEmptySubsequences: false) {
            _ = MetaProtocol.dumpLine(line)
            _ = MetaProtocol.watchLine(line)
            _ = MetaProtocol.stats([line])
            let general = MetaProtocol.metaHeader(line)
            switch MetaProtocol.valueHeader(line) {
            case .value(let length, let ttl, _, _):
                guard general?.code == "VA", general?.valueLength == length, general?.int("t") ?? -1 == ttl else {
                    fatalError("the fast and the general meta header parsers differ")
                }
            case .miss:
                guard general?.code == "EN" else { fatalError("EN read differently") }
            case .other:
                break
            }
            _ = MetaProtocol.percentDecode(line)
        }
        _ = try? MemcachedEndpoint.parse("memcached://" + String(decoding: bytes.prefix(200), as: UTF8.self))
    }

    /// The same bytes through sessiond's reply decoder and through hiredis's reader (the
    /// reference): up to where either stops on an error, they must read the same replies;
    /// where both read everything, the same ones. (A finding is a real difference.)
    static let respDifferential: @Sendable ([UInt8]) -> Void = { bytes in
        // hiredis 0.14 allocates a declared array count up front: inputs declaring a million
        // elements or more would measure its allocator, not the two readers.
        var digits = 0
        for b in bytes {
            digits = (b >= 0x30 && b <= 0x39) ? digits + 1 : 0
            if digits >= 7 { return }
        }
        let ours = feed(
            bytes, chunk: Int.max, into: RESPReplyDecoder(), append: { $0.append($1) }, next: { try $0.next() })
        guard let reader = RedisReplyReader(), reader.feed(bytes) else { return }
        var theirs: [RedisReply] = []
        var theirsFailed = false
        do {
            while let r = try reader.next() { theirs.append(r) }
        } catch { theirsFailed = true }
        let mine = ours.items.map(Self.redis)
        let common = min(mine.count, theirs.count)
        guard Array(mine.prefix(common)) == Array(theirs.prefix(common)) else {
            fatalError("sessiond's decoder and hiredis read different replies")
        }
        if !ours.failed && !theirsFailed && mine.count != theirs.count {
            fatalError("sessiond's decoder and hiredis read a different number of replies")
        }
    }

    /// A decoded reply in the console client's terms.
    static func redis(_ r: RESPReply) -> RedisReply {
        switch r {
        case .simple(let s): return .status(s)
        case .error(let e): return .error(e)
        case .integer(let n): return .integer(n)
        case .bulk(let b): return .string(b)
        case .null: return .null
        case .array(let items), .sequence(let items): return .array(items.map(redis))
        }
    }

    /// Replies as a Redis server sends them, through the console's readers of `CLUSTER
    /// SHARDS`, `CLUSTER SLOTS` and `INFO` (the bytes are framed by the RESP reply decoder).
    static let redisReplies: @Sendable ([UInt8]) -> Void = { bytes in
        let (items, _) = feed(
            bytes, chunk: Int.max, into: RESPReplyDecoder(), append: { $0.append($1) }, next: { try $0.next() })
        for item in items {
            let r = Self.redis(item)
            _ = try? ClusterRouter.parseShards(r)
            _ = try? ClusterRouter.parseSlots(r)
            if let text = r.text {
                let info = RedisInfo.parse(text)
                _ = RedisInfo.keys(info, db: 0)
            }
        }
    }

    /// A peer's `CLUSTER.RESTORE` (client input on the receiving node): the arguments read
    /// as a session must write back to the same arguments, and the session must go into an
    /// engine (and expire from it) without trapping and leave it consistent.
    static let clusterRestore: @Sendable ([UInt8]) -> Void = { bytes in
        var limits = RESPLimits()
        limits.maxBulkLength = 4096
        let (requests, _) = feed(
            bytes, chunk: Int.max, into: RESPRequestDecoder(limits: limits), append: { $0.append($1) },
            next: { try $0.nextRequest()?.all })
        var engine = SessionEngine(node: "fuzz")
        for args in requests where args.count >= 2 {
            guard let s = AppendLog.session(fields: args.dropFirst()[...]) else { continue }
            guard AppendLog.session(fields: AppendLog.fields(of: s)[...]) == s else {
                fatalError("CLUSTER.RESTORE fields do not round-trip")
            }
            _ = engine.restore(s, now: 1_800_000_000_000)
            _ = engine.expireDue(now: 1_800_000_000_000 + Int64(args.count) * 3_600_000)
        }
        guard engine.checkConsistency().isEmpty else { fatalError("the engine is inconsistent after restores") }
    }

    /// sessiond's log replay on an arbitrary file.
    static let logReplay: @Sendable ([UInt8]) -> Void = { bytes in
        let path = NSTemporaryDirectory() + "session-fuzz-\(getpid()).log"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { return }
        var engine = SessionEngine(node: "fuzz")
        var cluster = AppendLog.ClusterRecords()
        _ = try? AppendLog.replay(path: path, into: &engine, cluster: &cluster, now: 1_800_000_000_000)
    }
}

@_cdecl("session_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let harness = Harnesses.all[name] else {
        FileHandle.standardError.write(
            Data("FUZZ_TARGET must be one of: \(Harnesses.all.keys.sorted().joined(separator: " "))\n".utf8))
        return 2
    }
    selected = harness
    var count = argc
    var args: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&count, &args) { data, size in
        guard let data else { return 0 }
        selected?(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}

/// The harness libFuzzer's C callback calls (it cannot capture).
nonisolated(unsafe) var selected: (@Sendable ([UInt8]) -> Void)?
