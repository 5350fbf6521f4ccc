import HouseStore
import NIOCore
import SessionKit

/// The command table of a node. Replies follow RESP2; the session commands are documented
/// in the README ("sessiond commands").
extension NodeServer {
    /// Runs one request and writes its reply: the table says whether it may run (auth,
    /// subscriber mode, the session's owner, a migration in flight) and checks its arity.
    /// Session reads are written straight from the stored session (the hot path: no reply
    /// tree, no unpacking); the rest go through their handler and a `RESPReply`.
    /// `now` is the batch's time: the requests of one read run at one instant, as Redis
    /// does per event-loop turn (one clock read per batch, not per request).
    func execute(_ request: RESPRequest, from c: Connection, now: Int64, into out: inout RESPWriter) {
        commandsTotal += 1
        let name = request.upperText(0)
        let a = request.arguments
        let spec = NodeServer.commands[name]
        if let refused = admit(spec, name, a, from: c, now: now) {
            refused.encode(into: &out)
            return
        }
        guard let spec else {
            out.error("ERR unknown command '\(String(name.prefix(64)))'")
            return
        }
        guard a.count >= spec.minArgs else {
            out.error("ERR wrong number of arguments for '\(name.lowercased())': \(spec.usage)")
            return
        }
        if let run = spec.run {
            run(self, a, c, now).encode(into: &out)
            return
        }
        // SESSION.GET and SESSION.PEEK.
        let id = a.text(0)
        let touch = name == "SESSION.GET"
        let (s, events) = engine.read(id, now: now, touch: touch)
        publish(events)
        guard let s else {
            out.null()
            return
        }
        if touch { logTouch(id, at: now) }
        Wire.writeSession(s, now: now, into: &out)
    }

    /// Whether a command may run here now: authentication, subscriber mode, and in a
    /// cluster the session's owner (`MOVED`) and migrations in flight. Nil: it may.
    private func admit(_ spec: CommandSpec?, _ name: String, _ a: RESPRequest, from c: Connection, now: Int64)
        -> RESPReply?
    {
        if config.password != nil && !c.authenticated && spec?.beforeAuth != true {
            return .error("NOAUTH Authentication required.")
        }
        if c.subscribed && spec?.subscriber != true {
            return .error("ERR only (UN)SUBSCRIBE / PING / QUIT are allowed in this context")
        }
        if let failure = logFailure, spec?.writes == true { return Self.logRefusal(failure) }
        guard let spec, let cl = cluster, !a.isEmpty else { return nil }
        let routed =
            switch spec.routing {
            case .local: false
            case .bySession: true
            case .bySessionWhenOne: a.count == 1
            }
        guard routed else { return nil }
        let id = a.text(0)
        if let redirect = route(id, now: now) { return redirect }
        if cl.migrating.contains(id) && !spec.whileMigrating {
            return .error("TRYAGAIN the session is being migrated; retry in a moment")
        }
        return nil
    }

    /// The reply to a write while the log cannot be written (Redis says MISCONF too).
    static func logRefusal(_ failure: String) -> RESPReply {
        .error(
            "MISCONF sessiond cannot write its append-only log (\(failure)): write commands are refused until it can; "
                + "reads are served")
    }

    /// Every command a node knows, by name.
    static let commands: [String: CommandSpec] = Dictionary(
        uniqueKeysWithValues: commandList.map { ($0.name, $0) })

