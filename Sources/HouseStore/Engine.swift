import SessionKit

/// A session as the in-house store keeps it.
public struct HouseSession: Sendable, Equatable {
    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: [UInt8]
        public init(_ name: String, _ value: [UInt8]) { self.name = name; self.value = value }
    }
    public var id: String
    public var principal: String?
    public var attributes: [Attribute]
    public var createdMs: Int64
    public var lastAccessMs: Int64
    /// Sliding timeout; -1: none.
    public var maxInactiveMs: Int64
    /// Hard deadline whatever the activity (`SESSION.EXPIRE`, or given at creation).
    public var absoluteDeadlineMs: Int64?

    /// When the session ends; nil: never.
    public var deadlineMs: Int64? {
        let sliding = maxInactiveMs >= 0 ? lastAccessMs + maxInactiveMs : nil
        switch (sliding, absoluteDeadlineMs) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        default: return nil
        }
    }

    /// Bytes the engine accounts for the session (data plus a fixed overhead per record and
    /// per attribute, close to what the structures cost).
    public var accountedBytes: Int {
        var n = 160 + id.utf8.count + (principal?.utf8.count ?? 0)
        for a in attributes { n += 48 + a.name.utf8.count + a.value.count }
        return n
    }
}

/// Something that happened to a session in the engine.
public struct EngineEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case created, expired, evicted, deleted, migrated }
    public var kind: Kind
    public var id: String
    public var principal: String?
    public var node: String
    public var timeMs: Int64
    /// For `deleted`: `del`, `logout` or `expire-now`; for `migrated`: `to NODE`.
    public var reason: String?
    public init(kind: Kind, id: String, principal: String?, node: String, timeMs: Int64, reason: String? = nil) {
        self.kind = kind; self.id = id; self.principal = principal; self.node = node; self.timeMs = timeMs; self.reason = reason
    }
}

/// The store's data: sessions, their expiry schedule, the principal index and the LRU
/// order. Single-threaded (one event loop owns it); every operation takes `now`, so tests
/// drive the clock. Expiry is on time: a min-heap of deadlines, popped by `expireDue`
/// (the server arms a timer for `nextDeadline`), never sampling.
public final class SessionEngine {
    /// The node id events carry (settable: a server learns its port after binding).
    public var node: String
    public var maxSessions: Int?
    public var maxMemory: Int?
    public private(set) var usedMemory = 0

    private struct Slot {
        var session: HouseSession
        var prev: Int32 = -1   // toward more recently used
        var next: Int32 = -1   // toward less recently used
        var generation: UInt32
        /// `session.accountedBytes`, kept so removal does not walk the attributes again.
        var bytes: Int
        /// `session.deadlineMs` as last scheduled (checked against heap entries cheaply).
        var deadline: Int64? = nil
    }
    private var slots: [Slot?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int32] = []
    private var index: [String: Int32] = [:]
    private var byPrincipal: [String: Set<String>] = [:]
    private var mostRecent: Int32 = -1
    private var leastRecent: Int32 = -1
    private struct HeapRef { var slot: Int32; var generation: UInt32 }
    private var heap = DeadlineHeap<HeapRef>()

    public init(node: String, maxSessions: Int? = nil, maxMemory: Int? = nil) {
        self.node = node; self.maxSessions = maxSessions; self.maxMemory = maxMemory
    }

    public var count: Int { index.count }

    /// Whether the node holds `id` (possibly past its deadline, not yet reaped).
    public func contains(_ id: String) -> Bool { index[id] != nil }
    /// The earliest live deadline (stale entries left by touches are dropped first, so a
    /// timer armed for it never fires for nothing).
    public var nextDeadline: Int64? {
        while let top = heap.first {
            if isCurrent(top.deadline, top.element) { return top.deadline }
            heap.popFirst()
        }
        return nil
    }

    // MARK: - Commands

    /// Creates or replaces a session (`SESSION.PUT`). Returns the events, evictions included.
    @discardableResult
    public func put(id: String, maxInactiveMs: Int64, principal: String?, attributes: [HouseSession.Attribute],
                    absoluteDeadlineMs: Int64? = nil, now: Int64) -> [EngineEvent] {
        let s = HouseSession(id: id, principal: principal, attributes: attributes, createdMs: now, lastAccessMs: now,
                             maxInactiveMs: maxInactiveMs, absoluteDeadlineMs: absoluteDeadlineMs)
        if let slot = index[id] {
            replace(slot: slot, with: s)   // in place: the id index stays, the principal set only changes if needed
        } else {
            insert(s)
        }
        var events = [event(.created, s, now)]
        events += evictIfNeeded(now: now, keep: id)
        return events
    }

