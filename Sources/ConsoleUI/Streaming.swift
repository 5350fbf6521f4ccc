import SessionKit

/// A listing under way: the header counts it, and on the first listing its rows go into
/// the table page by page.
public struct ListingProgress: Sendable, Equatable {
    public var startedMs: Int64
    public var received = 0
    /// Rows per node so far (the nodes view shows them while listing).
    public var perNode: [String: Int] = [:]
    /// True on the first listing (rows go straight into the table); a refresh keeps the
    /// rows on screen and swaps in the new ones when it ends, so the table never blanks.
    public var intoTable: Bool

    public init(startedMs: Int64, intoTable: Bool) {
        self.startedMs = startedMs
        self.intoTable = intoTable
    }
}

extension RowNames {
    /// What a page's rows added to the name tables. Names only grow, so the indexes rows
    /// already hold stay valid and a page carries only the new names.
    public struct Delta: Sendable, Equatable {
        public var nodes: [String] = []
        public var schemas: [String] = []
        public var keyPrefixes: [String] = []
        public var otherKeys: [String: String] = [:]
        public init() {}
        public var isEmpty: Bool { nodes.isEmpty && schemas.isEmpty && keyPrefixes.isEmpty && otherKeys.isEmpty }
    }

    public mutating func apply(_ d: Delta) {
        nodes += d.nodes
        schemas += d.schemas
        keyPrefixes += d.keyPrefixes
        otherKeys.merge(d.otherKeys) { $1 }
    }
}

/// Turns listing pages into rows with a name table of its own, and hands out each page's
/// rows with the names they added (off the UI thread).
public struct RowPager: Sendable {
    private(set) var names = RowNames()
    private var sent = (nodes: 0, schemas: 0, prefixes: 0)
    public init() {}

    public mutating func rows(_ page: [Session], now: Int64) -> ([Row], RowNames.Delta, [String: Int]) {
        var rows: [Row] = []
        rows.reserveCapacity(page.count)
        var delta = RowNames.Delta()
        var perNode: [String: Int] = [:]
        for s in page {
            let row = Row.from(s, now: now, names: &names)
            if row.keyPrefix == .max, s.key != s.id { delta.otherKeys[s.id] = s.key }
            perNode[s.node, default: 0] += 1
            rows.append(row)
        }
        delta.nodes = Array(names.nodes[sent.nodes...])
        delta.schemas = Array(names.schemas[sent.schemas...])
        delta.keyPrefixes = Array(names.keyPrefixes[sent.prefixes...])
        sent = (names.nodes.count, names.schemas.count, names.keyPrefixes.count)
        // The pager's own copy of odd keys is not needed once sent: the UI keeps them.
        names.otherKeys = [:]
        return (rows, delta, perNode)
    }
}

extension AppState {
    /// A listing starts. The first one streams into the table; a refresh collects aside.
    public mutating func beginListing(now: Int64) {
        listing = ListingProgress(startedMs: now, intoTable: rows.isEmpty)
        incoming = []
        incomingNames = RowNames()
    }

    /// A page of the listing under way.
    public mutating func receivePage(_ page: [Row], names delta: RowNames.Delta, perNode: [String: Int], now: Int64) {
        if listing == nil { beginListing(now: now) }
        guard var l = listing else { return }
        l.received += page.count
        l.perNode.merge(perNode, uniquingKeysWith: +)
        listing = l
        if connection == .connecting { connection = .connected }
        if l.intoTable {
            names.apply(delta)
            rows += page
            // The first rows show at once; after that merges are spaced so that they cost
            // the UI thread at most about a tenth of its time, however big the table.
            if mergedRows == 0 || now - lastMergeMs >= max(200, 10 * mergeCostMs) { mergePending(now: now) }
        } else {
            incomingNames.apply(delta)
            incoming += page
        }
    }

    /// The listing ended: a first listing's last rows are merged in, a refresh's rows
    /// replace the old ones (nodes that failed keep theirs, marked stale).
    public mutating func endListing(failedNodes: [String], now: Int64) {
        let intoTable = listing?.intoTable ?? false
        listing = nil
        if intoTable {
            mergePending(now: now)
            settle(failedNodes: failedNodes, listedNothing: rows.isEmpty, keptStale: false, now: now)
        } else {
            let new = incoming
            incoming = []
            load(rows: new, names: incomingNames, failedNodes: failedNodes, now: now)
            incomingNames = RowNames()
        }
    }

