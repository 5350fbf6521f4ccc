#!/usr/bin/env bash
# Builds sessionctl and shows it on a throw-away Redis full of sessions.
# (The embedded in-house demo and the TUI arrive with their issues; until then this starts
# a local redis-server on a free port, writes Spring Session and connect-redis sessions,
# some expiring every second, and runs the console's commands against it, ending in
# `watch`. Ctrl-C stops everything.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build -c release --product sessionctl >&2
swift build -c release --product session-seed >&2
bin=$(swift build -c release --show-bin-path)
port=$(( 20000 + RANDOM % 20000 ))
while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$(( port + 1 )); done
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --daemonize no --loglevel warning --notify-keyspace-events Egxe >"$dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
store="redis://127.0.0.1:$port"
export SESSIONCTL_AUDIT_LOG="$dir/audit.log"
"$bin/session-seed" --store "$store" --spring 2000 --connect 300 --users 40 --expiring 300 --short-ttl 120
run() { printf '\n\033[1m$ sessionctl %s\033[0m\n' "$*"; "$bin/sessionctl" "$@" --store "$store" || true; }
run nodes
run ls --sort ttl --limit 15
run ls --filter 'user=alice schema=spring' --limit 5
id=$("$bin/sessionctl" ls --store "$store" --user bob --limit 1 -o jsonl | sed -E 's/^\{"id":"([^"]*)".*/\1/')
run show "$id"
run logout --user carol --dry-run
run logout --user carol --yes
printf '\n\033[1mWatching expiries, evictions and deletions live (store %s); Ctrl-C to stop.\033[0m\n' "$store"
"$bin/sessionctl" watch --store "$store" || true