    /// Reads a session; `touch` slides its expiry and makes it most recently used
    /// (`SESSION.GET`); without, nothing changes (`SESSION.PEEK`). An expired session is
    /// reported and removed here too, so a read never returns one.
    public func get(_ id: String, now: Int64, touch: Bool) -> (HouseSession?, [EngineEvent]) {
        guard let slot = index[id], var s = slots[Int(slot)]?.session else { return (nil, []) }
        if let d = s.deadlineMs, d <= now {
            let e = event(.expired, s, now)
            remove(slot: slot)
            return (nil, [e])
        }
        if touch {
            s.lastAccessMs = now
            slots[Int(slot)]?.session.lastAccessMs = now   // in place: no whole-session write-back
            markUsed(slot)
            schedule(slot)
        }
        return (s, [])
    }

    /// Applies `change` to a live session, touching it. False when it does not exist.
    public func update(_ id: String, now: Int64, _ change: (inout HouseSession) -> Void) -> (Bool, [EngineEvent]) {
        let (found, events) = get(id, now: now, touch: true)
        guard found != nil, let slot = index[id], var s = slots[Int(slot)]?.session else { return (false, events) }
        let before = s.accountedBytes
        let oldPrincipal = s.principal
        change(&s)
        let after = s.accountedBytes
        usedMemory += after - before
        slots[Int(slot)]?.bytes = after
        if oldPrincipal != s.principal {
            if let p = oldPrincipal { unindex(p, id) }
            if let p = s.principal { byPrincipal[p, default: []].insert(id) }
        }
        slots[Int(slot)]?.session = s
        schedule(slot)
        return (true, events + evictIfNeeded(now: now, keep: id))
    }

    /// Remaining time in ms: -1 never expires, nil no such session. Does not touch.
    public func ttl(_ id: String, now: Int64) -> (Int64?, [EngineEvent]) {
        let (s, events) = get(id, now: now, touch: false)
        guard let s else { return (nil, events) }
        return (s.deadlineMs.map { max(0, $0 - now) } ?? -1, events)
    }

    /// Ends a session now (`seconds <= 0`: deleted, reason expire-now) or sets a hard
    /// deadline `seconds` from now. False when it does not exist.
    public func expire(_ id: String, inMs ms: Int64, now: Int64) -> (Bool, [EngineEvent]) {
        let (s, events) = get(id, now: now, touch: false)
        guard s != nil, let slot = index[id] else { return (false, events) }
        if ms <= 0 {
            let e = events + [deleted(slot, now, reason: "expire-now")]
            return (true, e)
        }
        slots[Int(slot)]?.session.absoluteDeadlineMs = now + ms
        schedule(slot)
        return (true, events)
    }

    /// Deletes sessions (`SESSION.DEL`); returns how many existed.
    public func delete(_ ids: [String], now: Int64) -> (Int, [EngineEvent]) {
        var events: [EngineEvent] = []
        var n = 0
        for id in ids {
            let (s, ev) = get(id, now: now, touch: false)
            events += ev
            if s != nil, let slot = index[id] { events.append(deleted(slot, now, reason: "del")); n += 1 }
        }
        return (n, events)
    }

    /// Deletes every session of a principal (`SESSION.LOGOUT`), one index lookup.
    public func logout(principal: String, now: Int64) -> (Int, [EngineEvent]) {
        var events: [EngineEvent] = []
        for id in byPrincipal[principal] ?? [] {
            if let slot = index[id] { events.append(deleted(slot, now, reason: "logout")) }
        }
        return (events.count, events)
    }

    /// Sessions of a principal (no touching).
    public func sessions(of principal: String) -> [String] { Array(byPrincipal[principal] ?? []).sorted() }

    /// Walks the sessions without touching them (`SESSION.SCAN`): from `cursor`, at most
    /// `count` matches; the next cursor is 0 at the end. Stable under concurrent changes
    /// like Redis's SCAN: a session present the whole time is returned at least once.
    public func scan(cursor: Int, match: String?, principal: String?, count: Int, now: Int64) -> (Int, [HouseSession]) {
        var out: [HouseSession] = []
        var i = max(0, cursor)
        let budget = max(1, count)
        while i < slots.count && out.count < budget {
            if let s = slots[i]?.session,
               s.deadlineMs.map({ $0 > now }) ?? true,
               principal.map({ s.principal == $0 }) ?? true,
               match.map({ globMatch(Array(s.id.utf8), Array($0.utf8)) }) ?? true {
                out.append(s)
            }
            i += 1
        }
        return (i >= slots.count ? 0 : i, out)
    }

