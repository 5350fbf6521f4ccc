import Foundation
import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// Appends one JSON line per mutation: who, when, what, on which store, the outcome.
public final class AuditLog: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()

    /// `path`, else `$SESSIONCTL_AUDIT_LOG`, else `$XDG_STATE_HOME/sessionctl/audit.log`.
    public init(path: String?) {
        let env = ProcessInfo.processInfo.environment
        if let p = path ?? env["SESSIONCTL_AUDIT_LOG"] {
            self.path = p
        } else {
            let state = env["XDG_STATE_HOME"] ?? ((env["HOME"] ?? NSTemporaryDirectory()) + "/.local/state")
            self.path = state + "/sessionctl/audit.log"
        }
    }

    /// Checks that the log can be written before anything is changed.
    public func ensureWritable() throws {
        let dir = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw ConsoleError.usage("cannot create the audit log folder \(dir): \(error.localizedDescription)")
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            else {
                throw ConsoleError.usage("cannot create the audit log \(path)")
            }
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw ConsoleError.usage("the audit log \(path) is not writable; refusing to change anything")
        }
    }

    /// Session ids per record: an action on more sessions is written as several records
    /// (`part`, `parts`), each with a slice of the ids and the same totals, so every id is
    /// in the log and no line grows without bound.
    public static let idsPerRecord = 10_000

    public func record(
        action: String, store: String, commandLine: String, target: String?, sessions: [String],
        result: MutationResult, extra: [String: String] = [:]
    ) {
        let parts = max(1, (sessions.count + Self.idsPerRecord - 1) / Self.idsPerRecord)
        var w = JSONWriter()
        for part in 0..<parts {
            let ids = sessions.dropFirst(part * Self.idsPerRecord).prefix(Self.idsPerRecord)
            line(
                into: &w, action: action, store: store, commandLine: commandLine, target: target, ids: ids,
                result: result, extra: extra, part: parts > 1 ? (part + 1, parts) : nil)
        }
        lock.lock()
        defer { lock.unlock() }
        guard let h = FileHandle(forWritingAtPath: path) else {
            FileHandle.standardError.write(Data("sessionctl: cannot append to the audit log \(path)\n".utf8))
            return
        }
        h.seekToEndOfFile()
        h.write(Data(w.bytes))
        try? h.close()
    }

    /// One record (a JSON line).
    private func line(
        into w: inout JSONWriter, action: String, store: String, commandLine: String, target: String?,
        ids: ArraySlice<String>, result: MutationResult, extra: [String: String], part: (Int, Int)?
    ) {
        w.raw("{\"time\":")
        w.string(ISOTime.format(ms: currentTimeMs()))
        w.raw(",\"actor\":")
        w.string(ProcessInfo.processInfo.environment["USER"] ?? String(getuid()))
        w.raw(",\"host\":")
        w.string(ProcessInfo.processInfo.hostName)
        w.raw(",\"action\":")
        w.string(action)
        w.raw(",\"store\":")
        w.string(Redaction.redact(store))
        w.raw(",\"command\":")
        w.string(commandLine)
        w.raw(",\"target\":")
        w.optionalString(target)
        if let (n, of) = part {
            w.raw(",\"part\":")
            w.int(Int64(n))
            w.raw(",\"parts\":")
            w.int(Int64(of))
        }
        w.raw(",\"sessions\":[")
        for (n, id) in ids.enumerated() {
            if n > 0 { w.raw(",") }
            w.string(id)
        }
        w.raw("],\"affected\":")
        w.int(Int64(result.affected.count))
        w.raw(",\"not_found\":")
        w.int(Int64(result.notFound.count))
        w.raw(",\"keys_changed\":")
        w.int(Int64(result.keysTouched))
        w.raw(",\"failed_nodes\":[")
        for (n, f) in result.failedNodes.enumerated() {
            if n > 0 { w.raw(",") }
            w.string(f.node)
        }
        w.raw("],\"result\":")
        w.string(result.failedNodes.isEmpty ? (result.notFound.isEmpty ? "ok" : "partial") : "failed")
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) {
            w.raw(",")
            w.string(k)
            w.raw(":")
            w.string(v)
        }
        w.raw("}\n")
    }
}
