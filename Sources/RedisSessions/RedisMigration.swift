import Foundation
import RedisClient
import SessionFormats
import SessionKit

/// Moving sessions inside Redis: between independent nodes with `MIGRATE` (all keys of a
/// session in one atomic `MIGRATE ... KEYS`, TTLs kept, index memberships fixed on both
/// sides, checked afterwards), and in a Redis Cluster by moving hash slots with the
/// documented `CLUSTER SETSLOT` / `MIGRATE` procedure.
extension RedisSessionStore: SessionMigrator, SlotMover {
    public func migrationTargets() async -> [String] {
        let all = await resolve()
        return router != nil || all.count > 1 ? all.map(\.name) : []
    }

    public func migrate(ids: [String], to node: String, options: MigrationOptions) async throws -> MutationResult {
        try await migrate(ids: ids, to: node, replace: options.replace)
    }

    /// The keys `MIGRATE` moves for a session: the schema's keys that exist.
    func migrationPlan(_ located: Located) -> (keys: [String], source: [RedisCommand], target: [RedisCommand]) {
        let s = located.session
        guard let spring = located.schema as? SpringSchema else {
            var keys = [s.key]
            if let fw = located.schema as? FrameworkSchema { keys += fw.framework.extraKeys(s.key) }
            return (keys, [], [])
        }
        var keys = [s.key]
        if spring.indexed { keys.append(spring.expiresPrefix + s.id) }
        var source: [RedisCommand] = []
        var target: [RedisCommand] = []
        if let user = s.user, let index = spring.userIndexKey(user) {
            source.append(RedisCommand("SREM", arguments: [index] + SpringSchema.memberForms(s.id)))
            target.append(RedisCommand("SADD", index, JavaStream.serializedString(s.id)))
        }
        if spring.indexed, let last = s.lastAccessedAtMs, let mi = s.maxInactiveSeconds, mi >= 0 {
            let expiresAt = last + mi * 1000
            let bucket = "\(spring.namespace):expirations:\(SpringSchema.roundUpToNextMinute(expiresAt))"
            source.append(RedisCommand("SREM", arguments: [bucket] + SpringSchema.memberForms("expires:" + s.id)))
            target.append(RedisCommand("SADD", bucket, JavaStream.serializedString("expires:" + s.id)))
            target.append(RedisCommand("PEXPIREAT", bucket, expiresAt + 300_000))
        }
        return (keys, source, target)
    }

    /// Between independent nodes: `MIGRATE host port "" db timeout [REPLACE] [AUTH2 ...] KEYS ...`.
    public func migrate(ids: [String], to nodeName: String, replace: Bool) async throws -> MutationResult {
        let all = await resolve()
        if router != nil {
            throw UnsupportedOperation(
                "in a Redis Cluster a session lives in the hash slot of its keys and moves with that slot "
                    + "(other sessions and keys in the slot move too): use `sessionctl migrate ID... --to NODE --move-slot`, "
                    + "which shows what else is in the slot and asks first")
        }
        guard let target = all.first(where: { $0.name == nodeName }) else {
            throw UnsupportedOperation("unknown node '\(nodeName)'; nodes: \(all.map(\.name).joined(separator: ", "))")
        }
        guard case .tcp(let host, let port) = target.url.endpoint else {
            throw UnsupportedOperation("MIGRATE needs a TCP target")
        }
        let (found, failures) = await find(ids: ids)
        var result = MutationResult(failedNodes: failures)
        let hit = Set(found.map(\.session.id))
        result.notFound = ids.filter { !hit.contains($0) && failures.isEmpty }
        for item in found {
            if item.node.name == target.name {
                result.affected.append(item.session.id)
                continue
            }
            let plan = migrationPlan(item)
            var args: [RedisArgument] = [host, String(port), "", String(target.url.db), "5000"]
            if replace { args.append("REPLACE") }
            args += migrateAuth(target.url)
            args.append("KEYS")
            args += plan.keys.map { $0 as RedisArgument }
            do {
                let reply = try await item.node.client.send(RedisCommand("MIGRATE", arguments: args))
                if let m = reply.errorMessage {
                    let hint =
                        m.contains("BUSYKEY") || m.contains("Target key name is busy")
                        ? " (the target has this session already: --replace overwrites it)" : ""
                    result.failedNodes.append(
                        NodeFailure(node: item.node.name, message: "\(item.session.id): \(m)\(hint)"))
                    continue
                }
                // Memberships on both sides, then the check: on the target, gone from the source.
                if !plan.target.isEmpty { _ = try await target.client.pipeline(plan.target) }
                if !plan.source.isEmpty { _ = try await item.node.client.pipeline(plan.source) }
                let there = try await target.client.send(RedisCommand("EXISTS", item.session.key)).int ?? 0
                let here = try await item.node.client.send(RedisCommand("EXISTS", item.session.key)).int ?? 0
                if there == 1 && here == 0 {
                    result.affected.append(item.session.id)
                    result.keysTouched += plan.keys.count
                } else {
                    result.failedNodes.append(
                        NodeFailure(
                            node: item.node.name,
                            message:
                                "\(item.session.id): check failed (target has it: \(there), source has it: \(here))"))
                }
            } catch {
                result.failedNodes.append(
                    NodeFailure(node: item.node.name, message: "\(item.session.id): \(error.description)"))
            }
        }
        return result
    }

