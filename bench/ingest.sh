#!/usr/bin/env bash
# Ingest benchmark: pinpipe's HTTP ingest with durable acks, against a no-op axum echo server on
# the same machine under the same load (the practical limit of HTTP here), in one run.
#
#   bench/ingest.sh                 # local log
#   BENCH_KAFKA=1 bench/ingest.sh   # also the kafka backend against tansu (started here)
#
# Needs wrk (Debian) and oha (cargo install oha) for the fixed-rate latency run.
# Knobs: BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_THREADS (1: wrk on one core, the
# server on the other), BENCH_RATE (10000), BENCH_BATCH (1000 events per batch request),
# BENCH_BATCH_CONNECTIONS (4).
# Each pinpipe run is against `pinpipe serve` (ingest and the log alone) and again against
# `pinpipe up` (the speed layer and the lake writer reading the log on the same two cores).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-1}
BATCH_CONNS=${BENCH_BATCH_CONNECTIONS:-4}
RATE=${BENCH_RATE:-10000}
BATCH=${BENCH_BATCH:-1000}
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
# BENCH_BIN=FILE measures that binary instead of building one (two builds, one machine state).
[ -n "${BENCH_BIN:-}" ] || cargo build --release --locked -q -p pinpipe --bin pinpipe
cargo build --release --locked -q -p pinpipe-ingest --example noop_server
cargo build --release --locked -q -p pinpipe-log --example log_bench
BIN=${BENCH_BIN:-$CARGO_TARGET_DIR/release/pinpipe}
NOOP=$CARGO_TARGET_DIR/release/examples/noop_server
LOGBENCH=$CARGO_TARGET_DIR/release/examples/log_bench

# shellcheck source=bench/lib.sh
. bench/lib.sh

# Realistic pins from the seeded generator, keeping those ingest accepts (the generator also
# writes dirty events, which /pins would refuse as a whole): PINS_FILE for single events,
# the first BATCH of them as the NDJSON batch body.
python3 bench/gen_events.py --type pin --count 30000 --seed 7 | python3 -c '
import json, re, sys
# pinpipe reads -0 as a float (docs/contract-notes.md, note 1); Python as an int.
minus_zero = re.compile(r"[:\[,]\s*-0\s*[,}\]]")
def ok(v, types):
    return v is None or (type(v) in types)
for line in sys.stdin:
    if minus_zero.search(line):
        continue
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if not isinstance(e, dict) or type(e.get("index")) is not int or type(e.get("unique_id")) is not str:
        continue
    if not all(ok(e.get(f), (str,)) for f in ("title", "description", "poster_name", "tag_list",
            "is_image_or_video", "image_src", "save_location", "category")):
        continue
    if not ok(e.get("follower_count"), (str, int)) or not ok(e.get("downloaded"), (int, bool)):
        continue
    if any(abs(v) >= 2**63 for v in (e["index"], e.get("follower_count"), e.get("downloaded")) if type(v) is int):
        continue
    sys.stdout.write(line)
' > "$WORK/pins.jsonl"
export PINS_FILE="$WORK/pins.jsonl"
head -n "$BATCH" "$WORK/pins.jsonl" > "$WORK/batch.ndjson"
[ "$(wc -l < "$WORK/batch.ndjson")" -eq "$BATCH" ] || { echo "not enough valid generated pins" >&2; exit 1; }

# run_wrk NAME PORT SCRIPT [CONNECTIONS] -> prints "rps p50 p99 non2xx"
run_wrk() {
  local name=$1 port=$2 script=$3 conns=${4:-$CONNS}
  wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s "$script" "http://127.0.0.1:$port" > "$WORK/$name.wrk" 2>&1
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$name.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/$name.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/$name.wrk")
  bad=$(awk '/Non-2xx/ {print $5}' "$WORK/$name.wrk")
  echo "$rps ${p50:-?} ${p99:-?} ${bad:-0}"
}

rss_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

