/// Durations as operators type them: `90`, `90s`, `500ms`, `5m`, `2h`, `1d`, `1h30m`.
public enum DurationText {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let text: String
        public var description: String { "invalid duration '\(text)' (examples: 30s, 5m, 2h, 1h30m, 500ms)" }
    }

    /// Milliseconds for `text`; a bare number counts in `bareUnitMs` (seconds by default).
    public static func milliseconds(_ text: String, bareUnitMs: Int64 = 1000) throws(ParseError) -> Int64 {
        let s = text.trimmingCharactersInWhitespace()
        guard !s.isEmpty else { throw ParseError(text: text) }
        if let n = Int64(s), n >= 0 {
            return n.multipliedReportingOverflow(by: bareUnitMs).overflow ? Int64.max : n * bareUnitMs
        }
        var total: Int64 = 0
        var number: Int64? = nil
        var chars = Array(s.utf8)[...]
        while let c = chars.first {
            if c >= 48 && c <= 57 {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (v, o2) = m.addingReportingOverflow(Int64(c - 48))
                guard !o1, !o2 else { throw ParseError(text: text) }
                number = v
                chars = chars.dropFirst()
                continue
            }
            guard let n = number else { throw ParseError(text: text) }
            let unit: Int64
            if chars.starts(with: "ms".utf8) {
                unit = 1
                chars = chars.dropFirst(2)
            } else {
                switch c {
                case UInt8(ascii: "s"): unit = 1000
                case UInt8(ascii: "m"): unit = 60_000
                case UInt8(ascii: "h"): unit = 3_600_000
                case UInt8(ascii: "d"): unit = 86_400_000
                default: throw ParseError(text: text)
                }
                chars = chars.dropFirst()
            }
            let (part, o) = n.multipliedReportingOverflow(by: unit)
            let (sum, o2) = total.addingReportingOverflow(part)
            guard !o, !o2 else { throw ParseError(text: text) }
            total = sum
            number = nil
        }
        guard number == nil else { throw ParseError(text: text) }
        return total
    }

    /// Compact rendering for tables: `59s`, `4m05s`, `2h10m`, `3d4h`, `-` for never.
    public static func compact(ms: Int64) -> String {
        if ms < 0 { return "∞" }
        if ms < 1000 { return "\(ms)ms" }
        let s = ms / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad2(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(pad2((s % 3600) / 60))m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }

    private static func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : String(v) }
}

extension String {
    func trimmingCharactersInWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// ISO 8601 UTC timestamps from epoch milliseconds, without Foundation's formatters
/// (which are slow enough to show in a million-row listing).
public enum ISOTime {
    /// Times with a four-digit year (0000-01-01 to 9999-12-31): anything further out is
    /// stored garbage, shown as the number it is (near Int64.min the arithmetic trapped).
    static let formattable: ClosedRange<Int64> = -62_167_219_200_000...253_402_300_799_999

    public static func format(ms: Int64) -> String {
        guard formattable.contains(ms) else { return "\(ms) ms (out of range)" }
        let secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = ms - secs * 1000
        var days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = secs - days * 86400
        // Civil-from-days (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var year = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        if month <= 2 { year += 1 }
        var out = [UInt8](repeating: 0, count: 24)
        func put(_ v: Int64, _ at: Int, _ width: Int) {
            var v = v.magnitude
            for k in stride(from: at + width - 1, through: at, by: -1) {
                out[k] = 0x30 + UInt8(v % 10)
                v /= 10
            }
        }
        put(year, 0, 4)
        out[4] = 0x2D
        put(month, 5, 2)
        out[7] = 0x2D
        put(day, 8, 2)
        out[10] = 0x54
        put(rem / 3600, 11, 2)
        out[13] = 0x3A
        put(rem % 3600 / 60, 14, 2)
        out[16] = 0x3A
        put(rem % 60, 17, 2)
        out[19] = 0x2E
        put(millis, 20, 3)
        out[23] = 0x5A
        return String(decoding: out, as: UTF8.self)
    }
}
