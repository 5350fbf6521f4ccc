import ConsoleUI
import SessionKit
import Testing

/// The table fills as a listing's pages arrive (issue 16): rows before the end, the sort
/// order and the selection held while loading, refreshes that never blank the table.
@Suite struct StreamingTests {
    let now = Scene.now

    /// `count` sessions over three nodes, with TTLs in a shuffled (seeded) order.
    static func sessions(_ count: Int, seed: UInt64 = 7) -> [Session] {
        var rng = seed
        var out: [Session] = []
        for i in 0..<count {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let ttl = Int64((rng >> 33) % 3_600_000) + 1
            out.append(
                Session(
                    id: "s\(i)", key: "spring:session:sessions:s\(i)", user: "u\(i % 17)", node: "n\(i % 3)",
                    ttlMs: ttl, schema: "spring"))
        }
        return out
    }

    /// Feeds pages through the same pager the TUI uses.
    static func feed(_ s: inout AppState, _ pages: [[Session]], pager: inout RowPager, now: Int64) {
        for page in pages {
            let (rows, delta, perNode) = pager.rows(page, now: now)
            s.receivePage(rows, names: delta, perNode: perNode, now: now)
            s.mergePending(now: now)
        }
    }

    static func pages(_ all: [Session], size: Int) -> [[Session]] {
        stride(from: 0, to: all.count, by: size).map { Array(all[$0..<min(all.count, $0 + size)]) }
    }

    func fullSortIDs(_ s: AppState) -> [String] {
        var copy = s
        copy.rebuildVisible(now: now)
        return copy.visible.map { copy.rows[$0].id.description }
    }

    @Test func rowsShowBeforeTheListingEndsInTheChosenOrder() {
        var s = AppState(storeName: "redis://x", readOnly: false, themeName: "default")
        s.sessionEstimate = 1000
        s.beginListing(now: now)
        var pager = RowPager()
        let all = Self.sessions(1000)
        let pages = Self.pages(all, size: 100)
        Self.feed(&s, [pages[0]], pager: &pager, now: now)
        #expect(s.visible.count == 100, "the first page is on screen before the listing ends")
        #expect(s.listing != nil && s.loading)
        #expect(s.listingText(now: now + 3000) == "100 of ~1,000, 3 s")
        for (n, page) in pages.dropFirst().enumerated() {
            Self.feed(&s, [page], pager: &pager, now: now)
            let shown = s.visible.map { s.rows[$0].id.description }
            #expect(shown == fullSortIDs(s), "after page \(n + 2) the table is in sort order")
        }
        s.endListing(failedNodes: [], now: now)
        #expect(s.listing == nil && !s.loading && s.visible.count == 1000)
        #expect(Set(s.visible.map { s.rows[$0].id.description }) == Set(all.map(\.id)))
        // The id index covers every row: an event finds a row that came in the last page.
        let last = all[999]
        s.addEvent(
            SessionEvent(kind: .deleted, sessionID: last.id, key: last.key, node: last.node, timeMs: now, detail: nil))
        #expect(s.liveCount == 999)
    }

    @Test func theSelectedSessionStaysUnderTheCursorWhilePagesArrive() {
        var s = AppState(storeName: "redis://x", readOnly: false, themeName: "default")
        s.rowsPerPage = 20
        s.beginListing(now: now)
        var pager = RowPager()
        let pages = Self.pages(Self.sessions(2000, seed: 11), size: 200)
        Self.feed(&s, [pages[0]], pager: &pager, now: now)
        for _ in 0..<7 { _ = s.handle(key: .down, now: now) }
        let picked = s.selectedRow?.id
        let line = s.cursor - s.top
        #expect(line == 7)
        for page in pages.dropFirst() {
            Self.feed(&s, [page], pager: &pager, now: now)
            #expect(s.selectedRow?.id == picked, "the cursor stays on the session the operator chose")
            #expect(s.cursor - s.top == line, "on the same screen line")
        }
        #expect(s.cursor > 7, "rows sorting before it arrived above it")
    }

