//! `pinpipe trigger --date D`: the daily DAG for one date, now (recorded in `pinpipe runs`).

use std::process::ExitCode;

use chrono::NaiveDate;
use pinpipe_schedule::Outcome;

use crate::config::Config;
use crate::parts::DagParts;
use crate::signal::stop_on_signal;

/// Options of `pinpipe trigger`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The day to compute.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: NaiveDate,
    #[command(flatten)]
    engine: crate::config::EngineArg,
}

/// Runs the DAG for one date now. Exit code 0 on success, 1 on failure, 4 when another process
/// is running that date.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let config = &config.with_engine(&options.engine)?;
    let parts = DagParts::open(config).await?;
    let ctx = parts.context(config);
    let mut stop = stop_on_signal();
    let outcome = pinpipe_schedule::run_dag(&ctx, options.date, "trigger", &mut stop).await?;
    parts.close().await;
    Ok(report(options.date, &outcome))
}

fn report(date: NaiveDate, outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Success => {
            eprintln!("{date}: success");
            ExitCode::SUCCESS
        }
        Outcome::Failed(e) => {
            eprintln!("{date}: failed: {e} (see `pinpipe runs`)");
            ExitCode::FAILURE
        }
        Outcome::Locked => {
            eprintln!(
                "{date}: another process is running this date; not run here (see `pinpipe runs`)"
            );
            ExitCode::from(4)
        }
        Outcome::Stopped => {
            eprintln!("{date}: stopped");
            ExitCode::FAILURE
        }
        Outcome::AlreadyDone => {
            eprintln!("{date}: already successful");
            ExitCode::SUCCESS
        }
    }
}