    /// `MIGRATE`'s credentials for the target: `AUTH2 user password` or `AUTH password`.
    func migrateAuth(_ url: RedisURL) -> [RedisArgument] {
        guard let pw = url.password ?? fallbackPassword else { return [] }
        return url.user.map { ["AUTH2", $0, pw] } ?? ["AUTH", pw]
    }

    // MARK: Redis Cluster: slots

    /// What moving these sessions means in a cluster: each slot their keys live in, its
    /// owner, and how many keys the slot holds (all of them move).
    public func slotPlan(ids: [String]) async -> (slots: [SlotMove], notFound: [String]) {
        await resolve()
        guard let router else { return ([], ids) }
        let (found, _) = await find(ids: ids)
        var slots = Set<Int>()
        for item in found { for k in migrationPlan(item).keys { slots.insert(ClusterRouter.slot(of: Array(k.utf8))) } }
        var out: [SlotMove] = []
        for slot in slots.sorted() {
            guard let owner = router.master(forSlot: slot) else { continue }
            let n =
                (try? await router.client(host: owner.host, port: owner.port).send(
                    RedisCommand("CLUSTER", "COUNTKEYSINSLOT", String(slot))
                ).int) ?? nil
            out.append(SlotMove(slot: slot, owner: owner.address, keys: Int(n ?? 0)))
        }
        let hit = Set(found.map(\.session.id))
        return (out, ids.filter { !hit.contains($0) })
    }

