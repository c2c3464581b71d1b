-- The scheduler's run history and its lock per date (shared by every scheduler process that
-- uses this serving DB). A run is one execution of the daily DAG for a date; its tasks are
-- recorded per attempt.

CREATE TABLE schedule_runs (
    run_id TEXT PRIMARY KEY,
    dt TEXT NOT NULL,
    run_trigger TEXT NOT NULL,          -- schedule, trigger, backfill
    state TEXT NOT NULL,                -- running, success, failed
    started_at TEXT NOT NULL,
    ended_at TEXT,
    error TEXT
);
CREATE INDEX schedule_runs_dt ON schedule_runs (dt);

CREATE TABLE schedule_tasks (
    run_id TEXT NOT NULL REFERENCES schedule_runs (run_id),
    task TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,                -- running, success, failed
    started_at TEXT NOT NULL,
    ended_at TEXT,
    error TEXT,
    PRIMARY KEY (run_id, task, attempt)
);

-- At most one run per date at a time, across processes: a row per date being run, by its owner,
-- until it expires (a crashed owner's lock lapses).
CREATE TABLE schedule_locks (
    dt TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
