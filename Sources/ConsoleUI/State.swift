import SessionKit

/// One row of the sessions table: only what the table shows, compact, so a million rows
/// stay small (node and schema are indexes into shared name tables; times are absolute).
public struct Row: Sendable, Equatable {
    public var id: SessionID
    public var user: String?
    public var node: UInt16
    public var schema: UInt8
    /// Absolute deadline in ms, -1 when the session never expires.
    public var deadlineMs: Int64
    public var lastAccessMs: Int64  // .min: unknown
    public var createdMs: Int64  // .min: unknown
    public var sizeBytes: Int32  // -1: unknown
    /// The store key's prefix (an index into `RowNames.keyPrefixes`; the key is prefix + id),
    /// or `.max` for a key of another shape (kept in `RowNames.otherKeys`).
    public var keyPrefix: UInt16

    public init(
        id: String, user: String?, node: UInt16, schema: UInt8, deadlineMs: Int64,
        lastAccessMs: Int64, createdMs: Int64, sizeBytes: Int32, keyPrefix: UInt16 = .max
    ) {
        self.id = SessionID(id)
        self.user = user
        self.node = node
        self.schema = schema
        self.deadlineMs = deadlineMs
        self.lastAccessMs = lastAccessMs
        self.createdMs = createdMs
        self.sizeBytes = sizeBytes
        self.keyPrefix = keyPrefix
    }

    public func ttlMs(now: Int64) -> Int64 { deadlineMs < 0 ? -1 : max(0, deadlineMs - now) }

    /// Rows removed by an event keep their slot until the next listing (tombstone).
    public var isGone: Bool { sizeBytes == Int32.min }
}

/// Name tables for rows.
public struct RowNames: Sendable, Equatable {
    public var nodes: [String] = []
    public var schemas: [String] = []
    /// Key prefixes: most stores key a session as prefix + id, so a row keeps 2 bytes.
    public var keyPrefixes: [String] = []
    /// Keys not of the prefix + id shape, by id.
    public var otherKeys: [String: String] = [:]
    public init() {}

    /// The index to keep in a row for `key` (see `Row.keyPrefix`).
    public mutating func keyIndex(key: String, id: String) -> UInt16 {
        if key.hasSuffix(id) {
            let prefix = String(key.dropLast(id.count))
            if let i = keyPrefixes.firstIndex(of: prefix) { return UInt16(i) }
            if keyPrefixes.count < Int(UInt16.max) {
                keyPrefixes.append(prefix)
                return UInt16(keyPrefixes.count - 1)
            }
        }
        if key != id { otherKeys[id] = key }
        return .max
    }

    /// The store key of a row.
    public func key(of row: Row) -> String {
        let id = row.id.description
        if row.keyPrefix != .max, Int(row.keyPrefix) < keyPrefixes.count { return keyPrefixes[Int(row.keyPrefix)] + id }
        return otherKeys[id] ?? id
    }
    public mutating func node(_ name: String) -> UInt16 {
        if let i = nodes.firstIndex(of: name) { return UInt16(i) }
        nodes.append(name)
        return UInt16(nodes.count - 1)
    }
    public mutating func schema(_ name: String) -> UInt8 {
        if let i = schemas.firstIndex(of: name) { return UInt8(i) }
        schemas.append(name)
        return UInt8(schemas.count - 1)
    }
}

extension Row {
    /// A row from a listed session (the times become absolute at `now`).
    public static func from(_ s: Session, now: Int64, names: inout RowNames) -> Row {
        Row(
            id: s.id, user: s.user, node: names.node(s.node), schema: names.schema(s.schema),
            deadlineMs: s.ttlMs < 0 ? -1 : now + s.ttlMs,
            lastAccessMs: s.lastAccessedAtMs ?? s.storeIdleMs.map { now - $0 } ?? .min,
            createdMs: s.createdAtMs ?? .min, sizeBytes: s.sizeBytes.map { Int32(clamping: $0) } ?? -1,
            keyPrefix: names.keyIndex(key: s.key, id: s.id))
    }

