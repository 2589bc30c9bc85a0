#!/usr/bin/env bash
# Installs (apt) and starts the real PostgreSQL and Redis servers the integration tests use, on
# loopback ports of their own, and prints the DATABASE_URL / REDIS_URL exports for them.
set -euo pipefail
PG_PORT=${PG_PORT:-54329}
REDIS_PORT=${REDIS_PORT:-63799}
STATE=${SERVICES_DIR:-/tmp/signal-ci-services}

need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "$STATE"
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" >&2
fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_DATA="$STATE/pgdata"
if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; then
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA" && chown -R postgres "$STATE"
    su postgres -c "$PG_BIN/initdb -D $PG_DATA -A trust -U postgres" >&2
  fi
  chown -R postgres "$STATE"
  su postgres -c "$PG_BIN/pg_ctl -D $PG_DATA -l $STATE/postgres.log -w start \
    -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300'" >&2
fi
for _ in $(seq 1 30); do "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1 && break; sleep 1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null

echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/signal"
echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
