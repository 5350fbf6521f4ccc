import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

/// The UI thread: curses, `poll` on the terminal and the inbox, signals.
extension TUIController {
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
        // A key redraws at once; data alone at most every `frameMs` (an eviction storm must
        // not keep the thread drawing while a key waits).
        var keyPressed = false
        var lastDrawMs: Int64 = 0
        let frameMs: Int64 = 33
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
                state.mergePending(now: t)
                let due = state.due(after: lastPromptMs, upTo: t - 20)
                lastPromptMs = t - 20
                if !due.isEmpty {
                    let backend = self.backend
                    Task { await backend.promptExpiry(ids: due) }
                }
            }
            let held = dirty && !keyPressed && t - lastDrawMs < frameMs
            if dirty && !held {
                Renderer.draw(&state, on: canvas, now: t)
                canvas.present()
                dirty = false
                keyPressed = false
                lastDrawMs = t
                let sizes = state.sizesToRead()
                if !sizes.isEmpty { _ = dispatch([.readSizes(sizes)]) }
            }
            // Sleep until input, a message, or the next second (the only timer: TTLs tick).
            // A held frame sleeps on the terminal alone until it is due: messages wait.
            var timeout = Int32(1000 - currentTimeMs() % 1000)
            if held { timeout = Int32(max(1, min(Int64(timeout), frameMs - (t - lastDrawMs)))) }
            pfds[0].revents = 0
            pfds[1].revents = 0
            _ = poll(&pfds, held ? 1 : 2, timeout)
            while let key = canvas.readKey() {
                if dispatch(state.handle(key: key, now: currentTimeMs())) { return 0 }
                if wants.set(sizes: state.listingNeedsSizes) { _ = dispatch([.refresh]) }
                dirty = true
                keyPressed = true
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