    /// The row as a `Session` for the filter language.
    func session(_ names: RowNames, now: Int64) -> Session {
        Session(
            id: id.description, key: names.key(of: self), user: user, node: names.nodes[Int(node)],
            ttlMs: ttlMs(now: now),
            createdAtMs: createdMs == .min ? nil : createdMs,
            lastAccessedAtMs: lastAccessMs == .min ? nil : lastAccessMs,
            sizeBytes: sizeBytes < 0 ? nil : Int64(sizeBytes), schema: names.schemas[Int(schema)])
    }
}

public enum View: String, Sendable, CaseIterable { case sessions, events, nodes, stats, inspect, help }

public enum Column: String, CaseIterable, Sendable {
    case id, user, node, ttl, idle, age, size, schema
    public var title: String { rawValue.uppercased() }
}

public enum ConnectionState: Equatable, Sendable {
    case connecting
    case connected
    /// Lost: the message, and when the next attempt happens.
    case lost(String, retryAtMs: Int64)
}

/// A destructive action waiting for confirmation.
public enum PendingAction: Equatable, Sendable {
    case expire(ids: [String], afterMs: Int64?)
    case logout(user: String, count: Int)
    case delete(ids: [String])
    case migrate(ids: [String], node: String)
    case enableNotifications
}

public struct Dialog: Equatable, Sendable {
    public var title: String
    public var lines: [String]
    /// nil: an information box (any key closes it); else confirm with y/Enter.
    public var action: PendingAction?
    /// A pick list (migrate target): the chosen index.
    public var choices: [String] = []
    public var choice = 0
    public var pickFor: [String] = []
}

/// What the controller must do after a state change: I/O happens outside the state.
public enum Effect: Equatable, Sendable {
    case refresh
    case loadDetail(String)
    /// Read the sizes of these rows on screen.
    case readSizes([String])
    /// Read the attributes the filter's `attr.` terms need (a listing with attributes).
    case fetchFilterMatches(Filter)
    case perform(PendingAction)
    case setTheme(String)
    case quit
}

/// Everything the screen shows. Changed only by `handle`, on the UI thread.
public struct AppState: Sendable {
    public var storeName: String
    /// The config context's badge (header, confirmations).
    public var context: ContextBadge?
    public var readOnly: Bool
    public var view: View = .sessions
    var returnView: View = .sessions
    public var rows: [Row] = []
    /// The stats view's numbers, for the rows and filter they were computed from.
    var statsCache: (key: StatsKey, stats: SessionStats)?
    public var names = RowNames()
    /// Indexes into `rows` that pass the filter, in display order.
    public internal(set) var visible: [Int] = []
    /// Row indexes sorted by id: finds an event's row by binary search (4 bytes a row).
    var byID: [Int32] = []
    /// Rows already in `byID` / already considered for `visible` (rows past them arrived
    /// in pages of a listing under way and are merged in by `mergePending`).
    var idsMerged = 0
    var mergedRows = 0
    /// The listing under way (nil: none).
    public var listing: ListingProgress?
    /// A refresh's rows, shown when it ends (the old rows stay on screen meanwhile).
    var incoming: [Row] = []
    var incomingNames = RowNames()
    var lastMergeMs: Int64 = 0
    var mergeCostMs: Int64 = 0
    /// Sessions the stores say they hold (their counts or estimates): "of ~N" while listing.
    public var sessionEstimate: Int?
    /// Rows gone since the last listing (events), not yet dropped from `visible`.
    var goneSinceCompaction = 0
    public private(set) var goneCount = 0
    public var sortColumn: Column = .ttl
    public var sortAscending = true
    public var cursor = 0
    public var top = 0
    public var marked: Set<SessionID> = []
    public var filter = Filter()
    public var input: Input? = nil
    public var commandHistory: [String] = []
    var historyIndex: Int? = nil
    public var dialog: Dialog? = nil
    public var flash: (text: String, error: Bool, untilMs: Int64)? = nil
    /// The last failover the store reported (a gap event), and when: shown on the tabs line.
    public var failover: (text: String, atMs: Int64)? = nil
    public var connection: ConnectionState = .connecting
    public var stale = false
    public var loading = true
    public var loadedAtMs: Int64 = 0
    public var nodes: [NodeInfo] = []
    /// Per node: recent (expired, evicted) per-second rates, newest last.
    public var nodeRates: [String: [(expired: Double, evicted: Double)]] = [:]
    var lastTotals: [String: (expired: Int64, evicted: Int64, atMs: Int64)] = [:]
    public var events: [SessionEvent] = []
    public var eventKinds: Set<SessionEvent.Kind> = Set(SessionEvent.Kind.allCases)
    public var eventTop = 0
    /// Ids matching the filter's `attr.` terms, fetched with attributes (nil: fetching).
    public var attributeMatches: Set<String>?
    public var notificationsOff: [String] = []
    /// The store's server setting for events, in its own words (nil: the store has none).
    public var eventSetting: EventSettingWords?
    /// What the store's events cannot report (memcached logs no deletions...).
    public var eventNotes: [String] = []
    public var inspect: Session? = nil
    public var inspectLines: [(String, Role)] = []
    public var inspectScroll = 0
    public var inspectError: String? = nil
    public var themeName: String
    public var themeNames: [String] = []
    public var migrateTargets: [String] = []
    public var failedNodes: [String] = []
    public var rowsPerPage = 20

