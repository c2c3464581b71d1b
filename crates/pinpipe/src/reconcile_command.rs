//! `pinpipe reconcile`: the serving DB (speed layer) against the lake's curated tables (batch
//! layer) for a date, key by key and column by column.

use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;

use crate::config::Config;

/// Exit code when the two layers differ.
pub const DIFFERENT: u8 = 5;

/// Options of `pinpipe reconcile`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The date whose batch the serving DB is compared with [default: yesterday, UTC].
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Compares and prints the report; exit 0 when equal, [`DIFFERENT`] when not.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let date = options
        .date
        .unwrap_or_else(|| chrono::Utc::now().date_naive() - chrono::Days::new(1));
    let lake = crate::parts::open_lake(config)?;
    let url = pinpipe_serving::ServingDb::url(&config.serving, &config.data_dir);
    let report = pinpipe_schedule::reconcile::reconcile(&url, &lake, &config.batch, date)
        .await
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("cannot reconcile {date}"))?;
    if options.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for t in &report.tables {
            println!(
                "{:<6} {:>9} matched  {:>7} mismatched  {:>7} only in serving  {:>7} only in lake  {:>7} set aside",
                t.table, t.matched, t.mismatched, t.only_in_serving, t.only_in_lake, t.set_aside
            );
            for d in &t.samples {
                println!("         {} {} {}", d.kind, d.key, d.columns.join(", "));
            }
        }
        if report.is_equal() {
            println!("the serving DB and the lake agree for {date}");
        } else {
            println!(
                "the serving DB and the lake differ for {date} (run `pinpipe batch --date {date}` first if the lake is behind)"
            );
        }
    }
    Ok(if report.is_equal() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DIFFERENT)
    })
}
