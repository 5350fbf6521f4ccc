import SessionKit

/// The nodes view (3), with backend facts as columns.
extension Renderer {

    static func nodes(_ s: AppState, _ c: Canvas, _ body: Range<Int>, _ now: Int64) {
        var y = body.lowerBound
        c.fill(y, from: 0, .tableHeader)
        // Backend facts (a ring share, keys, slots) as further columns, titled by the store.
        let factColumns = NodeFactColumns(s.nodes)
        c.put(
            y, 1,
            fit("NODE", 18) + fit("STATE", 10) + fit("ROLE", 8) + fit("SESSIONS", 10, alignRight: true) + "  "
                + fit("MEMORY", 24) + fit("EXPIRED/s", 20)
                + (factColumns.isEmpty ? "EVICTED/s" : fit("EVICTED/s", 20) + factColumns.header), .tableHeader)
        y += 1
        if s.nodes.isEmpty {
            c.put(y + 1, 2, "loading nodes…", .dim)
            return
        }
        for n in s.nodes {
            guard y < body.upperBound else { break }
            var x = c.put(y, 1, fit(n.name, 18), .row)
            x = c.put(y, x, fit(n.state, 10), n.up ? .nodeUp : .nodeDown)
            x = c.put(y, x, fit(n.role, 8), .row)
            // While listing, how far each node's listing got ("412,000…").
            let listed = s.listing.map { group($0.perNode[n.name] ?? 0) + "…" }
            x = c.put(y, x, fit(listed ?? n.sessions.map(group) ?? "-", 10, alignRight: true) + "  ", .row)
            if let used = n.usedMemory {
                let maxMem = n.maxMemory ?? 0
                let barWidth = 10
                let filled = maxMem > 0 ? min(barWidth, Int(Double(used) / Double(maxMem) * Double(barWidth) + 0.5)) : 0
                x = c.put(
                    y, x, String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled),
                    .memoryBar)
                x = c.put(y, x, " " + fit(bytes(used) + "/" + (maxMem > 0 ? bytes(maxMem) : "∞"), 13), .row)
            } else {
                x = c.put(
                    y, x, fit(n.error.map { Sanitizer.display($0, limit: 60) } ?? "-", 24), n.up ? .row : .nodeDown)
            }
            let rates = s.nodeRates[n.name] ?? []
            x = c.put(
                y, x, fit(sparkline(rates.map(\.expired), width: 12) + " " + format1(rates.last?.expired ?? 0), 20),
                .sparkline)
            let evicted = sparkline(rates.map(\.evicted), width: 12) + " " + format1(rates.last?.evicted ?? 0)
            if !factColumns.isEmpty {
                x = c.put(y, x, fit(evicted, 20), .sparkline)
                c.put(y, x, factColumns.row(n), .row)
            } else {
                c.put(y, x, evicted, .sparkline)
            }
            y += 1
        }
        if y + 1 < body.upperBound, let p = s.nodes.first?.evictionPolicy {
            c.put(y + 1, 1, "eviction policy: \(p)", .dim)
        }
    }

    /// Columns for the backend facts present on any node, each as wide as its widest cell.
    struct NodeFactColumns {
        let keys: [(key: String, title: String, width: Int)]
        init(_ nodes: [NodeInfo]) {
            var order: [(String, String)] = []
            for n in nodes {
                for f in n.facts where !order.contains(where: { $0.0 == f.key }) { order.append((f.key, f.title)) }
            }
            keys = order.map { key, title in
                (key, title, max(title.count, nodes.map { $0[fact: key]?.text.count ?? 1 }.max() ?? 1) + 2)
            }
        }
        var isEmpty: Bool { keys.isEmpty }
        var header: String { keys.map { fit($0.title, $0.width) }.joined() }
        func row(_ n: NodeInfo) -> String {
            keys.map { fit(n[fact: $0.key].map { Sanitizer.display($0.text, limit: 40) } ?? "-", $0.width) }.joined()
        }
    }

    public static func sparkline(_ values: [Double], width: Int) -> String {
        let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let tail = Array(values.suffix(width))
        guard let top = tail.max(), top > 0 else {
            return String(repeating: "▁", count: max(0, tail.count)) + String(repeating: " ", count: width - tail.count)
        }
        return String(tail.map { blocks[min(7, Int($0 / top * 7 + 0.5))] })
            + String(repeating: " ", count: width - tail.count)
    }
}
