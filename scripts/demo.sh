#!/usr/bin/env bash
# Builds sessionctl and runs `sessionctl demo`: three sessiond nodes inside the process on
# free loopback ports, simulated users (logins, requests, logouts, expiries every second,
# evictions under a small cap), and the TUI on that cluster. q quits and stops everything.
# Without a terminal it runs the demo with --no-tui, tours the batch commands against it
# (nodes, ls, show, migrate, a drain, watch) and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build -c release --product sessionctl >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
export SESSIONCTL_AUDIT_LOG="$dir/audit.log"
if [ -t 0 ] && [ -t 1 ]; then
  trap 'rm -rf "$dir"' EXIT
  exec "$bin/sessionctl" demo "$@"
fi
"$bin/sessionctl" demo --no-tui "$@" >"$dir/demo.out" 2>&1 &
demo=$!
trap 'kill -INT $demo 2>/dev/null; wait $demo 2>/dev/null; rm -rf "$dir"' EXIT
store=""
for _ in $(seq 100); do
  store=$(grep -o 'sessiond://[0-9.:]*' "$dir/demo.out" | head -1 || true)
  [ -n "$store" ] && break
  sleep 0.1
done
[ -n "$store" ] || { cat "$dir/demo.out"; exit 1; }
cat "$dir/demo.out"
sleep 4   # let traffic build up: expiries and evictions
run() { printf '\n\033[1m$ sessionctl %s\033[0m\n' "$*"; "$bin/sessionctl" "$@" --store "$store" || true; }
run nodes
run ls --sort ttl --limit 10
id=$("$bin/sessionctl" ls --store "$store" --limit 1 -o jsonl | sed -E 's/^\{"id":"([^"]*)".*/\1/')
run show "$id"
run migrate "$id" --to n3 --yes
run migrate --from-node n1 --yes
run nodes
run watch --for 5s
