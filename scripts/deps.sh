#!/usr/bin/env bash
# Installs the system packages sessionctl needs to build, test and demo, when missing.
# Runs `apt-get update` at most once. Uses sudo when not root.
set -euo pipefail
packages=(
  libncurses-dev libhiredis-dev zlib1g-dev redis-server redis-tools tmux pkg-config
  # TLS to Redis (OpenSSL), and certificates made by the TLS tests
  libssl-dev openssl
  # the --ssh tests run their own sshd; Sentinel tests their own redis-sentinel
  openssh-server openssh-client redis-sentinel
  # SQL session stores: SQLite's C library (the Django tests write with python3's own sqlite3)
  libsqlite3-dev
  # network namespaces for the partition drill
  iproute2
  # the install test renders the generated man pages
  man-db
  # memcached and the frameworks whose sessions the memcached tests write and read back
  memcached sasl2-bin php-cli php-memcached php-memcache ruby-rack ruby-dalli ruby-connection-pool
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts the services it installs (redis on 6379, memcached on 11211 on some
  # images); the tests and the demo run their own on free ports and never need them.
  for service in memcached ssh redis-sentinel; do $SUDO service "$service" stop >/dev/null 2>&1 || true; done
fi
# Django and pymemcache (PyPI) for the python3 on PATH, which the tests run.
if ! python3 -c "import django, pymemcache" 2>/dev/null; then
  echo "installing from PyPI: django pymemcache" >&2
  python3 -m pip install -q django pymemcache 2>/dev/null \
    || python3 -m pip install -q --break-system-packages django pymemcache
fi
