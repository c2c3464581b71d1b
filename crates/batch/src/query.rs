//! Read-only SQL over the lake (`pinpipe sql --on lake`, `pinpipe analytics`): results as JSON
//! values in column order, the same shape the serving DB's queries give, so one printer serves
//! both.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, SecondsFormat};
use datafusion::execution::context::SQLOptions;
use pinpipe_lake::Lake;
use pinpipe_serving::query::Rows;
use serde_json::{Map, Value, json};

use crate::BatchError;
use crate::session::{BatchConfig, LakeSession};

/// Runs one read-only statement over the lake's tables. `date` picks the analytics date the
/// analytic tables show (default: the latest computed).
pub async fn query(
    lake: &Lake,
    config: &BatchConfig,
    sql: &str,
    date: Option<NaiveDate>,
) -> Result<Rows, BatchError> {
    let session = LakeSession::local(lake, config).await?;
    session.register_curated().await?;
    session.register_analytics(date).await?;
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = match session.ctx.sql_with_options(sql, options).await {
        Ok(frame) => frame,
        Err(e) if e.to_string().contains("not supported") && is_write(sql) => {
            return Err(BatchError::ReadOnly);
        }
        Err(e) => return Err(e.into()),
    };
    let columns = frame
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches = frame.collect().await?;
    Ok(Rows {
        columns,
        rows: to_json_rows(&batches),
    })
}

/// True for a statement that would change something (refused by the read-only options).
fn is_write(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    !matches!(
        first.as_str(),
        "SELECT" | "WITH" | "EXPLAIN" | "SHOW" | "DESCRIBE" | "VALUES"
    )
}

/// Every row of `batches` as JSON values.
pub fn to_json_rows(batches: &[RecordBatch]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|column| value(column.as_ref(), row))
                    .collect(),
            );
        }
    }
    rows
}

/// One value as JSON: numbers and booleans as such, timestamps as RFC 3339 UTC (as the clean
/// records write them), lists as arrays, structs as objects, binary as text (lossy UTF-8).
fn value(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => json!(array.as_boolean().value(row)),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            match arrow::compute::cast(&array.slice(row, 1), &DataType::Int64) {
                Ok(a) => json!(a.as_primitive::<arrow::datatypes::Int64Type>().value(0)),
                Err(_) => Value::Null,
            }
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            match arrow::compute::cast(&array.slice(row, 1), &DataType::UInt64) {
                Ok(a) => json!(a.as_primitive::<arrow::datatypes::UInt64Type>().value(0)),
                Err(_) => Value::Null,
            }
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            match arrow::compute::cast(&array.slice(row, 1), &DataType::Float64) {
                Ok(a) => json!(a.as_primitive::<arrow::datatypes::Float64Type>().value(0)),
                Err(_) => Value::Null,
            }
        }
        DataType::Utf8 => json!(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => json!(array.as_string::<i64>().value(row)),
        DataType::Utf8View => json!(array.as_string_view().value(row)),
        DataType::Binary => json!(String::from_utf8_lossy(array.as_binary::<i32>().value(row))),
        DataType::LargeBinary => {
            json!(String::from_utf8_lossy(array.as_binary::<i64>().value(row)))
        }
        DataType::BinaryView => json!(String::from_utf8_lossy(array.as_binary_view().value(row))),
        DataType::Timestamp(unit, _) => {
            let micros = match arrow::compute::cast(
                &array.slice(row, 1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            ) {
                Ok(a) => a
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .value(0),
                Err(_) => return Value::Null,
            };
            let format = match unit {
                TimeUnit::Second => SecondsFormat::Secs,
                _ => SecondsFormat::AutoSi,
            };
            DateTime::from_timestamp_micros(micros)
                .map_or(Value::Null, |t| json!(t.to_rfc3339_opts(format, true)))
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            Value::Array((0..list.len()).map(|i| value(list.as_ref(), i)).collect())
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>().value(row);
            Value::Array((0..list.len()).map(|i| value(list.as_ref(), i)).collect())
        }
        DataType::Struct(fields) => {
            let st = array.as_struct();
            let mut object = Map::new();
            for (i, field) in fields.iter().enumerate() {
                object.insert(field.name().clone(), value(st.column(i).as_ref(), row));
            }
            Value::Object(object)
        }
        _ => match arrow::compute::cast(&array.slice(row, 1), &DataType::Utf8) {
            Ok(a) => json!(a.as_string::<i32>().value(0)),
            Err(_) => Value::Null,
        },
    }
}
