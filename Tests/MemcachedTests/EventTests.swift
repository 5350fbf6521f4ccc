import Foundation
import MemcachedClient
import MemcachedSessions
import SessionKit
import TestSupport
import Testing

actor Seen {
    private(set) var events: [SessionEvent] = []
    func add(_ e: SessionEvent) { events.append(e) }
    func first(_ kind: SessionEvent.Kind) -> SessionEvent? { events.first { $0.kind == kind } }
}

/// Waits up to `seconds` for an event of `kind`, doing `step` between looks.
func await(
    _ kind: SessionEvent.Kind, in seen: Seen, seconds: Double, step: () async throws -> Void = {}
) async throws -> SessionEvent? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let e = await seen.first(kind) { return e }
        try await step()
        try await Task.sleep(nanoseconds: 100_000_000)
    }
    return await seen.first(kind)
}

@Suite(.serialized) struct MemcachedEventTests {
    @Test func evictionsComeFromTheWatchOfEveryNode() async throws {
        let m = try MemcachedServer(memoryMB: 2)
        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
        let source = try #require(await store.capabilities().events)
        #expect(source.notes.contains { $0.contains("deletions") }, "the limits are said")
        let seen = Seen()
        let task = Task {
            for try await e in source.events(kinds: [.evicted, .gap], deadlines: .byCaller) { await seen.add(e) }
        }
        defer { task.cancel() }
        var n = 0
        let big =
            Array("user|s:4:\"eve1\";pad|s:60000:\"".utf8) + Array(repeating: 0x61, count: 60000) + Array("\";".utf8)
        let evicted = try await `await`(.evicted, in: seen, seconds: 20) {
            for _ in 0..<10 {
                try m.set("memc.sess.key.evict\(n)", big, ttl: 600)
                n += 1
            }
        }
        let e = try #require(evicted, "memory of 2 MB holds few 60 KB sessions: some were evicted")
        #expect(e.sessionID?.hasPrefix("evict") == true && e.node == m.address, "\(e)")
    }

    @Test func expiriesAreReportedAtTheirDeadlineAndConfirmedByARead() async throws {
        let m = try MemcachedServer()
        // Long enough for the watcher's first listing to see it on a loaded machine (a session
        // that expires before the console ever saw it cannot be reported).
        try m.set("memc.sess.key.shortlived", Array("user|s:3:\"ann\";".utf8), ttl: 8)
        try m.set("memc.sess.key.longlived", Array("user|s:3:\"bea\";".utf8), ttl: 600)
        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
        let source = try #require(await store.capabilities().events)
        let seen = Seen()
        let task = Task {
            for try await e in source.events(kinds: [.expired], deadlines: .byStore) { await seen.add(e) }
        }
        defer { task.cancel() }
        let e = try #require(try await `await`(.expired, in: seen, seconds: 30))
        #expect(e.sessionID == "shortlived" && e.prompted && e.user == "ann", "\(e)")
        #expect(await seen.events.allSatisfy { $0.sessionID != "longlived" })
    }

    @Test func theTUIsPromptConfirmsAnExpiryAndTheConsolesOwnDeletesShow() async throws {
        let m = try MemcachedServer()
        try m.set("memc.sess.key.tuiexp", Array("user|s:3:\"cid\";".utf8), ttl: 1)
        try m.set("memc.sess.key.tuidel", Array("user|s:3:\"dan\";".utf8), ttl: 600)
        let store = MemcachedStore(endpoints: try MemcachedEndpoint.parse(m.urlString))
        let source = try #require(await store.capabilities().events)
        let seen = Seen()
        let task = Task {
            for try await e in source.events(kinds: Set(SessionEvent.Kind.allCases), deadlines: .byCaller) {
                await seen.add(e)
            }
        }
        defer { task.cancel() }
        try await Task.sleep(nanoseconds: 300_000_000)
        // Still there: no event.
        await source.promptExpiry(ids: ["tuidel"])
        try await Task.sleep(nanoseconds: 1_700_000_000)
        await source.promptExpiry(ids: ["tuiexp"])
        let e = try #require(try await `await`(.expired, in: seen, seconds: 5))
        #expect(e.sessionID == "tuiexp" && e.prompted)
        _ = try await store.delete(ids: ["tuidel"])
        let d = try #require(try await `await`(.deleted, in: seen, seconds: 5))
        #expect(d.sessionID == "tuidel" && d.user == "dan" && d.detail == "by sessionctl")
        #expect(await seen.events.filter { $0.kind == .expired }.count == 1)
    }
}