    /// The listing failed as a whole: what a first listing showed stays (the error says
    /// the rest); a refresh's partial rows are dropped and the old ones stay.
    public mutating func abortListing(now: Int64) {
        if listing?.intoTable == true { mergePending(now: now) }
        listing = nil
        incoming = []
        incomingNames = RowNames()
    }

    /// Merges rows that arrived since the last merge into the id index and the display
    /// order (sorted, then merged: O(rows) a merge, not a sort of the whole table). The
    /// cursor stays on its session at the same screen line; at the very top it stays at
    /// the top, so an untouched table shows the head of the sort order as it fills.
    public mutating func mergePending(now: Int64) {
        guard mergedRows < rows.count else { return }
        let started = currentTimeMs()
        mergeIDs()
        let atTop = cursor == 0 && top == 0
        let keep = selectedRow?.id
        let line = cursor - top
        let passes = visibility(now: now)
        var added: [Int] = []
        for i in mergedRows..<rows.count where passes(rows[i]) { added.append(i) }
        let less = displayOrder()
        added.sort(by: less)
        visible = Self.merge(visible, added, less)
        mergedRows = rows.count
        if !atTop, let keep, let pos = visible.firstIndex(where: { rows[$0].id == keep }) {
            cursor = pos
            top = max(0, pos - line)
        }
        clampScroll()
        lastMergeMs = now
        mergeCostMs = currentTimeMs() - started
    }

    /// Adds rows past `idsMerged` to the id index.
    mutating func mergeIDs() {
        guard idsMerged < rows.count else { return }
        let r = rows
        var added = Array(Int32(idsMerged)..<Int32(rows.count))
        added.sort { r[Int($0)].id < r[Int($1)].id }
        byID = Self.merge(byID, added) { r[Int($0)].id < r[Int($1)].id }
        idsMerged = rows.count
    }

    /// Two sorted arrays as one.
    static func merge<T>(_ a: [T], _ b: [T], _ less: (T, T) -> Bool) -> [T] {
        if b.isEmpty { return a }
        if a.isEmpty { return b }
        var out: [T] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if less(b[j], a[i]) {
                out.append(b[j])
                j += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        out += a[i...]
        out += b[j...]
        return out
    }

    /// The header's count while listing: "412,000 of ~1,000,000, 3 s".
    public func listingText(now: Int64) -> String? {
        guard let l = listing else { return nil }
        var text = Renderer.group(l.received)
        if let e = sessionEstimate, e >= l.received { text += " of ~" + Renderer.group(e) }
        return text + ", \(max(0, now - l.startedMs) / 1000) s"
    }
}

extension AppState {
    /// Sizes the table needs now: a listing skips the size (on Redis `MEMORY USAGE`, the
    /// costliest read per session) unless it sorts or filters on it, so the rows on screen
    /// have theirs read as they appear. Marks them asked (-2) and returns their ids.
    public mutating func sizesToRead() -> [String] {
        guard view == .sessions, !visible.isEmpty else { return [] }
        var ids: [String] = []
        for pos in top..<min(visible.count, top + max(1, rowsPerPage)) where rows[visible[pos]].sizeBytes == -1 {
            rows[visible[pos]].sizeBytes = -2
            ids.append(rows[visible[pos]].id.description)
        }
        return ids
    }

    /// Sizes read for rows on screen (an id missing from `sizes` keeps "-": gone, or the
    /// store keeps no size).
    public mutating func sizesRead(_ sizes: [String: Int64]) {
        for (id, size) in sizes {
            if let i = rowIndex(of: SessionID(id)), !rows[i].isGone { rows[i].sizeBytes = Int32(clamping: size) }
        }
    }

    /// Whether the listing itself must read sizes: sorted or filtered on them.
    public var listingNeedsSizes: Bool { sortColumn == .size || filter.usesSize }
}
