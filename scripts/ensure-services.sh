#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1, starting them when installed but stopped, and
# that Debian's Chromium and Azurite (Node.js) are there for the tests. Says exactly what is missing otherwise.
set -u
missing=()

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "Starting PostgreSQL $version..."
    pg_ctlcluster "$version" main status >/dev/null 2>&1 || pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  fi
  pg_up || missing+=("PostgreSQL on 127.0.0.1:5432 (Debian: apt-get install postgresql; trust auth for user postgres over 127.0.0.1)")
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Starting Redis..."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
    for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
  fi
  redis_up || missing+=("Redis on 127.0.0.1:6379 (Debian: apt-get install redis-server)")
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's Chromium for the browser tests..."
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1
  fi
  [ -x /usr/bin/chromium ] || missing+=("Chromium at /usr/bin/chromium (Debian: apt-get install chromium)")
fi

# Azurite (the Blob backend's emulator) is started by each test worker (tests/azurite.py); it needs
# Node.js and the copy `make azurite` puts in .tools/.
if ! command -v node >/dev/null 2>&1; then
  missing+=("Node.js for Azurite, the Azure Storage emulator (Debian: apt-get install nodejs npm)")
elif [ ! -x .tools/node_modules/.bin/azurite-blob ]; then
  missing+=("Azurite in .tools/ (make azurite: npm install --prefix .tools azurite)")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "make test needs these and could not start or install them:" >&2
  for item in "${missing[@]}"; do echo "  - $item" >&2; done
  exit 1
fi
echo "PostgreSQL, Redis, Chromium and Azurite are ready."
