#!/usr/bin/env python3
"""Deterministic generator of raw pinpipe events, as the Pinterest emulator would send them.

    python3 bench/gen_events.py --type pin|geo|user --count N [--seed S] > raw.jsonl

Writes exactly N lines of JSON (the emulator's `json.dumps` style, with ", " and ": "). Most lines
are realistic events; a few percent carry the edge cases of shared/docs/data.md and
docs/contract-notes.md: placeholders, blanks, padding (including non-ASCII white space and
U+001C, which is not white space), duplicated keys (pins: earlier unique_ids; geo/user: ind
repeats naturally), odd follower counts, the three timestamp shapes and impossible dates,
out-of-range coordinates and ages, optional fields of the wrong JSON type or absent, unknown extra
fields, duplicate JSON keys, \\u-escaped text, blank lines and the occasional unusable line.

The same --type/--count/--seed always gives the same bytes. Standard library only; strings are
pre-encoded into pools so that a million pin lines take seconds.
"""

import argparse
import json
import random
import sys

CATEGORIES = [
    "christmas", "tattoos", "quotes", "art", "education", "home-decor", "travel",
    "mens-fashion", "vehicles", "diy-and-crafts", "finance", "event-planning", "beauty",
]  # fmt: skip

MAX_INDEX = 11153

WORDS = (
    "easy simple best ideas diy home decor living room kitchen bedroom garden wedding party "
    "christmas tree ornaments gift wrapping winter holiday cozy rustic farmhouse modern minimalist "
    "vintage boho tattoo small tattoos sleeve floral mandala quote inspiration motivation life "
    "love happiness travel destinations europe beach mountains road trip budget saving money "
    "finance tips investing budgeting frugal living men fashion outfits style street casual suit "
    "watercolor painting drawing sketch acrylic canvas abstract portrait classroom teacher "
    "learning kids activities printable worksheet makeup skincare hair nails routine beauty "
    "vehicles cars motorcycles trucks classic restoration camping van life event planning "
    "birthday baby shower decorations centerpieces crafts handmade paper yarn knitting crochet"
).split()
NON_ASCII_WORDS = [
    "café", "naïve", "façade", "crème brûlée", "Zürich", "São Paulo", "Kraków", "smörgåsbord",
    "déjà vu", "piñata", "jalapeño", "résumé", "señorita", "Ærø", "Łódź", "Ελλάδα", "Москва",
    "東京", "서울", "☕", "✨", "🎄", "❤️", "🏡", "👗", "—", "“quoted”", "€20", "½",
]  # fmt: skip
FIRST_NAMES = [
    "Alice", "Bob", "Carla", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Isabel", "Jamal",
    "Kate", "Liam", "Maya", "Noah", "Olivia", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar",
    "Vera", "Will", "Xin", "Yara", "Zoë", "José", "Łukasz", "Søren", "Renée", "Anaïs", "Björn",
    "Nguyễn", "Çağla", "Ólafur", "Chloé", "Mateus", "Aisha", "Kenji", "Priya",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez",
    "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Müller", "Ødegaard", "García", "Núñez", "Kowalski", "Dubois", "Rossi", "Yamamoto", "Kim",
    "O'Brien", "田中", "Иванов",
]  # fmt: skip
COUNTRIES = [
    "Antarctica (the territory South of 60 deg S)", "Afghanistan", "Albania", "Algeria",
    "American Samoa", "Andorra", "Angola", "Argentina", "Armenia", "Aruba", "Australia",
    "Bangladesh", "Belgium", "Bolivia", "Brazil", "Bulgaria", "Cameroon", "Canada", "Chile",
    "Colombia", "Cote d'Ivoire", "Côte d'Ivoire", "Croatia", "Denmark", "Egypt", "Finland",
    "France", "Germany", "Greece", "Guinea-Bissau", "Holy See (Vatican City State)", "Iceland",
    "India", "Japan", "Kenya", "Libyan Arab Jamahiriya", "Maldives", "Mexico", "Nepal",
    "Norway", "Peru", "Poland", "Réunion", "Saint Barthélemy", "Åland Islands", "Spain",
    "Svalbard & Jan Mayen Islands", "Turkey", "United States of America", "Viet Nam",
]  # fmt: skip
TAGS = {
    category: [f"{category.replace('-', ' ').title()} {w}" for w in WORDS[i::13][:12]]
    + [w.title() for w in WORDS[i * 5 : i * 5 + 8]]
    for i, category in enumerate(CATEGORIES)
}

