#!/usr/bin/env bash
# Benchmark of `pinpipe clean --type pin` against the I/O floor and the Python reference.
#
#   bench/clean.sh [N]          N pin lines, default 1000000
#
# Builds the release binary, generates N raw pin lines once (bench/gen_events.py, fixed seed),
# then runs, each under /usr/bin/time -v:
#   cat                  the file to /dev/null: the I/O floor
#   pinpipe clean        --type pin, pinned to CPU 0 with taskset
#   python reference     bench/reference_clean.py --type pin (the first 200000 lines only when
#                        N is larger; its time is then scaled to N), pinned to CPU 0
#   pinpipe clean        --type pin --dedup, pinned to CPU 0
# and prints a markdown table. Seconds are wall-clock time from a nanosecond clock around each run
# (/usr/bin/time -v only has 10 ms resolution); peak RSS is /usr/bin/time -v's "Maximum resident
# set size". It also checks that every tool exited 0 or 3 (3: the generator writes a few unusable
# lines on purpose) and that Rust and Python kept the same number of lines and reported the same
# number of unusable ones on the lines both ran. tests/differential.sh compares the contents.
#
# Finally, if valgrind is installed, it counts instructions per event for both (callgrind, first
# CALLGRIND_LINES lines, default 5000; 0 turns it off): unlike seconds, these do not move with the
# load of a shared machine.
#
# Environment: CARGO_TARGET_DIR (honoured like cargo does), TMPDIR, SEED (default 42),
# BENCH_RUNS (default 3), CALLGRIND_LINES (default 5000).
set -euo pipefail

n=${1:-1000000}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bench/clean.sh [N]   (N: number of pin lines, a positive integer)" >&2
  exit 2
fi
seed=${SEED:-42}
python_max=200000

cd "$(dirname "$0")/.."
for tool in /usr/bin/time taskset python3 cargo; do
  command -v "$tool" >/dev/null || { echo "bench/clean.sh: needs $tool" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pinpipe-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM # exit through the EXIT trap

# BENCH_BIN=FILE measures that binary instead of building one (two builds, one machine state).
if [ -z "${BENCH_BIN:-}" ]; then
  echo "building: cargo build --release -p pinpipe" >&2
  cargo build --release -p pinpipe >&2
fi
bin="${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/pinpipe}"
[ -x "$bin" ] || { echo "bench/clean.sh: no binary at $bin after the build" >&2; exit 1; }

echo "generating $n pin lines (seed $seed)" >&2
raw="$tmp/raw.jsonl"
python3 bench/gen_events.py --type pin --count "$n" --seed "$seed" >"$raw"
if ((n > python_max)); then
  sample="$tmp/sample.jsonl"
  head -n "$python_max" "$raw" >"$sample"
  sample_lines=$python_max
else
  sample=$raw
  sample_lines=$n
fi
cat "$raw" >/dev/null # warm the page cache so that no run pays for the first read

rows=()     # one "label|events|microseconds|rss_kib" per run
failures=() # one message per failed check

# measure LABEL EVENTS INPUT OUTPUT CMD...: run CMD <INPUT >OUTPUT 2>$tmp/LABEL.err, append a row.
# Sets $rc to CMD's exit code.
measure() {
  local label=$1 events=$2 input=$3 output=$4
  shift 4
  local start end
  rc=0
  start=$(date +%s%N)
  /usr/bin/time -v -o "$tmp/$label.time" "$@" <"$input" >"$output" 2>"$tmp/$label.err" || rc=$?
  end=$(date +%s%N)
  local rss
  rss=$(awk -F': *' '/Maximum resident set size/ {print $2}' "$tmp/$label.time")
  rows+=("$label|$events|$(((end - start) / 1000))|${rss:-0}")
}

# measure_median LABEL EVENTS INPUT OUTPUT CMD...: like measure, run BENCH_RUNS times (default 3);
# keeps the run with the median wall time, since a shared 2-core machine is noisy.
measure_median() {
  local runs=${BENCH_RUNS:-3} first=${#rows[@]} worst_rc=0 i
  for ((i = 0; i < runs; i++)); do
    measure "$@"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then worst_rc=$rc; fi
    if [ "$rc" -gt "$worst_rc" ] && [ "$worst_rc" -eq 0 ]; then worst_rc=$rc; fi
  done
  local median
  echo "$1: wall seconds of the $runs runs: $(printf '%s\n' "${rows[@]:$first}" | awk -F'|' '{printf "%.2f ", $3 / 1e6}')" >&2
  median=$(printf '%s\n' "${rows[@]:$first}" | sort -t'|' -k3,3n | sed -n "$(((runs + 1) / 2))p")
  rows=("${rows[@]:0:$first}" "$median")
  rc=$worst_rc
}

# expect_rc LABEL: fail unless $rc is 0 or 3.
expect_rc() {
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    failures+=("$1 exited with $rc (expected 0, or 3 for unusable lines); stderr: $(head -c 300 "$tmp/$1.err")")
  fi
}

measure cat "$n" "$raw" /dev/null cat
expect_rc cat

measure_median rust "$n" "$raw" "$tmp/rust.jsonl" taskset -c 0 "$bin" clean --type pin
rust_rc=$rc
expect_rc rust

measure python "$sample_lines" "$sample" "$tmp/python.jsonl" \
  taskset -c 0 python3 bench/reference_clean.py --type pin
python_rc=$rc
expect_rc python

measure_median rust-dedup "$n" "$raw" "$tmp/rust-dedup.jsonl" taskset -c 0 "$bin" clean --type pin --dedup
expect_rc rust-dedup

# Rust and Python on the same lines: if Python saw a sample, run Rust on it too (not timed).
if [ "$sample" = "$raw" ]; then
  rust_sample_out="$tmp/rust.jsonl"
  rust_sample_err="$tmp/rust.err"
  rust_sample_rc=$rust_rc
else
  rust_sample_out="$tmp/rust-sample.jsonl"
  rust_sample_err="$tmp/rust-sample.err"
  rust_sample_rc=0
  "$bin" clean --type pin <"$sample" >"$rust_sample_out" 2>"$rust_sample_err" || rust_sample_rc=$?
fi
rust_lines=$(wc -l <"$rust_sample_out")
python_lines=$(wc -l <"$tmp/python.jsonl")
rust_unusable=$(grep -c '^line [0-9]*:' "$rust_sample_err" || true)
python_unusable=$(grep -c '^line [0-9]*:' "$tmp/python.err" || true)
if [ "$rust_lines" -ne "$python_lines" ]; then
  failures+=("on the first $sample_lines lines Rust wrote $rust_lines clean lines, Python $python_lines")
fi
if [ "$rust_unusable" -ne "$python_unusable" ]; then
  failures+=("on the first $sample_lines lines Rust reported $rust_unusable unusable lines, Python $python_unusable")
fi
if [ "$rust_sample_rc" -ne "$python_rc" ]; then
  failures+=("on the first $sample_lines lines Rust exited $rust_sample_rc, Python $python_rc")
fi
identical=no
cmp -s "$rust_sample_out" "$tmp/python.jsonl" && identical=yes

# The table. Python's seconds are scaled to N when it ran on a sample.
python_scale=$(awk -v n="$n" -v s="$sample_lines" 'BEGIN {print n / s}')
echo
echo "## pinpipe clean --type pin, $n lines ($(($(stat -c %s "$raw") / 1048576)) MiB), $(nproc) cores"
echo
echo "| tool | events | seconds | events/s | peak RSS MiB | vs Python |"
echo "|---|---:|---:|---:|---:|---:|"
python_rate=$(for row in "${rows[@]}"; do echo "$row"; done |
  awk -F'|' '$1 == "python" {print $2 / (($3 > 0 ? $3 : 1) / 1e6)}')
for row in "${rows[@]}"; do
  IFS='|' read -r label events micros rss <<<"$row"
  case $label in
    cat) name="cat (I/O floor)" ;;
    rust) name="pinpipe clean" ;;
    python) name="Python reference" ;;
    rust-dedup) name="pinpipe clean --dedup" ;;
  esac
  awk -v name="$name" -v events="$events" -v us="$micros" -v rss="$rss" -v pyrate="$python_rate" \
    -v scale="$python_scale" -v label="$label" -v n="$n" 'BEGIN {
      secs = us / 1e6; if (secs <= 0) secs = 1e-6
      rate = events / secs
      mark = ""
      if (label == "python" && scale != 1) { secs = secs * scale; events = n; mark = " *" }
      printf "| %s | %d | %.2f%s | %.0f | %.1f | %.1fx |\n", name, events, secs, mark, rate,
        rss / 1024, rate / pyrate
    }'
