#!/usr/bin/env python3
"""Reference implementation of the cleaning rules in shared/docs/data.md.

An independent, deliberately plain re-implementation of data.md "Cleaning" plus the choices in
docs/contract-notes.md (cited below as "note N"). It serves two purposes:

* the baseline in bench/clean.sh (what the original Python pipeline would do), and
* the oracle in tests/differential.sh, compared record by record with `pinpipe clean`.

Usage (the same command line as `pinpipe clean`):

    python3 bench/reference_clean.py --type pin|geo|user [--dedup] < raw.jsonl > clean.jsonl

One compact JSON line is written per usable input line. Unusable lines (note 5) are reported on
stderr as `line N: <reason>` and produce no output; the exit code is then 3. Blank lines are
skipped silently (note 17). Standard library only.
"""

import argparse
import json
import re
import sys

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1

# Unicode White_Space (what Rust's str::trim removes). Not str.strip(): that also strips
# U+001C..U+001F, which pinpipe keeps (note 3).
WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def trim(text):
    """Remove Unicode White_Space at both ends."""
    return text.strip(WHITE_SPACE)


def is_integer(value):
    """A JSON integer that fits i64 (note 1). bool is an int subclass in Python, so test the type."""
    return type(value) is int and I64_MIN <= value <= I64_MAX


def is_number(value):
    """A JSON number, integer or float (note 12); booleans are not numbers."""
    return type(value) is int or type(value) is float


# ---------------------------------------------------------------------------------------------
# Reading JSON the way a strict parser (serde_json) does
# ---------------------------------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name):
    # Python's json accepts NaN, Infinity and -Infinity; JSON does not.
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text}")
    return value


def _parse_int(text):
    # contract-notes item 1: `-0` is read as the float -0.0, as serde_json reads it.
    if text == "-0":
        return -0.0
    value = int(text)
    # Integers beyond 64 bits are still valid JSON (they are just not "integers" in the sense of
    # note 1), unless they do not even fit a double, which strict parsers refuse.
    if not I64_MIN <= value < 2**64 and float(text) in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text}")
    return value


_DECODER = json.JSONDecoder(
    parse_float=_parse_float, parse_int=_parse_int, parse_constant=_refuse_constant
)


