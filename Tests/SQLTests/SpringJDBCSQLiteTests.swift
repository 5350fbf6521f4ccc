import Foundation
import SQLCore
import SQLSessions
import SQLiteClient
import SessionFormats
import SessionKit
import TestSupport
import Testing

/// Spring Session JDBC on SQLite (issue 15): Spring's own DDL (`schema-sqlite.sql`) and real
/// `ObjectOutputStream` bytes (the committed Java fixtures), listed, shown, expired and logged
/// out by the real binary.
@Suite struct SpringJDBCSQLiteTests {
    static let ddl = [
        """
        CREATE TABLE SPRING_SESSION (PRIMARY_ID CHAR(36) NOT NULL, SESSION_ID CHAR(36) NOT NULL,
          CREATION_TIME INTEGER NOT NULL, LAST_ACCESS_TIME INTEGER NOT NULL, MAX_INACTIVE_INTERVAL INTEGER NOT NULL,
          EXPIRY_TIME INTEGER NOT NULL, PRINCIPAL_NAME VARCHAR(100), CONSTRAINT SPRING_SESSION_PK PRIMARY KEY (PRIMARY_ID))
        """,
        "CREATE UNIQUE INDEX SPRING_SESSION_IX1 ON SPRING_SESSION (SESSION_ID)",
        "CREATE INDEX SPRING_SESSION_IX2 ON SPRING_SESSION (EXPIRY_TIME)",
        "CREATE INDEX SPRING_SESSION_IX3 ON SPRING_SESSION (PRINCIPAL_NAME)",
        """
        CREATE TABLE SPRING_SESSION_ATTRIBUTES (SESSION_PRIMARY_ID CHAR(36) NOT NULL, ATTRIBUTE_NAME VARCHAR(200) NOT NULL,
          ATTRIBUTE_BYTES BLOB NOT NULL, CONSTRAINT SPRING_SESSION_ATTRIBUTES_PK PRIMARY KEY (SESSION_PRIMARY_ID, ATTRIBUTE_NAME),
          CONSTRAINT SPRING_SESSION_ATTRIBUTES_FK FOREIGN KEY (SESSION_PRIMARY_ID) REFERENCES SPRING_SESSION(PRIMARY_ID)
          ON DELETE CASCADE)
        """,
    ]

    /// A session as Spring's repository saves it: the row, then one row per attribute.
    static func save(
        _ db: SQLiteDatabase, id: String, user: String?, lastAccess: Int64, interval: Int64,
        attributes: [(String, [UInt8])]
    ) async throws {
        let primary = "p-" + id
        var statements: [(sql: String, parameters: [SQLValue])] = [
            (
                "INSERT INTO SPRING_SESSION VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(primary), .text(id), .integer(lastAccess - 60_000), .integer(lastAccess), .integer(interval),
                    .integer(lastAccess + interval * 1000), user.map { .text($0) } ?? .null,
                ]
            )
        ]
        for (name, bytes) in attributes {
            statements.append(
                ("INSERT INTO SPRING_SESSION_ATTRIBUTES VALUES (?, ?, ?)", [.text(primary), .text(name), .blob(bytes)]))
        }
        _ = try await db.transaction(statements)
    }

    @Test func listShowExpireAndLogoutOnSpringsTables() async throws {
        let dir = try makeTemporaryDirectory("sessionctl-spring-sqlite")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/spring.db"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let db = SQLiteDatabase(path: path)
        _ = try await db.transaction(Self.ddl.map { ($0, []) })
        let now = currentTimeMs()
        try await Self.save(
            db, id: "s-alice", user: "alice", lastAccess: now, interval: 1800,
            attributes: [
                ("SPRING_SECURITY_CONTEXT", try Fixtures.bytes("java/security-context-alice.bin")),
                ("cart", JavaStream.serializedString("3 items")),
            ])
        try await Self.save(
            db, id: "s-bob", user: "bob", lastAccess: now, interval: 1800,
            attributes: [("theme", JavaStream.serializedString("dark"))])
        try await Self.save(db, id: "s-old", user: "carol", lastAccess: now - 7_200_000, interval: 1800, attributes: [])
        let store = ["--store", "sqlite://" + path]
        let ls = try CLI.run(["ls", "-o", "csv", "--fields", "id,user"] + store)
        #expect(ls.code == 0 && ls.lines == ["id,user", "s-alice,alice", "s-bob,bob"], "the expired row hidden: \(ls)")
        let show = try CLI.run(["show", "s-alice"] + store)
        #expect(
            show.code == 0 && show.stdout.contains("3 items") && show.stdout.contains("SPRING_SECURITY_CONTEXT"),
            "\(show)")
        #expect(show.stdout.contains("spring-jdbc") && show.stdout.contains("alice"))
        // expire --in: the expiry and the interval, as Spring decides expiry.
        #expect(try CLI.run(["expire", "s-bob", "--in", "1h", "--yes"] + store).code == 0)
        let bob = try await db.query(
            "SELECT EXPIRY_TIME, MAX_INACTIVE_INTERVAL, LAST_ACCESS_TIME FROM SPRING_SESSION WHERE SESSION_ID = 's-bob'",
            [])
        let expiry = bob.first?[0].int ?? 0
        let interval = bob.first?[1].int ?? 0
        let last = bob.first?[2].int ?? 0
        #expect(abs(expiry - (currentTimeMs() + 3_600_000)) < 60_000, "\(bob)")
        #expect(abs(last + interval * 1000 - expiry) < 1000, "Spring computes the same expiry: \(bob)")
        // logout: the session and its attribute rows, nobody else's.
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("1 session(s) removed"), "\(logout)")
        #expect(
            try await db.query(
                "SELECT COUNT(*) FROM SPRING_SESSION_ATTRIBUTES WHERE SESSION_PRIMARY_ID = 'p-s-alice'", []
            ).first?.first?.int == 0)
        #expect(try await db.query("SELECT COUNT(*) FROM SPRING_SESSION_ATTRIBUTES", []).first?.first?.int == 1)
        #expect(try await db.query("SELECT COUNT(*) FROM SPRING_SESSION", []).first?.first?.int == 2)
        let nodes = try CLI.run(["nodes"] + store)
        #expect(
            nodes.code == 0 && nodes.stdout.contains("SPRING_SESSION (spring-jdbc)") && nodes.stdout.contains("1"),
            "\(nodes)")
    }
}
