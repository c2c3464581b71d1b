#!/usr/bin/env bash
# MariaDB (MySQL protocol) for the tests: a throw-away server in a folder, on 127.0.0.1 only.
# The course's original database was MySQL; the emulator's SQL source is tested against this.
#
#   scripts/services/mariadb.sh install      # Debian's mariadb-server when mariadbd is missing
#   scripts/services/mariadb.sh start DIR    # initialise DIR and start on 127.0.0.1:$MARIADB_PORT
#   scripts/services/mariadb.sh stop DIR     # SIGTERM, then wait
#   scripts/services/mariadb.sh url          # mysql://pinpipe:pinpipe@127.0.0.1:$MARIADB_PORT/mysql
#
# Environment: MARIADB_PORT (default 53306). Creates the user pinpipe (password pinpipe), allowed
# from 127.0.0.1 only, with all privileges: a test server, never a production one.
set -euo pipefail

MARIADB_PORT="${MARIADB_PORT:-53306}"
START_TIMEOUT_SECS=60

die() {
  echo "mariadb.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

server() { command -v mariadbd 2>/dev/null || { [ -x /usr/sbin/mariadbd ] && echo /usr/sbin/mariadbd; }; }

cmd_install() {
  if [ -n "$(server)" ] && command -v mariadb-install-db >/dev/null 2>&1; then
    echo "MariaDB found: $(server)"
    return 0
  fi
  echo "installing Debian's mariadb-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
  [ -n "$(server)" ] || die "mariadbd not found after installing mariadb-server"
}

cmd_start() {
  [ -n "${1:-}" ] || usage
  local dir bin user=()
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
  bin=$(server) || die "MariaDB is not installed: run $0 install"
  if [ "$(id -u)" = 0 ]; then
    local parent="$dir"
    while [ "$parent" != / ]; do chmod o+x "$parent" 2>/dev/null || true; parent=$(dirname "$parent"); done
    chown mysql "$dir"
    user=(--user=mysql)
  fi
  mariadb-install-db --no-defaults "${user[@]}" --datadir="$dir/data" --skip-test-db \
    >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  "$bin" --no-defaults "${user[@]}" --datadir="$dir/data" --socket="$dir/mysql.sock" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --pid-file="$dir/mariadb.pid" \
    --log-error="$dir/mariadb.log" --skip-name-resolve >/dev/null 2>&1 &
  local waited=0
  until mariadb --no-defaults --socket="$dir/mysql.sock" -u root -e "SELECT 1" >/dev/null 2>&1; do
    sleep 0.5
    waited=$((waited + 1))
    if [ "$waited" -ge $((START_TIMEOUT_SECS * 2)) ]; then
      cat "$dir/mariadb.log" >&2 || true
      die "MariaDB did not start (see above)"
    fi
  done
  mariadb --no-defaults --socket="$dir/mysql.sock" -u root -e \
    "CREATE USER 'pinpipe'@'127.0.0.1' IDENTIFIED BY 'pinpipe'; GRANT ALL ON *.* TO 'pinpipe'@'127.0.0.1';"
  echo "MariaDB on 127.0.0.1:$MARIADB_PORT, data in $dir/data"
}

cmd_stop() {
  [ -n "${1:-}" ] || usage
  local pidfile="$1/mariadb.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  url) echo "mysql://pinpipe:pinpipe@127.0.0.1:$MARIADB_PORT/mysql" ;;
  *) usage ;;
esac
