import SessionKit

/// The `/` filter and `:` command line: editing, history, completion, the commands.
extension AppState {
    mutating func handleInput(_ key: Key, now: Int64) -> [Effect] {
        guard let current = input else { return [] }
        var text: String
        switch current {
        case .filter(let t), .command(let t): text = t
        }
        let isCommand = { if case .command = current { return true } else { return false } }()
        switch key {
        case .escape:
            input = nil
            return []
        case .enter:
            input = nil
            if isCommand { return runColon(text, now: now) }
            do {
                return setFilter(try Filter(text), now: now)
            } catch {
                showFlash("filter: \(error.description)", error: true, now: now)
            }
            return []
        case .backspace, .delete:
            if !text.isEmpty { text.removeLast() }
        case .tab where isCommand:
            text = complete(text)
        case .up where isCommand:
            guard !commandHistory.isEmpty else { return [] }
            let i = max(0, (historyIndex ?? commandHistory.count) - 1)
            historyIndex = i
            text = commandHistory[i]
        case .down where isCommand:
            guard let i = historyIndex else { return [] }
            if i + 1 < commandHistory.count {
                historyIndex = i + 1
                text = commandHistory[i + 1]
            } else {
                historyIndex = nil
                text = ""
            }
        case .char(let c):
            text.append(c)
        default:
            return []
        }
        input = isCommand ? .command(text) : .filter(text)
        return []
    }

    /// Completes the command word, or a theme name / node / user for the argument.
    func complete(_ text: String) -> String {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if parts.count <= 1 {
            let matches = Bindings.colonCommands.filter { $0.hasPrefix(text) }
            return matches.count == 1 ? matches[0] + " " : (matches.isEmpty ? text : commonPrefix(matches))
        }
        let word = parts.last ?? ""
        let pool: [String]
        switch parts[0] {
        case "theme": pool = themeNames
        case "migrate": pool = migrateTargets
        case "logout": pool = Array(Set(rows.compactMap(\.user))).sorted()
        case "sort": pool = Column.allCases.map(\.rawValue)
        default: pool = []
        }
        let matches = pool.filter { $0.hasPrefix(word) }
        guard !matches.isEmpty else { return text }
        let head = parts.dropLast().joined(separator: " ")
        return head + " " + (matches.count == 1 ? matches[0] : commonPrefix(matches))
    }

    func commonPrefix(_ items: [String]) -> String {
        guard var p = items.first else { return "" }
        for s in items.dropFirst() { while !s.hasPrefix(p) { p.removeLast() } }
        return p
    }

    mutating func runColon(_ text: String, now: Int64) -> [Effect] {
        let trimmed = text.trimmingCharacters()
        guard !trimmed.isEmpty else { return [] }
        commandHistory.append(trimmed)
        if commandHistory.count > 100 { commandHistory.removeFirst() }
        let parts = trimmed.split(separator: " ", maxSplits: 1).map(String.init)
        let arg = parts.count > 1 ? parts[1].trimmingCharacters() : ""
        let mutating = ["logout", "expire", "migrate"].contains(parts[0])
        if mutating && readOnly {
            showFlash("read-only: :\(parts[0]) is disabled", error: true, now: now)
            return []
        }
        switch parts[0] {
        case "q", "quit": return [.quit]
        case "help": view = .help
        case "sessions": view = .sessions
        case "events": view = .events
        case "nodes": view = .nodes
        case "stats": view = .stats
        case "filter":
            do { return setFilter(try Filter(arg), now: now) } catch {
                showFlash("filter: \(error.description)", error: true, now: now)
            }
        case "sort":
            guard let c = Column(rawValue: arg.lowercased()) else {
                showFlash("sort by: \(Column.allCases.map(\.rawValue).joined(separator: ", "))", error: true, now: now)
                return []
            }
            sortColumn = c
            rebuildVisible(now: now)
        case "theme":
            guard !arg.isEmpty else {
                showFlash("themes: \(themeNames.joined(separator: ", "))", error: false, now: now)
                return []
            }
            return [.setTheme(arg)]
        case "logout":
            let user = arg.isEmpty ? (selectedRow?.user ?? "") : arg
            guard !user.isEmpty else {
                showFlash(":logout USER", error: true, now: now)
                return []
            }
            confirm(.logout(user: user, count: rows.filter { $0.user == user && !$0.isGone }.count), now: now)
        case "expire":
            let ids = targetIDs
            guard !ids.isEmpty else {
                showFlash("no session selected", error: true, now: now)
                return []
            }
            var after: Int64? = nil
            if !arg.isEmpty && arg != "now" {
                do { after = try DurationText.milliseconds(arg) } catch {
                    showFlash(error.description, error: true, now: now)
                    return []
                }
            }
            confirm(.expire(ids: ids, afterMs: after), now: now)
        case "migrate":
            let ids = targetIDs
            guard !ids.isEmpty else {
                showFlash("no session selected", error: true, now: now)
                return []
            }
            guard !migrateTargets.isEmpty else {
                showFlash(
                    "this store cannot migrate sessions (standalone Redis nodes: see the cluster issues)", error: true,
                    now: now)
                return []
            }
            guard migrateTargets.contains(arg) else {
                showFlash("migrate to one of: \(migrateTargets.joined(separator: ", "))", error: true, now: now)
                return []
            }
            confirm(.migrate(ids: ids, node: arg), now: now)
        default:
            showFlash("unknown command :\(parts[0]) (try :help)", error: true, now: now)
        }
        return []
    }
}
