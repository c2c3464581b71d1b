//! The SQL source: the course's database (or any database with tables shaped like it) read
//! through sqlx — `postgres://`, `mysql://` and `sqlite:` URLs.
//!
//! Each table is read whole (`SELECT * FROM pinterest_data ORDER BY "index"`, about 11,000 rows)
//! and every row becomes the JSON object the original emulator posted: `dict(row)` serialised by
//! `json.dumps(..., default=str)`, so timestamps are written as Python's `str(datetime)`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pinpipe_model::EventType;
use serde_json::{Value, json};
use sqlx::{Column, Connection, Row, TypeInfo, ValueRef};

use crate::SourceError;
use crate::table::{Table, table_name};

/// One row as JSON values, chosen by each value's database type. A macro rather than a generic
/// function: each driver decodes different Rust types for the same SQL type, and spelling the
/// trait bounds for all of them would be longer than the three expansions.
macro_rules! row_values {
    ($row:expr) => {{
        let row = $row;
        let mut values = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            let name = {
                let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
                if raw.is_null() {
                    values.push(Value::Null);
                    continue;
                }
                raw.type_info().name().to_ascii_uppercase()
            };
            let column = row.columns()[i].name().to_owned();
            let bad = |e: sqlx::Error| format!("column {column} ({name}): {e}");
            let value = match name.as_str() {
                "BOOL" | "BOOLEAN" => json!(row.try_get::<bool, _>(i).map_err(bad)?),
                "INT2" => json!(decode_int::<i16, _>(row, i).map_err(bad)?),
                "INT4" => json!(decode_int::<i32, _>(row, i).map_err(bad)?),
                "INT8" | "INTEGER" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => {
                    json!(row.try_get::<i64, _>(i).map_err(bad)?)
                }
                // MySQL unsigned columns: decoded without the signedness check (course data fits i64).
                n if n.ends_with("UNSIGNED") => json!(row.try_get_unchecked::<i64, _>(i).map_err(bad)?),
                "FLOAT4" | "FLOAT" => float(f64::from(row.try_get::<f32, _>(i).map_err(bad)?)),
                "FLOAT8" | "REAL" | "DOUBLE" => float(row.try_get::<f64, _>(i).map_err(bad)?),
                "TIMESTAMP" | "DATETIME" => {
                    python_datetime(row.try_get::<NaiveDateTime, _>(i).map_err(bad)?)
                }
                "TIMESTAMPTZ" => {
                    let utc = row.try_get::<DateTime<Utc>, _>(i).map_err(bad)?;
                    json!(format!("{}+00:00", python_naive(utc.naive_utc())))
                }
                "DATE" => json!(
                    row.try_get::<NaiveDate, _>(i)
                        .map_err(bad)?
                        .format("%Y-%m-%d")
                        .to_string()
                ),
                "JSON" | "JSONB" => row.try_get::<Value, _>(i).map_err(bad)?,
                "TEXT" | "VARCHAR" | "CHAR" | "BPCHAR" | "NAME" | "TINYTEXT" | "MEDIUMTEXT"
                | "LONGTEXT" | "ENUM" => json!(row.try_get::<String, _>(i).map_err(bad)?),
                other => {
                    return Err(format!(
                        "column {column} has type {other}, which the SQL source does not read: \
                         point it at a view that casts the column to text, an integer or double \
                         precision"
                    ));
                }
            };
            values.push(value);
        }
        Ok(values)
    }};
}

/// Whether `source` is a database URL this module reads.
pub fn is_database_url(source: &str) -> bool {
    [
        "postgres://",
        "postgresql://",
        "mysql://",
        "mariadb://",
        "sqlite:",
    ]
    .iter()
    .any(|scheme| source.starts_with(scheme))
}

