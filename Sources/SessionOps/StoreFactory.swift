import SessionKit

/// Opens stores by URL. Each store module registers its kind (`StoreKind`: schemes and an
/// opener); the factory picks the kind from the URLs' scheme. One invocation talks to one
/// kind of store: several URLs are several nodes of it.
public struct StoreFactory: Sendable {
    public let kinds: [StoreKind]

    public init(_ kinds: [StoreKind]) { self.kinds = kinds }

    /// Every scheme known, for messages (`redis://, unix://, sessiond://`).
    public var knownSchemes: String { kinds.flatMap(\.schemes).map { $0 + "://" }.joined(separator: ", ") }

    /// The kind that serves `url`, by its scheme.
    public func kind(of url: String) -> StoreKind? {
        guard let end = url.range(of: "://") else { return nil }
        let scheme = url[..<end.lowerBound].lowercased()
        return kinds.first { $0.schemes.contains(scheme) }
    }

    /// Opens a store over `urls`; errors are usage errors with passwords redacted.
    public func open(_ urls: [String], options: StoreOptions) throws -> any SessionStore {
        guard let first = urls.first else { throw ConsoleError.usage("no store given") }
        guard let chosen = kind(of: first) else {
            throw ConsoleError.usage("unsupported store URL '\(Redaction.redact(first))' (known: \(knownSchemes))")
        }
        for url in urls.dropFirst() where kind(of: url)?.name != chosen.name {
            throw ConsoleError.usage(
                "one store per invocation: '\(Redaction.redact(url))' is not a \(chosen.name) URL like '\(Redaction.redact(first))'"
            )
        }
        do {
            return try chosen.open(urls, options)
        } catch let e as ConsoleError {
            throw e
        } catch {
            throw ConsoleError.usage(Redaction.redact("\(error)"))
        }
    }
}
