import CNCurses

/// Where views draw: a grid of cells with a role each. The curses terminal and the
/// in-memory screen of the golden tests implement it, so views never touch curses.
public protocol Canvas: AnyObject {
    var rows: Int { get }
    var cols: Int { get }
    /// Draws `text` from (`y`, `x`), clipped to the line; returns the column after it.
    /// The text must already be sanitized (views pass store data through `Sanitizer`).
    @discardableResult func put(_ y: Int, _ x: Int, _ text: String, _ role: Role) -> Int
    /// Paints a whole line with a role (background), from column `x`.
    func fill(_ y: Int, from x: Int, _ role: Role)
    func clear()
}

/// Terminal cell width of a character (wide CJK and emoji take two cells).
public func cellWidth(_ c: Character) -> Int {
    guard let s = c.unicodeScalars.first else { return 0 }
    if s.value < 0x7F { return s.value < 0x20 ? 0 : 1 }
    let w = cnc_wcwidth(s.value)
    return w < 0 ? 1 : Int(w)
}

public func cellWidth(_ s: String) -> Int { s.reduce(0) { $0 + cellWidth($1) } }

/// Cuts or pads `s` to exactly `width` cells (an ellipsis marks a cut).
public func fit(_ s: String, _ width: Int, alignRight: Bool = false) -> String {
    guard width > 0 else { return "" }
    let w = cellWidth(s)
    if w <= width {
        let pad = String(repeating: " ", count: width - w)
        return alignRight ? pad + s : s + pad
    }
    var out = ""
    var used = 0
    for c in s {
        let cw = cellWidth(c)
        if used + cw > width - 1 { break }
        out.append(c)
        used += cw
    }
    return out + "…" + String(repeating: " ", count: max(0, width - used - 1))
}

/// An in-memory screen: the golden tests render into it and compare its text.
public final class MemoryCanvas: Canvas {
    public private(set) var rows: Int
    public private(set) var cols: Int
    private var cells: [[Character]]
    private var roles: [[Role]]

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        cells = Array(repeating: Array(repeating: " ", count: cols), count: rows)
        roles = Array(repeating: Array(repeating: .base, count: cols), count: rows)
    }

    public func resize(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        clear()
    }

    public func clear() {
        cells = Array(repeating: Array(repeating: " ", count: cols), count: rows)
        roles = Array(repeating: Array(repeating: .base, count: cols), count: rows)
    }

    @discardableResult
    public func put(_ y: Int, _ x: Int, _ text: String, _ role: Role) -> Int {
        guard y >= 0, y < rows else { return x }
        var col = x
        for c in text {
            let w = cellWidth(c)
            if col + w > cols { break }
            if col >= 0 {
                cells[y][col] = c
                roles[y][col] = role
                if w == 2, col + 1 < cols {
                    cells[y][col + 1] = "\u{0}"
                    roles[y][col + 1] = role
                }
            }
            col += w
        }
        return col
    }

    public func fill(_ y: Int, from x: Int, _ role: Role) {
        guard y >= 0, y < rows else { return }
        for c in max(0, x)..<cols { roles[y][c] = role }
    }

    /// The screen as text, one line per row, trailing spaces removed.
    public var text: String {
        cells.map { line in
            var s = String(line.filter { $0 != "\u{0}" })
            while s.last == " " { s.removeLast() }
            return s
        }.joined(separator: "\n")
    }

    public func role(_ y: Int, _ x: Int) -> Role { roles[y][x] }

    /// The row's text.
    public func line(_ y: Int) -> String {
        var s = String(cells[y].filter { $0 != "\u{0}" })
        while s.last == " " { s.removeLast() }
        return s
    }
}
