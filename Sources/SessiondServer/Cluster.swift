import HouseStore
import NIOCore
import NIOSSL
import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// Another member of the cluster, as this node sees it.
final class Peer {
    let member: ClusterMember
    /// SwiftNIO on this node's loop: a peer call never blocks it.
    let link: PeerLink
    var up: Bool?
    var sessions: Int?
    var lastError: String?
    var probing = false

    init(member: ClusterMember, password: String?, tls: NIOSSLContext?, loop: EventLoop) {
        self.member = member
        link = PeerLink(
            name: member.id, host: member.host, port: member.port, password: password, tls: tls, loop: loop)
    }
}

/// A command to a peer: its words as bytes.
struct PeerCommand {
    var args: [[UInt8]]
    init(_ words: any PeerWord...) { args = words.map(\.peerBytes) }
    init(_ args: [[UInt8]]) { self.args = args }
}

/// What can be a word of a peer command.
protocol PeerWord { var peerBytes: [UInt8] { get } }
extension String: PeerWord { var peerBytes: [UInt8] { Array(utf8) } }
extension Int64: PeerWord { var peerBytes: [UInt8] { Array(String(self).utf8) } }
extension Int: PeerWord { var peerBytes: [UInt8] { Array(String(self).utf8) } }

/// The node's part of the cluster (ARCHITECTURE.md, README "Cluster and migration").
///
/// Ownership: a session lives on the node that holds it. A new session is created on its
/// **home**, the member `HashRing` picks for its id. When a session moves, the nodes it
/// leaves keep a **forward pointer** to where it went until the home points there itself,
/// so following pointers from the home always ends at the holder (requests get
/// `MOVED node host:port` at each step; clients follow).
///
/// Migration from S to T, in steps that each leave the session findable:
/// 1. S sends `CLUSTER.RESTORE` with the whole session; T keeps it as a **pending** copy
///    (logged, invisible to listings and lookups) and acknowledges.
/// 2. S removes its copy and writes a forward pointer to T, both logged before step 3.
/// 3. S sends `CLUSTER.COMMIT`: T makes the copy live. If that message is lost, S retries
///    COMMIT until it gets an answer (also after a restart), and a request that reaches the
///    pending copy first gets `TRYAGAIN` while T asks the members where the session is
///    (`CLUSTER.WHERE`): a pointer to T makes the copy live; a member that holds the
///    session live means S never let go (its RESTORE reply was lost, a partition) and the
///    copy is dropped. A request alone never makes a copy live: that served the session
///    twice when a RESTORE arrived after S had given up on it.
/// 4. S tells the home (`CLUSTER.POINT`) and drops its own pointer once the home has it.
/// A failure before step 2 leaves the session on S and at most an invisible copy on T that
/// expires with the session's deadline; after step 2 the session is on T. Never neither.
final class ClusterState {
    let selfID: String
    let ring: HashRing
    var peers: [String: Peer] = [:]
    var records = AppendLog.ClusterRecords()
    /// Sessions between steps 1 and 2: mutations wait (`TRYAGAIN`), reads go on.
    var migrating: Set<String> = []
    /// Forward pointers whose COMMIT (and POINT) is not confirmed yet.
    var owed: Set<String> = []
    var retrying = false
    /// Ended sessions to report to their home, batched per home.
    var forgets: [String: [String]] = [:]
    var migratedOut: Int64 = 0
    var migratedIn: Int64 = 0
    /// Pending copies whose fate T is asking the members about (`resolvePending`).
    var resolving: Set<String> = []
    /// Pending copies dropped at their deadline (id → principal, when): a COMMIT that
    /// arrives for one afterwards reports its expiry (the source let go, nobody else will).
    var lapsed: [String: (principal: String?, atMs: Int64)] = [:]

