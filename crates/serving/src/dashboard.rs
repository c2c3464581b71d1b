//! Read-only, bounded reads of the serving DB for the built-in dashboard (`pinpipe-dashboard`):
//! the window aggregates, the dead letters, the batch runs and the daily analytics.
//!
//! [`ServingDb::open_read_only`] opens a pool that cannot write (SQLite `mode=ro`; PostgreSQL
//! `default_transaction_read_only`) with a 2 s statement timeout, and every read here has a
//! LIMIT, so a page can never hold a lock the speed layer waits for, nor read a whole table.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{QueryBuilder, Row};

use crate::{AnalyticsRows, Cell, ServingDb, ServingError};

/// How long one dashboard statement may run.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The 11 daily analytics' tables and their columns (without `dt`), in data.md's order: the
/// schema of migration 0002, which the batch layer fills.
pub const ANALYTICS_TABLES: [(&str, &[&str]); 11] = [
    (
        "category_by_country",
        &["country", "category", "category_count"],
    ),
    (
        "category_by_year",
        &["post_year", "category", "category_count"],
    ),
    (
        "top_user_by_country",
        &["country", "poster_name", "follower_count"],
    ),
    ("top_user", &["country", "poster_name", "follower_count"]),
    (
        "category_by_age_group",
        &["age_group", "category", "category_count"],
    ),
    (
        "median_followers_by_age_group",
        &["age_group", "median_follower_count"],
    ),
    (
        "users_joined_by_year",
        &["join_year", "number_users_joined"],
    ),
    (
        "median_followers_by_join_year",
        &["join_year", "median_follower_count"],
    ),
    (
        "median_followers_by_join_year_and_age_group",
        &["join_year", "age_group", "median_follower_count"],
    ),
    (
        "category_summary",
        &[
            "category",
            "pins",
            "images",
            "videos",
            "median_follower_count",
        ],
    ),
    ("top_tags", &["tag", "pins"]),
];

/// One row of `pin_windows`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WindowRow {
    /// Start of the minute.
    pub window_start: DateTime<Utc>,
    /// Clean category; `""` for pins without one.
    pub category: String,
    /// Pin events received in the minute.
    pub events: i64,
    /// Distinct `unique_id`s among them.
    pub distinct_pins: i64,
    /// Of them, videos.
    pub videos: i64,
    /// Of them, images.
    pub images: i64,
    /// Sum of their follower counts.
    pub total_followers: i64,
}

/// One row of `dead_letter`, with at most a prefix of its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetterRow {
    /// The log topic.
    pub topic: String,
    /// The log partition.
    pub partition: u32,
    /// The log offset.
    pub offset: u64,
    /// Its receive time.
    pub received_at: DateTime<Utc>,
    /// Why it could not be used (the message).
    pub reason: String,
    /// The first bytes of the record as stored (`None`: no value).
    pub raw_prefix: Option<Vec<u8>>,
    /// The record's full length in bytes.
    pub raw_len: u64,
}

/// Dead letters of one topic with one reason message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetterCount {
    /// The log topic.
    pub topic: String,
    /// The reason message.
    pub reason: String,
    /// How many.
    pub count: i64,
}

/// One row of `batch_runs`: the latest successful batch run of a date.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BatchRunRow {
    /// The date computed.
    pub dt: NaiveDate,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// The run's summary (the batch layer's `BatchSummary` as JSON).
    pub summary: serde_json::Value,
}

/// One category's `category_summary` row of one date.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CategoryTrendRow {
    /// The date.
    pub dt: NaiveDate,
    /// The category.
    pub category: String,
    /// Pins of that category up to the end of the date.
    pub pins: i64,
}

fn bad_time(text: &str, e: impl std::fmt::Display) -> ServingError {
    ServingError::Invalid(format!("bad time {text:?} in the serving DB: {e}"))
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, ServingError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_time(text, e))
}

fn parse_date(text: &str) -> Result<NaiveDate, ServingError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| bad_time(text, e))
}

