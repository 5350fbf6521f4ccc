import ConsoleUI
import Foundation
import SessionKit
import Testing

/// Golden screens: each view rendered into an in-memory screen and compared with the
/// reviewed text in Golden/. A change is reviewed, then re-recorded with
/// SESSIONCTL_RECORD_GOLDEN=1 scripts/test.sh --filter GoldenTests.
@Suite struct GoldenTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    func check(_ name: String, rows: Int = 16, cols: Int = 110, _ setup: (inout AppState) -> Void) throws {
        var s = Scene.state()
        setup(&s)
        let canvas = MemoryCanvas(rows: rows, cols: cols)
        Renderer.draw(&s, on: canvas, now: Scene.now)
        let text = canvas.text + "\n"
        let file = Self.dir.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["SESSIONCTL_RECORD_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "screen \(name) changed:\n\(text)")
        // No store byte reaches the screen raw.
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test func sessionsView() throws { try check("sessions") { _ in } }
    @Test func sessionsMarkedAndFiltered() throws {
        try check("sessions-filtered") { s in
            _ = s.handle(key: .char(" "), now: Scene.now)
            _ = s.handle(key: .char("/"), now: Scene.now)
            for c in "ttl<20m" { _ = s.handle(key: .char(c), now: Scene.now) }
            _ = s.handle(key: .enter, now: Scene.now)
        }
    }
    @Test func statsViewSummarisesTheRowsAndFollowsTheFilter() throws {
        var s = Scene.state()
        _ = s.handle(key: .char("4"), now: Scene.now)
        #expect(s.view == .stats)
        let canvas = MemoryCanvas(rows: 40, cols: 120)
        Renderer.draw(&s, on: canvas, now: Scene.now)
        let text = canvas.text
        #expect(text.contains("sessions \(s.visible.count)") && text.contains("TOP USERS") && text.contains("TTL"))
        #expect(text.contains("4 Stats") && text.contains("PER NODE"), "\(text)")
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        // A filter narrows what is counted.
        let user = try #require(s.rows.first?.user)
        _ = s.handle(key: .char("1"), now: Scene.now)
        _ = s.handle(key: .char("/"), now: Scene.now)
        for ch in "user=\(user)" { _ = s.handle(key: .char(ch), now: Scene.now) }
        _ = s.handle(key: .enter, now: Scene.now)
        _ = s.handle(key: .char("4"), now: Scene.now)
        let narrowed = MemoryCanvas(rows: 40, cols: 120)
        Renderer.draw(&s, on: narrowed, now: Scene.now)
        let mine = s.rows.filter { $0.user == user && !$0.isGone }.count
        #expect(narrowed.text.contains("sessions \(mine)   signed in \(mine) (100%)"), "\(narrowed.text)")
    }

    /// The role of the header cell where `text` starts.
    func roleOfFirstRow(_ c: MemoryCanvas, _ text: String) -> Role? {
        let line = c.line(0)
        guard let r = line.range(of: text) else { return nil }
        return c.role(0, line.distance(from: line.startIndex, to: r.lowerBound))
    }

    @Test func productionContextBadgeAndConfirmation() throws {
        var s = Scene.state()
        s.context = ContextBadge(name: "prod", label: "PROD EU", production: true)
        _ = s.handle(key: .char("L"), now: Scene.now)
        let canvas = MemoryCanvas(rows: 16, cols: 110)
        Renderer.draw(&s, on: canvas, now: Scene.now)
        let text = canvas.text
        #expect(text.split(separator: "\n").first?.contains("PROD EU (production)") == true, "\(text)")
        #expect(text.contains("[prod] Log out") && text.contains("PRODUCTION context 'prod'"), "\(text)")
        #expect(roleOfFirstRow(canvas, "PROD EU") == .contextProduction)
        var plain = Scene.state()
        plain.context = ContextBadge(name: "staging")
        _ = plain.handle(key: .char("L"), now: Scene.now)
        let other = MemoryCanvas(rows: 16, cols: 110)
        Renderer.draw(&plain, on: other, now: Scene.now)
        #expect(other.text.contains(" staging ") && !other.text.contains("PRODUCTION"))
        #expect(roleOfFirstRow(other, "staging") == .contextBadge)
    }
    @Test func narrowTerminal() throws { try check("sessions-narrow", rows: 12, cols: 60) { _ in } }
    @Test func readOnlyBadgeAndFooter() throws {
        try check("read-only") { s in
            s = Scene.state(readOnly: true)
            _ = s.handle(key: .char("e"), now: Scene.now)
        }
    }
    @Test func confirmDialog() throws {
        try check("confirm-logout") { s in _ = s.handle(key: .char("L"), now: Scene.now) }
    }
    @Test func inspectView() throws {
        try check("inspect", rows: 24) { s in
            _ = s.handle(key: .enter, now: Scene.now)
            s.inspect = Scene.session()
            s.inspectLines = Renderer.inspectLines(Scene.session(), now: Scene.now)
        }
    }
    @Test func eventsView() throws {
        try check("events") { s in
            for e in Scene.events() { s.addEvent(e) }
            s.notificationsOff = ["10.0.0.6:6379"]
            _ = s.handle(key: .char("2"), now: Scene.now)
        }
    }
    @Test func nodesView() throws {
        try check("nodes") { s in _ = s.handle(key: .char("3"), now: Scene.now) }
    }
    @Test func helpView() throws {
        try check("help", rows: 34) { s in _ = s.handle(key: .char("?"), now: Scene.now) }
    }
    @Test func disconnectedBanner() throws {
        try check("disconnected") { s in
            s.loadFailed("127.0.0.1:6379: cannot connect: Connection refused", now: Scene.now - 1000)
        }
    }
}
