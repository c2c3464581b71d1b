//! The batch layer's daily analytics in the serving DB: one table per analytic (migration 0002),
//! a date's rows replaced as a whole in one transaction, so a re-run for a date is idempotent.

use chrono::{NaiveDate, Utc};
use sqlx::{PgPool, QueryBuilder, SqlitePool};

use crate::{ServingDb, ServingError};

/// One value of an analytics row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (counts, years, follower counts).
    Int(i64),
    /// A float (medians).
    Float(f64),
    /// Text (names, categories, groups).
    Text(String),
}

/// The rows of one analytic for one date.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsRows {
    /// The analytic's name, which is also its table's (`category_by_country`, ...).
    pub name: String,
    /// Its columns in order (without `dt`).
    pub columns: Vec<String>,
    /// Its rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

/// Rows per multi-row INSERT.
const CHUNK: usize = 500;

/// Table and column names come from the batch crate's fixed list; still, only plain identifiers
/// are accepted before they are put into SQL text.
fn check_identifier(name: &str) -> Result<(), ServingError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ServingError::Invalid(format!(
            "not an analytics identifier: {name:?}"
        )))
    }
}

macro_rules! replace_fn {
    ($name:ident, $pool:ty, $db:ty, date = $date:expr, json = $json:expr) => {
        async fn $name(
            pool: &$pool,
            date: NaiveDate,
            tables: &[AnalyticsRows],
            summary: &serde_json::Value,
        ) -> Result<(), ServingError> {
            let mut tx = pool.begin().await?;
            for table in tables {
                check_identifier(&table.name)?;
                for column in &table.columns {
                    check_identifier(column)?;
                }
                let mut q = QueryBuilder::<$db>::new(format!("DELETE FROM {} WHERE dt = ", table.name));
                q.push_bind($date(date));
                q.build().execute(&mut *tx).await?;
                for chunk in table.rows.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "INSERT INTO {} (dt, {}) ",
                        table.name,
                        table.columns.join(", ")
                    ));
                    q.push_values(chunk, |mut b, row| {
                        b.push_bind($date(date));
                        for cell in row {
                            match cell {
                                Cell::Null => b.push_bind(None::<i64>),
                                Cell::Int(v) => b.push_bind(*v),
                                Cell::Float(v) => b.push_bind(*v),
                                Cell::Text(v) => b.push_bind(v.clone()),
                            };
                        }
                    });
                    q.build().execute(&mut *tx).await?;
                }
            }
            let mut q = QueryBuilder::<$db>::new("INSERT INTO batch_runs (dt, finished_at, summary) VALUES (");
            let mut s = q.separated(", ");
            s.push_bind($date(date));
            s.push_bind(Utc::now());
            s.push_bind($json(summary));
            q.push(") ON CONFLICT (dt) DO UPDATE SET finished_at = excluded.finished_at, summary = excluded.summary");
            q.build().execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        }
    };
}

replace_fn!(
    replace_sqlite,
    SqlitePool,
    sqlx::Sqlite,
    date = |d: NaiveDate| d.format("%Y-%m-%d").to_string(),
    json = |v: &serde_json::Value| v.to_string()
);
replace_fn!(
    replace_postgres,
    PgPool,
    sqlx::Postgres,
    date = |d: NaiveDate| d,
    json = |v: &serde_json::Value| sqlx::types::Json(v.clone())
);

impl ServingDb {
    /// Replaces the rows of `date` in each analytic's table with `tables`, and records the run's
    /// `summary` in `batch_runs`, in one transaction.
    pub async fn replace_analytics(
        &self,
        date: NaiveDate,
        tables: &[AnalyticsRows],
        summary: &serde_json::Value,
    ) -> Result<(), ServingError> {
        match self {
            ServingDb::Sqlite(pool) => replace_sqlite(pool, date, tables, summary).await,
            ServingDb::Postgres(pool) => replace_postgres(pool, date, tables, summary).await,
        }
    }
}