fn u_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// The analytic named `name` and its columns.
pub fn analytics_table(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    ANALYTICS_TABLES.iter().copied().find(|(n, _)| *n == name)
}

/// The reads, once per backend: only how dates, times, partitions and JSON are stored differs.
macro_rules! dashboard_fns {
    ($module:ident, $pool:ty, $db:ty, $row:ty,
     secs = $secs:expr, millis = $millis:expr, date = $date:expr,
     get_time = $get_time:expr, get_date = $get_date:expr, get_part = $get_part:expr,
     get_json = $get_json:expr, get_float = $get_float:expr) => {
        mod $module {
            use super::*;

            pub(super) async fn windows(pool: &$pool, since: DateTime<Utc>, limit: i64) -> Result<Vec<WindowRow>, ServingError> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT window_start, category, events, distinct_pins, videos, images, total_followers \
                     FROM pin_windows WHERE window_start >= ");
                q.push_bind($secs(since)).push(" ORDER BY window_start, category LIMIT ").push_bind(limit);
                let mut out = Vec::new();
                for row in q.build().fetch_all(pool).await? {
                    out.push(WindowRow {
                        window_start: $get_time(&row, "window_start")?,
                        category: row.try_get("category")?,
                        events: row.try_get("events")?,
                        distinct_pins: row.try_get("distinct_pins")?,
                        videos: row.try_get("videos")?,
                        images: row.try_get("images")?,
                        total_followers: row.try_get("total_followers")?,
                    });
                }
                Ok(out)
            }

            pub(super) async fn dead_letters(pool: &$pool, topic: Option<&str>, limit: i64, prefix: i32) -> Result<Vec<DeadLetterRow>, ServingError> {
                let mut q = QueryBuilder::<$db>::new("SELECT topic, log_partition, log_offset, received_at, reason, substr(raw, 1, ");
                q.push_bind(prefix).push(") AS raw_prefix, length(raw) AS raw_len FROM dead_letter");
                if let Some(topic) = topic {
                    q.push(" WHERE topic = ").push_bind(topic.to_owned());
                }
                q.push(" ORDER BY received_at DESC, topic, log_partition, log_offset DESC LIMIT ").push_bind(limit);
                let mut out = Vec::new();
                for row in q.build().fetch_all(pool).await? {
                    let raw_len: Option<i64> = row.try_get::<Option<i64>, _>("raw_len")
                        .or_else(|_| row.try_get::<Option<i32>, _>("raw_len").map(|v| v.map(i64::from)))?;
                    out.push(DeadLetterRow {
                        topic: row.try_get("topic")?,
                        partition: $get_part(&row, "log_partition")?,
                        offset: u_of(row.try_get("log_offset")?),
                        received_at: $get_time(&row, "received_at")?,
                        reason: row.try_get("reason")?,
                        raw_prefix: row.try_get("raw_prefix")?,
                        raw_len: u_of(raw_len.unwrap_or(0)),
                    });
                }
                Ok(out)
            }

            pub(super) async fn dead_letter_counts(pool: &$pool, since: DateTime<Utc>, limit: i64) -> Result<Vec<DeadLetterCount>, ServingError> {
                let mut q = QueryBuilder::<$db>::new("SELECT topic, reason, count(*) AS n FROM dead_letter WHERE received_at >= ");
                q.push_bind($millis(since)).push(" GROUP BY topic, reason ORDER BY topic, reason LIMIT ").push_bind(limit);
                let mut out = Vec::new();
                for row in q.build().fetch_all(pool).await? {
                    out.push(DeadLetterCount { topic: row.try_get("topic")?, reason: row.try_get("reason")?, count: row.try_get("n")? });
                }
                Ok(out)
            }

            pub(super) async fn batch_runs(pool: &$pool, limit: i64) -> Result<Vec<BatchRunRow>, ServingError> {
                let mut q = QueryBuilder::<$db>::new("SELECT dt, finished_at, summary FROM batch_runs ORDER BY dt DESC LIMIT ");
                q.push_bind(limit);
                let mut out = Vec::new();
                for row in q.build().fetch_all(pool).await? {
                    out.push(BatchRunRow { dt: $get_date(&row, "dt")?, finished_at: $get_time(&row, "finished_at")?, summary: $get_json(&row, "summary")? });
                }
                Ok(out)
            }

            pub(super) async fn analytics(pool: &$pool, table: &str, columns: &[&str], date: NaiveDate, limit: i64) -> Result<Vec<Vec<Cell>>, ServingError> {
                let mut q = QueryBuilder::<$db>::new(format!("SELECT {} FROM {table} WHERE dt = ", columns.join(", ")));
                q.push_bind($date(date)).push(format!(" ORDER BY {} LIMIT ", columns.join(", "))).push_bind(limit);
                let mut out = Vec::new();
                for row in q.build().fetch_all(pool).await? {
                    let mut cells = Vec::with_capacity(columns.len());
                    for i in 0..columns.len() {
                        let raw = row.try_get_raw(i)?;
                        let cell = if sqlx::ValueRef::is_null(&raw) {
                            Cell::Null
                        } else if let Ok(v) = row.try_get::<i64, _>(i) {
                            Cell::Int(v)
                        } else if let Ok(v) = row.try_get::<i32, _>(i) {
                            Cell::Int(i64::from(v))
                        } else if let Ok(v) = $get_float(&row, i) {
                            Cell::Float(v)
                        } else {
                            Cell::Text(row.try_get::<String, _>(i)?)
                        };
                        cells.push(cell);
                    }
                    out.push(cells);
                }
                Ok(out)
            }

            pub(super) async fn category_trend(pool: &$pool, dates: i64) -> Result<Vec<CategoryTrendRow>, ServingError> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT dt, category, pins FROM category_summary WHERE dt IN \
                     (SELECT dt FROM batch_runs ORDER BY dt DESC LIMIT ");
                q.push_bind(dates).push(") ORDER BY dt, category LIMIT 2000");
                let mut out = Vec::new();
                for row in q.build().fetch_all(pool).await? {
                    out.push(CategoryTrendRow {
                        dt: $get_date(&row, "dt")?,
                        category: row.try_get("category")?,
                        pins: row.try_get::<Option<i64>, _>("pins")?.unwrap_or(0),
                    });
                }
                Ok(out)
            }
        }
    };
}

