#!/usr/bin/env python3
"""Reference implementation of the 11 daily analytics in shared/docs/data.md.

An independent, deliberately plain re-implementation of data.md "Daily analytics", built on the
cleaning reference bench/reference_clean.py (imported, not copied). Standard library only.

    python3 bench/reference_analytics.py --pins P.jsonl --geos G.jsonl --users U.jsonl --out DIR

Each input is a raw event log of one type in receive order (one raw JSON event per line, as
POSTed). Every line is cleaned exactly as `reference_clean.py --type X --dedup` cleans it: blank
lines are skipped, unusable lines are reported on stderr as `<file> line N: <reason>` and skipped,
and when a key (trimmed unique_id; ind) occurs more than once the record on the last line wins
whole. Pins, geo and users are then inner-joined on ind, and DIR/<name>.jsonl is written for each
analytic: one compact JSON object per row, keys in data.md's column order, non-ASCII as raw UTF-8,
floats in serde_json's shape (always with a decimal point or an exponent, `1e16` not `1e+16`).
Exit code 0, or 3 if some line was unusable (the outputs are written either way), 2 on a usage
error, 1 on an I/O error.

Rules (data.md plus the decisions of the brief that commissioned this script):

* Counts count joined pin rows (after de-duplication each pin key is one row; several pins may
  share an ind and then each joins the same geo and user row).
* A row whose grouping key is null is left out of that analytic. Age groups: 18-24, 25-35,
  36-50, 50+ (age > 50); other ages (0..17) and null are left out. post_year / join_year = the
  UTC year of the clean geo timestamp / date_joined (first four characters of the RFC 3339 text),
  written as an int.
* "Most popular" / "top": one row per group, ties to the smallest name in code-point order.
* Medians: exact, over the non-null follower counts of the group's joined rows (one value per
  row), mean of the two middle values for an even count, always a float; null when the group has
  joined rows but no follower count. A group exists when at least one joined row has a non-null
  grouping key.
* Output rows are sorted by the grouping columns ascending (strings by code point, years
  numerically); top_tags by pins descending, then tag ascending.

Choices made where data.md (and the brief) leave a case open:

1. No date cut. data.md computes the analytics "for a date D over all data received up to the end
   of D"; this script has no receive times and treats every line of the inputs as received by D.
2. The "most popular category" analytics (category_by_country / _year / _age_group) count only
   rows with a non-null category: a null category is a null grouping key and is never an answer.
   A country / year / age group whose joined rows all lack a category has no row.
3. top_user_by_country: a country with no row that has both a poster_name and a follower_count
   has no row. Several pins of one poster are separate candidates (the pin with the most
   followers wins, per data.md's "the pin with the most followers"); follower counts are not
   summed.
4. top_user considers only rows with a non-null country, as the brief decides (data.md's columns
   include country, and null grouping keys are left out). Ties: follower_count high, then
   poster_name, then country, smallest first.
5. users_joined_by_year: a join year exists as a group when a joined row has that join year
   (the same group rule as the medians); its count is the number of distinct
   (user_name, date_joined) pairs with both non-null among those rows, so a join year whose rows
   all lack a user_name is written with number_users_joined 0. Users are distinct by that pair
   (the pair is data.md's definition of a distinct user), not by ind.
6. category_summary: one row per non-null category among the joined rows; images / videos count
   rows whose clean media_type is "image" / "video" (multi-video(story page format) cleans to
   "video"); rows with a null media_type count only in pins.
7. top_tags: tags are compared exactly as cleaned (case-sensitive, no further folding). A tag
   repeated within one pin's tag_list counts once for that pin. Only joined pins count. The cut is
   exactly 20 rows even when the 20th and 21st tags tie (the tie is broken by tag). Pins are
   distinct by key, and after de-duplication every joined row is a distinct key.
8. Medians of very large follower counts are the exactly rounded float of the exact mean (Python's
   int / int), not the mean of two floats.
9. Follower counts are never negative (data.md: a negative JSON integer is null, as cleaned by
   reference_clean.py); zero takes part in maxima and medians like any other value.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reference_clean  # noqa: E402  (the cleaning rules, shared with the differential tests)

AGE_GROUPS = ("18-24", "25-35", "36-50", "50+")

# (name, columns) in data.md's order.
ANALYTICS = (
    ("category_by_country", ("country", "category", "category_count")),
    ("category_by_year", ("post_year", "category", "category_count")),
    ("top_user_by_country", ("country", "poster_name", "follower_count")),
    ("top_user", ("country", "poster_name", "follower_count")),
    ("category_by_age_group", ("age_group", "category", "category_count")),
    ("median_followers_by_age_group", ("age_group", "median_follower_count")),
    ("users_joined_by_year", ("join_year", "number_users_joined")),
    ("median_followers_by_join_year", ("join_year", "median_follower_count")),
    (
        "median_followers_by_join_year_and_age_group",
        ("join_year", "age_group", "median_follower_count"),
    ),
    ("category_summary", ("category", "pins", "images", "videos", "median_follower_count")),
    ("top_tags", ("tag", "pins")),
)


# ---------------------------------------------------------------------------------------------
# Reading: clean and de-duplicate exactly like `reference_clean.py --dedup`
# ---------------------------------------------------------------------------------------------


def read_clean(path, kind, errors):
    """The de-duplicated clean records of one raw log, in the order of the winner's line.

    Returns (records, number of unusable lines). Uses reference_clean.clean_line, the same
    function `reference_clean.run` uses, so blank lines, strict JSON and unusable records are
    treated identically; the last usable line of a key wins whole.
    """
    cleaner = reference_clean.CLEANERS[kind]
    winners = {}  # key -> (line number, clean record); dicts keep first-insertion order
    unusable = 0
    with open(path, "rb") as source:
        for number, raw_line in enumerate(source, start=1):
            try:
                cleaned = reference_clean.clean_line(
                    raw_line.rstrip(b"\n").rstrip(b"\r"), cleaner
                )
            except ValueError as err:
                unusable += 1
                errors.write(f"{path} line {number}: {err}\n")
                continue
            if cleaned is None:
                continue
            key, text = cleaned
            winners.pop(key, None)  # re-inserted below: order of the winner's own line
            winners[key] = (number, json.loads(text))
    return [record for _, record in winners.values()], unusable


def join(pins, geos, users):
    """Inner join of pins, geo and users on ind: one dict per pin that has both a geo and a user.

    Joined column names: every clean pin column, plus country, coordinates, timestamp from geo
    and user_name, age, date_joined from user.
    """
    geo_by_ind = {geo["ind"]: geo for geo in geos}
    user_by_ind = {user["ind"]: user for user in users}
    rows = []
    for pin in pins:
        geo = geo_by_ind.get(pin["ind"])
        user = user_by_ind.get(pin["ind"])
        if geo is None or user is None:
            continue
        row = dict(pin)
        for column in ("country", "coordinates", "timestamp"):
            row[column] = geo[column]
        for column in ("user_name", "age", "date_joined"):
            row[column] = user[column]
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Derived columns
# ---------------------------------------------------------------------------------------------


def age_group(age):
    if age is None or age < 18:
        return None
    if age <= 24:
        return "18-24"
    if age <= 35:
        return "25-35"
    if age <= 50:
        return "36-50"
    return "50+"


def year_of(timestamp):
    """UTC year of a clean RFC 3339 UTC timestamp ("YYYY-MM-DDTHH:MM:SSZ"), or None."""
    return None if timestamp is None else int(timestamp[:4])


def derive(row):
    row["age_group"] = age_group(row["age"])
    row["post_year"] = year_of(row["timestamp"])
    row["join_year"] = year_of(row["date_joined"])
    return row


# ---------------------------------------------------------------------------------------------
# The analytics
# ---------------------------------------------------------------------------------------------


def group_rows(rows, key_columns):
    """{key tuple: [rows]} over the rows whose key columns are all non-null."""
    groups = {}
    for row in rows:
        key = tuple(row[column] for column in key_columns)
        if any(part is None for part in key):
            continue
        groups.setdefault(key, []).append(row)
    return groups


def median(values):
    """Exact median as a float, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2  # int / int: exactly rounded


