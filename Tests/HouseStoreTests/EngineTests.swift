import Testing

@testable import HouseStore

@Suite struct EngineTests {
    func attrs(_ pairs: (String, String)...) -> [HouseSession.Attribute] { pairs.map { .init($0.0, Array($0.1.utf8)) } }

    @Test func slidingExpiryAndDeadlines() {
        var e = SessionEngine(node: "n1")
        e.put(id: "a", maxInactiveMs: 10_000, principal: "alice", attributes: attrs(("role", "admin")), now: 0)
        e.put(id: "b", maxInactiveMs: 10_000, principal: nil, attributes: [], absoluteDeadlineMs: 15_000, now: 0)
        e.put(id: "forever", maxInactiveMs: -1, principal: nil, attributes: [], now: 0)
        #expect(e.checkConsistency().isEmpty)
        // Reads that touch slide the expiry; peeks do not.
        _ = e.get("a", now: 8_000, touch: true)
        _ = e.get("b", now: 8_000, touch: true)
        #expect(e.ttl("a", now: 8_000).0 == 10_000)
        #expect(e.ttl("b", now: 8_000).0 == 7_000, "the hard deadline caps the sliding one")
        #expect(e.ttl("forever", now: 8_000).0 == -1)
        _ = e.get("a", now: 9_000, touch: false)
        #expect(e.ttl("a", now: 9_000).0 == 9_000)
        #expect(e.nextDeadline == 15_000, "stale heap entries sit behind the live one")
        // On time: nothing before the deadline, exactly the due sessions at it.
        #expect(e.expireDue(now: 14_999).isEmpty)
        let first = e.expireDue(now: 15_000)
        #expect(first.map(\.id) == ["b"] && first[0].kind == .expired && first[0].node == "n1")
        let second = e.expireDue(now: 18_000)
        #expect(second.map(\.id) == ["a"] && second[0].principal == "alice")
        #expect(e.count == 1 && e.sessions(of: "alice").isEmpty)
        #expect(e.checkConsistency().isEmpty)
    }

    /// A session that expired while its move was under way is reported when the move takes
    /// it (the event was dropped: the session ended unseen).
    @Test func takingAnExpiredSessionReportsItsExpiry() {
        var e = SessionEngine(node: "n1")
        e.put(id: "short", maxInactiveMs: 1_000, principal: "alice", attributes: [], now: 0)
        e.put(id: "long", maxInactiveMs: 60_000, principal: "bob", attributes: [], now: 0)
        let (gone, events) = e.take("short", now: 5_000)
        #expect(gone == nil)
        #expect(events.map(\.kind) == [.expired] && events.first?.id == "short" && events.first?.principal == "alice")
        let (moved, none) = e.take("long", now: 5_000)
        #expect(moved?.id == "long" && none.isEmpty)
        #expect(e.count == 0 && e.checkConsistency().isEmpty)
    }

    @Test func aReadNeverReturnsAnExpiredSession() {
        var e = SessionEngine(node: "n1")
        e.put(id: "a", maxInactiveMs: 1_000, principal: "p", attributes: [], now: 0)
        let (s, events) = e.get("a", now: 1_000, touch: true)
        #expect(s == nil && events.map(\.kind) == [.expired])
        #expect(e.expireDue(now: 5_000).isEmpty, "reported once")
        #expect(e.checkConsistency().isEmpty)
    }

    @Test func evictionIsLeastRecentlyUsedFirst() {
        var e = SessionEngine(node: "n1", maxSessions: 3)
        for (i, id) in ["a", "b", "c"].enumerated() {
            e.put(id: id, maxInactiveMs: 60_000, principal: nil, attributes: [], now: Int64(i))
        }
        _ = e.get("a", now: 10, touch: true)  // a is now the most recent
        _ = e.get("b", now: 11, touch: false)  // a peek does not count as use
        #expect(e.lruOrder() == ["b", "c", "a"])
        let ev = e.put(id: "d", maxInactiveMs: 60_000, principal: nil, attributes: [], now: 12)
        #expect(ev.map(\.kind) == [.created, .evicted] && ev[1].id == "b")
        #expect(e.lruOrder() == ["c", "a", "d"])
        // Memory cap: evicts until the accounted bytes fit, never the session just written.
        // Three small sessions of 150 bytes; the new one takes 601: two must go.
        e.maxSessions = nil
        #expect(e.usedMemory == 3 * 150)
        e.maxMemory = e.usedMemory + 310
        let big = e.put(
            id: "big", maxInactiveMs: 60_000, principal: nil,
            attributes: attrs(("blob", String(repeating: "x", count: 400))), now: 13)
        #expect(big.filter { $0.kind == .evicted }.map(\.id) == ["c", "a"])
        #expect(e.count == 2 && e.usedMemory <= e.maxMemory!)
        #expect(e.checkConsistency().isEmpty)
    }

