import SQLCore
import SQLiteClient
import SessionFormats
import SessionKit

/// Sessions in a database table (issue 15; so far SQLite, Django's `db` backend and Spring
/// Session JDBC). The
/// session tables are found by their columns (`--schema django-db[:TABLE]` names one); a
/// listing reads a page at a time by the primary key (keyset pagination: never the whole
/// table), hiding rows past their expiry unless asked; mutations run in one transaction per
/// batch, so a failed batch leaves nothing half done.
public final class SQLSessionStore: SessionStore, @unchecked Sendable {
    let db: any SQLDatabase
    let schemaOption: String
    private let tablesCache = TablesCache()
    /// Rows per page (and per mutation batch).
    public let pageSize: Int

    let secretKey: String?

    /// `secretKey`: Django's `SECRET_KEY`, to check signatures.
    public init(database: any SQLDatabase, schema: String = "auto", pageSize: Int = 1000, secretKey: String? = nil) {
        db = database
        schemaOption = schema
        self.pageSize = pageSize
        self.secretKey = secretKey
    }

    public var displayName: String { db.displayName }
    public var nodeNames: [String] { [db.displayName] }
    var node: String { db.displayName }

    /// The session tables, found once.
    func tables() async throws -> [any SessionTable] {
        if let t = await tablesCache.tables { return t }
        let all = try await db.tables()
        var found: [any SessionTable] = []
        let (wanted, named) = schemaOption == "auto" ? ("auto", nil) : SQLSessionStore.split(schemaOption)
        for t in all {
            if let named, t.name.lowercased() != named.lowercased() { continue }
            if (wanted == "auto" || wanted == "django-db") && DjangoTable.matches(t.columns) {
                found.append(DjangoTable(table: t.name, secret: secretKey))
            }
            if (wanted == "auto" || wanted == "spring-jdbc") && SpringJDBCTable.matches(t.columns),
                let attributes = all.first(where: {
                    $0.name.lowercased() == t.name.lowercased() + "_attributes"
                        && SpringJDBCTable.attributesMatch($0.columns)
                })
            {
                found.append(SpringJDBCTable(table: t.name, attributesTable: attributes.name))
            }
        }
        if found.isEmpty {
            throw SQLError(
                .usage,
                "\(db.displayName): no session table found"
                    + (schemaOption == "auto"
                        ? " (looked for the columns of django_session and SPRING_SESSION with its _ATTRIBUTES)"
                        : " for --schema \(schemaOption)"))
        }
        await tablesCache.set(found)
        return found
    }

    static func split(_ option: String) -> (String, String?) {
        guard let colon = option.firstIndex(of: ":") else { return (option, nil) }
        return (String(option[..<colon]), String(option[option.index(after: colon)...]))
    }

    // MARK: - Reading

    public func list(_ query: ListQuery, onPage: @escaping @Sendable ([Session]) async throws -> Void) async throws
        -> ListOutcome
    {
        let progress = ListProgress(limit: query.limit)
        var scanned = 0
        let d = db.dialect
        for table in try await tables() {
            var after: String? = nil
            while true {
                let now = currentTimeMs()
                var conditions: [String] = []
                var parameters: [SQLValue] = []
                if let after {
                    conditions.append("\(d.quote(table.idColumn)) > \(d.parameter(1))")
                    parameters.append(.text(after))
                }
                if !query.includeExpired, let live = table.liveCondition(d, nowMs: now, parameterBase: parameters.count)
                {
                    conditions.append(live.sql)
                    parameters += live.parameters
                }
                // A pinned user where a column holds it: the filter runs in the database.
                if let user = query.filter.exactUser, let column = table.userColumn {
                    conditions.append("\(d.quote(column)) = \(d.parameter(parameters.count + 1))")
                    parameters.append(.text(user))
                }
                let sql =
                    "SELECT \(table.selectColumns.map { d.quote($0) }.joined(separator: ", ")) FROM \(d.quote(table.table))"
                    + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                    + " ORDER BY \(d.quote(table.idColumn)) LIMIT \(pageSize)"
                let rows = try await db.query(sql, parameters)
                scanned += rows.count
                let decode = query.withAttributes || query.filter.needsAttributes
                var sessions = rows.map { table.session(from: $0, node: node, nowMs: now, decode: decode) }
                if decode { try await table.complete(&sessions, db: db) }
                let page = await progress.accept(sessions.filter { query.filter.matches($0, nowMs: now) })
                if !page.sessions.isEmpty { try await onPage(page.sessions) }
                if page.done || rows.count < pageSize { break }
                after = rows.last?.first?.string
                if after == nil { break }
            }
            if await progress.done { break }
        }
        return ListOutcome(scannedKeys: scanned, matched: await progress.matched)
    }

    /// Reads without writing (Django's own load would not touch it either: only a save does).
    public func get(id: String) async throws -> Session? {
        try await read(ids: [id], decode: true).first
    }

    func read(ids: [String], decode: Bool) async throws -> [Session] {
        guard !ids.isEmpty else { return [] }
        let d = db.dialect
        var out: [Session] = []
        for table in try await tables() {
            for chunk in stride(from: 0, to: ids.count, by: pageSize).map({
                Array(ids[$0..<min($0 + pageSize, ids.count)])
            }) {
                let sql =
                    "SELECT \(table.selectColumns.map { d.quote($0) }.joined(separator: ", ")) FROM \(d.quote(table.table))"
                    + " WHERE \(d.quote(table.idColumn)) IN (\(table.placeholders(d, count: chunk.count)))"
                let now = currentTimeMs()
                var sessions = try await db.query(sql, chunk.map { .text($0) }).map {
                    table.session(from: $0, node: node, nowMs: now, decode: decode)
                }
                if decode { try await table.complete(&sessions, db: db) }
                out += sessions
            }
        }
        return out
    }