    public enum Input: Equatable, Sendable {
        case filter(String)
        case command(String)
    }

    public init(storeName: String, readOnly: Bool, themeName: String) {
        self.storeName = storeName
        self.readOnly = readOnly
        self.themeName = themeName
    }

    public var selectedRow: Row? {
        guard cursor >= 0, cursor < visible.count else { return nil }
        return rows[visible[cursor]]
    }

    // MARK: - Data in

    /// A new listing replaces the rows; the cursor stays on the same session.
    public mutating func load(rows new: [Row], names: RowNames, failedNodes: [String], now: Int64) {
        let selected = selectedRow?.id
        // Nodes that failed this time keep their last rows (shown stale), re-indexed into
        // the new name tables.
        var merged = new
        var names = names
        if !failedNodes.isEmpty {
            let old = self.names
            for r in rows where failedNodes.contains(old.nodes[Int(r.node)]) {
                var kept = r
                kept.node = names.node(old.nodes[Int(r.node)])
                kept.schema = names.schema(old.schemas[Int(r.schema)])
                kept.keyPrefix = names.keyIndex(key: old.key(of: r), id: r.id.description)
                merged.append(kept)
            }
        }
        let keptStale = merged.count > new.count
        rows = merged
        self.names = names
        goneCount = 0
        goneSinceCompaction = 0
        byID = []
        idsMerged = 0
        mergeIDs()
        settle(failedNodes: failedNodes, listedNothing: new.isEmpty, keptStale: keptStale, now: now)
        marked = marked.filter { rowIndex(of: $0) != nil }
        rebuildVisible(now: now, keep: selected)
    }

    /// A listing is over: which nodes failed, whether the data is stale, the connection.
    mutating func settle(failedNodes: [String], listedNothing: Bool, keptStale: Bool, now: Int64) {
        self.failedNodes = failedNodes
        loading = false
        if !keptStale { loadedAtMs = now }
        stale = keptStale
        connection =
            !failedNodes.isEmpty && listedNothing ? .lost("no node answered", retryAtMs: now + 3000) : .connected
    }

    public mutating func loadFailed(_ message: String, now: Int64, retryInMs: Int64 = 3000) {
        connection = .lost(message, retryAtMs: now + retryInMs)
        stale = !rows.isEmpty
        loading = false
    }

