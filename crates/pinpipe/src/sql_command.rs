//! `pinpipe sql [--on lake|serving] "SELECT …"`: read-only SQL on the lake (curated tables,
//! analytics, raw zone; DataFusion) or on the serving DB, printed as a table, CSV, JSON or JSON
//! lines.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::output::{self, Format};
use crate::parts;

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
pub struct Args {
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
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let result = match options.on {
        On::Lake => {
            let lake = parts::open_lake(config)?;
            pinpipe_batch::query::query(&lake, &config.batch, &options.sql, options.date)
                .await
                .context("the query failed")?
        }
        On::Serving => query_serving(config, &options.sql).await?,
    };
    output::print(&result, options.format)?;
    Ok(ExitCode::SUCCESS)
}

async fn query_serving(config: &Config, sql: &str) -> anyhow::Result<pinpipe_serving::query::Rows> {
    let url = parts::existing_serving_url(config)?;
    pinpipe_serving::query::query(&url, sql)
        .await
        .context("the query failed")
}
