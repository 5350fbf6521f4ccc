#!/usr/bin/env bash
# Real Django and Flask-Session sessions for Tests/Fixtures/frameworks/{django,flask}.json.
# Needs: redis-server, python3 with django, flask, flask-session, redis (pip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for fw in django flask; do
  port=$(( 43000 + RANDOM % 2000 ))
  dir=$(mktemp -d)
  redis-server --port $port --save "" --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/r.pid" >/dev/null
  for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
  origin=$(python3 "$here/${fw}_sessions.py" $port)
  python3 "$here/../dump_redis.py" $port "$here/../../frameworks/$fw.json" "$origin, $(python3 -c 'import flask_session, django; print("flask-session", flask_session.__version__, "django", django.get_version())' 2>/dev/null)"
  redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir"
done
