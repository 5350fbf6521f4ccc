import Foundation
import SessionKit

/// How batch commands print.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, jsonl, csv
}

/// Session rows in every output format. Table and CSV text goes through `Sanitizer`;
/// JSON keeps exact values with every control character escaped.
public struct SessionFormatter {
    let format: OutputFormat
    let output: Output
    private var wroteHeader = false
    private var count = 0
    private var widths: [Int] = []
    public static let columns = ["ID", "USER", "NODE", "TTL", "IDLE", "AGE", "SIZE", "SCHEMA"]

    public init(format: OutputFormat, output: Output) {
        self.format = format
        self.output = output
    }

    public mutating func write(_ sessions: [Session], nowMs: Int64) {
        switch format {
        case .json:
            for s in sessions {
                var w = JSONWriter()
                w.raw(count == 0 ? "[\n" : ",\n")
                SessionFormatter.json(s, into: &w, nowMs: nowMs)
                output.write(w.bytes)
                count += 1
            }
        case .jsonl:
            var w = JSONWriter()
            for s in sessions {
                SessionFormatter.json(s, into: &w, nowMs: nowMs)
                w.raw("\n")
            }
            output.write(w.bytes)
            count += sessions.count
        case .csv:
            if !wroteHeader {
                output.line("id,user,node,ttl_ms,schema,created_at,last_accessed_at,size_bytes,idle_ms")
                wroteHeader = true
            }
            for s in sessions {
                let fields = [
                    s.id, s.user ?? "", s.node, String(s.ttlMs), s.schema,
                    s.createdAtMs.map { ISOTime.format(ms: $0) } ?? "",
                    s.lastAccessedAtMs.map { ISOTime.format(ms: $0) } ?? "",
                    s.sizeBytes.map(String.init) ?? "", s.idleMs(now: nowMs).map(String.init) ?? "",
                ]
                output.line(fields.map(SessionFormatter.csvField).joined(separator: ","))
            }
            count += sessions.count
        case .table:
            let rows = sessions.map { SessionFormatter.tableRow($0, nowMs: nowMs) }
            if !wroteHeader {
                // Widths from the first page; later longer values are cut with "…".
                widths = SessionFormatter.columns.map(\.count)
                for r in rows {
                    for (i, v) in r.enumerated() { widths[i] = min(max(widths[i], v.count), i == 0 ? 48 : 32) }
                }
                output.line(SessionFormatter.pad(SessionFormatter.columns, widths))
                wroteHeader = true
            }
            for r in rows { output.line(SessionFormatter.pad(r, widths)) }
            count += sessions.count
        }
    }

    public mutating func finish() {
        switch format {
        case .json: output.line(count == 0 ? "[]" : "\n]")
        case .table where !wroteHeader:
            output.line(SessionFormatter.pad(SessionFormatter.columns, SessionFormatter.columns.map(\.count)))
        default: break
        }
    }

    public static func json(_ s: Session, into w: inout JSONWriter, nowMs: Int64) {
        w.raw("{\"id\":")
        w.string(s.id)
        w.raw(",\"user\":")
        w.optionalString(s.user)
        w.raw(",\"node\":")
        w.string(s.node)
        w.raw(",\"ttl_ms\":")
        w.int(s.ttlMs)
        w.raw(",\"schema\":")
        w.string(s.schema)
        w.raw(",\"created_at\":")
        w.optionalTime(s.createdAtMs)
        w.raw(",\"last_accessed_at\":")
        w.optionalTime(s.lastAccessedAtMs)
        w.raw(",\"size_bytes\":")
        w.optionalInt(s.sizeBytes)
        w.raw(",\"idle_ms\":")
        w.optionalInt(s.idleMs(now: nowMs))
        w.raw(",\"max_inactive_s\":")
        w.optionalInt(s.maxInactiveSeconds)
        w.raw(",\"key\":")
        w.string(s.key)
        w.raw("}")
    }

    /// The largest value `show -o json` writes whole (its JSON text); `--full` lifts it.
    public static let valueLimit = 64 * 1024

    /// A decoded value as JSON. Over `limit` bytes of JSON text it becomes the first `limit`
    /// bytes of that text as a string, followed by `"truncated":true` (the attribute's
    /// `size_bytes` stays exact): a multi-megabyte attribute never floods a terminal or a pipe.
    public static func jsonValue(_ v: DecodedValue, into w: inout JSONWriter, limit: Int?) {
        var inner = JSONWriter()
        inner.value(v)
        guard let limit, inner.bytes.count > limit else {
            w.bytes += inner.bytes
            return
        }
        var cut = limit
        // Cut on a UTF-8 boundary (never inside a multi-byte character).
        while cut > 0 && inner.bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        w.string(String(decoding: inner.bytes[..<cut], as: UTF8.self))
        w.raw(",\"truncated\":true")
    }

    public static func tableRow(_ s: Session, nowMs: Int64) -> [String] {
        [
            Sanitizer.display(s.id, limit: 256), s.user.map { Sanitizer.display($0, limit: 256) } ?? "-",
            Sanitizer.display(s.node), DurationText.compact(ms: s.ttlMs),
            s.idleMs(now: nowMs).map { DurationText.compact(ms: $0) } ?? "-",
            s.ageMs(now: nowMs).map { DurationText.compact(ms: $0) } ?? "-",
            s.sizeBytes.map(humanBytes) ?? "-", s.schema,
        ]
    }

    public static func pad(_ values: [String], _ widths: [Int]) -> String {
        var line = ""
        for (i, v) in values.enumerated() {
            let w = widths[i]
            var cell = v
            if cell.count > w { cell = String(cell.prefix(w - 1)) + "…" }
            line += cell
            if i < values.count - 1 { line += String(repeating: " ", count: w - cell.count + 2) }
        }
        return line
    }

    /// RFC 4180 quoting, terminal-safe text, and a guard against spreadsheet formulas.
    public static func csvField(_ raw: String) -> String {
        var v = Sanitizer.display(raw, limit: 65536)
        if let f = v.first, "=+-@".contains(f), Int64(v) == nil { v = "'" + v }
        if v.contains(",") || v.contains("\"") || v.contains(" ") {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }
}

public func humanBytes(_ n: Int64) -> String {
    if n < 1024 { return "\(n)B" }
    if n < 1024 * 1024 { return String(format: "%.1fK", Double(n) / 1024) }
    if n < 1024 * 1024 * 1024 { return String(format: "%.1fM", Double(n) / 1_048_576) }
    return String(format: "%.1fG", Double(n) / 1_073_741_824)
}
