#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 (trust auth, user
# postgres): uses a running one, starts the local cluster if it is down, and
# installs PostgreSQL from the distribution if it is missing.
set -euo pipefail

host=127.0.0.1
port=5432

answers() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }

if command -v pg_isready >/dev/null 2>&1 && answers; then
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "ensure-postgres: PostgreSQL not installed; installing it" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
fi

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ensure-postgres: starting cluster $version/main" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
fi

for _ in $(seq 1 60); do
  if answers; then
    exit 0
  fi
  sleep 0.5
done
echo "ensure-postgres: no PostgreSQL answers on $host:$port; start one or set DATABASE_URL / TEST_DATABASE_URL" >&2
exit 1