def _has_lone_surrogate(value):
    """True if a string anywhere in the value holds an unpaired \\uD800-\\uDFFF escape."""
    if type(value) is str:
        return _SURROGATE.search(value) is not None
    if type(value) is dict:
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if type(value) is list:
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_json(line):
    """Parse one line of JSON; raise ValueError with a short reason if it is not valid JSON."""
    try:
        value = _DECODER.decode(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{err.msg} at column {err.colno}") from None
    # A surrogate can only come from a \u escape (the line itself is valid UTF-8); a paired one
    # has already been combined, so what is left is unpaired, which strict parsers refuse.
    if "\\u" in line and _has_lone_surrogate(value):
        raise ValueError("unpaired surrogate in a \\u escape")
    return value


# ---------------------------------------------------------------------------------------------
# Column rules shared by several columns
# ---------------------------------------------------------------------------------------------


def clean_text(value, placeholders=()):
    """Trimmed string; null if not a string, blank, or one of the placeholders."""
    if type(value) is not str:
        return None
    text = trim(value)
    if not text or text in placeholders:
        return None
    return text


def days_from_civil(year, month, day):
    """Days since 1970-01-01 in the proleptic Gregorian calendar, any year (H. Hinnant)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days):
    """Inverse of days_from_civil: (year, month, day)."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + (3 if month_index < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def days_in_month(year, month):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


_NAIVE_DASHES = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_NAIVE_COLONS = re.compile(r"([0-9]{4}):([0-9]{2}):([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_ISO_WITH_ZONE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.[0-9]+)?"  # fraction: at least one digit, truncated (note 15)
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)


def clean_timestamp(value):
    """data.md "Timestamps" with notes 15-16: the three exact shapes, to RFC 3339 UTC, else null.

    Calendar arithmetic is done by hand rather than with datetime, because datetime cannot hold
    year 0000, which is a valid input and output here.
    """
    if type(value) is not str:
        return None
    text = trim(value)
    offset_seconds = 0
    match = _NAIVE_DASHES.fullmatch(text) or _NAIVE_COLONS.fullmatch(text)
    if match is None:
        match = _ISO_WITH_ZONE.fullmatch(text)
        if match is None:
            return None
        sign, offset_hours, offset_minutes = match.group(7, 8, 9)
        if sign is not None:
            offset_hours, offset_minutes = int(offset_hours), int(offset_minutes)
            if offset_hours > 23 or offset_minutes > 59:
                return None
            offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (1 if sign == "+" else -1)
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    if not 1 <= month <= 12 or not 1 <= day <= days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    # Local time minus the offset is UTC.
    utc = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    utc -= offset_seconds
    days, seconds_of_day = divmod(utc, 86400)
    year, month, day = civil_from_days(days)
    if not 0 <= year <= 9999:
        return None
    hour, rest = divmod(seconds_of_day, 3600)
    minute, second = divmod(rest, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


# ---------------------------------------------------------------------------------------------
# Pin columns
# ---------------------------------------------------------------------------------------------

TITLE_PLACEHOLDERS = ("No Title Data Available",)
DESCRIPTION_PLACEHOLDERS = ("No description available Story format", "No description available")
POSTER_NAME_PLACEHOLDERS = ("User Info Error",)
TAG_LIST_PLACEHOLDER = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"
MEDIA_TYPES = {"image": "image", "video": "video", "multi-video(story page format)": "video"}
SAVE_LOCATION_PREFIX = "Local save in "

_PLAIN_DIGITS = re.compile(r"[0-9]+")
_THOUSANDS_GROUPS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_SUFFIXED = re.compile(r"([0-9]+)(?:\.([0-9]+))?([kKMB])")
_SUFFIX_DIGITS = {"k": 3, "K": 3, "M": 6, "B": 9}


def _i64_from_digits(digits):
    """Non-negative ASCII digits (leading zeros allowed) as an int, or None beyond i64::MAX."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > 19:  # also keeps int() away from huge strings
        return None
    number = int(digits)
    return number if number <= I64_MAX else None


def clean_follower_count(value):
    """data.md follower_count with note 7: a JSON integer of 0 or more as is, a negative one null."""
    if type(value) is int:
        return value if is_integer(value) and value >= 0 else None
    if type(value) is not str:
        return None  # floats, booleans, null, arrays, objects
    text = trim(value)
    if _PLAIN_DIGITS.fullmatch(text):
        return _i64_from_digits(text)
    if _THOUSANDS_GROUPS.fullmatch(text):
        return _i64_from_digits(text.replace(",", ""))
    match = _SUFFIXED.fullmatch(text)
    if match:
        whole, fraction, suffix = match.group(1, 2, 3)
        shift = _SUFFIX_DIGITS[suffix]
        # Multiplying by 10**shift moves the decimal point `shift` places right; the fraction
        # digits that stay right of the point are dropped, which truncates toward zero exactly.
        fraction = (fraction or "").ljust(shift, "0")[:shift]
        return _i64_from_digits(whole + fraction)
    return None


def clean_tag_list(value):
    """Split on ",", trim each tag, drop empty ones; the placeholder and non-strings give []."""
    if type(value) is not str or trim(value) == TAG_LIST_PLACEHOLDER:
        return []
    return [tag for tag in (trim(part) for part in value.split(",")) if tag]


def clean_media_type(value):
    """is_image_or_video, trimmed, mapped to "image" / "video"; anything else null."""
    if type(value) is not str:
        return None
    return MEDIA_TYPES.get(trim(value))


def clean_image_src(value):
    """Kept as given (untrimmed, note 8) if it is http:// or https:// plus at least one character."""
    if type(value) is not str:
        return None
    for scheme in ("http://", "https://"):
        # ASCII-only case folding: str.lower() would fold some non-ASCII letters too.
        head = value[: len(scheme)]
        if head.isascii() and head.lower() == scheme and len(value) > len(scheme):
            return value
    return None


def clean_downloaded(value):
    """Only JSON 1/true and 0/false map (note 10)."""
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return value == 1
    return None


def clean_save_location(value):
    """Remove an exact, untrimmed "Local save in " prefix, then trim; blank is null (note 9)."""
    if type(value) is not str:
        return None
    if value.startswith(SAVE_LOCATION_PREFIX):
        value = value[len(SAVE_LOCATION_PREFIX) :]
    return trim(value) or None


def clean_category(value):
    """Trimmed and lower-cased with Unicode rules (note 11); blank is null."""
    if type(value) is not str:
        return None
    return trim(value).lower() or None


def clean_pin(raw):
    index, unique_id = raw.get("index"), raw.get("unique_id")
    if not is_integer(index):
        raise ValueError("pin has no integer index")
    if type(unique_id) is not str:
        raise ValueError("pin has no string unique_id")
    clean = {
        "ind": index,
        "unique_id": trim(unique_id),  # blank is kept; its key is "" (note 6)
        "title": clean_text(raw.get("title"), TITLE_PLACEHOLDERS),
        "description": clean_text(raw.get("description"), DESCRIPTION_PLACEHOLDERS),
        "poster_name": clean_text(raw.get("poster_name"), POSTER_NAME_PLACEHOLDERS),
        "follower_count": clean_follower_count(raw.get("follower_count")),
        "tag_list": clean_tag_list(raw.get("tag_list")),
        "media_type": clean_media_type(raw.get("is_image_or_video")),
        "image_src": clean_image_src(raw.get("image_src")),
        "downloaded": clean_downloaded(raw.get("downloaded")),
        "save_location": clean_save_location(raw.get("save_location")),
        "category": clean_category(raw.get("category")),
    }
    return clean["unique_id"], clean


# ---------------------------------------------------------------------------------------------
# Geo and user columns
# ---------------------------------------------------------------------------------------------


def clean_coordinates(latitude, longitude):
    """[lat, lon] as floats if both are numbers within bounds (inclusive), else null (note 12)."""
    if not (is_number(latitude) and is_number(longitude)):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return [float(latitude), float(longitude)]


def clean_user_name(first_name, last_name):
    """Trimmed first and last name, the non-empty ones joined by one space (note 14)."""
    parts = [trim(name) for name in (first_name, last_name) if type(name) is str]
    return " ".join(part for part in parts if part) or None


def clean_age(value):
    """A JSON integer in 0..=120 (note 13), else null."""
    return value if is_integer(value) and 0 <= value <= 120 else None


def require_ind(raw, kind):
    ind = raw.get("ind")
    if not is_integer(ind):
        raise ValueError(f"{kind} has no integer ind")
    return ind


def clean_geo(raw):
    ind = require_ind(raw, "geo")
    clean = {
        "ind": ind,
        "country": clean_text(raw.get("country")),
        "coordinates": clean_coordinates(raw.get("latitude"), raw.get("longitude")),
        "timestamp": clean_timestamp(raw.get("timestamp")),
    }
    return ind, clean


def clean_user(raw):
    ind = require_ind(raw, "user")
    clean = {
        "ind": ind,
        "user_name": clean_user_name(raw.get("first_name"), raw.get("last_name")),
        "age": clean_age(raw.get("age")),
        "date_joined": clean_timestamp(raw.get("date_joined")),
    }
    return ind, clean


CLEANERS = {"pin": clean_pin, "geo": clean_geo, "user": clean_user}


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def clean_line(raw_line, cleaner):
    """(key, output text) for one input line, None for a blank line; ValueError if unusable."""
    try:
        line = raw_line.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("invalid JSON: not UTF-8") from None
    if not trim(line):
        return None
    try:
        raw = parse_json(line)
    except ValueError as err:
        raise ValueError(f"invalid JSON: {err}") from None
    if type(raw) is not dict:
        raise ValueError("not a JSON object")
    key, clean = cleaner(raw)
    return key, json.dumps(clean, ensure_ascii=False, separators=(",", ":"))


def run(kind, dedup, source, sink, errors):
    """Clean every line of `source` (bytes) to `sink` (bytes); return the exit code."""
    cleaner = CLEANERS[kind]
    unusable = 0
    # Without --dedup: a write buffer. With --dedup: every line kept so far, None once a later
    # line with the same key has beaten it; held as UTF-8 bytes, which are far smaller than str.
    outputs = []
    position_of_key = {}
    for number, raw_line in enumerate(source, start=1):
        try:
            cleaned = clean_line(raw_line.rstrip(b"\n").rstrip(b"\r"), cleaner)
        except ValueError as err:
            unusable += 1
            errors.write(f"line {number}: {err}\n")
            continue
        if cleaned is None:
            continue
        key, text = cleaned
        if dedup:
            earlier = position_of_key.get(key)
            if earlier is not None:
                outputs[earlier] = None  # last received wins, in the order of its own line
            position_of_key[key] = len(outputs)
            outputs.append((text + "\n").encode("utf-8"))
        else:
            outputs.append((text + "\n").encode("utf-8"))
            if len(outputs) >= 4096:
                sink.write(b"".join(outputs))
                outputs.clear()
    sink.write(b"".join(line for line in outputs if line is not None))
    sink.flush()
    return 3 if unusable else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--type", required=True, choices=sorted(CLEANERS), dest="kind")
    parser.add_argument("--dedup", action="store_true", help="one row per key, last received wins")
    args = parser.parse_args()  # exits 2 on a usage error
    try:
        code = run(args.kind, args.dedup, sys.stdin.buffer, sys.stdout.buffer, sys.stderr)
    except OSError as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
