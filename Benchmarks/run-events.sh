#!/usr/bin/env bash
# Event rates (issue 16): an eviction storm in one redis-server (maxmemory 64 MB,
# allkeys-lru) made by redis-benchmark writing Spring session hashes. Part A, in the same
# run: `redis-cli --csv psubscribe __keyevent@0__:evicted` (the reference) and
# `sessionctl watch -o jsonl --events evicted`, both subscribed before the storm; events each
# delivered, per second, against INFO's evicted_keys; gaps sessionctl reported. Part B: the
# TUI in tmux: how long a key press takes to show (switching views, measured through tmux
# capture-pane, whose own cost is included), with no storm, a storm of one connection
# (about 20,000 evictions/s here) and the full storm.
# Not a test: no thresholds. Usage: Benchmarks/run-events.sh [STORM_SECONDS=20]
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-20}
source Benchmarks/common.sh
port=$(( 20000 + RANDOM % 10000 ))
dir=$(mktemp -d)
sock="sctl-ev-$$"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no --loglevel warning \
  --maxmemory 64mb --maxmemory-policy allkeys-lru --notify-keyspace-events Egxe &
rpid=$!
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
store="redis://127.0.0.1:$port"
"$bin/session-seed" --store "$store" --spring 2000 --users 100 --non-indexed >&2
payload=$(head -c 600 /dev/zero | tr '\0' x)
storm() { # seconds [clients] [pipeline]: Spring-shaped hashes with random ids
  timeout "$1" redis-benchmark -p "$port" -c "${2:-2}" -P "${3:-4}" -n 100000000 -r 100000000 \
    HSET spring:session:sessions:__rand_int__ creationTime "$payload" >/dev/null 2>&1 || true
}
evicted() { redis-cli -p "$port" info stats | awk -F: '/^evicted_keys/ {print $2+0}'; }
# Fill to the limit first, so the measured storm evicts from its first write.
storm 8
echo "== Part A: events delivered during a ${T} s storm =="
# sessionctl first: its start-up commands can make Redis evict (the server sits at its
# limit), and those evictions happen before it subscribes. The reference subscribes after
# it, so every event the reference sees, sessionctl was subscribed for.
"$bin/sessionctl" watch --store "$store" -o jsonl --events evicted > "$out/sctl-events.jsonl" 2>"$out/sctl-events.err" &
sctl=$!
until [ "$(redis-cli -p "$port" pubsub numsub '__keyevent@0__:evicted' | tail -1)" -ge 1 ]; do sleep 0.1; done
sleep 1
redis-cli -p "$port" --csv psubscribe '__keyevent@0__:evicted' > "$out/ref-events.csv" 2>/dev/null &
ref=$!
until [ "$(redis-cli -p "$port" pubsub numpat)" -ge 1 ]; do sleep 0.1; done
sleep 1
e0=$(evicted); t0=$(date +%s.%N)
storm "$T"
t1=$(date +%s.%N); e1=$(evicted)
sleep 3   # let both drain
kill $ref $sctl 2>/dev/null; wait $ref $sctl 2>/dev/null || true
secs=$(echo "$t1 - $t0" | bc)
truth=$((e1 - e0))
nref=$(grep -c pmessage "$out/ref-events.csv" || true)
nsctl=$(grep -c '"event":"evicted"' "$out/sctl-events.jsonl" || true)
gaps=$(grep -c '"event":"gap"' "$out/sctl-events.jsonl" || true)
echo "storm: ${truth} evictions in ${secs} s ($(echo "$truth / $secs" | bc)/s, INFO evicted_keys)"
echo "redis-cli psubscribe: ${nref} events ($(echo "$nref / $secs" | bc)/s)"
echo "sessionctl watch: ${nsctl} evicted events ($(echo "$nsctl / $secs" | bc)/s), ${gaps} gap notices"
echo "sessionctl/redis-cli: $(echo "scale=3; $nsctl / $nref" | bc)x"
echo "== Part B: key presses in the TUI (tmux), 20 each =="
tmux -L "$sock" -f /dev/null new-session -d -s t -x 160 -y 45 "exec env HOME=$dir TERM=xterm-256color $bin/sessionctl --store $store"
until tmux -L "$sock" capture-pane -p -t t | grep -q "SCHEMA"; do sleep 0.1; done
press() { # key, text that must appear -> ms
  local t0 t1; t0=$(date +%s%N)
  tmux -L "$sock" send-keys -t t "$1"
  until tmux -L "$sock" capture-pane -p -t t | grep -q "$2"; do :; done
  t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 ))
}
measure() { # label
  local all=()
  for _ in $(seq 10); do all+=("$(press 3 'EVICTED/s')"); all+=("$(press 1 'SCHEMA')"); sleep 0.2; done
  local sorted; sorted=$(printf '%s\n' "${all[@]}" | sort -n)
  echo "$1: median $(echo "$sorted" | sed -n 10p) ms, p90 $(echo "$sorted" | sed -n 18p) ms, max $(echo "$sorted" | tail -1) ms over ${#all[@]} presses"
}
measure "no storm"
stormed() { # label clients pipeline
  storm 60 "$2" "$3" & sp=$!
  sleep 3
  e0=$(evicted); t0=$(date +%s.%N)
  measure "$1"
  t1=$(date +%s.%N); e1=$(evicted)
  kill $sp 2>/dev/null; pkill -f "redis-benchmark -p $port" 2>/dev/null || true; wait $sp 2>/dev/null || true
  echo "  (storm while measuring: $(echo "($e1 - $e0) / ($t1 - $t0)" | bc) evictions/s)"
  sleep 2
}
stormed "storm, one connection, no pipelining" 1 1
stormed "storm, two connections, pipelines of 4" 2 4
tmux -L "$sock" capture-pane -p -t t | head -2
