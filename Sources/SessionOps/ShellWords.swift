/// Splits a line into words like a POSIX shell does for quoting: '...' literal, "..."
/// with backslash escapes, backslash outside quotes. No expansion of any kind.
public enum ShellWords {
    public static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var cur = ""
        var inWord = false
        var quote: Character? = nil
        var escape = false
        for c in line {
            if escape {
                cur.append(c)
                escape = false
                inWord = true
                continue
            }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escape = true } else { cur.append(c) }
                continue
            }
            switch c {
            case "\\": escape = true
            case "'", "\"":
                quote = c
                inWord = true
            case " ", "\t":
                if inWord {
                    words.append(cur)
                    cur = ""
                    inWord = false
                }
            default:
                cur.append(c)
                inWord = true
            }
        }
        if quote != nil || escape { throw ConsoleError.usage("unterminated quote or escape") }
        if inWord { words.append(cur) }
        return words
    }
}
