//! The serving DB: clean, de-duplicated `pins`, `geos`, `users`, the real-time window aggregates,
//! the dead letters and the speed layer's offsets, in SQLite (embedded default) or PostgreSQL.
//!
//! One schema, kept by versioned migrations (`migrations/<backend>/`, the same list for both,
//! applied with sqlx's migrator). `pins`, `geos` and `users` have data.md's clean columns first,
//! in data.md's order, then where each row came from; read through [`query`], they are data.md's
//! clean records on both backends. Every change of a micro-batch — rows, aggregates, dead letters and the offsets that
//! produced them — is written in **one transaction**, and the offsets move by compare-and-set, so
//! a replay after a crash, or a second writer that lost its partitions, changes nothing.

mod analytics;
mod apply;
pub mod dashboard;
pub mod query;
pub mod schedule;

pub use analytics::{AnalyticsRows, Cell};

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pinpipe_model::{CleanGeo, CleanPin, CleanUser};
use serde::{Deserialize, Serialize};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// `[serving]`: where the serving DB is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServingConfig {
    /// `sqlite:PATH` or `postgres://…`; empty: `sqlite:<data_dir>/serving.db`.
    pub url: String,
}

/// Something went wrong with the serving DB.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// The database refused or could not be reached; retrying may help.
    #[error("serving DB: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("serving DB migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The offsets moved under us: another member of the group wrote this partition. The batch
    /// was not applied; the caller must re-read its offsets.
    #[error("offsets of {topic}/{partition} moved: another stream process owns the partition now")]
    Fenced {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
    },
    /// A bad URL or statement.
    #[error("{0}")]
    Invalid(String),
}

impl ServingError {
    /// Whether waiting and trying again may succeed (the database is down or busy).
    pub fn is_retryable(&self) -> bool {
        match self {
            ServingError::Database(e) => !matches!(
                e,
                sqlx::Error::Configuration(_)
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            _ => false,
        }
    }
}

/// Where a row came from in the log, and when it was received; the one recency rule
/// ([`pinpipe_model::recency`]) decides which row of a key is kept.
pub use pinpipe_model::LogPosition as Origin;

/// A dead letter: a record that could not be used, kept with why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The log topic.
    pub topic: String,
    /// Where it was.
    pub origin: Origin,
    /// Why it could not be used.
    pub reason: String,
    /// Its bytes, as stored in the log.
    pub raw: Option<Vec<u8>>,
}

/// One pin event's share of its window aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowEvent {
    /// The minute it was received in.
    pub window_start: DateTime<Utc>,
    /// Its clean category; `""` when it has none.
    pub category: String,
    /// Its key.
    pub unique_id: String,
    /// Its clean media type is video.
    pub video: bool,
    /// Its clean media type is image.
    pub image: bool,
    /// Its clean follower count (0 when null).
    pub followers: i64,
}

/// A partition's offset moving from `from` (None: never written) to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetMove {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: u32,
    /// The next offset the DB holds now; `None` when it holds none.
    pub from: Option<u64>,
    /// The next offset after this batch.
    pub to: u64,
}

/// Everything one micro-batch changes, applied in one transaction.
#[derive(Debug, Default)]
pub struct Change {
    /// Latest pin per key in the batch.
    pub pins: Vec<(CleanPin<'static>, Origin)>,
    /// Latest geo per key in the batch.
    pub geos: Vec<(CleanGeo<'static>, Origin)>,
    /// Latest user per key in the batch.
    pub users: Vec<(CleanUser<'static>, Origin)>,
    /// Every pin event of the batch, for the window aggregates.
    pub windows: Vec<WindowEvent>,
    /// Records that could not be used.
    pub dead: Vec<DeadLetter>,
    /// The offsets this batch moves.
    pub offsets: Vec<OffsetMove>,
    /// Log records the batch covers (clean or dead), for counting.
    pub records: u64,
}

/// The schema's migrations for a backend, embedded in the binary.
macro_rules! migrator {
    ($backend:literal) => {
        Migrator::with_migrations(vec![
            Migration::new(
                1,
                "serving tables".into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0001_serving.sql"
                ))),
                false,
            ),
            Migration::new(
                2,
                "daily analytics".into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0002_analytics.sql"
                ))),
                false,
            ),
            Migration::new(
                3,
                "scheduler".into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0003_schedule.sql"
                ))),
                false,
            ),
            Migration::new(
                4,
                "contract shape".into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0004_contract_shape.sql"
                ))),
                false,
            ),
            Migration::new(
                5,
                "task detail".into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!(
                    "../migrations/",
                    $backend,
                    "/0005_task_detail.sql"
                ))),
                false,
            ),
        ])
    };
}

