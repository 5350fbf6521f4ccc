import CFuzzDriver
import Foundation
import HouseStore
import SessionFormats
import SessionKit

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
        "resp-request": respRequest,
        "resp-reply": respReply,
        "log-replay": logReplay,
    ]

    /// sessiond's request decoder: the same requests whether the bytes come whole or in the
    /// chunks the input's first byte chooses (a wrong parse is a finding, not only a crash).
    static let respRequest: @Sendable ([UInt8]) -> Void = { bytes in
        guard let first = bytes.first else { return }
        let data = Array(bytes.dropFirst())
        var limits = RESPLimits()
        limits.maxInlineLength = 256
        limits.maxBulkLength = 4096
        func run(chunk: Int) -> ([[[UInt8]]], Bool) {
            var d = RESPRequestDecoder(limits: limits)
            var out: [[[UInt8]]] = []
            var i = 0
            do {
                while i < data.count {
                    let end = min(data.count, i + chunk)
                    d.append(data[i..<end])
                    i = end
                    while let r = try d.nextRequest() { out.append(r.all) }
                }
                return (out, false)
            } catch {
                return (out, true)
            }
        }
        let whole = run(chunk: Int.max)
        let chunked = run(chunk: Int(first % 16) + 1)
        // Chunked feeding may stop earlier on an error, but never disagree on what it read.
        guard whole.1 == chunked.1 && whole.0 == chunked.0 else {
            fatalError("whole and chunked feeding differ: \(whole) vs \(chunked)")
        }
    }

    /// The reply decoder peers and the wire readers use, whole and chunked, then the wire
    /// layouts on whatever it read.
    static let respReply: @Sendable ([UInt8]) -> Void = { bytes in
        guard let first = bytes.first else { return }
        let data = Array(bytes.dropFirst())
        func run(chunk: Int) -> [RESPReply]? {
            var d = RESPReplyDecoder()
            var out: [RESPReply] = []
            var i = 0
            do {
                while i < data.count {
                    let end = min(data.count, i + chunk)
                    d.append(data[i..<end])
                    i = end
                    while let r = try d.next() { out.append(r) }
                }
            } catch { return nil }
            return out
        }
        let whole = run(chunk: Int.max)
        let chunked = run(chunk: Int(first % 16) + 1)
        guard whole == chunked else { fatalError("whole and chunked replies differ") }
        for r in whole ?? [] {
            _ = Wire.sessionReply(r)
            _ = Wire.scanPage(r)
            if let t = r.text { _ = Wire.parseClusterNodes(t) }
            if case .bulk(let b) = r { _ = Wire.event(b, node: "n") }
        }
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
