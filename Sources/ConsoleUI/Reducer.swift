import SessionKit

/// The reducer: a key becomes a command, a command changes the state and returns effects.
extension AppState {
    var pageSize: Int { max(1, rowsPerPage) }

    /// Applies a key or a data event; returns what the controller must do.
    public mutating func handle(key: Key, now: Int64) -> [Effect] {
        if key == .resize {
            clampScroll()
            return []
        }
        if dialog != nil { return handleDialog(key, now: now) }
        if input != nil { return handleInput(key, now: now) }
        guard let binding = Bindings.command(for: key, in: view) else { return [] }
        if binding.mutates && readOnly {
            showFlash("read-only: \(binding.help) is disabled", error: true, now: now)
            return []
        }
        return run(binding.command, now: now)
    }

    mutating func run(_ command: Command, now: Int64) -> [Effect] {
        switch command {
        case .up: move(-1)
        case .down: move(1)
        case .pageUp: move(-pageSize)
        case .pageDown: move(pageSize)
        case .home: move(-Int.max / 2)
        case .end: move(Int.max / 2)
        case .inspect:
            guard let row = selectedRow else { return [] }
            returnView = view
            view = .inspect
            inspect = nil
            inspectLines = []
            inspectScroll = 0
            inspectError = nil
            return [.loadDetail(row.id.description)]
        case .back:
            if view == .inspect || view == .help {
                view = returnView
                return []
            }
            if view != .sessions {
                view = .sessions
                return []
            }
            if !filter.isEmpty {
                filter = Filter()
                rebuildVisible(now: now)
                return []
            }
            if !marked.isEmpty {
                marked = []
                return []
            }
        case .filter:
            input = .filter(filter.source)
        case .command:
            input = .command("")
            historyIndex = nil
        case .help:
            if view != .help {
                returnView = view == .inspect ? .sessions : view
                view = .help
            } else {
                view = returnView
            }
        case .quit:
            if view == .inspect || view == .help {
                view = returnView
                return []
            }
            return [.quit]
        case .mark:
            guard let row = selectedRow else { return [] }
            if marked.contains(row.id) { marked.remove(row.id) } else { marked.insert(row.id) }
            move(1)
        case .expire:
            let ids = targetIDs
            guard !ids.isEmpty else { return [] }
            confirm(.expire(ids: ids, afterMs: nil), now: now)
        case .logout:
            guard let user = (view == .inspect ? inspect?.user : selectedRow?.user) else {
                showFlash("the selected session has no known user; use e to expire it", error: true, now: now)
                return []
            }
            let count = rows.filter { $0.user == user && !$0.isGone }.count
            confirm(.logout(user: user, count: count), now: now)
        case .migrate:
            let ids = targetIDs
            guard !ids.isEmpty else { return [] }
            guard !migrateTargets.isEmpty else {
                showFlash(
                    "this store cannot migrate sessions (standalone Redis nodes: see the cluster issues)", error: true,
                    now: now)
                return []
            }
            dialog = Dialog(
                title: "Migrate \(ids.count) session\(ids.count == 1 ? "" : "s") to…", lines: [], action: nil,
                choices: migrateTargets, choice: 0, pickFor: ids)
        case .sortNext:
            let all = Column.allCases
            sortColumn = all[(all.firstIndex(of: sortColumn)! + 1) % all.count]
            rebuildVisible(now: now)
        case .sortReverse:
            sortAscending.toggle()
            rebuildVisible(now: now)
        case .refresh:
            // A refresh re-reads the attributes an `attr.` filter is decided on, too.
            return filter.needsAttributes ? [.refresh, .fetchFilterMatches(filter)] : [.refresh]
        case .viewSessions: view = .sessions
        case .viewEvents: view = .events
        case .viewNodes: view = .nodes
        case .viewStats: view = .stats
        case .eventKinds:
            let cycle: [Set<SessionEvent.Kind>] = [
                Set(SessionEvent.Kind.allCases), [.expired, .gap], [.evicted, .gap], [.deleted, .gap],
                [.migrated, .gap],
            ]
            let i = cycle.firstIndex(of: eventKinds) ?? 0
            eventKinds = cycle[(i + 1) % cycle.count]
        case .enableNotifications:
            let name = eventSetting?.name ?? "session events"
            guard !notificationsOff.isEmpty else {
                showFlash("\(name) are already on", error: false, now: now)
                return []
            }
            confirm(.enableNotifications, now: now)
        }
        return []
    }

    /// Marked sessions, else the selected one (the inspected one in the inspect view).
    var targetIDs: [String] {
        if view == .inspect, let s = inspect { return [s.id] }
        if !marked.isEmpty { return rows.filter { marked.contains($0.id) && !$0.isGone }.map(\.id.description) }
        return selectedRow.map { [$0.id.description] } ?? []
    }

    mutating func move(_ delta: Int) {
        switch view {
        case .inspect: inspectScroll = max(0, min(inspectScroll + delta, max(0, inspectLines.count - pageSize)))
        case .events: eventTop = max(0, min(eventTop + delta, max(0, events.count - 1)))
        case .sessions:
            guard !visible.isEmpty else { return }
            cursor = max(0, min(visible.count - 1, cursor + delta))
            clampScroll()
        default: break
        }
    }
}
