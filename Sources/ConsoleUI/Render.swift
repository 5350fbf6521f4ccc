import SessionKit

/// Draws the whole screen from the state. Pure: the same state and time give the same
/// screen, which is what the golden tests check.
public enum Renderer {
    public static func draw(_ s: inout AppState, on c: Canvas, now: Int64) {
        c.clear()
        guard c.rows >= 8, c.cols >= 30 else {
            c.put(0, 0, "terminal too small", .flashError)
            return
        }
        s.rowsPerPage = max(1, c.rows - 5)
        s.clampScroll()
        header(s, c, now)
        tabs(s, c, now)
        let body = 2..<(c.rows - 2)
        switch s.view {
        case .sessions: sessions(s, c, body, now)
        case .events: events(s, c, body, now)
        case .nodes: nodes(s, c, body, now)
        case .stats: stats(&s, c, body, now)
        case .inspect: inspect(s, c, body, now)
        case .help: help(s, c, body)
        }
        status(s, c, now)
        footer(s, c)
        if let d = s.dialog { dialog(d, c) }
    }
}
