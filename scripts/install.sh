#!/usr/bin/env bash
# Installs sessionctl and sessiond under a prefix (default /usr/local):
#   PREFIX/bin/sessionctl, PREFIX/bin/sessiond
#   PREFIX/share/sessionctl/themes/*.toml
#   PREFIX/share/man/man1/sessionctl.1 and one page per subcommand (sessionctl-ls.1, ...)
#   bash, zsh and fish completions (PREFIX/share/bash-completion/completions/sessionctl,
#   PREFIX/share/zsh/site-functions/_sessionctl, PREFIX/share/fish/vendor_completions.d/)
#   PREFIX/share/sessionctl/install-manifest (what was installed, for --uninstall)
# Usage: scripts/install.sh [PREFIX]              build (release) and install
#        scripts/install.sh --uninstall [PREFIX]  remove what the manifest lists
# SESSIONCTL_BIN_DIR=DIR installs binaries already built there instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--uninstall" ]; then
  prefix=${2:-/usr/local}
  manifest="$prefix/share/sessionctl/install-manifest"
  [ -f "$manifest" ] || { echo "install.sh: no manifest at $manifest: nothing to uninstall" >&2; exit 1; }
  while IFS= read -r f; do rm -f "$f"; done < "$manifest"
  rm -f "$manifest"
  rmdir "$prefix/share/sessionctl/themes" "$prefix/share/sessionctl" 2>/dev/null || true
  echo "uninstalled sessionctl from $prefix"
  exit 0
fi
prefix=${1:-/usr/local}
bindir=${SESSIONCTL_BIN_DIR:-}
if [ -z "$bindir" ]; then
  scripts/deps.sh
  swift build -c release --product sessionctl >&2
  swift build -c release --product sessiond >&2
  bindir=$(swift build -c release --show-bin-path)
fi
for b in sessionctl sessiond; do
  [ -x "$bindir/$b" ] || { echo "install.sh: $bindir/$b is not built" >&2; exit 2; }
done
share="$prefix/share"
manifest_tmp=$(mktemp)
trap 'rm -f "$manifest_tmp"' EXIT
put() { # put MODE SOURCE DEST
  install -D -m "$1" "$2" "$3"
  echo "$3" >> "$manifest_tmp"
}
put 755 "$bindir/sessionctl" "$prefix/bin/sessionctl"
put 755 "$bindir/sessiond" "$prefix/bin/sessiond"
for t in themes/*.toml; do put 644 "$t" "$share/sessionctl/themes/$(basename "$t")"; done
# Man pages, generated from the argument parser's own description of every command.
work=$(mktemp -d)
trap 'rm -f "$manifest_tmp"; rm -rf "$work"' EXIT
"$bindir/sessionctl" --experimental-dump-help > "$work/sessionctl.json"
python3 scripts/manpages.py "$work/sessionctl.json" "$work/man" "$("$bindir/sessionctl" --version)"
"$bindir/sessiond" --experimental-dump-help > "$work/sessiond.json"
python3 scripts/manpages.py "$work/sessiond.json" "$work/man" "$("$bindir/sessionctl" --version)"
for m in "$work"/man/*.1; do put 644 "$m" "$share/man/man1/$(basename "$m")"; done
# Completions.
"$bindir/sessionctl" --generate-completion-script bash > "$work/sessionctl.bash"
"$bindir/sessionctl" --generate-completion-script zsh > "$work/_sessionctl"
"$bindir/sessionctl" --generate-completion-script fish > "$work/sessionctl.fish"
put 644 "$work/sessionctl.bash" "$share/bash-completion/completions/sessionctl"
put 644 "$work/_sessionctl" "$share/zsh/site-functions/_sessionctl"
put 644 "$work/sessionctl.fish" "$share/fish/vendor_completions.d/sessionctl.fish"
install -D -m 644 "$manifest_tmp" "$share/sessionctl/install-manifest"
echo "installed sessionctl $("$bindir/sessionctl" --version) into $prefix ($(wc -l < "$manifest_tmp") files; scripts/install.sh --uninstall $prefix removes them)"
