import SQLCore
import SessionFormats
import SessionKit

/// One framework's session table: how it is recognised by its columns, read a page at a
/// time (keyset pagination on the primary key), and changed. Each kind is a value; the store
/// runs whichever tables it found.
protocol SessionTable: Sendable {
    /// `django-db`: the `--schema` name.
    var kind: String { get }
    var table: String { get }
    /// Columns that hold the id, in key order (the keyset).
    var idColumn: String { get }
    /// The user, where a column holds it (logout pushed down to one DELETE).
    var userColumn: String? { get }
    /// The columns a page selects, in the order `session(from:)` reads them.
    var selectColumns: [String] { get }
    /// A condition (with parameters from `parameterBase`) hiding rows past their expiry.
    func liveCondition(_ d: SQLDialect, nowMs: Int64, parameterBase: Int) -> (sql: String, parameters: [SQLValue])?
    /// A row as a session; `decode`: attributes too.
    func session(from row: [SQLValue], node: String, nowMs: Int64, decode: Bool) -> Session
    /// Statements that set a new expiry (`atMs` absolute), nil when the table keeps none.
    func setExpiry(_ d: SQLDialect, ids: [String], atMs: Int64) -> [(sql: String, parameters: [SQLValue])]?
    /// Statements that delete these sessions (and their attribute rows).
    func delete(_ d: SQLDialect, ids: [String]) -> [(sql: String, parameters: [SQLValue])]
    /// Reads what the page's rows do not carry (Spring's attribute rows), when decoding.
    func complete(_ sessions: inout [Session], db: any SQLDatabase) async throws
}

extension SessionTable {
    func complete(_ sessions: inout [Session], db: any SQLDatabase) async throws {}

    func q(_ d: SQLDialect, _ name: String) -> String { d.quote(name) }

    /// `?, ?, ?` (or `$n...`) for `count` parameters after `base`.
    func placeholders(_ d: SQLDialect, count: Int, after base: Int = 0) -> String {
        (1...max(1, count)).map { d.parameter(base + $0) }.joined(separator: ", ")
    }
}

/// Django's `db` backend: `django_session(session_key, session_data, expire_date)`. Django
/// keeps no creation or access time; `expire_date` is absolute (UTC) and expired rows stay
/// until `manage.py clearsessions`.
struct DjangoTable: SessionTable {
    let table: String
    /// Django's `SECRET_KEY`, when given: each row's signature is checked and `show` says so.
    var secret: String? = nil
    var kind: String { "django-db" }
    var idColumn: String { "session_key" }
    var userColumn: String? { nil }
    var selectColumns: [String] { ["session_key", "session_data", "expire_date"] }

    static func matches(_ columns: [String]) -> Bool {
        Set(["session_key", "session_data", "expire_date"]).isSubset(of: columns)
    }

    func liveCondition(_ d: SQLDialect, nowMs: Int64, parameterBase: Int) -> (sql: String, parameters: [SQLValue])? {
        ("\(q(d, "expire_date")) > \(d.parameter(parameterBase + 1))", [DjangoTable.dateValue(nowMs, d)])
    }

    func session(from row: [SQLValue], node: String, nowMs: Int64, decode: Bool) -> Session {
        let id = row[0].string ?? Sanitizer.hex(row[0].bytes ?? [])
        let expiry = DjangoTable.milliseconds(row[2])
        var s = Session(
            id: id, key: "\(table):\(id)", user: nil, node: node, ttlMs: expiry.map { $0 - nowMs } ?? -1,
            schema: kind)
        let data = row[1].bytes ?? []
        s.sizeBytes = Int64(data.count)
        guard let text = row[1].string else {
            s.attributes = [DjangoTable.undecodable(data, "session_data is not text")]
            return s
        }
        do {
            let (tree, format) = try DjangoSigned.decode(text)
            if let user = DjangoTable.user(tree) { s.user = user }
            if decode {
                s.attributes = FrameworkValues.json.attributes(of: tree).map { a in
                    var a = a
                    a.format = format
                    return a
                }
            }
            if let signed = try? DjangoSigned.split(text).signedAtSeconds { s.lastAccessedAtMs = signed * 1000 }
            if decode { s.attributes.insert(signatureNote(text), at: 0) }
        } catch {
            s.attributes = [DjangoTable.undecodable(data, "\(error)")]
        }
        return s
    }

