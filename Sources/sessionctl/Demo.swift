import ArgumentParser
import Foundation
import HouseStore
import RedisClient
import SessionKit
import SessionOps
import SessiondServer
import SessiondSessions

/// `sessionctl demo`: an in-house cluster of three sessiond nodes inside this process, on
/// ephemeral loopback ports, with simulated traffic, and the TUI on it.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an embedded demo: a 3-node in-house cluster with live traffic, and the TUI on it.",
        discussion: """
            Three sessiond nodes run inside this process on free loopback ports (memory only).
            Simulated users log in (sessions with a user and a few attributes), make requests
            that touch their sessions, sometimes log out; short timeouts make sessions expire
            every second, and a small cap per node makes evictions happen.
            --no-tui prints the stores' URLs and keeps running, so other commands (or a second
            terminal) can be pointed at it:  sessionctl --store sessiond://127.0.0.1:PORT ls
            Ctrl-C stops everything.
            """)

    @Flag(name: .customLong("no-tui"), help: "Do not open the TUI: print the URLs and run until interrupted.")
    var noTUI = false
    @Option(help: "Nodes in the cluster.") var nodes = 3
    @Option(
        name: .customLong("max-sessions"), help: "Cap per node (least recently used sessions are evicted above it).")
    var maxSessions = 50
    @Option(help: "Simulated requests per second (logins, touches, logouts).") var rate = 60
    @Option(help: ArgumentHelp("Colour theme for the TUI.", valueName: "theme")) var theme: String?

    func validate() throws {
        guard (1...9).contains(nodes) else { throw ValidationError("--nodes: 1 to 9") }
        guard maxSessions > 0, rate > 0 else { throw ValidationError("--max-sessions and --rate must be positive") }
        if !noTUI && !(Terminal.stdinIsTTY && Terminal.stdoutIsTTY) {
            throw ValidationError("the TUI needs a terminal; use --no-tui to run the demo for other commands")
        }
    }

    func run() async throws {
        // 1. Nodes on ephemeral ports, then the membership (ports known only after binding).
        var running: [SessiondNode] = []
        for i in 1...nodes {
            var o = SessiondOptions()
            o.port = 0
            o.nodeID = "n\(i)"
            o.maxSessions = maxSessions
            do { running.append(try SessiondNode.start(o)) } catch {
                for node in running { node.stop() }
                throw ConsoleError(code: Exit.connection, message: "demo: \(error)")
            }
        }
        let members = running.map { ClusterMember(id: $0.nodeID, host: "127.0.0.1", port: $0.port) }
        for n in running { try n.join(cluster: members) }
        let urls = members.map { "sessiond://\($0.address)" }

        // 2. Traffic.
        let store = SessiondStore(urls: urls.compactMap { try? SessiondStore.url($0) })
        let simulator = TrafficSimulator(client: SessiondClient(routing: store.routing), ratePerSecond: rate)
        let traffic = Task { await simulator.run() }

        // 3. The TUI, or wait for a signal.
        var code: Int32 = Exit.ok
        if noTUI {
            print(
                "sessionctl demo: \(nodes) sessiond nodes on loopback (memory only, cap \(maxSessions) sessions each)")
            for (m, u) in zip(members, urls) { print("  \(m.id)  \(u)") }
            print("try:  sessionctl ls --store \(urls[0])      (any node: the others are found)")
            print("Ctrl-C stops the demo.")
            fflush(nil)
            await Demo.waitForSignal()
        } else {
            var args: [String] = []
            for u in urls { args += ["--store", u] }
            if let theme { args += ["--theme", theme] }
            let tui = try Tui.parse(args)
            let console = try Console(options: tui.global, commandLine: ["sessionctl", "demo"])
            code = try await console.run { try await tui.execute(console) }
        }
        traffic.cancel()
        _ = await traffic.value
        for n in running { n.stop() }
        if noTUI { print("demo stopped") }
        if code != Exit.ok { throw ExitCode(code) }
    }

    /// Waits for SIGINT or SIGTERM (without the default handler killing the process).
    static func waitForSignal() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let once = Once()
            let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
            for s in sources {
                s.setEventHandler {
                    if once.first() {
                        for source in sources { source.cancel() }
                        done.resume()
                    }
                }
                s.resume()
            }
        }
    }
}

/// True exactly once, from any thread.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    func first() -> Bool {
        lock.withLock {
            defer { fired = true }
            return !fired
        }
    }
}

/// Users of a pretend web shop: log in, browse (touching their session), change their cart,
/// log out. Short timeouts make sessions expire all the time.
actor TrafficSimulator {
    let client: SessiondClient
    let ratePerSecond: Int
    private var live: [(id: String, user: String)] = []
    private var rng = SystemRandomNumberGenerator()
    private(set) var errors = 0

    static let users = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
        "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki", "zoe", "ahmed", "bea", "chen",
    ]
    static let pages = [
        "/", "/catalog", "/catalog/shoes", "/cart", "/checkout", "/account", "/orders", "/search?q=boots",
    ]
    static let locales = ["en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR"]

    init(client: SessiondClient, ratePerSecond: Int) {
        self.client = client
        self.ratePerSecond = ratePerSecond
    }

    func run() async {
        let pause = UInt64(1_000_000_000 / max(1, ratePerSecond))
        while !Task.isCancelled {
            await step()
            try? await Task.sleep(nanoseconds: pause)
        }
    }

    private func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }

    func step() async {
        let roll = Int.random(in: 0..<100, using: &rng)
        do {
            if roll < 45 || live.isEmpty {
                try await login()
            } else if roll < 88 {
                let s = pick(live)
                if try await client.get(s.id) == nil {
                    live.removeAll { $0.id == s.id }
                }  // expired or evicted meanwhile
                else if roll < 60 {
                    _ = try await client.setAttribute(s.id, name: "lastPage", value: Array(pick(Self.pages).utf8))
                }
            } else if roll < 98 {
                let s = pick(live)
                let items = Int.random(in: 0...9, using: &rng)
                let cart =
                    "{\"items\":\(items),\"total\":\(String(format: "%.2f", Double(items) * 19.9)),\"currency\":\"EUR\"}"
                _ = try await client.setAttribute(s.id, name: "cart", value: Array(cart.utf8))
            } else {
                let user = pick(live).user
                let ended = Set(try await client.logout(user))
                live.removeAll { ended.contains($0.id) }
            }
        } catch {
            errors += 1
        }
    }

    private func login() async throws {
        let user = pick(Self.users) + (Bool.random(using: &rng) ? "" : String(Int.random(in: 2...9, using: &rng)))
        let id = UUID().uuidString.lowercased()
        let ttl = Int.random(in: 2...40, using: &rng)
        let roles = user == "alice" || user == "trent" ? "[\"USER\",\"ADMIN\"]" : "[\"USER\"]"
        try await client.create(
            id: id, timeoutSeconds: ttl, principal: user,
            attributes: [
                ("locale", Array(pick(Self.locales).utf8)),
                ("roles", Array(roles.utf8)),
                ("cart", Array("{\"items\":0,\"total\":0,\"currency\":\"EUR\"}".utf8)),
                ("lastPage", Array("/login".utf8)),
            ])
        live.append((id, user))
        if live.count > 5000 { live.removeFirst(live.count - 5000) }
    }
}
