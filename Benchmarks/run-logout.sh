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
source Benchmarks/common.sh
cc -O2 -o "$out/spring_ref" Benchmarks/reference/spring_ref.c -lhiredis
seeded_redis "$N" --non-indexed
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
