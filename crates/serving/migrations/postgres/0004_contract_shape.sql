-- `pins` and `geos` in the contract's shape (data.md, "Where clean records are read"): data.md's
-- clean columns first, in data.md's order, then the extras (receive time, log position).
-- `users` already has that shape. `tag_list` stays jsonb, `downloaded` boolean, and
-- `coordinates` is an array of two doubles (exact, like the two columns it replaces).
--
-- PostgreSQL cannot reorder columns, so both tables are rebuilt (as on SQLite, where the same
-- migration has the same columns). `coordinates` replaces `latitude` and `longitude`.

CREATE TABLE pins_0004 (
    ind             bigint           NOT NULL,
    unique_id       text             NOT NULL PRIMARY KEY,
    title           text,
    description     text,
    poster_name     text,
    follower_count  bigint,
    tag_list        jsonb            NOT NULL DEFAULT '[]',
    media_type      text,
    image_src       text,
    downloaded      boolean,
    save_location   text,
    category        text,
    received_at     timestamptz      NOT NULL,
    log_partition   integer          NOT NULL,
    log_offset      bigint           NOT NULL
);
INSERT INTO pins_0004 (ind, unique_id, title, description, poster_name, follower_count, tag_list,
                       media_type, image_src, downloaded, save_location, category, received_at,
                       log_partition, log_offset)
SELECT ind, unique_id, title, description, poster_name, follower_count, tag_list, media_type,
       image_src, downloaded, save_location, category, received_at, log_partition, log_offset
FROM pins;
DROP TABLE pins;
ALTER TABLE pins_0004 RENAME TO pins;
ALTER TABLE pins RENAME CONSTRAINT pins_0004_pkey TO pins_pkey;
CREATE INDEX pins_ind ON pins (ind);
CREATE INDEX pins_category ON pins (category);
CREATE INDEX pins_received_at ON pins (received_at);

CREATE TABLE geos_0004 (
    ind             bigint           NOT NULL PRIMARY KEY,
    country         text,
    coordinates     double precision[],
    "timestamp"     timestamptz,
    received_at     timestamptz      NOT NULL,
    log_partition   integer          NOT NULL,
    log_offset      bigint           NOT NULL
);
INSERT INTO geos_0004 (ind, country, coordinates, "timestamp", received_at, log_partition,
                       log_offset)
SELECT ind, country,
       CASE WHEN latitude IS NULL OR longitude IS NULL THEN NULL
            ELSE ARRAY[latitude, longitude]
       END,
       "timestamp", received_at, log_partition, log_offset
FROM geos;
DROP TABLE geos;
ALTER TABLE geos_0004 RENAME TO geos;
ALTER TABLE geos RENAME CONSTRAINT geos_0004_pkey TO geos_pkey;
CREATE INDEX geos_country ON geos (country);
