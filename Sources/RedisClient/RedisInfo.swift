/// `INFO` text as a dictionary.
public enum RedisInfo {
    public static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return out
    }

    /// Keys in `db` from the keyspace section (`db0:keys=12,expires=3,...`).
    public static func keys(_ fields: [String: String], db: Int) -> Int? {
        guard let v = fields["db\(db)"] else { return 0 }
        for part in v.split(separator: ",") where part.hasPrefix("keys=") { return Int(part.dropFirst(5)) }
        return nil
    }
}
