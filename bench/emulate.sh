#!/usr/bin/env bash
# Emulator benchmark: how fast `pinpipe emulate` sends to a no-op axum echo server (the upper
# limit of HTTP on this machine), against wrk sending the same bodies to the same server in the
# same run (the baseline), so the ratio says how close the emulator comes to a C load generator.
#
#   bench/emulate.sh
#
# Needs wrk (Debian). Knobs: BENCH_DURATION (10s, wrk), BENCH_COUNT (400000 single events),
# BENCH_CONNECTIONS (64), BENCH_BATCH (500 events per batch request), BENCH_RATE (20000/s for the
# fixed-rate run).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
COUNT=${BENCH_COUNT:-400000}
CONNS=${BENCH_CONNECTIONS:-64}
BATCH=${BENCH_BATCH:-500}
RATE=${BENCH_RATE:-20000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pinpipe/target}
WORK=$(mktemp -d /tmp/pinpipe-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -q -p pinpipe --bin pinpipe
cargo build --release --locked -q -p pinpipe-ingest --example noop_server
BIN=$CARGO_TARGET_DIR/release/pinpipe
NOOP=$CARGO_TARGET_DIR/release/examples/noop_server

# shellcheck source=bench/lib.sh
. bench/lib.sh

# The emulator's own pins (seed 7) for wrk: the same bodies both ways.
"$BIN" emulate --export "$WORK/tables" --seed 7 > /dev/null 2>&1
export PINS_FILE="$WORK/tables/pinterest_data.jsonl"
head -n "$BATCH" "$PINS_FILE" > "$WORK/batch.ndjson"
export BATCH_FILE="$WORK/batch.ndjson"

"$NOOP" 127.0.0.1:8100 2>/dev/null &
PIDS+=($!)
wait_port 8100

# wrk_rps SCRIPT -> requests per second
wrk_rps() {
  wrk -t2 -c"$CONNS" -d"$DURATION" -s "$1" http://127.0.0.1:8100 | awk '/^Requests\/sec/ {print $2}'
}

# emulate ARGS... -> "events_per_s accepted sent p50 p99 cpu_s rss_mb"
emulate() {
  /usr/bin/env time -f "%U %S %M" -o "$WORK/time" \
    "$BIN" emulate --url http://127.0.0.1:8100 --only pin --seed 7 --json "$@" > "$WORK/summary.json"
  python3 - "$WORK/summary.json" "$WORK/time" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
user, system, rss_kb = open(sys.argv[2]).read().split()[-3:]
l = s["latency_ms"]
print(round(s["accepted_per_s"]), s["accepted"], s["sent"], l["p50"], l["p99"],
      round(float(user) + float(system), 2), round(int(rss_kb) / 1024))
PY
}

ratio() { python3 -c "print(f'{float($1) / float($2):.2f}')"; }

echo "# emulator benchmark  $(date -u +%FT%TZ)  $(nproc) cores  no-op axum echo server"
wrk_single=$(wrk_rps bench/wrk/pin.lua)
read -r single_eps single_ok single_sent single_p50 single_p99 single_cpu single_rss \
  < <(emulate --rate 0 --count "$COUNT" --concurrency "$CONNS")
wrk_batch=$(wrk_rps bench/wrk/batch.lua)
read -r batch_eps batch_ok batch_sent _ batch_p99 batch_cpu batch_rss \
  < <(emulate --rate 0 --count $((COUNT * 10)) --mode batch --batch-size "$BATCH" --concurrency 4)
read -r rate_eps rate_ok rate_sent rate_p50 rate_p99 rate_cpu rate_rss \
  < <(emulate --rate "$RATE" --duration 10s --concurrency "$CONNS")
wrk_batch_eps=$(python3 -c "print(round(float($wrk_batch) * $BATCH))")

echo
echo "| run | events/s | accepted / sent | p50 ms | p99 ms | CPU s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
echo "| wrk -t2 -c$CONNS, POST /pin/ (baseline) | ${wrk_single%.*} | | | | | |"
echo "| pinpipe emulate --rate 0 -c $CONNS (single) | $single_eps | $single_ok / $single_sent | $single_p50 | $single_p99 | $single_cpu | $single_rss |"
echo "| wrk -t2 -c$CONNS, POST /pins, $BATCH per request (baseline) | $wrk_batch_eps | | | | | |"
echo "| pinpipe emulate --rate 0 --mode batch ($BATCH per request, 4 connections) | $batch_eps | $batch_ok / $batch_sent | | $batch_p99 | $batch_cpu | $batch_rss |"
echo "| pinpipe emulate --rate $RATE --duration 10s | $rate_eps | $rate_ok / $rate_sent | $rate_p50 | $rate_p99 | $rate_cpu | $rate_rss |"
echo
echo "emulator / wrk (single events): $(ratio "$single_eps" "$wrk_single")"
echo "emulator / wrk (batches): $(ratio "$batch_eps" "$wrk_batch_eps")"
echo "fixed rate held: $(ratio "$rate_sent" "$((RATE * 10))") of $RATE/s x 10 s sent, p99 $rate_p99 ms from the scheduled time"