TAG_PLACEHOLDER = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"


def encoded(value, ascii_only=False):
    """JSON text of a value in the emulator's style (json.dumps defaults, optionally ASCII)."""
    return json.dumps(value, ensure_ascii=ascii_only)


def both_encodings(values):
    """(utf8_jsons, ascii_jsons): the same pool written raw and with \\u escapes, as the
    emulator's json.dumps does by default; index it with a bool "ascii_only"."""
    values = list(values)
    return [encoded(v) for v in values], [encoded(v, True) for v in values]


def sentence(rng, low, high):
    """Free text of low..high characters, some of it non-ASCII."""
    words = []
    length = rng.randint(low, high)
    size = 0
    while size < length:
        word = rng.choice(NON_ASCII_WORDS) if rng.random() < 0.06 else rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    text = " ".join(words)
    return text[0].upper() + text[1:]


class Pools:
    """Pre-encoded JSON fragments, built once per run from the seed."""

    def __init__(self, rng):
        self.titles = both_encodings(sentence(rng, 20, 90) for _ in range(3000))
        self.descriptions = both_encodings(sentence(rng, 100, 400) for _ in range(3000))
        self.posters = both_encodings(
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            if rng.random() < 0.6
            else rng.choice(["The ", ""]) + sentence(rng, 8, 24)
            for _ in range(1500)
        )
        self.tag_lists = {
            c: both_encodings(",".join(rng.sample(TAGS[c], rng.randint(2, 8))) for _ in range(300))
            for c in CATEGORIES
        }
        self.countries = both_encodings(COUNTRIES)
        self.first_names = both_encodings(FIRST_NAMES)
        self.last_names = both_encodings(LAST_NAMES)


# ---------------------------------------------------------------------------------------------
# Edge cases, as JSON fragments. OMIT drops the field.
# ---------------------------------------------------------------------------------------------

OMIT = None

TEXT_EDGES = [
    OMIT, "null", '""', '"   "', '"\\u00a0\\u3000"', '" \\t padded text \\n"',
    '"\\u001cnot white space\\u001f"', '"\\u00a0Padded\\u2003"', "42", "true", '["a", "b"]',
    '{"text": "nested"}', '"\\u200bzero width is not white space"', '"x"',
]  # fmt: skip
TITLE_EDGES = TEXT_EDGES + ['" No Title Data Available "', '"No title data available"']
DESCRIPTION_EDGES = TEXT_EDGES + [
    '"\\tNo description available\\u00a0"', '"No description available Story format "',
    '"No description available Story Format"', '"No description"',
]  # fmt: skip
POSTER_EDGES = TEXT_EDGES + ['" User Info Error "', '"user info error"', '"User Info Error."']

