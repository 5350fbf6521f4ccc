import SessionKit

/// A session as the in-house store keeps it.
public struct HouseSession: Sendable, Equatable {
    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: [UInt8]
        public init(_ name: String, _ value: [UInt8]) {
            self.name = name
            self.value = value
        }
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

    public init(
        id: String, principal: String?, attributes: [Attribute], createdMs: Int64, lastAccessMs: Int64,
        maxInactiveMs: Int64,
        absoluteDeadlineMs: Int64? = nil
    ) {
        self.id = id
        self.principal = principal
        self.attributes = attributes
        self.createdMs = createdMs
        self.lastAccessMs = lastAccessMs
        self.maxInactiveMs = maxInactiveMs
        self.absoluteDeadlineMs = absoluteDeadlineMs
    }

    /// When the session ends; nil: never.
    public var deadlineMs: Int64? {
        let sliding = maxInactiveMs >= 0 ? saturatingSum(lastAccessMs, maxInactiveMs) : nil
        switch (sliding, absoluteDeadlineMs) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        default: return nil
        }
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
        self.kind = kind
        self.id = id
        self.principal = principal
        self.node = node
        self.timeMs = timeMs
        self.reason = reason
    }
}

/// The store's data: sessions, their expiry schedule, the principal index and the LRU
/// order. A value owned by one event loop; every operation takes `now`, so tests drive the
/// clock. (A struct, not a class: its many small slot updates per operation then need no
/// run-time exclusivity checks, which cost a tenth of a `SESSION.PUT` when it was a class.)
///
/// Layout, chosen for memory per session and for the hot paths (create, read-and-touch):
/// - sessions live in an array of slots (`StoredSession` plus links), addressed by number;
/// - the id index and the principal index are `SlotTable`s of slot numbers (4 bytes an
///   entry); a principal's sessions form a list through their slots, so the index has one
///   entry per principal and adding or removing a session is O(1), no set per user;
/// - the LRU order is a list through the slots too;
/// - expiry is on time: a min-heap of deadlines, popped by `expireDue` (the server arms a
///   timer for `nextDeadline`), never sampling. Each session has one current entry, which
///   may be earlier than its deadline: a touch only moves the deadline later, so it costs
///   no heap work, and an entry found early is pushed again at the real deadline.
public struct SessionEngine: Sendable {
    /// The node id events carry (settable: a server learns its port after binding).
    public var node: String
    public var maxSessions: Int?
    public var maxMemory: Int?
    public private(set) var usedMemory = 0

    private struct Slot {
        var session: StoredSession
        var generation: UInt32 = 0
        var idHash: UInt32 = 0
        var principalHash: UInt32 = 0
        var lruPrev: Int32 = -1  // toward more recently used; `Slot.free` marks a free slot
        var lruNext: Int32 = -1  // toward less recently used
        var userPrev: Int32 = -1  // the principal's list: -1 at its head (the index's entry)
        var userNext: Int32 = -1
        /// The deadline of the slot's current heap entry (`Int64.max`: none).
        var scheduled: Int64 = .max
        static let free: Int32 = .min
        var isLive: Bool { lruPrev != Slot.free }
    }
    private static let emptySession = StoredSession(
        id: "", principal: nil, createdMs: 0, lastAccessMs: 0, maxInactiveMs: -1)
    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    private var ids = SlotTable()
    private var principals = SlotTable()
    private var mostRecent: Int32 = -1
    private var leastRecent: Int32 = -1
    private struct HeapRef {
        var slot: Int32
        var generation: UInt32
    }
    private var heap = DeadlineHeap<HeapRef>()

    public init(node: String, maxSessions: Int? = nil, maxMemory: Int? = nil) {
        self.node = node
        self.maxSessions = maxSessions
        self.maxMemory = maxMemory
    }

    public var count: Int { ids.count }

    /// Whether the node holds `id` (possibly past its deadline, not yet reaped).
    public func contains(_ id: String) -> Bool { find(id) != nil }

