import SessionKit

/// Shared decoding helpers.
public enum Decode {
    /// Decodes an attribute value by its first bytes: Java serialization, JSON, text, else binary.
    public static func attribute(name: String, raw: [UInt8]) -> Attribute {
        if JavaStream.looksLikeStream(raw) {
            do {
                return Attribute(name: name, raw: raw, decoded: try JavaStream.decode(raw).decoded, format: "java")
            } catch { return Attribute(name: name, raw: raw, decoded: .undecodable(error.description), format: "java") }
        }
        if Pickle.looksLikePickle(raw) {
            do { return Attribute(name: name, raw: raw, decoded: try Pickle.decode(raw), format: "pickle") } catch {
                return Attribute(name: name, raw: raw, decoded: .undecodable(error.description), format: "pickle")
            }
        }
        if RubyMarshal.looksLikeMarshal(raw) {
            do { return Attribute(name: name, raw: raw, decoded: try RubyMarshal.decode(raw), format: "marshal") } catch
            { return Attribute(name: name, raw: raw, decoded: .undecodable(error.description), format: "marshal") }
        }
        if let first = raw.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 && $0 != 0x0D }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[") || first == UInt8(ascii: "\"")
        {
            if let v = try? JSONDecoding.decode(raw) {
                return Attribute(name: name, raw: raw, decoded: v, format: "json")
            }
        }
        if JWT.looksLikeJWT(raw), let v = try? JWT.decode(raw) {
            return Attribute(name: name, raw: raw, decoded: v, format: "jwt")
        }
        // PHP serialize(): only when the whole value parses (plain text can start with "s:").
        if raw.count >= 2, raw[1] == UInt8(ascii: ":") || raw[1] == UInt8(ascii: ";"),
            "asiObdNCE".utf8.contains(raw[0]),
            let v = try? PHPSerialize.decode(raw)
        {
            return Attribute(name: name, raw: raw, decoded: v, format: "php")
        }
        if let n = Int64(String(decoding: raw, as: UTF8.self)), !raw.isEmpty, raw.count < 20 {
            return Attribute(name: name, raw: raw, decoded: .int(n), format: "integer")
        }
        if Sanitizer.looksLikeText(raw), let s = String(validating: raw, as: UTF8.self) {
            return Attribute(name: name, raw: raw, decoded: .string(s), format: "text")
        }
        return Attribute(name: name, raw: raw, decoded: .bytes(raw), format: "binary")
    }

    /// A number stored either as text or as a Java-serialized boxed Long/Integer.
    public static func number(_ raw: [UInt8]?) -> Int64? {
        guard let raw, !raw.isEmpty else { return nil }
        if JavaStream.looksLikeStream(raw) {
            if let v = JavaStream.fastNumber(raw) { return v }
            if case .int(let v)? = try? JavaStream.decode(raw).decoded { return v }
            return nil
        }
        return Int64(String(decoding: raw, as: UTF8.self).trimmingCharacters(in: " \"\n"))
    }

    /// A user name stored as a Java string, JSON string or plain text.
    public static func userName(_ raw: [UInt8]?) -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        if JavaStream.looksLikeStream(raw) {
            if let s = JavaStream.fastString(raw) { return s }
            return (try? JavaStream.decode(raw))?.principalName
        }
        if raw.first == UInt8(ascii: "\""), case .string(let s)? = try? JSONDecoding.decode(raw) { return s }
        if raw.first == UInt8(ascii: "{"), let v = try? JSONDecoding.decode(raw) { return jsonPrincipal(v) }
        return String(validating: raw, as: UTF8.self)
    }

    /// The principal of a Jackson-serialized security context (`authentication.principal`
    /// or `.name`).
    public static func jsonPrincipal(_ v: DecodedValue) -> String? {
        if let auth = v["authentication"] { return jsonPrincipal(auth) }
        if let p = v["principal"] {
            if case .string(let s) = p { return s }
            if case .string(let s)? = p["username"] { return s }
        }
        if case .string(let s)? = v["name"] { return s }
        return nil
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
