// swift-tools-version:6.0
import PackageDescription

// Dependencies flow one way (ARCHITECTURE.md has the picture):
//   executables → SessionOps / ConsoleUI → stores (RedisSessions, SessiondSessions) → clients
//   stores → SessionFormats → SessionKit
// SessionKit is the domain and imports nothing of ours and no C; no store imports another;
// no client imports the domain.
let package = Package(
    name: "sessionctl",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sessionctl", targets: ["sessionctl"]),
        .executable(name: "sessiond", targets: ["sessiond"]),
        // For the fuzz harnesses in Fuzz/ (a package of its own, built with -sanitize=fuzzer).
        .library(
            name: "SessionParsers",
            targets: ["SessionKit", "SessionFormats", "HouseStore", "MemcachedClient", "RedisClient", "SessionOps"]),
    ],
    dependencies: [
        // The only external dependency so far: no macros, builds in seconds.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // sessiond's network server (NIOCore + NIOPosix only).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // sessiond's TLS, for clients and between members (SwiftNIO's own TLS handlers).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CNCurses", pkgConfig: "ncursesw", providers: [.apt(["libncurses-dev"])]),
        .target(name: "SessionKit"),
        // Every session decoder and the framework value formats (no store, no I/O).
        .target(name: "SessionFormats", dependencies: ["SessionKit", "CZlib"]),
        // A serial executor on a thread of its own and a poll wake-up pipe: how the clients keep
        // blocking calls off the cooperative pool.
        .target(name: "DedicatedThread"),
        .target(name: "RedisClient", dependencies: ["CHiredis", "COpenSSL", "DedicatedThread"]),
        // memcached's text and meta protocol over plain sockets (no C library).
        .target(name: "MemcachedClient", dependencies: ["DedicatedThread"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "MemcachedSessions",
            dependencies: ["SessionKit", "SessionFormats", "MemcachedClient", "DedicatedThread"]),
        // SQL databases: values and the database protocol (SQLCore), one client per driver,
        // and the session tables of the frameworks (SQLSessions).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "SQLCore"),
        .target(name: "SQLiteClient", dependencies: ["CSQLite", "SQLCore", "DedicatedThread"]),
        .target(
            name: "SQLSessions", dependencies: ["SessionKit", "SessionFormats", "SQLCore", "SQLiteClient", "COpenSSL"]),
        .target(
            name: "RedisSessions", dependencies: ["SessionKit", "SessionFormats", "RedisClient", "DedicatedThread"]),
        // The in-house store: RESP codec, the session engine, its log, and its clients
        // (the console's SessionStore and the application API, both cluster-aware).
        .target(name: "HouseStore", dependencies: ["SessionKit", "SessionFormats"]),
        // The in-house store as the console and applications reach it (over RedisClient):
        // the console's SessionStore and the application API, both cluster-aware.
        .target(
            name: "SessiondSessions",
            dependencies: ["HouseStore", "SessionKit", "SessionFormats", "RedisClient", "DedicatedThread"]),
        // A sessiond node as a library (SwiftNIO): the `sessiond` executable and the embedded
        // demo of `sessionctl demo` both run it.
        .target(
            name: "SessiondServer",
            dependencies: [
                "HouseStore", "SessionKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "sessiond",
            dependencies: [
                "SessiondServer", "HouseStore", "SessionKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildVersion"]
        ),
        // What the console does, once: store factory, safety policy, audit, expire/logout/
        // migrate/drain, store-to-store migration, output formats, config contexts.
        .target(name: "SessionOps", dependencies: ["SessionKit", "SessionFormats"]),
        // The TUI: the only importer of CNCurses.
        .target(name: "ConsoleUI", dependencies: ["SessionKit", "CNCurses"]),
        // `git describe` stamped into the binary at build time (`sessionctl --version`).
        .plugin(name: "BuildVersion", capability: .buildTool()),
        .executableTarget(
            name: "sessionctl",
            dependencies: [
                "SessionKit", "SessionOps", "RedisSessions", "SessiondSessions", "SessiondServer", "ConsoleUI",
                "MemcachedSessions", "SQLSessions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildVersion"]
        ),
        // Writes realistic sessions into Redis for the demo and the benchmarks.
        .executableTarget(
            name: "session-seed",
            dependencies: [
                "RedisClient", "RedisSessions", "SessionKit", "SessionFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test helpers shared by the test targets: starting real servers on free ports.
        .target(
            name: "TestSupport", dependencies: ["RedisClient", "RedisSessions", "SessionKit", "SessionFormats"],
            path: "Tests/TestSupport"),
        .testTarget(name: "SessionKitTests", dependencies: ["SessionKit", "SessionFormats", "TestSupport"]),
        .testTarget(name: "SessionFormatsTests", dependencies: ["SessionFormats", "SessionKit", "TestSupport"]),
        // The store contract: the same tests over every store with its real server.
        .testTarget(
            name: "ContractTests",
            dependencies: [
                "TestSupport", "SessionKit", "RedisClient", "RedisSessions", "SessiondSessions", "sessiond",
                "MemcachedClient", "MemcachedSessions",
            ]),
        .testTarget(name: "SessionOpsTests", dependencies: ["SessionOps", "SessionKit", "TestSupport"]),
        .testTarget(
            name: "ConsoleUITests", dependencies: ["ConsoleUI", "SessionKit", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "HouseStoreTests", dependencies: ["HouseStore", "SessionKit"]),
        .testTarget(
            name: "MemcachedTests",
            dependencies: [
                "MemcachedClient", "MemcachedSessions", "SessionKit", "SessionFormats", "TestSupport", "sessionctl",
            ]),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "SessionKit", "TestSupport"]),
        .testTarget(
            name: "RedisSessionsTests", dependencies: ["RedisSessions", "SessionKit", "SessionFormats", "TestSupport"]),
        .testTarget(
            name: "SQLTests",
            dependencies: ["SQLSessions", "SQLiteClient", "SQLCore", "SessionKit", "SessionFormats", "TestSupport"]),
        .testTarget(
            name: "SessionctlTests",
            dependencies: [
                "TestSupport", "RedisClient", "SessionKit", "SessionFormats", "HouseStore", "SessiondSessions",
                "sessionctl", "sessiond",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
