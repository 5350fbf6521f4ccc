import RedisClient
import SessionFormats
import SessionKit

/// What goes wrong with Spring Session's indexed repository in Redis, and the server
/// settings that hurt sessions: leaked principal index members, expiration-set members and
/// `expires:` keys whose session is gone, session hashes with no TTL, notifications off,
/// an eviction policy that throws live sessions away, memory near its limit.
struct RedisDiagnostics: StoreDiagnostics {
    let store: RedisSessionStore

    func diagnose() async -> [Finding] {
        var out: [Finding] = []
        let nodes = await store.resolve()
        for node in nodes {
            // Every master sees the same missing slots: say it once.
            out += await settings(node).filter { f in
                f.check != "cluster-slots" || !out.contains { $0.check == "cluster-slots" }
            }
            guard let schemas = try? await store.schemas(on: node) else { continue }
            for case let spring as SpringSchema in schemas {
                if let f = try? await orphanIndexMembers(spring, node, repair: false).finding { out.append(f) }
                if let f = try? await hashesWithoutTTL(spring, node) { out.append(f) }
                if spring.indexed {
                    if let f = try? await expiresWithoutHash(spring, node, repair: false).finding { out.append(f) }
                    if let f = try? await expirationSetsPointingNowhere(spring, node, repair: false).finding {
                        out.append(f)
                    }
                }
            }
        }
        if let spring = await firstIndexedSpring(nodes) {
            for node in nodes {
                guard
                    let current =
                        (try? await node.client.send(
                            RedisCommand("CONFIG", "GET", "notify-keyspace-events")))?.array?.last?.text
                else { continue }
                // Spring's indexed repository needs E (keyevent), g (del) and x (expired); A
                // stands for g, x and more.
                let has = { (c: Character) in current.contains(c) || (c != "E" && current.contains("A")) }
                let missing = String(["E", "g", "x"].filter { !has($0) })
                guard !missing.isEmpty else { continue }
                out.append(
                    Finding(
                        check: "notifications-off", severity: .error, node: node.name,
                        title:
                            "keyspace notifications lack '\(missing)': indexed Spring Session (\(spring.namespace)) never sees sessions expire, so its index and expiration sets leak and session-destroyed events never fire",
                        count: 1, examples: ["notify-keyspace-events '\(current)'"],
                        fix:
                            "CONFIG SET notify-keyspace-events Egx (and in redis.conf), or `sessionctl watch --enable-notifications`; managed Redis: the provider's parameter group"
                    ))
            }
        }
        return out
    }

    func repair(_ finding: Finding) async throws -> Int {
        var repaired = 0
        for node in await store.resolve() where finding.node == nil || finding.node == node.name {
            for case let spring as SpringSchema in try await store.schemas(on: node) {
                switch finding.check {
                case "spring-orphan-index": repaired += try await orphanIndexMembers(spring, node, repair: true).count
                case "spring-expires-without-session":
                    repaired += try await expiresWithoutHash(spring, node, repair: true).count
                case "spring-expiration-set-orphans":
                    repaired += try await expirationSetsPointingNowhere(spring, node, repair: true).count
                default: break
                }
            }
        }
        return repaired
    }

    private func firstIndexedSpring(_ nodes: [RedisSessionStore.Node]) async -> SpringSchema? {
        for node in nodes {
            for case let s as SpringSchema in (try? await store.schemas(on: node)) ?? [] where s.indexed { return s }
        }
        return nil
    }

    // MARK: server settings

