#!/usr/bin/env bash
# Builds and runs the whole test suite. Tests start their own redis-servers on free
# loopback ports; a missing redis-server is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build --build-tests
swift test --skip-build "$@"
