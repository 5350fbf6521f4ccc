import SessionFormats
import SessionKit

/// How one framework keys its sessions in memcached: the session key, the keys it keeps
/// beside it (locks, validity, backups) and the value format. The value formats themselves
/// are shared with the other stores (`SessionFormats`).
public struct MemcachedLayout: Sendable {
    /// `php-memcached`, `php-memcache`, `msm`, `django`, `rails`, `express`, `prefix`.
    public let name: String
    public let prefix: String
    public let value: SessionValueFormat
    /// Whether a key alone cannot say it is a session (no prefix): the value must confirm.
    public let confirmedByValue: Bool
    let idRule: @Sendable (Substring) -> Bool
    /// Keys the framework keeps beside the session (lock, validity, backup), by id.
    let companionKeys: @Sendable (_ prefix: String, _ id: String) -> [String]
    /// Whether a key is such a companion (never listed as a session).
    let companionRule: @Sendable (_ prefix: String, _ key: String) -> Bool

    /// The session id of a session key of this layout; nil for other keys and companions.
    public func sessionID(forKey key: String) -> String? {
        // Byte comparisons: keys are compared as the bytes memcached holds, and String's
        // Unicode-aware `hasPrefix` was a tenth of a listing's time.
        guard key.utf8.count > prefix.utf8.count, key.utf8.starts(with: prefix.utf8), !isCompanion(key) else {
            return nil
        }
        let id = Substring(key.utf8.dropFirst(prefix.utf8.count))
        return idRule(id) ? String(id) : nil
    }

    public func key(forID id: String) -> String { prefix + id }

    /// The client flag that marks a zlib-compressed value (pymemcache 8, dalli 2).
    public var compressedFlag: UInt32 { name == "django" || name == "django-cached-db" ? 8 : name == "rails" ? 2 : 0 }
    public func companions(ofID id: String) -> [String] { companionKeys(prefix, id) }
    public func isCompanion(_ key: String) -> Bool { companionRule(prefix, key) }

    /// The layout under another prefix (`--schema msm:app1.`).
    public func withPrefix(_ p: String) -> MemcachedLayout {
        MemcachedLayout(
            name: name, prefix: p, value: value, confirmedByValue: confirmedByValue && p.isEmpty, idRule: idRule,
            companionKeys: companionKeys, companionRule: companionRule)
    }

    /// Whether a value fits this layout (for layouts that need the value to decide).
    public func valueConfirms(_ raw: [UInt8]) -> Bool {
        switch name {
        case "express":
            guard raw.first == UInt8(ascii: "{"), case .map(let e)? = try? JSONDecoding.decode(raw) else {
                return false
            }
            return e.contains { $0.key == "cookie" }
        case "php-memcache":
            // A PHP session: `name|value` pairs that parse completely (an empty value is a
            // session PHP created but never wrote).
            guard let first = raw.first else { return true }
            guard first != UInt8(ascii: "{"), raw.contains(UInt8(ascii: "|")) else { return false }
            return (try? PHPSerialize.decodeSession(raw)) != nil
        default:
            return true
        }
    }

    static let anyID: @Sendable (Substring) -> Bool = { !$0.isEmpty }
    /// ASCII letters and digits (session ids are ASCII).
    static let isAlnum: @Sendable (UInt8) -> Bool = { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
    static let noCompanions: @Sendable (String, String) -> [String] = { _, _ in [] }
    static let noCompanionRule: @Sendable (String, String) -> Bool = { _, _ in false }

    /// PHP's memcached extension: `memc.sess.key.<sid>`, lock `memc.sess.key.lock.<sid>`.
    public static let phpMemcached = MemcachedLayout(
        name: "php-memcached", prefix: "memc.sess.key.", value: FrameworkValues.phpSession, confirmedByValue: false,
        idRule: anyID, companionKeys: { p, id in [p + "lock." + id] },
        companionRule: { p, k in k.utf8.starts(with: (p + "lock.").utf8) })

    /// PHP's memcache (pecl) extension: `<sid>`, lock `<sid>.lock`.
    public static let phpMemcache = MemcachedLayout(
        name: "php-memcache", prefix: "", value: FrameworkValues.phpSession, confirmedByValue: true,
        idRule: { id in id.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ",") } },
        companionKeys: { p, id in [p + id + ".lock"] },
        companionRule: { p, k in k.utf8.starts(with: p.utf8) && k.utf8.reversed().starts(with: "kcol.".utf8) })

    /// Tomcat memcached-session-manager: `<hex>-<node>[.<route>]`; non-sticky mode keeps
    /// `validity:`, `lock:`, `bak:` and `bak:validity:` keys beside it.
    public static let msm = MemcachedLayout(
        name: "msm", prefix: "", value: TomcatMSM.value, confirmedByValue: false,
        idRule: { TomcatMSM.looksLikeSessionID($0) },
        companionKeys: { p, id in
            [p + "validity:" + id, p + "lock:" + id, p + "bak:" + id, p + "bak:validity:" + id]
        },
        companionRule: { p, k in
            guard k.utf8.starts(with: p.utf8) else { return false }
            let rest = k.utf8.dropFirst(p.utf8.count)
            return rest.starts(with: "validity:".utf8) || rest.starts(with: "lock:".utf8)
                || rest.starts(with: "bak:".utf8)
        })

    /// Django's cache session backend (pymemcache): `:1:django.contrib.sessions.cache<key>`.
    public static let django = MemcachedLayout(
        name: "django", prefix: ":1:django.contrib.sessions.cache", value: FrameworkValues.django,
        confirmedByValue: false, idRule: { id in id.utf8.allSatisfy(isAlnum) },
        companionKeys: noCompanions, companionRule: noCompanionRule)

    /// Django's cached_db backend keeps its cache copy under `...cached_db<key>`.
    public static let djangoCachedDB = MemcachedLayout(
        name: "django-cached-db", prefix: ":1:django.contrib.sessions.cached_db", value: FrameworkValues.django,
        confirmedByValue: false, idRule: { id in id.utf8.allSatisfy(isAlnum) },
        companionKeys: noCompanions, companionRule: noCompanionRule)

    /// Rack::Session::Dalli (Rails' mem_cache_store): namespace `rack:session:`.
    public static let rails = MemcachedLayout(
        name: "rails", prefix: "rack:session:", value: FrameworkValues.rails, confirmedByValue: false, idRule: anyID,
        companionKeys: noCompanions, companionRule: noCompanionRule)

    /// express-session with connect-memcached: `<prefix><sid>` (no prefix by default), JSON.
    public static let express = MemcachedLayout(
        name: "express", prefix: "", value: FrameworkValues.json, confirmedByValue: true,
        idRule: { id in id.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") } },
        companionKeys: noCompanions, companionRule: noCompanionRule)

    /// Anything else: every key under a prefix, decoded in the named format.
    public static func prefix(_ p: String, format: SessionValueFormat) -> MemcachedLayout {
        MemcachedLayout(
            name: "prefix", prefix: p, value: format, confirmedByValue: false, idRule: anyID,
            companionKeys: noCompanions, companionRule: noCompanionRule)
    }

    /// Auto-detection tries these in order: the ones with a telling prefix or key shape
    /// first, then those only a value can confirm.
    public static let known: [MemcachedLayout] = [
        phpMemcached, django, djangoCachedDB, rails, msm, express, phpMemcache,
    ]
}