    func setExpiry(_ d: SQLDialect, ids: [String], atMs: Int64) -> [(sql: String, parameters: [SQLValue])]? {
        [
            (
                "UPDATE \(q(d, table)) SET \(q(d, "expire_date")) = \(d.parameter(1)) WHERE \(q(d, idColumn)) IN (\(placeholders(d, count: ids.count, after: 1)))",
                [DjangoTable.dateValue(atMs, d)] + ids.map { .text($0) }
            )
        ]
    }

    func delete(_ d: SQLDialect, ids: [String]) -> [(sql: String, parameters: [SQLValue])] {
        [
            (
                "DELETE FROM \(q(d, table)) WHERE \(q(d, idColumn)) IN (\(placeholders(d, count: ids.count)))",
                ids.map { .text($0) }
            )
        ]
    }

    /// What the signature says, as a pseudo-attribute `show` lists first.
    func signatureNote(_ text: String) -> Attribute {
        let note: String
        switch secret.map({ DjangoSignature.verify(text, secret: $0) }) {
        case true?: note = "verified with the secret key"
        case false?: note = "DOES NOT MATCH the secret key (changed after signing, or signed with another key)"
        case nil: note = "not verified (--secret-key or DJANGO_SECRET_KEY checks it)"
        }
        return Attribute(name: "(signature)", raw: Array(note.utf8), decoded: .string(note), format: "django-signed")
    }

    /// `_auth_user_id`, a string in Django's JSON.
    static func user(_ tree: DecodedValue) -> String? {
        guard case .map(let entries) = tree, let v = entries.first(where: { $0.key == "_auth_user_id" })?.value else {
            return nil
        }
        switch v {
        case .string(let s): return s
        case .int(let n): return String(n)
        default: return nil
        }
    }

    static func undecodable(_ raw: [UInt8], _ why: String) -> Attribute {
        Attribute(name: "(session_data)", raw: raw, decoded: .undecodable(why), format: "django-signed")
    }

    /// SQLite keeps `expire_date` as text `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC).
    static func dateValue(_ ms: Int64, _ d: SQLDialect) -> SQLValue {
        .text(SQLTime.text(ms: ms))
    }

    static func milliseconds(_ v: SQLValue) -> Int64? {
        switch v {
        case .text(let s): return SQLTime.parse(s)
        case .integer(let n): return n * 1000
        default: return nil
        }
    }
}

/// Spring Session JDBC (`JdbcIndexedSessionRepository`): `SPRING_SESSION` (any name) and its
/// `<name>_ATTRIBUTES` rows of Java-serialized values. `SESSION_ID` is the cookie's id (the
/// keyset); `PRIMARY_ID` ties the attribute rows; times are epoch ms; `PRINCIPAL_NAME` is a
/// column, so a logout is one indexed DELETE.
struct SpringJDBCTable: SessionTable {
    let table: String
    let attributesTable: String
    var kind: String { "spring-jdbc" }
    var idColumn: String { "session_id" }
    var userColumn: String? { "principal_name" }
    var selectColumns: [String] {
        [
            "session_id", "primary_id", "creation_time", "last_access_time", "max_inactive_interval", "expiry_time",
            "principal_name",
        ]
    }

    static let columns: Set<String> = [
        "primary_id", "session_id", "creation_time", "last_access_time", "max_inactive_interval", "expiry_time",
        "principal_name",
    ]
    static func matches(_ columns: [String]) -> Bool { Self.columns.isSubset(of: columns) }
    static func attributesMatch(_ columns: [String]) -> Bool {
        Set(["session_primary_id", "attribute_name", "attribute_bytes"]).isSubset(of: columns)
    }

    func liveCondition(_ d: SQLDialect, nowMs: Int64, parameterBase: Int) -> (sql: String, parameters: [SQLValue])? {
        (
            "(\(q(d, "expiry_time")) > \(d.parameter(parameterBase + 1)) OR \(q(d, "max_inactive_interval")) < 0)",
            [.integer(nowMs)]
        )
    }