done
echo
echo "Rust and Python runs pinned to CPU 0 (taskset -c 0); seconds are wall clock;"
echo "pinpipe rows are the median of ${BENCH_RUNS:-3} runs."
if ((n > python_max)); then
  echo "Seconds marked * are scaled: Python ran on the first $python_max lines only (its events/s"
  echo "and peak RSS are as measured on those lines)."
fi
echo "On the first $sample_lines lines: Rust wrote $rust_lines clean lines, Python $python_lines;"
echo "unusable lines reported: Rust $rust_unusable, Python $python_unusable;" \
  "exit codes: Rust $rust_sample_rc, Python $python_rc; byte-identical output: $identical."
echo "With --dedup: $(wc -l <"$tmp/rust-dedup.jsonl") of $n lines kept."

# Instructions per event: repeatable whatever else the machine is doing (wall time on a shared
# machine is not). Counted with callgrind on the first CALLGRIND_LINES lines (default 5000).
if command -v valgrind >/dev/null 2>&1 && [ "${CALLGRIND_LINES:-5000}" -gt 0 ]; then
  cg_lines=${CALLGRIND_LINES:-5000}
  head -n "$cg_lines" "$raw" >"$tmp/cg.jsonl"
  count_instructions() { # count_instructions CMD...: total instructions of CMD <cg.jsonl
    # Exit code 3 (unusable lines) is expected here; the count is what matters.
    { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" <"$tmp/cg.jsonl" \
      2>&1 >/dev/null || true; } | awk '/Collected :/ {print $NF}'
  }
  rust_ir=$(count_instructions "$bin" clean --type pin)
  # The interpreter itself, not a wrapper script (pyenv's shim) that valgrind would measure.
  python_bin=$(python3 -c 'import sys; print(sys.executable)')
  python_ir=$(count_instructions "$python_bin" bench/reference_clean.py --type pin)
  echo
  echo "Instructions per event (callgrind, first $cg_lines lines): pinpipe" \
    "$((rust_ir / cg_lines)), Python reference $((python_ir / cg_lines))," \
    "ratio $(awk -v r="$rust_ir" -v p="$python_ir" 'BEGIN {printf "%.1f", p / r}')x."
fi

if ((${#failures[@]})); then
  echo
  for failure in "${failures[@]}"; do echo "FAILED: $failure"; done
  exit 1
fi
