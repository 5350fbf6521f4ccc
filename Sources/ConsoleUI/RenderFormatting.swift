import SessionKit

/// Cell formatting shared by the views.
extension Renderer {

    static func group(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }

    static func bytes(_ n: Int64) -> String {
        if n < 1024 { return "\(n)B" }
        if n < 1 << 20 { return format1(Double(n) / 1024) + "K" }
        if n < 1 << 30 { return format1(Double(n) / 1_048_576) + "M" }
        return format1(Double(n) / 1_073_741_824) + "G"
    }

    static func format1(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }
}