/// Reads the tables of `kinds` from the database at `url`.
pub async fn load(url: &str, kinds: &[EventType]) -> Result<Vec<Table>, SourceError> {
    let redacted = redact(url);
    let connect_error = |e: sqlx::Error| SourceError::Database {
        url: redacted.clone(),
        detail: format!("cannot connect: {e}"),
    };
    // Reads every table over one connection; `$quote` quotes the ordering column. The table
    // and column names are constants of this crate, so the statements are safe to format.
    macro_rules! read_tables {
        ($conn:expr, $quote:literal) => {{
            let mut conn = $conn.map_err(connect_error)?;
            let mut tables = Vec::new();
            for &kind in kinds {
                let sql = format!(
                    "SELECT * FROM {} ORDER BY {q}{}{q}",
                    table_name(kind),
                    key_column(kind),
                    q = $quote
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await;
                tables.push(to_table(kind, &redacted, rows, |row| row_values!(row))?);
            }
            let _ = conn.close().await;
            tables
        }};
    }
    let tables = if url.starts_with("postgres") {
        read_tables!(sqlx::PgConnection::connect(url).await, "\"")
    } else if url.starts_with("mysql") || url.starts_with("mariadb") {
        let url = url.replacen("mariadb://", "mysql://", 1);
        read_tables!(sqlx::MySqlConnection::connect(&url).await, "`")
    } else {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map_err(connect_error)?
            .read_only(true);
        read_tables!(sqlx::SqliteConnection::connect_with(&options).await, "\"")
    };
    Ok(tables)
}

/// The column the original tables are ordered by.
fn key_column(kind: EventType) -> &'static str {
    match kind {
        EventType::Pin => "index",
        EventType::Geo | EventType::User => "ind",
    }
}

/// Rows of one query → a table, or an error that names the table and says what to do.
fn to_table<R: Row>(
    kind: EventType,
    url: &str,
    rows: Result<Vec<R>, sqlx::Error>,
    convert: impl Fn(&R) -> Result<Vec<Value>, String>,
) -> Result<Table, SourceError> {
    let table = table_name(kind);
    let rows = rows.map_err(|e| SourceError::Database {
        url: url.to_owned(),
        detail: format!(
            "cannot read table {table} ({e}); the SQL source reads tables shaped like the original \
             course database: pinterest_data(\"index\", unique_id, …), geolocation_data(ind, …), \
             user_data(ind, …) — use --only to read fewer of them"
        ),
    })?;
    let columns = rows.first().map_or_else(
        || {
            crate::table::columns(kind)
                .iter()
                .map(|c| (*c).to_owned())
                .collect()
        },
        |row| row.columns().iter().map(|c| c.name().to_owned()).collect(),
    );
    let rows = rows
        .iter()
        .map(convert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|detail| SourceError::Database {
            url: url.to_owned(),
            detail: format!("table {table}: {detail}"),
        })?;
    Ok(Table {
        kind,
        columns,
        rows,
    })
}

/// Decodes a small integer type (PostgreSQL is strict about widths).
fn decode_int<'r, T, R>(row: &'r R, i: usize) -> Result<i64, sqlx::Error>
where
    R: Row,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database> + Into<i64>,
    usize: sqlx::ColumnIndex<R>,
{
    row.try_get::<T, _>(i).map(Into::into)
}

/// A float value; NaN and infinities (which JSON cannot carry) become null.
fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `str(datetime)` in Python: `2020-08-28 03:52:47`, with `.ffffff` when there are microseconds.
fn python_naive(time: NaiveDateTime) -> String {
    if time.and_utc().timestamp_subsec_micros() == 0 {
        time.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

fn python_datetime(time: NaiveDateTime) -> Value {
    json!(python_naive(time))
}

/// The URL with its password replaced, for messages and the summary.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &url[scheme + 3..at];
            match user_info.find(':') {
                Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_print_as_python_str() {
        let t = NaiveDate::from_ymd_opt(2020, 8, 28)
            .unwrap()
            .and_hms_micro_opt(3, 52, 47, 0)
            .unwrap();
        assert_eq!(python_naive(t), "2020-08-28 03:52:47");
        let t = t + chrono::Duration::microseconds(1500);
        assert_eq!(python_naive(t), "2020-08-28 03:52:47.001500");
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite:data.db"), "sqlite:data.db");
    }

    #[test]
    fn database_urls_are_recognised() {
        for url in [
            "postgres://h/db",
            "postgresql://h",
            "mysql://h/db",
            "sqlite:x.db",
            "sqlite://x.db",
        ] {
            assert!(is_database_url(url), "{url}");
        }
        assert!(!is_database_url("data/pins.jsonl"));
    }
}
