#!/usr/bin/env bash
# Soaks (issue 18): sessiond under mixed load and the TUI on the demo, SECONDS each
# (default 600), run in parallel from a copy of the built products (so a rebuild meanwhile
# does not touch them). Prints the figures BENCHMARKS.md quotes; exits non-zero when an
# invariant or the memory check fails.
# Usage: Benchmarks/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
swift build --build-tests 2>&1 | grep -E "error|warning: [^p]" >&2 || true
bin=$(swift build --show-bin-path)
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp -r "$bin/sessionctlPackageTests.xctest" "$bin/sessionctl" "$bin/sessiond" "$bin/session-seed" "$copy/"
status=0
for t in sessiondUnderMixedLoadKeepsItsInvariantsAndItsMemory theTUIOnTheDemoKeepsItsMemory; do
  SOAK_SECONDS="$seconds" "$copy/sessionctlPackageTests.xctest" --testing-library swift-testing --filter "SoakTests/$t" \
    >"$copy/$t.log" 2>&1 &
done
wait -n || status=1
wait -n || status=1
grep -hE -A3 "^soak |✘|recorded an issue" "$copy"/*.log || true
exit $status
