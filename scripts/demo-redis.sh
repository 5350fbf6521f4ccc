#!/usr/bin/env bash
# Builds sessionctl and opens its TUI on a throw-away Redis full of Spring Session and
# connect-redis sessions (the Redis side of the product; scripts/demo.sh is the in-house one).
# Starts a local redis-server on a free port and writes sessions, some
# expiring every few seconds. On a terminal it opens the TUI; without one it tours the batch
# commands and ends in `watch`. q or Ctrl-C stops everything and removes the server.
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
if [ -t 0 ] && [ -t 1 ]; then
  # A few expiring sessions keep arriving so the events pane has something to show.
  ( n=100000; while sleep 5; do "$bin/session-seed" --store "$store" --spring 20 --expiring 20 --short-ttl 30 --start $n >/dev/null 2>&1 || exit 0; n=$((n + 20)); done ) &
  feeder=$!
  trap 'kill $feeder 2>/dev/null; kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
  "$bin/sessionctl" --store "$store"
  exit 0
fi
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
