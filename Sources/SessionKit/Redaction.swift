#if canImport(Glibc)
    import Glibc
#endif

/// Hides secrets in any text that may echo a store URL: the password of every
/// `scheme://user:secret@host` (a lone `scheme://secret@host` too) and every `password=`
/// parameter. The one implementation behind every message, log line and output.
public enum Redaction {
    public static func redact(_ text: String) -> String {
        var out = text
        var searchFrom = out.startIndex
        while let scheme = out[searchFrom...].firstRange(of: "://") {
            let authorityStart = scheme.upperBound
            let authorityEnd = out[authorityStart...].firstIndex(where: { "/ ?#\"'\n".contains($0) }) ?? out.endIndex
            var next = authorityEnd
            if let at = out[authorityStart..<authorityEnd].lastIndex(of: "@") {
                let cred = out[authorityStart..<at]
                let secret = cred.firstIndex(of: ":").map { out.index(after: $0)..<at } ?? (authorityStart..<at)
                if !secret.isEmpty {
                    let offset = out.distance(from: out.startIndex, to: secret.lowerBound)
                    out.replaceSubrange(secret, with: "***")
                    next = out.index(out.startIndex, offsetBy: offset + 3)
                }
            }
            searchFrom = next
        }
        searchFrom = out.startIndex
        while let r = out[searchFrom...].firstRange(of: "password=") {
            let end = out[r.upperBound...].firstIndex(where: { $0 == "&" || $0 == " " }) ?? out.endIndex
            let offset = out.distance(from: out.startIndex, to: r.upperBound)
            out.replaceSubrange(r.upperBound..<end, with: "***")
            searchFrom = out.index(out.startIndex, offsetBy: offset + 3)
        }
        return out
    }
}

/// Wall-clock time in ms since the epoch (one reading for every module).
public func currentTimeMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