    /// The earliest deadline. An entry left early by touches is moved to its session's real
    /// deadline first, so a timer armed for it never fires for nothing.
    public var nextDeadline: Int64? {
        mutating get {
            while let top = heap.first {
                let slot = top.element.slot
                let current = isCurrent(top.deadline, top.element)
                if current && slots[Int(slot)].session.deadline == top.deadline { return top.deadline }
                heap.popFirst()
                guard current else { continue }
                slots[Int(slot)].scheduled = .max  // touched since: due later
                schedule(slot)
            }
            return nil
        }
    }

    // MARK: - Commands

    /// Creates or replaces a session (`SESSION.PUT`). Returns the events, evictions included.
    @discardableResult
    public mutating func put(
        id: String, maxInactiveMs: Int64, principal: String?, attributes: [HouseSession.Attribute],
        absoluteDeadlineMs: Int64? = nil, now: Int64
    ) -> [EngineEvent] {
        put(
            StoredSession(
                HouseSession(
                    id: id, principal: principal, attributes: attributes, createdMs: now, lastAccessMs: now,
                    maxInactiveMs: maxInactiveMs, absoluteDeadlineMs: absoluteDeadlineMs)), now: now)
    }

    /// Creates or replaces a session, its times as given. Returns the events, evictions included.
    @discardableResult
    public mutating func put(_ s: StoredSession, now: Int64) -> [EngineEvent] {
        let hash = keyHash(s.id)
        if let slot = find(s.id, hash) { replace(slot: slot, with: s) } else { insert(s, hash) }
        var events = [event(.created, s, now)]
        if maxSessions != nil || maxMemory != nil { events += evictIfNeeded(now: now, keep: s.id) }
        return events
    }

    /// Reads a session; `touch` slides its expiry and makes it most recently used
    /// (`SESSION.GET`); without, nothing changes (`SESSION.PEEK`). An expired session is
    /// reported and removed here too, so a read never returns one.
    public mutating func read(_ id: String, now: Int64, touch: Bool) -> (StoredSession?, [EngineEvent]) {
        let (slot, events) = liveSlot(id, now: now, touch: touch)
        return (slot.map { slots[Int($0)].session }, events)
    }

    /// Changes a live session's stored form in place, touching it (`SESSION.SETATTR`,
    /// `SESSION.DELATTR`): no unpacking, and the attribute buffer is not copied. Returns the
    /// session as changed, nil when it does not exist. The id cannot change (`let`).
    public mutating func modify(_ id: String, now: Int64, _ change: (inout StoredSession) -> Void) -> (
        StoredSession?, [EngineEvent]
    ) {
        let (found, events) = liveSlot(id, now: now, touch: true)
        guard let slot = found else { return (nil, events) }
        // Taken out of its slot, so `change` edits the only reference to its buffer; the
        // stub left behind keeps the principal, which `replace` compares for the index.
        var s = slots[Int(slot)].session
        let stub = StoredSession(id: s.id, principal: s.principal, createdMs: 0, lastAccessMs: 0, maxInactiveMs: -1)
        usedMemory += stub.accountedBytes - s.accountedBytes
        slots[Int(slot)].session = stub
        change(&s)
        replace(slot: slot, with: s, markUsed: false)
        return (s, events + evictIfNeeded(now: now, keep: id))
    }

    /// The slot of a live session (one past its deadline is reported expired and removed).
    private mutating func liveSlot(_ id: String, now: Int64, touch: Bool) -> (Int32?, [EngineEvent]) {
        guard let slot = find(id) else { return (nil, []) }
        if slots[Int(slot)].session.deadline <= now {
            let e = event(.expired, slots[Int(slot)].session, now)
            remove(slot: slot)
            return (nil, [e])
        }
        if touch {
            slots[Int(slot)].session.lastAccessMs = now
            markUsed(slot)
            schedule(slot)  // only a clock going backwards makes this push
        }
        return (slot, [])
    }

    /// `read`, unpacked.
    public mutating func get(_ id: String, now: Int64, touch: Bool) -> (HouseSession?, [EngineEvent]) {
        let (s, events) = read(id, now: now, touch: touch)
        return (s?.session, events)
    }