    public func locate(ids: [String]) async -> SessionPlan {
        do {
            let found = try await read(ids: ids, decode: false)
            let have = Set(found.map(\.id))
            return SessionPlan(sessions: found, notFound: ids.filter { !have.contains($0) })
        } catch {
            return SessionPlan(failures: [NodeFailure(node: node, message: "\(error)")])
        }
    }

    // MARK: - Changing

    public func expire(_ target: SessionTarget, after milliseconds: Int64?) async throws -> MutationResult {
        guard let ms = milliseconds, ms > 0 else { return try await delete(target) }
        let sessions = try await resolve(target)
        var result = MutationResult()
        let d = db.dialect
        for table in try await tables() {
            let ids = sessions.filter { $0.schema == table.kind }.map(\.id)
            guard !ids.isEmpty, let statements = table.setExpiry(d, ids: ids, atMs: currentTimeMs() + ms) else {
                continue
            }
            let changed = try await db.transaction(statements)
            result.affected += ids
            result.keysTouched += changed.reduce(0, +)
        }
        return result
    }

    public func delete(_ target: SessionTarget) async throws -> MutationResult {
        let sessions = try await resolve(target)
        var result = MutationResult()
        if case .ids(let ids) = target {
            let have = Set(sessions.map(\.id))
            result.notFound = ids.filter { !have.contains($0) }
        }
        let d = db.dialect
        for table in try await tables() {
            let ids = sessions.filter { $0.schema == table.kind }.map(\.id)
            // One transaction per batch: a batch is deleted whole or not at all.
            for start in stride(from: 0, to: ids.count, by: pageSize) {
                let batch = Array(ids[start..<min(start + pageSize, ids.count)])
                let changed = try await db.transaction(table.delete(d, ids: batch))
                result.affected += batch
                result.keysTouched += changed.reduce(0, +)
            }
        }
        return result
    }

    /// The sessions a target names, read now (a user's: decoded from every row, since
    /// Django keeps the user only inside the signed data).
    private func resolve(_ target: SessionTarget) async throws -> [Session] {
        switch target {
        case .ids(let ids): return try await read(ids: ids, decode: false)
        case .sessions(let s): return s
        case .user(let user):
            var filter = Filter()
            filter.add(.user, .eq, user)
            var query = ListQuery(filter: filter)
            query.includeExpired = true
            let found = Found()
            _ = try await list(query) { await found.add($0) }
            return await found.sessions
        }
    }

    // MARK: - Nodes

    public func nodes(_ detail: NodeDetail) async -> [NodeInfo] {
        var info = NodeInfo(name: node, address: node, role: "database", up: false)
        do {
            info.version = try await db.version()
            info.up = true
            let d = db.dialect
            var live = 0
            var expired = 0
            for table in try await tables() {
                let now = currentTimeMs()
                let total =
                    try await db.query("SELECT COUNT(*) FROM \(d.quote(table.table))", []).first?.first?.int ?? 0
                var alive = total
                if let cond = table.liveCondition(d, nowMs: now, parameterBase: 0) {
                    alive =
                        try await db.query(
                            "SELECT COUNT(*) FROM \(d.quote(table.table)) WHERE \(cond.sql)", cond.parameters
                        )
                        .first?.first?.int ?? 0
                }
                live += Int(alive)
                expired += Int(total - alive)
                info.set(
                    NodeFact(
                        key: "table.\(table.table)", title: "TABLE", value: .string("\(table.table) (\(table.kind))")))
            }
            info.sessions = live
            info.set(NodeFact(key: "expired_rows", title: "EXPIRED ROWS", value: .int(Int64(expired))))
        } catch {
            info.error = "\(error)"
        }
        return [info]
    }

    public func capabilities() async -> StoreCapabilities { StoreCapabilities() }
}

actor TablesCache {
    var tables: [any SessionTable]?
    func set(_ t: [any SessionTable]) { tables = t }
}

actor Found {
    var sessions: [Session] = []
    func add(_ page: [Session]) { sessions += page }
}

extension SQLError: ClassifiedStoreError {
    public var errorClass: StoreErrorClass {
        switch kind {
        case .connection: return .connection
        case .usage, .readOnly: return .usage
        case .failure: return .failure
        }
    }
}

extension SQLSessionStore {
    /// SQLite as the store factory knows it: `sqlite:///absolute/path.db`.
    public static let kind = StoreKind(name: "sql", schemes: ["sqlite"]) { texts, options in
        guard texts.count == 1, let text = texts.first else {
            throw SQLError(.usage, "give one database per sessionctl (several sqlite:// URLs were given)")
        }
        let path = String(text.dropFirst("sqlite://".count))
        guard path.hasPrefix("/") else {
            throw SQLError(.usage, "sqlite URL needs an absolute path: sqlite:///path/to/file.db ('\(text)')")
        }
        return SQLSessionStore(
            database: SQLiteDatabase(path: path, busyTimeoutMs: options.commandTimeoutMs), schema: options.schema,
            secretKey: options.secretKey)
    }
}
