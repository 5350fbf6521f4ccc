import SessionFormats
import SessionKit
import TestSupport
import Testing

@Suite struct JavaStreamTests {
    @Test func stringsAndBoxedNumbers() throws {
        #expect(try JavaStream.decode(Fixtures.bytes("java/string-alice.bin")) == .string("alice"))
        #expect(try JavaStream.decode(Fixtures.bytes("java/string-unicode.bin")) == .string("Jörg € 😀 \u{0}end"))
        #expect(try JavaStream.decode(Fixtures.bytes("java/long-creation.bin")).decoded == .int(1_764_190_000_123))
        #expect(try JavaStream.decode(Fixtures.bytes("java/integer-1800.bin")).decoded == .int(1800))
    }

    @Test func serializedStringMatchesTheJVM() throws {
        #expect(JavaStream.serializedString("alice") == (try Fixtures.bytes("java/string-alice.bin")))
        #expect(
            JavaStream.serializedString("J\u{f6}rg \u{20ac} \u{1F600} \u{0}end")
                == (try Fixtures.bytes("java/string-unicode.bin")))
        #expect(
            JavaStream.serializedString("expires:2f0d8b7e-6c8a-4d6e-9b4f-0c1a2b3c4d5e")
                == (try Fixtures.bytes("java/expires-member.bin")))
    }

    @Test func boxedNumbersMatchTheJVM() throws {
        #expect(JavaStream.serializedLong(1_764_190_000_123) == (try Fixtures.bytes("java/long-creation.bin")))
        #expect(JavaStream.serializedInteger(1800) == (try Fixtures.bytes("java/integer-1800.bin")))
        #expect(try JavaStream.decode(JavaStream.serializedLong(-42)).decoded == .int(-42))
    }

    @Test func securityContextYieldsThePrincipal() throws {
        for user in ["alice", "bob", "carol"] {
            let v = try JavaStream.decode(Fixtures.bytes("java/security-context-\(user).bin"))
            #expect(v.className == "org.springframework.security.core.context.SecurityContextImpl")
            #expect(v.principalName == user)
        }
        let plain = try JavaStream.decode(Fixtures.bytes("java/security-context-string-principal.bin"))
        #expect(plain.principalName == "dave@example.com")
    }

    @Test func objectGraphIsDescribed() throws {
        let v = try JavaStream.decode(Fixtures.bytes("java/security-context-alice.bin"))
        guard let auth = v.field("authentication") else {
            Issue.record("no authentication field")
            return
        }
        #expect(auth.className == "org.springframework.security.authentication.UsernamePasswordAuthenticationToken")
        // Superclass fields come first, then the subclass's.
        guard case .object(let o) = auth else {
            Issue.record("not an object")
            return
        }
        #expect(o.fields.map(\.name) == ["authenticated", "authorities", "details", "credentials", "principal"])
        #expect(auth.field("authenticated") == .bool(true))
        #expect(auth.field("details")?.field("remoteAddress") == .string("10.1.2.3"))
        // The authorities list (an unmodifiable list wrapping an ArrayList with writeObject data).
        let decoded = auth.decoded
        let text = decoded.summary
        #expect(text.contains("ROLE_ADMIN") && text.contains("ROLE_USER"))
    }

    @Test func collectionsArraysEnumsAndHandles() throws {
        #expect(
            try JavaStream.decode(Fixtures.bytes("java/arraylist-cart.bin")).decoded
                == .list([.string("sku-1"), .string("sku-2"), .int(3)]))
        let prefs = try JavaStream.decode(Fixtures.bytes("java/hashmap-prefs.bin")).decoded
        #expect(
            prefs == .map([.init("theme", .string("dark")), .init("pageSize", .int(50)), .init("beta", .bool(true))]))
        #expect(
            try JavaStream.decode(Fixtures.bytes("java/int-array.bin")).decoded == .list([.int(1), .int(2), .int(3)]))
        #expect(
            try JavaStream.decode(Fixtures.bytes("java/byte-array.bin")).decoded
                == .bytes([0x1B, 0x5B, 0x32, 0x4A, 0xFF]))
        #expect(
            try JavaStream.decode(Fixtures.bytes("java/enum-timeunit.bin"))
                == .enumConstant(className: "java.util.concurrent.TimeUnit", name: "MINUTES"))
        let shared = try JavaStream.decode(Fixtures.bytes("java/arraylist-shared-refs.bin")).decoded
        #expect(shared == .list(Array(repeating: .string("shared-value"), count: 3)))
    }

    @Test func malformedStreamsGiveErrorsNotCrashes() throws {
        #expect(throws: JavaStreamError.self) { try JavaStream.decode([]) }
        #expect(throws: JavaStreamError.self) { try JavaStream.decode([0xAC, 0xED, 0x00, 0x04, 0x70]) }
        #expect(throws: JavaStreamError.self) { try JavaStream.decode([0xAC, 0xED, 0x00, 0x05, 0x99]) }
        // A reference to a handle that does not exist.
        #expect(throws: JavaStreamError.self) {
            try JavaStream.decode([0xAC, 0xED, 0x00, 0x05, 0x71, 0x00, 0x7E, 0x00, 0x09])
        }
        // A string length past the end.
        #expect(throws: JavaStreamError.self) {
            try JavaStream.decode([0xAC, 0xED, 0x00, 0x05, 0x74, 0xFF, 0xFF, 0x41])
        }
        // Every truncation of a real context is an error with an offset inside the input.
        let full = try Fixtures.bytes("java/security-context-alice.bin")
        for cut in 0..<full.count {
            do {
                _ = try JavaStream.decode(Array(full[..<cut]))
                Issue.record("truncated at \(cut) decoded")
            } catch {
                #expect(error.offset <= cut)
            }
        }
    }

    @Test func randomMutationsNeverCrashOrHang() throws {
        var rng = SplitMix(seed: 42)
        let names = [
            "security-context-alice.bin", "hashmap-prefs.bin", "arraylist-cart.bin", "enum-timeunit.bin",
            "long-creation.bin",
        ]
        var decodedCount = 0
        var failedCount = 0
        for name in names {
            let original = try Fixtures.bytes("java/" + name)
            for _ in 0..<1000 {
                var b = original
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(b.count))
                    b[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                do {
                    _ = try JavaStream.decode(b)
                    decodedCount += 1
                } catch { failedCount += 1 }
            }
        }
        #expect(decodedCount + failedCount == names.count * 1000)
        #expect(failedCount > 0, "mutations must reach the error paths")
    }

    @Test func deepNestingIsBounded() {
        // 10,000 nested arrays of Object: must stop at the depth limit, not overflow the stack.
        var b: [UInt8] = [0xAC, 0xED, 0x00, 0x05]
        let desc: [UInt8] =
            [0x75, 0x72, 0x00, 0x13] + Array("[Ljava.lang.Object;".utf8) + [
                0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x00, 0x00, 0x78, 0x70, 0x00, 0x00, 0x00, 0x01,
            ]
        b += desc
        for _ in 0..<10_000 { b += [0x75, 0x71, 0x00, 0x7E, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01] }
        #expect(throws: JavaStreamError.self) { try JavaStream.decode(b) }
    }
}
