#!/usr/bin/env bash
# Tansu (https://github.com/tansu-io/tansu), a Kafka-protocol broker in one binary with its data in
# one SQLite file: the broker pinpipe's kafka backend is tested against.
#
#   scripts/services/tansu.sh install      # cargo install tansu 0.6.0 (skipped when installed)
#   scripts/services/tansu.sh start DIR    # broker on 127.0.0.1:$TANSU_PORT, data in DIR/tansu.db
#   scripts/services/tansu.sh stop DIR     # SIGTERM, then SIGKILL after 10 s
#   scripts/services/tansu.sh status DIR   # exit 0 when the broker of DIR is running
#
# Then: TEST_KAFKA_BROKERS=127.0.0.1:9092 cargo test -p pinpipe-log
#
# Environment: TANSU_ROOT (install root, default ~/.cache/pinpipe/tansu), TANSU_PORT (default 9092).
# start writes DIR/tansu.log and DIR/tansu.pid. The broker listens on 127.0.0.1 only.
set -euo pipefail

TANSU_VERSION=0.6.0
TANSU_ROOT="${TANSU_ROOT:-$HOME/.cache/pinpipe/tansu}"
TANSU_BIN="$TANSU_ROOT/bin/tansu"
TANSU_PORT="${TANSU_PORT:-9092}"
START_TIMEOUT_SECS=60
STOP_TIMEOUT_SECS=10

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SVC_SCRIPT=tansu.sh
SVC_USAGE_LINES=2,13
SVC_NAME=tansu
SVC_WHAT="the broker"
SVC_FILES=tansu
SVC_MATCH=tansu
SVC_PORT="$TANSU_PORT"
SVC_PORT_VAR=TANSU_PORT
SVC_SHOWN=

installed() {
  [ -x "$TANSU_BIN" ] && "$TANSU_BIN" --version 2>/dev/null | grep -qw "$TANSU_VERSION"
}

cmd_install() {
  if installed; then
    echo "tansu $TANSU_VERSION already installed: $TANSU_BIN"
    return 0
  fi
  echo "installing tansu $TANSU_VERSION into $TANSU_ROOT (a few minutes the first time)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features libsql --root "$TANSU_ROOT"
  installed || die "$TANSU_BIN does not report version $TANSU_VERSION after installing"
}

cmd_start() {
  local dir pid
  dir="$(data_dir "${1:-}")"
  if already_running "$dir"; then
    return 0
  fi
  installed || die "tansu $TANSU_VERSION is not installed; run: $0 install"
  check_port_free
  # Tansu resolves sqlite:// paths against its working directory (it strips the leading '/'
  # of an absolute path), so it runs inside DIR with a relative database path.
  (
    cd "$dir"
    exec "$TANSU_BIN" broker \
      --listener-url "tcp://127.0.0.1:$TANSU_PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$TANSU_PORT" \
      --storage-engine "sqlite://tansu.db"
  ) </dev/null >>"$dir/tansu.log" 2>&1 &
  pid=$!
  wait_started "$dir" "$pid"
  add_header_index "$dir/tansu.db"
  echo "tansu started (pid $pid) on 127.0.0.1:$TANSU_PORT; data $dir/tansu.db, log $dir/tansu.log"
}

# tansu 0.6.0's SQLite schema has no index on record headers, and its fetch looks up each
# returned record's headers with a full scan of that table: with headers on every record (pinpipe
# sends `request_id`), reads slow down with the square of the data and the broker's one storage
# task stops answering anything else (group heartbeats, metadata) meanwhile. The index makes
# each look-up a seek. Safe while the broker runs; idempotent.
add_header_index() {
  python3 - "$1" <<'PY'
import sqlite3, sys, time
for attempt in range(100):
    try:
        db = sqlite3.connect(sys.argv[1], timeout=10)
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'header'").fetchone():
            db.execute("CREATE INDEX IF NOT EXISTS header_topition_offset_id ON header (topition, offset_id)")
            db.commit()
            break
        db.close()
    except sqlite3.OperationalError:
        pass
    time.sleep(0.1)
else:
    sys.exit("tansu.sh: could not add the header index to " + sys.argv[1])
PY
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *) usage ;;
esac
