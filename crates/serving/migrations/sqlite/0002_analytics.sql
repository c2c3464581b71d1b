-- The batch layer's daily analytics (data.md), one table per analytic, one set of rows per
-- date `dt` (the day the results are computed for: all data received up to its end, UTC).
-- A batch run for a date replaces that date's rows in one transaction.

CREATE TABLE category_by_country (
    dt TEXT NOT NULL,
    country TEXT NOT NULL,
    category TEXT,
    category_count INTEGER,
    PRIMARY KEY (dt, country)
);

CREATE TABLE category_by_year (
    dt TEXT NOT NULL,
    post_year INTEGER NOT NULL,
    category TEXT,
    category_count INTEGER,
    PRIMARY KEY (dt, post_year)
);

CREATE TABLE top_user_by_country (
    dt TEXT NOT NULL,
    country TEXT NOT NULL,
    poster_name TEXT,
    follower_count INTEGER,
    PRIMARY KEY (dt, country)
);

CREATE TABLE top_user (
    dt TEXT NOT NULL,
    country TEXT,
    poster_name TEXT,
    follower_count INTEGER,
    PRIMARY KEY (dt)
);

CREATE TABLE category_by_age_group (
    dt TEXT NOT NULL,
    age_group TEXT NOT NULL,
    category TEXT,
    category_count INTEGER,
    PRIMARY KEY (dt, age_group)
);

CREATE TABLE median_followers_by_age_group (
    dt TEXT NOT NULL,
    age_group TEXT NOT NULL,
    median_follower_count REAL,
    PRIMARY KEY (dt, age_group)
);

CREATE TABLE users_joined_by_year (
    dt TEXT NOT NULL,
    join_year INTEGER NOT NULL,
    number_users_joined INTEGER,
    PRIMARY KEY (dt, join_year)
);

CREATE TABLE median_followers_by_join_year (
    dt TEXT NOT NULL,
    join_year INTEGER NOT NULL,
    median_follower_count REAL,
    PRIMARY KEY (dt, join_year)
);

CREATE TABLE median_followers_by_join_year_and_age_group (
    dt TEXT NOT NULL,
    join_year INTEGER NOT NULL,
    age_group TEXT NOT NULL,
    median_follower_count REAL,
    PRIMARY KEY (dt, join_year, age_group)
);

CREATE TABLE category_summary (
    dt TEXT NOT NULL,
    category TEXT NOT NULL,
    pins INTEGER,
    images INTEGER,
    videos INTEGER,
    median_follower_count REAL,
    PRIMARY KEY (dt, category)
);

CREATE TABLE top_tags (
    dt TEXT NOT NULL,
    tag TEXT NOT NULL,
    pins INTEGER,
    PRIMARY KEY (dt, tag)
);

-- The batch runs: one row per date, the latest run's summary.
CREATE TABLE batch_runs (
    dt TEXT PRIMARY KEY,
    finished_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
