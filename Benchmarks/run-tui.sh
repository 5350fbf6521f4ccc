#!/usr/bin/env bash
# TUI benchmark (issue 3): N Spring sessions in a local redis-server; the real sessionctl TUI
# in tmux. Measures: time until the first session row is on screen (issue 16: rows stream in
# as pages arrive), time until the first frame with every session listed, resident memory
# per listed session (RSS with N sessions minus RSS on an empty store, divided by N), and
# CPU while idle (no keys, nothing changing) over 30 s. Not a test: no thresholds.
# Usage: Benchmarks/run-tui.sh [SESSIONS=1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
scripts/deps.sh
swift build -c release --product sessionctl >&2
swift build -c release --product session-seed >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
start_redis() { # port
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis-$1.pid" --loglevel warning --notify-keyspace-events Egxe >/dev/null
  for _ in $(seq 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
p_full=$(( 20000 + RANDOM % 10000 )); p_empty=$(( p_full + 1 ))   # below the ephemeral range (32768+)
start_redis $p_full; start_redis $p_empty
sock="sctl-bench-$$"
cleanup() { tmux -L "$sock-$p_full" kill-server 2>/dev/null || true; tmux -L "$sock-$p_empty" kill-server 2>/dev/null || true; redis-cli -p $p_full shutdown nosave >/dev/null 2>&1 || true; redis-cli -p $p_empty shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$bin/session-seed" --store "redis://127.0.0.1:$p_full" --spring "$N" --users 50000 >&2
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run_tui() { # port -> prints pid after the full listing is on screen, and the seconds it took
  local t0; t0=$(date +%s.%N)
  tmux -L "$sock-$1" -f /dev/null new-session -d -s t -x 160 -y 45 "exec env HOME=$dir TERM=xterm-256color $bin/sessionctl --store redis://127.0.0.1:$1 --refresh 1h"
  local want="$2"
  local limit; limit=$(( $(date +%s) + 600 ))
  local first="-"
  if [ "$want" != 0 ]; then
    until tmux -L "$sock-$1" capture-pane -p -t t | grep -q " spring *$"; do
      [ "$(date +%s)" -lt "$limit" ] || { echo "no session row within 600 s" >&2; exit 1; }
      sleep 0.02
    done
    first=$(echo "$(date +%s.%N) - $t0" | bc)
    tmux -L "$sock-$1" capture-pane -p -t t | head -1 > "$dir/first-header.txt"
  fi
  until tmux -L "$sock-$1" capture-pane -p -t t | grep -q "sessions $want "; do
    [ "$(date +%s)" -lt "$limit" ] || { echo "the TUI did not list $want sessions within 600 s" >&2; exit 1; }
    sleep 0.05
  done
  local t1; t1=$(date +%s.%N)
  pid=$(pgrep -f "^$bin/sessionctl --store redis://127.0.0.1:$1" | head -1)
  echo "$pid $(echo "$t1 - $t0" | bc) $first"
}
read -r pid_empty _ < <(run_tui $p_empty 0)
sleep 2; base=$(rss_kib "$pid_empty")
read -r pid secs first < <(run_tui $p_full "$(printf "%'d" "$N" | tr -d "'" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')")
sleep 3
full=$(rss_kib "$pid")
c0=$(cpu_ticks "$pid"); sleep 30; c1=$(cpu_ticks "$pid")
hz=$(getconf CLK_TCK)
# The same store listed by the C reference (SCAN + PTTL + HMGET of the times), for scale:
# this machine's speed varies from run to run, the ratio less.
cc -O2 -o "$dir/spring_ref" Benchmarks/reference/spring_ref.c -lhiredis
r0=$(date +%s.%N); "$dir/spring_ref" 127.0.0.1 "$p_full" --minimal > /dev/null 2>&1; r1=$(date +%s.%N)
ref=$(echo "$r1 - $r0" | bc)
echo "sessions: $N"
echo "time to the first session row on screen: ${first} s (header then: $(cut -c1-110 "$dir/first-header.txt"))"
echo "time to the first frame with all sessions listed: ${secs} s (C minimal reference listing the same store: ${ref} s, ratio $(echo "scale=2; $ref / $secs" | bc)x)"
echo "RSS: empty store ${base} KiB, $N sessions ${full} KiB => $(( (full - base) * 1024 / N )) bytes per listed session"
echo "CPU while idle (30 s, no input): $(echo "scale=2; ($c1 - $c0) * 100 / ($hz * 30)" | bc) %"
