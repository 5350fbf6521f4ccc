#!/usr/bin/env bash
# sessiond against redis-server (issue 4), in the same run, same clients (-c 50), with and
# without pipelining (-P 16), both logging at fsync everysec:
#   create:         SESSION.PUT (principal + 3 attributes, sliding TTL) vs HSET + EXPIRE
#   read-and-touch: SESSION.GET vs HGETALL + EXPIRE
#   update one attribute: SESSION.SETATTR (which also touches) vs HSET + EXPIRE
#   PING
# Two-command Redis pairs are combined as 1/(1/a + 1/b) requests per second.
# Then memory per session (100,000 sessions with a user and three small attributes), and
# expiry lateness: 1,000,000 live sessions, 10,000 with the same deadline, every expired
# event timed at a subscriber. Not a test: no thresholds.
# Usage: Benchmarks/run-sessiond.sh [REQUESTS=200000]   (PARTS=throughput skips memory and lateness;
#        ROUNDS=n rounds of the throughput pairs, medians shown, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
. Benchmarks/servers.sh

tck=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # the process's user + system time, in ticks
bench() { # requests port pid pipeline command... -> "requests/s server-CPU-µs/request"
  local n=$1 port=$2 pid=$3 pipe=$4 c0 c1 r; shift 4
  c0=$(cpu "$pid")
  r=$(redis-benchmark -p "$port" -c 50 -n "$n" -r 100000 -P "$pipe" --csv "$@" 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
  c1=$(cpu "$pid")
  echo "$r $(echo "scale=3; ($c1 - $c0) * 1000000 / $tck / $n" | bc)"
}
pair() { echo "scale=9; 1 / (1 / $1 + 1 / $2)" | bc | cut -d. -f1; }
ratio() { echo "scale=2; $1 / $2" | bc; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A S R SC RC
measure() { # key pipeline requests "sessiond command" "redis command" ["second redis command"]
  local key=$1 P=$2 n=$3 s sc a ac b bc
  read -r s sc < <(bench "$n" "$sp" "$spid" "$P" $4)
  read -r a ac < <(bench "$n" "$rp" "$rpid" "$P" $5)
  if [ -n "${6:-}" ]; then
    read -r b bc < <(bench "$n" "$rp" "$rpid" "$P" $6)
    a=$(pair "$a" "$b"); ac=$(echo "$ac + $bc" | bc)
  fi
  S[$key,$P]+="$s "; SC[$key,$P]+="$sc "; R[$key,$P]+="$a "; RC[$key,$P]+="$ac "
}
# ROUNDS rounds (default 3), alternating the servers; the table shows each median. PING
# runs 5x the requests: at over a million per second, N alone lasts a fraction of a second.
# Beside the rates, each server's CPU time per request (per pair for Redis): on a small
# machine the benchmark client can be the bottleneck (pipelined PING), and then the CPU
# time is what still compares the servers.
for round in $(seq "${ROUNDS:-3}"); do
  for P in 1 16; do
    measure create $P "$N" "SESSION.PUT sess:__rand_int__ 1800 PRINCIPAL user:__rand_int__ ATTR a 1 ATTR b 2 ATTR c 3" \
      "HSET sess:__rand_int__ principal user:__rand_int__ a 1 b 2 c 3" "EXPIRE sess:__rand_int__ 1800"
    measure read $P "$N" "SESSION.GET sess:__rand_int__" "HGETALL sess:__rand_int__" "EXPIRE sess:__rand_int__ 1800"
    measure update $P "$N" "SESSION.SETATTR sess:__rand_int__ cart __rand_int__" "HSET sess:__rand_int__ cart __rand_int__" \
      "EXPIRE sess:__rand_int__ 1800"
    measure ping $P $((N * 5)) "PING" "PING"
  done
done
echo "| work | pipeline | sessiond req/s | redis req/s | sessiond / redis | sessiond CPU µs/req | redis CPU µs/req |"
echo "|---|---|---|---|---|---|---|"
for P in 1 16; do
  for w in create read update ping; do
    case $w in
      create) label="create (PUT vs HSET+EXPIRE)" ;;
      read) label="read-and-touch (GET vs HGETALL+EXPIRE)" ;;
      update) label="update one attribute (SETATTR vs HSET+EXPIRE)" ;;
      ping) label="PING" ;;
    esac
    s=$(echo "${S[$w,$P]}" | median); r=$(echo "${R[$w,$P]}" | median)
    sc=$(echo "${SC[$w,$P]}" | median); rc=$(echo "${RC[$w,$P]}" | median)
    echo "| $label | $P | ${s%.*} | ${r%.*} | $(ratio "$s" "$r")x | $sc | $rc |"
  done
