#!/usr/bin/env bash
# Memcached listing benchmark (issue 14): N PHP sessions (memcached handler layout) in one
# local memcached 1.6.18; times, in the same run and interleaved, (a) the C reference's
# minimal listing (metadump + pipelined `mg ... u` batches of 1000, JSON lines, no decoding),
# (b) the C reference doing the same work as sessionctl (each PHP session parsed far enough
# to find its user, sessionctl's JSON fields), (c) the same work in Python (what an
# operator's script would be: memcached_ref.py) and (d) sessionctl ls -o jsonl. Prints rates,
# the ratios and sessionctl's peak memory. Not a test: no thresholds.
# Usage: Benchmarks/run-memcached.sh [SESSIONS=1000000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
scripts/deps.sh
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time; }
swift build -c release --product sessionctl >&2
bin=$(swift build -c release --show-bin-path)
out=Benchmarks/out; mkdir -p "$out"
cc -O2 -o "$out/memcached_ref" Benchmarks/reference/memcached_ref.c
port=$(( 20000 + RANDOM % 10000 ))
user=(); [ "$(id -u)" -eq 0 ] && user=(-u root)
memcached -p "$port" -l 127.0.0.1 -U 0 -m 2048 -t 4 "${user[@]}" &
mpid=$!
trap 'kill $mpid 2>/dev/null; wait $mpid 2>/dev/null' EXIT
sleep 0.3
echo "loading $N sessions..." >&2
"$out/memcached_ref" 127.0.0.1 "$port" --seed "$N" 50000
store="memcached://127.0.0.1:$port"
now() { date +%s.%N; }
rate() { echo "scale=0; $1 / ($3 - $2)" | bc; }
for r in $(seq "$ROUNDS"); do
  t0=$(now); "$out/memcached_ref" 127.0.0.1 "$port" > "$out/mref.jsonl" 2>"$out/mref.err"; t1=$(now)
  a=$(rate "$N" "$t0" "$t1")
  t0=$(now); "$out/memcached_ref" 127.0.0.1 "$port" --same-work > "$out/mref-same.jsonl" 2>"$out/mref.err"; t1=$(now)
  s=$(rate "$N" "$t0" "$t1")
  t0=$(now); python3 Benchmarks/reference/memcached_ref.py 127.0.0.1 "$port" > "$out/mref-py.jsonl"; t1=$(now)
  p=$(rate "$N" "$t0" "$t1")
  t0=$(now); /usr/bin/time -f "%M" -o "$out/mctl.mem" "$bin/sessionctl" ls --store "$store" -o jsonl > "$out/mctl.jsonl"; t1=$(now)
  b=$(rate "$N" "$t0" "$t1")
  echo "round $r: C minimal ${a}/s ($(wc -l < "$out/mref.jsonl") rows) | C same work ${s}/s | Python same work ${p}/s | sessionctl ${b}/s ($(wc -l < "$out/mctl.jsonl") rows, peak RSS $(cat "$out/mctl.mem") KiB) | sessionctl/same-work $(echo "scale=2; $b / $s" | bc)x, sessionctl/minimal $(echo "scale=2; $b / $a" | bc)x, sessionctl/Python $(echo "scale=2; $b / $p" | bc)x"
done