    init(selfID: String, members: [ClusterMember], password: String?, tls: NIOSSLContext?, loop: EventLoop) {
        self.selfID = selfID
        ring = HashRing(members)
        for m in members where m.id != selfID {
            peers[m.id] = Peer(member: m, password: password, tls: tls, loop: loop)
        }
    }

    func home(of id: String) -> ClusterMember? { ring.owner(of: id) }
}

/// What became of one session of a `SESSION.MIGRATE`.
enum MigrateOutcome {
    case moved(confirmed: Bool)
    case skipped(RESPReply)
    case failed(String)

    var reply: RESPReply {
        switch self {
        case .moved(true): return .simple("OK")
        case .moved(false): return .simple("OK moved; the target confirms on the next access")
        case .skipped(let r): return r
        case .failed(let m): return .error("MIGRATEFAILED " + m)
        }
    }
}

extension NodeServer {
    // MARK: routing

    func moved(_ node: String) -> RESPReply {
        let address = cluster?.ring.member(node)?.address ?? "?"
        return .error("MOVED \(node) \(address)")
    }

    /// nil: this node answers for `id`; else the redirect to send.
    func route(_ id: String, now: Int64) -> RESPReply? {
        guard let c = cluster, !engine.contains(id) else { return nil }
        if let to = c.records.forward[id] { return moved(to) }
        if c.records.pending[id] != nil {
            // Followed a pointer here (the COMMIT was lost), or a RESTORE outlived its
            // source's wait: only the members can tell. Meanwhile, retry.
            resolvePending(id)
            return .error("TRYAGAIN the session is arriving from another node; retry in a moment")
        }
        guard let home = c.home(of: id), home.id != c.selfID else { return nil }
        // Not here, no pointer, not home: a home pointer to this node would be stale.
        queueForget(id, home: home.id)
        return moved(home.id)
    }

    /// Asks every member where `id` is (`CLUSTER.WHERE`) and settles the pending copy: a
    /// member pointing here (the source let go) makes it live; a member holding it live and
    /// not moving it (the source gave up on the move and kept it) drops it; a member still
    /// handing it over (its RESTORE reply on the way) or no answer (a partition) leaves it
    /// pending, and requests keep getting `TRYAGAIN` until COMMIT, an answer or the
    /// session's deadline. (Dropping the copy of a move still under way lost the session:
    /// the source let go a moment later and its COMMIT found nothing. A client following a
    /// stale redirect got there first; the 10-minute soak found it.)
    func resolvePending(_ id: String) {
        guard let c = cluster, c.records.pending[id] != nil, !c.resolving.contains(id) else { return }
        c.resolving.insert(id)
        let asks = c.peers.values.map { call($0, [PeerCommand("CLUSTER.WHERE", id)]) }
        EventLoopFuture.whenAllComplete(asks, on: loop).assumeIsolated().whenSuccess { [self] results in
            c.resolving.remove(id)
            guard let p = c.records.pending[id] else { return }
            var pointsHere = false
            var heldElsewhere = false
            var moving = false
            for case .success(.success(let replies)) in results {
                guard let r = replies.first else { continue }
                if r.int == 2 {
                    moving = true
                } else if r.int == 1 {
                    heldElsewhere = true
                } else if r.text == c.selfID {
                    pointsHere = true
                }
            }
            if moving {
                // Its source's COMMIT (or its failure, then a later request) settles it.
            } else if heldElsewhere {
                c.records.pending[id] = nil
                log?.logUnpend(id)
            } else if pointsHere {
                promote(p, now: currentTimeMs())
            }
            do { try commitLog() } catch { logError("log write failed settling a pending copy: \(error)") }
        }
    }

    /// `CLUSTER.WHERE id`: 2 when this node holds the session and is moving it (step 1),
    /// 1 when it holds it live, the node its forward pointer names, or 0. Changes nothing.
    func whereIs(_ id: String) -> RESPReply {
        guard let c = cluster else { return .error("ERR this node is not in a cluster") }
        if engine.contains(id) { return .integer(c.migrating.contains(id) ? 2 : 1) }
        if let to = c.records.forward[id] { return .bulk(Array(to.utf8)) }
        return .integer(0)
    }