    func session(from row: [SQLValue], node: String, nowMs: Int64, decode: Bool) -> Session {
        let id = row[0].string ?? Sanitizer.hex(row[0].bytes ?? [])
        let primary = row[1].string ?? ""
        let interval = row[4].int
        let expiry = row[5].int
        return Session(
            id: id, key: "\(table):\(primary)", user: row[6].string, node: node,
            ttlMs: (interval ?? 0) < 0 ? -1 : (expiry.map { $0 - nowMs } ?? -1), createdAtMs: row[2].int,
            lastAccessedAtMs: row[3].int, maxInactiveSeconds: interval, schema: kind)
    }

    private static func primaryID(_ s: Session) -> String {
        s.key.firstIndex(of: ":").map { String(s.key[s.key.index(after: $0)...]) } ?? ""
    }

    func complete(_ sessions: inout [Session], db: any SQLDatabase) async throws {
        guard !sessions.isEmpty else { return }
        let d = db.dialect
        let ids = sessions.map(Self.primaryID)
        let rows = try await db.query(
            "SELECT \(q(d, "session_primary_id")), \(q(d, "attribute_name")), \(q(d, "attribute_bytes")) FROM "
                + "\(q(d, attributesTable)) WHERE \(q(d, "session_primary_id")) IN (\(placeholders(d, count: ids.count)))"
                + " ORDER BY \(q(d, "attribute_name"))",
            ids.map { .text($0) })
        var byPrimary: [String: [Attribute]] = [:]
        var sizes: [String: Int64] = [:]
        for r in rows where r.count == 3 {
            let owner = r[0].string ?? ""
            let raw = r[2].bytes ?? []
            byPrimary[owner, default: []].append(Decode.attribute(name: r[1].string ?? "?", raw: raw))
            sizes[owner, default: 0] += Int64(raw.count)
        }
        for i in sessions.indices {
            let p = Self.primaryID(sessions[i])
            sessions[i].attributes = byPrimary[p] ?? []
            sessions[i].sizeBytes = sizes[p] ?? 0
        }
    }

    /// Spring decides expiry from the last access and the interval: both are set, so the
    /// application sees the session end at `atMs` (a later access slides it again).
    func setExpiry(_ d: SQLDialect, ids: [String], atMs: Int64) -> [(sql: String, parameters: [SQLValue])]? {
        [
            (
                "UPDATE \(q(d, table)) SET \(q(d, "expiry_time")) = \(d.parameter(1)), "
                    + "\(q(d, "max_inactive_interval")) = (\(d.parameter(2)) - \(q(d, "last_access_time"))) / 1000 "
                    + "WHERE \(q(d, idColumn)) IN (\(placeholders(d, count: ids.count, after: 2)))",
                [.integer(atMs), .integer(atMs)] + ids.map { .text($0) }
            )
        ]
    }

    /// The attribute rows first (SQLite enforces no cascade unless asked), then the sessions.
    func delete(_ d: SQLDialect, ids: [String]) -> [(sql: String, parameters: [SQLValue])] {
        let list = placeholders(d, count: ids.count)
        return [
            (
                "DELETE FROM \(q(d, attributesTable)) WHERE \(q(d, "session_primary_id")) IN (SELECT "
                    + "\(q(d, "primary_id")) FROM \(q(d, table)) WHERE \(q(d, idColumn)) IN (\(list)))",
                ids.map { .text($0) }
            ),
            ("DELETE FROM \(q(d, table)) WHERE \(q(d, idColumn)) IN (\(list))", ids.map { .text($0) }),
        ]
    }
}

/// Date-times as SQL keeps them in text (SQLite): `YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC.
enum SQLTime {
    static func text(ms: Int64) -> String {
        // "2026-12-03T21:50:00.123Z" → "2026-12-03 21:50:00.123000"
        let iso = ISOTime.format(ms: ms)
        guard iso.count == 24 else { return iso }
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(12)) + "000"
    }

    /// Milliseconds since the epoch; nil when the text is no such date.
    static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 19 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int64? {
            var n: Int64 = 0
            for k in from..<(from + len) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                n = n * 10 + Int64(b[k] - 0x30)
            }
            return n
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
            let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var millis: Int64 = 0
        if b.count > 20, b[19] == UInt8(ascii: ".") {
            var k = 20
            var scale: Int64 = 100
            while k < b.count, b[k] >= 0x30 && b[k] <= 0x39 {
                if scale > 0 { millis += Int64(b[k] - 0x30) * scale }
                scale /= 10
                k += 1
            }
        }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ((days * 86400 + h * 3600 + mi * 60 + s) * 1000) + millis
    }
}
