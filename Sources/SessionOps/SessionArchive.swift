import Foundation
import SessionFormats
import SessionKit

/// The file `sessionctl export` writes and `import` reads: JSON lines. The first line says
/// what the file is and when it was taken:
///
///     {"format":"sessionctl-sessions","version":1,"store":"redis://h:6379","exported_at_ms":1764750000000}
///
/// then one whole session per line: `id`, `key`, `user`, `node`, `schema`, `ttl_ms` (-1:
/// never expires) at export time, `created_at_ms`, `last_accessed_at_ms`, `max_inactive_s`,
/// `size_bytes`, `stored_value` (the framework's whole value, base64, where it keeps one) and
/// `attributes` (`name`, `format`, `raw`: the stored bytes in base64). Bytes are never
/// re-encoded: a session goes back byte for byte.
public enum SessionArchive {
    public static let formatName = "sessionctl-sessions"
    public static let version = 1

    public struct Header: Codable, Sendable, Equatable {
        public var format: String
        public var version: Int
        public var store: String
        public var exportedAtMs: Int64
    }

    struct Line: Codable {
        var id: String
        var key: String
        var user: String?
        var node: String
        var schema: String
        var ttlMs: Int64
        var createdAtMs: Int64?
        var lastAccessedAtMs: Int64?
        var maxInactiveS: Int64?
        var sizeBytes: Int64?
        var storedValue: String?
        var attributes: [Attr]
        struct Attr: Codable {
            var name: String
            var format: String
            var raw: String
        }
    }

    /// The first line of a file (with its newline).
    public static func headerLine(store: String, nowMs: Int64) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"format\":")
        w.string(formatName)
        w.raw(",\"version\":\(version),\"store\":")
        w.string(Redaction.redact(store))
        w.raw(",\"exported_at_ms\":")
        w.int(nowMs)
        w.raw("}\n")
        return w.bytes
    }

    /// One session as a line (with its newline).
    public static func line(_ s: Session) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"id\":")
        w.string(s.id)
        w.raw(",\"key\":")
        w.string(s.key)
        w.raw(",\"user\":")
        w.optionalString(s.user)
        w.raw(",\"node\":")
        w.string(s.node)
        w.raw(",\"schema\":")
        w.string(s.schema)
        w.raw(",\"ttl_ms\":")
        w.int(s.ttlMs)
        w.raw(",\"created_at_ms\":")
        w.optionalInt(s.createdAtMs)
        w.raw(",\"last_accessed_at_ms\":")
        w.optionalInt(s.lastAccessedAtMs)
        w.raw(",\"max_inactive_s\":")
        w.optionalInt(s.maxInactiveSeconds)
        w.raw(",\"size_bytes\":")
        w.optionalInt(s.sizeBytes)
        w.raw(",\"stored_value\":")
        w.optionalString(s.storedValue.map { Data($0).base64EncodedString() })
        w.raw(",\"attributes\":[")
        for (i, a) in s.attributes.enumerated() {
            w.raw(i == 0 ? "{\"name\":" : ",{\"name\":")
            w.string(a.name)
            w.raw(",\"format\":")
            w.string(a.format)
            w.raw(",\"raw\":")
            w.string(Data(a.raw).base64EncodedString())
            w.raw("}")
        }
        w.raw("]}\n")
        return w.bytes
    }

    /// A file that cannot be read, with the line that says why.
    public struct ReadError: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Reads a whole file: its header and sessions, each with the TTL left now (`nowMs`), and
    /// the ids of those that expired since the export. Any bad line stops the read with its
    /// number, before anything is imported.
    public static func read(_ data: [UInt8], nowMs: Int64) throws -> (
        header: Header, sessions: [Session], expiredSince: [String]
    ) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first else { throw ReadError(line: 1, message: "empty file: no header line") }
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(first)) } catch {
            throw ReadError(line: 1, message: "not a sessionctl export (the first line is its header)")
        }
        guard header.format == formatName else {
            throw ReadError(line: 1, message: "format '\(Sanitizer.display(header.format))' is not \(formatName)")
        }
        guard header.version == version else {
            throw ReadError(
                line: 1, message: "format version \(header.version): this sessionctl reads version \(version)")
        }
        let elapsed = max(0, nowMs - header.exportedAtMs)
        var sessions: [Session] = []
        var expired: [String] = []
        var seen = Set<String>()
        for (index, bytes) in lines.enumerated().dropFirst() {
            let n = index + 1
            guard !bytes.isEmpty else { throw ReadError(line: n, message: "empty line") }
            let l: Line
            do { l = try decoder.decode(Line.self, from: Data(bytes)) } catch {
                throw ReadError(line: n, message: "not a session line (\(Self.reason(error)))")
            }
            guard !l.id.isEmpty else { throw ReadError(line: n, message: "a session without an id") }
            guard seen.insert(l.id).inserted else {
                throw ReadError(line: n, message: "session \(Sanitizer.display(l.id)) appears twice")
            }
            var attributes: [Attribute] = []
            for a in l.attributes {
                guard let raw = Data(base64Encoded: a.raw) else {
                    throw ReadError(line: n, message: "attribute \(Sanitizer.display(a.name)): raw is not base64")
                }
                attributes.append(Decode.attribute(name: a.name, raw: [UInt8](raw)))
            }
            var stored: [UInt8]?
            if let v = l.storedValue {
                guard let d = Data(base64Encoded: v) else {
                    throw ReadError(line: n, message: "stored_value is not base64")
                }
                stored = [UInt8](d)
            }
            let ttl: Int64
            if l.ttlMs < 0 {
                ttl = -1
            } else {
                ttl = l.ttlMs - elapsed
                if ttl <= 0 {
                    expired.append(l.id)
                    continue
                }
            }
            var s = Session(
                id: l.id, key: l.key, user: l.user, node: l.node, ttlMs: ttl, createdAtMs: l.createdAtMs,
                lastAccessedAtMs: l.lastAccessedAtMs, maxInactiveSeconds: l.maxInactiveS, sizeBytes: l.sizeBytes,
                schema: l.schema, attributes: attributes)
            s.storedValue = stored
            sessions.append(s)
        }
        return (header, sessions, expired)
    }

    static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _)?: return "missing \(key.stringValue)"
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?:
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case .dataCorrupted?: return "invalid JSON"
        default: return "invalid"
        }
    }
}

