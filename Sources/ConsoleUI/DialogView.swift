import SessionKit

/// Confirmation dialogs.
extension Renderer {

    static func dialog(_ d: Dialog, _ c: Canvas) {
        let lines =
            d.choices.isEmpty
            ? d.lines + ["", d.action == nil ? "[any key] close" : "[y/⏎] confirm    [n/esc] cancel"]
            : d.choices.enumerated().map { ($0.offset == d.choice ? "▶ " : "  ") + $0.element } + [
                "", "[↑↓] choose  [⏎] pick  [esc] cancel",
            ]
        let width = min(c.cols - 4, max(cellWidth(d.title) + 4, (lines.map(cellWidth).max() ?? 0) + 4))
        let height = lines.count + 4
        let top = max(2, (c.rows - height) / 2)
        let left = max(1, (c.cols - width) / 2)
        c.put(top, left, fit("┌" + String(repeating: "─", count: width - 2) + "┐", width), .dialog)
        c.put(top + 1, left, "│", .dialog)
        c.put(top + 1, left + 1, fit(" " + d.title, width - 2), .dialogTitle)
        c.put(top + 1, left + width - 1, "│", .dialog)
        c.put(top + 2, left, "│" + String(repeating: " ", count: width - 2) + "│", .dialog)
        for (i, l) in lines.enumerated() {
            c.put(top + 3 + i, left, "│" + fit(" " + l, width - 2) + "│", .dialog)
        }
        c.put(top + 3 + lines.count, left, "└" + String(repeating: "─", count: width - 2) + "┘", .dialog)
    }
}