    /// Applies `change` to a live session, touching it. False when it does not exist.
    public mutating func update(_ id: String, now: Int64, _ change: (inout HouseSession) -> Void) -> (
        Bool, [EngineEvent]
    ) {
        let (found, events) = read(id, now: now, touch: true)
        guard var s = found?.session, let slot = find(id) else { return (false, events) }
        change(&s)
        replace(slot: slot, with: StoredSession(s), markUsed: false)
        return (true, events + evictIfNeeded(now: now, keep: id))
    }

    /// Remaining time in ms: -1 never expires, nil no such session. Does not touch.
    public mutating func ttl(_ id: String, now: Int64) -> (Int64?, [EngineEvent]) {
        let (s, events) = read(id, now: now, touch: false)
        guard let s else { return (nil, events) }
        return (s.deadlineMs.map { max(0, $0 - now) } ?? -1, events)
    }

    /// Ends a session now (`seconds <= 0`: deleted, reason expire-now) or sets a hard
    /// deadline `seconds` from now. False when it does not exist.
    public mutating func expire(_ id: String, inMs ms: Int64, now: Int64) -> (Bool, [EngineEvent]) {
        let (s, events) = read(id, now: now, touch: false)
        guard s != nil, let slot = find(id) else { return (false, events) }
        if ms <= 0 { return (true, events + [deleted(slot, now, reason: "expire-now")]) }
        slots[Int(slot)].session.absoluteDeadline = saturatingSum(now, ms)  // past Int64: never
        schedule(slot)
        return (true, events)
    }

    /// Deletes sessions (`SESSION.DEL`); returns how many existed.
    public mutating func delete(_ ids: [String], now: Int64) -> (Int, [EngineEvent]) {
        var events: [EngineEvent] = []
        var n = 0
        for id in ids {
            let (s, ev) = read(id, now: now, touch: false)
            events += ev
            if s != nil, let slot = find(id) {
                events.append(deleted(slot, now, reason: "del"))
                n += 1
            }
        }
        return (n, events)
    }

    /// Deletes every session of a principal (`SESSION.LOGOUT`): one index lookup, then the
    /// principal's list.
    public mutating func logout(principal: String, now: Int64) -> (Int, [EngineEvent]) {
        let events = slotsOf(principal).map { deleted($0, now, reason: "logout") }
        return (events.count, events)
    }

    /// Sessions of a principal (no touching).
    public func sessions(of principal: String) -> [String] {
        slotsOf(principal).map { slots[Int($0)].session.id }.sorted()
    }

    /// Walks the sessions without touching them (`SESSION.SCAN`): from `cursor`, at most
    /// `count` matches; the next cursor is 0 at the end. Stable under concurrent changes
    /// like Redis's SCAN: a session present the whole time is returned at least once.
    public func scan(cursor: Int, match: String?, principal: String?, count: Int, now: Int64) -> (Int, [StoredSession])
    {
        var out: [StoredSession] = []
        var i = max(0, cursor)
        let budget = max(1, count)
        let pattern = match.map { Array($0.utf8) }
        while i < slots.count && out.count < budget {
            let s = slots[i].session
            if slots[i].isLive, s.deadline > now, principal.map({ s.principal == $0 }) ?? true,
                pattern.map({ globMatch(Array(s.id.utf8), $0) }) ?? true
            {
                out.append(s)
            }
            i += 1
        }
        return (i >= slots.count ? 0 : i, out)
    }

    /// Removes every session whose deadline has passed; call when the timer for
    /// `nextDeadline` fires. Each expiry is reported once, on time.
    public mutating func expireDue(now: Int64) -> [EngineEvent] {
        var events: [EngineEvent] = []
        while let top = heap.first, top.deadline <= now {
            heap.popFirst()
            guard isCurrent(top.deadline, top.element) else { continue }
            let slot = top.element.slot
            if slots[Int(slot)].session.deadline <= now {
                events.append(event(.expired, slots[Int(slot)].session, now))
                remove(slot: slot)
            } else {
                slots[Int(slot)].scheduled = .max  // touched since: due later
                schedule(slot)
            }
        }
        return events
    }

