//! The scheduler's state in the serving DB (migration 0003): run and task history, and a lock per
//! date that holds across every process using the same serving DB.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, QueryBuilder, Row, SqlitePool};

use crate::{ServingDb, ServingError};

/// One run of the daily DAG.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunRecord {
    /// Unique id.
    pub run_id: String,
    /// The date computed.
    pub dt: NaiveDate,
    /// What started it: `schedule`, `trigger` or `backfill`.
    pub trigger: String,
    /// `running`, `success` or `failed`.
    pub state: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, once over.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
    /// Its task attempts, in order.
    pub tasks: Vec<TaskRecord>,
}

/// One attempt of one task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskRecord {
    /// Task name.
    pub task: String,
    /// 1 for the first try.
    pub attempt: i64,
    /// `running`, `success` or `failed`.
    pub state: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, once over.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
    /// What it found (the reconcile task's counts and sample keys).
    pub detail: Option<String>,
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, ServingError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ServingError::Invalid(format!("bad time {text:?} in the run history: {e}")))
}

fn parse_date(text: &str) -> Result<NaiveDate, ServingError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| ServingError::Invalid(format!("bad date {text:?} in the run history: {e}")))
}

/// The statements, once per backend: only the encodings of dates and times differ (TEXT in
/// SQLite; DATE and TIMESTAMPTZ in PostgreSQL).
macro_rules! schedule_fns {
    ($module:ident, $pool:ty, $db:ty, date = $date:expr, time = $time:expr, get_date = $get_date:expr, get_time = $get_time:expr) => {
        mod $module {
            use super::*;

            pub(super) async fn try_lock(pool: &$pool, dt: NaiveDate, owner: &str, until: DateTime<Utc>) -> Result<bool, ServingError> {
                let mut tx = pool.begin().await?;
                let mut q = QueryBuilder::<$db>::new("DELETE FROM schedule_locks WHERE dt = ");
                q.push_bind($date(dt)).push(" AND expires_at < ").push_bind($time(Utc::now()));
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::<$db>::new("INSERT INTO schedule_locks (dt, owner, expires_at) VALUES (");
                q.separated(", ").push_bind($date(dt)).push_bind(owner.to_owned()).push_bind($time(until));
                q.push(") ON CONFLICT (dt) DO NOTHING");
                let inserted = q.build().execute(&mut *tx).await?.rows_affected() == 1;
                tx.commit().await?;
                Ok(inserted)
            }

            pub(super) async fn refresh_lock(pool: &$pool, dt: NaiveDate, owner: &str, until: DateTime<Utc>) -> Result<bool, ServingError> {
                let mut q = QueryBuilder::<$db>::new("UPDATE schedule_locks SET expires_at = ");
                q.push_bind($time(until)).push(" WHERE dt = ").push_bind($date(dt)).push(" AND owner = ").push_bind(owner.to_owned());
                Ok(q.build().execute(pool).await?.rows_affected() == 1)
            }

            pub(super) async fn unlock(pool: &$pool, dt: NaiveDate, owner: &str) -> Result<(), ServingError> {
                let mut q = QueryBuilder::<$db>::new("DELETE FROM schedule_locks WHERE dt = ");
                q.push_bind($date(dt)).push(" AND owner = ").push_bind(owner.to_owned());
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn start_run(pool: &$pool, run: &RunRecord) -> Result<(), ServingError> {
                let mut q = QueryBuilder::<$db>::new("INSERT INTO schedule_runs (run_id, dt, run_trigger, state, started_at) VALUES (");
                q.separated(", ")
                    .push_bind(run.run_id.clone())
                    .push_bind($date(run.dt))
                    .push_bind(run.trigger.clone())
                    .push_bind(run.state.clone())
                    .push_bind($time(run.started_at));
                q.push(")");
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn end_run(pool: &$pool, run_id: &str, state: &str, error: Option<&str>) -> Result<(), ServingError> {
                let mut q = QueryBuilder::<$db>::new("UPDATE schedule_runs SET state = ");
                q.push_bind(state.to_owned())
                    .push(", ended_at = ").push_bind($time(Utc::now()))
                    .push(", error = ").push_bind(error.map(str::to_owned))
                    .push(" WHERE run_id = ").push_bind(run_id.to_owned());
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn start_task(pool: &$pool, run_id: &str, task: &TaskRecord) -> Result<(), ServingError> {
                let mut q = QueryBuilder::<$db>::new("INSERT INTO schedule_tasks (run_id, task, attempt, state, started_at) VALUES (");
                q.separated(", ")
                    .push_bind(run_id.to_owned())
                    .push_bind(task.task.clone())
                    .push_bind(task.attempt)
                    .push_bind(task.state.clone())
                    .push_bind($time(task.started_at));
                q.push(")");
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn end_task(pool: &$pool, run_id: &str, task: &str, attempt: i64, state: &str, error: Option<&str>) -> Result<(), ServingError> {
                let mut q = QueryBuilder::<$db>::new("UPDATE schedule_tasks SET state = ");
                q.push_bind(state.to_owned())
                    .push(", ended_at = ").push_bind($time(Utc::now()))
                    .push(", error = ").push_bind(error.map(str::to_owned))
                    .push(" WHERE run_id = ").push_bind(run_id.to_owned())
                    .push(" AND task = ").push_bind(task.to_owned())
                    .push(" AND attempt = ").push_bind(attempt);
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn set_task_detail(pool: &$pool, run_id: &str, task: &str, attempt: i64, detail: &str) -> Result<(), ServingError> {
                let mut q = QueryBuilder::<$db>::new("UPDATE schedule_tasks SET detail = ");
                q.push_bind(detail.to_owned())
                    .push(" WHERE run_id = ").push_bind(run_id.to_owned())
                    .push(" AND task = ").push_bind(task.to_owned())
                    .push(" AND attempt = ").push_bind(attempt);
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn runs(pool: &$pool, limit: i64) -> Result<Vec<RunRecord>, ServingError> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT run_id, dt, run_trigger, state, started_at, ended_at, error FROM schedule_runs \
                     ORDER BY started_at DESC, run_id DESC LIMIT ");
                q.push_bind(limit);
                let rows = q.build().fetch_all(pool).await?;
                let mut runs = Vec::new();
                for row in rows {
                    runs.push(RunRecord {
                        run_id: row.try_get("run_id")?,
                        dt: $get_date(&row, "dt")?,
                        trigger: row.try_get("run_trigger")?,
                        state: row.try_get("state")?,
                        started_at: $get_time(&row, "started_at")?,
                        ended_at: if row.try_get_raw("ended_at").map(|v| sqlx::ValueRef::is_null(&v))? { None } else { Some($get_time(&row, "ended_at")?) },
                        error: row.try_get("error")?,
                        tasks: Vec::new(),
                    });
                }
                for run in &mut runs {
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT task, attempt, state, started_at, ended_at, error, detail FROM schedule_tasks WHERE run_id = ");
                    q.push_bind(run.run_id.clone()).push(" ORDER BY started_at, attempt");
                    for row in q.build().fetch_all(pool).await? {
                        run.tasks.push(TaskRecord {
                            task: row.try_get("task")?,
                            attempt: row.try_get::<i64, _>("attempt").or_else(|_| row.try_get::<i32, _>("attempt").map(i64::from))?,
                            state: row.try_get("state")?,
                            started_at: $get_time(&row, "started_at")?,
                            ended_at: if row.try_get_raw("ended_at").map(|v| sqlx::ValueRef::is_null(&v))? { None } else { Some($get_time(&row, "ended_at")?) },
                            error: row.try_get("error")?,
                            detail: row.try_get("detail")?,
                        });
                    }
                }
                Ok(runs)
            }
        }
    };
}

schedule_fns!(
    lite,
    SqlitePool,
    sqlx::Sqlite,
    date = date_text,
    time = time_text,
    get_date = |row: &sqlx::sqlite::SqliteRow, c: &str| -> Result<NaiveDate, ServingError> {
        parse_date(&row.try_get::<String, _>(c)?)
    },
    get_time = |row: &sqlx::sqlite::SqliteRow, c: &str| -> Result<DateTime<Utc>, ServingError> {
        parse_time(&row.try_get::<String, _>(c)?)
    }
);
schedule_fns!(
    pg,
    PgPool,
    sqlx::Postgres,
    date = |d: NaiveDate| d,
    time = |t: DateTime<Utc>| t,
    get_date = |row: &sqlx::postgres::PgRow, c: &str| -> Result<NaiveDate, ServingError> {
        Ok(row.try_get::<NaiveDate, _>(c)?)
    },
    get_time = |row: &sqlx::postgres::PgRow, c: &str| -> Result<DateTime<Utc>, ServingError> {
        Ok(row.try_get::<DateTime<Utc>, _>(c)?)
    }
);

macro_rules! both {
    ($self:expr, $f:ident($($arg:expr),*)) => {
        match $self {
            ServingDb::Sqlite(pool) => lite::$f(pool, $($arg),*).await,
            ServingDb::Postgres(pool) => pg::$f(pool, $($arg),*).await,
        }
    };
}

impl ServingDb {
    /// Takes the lock of `dt` for `owner` until `until`; false when another owner holds it (and it
    /// has not expired).
    pub async fn try_lock_date(
        &self,
        dt: NaiveDate,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, ServingError> {
        both!(self, try_lock(dt, owner, until))
    }

    /// Extends a held lock; false when it was lost (expired and taken by another owner).
    pub async fn refresh_date_lock(
        &self,
        dt: NaiveDate,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, ServingError> {
        both!(self, refresh_lock(dt, owner, until))
    }

    /// Releases a held lock.
    pub async fn unlock_date(&self, dt: NaiveDate, owner: &str) -> Result<(), ServingError> {
        both!(self, unlock(dt, owner))
    }

    /// Records the start of a run.
    pub async fn start_run(&self, run: &RunRecord) -> Result<(), ServingError> {
        both!(self, start_run(run))
    }

    /// Records the end of a run.
    pub async fn end_run(
        &self,
        run_id: &str,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), ServingError> {
        both!(self, end_run(run_id, state, error))
    }

    /// Records the start of a task attempt.
    pub async fn start_task(&self, run_id: &str, task: &TaskRecord) -> Result<(), ServingError> {
        both!(self, start_task(run_id, task))
    }

    /// Records the end of a task attempt.
    pub async fn end_task(
        &self,
        run_id: &str,
        task: &str,
        attempt: i64,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), ServingError> {
        both!(self, end_task(run_id, task, attempt, state, error))
    }

    /// Records what a task attempt found.
    pub async fn set_task_detail(
        &self,
        run_id: &str,
        task: &str,
        attempt: i64,
        detail: &str,
    ) -> Result<(), ServingError> {
        both!(self, set_task_detail(run_id, task, attempt, detail))
    }

    /// The latest `limit` runs, newest first, with their task attempts.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>, ServingError> {
        both!(self, runs(limit))
    }
}
