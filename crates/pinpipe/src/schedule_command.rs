//! `pinpipe schedule`: the built-in scheduler, running the daily DAG on `[schedule] cron` with
//! retries, catch-up and run history, until SIGINT/SIGTERM (or once).

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::observe::{ObserveArgs, Observer, Parts};
use crate::parts::DagParts;
use crate::signal::stop_on_signal;

/// Options of `pinpipe schedule`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Run what is due now (with catch-up), then stop.
    #[arg(long)]
    once: bool,
    /// Pretend the clock reads this (RFC 3339), advancing from there: to try a schedule.
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,

    #[command(flatten)]
    observe: ObserveArgs,
    #[command(flatten)]
    engine: crate::config::EngineArg,
}

/// Runs the scheduler until a signal (or once).
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let config = &config.with_engine(&options.engine)?;
    let observer = Observer::install(config, &options.observe).await?;
    let parts = DagParts::open(config).await?;
    let ctx = parts.context(config);
    let stop = stop_on_signal();
    if let Some(observer) = observer {
        let observed = Parts {
            log: Some(parts.log.clone()),
            serving_url: Some(parts.serving_url.clone()),
            rejects: None,
        };
        observer.serve(config, observed, stop.clone());
    }
    tracing::info!(cron = %config.schedule.cron, catchup = config.schedule.catchup, "scheduler running");
    match options.now {
        Some(at) => {
            let scheduler = pinpipe_schedule::Scheduler {
                ctx: &ctx,
                clock: pinpipe_schedule::shifted_clock(at),
                once: options.once,
            };
            scheduler.run(stop).await?;
        }
        None => {
            let scheduler = pinpipe_schedule::Scheduler {
                ctx: &ctx,
                clock: pinpipe_schedule::wall_clock,
                once: options.once,
            };
            scheduler.run(stop).await?;
        }
    }
    parts.close().await;
    Ok(ExitCode::SUCCESS)
}
