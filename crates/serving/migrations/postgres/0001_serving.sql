-- The serving DB (PostgreSQL): the same tables as the SQLite schema, with PostgreSQL's types
-- (timestamptz, bigint, boolean, jsonb for tag lists, bytea for raw dead letters).

CREATE TABLE pins (
    unique_id       text             NOT NULL PRIMARY KEY,
    ind             bigint           NOT NULL,
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
CREATE INDEX pins_ind ON pins (ind);
CREATE INDEX pins_category ON pins (category);
CREATE INDEX pins_received_at ON pins (received_at);

CREATE TABLE geos (
    ind             bigint           NOT NULL PRIMARY KEY,
    country         text,
    latitude        double precision,
    longitude       double precision,
    "timestamp"     timestamptz,
    received_at     timestamptz      NOT NULL,
    log_partition   integer          NOT NULL,
    log_offset      bigint           NOT NULL
);
CREATE INDEX geos_country ON geos (country);

CREATE TABLE users (
    ind             bigint           NOT NULL PRIMARY KEY,
    user_name       text,
    age             bigint,
    date_joined     timestamptz,
    received_at     timestamptz      NOT NULL,
    log_partition   integer          NOT NULL,
    log_offset      bigint           NOT NULL
);

CREATE TABLE pin_windows (
    window_start    timestamptz      NOT NULL,
    category        text             NOT NULL,
    events          bigint           NOT NULL,
    distinct_pins   bigint           NOT NULL,
    videos          bigint           NOT NULL,
    images          bigint           NOT NULL,
    total_followers bigint           NOT NULL,
    PRIMARY KEY (window_start, category)
);
CREATE TABLE pin_window_keys (
    window_start    timestamptz      NOT NULL,
    category        text             NOT NULL,
    unique_id       text             NOT NULL,
    PRIMARY KEY (window_start, category, unique_id)
);

CREATE TABLE dead_letter (
    topic           text             NOT NULL,
    log_partition   integer          NOT NULL,
    log_offset      bigint           NOT NULL,
    received_at     timestamptz      NOT NULL,
    reason          text             NOT NULL,
    raw             bytea,
    PRIMARY KEY (topic, log_partition, log_offset)
);

CREATE TABLE stream_offsets (
    consumer_group  text             NOT NULL,
    topic           text             NOT NULL,
    log_partition   integer          NOT NULL,
    next_offset     bigint           NOT NULL,
    updated_at      timestamptz      NOT NULL,
    PRIMARY KEY (consumer_group, topic, log_partition)
);
