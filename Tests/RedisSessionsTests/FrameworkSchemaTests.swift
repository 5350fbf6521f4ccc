import Foundation
import RedisClient
import SessionKit
import TestSupport
import Testing

@testable import RedisSessions

/// Sessions written by real frameworks (PHP + phpredis, Django, Flask-Session) and built
/// from the documented layouts of the others (Laravel, Symfony, Rails, ASP.NET Core, Go,
/// Vapor, Hummingbird, JWT lists), all in one Redis: detection, users, attributes, logout.
@Suite struct FrameworkSchemaTests {
    static func mixedStore() throws -> (RedisServer, RedisSessionStore) {
        let server = try RedisServer()
        for name in ["php", "django", "flask", "formats"] { try Fixtures.restoreFramework(name, into: server) }
        // A phpredis lock key, as a request in flight holds it.
        _ = try server.command("SET", "PHPREDIS_SESSION:phpsess1abcdef0123456789_LOCK", "1")
        // And a Spring session, to show frameworks side by side with it.
        try Seeder.run(
            try Seeder.springCommands(
                .init(id: "spring-1", user: "sam", nowMs: Seeder.nowMs()), namespace: "spring:session", indexed: true),
            on: server)
        return (server, RedisSessionStore(urls: [server.url]))
    }

    @Test func aMixedKeyspaceIsListedWithTheRightSchemaAndUserPerKey() async throws {
        let (server, store) = try Self.mixedStore()
        _ = server
        let (sessions, outcome) = try await collect(store)
        #expect(outcome.failedNodes.isEmpty)
        var byID: [String: Session] = [:]
        for s in sessions { byID[s.id] = s }
        let expected: [(String, String, String?)] = [
            ("phpsess1abcdef0123456789", "phpredis", "alice1"), ("phpsess2abcdef0123456789", "phpredis", "alice2"),
            ("phpsess3abcdef0123456789", "phpredis", "alice3"),
            ("djcache0000000000000000000000000a", "django", "7"),
            ("djcacheddb00000000000000000000000b", "django-cached-db", "8"),
            (String(repeating: "A", count: 40), "laravel", "17"),
            (String(repeating: "k3v9", count: 8), "symfony", "bob"),
            ("dmFwb3Itc2Vzc2lvbi0x", "vapor", "dave"), ("spring-1", "spring", "sam"), ("j1", "jwt-allowlist", "frank"),
        ]
        for (id, schema, user) in expected {
            let s = byID[id]
            #expect(
                s?.schema == schema && s?.user == user,
                "\(id): \(String(describing: s?.schema)) \(String(describing: s?.user))")
        }
        let flask = try #require(sessions.first { $0.schema == "flask" })
        #expect(flask.user == "alice" && flask.ttlMs > 3_000_000)
        let rails = sessions.filter { ["rails", "rack", "rails-cache"].contains($0.schema) }
        #expect(
            Set(rails.map(\.schema)) == ["rails", "rack", "rails-cache"]
                && Set(rails.compactMap(\.user)) == ["23", "24", "25"], "\(rails)")
        let asp = try #require(sessions.first { $0.schema == "aspnet" })
        #expect(asp.user == "carol" && asp.maxInactiveSeconds == 1200 && asp.id.hasSuffix("0c1d2e3f4a5b"))
        #expect(
            sessions.contains { $0.schema == "go-redistore" }
                && sessions.contains { $0.schema == "hummingbird" && $0.user == "erin" })
        #expect(!sessions.contains { $0.id.hasSuffix("_LOCK") }, "lock keys are not sessions")
        #expect(sessions.contains { $0.schema == "jwt-denylist" })
        // Symfony's metadata gives the times.
        let sf = try #require(byID[String(repeating: "k3v9", count: 8)])
        #expect(
            sf.createdAtMs == 1_764_198_000_000 && sf.lastAccessedAtMs == 1_764_201_600_000
                && sf.maxInactiveSeconds == 3600)
    }

    @Test func showDecodesEachFrameworksValue() async throws {
        let (server, store) = try Self.mixedStore()
        _ = server
        let php = try #require(try await store.get(id: "phpsess2abcdef0123456789"))
        #expect(
            php.attributes.first { $0.name == "prefs" }?.decoded
                == .object(
                    className: "stdClass", fields: [.init("theme", .string("dark")), .init("locale", .string("fr_FR"))])
        )
        #expect(
            php.attributes.first { $0.name == "greeting" }?.decoded == .string("héllo \u{1B}[31mred\u{1B}[0m"),
            "kept as data; the display escapes it")
        #expect(
            php.storedValue?.starts(with: Array("a:8:{s:4:\"user\";s:6:\"alice2\"".utf8)) == true,
            "the exact bytes phpredis wrote")
        let django = try #require(try await store.get(id: "djcache0000000000000000000000000a"))
        #expect(
            django.attributes.first { $0.name == "cart" }?.decoded
                == .map([.init("items", .int(2)), .init("total", .string("12.50"))]))
        #expect(django.attributes.first { $0.name == "_auth_user_backend" }?.format == "pickle")
        let flaskID = try await collect(store).0.first { $0.schema == "flask" }?.id
        let flask = try #require(try await store.get(id: flaskID ?? "none"))
        #expect(
            flask.attributes.first { $0.name == "cart" }?.decoded
                == .list([.map([.init("sku", .string("tea")), .init("qty", .int(2))])]))
        let asp = try #require(try await store.get(id: "8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"))
        #expect(asp.attributes.first { $0.name == "Visits" }?.decoded == .int(5))
        let jwt = try #require(try await store.get(id: "j1"))
        #expect(jwt.attributes.contains { $0.decoded.summary.contains("NOT verified") })
        let go = try #require(try await collect(store).0.first { $0.schema == "go-redistore" })
        let goShown = try #require(try await store.get(id: go.id))
        #expect(goShown.attributes.first?.decoded.summary.contains("alice") == true)
    }

    @Test func logoutRemovesEveryTraceIncludingLocks() async throws {
        let (server, store) = try Self.mixedStore()
        let php = try await store.logout(user: "alice1")
        #expect(php.affected == ["phpsess1abcdef0123456789"])
        #expect(
            try server.command(
                "EXISTS", "PHPREDIS_SESSION:phpsess1abcdef0123456789", "PHPREDIS_SESSION:phpsess1abcdef0123456789_LOCK")
                == .integer(0))
        #expect(
            try server.command("EXISTS", "PHPREDIS_SESSION:phpsess2abcdef0123456789") == .integer(1),
            "other users untouched")
        for user in ["7", "bob", "carol", "23", "17"] {
            let r = try await store.logout(user: user)
            #expect(r.affected.count == 1 && r.failedNodes.isEmpty, "user \(user): \(r)")
        }
        let left = try await collect(store).0
        #expect(!left.contains { ["7", "bob", "carol", "23", "17", "alice1"].contains($0.user ?? "") })
        #expect(left.contains { $0.user == "8" } && left.contains { $0.user == "sam" })
    }

    @Test func schemaOptionNamesEveryFramework() throws {
        for fw in Framework.all {
            guard case .explicit(let specs) = try SchemaOption.parse(fw.name + ":custom:") else {
                Issue.record("\(fw.name) did not parse")
                continue
            }
            let schema = try SchemaOption.schema(from: specs[0], indexed: false)
            #expect(schema.name == fw.name && schema.key(forID: "x") == "custom:x")
        }
        #expect(throws: SchemaError.self) { try SchemaOption.parse("nosuch") }
    }
}
