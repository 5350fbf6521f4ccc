import CSQLite
import DedicatedThread
import SQLCore

/// One SQLite database file, opened read-write (never created: a missing file is an error,
/// not an empty store), on a thread of its own: every blocking sqlite3 call stays off the
/// cooperative pool. A busy database (an application writing) is waited for up to the
/// command timeout.
public actor SQLiteDatabase: SQLDatabase {
    public nonisolated let path: String
    private let executor: ThreadExecutor
    // Only touched on the executor's thread, and by deinit when nothing else can.
    private nonisolated(unsafe) var db: OpaquePointer?
    private let busyTimeoutMs: Int32

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    public nonisolated var displayName: String { "sqlite://" + path }
    public nonisolated var dialect: SQLDialect { .sqlite }

    public init(path: String, busyTimeoutMs: Int = 10_000) {
        self.path = path
        self.busyTimeoutMs = Int32(clamping: busyTimeoutMs)
        executor = ThreadExecutor(name: "sqlite " + path)
    }

    deinit {
        if let db { sqlite3_close_v2(db) }
        executor.shutdown()
    }

    private func open() throws(SQLError) -> OpaquePointer {
        if let db { return db }
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            if let handle { sqlite3_close_v2(handle) }
            throw SQLError(.connection, "\(path): cannot open: \(message)")
        }
        sqlite3_busy_timeout(handle, busyTimeoutMs)
        db = handle
        return handle
    }

    private func fail(_ db: OpaquePointer, _ what: String) -> SQLError {
        let code = sqlite3_errcode(db)
        let message = String(cString: sqlite3_errmsg(db))
        let kind: SQLError.Kind = code == SQLITE_READONLY ? .readOnly : code == SQLITE_ERROR ? .usage : .failure
        return SQLError(kind, "\(path): \(what): \(message)")
    }

    /// Runs one statement; rows when it returns any.
    private func run(_ db: OpaquePointer, _ sql: String, _ parameters: [SQLValue]) throws(SQLError) -> (
        rows: [[SQLValue]], changed: Int
    ) {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else { throw fail(db, "prepare") }
        defer { sqlite3_finalize(stmt) }
        for (i, p) in parameters.enumerated() {
            let n = Int32(i + 1)
            let rc: Int32
            switch p {
            case .null: rc = sqlite3_bind_null(stmt, n)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, n, v)
            case .real(let v): rc = sqlite3_bind_double(stmt, n, v)
            case .text(let s): rc = sqlite3_bind_text(stmt, n, s, -1, csq_transient())
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, n, $0.baseAddress, Int32($0.count), csq_transient()) }
            }
            guard rc == SQLITE_OK else { throw fail(db, "bind") }
        }
        var rows: [[SQLValue]] = []
        let columns = sqlite3_column_count(stmt)
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw fail(db, "step") }
            var row: [SQLValue] = []
            row.reserveCapacity(Int(columns))
            for c in 0..<columns {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_TEXT:
                    let n = Int(sqlite3_column_bytes(stmt, c))
                    if let p = sqlite3_column_text(stmt, c) {
                        let bytes = UnsafeBufferPointer(start: p, count: n)
                        // Invalid UTF-8 in a text column stays bytes (shown as hex, never lost).
                        if let s = String(validating: bytes, as: UTF8.self) {
                            row.append(.text(s))
                        } else {
                            row.append(.blob(Array(bytes)))
                        }
                    } else {
                        row.append(.text(""))
                    }
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(stmt, c))
                    if let p = sqlite3_column_blob(stmt, c) {
                        row.append(.blob(Array(UnsafeRawBufferPointer(start: p, count: n))))
                    } else {
                        row.append(.blob([]))
                    }
                default: row.append(.null)
                }
            }
            rows.append(row)
        }
        return (rows, Int(sqlite3_changes(db)))
    }

    public func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[SQLValue]] {
        try run(try open(), sql, parameters).rows
    }

    public func transaction(_ statements: [(sql: String, parameters: [SQLValue])]) throws -> [Int] {
        let db = try open()
        _ = try run(db, "BEGIN IMMEDIATE", [])
        var changed: [Int] = []
        do {
            for s in statements { changed.append(try run(db, s.sql, s.parameters).changed) }
            _ = try run(db, "COMMIT", [])
        } catch {
            _ = try? run(db, "ROLLBACK", [])
            throw error
        }
        return changed
    }

    public func tables() throws -> [SQLTableInfo] {
        let db = try open()
        let names = try run(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", []).rows
            .compactMap { $0.first?.string }
        return try names.map { name throws(SQLError) in
            let quoted = SQLDialect.sqlite.quote(name)
            let columns = try run(db, "PRAGMA table_info(\(quoted))", []).rows.compactMap {
                $0.count > 1 ? $0[1].string : nil
            }
            return SQLTableInfo(name: name, columns: columns.map { $0.lowercased() })
        }
    }

    public func version() throws -> String {
        _ = try open()
        return "SQLite " + String(cString: sqlite3_libversion())
    }
}