dashboard_fns!(
    lite,
    sqlx::SqlitePool,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    secs = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    millis = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    date = |d: NaiveDate| d.format("%Y-%m-%d").to_string(),
    get_time = |row: &sqlx::sqlite::SqliteRow, c: &str| -> Result<DateTime<Utc>, ServingError> {
        parse_time(&row.try_get::<String, _>(c)?)
    },
    get_date = |row: &sqlx::sqlite::SqliteRow, c: &str| -> Result<NaiveDate, ServingError> {
        parse_date(&row.try_get::<String, _>(c)?)
    },
    get_part = |row: &sqlx::sqlite::SqliteRow, c: &str| -> Result<u32, ServingError> {
        Ok(u32::try_from(row.try_get::<i64, _>(c)?).unwrap_or_default())
    },
    get_json =
        |row: &sqlx::sqlite::SqliteRow, c: &str| -> Result<serde_json::Value, ServingError> {
            let text: String = row.try_get(c)?;
            Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
        },
    get_float = |row: &sqlx::sqlite::SqliteRow, i: usize| row.try_get::<f64, _>(i)
);
dashboard_fns!(
    pg,
    sqlx::PgPool,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    secs = |t: DateTime<Utc>| t,
    millis = |t: DateTime<Utc>| t,
    date = |d: NaiveDate| d,
    get_time = |row: &sqlx::postgres::PgRow, c: &str| -> Result<DateTime<Utc>, ServingError> {
        Ok(row.try_get::<DateTime<Utc>, _>(c)?)
    },
    get_date = |row: &sqlx::postgres::PgRow, c: &str| -> Result<NaiveDate, ServingError> {
        Ok(row.try_get::<NaiveDate, _>(c)?)
    },
    get_part = |row: &sqlx::postgres::PgRow, c: &str| -> Result<u32, ServingError> {
        Ok(u32::try_from(row.try_get::<i32, _>(c)?).unwrap_or_default())
    },
    get_json = |row: &sqlx::postgres::PgRow, c: &str| -> Result<serde_json::Value, ServingError> {
        Ok(row.try_get::<sqlx::types::Json<serde_json::Value>, _>(c)?.0)
    },
    get_float = |row: &sqlx::postgres::PgRow, i: usize| row.try_get::<f64, _>(i)
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
    /// Opens the serving DB at `url` read-only, without creating or migrating it: a pool of at
    /// most 2 connections whose statements stop after [`STATEMENT_TIMEOUT`]. A SQLite file that
    /// does not exist yet is an error (the speed layer creates it).
    pub async fn open_read_only(url: &str) -> Result<ServingDb, ServingError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options: PgConnectOptions = url
                .parse::<PgConnectOptions>()
                .map_err(|e| ServingError::Invalid(format!("[serving] url: {e}")))?
                .options([
                    ("default_transaction_read_only", "on"),
                    ("statement_timeout", "2000"),
                ]);
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(STATEMENT_TIMEOUT)
                .connect_with(options)
                .await?;
            Ok(ServingDb::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = crate::sqlite_options(url)?
                .read_only(true)
                .busy_timeout(STATEMENT_TIMEOUT);
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .acquire_timeout(STATEMENT_TIMEOUT)
                .connect_with(options)
                .await?;
            Ok(ServingDb::Sqlite(pool))
        } else {
            Err(ServingError::Invalid(format!(
                "[serving] url {url:?}: expected sqlite:PATH or postgres://…"
            )))
        }
    }

    /// `pin_windows` rows whose minute starts at or after `since`, oldest first, at most `limit`.
    pub async fn windows_since(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<WindowRow>, ServingError> {
        both!(self, windows(since, limit))
    }

    /// The latest `limit` dead letters (of `topic`, or of all topics), newest first, each with
    /// the first `prefix_bytes` of its raw bytes.
    pub async fn latest_dead_letters(
        &self,
        topic: Option<&str>,
        limit: i64,
        prefix_bytes: i64,
    ) -> Result<Vec<DeadLetterRow>, ServingError> {
        let prefix = i32::try_from(prefix_bytes.max(1)).unwrap_or(i32::MAX);
        both!(self, dead_letters(topic, limit, prefix))
    }

    /// Dead letters received at or after `since`, counted per topic and reason message (at most
    /// `limit` groups).
    pub async fn dead_letter_counts(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DeadLetterCount>, ServingError> {
        both!(self, dead_letter_counts(since, limit))
    }

    /// The latest `limit` rows of `batch_runs`, newest date first.
    pub async fn batch_runs(&self, limit: i64) -> Result<Vec<BatchRunRow>, ServingError> {
        both!(self, batch_runs(limit))
    }

    /// The rows of analytic `name` for `date` (at most `limit`), sorted by their columns.
    pub async fn analytics_rows(
        &self,
        name: &str,
        date: NaiveDate,
        limit: i64,
    ) -> Result<AnalyticsRows, ServingError> {
        let (table, columns) = analytics_table(name)
            .ok_or_else(|| ServingError::Invalid(format!("no analytic named {name:?}")))?;
        let rows = both!(self, analytics(table, columns, date, limit))?;
        Ok(AnalyticsRows {
            name: table.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows,
        })
    }

    /// `category_summary`'s pins per category for the latest `dates` dates of `batch_runs`.
    pub async fn category_trend(&self, dates: i64) -> Result<Vec<CategoryTrendRow>, ServingError> {
        both!(self, category_trend(dates))
    }
}