FOLLOWER_EDGES = [
    '"4.35k"', '"1.2345k"', '"1,234"', '"1,234,567"', '"1,23"', '"12,3456"', '"1,234k"', '"001,234"',
    '" 848 "', '"\\u00a0848\\u3000"', '"\\u001c848"', '"-5"', '"+5"', '"5 k"', '".5k"', '"5.k"',
    '"1e3"', '"12m"', '"3b"', '"1.5B"', '"2.5K"', '"0k"', '"0"', '"00012"', '"1.2.3k"', '"kk"',
    '"12kk"', '"9223372036854775807"', '"9223372036854775808"', '"00009223372036854775807"',
    '"9223372036854775.807k"', '"9223372036.854775807B"', '"9223372036.854775808B"',
    '"9223372036854776k"', '"0.0000000001B"', '"\\uff11\\uff12\\uff13"', '"\\u0661\\u0662"',
    '"12\\u00a0k"', '""', '"   "', "1.5", "1e3", "1.0", "true", "false", "null", "-3", "0",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-0", "[848]", OMIT,
]  # fmt: skip
TAG_EDGES = [
    OMIT, "null", '""', '",,"', '" a , b ,, c "', '"single"', "5", '["x", "y"]',
    '" N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e "', '"N,o,T,a,g,s"', '"\\u00a0tag\\u00a0,\\u001ctag"',
]  # fmt: skip
MEDIA_EDGES = [
    OMIT, "null", '" image "', '"Image"', '"VIDEO"', '"gif"', '""', "1",
    '"\\u00a0video\\u2029"', '"multi-video"', '" multi-video(story page format) "',
]  # fmt: skip
IMAGE_SRC_EDGES = [
    OMIT, "null", '"http://x"', '"HTTPS://i.pinimg.com/originals/aa/bb/cc/x.jpg"',
    '" https://i.pinimg.com/x.jpg"', '"https://"', '"http://"', '"ftp://x"', '"https:/x"', '""',
    '"HtTp://a"', "12", '"https:// "', '"https://x "', '"Image src error. "', '"httpss://x"',
]  # fmt: skip
DOWNLOADED_EDGES = [OMIT, "true", "false", "null", '"1"', "1.0", "2", "-1", "-0", "0.0", "[1]"]
SAVE_LOCATION_EDGES = [
    OMIT, "null", '""', '"Local save in "', '"Local save in    "', '"local save in /data/art"',
    '" Local save in /data/art"', '"Local save in  /data/travel "', '"/data/beauty"', "7",
    '"Local save in\\u00a0/data/art"', '"Local save in Local save in /data/art"',
]  # fmt: skip
CATEGORY_EDGES = [
    OMIT, "null", '""', '"   "', '" Travel "', '"HOME-DECOR"', '"\\u00c9ducation"', "3",
    '"\\u0130stanbul"', '"\\u00a0beauty\\u3000"', '"other"', '"ART\\u001c"',
]  # fmt: skip
UNIQUE_ID_EDGES = ['""', '"   "', '"not-a-uuid"', '"\\u00a0padded-id\\u00a0"']
INDEX_EDGES = ["-1", "0", str(MAX_INDEX), "9223372036854775807", "-9223372036854775808", "-0"]
EXTRA_FIELDS = [
    '"extra": {"nested": [1, 2.5, null, "x"]}', '"source": "emulator-v2"', '"retry": 1',
    '"received_at": "2020-08-28T03:52:47Z"', '"tags": ["a", "b"]', '"note": null',
]  # fmt: skip

TIMESTAMP_EDGES = [
    '"2020-02-30 12:00:00"', '"2020-02-29 12:00:00"', '"2019-02-29 12:00:00"',
    '"2020-04-31 00:00:00"', '"2020-00-10 00:00:00"', '"2020-13-01 00:00:00"',
    '"1900-02-29 00:00:00"', '"2000-02-29 00:00:00"', '"0000-02-29 00:00:00"',
    '"2020-08-28T03:52:47"', '"2020-08-28t03:52:47Z"', '"2020-08-28T03:52:47z"',
    '"2020-08-28T03:52:47.123456789+05:30"', '"2020-12-31T23:30:00-01:00"',
    '"2021-01-01T00:30:00+01:00"', '"0000-01-01T00:30:00+01:00"', '"0000-01-01T01:30:00+01:00"',
    '"9999-12-31T23:59:59-00:01"', '"9999-12-31T23:59:59Z"', '"0000-01-01 00:00:00"',
    '"2020-08-28 24:00:00"', '"2020-08-28 23:59:60"', '"2020-08-28T03:52:47+24:00"',
    '"2020-08-28T03:52:47+05:60"', '"2020-08-28T03:52:47-00:00"', '"2020-8-28 03:52:47"',
    '" 2020-08-28 03:52:47 "', '"\\u00a02020:08:28 03:52:47\\u3000"', '"2020-08-28  03:52:47"',
    '"2020-08-28T03:52:47.Z"', '"2020-08-28T03:52:47+0530"', '"2020-08-28T03:52:47.5"',
    '"2020-08:28 03:52:47"', '"2020-08-28 03:52:47Z"', '"2020-08-28 03:52:47.5"',
    '"2020/08/28 03:52:47"', '"28-08-2020 03:52:47"', '"2020-08-28"', '"\\u001c2020-08-28 03:52:47"',
    '"\\uff12020-08-28 03:52:47"', '""', '"garbage"', "1598586767", "null", "true", OMIT,
]  # fmt: skip
COORDINATE_EDGES = [
    ("90", "180"), ("-90", "-180"), ("90.0001", "0.0"), ("0.0", "-180.5"), ("45", "-73"),
    ('"45.0"', "10.0"), ("null", "10.0"), ("10.0", OMIT), (OMIT, OMIT), ("true", "1.0"),
    ("1e-7", "-1e-7"), ("1e2", "5.0"), ("-0.0", "-0"), ("0", "0"), ("89.99999999999999", "179.9"),
    ("-90.00000000000001", "0.0"), ("[1.0]", "2.0"), ("9223372036854775808", "0"),
]  # fmt: skip
AGE_EDGES = [
    "-1", "0", "120", "121", "30.0", '"30"', "null", "true", "9223372036854775807",
    "9223372036854775808", "-0", "1e1", OMIT,
]  # fmt: skip
IND_EDGES = INDEX_EDGES

