#!/usr/bin/env bash
# PostgreSQL for the tests: a throw-away cluster in a folder, listening on 127.0.0.1 only.
#
#   scripts/services/postgres.sh install      # Debian's postgresql when pg_ctl is missing
#   scripts/services/postgres.sh start DIR    # initdb (trust auth, once) + start on 127.0.0.1:$PG_PORT
#   scripts/services/postgres.sh stop DIR     # fast shutdown
#   scripts/services/postgres.sh url          # postgres://postgres@127.0.0.1:$PG_PORT/postgres
#
# Environment: PG_PORT (default 55432, away from a PostgreSQL the machine may already run).
# As root, the server runs as the `postgres` user (initdb refuses root); DIR is made theirs.
set -euo pipefail

PG_PORT="${PG_PORT:-55432}"
START_TIMEOUT_SECS=60

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

cmd_install() {
  if bindir >/dev/null && command -v psql >/dev/null 2>&1; then
    echo "PostgreSQL found: $(bindir)"
    return 0
  fi
  echo "installing Debian's postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
  bindir >/dev/null || die "pg_ctl not found after installing postgresql"
}

cmd_start() {
  [ -n "${1:-}" ] || usage
  local dir bin
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
  bin=$(bindir) || die "PostgreSQL is not installed: run $0 install"
  if [ "$(id -u)" = 0 ]; then
    # The server's user must reach DIR through its parents.
    local parent="$dir"
    while [ "$parent" != / ]; do chmod o+x "$parent" 2>/dev/null || true; parent=$(dirname "$parent"); done
    chown postgres "$dir"
  fi
  # A second start of the same DIR restarts the same cluster (its data kept).
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$START_TIMEOUT_SECS" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $dir -c max_connections=200" start >/dev/null \
    || { cat "$dir/postgres.log" >&2; die "PostgreSQL did not start (see above)"; }
  echo "PostgreSQL on 127.0.0.1:$PG_PORT, data in $dir/data"
}

cmd_stop() {
  [ -n "${1:-}" ] || usage
  local bin
  [ -d "$1/data" ] || return 0
  bin=$(bindir) || return 0
  as_owner "$bin/pg_ctl" -D "$(cd "$1" && pwd)/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  url) echo "postgres://postgres@127.0.0.1:$PG_PORT/postgres" ;;
  *) usage ;;
esac