def median_followers(group):
    return median([row["follower_count"] for row in group if row["follower_count"] is not None])


def most_popular_category(rows, group_column):
    """One row per group: the category on the most rows, ties to the smallest category."""
    out = []
    for (group, category), members in group_rows(rows, (group_column, "category")).items():
        out.append((group, category, len(members)))
    best = {}
    for group, category, count in out:
        current = best.get(group)
        # Highest count; for equal counts the smaller category (code-point order).
        if current is None or (-count, category) < (-current[2], current[1]):
            best[group] = (group, category, count)
    return sorted(best.values())


def top_user_by_country(rows):
    best = {}
    for row in rows:
        country, name, followers = row["country"], row["poster_name"], row["follower_count"]
        if country is None or name is None or followers is None:
            continue
        current = best.get(country)
        if current is None or (-followers, name) < (-current[2], current[1]):
            best[country] = (country, name, followers)
    return sorted(best.values())


def top_user(rows):
    candidates = [
        (-row["follower_count"], row["poster_name"], row["country"])
        for row in rows
        if row["country"] is not None
        and row["poster_name"] is not None
        and row["follower_count"] is not None
    ]
    if not candidates:
        return []
    followers, name, country = min(candidates)
    return [(country, name, -followers)]


def medians_by(rows, key_columns):
    return sorted(
        key + (median_followers(members),)
        for key, members in group_rows(rows, key_columns).items()
    )


