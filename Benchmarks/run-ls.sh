#!/usr/bin/env bash
# Listing benchmark (issue 2): N Spring Session sessions (indexed, with index sets) in a
# local redis-server; times, in the same run and interleaved, (a) redis-cli --scan (keys
# only), (b) the C reference (SCAN + pipelined PTTL/HMGET, JSON lines), (c) sessionctl ls
# -o jsonl, and (d) sessionctl ls --fields with the reference's minimal fields (issue 16: no
# size read), and (e) the same without `user` (exactly the minimal reference's reads: PTTL and
# the three times). Prints rates, ratios and sessionctl's peak memory. Not a test: no thresholds.
# Usage: Benchmarks/run-ls.sh [SESSIONS=1000000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
scripts/deps.sh
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time; }
swift build -c release --product sessionctl >&2
swift build -c release --product session-seed >&2
bin=$(swift build -c release --show-bin-path)
out=Benchmarks/out; mkdir -p "$out"
cc -O2 -o "$out/spring_ref" Benchmarks/reference/spring_ref.c -lhiredis
port=$(( 20000 + RANDOM % 10000 ))   # below the ephemeral range (32768+)
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no --loglevel warning &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
store="redis://127.0.0.1:$port"
echo "loading $N sessions..." >&2
"$bin/session-seed" --store "$store" --spring "$N" --users 50000 >&2
redis-cli -p "$port" info keyspace | grep db0 >&2
now() { date +%s.%N; }
rate() { echo "scale=0; $1 / ($3 - $2)" | bc; }
declare -A best
for r in $(seq "$ROUNDS"); do
  t0=$(now); redis-cli -p "$port" --scan --pattern 'spring:session:sessions:*' > /dev/null; t1=$(now)
  a=$(rate "$N" "$t0" "$t1")
  t0=$(now); "$out/spring_ref" 127.0.0.1 "$port" --minimal > /dev/null 2>"$out/ref.err"; t1=$(now)
  m=$(rate "$N" "$t0" "$t1")
  t0=$(now); "$out/spring_ref" 127.0.0.1 "$port" > /dev/null 2>"$out/ref.err"; t1=$(now)
  b=$(rate "$N" "$t0" "$t1")
  t0=$(now); /usr/bin/time -f "%M" -o "$out/sctl.mem" "$bin/sessionctl" ls --store "$store" -o jsonl > "$out/sctl.jsonl"; t1=$(now)
  c=$(rate "$N" "$t0" "$t1")
  lines=$(wc -l < "$out/sctl.jsonl")
  mem=$(cat "$out/sctl.mem")
  t0=$(now); "$bin/sessionctl" ls --store "$store" -o jsonl --fields id,user,node,ttl_ms,created_at,last_accessed_at > "$out/sctl-fields.jsonl"; t1=$(now)
  d=$(rate "$N" "$t0" "$t1")
  t0=$(now); "$bin/sessionctl" ls --store "$store" -o jsonl --fields id,node,ttl_ms,created_at,last_accessed_at > "$out/sctl-nouser.jsonl"; t1=$(now)
  e=$(rate "$N" "$t0" "$t1")
  echo "round $r: (no user: ${e}/s, $(echo "scale=2; $e / $m" | bc)x minimal)"
  echo "round $r: redis-cli --scan (keys only) ${a}/s | C minimal (PTTL+HMGET 3) ${m}/s | C same work ${b}/s | sessionctl ${c}/s (${lines} rows, peak RSS ${mem} KiB) | sessionctl --fields ${d}/s | sessionctl/same-work $(echo "scale=2; $c / $b" | bc)x, sessionctl/minimal $(echo "scale=2; $c / $m" | bc)x, --fields/minimal $(echo "scale=2; $d / $m" | bc)x"
done
