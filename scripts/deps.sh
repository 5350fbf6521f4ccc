#!/usr/bin/env bash
# Installs the system packages sessionctl needs to build, test and demo, when missing.
# Runs `apt-get update` at most once. Uses sudo when not root.
set -euo pipefail
packages=(libncurses-dev libhiredis-dev redis-server redis-tools tmux pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
# The package starts a system redis on 6379 on some images; the tests and the demo use
# their own servers on free ports and never need it.
