#!/usr/bin/env bash
# Draining a node that holds 100,000 sessions (issue 5), next to the nearest Redis
# equivalent in the same run: moving 100,000 session hashes between two redis-servers with
# MIGRATE ... KEYS in batches of 500 (sent by redis-cli --pipe), which is how Redis tooling
# moves keys between independent nodes.
#   sessiond: 3 nodes (release build, --fsync everysec logs); n1 is loaded with N sessions
#   (a user and three small attributes, 30 min sliding TTL), then `sessionctl migrate
#   --from-node n1 --yes` moves them to n2 and n3 by the ring.
# Checks afterwards: n1 holds 0, n2 + n3 hold N, and listing the cluster gives N distinct
# ids (none lost, none duplicated). Not a test: no thresholds.
# Usage: Benchmarks/run-drain.sh [N=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
scripts/deps.sh
swift build -c release --product sessiond >&2
swift build -c release --product sessionctl >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
base=$(( 21000 + RANDOM % 9000 ))   # below the ephemeral range (32768+)
p1=$base; p2=$((base + 1)); p3=$((base + 2)); ra=$((base + 3)); rb=$((base + 4))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in $ra $rb; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "port $1 did not answer" >&2; exit 1; }
now_ms() { date +%s%3N; }

# Load n1 on its own (standalone, logged), then bring it up as a cluster member: a node
# serves what it holds whatever the ring says, which is the state a drain starts from.
mkdir -p "$dir/n1" "$dir/n2" "$dir/n3"
"$bin/sessiond" --port $p1 --dir "$dir/n1" > "$dir/n1.log" 2>&1 & pid=$!
wait_port $p1
python3 Benchmarks/drain_payloads.py "$N" "$rb" "$dir"
redis-cli -p $p1 --pipe < "$dir/load.resp" >/dev/null
kill -TERM $pid; wait $pid 2>/dev/null || true
members="n1=127.0.0.1:$p1,n2=127.0.0.1:$p2,n3=127.0.0.1:$p3"
for i in 1 2 3; do
  port=$((base + i - 1))
  "$bin/sessiond" --port $port --node-id n$i --cluster "$members" --dir "$dir/n$i" > "$dir/n$i.log" 2>&1 &
  pids+=($!)
done
for p in $p1 $p2 $p3; do wait_port $p; done
sleep 1.5   # first heartbeats
loaded=$(redis-cli -p $p1 SESSION.COUNT)
t0=$(now_ms)
"$bin/sessionctl" migrate --from-node n1 --yes --store "sessiond://127.0.0.1:$p1" --audit-log "$dir/audit.log" > "$dir/drain.out"
t1=$(now_ms)
c1=$(redis-cli -p $p1 SESSION.COUNT); c2=$(redis-cli -p $p2 SESSION.COUNT); c3=$(redis-cli -p $p3 SESSION.COUNT)
distinct=$("$bin/sessionctl" ls -o jsonl --store "sessiond://127.0.0.1:$p2" | sed -E 's/^\{"id":"([^"]*)".*/\1/' | sort -u | wc -l)
listed=$("$bin/sessionctl" ls -o jsonl --store "sessiond://127.0.0.1:$p2" | wc -l)
sd_ms=$((t1 - t0))

# Redis: the same sessions as hashes with a TTL on A, moved to B with MIGRATE ... KEYS.
for p in $ra $rb; do
  redis-server --port $p --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --dir "$dir" \
    --appendfilename "r$p.aof" --daemonize yes --pidfile "$dir/r$p.pid" --loglevel warning >/dev/null
  wait_port $p
done
redis-cli -p $ra --pipe < "$dir/rload.resp" >/dev/null
t0=$(now_ms)
redis-cli -p $ra --pipe < "$dir/rmigrate.resp" > /dev/null
t1=$(now_ms)
r_ms=$((t1 - t0))
ra_left=$(redis-cli -p $ra DBSIZE); rb_has=$(redis-cli -p $rb DBSIZE)

rate() { echo "scale=0; $1 * 1000 / $2" | bc; }
echo "| mover | sessions | time | sessions/s | left at source | at the targets | distinct ids listed |"
echo "|---|---|---|---|---|---|---|"
echo "| sessionctl migrate --from-node (sessiond, 3 nodes) | $loaded | ${sd_ms} ms | $(rate "$loaded" "$sd_ms") | $c1 | $((c2 + c3)) (n2 $c2, n3 $c3) | $distinct of $listed rows |"
echo "| redis MIGRATE ... KEYS x500 (2 redis-servers) | $N | ${r_ms} ms | $(rate "$N" "$r_ms") | $ra_left | $rb_has | - |"
echo
echo "sessiond / redis (sessions per second): $(echo "scale=2; $r_ms / $sd_ms" | bc)"
tail -1 "$dir/drain.out"