/// A serving DB.
#[derive(Debug, Clone)]
pub enum ServingDb {
    /// SQLite file.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Prepared statements kept per SQLite connection. A micro-batch's multi-row upserts are one
/// statement text per row count, and a prepared statement of hundreds of rows holds hundreds of
/// kilobytes: with sqlx's default of 100 per connection, `pinpipe up` under single events grew
/// by about 50 MB of statements that were seldom used again. Re-preparing costs no measurable
/// throughput (docs/benchmarks.md, issue 18).
const SQLITE_STATEMENT_CACHE: usize = 16;

impl ServingDb {
    /// The URL a configuration means (`sqlite:<data_dir>/serving.db` by default).
    pub fn url(config: &ServingConfig, data_dir: &Path) -> String {
        if config.url.is_empty() {
            format!("sqlite:{}", data_dir.join("serving.db").display())
        } else {
            config.url.clone()
        }
    }

    /// Opens the serving DB for writing, creating it (SQLite) and bringing the schema up to date.
    pub async fn open(config: &ServingConfig, data_dir: &Path) -> Result<ServingDb, ServingError> {
        let url = Self::url(config, data_dir);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect(&url)
                .await?;
            migrator!("postgres").run(&pool).await?;
            Ok(ServingDb::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = sqlite_options(&url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Safe for exactly-once: a transaction lost to a power cut takes its offsets
                // with it, and the log replays both.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .statement_cache_capacity(SQLITE_STATEMENT_CACHE);
            if let Some(parent) = options.get_filename().parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    ServingError::Invalid(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            // sqlx's migrator takes no lock on SQLite: two processes opening a new file at once
            // both try to apply a migration, and the slower fails ("table … already exists")
            // once the faster has committed it. Running the migrator again then finds it applied.
            let mut attempt = 0;
            loop {
                attempt += 1;
                match migrator!("sqlite").run(&pool).await {
                    Ok(()) => break,
                    Err(e) if attempt < 5 => {
                        tracing::debug!("serving DB migration raced another process ({e}); again");
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(ServingDb::Sqlite(pool))
        } else {
            Err(ServingError::Invalid(format!(
                "[serving] url {url:?}: expected sqlite:PATH or postgres://…"
            )))
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            ServingDb::Sqlite(_) => "sqlite",
            ServingDb::Postgres(_) => "postgres",
        }
    }

    /// The next offsets this group has applied, by (topic, partition).
    pub async fn offsets(&self, group: &str) -> Result<HashMap<(String, u32), u64>, ServingError> {
        const SQL: &str =
            "SELECT topic, log_partition, next_offset FROM stream_offsets WHERE consumer_group = ";
        let rows: Vec<(String, i64, i64)> = match self {
            ServingDb::Sqlite(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{SQL}?")))
                    .bind(group)
                    .fetch_all(pool)
                    .await?
            }
            ServingDb::Postgres(pool) => {
                let rows: Vec<(String, i32, i64)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SQL}$1")))
                        .bind(group)
                        .fetch_all(pool)
                        .await?;
                rows.into_iter()
                    .map(|(t, p, o)| (t, i64::from(p), o))
                    .collect()
            }
        };
        Ok(rows
            .into_iter()
            .map(|(topic, partition, next)| {
                (
                    (topic, u32::try_from(partition).unwrap_or_default()),
                    u64::try_from(next).unwrap_or_default(),
                )
            })
            .collect())
    }

    /// Applies a micro-batch in one transaction: all of it, or (on an error, or
    /// [`ServingError::Fenced`]) nothing.
    pub async fn apply(&self, group: &str, change: &Change) -> Result<(), ServingError> {
        match self {
            ServingDb::Sqlite(pool) => apply::sqlite(pool, group, change).await,
            ServingDb::Postgres(pool) => apply::postgres(pool, group, change).await,
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            ServingDb::Sqlite(pool) => pool.close().await,
            ServingDb::Postgres(pool) => pool.close().await,
        }
    }
}

/// Options of a `sqlite:` URL.
fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, ServingError> {
    SqliteConnectOptions::from_str(url)
        .map_err(|e| ServingError::Invalid(format!("[serving] url {url:?}: {e}")))
}

/// The start of the minute `time` is in.
pub fn window_start(time: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = time.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(60), 0).unwrap_or(time)
}