    private func settings(_ node: RedisSessionStore.Node) async -> [Finding] {
        var out: [Finding] = []
        let sent = currentTimeMs()
        if let t = (try? await node.client.send(RedisCommand("TIME")))?.array, t.count == 2,
            let sec = t[0].text.flatMap({ Int64($0) }), let usec = t[1].text.flatMap({ Int64($0) }),
            let skew = Finding.clockSkew(
                node: node.name, serverMs: sec * 1000 + usec / 1000, sentMs: sent, receivedMs: currentTimeMs())
        {
            out.append(skew)
        }
        if let info = (try? await node.client.send(RedisCommand("INFO", "replication")))?.text.map(RedisInfo.parse) {
            // On a master: each replica's state and lag (seconds since its last ack).
            for (k, v) in info where k.hasPrefix("slave") && k.dropFirst(5).allSatisfy(\.isNumber) {
                var fields: [String: String] = [:]
                for pair in v.split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if kv.count == 2 { fields[kv[0]] = kv[1] }
                }
                let lag = fields["lag"].flatMap { Int($0) } ?? 0
                let replica = "\(fields["ip"] ?? "?"):\(fields["port"] ?? "?")"
                if fields["state"] != "online" || lag > 5 {
                    out.append(
                        Finding(
                            check: "replica-lagging", severity: .warning, node: node.name,
                            title:
                                "replica \(replica) is \(fields["state"] == "online" ? "\(lag) s behind" : "not online (\(fields["state"] ?? "?"))"): a failover now loses the newest sessions and logouts",
                            count: 1, examples: [v],
                            fix: "check the replica's load and network; `sessionctl nodes` shows the replicas"))
                }
            }
        }
        if store.router != nil,
            let info = (try? await node.client.send(RedisCommand("CLUSTER", "INFO")))?.text.map(RedisInfo.parse),
            let assigned = info["cluster_slots_assigned"].flatMap({ Int($0) })
        {
            let ok = info["cluster_slots_ok"].flatMap { Int($0) } ?? assigned
            if assigned < 16384 || ok < 16384 || info["cluster_state"] != "ok" {
                out.append(
                    Finding(
                        check: "cluster-slots", severity: .error, node: node.name,
                        title:
                            "the cluster does not serve every hash slot (\(ok) of 16384 ok, state \(info["cluster_state"] ?? "?")): sessions in the others cannot be read or written",
                        count: 16384 - min(ok, assigned), examples: ["cluster_slots_assigned \(assigned)"],
                        fix: "assign the missing slots (redis-cli --cluster fix) or bring their masters back"))
            }
        }
        // An ACL user may not run CONFIG or INFO: then there is nothing to say here.
        if let reply = try? await node.client.send(RedisCommand("CONFIG", "GET", "maxmemory-policy")),
            let policy = reply.array?.last?.text
        {
            if policy.hasPrefix("allkeys-") {
                out.append(
                    Finding(
                        check: "eviction-policy", severity: .warning, node: node.name,
                        title:
                            "maxmemory-policy \(policy) evicts live sessions when memory is full (users are logged out)",
                        count: 1, examples: [policy],
                        fix: "use volatile-lru or volatile-ttl (sessions have TTLs), or give Redis more memory"))
            }
            let info = (try? await node.client.send(RedisCommand("INFO", "memory")))?.text.map(RedisInfo.parse) ?? [:]
            let used = info["used_memory"].flatMap { Int64($0) } ?? 0
            let max = info["maxmemory"].flatMap { Int64($0) } ?? 0
            if policy == "noeviction" && max > 0 {
                out.append(
                    Finding(
                        check: "eviction-policy", severity: .warning, node: node.name,
                        title:
                            "maxmemory-policy noeviction: when memory is full, creating a session fails (logins fail)",
                        count: 1, examples: [policy],
                        fix: "use volatile-ttl so the sessions closest to expiry go first, and watch memory"))
            }
            if max > 0 && used * 10 > max * 9 {
                out.append(
                    Finding(
                        check: "memory-near-limit", severity: .warning, node: node.name,
                        title: "memory at \(used * 100 / max)% of maxmemory", count: 1,
                        examples: ["used_memory \(used)", "maxmemory \(max)"],
                        fix:
                            "raise maxmemory or shorten session timeouts; `sessionctl stats` shows the largest sessions"
                    ))
            }
        }
        return out
    }

    // MARK: keyspace scans

    /// Every key matching `pattern` of `type` on the node, page by page.
    private func scan(
        _ node: RedisSessionStore.Node, _ pattern: String, type: String, _ page: ([String]) async throws -> Void
    ) async throws {
        var cursor = "0"
        repeat {
            let reply = try await node.client.send(
                RedisCommand("SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", type)
            ).orThrow()
            guard let parts = reply.array, parts.count == 2 else { return }
            cursor = parts[0].text ?? "0"
            let keys = (parts[1].array ?? []).compactMap(\.text)
            if !keys.isEmpty { try await page(keys) }
        } while cursor != "0"
    }

    /// Which of these session ids have no session hash.
    private func missing(_ ids: [String], _ spring: SpringSchema, _ node: RedisSessionStore.Node) async throws
        -> Set<String>
    {
        guard !ids.isEmpty else { return [] }
        let replies = try await store.execute(ids.map { RedisCommand("EXISTS", spring.key(forID: $0)) }, on: node)
        return Set(zip(ids, replies).filter { Decode.int($0.1) == 0 }.map(\.0))
    }

    struct Tally {
        var count = 0
        var examples: [String] = []
        var finding: Finding?
        mutating func add(_ example: String) {
            count += 1
            if examples.count < 5 { examples.append(example) }
        }
    }

    /// Members of the sets matching `pattern` that name a session (`sessionID` reads a
    /// member) whose hash is gone: tallied, or removed when `repair` (SREM of exactly those,
    /// found gone again just before).
    private func setMembersWithoutSession(
        _ pattern: String, _ spring: SpringSchema, _ node: RedisSessionStore.Node, repair: Bool,
        sessionID: @escaping @Sendable ([UInt8]) -> String?
    ) async throws -> Tally {
        var t = Tally()
        try await scan(node, pattern, type: "set") { keys in
            let members = try await store.execute(keys.map { RedisCommand("SMEMBERS", $0) }, on: node)
            var pairs: [(key: String, member: [UInt8], id: String)] = []
            for (key, reply) in zip(keys, members) {
                for m in reply.array ?? [] {
                    guard let bytes = m.bytes, let id = sessionID(bytes) else { continue }
                    pairs.append((key, bytes, id))
                }
            }
            let gone = try await missing(pairs.map(\.id), spring, node)
            let orphans = pairs.filter { gone.contains($0.id) }
            if repair && !orphans.isEmpty {
                let removed = try await store.execute(
                    orphans.map { RedisCommand([Array("SREM".utf8), Array($0.key.utf8), $0.member]) }, on: node)
                t.count += removed.reduce(0) { $0 + Int(Decode.int($1) ?? 0) }
            } else {
                for o in orphans { t.add("\(o.key) → \(o.id)") }
            }
        }
        return t
    }

    /// Members of the principal index sets whose session is gone (Spring removes them only
    /// when it sees the session expire or be deleted).
    private func orphanIndexMembers(_ spring: SpringSchema, _ node: RedisSessionStore.Node, repair: Bool) async throws
        -> Tally
    {
        var t = try await setMembersWithoutSession(
            Glob.escape("\(spring.namespace):index:") + "*", spring, node, repair: repair
        ) { Decode.userName($0) }
        if !repair && t.count > 0 {
            t.finding = Finding(
                check: "spring-orphan-index", severity: .warning, node: node.name,
                title:
                    "principal index members whose session is gone (the index leaks; findByPrincipalName returns ghosts)",
                count: t.count, examples: t.examples,
                fix:
                    "`sessionctl doctor --fix` removes exactly these members; keep keyspace notifications on so Spring cleans up itself",
                repairable: true)
        }
        return t
    }

    /// Session hashes without a TTL: they never expire (Spring always sets one).
    private func hashesWithoutTTL(_ spring: SpringSchema, _ node: RedisSessionStore.Node) async throws -> Finding? {
        var t = Tally()
        try await scan(node, spring.scanPattern, type: "hash") { keys in
            let sessionKeys = keys.filter { spring.sessionID(forKey: $0) != nil }
            let ttls = try await store.execute(sessionKeys.map { RedisCommand("PTTL", $0) }, on: node)
            for (k, r) in zip(sessionKeys, ttls) where Decode.int(r) == -1 { t.add(k) }
        }
        guard t.count > 0 else { return nil }
        return Finding(
            check: "spring-hash-without-ttl", severity: .error, node: node.name,
            title: "session hashes without a TTL: they never expire (memory leak, sessions that live forever)",
            count: t.count, examples: t.examples,
            fix: "`sessionctl expire ID --in 30m` (or delete them); find what writes sessions without PEXPIRE")
    }

    /// `expires:` shadow keys whose session hash is gone.
    private func expiresWithoutHash(_ spring: SpringSchema, _ node: RedisSessionStore.Node, repair: Bool) async throws
        -> Tally
    {
        var t = Tally()
        let prefix = spring.namespace + ":sessions:expires:"
        try await scan(node, Glob.escape(prefix) + "*", type: "string") { keys in
            let ids = keys.map { String($0.dropFirst(prefix.count)) }
            let gone = try await missing(ids, spring, node)
            let orphans = keys.filter { gone.contains(String($0.dropFirst(prefix.count))) }
            if repair && !orphans.isEmpty {
                let r = try await store.execute(orphans.map { RedisCommand("DEL", $0) }, on: node)
                t.count += r.reduce(0) { $0 + Int(Decode.int($1) ?? 0) }
            } else {
                for k in orphans { t.add(k) }
            }
        }
        if !repair && t.count > 0 {
            t.finding = Finding(
                check: "spring-expires-without-session", severity: .warning, node: node.name,
                title: "expires: keys whose session hash is gone (their expiry fires events for nothing)",
                count: t.count, examples: t.examples, fix: "`sessionctl doctor --fix` deletes exactly these keys",
                repairable: true)
        }
        return t
    }

    /// Members of the minute expiration sets whose session is gone.
    private func expirationSetsPointingNowhere(
        _ spring: SpringSchema, _ node: RedisSessionStore.Node, repair: Bool
    ) async throws -> Tally {
        var t = try await setMembersWithoutSession(
            Glob.escape(spring.namespace + ":expirations:") + "*", spring, node, repair: repair
        ) { member in
            guard let text = Decode.userName(member), text.hasPrefix("expires:") else { return nil }
            return String(text.dropFirst("expires:".count))
        }
        if !repair && t.count > 0 {
            t.finding = Finding(
                check: "spring-expiration-set-orphans", severity: .warning, node: node.name,
                title:
                    "expiration-set members whose session is gone (the clean-up job found nothing to do: did it run?)",
                count: t.count, examples: t.examples, fix: "`sessionctl doctor --fix` removes exactly these members",
                repairable: true)
        }
        return t
    }
}