# Lines that cannot be cleaned at all (dead letters): not JSON, not an object, no usable key.
# "\udcff" is written as the single byte 0xFF (surrogateescape): a line that is not UTF-8.
UNUSABLE_COMMON = [
    "not json at all", "{", '{"a": 1', "[1, 2, 3]", '"a string"', "42", "null", "{}",
    '{"x": NaN}', '{"x": Infinity}', "\u001c", '{"x": 1e400}', "\udcff", '{"x": "\udcfe"}',
    "{'single': 'quotes'}", '{"x": 1,}', '{"x": 01}', "\ufeff{}",
]  # fmt: skip
UNUSABLE_PIN = UNUSABLE_COMMON + [
    '{"unique_id": "a0b1c2d3-0000-4000-8000-000000000000"}',
    '{"index": "12", "unique_id": "x"}', '{"index": 12.0, "unique_id": "x"}',
    '{"index": 1e3, "unique_id": "x"}', '{"index": true, "unique_id": "x"}',
    '{"index": null, "unique_id": "x"}', '{"index": 9223372036854775808, "unique_id": "x"}',
    '{"index": -9223372036854775809, "unique_id": "x"}', '{"index": 7}',
    '{"index": 7, "unique_id": 7}', '{"index": 7, "unique_id": null}',
    '{"index": 7, "unique_id": ["x"]}', '{"index": 7, "unique_id": "x", "index": "7"}',
]  # fmt: skip
UNUSABLE_IND = UNUSABLE_COMMON + [
    '{"timestamp": "2020-08-28 03:52:47"}', '{"ind": "12"}', '{"ind": 12.0}', '{"ind": true}',
    '{"ind": null}', '{"ind": 9223372036854775808}', '{"ind": -9223372036854775809}',
    '{"ind": 1e3}', '{"ind": 7, "ind": "7"}', '{"IND": 7}',
]  # fmt: skip
BLANK_LINES = ["", "   ", "\t", "\u00a0", "\u3000 ", "\r"]


