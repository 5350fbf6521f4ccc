# Sourced by the sessiond benchmarks: builds sessiond (release), then starts redis-server and
# sessiond side by side, each logging at fsync everysec, on ports below Linux's ephemeral
# range (32768+, so no outgoing connection holds them). Sets bin, dir, rp/sp (ports),
# rpid/spid (processes); both stop and the directory goes when the script exits.
scripts/deps.sh
swift build -c release --product sessiond >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
rp=$(( 20000 + RANDOM % 10000 )); sp=$(( rp + 1 ))
redis-server --port $rp --bind 127.0.0.1 --save "" --appendonly yes --appendfsync everysec --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --loglevel warning >/dev/null
mkdir -p "$dir/sd"
"$bin/sessiond" --port $sp --dir "$dir/sd" --fsync everysec > "$dir/sessiond.log" 2>&1 &
spid=$!
cleanup() { kill $spid 2>/dev/null || true; redis-cli -p $rp shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
for p in $rp $sp; do for _ in $(seq 50); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done; done
rpid=$(cat "$dir/redis.pid")
