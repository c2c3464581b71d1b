-- The batch layer's daily analytics (data.md), one table per analytic, one set of rows per
-- date `dt` (the day the results are computed for: all data received up to its end, UTC).
-- A batch run for a date replaces that date's rows in one transaction.

CREATE TABLE category_by_country (
    dt DATE NOT NULL,
    country TEXT NOT NULL,
    category TEXT,
    category_count BIGINT,
    PRIMARY KEY (dt, country)
);

CREATE TABLE category_by_year (
    dt DATE NOT NULL,
    post_year BIGINT NOT NULL,
    category TEXT,
    category_count BIGINT,
    PRIMARY KEY (dt, post_year)
);

CREATE TABLE top_user_by_country (
    dt DATE NOT NULL,
    country TEXT NOT NULL,
    poster_name TEXT,
    follower_count BIGINT,
    PRIMARY KEY (dt, country)
);

CREATE TABLE top_user (
    dt DATE NOT NULL,
    country TEXT,
    poster_name TEXT,
    follower_count BIGINT,
    PRIMARY KEY (dt)
);

CREATE TABLE category_by_age_group (
    dt DATE NOT NULL,
    age_group TEXT NOT NULL,
    category TEXT,
    category_count BIGINT,
    PRIMARY KEY (dt, age_group)
);

CREATE TABLE median_followers_by_age_group (
    dt DATE NOT NULL,
    age_group TEXT NOT NULL,
    median_follower_count DOUBLE PRECISION,
    PRIMARY KEY (dt, age_group)
);

CREATE TABLE users_joined_by_year (
    dt DATE NOT NULL,
    join_year BIGINT NOT NULL,
    number_users_joined BIGINT,
    PRIMARY KEY (dt, join_year)
);

CREATE TABLE median_followers_by_join_year (
    dt DATE NOT NULL,
    join_year BIGINT NOT NULL,
    median_follower_count DOUBLE PRECISION,
    PRIMARY KEY (dt, join_year)
);

CREATE TABLE median_followers_by_join_year_and_age_group (
    dt DATE NOT NULL,
    join_year BIGINT NOT NULL,
    age_group TEXT NOT NULL,
    median_follower_count DOUBLE PRECISION,
    PRIMARY KEY (dt, join_year, age_group)
);

CREATE TABLE category_summary (
    dt DATE NOT NULL,
    category TEXT NOT NULL,
    pins BIGINT,
    images BIGINT,
    videos BIGINT,
    median_follower_count DOUBLE PRECISION,
    PRIMARY KEY (dt, category)
);

CREATE TABLE top_tags (
    dt DATE NOT NULL,
    tag TEXT NOT NULL,
    pins BIGINT,
    PRIMARY KEY (dt, tag)
);

-- The batch runs: one row per date, the latest run's summary.
CREATE TABLE batch_runs (
    dt DATE PRIMARY KEY,
    finished_at TIMESTAMPTZ NOT NULL,
    summary JSONB NOT NULL
);