def users_joined_by_year(rows):
    out = []
    for (join_year,), members in group_rows(rows, ("join_year",)).items():
        users = {
            (row["user_name"], row["date_joined"])
            for row in members
            if row["user_name"] is not None and row["date_joined"] is not None
        }
        out.append((join_year, len(users)))
    return sorted(out)


def category_summary(rows):
    out = []
    for (category,), members in group_rows(rows, ("category",)).items():
        images = sum(1 for row in members if row["media_type"] == "image")
        videos = sum(1 for row in members if row["media_type"] == "video")
        out.append((category, len(members), images, videos, median_followers(members)))
    return sorted(out)


def top_tags(rows, limit=20):
    pins_by_tag = {}
    for row in rows:
        for tag in set(row["tag_list"]):
            pins_by_tag.setdefault(tag, set()).add(row["unique_id"])
    ranked = sorted(pins_by_tag.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(tag, len(pins)) for tag, pins in ranked[:limit]]


def compute(rows):
    """{analytic name: [row tuples in column order, in output order]}."""
    return {
        "category_by_country": most_popular_category(rows, "country"),
        "category_by_year": most_popular_category(rows, "post_year"),
        "top_user_by_country": top_user_by_country(rows),
        "top_user": top_user(rows),
        "category_by_age_group": most_popular_category(rows, "age_group"),
        "median_followers_by_age_group": medians_by(rows, ("age_group",)),
        "users_joined_by_year": users_joined_by_year(rows),
        "median_followers_by_join_year": medians_by(rows, ("join_year",)),
        "median_followers_by_join_year_and_age_group": medians_by(
            rows, ("join_year", "age_group")
        ),
        "category_summary": category_summary(rows),
        "top_tags": top_tags(rows),
    }


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def json_value(value):
    """One JSON value as serde_json writes it (compact, raw UTF-8, floats with a '.0')."""
    if type(value) is float:
        text = repr(value)  # shortest round-trip digits, like ryu
        if "e" in text:  # Python: 1e+16 / 1.5e-07; serde_json: 1e16 / 1.5e-7
            mantissa, exponent = text.split("e")
            sign = "-" if exponent.startswith("-") else ""
            text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
        return text
    return json.dumps(value, ensure_ascii=False)


def write_outputs(results, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, columns in ANALYTICS:
        lines = []
        for values in results[name]:
            fields = ",".join(
                f"{json_value(column)}:{json_value(value)}" for column, value in zip(columns, values)
            )
            lines.append("{" + fields + "}\n")
        with open(os.path.join(out_dir, f"{name}.jsonl"), "w", encoding="utf-8", newline="\n") as sink:
            sink.write("".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pins", required=True, help="raw pin events (JSONL, receive order)")
    parser.add_argument("--geos", required=True, help="raw geo events (JSONL, receive order)")
    parser.add_argument("--users", required=True, help="raw user events (JSONL, receive order)")
    parser.add_argument("--out", required=True, help="folder for <analytic>.jsonl")
    parser.add_argument(
        "--dump-joined", metavar="FILE", help="also write the joined rows (JSONL) for inspection"
    )
    args = parser.parse_args()  # exits 2 on a usage error
    try:
        pins, bad_pins = read_clean(args.pins, "pin", sys.stderr)
        geos, bad_geos = read_clean(args.geos, "geo", sys.stderr)
        users, bad_users = read_clean(args.users, "user", sys.stderr)
        rows = [derive(row) for row in join(pins, geos, users)]
        write_outputs(compute(rows), args.out)
        if args.dump_joined:
            with open(args.dump_joined, "w", encoding="utf-8") as sink:
                for row in rows:
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    return 3 if bad_pins or bad_geos or bad_users else 0


if __name__ == "__main__":
    sys.exit(main())
