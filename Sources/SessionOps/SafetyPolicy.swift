import SessionKit

/// What a mutation may do: `--read-only` refuses it, `--dry-run` shows it, `--yes` (or a
/// confirmation that names the count) lets it run.
public struct SafetyPolicy: Sendable, Equatable {
    public var readOnly: Bool
    public var dryRun: Bool
    /// Confirmed in advance (`--yes`, or the TUI's own dialog that named the count).
    public var confirmed: Bool
    /// The production context this runs in (confirmations and refusals name it).
    public var productionContext: String?

    public init(readOnly: Bool = false, dryRun: Bool = false, confirmed: Bool = false, productionContext: String? = nil)
    {
        self.readOnly = readOnly
        self.dryRun = dryRun
        self.confirmed = confirmed
        self.productionContext = productionContext
    }

    /// A line's own flags add to the batch's; they can never loosen them.
    public func tightened(by line: SafetyPolicy) -> SafetyPolicy {
        SafetyPolicy(
            readOnly: readOnly || line.readOnly, dryRun: dryRun || line.dryRun, confirmed: confirmed || line.confirmed,
            productionContext: productionContext ?? line.productionContext)
    }

    /// Refuses mutations under read-only and asks for (or requires) confirmation.
    /// Returns false when the operation should stop without changing anything (dry run).
    public func authorize(_ action: String, count: Int, reporter: some Reporter) throws -> Bool {
        if readOnly { throw ConsoleError.usage("refusing to \(action): --read-only is set") }
        if dryRun { return false }
        if count == 0 || confirmed { return true }
        let plural = count == 1 ? "" : "s"
        let context = productionContext.map { " in the PRODUCTION context '\($0)'" } ?? ""
        if reporter.confirm(
            "\(action.prefix(1).uppercased() + action.dropFirst()): \(count) session\(plural) will be affected\(context). Continue?"
        ) {
            return true
        }
        throw ConsoleError.usage(
            "\(action) affects \(count) session\(plural)\(context): confirm with --yes (no confirmation was given)")
    }
}
