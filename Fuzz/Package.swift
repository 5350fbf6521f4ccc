// swift-tools-version:6.0
import PackageDescription

// Coverage-guided fuzz harnesses (libFuzzer) for every parser fed from outside. A package of
// its own so that the main build never needs the sanitizer; scripts/fuzz.sh builds it with
// `-sanitize=fuzzer` and runs each harness.
let package = Package(
    name: "session-fuzz",
    platforms: [.macOS(.v14)],
    // `.root/sessionctl` is a link to the repository that scripts/fuzz.sh makes: the package
    // is then named `sessionctl` wherever the clone lives.
    dependencies: [.package(path: ".root/sessionctl")],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver: SwiftPM links an executable's
        // `<module>_main` as `main`, so the harness starts libFuzzer itself.
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "session-fuzz",
            dependencies: ["CFuzzDriver", .product(name: "SessionParsers", package: "sessionctl")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