    /// The row of a session id (binary search over `byID`).
    public func rowIndex(of id: SessionID) -> Int? {
        var lo = 0
        var hi = byID.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let candidate = rows[Int(byID[mid])].id
            if candidate == id { return Int(byID[mid]) }
            if candidate < id { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    public mutating func rebuildVisible(now: Int64, keep id: SessionID? = nil) {
        let keepID = id ?? selectedRow?.id  // before `visible` changes under the cursor
        mergeIDs()
        let passes = visibility(now: now)
        var idx: [Int] = []
        idx.reserveCapacity(rows.count)
        for i in rows.indices where passes(rows[i]) { idx.append(i) }
        goneSinceCompaction = 0
        idx.sort(by: displayOrder())
        visible = idx
        mergedRows = rows.count
        if let id = keepID, let pos = visible.firstIndex(where: { rows[$0].id == id }) {
            cursor = pos
        } else {
            cursor = min(cursor, max(0, visible.count - 1))
        }
        clampScroll()
    }

    /// Whether a row is shown under the current filter: `attr.` terms are decided on
    /// attributes fetched for them (`ls --filter` alike); until they arrive nothing matches.
    func visibility(now: Int64) -> (Row) -> Bool {
        let f = filter
        let names = self.names
        if f.isEmpty { return { !$0.isGone } }
        if f.needsAttributes {
            let base = f.withoutAttributeTerms
            let matches = attributeMatches ?? []
            return { r in
                !r.isGone && matches.contains(r.id.description) && base.matches(r.session(names, now: now), nowMs: now)
            }
        }
        return { r in !r.isGone && f.matches(r.session(names, now: now), nowMs: now) }
    }

    /// The display order of row indexes: the sort column, then the id (a total order, so
    /// rows merged in as pages arrive land where a full sort would put them).
    func displayOrder() -> (Int, Int) -> Bool {
        let r = rows
        let asc = sortAscending
        switch sortColumn {
        case .id: return { (r[$0].id < r[$1].id) == asc }
        case .user:
            return { ((r[$0].user ?? "\u{10FFFF}", r[$0].id) < (r[$1].user ?? "\u{10FFFF}", r[$1].id)) == asc }
        case .node: return { ((r[$0].node, r[$0].id) < (r[$1].node, r[$1].id)) == asc }
        case .schema: return { ((r[$0].schema, r[$0].id) < (r[$1].schema, r[$1].id)) == asc }
        default:
            let column = sortColumn
            func key(_ a: Row) -> Int64 {
                switch column {
                case .ttl: return a.deadlineMs < 0 ? .max : a.deadlineMs
                case .idle: return a.lastAccessMs == .min ? .max : -a.lastAccessMs
                case .age: return a.createdMs == .min ? .max : -a.createdMs
                case .size: return Int64(a.sizeBytes)
                default: return 0
                }
            }
            return { a, b in
                let ka = key(r[a])
                let kb = key(r[b])
                return ka == kb ? r[a].id < r[b].id : (ka < kb) == asc
            }
        }
    }

    mutating func clampScroll() {
        let page = max(1, rowsPerPage)
        if cursor < top { top = cursor }
        if cursor >= top + page { top = cursor - page + 1 }
        top = max(0, min(top, max(0, visible.count - page)))
    }

    /// Records an event. A session that ended is marked gone at once (O(log n)); the
    /// table drops it at the next `compact` (once a second at most), not per event.
    public mutating func addEvent(_ e: SessionEvent) {
        if e.kind == .gap, let detail = e.detail, detail.contains("failover") {
            // Said in the header line for minutes, and on the status line at once.
            failover = (detail, e.timeMs)
            flash = ("\(e.node): \(detail)", true, e.timeMs + 10_000)
        }
        var e = e
        if let id = e.sessionID, let i = rowIndex(of: SessionID(id)), names.nodes[Int(rows[i].node)] == e.node {
            if e.user == nil { e.user = rows[i].user }
            if (e.kind == .deleted || e.kind == .expired || e.kind == .evicted) && !rows[i].isGone {
                rows[i].sizeBytes = Int32.min
                marked.remove(rows[i].id)
                goneCount += 1
                goneSinceCompaction += 1
            }
            // A moved session stays in the table, on its new node.
            if e.kind == .migrated, let to = e.target { rows[i].node = names.node(to) }
        }
        events.append(e)
        // The last 2,000 are kept; trimmed in chunks, so a storm costs O(1) per event.
        if events.count > 3000 { events.removeFirst(events.count - 2000) }
    }

    /// Drops gone rows from the display order, keeping the cursor on its session.
    public mutating func compact() {
        guard goneSinceCompaction > 0 else { return }
        let keep = selectedRow
        let keepPos = cursor
        visible.removeAll { rows[$0].isGone }
        goneSinceCompaction = 0
        if let keep, !keep.isGone, let pos = visible.firstIndex(where: { rows[$0].id == keep.id }) {
            cursor = pos
        } else {
            cursor = min(keepPos, max(0, visible.count - 1))
        }
        clampScroll()
    }

    /// Live sessions (listed minus those that ended since).
    public var liveCount: Int { rows.count - goneCount }

    /// Sessions whose deadline passed in (`after`, `upTo`]: the store is asked to notice
    /// them now (Redis reports expiries lazily).
    public func due(after: Int64, upTo: Int64) -> [String] {
        var out: [String] = []
        for r in rows where !r.isGone && r.deadlineMs > after && r.deadlineMs <= upTo { out.append(r.id.description) }
        return out
    }

    public mutating func loadNodes(_ infos: [NodeInfo], now: Int64) {
        nodes = infos
        for n in infos {
            guard let e = n.expiredTotal, let v = n.evictedTotal else { continue }
            if let last = lastTotals[n.name], now > last.atMs {
                let secs = Double(now - last.atMs) / 1000
                var h = nodeRates[n.name] ?? []
                h.append((Double(max(0, e - last.expired)) / secs, Double(max(0, v - last.evicted)) / secs))
                if h.count > 60 { h.removeFirst(h.count - 60) }
                nodeRates[n.name] = h
            }
            lastTotals[n.name] = (e, v, now)
        }
    }

    /// One node's facts as it answers: replaces that node's row (or adds it), so the nodes
    /// view fills without waiting for a node that does not answer. Rates are computed on the
    /// full round (`loadNodes`).
    public mutating func updateNode(_ info: NodeInfo) {
        if let i = nodes.firstIndex(where: { $0.name == info.name }) {
            nodes[i] = info
        } else {
            nodes.append(info)
        }
    }

    /// Events per second of a kind over the last 10 s.
    public func eventRate(_ kind: SessionEvent.Kind, now: Int64) -> Double {
        var n = 0
        for e in events.reversed() {
            if now - e.timeMs > 10_000 { break }
            if e.kind == kind { n += 1 }
        }
        return Double(n) / 10
    }

    public mutating func showFlash(_ text: String, error: Bool, now: Int64) {
        flash = (text, error, now + (error ? 8000 : 4000))
    }
}

/// How a store names the server setting its events need, for banners and confirmations.
public struct EventSettingWords: Sendable, Equatable {
    /// "keyspace notifications".
    public var name: String
    /// "Adds the flags E g x e to notify-keyspace-events on" (the nodes follow).
    public var change: String
    public init(name: String, change: String) {
        self.name = name
        self.change = change
    }
}

extension AppState {
    /// Sets the filter; one with `attr.` terms asks for the attributes it needs.
    mutating func setFilter(_ f: Filter, now: Int64) -> [Effect] {
        filter = f
        attributeMatches = nil
        rebuildVisible(now: now)
        if f.needsAttributes {
            showFlash("reading attributes for the attr. terms…", error: false, now: now)
            return [.fetchFilterMatches(f)]
        }
        showFlash(
            f.isEmpty ? "filter cleared" : "\(visible.count) session\(visible.count == 1 ? "" : "s") match",
            error: false, now: now)
        return []
    }

    /// The ids matching a filter's `attr.` terms arrived (ignored if the filter changed since).
    public mutating func filterMatches(_ source: String, ids: [String], now: Int64) {
        guard filter.source == source else { return }
        attributeMatches = Set(ids)
        rebuildVisible(now: now)
        showFlash("\(visible.count) session\(visible.count == 1 ? "" : "s") match", error: false, now: now)
    }
}

/// What the stats view's numbers depend on: recomputed when the rows or the filter change.
struct StatsKey: Equatable {
    var loadedAtMs: Int64
    var visible: Int
    var gone: Int
    var filter: String
}
