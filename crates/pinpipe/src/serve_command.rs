//! `pinpipe serve`: the ingest API alone over the event log, until SIGINT/SIGTERM.

use std::process::ExitCode;

use crate::config::Config;
use crate::parts::{self, IngestApi};
use crate::signal::shutdown_signal;

/// Options of `pinpipe serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8000, or [serve] listen].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

/// Opens the log, serves until a shutdown signal, then drains requests in flight, flushes the log
/// and returns.
pub async fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = config.clone();
    if let Some(listen) = &args.listen {
        config.serve.listen = listen.clone();
    }
    let log = parts::open_log(&config).await?;
    let api = IngestApi::bind(&config, &log).await?;
    api.serve(&config, &log, shutdown_signal()).await?;
    parts::flush_log(log).await?;
    Ok(ExitCode::SUCCESS)
}
