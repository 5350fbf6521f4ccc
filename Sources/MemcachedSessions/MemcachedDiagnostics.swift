import MemcachedClient
import SessionKit

/// What keeps sessionctl from seeing memcached's sessions, and what loses them: dumps or
/// the crawler off, and evictions (a session evicted is a user logged out).
struct MemcachedDiagnostics: StoreDiagnostics {
    let store: MemcachedStore

    func diagnose() async -> [Finding] {
        var out: [Finding] = []
        for node in store.nodes {
            let sent = currentTimeMs()
            guard let stats = try? await node.client.stats(),
                let settings = try? await node.client.stats("settings")
            else { continue }  // a node down is the generic check's
            if let t = stats["time"].flatMap({ Int64($0) }),
                let skew = Finding.clockSkew(
                    node: node.name, serverMs: t * 1000, sentMs: sent, receivedMs: currentTimeMs(), resolutionMs: 1000)
            {
                out.append(skew)
            }
            if settings["dump_enabled"] == "no" {
                out.append(
                    Finding(
                        check: "memcached-dump-disabled", severity: .error, node: node.name,
                        title:
                            "metadump is disabled (-X): sessions on this node cannot be listed, searched or logged out by user",
                        count: 1, fix: "restart memcached without -X"))
            }
            if settings["lru_crawler"] == "no" {
                out.append(
                    Finding(
                        check: "memcached-crawler-off", severity: .error, node: node.name,
                        title: "the LRU crawler is off: metadump cannot run and expired sessions are reclaimed late",
                        count: 1, fix: "`lru_crawler enable` now, and drop -o no_lru_crawler from the start options"))
            }
            let evictions = stats["evictions"].flatMap { Int($0) } ?? 0
            if evictions > 0 {
                let unfetched = stats["evicted_unfetched"].flatMap { Int($0) } ?? 0
                out.append(
                    Finding(
                        check: "memcached-evictions", severity: .warning, node: node.name,
                        title:
                            "\(evictions) items evicted since start (\(unfetched) never read): evicted sessions are users logged out",
                        count: evictions, examples: ["limit_maxbytes \(stats["limit_maxbytes"] ?? "?")"],
                        fix:
                            "give memcached more memory (-m) or keep sessions smaller; `sessionctl watch` shows evictions as they happen"
                    ))
            }
        }
        return out
    }

    func repair(_ finding: Finding) async throws -> Int { 0 }
}
