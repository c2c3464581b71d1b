//! Read-only SQL on the serving DB, for `pinpipe sql --on serving`: each row as JSON values in
//! column order, with the JSON types of data.md's clean records on both backends (the same
//! values `pinpipe sql --on lake` and `pinpipe clean` give for the same rows): timestamps as
//! RFC 3339 UTC, `tag_list` and `coordinates` as arrays, `downloaded` as a boolean.
//!
//! SQLite keeps no type with a value (JSON is text, a boolean is 0 or 1), so a result column that
//! is a stored column is read by the type its table declares: `JSON` text is parsed, `BOOLEAN`
//! 0/1 is false/true (see `migrations/sqlite/0004_contract_shape.sql`). PostgreSQL's values carry
//! their types (`jsonb`, `boolean`, arrays such as `double precision[]`).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::{Column, ColumnOrigin, Connection, Row, TypeInfo, ValueRef};

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
/// drivers decode different Rust types for the same SQL type. `$backend(row, i, type_name)`
/// reads the types only one backend has (`Ok(None)`: not one of them).
macro_rules! values {
    ($row:expr, $backend:expr) => {{
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
            if let Some(value) = $backend(row, i, name.as_str())? {
                values.push(value);
                continue;
            }
            let value = match name.as_str() {
                "BOOL" | "BOOLEAN" => json!(row.try_get::<bool, _>(i)?),
                "INT2" => json!(row.try_get::<i16, _>(i)?),
                "INT4" => json!(row.try_get::<i32, _>(i)?),
                "INT8" | "INTEGER" => json!(row.try_get::<i64, _>(i)?),
                "FLOAT4" => json!(row.try_get::<f32, _>(i)?),
                "FLOAT8" | "REAL" => json!(row.try_get::<f64, _>(i)?),
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

/// PostgreSQL's own types: NUMERIC and arrays.
fn postgres_value(
    row: &sqlx::postgres::PgRow,
    i: usize,
    type_name: &str,
) -> Result<Option<Value>, sqlx::Error> {
    Ok(Some(match type_name {
        // SUM and AVG of integers are NUMERIC in PostgreSQL: an integer when whole and within 64
        // bits, else a float.
        "NUMERIC" => numeric(row.try_get::<rust_decimal::Decimal, _>(i)?),
        "BOOL[]" => json!(row.try_get::<Vec<Option<bool>>, _>(i)?),
        "INT2[]" => json!(row.try_get::<Vec<Option<i16>>, _>(i)?),
        "INT4[]" => json!(row.try_get::<Vec<Option<i32>>, _>(i)?),
        "INT8[]" => json!(row.try_get::<Vec<Option<i64>>, _>(i)?),
        "FLOAT4[]" => json!(row.try_get::<Vec<Option<f32>>, _>(i)?),
        "FLOAT8[]" => json!(row.try_get::<Vec<Option<f64>>, _>(i)?),
        "TEXT[]" | "VARCHAR[]" => json!(row.try_get::<Vec<Option<String>>, _>(i)?),
        _ => return Ok(None),
    }))
}

/// SQLite reports a value's storage class, never NUMERIC; kept for completeness.
fn sqlite_value(
    row: &sqlx::sqlite::SqliteRow,
    i: usize,
    type_name: &str,
) -> Result<Option<Value>, sqlx::Error> {
    match type_name {
        "NUMERIC" => Ok(Some(json!(row.try_get::<f64, _>(i)?))),
        _ => Ok(None),
    }
}

/// What a SQLite result column holds, by the declared type of the stored column it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    /// JSON text (declared `JSON`).
    Json,
    /// 0 or 1 (declared `BOOLEAN` or `BOOL`).
    Boolean,
    /// Anything else: the value's own storage class says it.
    Other,
}

impl Declared {
    fn of(declared_type: &str) -> Declared {
        match declared_type.trim().to_ascii_uppercase().as_str() {
            "JSON" => Declared::Json,
            "BOOLEAN" | "BOOL" => Declared::Boolean,
            _ => Declared::Other,
        }
    }

    /// `value` (as its storage class gave it) in the JSON type the declaration means.
    fn apply(self, value: Value) -> Value {
        match (self, value) {
            (Declared::Json, Value::String(text)) => {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            (Declared::Boolean, Value::Number(n)) if n.as_i64() == Some(0) => Value::Bool(false),
            (Declared::Boolean, Value::Number(n)) if n.as_i64() == Some(1) => Value::Bool(true),
            (_, value) => value,
        }
    }
}

/// The declared kind of each result column that is a stored column (through views and
/// subqueries too; SQLite tells a column's origin), from the tables' declarations.
async fn sqlite_declared(
    conn: &mut sqlx::SqliteConnection,
    columns: &[sqlx::sqlite::SqliteColumn],
) -> Result<Vec<Declared>, sqlx::Error> {
    let mut tables: HashMap<String, HashMap<String, Declared>> = HashMap::new();
    let mut kinds = Vec::with_capacity(columns.len());
    for column in columns {
        let ColumnOrigin::Table(origin) = column.origin() else {
            kinds.push(Declared::Other);
            continue;
        };
        let table = origin.table.to_string();
        if !tables.contains_key(&table) {
            // sqlx writes `schema.table` for a table outside `main`.
            let (schema, name) = table.split_once('.').unwrap_or(("main", &table));
            let declared: Vec<(String, String)> =
                sqlx::query_as("SELECT name, type FROM pragma_table_xinfo(?1, ?2)")
                    .bind(name)
                    .bind(schema)
                    .fetch_all(&mut *conn)
                    .await?;
            let declared = declared
                .into_iter()
                .map(|(name, ty)| (name, Declared::of(&ty)))
                .collect();
            tables.insert(table.clone(), declared);
        }
        kinds.push(
            tables[&table]
                .get(&*origin.name)
                .copied()
                .unwrap_or(Declared::Other),
        );
    }
    Ok(kinds)
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
        let result = to_rows(&rows, |row| values!(row, postgres_value))?;
        let _ = conn.close().await;
        Ok(result)
    } else if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?.read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
        let rows = sqlx::query(sql).fetch_all(&mut conn).await?;
        let mut result = to_rows(&rows, |row| values!(row, sqlite_value))?;
        if let Some(first) = rows.first() {
            let declared = sqlite_declared(&mut conn, first.columns()).await?;
            for row in &mut result.rows {
                for (value, kind) in row.iter_mut().zip(&declared) {
                    *value = kind.apply(std::mem::take(value));
                }
            }
        }
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
