#!/usr/bin/env bash
# Differential test: `pinpipe clean` against the Python reference (bench/reference_clean.py).
#
#   tests/differential.sh PINPIPE_BINARY
#
# For each type (pin, geo, user) and each seed, generates raw events with bench/gen_events.py
# (realistic events plus the edge cases of data.md and docs/contract-notes.md), cleans them with
# both implementations, with and without --dedup, and compares:
#   - the clean records as parsed JSON: values, JSON types (1 is not 1.0) and key order must
#     match; number formatting (1e-07 vs 1e-7) may differ. Without --dedup, records are matched
#     to their input line (each side's output lines are its non-blank input lines minus the ones
#     it reported unusable), so one disagreement does not shift every later line; with --dedup,
#     records are matched by key (unique_id / ind) and the order of the keys is compared too;
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
trap 'exit 130' INT TERM # exit through the EXIT trap

# compare NAME TYPE MODE RAW REF_OUT BIN_OUT REF_ERR BIN_ERR REF_RC BIN_RC
# Prints up to 5 differences; the last line of its output is the number of differences.
compare() {
  python3 - "$@" <<'PY'
import json
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, "bench")
from reference_clean import trim  # the same notion of a blank line as the reference

name, kind, mode, raw_path, ref_out, bin_out, ref_err, bin_err, ref_rc, bin_rc = sys.argv[1:]
shown = 0
differences = 0


def report(message):
    global shown, differences
    differences += 1
    if shown < 5:
        shown += 1
        print(f"  {name}: {message}")


def parse(text):
    # Objects as ("object", pairs), not dicts, so that key order is compared too.
    return json.loads(text, object_pairs_hook=lambda pairs: ("object", pairs))


def same(a, b):
    """Equal values of the same JSON type; floats compare by value, so formatting is free."""
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a[1]) == len(b[1]) and all(
            ka == kb and same(va, vb) for (ka, va), (kb, vb) in zip(a[1], b[1])
        )
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def to_json(value):
    if type(value) is tuple:
        return {key: to_json(v) for key, v in value[1]}
    if type(value) is list:
        return [to_json(v) for v in value]
    return value


def show(value):
    return json.dumps(to_json(value), ensure_ascii=False)


def clip(text, limit=300):
    return text if len(text) <= limit else text[:limit] + "…"


def explain(want, got):
    """The differing columns if both records have the same keys in the same order, else both."""
    keys = [key for key, _ in want[1]] if type(want) is tuple else None
    if type(got) is tuple and keys == [key for key, _ in got[1]]:
        return "".join(
            f"\n    {key}: expected {clip(show(a))}, actual {clip(show(b))}"
            for (key, a), (_, b) in zip(want[1], got[1])
            if not same(a, b)
        )
    return f"\n    expected {clip(show(want))}\n    actual   {clip(show(got))}"


def split_lines(path, label=None):
    """Lines without their newline; if label is given, a missing final newline is a difference."""
    with open(path, "rb") as file:
        data = file.read()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    elif label:
        report(f"{label} output does not end with a newline")
    return lines


def records(path, label):
    """Parsed output lines; an unparseable one is reported and kept as None."""
    parsed = []
    for number, line in enumerate(split_lines(path, label), start=1):
        try:
            parsed.append(parse(line.decode("utf-8")))
        except ValueError as err:  # invalid UTF-8 or invalid JSON
            report(f"{label} output line {number} is not JSON ({err}): {clip(repr(line))}")
            parsed.append(None)
    return parsed


def unusable(path):
    with open(path, encoding="utf-8", errors="replace") as file:
        return {int(m.group(1)) for m in re.finditer(r"^line (\d+):", file.read(), re.M)}


raw_lines = [line.rstrip(b"\r") for line in split_lines(raw_path)]


def is_blank(line):
    try:
        return not trim(line.decode("utf-8"))
    except UnicodeDecodeError:
        return False


blank = {number for number, line in enumerate(raw_lines, start=1) if is_blank(line)}
want_bad, got_bad = unusable(ref_err), unusable(bin_err)
want, got = records(ref_out, "reference"), records(bin_out, "pinpipe")


def by_input_line(outputs, bad, label):
    """{input line: record}: the i-th output line belongs to the i-th used input line."""
    used = [n for n in range(1, len(raw_lines) + 1) if n not in blank and n not in bad]
    if len(used) != len(outputs):
        report(
            f"{label} wrote {len(outputs)} lines for {len(used)} non-blank lines it did not report"
            " unusable; matching records by position instead"
        )
        return dict(enumerate(outputs, start=1))
    return dict(zip(used, outputs))


def key_of(record):
    fields = dict(record[1]) if type(record) is tuple else {}
    return json.dumps(fields.get("unique_id" if kind == "pin" else "ind"))


if mode == "plain":
    want_by_line = by_input_line(want, want_bad, "the reference")
    got_by_line = by_input_line(got, got_bad, "pinpipe")
    for number in sorted(want_by_line.keys() & got_by_line.keys()):
        a, b = want_by_line[number], got_by_line[number]
        if a is not None and b is not None and not same(a, b):
            source = raw_lines[number - 1].decode("utf-8", "replace")
            report(f"input line {number}: {clip(source)}{explain(a, b)}")
else:
    want_keys = [key_of(r) for r in want if r is not None]
    got_keys = [key_of(r) for r in got if r is not None]
    if len(set(got_keys)) != len(got_keys):
        report("pinpipe --dedup wrote some key more than once")
    want_by_key = {key_of(r): r for r in want if r is not None}
    got_by_key = {key_of(r): r for r in got if r is not None}
    for key in want_keys:
        if key not in got_by_key:
            report(f"key {key} kept by the reference only")
        elif not same(want_by_key[key], got_by_key[key]):
            report(f"key {key}:{explain(want_by_key[key], got_by_key[key])}")
    for key in got_keys:
        if key not in want_by_key:
            report(f"key {key} kept by pinpipe only")
    common = want_by_key.keys() & got_by_key.keys()
    want_order = [k for k in want_keys if k in common]
    got_order = [k for k in got_keys if k in common]
    if want_order != got_order:
        at = next((i for i, (a, b) in enumerate(zip(want_order, got_order)) if a != b), 0)
        report(f"winners in a different order from record {at + 1}: key {want_order[at]} expected")

for number in sorted(want_bad - got_bad)[:5]:
    source = raw_lines[number - 1].decode("utf-8", "replace")
    report(f"line {number} reported unusable by the reference only: {clip(source)}")
for number in sorted(got_bad - want_bad)[:5]:
    source = raw_lines[number - 1].decode("utf-8", "replace") if number <= len(raw_lines) else ""
    report(f"line {number} reported unusable by pinpipe only: {clip(source)}")
if ref_rc != bin_rc:
    report(f"exit code {ref_rc} expected, got {bin_rc}")
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
      result=$(compare "$type seed $seed $mode" "$type" "$mode" "$raw" "$base.ref.out" \
        "$base.bin.out" "$base.ref.err" "$base.bin.err" "$ref_rc" "$bin_rc")
      # All lines but the last are the differences shown; the last is their count.
      sed '$d' <<<"$result"
      total_differences=$((total_differences + $(tail -n 1 <<<"$result")))
    done
  done
  echo "differential: $type $total_lines lines, $total_differences differences"
  [ "$total_differences" -eq 0 ] || status=1
done
exit "$status"
