import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// The in-house store's durability: an append-only log of RESP records.
///
/// - `LOG.PUT id created last max-inactive deadline principal n (name value)*`: a session's
///   full state after any change (deadline `-1`: none; principal empty: none);
/// - `LOG.TOUCH id last-access`: a read that slid the expiry;
/// - `LOG.DEL id`: a session removed (deleted, logged out, expired, evicted, migrated away);
/// - cluster records (issue 5): `LOG.PEND id ...` (fields of `LOG.PUT`) a migrated-in copy
///   not yet confirmed by its source, `LOG.UNPEND id` its end, `LOG.FWD id node` where a
///   session this node held or is home for lives now (`node` empty: the pointer is gone).
///
/// Records are buffered per request batch and written by `commit()` before the batch's
/// replies leave, so with `fsync always` an acknowledged write is on disk. Replay stops at
/// the last complete record: a torn tail (a crash mid-write) is truncated and reported,
/// never a refusal to start. `rewrite` compacts the log to one `LOG.PUT` per live session.
public final class AppendLog {
    public enum FsyncPolicy: String, Sendable, CaseIterable { case always, everysec, no }

    public struct ReplayReport: Sendable, Equatable {
        public var records = 0
        public var sessions = 0
        /// Sessions whose deadline passed while the node was down: dropped.
        public var expiredWhileDown = 0
        /// Bytes of an incomplete or malformed tail that were cut off.
        public var truncatedBytes = 0
    }

    public struct LogError: Error, CustomStringConvertible {
        public var description: String
    }

    public let path: String
    public let policy: FsyncPolicy
    private var fd: Int32
    private var pending = RESPWriter()
    public private(set) var size: Int = 0
    /// Bytes written since the last fsync (for `everysec`).
    public private(set) var unsynced = 0

    public init(path: String, policy: FsyncPolicy) throws {
        self.path = path
        self.policy = policy
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        fstat(fd, &st)
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    // MARK: records

    public func logPut(_ s: StoredSession) { sessionRecord("LOG.PUT", s) }
    public func logPut(_ s: HouseSession) { sessionRecord("LOG.PUT", StoredSession(s)) }
    public func logPending(_ s: HouseSession) { sessionRecord("LOG.PEND", StoredSession(s)) }
    public func logUnpend(_ id: String) {
        header(2)
        bulk("LOG.UNPEND")
        bulk(id)
    }
    public func logForward(_ id: String, to node: String?) {
        header(3)
        bulk("LOG.FWD")
        bulk(id)
        bulk(node ?? "")
    }

    private func sessionRecord(_ tag: String, _ s: StoredSession) { AppendLog.encode(tag, s, into: &pending) }

    /// One access to `pending` for the whole record (each access to a class's property is
    /// checked at run time; a record has a dozen fields).
    private static func encode(_ tag: String, _ s: StoredSession, into w: inout RESPWriter) {
        w.arrayHeader(8 + 2 * Int(s.attributeCount))
        w.bulk(tag)
        w.bulk(s.id)
        w.bulk(decimal: s.createdMs)
        w.bulk(decimal: s.lastAccessMs)
        w.bulk(decimal: s.maxInactiveMs)
        w.bulk(decimal: s.absoluteDeadlineMs ?? -1)
        w.bulk(s.principal ?? "")
        w.bulk(decimal: Int64(s.attributeCount))
        s.forEachAttribute { name, value in
            w.bulk(name)
            w.bulk(value)
        }
    }

    public func logTouch(_ id: String, at ms: Int64) {
        header(3)
        bulk("LOG.TOUCH")
        bulk(id)
        number(ms)
    }
    public func logDelete(_ id: String) {
        header(2)
        bulk("LOG.DEL")
        bulk(id)
    }

    // Records are written straight into the pending buffer (no per-field arrays).
    private func header(_ count: Int) { pending.arrayHeader(count) }
    private func bulk(_ s: String) { pending.bulk(s) }
    private func bulk(_ b: ArraySlice<UInt8>) { pending.bulk(b) }
    /// Numbers are bulk strings in the log (as in a request).
    private func number(_ v: Int64) { pending.bulk(decimal: v) }

    /// Writes the buffered records (and fsyncs under `always`). Call before replying.
    /// During a compaction they also go to the new file (see `beginCompaction`).
    ///
    /// When the write fails (a full disk), the file is cut back to its last whole record
    /// and the records stay buffered: the next `commit` writes them, so nothing is lost or
    /// written twice. When only the compaction's new file fails, the compaction is dropped
    /// (`droppedCompaction` says why) and the log goes on.
    public func commit() throws {
        guard !pending.bytes.isEmpty else { return }
        do {
            try AppendLog.writeAll(pending.bytes, to: fd, path: path)
        } catch {
            _ = ftruncate(fd, off_t(size))
            throw error
        }
        size += pending.bytes.count
        unsynced += pending.bytes.count
        if let c = compaction {
            do {
                try AppendLog.writeAll(pending.bytes, to: c.out.fd, path: c.out.path)
                c.out.size += pending.bytes.count
                c.out.unsynced += pending.bytes.count
            } catch {
                abandonCompaction()
                droppedCompaction = error
            }
        }
        pending.bytes.removeAll(keepingCapacity: true)
        if policy == .always { try sync() }
    }

    /// Why the last compaction was dropped by `commit` (the owner reads and clears it).
    public var droppedCompaction: (any Error)?

    /// Bytes of records waiting for the next `commit`.
    public var pendingBytes: Int { pending.bytes.count }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws {
        var off = 0
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while off < raw.count {
                let n = write(fd, base + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw LogError(description: "write to \(path) failed: \(String(cString: strerror(errno)))")
                }
                off += n
            }
        }
    }