done

[ "${PARTS:-all}" = throughput ] && exit 0

# Memory per session: 100,000 fresh sessions (1,000 users, three small attributes, TTL)
# in a fresh process each, measured alike as growth of the process's RSS; for Redis also
# its own used_memory (which leaves the allocator's overhead out), without and with a
# per-user index set (what sessiond's principal index gives). Twice: short ids and user
# names (Swift keeps strings up to 15 bytes inline), then 41-byte ids and e-mail addresses.
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
redis_memory() { # index(0|1) long(0|1) -> "rss-bytes used_memory-bytes" per session
  local port=$((rp + 2)) idx=$1 long=$2
  redis-server --port $port --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --pidfile "$dir/rm.pid" \
    --dir "$dir" --loglevel warning >/dev/null
  for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
  local pid; pid=$(cat "$dir/rm.pid")
  local u0 r0; u0=$(redis-cli -p $port info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'); r0=$(rss "$pid")
  local extra="" key="'m:'..n" user="'user'..u"
  [ "$idx" = 1 ] && extra="redis.call('SADD','idx:'..p,k);"
  [ "$long" = 1 ] && key="'sess-'..string.format('%036d',n)" && user="'user'..u..'@example.com'"
  redis-benchmark -p $port -c 1 -n 1000 -P 1 --csv EVAL "for i=1,100 do local n=redis.call('INCR','seq')-1; local k=$key; local u=n % 1000; local p=$user; redis.call('HSET',k,'principal',p,'a','1','b','2','c','3'); redis.call('EXPIRE',k,1800); $extra end" 0 >/dev/null 2>&1 || true
  local u1 r1; u1=$(redis-cli -p $port info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'); r1=$(rss "$pid")
  redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
  echo "$(( (r1 - r0) / 100000 )) $(( (u1 - u0) / 100000 ))"
}
sessiond_memory() { # long(0|1) -> RSS bytes per session
  local port=$((sp + 1))
  "$bin/sessiond" --port $port > "$dir/sd2.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
  local s0 s1; s0=$(rss $pid)
  python3 Benchmarks/sessiond_load.py memory $port "$([ "$1" = 1 ] && echo long)"
  s1=$(rss $pid)
  kill $pid; wait $pid 2>/dev/null || true
  echo $(( (s1 - s0) / 100000 ))
}
echo
echo "| memory per session (100,000; 1,000 users) | ids, users | RSS growth | server's own count |"
echo "|---|---|---|---|"
for long in 0 1; do
  names=$([ $long = 1 ] && echo "41 B, e-mail" || echo "short (≤ 15 B)")
  echo "| sessiond (principal index included) | $names | $(sessiond_memory $long) B | - |"
  read -r r u < <(redis_memory 0 $long); echo "| redis, hash + TTL | $names | $r B | $u B (used_memory) |"
  read -r r u < <(redis_memory 1 $long); echo "| redis, hash + TTL + per-user index set | $names | $r B | $u B (used_memory) |"
done

# Expiry lateness: 1,000,000 live sessions, 10,000 with the same deadline 20 s ahead.
python3 Benchmarks/sessiond_load.py lateness "$sp"
