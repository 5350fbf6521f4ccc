import HouseStore
import NIOCore
import NIOSSL
import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// Configuration of one node.
struct NodeConfig: Sendable {
    var nodeID: String
    var password: String?
    var maxClients: Int
    var idleTimeoutSeconds: Int64
    var maxSessions: Int?
    var maxMemory: Int?
    var limits: RESPLimits
    /// Where clients reach this node (CLUSTER.NODES of a node outside a cluster).
    var advertisedHost = "127.0.0.1"
    var advertisedPort = 0
    /// Test hook: the migration step at which to die like `kill -9` (see Cluster.swift).
    var fault: String?
    /// TLS to the other members (`--tls-cert`...); nil: plain TCP.
    var peerTLS: NIOSSLContext?
}

/// The node's state, owned by its one event loop: every connection runs on that loop, so
/// the engine needs no lock (like Redis's single thread).
final class NodeServer {
    var config: NodeConfig
    var engine: SessionEngine
    let loop: any EventLoop
    var clients = 0
    var subscribers: [ObjectIdentifier: Connection] = [:]
    /// Every open connection, to tell them when the node stops.
    var connections: [ObjectIdentifier: Connection] = [:]
    var expiredTotal: Int64 = 0
    var evictedTotal: Int64 = 0
    var commandsTotal: Int64 = 0
    /// The append-only log (nil without --dir).
    var log: AppendLog?
    /// The cluster this node belongs to (nil: a standalone node).
    var cluster: ClusterState?
    var cachedShares: [String: Double]?
    /// Cluster records read from the log before the node joined its cluster.
    var replayedCluster = AppendLog.ClusterRecords()
    private var timer: Scheduled<Void>?
    /// Log compactions completed (INFO `aof_rewrites`); no new one before `compactionRetryAt`.
    var compactionsDone = 0
    private var compactionRetryAt: Int64 = 0
    /// Why the log cannot be written (a full disk); nil while it can. Meanwhile write
    /// commands are refused (`MISCONF`), reads are served, what the node must still log
    /// (expiries) stays buffered, and the log is retried once a second.
    private(set) var logFailure: String?
    private var logRetry: Scheduled<Void>?
    private var timerAt: Int64?
    let startedMs = currentTimeMs()

    init(config: NodeConfig, loop: any EventLoop) {
        self.config = config
        self.loop = loop
        engine = SessionEngine(node: config.nodeID, maxSessions: config.maxSessions, maxMemory: config.maxMemory)
    }

    // MARK: events and expiry

    func publish(_ events: [EngineEvent]) {
        for e in events {
            if e.kind == .expired { expiredTotal += 1 }
            if e.kind == .evicted { evictedTotal += 1 }
            // A creation is logged by its command, from the session it stored.
            if e.kind != .created && e.kind != .migrated { log?.logDelete(e.id) }
        }
        noteEnded(events)
        guard !subscribers.isEmpty, !events.isEmpty else { return }
        // One write and one flush per subscriber for the whole batch (10,000 sessions expiring
        // in the same tick are one write, not 10,000).
        let payloads = events.map(Wire.eventJSON)
        for s in subscribers.values { s.deliver(channel: Wire.eventChannel, payloads: payloads) }
    }

    /// Keeps one timer armed for the earliest deadline: expiry on time, no polling.
    func armExpiryTimer() {
        guard let next = engine.nextDeadline else {
            timer?.cancel()
            timer = nil
            timerAt = nil
            return
        }
        if let at = timerAt, at <= next, timer != nil { return }
        timer?.cancel()
        timerAt = next
        let delay = max(0, next - currentTimeMs())
        timer = loop.assumeIsolated().scheduleTask(in: .milliseconds(delay)) { [self] in
            timer = nil
            timerAt = nil
            publish(engine.expireDue(now: currentTimeMs()))
            do { try commitLog() } catch { logError("log write failed: \(error)") }
            armExpiryTimer()
        }
    }

    /// Logs a session's full state (or its removal when it is gone).
    func persist(_ id: String) {
        guard let log else { return }
        let (s, _) = engine.read(id, now: Int64.min / 2, touch: false)
        if let s { log.logPut(s) } else { log.logDelete(id) }
    }

    /// Writes the batch's log records; starts compacting the log when it has grown too far.
    func commitLog() throws {
        guard let log, logFailure == nil else { return }  // while failing, the retry timer writes
        do {
            try log.commit()
        } catch {
            logFailed(error)
            throw error
        }
        if let dropped = log.droppedCompaction {
            log.droppedCompaction = nil
            compactionFailed(dropped)
        }
        if log.needsRewrite(liveBytes: engine.usedMemory), currentTimeMs() >= compactionRetryAt {
            do {
                try log.beginCompaction(cluster: cluster?.records ?? AppendLog.ClusterRecords())
                scheduleCompactionStep()
            } catch {
                compactionFailed(error)
            }
        }
    }

