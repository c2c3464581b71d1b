#!/usr/bin/env bash
# What metrics cost (../shared/docs/observability.md, D8): POST /pin/ with durable 200s against
# `pinpipe serve` with the admin listener and its recorder on and off, in alternating runs (5 of
# each, medians), then RSS over a long fixed-rate run with observe on and nobody scraping
# (histogram upkeep must keep it flat).
#
#   bench/observe.sh                       # 5 x 10 s each way, then 5 min at 10,000 events/s
#   BENCH_RUNS=3 BENCH_SOAK=60s bench/observe.sh
#
# Needs wrk (Debian). Knobs: BENCH_DURATION (10s), BENCH_CONNECTIONS (64),
# BENCH_THREADS (1: the server keeps the other core), BENCH_RUNS (5), BENCH_SOAK (300s),
# BENCH_SOAK_RATE (10000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-1}
RUNS=${BENCH_RUNS:-5}
SOAK=${BENCH_SOAK:-300s}
SOAK_RATE=${BENCH_SOAK_RATE:-10000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/pinpipe/target}
WORK=$(mktemp -d /tmp/pinpipe-bench-observe.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -q -p pinpipe --bin pinpipe
BIN=$CARGO_TARGET_DIR/release/pinpipe
# shellcheck source=bench/lib.sh
. bench/lib.sh

# Valid pins from the seeded generator (the ones ingest accepts).
python3 bench/gen_events.py --type pin --count 20000 --seed 7 | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if isinstance(e, dict) and type(e.get("index")) is int and type(e.get("unique_id")) is str \
            and abs(e["index"]) < 2**63 and all(type(e.get(f)) in (str, type(None)) for f in
            ("title", "description", "poster_name", "tag_list", "is_image_or_video", "image_src",
             "save_location", "category")) and type(e.get("follower_count")) in (str, int, type(None)) \
            and type(e.get("downloaded")) in (int, bool, type(None)) and "-0" not in line:
        sys.stdout.write(line)
' > "$WORK/pins.jsonl"
export PINS_FILE="$WORK/pins.jsonl"

start() { # start OBSERVE_LISTEN DIR -> LAST_PID
  RUST_LOG=warn "$BIN" serve --listen 127.0.0.1:8000 --observe-listen "$1" --data-dir "$2" \
    > "$WORK/serve.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
  wait_port 8000
}

one_run() { # one_run on|off N -> "rps p99_ms"
  local listen=off
  [ "$1" = on ] && listen=127.0.0.1:0
  start "$listen" "$WORK/$1-$2"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/wrk/pin.lua http://127.0.0.1:8000 > "$WORK/wrk" 2>&1
  kill -TERM "$LAST_PID"; wait "$LAST_PID" || true
  rm -rf "${WORK:?}/$1-$2"
  python3 - "$WORK/wrk" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
print(f"{rps:.0f} {p99:.2f}")
PY
}

echo "# observe cost  $(date -u +%FT%TZ)  $(nproc) cores  wrk -t$THREADS -c$CONNS -d$DURATION, $RUNS alternating runs"
: > "$WORK/results"
for i in $(seq 1 "$RUNS"); do
  for mode in off on; do
    read -r rps p99 < <(one_run "$mode" "$i")
    echo "$mode $rps $p99" | tee -a "$WORK/results"
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda mode, col: statistics.median(float(r[col]) for r in rows if r[0] == mode)
on, off = med("on", 1), med("off", 1)
p_on, p_off = med("on", 2), med("off", 2)
print()
print("| observe | median req/s | median p99 |")
print("|---|---:|---:|")
print(f"| off | {off:.0f} | {p_off:.2f} ms |")
print(f"| on  | {on:.0f} | {p_on:.2f} ms |")
print(f"throughput on/off: {on / off:.3f} (goal >= 0.95); p99 on/off: {p_on / p_off:.3f} (goal <= 1.10)")
PY

# Soak: observe on, nobody scrapes, pinpipe's own emulator at a fixed rate for $SOAK; RSS
# sampled every 10 s.
start 127.0.0.1:0 "$WORK/soak"
SOAK_PID=$LAST_PID
"$BIN" emulate --url http://127.0.0.1:8000 --rate "$SOAK_RATE" --duration "$SOAK" --quiet --json \
  > "$WORK/soak.json" 2>/dev/null &
LOAD=$!
: > "$WORK/rss"
while kill -0 "$LOAD" 2>/dev/null; do
  awk '/VmRSS/ {print $2}' "/proc/$SOAK_PID/status" >> "$WORK/rss"
  sleep 10
done
wait "$LOAD" || true
python3 - "$WORK/rss" "$WORK/soak.json" "$SOAK" "$SOAK_RATE" <<'PY'
import json, sys
rss = [int(x) / 1024 for x in open(sys.argv[1]) if x.strip()]
d = json.load(open(sys.argv[2]))
print()
print(f"soak {sys.argv[3]} at {sys.argv[4]}/s ({d.get('accepted')} accepted, {d.get('failed')} failed), observe on, not scraped:")
# The first samples include start-up and the first minute's growth of buffers; compare the
# second sample (10 s in) with the last.
print(f"RSS {rss[1]:.1f} MB at 10 s, {rss[-1]:.1f} MB at the end, max {max(rss):.1f} MB: grew {rss[-1] - rss[1]:.1f} MB (goal < 10)")
PY
kill -TERM "$SOAK_PID"; wait "$SOAK_PID" || true
