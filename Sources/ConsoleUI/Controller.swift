import SessionKit

#if canImport(Glibc)
    import Glibc
#endif

public final class TUIController: @unchecked Sendable {
    let backend: any ConsoleBackend
    let themes: ThemeLibrary
    var theme: Theme
    let noColor: Bool
    var state: AppState
    let inbox = Inbox()
    let kicker = Kicker()
    let wants = ListingWants()
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
        state.context = backend.context
        self.theme = Self.withContextColour(theme, backend.context)
        state.eventNotes = backend.eventNotes
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

    var themeChanged = false
    var lastPromptMs: Int64 = currentTimeMs()

    /// The context's own colour wins over the theme's for its badge (whatever the theme).
    static func withContextColour(_ theme: Theme, _ context: ContextBadge?) -> Theme {
        guard let color = context?.color else { return theme }
        var t = theme
        let style = Style(fg: .rgb(255, 255, 255), bg: color, bold: true)
        t.styles[.contextBadge] = style
        t.styles[.contextProduction] = style
        return t
    }
}