/// What `--schema` chose for a memcached store.
public struct MemcachedSchema: Sendable {
    public let layouts: [MemcachedLayout]
    public let isAuto: Bool

    public static let auto = MemcachedSchema(layouts: MemcachedLayout.known, isAuto: true)

    /// `auto`, a layout name with an optional prefix (`msm:app.`), or `prefix:PREFIX[:FORMAT]`.
    public static func parse(_ text: String) throws -> MemcachedSchema {
        if text == "auto" || text.isEmpty { return .auto }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        if name == "prefix" {
            guard parts.count > 1 else {
                throw SchemaError(description: "--schema prefix needs a prefix: prefix:PREFIX[:FORMAT]")
            }
            var p = parts[1]
            var format = FrameworkValues.phpSession
            let formats: [String: SessionValueFormat] = [
                "php": FrameworkValues.phpSession, "json": FrameworkValues.json, "pickle": FrameworkValues.django,
                "marshal": FrameworkValues.rails, "msm": TomcatMSM.value,
            ]
            if let colon = p.lastIndex(of: ":"), let f = formats[String(p[p.index(after: colon)...])] {
                format = f
                p = String(p[..<colon])
            }
            return MemcachedSchema(layouts: [MemcachedLayout.prefix(p, format: format)], isAuto: false)
        }
        guard let layout = MemcachedLayout.known.first(where: { $0.name == name }) else {
            let names = MemcachedLayout.known.map(\.name).joined(separator: ", ")
            throw SchemaError(
                description: "unknown memcached schema '\(name)' (known: auto, \(names), prefix:PREFIX[:FORMAT])")
        }
        return MemcachedSchema(layouts: [parts.count > 1 ? layout.withPrefix(parts[1]) : layout], isAuto: false)
    }

    /// What a key is.
    public enum KeyClass: Sendable {
        case session(id: String, layout: MemcachedLayout)
        /// A session only if its value confirms it (these layouts, in order).
        case maybe(id: String, layouts: [MemcachedLayout])
        /// A lock, validity or backup key, or not a session at all.
        case other
    }

    public func classify(_ key: String) -> KeyClass {
        var maybe: [MemcachedLayout] = []
        var maybeID = ""
        for layout in layouts {
            if layout.isCompanion(key) { return .other }
            guard let id = layout.sessionID(forKey: key) else { continue }
            if !layout.confirmedByValue { return .session(id: id, layout: layout) }
            if maybe.isEmpty { maybeID = id }
            if id == maybeID { maybe.append(layout) }
        }
        return maybe.isEmpty ? .other : .maybe(id: maybeID, layouts: maybe)
    }

    /// The keys an id may be stored under, with their layouts in order (layouts without a
    /// prefix share a key: the value decides among them).
    public func candidates(forID id: String) -> [(key: String, layout: MemcachedLayout)] {
        layouts.filter { $0.idRule(Substring(id)) || !isAuto }.map { ($0.key(forID: id), $0) }
    }
}

struct SchemaError: Error, CustomStringConvertible, ClassifiedStoreError {
    var description: String
    var errorClass: StoreErrorClass { .usage }
}