    static let commandList: [CommandSpec] = [
        CommandSpec(
            "PING", minArgs: 0, usage: "PING [message]", routing: .local, beforeAuth: true, subscriber: true,
            run: { $0.ping($1, $2, $3) }),
        CommandSpec("ECHO", minArgs: 1, usage: "ECHO message", routing: .local, run: { $0.echo($1, $2, $3) }),
        CommandSpec(
            "QUIT", minArgs: 0, usage: "QUIT", routing: .local, beforeAuth: true, subscriber: true,
            run: { $0.quit($1, $2, $3) }),
        CommandSpec(
            "AUTH", minArgs: 1, usage: "AUTH [user] password", routing: .local, beforeAuth: true,
            run: { $0.auth($1, $2, $3) }),
        CommandSpec(
            "HELLO", minArgs: 0, usage: "HELLO [2]", routing: .local, beforeAuth: true, run: { $0.hello($1, $2, $3) }),
        CommandSpec("SELECT", minArgs: 0, usage: "SELECT 0", routing: .local, run: { $0.select($1, $2, $3) }),
        CommandSpec("CLIENT", minArgs: 0, usage: "CLIENT ...", routing: .local, run: { $0.client($1, $2, $3) }),
        CommandSpec("COMMAND", minArgs: 0, usage: "COMMAND", routing: .local, run: { $0.commandList($1, $2, $3) }),
        CommandSpec("CONFIG", minArgs: 0, usage: "CONFIG GET name", routing: .local, run: { $0.configGet($1, $2, $3) }),
        CommandSpec("INFO", minArgs: 0, usage: "INFO", routing: .local, run: { $0.info($1, $2, $3) }),
        CommandSpec("NODE.INFO", minArgs: 0, usage: "NODE.INFO", routing: .local, run: { $0.info($1, $2, $3) }),
        CommandSpec(
            "SESSION.COUNT", minArgs: 0, usage: "SESSION.COUNT", routing: .local, run: { $0.count($1, $2, $3) }),
        CommandSpec(
            "CLUSTER.NODES", minArgs: 0, usage: "CLUSTER.NODES", routing: .local, run: { $0.clusterNodes($1, $2, $3) }),
        CommandSpec(
            "CLUSTER.RESTORE", minArgs: 7,
            usage: "CLUSTER.RESTORE id created last max-inactive deadline principal n [name value ...]",
            routing: .local, writes: true, run: { $0.clusterRestore($1, $2, $3) }),
        CommandSpec(
            "CLUSTER.COMMIT", minArgs: 1, usage: "CLUSTER.COMMIT id [last-access-ms]", routing: .local,
            writes: true, run: { $0.clusterCommit($1, $2, $3) }),
        CommandSpec(
            "CLUSTER.WHERE", minArgs: 1, usage: "CLUSTER.WHERE id", routing: .local,
            run: { n, a, _, _ in n.whereIs(a.text(0)) }),
        CommandSpec(
            "CLUSTER.POINT", minArgs: 2, usage: "CLUSTER.POINT id node", routing: .local,
            writes: true, run: { $0.clusterPoint($1, $2, $3) }),
        CommandSpec(
            "CLUSTER.FORGET", minArgs: 2, usage: "CLUSTER.FORGET id node", routing: .local,
            writes: true, run: { $0.clusterForget($1, $2, $3) }),
        CommandSpec(
            "SESSION.MIGRATE", minArgs: 2, usage: "SESSION.MIGRATE id node | SESSION.MIGRATE TO node id [id ...]",
            routing: .bySession, writes: true, run: { $0.migrateUsage($1, $2, $3) }),
        CommandSpec(
            "SESSION.PUT", minArgs: 2,
            usage:
                "SESSION.PUT id ttl [PRINCIPAL p] [DEADLINE unix-ms] [CREATED unix-ms] [LASTACCESS unix-ms] [ATTR name value ...]",
            routing: .bySession, writes: true, run: { $0.put($1, $2, $3) }),
        CommandSpec(
            "SESSION.GET", minArgs: 1, usage: "SESSION.GET id", routing: .bySession, whileMigrating: true, run: nil),
        CommandSpec(
            "SESSION.PEEK", minArgs: 1, usage: "SESSION.PEEK id", routing: .bySession, whileMigrating: true, run: nil),
        CommandSpec(
            "SESSION.SETATTR", minArgs: 3, usage: "SESSION.SETATTR id name value", routing: .bySession,
            writes: true, run: { $0.setAttribute($1, $2, $3) }),
        CommandSpec(
            "SESSION.DELATTR", minArgs: 2, usage: "SESSION.DELATTR id name", routing: .bySession,
            writes: true, run: { $0.deleteAttribute($1, $2, $3) }),
        CommandSpec(
            "SESSION.TOUCH", minArgs: 1, usage: "SESSION.TOUCH id", routing: .bySession, whileMigrating: true,
            run: { $0.touch($1, $2, $3) }),
        CommandSpec(
            "SESSION.TTL", minArgs: 1, usage: "SESSION.TTL id", routing: .bySession, whileMigrating: true,
            run: { $0.ttl($1, $2, $3) }),
        CommandSpec(
            "SESSION.EXPIRE", minArgs: 2, usage: "SESSION.EXPIRE id seconds", routing: .bySession,
            writes: true, run: { $0.expire($1, $2, $3, unitMs: 1000) }),
        CommandSpec(
            "SESSION.PEXPIRE", minArgs: 2, usage: "SESSION.PEXPIRE id milliseconds", routing: .bySession,
            writes: true, run: { $0.expire($1, $2, $3, unitMs: 1) }),
        CommandSpec(
            "SESSION.DEL", minArgs: 1, usage: "SESSION.DEL id [id ...]", routing: .bySessionWhenOne,
            writes: true, run: { $0.delete($1, $2, $3) }),
        CommandSpec(
            "SESSION.LOGOUT", minArgs: 1, usage: "SESSION.LOGOUT principal", routing: .local,
            writes: true, run: { $0.logout($1, $2, $3) }),
        CommandSpec(
            "SESSION.SCAN", minArgs: 1, usage: "SESSION.SCAN cursor [MATCH pattern] [PRINCIPAL p] [COUNT n]",
            routing: .local, run: { $0.scan($1, $2, $3) }),
        CommandSpec(
            "SUBSCRIBE", minArgs: 1, usage: "SUBSCRIBE channel [channel ...]", routing: .local, subscriber: true,
            run: { $0.subscribe($1, $2, $3) }),
        CommandSpec(
            "UNSUBSCRIBE", minArgs: 0, usage: "UNSUBSCRIBE [channel ...]", routing: .local, subscriber: true,
            run: { $0.unsubscribe($1, $2, $3) }),
    ]

