#!/usr/bin/env bash
# Forced logout on Spring Session 3's default (non-indexed) repository (issue 16): N sessions
# in one redis-server, no principal index, so a logout must read every session's owner.
# Times, in the same run and alternating which goes first, (a) the C reference: SCAN TYPE hash
# + pipelined HGET of the principal attribute, compared (reads only, deletes nothing), and
# (b) `sessionctl logout --user U --yes` (reads the owner the same way, the security context
# only where the principal attribute is absent, and deletes as it finds). A different user
# each round. Prints times, ratios and sessionctl's peak memory. Not a test: no thresholds.
# Usage: Benchmarks/run-logout.sh [SESSIONS=1000000] [ROUNDS=3]
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
port=$(( 20000 + RANDOM % 10000 ))
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no --loglevel warning &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
store="redis://127.0.0.1:$port"
echo "loading $N non-indexed sessions..." >&2
"$bin/session-seed" --store "$store" --spring "$N" --users 50000 --non-indexed >&2
redis-cli -p "$port" info keyspace | grep db0 >&2
now() { date +%s.%N; }
ms() { echo "($2 - $1) * 1000 / 1" | bc; }
for r in $(seq "$ROUNDS"); do
  user="user$(( 100 + r * 7 ))"
  run_ref() { t0=$(now); "$out/spring_ref" 127.0.0.1 "$port" --logout "$user" > "$out/ref-logout.ids" 2>"$out/ref.err"; t1=$(now); ref=$(ms "$t0" "$t1"); }
  run_sctl() { t0=$(now); /usr/bin/time -f "%M" -o "$out/sctl.mem" "$bin/sessionctl" logout --user "$user" --yes --store "$store" > "$out/sctl-logout.txt" 2>&1; t1=$(now); sctl=$(ms "$t0" "$t1"); }
  if [ $((r % 2)) -eq 1 ]; then run_ref; run_sctl; else run_sctl; run_ref; fi
  found=$(wc -l < "$out/ref-logout.ids")
  echo "round $r ($user): C reference ${ref} ms (${found} sessions of the user, read only) | sessionctl logout ${sctl} ms: $(tail -1 "$out/sctl-logout.txt") (peak RSS $(cat "$out/sctl.mem") KiB) | sessionctl/reference $(echo "scale=2; $ref / $sctl" | bc)x (speed)"
done
