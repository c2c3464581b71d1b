//! `pinpipe ballista-executor`: an executor of a Ballista cluster that runs the batch job, with
//! pinpipe's UDFs and the lake's store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::parts;

/// Options of `pinpipe ballista-executor`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The scheduler (`pinpipe ballista-scheduler --bind`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    scheduler: String,
    /// The IP its services listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: String,
    /// The host name the scheduler and the other executors reach it at [default: --bind].
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,
    /// The Arrow Flight port (shuffle data and results).
    #[arg(long, value_name = "PORT", default_value_t = 50051)]
    port: u16,
    /// The gRPC port (tasks).
    #[arg(long, value_name = "PORT", default_value_t = 50052)]
    grpc_port: u16,
    /// Where shuffle and spill files go [default: <data-dir>/ballista-executor-<port>].
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Tasks it runs at once [default: one per CPU core].
    #[arg(long, value_name = "N", default_value_t = 0)]
    vcores: usize,
    /// Memory all its tasks may use together before they spill (MiB) [default: [batch]
    /// memory_limit_mb].
    #[arg(long, value_name = "M")]
    memory_pool_mb: Option<u64>,
}

/// Runs the executor until SIGINT/SIGTERM, then reports what it cleaned.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let (host, port) = options
        .scheduler
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .with_context(|| {
            format!(
                "--scheduler {:?}: expected HOST:PORT, the address of `pinpipe ballista-scheduler`",
                options.scheduler
            )
        })?;
    let lake = parts::open_reachable_lake(config).await?;
    let work_dir = options.work_dir.clone().unwrap_or_else(|| {
        config
            .data_dir
            .join(format!("ballista-executor-{}", options.port))
    });
    let executor = pinpipe_batch::ballista::ExecutorOptions {
        scheduler_host: host.trim_matches(['[', ']']).to_owned(),
        scheduler_port: port,
        bind_host: options.bind.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        work_dir: std::path::absolute(&work_dir)?.display().to_string(),
        vcores: options.vcores,
        memory_pool_mb: options
            .memory_pool_mb
            .unwrap_or(config.batch.memory_limit_mb),
    };
    let report = pinpipe_batch::ballista::run_executor(lake, &config.batch, &executor).await?;
    let [pins, geos, users] = report.cleaned;
    let [dead_pins, dead_geos, dead_users] = report.dead_letters;
    tracing::info!(
        cleaned_pins = pins,
        cleaned_geos = geos,
        cleaned_users = users,
        dead_pins,
        dead_geos,
        dead_users,
        "Ballista executor stopped; its cleaning UDFs cleaned {pins} pins, {geos} geos and \
         {users} users ({dead_pins}, {dead_geos} and {dead_users} unusable)"
    );
    Ok(ExitCode::SUCCESS)
}