    /// Where fsyncs run when they must not stop the event loop (a second's writes, or a
    /// compacted file, can take from tens of milliseconds to seconds), and where replaced
    /// files are closed (freeing a large file's blocks takes time too). Serial, so work on
    /// one file happens in order.
    static let background = DispatchQueue(label: "sessiond.log")

    /// `everysec`: fsyncs what was written so far, off the calling thread, on a duplicate of
    /// the descriptor (the log may be replaced by a compaction meanwhile). A failure is
    /// reported on stderr; the next second tries again.
    public func syncInBackground() {
        guard unsynced > 0 else { return }
        unsynced = 0
        AppendLog.fsyncInBackground(fd, path: path) { _ in }
    }

    private static func fsyncInBackground(_ fd: Int32, path: String, then: @escaping @Sendable (Bool) -> Void) {
        let copy = dup(fd)
        background.async {
            guard copy >= 0 else {
                then(false)
                return
            }
            let ok = fsync(copy) == 0
            if !ok { report("sessiond: fsync of \(path) failed: \(String(cString: strerror(errno)))\n") }
            close(copy)
            then(ok)
        }
    }

    private static func report(_ message: String) {
        let bytes = Array(message.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// fsync now (graceful stop; `always` after every commit).
    public func sync() throws {
        guard unsynced > 0 else { return }
        guard fsync(fd) == 0 else {
            throw LogError(description: "fsync of \(path) failed: \(String(cString: strerror(errno)))")
        }
        unsynced = 0
    }

    // MARK: replay and compaction

    /// A node's cluster bookkeeping kept in the log.
    public struct ClusterRecords: Sendable, Equatable {
        public var forward: [String: String] = [:]
        public var pending: [String: HouseSession] = [:]
        public init() {}
    }

    /// Rebuilds `engine` from the log at `path`, truncating a torn tail.
    public static func replay(path: String, into engine: inout SessionEngine, now: Int64) throws -> ReplayReport {
        var ignored = ClusterRecords()
        return try replay(path: path, into: &engine, cluster: &ignored, now: now)
    }

    /// Rebuilds `engine` and the cluster records from the log at `path`, truncating a torn tail.
    public static func replay(path: String, into engine: inout SessionEngine, cluster: inout ClusterRecords, now: Int64)
        throws -> ReplayReport
    {
        var report = ReplayReport()
        guard let f = fopen(path, "rb") else { return report }  // no log yet
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        fclose(f)
        var limits = RESPLimits()
        limits.maxBulkLength = Int.max / 2
        limits.maxArrayLength = Int.max / 2
        var decoder = RESPRequestDecoder(limits: limits)
        decoder.append(bytes)
        var good = 0
        while true {
            let record: [[UInt8]]?
            do { record = try decoder.next() } catch { break }
            guard let r = record, apply(r, to: &engine, cluster: &cluster) else { break }
            report.records += 1
            good = bytes.count - decoder.pendingBytes
        }
        if good < bytes.count {
            report.truncatedBytes = bytes.count - good
            guard truncate(path, off_t(good)) == 0 else {
                throw LogError(
                    description: "cannot truncate the torn tail of \(path): \(String(cString: strerror(errno)))")
            }
        }
        report.expiredWhileDown = engine.expireDue(now: now).count
        cluster.pending = cluster.pending.filter { ($0.value.deadlineMs ?? .max) > now }
        report.sessions = engine.count
        return report
    }

    /// Applies one record; false for a record that does not parse (treated as the tail).
    static func apply(_ r: [[UInt8]], to engine: inout SessionEngine, cluster: inout ClusterRecords) -> Bool {
        func s(_ i: Int) -> String { String(decoding: r[i], as: UTF8.self) }
        switch r.first.map({ String(decoding: $0, as: UTF8.self) }) {
        case "LOG.PUT":
            guard let session = session(fields: r[1...]) else { return false }
            engine.restore(session, now: session.lastAccessMs)
            return true
        case "LOG.PEND":
            guard let session = session(fields: r[1...]) else { return false }
            cluster.pending[session.id] = session
            return true
        case "LOG.UNPEND":
            guard r.count == 2 else { return false }
            cluster.pending[s(1)] = nil
            return true
        case "LOG.FWD":
            guard r.count == 3 else { return false }
            cluster.forward[s(1)] = r[2].isEmpty ? nil : s(2)
            return true
        case "LOG.TOUCH":
            guard r.count == 3, let at = Int64(s(2)) else { return false }
            _ = engine.update(s(1), now: at) { $0.lastAccessMs = at }
            return true
        case "LOG.DEL":
            guard r.count == 2 else { return false }
            _ = engine.take(s(1), now: Int64.min / 2)
            return true
        default:
            return false
        }
    }

    /// A session from the fields of `LOG.PUT` (also the body of `CLUSTER.RESTORE`):
    /// `id created last max-inactive deadline principal n (name value)*`.
    public static func session(fields f: ArraySlice<[UInt8]>) -> HouseSession? {
        let b = f.startIndex
        func s(_ i: Int) -> String { String(decoding: f[b + i], as: UTF8.self) }
        func n(_ i: Int) -> Int64? { Int64(s(i)) }
        // Times are unix ms (deadline -1: none): a peer's CLUSTER.RESTORE is client input too,
        // and a negative time would overflow the node's arithmetic later.
        guard f.count >= 7, let created = n(1), let last = n(2), let maxInactive = n(3), let deadline = n(4),
            let count = n(6),
            created >= 0, last >= 0, maxInactive >= -1, deadline >= -1,
            count >= 0, count <= (f.count - 7) / 2, f.count == 7 + 2 * Int(count)
        else { return nil }
        var attrs: [HouseSession.Attribute] = []
        for k in 0..<Int(count) { attrs.append(.init(s(7 + 2 * k), f[b + 8 + 2 * k])) }
        let principal = s(5)
        return HouseSession(
            id: s(0), principal: principal.isEmpty ? nil : principal, attributes: attrs, createdMs: created,
            lastAccessMs: last, maxInactiveMs: maxInactive, absoluteDeadlineMs: deadline < 0 ? nil : deadline)
    }

    /// The fields of `session(fields:)` for a session.
    public static func fields(of s: HouseSession) -> [[UInt8]] {
        var out: [[UInt8]] = [
            Array(s.id.utf8), Array(String(s.createdMs).utf8), Array(String(s.lastAccessMs).utf8),
            Array(String(s.maxInactiveMs).utf8), Array(String(s.absoluteDeadlineMs ?? -1).utf8),
            Array((s.principal ?? "").utf8), Array(String(s.attributes.count).utf8),
        ]
        for a in s.attributes {
            out.append(Array(a.name.utf8))
            out.append(a.value)
        }
        return out
    }

    /// Whether the log has grown several times past the live data.
    public func needsRewrite(liveBytes: Int) -> Bool {
        compaction == nil && size > 1 << 20 && size > 4 * max(liveBytes, 1)
    }

    // MARK: compaction

    /// A compaction in progress: the new file and how far the walk over the sessions got.
    public final class Compaction {
        let out: AppendLog
        var cursor = 0
        /// Where the new file was last handed to a background fsync.
        var syncedUpTo = 0
        init(out: AppendLog) { self.out = out }
    }

    /// The new file is fsynced in the background every this many bytes (Redis's
    /// `aof-rewrite-incremental-fsync`): one fsync of the whole file at the end made ext4
    /// commit it all at once, and the node's own writes waited a second for that commit.
    static let compactionSyncStep = 8 << 20
    public private(set) var compaction: Compaction?

    /// Starts compacting the log into a new file (`PATH.rewrite`): the cluster records now,
    /// then the sessions a chunk at a time (`continueCompaction`), while the node goes on.
    /// Every record committed meanwhile goes to both files, so the new file needs no point in
    /// time snapshot: each record sets state (a session's whole state, its last access, its
    /// removal), and any session's last record in the new file, whether from the walk or
    /// committed after it, is its state at the end. Until `finishCompaction` renames the new
    /// file over the log, the old log is whole; a crash leaves it as it was.
    public func beginCompaction(cluster: ClusterRecords) throws {
        guard compaction == nil else { return }
        try commit()
        let out = try AppendLog(path: path + ".rewrite", policy: .no)
        guard ftruncate(out.fd, 0) == 0 else { throw LogError(description: "cannot truncate \(out.path)") }
        out.size = 0
        for (id, node) in cluster.forward { out.logForward(id, to: node) }
        for s in cluster.pending.values { out.logPending(s) }
        try out.commit()
        compaction = Compaction(out: out)
    }

    /// Writes the next `count` live sessions to the new file; true when every session has
    /// been visited (then call `finishCompaction`).
    public func continueCompaction(from engine: SessionEngine, now: Int64, count: Int = 2_000) throws -> Bool {
        guard let c = compaction else { return true }
        let (next, page) = engine.scan(cursor: c.cursor, match: nil, principal: nil, count: count, now: now)
        for s in page { c.out.logPut(s) }
        try c.out.commit()
        c.cursor = next
        if c.out.size - c.syncedUpTo >= AppendLog.compactionSyncStep {
            c.syncedUpTo = c.out.size
            AppendLog.fsyncInBackground(c.out.fd, path: c.out.path) { _ in }
        }
        return next == 0
    }

    /// When the walk is done: fsyncs the new file off the calling thread, then calls `then`
    /// (on the background queue) with whether it worked; then call `finishCompaction`.
    public func syncCompactionFile(then: @escaping @Sendable (Bool) -> Void) {
        guard let c = compaction else {
            then(false)
            return
        }
        AppendLog.fsyncInBackground(c.out.fd, path: c.out.path, then: then)
    }

    /// Renames the new file over the log, which goes on in it. `newFileSynced`: it was
    /// fsynced by `syncCompactionFile` (under `always`, what came since is fsynced here).
    public func finishCompaction(newFileSynced: Bool = false) throws {
        guard let c = compaction else { return }
        try commit()
        if !newFileSynced || policy == .always { try c.out.sync() }
        guard rename(c.out.path, path) == 0 else {
            throw LogError(description: "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        compaction = nil
        if policy == .always { try syncDirectory() }  // the rename itself must survive a power loss
        let replaced = fd
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        AppendLog.background.async { close(replaced) }
        guard fd >= 0 else { throw LogError(description: "cannot reopen \(path)") }
        size = c.out.size
        unsynced = max(c.out.unsynced, 1)  // the next everysec tick syncs what came since
    }

    /// fsyncs the directory holding the log (what makes a rename durable).
    private func syncDirectory() throws {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw LogError(description: "cannot open \(dir) to sync it") }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else {
            throw LogError(description: "fsync of \(dir) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Drops a compaction that failed; the log goes on as it was.
    public func abandonCompaction() {
        guard let c = compaction else { return }
        compaction = nil
        unlink(c.out.path)
    }

    /// A whole compaction at once (tests, tools; the node compacts a chunk per loop turn).
    public func rewrite(from engine: SessionEngine, cluster: ClusterRecords = ClusterRecords(), now: Int64) throws {
        try beginCompaction(cluster: cluster)
        do {
            while try !continueCompaction(from: engine, now: now) {}
            try finishCompaction()
        } catch {
            abandonCompaction()
            throw error
        }
    }
}