    /// The next chunk after a millisecond: a task queued with `execute` from a task runs
    /// in the same turn of the loop, so chained chunks would never let a request in.
    private func scheduleCompactionStep() {
        loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { [self] in compactionStep() }
    }

    /// One chunk of the compaction per event-loop turn, so requests and expiries go on
    /// between chunks (compacting 1,000,000 sessions at once stopped the node for over a
    /// second).
    private func compactionStep() {
        guard let log, log.compaction != nil else { return }
        do {
            if try log.continueCompaction(from: engine, now: currentTimeMs()) {
                // The walk is done: the new file is fsynced off the loop, then replaces the log.
                let bound = NIOLoopBound(self, eventLoop: loop)
                log.syncCompactionFile { ok in bound.eventLoop.execute { bound.value.compactionSynced(ok) } }
            } else {
                scheduleCompactionStep()
            }
        } catch {
            compactionFailed(error)
        }
    }

    private func compactionSynced(_ ok: Bool) {
        guard let log, log.compaction != nil else { return }
        do {
            guard ok else {
                compactionFailed(SessiondError("fsync of the compacted log failed"))
                return
            }
            try log.finishCompaction(newFileSynced: true)
            compactionsDone += 1
        } catch {
            compactionFailed(error)
        }
    }

    /// The log goes on uncompacted; another try in a minute.
    /// A read that slid a session's expiry; not logged while the log is failing (the
    /// buffer would grow with every read; a restart then sees the last logged access).
    func logTouch(_ id: String, at now: Int64) {
        if logFailure == nil { log?.logTouch(id, at: now) }
    }

    private func logFailed(_ error: any Error) {
        logFailure = "\(error)"
        logError(
            "log write failed: \(error); write commands are refused until the log can be written "
                + "(retried every second), reads are served")
        scheduleLogRetry()
    }

    private func scheduleLogRetry() {
        guard logRetry == nil else { return }
        logRetry = loop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
            logRetry = nil
            guard let log, logFailure != nil else { return }
            do {
                try log.commit()
                logFailure = nil
                logError("the log can be written again: write commands are accepted")
            } catch {
                logFailure = "\(error)"
                scheduleLogRetry()
            }
        }
    }

    private func compactionFailed(_ error: any Error) {
        log?.abandonCompaction()
        compactionRetryAt = currentTimeMs() + 60_000
        logError("log compaction failed, the log goes on as it was: \(error)")
    }

    /// Tells every client the node is stopping and closes them (after the log is written).
    func shutdownClients() {
        for c in connections.values { c.shutdown() }
        connections.removeAll()
    }

    // MARK: info

    func infoText() -> String {
        var lines = [
            "# Server", "redis_version:7.0.0-sessiond", "sessiond_node:\(config.nodeID)", "role:master",
            "uptime_in_seconds:\((currentTimeMs() - startedMs) / 1000)",
            "# Clients", "connected_clients:\(clients)", "pubsub_subscribers:\(subscribers.count)",
            "# Memory", "used_memory:\(engine.usedMemory)", "maxmemory:\(config.maxMemory ?? 0)",
            "maxmemory_policy:\(config.maxMemory != nil || config.maxSessions != nil ? "allkeys-lru" : "noeviction")",
            "# Persistence", "aof_enabled:\(log == nil ? 0 : 1)", "aof_current_size:\(log?.size ?? 0)",
            "aof_rewrite_in_progress:\(log?.compaction == nil ? 0 : 1)", "aof_rewrites:\(compactionsDone)",
            "aof_last_write_status:\(logFailure == nil ? "ok" : "err")",
            "aof_last_write_error:\(String((logFailure ?? "").map { $0.isNewline ? " " : $0 }))",
            "aof_pending_bytes:\(log?.pendingBytes ?? 0)",
            "# Stats", "total_commands_processed:\(commandsTotal)", "expired_keys:\(expiredTotal)",
            "evicted_keys:\(evictedTotal)",
            "# Sessions", "sessions:\(engine.count)", "max_sessions:\(config.maxSessions ?? 0)",
            "# Cluster", "cluster_enabled:\(cluster == nil ? 0 : 1)",
            "cluster_nodes:\(cluster?.ring.members.count ?? 1)",
            "cluster_forward_pointers:\(cluster?.records.forward.count ?? 0)",
            "cluster_pending_copies:\(cluster?.records.pending.count ?? 0)",
            "migrated_out:\(cluster?.migratedOut ?? 0)", "migrated_in:\(cluster?.migratedIn ?? 0)",
        ]
        lines.append("# Keyspace")
        lines.append("db0:keys=\(engine.count),expires=\(engine.count),avg_ttl=0")
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

/// One line to stderr, written at once (a `FILE` opened per call was buffered and never
/// flushed: messages could be lost).
func logError(_ message: String) {
    let line = Array(("sessiond: " + message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