    /// Takes a session out for migration to another node (the caller reports `migrated`).
    /// The events: a session found expired here is reaped and reported (they were dropped,
    /// and a session that expired during its move ended unseen: found by the 10-minute soak).
    public mutating func take(_ id: String, now: Int64) -> (HouseSession?, [EngineEvent]) {
        let (s, events) = read(id, now: now, touch: false)
        guard let s, let slot = find(id) else { return (nil, events) }
        remove(slot: slot)
        return (s.session, events)
    }

    /// Adds a session as it is (migration target, log replay): times kept.
    @discardableResult
    public mutating func restore(_ s: HouseSession, now: Int64) -> [EngineEvent] {
        let stored = StoredSession(s)
        if let old = find(s.id) { remove(slot: old) }
        insert(stored, keyHash(s.id))
        return evictIfNeeded(now: now, keep: s.id)
    }

    /// The least recently used session ids, oldest first (for tests and `NODE.INFO`).
    public func lruOrder(limit: Int = .max) -> [String] {
        var out: [String] = []
        var i = leastRecent
        while i >= 0 && out.count < limit {
            out.append(slots[Int(i)].session.id)
            i = slots[Int(i)].lruPrev
        }
        return out
    }

    /// Entries in the expiry heap (tests: touches must not grow it).
    var heapEntries: Int { heap.count }

    /// Checks every internal invariant (tests call it after each operation).
    public func checkConsistency() -> [String] {
        var problems: [String] = []
        var live = 0
        var bytes = 0
        var scheduled: [Int32: Set<Int64>] = [:]
        for e in heap.entries where slots[Int(e.element.slot)].generation == e.element.generation {
            scheduled[e.element.slot, default: []].insert(e.deadline)
        }
        for (i, slot) in slots.enumerated() where slot.isLive {
            let s = slot.session
            live += 1
            bytes += s.accountedBytes
            if slot.idHash != keyHash(s.id) || find(s.id) != Int32(i) { problems.append("id index misses \(s.id)") }
            let d = s.deadline
            if d != .max && !(slot.scheduled <= d && scheduled[Int32(i)]?.contains(slot.scheduled) == true) {
                problems.append("no heap entry for \(s.id) at or before its deadline")
            }
        }
        if live != ids.count { problems.append("id index has \(ids.count) ids, \(live) sessions") }
        if !ids.isConsistent(hashOf: { slots[Int($0)].idHash }) { problems.append("id index entries out of place") }
        if !principals.isConsistent(hashOf: { slots[Int($0)].principalHash }) {
            problems.append("principal index entries out of place")
        }
        // Each principal's list: one index entry at its head, every member with that principal.
        var listed = 0
        for head in principals.slots {
            guard let p = slots[Int(head)].session.principal else {
                problems.append("index entry for a session without principal")
                continue
            }
            if slots[Int(head)].userPrev != -1 {
                problems.append("principal \(p) indexed at a slot that is not its head")
            }
            var i = head
            var prev: Int32 = -1
            while i >= 0 {
                listed += 1
                if slots[Int(i)].session.principal != p || slots[Int(i)].userPrev != prev || !slots[Int(i)].isLive {
                    problems.append("principal list of \(p) broken at \(slots[Int(i)].session.id)")
                    break
                }
                prev = i
                i = slots[Int(i)].userNext
            }
        }
        let withPrincipal = slots.filter { $0.isLive && $0.session.principal != nil }.count
        if listed != withPrincipal {
            problems.append("principal lists hold \(listed) sessions, \(withPrincipal) have a principal")
        }
        if bytes != usedMemory { problems.append("memory accounted \(usedMemory), actual \(bytes)") }
        if lruOrder().count != live { problems.append("LRU list has \(lruOrder().count) of \(live)") }
        return problems
    }

    // MARK: - Internals

    private func find(_ id: String, _ hash: UInt32? = nil) -> Int32? {
        let h = hash ?? keyHash(id)
        return ids.find(h) { slots[Int($0)].idHash == h && slots[Int($0)].session.id == id }
    }

