import Foundation
import SessionKit

/// `nodes` output: the common facts in fixed columns, then one column per backend fact
/// present on any node (titled by the store: KEYS, RING, SLOTS), in the order they appear.
public enum NodeFormatter {
    /// JSON: an array of objects with the common fields and each fact under its key.
    public static func json(_ infos: [NodeInfo]) -> [UInt8] {
        var w = JSONWriter()
        w.raw("[")
        for (n, i) in infos.enumerated() {
            w.raw(n == 0 ? "\n" : ",\n")
            w.raw("{\"name\":")
            w.string(i.name)
            w.raw(",\"address\":")
            w.string(i.address)
            w.raw(",\"role\":")
            w.string(i.role)
            w.raw(",\"up\":")
            w.raw(i.up ? "true" : "false")
            w.raw(",\"unresponsive\":")
            w.raw(i.unresponsive ? "true" : "false")
            w.raw(",\"error\":")
            w.optionalString(i.error.map { Redaction.redact($0) })
            w.raw(",\"sessions\":")
            w.optionalInt(i.sessions.map(Int64.init))
            w.raw(",\"used_memory\":")
            w.optionalInt(i.usedMemory)
            w.raw(",\"max_memory\":")
            w.optionalInt(i.maxMemory)
            w.raw(",\"eviction_policy\":")
            w.optionalString(i.evictionPolicy)
            w.raw(",\"expired_total\":")
            w.optionalInt(i.expiredTotal)
            w.raw(",\"evicted_total\":")
            w.optionalInt(i.evictedTotal)
            w.raw(",\"version\":")
            w.optionalString(i.version)
            for f in i.facts {
                w.raw(",")
                w.string(f.key)
                w.raw(":")
                switch f.value {
                case .int(let v): w.int(v)
                case .number(let v, _): w.raw(String(format: "%.3f", v))
                case .string(let s): w.string(s)
                }
            }
            w.raw("}")
        }
        w.raw(infos.isEmpty ? "]\n" : "\n]\n")
        return w.bytes
    }

    /// Table lines, header first.
    public static func table(_ infos: [NodeInfo]) -> [String] {
        var factColumns: [(key: String, title: String)] = []
        for i in infos {
            for f in i.facts where !factColumns.contains(where: { $0.key == f.key }) {
                factColumns.append((f.key, f.title))
            }
        }
        let header =
            ["NODE", "ROLE", "STATE", "SESSIONS", "MEMORY", "MAXMEMORY", "POLICY", "EXPIRED", "EVICTED"]
            + factColumns.map(\.title)
        var rows = [header]
        for i in infos {
            var row: [String] = [
                Sanitizer.display(i.name), Sanitizer.display(i.role), i.state,
                i.sessions.map(String.init) ?? "-",
            ]
            row.append(i.usedMemory.map(humanBytes) ?? "-")
            row.append(i.maxMemory.map { $0 == 0 ? "none" : humanBytes($0) } ?? "-")
            row += [
                i.evictionPolicy.map { Sanitizer.display($0) } ?? "-", i.expiredTotal.map(String.init) ?? "-",
                i.evictedTotal.map(String.init) ?? "-",
            ]
            row += factColumns.map { c in i[fact: c.key].map { Sanitizer.display($0.text) } ?? "-" }
            rows.append(row)
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { SessionFormatter.pad($0, widths) }
    }
}