    @Test func anUntouchedTableKeepsShowingTheHeadOfTheOrder() {
        var s = AppState(storeName: "redis://x", readOnly: false, themeName: "default")
        s.beginListing(now: now)
        var pager = RowPager()
        let all = Self.sessions(600, seed: 5)
        Self.feed(&s, Self.pages(all, size: 100), pager: &pager, now: now)
        let smallest = all.min { $0.ttlMs < $1.ttlMs }?.id
        #expect(s.cursor == 0 && s.top == 0 && s.selectedRow?.id.description == smallest)
    }

    @Test func aFilterAndASortChangeApplyToRowsStillArriving() {
        var s = AppState(storeName: "redis://x", readOnly: false, themeName: "default")
        s.beginListing(now: now)
        var pager = RowPager()
        let pages = Self.pages(Self.sessions(900), size: 150)
        Self.feed(&s, Array(pages.prefix(2)), pager: &pager, now: now)
        _ = s.handle(key: .char("/"), now: now)
        for c in "user=u3" { _ = s.handle(key: .char(c), now: now) }
        _ = s.handle(key: .enter, now: now)
        _ = s.handle(key: .char("s"), now: now)  // ttl -> idle
        Self.feed(&s, Array(pages.dropFirst(2)), pager: &pager, now: now)
        s.endListing(failedNodes: [], now: now)
        let shown = s.visible.map { s.rows[$0] }
        #expect(shown.count == 900 / 17 + (900 % 17 > 3 ? 1 : 0))
        #expect(shown.allSatisfy { $0.user == "u3" })
        #expect(shown.map { $0.id.description } == fullSortIDs(s))
    }

    @Test func aRefreshKeepsTheOldRowsOnScreenUntilItEnds() {
        var s = Scene.state()
        let before = s.visible.map { s.rows[$0].id }
        s.beginListing(now: now)
        var pager = RowPager()
        let fresh = Self.sessions(50)
        Self.feed(&s, Self.pages(fresh, size: 20), pager: &pager, now: now)
        #expect(s.visible.map { s.rows[$0].id } == before, "no blank table and no half listing during a refresh")
        #expect(s.listing?.received == 50)
        s.endListing(failedNodes: [], now: now)
        #expect(s.visible.count == 50 && s.listing == nil)
        #expect(s.names.key(of: s.rows[0]) == "spring:session:sessions:s0", "names came with the pages")
        // A refresh that fails as a whole leaves the table as it was.
        s.beginListing(now: now)
        Self.feed(&s, [Array(Self.sessions(5, seed: 99))], pager: &pager, now: now)
        s.abortListing(now: now)
        #expect(s.visible.count == 50 && s.listing == nil)
    }

    @Test func sizesAreReadForTheRowsOnScreenOnly() {
        var s = AppState(storeName: "redis://x", readOnly: false, themeName: "default")
        s.rowsPerPage = 10
        s.beginListing(now: now)
        var pager = RowPager()
        Self.feed(&s, [Self.sessions(100)], pager: &pager, now: now)
        s.endListing(failedNodes: [], now: now)
        let asked = s.sizesToRead()
        let onScreen = s.visible.prefix(10).map { s.rows[$0].id.description }
        #expect(asked == onScreen)
        #expect(s.sizesToRead().isEmpty, "asked once")
        s.sizesRead(Dictionary(uniqueKeysWithValues: asked.map { ($0, Int64(4096)) }))
        #expect(s.visible.prefix(10).allSatisfy { s.rows[$0].sizeBytes == 4096 })
        #expect(s.visible.dropFirst(10).allSatisfy { s.rows[$0].sizeBytes == -1 }, "rows off screen: not read")
        _ = s.handle(key: .pageDown, now: now)
        _ = s.handle(key: .pageDown, now: now)
        let screen = s.visible[s.top..<s.top + 10].map { s.rows[$0].id.description }
        #expect(s.sizesToRead() == screen.filter { !asked.contains($0) }, "the new rows on screen")
        #expect(!s.listingNeedsSizes)
        for _ in 0..<3 { _ = s.handle(key: .char("s"), now: now) }
        #expect(s.sortColumn == .size && s.listingNeedsSizes, "sorting by size makes the listing read them")
    }
}