    private func event(_ kind: EngineEvent.Kind, _ s: StoredSession, _ now: Int64, reason: String? = nil) -> EngineEvent
    {
        EngineEvent(kind: kind, id: s.id, principal: s.principal, node: node, timeMs: now, reason: reason)
    }

    /// Removes a live slot and reports it deleted.
    private mutating func deleted(_ slot: Int32, _ now: Int64, reason: String) -> EngineEvent {
        let e = event(.deleted, slots[Int(slot)].session, now, reason: reason)
        remove(slot: slot)
        return e
    }

    private mutating func insert(_ s: StoredSession, _ hash: UInt32) {
        let slot: Int32
        if let f = freeSlots.popLast() {
            slot = f
            slots[Int(f)].session = s
            slots[Int(f)].generation &+= 1
            slots[Int(f)].lruPrev = -1
        } else {
            slot = Int32(slots.count)
            slots.append(Slot(session: s))
        }
        slots[Int(slot)].idHash = hash
        ids.insert(slot, hash: hash) { slots[Int($0)].idHash }
        linkUser(slot)
        usedMemory += s.accountedBytes
        linkFront(slot)
        schedule(slot)
    }

    /// Replaces a live slot's session (same id), keeping the indexes consistent.
    private mutating func replace(slot: Int32, with s: StoredSession, markUsed used: Bool = true) {
        let old = slots[Int(slot)].session
        usedMemory += s.accountedBytes - old.accountedBytes
        if old.principal != s.principal {
            unlinkUser(slot)
            slots[Int(slot)].session = s
            linkUser(slot)
        } else {
            slots[Int(slot)].session = s
        }
        if used { markUsed(slot) }
        schedule(slot)
    }

    private mutating func remove(slot: Int32) {
        unlinkLRU(slot)
        ids.remove(slot, hash: slots[Int(slot)].idHash) { slots[Int($0)].idHash }
        unlinkUser(slot)
        usedMemory -= slots[Int(slot)].session.accountedBytes
        slots[Int(slot)].session = SessionEngine.emptySession  // frees the strings and attributes now
        slots[Int(slot)].lruPrev = Slot.free
        slots[Int(slot)].scheduled = .max
        freeSlots.append(slot)
    }

    /// The slots of a principal's sessions.
    private func slotsOf(_ principal: String) -> [Int32] {
        let h = keyHash(principal)
        var out: [Int32] = []
        var i =
            principals.find(h) { slots[Int($0)].principalHash == h && slots[Int($0)].session.principal == principal }
            ?? -1
        while i >= 0 {
            out.append(i)
            i = slots[Int(i)].userNext
        }
        return out
    }

    /// Adds a slot to its principal's list as the new head (it touches only the old head,
    /// already read to find it, and the index entry).
    private mutating func linkUser(_ slot: Int32) {
        slots[Int(slot)].userPrev = -1
        slots[Int(slot)].userNext = -1
        guard let p = slots[Int(slot)].session.principal else { return }
        let h = keyHash(p)
        slots[Int(slot)].principalHash = h
        if let head = principals.find(h, { slots[Int($0)].principalHash == h && slots[Int($0)].session.principal == p })
        {
            // One copy of a user's name for all their sessions: share the head's string
            // (a name over 15 bytes is a heap allocation per copy).
            slots[Int(slot)].session.principal = slots[Int(head)].session.principal
            slots[Int(slot)].userNext = head
            slots[Int(head)].userPrev = slot
            principals.replace(head, with: slot, hash: h)
        } else {
            principals.insert(slot, hash: h) { slots[Int($0)].principalHash }
        }
    }

    private mutating func unlinkUser(_ slot: Int32) {
        guard slots[Int(slot)].session.principal != nil else { return }
        let prev = slots[Int(slot)].userPrev
        let next = slots[Int(slot)].userNext
        if prev >= 0 {
            slots[Int(prev)].userNext = next
            if next >= 0 { slots[Int(next)].userPrev = prev }
        } else if next >= 0 {
            // The head leaves: its successor becomes the index entry.
            slots[Int(next)].userPrev = -1
            principals.replace(slot, with: next, hash: slots[Int(slot)].principalHash)
        } else {
            principals.remove(slot, hash: slots[Int(slot)].principalHash) { slots[Int($0)].principalHash }
        }
        slots[Int(slot)].userPrev = -1
        slots[Int(slot)].userNext = -1
    }

