import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// What the TUI needs from the program around it: the store, and the actions that
/// mutate (done by the host, which audits them).
public protocol ConsoleBackend: Sendable {
    var store: any SessionStore { get }
    var storeName: String { get }
    /// Nodes a session can be migrated to (empty: the store cannot migrate).
    var migrateTargets: [String] { get }
    /// Node facts without an expensive session count (the table's rows give it).
    func nodeFacts() async -> [NodeInfo]
    /// The server setting the store's events need, in its words (nil: none).
    var eventSetting: EventSettingWords? { get }
    /// Nodes where that setting is off.
    func notificationsOff() async -> [String]
    /// Live events (the TUI tracks deadlines itself, from its rows).
    func events() -> AsyncThrowingStream<SessionEvent, Error>
    /// Asks the store to notice expiries whose deadline passed (Redis is lazy about them).
    func promptExpiry(ids: [String]) async
    /// Runs a confirmed action (audited by the host); returns the message to flash.
    func perform(_ action: PendingAction) async -> (message: String, error: Bool)
}

/// Messages from the data tasks to the UI thread.
enum Message: Sendable {
    case rows([Row], RowNames, failed: [String])
    case loadFailed(String, retryInMs: Int64)
    case nodes([NodeInfo])
    case notificationsOff([String])
    case event(SessionEvent)
    case detail(Session?, id: String)
    case detailFailed(String)
    case filterMatches(String, [String])
    case done(String, error: Bool)
}

/// A queue the UI thread drains, with a pipe that wakes its `poll`.
final class Inbox: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var items: [Message] = []
    let readFD: Int32
    let writeFD: Int32

    init() {
        pthread_mutex_init(&mutex, nil)
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        readFD = fds[0]
        writeFD = fds[1]
        _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(writeFD, F_SETFL, fcntl(writeFD, F_GETFL) | O_NONBLOCK)
    }

    func post(_ m: Message) {
        pthread_mutex_lock(&mutex)
        items.append(m)
        pthread_mutex_unlock(&mutex)
        var b: UInt8 = 1
        _ = write(writeFD, &b, 1)
    }

    func drain() -> [Message] {
        var buf = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buf, buf.count) > 0 {}
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let out = items
        items.removeAll(keepingCapacity: true)
        return out
    }
}

/// Signals end the TUI cleanly: the handler only sets a flag and writes to the pipe.
nonisolated(unsafe) private var signalWakeFD: Int32 = -1
nonisolated(unsafe) private var signalQuit: sig_atomic_t = 0
/// For crash paths: restore the terminal before dying.
nonisolated(unsafe) private var cursesActive: sig_atomic_t = 0

/// Wakes the data tasks when the UI asks for a refresh.
actor Kicker {
    private var waiter: CheckedContinuation<Void, Never>?
    private var pending = false
    func kick() {
        if let w = waiter {
            waiter = nil
            w.resume()
        } else {
            pending = true
        }
    }
    /// Returns after `ms` or when kicked, whichever is first.
    func wait(ms: Int64) async {
        if pending {
            pending = false
            return
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, ms)) * 1_000_000)
            await self?.kick()
        }
        await withCheckedContinuation { waiter = $0 }
        timer.cancel()
        pending = false
    }
}

public final class TUIController: @unchecked Sendable {
    let backend: any ConsoleBackend
    let themes: ThemeLibrary
    var theme: Theme
    let noColor: Bool
    var state: AppState
    let inbox = Inbox()
    let kicker = Kicker()
    let log: (String) -> Void
    /// Fixed refresh interval (nil: adaptive).
    let refreshMs: Int64?

    public init(
        backend: any ConsoleBackend, theme: Theme, themes: ThemeLibrary, noColor: Bool, readOnly: Bool,
        refreshMs: Int64? = nil, log: @escaping (String) -> Void
    ) {
        self.refreshMs = refreshMs
        self.backend = backend
        self.theme = theme
        self.themes = themes
        self.noColor = noColor
        self.log = log
        state = AppState(storeName: backend.storeName, readOnly: readOnly, themeName: theme.name)
        state.themeNames = themes.available()
        state.migrateTargets = backend.migrateTargets
        state.eventSetting = backend.eventSetting
    }

    /// A message shown when the screen opens (a theme fallback, say).
    public func flash(_ text: String, error: Bool) { state.showFlash(text, error: error, now: currentTimeMs()) }

