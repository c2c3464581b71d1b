//! `pinpipe analytics`: the daily results from the lake, without writing SQL.

use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;

use crate::config::Config;
use crate::output::{self, Format};
use crate::parts;

/// Options of `pinpipe analytics`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The date whose results to print [default: the latest computed].
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
    /// Only this analytic (e.g. category_by_country) [default: all 11].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Prints the analytics of a date from the lake.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let lake = parts::open_lake(config)?;
    let names: Vec<&str> = match &options.name {
        Some(name) => match pinpipe_batch::analytics::by_name(name) {
            Some(analytic) => vec![analytic.name],
            None => anyhow::bail!(
                "no analytic named {name:?}; the names are: {}",
                pinpipe_batch::analytics::ANALYTICS
                    .iter()
                    .map(|a| a.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        None => pinpipe_batch::analytics::ANALYTICS
            .iter()
            .map(|a| a.name)
            .collect(),
    };
    let dates = pinpipe_batch::job::analytics_dates(&lake).await?;
    let date = match options.date {
        Some(date) if dates.contains(&date) => date,
        Some(date) => anyhow::bail!(
            "no analytics for {date}; run `pinpipe batch --date {date}` first{}",
            dates
                .last()
                .map(|d| format!(" (latest computed: {d})"))
                .unwrap_or_default()
        ),
        None => *dates
            .last()
            .context("no analytics in the lake yet: run `pinpipe batch --date YYYY-MM-DD` first")?,
    };
    let several = names.len() > 1 && options.format == Format::Table;
    // Several analytics in one machine-readable stream: each row says which one it belongs to.
    let tagged = names.len() > 1 && options.format != Format::Table;
    for name in names {
        let sql = if tagged {
            format!("SELECT '{name}' AS analytic, * FROM {name}")
        } else {
            format!("SELECT * FROM {name}")
        };
        let result = pinpipe_batch::query::query(&lake, &config.batch, &sql, Some(date))
            .await
            .with_context(|| format!("reading {name}"))?;
        if several {
            println!("== {name} ({date})");
        }
        output::print(&result, options.format)?;
        if several {
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}