    func promote(_ p: HouseSession, now: Int64) {
        guard let c = cluster else { return }
        c.records.pending[p.id] = nil
        log?.logUnpend(p.id)
        setForward(p.id, to: nil)
        guard (p.deadlineMs ?? .max) > now else {
            // It expired on the way: say so, as the source would have (a watcher that saw
            // it leave must see it end).
            publish([
                EngineEvent(
                    kind: .expired, id: p.id, principal: p.principal, node: c.selfID, timeMs: now,
                    reason: "during its move")
            ])
            return
        }
        publish(engine.restore(p, now: now))
        persist(p.id)
        c.migratedIn += 1
    }

    // MARK: the target's side

    /// `CLUSTER.RESTORE id created last max-inactive deadline principal n (name value)*`
    func restorePending(_ fields: ArraySlice<[UInt8]>) -> RESPReply {
        guard let c = cluster else { return .error("ERR this node is not in a cluster") }
        crashIf("target-before-restore")
        guard let s = AppendLog.session(fields: fields) else { return .error("ERR malformed CLUSTER.RESTORE") }
        c.records.pending[s.id] = s
        log?.logPending(s)
        if config.fault == "target-after-restore" {
            try? commitLog()
            try? log?.sync()
            crashIf("target-after-restore")
        }
        return .ok
    }

    /// `CLUSTER.COMMIT id [last-access-ms]`: 1 when this node holds the session now, the
    /// node it forwarded it to, or 0 when it knows nothing of it.
    func commitPending(_ id: String, lastAccess: Int64?, now: Int64) -> RESPReply {
        guard let c = cluster else { return .error("ERR this node is not in a cluster") }
        if var p = c.records.pending[id] {
            if let t = lastAccess, t > p.lastAccessMs { p.lastAccessMs = t }
            promote(p, now: now)
        } else if let lapsed = c.lapsed.removeValue(forKey: id) {
            publish([
                EngineEvent(
                    kind: .expired, id: id, principal: lapsed.principal, node: c.selfID, timeMs: lapsed.atMs,
                    reason: "during its move")
            ])
        } else if let t = lastAccess, engine.contains(id) {
            publish(engine.update(id, now: t) { $0.lastAccessMs = max($0.lastAccessMs, t) }.1)
        }
        if engine.contains(id) { return .integer(1) }
        if let to = c.records.forward[id] { return .bulk(to) }
        return .integer(0)
    }

    /// Changes a forward pointer and logs the change; nothing when it already is so.
    func setForward(_ id: String, to node: String?) {
        guard let c = cluster, c.records.forward[id] != node else { return }
        c.records.forward[id] = node
        log?.logForward(id, to: node)
    }

    /// `CLUSTER.POINT id node` (at the home): the session lives on `node` now.
    func point(_ id: String, to node: String) -> RESPReply {
        guard let c = cluster else { return .error("ERR this node is not in a cluster") }
        guard c.ring.member(node) != nil else { return .error("ERR unknown node '\(node)'") }
        setForward(id, to: node == c.selfID || engine.contains(id) ? nil : node)
        return .ok
    }

    /// `CLUSTER.FORGET id node`: `node` no longer has the session; drop a pointer to it.
    func forget(_ id: String, node: String) -> RESPReply {
        guard let c = cluster else { return .error("ERR this node is not in a cluster") }
        guard c.records.forward[id] == node else { return .integer(0) }
        setForward(id, to: nil)
        return .integer(1)
    }

    func queueForget(_ id: String, home: String) {
        guard let c = cluster else { return }
        if c.forgets.isEmpty {
            loop.assumeIsolated().execute { [self] in flushForgets() }
        }
        c.forgets[home, default: []].append(id)
    }

