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
