import RedisClient
import SessionFormats
import SessionKit

/// Which schemas to use: given by the operator or detected from a sample of keys.
public enum SchemaOption: Sendable, Equatable {
    case auto
    case explicit([String])

    /// Parses `--schema`: `auto`, `spring`, `spring:NAMESPACE`, `connect-redis`,
    /// `connect-redis:PREFIX`, `prefix=PREFIX`, comma-separated for several.
    public static func parse(_ text: String) throws(SchemaError) -> SchemaOption {
        if text == "auto" || text.isEmpty { return .auto }
        let parts = text.split(separator: ",").map(String.init)
        for p in parts { _ = try schema(from: p, indexed: true) }
        return .explicit(parts)
    }

    static func schema(from spec: String, indexed: Bool) throws(SchemaError) -> any RedisSchema {
        if spec == "spring" { return SpringSchema(indexed: indexed) }
        if spec.hasPrefix("spring:") {
            let ns = String(spec.dropFirst("spring:".count)).replacingPrefix("namespace=", with: "")
            guard !ns.isEmpty else { throw SchemaError(message: "spring schema needs a namespace after 'spring:'") }
            return SpringSchema(namespace: ns, indexed: indexed)
        }
        if spec == "connect-redis" || spec == "express" { return ConnectRedisSchema() }
        if spec.hasPrefix("connect-redis:") {
            let prefix = String(spec.dropFirst("connect-redis:".count)).replacingPrefix("prefix=", with: "")
            return ConnectRedisSchema(prefix: prefix)
        }
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        if let fw = Framework.named(parts[0]) {
            return FrameworkSchema(fw, prefix: parts.count > 1 ? parts[1].replacingPrefix("prefix=", with: "") : nil)
        }
        if spec.hasPrefix("prefix=") {
            let prefix = String(spec.dropFirst("prefix=".count))
            guard !prefix.isEmpty else {
                throw SchemaError(message: "prefix schema needs a prefix: --schema prefix=myapp:sess:")
            }
            return PrefixSchema(prefix: prefix)
        }
        throw SchemaError(
            message: "unknown schema '\(spec)' (known: auto, spring[:NAMESPACE], connect-redis[:PREFIX], "
                + Framework.all.map { "\($0.name)[:PREFIX]" }.joined(separator: ", ") + ", prefix=PREFIX)")
    }
}

public struct SchemaError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

extension String {
    func replacingPrefix(_ p: String, with r: String) -> String {
        hasPrefix(p) ? r + dropFirst(p.count) : self
    }
}

/// Finds the schemas present on a node by sampling its keys (a few SCAN pages, never KEYS)
/// and confirming candidates with a cheap probe (the Spring hash has `creationTime`, the
/// connect-redis value is JSON).
enum SchemaDetector {
    static let sampleLimit = 5000

    static func detect(client: RedisClient, option: SchemaOption) async throws(RedisError) -> [any RedisSchema] {
        switch option {
        case .explicit(let specs):
            var out: [any RedisSchema] = []
            for spec in specs {
                // `spring` given explicitly: still find out whether it is the indexed layout.
                // Validated by parse.
                guard var schema = try? SchemaOption.schema(from: spec, indexed: true) else { continue }
                if var spring = schema as? SpringSchema {
                    var indexed = try await hasKeys(client: client, pattern: Glob.escape(spring.expiresPrefix) + "*")
                    if !indexed {
                        indexed = try await hasKeys(
                            client: client, pattern: Glob.escape(spring.namespace + ":index:") + "*")
                    }
                    spring.indexed = indexed
                    schema = spring
                }
                out.append(schema)
            }
            return out
        case .auto:
            return try await sample(client: client)
        }
    }

    static func hasKeys(client: RedisClient, pattern: String) async throws(RedisError) -> Bool {
        var cursor = "0"
        var rounds = 0
        repeat {
            let r = try await client.send(RedisCommand("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")).orThrow()
            guard let parts = r.array, parts.count == 2, let next = parts[0].text else { return false }
            if let keys = parts[1].array, !keys.isEmpty { return true }
            cursor = next
            rounds += 1
        } while cursor != "0" && rounds < 5
        return false
    }

    static func sample(client: RedisClient) async throws(RedisError) -> [any RedisSchema] {
        var cursor = "0"
        var seen = 0
        var springNamespaces: [String: Bool] = [:]  // namespace → saw expires: keys
        var springCandidates: [String: String] = [:]  // namespace → one session key
        var connectPrefixCandidate: String? = nil
        // "name|prefix" → (framework, prefix, sample key)
        var frameworkCandidates: [String: (Framework, String, String)] = [:]
        repeat {
            let r = try await client.send(RedisCommand("SCAN", cursor, "COUNT", "1000")).orThrow()
            guard let parts = r.array, parts.count == 2, let next = parts[0].text, let keys = parts[1].array else {
                break
            }
            for k in keys {
                guard let key = k.text else { continue }
                seen += 1
                if let range = key.firstRange(of: ":sessions:") {
                    let ns = String(key[..<range.lowerBound])
                    let rest = key[range.upperBound...]
                    if rest.hasPrefix("expires:") {
                        springNamespaces[ns] = true
                        // The hash of the same session is a candidate too (a sample can be
                        // all `expires:` keys).
                        if springCandidates[ns] == nil {
                            springCandidates[ns] = ns + ":sessions:" + rest.dropFirst("expires:".count)
                        }
                    } else if !rest.contains(":") && rest != "expirations" {
                        springCandidates[ns] = key
                        if springNamespaces[ns] == nil { springNamespaces[ns] = false }
                    }
                } else if key.hasPrefix("sess:") {
                    connectPrefixCandidate = key
                } else if let (fw, prefix) = FrameworkSchema.candidate(forKey: key) {
                    frameworkCandidates[fw.name + "|" + prefix] = (fw, prefix, key)
                }
            }
            cursor = next
        } while cursor != "0" && seen < sampleLimit

        var out: [any RedisSchema] = []
        for (ns, sawExpires) in springNamespaces.sorted(by: { $0.key < $1.key }) {
            guard let sample = springCandidates[ns] else { continue }
            let probe = try await client.send(RedisCommand("HEXISTS", sample, "creationTime"))
            if probe == .integer(1) {
                var indexed = sawExpires
                if !indexed { indexed = try await hasKeys(client: client, pattern: Glob.escape(ns + ":index:") + "*") }
                out.append(SpringSchema(namespace: ns, indexed: indexed))
            }
        }
        if let key = connectPrefixCandidate {
            let v = try await client.send(RedisCommand("GETRANGE", key, "0", "0"))
            if v.bytes == Array("{".utf8) { out.append(ConnectRedisSchema()) }
        }
        // Confirm each framework candidate by its value's first bytes (or the hash's fields).
        for (_, (fw, prefix, key)) in frameworkCandidates.sorted(by: { $0.key < $1.key }) {
            let probe =
                fw.keyType == "hash" ? RedisCommand("HGET", key, "data") : RedisCommand("GETRANGE", key, "0", "7")
            let head = try await client.send(probe).bytes ?? []
            if FrameworkSchema.valueMatches(fw, head: Array(head.prefix(8))) {
                out.append(FrameworkSchema(fw, prefix: prefix))
            }
        }
        return out
    }
}
