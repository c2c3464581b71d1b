#!/usr/bin/env bash
# Speed-layer benchmark, SQLite and PostgreSQL (a throw-away server started here):
#   - catch-up: 1,000,000 events already in the local log, then `pinpipe stream` from nothing;
#     events/s until the serving DB's offsets cover the whole log (process start included);
#   - freshness: `pinpipe up` under the emulator at BENCH_RATE events/s (open loop) while a probe
#     posts marked pins and polls the serving DB: HTTP 200 -> row visible, p50/p90/p99/max.
#
#   bench/stream.sh
#
# Knobs: BENCH_EVENTS (1000000), BENCH_RATE (5000), BENCH_PROBES (100, one every 200 ms).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${BENCH_EVENTS:-1000000}
RATE=${BENCH_RATE:-5000}
PROBES=${BENCH_PROBES:-100}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pinpipe/target}
WORK=$(mktemp -d /tmp/pinpipe-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PG_PORT=55442 scripts/services/postgres.sh stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# BENCH_BIN=FILE measures that binary instead of building one (two builds, one machine state).
[ -n "${BENCH_BIN:-}" ] || cargo build --release --locked -q -p pinpipe --bin pinpipe
cargo build --release --locked -q -p pinpipe-stream --example freshness_probe
# Admin listeners on free ports: the default 127.0.0.1:8001 would be taken by the first process.
export PINPIPE_OBSERVE__LISTEN=${PINPIPE_OBSERVE__LISTEN:-127.0.0.1:0}
BIN=${BENCH_BIN:-$CARGO_TARGET_DIR/release/pinpipe}
PROBE=$CARGO_TARGET_DIR/release/examples/freshness_probe
export RUST_LOG=warn

scripts/services/postgres.sh install >/dev/null
PG_PORT=55442 scripts/services/postgres.sh start "$WORK/pg" >/dev/null
PG_ADMIN=postgres://postgres@127.0.0.1:55442/postgres

# shellcheck source=bench/lib.sh
. bench/lib.sh

applied() { # applied DATADIR -> records the serving DB's offsets cover
  "$BIN" --data-dir "$1" sql --on serving --format csv "SELECT COALESCE(SUM(next_offset), 0) FROM stream_offsets" 2>/dev/null | tail -1
}

# The log, filled once: EVENTS events from the emulator in batches.
"$BIN" --data-dir "$WORK/log" serve --listen 127.0.0.1:8130 > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_port 8130
"$BIN" emulate --url http://127.0.0.1:8130 --count "$EVENTS" --rate 0 --mode batch --batch-size 1000 \
  --concurrency 4 --seed 5 --quiet > /dev/null
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

catch_up() { # catch_up NAME [SERVING_URL] -> events/s
  local dir="$WORK/catchup-$1"
  cp -r "$WORK/log" "$dir"
  local start end
  start=$(date +%s.%N)
  PINPIPE_SERVING__URL="${2:-}" "$BIN" --data-dir "$dir" stream > "$WORK/stream-$1.log" 2>&1 &
  local pid=$!
  until [ "$(PINPIPE_SERVING__URL="${2:-}" applied "$dir")" = "$EVENTS" ]; do sleep 0.2; done
  end=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "print(round($EVENTS / ($end - $start)))"
}

freshness() { # freshness NAME PORT [SERVING_URL] -> "probes p50 p90 p99 max held_rate"
  local dir="$WORK/fresh-$1" url="${3:-sqlite:$WORK/fresh-$1/serving.db}"
  PINPIPE_SERVING__URL="${3:-}" "$BIN" --data-dir "$dir" up --listen "127.0.0.1:$2" > "$WORK/up-$1.log" 2>&1 &
  local pid=$!
  wait_port "$2"
  local seconds=$((PROBES / 5 + 10))
  "$BIN" emulate --url "http://127.0.0.1:$2" --rate "$RATE" --duration "${seconds}s" --quiet --json \
    > "$WORK/emulate-$1.json" &
  local emulator=$!
  sleep 3
  local probe
  probe=$("$PROBE" "127.0.0.1:$2" "$url" "$PROBES" 200)
  wait "$emulator"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$probe $(python3 -c "import json; s = json.load(open('$WORK/emulate-$1.json')); print(round(s['accepted_per_s']))")"
}

psql "$PG_ADMIN" -qc "CREATE DATABASE catchup" -c "CREATE DATABASE fresh"
echo "# speed-layer benchmark  $(date -u +%FT%TZ)  $(nproc) cores  $EVENTS events, $RATE/s"
sqlite_catchup=$(catch_up sqlite)
pg_catchup=$(catch_up postgres "postgres://postgres@127.0.0.1:55442/catchup")
read -r _ s50 s90 s99 smax srate < <(freshness sqlite 8131)
read -r _ p50 p90 p99 pmax prate < <(freshness postgres 8132 "postgres://postgres@127.0.0.1:55442/fresh")
echo
echo "| serving DB | catch-up events/s | freshness p50 ms | p90 ms | p99 ms | max ms | load held (events/s) |"
echo "|---|---|---|---|---|---|---|"
echo "| SQLite | $sqlite_catchup | $s50 | $s90 | $s99 | $smax | $srate |"
echo "| PostgreSQL 15 | $pg_catchup | $p50 | $p90 | $p99 | $pmax | $prate |"
