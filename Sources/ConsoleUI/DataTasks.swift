import SessionKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The tasks that read the store (listing, nodes, events) and act on effects; they run on
/// the cooperative pool and only post messages to the UI thread.
extension TUIController {
    func startDataTasks() -> [Task<Void, Never>] {
        let backend = self.backend
        let inbox = self.inbox
        let kicker = self.kicker
        let refreshMs = self.refreshMs
        let wants = self.wants
        let listing = Task {
            while !Task.isCancelled {
                let start = currentTimeMs()
                let pager = PageBuilder()
                inbox.post(.listingStarted)
                do {
                    let query = ListQuery(parts: wants.sizes ? .all : SessionParts.all.subtracting(.size))
                    let outcome = try await backend.store.list(query) { page in
                        let (rows, delta, perNode) = await pager.rows(page)
                        inbox.post(.page(rows, delta, perNode: perNode))
                    }
                    let failed = outcome.failedNodes.map(\.node)
                    inbox.post(.listingEnded(failed: failed))
                    let listed = await pager.count
                    if !failed.isEmpty && listed == 0 {
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
                    inbox.post(.listingAborted)
                    inbox.post(.loadFailed("\(error)", retryInMs: 3000))
                    await kicker.wait(ms: 3000)
                }
            }
        }
        let nodes = Task {
            while !Task.isCancelled {
                // Each node as it answers (one that does not holds no other back), then all.
                inbox.post(.nodes(await backend.nodeFacts { inbox.post(.node($0)) }))
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
            case .readSizes(let ids):
                let backend = self.backend
                let inbox = self.inbox
                Task {
                    let plan = await backend.store.locate(ids: ids)
                    var sizes: [String: Int64] = [:]
                    for s in plan.sessions { if let b = s.sizeBytes { sizes[s.id] = b } }
                    inbox.post(.sizes(sizes))
                }
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
                    theme = Self.withContextColour(try themes.load(name), state.context)
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

    func apply(_ m: Message, now t: Int64) {
        switch m {
        case .listingStarted: state.beginListing(now: t)
        case .page(let rows, let delta, let perNode): state.receivePage(rows, names: delta, perNode: perNode, now: t)
        case .listingEnded(let failed):
            state.endListing(failedNodes: failed, now: t)
            // The merges while listing freed many large arrays: hand the freed pages back,
            // so resident memory is the table's, not the allocator's high-water mark.
            CursesCanvas.releaseFreeMemory()
        case .listingAborted: state.abortListing(now: t)
        case .sizes(let sizes): state.sizesRead(sizes)
        case .loadFailed(let msg, let retry): state.loadFailed(Redaction.redact(msg), now: t, retryInMs: retry)
        case .node(let info):
            state.updateNode(counted(info))
        case .nodes(let infos):
            let counts = infos.compactMap { $0.sessions ?? $0.estimatedSessions }
            state.sessionEstimate = counts.isEmpty ? nil : counts.reduce(0, +)
            state.loadNodes(infos.map(counted), now: t)
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
}

extension TUIController {
    /// A node's facts with its session count taken from the table's rows.
    func counted(_ info: NodeInfo) -> NodeInfo {
        var n = info
        if let idx = state.names.nodes.firstIndex(of: n.name) {
            n.sessions = state.rows.reduce(0) { $0 + ($1.node == UInt16(idx) ? 1 : 0) }
        } else if n.up {
            n.sessions = 0
        }
        return n
    }
}

/// Builds rows from listing pages (off the UI thread); pages may come from several nodes
/// at once.
actor PageBuilder {
    private var pager = RowPager()
    private(set) var count = 0
    func rows(_ page: [Session]) -> ([Row], RowNames.Delta, [String: Int]) {
        count += page.count
        return pager.rows(page, now: currentTimeMs())
    }
}

/// Ids of listed sessions (the matches of a filter's `attr.` terms).
actor IDCollector {
    private(set) var ids: [String] = []
    func add(_ page: [Session]) { ids += page.map(\.id) }
}

/// What the listing must read, set by the UI thread from the sort and the filter.
final class ListingWants: Sendable {
    private let needsSizes = Atomic<Bool>(false)
    var sizes: Bool { needsSizes.load(ordering: .relaxed) }
    /// Sets the flag; true when it turned on (the rows listed so far lack sizes).
    func set(sizes: Bool) -> Bool {
        needsSizes.exchange(sizes, ordering: .relaxed) == false && sizes
    }
}
