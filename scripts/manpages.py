#!/usr/bin/env python3
"""Man pages from the argument parser's own description of the commands
(`sessionctl --experimental-dump-help`): one page for the tool and one per subcommand
(`sessionctl-ls.1`, `sessionctl-themes-list.1`), so `man sessionctl-logout` works.
Usage: manpages.py DUMP.json OUTDIR VERSION"""
import json, os, sys


def esc(text):
    """roff-safe text: backslashes doubled, lines starting with . or ' protected."""
    out = []
    for line in (text or "").replace("\\", "\\e").split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def synopsis(path, cmd):
    parts = []
    for a in cmd.get("arguments", []):
        if not a.get("shouldDisplay", True):
            continue
        names = a.get("names") or []
        long = next((n["name"] for n in names if n["kind"] == "long"), None)
        short = next((n["name"] for n in names if n["kind"] == "short"), None)
        flag = ("--" + long) if long else ("-" + short) if short else None
        value = a.get("valueName", "value")
        if a["kind"] == "positional":
            item = "<%s>" % value + ("..." if a.get("isRepeating") else "")
        elif a["kind"] == "flag":
            item = flag
        else:
            item = "%s <%s>" % (flag, value)
        if item:
            parts.append("[%s]" % item if a.get("isOptional", True) else item)
    if cmd.get("subcommands"):
        parts.insert(0, "<subcommand>")
    return "\\fB%s\\fR %s" % (" ".join(path), esc(" ".join(parts)))


def page(path, cmd, version, out):
    name = "-".join(path)
    lines = ['.TH "%s" "1" "" "sessionctl %s" "User Commands"' % (name.upper(), esc(version)),
             ".SH NAME", "%s \\- %s" % (name, esc(cmd.get("abstract", ""))),
             ".SH SYNOPSIS", synopsis(path, cmd)]
    if cmd.get("discussion"):
        lines += [".SH DESCRIPTION", ".nf", esc(cmd["discussion"]), ".fi"]
    args = [a for a in cmd.get("arguments", []) if a.get("shouldDisplay", True)]
    if args:
        lines.append(".SH OPTIONS")
        for a in args:
            names = ", ".join(("--" if n["kind"] == "long" else "-") + n["name"] for n in a.get("names") or [])
            if a["kind"] == "positional":
                names = "<%s>" % a.get("valueName", "value")
            elif a["kind"] == "option":
                names += " <%s>" % a.get("valueName", "value")
            lines += [".TP", "\\fB%s\\fR" % esc(names), esc(a.get("abstract", ""))]
            if a.get("defaultValue"):
                lines.append("(default: %s)" % esc(a["defaultValue"]))
            if a.get("discussion"):
                lines.append(esc(a["discussion"]))
    subs = cmd.get("subcommands") or []
    if subs:
        lines.append(".SH SUBCOMMANDS")
        for s in subs:
            lines += [".TP", "\\fB%s\\fR" % s["commandName"], esc(s.get("abstract", ""))]
    lines += [".SH SEE ALSO"]
    related = ["%s(1)" % "-".join(path[:-1])] if len(path) > 1 else []
    related += ["%s(1)" % "-".join(path + [s["commandName"]]) for s in subs]
    lines.append(", ".join(related) or "sessiond(1)")
    with open(os.path.join(out, name + ".1"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for s in subs:
        page(path + [s["commandName"]], s, version, out)


def main():
    dump, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(out, exist_ok=True)
    tool = json.load(open(dump))["command"]
    page([tool["commandName"]], tool, version, out)


main()