start_pinpipe() { # start_pinpipe PORT DATADIR [ENV...]; BENCH_CMD=up for the whole pipeline
  local port=$1 dir=$2; shift 2
  env "$@" RUST_LOG=warn "$BIN" "${BENCH_CMD:-serve}" --listen "127.0.0.1:$port" --observe-listen "${OBSERVE_LISTEN:-127.0.0.1:0}" \
    --data-dir "$dir" > "$WORK/serve-$port.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
  wait_port "$port" || { echo "pinpipe did not start; its log:" >&2; cat "$WORK/serve-$port.log" >&2; return 1; }
}

echo "# ingest benchmark  $(date -u +%FT%TZ)  $(nproc) cores  wrk -t$THREADS -c$CONNS -d$DURATION"
"$NOOP" 127.0.0.1:8100 2>/dev/null &
PIDS+=($!)
wait_port 8100

read -r noop_rps noop_p50 noop_p99 noop_bad < <(run_wrk noop 8100 bench/wrk/pin.lua)
read -r noopb_rps _ _ _ < <(BATCH_FILE="$WORK/batch.ndjson" run_wrk noopb 8100 bench/wrk/batch.lua "$BATCH_CONNS")

export PATH="$PATH:$HOME/.cache/pinpipe/oha/bin"
# Each run gets a fresh server, so its peak RSS belongs to that run alone.
start_pinpipe 8000 "$WORK/local"
read -r pp_rps pp_p50 pp_p99 pp_bad < <(run_wrk local 8000 bench/wrk/pin.lua)
pp_rss=$(rss_mb "$LAST_PID"); kill -TERM "$LAST_PID"; wait "$LAST_PID" || true
stored=$("$BIN" topics --json --data-dir "$WORK/local" | python3 -c 'import json,sys; print(sum(p["end_offset"] for t in json.load(sys.stdin) for p in t["partitions"]))')

start_pinpipe 8000 "$WORK/localb"
read -r ppb_rps _ ppb_p99 ppb_bad < <(BATCH_FILE="$WORK/batch.ndjson" run_wrk localb 8000 bench/wrk/batch.lua "$BATCH_CONNS")
ppb_rss=$(rss_mb "$LAST_PID"); kill -TERM "$LAST_PID"; wait "$LAST_PID" || true

# The same two loads against `pinpipe up`.
BENCH_CMD=up start_pinpipe 8000 "$WORK/up"
read -r up_rps up_p50 up_p99 up_bad < <(run_wrk up 8000 bench/wrk/pin.lua)
up_rss=$(rss_mb "$LAST_PID"); kill -TERM "$LAST_PID"; wait "$LAST_PID" || true
BENCH_CMD=up start_pinpipe 8000 "$WORK/upb"
read -r upb_rps _ upb_p99 upb_bad < <(BATCH_FILE="$WORK/batch.ndjson" run_wrk upb 8000 bench/wrk/batch.lua "$BATCH_CONNS")
upb_rss=$(rss_mb "$LAST_PID"); kill -TERM "$LAST_PID"; wait "$LAST_PID" || true

rate_line="(oha not installed: cargo install oha)"
rate_rss="-"
if command -v oha >/dev/null; then
  start_pinpipe 8000 "$WORK/localr"
  body=$(head -1 "$WORK/batch.ndjson")
  oha -z "$DURATION" -q "$RATE" -c "$CONNS" --latency-correction --no-tui --output-format json \
    -m POST -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:8000/pin/ > "$WORK/rate.json" 2>/dev/null || true
  rate_line=$(python3 - "$WORK/rate.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
s, p = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
print(f"achieved {s['requestsPerSec']:.0f} req/s, p50 {p['p50']*1000:.2f} ms, p99 {p['p99']*1000:.2f} ms, statuses {codes}")
EOF
)
  rate_rss=$(rss_mb "$LAST_PID"); kill -TERM "$LAST_PID"; wait "$LAST_PID" || true
