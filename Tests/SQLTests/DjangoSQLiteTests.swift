import Foundation
import SQLCore
import SQLSessions
import SQLiteClient
import SessionFormats
import SessionKit
import TestSupport
import Testing

/// Django's `db` session backend on SQLite (issue 15, first step): sessions written by real
/// Django (PyPI django), listed, shown, expired and logged out by the real binary, and the
/// logout checked by Django itself.
@Suite(.serialized) struct DjangoSQLiteTests {
    static let script = """
        import sys, json, sqlite3
        from django.conf import settings
        db, mode, arg = sys.argv[1], sys.argv[2], sys.argv[3]
        settings.configure(SECRET_KEY="k", INSTALLED_APPS=["django.contrib.sessions"], USE_TZ=True,
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
            SESSION_ENGINE="django.contrib.sessions.backends.db")
        import django
        django.setup()
        from django.contrib.sessions.backends.db import SessionStore
        if mode == "setup":
            from django.core.management import call_command
            call_command("migrate", "sessions", verbosity=0)
        elif mode in ("write", "write-expired", "write-big"):
            s = SessionStore()
            if arg != "-":
                s["_auth_user_id"] = arg
            s["theme"] = "dark"
            if mode == "write-big":
                s["notes"] = "abc " * 5000
            if mode == "write-expired":
                s.set_expiry(-60)
            s.create()
            print(s.session_key)
        elif mode == "load":
            print(json.dumps(dict(SessionStore(session_key=arg).load())))
        elif mode == "expiry":
            c = sqlite3.connect(db)
            print(c.execute("SELECT expire_date FROM django_session WHERE session_key = ?", (arg,)).fetchone()[0])
        elif mode == "garbage":
            c = sqlite3.connect(db)
            c.execute("INSERT INTO django_session VALUES (?, ?, '2999-01-01 00:00:00')", (arg, "not:signed\\x1b[31m"))
            c.commit()
        """

