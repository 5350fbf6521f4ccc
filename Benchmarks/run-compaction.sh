#!/usr/bin/env bash
# Log compaction under write load (issue 4's durability, measured): 1,000,000 sessions, then
# 8,000,000 overwrites (redis-benchmark -c 50 -P 16) while each server compacts its log by
# itself: sessiond (--dir, fsync everysec) and redis-server (appendonly, everysec, its
# automatic BGREWRITEAOF). Prints the worst latencies a client saw and how many compactions
# ran. Not a test: no thresholds.
# Usage: Benchmarks/run-compaction.sh [SESSIONS=1000000] [WRITES=8000000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
W=${2:-8000000}
. Benchmarks/servers.sh

worst() { # port requests command... -> "req/s p99.99 max" (ms)
  local port=$1 n=$2; shift 2
  redis-benchmark -p "$port" -c 50 -n "$n" -r "$N" -P 16 "$@" 2>/dev/null | tr '\r' '\n' > "$dir/out"
  local rps p9999 max
  rps=$(grep -o '[0-9.]* requests per second' "$dir/out" | tail -1 | cut -d' ' -f1)
  p9999=$(awk '/^ *99\.99[0-9]*% <=/ { print $3; exit }' "$dir/out")
  max=$(awk '/^ *100\.000% <=/ { print $3; exit }' "$dir/out")
  echo "${rps%.*} ${p9999:-?} ${max:-?}"
}
sput="SESSION.PUT sess:__rand_int__ 1800 PRINCIPAL user:__rand_int__ ATTR a 1 ATTR b 2 ATTR c 3"
rset="HSET sess:__rand_int__ principal user:__rand_int__ a 1 b 2 c 3"
echo "loading $N sessions into each..." >&2
worst $sp "$N" $sput >/dev/null
worst $rp "$N" $rset >/dev/null
echo "| server | overwrites | req/s | p99.99 ms | worst ms | compactions |"
echo "|---|---|---|---|---|---|"
read -r r q m < <(worst $sp "$W" $sput)
echo "| sessiond (SESSION.PUT) | $W | $r | $q | $m | $(redis-cli -p $sp info | awk -F: '/^aof_rewrites:/ {print $2}' | tr -d '\r') |"
read -r r q m < <(worst $rp "$W" $rset)
echo "| redis (HSET) | $W | $r | $q | $m | $(redis-cli -p $rp info persistence | awk -F: '/^aof_rewrites:/ {print $2}' | tr -d '\r') |"
