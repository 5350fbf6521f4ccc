/// The default theme, built into the binary so that `sessionctl` runs anywhere (an installed
/// binary with no themes folder around it). `themes/default.toml` is the same text (a test
/// keeps them equal): edit both.
extension Theme {
    public static let builtinDefaultText = #"""
        # sessionctl default theme (dark terminals).
        # Roles: see `sessionctl themes validate` errors or README. Colours: names, 0-255, #rrggbb
        # (down-converted on 16/8-colour terminals). attrs: bold, underline, reverse, dim.
        name = "default"
        description = "dark, blue header"

        [roles]
        base           = { fg = "default", bg = "default" }
        header         = { fg = "#ffffff", bg = "#005f87" }
        header-accent  = { fg = "#005f87", bg = "#ffd75f", attrs = ["bold"] }
        read-only      = { fg = "#ffffff", bg = "#d70000", attrs = ["bold"] }
        banner         = { fg = "#ffffff", bg = "#af0000", attrs = ["bold"] }
        stale          = { fg = "#808080" }
        table-header   = { fg = "#87d7ff", attrs = ["bold", "underline"] }
        row            = { fg = "default" }
        selected       = { fg = "#000000", bg = "#87d7ff" }
        marked         = { fg = "#ffd75f", attrs = ["bold"] }
        dim            = { fg = "#808080" }
        ttl-warning    = { fg = "#ffaf00" }
        ttl-critical   = { fg = "#ff5f5f", attrs = ["bold"] }
        ttl-never      = { fg = "#5fafff" }
        event-expired  = { fg = "#ffaf00" }
        event-evicted  = { fg = "#ff5f5f", attrs = ["bold"] }
        event-deleted  = { fg = "#d787ff" }
        event-migrated = { fg = "#5fd7af" }
        event-created  = { fg = "#87d787" }
        event-gap      = { fg = "#ffffff", bg = "#870000", attrs = ["bold"] }
        dialog         = { fg = "#ffffff", bg = "#303030" }
        dialog-title   = { fg = "#ffd75f", bg = "#303030", attrs = ["bold"] }
        footer         = { fg = "#bcbcbc", bg = "#262626" }
        footer-key     = { fg = "#ffd75f", bg = "#262626", attrs = ["bold"] }
        flash-info     = { fg = "#87d787" }
        flash-error    = { fg = "#ff5f5f", attrs = ["bold"] }
        filter         = { fg = "#ffd75f" }
        help           = { fg = "default" }
        sparkline      = { fg = "#5fd7ff" }
        memory-bar     = { fg = "#87d787" }
        node-down      = { fg = "#ff5f5f", attrs = ["bold"] }
        node-up        = { fg = "#87d787" }
        context-badge  = { fg = "#000000", bg = "#87d7ff", attrs = ["bold"] }
        context-production = { fg = "#ffffff", bg = "#d70000", attrs = ["bold"] }
        """#
}