    /// Removes every session whose deadline has passed; call when the timer for
    /// `nextDeadline` fires. Each expiry is reported once, on time.
    public func expireDue(now: Int64) -> [EngineEvent] {
        var events: [EngineEvent] = []
        while let top = heap.first, top.deadline <= now {
            heap.popFirst()
            guard isCurrent(top.deadline, top.element), let s = slots[Int(top.element.slot)]?.session else { continue }
            events.append(event(.expired, s, now))
            remove(slot: top.element.slot)
        }
        if heap.count > 2 * index.count + 1024 { rebuildHeap() }
        return events
    }

    /// Takes a session out for migration to another node (the caller reports `migrated`).
    public func take(_ id: String, now: Int64) -> HouseSession? {
        let (s, _) = get(id, now: now, touch: false)
        guard let s, let slot = index[id] else { return nil }
        remove(slot: slot)
        return s
    }

    /// Adds a session as it is (migration target, log replay): times kept.
    @discardableResult
    public func restore(_ s: HouseSession, now: Int64) -> [EngineEvent] {
        if let old = index[s.id] { remove(slot: old) }
        insert(s)
        return evictIfNeeded(now: now, keep: s.id)
    }

    /// The least recently used session ids, oldest first (for tests and `NODE.INFO`).
    public func lruOrder(limit: Int = .max) -> [String] {
        var out: [String] = []
        var i = leastRecent
        while i >= 0 && out.count < limit, let slot = slots[Int(i)] { out.append(slot.session.id); i = slot.prev }
        return out
    }

    /// Checks every internal invariant (tests call it after each operation).
    public func checkConsistency() -> [String] {
        var problems: [String] = []
        var live = 0, bytes = 0
        for (i, slot) in slots.enumerated() {
            guard let slot else { continue }
            live += 1
            bytes += slot.session.accountedBytes
            if index[slot.session.id] != Int32(i) { problems.append("index misses \(slot.session.id)") }
            if let p = slot.session.principal, !(byPrincipal[p]?.contains(slot.session.id) ?? false) {
                problems.append("principal index misses \(slot.session.id)")
            }
            if let d = slot.session.deadlineMs,
               !heap.entries.contains(where: { $0.element.slot == Int32(i) && $0.deadline == d && $0.element.generation == slot.generation }) {
                problems.append("no heap entry for \(slot.session.id)")
            }
        }
        if live != index.count { problems.append("index has \(index.count) ids, \(live) sessions") }
        for (p, ids) in byPrincipal {
            if ids.isEmpty { problems.append("empty principal set \(p)") }
            for id in ids where (index[id].flatMap { slots[Int($0)]?.session.principal }) != p { problems.append("stale principal entry \(p)/\(id)") }
        }
        if bytes != usedMemory { problems.append("memory accounted \(usedMemory), actual \(bytes)") }
        if lruOrder().count != live { problems.append("LRU list has \(lruOrder().count) of \(live)") }
        return problems
    }

    // MARK: - Internals

    private func event(_ kind: EngineEvent.Kind, _ s: HouseSession, _ now: Int64, reason: String? = nil) -> EngineEvent {
        EngineEvent(kind: kind, id: s.id, principal: s.principal, node: node, timeMs: now, reason: reason)
    }

    /// Removes a live slot and reports it deleted (callers pass slots found in `index`).
    private func deleted(_ slot: Int32, _ now: Int64, reason: String) -> EngineEvent {
        let s = slots[Int(slot)]?.session ?? HouseSession(id: "?", principal: nil, attributes: [], createdMs: now,
                                                           lastAccessMs: now, maxInactiveMs: -1)
        remove(slot: slot)
        return event(.deleted, s, now, reason: reason)
    }

    private func insert(_ s: HouseSession) {
        let slot: Int32
        if let f = freeSlots.popLast() {
            slot = f
            generations[Int(f)] &+= 1
        } else {
            slot = Int32(slots.count)
            slots.append(nil)
            generations.append(0)
        }
        let bytes = s.accountedBytes
        slots[Int(slot)] = Slot(session: s, generation: generations[Int(slot)], bytes: bytes)
        index[s.id] = slot
        if let p = s.principal { byPrincipal[p, default: []].insert(s.id) }
        usedMemory += bytes
        linkFront(slot)
        schedule(slot)
    }

