import Foundation
import SessionKit
import TestSupport
import Testing

@testable import SessionFormats

/// The framework decoders: known values, every malformed shape we could think of, and
/// thousands of random mutations (no crash, no hang, errors carry an offset).
@Suite struct DecoderTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex), let b = UInt8(s[i..<j], radix: 16)
        {
            out.append(b)
            i = j
        }
        return out
    }

    // Written by CPython 3's pickle module (the real writer), protocols 2 to 5, for
    // {"_auth_user_id": "42", "_auth_user_backend": "...ModelBackend", "n": 1, "f": 1.5,
    //  "l": [1, 2, "x"], "t": (1, None), "b": b"\x00\xff", "big": 2**70, "neg": -300,
    //  "set": {7}, "ok": True}
    static let pickles: [Int: String] = [
        2:
            "80027d710028580d0000005f617574685f757365725f6964710158020000003432710258120000005f617574685f757365725f6261636b656e6471035829000000646a616e676f2e636f6e747269622e617574682e6261636b656e64732e4d6f64656c4261636b656e64710458010000006e71054b015801000000667106473ff800000000000058010000006c71075d7108284b014b02580100000078710965580100000074710a4b014e86710b580100000062710c635f636f646563730a656e636f64650a710d580300000000c3bf710e58060000006c6174696e31710f867110527111580300000062696771128a0900000000000000004058030000006e656771134ad4feffff58030000007365747114635f5f6275696c74696e5f5f0a7365740a71155d71164b076185711752711858020000006f6b711988752e",
        3:
            "80037d710028580d0000005f617574685f757365725f6964710158020000003432710258120000005f617574685f757365725f6261636b656e6471035829000000646a616e676f2e636f6e747269622e617574682e6261636b656e64732e4d6f64656c4261636b656e64710458010000006e71054b015801000000667106473ff800000000000058010000006c71075d7108284b014b02580100000078710965580100000074710a4b014e86710b580100000062710c430200ff710d5803000000626967710e8a0900000000000000004058030000006e6567710f4ad4feffff58030000007365747110636275696c74696e730a7365740a71115d71124b076185711352711458020000006f6b711588752e",
        4:
            "800495be000000000000007d94288c0d5f617574685f757365725f6964948c023432948c125f617574685f757365725f6261636b656e64948c29646a616e676f2e636f6e747269622e617574682e6261636b656e64732e4d6f64656c4261636b656e64948c016e944b018c016694473ff80000000000008c016c945d94284b014b028c017894658c0174944b014e86948c016294430200ff948c03626967948a090000000000000000408c036e6567944ad4feffff8c03736574948f94284b07908c026f6b9488752e",
        5:
            "800595be000000000000007d94288c0d5f617574685f757365725f6964948c023432948c125f617574685f757365725f6261636b656e64948c29646a616e676f2e636f6e747269622e617574682e6261636b656e64732e4d6f64656c4261636b656e64948c016e944b018c016694473ff80000000000008c016c945d94284b014b028c017894658c0174944b014e86948c016294430200ff948c03626967948a090000000000000000408c036e6567944ad4feffff8c03736574948f94284b07908c026f6b9488752e",
    ]
    /// `{"x": Evil()}` where `Evil.__reduce__` returns `(os.system, ("touch /tmp/pwned-by-pickle",))`.
    static let evilPickle =
        "8004953c000000000000007d948c0178948c05706f736978948c0673797374656d9493948c1a746f756368202f746d702f70776e65642d62792d7069636b6c659485945294732e"
    /// `{"a": shared, "b": shared}` with one list object referenced twice (memo).
    static let sharedPickle = "80049517000000000000007d94288c0161945d94284b014b02658c0162946802752e"
    /// msgspec.msgpack (Flask-Session's encoder): {"_user_id": "7", "_fresh": True, "cart": [1, 2.5, None],
    /// "n": -3, "big": 2**40, "b": b"\x01\x02", "u": "héllo", "when": 2024-01-02T03:04:05Z}
    static let msgpack =
        "88a85f757365725f6964a137a65f6672657368c3a4636172749301cb4004000000000000c0a16efda3626967cf0000010000000000a162c4020102a175a668c3a96c6c6fa47768656ed6ff65937d25"
    /// Ruby `Marshal.dump({"user_id" => 42, "name" => "alice"})`, written from the format
    /// description (no Ruby on this machine): `{`, 2 pairs, UTF-8 strings with an `E` ivar.
    static let marshal = "04087b0749220c757365725f6964063a0645546 92f4922096e616d65063b00544922 0a616c696365063b0054"
        .replacingOccurrences(of: " ", with: "")

    @Test func picklesOfEveryProtocolDecodeToTheSameData() throws {
        for (p, text) in Self.pickles {
            let v = try Pickle.decode(Self.hex(text))
            #expect(v["_auth_user_id"] == .string("42"), "protocol \(p)")
            #expect(v["n"] == .int(1) && v["f"] == .double(1.5) && v["neg"] == .int(-300) && v["ok"] == .bool(true))
            #expect(v["l"] == .list([.int(1), .int(2), .string("x")]) && v["t"] == .list([.int(1), .null]))
            #expect(v["big"]?.summary.contains("72-bit") == true)
            if p >= 3 {
                #expect(v["b"] == .bytes([0, 0xFF]))
            } else {
                #expect(
                    v["b"]?.summary.contains("_codecs.encode") == true,
                    "protocol 2 bytes are a described call: \(v["b"]?.summary ?? "")")
            }
            #expect(v["set"]?.summary.contains("7") == true)
        }
    }

    @Test func aMaliciousPickleIsDescribedNeverRun() throws {
        let v = try Pickle.decode(Self.hex(Self.evilPickle))
        guard case .object(let cls, let fields)? = v["x"] else {
            Issue.record("\(v)")
            return
        }
        #expect(cls == "posix.system" && fields.first?.value == .list([.string("touch /tmp/pwned-by-pickle")]))
        #expect(!FileManagerShim.exists("/tmp/pwned-by-pickle"))
        // One object referenced twice is shown twice, complete (filled after memoization).
        let shared = try Pickle.decode(Self.hex(Self.sharedPickle))
        #expect(shared["a"] == .list([.int(1), .int(2)]) && shared["b"] == shared["a"])
    }

    @Test func msgpackFromMsgspec() throws {
        let v = try MessagePack.decode(Self.hex(Self.msgpack))
        #expect(
            v["_user_id"] == .string("7") && v["_fresh"] == .bool(true) && v["n"] == .int(-3)
                && v["big"] == .int(1 << 40))
        #expect(
            v["cart"] == .list([.int(1), .double(2.5), .null]) && v["b"] == .bytes([1, 2]) && v["u"] == .string("héllo")
        )
        #expect(v["when"] == .string("2024-01-02T03:04:05.000Z"))
    }

    @Test func phpSerializeAndTheThreeSessionEncodings() throws {
        let ser =
            #"a:4:{s:4:"user";s:5:"alice";s:4:"cart";a:2:{i:0;s:3:"tea";i:1;s:6:"coffee";}s:3:"obj";O:8:"stdClass":2:{s:1:"a";i:1;s:4:"\#0*\#0p";b:1;}s:1:"r";R:3;}"#
        let v = try PHPSerialize.decode(Array(ser.utf8))
        #expect(v["user"] == .string("alice") && v["cart"] == .list([.string("tea"), .string("coffee")]))
        #expect(v["obj"] == .object(className: "stdClass", fields: [.init("a", .int(1)), .init("p", .bool(true))]))
        #expect(
            v["r"] == .string("<reference to value #3>") || v["r"] == .string("alice"), "\(String(describing: v["r"]))")
        let php = try PHPSerialize.decodeSession(Array(#"user|s:5:"alice";n|i:3;f|d:0.5;x|N;"#.utf8))
        #expect(
            php.handler == "php"
                && php.value
                    == .map([
                        .init("user", .string("alice")), .init("n", .int(3)), .init("f", .double(0.5)),
                        .init("x", .null),
                    ])
        )
        let bin = try PHPSerialize.decodeSession([4] + Array("users:5:\"alice\";".utf8))
        #expect(bin.handler == "php_binary" && bin.value["user"] == .string("alice"))
        let whole = try PHPSerialize.decodeSession(Array(#"a:1:{s:4:"user";s:5:"alice";}"#.utf8))
        #expect(whole.handler == "php_serialize" && whole.value["user"] == .string("alice"))
        let bytes = try PHPSerialize.decode(Array("s:2:\"".utf8) + [0xFF, 0xFE] + Array("\";".utf8))
        #expect(bytes == .bytes([0xFF, 0xFE]), "invalid UTF-8 stays bytes")
        for bad in [
            #"s:10:"abc";"#, "a:99999999:{", "i:12", "b:2;", #"O:3:"Foo":1:{s:1:"a";}"#, "x:1;", "R:9;",
            "a:1:{i:0;i:1;}junk", "d:abc;",
        ] {
            #expect(throws: DecodeError.self, "\(bad)") { try PHPSerialize.decode(Array(bad.utf8)) }
        }
        let deep = String(repeating: "a:1:{i:0;", count: 200) + "N;" + String(repeating: "}", count: 200)
        #expect(throws: DecodeError.self) { try PHPSerialize.decode(Array(deep.utf8)) }
    }

    @Test func rubyMarshalHash() throws {
        let v = try RubyMarshal.decode(Self.hex(Self.marshal))
        #expect(v == .map([.init("user_id", .int(42)), .init("name", .string("alice"))]))
        // Packed integers: 0, small, negative, multi-byte.
        for (bytes, n) in [
            ([0x00], 0), ([0x06], 1), ([0xFA], -1), ([0x01, 0xC8], 200), ([0x02, 0x10, 0x27], 10_000),
            ([0xFF, 0x38], -200), ([0xFE, 0xF0, 0xD8], -10_000),
        ] as [([UInt8], Int64)] {
            #expect(try RubyMarshal.decode([4, 8, UInt8(ascii: "i")] + bytes) == .int(n), "\(bytes)")
        }
        let obj: [UInt8] =
            [4, 8, UInt8(ascii: "o"), UInt8(ascii: ":"), 9] + Array("User".utf8) + [6, UInt8(ascii: ":"), 8]
            + Array("@id".utf8) + [UInt8(ascii: "i"), 0x0A]
        #expect(try RubyMarshal.decode(obj) == .object(className: "User", fields: [.init("id", .int(5))]))
        for bad: [UInt8] in [
            [4, 9, 0x30], [4, 8], [4, 8, UInt8(ascii: "["), 0x7F], [4, 8, UInt8(ascii: ";"), 0x06],
            [4, 8, UInt8(ascii: "@"), 0x06], [4, 8, 0x01],
        ] {
            #expect(throws: DecodeError.self, "\(bad)") { try RubyMarshal.decode(bad) }
        }
    }

    @Test func jwtShowsClaimsAndSaysTheSignatureIsNotVerified() throws {
        func b64(_ s: String) -> String {
            var t = ""
            let chars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            let b = Array(s.utf8)
            var i = 0
            while i < b.count {
                let n =
                    (UInt32(b[i]) << 16) | (i + 1 < b.count ? UInt32(b[i + 1]) << 8 : 0)
                    | (i + 2 < b.count ? UInt32(b[i + 2]) : 0)
                t.append(chars[Int(n >> 18 & 63)])
                t.append(chars[Int(n >> 12 & 63)])
                if i + 1 < b.count { t.append(chars[Int(n >> 6 & 63)]) }
                if i + 2 < b.count { t.append(chars[Int(n & 63)]) }
                i += 3
            }
            return t
        }
        let token =
            b64(#"{"alg":"HS256","typ":"JWT"}"#) + "." + b64(#"{"sub":"alice","exp":1700000000,"roles":["admin"]}"#)
            + "." + b64("sig-bytes-here")
        let raw = Array(token.utf8)
        #expect(JWT.looksLikeJWT(raw))
        let t = try JWT.parse(raw)
        #expect(t.subject == "alice" && t.expiresAtMs == 1_700_000_000_000 && t.signatureBytes == 14)
        let shown = try JWT.decode(raw).summary
        #expect(shown.contains("NOT verified") && shown.contains("2023-11-14T22:13:20.000Z") && shown.contains("HS256"))
        #expect(throws: DecodeError.self) { try JWT.parse(Array("eyJ.abc".utf8)) }
        #expect(throws: DecodeError.self) { try JWT.parse(Array("eyJhbGc!.e30.e30".utf8)) }
    }

    @Test func aspNetSessionBlob() throws {
        var b: [UInt8] = [2, 0, 0, 2] + (0..<16).map { UInt8($0) }
        b += [0, 4] + Array("user".utf8) + [0, 0, 0, 5] + Array("alice".utf8)
        b += [0, 5] + Array("count".utf8) + [0, 0, 0, 4, 0, 0, 1, 0x2C]
        let v = try AspNetSession.decode(b)
        #expect(v["user"] == .string("alice") && v["count"] == .int(300))
        #expect(v["id"] == .string("03020100-0504-0706-0809-0a0b0c0d0e0f"))
        #expect(throws: DecodeError.self) { try AspNetSession.decode([1] + b.dropFirst()) }
        #expect(throws: DecodeError.self) { try AspNetSession.decode(Array(b.dropLast())) }
        #expect(throws: DecodeError.self) {
            try AspNetSession.decode([2, 0xFF, 0xFF, 0xFF] + (0..<16).map { UInt8($0) })
        }
    }

    /// Thousands of mutated inputs per decoder: each returns or throws a DecodeError; none
    /// crashes, and the error paths are reached.
    @Test func randomMutationsNeverCrashOrHang() {
        let seeds: [(String, [UInt8], ([UInt8]) throws -> DecodedValue)] = [
            ("pickle", Self.hex(Self.pickles[4] ?? ""), { try Pickle.decode($0) }),
            ("pickle2", Self.hex(Self.pickles[2] ?? ""), { try Pickle.decode($0) }),
            ("msgpack", Self.hex(Self.msgpack), { try MessagePack.decode($0) }),
            ("marshal", Self.hex(Self.marshal), { try RubyMarshal.decode($0) }),
            (
                "php",
                Array(#"a:3:{s:4:"user";s:5:"alice";s:1:"o";O:8:"stdClass":1:{s:1:"a";d:1.5;}s:1:"r";r:2;}"#.utf8),
                { try PHPSerialize.decode($0) }
            ),
            (
                "php-session", Array(#"user|s:5:"alice";cart|a:1:{i:0;i:7;}"#.utf8),
                { try PHPSerialize.decodeSession($0).value }
            ),
            (
                "aspnet", [2, 0, 0, 1] + Array(repeating: 7, count: 16) + [0, 1, 65, 0, 0, 0, 1, 66],
                { try AspNetSession.decode($0) }
            ),
            (
                "json",
                Array(
                    #"{"cookie":{"originalMaxAge":86400000},"passport":{"user":"alice"},"n":[1,2.5,true,null,"\u00e9"]}"#
                        .utf8), { try JSONDecoding.decode($0) }
            ),
            (
                "jwt", Array("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2ln".utf8),
                { try JWT.decode($0) }
            ),
        ]
        var rng = SplitMix(seed: 0xDEC0DE)
        for (name, seed, decode) in seeds {
            var failures = 0
            var successes = 0
            for _ in 0..<3_000 {
                var b = seed
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    guard !b.isEmpty else { break }
                    let i = Int(rng.next() % UInt64(b.count))
                    switch rng.next() % 4 {
                    case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: b.removeSubrange(i...)
                    case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                    default: b[i] = [0x00, 0x7F, 0x80, 0xFF, UInt8(ascii: "9"), UInt8(ascii: ":")][Int(rng.next() % 6)]
                    }
                }
                do {
                    _ = try decode(b)
                    successes += 1
                } catch let e as DecodeError {
                    failures += 1
                    #expect(e.offset >= 0 && e.offset <= b.count + 1, "\(name): \(e)")
                } catch is JSONDecoding.DecodeError { failures += 1 } catch {
                    Issue.record("\(name): unexpected \(error)")
                }
            }
            #expect(
                failures > 300, "\(name): mutations reach the error paths (\(failures) errors, \(successes) decoded)")
        }
    }
}

enum FileManagerShim { static func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: p) } }
