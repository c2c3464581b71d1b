//! `pinpipe serve`: the ingest API alone over the event log, until SIGINT/SIGTERM.

use std::process::ExitCode;

use crate::config::Config;
use crate::observe::{ObserveArgs, Observer, Parts};
use crate::parts::{self, IngestApi};
use crate::signal::shutdown_signal;

/// Options of `pinpipe serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8000, or [serve] listen].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,

    #[command(flatten)]
    observe: ObserveArgs,
}

/// Opens the log, serves until a shutdown signal, then drains requests in flight, flushes the log
/// and returns.
pub async fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = config.clone();
    if let Some(listen) = &args.listen {
        config.serve.listen = listen.clone();
    }
    let observer = Observer::install(&config, &args.observe).await?;
    let log = parts::open_log(&config).await?;
    let api = IngestApi::bind(&config, &log).await?;
    let (admin_stop, admin_stopped) = tokio::sync::watch::channel(false);
    if let Some(observer) = observer {
        let parts = Parts {
            log: Some(log.clone()),
            serving_url: None,
            rejects: Some(api.rejects.clone()),
        };
        observer.serve(&config, parts, admin_stopped);
    }
    api.serve(&config, &log, shutdown_signal()).await?;
    let _ = admin_stop.send(true);
    parts::flush_log(log).await?;
    Ok(ExitCode::SUCCESS)
}