fi
VALUES_FILE="$PINS_FILE" "$LOGBENCH" local "$WORK/logonly" 200000 64 1 > "$WORK/logbench" 2>&1
log_rate=$(sed -n 's/.*events_per_sec=\([0-9]*\).*/\1/p' "$WORK/logbench")

ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
echo
echo "| run | events/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|"
echo "| no-op axum echo, POST /pin/ | ${noop_rps%.*} | $noop_p50 | $noop_p99 | $noop_bad |"
echo "| pinpipe local log, POST /pin/ (durable) | ${pp_rps%.*} | $pp_p50 | $pp_p99 | $pp_bad |"
echo "| no-op axum echo, POST /pins ($BATCH per request) | $(python3 -c "print(int(float($noopb_rps)*$BATCH))") | | | |"
echo "| pinpipe local log, POST /pins ($BATCH per request) | $(python3 -c "print(int(float($ppb_rps)*$BATCH))") | | $ppb_p99 | $ppb_bad |"
echo "| pinpipe up, POST /pin/ (durable) | ${up_rps%.*} | $up_p50 | $up_p99 | $up_bad |"
echo "| pinpipe up, POST /pins ($BATCH per request) | $(python3 -c "print(int(float($upb_rps)*$BATCH))") | | $upb_p99 | $upb_bad |"
echo "| local log alone (64 concurrent appends of 1, no HTTP) | $log_rate | | | |"
echo
echo "pinpipe / no-op (POST /pin/): $(ratio "$pp_rps" "$noop_rps")"
echo "pinpipe / no-op (POST /pins): $(ratio "$ppb_rps" "$noopb_rps")"
echo "pinpipe up / no-op (POST /pin/): $(ratio "$up_rps" "$noop_rps"); (POST /pins): $(ratio "$upb_rps" "$noopb_rps")"
echo "fixed rate $RATE/s on POST /pin/ (oha, latency-corrected): $rate_line"
echo "pinpipe peak RSS: ${pp_rss} MB (POST /pin/ run), ${ppb_rss} MB (POST /pins run), ${rate_rss} MB (fixed-rate run); pinpipe up: ${up_rss} MB (POST /pin/), ${upb_rss} MB (POST /pins); events stored in the single-event run: $stored"

if [ "${BENCH_KAFKA:-0}" = 1 ]; then
  scripts/services/tansu.sh install >/dev/null
  TANSU_PORT=19092 scripts/services/tansu.sh start "$WORK/tansu" >/dev/null
  start_pinpipe 8001 "$WORK/kafka" PINPIPE_LOG__URL=kafka://127.0.0.1:19092
  PK=$LAST_PID
  read -r k_rps k_p50 k_p99 k_bad < <(run_wrk kafka 8001 bench/wrk/pin.lua)
  read -r kb_rps _ kb_p99 kb_bad < <(BATCH_FILE="$WORK/batch.ndjson" run_wrk kafkab 8001 bench/wrk/batch.lua)
  k_rss=$(rss_mb "$PK")
  kill -TERM "$PK"; wait "$PK" || true
  VALUES_FILE="$PINS_FILE" "$LOGBENCH" kafka://127.0.0.1:19092 "$WORK/klog" 200000 64 1 > "$WORK/klogbench" 2>&1 || cat "$WORK/klogbench"
  VALUES_FILE="$PINS_FILE" "$LOGBENCH" kafka://127.0.0.1:19092 "$WORK/klog" 200000 8 1000 > "$WORK/klogbench2" 2>&1 || cat "$WORK/klogbench2"
  echo
  echo "| kafka backend (tansu, sqlite engine) | events/s | p50 | p99 | non-2xx |"
  echo "|---|---:|---:|---:|---:|"
  echo "| pinpipe POST /pin/ | ${k_rps%.*} | $k_p50 | $k_p99 | $k_bad |"
  echo "| pinpipe POST /pins ($BATCH per request) | $(python3 -c "print(int(float($kb_rps)*$BATCH))") | | $kb_p99 | $kb_bad |"
  echo "| tansu alone, librdkafka acks=all, 64 concurrent single sends | $(sed -n 's/.*events_per_sec=\([0-9]*\).*/\1/p' "$WORK/klogbench") | | | |"
  echo "| tansu alone, librdkafka acks=all, 8 x 1000-record sends | $(sed -n 's/.*events_per_sec=\([0-9]*\).*/\1/p' "$WORK/klogbench2") | | | |"
  echo "pinpipe (kafka) peak RSS: ${k_rss} MB"
  scripts/services/tansu.sh stop "$WORK/tansu" >/dev/null
fi
