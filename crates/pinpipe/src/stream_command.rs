//! `pinpipe stream`: the speed layer alone (event log → serving DB), until SIGINT/SIGTERM.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::observe::{ObserveArgs, Observer, Parts};
use crate::parts;
use crate::signal::stop_on_signal;

/// Options of `pinpipe stream` (the rest is `[stream]` in the configuration).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    observe: ObserveArgs,
}

/// Opens the log and the serving DB and runs the speed layer until a shutdown signal.
pub async fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let observer = Observer::install(config, &args.observe).await?;
    let log = parts::open_log(config).await?;
    let db = parts::open_serving(config).await?;
    let stopped = stop_on_signal();
    if let Some(observer) = observer {
        let parts = Parts {
            log: Some(log.clone()),
            serving_url: Some(pinpipe_serving::ServingDb::url(
                &config.serving,
                &config.data_dir,
            )),
            rejects: None,
        };
        observer.serve(config, parts, stopped.clone());
    }
    tracing::info!(db = db.backend_name(), group = %config.stream.group, "speed layer running");
    let layer = pinpipe_stream::SpeedLayer {
        log: &log,
        log_config: &config.log,
        db: &db,
        config: &config.stream,
    };
    let stats = layer.run(stopped).await.context("the speed layer failed")?;
    tracing::info!(
        records = stats.records,
        batches = stats.batches,
        "speed layer stopped"
    );
    db.close().await;
    log.close().await.context("cannot close the event log")?;
    Ok(ExitCode::SUCCESS)
}