    func flushForgets() {
        guard let c = cluster else { return }
        let batches = c.forgets
        c.forgets = [:]
        for (home, ids) in batches {
            guard let peer = c.peers[home] else { continue }
            // Best effort: a stale pointer costs one hop.
            _ = call(peer, ids.map { PeerCommand("CLUSTER.FORGET", $0, c.selfID) })
        }
    }

    /// Sessions that ended here but have another home: their home may point here.
    func noteEnded(_ events: [EngineEvent]) {
        guard let c = cluster else { return }
        for e in events where e.kind != .created && e.kind != .migrated {
            if let home = c.home(of: e.id), home.id != c.selfID { queueForget(e.id, home: home.id) }
        }
    }

    // MARK: the source's side

    /// Moves the sessions `ids` (held here) to `target`; one outcome per id, in order.
    func migrate(_ ids: [String], to target: String, now: Int64) -> EventLoopFuture<[MigrateOutcome]> {
        guard let c = cluster else {
            return loop.makeSucceededFuture(ids.map { _ in .failed("this node is not in a cluster") })
        }
        guard let peer = c.peers[target] else {
            let why =
                target == c.selfID
                ? "already on \(target)"
                : "unknown node '\(target)' (members: \(c.ring.members.map(\.id).joined(separator: ", ")))"
            return loop.makeSucceededFuture(
                ids.map { _ in target == c.selfID ? .skipped(.simple("OK already there")) : .failed(why) })
        }
        var outcomes: [MigrateOutcome?] = Array(repeating: nil, count: ids.count)
        var moving: [(index: Int, session: HouseSession)] = []
        for (i, id) in ids.enumerated() {
            if c.migrating.contains(id) {
                outcomes[i] = .skipped(.error("TRYAGAIN a migration of this session is in progress"))
                continue
            }
            let (s, events) = engine.get(id, now: now, touch: false)
            publish(events)
            guard let s else {
                outcomes[i] = .skipped(
                    c.records.forward[id].map { moved($0) } ?? .error("NOTFOUND no such session on \(c.selfID)"))
                continue
            }
            moving.append((i, s))
            c.migrating.insert(id)
        }
        guard !moving.isEmpty else { return loop.makeSucceededFuture(outcomes.map { $0 ?? .failed("internal") }) }

        // Step 1: the target keeps pending copies.
        let restores = moving.map { PeerCommand([Array("CLUSTER.RESTORE".utf8)] + AppendLog.fields(of: $0.session)) }
        var acked = call(peer, restores)
        if config.fault == "source-slow-handover" {
            // Test hook: the acknowledgement is acted on 3 s late (a busy source), so a
            // request can reach the target's pending copy while the move is under way.
            acked = acked.assumeIsolated().flatMap { [loop] r in
                loop.scheduleTask(in: .seconds(3)) { r }.futureResult
            }.nonisolated()
        }
        return acked.assumeIsolated().flatMap {
            [self] (result: Result<[RESPReply], PeerError>) -> EventLoopFuture<[MigrateOutcome]> in
            var committed: [(index: Int, id: String, lastAccess: Int64)] = []
            let now = currentTimeMs()
            switch result {
            case .failure(let e):
                for m in moving {
                    c.migrating.remove(m.session.id)
                    outcomes[m.index] = .failed(
                        "target \(target) unreachable: \(e.description); the session stays here")
                }
            case .success(let replies):
                for (m, r) in zip(moving, replies) {
                    c.migrating.remove(m.session.id)
                    if let err = r.errorMessage {
                        outcomes[m.index] = .failed("target \(target) refused: \(err)")
                        continue
                    }
                    crashIf("source-after-ack")
                    // Step 2: let go, with a pointer to the new holder (both logged before step 3).
                    let (taken, ended) = engine.take(m.session.id, now: now)
                    publish(ended)
                    guard let current = taken else {
                        // Ended while the copy travelled (expired, deleted): nothing to move.
                        outcomes[m.index] = .skipped(.error("NOTFOUND the session ended during the move"))
                        continue
                    }
                    log?.logDelete(current.id)
                    setForward(current.id, to: target)
                    c.owed.insert(current.id)
                    c.migratedOut += 1
                    committed.append((m.index, current.id, current.lastAccessMs))
                    publish([
                        EngineEvent(
                            kind: .migrated, id: current.id, principal: current.principal, node: c.selfID,
                            timeMs: now, reason: "to \(target)")
                    ])
                }
            }
            do { try commitLog() } catch { logError("log write failed during migration: \(error)") }
            crashIf("source-after-delete")
            if committed.isEmpty || config.fault == "source-drop-commit" {
                for m in committed { outcomes[m.index] = .moved(confirmed: false) }
                return loop.makeSucceededFuture(outcomes.map { $0 ?? .failed("internal") })
            }
            // Step 3 (and 4 once confirmed).
            return confirm(committed.map { ($0.id, $0.lastAccess) }, at: peer).assumeIsolated().map { confirmed in
                for m in committed { outcomes[m.index] = .moved(confirmed: confirmed.contains(m.id)) }
                return outcomes.map { $0 ?? .failed("internal") }
            }.nonisolated()
        }.nonisolated()
    }

