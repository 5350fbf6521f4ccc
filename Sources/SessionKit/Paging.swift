/// Counts matches across pages and nodes so a listing stops at its limit.
public actor ListProgress {
    let limit: Int?
    public private(set) var matched = 0
    public init(limit: Int?) { self.limit = limit }
    public var done: Bool { limit.map { matched >= $0 } ?? false }
    public func accept(_ sessions: [Session]) -> (sessions: [Session], done: Bool) {
        guard let limit else {
            matched += sessions.count
            return (sessions, false)
        }
        let room = max(0, limit - matched)
        let taken = Array(sessions.prefix(room))
        matched += taken.count
        return (taken, matched >= limit)
    }
}

/// Collects pages (for commands that need the whole result, like sorting or logout).
public actor Collector {
    public private(set) var sessions: [Session] = []
    public init() {}
    public func add(_ page: [Session]) { sessions += page }
}

/// How many sessions a listing delivered from each node: when a node fails part way, the
/// report says how far it got.
public actor ListingTally {
    public private(set) var perNode: [String: Int] = [:]
    public private(set) var total = 0
    public init() {}
    /// Counts a page; returns the running total.
    @discardableResult
    public func add(_ page: [Session]) -> Int {
        for s in page { perNode[s.node, default: 0] += 1 }
        total += page.count
        return total
    }
}

/// Runs a listing on every node at once: the keys each scanned, summed, and a `NodeFailure`
/// for each node that failed, with the error's description (the others go on). `body` may
/// also report a failure of its own for a node it listed only in part.
public func listEveryNode<Node: Sendable>(
    _ nodes: [Node], name: @escaping @Sendable (Node) -> String,
    _ body: @escaping @Sendable (Node) async throws -> (scanned: Int, failure: NodeFailure?)
) async -> (scanned: Int, failures: [NodeFailure]) {
    await withTaskGroup(of: (NodeFailure?, Int).self) { group in
        for node in nodes {
            group.addTask {
                do {
                    let r = try await body(node)
                    return (r.failure, r.scanned)
                } catch {
                    return (NodeFailure(node: name(node), message: "\(error)"), 0)
                }
            }
        }
        var failures: [NodeFailure] = []
        var scanned = 0
        for await (f, n) in group {
            if let f { failures.append(f) }
            scanned += n
        }
        return (scanned, failures)
    }
}
