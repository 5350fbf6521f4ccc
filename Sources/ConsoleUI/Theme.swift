#if canImport(Glibc)
    import SessionKit
    import Glibc
#endif

/// Every colour role of the console: themes fill them, views only name them (htop's
/// colour-role table, k9s' skins).
public enum Role: String, CaseIterable, Sendable {
    case base, header, headerAccent, readOnly, banner, stale
    case tableHeader, row, selected, marked, dim
    case ttlWarning, ttlCritical, ttlNever
    case eventExpired, eventEvicted, eventDeleted, eventMigrated, eventCreated, eventGap
    case dialog, dialogTitle, footer, footerKey, flashInfo, flashError
    case filter, help, sparkline, memoryBar, nodeDown, nodeUp
    /// The header's context badge, and the same for a context marked production.
    case contextBadge, contextProduction

    /// The TOML key: `table-header` for `tableHeader`.
    public var key: String {
        var out = ""
        for c in rawValue {
            if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}

public enum Color: Equatable, Sendable {
    case terminalDefault
    case index(UInt8)
    case rgb(UInt8, UInt8, UInt8)

    static let names: [String: UInt8] = [
        "black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7,
        "bright-black": 8, "gray": 8, "grey": 8, "bright-red": 9, "bright-green": 10, "bright-yellow": 11,
        "bright-blue": 12, "bright-magenta": 13, "bright-cyan": 14, "bright-white": 15,
    ]

    public static func parse(_ v: TOMLValue) -> Color? {
        switch v {
        case .integer(let n) where (0...255).contains(n): return .index(UInt8(n))
        case .string(let s):
            let t = s.lowercased()
            if t == "default" || t == "none" { return .terminalDefault }
            if let n = names[t] { return .index(n) }
            if t.hasPrefix("#"), t.count == 7, let v = UInt32(t.dropFirst(), radix: 16) {
                return .rgb(UInt8(v >> 16), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
            }
            return nil
        default: return nil
        }
    }

    /// The colour as a terminal with `colors` colours can show it (-1: default).
    public func index(forColors colors: Int) -> Int {
        switch self {
        case .terminalDefault: return -1
        case .index(let n):
            if Int(n) < colors { return Int(n) }
            return colors >= 16 ? Color.nearest16(Color.rgbOf256(n)) : Color.nearest16(Color.rgbOf256(n)) % 8
        case .rgb(let r, let g, let b):
            if colors >= 256 { return Color.nearest256(r, g, b) }
            let c = Color.nearest16((r, g, b))
            return colors >= 16 ? c : c % 8
        }
    }

    static let base16: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255),
        (255, 255, 255),
    ]

    static func rgbOf256(_ n: UInt8) -> (UInt8, UInt8, UInt8) {
        if n < 16 { return base16[Int(n)] }
        if n >= 232 {
            let v = UInt8(8 + Int(n - 232) * 10)
            return (v, v, v)
        }
        let i = Int(n) - 16
        let steps: [UInt8] = [0, 95, 135, 175, 215, 255]
        return (steps[i / 36], steps[(i / 6) % 6], steps[i % 6])
    }

    static func nearest256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        var best = 16
        var bestD = Int.max
        for n in 16..<256 {
            let (cr, cg, cb) = rgbOf256(UInt8(n))
            let d = sq(Int(cr) - Int(r)) + sq(Int(cg) - Int(g)) + sq(Int(cb) - Int(b))
            if d < bestD {
                bestD = d
                best = n
            }
        }
        return best
    }

    static func nearest16(_ c: (UInt8, UInt8, UInt8)) -> Int {
        var best = 0
        var bestD = Int.max
        for (n, b) in base16.enumerated() {
            let d = sq(Int(b.0) - Int(c.0)) + sq(Int(b.1) - Int(c.1)) + sq(Int(b.2) - Int(c.2))
            if d < bestD {
                bestD = d
                best = n
            }
        }
        return best
    }

    static func sq(_ v: Int) -> Int { v * v }
}