    @Test func logoutUsesThePrincipalIndex() {
        var e = SessionEngine(node: "n1")
        for i in 0..<5 {
            e.put(id: "s\(i)", maxInactiveMs: 60_000, principal: i < 3 ? "alice" : "bob", attributes: [], now: 0)
        }
        let (n, events) = e.logout(principal: "alice", now: 5)
        #expect(n == 3 && events.allSatisfy { $0.kind == .deleted && $0.reason == "logout" && $0.principal == "alice" })
        #expect(e.sessions(of: "alice").isEmpty && e.sessions(of: "bob") == ["s3", "s4"])
        // A principal change moves the session in the index.
        _ = e.update("s3", now: 6) { $0.principal = "carol" }
        #expect(e.sessions(of: "carol") == ["s3"] && e.sessions(of: "bob") == ["s4"])
        let (deleted, ev2) = e.delete(["s4", "nope"], now: 7)
        #expect(deleted == 1 && ev2.first?.reason == "del")
        let (_, ev3) = e.expire("s3", inMs: 0, now: 8)
        #expect(ev3.first?.reason == "expire-now")
        #expect(e.count == 0 && e.checkConsistency().isEmpty)
    }

    @Test func scanWalksEverythingWithoutTouching() {
        var e = SessionEngine(node: "n1")
        for i in 0..<250 {
            e.put(
                id: "sess:\(i)", maxInactiveMs: 60_000, principal: i % 2 == 0 ? "even" : "odd", attributes: [], now: 0)
        }
        var cursor = 0
        var seen: [String] = []
        repeat {
            let (next, page) = e.scan(cursor: cursor, match: "sess:1*", principal: "even", count: 40, now: 100)
            seen += page.map(\.id)
            cursor = next
        } while cursor != 0
        let expected = (0..<250).filter { $0 % 2 == 0 && String($0).hasPrefix("1") }.map { "sess:\($0)" }
        #expect(seen.sorted() == expected.sorted())
        #expect(e.lruOrder(limit: 1) == ["sess:0"], "scanning did not touch")
    }

