#!/usr/bin/env bash
# Batch-layer benchmark on the local lake:
#   - lake writer: BENCH_PINS pin events plus their geo and user events (3 x BENCH_PINS) already in
#     the local log, then `pinpipe lake --once` from nothing: events/s into the raw zone. Baseline
#     in the same run: reading the same log with `pinpipe tail --format value > /dev/null` (every
#     topic), i.e. what the writer costs over just reading the log;
#   - batch job: `pinpipe batch --date TODAY --json` over that raw zone (clean, de-duplicate,
#     Delta, all 11 analytics, serving DB): wall time, peak RSS (/usr/bin/time) and the stages;
#     twice with the default memory pool (1024 MiB), then once with BENCH_LOW_MEMORY_MB (512).
#     Baseline in the same run: `pinpipe clean --type pin --dedup` over the pins alone (one
#     thread, streaming), i.e. the batch job's cost against the plain cleaning of a third of it;
#   - the same batch job on a Ballista cluster on this machine (`pinpipe ballista-scheduler` and
#     two `pinpipe ballista-executor --vcores 1`, `pinpipe batch --engine ballista://…`): wall
#     time against the in-process run 1 above, peak RSS of each process (BENCH_CLUSTER=0 skips).
#
#   bench/batch.sh
#
# Knobs: BENCH_PINS (1000000; BENCH_PINS=3333334 gives the 10,000,000-event run), BENCH_KEYS:
#   distinct (default) a built-in data set of BENCH_PINS rows sent once each, in order: every pin,
#            geo and user key is distinct, so nothing de-duplicates away and the curated tables
#            and the analytics' joins are as large as the input (the hard case);
#   course   the course emulator's way: the 11,154-row data set sampled with replacement, so the
#            curated tables hold at most 11,154 rows per type.
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=${BENCH_PINS:-1000000}
EVENTS=$((PINS * 3))
case "${BENCH_KEYS:-distinct}" in
  distinct) DATA=(--rows "$PINS" --order sequential) ;;
  course) DATA=(--order random) ;;
  *) echo "BENCH_KEYS is distinct or course" >&2; exit 2 ;;
esac
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pinpipe/target}
WORK=$(mktemp -d /tmp/pinpipe-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# BENCH_BIN=FILE measures that binary instead of building one (two builds, one machine state).
[ -n "${BENCH_BIN:-}" ] || cargo build --release --locked -q -p pinpipe --bin pinpipe
# Admin listeners on free ports: the default 127.0.0.1:8001 would be taken by the first process.
export PINPIPE_OBSERVE__LISTEN=${PINPIPE_OBSERVE__LISTEN:-127.0.0.1:0}
BIN=${BENCH_BIN:-$CARGO_TARGET_DIR/release/pinpipe}
export RUST_LOG=warn

# shellcheck source=bench/lib.sh
. bench/lib.sh

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):,.0f}')"; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# The log, filled once: pin, geo and user events from the emulator in batches.
"$BIN" --data-dir "$WORK/d" serve --listen 127.0.0.1:8140 > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_port 8140
start=$(now)
"$BIN" emulate --url http://127.0.0.1:8140 "${DATA[@]}" --count "$EVENTS" --rate 0 --mode batch --batch-size 1000 \
  --concurrency 4 --seed 5 --quiet > /dev/null
end=$(now)
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
echo "loaded $EVENTS events (keys: ${BENCH_KEYS:-distinct}) in $(secs "$start" "$end") s ($(rate "$EVENTS" "$start" "$end") events/s through HTTP)"
du -sh "$WORK/d" | sed 's/^/log size: /'

# Baseline: reading every topic of the log.
start=$(now)
for topic in pins geos users; do
  "$BIN" --data-dir "$WORK/d" tail --topic "$topic" --format value > /dev/null
done
end=$(now)
read_rate=$(rate "$EVENTS" "$start" "$end")
echo "baseline, reading the log (tail --format value): $(secs "$start" "$end") s, $read_rate events/s"

# The lake writer from nothing.
start=$(now)
/usr/bin/time -f "%M" -o "$WORK/lake.rss" "$BIN" --data-dir "$WORK/d" lake --once
end=$(now)
lake_rate=$(rate "$EVENTS" "$start" "$end")
echo "lake writer --once: $(secs "$start" "$end") s, $lake_rate events/s, peak RSS $(( $(cat "$WORK/lake.rss") / 1024 )) MB"
du -sh "$WORK/d/lake/raw" | sed 's/^/raw zone size: /'
find "$WORK/d/lake/raw" -name '*.parquet' | wc -l | sed 's/^/raw files: /'

# Baseline: the plain cleaning of the pins, one thread.
"$BIN" --data-dir "$WORK/d" tail --topic pins --format value > "$WORK/pins.jsonl"
start=$(now)
"$BIN" clean --type pin --dedup < "$WORK/pins.jsonl" > /dev/null
end=$(now)
clean_secs=$(secs "$start" "$end")
rm -f "$WORK/pins.jsonl"
echo "baseline, clean --type pin --dedup over the $PINS pins: $clean_secs s"