    /// Moves hash slots to the master `to`: `SETSLOT IMPORTING` on the target, `MIGRATING`
    /// on the source, `MIGRATE` of the slot's keys in batches, then `SETSLOT NODE` on the
    /// target, the source and every other master. Keys stay readable throughout (ASK).
    public func moveSlots(_ slots: [Int], to nodeName: String, progress: @escaping @Sendable (Int, Int) async -> Void)
        async throws -> Int
    {
        await resolve()
        guard let router else { throw UnsupportedOperation("not a Redis Cluster") }
        guard let target = router.shards.first(where: { $0.master.address == nodeName })?.master else {
            throw UnsupportedOperation(
                "unknown master '\(nodeName)'; masters: \(router.shards.map(\.master.address).joined(separator: ", "))")
        }
        let targetClient = router.client(host: target.host, port: target.port)
        let auth = seedNodes.first.map { migrateAuth($0.url) } ?? []
        var moved = 0
        for (n, slot) in slots.enumerated() {
            guard let source = router.master(forSlot: slot), source.address != target.address else { continue }
            let sourceClient = router.client(host: source.host, port: source.port)
            _ = try await targetClient.send(RedisCommand("CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id))
                .orThrow()
            _ = try await sourceClient.send(RedisCommand("CLUSTER", "SETSLOT", String(slot), "MIGRATING", target.id))
                .orThrow()
            while true {
                let keys =
                    try await sourceClient.send(RedisCommand("CLUSTER", "GETKEYSINSLOT", String(slot), "500")).orThrow()
                    .array ?? []
                if keys.isEmpty { break }
                let args: [RedisArgument] =
                    [target.host, String(target.port), "", "0", "10000"] + auth + ["KEYS"] + keys.compactMap(\.bytes)
                _ = try await sourceClient.send(RedisCommand("MIGRATE", arguments: args)).orThrow()
                moved += keys.count
            }
            // The target first (it owns the slot before the source lets go), then everyone.
            _ = try await targetClient.send(RedisCommand("CLUSTER", "SETSLOT", String(slot), "NODE", target.id))
                .orThrow()
            // A source giving away its last slot may already be a replica when this arrives:
            // Redis turns an emptied master into a replica of the master that took its slots,
            // and gossip can carry the target's claim first. The slot is the target's then.
            let released = try await sourceClient.send(
                RedisCommand("CLUSTER", "SETSLOT", String(slot), "NODE", target.id))
            if let m = released.errorMessage, !m.contains("SETSLOT only with masters") {
                throw RedisError.server(m)
            }
            for shard in router.shards
            where shard.master.address != target.address && shard.master.address != source.address {
                _ = try? await router.client(host: shard.master.host, port: shard.master.port).send(
                    RedisCommand("CLUSTER", "SETSLOT", String(slot), "NODE", target.id))
            }
            await progress(n + 1, slots.count)
        }
        await resolve(refresh: true)
        return moved
    }

    /// Drains a node: in a cluster its slots go to `target` or are spread over the other
    /// masters; between independent nodes its sessions are `MIGRATE`d to `target` (or the
    /// first other node).
    public func drain(node: String, to target: String?, progress: @escaping @Sendable (Int, Int) async -> Void)
        async throws -> MutationResult
    {
        let all = await resolve()
        if let router {
            guard let shard = router.shards.first(where: { $0.master.address == node }) else {
                throw UnsupportedOperation(
                    "unknown master '\(node)'; masters: \(router.shards.map(\.master.address).joined(separator: ", "))")
            }
            let others = router.shards.map(\.master.address).filter { $0 != node }
            guard target != nil || !others.isEmpty else {
                throw UnsupportedOperation("no other master to take \(node)'s slots")
            }
            let slots = shard.slots.flatMap { Array($0) }
            var result = MutationResult()
            // Spread evenly unless a target was named: contiguous blocks per master.
            let receivers = target.map { [$0] } ?? others
            let block = (slots.count + receivers.count - 1) / max(1, receivers.count)
            var done = 0
            for (i, receiver) in receivers.enumerated() {
                let part = Array(slots.dropFirst(i * block).prefix(block))
                if part.isEmpty { continue }
                let base = done
                result.keysTouched += try await moveSlots(part, to: receiver) { n, _ in
                    await progress(base + n, slots.count)
                }
                done += part.count
            }
            return result  // slots moved, not sessions one by one: keysTouched counts the keys
        }
        guard all.contains(where: { $0.name == node }) else { throw UnsupportedOperation("unknown node '\(node)'") }
        guard let to = target ?? all.first(where: { $0.name != node })?.name else {
            throw UnsupportedOperation("no other node to take \(node)'s sessions")
        }
        var f = Filter()
        f.add(.node, .eq, node)
        let collector = Collector()
        _ = try await list(ListQuery(filter: f)) { page in await collector.add(page) }
        let ids = await collector.sessions.map(\.id)
        var result = MutationResult()
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 200)])
            result.merge(try await migrate(ids: chunk, to: to, replace: false))
            start += chunk.count
            await progress(result.affected.count, ids.count)
        }
        return result
    }
}
