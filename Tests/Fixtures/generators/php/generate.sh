#!/usr/bin/env bash
# Real PHP sessions (php-cli + php-redis, Debian packages) for the fixtures in
# Tests/Fixtures/frameworks/php.json: one session per serialize_handler (php,
# php_serialize, php_binary), written by phpredis's session handler, then read back from
# Redis byte for byte. Needs: redis-server, php-cli, php-redis, python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../frameworks/php.json}
port=$(( 41000 + RANDOM % 2000 ))
dir=$(mktemp -d)
redis-server --port $port --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/r.pid" >/dev/null
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
i=0
for h in php php_serialize php_binary; do
  i=$((i + 1))
  php -d session.save_handler=redis -d session.save_path="tcp://127.0.0.1:$port" "$here/sessions.php" "$h" "phpsess${i}abcdef0123456789" "alice$i"
done
python3 "$here/../dump_redis.py" $port "$out" "php -d session.save_handler=redis, serialize_handler php / php_serialize / php_binary ($(php -r 'echo PHP_VERSION;'), phpredis $(php -r 'echo phpversion("redis");'))"