class Generator:
    """One generator per run; `line()` returns the next line of text, without the newline."""

    # Probabilities per line.
    UNUSABLE = 0.002
    BLANK = 0.001
    EXTRA = 0.02
    DUPLICATE_JSON_KEY = 0.003
    # Probability per field of an edge-case value.
    EDGE = 0.004

    def __init__(self, kind, seed):
        rng = random.Random(seed)
        self.rng = rng
        # rng.random() and indexing are several times cheaper than rng.choice()/randint().
        self.random = rng.random
        self.pools = Pools(random.Random(f"pools-{seed}"))
        self.recent_ids = []  # ring of recent unique_ids, for re-sent pins
        self.line = {"pin": self.pin_line, "geo": self.geo_line, "user": self.user_line}[kind]

    def choose(self, items):
        return items[int(self.random() * len(items))]

    def below(self, n):
        """A whole number in 0..n-1."""
        return int(self.random() * n)

    def special_line(self, unusable):
        """A blank or unusable line, or None for an ordinary one."""
        r = self.random()
        if r < self.UNUSABLE:
            return self.choose(unusable)
        if r < self.UNUSABLE + self.BLANK:
            return self.choose(BLANK_LINES)
        return None

    def assemble(self, fields):
        """`{"k": v, ...}` from (key, fragment) pairs, dropping OMIT; maybe extras and repeats."""
        parts = [f'"{key}": {value}' for key, value in fields if value is not OMIT]
        if self.random() < self.EXTRA:
            parts.insert(self.below(len(parts) + 1), self.choose(EXTRA_FIELDS))
        if self.random() < self.DUPLICATE_JSON_KEY and len(parts) > 1:
            # The same key twice, with null first or last: the last occurrence wins.
            key = self.choose(parts[1:]).split(":", 1)[0]
            parts.insert(self.below(len(parts) + 1), key + ": null")
        return "{" + ", ".join(parts) + "}"

    # -- pins ---------------------------------------------------------------------------------

    def uuid(self):
        h = "%032x" % self.rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def unique_id(self):
        recent = self.recent_ids
        r = self.random()
        if r < 0.02 and recent:  # re-sent: a retry or an update of an earlier pin
            uid = self.choose(recent)
            return f'"{uid}"' if r < 0.017 else f'" {uid}\\t"'
        if r < 0.02 + self.EDGE:
            return self.choose(UNIQUE_ID_EDGES)
        uid = self.uuid()
        if len(recent) < 8192:
            recent.append(uid)
        else:
            recent[self.below(8192)] = uid
        return f'"{uid}"'

    def follower_count(self):
        r = self.random()
        below = self.below
        if r < 0.42:
            return f'"{below(1000)}"'
        if r < 0.72:
            return f'"{below(999) + 1}k"'
        if r < 0.77:
            return f'"{below(9) + 1}.{below(10)}M"'
        if r < 0.80:
            return '"2M"'
        if r < 0.87:
            return '"User Info Error"'
        if r < 0.96:
            return str(below(50_000))
        if r < 0.99:
            return f'"{below(999) + 1},{below(1000):03d}"'
        return self.choose(FOLLOWER_EDGES)

    def pin_line(self):
        special = self.special_line(UNUSABLE_PIN)
        if special is not None:
            return special
        random_ = self.random
        choose = self.choose
        pools = self.pools
        edge = self.EDGE
        ascii_only = random_() < 0.5
        category = choose(CATEGORIES)
        index = str(self.below(MAX_INDEX + 1)) if random_() >= edge else choose(INDEX_EDGES)

        r = random_()
        if r < 0.03:
            title = '"No Title Data Available"'
        elif r < 0.03 + edge:
            title = choose(TITLE_EDGES)
        else:
            title = choose(pools.titles[ascii_only])

        r = random_()
        if r < 0.06:
            description = '"No description available Story format"'
        elif r < 0.08:
            description = '"No description available"'
        elif r < 0.08 + edge:
            description = choose(DESCRIPTION_EDGES)
        else:
            description = choose(pools.descriptions[ascii_only])

        r = random_()
        if r < 0.05:
            poster = '"User Info Error"'
        elif r < 0.05 + edge:
            poster = choose(POSTER_EDGES)
        else:
            poster = choose(pools.posters[ascii_only])

        r = random_()
        if r < 0.08:
            tags = f'"{TAG_PLACEHOLDER}"'
        elif r < 0.08 + edge:
            tags = choose(TAG_EDGES)
        else:
            tags = choose(pools.tag_lists[category][ascii_only])

        r = random_()
        if r < 0.80:
            media = '"image"'
        elif r < 0.92:
            media = '"video"'
        elif r < 0.97:
            media = '"multi-video(story page format)"'
        elif r < 0.99:
            media = "null"
        else:
            media = choose(MEDIA_EDGES)

        r = random_()
        if r < 0.04:
            image_src = '"Image src error."'
        elif r < 0.04 + edge:
            image_src = choose(IMAGE_SRC_EDGES)
        else:
            h = "%032x" % self.rng.getrandbits(128)
            ext = "jpg" if r < 0.9 else "png"
            image_src = f'"https://i.pinimg.com/originals/{h[:2]}/{h[2:4]}/{h[4:6]}/{h}.{ext}"'

        r = random_()
        downloaded = "1" if r < 0.9 else "0" if r < 0.99 else choose(DOWNLOADED_EDGES)
        if random_() >= edge:
            save_location = f'"Local save in /data/{category}"'
        else:
            save_location = choose(SAVE_LOCATION_EDGES)
        category_json = f'"{category}"' if random_() >= edge else choose(CATEGORY_EDGES)
        unique_id = self.unique_id()
        follower_count = self.follower_count()

        fields = (
            ("index", index),
            ("unique_id", unique_id),
            ("title", title),
            ("description", description),
            ("poster_name", poster),
            ("follower_count", follower_count),
            ("tag_list", tags),
            ("is_image_or_video", media),
            ("image_src", image_src),
            ("downloaded", downloaded),
            ("save_location", save_location),
            ("category", category_json),
        )
        if random_() < 0.05 or OMIT in (title, description, poster, follower_count, tags, media,
                                        image_src, downloaded, save_location, category_json):
            return self.assemble(fields)
        # The common case, spelled out because it is most of the run time.
        return (
            f'{{"index": {index}, "unique_id": {unique_id}, "title": {title}, '
            f'"description": {description}, "poster_name": {poster}, '
            f'"follower_count": {follower_count}, "tag_list": {tags}, '
            f'"is_image_or_video": {media}, "image_src": {image_src}, '
            f'"downloaded": {downloaded}, "save_location": {save_location}, '
            f'"category": {category_json}}}'
        )

    # -- geo and user -------------------------------------------------------------------------

    def ind(self):
        if self.random() >= self.EDGE:
            return str(self.below(MAX_INDEX + 1))
        return self.choose(IND_EDGES)

    def timestamp(self, first_year, last_year):
        """One of the three shapes (most often the emulator's str(datetime)), or an edge case."""
        below = self.below
        r = self.random()
        if r < self.EDGE * 3:
            return self.choose(TIMESTAMP_EDGES)
        year = first_year + below(last_year - first_year + 1)
        month = below(12) + 1
        day = below(28) + 1
        clock = f"{below(24):02d}:{below(60):02d}:{below(60):02d}"
        if r < 0.70:
            return f'"{year}-{month:02d}-{day:02d} {clock}"'
        if r < 0.85:
            return f'"{year}:{month:02d}:{day:02d} {clock}"'
        zone = self.choose(["Z", "Z", "+00:00", "+02:00", "-05:00", "+05:30", "-09:30", "+14:00"])
        fraction = self.choose(["", "", ".5", ".123", ".123456", ".999999999"])
        return f'"{year}-{month:02d}-{day:02d}T{clock}{fraction}{zone}"'

    def geo_line(self):
        special = self.special_line(UNUSABLE_IND)
        if special is not None:
            return special
        random_ = self.random
        ascii_only = random_() < 0.5
        if random_() >= self.EDGE * 3:
            digits = 4 + self.below(4)
            latitude = repr(round(random_() * 180 - 90, digits))
            longitude = repr(round(random_() * 360 - 180, digits))
        else:
            latitude, longitude = self.choose(COORDINATE_EDGES)
        if random_() >= self.EDGE:
            country = self.choose(self.pools.countries[ascii_only])
        else:
            country = self.choose(TEXT_EDGES)
        return self.assemble(
            [
                ("ind", self.ind()),
                ("timestamp", self.timestamp(2017, 2022)),
                ("latitude", latitude),
                ("longitude", longitude),
                ("country", country),
            ]
        )

    def user_line(self):
        special = self.special_line(UNUSABLE_IND)
        if special is not None:
            return special
        random_ = self.random
        choose = self.choose
        pools = self.pools
        ascii_only = random_() < 0.5
        first = choose(pools.first_names[ascii_only])
        last = choose(pools.last_names[ascii_only])
        if random_() < self.EDGE * 2:
            first = choose(TEXT_EDGES)
        if random_() < self.EDGE * 2:
            last = choose(TEXT_EDGES)
        age = str(20 + self.below(41)) if random_() >= self.EDGE * 2 else choose(AGE_EDGES)
        return self.assemble(
            [
                ("ind", self.ind()),
                ("first_name", first),
                ("last_name", last),
                ("age", age),
                ("date_joined", self.timestamp(2015, 2017)),
            ]
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--type", required=True, choices=["pin", "geo", "user"], dest="kind")
    parser.add_argument("--count", required=True, type=int, help="number of lines to write")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generator = Generator(args.kind, args.seed)
    line = generator.line
    out = sys.stdout.buffer
    remaining = args.count
    while remaining > 0:
        batch = min(remaining, 10_000)
        # Encoding line by line is faster than joining first: a joined str is widened to the
        # widest character in it. surrogateescape turns "\udcff" into the invalid byte 0xFF.
        out.write(b"".join([(line() + "\n").encode("utf-8", "surrogateescape") for _ in range(batch)]))
        remaining -= batch
    out.flush()


if __name__ == "__main__":
    main()
