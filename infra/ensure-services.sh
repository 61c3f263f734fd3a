#!/usr/bin/env bash
# Start the local PostgreSQL and Redis the tests use, when they are not answering on loopback.
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
# The process tests run the app through PgBouncer in transaction mode (tests/pgbouncer.py starts their own instance).
if [ ! -x /usr/sbin/pgbouncer ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "installing Debian pgbouncer"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null || echo "pgbouncer could not be installed: its tests will skip" >&2
  else
    echo "pgbouncer is missing: run 'sudo apt-get install -y pgbouncer' (the PgBouncer tests skip without it)" >&2
  fi
fi
pg_isready -h 127.0.0.1 -p 5432
redis-cli -h 127.0.0.1 -p 6379 ping