extension Operations {
    /// Writes every matching session, whole, to `sink` as archive lines (streamed: pages are
    /// written as they come). Returns how many were written.
    public func export(filter: Filter, to sink: @escaping @Sendable ([UInt8]) -> Void) async throws -> Outcome {
        sink(SessionArchive.headerLine(store: store.displayName, nowMs: currentTimeMs()))
        let tally = ListingTally()
        let reporter = self.reporter
        let listing = try await store.list(ListQuery(filter: filter, withAttributes: true)) { page in
            var bytes: [UInt8] = []
            for s in page { bytes += SessionArchive.line(s) }
            sink(bytes)
            reporter.progress("exported \(await tally.add(page))…")
        }
        reporter.clearProgress()
        var outcome = Outcome(found: await tally.total)
        outcome.summary = "exported \(outcome.found) session(s) from \(store.displayName)"
        outcome.exitCode = report(listing: listing.failedNodes, listed: await tally.perNode)
        return outcome
    }

    /// Writes archived sessions into the store. A session the store already has is refused
    /// (nothing is written) unless `replace`; the write is confirmed, audited and refused
    /// under read-only like every mutation.
    public func importSessions(_ sessions: [Session], replace: Bool, batchSize: Int = 500) async throws -> Outcome {
        guard let writer = await store.capabilities().writer else {
            throw ConsoleError.usage("\(store.displayName) cannot take sessions")
        }
        var outcome = Outcome(found: sessions.count)
        var existing: [String] = []
        var start = 0
        while start < sessions.count {
            let slice = sessions[start..<min(sessions.count, start + 1000)].map(\.id)
            let plan = await store.locate(ids: slice)
            existing += plan.sessions.map(\.id)
            if let f = plan.failures.first {
                throw ConsoleError(code: Exit.connection, message: "\(f.node): \(Redaction.redact(f.message))")
            }
            start += slice.count
        }
        if !existing.isEmpty && !replace {
            let examples = existing.prefix(3).map { Sanitizer.display($0, limit: 60) }.joined(separator: ", ")
            throw ConsoleError.usage(
                "\(existing.count) session(s) already exist in \(store.displayName) (\(examples)): nothing was "
                    + "imported; --replace overwrites them")
        }
        let what = replace && !existing.isEmpty ? "import (replacing \(existing.count))" : "import"
        guard try policy.authorize("\(what) into \(store.displayName)", count: sessions.count, reporter: reporter)
        else {
            output?.line("dry run: \(sessions.count) session(s) would be imported into \(store.displayName)")
            outcome.dryRun = true
            return outcome
        }
        try audit.ensureWritable()
        var written: [String] = []
        var failures: [NodeFailure] = []
        start = 0
        while start < sessions.count {
            let chunk = Array(sessions[start..<min(sessions.count, start + max(1, batchSize))])
            let r = await writer.write(chunk)
            written += r.written
            failures += r.failures
            start += chunk.count
            reporter.progress("imported \(written.count)/\(sessions.count)…")
            if !r.failures.isEmpty { break }
        }
        reporter.clearProgress()
        outcome.result = MutationResult(affected: written, failedNodes: failures, keysTouched: written.count)
        audit.record(
            action: "import", store: store.displayName, commandLine: commandLine, target: nil, sessions: written,
            result: outcome.result, extra: replace ? ["replaced": String(existing.count)] : [:])
        outcome.summary = "imported \(written.count) of \(sessions.count) session(s) into \(store.displayName)"
        outcome.exitCode = failures.isEmpty ? Exit.ok : report(failures: failures)
        return outcome
    }
}
