import ConsoleUI
import SessionKit
import Testing

@Suite struct StateTests {
    let now = Scene.now

    @Test func sortsByTTLAndKeepsTheCursorOnTheSameSessionAcrossReloads() {
        var s = Scene.state()
        #expect(s.selectedRow?.user == "alice", "shortest TTL first")
        _ = s.handle(key: .down, now: now)
        _ = s.handle(key: .down, now: now)
        let picked = s.selectedRow?.id
        // A reload with the rows in another order, one row fewer.
        var rows = s.rows.reversed().filter { $0.user != "alice" }
        rows.append(rows.removeFirst())
        s.load(rows: Array(rows), names: s.names, failedNodes: [], now: now)
        #expect(s.selectedRow?.id == picked)
        _ = s.handle(key: .char("s"), now: now)  // next column after ttl: idle
        #expect(s.sortColumn == .idle)
        #expect(s.selectedRow?.id == picked, "sorting keeps the selection")
        _ = s.handle(key: .char("S"), now: now)
        #expect(!s.sortAscending)
    }

    @Test func filterUsesTheSharedLanguageAndReportsErrors() {
        var s = Scene.state()
        _ = s.handle(key: .char("/"), now: now)
        for c in "user=bo*" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .enter, now: now)
        #expect(s.visible.count == 1 && s.selectedRow?.user == "bob")
        _ = s.handle(key: .char("/"), now: now)
        for _ in 0..<8 { _ = s.handle(key: .backspace, now: now) }
        for c in "colour=red" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .enter, now: now)
        #expect(s.flash?.error == true && s.flash?.text.contains("colour") == true)
        #expect(s.visible.count == 1, "a bad filter leaves the old one")
        _ = s.handle(key: .escape, now: now)
        #expect(s.filter.isEmpty && s.visible.count == 5, "esc clears the filter")
    }

    @Test func keyTermsMeanTheRealStoreKey() {
        var s = Scene.state()
        var names = RowNames()
        let listed = [
            Session(id: "abc", key: "spring:session:sessions:abc", node: "n1", ttlMs: 60_000, schema: "spring"),
            Session(id: "def", key: "sess:def", node: "n1", ttlMs: 60_000, schema: "connect-redis"),
            Session(id: "ghi", key: "ghi-v2", node: "n1", ttlMs: 60_000, schema: "prefix"),
        ]
        let rows = listed.map { Row.from($0, now: now, names: &names) }
        s.load(rows: rows, names: names, failedNodes: [], now: now)
        #expect(s.names.key(of: s.rows[0]) == "spring:session:sessions:abc" && s.names.key(of: s.rows[2]) == "ghi-v2")
        _ = s.handle(key: .char(":"), now: now)
        for c in "filter key~sessions:" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .enter, now: now)
        #expect(s.visible.map { s.rows[$0].id.description } == ["abc"], "key= is the store key, not the id")
        _ = s.setFilterForTest("key=ghi-v2", now: now)
        #expect(s.visible.map { s.rows[$0].id.description } == ["ghi"])
    }

    @Test func attributeTermsAreDecidedOnFetchedAttributes() throws {
        var s = Scene.state()
        _ = s.handle(key: .char("/"), now: now)
        for c in "attr.role~admin user!=carol" { _ = s.handle(key: .char(c), now: now) }
        let effects = s.handle(key: .enter, now: now)
        #expect(
            effects == [.fetchFilterMatches(try Filter("attr.role~admin user!=carol"))],
            "the TUI asks for the attributes")
        #expect(s.visible.isEmpty && s.flash?.text.contains("attributes") == true, "nothing matches until they arrive")
        let alice = "6f1c2a90-0d4e-4b7a-9e21-5c3b7d8e9f01"
        let carol = "d00dfeed-aaaa-4bbb-8ccc-dddddddddddd"
        s.filterMatches("a stale filter", ids: [alice], now: now)
        #expect(s.visible.isEmpty, "matches for another filter are ignored")
        s.filterMatches("attr.role~admin user!=carol", ids: [alice, carol], now: now)
        #expect(s.visible.map { s.rows[$0].id.description } == [alice], "the other terms still apply")
        #expect(
            s.handle(key: .char("r"), now: now).contains(.fetchFilterMatches(try Filter("attr.role~admin user!=carol")))
        )
    }

    @Test func destructiveActionsConfirmWithTheCount() {
        var s = Scene.state()
        _ = s.handle(key: .char(" "), now: now)
        _ = s.handle(key: .char(" "), now: now)
        #expect(s.marked.count == 2)
        #expect(s.handle(key: .char("e"), now: now).isEmpty, "nothing happens before confirming")
        #expect(s.dialog?.title == "Expire 2 sessions?")
        let effects = s.handle(key: .char("y"), now: now)
        guard case .perform(.expire(let ids, nil))? = effects.first else {
            Issue.record("no expire effect")
            return
        }
        #expect(ids.count == 2 && s.marked.isEmpty)
        _ = s.handle(key: .char("L"), now: now)
        #expect(s.dialog?.title.hasPrefix("Log out") == true)
        #expect(s.handle(key: .char("n"), now: now).isEmpty)
        #expect(s.dialog == nil && s.flash?.text == "cancelled")
        _ = s.handle(key: .char("L"), now: now)
        #expect(s.handle(key: .escape, now: now).isEmpty && s.dialog == nil)
    }

    @Test func readOnlyRefusesEveryMutationVisibly() {
        var s = Scene.state(readOnly: true)
        for key in [Key.char("e"), .char("L"), .char("m")] {
            #expect(s.handle(key: key, now: now).isEmpty)
            #expect(s.dialog == nil && s.flash?.error == true && s.flash?.text.hasPrefix("read-only") == true)
        }
        _ = s.handle(key: .char(":"), now: now)
        for c in "logout alice" { _ = s.handle(key: .char(c), now: now) }
        #expect(s.handle(key: .enter, now: now).isEmpty && s.dialog == nil)
    }

    @Test func commandModeHistoryCompletionAndThemes() {
        var s = Scene.state()
        _ = s.handle(key: .char(":"), now: now)
        for c in "th" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .tab, now: now)
        #expect(s.input == .command("theme "))
        for c in "dr" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .tab, now: now)
        #expect(s.input == .command("theme dracula"))
        #expect(s.handle(key: .enter, now: now) == [.setTheme("dracula")])
        _ = s.handle(key: .char(":"), now: now)
        for c in "expire 30s" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .enter, now: now)
        #expect(s.dialog?.lines.first?.contains("in 30s") == true)
        _ = s.handle(key: .escape, now: now)
        _ = s.handle(key: .char(":"), now: now)
        _ = s.handle(key: .up, now: now)
        #expect(s.input == .command("expire 30s"))
        _ = s.handle(key: .up, now: now)
        #expect(s.input == .command("theme dracula"))
        _ = s.handle(key: .escape, now: now)
        _ = s.handle(key: .char(":"), now: now)
        _ = s.handle(key: .char("q"), now: now)
        #expect(s.handle(key: .enter, now: now) == [.quit])
    }

    @Test func migrateNeedsABackendThatCanAndPicksATarget() {
        var s = Scene.state()
        _ = s.handle(key: .char("m"), now: now)
        #expect(s.flash?.error == true && s.dialog == nil)
        s.migrateTargets = ["n1", "n2"]
        _ = s.handle(key: .char("m"), now: now)
        #expect(s.dialog?.choices == ["n1", "n2"])
        _ = s.handle(key: .down, now: now)
        _ = s.handle(key: .enter, now: now)
        #expect(s.dialog?.title.hasSuffix("to n2?") == true)
        guard case .perform(.migrate(_, "n2"))? = s.handle(key: .char("y"), now: now).first else {
            Issue.record("no migrate")
            return
        }
    }

    @Test func eventsRemoveRowsAndCountRates() {
        var s = Scene.state()
        let id = s.rows[1].id
        s.addEvent(
            SessionEvent(
                kind: .expired, sessionID: id.description, key: nil, node: s.names.nodes[Int(s.rows[1].node)],
                timeMs: now))
        #expect(s.liveCount == 4 && s.events.last?.user == s.rows[1].user, "the user comes from the row")
        s.compact()
        #expect(!s.visible.contains { s.rows[$0].id == id })
        #expect(s.visible.count == 4)
        // An event from another node for the same id changes nothing.
        s.addEvent(
            SessionEvent(
                kind: .deleted, sessionID: s.rows[0].id.description, key: nil, node: "elsewhere:1", timeMs: now))
        #expect(s.liveCount == 4)
        for i in 0..<20 {
            s.addEvent(
                SessionEvent(kind: .evicted, sessionID: "x\(i)", key: nil, node: "n", timeMs: now - Int64(i) * 100))
        }
        #expect(s.eventRate(.evicted, now: now) == 2.0)
    }

    @Test func aMigratedSessionStaysOnItsNewNode() {
        var s = Scene.state()
        let row = s.rows[2]
        let from = s.names.nodes[Int(row.node)]
        s.addEvent(
            SessionEvent(
                kind: .migrated, sessionID: row.id.description, key: nil, node: from, timeMs: now, target: "n9"))
        s.compact()
        #expect(s.liveCount == 5 && s.visible.contains { s.rows[$0].id == row.id }, "not removed")
        #expect(s.names.nodes[Int(s.rows[2].node)] == "n9")
        // The next event for it comes from the new node and is matched there.
        s.addEvent(SessionEvent(kind: .expired, sessionID: row.id.description, key: nil, node: "n9", timeMs: now))
        #expect(s.liveCount == 4)
    }

    @Test func compactIDsAndDueDeadlines() {
        let u = "6f1c2a90-0d4e-4b7a-9e21-5c3b7d8e9f01"
        #expect(SessionID(u) == .uuid(0x6f1c_2a90_0d4e_4b7a, 0x9e21_5c3b_7d8e_9f01) && SessionID(u).description == u)
        #expect(
            SessionID("6F1C2A90-0D4E-4B7A-9E21-5C3B7D8E9F01").description == "6F1C2A90-0D4E-4B7A-9E21-5C3B7D8E9F01",
            "kept as text")
        #expect((SessionID("abc") < SessionID(u)) == ("abc" < u))
        let s = Scene.state()
        #expect(s.due(after: now, upTo: now + 60_000) == ["6f1c2a90-0d4e-4b7a-9e21-5c3b7d8e9f01"])
        #expect(s.rowIndex(of: SessionID("c0ffee00-1111-4222-8333-444455556666")).map { s.rows[$0].user } == .some(nil))
        #expect(s.rowIndex(of: SessionID("nope")) == nil)
    }

    @Test func connectionLossKeepsDataMarkedStale() {
        var s = Scene.state()
        s.loadFailed("gone", now: now)
        #expect(s.stale && s.rows.count == 5)
        guard case .lost(_, let retry) = s.connection else {
            Issue.record("not lost")
            return
        }
        #expect(retry == now + 3000)
        s.load(rows: s.rows, names: s.names, failedNodes: [], now: now)
        #expect(!s.stale && s.connection == .connected)
    }

    @Test func inspectAndBack() {
        var s = Scene.state()
        #expect(s.handle(key: .enter, now: now) == [.loadDetail(s.selectedRow?.id.description ?? "")])
        #expect(s.view == .inspect)
        _ = s.handle(key: .escape, now: now)
        #expect(s.view == .sessions)
        _ = s.handle(key: .char("?"), now: now)
        #expect(s.view == .help)
        _ = s.handle(key: .char("q"), now: now)
        #expect(s.view == .sessions, "q leaves help before it quits")
        #expect(s.handle(key: .char("q"), now: now) == [.quit])
    }
}

extension AppState {
    /// Sets a filter as the `:filter` command does.
    mutating func setFilterForTest(_ text: String, now: Int64) -> [Effect] {
        _ = handle(key: .char(":"), now: now)
        for c in "filter " + text { _ = handle(key: .char(c), now: now) }
        return handle(key: .enter, now: now)
    }
}