    /// Sends COMMIT for forwarded sessions; settles pointers by the answers. The future
    /// holds the ids the target confirmed.
    func confirm(_ items: [(id: String, lastAccess: Int64?)], at peer: Peer) -> EventLoopFuture<Set<String>> {
        guard let c = cluster else { return loop.makeSucceededFuture([]) }
        let commands = items.map { item in
            item.lastAccess.map { PeerCommand("CLUSTER.COMMIT", item.id, $0) } ?? PeerCommand("CLUSTER.COMMIT", item.id)
        }
        return call(peer, commands).assumeIsolated().map { [self] result in
            var confirmed = Set<String>()
            guard case .success(let replies) = result else { return confirmed }
            var points: [String: [PeerCommand]] = [:]
            for (item, r) in zip(items, replies) {
                let id = item.id
                guard c.records.forward[id] == peer.member.id else {
                    c.owed.remove(id)
                    continue
                }
                let home = c.home(of: id)?.id
                if r.int == 1 || r.text.map({ c.ring.member($0) != nil }) == true {
                    confirmed.insert(id)
                    c.owed.remove(id)
                    let holder = r.int == 1 ? peer.member.id : (r.text ?? peer.member.id)
                    if home == c.selfID {
                        if holder != peer.member.id { setForward(id, to: holder) }
                    } else if home == holder {
                        setForward(id, to: nil)
                    } else if let home {
                        points[home, default: []].append(PeerCommand("CLUSTER.POINT", id, holder))
                    }
                } else if r.int == 0 {
                    // The target holds nothing: the session ended there. Drop the pointer.
                    c.owed.remove(id)
                    setForward(id, to: nil)
                }
            }
            for (home, commands) in points {
                guard let homePeer = c.peers[home] else { continue }
                call(homePeer, commands).assumeIsolated().whenSuccess { [self] result in
                    guard case .success(let replies) = result else { return }
                    for (cmd, r) in zip(commands, replies) where r.errorMessage == nil {
                        let id = String(decoding: cmd.args[1], as: UTF8.self)
                        setForward(id, to: nil)
                    }
                    do { try commitLog() } catch { logError("\(error)") }
                }
            }
            do { try commitLog() } catch { logError("\(error)") }
            return confirmed
        }.nonisolated()
    }

