/// Something wrong with a session store, as `sessionctl doctor` reports it: what, how bad,
/// how many, a few examples and the fix in words.
public struct Finding: Sendable, Equatable {
    public enum Severity: String, Sendable, Comparable, CaseIterable {
        case info, warning, error
        public static func < (a: Severity, b: Severity) -> Bool {
            allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
        }
    }
    /// A stable name (`spring-orphan-index`), for scripts.
    public var check: String
    public var severity: Severity
    /// The node it is about (nil: the whole store).
    public var node: String?
    public var title: String
    public var count: Int
    /// A few of the keys, sessions or users concerned (untrusted text: sanitize to show).
    public var examples: [String]
    /// What to do, in words.
    public var fix: String
    /// Whether `doctor --fix` can repair it safely (only what was reported is touched).
    public var repairable: Bool

    public init(
        check: String, severity: Severity, node: String? = nil, title: String, count: Int, examples: [String] = [],
        fix: String, repairable: Bool = false
    ) {
        self.check = check
        self.severity = severity
        self.node = node
        self.title = title
        self.count = count
        self.examples = examples
        self.fix = fix
        self.repairable = repairable
    }
}

/// A store's own checks (Spring's leaked index entries, memcached's dump setting...).
public protocol StoreDiagnostics: Sendable {
    /// The store-specific findings (empty when healthy).
    func diagnose() async -> [Finding]
    /// Repairs a finding this store reported as repairable, touching only what is still
    /// wrong (checked again item by item); how many items were repaired.
    func repair(_ finding: Finding) async throws -> Int
}

extension Finding {
    /// A node whose clock is off from the console's by more than `toleranceMs` (the reading's
    /// round trip and the server clock's `resolutionMs` are allowed for): sessions then expire
    /// early or late by that much wherever a deadline is an absolute time. Nil when in step.
    public static func clockSkew(
        node: String, serverMs: Int64, sentMs: Int64, receivedMs: Int64, resolutionMs: Int64 = 0,
        toleranceMs: Int64 = 2000
    ) -> Finding? {
        let local = (sentMs + receivedMs) / 2
        let skew = serverMs - local
        let allowed = toleranceMs + resolutionMs + (receivedMs - sentMs) / 2
        guard abs(skew) > allowed else { return nil }
        let tenths = abs(skew) / 100
        let seconds = "\(tenths / 10).\(tenths % 10)"
        return Finding(
            check: "clock-skew", severity: .warning, node: node,
            title: "the node's clock is \(seconds) s \(skew > 0 ? "ahead of" : "behind") this console's: "
                + "absolute deadlines and idle times are off by that much",
            count: 1, examples: ["node \(serverMs) ms, console \(local) ms"],
            fix: "run NTP (chrony, systemd-timesyncd) on the node and on the application servers")
    }
}
