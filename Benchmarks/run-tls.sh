#!/usr/bin/env bash
# TLS against plain TCP (issue 13): N Spring sessions in one redis-server serving both a
# plain port and a TLS port (certificates made here with openssl); `sessionctl ls -o jsonl`
# over each, alternating which goes first. Prints times and the TLS/plain speed ratio.
# Not a test: no thresholds. Usage: Benchmarks/run-tls.sh [SESSIONS=1000000] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
source Benchmarks/common.sh
dir=$(mktemp -d)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/server.crt" \
  -days 2 -extfile "$dir/san.ext" 2>/dev/null
port=$(( 20000 + RANDOM % 9000 )); tport=$((port + 1))
redis-server --port "$port" --tls-port "$tport" --tls-cert-file "$dir/server.crt" --tls-key-file "$dir/server.key" \
  --tls-ca-cert-file "$dir/ca.crt" --tls-auth-clients no --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --daemonize no --loglevel warning &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
"$bin/session-seed" --store "redis://127.0.0.1:$port" --spring "$N" --users 50000 >&2
now() { date +%s.%N; }
plain() { local t0; t0=$(now); "$bin/sessionctl" ls --store "redis://127.0.0.1:$port" -o jsonl > "$out/plain.jsonl"; echo "$(now) - $t0" | bc; }
tls() { local t0; t0=$(now); "$bin/sessionctl" ls --store "rediss://127.0.0.1:$tport" --cacert "$dir/ca.crt" -o jsonl > "$out/tls.jsonl"; echo "$(now) - $t0" | bc; }
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then p=$(plain); t=$(tls); else t=$(tls); p=$(plain); fi
  echo "round $r: plain TCP ${p} s ($(wc -l < "$out/plain.jsonl") rows) | TLS ${t} s ($(wc -l < "$out/tls.jsonl") rows) | TLS/plain speed $(echo "scale=2; $p / $t" | bc)x"
done
