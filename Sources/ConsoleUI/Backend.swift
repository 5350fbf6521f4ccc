import SessionKit

/// What the TUI needs from the program around it: the store, and the actions that
/// mutate (done by the host, which audits them).
public protocol ConsoleBackend: Sendable {
    var store: any SessionStore { get }
    var storeName: String { get }
    /// The config context in use, shown as a badge in the header (nil: none).
    var context: ContextBadge? { get }
    /// Nodes a session can be migrated to (empty: the store cannot migrate).
    var migrateTargets: [String] { get }
    /// Node facts without an expensive session count (the table's rows give it): each node
    /// to `each` as it answers, then all of them.
    func nodeFacts(each: @escaping @Sendable (NodeInfo) -> Void) async -> [NodeInfo]
    /// The server setting the store's events need, in its words (nil: none).
    var eventSetting: EventSettingWords? { get }
    /// Nodes where that setting is off.
    func notificationsOff() async -> [String]
    /// What the store's events cannot report, shown above them.
    var eventNotes: [String] { get }
    /// Live events (the TUI tracks deadlines itself, from its rows).
    func events() -> AsyncThrowingStream<SessionEvent, Error>
    /// Asks the store to notice expiries whose deadline passed (Redis is lazy about them).
    func promptExpiry(ids: [String]) async
    /// Runs a confirmed action (audited by the host); returns the message to flash.
    func perform(_ action: PendingAction) async -> (message: String, error: Bool)
}

/// A named context as the header shows it.
public struct ContextBadge: Sendable, Equatable {
    public var name: String
    /// The badge's text (the context's name unless a label is set).
    public var label: String
    /// Marked production: a red badge, and every confirmation repeats the name.
    public var production: Bool
    /// A colour for the badge's background, overriding the theme's.
    public var color: Color?

    public init(name: String, label: String? = nil, production: Bool = false, color: Color? = nil) {
        self.name = name
        self.label = label ?? name
        self.production = production
        self.color = color
    }
}
