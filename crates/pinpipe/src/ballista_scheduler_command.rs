//! `pinpipe ballista-scheduler`: the scheduler of a Ballista cluster that runs the batch job
//! (`pinpipe batch --engine ballista://HOST:PORT`), with pinpipe's UDFs and the lake's store.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::config::Config;
use crate::parts;
use crate::signal::shutdown_signal;

/// Options of `pinpipe ballista-scheduler`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The address its gRPC service listens on (clients and executors connect here).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
    /// The host name executors and clients reach it at [default: the --bind IP].
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,
}

/// Runs the scheduler until SIGINT/SIGTERM.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let lake = parts::open_reachable_lake(config).await?;
    let scheduler = pinpipe_batch::ballista::SchedulerOptions {
        bind: options.bind,
        external_host: options.external_host.clone(),
    };
    pinpipe_batch::ballista::run_scheduler(lake, &config.batch, &scheduler, shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}
