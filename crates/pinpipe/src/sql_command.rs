//! `pinpipe sql [--on lake|serving] "SELECT …"`: read-only SQL on the lake (curated tables,
//! analytics, raw zone; DataFusion) or on the serving DB, printed as a table, CSV, JSON or JSON
//! lines.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;

use crate::config::Config;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// CSV with a header row; null is an empty field.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Jsonl,
}

/// Which database a query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum On {
    /// The lake: curated tables `pins`, `geos`, `users`, the 11 analytics by name (and
    /// `<name>_history` with every date), the raw zone `raw_pins`, `raw_geos`, `raw_users`.
    Lake,
    /// The serving DB of the speed layer (and the analytics, per date).
    Serving,
}

/// Options of `pinpipe sql`.
#[derive(Debug, Clone, clap::Args)]
pub struct SqlOptions {
    /// The database to query.
    #[arg(long, value_enum, default_value = "lake")]
    on: On,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// With `--on lake`: the date whose analytics the analytic tables show [default: the
    /// latest computed].
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<chrono::NaiveDate>,
    /// The statement (read-only).
    sql: String,
}

/// Runs `pinpipe sql`.
pub async fn run(config: &Config, options: &SqlOptions) -> anyhow::Result<()> {
    let result = match options.on {
        On::Lake => {
            let lake = crate::lake_command::open_lake(config)?;
            pinpipe_batch::query::query(&lake, &config.batch, &options.sql, options.date)
                .await
                .context("the query failed")?
        }
        On::Serving => query_serving(config, &options.sql).await?,
    };
    print(&result, options.format)
}

/// Prints a result on stdout; a closed pipe (`| head`) is not an error.
pub fn print(result: &pinpipe_serving::query::Rows, format: Format) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let outcome = write(&mut out, format, result).and_then(|()| out.flush());
    match outcome {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the result"),
    }
}

async fn query_serving(config: &Config, sql: &str) -> anyhow::Result<pinpipe_serving::query::Rows> {
    let url = pinpipe_serving::ServingDb::url(&config.serving, &config.data_dir);
    if let Some(path) = url.strip_prefix("sqlite:")
        && !std::path::Path::new(path.trim_start_matches("//")).exists()
    {
        anyhow::bail!(
            "no serving DB at {path}: start `pinpipe up` (or `pinpipe stream`) first, or set [serving] url"
        );
    }
    pinpipe_serving::query::query(&url, sql)
        .await
        .context("the query failed")
}

fn write(
    out: &mut impl Write,
    format: Format,
    result: &pinpipe_serving::query::Rows,
) -> std::io::Result<()> {
    match format {
        Format::Jsonl => {
            for row in &result.rows {
                writeln!(out, "{}", object(&result.columns, row))?;
            }
        }
        Format::Json => {
            write!(out, "[")?;
            for (i, row) in result.rows.iter().enumerate() {
                write!(
                    out,
                    "{}{}",
                    if i > 0 { "," } else { "" },
                    object(&result.columns, row)
                )?;
            }
            writeln!(out, "]")?;
        }
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(&result.columns)?;
            for row in &result.rows {
                csv.write_record(row.iter().map(|v| plain(v, "")))?;
            }
            csv.flush()?;
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = result
                .rows
                .iter()
                .map(|row| row.iter().map(|v| plain(v, "NULL")).collect())
                .collect();
            let widths: Vec<usize> = (0..result.columns.len())
                .map(|i| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([result.columns[i].chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |values: &[String]| {
                values
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            if !result.columns.is_empty() {
                writeln!(out, "{}", line(&result.columns))?;
            }
            for row in &cells {
                writeln!(out, "{}", line(row))?;
            }
            writeln!(
                out,
                "({} row{})",
                cells.len(),
                if cells.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

/// `{"col": value, …}` in column order.
fn object(columns: &[String], row: &[Value]) -> String {
    let mut text = String::from("{");
    for (i, (column, value)) in columns.iter().zip(row).enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::String(column.clone()).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    text
}

/// A value as text for CSV and tables: strings bare, null as `null_text`, the rest as JSON.
fn plain(value: &Value, null_text: &str) -> String {
    match value {
        Value::Null => null_text.to_owned(),
        Value::String(text) => text.replace(['\n', '\r', '\t'], " "),
        other => other.to_string(),
    }
}
