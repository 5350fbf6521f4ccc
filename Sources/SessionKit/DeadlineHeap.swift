/// A min-heap of deadlines (ms) with a payload each: the earliest deadline first. Used for
/// expiry on time (the in-house engine) and expiry prompting (the Redis watcher). Entries
/// are never updated in place: callers push a new one and skip stale ones when popping.
public struct DeadlineHeap<Element> {
    public private(set) var entries: [(deadline: Int64, element: Element)] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// The earliest entry.
    public var first: (deadline: Int64, element: Element)? { entries.first }

    public mutating func push(_ deadline: Int64, _ element: Element) {
        entries.append((deadline, element))
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[parent].deadline > entries[i].deadline else { break }
            entries.swapAt(parent, i)
            i = parent
        }
    }

    @discardableResult
    public mutating func popFirst() -> (deadline: Int64, element: Element)? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < entries.count && entries[l].deadline < entries[m].deadline { m = l }
                if r < entries.count && entries[r].deadline < entries[m].deadline { m = r }
                if m == i { break }
                entries.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    public mutating func removeAll() { entries.removeAll() }
}

extension DeadlineHeap: Sendable where Element: Sendable {}