    /// Commands whose reply waits for another node (`SESSION.MIGRATE`); nil for the rest.
    /// `SESSION.MIGRATE id node` replies `+OK` or an error (`MOVED` when the session is
    /// elsewhere); `SESSION.MIGRATE TO node id [id ...]` (drains) replies one status per id.
    func deferred(_ request: RESPRequest, from c: Connection) -> EventLoopFuture<RESPReply>? {
        guard request.count >= 3, request.is(0, "SESSION.MIGRATE"), c.authenticated, !c.subscribed else { return nil }
        commandsTotal += 1
        if let failure = logFailure { return loop.makeSucceededFuture(Self.logRefusal(failure)) }
        let now = currentTimeMs()
        let a = (1..<request.count).map(request.text)
        if a[0].uppercased() == "TO" {
            return migrate(Array(a[2...]), to: a[1], now: now).assumeIsolated().map { .array($0.map(\.reply)) }
                .nonisolated()
        }
        guard a.count == 2 else { return nil }
        if let redirect = route(a[0], now: now) { return loop.makeSucceededFuture(redirect) }
        return migrate([a[0]], to: a[1], now: now).assumeIsolated().map { $0.first?.reply ?? .error("ERR internal") }
            .nonisolated()
    }

}

/// Compares secrets without an early exit on the first difference.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
    return diff == 0
}

/// The handlers of the command table, one per command (`CommandSpec.run`).
extension NodeServer {
    func ping(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return a.isEmpty ? .simple("PONG") : .bulk(a.bytes(0))
    }

    func echo(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        .bulk(a.bytes(0))
    }

    func quit(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        c.closeAfterReply = true
        return .ok
    }

    func auth(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        guard let pw = config.password else { return .error("ERR AUTH called without any password configured") }
        let given = a.text(a.count - 1)
        guard constantTimeEqual(given, pw) else {
            return .error("WRONGPASS invalid username-password pair or user is disabled.")
        }
        c.authenticated = true
        return .ok
    }

    func hello(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        if !a.isEmpty, a.text(0) != "2" {
            return .error("NOPROTO sessiond speaks RESP2 only; use HELLO 2 or no HELLO")
        }
        if config.password != nil && !c.authenticated {
            return .error("NOAUTH HELLO must be called with AUTH, or AUTH first")
        }
        return .array([
            .bulk("server"), .bulk("sessiond"), .bulk("version"), .bulk("0.1"), .bulk("proto"), .integer(2),
            .bulk("mode"), .bulk(cluster == nil ? "standalone" : "cluster"), .bulk("role"), .bulk("master"),
        ])
    }