    /// Replaces a live slot's session (same id), keeping indexes consistent.
    private func replace(slot: Int32, with s: HouseSession) {
        guard let old = slots[Int(slot)] else { insert(s); return }
        if old.session.principal != s.principal {
            if let p = old.session.principal { unindex(p, s.id) }
            if let p = s.principal { byPrincipal[p, default: []].insert(s.id) }
        }
        let bytes = s.accountedBytes
        usedMemory += bytes - old.bytes
        slots[Int(slot)]?.session = s
        slots[Int(slot)]?.bytes = bytes
        markUsed(slot)
        schedule(slot)   // the old heap entry no longer matches the deadline: it is skipped as stale
    }

    private func remove(slot: Int32) {
        // Only the fields needed: copying the whole session would retain every attribute.
        guard let id = slots[Int(slot)]?.session.id, let bytes = slots[Int(slot)]?.bytes else { return }
        let principal = slots[Int(slot)]?.session.principal
        unlink(slot)
        index[id] = nil
        if let p = principal { unindex(p, id) }
        usedMemory -= bytes
        slots[Int(slot)] = nil
        freeSlots.append(slot)
    }

    private func unindex(_ principal: String, _ id: String) {
        byPrincipal[principal]?.remove(id)
        if byPrincipal[principal]?.isEmpty == true { byPrincipal[principal] = nil }
    }

    private func evictIfNeeded(now: Int64, keep: String) -> [EngineEvent] {
        var events: [EngineEvent] = []
        while (maxSessions.map { index.count > $0 } ?? false) || (maxMemory.map { usedMemory > $0 } ?? false) {
            var victim = leastRecent
            if victim >= 0, slots[Int(victim)]?.session.id == keep { victim = slots[Int(victim)]?.prev ?? -1 }
            guard victim >= 0, let s = slots[Int(victim)]?.session else { break }
            events.append(event(.evicted, s, now))
            remove(slot: victim)
        }
        return events
    }

    private func markUsed(_ slot: Int32) {
        guard mostRecent != slot else { return }
        unlink(slot)
        linkFront(slot)
    }

    private func linkFront(_ slot: Int32) {
        slots[Int(slot)]?.prev = -1
        slots[Int(slot)]?.next = mostRecent
        if mostRecent >= 0 { slots[Int(mostRecent)]?.prev = slot }
        mostRecent = slot
        if leastRecent < 0 { leastRecent = slot }
    }

    private func unlink(_ slot: Int32) {
        guard let s = slots[Int(slot)] else { return }
        if s.prev >= 0 { slots[Int(s.prev)]?.next = s.next } else { mostRecent = s.next }
        if s.next >= 0 { slots[Int(s.next)]?.prev = s.prev } else { leastRecent = s.prev }
        slots[Int(slot)]?.prev = -1
        slots[Int(slot)]?.next = -1
    }

    private func schedule(_ slot: Int32) {
        let d = slots[Int(slot)]?.session.deadlineMs
        slots[Int(slot)]?.deadline = d
        guard let d, let generation = slots[Int(slot)]?.generation else { return }
        heap.push(d, HeapRef(slot: slot, generation: generation))
    }

    /// Whether a heap entry still describes its session (touches leave stale ones behind).
    /// Reads two fields of the slot, never the session (a copy would retain its strings).
    private func isCurrent(_ deadline: Int64, _ ref: HeapRef) -> Bool {
        slots[Int(ref.slot)]?.generation == ref.generation && slots[Int(ref.slot)]?.deadline == deadline
    }

    /// Drops stale entries (left by touches) when they outnumber the live ones.
    private func rebuildHeap() {
        heap.removeAll()
        for i in slots.indices {
            if let s = slots[i], let d = s.session.deadlineMs { heap.push(d, HeapRef(slot: Int32(i), generation: s.generation)) }
        }
    }
}

/// Redis-style glob for `MATCH`: `*`, `?`, `[abc]`, `\\x`.
func globMatch(_ s: [UInt8], _ p: [UInt8]) -> Bool {
    var si = 0, pi = 0
    var starP = -1, starS = 0
    while si < s.count {
        if pi < p.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                starP = pi; starS = si; pi += 1; continue
            case UInt8(ascii: "?"):
                si += 1; pi += 1; continue
            case UInt8(ascii: "["):
                if let close = p[(pi + 1)...].firstIndex(of: UInt8(ascii: "]")) {
                    let set = p[(pi + 1)..<close]
                    if set.contains(s[si]) { si += 1; pi = close + 1; continue }
                }
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                if p[pi + 1] == s[si] { si += 1; pi += 2; continue }
            default:
                if p[pi] == s[si] { si += 1; pi += 1; continue }
            }
        }
        guard starP >= 0 else { return false }
        pi = starP + 1; starS += 1; si = starS
    }
    while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}
