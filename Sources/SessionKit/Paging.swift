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