# The batch job, twice (the second run overwrites: idempotent re-run).
for run in 1 2; do
  start=$(now)
  /usr/bin/time -f "%M" -o "$WORK/batch.rss" "$BIN" --data-dir "$WORK/d" batch --date "$(date -u +%F)" --json > "$WORK/batch.json"
  end=$(now)
  [ "$run" = 1 ] && local_secs=$(secs "$start" "$end")
  echo "batch run $run: $(secs "$start" "$end") s wall, peak RSS $(( $(cat "$WORK/batch.rss") / 1024 )) MB"
  python3 - "$WORK/batch.json" "$clean_secs" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("  stages: " + ", ".join(f"{st['name']} {st['seconds']:.2f} s" for st in s["stages"]))
print(f"  raw records {sum(s['raw_records']):,}, curated rows {s['curated_rows']}, total {s['seconds']:.2f} s"
      f" = {s['seconds'] / float(sys.argv[2]):.2f}x the one-thread clean of the pins")
PY
done
du -sh "$WORK/d/lake/curated" | sed 's/^/curated size: /'

# A smaller memory pool ([batch] memory_limit_mb, through the environment; BENCH_LOW_MEMORY_MB,
# default 512): the run spills more. It is reported, not required: DataFusion's external sort
# needs room to merge its spill files, so too small a pool for the input fails (at 10M events,
# 256 MiB did: "Not enough memory to continue external sort").
low=${BENCH_LOW_MEMORY_MB:-512}
start=$(now)
if PINPIPE_BATCH__MEMORY_LIMIT_MB=$low /usr/bin/time -f "%M" -o "$WORK/batch.rss" \
  "$BIN" --data-dir "$WORK/d" batch --date "$(date -u +%F)" --json > "$WORK/batch.json" 2> "$WORK/batch.err"; then
  end=$(now)
  echo "batch run 3, memory_limit_mb = $low: $(secs "$start" "$end") s wall, peak RSS $(( $(cat "$WORK/batch.rss") / 1024 )) MB"
else
  echo "batch run 3, memory_limit_mb = $low: FAILED: $(head -c 300 "$WORK/batch.err")"
fi

# The same job on a Ballista cluster on this machine: a scheduler and two executors with one
# task slot each (the machine's two cores), each executor's memory pool [batch] memory_limit_mb.
if [ "${BENCH_CLUSTER:-1}" != 0 ]; then
  "$BIN" --data-dir "$WORK/d" ballista-scheduler --bind 127.0.0.1:8150 > "$WORK/scheduler.log" 2>&1 &
  SCHEDULER=$!
  PIDS+=("$SCHEDULER")
  wait_port 8150
  EXECUTORS=()
  for i in 0 1; do
    RUST_LOG=info "$BIN" --data-dir "$WORK/d" ballista-executor --scheduler 127.0.0.1:8150 --port $((8151 + 10 * i)) \
      --grpc-port $((8152 + 10 * i)) --work-dir "$WORK/executor-$i" --vcores 1 > "$WORK/executor-$i.log" 2>&1 &
    EXECUTORS+=($!)
    PIDS+=($!)
    wait_port $((8151 + 10 * i))
  done
  sleep 1 # the executors register with the scheduler right after binding
  peak() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
  for run in 1 2; do
    start=$(now)
    if ! /usr/bin/time -f "%M" -o "$WORK/batch.rss" "$BIN" --data-dir "$WORK/d" batch --date "$(date -u +%F)" \
      --json --engine ballista://127.0.0.1:8150 > "$WORK/batch.json" 2> "$WORK/batch.err"; then
      echo "cluster batch run $run: FAILED after $(secs "$start" "$(now)") s: $(grep -m1 'pinpipe: error' "$WORK/batch.err" | head -c 400)"
      continue
    fi
    end=$(now)
    cluster_secs=$(secs "$start" "$end")
    echo "cluster batch run $run (1 scheduler, 2 executors x 1 slot): $cluster_secs s wall" \
      "= $(python3 -c "print(f'{$cluster_secs / $local_secs:.2f}')")x the in-process run 1;" \
      "peak RSS: client $(( $(cat "$WORK/batch.rss") / 1024 )) MB, scheduler $(peak "$SCHEDULER") MB," \
      "executors $(peak "${EXECUTORS[0]}") and $(peak "${EXECUTORS[1]}") MB"
    python3 - "$WORK/batch.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("  stages: " + ", ".join(f"{st['name']} {st['seconds']:.2f} s" for st in s["stages"]))
print(f"  raw records {sum(s['raw_records']):,}, curated rows {s['curated_rows']}, dead letters {s['dead_letters']}")
PY
  done
  for pid in "${EXECUTORS[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
  grep -h "Ballista executor stopped" "$WORK"/executor-*.log | sed 's/^.*INFO [^ ]* /  /; s/ cleaned_pins=.*//'
  kill -TERM "$SCHEDULER"; wait "$SCHEDULER" || true
fi
