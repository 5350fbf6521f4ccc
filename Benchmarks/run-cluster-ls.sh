#!/usr/bin/env bash
# Every node at once (issue 16): the same N Spring sessions in one redis-server and in a
# 3-master Redis Cluster (no replicas), listed with `sessionctl ls -o jsonl` side by side,
# alternating which goes first. Prints wall time, the ratio, and where the CPU went
# (sessionctl user/sys, each redis-server's CPU seconds). Not a test: no thresholds.
# Usage: Benchmarks/run-cluster-ls.sh [SESSIONS=1000000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
source Benchmarks/common.sh
dir=$(mktemp -d)
base=$(( 20000 + RANDOM % 9000 ))
single=$base; ports="$((base + 1)) $((base + 2)) $((base + 3))"
pids=()
start() { # port [cluster]
  mkdir -p "$dir/$1"
  local extra=()
  [ "${2:-}" = cluster ] && extra=(--cluster-enabled yes --cluster-config-file "$dir/$1/nodes.conf" --cluster-node-timeout 5000)
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$1" --daemonize no --loglevel warning "${extra[@]}" &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
start "$single"
for p in $ports; do start "$p" cluster; done
redis-cli --cluster create $(for p in $ports; do echo "127.0.0.1:$p"; done) --cluster-replicas 0 --cluster-yes >/dev/null
until redis-cli -p "$((base + 1))" cluster info | grep -q 'cluster_state:ok'; do sleep 0.2; done
echo "loading $N sessions into each..." >&2
"$bin/session-seed" --store "redis://127.0.0.1:$single" --spring "$N" --users 50000 >&2
"$bin/session-seed" --store "redis://127.0.0.1:$((base + 1))" --spring "$N" --users 50000 --cluster >&2
for p in $single $ports; do echo "127.0.0.1:$p $(redis-cli -p "$p" dbsize) keys" >&2; done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
now() { date +%s.%N; }
run() { # name url -> "seconds user sys rows server-cpu-seconds..."
  local before=() after=() i
  for p in "${pids[@]}"; do before+=("$(ticks "$p")"); done
  local t0 t1; t0=$(now)
  /usr/bin/time -f "%U %S %M" -o "$out/$1.time" "$bin/sessionctl" ls --store "$2" -o jsonl > "$out/$1.jsonl"
  t1=$(now)
  for p in "${pids[@]}"; do after+=("$(ticks "$p")"); done
  local cpu=""
  for i in "${!pids[@]}"; do cpu+=" $(echo "scale=1; (${after[$i]} - ${before[$i]}) / $hz" | bc)"; done
  echo "$(echo "$t1 - $t0" | bc) $(cat "$out/$1.time") $(wc -l < "$out/$1.jsonl")$cpu"
}
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then s=$(run single "redis://127.0.0.1:$single"); c=$(run cluster "redis://127.0.0.1:$((base + 1))")
  else c=$(run cluster "redis://127.0.0.1:$((base + 1))"); s=$(run single "redis://127.0.0.1:$single"); fi
  read -r sw su ss sm srows scpu0 _ _ _ <<< "$s"
  read -r cw cu cs cm crows _ c1 c2 c3 <<< "$c"
  echo "round $r: one redis-server ${sw} s (${srows} rows; sessionctl user ${su} s sys ${ss} s, peak ${sm} KiB; redis ${scpu0} s CPU) | 3-master cluster ${cw} s (${crows} rows; sessionctl user ${cu} s sys ${cs} s, peak ${cm} KiB; masters ${c1}/${c2}/${c3} s CPU) | cluster speed-up $(echo "scale=2; $sw / $cw" | bc)x"
done
