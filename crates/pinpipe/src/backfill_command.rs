//! `pinpipe backfill --from D --to D`: the daily DAG for every date of a range, skipping dates
//! already successful.

use std::io::IsTerminal;
use std::process::ExitCode;

use chrono::{Days, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe_schedule::Outcome;

use crate::config::Config;
use crate::parts::DagParts;
use crate::signal::stop_on_signal;

/// Options of `pinpipe backfill`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// First day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: NaiveDate,
    /// Last day (included).
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: NaiveDate,
    /// Run dates that already succeeded too.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    engine: crate::config::EngineArg,
}

/// Runs the DAG for each date of a range, in order, skipping dates already successful (so an
/// interrupted backfill resumes where it stopped). Exit 1 when a date failed.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let config = &config.with_engine(&options.engine)?;
    if options.to < options.from {
        anyhow::bail!("--to {} is before --from {}", options.to, options.from);
    }
    let parts = DagParts::open(config).await?;
    let ctx = parts.context(config);
    let mut stop = stop_on_signal();
    let done = pinpipe_schedule::successful_dates(&parts.db).await?;
    let mut dates = Vec::new();
    let mut day = options.from;
    while day <= options.to {
        dates.push(day);
        day = day + Days::new(1);
    }
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(dates.len() as u64).with_style(
            ProgressStyle::with_template("backfill {bar:30} {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::hidden()
    };
    let (mut ran, mut skipped, mut failed) = (0, 0, 0);
    for date in dates {
        bar.set_message(date.to_string());
        if done.contains(&date) && !options.force {
            skipped += 1;
            bar.println(format!(
                "{date}: already successful, skipped (--force runs it again)"
            ));
        } else {
            match pinpipe_schedule::run_dag(&ctx, date, "backfill", &mut stop).await? {
                Outcome::Success => ran += 1,
                Outcome::AlreadyDone => skipped += 1,
                Outcome::Stopped => {
                    bar.abandon();
                    eprintln!("backfill stopped at {date}; run the same command to resume");
                    return Ok(ExitCode::FAILURE);
                }
                other => {
                    failed += 1;
                    bar.println(format!("{date}: {other:?}"));
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "backfill {}..{}: {ran} ran, {skipped} skipped, {failed} failed",
        options.from, options.to
    );
    parts.close().await;
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
