# Sourced by the listing benchmarks: installs what is missing (with GNU time for peak
# memory), builds sessionctl and session-seed (release), and sets bin (their folder) and
# out (Benchmarks/out, for outputs worth a look after the run).
scripts/deps.sh
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time; }
swift build -c release --product sessionctl >&2
swift build -c release --product session-seed >&2
bin=$(swift build -c release --show-bin-path)
out=Benchmarks/out; mkdir -p "$out"

# One redis-server (no persistence) on a port below the ephemeral range (32768+), stopped
# with its directory when the script exits; then N Spring sessions from session-seed with
# the extra seed flags given. Sets port, dir, rpid, store.
seeded_redis() { # N [session-seed flags...]
  local n=$1; shift
  port=$(( 20000 + RANDOM % 10000 ))
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --daemonize no --loglevel warning &
  rpid=$!
  trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  store="redis://127.0.0.1:$port"
  echo "loading $n sessions ($*)..." >&2
  "$bin/session-seed" --store "$store" --spring "$n" --users 50000 "$@" >&2
  redis-cli -p "$port" info keyspace | grep db0 >&2
}