    /// Runs the TUI until the operator quits or a signal arrives; the terminal is restored
    /// on every path.
    public func run() async -> Int32 {
        let tasks = startDataTasks()
        let code: Int32 = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            let box = Unmanaged.passRetained(UIThreadBox(controller: self, done: done)).toOpaque()
            var tid = pthread_t()
            pthread_create(
                &tid, nil,
                { raw in
                    guard let raw else { return nil }
                    let b = Unmanaged<UIThreadBox>.fromOpaque(raw).takeRetainedValue()
                    b.done.resume(returning: b.controller.uiLoop())
                    return nil
                }, box)
            pthread_detach(tid)
        }
        for task in tasks { task.cancel() }
        return code
    }

    final class UIThreadBox {
        let controller: TUIController
        let done: CheckedContinuation<Int32, Never>
        init(controller: TUIController, done: CheckedContinuation<Int32, Never>) {
            self.controller = controller
            self.done = done
        }
    }

    // MARK: data tasks (cooperative pool; they only post messages)

    func startDataTasks() -> [Task<Void, Never>] {
        let backend = self.backend
        let inbox = self.inbox
        let kicker = self.kicker
        let refreshMs = self.refreshMs
        let listing = Task {
            while !Task.isCancelled {
                let start = currentTimeMs()
                let collected = RowCollector()
                do {
                    let outcome = try await backend.store.list(ListQuery()) { page in await collected.add(page) }
                    let (rows, names) = await collected.result()
                    let failed = outcome.failedNodes.map(\.node)
                    inbox.post(.rows(rows, names, failed: failed))
                    if !failed.isEmpty && rows.isEmpty {
                        // Every node failed: the state keeps the last rows, marked stale.
                        inbox.post(
                            .loadFailed(outcome.failedNodes.first?.message ?? "no node answered", retryInMs: 3000))
                        await kicker.wait(ms: 3000)
                        continue
                    }
                    // Refresh often on small stores, rarely on huge ones: a full scan costs the
                    // store and this process (a million sessions: ~10 s). Between scans, events
                    // remove rows and TTLs count down locally. 50x keeps scanning near 2% of
                    // the time; --refresh overrides.
                    await kicker.wait(ms: refreshMs ?? max(5000, 50 * (currentTimeMs() - start)))
                } catch {
                    inbox.post(.loadFailed("\(error)", retryInMs: 3000))
                    await kicker.wait(ms: 3000)
                }
            }
        }
        let nodes = Task {
            while !Task.isCancelled {
                inbox.post(.nodes(await backend.nodeFacts()))
                try? await Task.sleep(nanoseconds: 2_000_000_000)
            }
        }
        let events = Task {
            inbox.post(.notificationsOff(await backend.notificationsOff()))
            while !Task.isCancelled {
                do {
                    for try await e in backend.events() { inbox.post(.event(e)) }
                } catch {
                    inbox.post(
                        .event(
                            SessionEvent(
                                kind: .gap, sessionID: nil, key: nil, node: "-", timeMs: currentTimeMs(),
                                detail: "event stream failed: \(error)")))
                }
                try? await Task.sleep(nanoseconds: 3_000_000_000)
                inbox.post(.notificationsOff(await backend.notificationsOff()))
            }
        }
        return [listing, nodes, events]
    }

    func dispatch(_ effects: [Effect]) -> Bool {
        for e in effects {
            switch e {
            case .quit: return true
            case .refresh:
                let k = kicker
                Task { await k.kick() }
            case .loadDetail(let id):
                let backend = self.backend
                let inbox = self.inbox
                Task {
                    do { inbox.post(.detail(try await backend.store.get(id: id), id: id)) } catch {
                        inbox.post(.detailFailed("cannot read the session: \(error)"))
                    }
                }
            case .fetchFilterMatches(let f):
                let backend = self.backend
                let inbox = self.inbox
                Task {
                    let ids = IDCollector()
                    do {
                        _ = try await backend.store.list(ListQuery(filter: f, withAttributes: true)) {
                            await ids.add($0)
                        }
                        inbox.post(.filterMatches(f.source, await ids.ids))
                    } catch {
                        inbox.post(.done("filter: cannot read attributes: \(error)", error: true))
                    }
                }
            case .perform(let action):
                let backend = self.backend
                let inbox = self.inbox
                let k = kicker
                Task {
                    let r = await backend.perform(action)
                    inbox.post(.done(r.message, error: r.error))
                    if case .enableNotifications = action {
                        inbox.post(.notificationsOff(await backend.notificationsOff()))
                    }
                    await k.kick()
                }
            case .setTheme(let name):
                do {
                    theme = try themes.load(name)
                    state.themeName = theme.name
                    state.showFlash("theme \(theme.name)", error: false, now: currentTimeMs())
                    themeChanged = true
                } catch {
                    state.showFlash("\(error)", error: true, now: currentTimeMs())
                }
            }
        }
        return false
    }

    var themeChanged = false
    var lastPromptMs: Int64 = currentTimeMs()

    func apply(_ m: Message, now t: Int64) {
        switch m {
        case .rows(let rows, let names, let failed): state.load(rows: rows, names: names, failedNodes: failed, now: t)
        case .loadFailed(let msg, let retry): state.loadFailed(Redaction.redact(msg), now: t, retryInMs: retry)
        case .nodes(let infos):
            var withCounts = infos
            for i in withCounts.indices {
                if let idx = state.names.nodes.firstIndex(of: withCounts[i].name) {
                    withCounts[i].sessions = state.rows.reduce(0) { $0 + ($1.node == UInt16(idx) ? 1 : 0) }
                } else if withCounts[i].up {
                    withCounts[i].sessions = 0
                }
            }
            state.loadNodes(withCounts, now: t)
        case .notificationsOff(let nodes): state.notificationsOff = nodes
        case .event(let e): state.addEvent(e)
        case .detail(let s, let id):
            guard state.view == .inspect else { return }
            if let s {
                state.inspect = s
                state.inspectLines = Renderer.inspectLines(s, now: t)
            } else {
                state.inspectError = "session \(Sanitizer.display(id, limit: 80)) is gone"
            }
        case .detailFailed(let msg): state.inspectError = msg
        case .filterMatches(let source, let ids): state.filterMatches(source, ids: ids, now: t)
        case .done(let msg, let error): state.showFlash(msg, error: error, now: t)
        }
    }

    // MARK: the UI thread

    func uiLoop() -> Int32 {
        let canvas = CursesCanvas()
        signalWakeFD = inbox.writeFD
        signalQuit = 0
        let previous = installSignals()
        canvas.begin(theme: theme, noColor: noColor)
        cursesActive = 1
        defer {
            cursesActive = 0
            canvas.end()
            restoreSignals(previous)
        }
        var pfds = [
            pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
            pollfd(fd: inbox.readFD, events: Int16(POLLIN), revents: 0),
        ]
        var dirty = true
        var lastSecond: Int64 = -1
        while signalQuit == 0 {
            let t = currentTimeMs()
            for m in inbox.drain() {
                apply(m, now: t)
                dirty = true
            }
            if themeChanged {
                canvas.apply(theme: theme)
                themeChanged = false
                dirty = true
            }
            if t / 1000 != lastSecond {
                // Once a second: TTLs count down, ended rows leave the table, and sessions whose
                // deadline just passed are poked so the store reports them now.
                dirty = true
                lastSecond = t / 1000
                state.compact()
                let due = state.due(after: lastPromptMs, upTo: t - 20)
                lastPromptMs = t - 20
                if !due.isEmpty {
                    let backend = self.backend
                    Task { await backend.promptExpiry(ids: due) }
                }
            }
            if dirty {
                Renderer.draw(&state, on: canvas, now: t)
                canvas.present()
                dirty = false
            }
            // Sleep until input, a message, or the next second (the only timer: TTLs tick).
            let timeout = Int32(1000 - currentTimeMs() % 1000)
            pfds[0].revents = 0
            pfds[1].revents = 0
            _ = poll(&pfds, 2, timeout)
            while let key = canvas.readKey() {
                if dispatch(state.handle(key: key, now: currentTimeMs())) { return 0 }
                dirty = true
            }
        }
        return 0
    }

    typealias Handler = @convention(c) (Int32) -> Void

    func installSignals() -> [(Int32, sigaction)] {
        var saved: [(Int32, sigaction)] = []
        let quit: Handler = { _ in
            signalQuit = 1
            var b: UInt8 = 1
            if signalWakeFD >= 0 { _ = write(signalWakeFD, &b, 1) }
        }
        let crash: Handler = { sig in
            if cursesActive != 0 { CursesCanvas.emergencyEnd() }
            signal(sig, SIG_DFL)
            raise(sig)
        }
        for (sig, h) in [
            (SIGINT, quit), (SIGTERM, quit), (SIGHUP, quit), (SIGSEGV, crash), (SIGABRT, crash), (SIGBUS, crash),
            (SIGILL, crash), (SIGTRAP, crash),
        ] {
            var act = sigaction()
            act.__sigaction_handler.sa_handler = h
            sigemptyset(&act.sa_mask)
            var old = sigaction()
            sigaction(sig, &act, &old)
            saved.append((sig, old))
        }
        return saved
    }

    func restoreSignals(_ saved: [(Int32, sigaction)]) {
        for (sig, old) in saved {
            var o = old
            sigaction(sig, &o, nil)
        }
    }
}

/// Builds rows from listing pages (off the UI thread).
actor RowCollector {
    private var rows: [Row] = []
    private var names = RowNames()
    func add(_ page: [Session]) {
        let t = currentTimeMs()
        // No reserveCapacity(count + page) here: an exact reservation per page defeats the
        // array's geometric growth and copies everything again on every page.
        for s in page { rows.append(Row.from(s, now: t, names: &names)) }
    }
    func result() -> ([Row], RowNames) { (rows, names) }
}

/// Ids of listed sessions (the matches of a filter's `attr.` terms).
actor IDCollector {
    private(set) var ids: [String] = []
    func add(_ page: [Session]) { ids += page.map(\.id) }
}