    func select(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return !a.isEmpty && a.text(0) == "0" ? .ok : .error("ERR sessiond has one database (0)")
    }

    // CLIENT, COMMAND and CONFIG: enough for redis-cli and redis-benchmark to start;
    // sessiond has no server config to change.
    func client(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply { .ok }
    func commandList(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply { .array([]) }
    func configGet(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        a.count >= 2 ? .array([.bulk(a.bytes(1)), .bulk("")]) : .ok
    }

    func info(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return .bulk(infoText())
    }

    func count(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return .integer(Int64(engine.count))
    }

    func clusterNodes(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return .bulk(clusterNodesText())
    }

    func clusterRestore(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return restorePending(a.all[...])
    }

    func clusterCommit(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return commitPending(a.text(0), lastAccess: a.count > 1 ? a.integer(1) : nil, now: now)
    }

    func clusterPoint(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return point(a.text(0), to: a.text(1))
    }

    func clusterForget(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return forget(a.text(0), node: a.text(1))
    }

    func migrateUsage(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        return .error(
            "ERR wrong number of arguments for 'session.migrate': SESSION.MIGRATE id node | SESSION.MIGRATE TO node id [id ...]"
        )
    }

    func put(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        guard let ttl = a.integer(1) else {
            return .error("ERR ttl must be an integer number of seconds (-1: no sliding expiry)")
        }
        // The attributes go straight into the stored form.
        let (ttlMs, overflow) = ttl.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return .error("ERR ttl is too large") }
        var s = StoredSession(
            id: a.text(0), principal: nil, createdMs: now, lastAccessMs: now, maxInactiveMs: ttl < 0 ? -1 : ttlMs)
        var i = 2
        while i < a.count {
            if a.is(i, "ATTR"), i + 2 < a.count {
                s.appendAttribute(name: a[i + 1], value: a[i + 2])
                i += 3
            } else if a.is(i, "PRINCIPAL"), i + 1 < a.count {
                s.principal = a.text(i + 1)
                i += 2
            } else if a.is(i, "DEADLINE"), i + 1 < a.count {
                guard let d = a.integer(i + 1), d >= 0 else {
                    return .error("ERR DEADLINE takes unix milliseconds")
                }
                s.absoluteDeadlineMs = d
                i += 2
            } else if a.is(i, "CREATED") || a.is(i, "LASTACCESS"), i + 1 < a.count {
                // Times of a session brought from another store (migration).
                guard let t = a.integer(i + 1), t >= 0, t <= now + 60_000 else {
                    return .error("ERR \(a.text(i).uppercased()) takes unix milliseconds, not in the future")
                }
                if a.is(i, "CREATED") { s.createdMs = t } else { s.lastAccessMs = t }
                i += 2
            } else {
                return .error("ERR syntax error near '\(a.text(i))'")
            }
        }
        let events = engine.put(s, now: now)
        log?.logPut(s)  // the record as stored (`publish` does not log creations)
        publish(events)
        return .ok
    }

    func setAttribute(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        let (s, events) = engine.modify(a.text(0), now: now) { $0.setAttribute(name: a[1], value: a[2]) }
        publish(events)
        if let s { log?.logPut(s) }
        return .integer(s == nil ? 0 : 1)
    }

    func deleteAttribute(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        var removed = false
        let (s, events) = engine.modify(a.text(0), now: now) { removed = $0.removeAttribute(name: a[1]) }
        publish(events)
        if let s { if removed { log?.logPut(s) } else { logTouch(s.id, at: now) } }
        return .integer(s != nil && removed ? 1 : 0)
    }

    func touch(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        let (s, events) = engine.read(a.text(0), now: now, touch: true)  // no unpacking: only whether it exists
        publish(events)
        if s != nil { logTouch(a.text(0), at: now) }
        return .integer(s == nil ? 0 : 1)
    }

    func ttl(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        let (ttl, events) = engine.ttl(a.text(0), now: now)
        publish(events)
        return .integer(ttl ?? -2)
    }

    /// SESSION.EXPIRE (`unitMs` 1000) and SESSION.PEXPIRE (1).
    func expire(_ a: RESPRequest, _ c: Connection, _ now: Int64, unitMs: Int64) -> RESPReply {
        guard let v = Int64(a.text(1)) else { return .error("ERR value is not an integer") }
        let ms = v.multipliedReportingOverflow(by: unitMs)
        let (ok, events) = engine.expire(
            a.text(0), inMs: ms.overflow ? (v > 0 ? .max : .min) : ms.partialValue, now: now)
        publish(events)
        if ok && v > 0 { persist(a.text(0)) }
        return .integer(ok ? 1 : 0)
    }

    func delete(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        let (n, events) = engine.delete((0..<a.count).map(a.text), now: now)
        publish(events)
        return .integer(Int64(n))
    }

    func logout(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        let (_, events) = engine.logout(principal: a.text(0), now: now)
        publish(events)
        return .array(events.map { .bulk($0.id) })
    }

    func scan(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        guard let cursor = Int(a.text(0)), cursor >= 0 else { return .error("ERR invalid cursor") }
        var match: String? = nil
        var principal: String? = nil
        var count = 100
        var i = 1
        while i + 1 < a.count {
            switch a.text(i).uppercased() {
            case "MATCH": match = a.text(i + 1)
            case "PRINCIPAL": principal = a.text(i + 1)
            case "COUNT":
                guard let n = Int(a.text(i + 1)), n > 0 else { return .error("ERR COUNT must be positive") }
                count = min(n, 10_000)
            default: return .error("ERR syntax error near '\(a.text(i))'")
            }
            i += 2
        }
        if i < a.count { return .error("ERR syntax error") }
        let (next, page) = engine.scan(cursor: cursor, match: match, principal: principal, count: count, now: now)
        return Wire.scanReply(next: next, rows: page, now: now)
    }

    func subscribe(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        c.subscribed = true
        subscribers[ObjectIdentifier(c)] = c
        // One confirmation per channel; only the event channel ever carries messages.
        return .sequence(
            (0..<a.count).map { .array([.bulk("subscribe"), .bulk(a.bytes($0)), .integer(Int64($0 + 1))]) })
    }

    func unsubscribe(_ a: RESPRequest, _ c: Connection, _ now: Int64) -> RESPReply {
        c.subscribed = false
        subscribers[ObjectIdentifier(c)] = nil
        return .array([.bulk("unsubscribe"), a.isEmpty ? .null : .bulk(a.bytes(0)), .integer(0)])
    }
}

/// One command of a node: its name, the arguments it needs and its usage line, where it runs
/// in a cluster, whether it may run before AUTH, in subscriber mode and on a session being
/// migrated, and its handler (nil: the session reads, written straight from the store).
struct CommandSpec: Sendable {
    enum Routing: Sendable {
        /// Runs on the node it was sent to.
        case local
        /// The first argument is a session id: the node holding it answers, others redirect.
        case bySession
        /// Routed like `bySession` when it names one session (SESSION.DEL id).
        case bySessionWhenOne
    }
    let name: String
    let minArgs: Int
    let usage: String
    let routing: Routing
    let beforeAuth: Bool
    let subscriber: Bool
    let whileMigrating: Bool
    /// Changes what the log must keep: refused while the log cannot be written.
    let writes: Bool
    let run: (@Sendable (NodeServer, RESPRequest, Connection, Int64) -> RESPReply)?

    init(
        _ name: String, minArgs: Int, usage: String, routing: Routing, beforeAuth: Bool = false,
        subscriber: Bool = false,
        whileMigrating: Bool = false, writes: Bool = false,
        run: (@Sendable (NodeServer, RESPRequest, Connection, Int64) -> RESPReply)?
    ) {
        self.name = name
        self.minArgs = minArgs
        self.usage = usage
        self.routing = routing
        self.beforeAuth = beforeAuth
        self.subscriber = subscriber
        self.whileMigrating = whileMigrating
        self.writes = writes
        self.run = run
    }
}