    @Test func randomOperationsKeepEveryInvariant() {
        var e = SessionEngine(node: "n1", maxSessions: 40, maxMemory: 20_000)
        var rng = SystemRandomNumberGenerator()
        var now: Int64 = 0
        for step in 0..<3000 {
            now += Int64.random(in: 0...300, using: &rng)
            let id = "s\(Int.random(in: 0..<60, using: &rng))"
            switch Int.random(in: 0..<8, using: &rng) {
            case 0, 1:
                e.put(
                    id: id, maxInactiveMs: Int64.random(in: 500...5_000, using: &rng),
                    principal: ["a", "b", nil].randomElement(using: &rng)!,
                    attributes: attrs(("x", String(repeating: "y", count: Int.random(in: 0...300, using: &rng)))),
                    now: now)
            case 2: _ = e.get(id, now: now, touch: true)
            case 3:
                if Bool.random(using: &rng) {
                    _ = e.update(id, now: now) { $0.attributes.append(.init("k\(step)", [1, 2, 3])) }
                } else {
                    // In place on the packed form: set (growing or shrinking the value) or remove.
                    let value = [UInt8](repeating: 7, count: Int.random(in: 0...200, using: &rng))
                    let set = Bool.random(using: &rng)
                    _ = e.modify(id, now: now) { s in
                        if set {
                            s.setAttribute(name: Array("x".utf8)[...], value: value[...])
                        } else {
                            _ = s.removeAttribute(name: Array("x".utf8)[...])
                        }
                    }
                }
            case 4: _ = e.expire(id, inMs: Int64.random(in: -1...2_000, using: &rng), now: now)
            case 5: _ = e.delete([id], now: now)
            case 6: _ = e.logout(principal: ["a", "b"].randomElement(using: &rng)!, now: now)
            default: _ = e.expireDue(now: now)
            }
            let problems = e.checkConsistency()
            if !problems.isEmpty {
                Issue.record("step \(step): \(problems)")
                return
            }
            #expect(e.count <= 40 && e.usedMemory <= 20_000 || e.count == 1)
        }
        // Whatever is left expires on time, each session once.
        let events = e.expireDue(now: now + 10_000_000)
        #expect(Set(events.map(\.id)).count == events.count)
        #expect(
            e.count == 0
                || e.scan(cursor: 0, match: nil, principal: nil, count: 100, now: now).1.allSatisfy {
                    $0.deadlineMs == nil
                })
    }

    /// The id and principal indexes (open-addressing tables, lists through the slots) against
    /// a plain model, through table growth, slot reuse and heads leaving their lists.
    @Test func theIndexesMatchAModelThroughChurn() {
        var e = SessionEngine(node: "n1")
        var model: [String: String?] = [:]
        var rng = SystemRandomNumberGenerator()
        for step in 0..<20_000 {
            let id = "id-\(Int.random(in: 0..<3_000, using: &rng))"
            let principal: String? = Bool.random(using: &rng) ? "user-\(Int.random(in: 0..<40, using: &rng))" : nil
            switch Int.random(in: 0..<4, using: &rng) {
            case 0, 1:
                e.put(id: id, maxInactiveMs: 60_000, principal: principal, attributes: attrs(("n", "\(step)")), now: 0)
                model[id] = .some(principal)
            case 2:
                let (n, _) = e.delete([id], now: 0)
                #expect(n == (model.removeValue(forKey: id) == nil ? 0 : 1))
            default:
                if let p = principal {
                    let (n, _) = e.logout(principal: p, now: 0)
                    let mine = model.filter { $0.value == p }.keys
                    #expect(n == mine.count)
                    for k in mine { model[k] = nil }
                }
            }
            if step % 1_000 == 0 {
                let problems = e.checkConsistency()
                if !problems.isEmpty {
                    Issue.record("step \(step): \(problems.prefix(3))")
                    return
                }
            }
        }
        #expect(e.count == model.count)
        #expect(model.keys.allSatisfy { e.contains($0) } && !e.contains("id-3000"))
        for u in 0..<40 {
            let p = "user-\(u)"
            #expect(e.sessions(of: p) == model.filter { $0.value == p }.keys.sorted(), "sessions of \(p)")
        }
        #expect(e.checkConsistency().isEmpty)
    }

    /// A touch moves a deadline later and pushes nothing; the early entry is pushed again
    /// at the real deadline when it comes up, so expiry stays on time.
    @Test func touchesDoNotGrowTheExpiryHeapAndExpiryStaysOnTime() {
        var e = SessionEngine(node: "n1")
        for i in 0..<10 { e.put(id: "s\(i)", maxInactiveMs: 1_000, principal: nil, attributes: [], now: 0) }
        var now: Int64 = 0
        for _ in 0..<5_000 {
            now += 1
            for i in 0..<10 { _ = e.get("s\(i)", now: now, touch: true) }
        }
        #expect(e.heapEntries <= 10, "one entry per session, not one per touch: \(e.heapEntries)")
        #expect(e.nextDeadline == now + 1_000, "the early entries were moved to the real deadline")
        #expect(e.expireDue(now: now + 999).isEmpty)
        #expect(e.expireDue(now: now + 1_000).count == 10)
        // A deadline moved earlier (EXPIRE) is honoured even though a later entry exists.
        e.put(id: "x", maxInactiveMs: 60_000, principal: nil, attributes: [], now: now)
        _ = e.expire("x", inMs: 10, now: now)
        #expect(e.nextDeadline == now + 10 && e.expireDue(now: now + 10).map(\.id) == ["x"])
        #expect(e.checkConsistency().isEmpty)
    }
}
