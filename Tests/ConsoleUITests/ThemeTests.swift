import ConsoleUI
import Foundation
import SessionKit
import Testing

@Suite struct ThemeTests {
    static let themesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("themes").path

    @Test func everyShippedThemeParsesAndCoversItsRoles() throws {
        let lib = ThemeLibrary(directories: [Self.themesDir])
        let names = lib.available()
        for required in ["default", "light", "monochrome", "high-contrast", "dracula", "solarized-dark"] {
            #expect(names.contains(required), "missing theme \(required)")
        }
        for name in names {
            let t = try lib.load(name)
            #expect(t.styles.count == Role.allCases.count, "\(name) leaves roles unset")
        }
        let light = try lib.load("light")
        let base = try lib.load("default")
        #expect(light.style(.ttlCritical) != base.style(.ttlCritical), "light overrides what it inherits")
        #expect(light.style(.eventEvicted) == base.style(.eventEvicted), "and inherits the rest")
        #expect(try lib.load("monochrome").style(.selected).reverse)
    }

    @Test func theBuiltInDefaultIsThemesDefaultToml() throws {
        let file = try String(contentsOfFile: Self.themesDir + "/default.toml", encoding: .utf8)
        #expect(Theme.builtinDefaultText + "\n" == file, "edit themes/default.toml and BuiltinTheme.swift together")
        // Found when no folder has it.
        let nowhere = ThemeLibrary(directories: ["/nonexistent"])
        #expect(try nowhere.load("default").name == "default" && nowhere.available() == ["default"])
    }

    @Test func brokenThemesGiveClearMessages() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("themes-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String, String)] = [
            ("badcolour", "[roles]\nheader = { fg = \"#12345\" }\n", "bad colour"),
            ("badrole", "[roles]\nheadr = { fg = \"red\" }\n", "unknown role 'headr'"),
            ("badsyntax", "[roles\nheader = 1\n", "line 1"),
            ("loop-a", "inherits = \"loop-b\"\n", "loops"),
            ("loop-b", "inherits = \"loop-a\"\n", "loops"),
            ("badattr", "[roles]\nheader = { attrs = [\"blink\"] }\n", "unknown attribute"),
        ]
        for (name, text, _) in cases {
            try text.write(to: dir.appendingPathComponent(name + ".toml"), atomically: true, encoding: .utf8)
        }
        let lib = ThemeLibrary(directories: [dir.path])
        for (name, _, message) in cases {
            do {
                _ = try lib.load(name)
                Issue.record("\(name) loaded")
            } catch {
                #expect("\(error)".contains(message), "\(name): \(error)")
            }
        }
        do { _ = try lib.load("nosuch") } catch { #expect("\(error)".contains("not found")) }
    }

    @Test func coloursDownConvert() {
        #expect(Color.rgb(255, 0, 0).index(forColors: 256) == 196)
        #expect(Color.rgb(255, 0, 0).index(forColors: 16) == 9)
        #expect(Color.rgb(255, 0, 0).index(forColors: 8) == 1)
        #expect(Color.index(214).index(forColors: 16) == 3, "orange #ffaf00 is nearest to yellow")
        #expect(Color.terminalDefault.index(forColors: 256) == -1)
        #expect(Color.parse(.string("bright-cyan")) == .index(14))
        #expect(Color.parse(.integer(300)) == nil)
    }

    @Test func tomlSubset() throws {
        let doc = try TOMLSubset.parse(
            "# c\nname = \"x\" # trailing\n[roles]\nheader = { fg = 12, attrs = [\"bold\", \"dim\"] }\n[a.b]\nc = true\n"
        )
        #expect(doc["name"] == .string("x"))
        #expect(doc["roles"]?.table?["header"]?.table?["fg"] == .integer(12))
        #expect(doc["a"]?.table?["b"]?.table?["c"] == .bool(true))
        #expect(throws: TOMLError.self) { try TOMLSubset.parse("a = 1\na = 2\n") }
        #expect(throws: TOMLError.self) { try TOMLSubset.parse("a = [1, 2\n") }
    }
}
