import HouseStore
import NIOCore
import SessionKit

/// The command table of a node. Replies follow RESP2; the session commands are documented
/// in the README ("sessiond commands").
extension NodeServer {
    /// Runs one request and writes its reply. Session reads are written straight from the
    /// stored session (the hot path: no reply tree, no unpacking); the rest go through
    /// `command` and a `RESPReply`.
    /// `now` is the batch's time: the requests of one read run at one instant, as Redis
    /// does per event-loop turn (one clock read per batch, not per request).
    func execute(_ request: RESPRequest, from c: Connection, now: Int64, into out: inout RESPWriter) {
        commandsTotal += 1
        let name = request.upperText(0)
        let a = request.arguments
        if let refused = admit(name, a, from: c, now: now) {
            refused.encode(into: &out)
            return
        }
        guard name == "SESSION.GET" || name == "SESSION.PEEK" else {
            command(name, a, from: c, now: now).encode(into: &out)
            return
        }
        guard a.count >= 1 else {
            out.error("ERR wrong number of arguments for '\(name.lowercased())': \(name) id")
            return
        }
        let id = a.text(0)
        let (s, events) = engine.read(id, now: now, touch: name == "SESSION.GET")
        publish(events)
        guard let s else {
            out.null()
            return
        }
        if name == "SESSION.GET" { log?.logTouch(id, at: now) }
        write(s, now: now, into: &out)
    }

    /// Whether a command may run here now: authentication, subscriber mode, and in a
    /// cluster the session's owner (`MOVED`) and migrations in flight. Nil: it may.
    private func admit(_ name: String, _ a: RESPRequest, from c: Connection, now: Int64) -> RESPReply? {
        // Before AUTH only these work.
        if config.password != nil && !c.authenticated && !["AUTH", "HELLO", "QUIT", "PING"].contains(name) {
            return .error("NOAUTH Authentication required.")
        }
        if c.subscribed && !["SUBSCRIBE", "UNSUBSCRIBE", "PING", "QUIT"].contains(name) {
            return .error("ERR only (UN)SUBSCRIBE / PING / QUIT are allowed in this context")
        }
        if let c = cluster, !a.isEmpty, NodeServer.routed.contains(name) || (name == "SESSION.DEL" && a.count == 1) {
            let id = a.text(0)
            if let redirect = route(id, now: now) { return redirect }
            if c.migrating.contains(id) && name != "SESSION.GET" && name != "SESSION.PEEK" && name != "SESSION.TTL"
                && name != "SESSION.TOUCH"
            {
                return .error("TRYAGAIN the session is being migrated; retry in a moment")
            }
        }
        return nil
    }

