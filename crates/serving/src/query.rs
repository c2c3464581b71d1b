//! Read-only SQL on the serving DB, for `pinpipe sql --on serving`: each row as JSON values in
//! column order.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::{Column, Connection, Row, TypeInfo, ValueRef};

use crate::ServingError;

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows of values, one per column.
    pub rows: Vec<Vec<Value>>,
}

/// One row's values by each value's type. A macro rather than a generic function: the two
/// drivers decode different Rust types for the same SQL type.
macro_rules! values {
    ($row:expr, $numeric:expr) => {{
        let row = $row;
        let mut values = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            let name = {
                let raw = row.try_get_raw(i)?;
                if raw.is_null() {
                    values.push(Value::Null);
                    continue;
                }
                raw.type_info().name().to_ascii_uppercase()
            };
            let value = match name.as_str() {
                "BOOL" | "BOOLEAN" => json!(row.try_get::<bool, _>(i)?),
                "INT2" => json!(row.try_get::<i16, _>(i)?),
                "INT4" => json!(row.try_get::<i32, _>(i)?),
                "INT8" | "INTEGER" => json!(row.try_get::<i64, _>(i)?),
                "FLOAT4" => json!(row.try_get::<f32, _>(i)?),
                "FLOAT8" | "REAL" => json!(row.try_get::<f64, _>(i)?),
                // SUM and AVG of integers are NUMERIC in PostgreSQL: an integer when whole and
                // within 64 bits, else a float.
                "NUMERIC" => $numeric(row, i)?,
                "TIMESTAMPTZ" => json!(
                    row.try_get::<DateTime<Utc>, _>(i)?
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                ),
                "TIMESTAMP" => json!(
                    row.try_get::<NaiveDateTime, _>(i)?
                        .and_utc()
                        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
                ),
                "DATE" => json!(row.try_get::<NaiveDate, _>(i)?.to_string()),
                "JSON" | "JSONB" => row.try_get::<Value, _>(i)?,
                "BYTEA" | "BLOB" => {
                    let bytes = row.try_get::<Vec<u8>, _>(i)?;
                    json!(String::from_utf8_lossy(&bytes))
                }
                _ => json!(row.try_get::<String, _>(i)?),
            };
            values.push(value);
        }
        Ok::<_, sqlx::Error>(values)
    }};
}

fn numeric(value: rust_decimal::Decimal) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    if value.fract().is_zero()
        && let Some(int) = value.to_i64()
    {
        return json!(int);
    }
    value.to_f64().map_or(Value::Null, |f| json!(f))
}

/// Runs `sql` read-only on the serving DB at `url`.
pub async fn query(url: &str, sql: &str) -> Result<Rows, ServingError> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            .execute(&mut conn)
            .await?;
        let rows = sqlx::query(sql).fetch_all(&mut conn).await?;
        let decimal = |row: &sqlx::postgres::PgRow, i: usize| {
            row.try_get::<rust_decimal::Decimal, _>(i).map(numeric)
        };
        let result = to_rows(&rows, |row| values!(row, decimal))?;
        let _ = conn.close().await;
        Ok(result)
    } else if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
        let rows = sqlx::query(sql).fetch_all(&mut conn).await?;
        // SQLite reports a value's storage class, never NUMERIC; kept for completeness.
        let real =
            |row: &sqlx::sqlite::SqliteRow, i: usize| row.try_get::<f64, _>(i).map(|f| json!(f));
        let result = to_rows(&rows, |row| values!(row, real))?;
        let _ = conn.close().await;
        Ok(result)
    } else {
        Err(ServingError::Invalid(format!(
            "[serving] url {url:?}: expected sqlite:PATH or postgres://…"
        )))
    }
}

fn to_rows<R: Row>(
    rows: &[R],
    convert: impl Fn(&R) -> Result<Vec<Value>, sqlx::Error>,
) -> Result<Rows, ServingError> {
    let columns = rows
        .first()
        .map(|row| row.columns().iter().map(|c| c.name().to_owned()).collect())
        .unwrap_or_default();
    let rows = rows.iter().map(convert).collect::<Result<Vec<_>, _>>()?;
    Ok(Rows { columns, rows })
}
