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
source Benchmarks/common.sh
cc -O2 -o "$out/spring_ref" Benchmarks/reference/spring_ref.c -lhiredis
seeded_redis "$N"
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
