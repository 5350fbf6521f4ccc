import Foundation
import SessionKit

/// How batch commands print.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, jsonl, csv
}

/// A field of a session row, by its JSON name (`ls --fields`).
public enum SessionField: String, CaseIterable, Sendable {
    case id, user, node
    case ttlMs = "ttl_ms"
    case schema
    case createdAt = "created_at"
    case lastAccessedAt = "last_accessed_at"
    case sizeBytes = "size_bytes"
    case idleMs = "idle_ms"
    case maxInactiveS = "max_inactive_s"
    case key

    /// `id,user,ttl_ms`: known names, each once, in the order given.
    public static func parseList(_ text: String) throws(ConsoleError) -> [SessionField] {
        var out: [SessionField] = []
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            guard let f = SessionField(rawValue: word) else {
                throw ConsoleError.usage(
                    "unknown field '\(Sanitizer.display(word, limit: 40))' (fields: "
                        + allCases.map(\.rawValue).joined(separator: ", ") + ")")
            }
            if !out.contains(f) { out.append(f) }
        }
        guard !out.isEmpty else { throw ConsoleError.usage("--fields needs at least one field") }
        return out
    }

    /// What the rows must carry to print these fields (the store reads nothing more).
    public static func parts(_ fields: [SessionField]) -> SessionParts {
        var p: SessionParts = []
        for f in fields {
            switch f {
            case .ttlMs: p.insert(.ttl)
            case .createdAt, .lastAccessedAt, .idleMs, .maxInactiveS: p.insert(.times)
            case .sizeBytes: p.insert(.size)
            case .user: p.insert(.user)
            case .id, .node, .schema, .key: break
            }
        }
        return p
    }

    /// The table's column title.
    var title: String {
        switch self {
        case .ttlMs: "TTL"
        case .createdAt: "AGE"
        case .lastAccessedAt: "LAST ACCESS"
        case .sizeBytes: "SIZE"
        case .idleMs: "IDLE"
        case .maxInactiveS: "MAX INACTIVE"
        default: rawValue.uppercased()
        }
    }
}

/// Session rows in every output format. Table and CSV text goes through `Sanitizer`;
/// JSON keeps exact values with every control character escaped.
public struct SessionFormatter {
    let format: OutputFormat
    let output: Output
    private var wroteHeader = false
    private var count = 0
    private var widths: [Int] = []
    /// The fields written (`ls --fields`); nil: the default shape of each format.
    let fields: [SessionField]?
    static let tableFields: [SessionField] = [.id, .user, .node, .ttlMs, .idleMs, .createdAt, .sizeBytes, .schema]
    /// The default table's titles: ID USER NODE TTL IDLE AGE SIZE SCHEMA.
    public static let columns = tableFields.map(\.title)
    static let csvFields: [SessionField] = [
        .id, .user, .node, .ttlMs, .schema, .createdAt, .lastAccessedAt, .sizeBytes, .idleMs,
    ]

    public init(format: OutputFormat, output: Output, fields: [SessionField]? = nil) {
        self.format = format
        self.output = output
        self.fields = fields
    }

