-- The serving DB (SQLite): clean, de-duplicated tables, real-time window aggregates, dead
-- letters, and the speed layer's consumer offsets. Timestamps are RFC 3339 UTC text
-- (`2020-08-28T03:52:47Z`, which sorts in time order); tag lists are JSON arrays.
-- Every data row records the log position it came from (log_partition, log_offset) and its
-- receive time: "last received wins" compares them, and a replay changes nothing.

CREATE TABLE pins (
    unique_id       TEXT    NOT NULL PRIMARY KEY,
    ind             INTEGER NOT NULL,
    title           TEXT,
    description     TEXT,
    poster_name     TEXT,
    follower_count  INTEGER,
    tag_list        TEXT    NOT NULL DEFAULT '[]',
    media_type      TEXT,
    image_src       TEXT,
    downloaded      INTEGER,
    save_location   TEXT,
    category        TEXT,
    received_at     TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    log_offset      INTEGER NOT NULL
);
CREATE INDEX pins_ind ON pins (ind);
CREATE INDEX pins_category ON pins (category);
CREATE INDEX pins_received_at ON pins (received_at);

CREATE TABLE geos (
    ind             INTEGER NOT NULL PRIMARY KEY,
    country         TEXT,
    latitude        REAL,
    longitude       REAL,
    "timestamp"     TEXT,
    received_at     TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    log_offset      INTEGER NOT NULL
);
CREATE INDEX geos_country ON geos (country);

CREATE TABLE users (
    ind             INTEGER NOT NULL PRIMARY KEY,
    user_name       TEXT,
    age             INTEGER,
    date_joined     TEXT,
    received_at     TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    log_offset      INTEGER NOT NULL
);

-- Per one-minute tumbling window of receive time and category ('' when the pin has none).
CREATE TABLE pin_windows (
    window_start    TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    events          INTEGER NOT NULL,
    distinct_pins   INTEGER NOT NULL,
    videos          INTEGER NOT NULL,
    images          INTEGER NOT NULL,
    total_followers INTEGER NOT NULL,
    PRIMARY KEY (window_start, category)
);
-- The pins seen in each window, for distinct_pins.
CREATE TABLE pin_window_keys (
    window_start    TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    unique_id       TEXT    NOT NULL,
    PRIMARY KEY (window_start, category, unique_id)
) WITHOUT ROWID;

CREATE TABLE dead_letter (
    topic           TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    log_offset      INTEGER NOT NULL,
    received_at     TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    raw             BLOB,
    PRIMARY KEY (topic, log_partition, log_offset)
);

-- The next log offset to apply per consumer group and partition, written in the same
-- transaction as the rows it produced.
CREATE TABLE stream_offsets (
    consumer_group  TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    next_offset     INTEGER NOT NULL,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (consumer_group, topic, log_partition)
);