    static func django(_ db: String, _ mode: String, _ arg: String = "-") throws -> String {
        guard let python = findExecutable("python3") else { throw HarnessError("python3 not found") }
        return try ChildProcess.output(python, ["-c", script, db, mode, arg], timeout: 60)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func listShowExpireAndLogoutAsDjangoSeesThem() throws {
        let dir = try makeTemporaryDirectory("sessionctl-django-sqlite")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/app.sqlite3"
        _ = try Self.django(db, "setup")
        let alice1 = try Self.django(db, "write", "alice")
        let alice2 = try Self.django(db, "write-big", "alice")
        let bob = try Self.django(db, "write", "bob")
        let anonymous = try Self.django(db, "write")
        let expired = try Self.django(db, "write-expired", "carol")
        _ = try Self.django(db, "garbage", "garbage0001")
        let store = ["--store", "sqlite://" + db]
        let ls = try CLI.run(["ls", "-o", "jsonl", "--fields", "id,user,ttl_ms"] + store)
        #expect(ls.code == 0, "\(ls)")
        let rows = ls.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let users = Dictionary(
            uniqueKeysWithValues: rows.compactMap { r in (r["id"] as? String).map { ($0, r["user"] as? String ?? "") } }
        )
        #expect(
            Set(users.keys) == Set([alice1, alice2, bob, anonymous, "garbage0001"]), "expired rows hidden: \(ls.stdout)"
        )
        #expect(users[alice1] == "alice" && users[alice2] == "alice" && users[bob] == "bob")
        #expect(rows.allSatisfy { ($0["ttl_ms"] as? Int ?? 0) > 0 })
        let all = try CLI.run(["ls", "-o", "jsonl", "--include-expired", "--fields", "id"] + store)
        #expect(all.code == 0 && all.stdout.contains(expired), "\(all)")
        // show: the decoded attributes (the big one was zlib-compressed by Django).
        let show = try CLI.run(["show", alice2] + store)
        #expect(show.code == 0 && show.stdout.contains("theme") && show.stdout.contains("dark"), "\(show)")
        #expect(show.stdout.contains("abc abc"))
        // The signature: checked with the secret Django signed with, refused with another one,
        // and the secret never reaches the audit log.
        #expect(show.stdout.contains("not verified"), "\(show)")
        let home = try makeTemporaryDirectory("sessionctl-django-audit")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let audited = ["SESSIONCTL_AUDIT_LOG": home + "/audit.log"]
        let verified = try CLI.run(["show", alice2, "--secret-key", "k"] + store)
        #expect(verified.stdout.contains("verified with the secret key"), "\(verified)")
        let wrong = try CLI.run(["show", alice2] + store, env: ["DJANGO_SECRET_KEY": "not-the-key"])
        #expect(wrong.stdout.contains("DOES NOT MATCH"), "\(wrong)")
        let expireAudited = try CLI.run(
            ["expire", alice1, "--in", "3h", "--yes", "--secret-key", "super-secret-value"] + store, env: audited)
        #expect(expireAudited.code == 0, "\(expireAudited)")
        let log = (try? String(contentsOfFile: home + "/audit.log", encoding: .utf8)) ?? ""
        #expect(log.contains("expire") && !log.contains("super-secret-value"), "\(log)")
        // A row that does not decode: shown with the error, escapes escaped, nothing lost.
        let garbage = try CLI.run(["show", "garbage0001"] + store)
        #expect(garbage.code == 0 && !garbage.stdout.contains("\u{1b}"), "\(garbage)")
        #expect(garbage.stdout.contains("not Django signed data") || garbage.stdout.contains("base64"), "\(garbage)")
        // expire --in: a new expire_date Django reads.
        let later = try CLI.run(["expire", bob, "--in", "2h", "--yes"] + store)
        #expect(later.code == 0, "\(later)")
        let newExpiry = try Self.django(db, "expiry", bob)
        #expect(
            newExpiry
                > String(ISOTime.format(ms: currentTimeMs() + 90 * 60_000).prefix(16)).replacingOccurrences(
                    of: "T", with: " "), "\(newExpiry)")
        // logout: Django no longer loads alice's sessions; bob's still loads.
        let logout = try CLI.run(["logout", "--user", "alice", "--yes"] + store)
        #expect(logout.code == 0 && logout.stdout.contains("2 session(s) removed"), "\(logout)")
        #expect(try Self.django(db, "load", alice1) == "{}")
        #expect(try Self.django(db, "load", alice2) == "{}")
        #expect(try Self.django(db, "load", bob).contains("\"_auth_user_id\": \"bob\""))
        // expire now: gone for Django too.
        #expect(try CLI.run(["expire", anonymous, "--yes"] + store).code == 0)
        #expect(try Self.django(db, "load", anonymous) == "{}")
        // nodes: the database and its table's health.
        let nodes = try CLI.run(["nodes", "-o", "json"] + store)
        #expect(
            nodes.code == 0 && nodes.stdout.contains("SQLite 3.") && nodes.stdout.contains("django_session"), "\(nodes)"
        )
    }

    @Test func noSessionTableAndNoFileAreClearErrors() async throws {
        let dir = try makeTemporaryDirectory("sessionctl-sqlite-empty")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try CLI.run(["ls", "--store", "sqlite://\(dir)/none.db"])
        #expect(missing.code == 3 && missing.stderr.contains("cannot open"), "\(missing)")
        let db = dir + "/other.db"
        _ = try Self.django(db, "setup")
        let sqlite = SQLiteDatabase(path: db)
        _ = try Self.django(db, "write", "x")
        let store = SQLSessionStore(database: sqlite, schema: "django-db:nosuch")
        await #expect(throws: SQLError.self) { _ = try await store.get(id: "x") }
        let relative = try CLI.run(["ls", "--store", "sqlite://relative.db"])
        #expect(relative.code == 2 && relative.stderr.contains("absolute path"), "\(relative)")
    }

    @Test func djangoSignedValues() throws {
        // "{"a":1}" signed by Django: payload, base62 timestamp, signature.
        let parts = try DjangoSigned.split("eyJhIjoxfQ:1tB2cD:sig")
        #expect(parts.payload == Array(#"{"a":1}"#.utf8) && !parts.compressed)
        #expect(parts.signedAtSeconds != nil)
        #expect(Base64URL.encode(Array(#"{"a":1}"#.utf8)) == Array("eyJhIjoxfQ".utf8))
        for n in 0..<7 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 250) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(throws: DjangoSigned.Failure.self) { try DjangoSigned.split("only-one-part") }
        #expect(throws: DjangoSigned.Failure.self) { try DjangoSigned.split("@@@:1:x") }
        #expect(throws: DjangoSigned.Failure.self) { try DjangoSigned.split(".eyJhIjoxfQ:1:x") }  // "." but not zlib
    }
}