    public mutating func write(_ sessions: [Session], nowMs: Int64) {
        switch format {
        case .json:
            for s in sessions {
                var w = JSONWriter()
                w.raw(count == 0 ? "[\n" : ",\n")
                SessionFormatter.json(s, into: &w, nowMs: nowMs, fields: fields)
                output.write(w.bytes)
                count += 1
            }
        case .jsonl:
            var w = JSONWriter()
            for s in sessions {
                SessionFormatter.json(s, into: &w, nowMs: nowMs, fields: fields)
                w.raw("\n")
            }
            output.write(w.bytes)
            count += sessions.count
        case .csv:
            let chosen = fields ?? Self.csvFields
            if !wroteHeader {
                output.line(chosen.map(\.rawValue).joined(separator: ","))
                wroteHeader = true
            }
            for s in sessions {
                output.line(chosen.map { Self.csvField(Self.text(s, $0, nowMs: nowMs)) }.joined(separator: ","))
            }
            count += sessions.count
        case .table:
            let rows = sessions.map { s in
                fields.map { $0.map { Self.cell(s, $0, nowMs: nowMs) } } ?? SessionFormatter.tableRow(s, nowMs: nowMs)
            }
            if !wroteHeader {
                // Widths from the first page; later longer values are cut with "…".
                let titles = tableTitles
                widths = titles.map(\.count)
                for r in rows {
                    for (i, v) in r.enumerated() { widths[i] = min(max(widths[i], v.count), i == 0 ? 48 : 32) }
                }
                output.line(SessionFormatter.pad(titles, widths))
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
            output.line(SessionFormatter.pad(tableTitles, tableTitles.map(\.count)))
        case .csv where !wroteHeader:
            output.line((fields ?? Self.csvFields).map(\.rawValue).joined(separator: ","))
        default: break
        }
    }

    private var tableTitles: [String] { fields?.map(\.title) ?? SessionFormatter.columns }

    /// A field as plain text (CSV): exact numbers, ISO times, empty when unknown.
    static func text(_ s: Session, _ f: SessionField, nowMs: Int64) -> String {
        switch f {
        case .id: s.id
        case .user: s.user ?? ""
        case .node: s.node
        case .ttlMs: String(s.ttlMs)
        case .schema: s.schema
        case .createdAt: s.createdAtMs.map { ISOTime.format(ms: $0) } ?? ""
        case .lastAccessedAt: s.lastAccessedAtMs.map { ISOTime.format(ms: $0) } ?? ""
        case .sizeBytes: s.sizeBytes.map(String.init) ?? ""
        case .idleMs: s.idleMs(now: nowMs).map(String.init) ?? ""
        case .maxInactiveS: s.maxInactiveSeconds.map(String.init) ?? ""
        case .key: s.key
        }
    }

    /// A field for a person (the table): durations and sizes in short words, text sanitized.
    static func cell(_ s: Session, _ f: SessionField, nowMs: Int64) -> String {
        switch f {
        case .id: Sanitizer.display(s.id, limit: 256)
        case .user: s.user.map { Sanitizer.display($0, limit: 256) } ?? "-"
        case .node: Sanitizer.display(s.node)
        case .ttlMs: DurationText.compact(ms: s.ttlMs)
        case .schema: s.schema
        case .createdAt: s.ageMs(now: nowMs).map { DurationText.compact(ms: $0) } ?? "-"
        case .lastAccessedAt: s.lastAccessedAtMs.map { ISOTime.format(ms: $0) } ?? "-"
        case .sizeBytes: s.sizeBytes.map(humanBytes) ?? "-"
        case .idleMs: s.idleMs(now: nowMs).map { DurationText.compact(ms: $0) } ?? "-"
        case .maxInactiveS: s.maxInactiveSeconds.map { DurationText.compact(ms: $0 * 1000) } ?? "-"
        case .key: Sanitizer.display(s.key, limit: 256)
        }
    }

    /// The chosen fields only, in the order asked; nil: every field.
    public static func json(_ s: Session, into w: inout JSONWriter, nowMs: Int64, fields: [SessionField]?) {
        let fields = fields ?? SessionField.allCases
        for (n, f) in fields.enumerated() {
            w.raw(n == 0 ? "{\"" : ",\"")
            w.raw(f.rawValue)
            w.raw("\":")
            switch f {
            case .id: w.string(s.id)
            case .user: w.optionalString(s.user)
            case .node: w.string(s.node)
            case .ttlMs: w.int(s.ttlMs)
            case .schema: w.string(s.schema)
            case .createdAt: w.optionalTime(s.createdAtMs)
            case .lastAccessedAt: w.optionalTime(s.lastAccessedAtMs)
            case .sizeBytes: w.optionalInt(s.sizeBytes)
            case .idleMs: w.optionalInt(s.idleMs(now: nowMs))
            case .maxInactiveS: w.optionalInt(s.maxInactiveSeconds)
            case .key: w.string(s.key)
            }
        }
        w.raw("}")
    }

    /// Every field, in the stable default order.
    public static func json(_ s: Session, into w: inout JSONWriter, nowMs: Int64) {
        json(s, into: &w, nowMs: nowMs, fields: SessionField.allCases)
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
        tableFields.map { cell(s, $0, nowMs: nowMs) }
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
