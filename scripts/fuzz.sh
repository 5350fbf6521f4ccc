#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, from the Swift toolchain) of every parser fed from
# outside: the session decoders, the filter and duration language, the theme/config TOML,
# sessiond's request and reply decoders (whole against chunked feeding) with the wire
# layouts, and the append-only log replay.
# Usage: scripts/fuzz.sh [SECONDS=60] [HARNESS...]   (default: every harness; FUZZ_SEED=n for
# libFuzzer's seed, 0 = random)
# Prints one line per harness (executions, coverage, findings); exits 1 on any crash,
# timeout or out-of-memory and names the reproducer (Fuzz/findings/HARNESS-*). Replay one
# with: FUZZ_TARGET=HARNESS .build-fuzz/release/session-fuzz Fuzz/findings/FILE
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
mkdir -p Fuzz/.root Fuzz/findings
ln -sfn ../.. Fuzz/.root/sessionctl
(cd Fuzz && swift build -c release --build-path ../.build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library \
  -Xswiftc -use-ld=lld 2>&1 | grep -E "error|warning: [^p]" >&2 || true)
bin=.build-fuzz/release/session-fuzz
[ -x "$bin" ] || { echo "fuzz: the harness did not build" >&2; exit 2; }
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(aspnet attribute cluster-restore config django-signed filter java json jwt log-replay marshal memcached-lines msgpack msm
    php php-session pickle redis-replies resp-differential resp-reply resp-request toml)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
broken=0
for h in "${harnesses[@]}"; do
  mkdir -p "$work/$h" "Fuzz/corpus/$h"
  log="$work/$h.log"
  # Some runs get long inputs: stack-depth bugs need more than libFuzzer's 4 KiB default.
  status=0
  FUZZ_TARGET="$h" SWIFT_BACKTRACE=enable=no "$bin" "$work/$h" "Fuzz/corpus/$h" \
    -max_total_time="$seconds" -seed="${FUZZ_SEED:-0}" -timeout=10 -rss_limit_mb=2048 -max_len=131072 -print_final_stats=1 \
    -artifact_prefix="Fuzz/findings/$h-" >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  found=$(grep -o "Fuzz/findings/$h-[^ ]*" "$log" | head -1 || true)
  if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    failed=1
    echo "fuzz $h: FAILED after ${execs:-?} executions (exit $status); reproducer: ${found:-none written}; log: $(grep -m1 -E 'ERROR|Fatal|deadly' "$log" || true)"
    cp "$log" "Fuzz/findings/$h.log"
    broken=$((broken + 1))
  else
    passed=$((passed + 1))
    echo "fuzz $h: ok, ${execs:-?} executions in ${seconds}s, coverage ${cov:-?}"
  fi
done
echo "fuzz: $passed passed, $broken failed"
exit $failed