    /// Every command but the session reads.
    private func command(_ name: String, _ a: RESPRequest, from c: Connection, now: Int64) -> RESPReply {
        func text(_ i: Int) -> String { a.text(i) }
        func arity(_ n: Int, _ usage: String) -> RESPReply? {
            a.count < n ? .error("ERR wrong number of arguments for '\(name.lowercased())': \(usage)") : nil
        }
        switch name {
        case "PING": return a.isEmpty ? .simple("PONG") : .bulk(a.bytes(0))
        case "ECHO": return arity(1, "ECHO message") ?? .bulk(a.bytes(0))
        case "QUIT":
            c.closeAfterReply = true
            return .ok
        case "AUTH":
            if let e = arity(1, "AUTH [user] password") { return e }
            guard let pw = config.password else { return .error("ERR AUTH called without any password configured") }
            let given = text(a.count - 1)
            guard constantTimeEqual(given, pw) else {
                return .error("WRONGPASS invalid username-password pair or user is disabled.")
            }
            c.authenticated = true
            return .ok
        case "HELLO":
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
        case "SELECT": return !a.isEmpty && a.text(0) == "0" ? .ok : .error("ERR sessiond has one database (0)")
        case "CLIENT", "COMMAND", "CONFIG":
            // Enough for redis-cli and redis-benchmark to start; sessiond has no server config to change.
            if name == "CONFIG", a.count >= 2 { return .array([.bulk(a.bytes(1)), .bulk("")]) }
            return name == "COMMAND" ? .array([]) : .ok
        case "INFO": return .bulk(infoText())
        case "NODE.INFO": return .bulk(infoText())
        case "SESSION.COUNT": return .integer(Int64(engine.count))
        case "CLUSTER.NODES": return .bulk(clusterNodesText())
        case "CLUSTER.RESTORE":
            if let e = arity(7, "CLUSTER.RESTORE id created last max-inactive deadline principal n [name value ...]") {
                return e
            }
            return restorePending(a.all[...])
        case "CLUSTER.COMMIT":
            if let e = arity(1, "CLUSTER.COMMIT id [last-access-ms]") { return e }
            return commitPending(text(0), lastAccess: a.count > 1 ? a.integer(1) : nil, now: now)
        case "CLUSTER.POINT":
            if let e = arity(2, "CLUSTER.POINT id node") { return e }
            return point(text(0), to: text(1))
        case "CLUSTER.FORGET":
            if let e = arity(2, "CLUSTER.FORGET id node") { return e }
            return forget(text(0), node: text(1))
        case "SESSION.MIGRATE":
            return .error(
                "ERR wrong number of arguments for 'session.migrate': SESSION.MIGRATE id node | SESSION.MIGRATE TO node id [id ...]"
            )

        case "SESSION.PUT":
            if let e = arity(
                2,
                "SESSION.PUT id ttl [PRINCIPAL p] [DEADLINE unix-ms] [CREATED unix-ms] [LASTACCESS unix-ms] [ATTR name value ...]"
            ) {
                return e
            }
            guard let ttl = a.integer(1) else {
                return .error("ERR ttl must be an integer number of seconds (-1: no sliding expiry)")
            }
            // The attributes go straight into the stored form.
            let (ttlMs, overflow) = ttl.multipliedReportingOverflow(by: 1000)
            guard !overflow else { return .error("ERR ttl is too large") }
            var s = StoredSession(
                id: text(0), principal: nil, createdMs: now, lastAccessMs: now, maxInactiveMs: ttl < 0 ? -1 : ttlMs)
            var i = 2
            while i < a.count {
                if a.is(i, "ATTR"), i + 2 < a.count {
                    s.appendAttribute(name: a[i + 1], value: a[i + 2])
                    i += 3
                } else if a.is(i, "PRINCIPAL"), i + 1 < a.count {
                    s.principal = text(i + 1)
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
                        return .error("ERR \(text(i).uppercased()) takes unix milliseconds, not in the future")
                    }
                    if a.is(i, "CREATED") { s.createdMs = t } else { s.lastAccessMs = t }
                    i += 2
                } else {
                    return .error("ERR syntax error near '\(text(i))'")
                }
            }
            let events = engine.put(s, now: now)
            log?.logPut(s)  // the record as stored (`publish` does not log creations)
            publish(events)
            return .ok
        case "SESSION.SETATTR":
            if let e = arity(3, "SESSION.SETATTR id name value") { return e }
            let (s, events) = engine.modify(text(0), now: now) { $0.setAttribute(name: a[1], value: a[2]) }
            publish(events)
            if let s { log?.logPut(s) }
            return .integer(s == nil ? 0 : 1)
        case "SESSION.DELATTR":
            if let e = arity(2, "SESSION.DELATTR id name") { return e }
            var removed = false
            let (s, events) = engine.modify(text(0), now: now) { removed = $0.removeAttribute(name: a[1]) }
            publish(events)
            if let s { if removed { log?.logPut(s) } else { log?.logTouch(s.id, at: now) } }
            return .integer(s != nil && removed ? 1 : 0)
        case "SESSION.TOUCH":
            if let e = arity(1, "SESSION.TOUCH id") { return e }
            let (s, events) = engine.read(text(0), now: now, touch: true)  // no unpacking: only whether it exists
            publish(events)
            if s != nil { log?.logTouch(text(0), at: now) }
            return .integer(s == nil ? 0 : 1)
        case "SESSION.TTL":
            if let e = arity(1, "SESSION.TTL id") { return e }
            let (ttl, events) = engine.ttl(text(0), now: now)
            publish(events)
            return .integer(ttl ?? -2)
        case "SESSION.EXPIRE", "SESSION.PEXPIRE":
            if let e = arity(2, "\(name) id \(name == "SESSION.EXPIRE" ? "seconds" : "milliseconds")") { return e }
            guard let v = Int64(text(1)) else { return .error("ERR value is not an integer") }
            let ms =
                name == "SESSION.EXPIRE" ? v.multipliedReportingOverflow(by: 1000) : (partialValue: v, overflow: false)
            let (ok, events) = engine.expire(
                text(0), inMs: ms.overflow ? (v > 0 ? .max : .min) : ms.partialValue, now: now)
            publish(events)
            if ok && v > 0 { persist(text(0)) }
            return .integer(ok ? 1 : 0)
        case "SESSION.DEL":
            if let e = arity(1, "SESSION.DEL id [id ...]") { return e }
            let (n, events) = engine.delete((0..<a.count).map(a.text), now: now)
            publish(events)
            return .integer(Int64(n))
        case "SESSION.LOGOUT":
            if let e = arity(1, "SESSION.LOGOUT principal") { return e }
            let (_, events) = engine.logout(principal: text(0), now: now)
            publish(events)
            return .array(events.map { .bulk($0.id) })
        case "SESSION.SCAN":
            if let e = arity(1, "SESSION.SCAN cursor [MATCH pattern] [PRINCIPAL p] [COUNT n]") { return e }
            guard let cursor = Int(text(0)), cursor >= 0 else { return .error("ERR invalid cursor") }
            var match: String? = nil
            var principal: String? = nil
            var count = 100
            var i = 1
            while i + 1 < a.count {
                switch text(i).uppercased() {
                case "MATCH": match = text(i + 1)
                case "PRINCIPAL": principal = text(i + 1)
                case "COUNT":
                    guard let n = Int(text(i + 1)), n > 0 else { return .error("ERR COUNT must be positive") }
                    count = min(n, 10_000)
                default: return .error("ERR syntax error near '\(text(i))'")
                }
                i += 2
            }
            if i < a.count { return .error("ERR syntax error") }
            let (next, page) = engine.scan(cursor: cursor, match: match, principal: principal, count: count, now: now)
            return Wire.scanReply(next: next, rows: page, now: now)
        case "SUBSCRIBE":
            if let e = arity(1, "SUBSCRIBE channel [channel ...]") { return e }
            c.subscribed = true
            subscribers[ObjectIdentifier(c)] = c
            // One confirmation per channel; only the event channel ever carries messages.
            return .sequence(
                (0..<a.count).map { .array([.bulk("subscribe"), .bulk(a.bytes($0)), .integer(Int64($0 + 1))]) })
        case "UNSUBSCRIBE":
            c.subscribed = false
            subscribers[ObjectIdentifier(c)] = nil
            return .array([.bulk("unsubscribe"), a.isEmpty ? .null : .bulk(a.bytes(0)), .integer(0)])
        default:
            return .error("ERR unknown command '\(String(name.prefix(64)))'")
        }
    }

    /// Commands whose first argument is a session id: answered by the node holding it,
    /// redirected (`MOVED`) elsewhere.
    static let routed: Set<String> = [
        "SESSION.PUT", "SESSION.GET", "SESSION.PEEK", "SESSION.SETATTR", "SESSION.DELATTR", "SESSION.TOUCH",
        "SESSION.TTL", "SESSION.EXPIRE", "SESSION.PEXPIRE", "SESSION.MIGRATE",
    ]

    /// Commands whose reply waits for another node (`SESSION.MIGRATE`); nil for the rest.
    /// `SESSION.MIGRATE id node` replies `+OK` or an error (`MOVED` when the session is
    /// elsewhere); `SESSION.MIGRATE TO node id [id ...]` (drains) replies one status per id.
    func deferred(_ request: RESPRequest, from c: Connection) -> EventLoopFuture<RESPReply>? {
        guard request.count >= 3, request.is(0, "SESSION.MIGRATE"), c.authenticated, !c.subscribed else { return nil }
        commandsTotal += 1
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

    /// A whole session (`Wire.writeSession`).
    func write(_ s: StoredSession, now: Int64, into out: inout RESPWriter) {
        Wire.writeSession(s, now: now, into: &out)
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
