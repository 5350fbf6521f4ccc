import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Network namespaces on this machine for partition drills (root only): one namespace per
/// member, each with a veth pair into a bridge that also has an address here, so the test
/// (the console) reaches every member while members can be cut off from each other.
///
/// A partition is silent, as a real one is: each side gets a permanent neighbour entry for
/// the other with a MAC address nobody has, so frames go out and are dropped, TCP
/// retransmits and connections time out (no "unreachable" error gives the game away).
public final class NetworkLab: @unchecked Sendable {
    public let namespaces: [String]
    private let bridge: String
    private let veths: [String]
    private let subnet: Int
    private let ip: String

    /// Runs `ip ARGS`; throws with its output when it fails.
    @discardableResult
    func run(_ args: [String]) throws -> String { try ChildProcess.output(ip, args) }

    /// `members` namespaces at 10.213.N.1, .2, ... and this side at 10.213.N.254.
    public init(members: Int) throws {
        guard getuid() == 0 else { throw HarnessError("network namespaces need root (CI runs the tests as root)") }
        guard let ip = findExecutable("ip") else { throw HarnessError("ip not found: install iproute2") }
        self.ip = ip
        let tag = String(format: "%04x", UInt16.random(in: 0...0xFFFF))
        subnet = Int.random(in: 1...250)
        bridge = "scb\(tag)"
        namespaces = (1...members).map { "scn\(tag)\($0)" }
        veths = (1...members).map { "scv\(tag)\($0)" }
        do {
            try run(["link", "add", bridge, "type", "bridge"])
            try run(["addr", "add", "10.213.\(subnet).254/24", "dev", bridge])
            try run(["link", "set", bridge, "up"])
            for (i, ns) in namespaces.enumerated() {
                try run(["netns", "add", ns])
                try run(["link", "add", veths[i], "type", "veth", "peer", "name", "eth0", "netns", ns])
                try run(["link", "set", veths[i], "master", bridge, "up"])
                try run(["-n", ns, "addr", "add", "\(address(i))/24", "dev", "eth0"])
                try run(["-n", ns, "link", "set", "eth0", "up"])
                try run(["-n", ns, "link", "set", "lo", "up"])
            }
        } catch {
            tearDown()
            throw error
        }
    }

    /// Member `i`'s address (0-based).
    public func address(_ i: Int) -> String { "10.213.\(subnet).\(i + 1)" }

    /// What runs a program inside member `i`'s namespace.
    public func launcher(_ i: Int) -> [String] { [ip, "netns", "exec", namespaces[i]] }

    /// Members `a` and `b` stop hearing each other (both ways); everyone else is unaffected.
    public func partition(_ a: Int, _ b: Int) throws {
        for (from, to) in [(a, b), (b, a)] {
            try run([
                "-n", namespaces[from], "neigh", "replace", address(to), "lladdr", "02:00:5e:00:53:ee", "dev", "eth0",
                "nud", "permanent",
            ])
        }
    }

    /// Ends a partition.
    public func heal(_ a: Int, _ b: Int) throws {
        for (from, to) in [(a, b), (b, a)] {
            try run(["-n", namespaces[from], "neigh", "del", address(to), "dev", "eth0"])
        }
    }

    private func tearDown() {
        for ns in namespaces { _ = try? run(["netns", "del", ns]) }
        _ = try? run(["link", "del", bridge])
    }

    deinit { tearDown() }
}