    /// Retries owed confirmations (after a lost COMMIT, a restart, a peer that was down).
    func retryOwed() {
        guard let c = cluster, !c.owed.isEmpty, !c.retrying else { return }
        var byTarget: [String: [(id: String, lastAccess: Int64?)]] = [:]
        for id in c.owed.prefix(5000) {
            guard let to = c.records.forward[id] else {
                c.owed.remove(id)
                continue
            }
            if c.peers[to]?.up != false { byTarget[to, default: []].append((id, nil)) }
        }
        guard !byTarget.isEmpty else { return }
        c.retrying = true
        let futures = byTarget.compactMap { (to, items) in c.peers[to].map { confirm(items, at: $0) } }
        EventLoopFuture.andAllComplete(futures, on: loop).assumeIsolated().whenComplete { [self] _ in
            cluster?.retrying = false
        }
    }

    // MARK: health

    /// Once a second: every peer answers `SESSION.COUNT` or is down; pending copies past
    /// their deadline go; owed confirmations are retried.
    func heartbeat() {
        guard let c = cluster else { return }
        let now = currentTimeMs()
        let gone = c.records.pending.filter { ($0.value.deadlineMs ?? .max) <= now }
        for (id, p) in gone {
            c.records.pending[id] = nil
            c.lapsed[id] = (p.principal, now)
            log?.logUnpend(id)
        }
        // A COMMIT comes within moments of its RESTORE; a minute covers a slow peer. (An
        // orphaned copy's source reports the expiry itself and sends no COMMIT.)
        c.lapsed = c.lapsed.filter { now - $0.value.atMs < 60_000 }
        for peer in c.peers.values where !peer.probing {
            peer.probing = true
            call(peer, [PeerCommand("SESSION.COUNT")]).assumeIsolated().whenComplete { [self] result in
                peer.probing = false
                let wasUp = peer.up
                switch result {
                case .success(.success(let r)) where r.first?.int != nil:
                    peer.up = true
                    peer.sessions = r.first?.int.map { Int($0) }
                    peer.lastError = nil
                case .success(.success(let r)):
                    peer.up = false
                    peer.lastError = r.first?.errorMessage ?? "unexpected reply"
                case .success(.failure(let e)):
                    peer.up = false
                    peer.lastError = e.description
                case .failure(let e):
                    peer.up = false
                    peer.lastError = "\(e)"
                }
                if wasUp != true && peer.up == true { retryOwed() }
            }
        }
        retryOwed()
        do { try commitLog() } catch { logError("\(error)") }
    }

    /// A pipeline to a peer over its link; the result comes back on the loop.
    func call(_ peer: Peer, _ commands: [PeerCommand]) -> EventLoopFuture<Result<[RESPReply], PeerError>> {
        peer.link.call(commands.map(\.args))
    }

    /// `CLUSTER.NODES`: one line per member: `id host:port flags sessions share`.
    func clusterNodesText() -> String {
        let shares: [String: Double]
        let members: [ClusterMember]
        if let c = cluster {
            members = c.ring.members
            shares = ringShares(c.ring)
        } else {
            members = [ClusterMember(id: config.nodeID, host: config.advertisedHost, port: config.advertisedPort)]
            shares = [config.nodeID: 1]
        }
        return Wire.clusterNodesText(
            members.map { m in
                let me = m.id == (cluster?.selfID ?? config.nodeID)
                let peer = cluster?.peers[m.id]
                let state = me ? "myself,up" : peer?.up == true ? "up" : peer?.up == false ? "down" : "unknown"
                return Wire.NodeLine(
                    member: m, state: state, sessions: me ? engine.count : peer?.sessions, share: shares[m.id] ?? 0)
            })
    }

    func ringShares(_ ring: HashRing) -> [String: Double] {
        if let cached = cachedShares { return cached }
        let s = ring.shares()
        cachedShares = s
        return s
    }

    /// Test hook (`--fault STEP`): die like `kill -9` at a migration step.
    func crashIf(_ step: String) {
        if config.fault == step {
            logError("fault injection: exiting at \(step)")
            _exit(137)
        }
    }
}