    private mutating func evictIfNeeded(now: Int64, keep: String) -> [EngineEvent] {
        var events: [EngineEvent] = []
        while (maxSessions.map { ids.count > $0 } ?? false) || (maxMemory.map { usedMemory > $0 } ?? false) {
            var victim = leastRecent
            if victim >= 0, slots[Int(victim)].session.id == keep { victim = slots[Int(victim)].lruPrev }
            guard victim >= 0 else { break }
            events.append(event(.evicted, slots[Int(victim)].session, now))
            remove(slot: victim)
        }
        return events
    }

    private mutating func markUsed(_ slot: Int32) {
        guard mostRecent != slot else { return }
        unlinkLRU(slot)
        linkFront(slot)
    }

    private mutating func linkFront(_ slot: Int32) {
        slots[Int(slot)].lruPrev = -1
        slots[Int(slot)].lruNext = mostRecent
        if mostRecent >= 0 { slots[Int(mostRecent)].lruPrev = slot }
        mostRecent = slot
        if leastRecent < 0 { leastRecent = slot }
    }

    private mutating func unlinkLRU(_ slot: Int32) {
        let prev = slots[Int(slot)].lruPrev
        let next = slots[Int(slot)].lruNext
        if prev >= 0 { slots[Int(prev)].lruNext = next } else { mostRecent = next }
        if next >= 0 { slots[Int(next)].lruPrev = prev } else { leastRecent = prev }
        slots[Int(slot)].lruPrev = -1
        slots[Int(slot)].lruNext = -1
    }

    /// Keeps the slot's heap entry at or before its deadline: pushes one only when the
    /// deadline moved earlier than the current entry (a touch moves it later: nothing to do).
    private mutating func schedule(_ slot: Int32) {
        let d = slots[Int(slot)].session.deadline
        guard d < slots[Int(slot)].scheduled else { return }
        slots[Int(slot)].scheduled = d
        heap.push(d, HeapRef(slot: slot, generation: slots[Int(slot)].generation))
        if heap.count > 2 * ids.count + 1024 { rebuildHeap() }
    }

    /// Whether a heap entry is its slot's current one (earlier ones are left behind when a
    /// deadline moves earlier).
    private func isCurrent(_ deadline: Int64, _ ref: HeapRef) -> Bool {
        let s = slots[Int(ref.slot)]
        return s.isLive && s.generation == ref.generation && s.scheduled == deadline
    }

    /// Drops entries that are no longer current, when they outnumber the live ones.
    private mutating func rebuildHeap() {
        let current = heap.entries.filter { isCurrent($0.deadline, $0.element) }
        heap.removeAll()
        for e in current { heap.push(e.deadline, e.element) }
    }
}

/// Redis-style glob for `MATCH`: `*`, `?`, `[abc]`, `\\x`.
func globMatch(_ s: [UInt8], _ p: [UInt8]) -> Bool {
    var si = 0
    var pi = 0
    var starP = -1
    var starS = 0
    while si < s.count {
        if pi < p.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                starP = pi
                starS = si
                pi += 1
                continue
            case UInt8(ascii: "?"):
                si += 1
                pi += 1
                continue
            case UInt8(ascii: "["):
                if let close = p[(pi + 1)...].firstIndex(of: UInt8(ascii: "]")) {
                    let set = p[(pi + 1)..<close]
                    if set.contains(s[si]) {
                        si += 1
                        pi = close + 1
                        continue
                    }
                }
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                if p[pi + 1] == s[si] {
                    si += 1
                    pi += 2
                    continue
                }
            default:
                if p[pi] == s[si] {
                    si += 1
                    pi += 1
                    continue
                }
            }
        }
        guard starP >= 0 else { return false }
        pi = starP + 1
        starS += 1
        si = starS
    }
    while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}