public struct Style: Equatable, Sendable {
    public var fg: Color = .terminalDefault
    public var bg: Color = .terminalDefault
    public var bold = false
    public var underline = false
    public var reverse = false
    public var dim = false
    public init(
        fg: Color = .terminalDefault, bg: Color = .terminalDefault, bold: Bool = false,
        underline: Bool = false, reverse: Bool = false, dim: Bool = false
    ) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.underline = underline
        self.reverse = reverse
        self.dim = dim
    }
}

public struct ThemeError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// A colour theme: a style per role.
public struct Theme: Equatable, Sendable {
    public var name: String
    public var styles: [Role: Style]

    public func style(_ role: Role) -> Style { styles[role] ?? styles[.base] ?? Style() }

    /// The built-in fallback (used when a theme file is broken): plain attributes only.
    public static let monochrome: Theme = {
        var s: [Role: Style] = [:]
        for r in Role.allCases { s[r] = Style() }
        s[.header] = Style(reverse: true)
        s[.selected] = Style(reverse: true)
        s[.tableHeader] = Style(bold: true, underline: true)
        s[.dialog] = Style(reverse: true)
        s[.dialogTitle] = Style(bold: true, reverse: true)
        s[.ttlCritical] = Style(bold: true)
        s[.ttlWarning] = Style(underline: true)
        s[.readOnly] = Style(bold: true, reverse: true)
        s[.flashError] = Style(bold: true)
        s[.banner] = Style(bold: true, reverse: true)
        s[.footerKey] = Style(bold: true)
        s[.marked] = Style(bold: true)
        s[.dim] = Style(dim: true)
        s[.stale] = Style(dim: true)
        s[.nodeDown] = Style(bold: true)
        s[.eventGap] = Style(bold: true)
        s[.help] = Style()
        return Theme(name: "monochrome (built in)", styles: s)
    }()

    /// Parses a theme file. `resolve` loads a theme by name for `inherits`.
    public static func parse(_ text: String, name: String, resolve: (String) throws -> Theme) throws -> Theme {
        let doc: [String: TOMLValue]
        do { doc = try TOMLSubset.parse(text) } catch { throw ThemeError(message: "theme \(name): \(error)") }
        var theme = Theme(name: doc["name"]?.string ?? name, styles: Theme.monochrome.styles)
        if let parent = doc["inherits"] {
            guard let p = parent.string else {
                throw ThemeError(message: "theme \(name): 'inherits' must be a theme name")
            }
            theme.styles = try resolve(p).styles
        }
        for key in doc.keys where !["name", "inherits", "roles", "description"].contains(key) {
            throw ThemeError(
                message: "theme \(name): unknown key '\(key)' (expected name, inherits, description, [roles])")
        }
        guard let roles = doc["roles"]?.table else {
            if doc["inherits"] != nil { return theme }
            throw ThemeError(message: "theme \(name): no [roles] table")
        }
        let byKey = Dictionary(uniqueKeysWithValues: Role.allCases.map { ($0.key, $0) })
        for (key, value) in roles {
            guard let role = byKey[key] else {
                throw ThemeError(
                    message:
                        "theme \(name): unknown role '\(key)' (roles: \(Role.allCases.map(\.key).joined(separator: ", ")))"
                )
            }
            guard let spec = value.table else {
                throw ThemeError(message: "theme \(name): role '\(key)' must be a table like { fg = \"white\" }")
            }
            var style = Style()
            for (field, v) in spec {
                switch field {
                case "fg", "bg":
                    guard let c = Color.parse(v) else {
                        throw ThemeError(
                            message: "theme \(name): role '\(key)': bad colour for \(field) (a name, 0-255 or #rrggbb)")
                    }
                    if field == "fg" { style.fg = c } else { style.bg = c }
                case "attrs":
                    guard case .array(let items) = v else {
                        throw ThemeError(message: "theme \(name): role '\(key)': attrs must be an array")
                    }
                    for item in items {
                        switch item.string {
                        case "bold": style.bold = true
                        case "underline": style.underline = true
                        case "reverse": style.reverse = true
                        case "dim": style.dim = true
                        default:
                            throw ThemeError(
                                message:
                                    "theme \(name): role '\(key)': unknown attribute \(item) (bold, underline, reverse, dim)"
                            )
                        }
                    }
                default:
                    throw ThemeError(message: "theme \(name): role '\(key)': unknown field '\(field)' (fg, bg, attrs)")
                }
            }
            theme.styles[role] = style
        }
        return theme
    }
}

