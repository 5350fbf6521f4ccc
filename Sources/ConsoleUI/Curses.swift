import CNCurses

#if canImport(Glibc)
    import Glibc
#endif

/// The curses terminal. The only code that imports CNCurses; used from one thread only
/// (the UI thread of `TUIController`).
public final class CursesCanvas: Canvas {
    public private(set) var rows: Int = 24
    public private(set) var cols: Int = 80
    private var pairs: [Role: (pair: Int16, attrs: attr_t)] = [:]
    private var colors = 8
    private(set) var active = false
    private var nextPair: Int16 = 1
    private var pairCache: [PairKey: Int16] = [:]
    private struct PairKey: Hashable {
        var fg: Int
        var bg: Int
    }

    public init() {}

    /// Takes over the terminal. Call `end()` on every exit path.
    public func begin(theme: Theme, noColor: Bool) {
        setlocale(LC_ALL, "")
        _ = initscr()
        active = true
        cbreak()
        noecho()
        _ = keypad(cnc_stdscr(), true)
        _ = nodelay(cnc_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        if !noColor && has_colors() {
            start_color()
            use_default_colors()
            colors = Int(COLORS_value())
        } else {
            colors = 0
        }
        apply(theme: theme)
        updateSize()
    }

    /// Restores the terminal (idempotent; safe from signal paths via `emergencyRestore`).
    public func end() {
        guard active else { return }
        active = false
        curs_set(1)
        endwin()
    }

    public func apply(theme: Theme) {
        pairs = [:]
        for role in Role.allCases {
            let s = theme.style(role)
            var attrs: attr_t = cnc_a_normal()
            if s.bold { attrs |= cnc_a_bold() }
            if s.underline { attrs |= cnc_a_underline() }
            if s.reverse { attrs |= cnc_a_reverse() }
            if s.dim { attrs |= cnc_a_dim() }
            var pair: Int16 = 0
            if colors > 0 {
                let key = PairKey(fg: s.fg.index(forColors: colors), bg: s.bg.index(forColors: colors))
                if let p = pairCache[key] {
                    pair = p
                } else if nextPair < 255 {
                    init_pair(nextPair, Int16(key.fg), Int16(key.bg))
                    pairCache[key] = nextPair
                    pair = nextPair
                    nextPair += 1
                }
            }
            pairs[role] = (pair, attrs)
        }
        if let base = pairs[.base] { _ = wbkgdset_wrap(base.pair) }
    }

    public func updateSize() {
        var y: Int32 = 0
        var x: Int32 = 0
        cnc_getmaxyx(cnc_stdscr(), &y, &x)
        rows = Int(y)
        cols = Int(x)
    }

    public func clear() { erase() }

    @discardableResult
    public func put(_ y: Int, _ x: Int, _ text: String, _ role: Role) -> Int {
        guard y >= 0, y < rows, x < cols else { return x }
        let (pair, attrs) = pairs[role] ?? (0, cnc_a_normal())
        let a = attrs | cnc_color_pair(Int32(pair))
        _ = attron(Int32(bitPattern: a))
        var col = x
        var chunk = ""
        for c in text {
            let w = cellWidth(c)
            if col + w > cols { break }
            chunk.append(c)
            col += w
        }
        // The last cell of the last line would scroll the screen on some terminals.
        if y == rows - 1 && col >= cols, !chunk.isEmpty {
            chunk.removeLast()
            col -= 1
        }
        _ = mvaddstr(Int32(y), Int32(x), chunk)
        _ = attroff(Int32(bitPattern: a))
        return col
    }

    public func fill(_ y: Int, from x: Int, _ role: Role) {
        guard y >= 0, y < rows, x < cols else { return }
        let width = cols - max(0, x) - (y == rows - 1 ? 1 : 0)
        if width > 0 { put(y, max(0, x), String(repeating: " ", count: width), role) }
    }

    /// Restores the terminal from a crash handler (no Swift state touched).
    static func emergencyEnd() { endwin() }

    /// Hands pages freed by large arrays back to the system (after a big listing).
    static func releaseFreeMemory() { cnc_release_free_memory() }

    /// Sends the batched changes to the terminal in one write (no flicker).
    public func present() { refresh() }

    /// Reads one key without blocking: nil when none is waiting.
    public func readKey() -> Key? {
        var ch: wint_t = 0
        let r = get_wch(&ch)
        if r == ERR { return nil }
        if r == KEY_CODE_YES {
            switch Int32(ch) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_NPAGE: return .pageDown
            case KEY_PPAGE: return .pageUp
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_BACKSPACE: return .backspace
            case KEY_DC: return .delete
            case KEY_ENTER: return .enter
            case KEY_RESIZE:
                updateSize()
                return .resize
            case KEY_BTAB: return .backTab
            default: return .unknown
            }
        }
        guard let scalar = Unicode.Scalar(UInt32(ch)) else { return .unknown }
        switch scalar.value {
        case 10, 13: return .enter
        case 27: return .escape
        case 9: return .tab
        case 127, 8: return .backspace
        case 3: return .ctrlC
        case 12: return .ctrlL
        case 0..<32: return .unknown
        default: return .char(Character(scalar))
        }
    }
}

/// A key as the views understand it.
public enum Key: Equatable, Sendable {
    case char(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, tab, backTab, backspace, delete
    case ctrlC, ctrlL, resize, unknown
}
