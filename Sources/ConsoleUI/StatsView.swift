import SessionKit

/// The stats view (4): the rows in the table (the filter applies), as `sessionctl stats`
/// prints them, in two columns when the terminal is wide enough.
extension Renderer {
    static func stats(_ s: inout AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        let key = StatsKey(
            loadedAtMs: s.loadedAtMs, visible: s.visible.count, gone: s.goneCount, filter: s.filter.source)
        let stats: SessionStats
        if let cached = s.statsCache, cached.key == key {
            stats = cached.stats
        } else {
            var fresh = SessionStats()
            for i in s.visible where !s.rows[i].isGone {
                fresh.add(s.rows[i].session(s.names, now: now), nowMs: now)
            }
            s.statsCache = (key, fresh)
            stats = fresh
        }
        let twoColumns = c.cols >= 100
        let barWidth = twoColumns ? max(8, c.cols / 2 - 30) : max(8, c.cols - 30)
        var lines = stats.lines(top: 8, barWidth: barWidth)
        // The summary spans the width; the histograms (from the "TTL" heading on) go right
        // when there is room.
        let summary = lines.removeFirst()
        c.put(body.lowerBound, 1, fit(summary, c.cols - 2), .row)
        let top = body.lowerBound + 1
        let split = lines.firstIndex(of: "TTL") ?? lines.count
        let left = twoColumns ? Array(lines[..<split]) : lines
        let right = twoColumns ? Array(lines[split...]) : []
        let half = twoColumns ? c.cols / 2 - 2 : c.cols - 2
        for (i, line) in left.enumerated() where top + i < body.upperBound {
            let heading = !line.hasPrefix(" ") && !line.isEmpty
            c.put(top + i, 1, fit(line, half), heading ? .tableHeader : .row)
        }
        for (i, line) in right.enumerated() where top + i < body.upperBound {
            let heading = !line.hasPrefix(" ") && !line.isEmpty
            c.put(top + i, c.cols / 2, fit(line, c.cols / 2 - 1), heading ? .tableHeader : .sparkline)
        }
    }
}
