import Foundation
import SessionKit

/// `watch` output.
public enum EventFormatter {
    /// One event: a JSON line (exact values, controls escaped) or a table line (sanitized).
    public static func write(_ e: SessionEvent, format: OutputFormat, to out: Output) {
        if format == .json || format == .jsonl {
            var w = JSONWriter()
            w.raw("{\"time\":")
            w.string(ISOTime.format(ms: e.timeMs))
            w.raw(",\"event\":")
            w.string(e.kind.rawValue)
            w.raw(",\"node\":")
            w.string(e.node)
            w.raw(",\"id\":")
            w.optionalString(e.sessionID)
            w.raw(",\"user\":")
            w.optionalString(e.user)
            w.raw(",\"key\":")
            w.optionalString(e.key)
            w.raw(",\"prompted\":")
            w.raw(e.prompted ? "true" : "false")
            if let d = e.detail {
                w.raw(",\"detail\":")
                w.string(d)
            }
            w.raw("}\n")
            out.write(w.bytes)
            return
        }
        let id = e.sessionID.map { Sanitizer.display($0, limit: 64) } ?? "-"
        var line =
            ISOTime.format(ms: e.timeMs).padding(toLength: 26, withPad: " ", startingAt: 0)
            + e.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            + Sanitizer.display(e.node, limit: 64).padding(toLength: 22, withPad: " ", startingAt: 0)
            + id.padding(toLength: 38, withPad: " ", startingAt: 0)
            + (e.user.map { Sanitizer.display($0, limit: 64) } ?? "-")
        if e.prompted { line += "  (prompted)" }
        if let d = e.detail { line += "  " + Sanitizer.display(d) }
        out.line(line)
    }
}
