#!/usr/bin/env bash
# Differential test: `pinpipe clean` against the Python reference (bench/reference_clean.py).
#
#   tests/differential.sh PINPIPE_BINARY
#
# For each type (pin, geo, user) and each seed, generates raw events with bench/gen_events.py
# (realistic events plus the edge cases of data.md and docs/contract-notes.md), cleans them with
# both implementations, with and without --dedup, and compares:
#   - the output line by line as parsed JSON: values, JSON types (1 is not 1.0) and key order
#     must match; number formatting (1e-07 vs 1e-7) may differ;
#   - the set of line numbers reported unusable on stderr (`line N: ...`);
#   - the exit codes.
# Prints the first differences and a summary per type; exits 1 on any difference.
#
# Environment: DIFF_LINES (lines per seed, default 10000), DIFF_SEEDS (default "1 2").
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: tests/differential.sh PINPIPE_BINARY" >&2
  exit 2
fi
bin=$1
[ -x "$bin" ] || { echo "differential: $bin is not an executable" >&2; exit 2; }
case $bin in */*) bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") ;; esac

cd "$(dirname "$0")/.."
lines=${DIFF_LINES:-10000}
seeds=${DIFF_SEEDS:-1 2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pinpipe-differential.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# compare NAME EXPECTED_OUT ACTUAL_OUT EXPECTED_ERR ACTUAL_ERR EXPECTED_RC ACTUAL_RC
# Prints up to 5 differences; the last line of output is the number of differences.
compare() {
  python3 - "$@" <<'PY'
import json
import re
import sys

name, expected_out, actual_out, expected_err, actual_err, expected_rc, actual_rc = sys.argv[1:]
shown = 0
differences = 0


def report(message):
    global shown, differences
    differences += 1
    if shown < 5:
        shown += 1
        print(f"  {name}: {message}")


def parse(text):
    # Pairs, not dicts, so that key order is compared too.
    return json.loads(text, object_pairs_hook=lambda pairs: ("object", pairs))


def same(a, b):
    """Equal values of the same JSON type; floats compare by value, so formatting is free."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:  # an object: same keys, same order, same values
        return len(a[1]) == len(b[1]) and all(
            ka == kb and same(va, vb) for (ka, va), (kb, vb) in zip(a[1], b[1])
        )
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def clip(raw):
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= 300 else text[:300] + "…"


def read_lines(path):
    with open(path, "rb") as file:
        data = file.read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    else:
        report(f"{path} does not end with a newline")
    return lines


expected = read_lines(expected_out)
actual = read_lines(actual_out)

for number, (want, got) in enumerate(zip(expected, actual), start=1):
    try:
        ok = same(parse(want), parse(got.decode("utf-8")))
    except ValueError as err:  # includes invalid UTF-8 and invalid JSON
        ok = False
        got += f"   <- {err}".encode()
    if not ok:
        report(f"output line {number}:\n    expected {clip(want)}\n    actual   {clip(got)}")
if len(expected) != len(actual):
    report(f"{len(expected)} output lines expected, {len(actual)} written")


def unusable(path):
    with open(path, encoding="utf-8", errors="replace") as file:
        return {int(m.group(1)) for m in re.finditer(r"^line (\d+):", file.read(), re.M)}


want_bad, got_bad = unusable(expected_err), unusable(actual_err)
for number in sorted(want_bad - got_bad)[:5]:
    report(f"line {number} reported unusable by the reference only")
for number in sorted(got_bad - want_bad)[:5]:
    report(f"line {number} reported unusable by pinpipe only")
if expected_rc != actual_rc:
    report(f"exit code {expected_rc} expected, got {actual_rc}")
print(differences)
PY
}

status=0
for type in pin geo user; do
  total_lines=0
  total_differences=0
  for seed in $seeds; do
    raw="$tmp/$type-$seed.jsonl"
    python3 bench/gen_events.py --type "$type" --count "$lines" --seed "$seed" >"$raw"
    total_lines=$((total_lines + lines))
    for mode in plain dedup; do
      flags=(--type "$type")
      [ "$mode" = dedup ] && flags+=(--dedup)
      base="$tmp/$type-$seed-$mode"
      ref_rc=0
      python3 bench/reference_clean.py "${flags[@]}" <"$raw" >"$base.ref.out" 2>"$base.ref.err" ||
        ref_rc=$?
      bin_rc=0
      "$bin" clean "${flags[@]}" <"$raw" >"$base.bin.out" 2>"$base.bin.err" || bin_rc=$?
      if [ "$ref_rc" -ne 0 ] && [ "$ref_rc" -ne 3 ]; then
        echo "differential: the reference failed (exit $ref_rc) on $raw:" >&2
        head -n 5 "$base.ref.err" >&2
        exit 1
      fi
      result=$(compare "$type seed $seed ${mode}" "$base.ref.out" "$base.bin.out" \
        "$base.ref.err" "$base.bin.err" "$ref_rc" "$bin_rc")
      # All lines but the last are the differences shown; the last is their count.
      sed '$d' <<<"$result"
      total_differences=$((total_differences + $(tail -n 1 <<<"$result")))
    done
  done
  echo "differential: $type $total_lines lines, $total_differences differences"
  [ "$total_differences" -eq 0 ] || status=1
done
exit "$status"
