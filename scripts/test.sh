#!/usr/bin/env bash
# Builds and runs the whole test suite. Tests start their own redis-servers, Redis Clusters
# and sessiond nodes on free loopback ports; a missing redis-server is a failure, never a skip.
# The heavy suites (100,000 sessions moved between stores, six-node Redis Clusters, the store
# contract over every store) run after the others, so they never starve the timing checks
# (expiry lateness) of a 2-core machine; the framework suites after them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# Formatting is part of the build: drift from .swift-format fails here, before any test.
swift format lint --strict --recursive --parallel Sources Tests Package.swift Plugins Fuzz/Package.swift Fuzz/Sources
swift build --build-tests
heavy='StoreMigrationTests|RedisClusterTests|ContractTests|DrillTests|SentinelTests'
# Suites that run the frameworks' interpreters (PHP, Python, Ruby) or freeze a server: a phase
# of their own, so neither they nor the heavy suites starve each other's timing checks.
# The sshd, TLS and SQLite suites wait on the real binary for seconds at a time (each
# wait holds one of the cooperative pool's two threads): with them, not beside WatchTests.
frameworks='MemcachedFrameworkTests|MemcachedTUIAndCLITests|MemcachedEventTests|DoctorTests|SSHTests|TLSTests|SQLiteTests'
# The soaks measure a steady load: alone, so no other suite's blocking waits take the
# cooperative pool's two threads from their load tasks.
soaks='SoakTests'
if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
else
  swift test --skip-build --skip "$heavy|$frameworks|$soaks"
  swift test --skip-build --filter "$heavy"
  swift test --skip-build --filter "$frameworks"
  swift test --skip-build --filter "$soaks"
  # Every parser under libFuzzer for 10 s (a fixed seed: the same run each time), so a
  # regression a fuzzer finds quickly fails the suite. Longer runs: scripts/fuzz.sh 600.
  FUZZ_SEED=1 scripts/fuzz.sh 10
fi