/// Finds and loads themes: by path, or by name in the theme folders.
public struct ThemeLibrary: Sendable {
    public var directories: [String]

    public init(directories: [String]) { self.directories = directories }

    /// The default search path: `$SESSIONCTL_THEMES`, the user's config folder, the
    /// `themes/` folder next to the binary's package, and the system share folder.
    public static func standard(executablePath: String) -> ThemeLibrary {
        var dirs: [String] = []
        let env = processEnvironment()
        if let d = env["SESSIONCTL_THEMES"] { dirs.append(d) }
        let config = env["XDG_CONFIG_HOME"] ?? ((env["HOME"] ?? "/tmp") + "/.config")
        dirs.append(config + "/sessionctl/themes")
        // Walk up from the executable (…/.build/debug/sessionctl) to a folder holding themes/,
        // or an install prefix's share/sessionctl/themes (PREFIX/bin/sessionctl).
        var dir = executablePath
        for level in 0..<6 {
            dir = asPath(dir).deletingLastComponent
            dirs.append(dir + "/themes")
            if level == 1 { dirs.append(dir + "/share/sessionctl/themes") }
        }
        dirs.append("/usr/local/share/sessionctl/themes")
        dirs.append("/usr/share/sessionctl/themes")
        return ThemeLibrary(directories: dirs)
    }

    public func available() -> [String] {
        var names: Set<String> = ["default"]  // built in
        for d in directories {
            for f in listDirectory(d) where f.hasSuffix(".toml") { names.insert(String(f.dropLast(5))) }
        }
        return names.sorted()
    }

    public func path(for nameOrPath: String) -> String? {
        if nameOrPath.contains("/") { return fileExists(nameOrPath) ? nameOrPath : nil }
        for d in directories where fileExists(d + "/" + nameOrPath + ".toml") { return d + "/" + nameOrPath + ".toml" }
        return nil
    }

    public func load(_ nameOrPath: String) throws -> Theme {
        try load(nameOrPath, chain: [])
    }

    private func load(_ nameOrPath: String, chain: [String]) throws -> Theme {
        guard !chain.contains(nameOrPath) else {
            throw ThemeError(message: "theme inheritance loops: \((chain + [nameOrPath]).joined(separator: " -> "))")
        }
        guard let path = path(for: nameOrPath) else {
            if nameOrPath == "default" {
                return try Theme.parse(Theme.builtinDefaultText, name: "default") { parent in
                    try load(parent, chain: chain + [nameOrPath])
                }
            }
            throw ThemeError(
                message: "theme '\(nameOrPath)' not found (looked in \(directories.joined(separator: ", ")))")
        }
        guard let text = readFile(path) else { throw ThemeError(message: "cannot read theme file \(path)") }
        let name = nameOrPath.contains("/") ? String((asPath(path).lastComponent).dropLast(5)) : nameOrPath
        return try Theme.parse(text, name: name) { parent in try load(parent, chain: chain + [nameOrPath]) }
    }
}

// Small file helpers without Foundation (this module keeps its imports to the terminal).
func fileExists(_ path: String) -> Bool { access(path, R_OK) == 0 }

func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
        if bytes.count > 1 << 20 { return nil }
    }
    return String(decoding: bytes, as: UTF8.self)
}

func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { out.append(name) }
    }
    return out
}

func processEnvironment() -> [String: String] {
    var out: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return out
}

struct NSStringPath {
    let s: String
    var deletingLastComponent: String {
        guard let slash = s.lastIndex(of: "/") else { return "." }
        return slash == s.startIndex ? "/" : String(s[..<slash])
    }
    var lastComponent: String {
        guard let slash = s.lastIndex(of: "/") else { return s }
        return String(s[s.index(after: slash)...])
    }
}

func asPath(_ s: String) -> NSStringPath { NSStringPath(s: s) }
