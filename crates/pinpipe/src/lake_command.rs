//! `pinpipe lake`: the lake writer alone (event log → the lake's raw zone), until SIGINT/SIGTERM
//! or, with `--once`, until caught up.

use std::process::ExitCode;

use anyhow::Context;
use pinpipe_lake::Until;

use crate::config::Config;
use crate::observe::{ObserveArgs, Observer, Parts};
use crate::parts;
use crate::signal::stop_on_signal;

/// Options of `pinpipe lake`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Write everything the log holds now, then stop (instead of running until a signal).
    #[arg(long)]
    once: bool,

    #[command(flatten)]
    observe: ObserveArgs,
}

/// Runs the lake writer until a shutdown signal (or, with `--once`, until caught up).
pub async fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let observer = Observer::install(config, &args.observe).await?;
    let log = parts::open_log(config).await?;
    let lake = parts::open_reachable_lake(config).await?;
    let stopped = stop_on_signal();
    if let Some(observer) = observer {
        let parts = Parts {
            log: Some(log.clone()),
            serving_url: None,
            rejects: None,
        };
        observer.serve(config, parts, stopped.clone());
    }
    let until = if args.once {
        Until::CaughtUp
    } else {
        Until::Stopped
    };
    tracing::info!(lake = %lake.url(), group = %config.lake_writer.group, "lake writer running");
    let writer = pinpipe_lake::writer::LakeWriter {
        log: &log,
        log_config: &config.log,
        lake: &lake,
        config: &config.lake_writer,
        until,
    };
    let stats = writer
        .run(stopped)
        .await
        .context("the lake writer failed")?;
    tracing::info!(
        records = stats.records,
        files = stats.files,
        file_bytes = stats.file_bytes,
        skipped = stats.skipped,
        "lake writer stopped"
    );
    log.close().await.context("cannot close the event log")?;
    Ok(ExitCode::SUCCESS)
}
