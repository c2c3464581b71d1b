-- `pins` and `geos` in the contract's shape (data.md, "Where clean records are read"): data.md's
-- clean columns first, in data.md's order, then the extras (receive time, log position).
-- `users` already has that shape. SQLite keeps no type with a value, so the declared types say
-- what a value is, and `pinpipe sql` reads them: `JSON` text is a JSON value (`tag_list`,
-- `coordinates`), `BOOLEAN` 0/1 is false/true (`downloaded`). Timestamps stay RFC 3339 UTC text.
--
-- SQLite cannot reorder or retype columns, so both tables are rebuilt. `coordinates` replaces
-- `latitude` and `longitude`: the speed layer writes it as JSON text (serde_json, exact); rows
-- from before this migration get it from the stored doubles with printf('%!.17g'), which is
-- exact for every value tried of 1e-83 or more in magnitude (SQLite's conversion can miss the
-- last digit below that; the next record of the key rewrites the row exactly).

CREATE TABLE pins_0004 (
    ind             INTEGER NOT NULL,
    unique_id       TEXT    NOT NULL PRIMARY KEY,
    title           TEXT,
    description     TEXT,
    poster_name     TEXT,
    follower_count  INTEGER,
    tag_list        JSON    NOT NULL DEFAULT '[]',
    media_type      TEXT,
    image_src       TEXT,
    downloaded      BOOLEAN,
    save_location   TEXT,
    category        TEXT,
    received_at     TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    log_offset      INTEGER NOT NULL
);
INSERT INTO pins_0004 (ind, unique_id, title, description, poster_name, follower_count, tag_list,
                       media_type, image_src, downloaded, save_location, category, received_at,
                       log_partition, log_offset)
SELECT ind, unique_id, title, description, poster_name, follower_count, tag_list, media_type,
       image_src, downloaded, save_location, category, received_at, log_partition, log_offset
FROM pins;
DROP TABLE pins;
ALTER TABLE pins_0004 RENAME TO pins;
CREATE INDEX pins_ind ON pins (ind);
CREATE INDEX pins_category ON pins (category);
CREATE INDEX pins_received_at ON pins (received_at);

CREATE TABLE geos_0004 (
    ind             INTEGER NOT NULL PRIMARY KEY,
    country         TEXT,
    coordinates     JSON,
    "timestamp"     TEXT,
    received_at     TEXT    NOT NULL,
    log_partition   INTEGER NOT NULL,
    log_offset      INTEGER NOT NULL
);
INSERT INTO geos_0004 (ind, country, coordinates, "timestamp", received_at, log_partition,
                       log_offset)
SELECT ind, country,
       CASE WHEN latitude IS NULL OR longitude IS NULL THEN NULL
            ELSE '[' || printf('%!.17g', latitude) || ',' || printf('%!.17g', longitude) || ']'
       END,
       "timestamp", received_at, log_partition, log_offset
FROM geos;
DROP TABLE geos;
ALTER TABLE geos_0004 RENAME TO geos;
CREATE INDEX geos_country ON geos (country);
