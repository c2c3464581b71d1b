//! `pinpipe serve` and `pinpipe up`: the ingest API over the event log, until SIGINT/SIGTERM.

use anyhow::Context;
use pinpipe_ingest::AppState;
use pinpipe_log::EventLog;

use crate::config::Config;

/// What to start.
pub struct Options {
    /// `up` prints a short guide on start.
    pub banner: bool,
}

/// Opens the log, serves until a shutdown signal, then drains requests in flight, flushes the log
/// and returns.
pub async fn run(config: &Config, options: &Options) -> anyhow::Result<()> {
    let log = EventLog::open(&config.log, &config.data_dir)
        .await
        .with_context(|| format!("cannot open the event log ({})", config.log.url))?;
    let listen = &config.serve.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {listen}: choose another address with --listen or [serve] listen"
            )
        })?;
    let address = listener.local_addr()?;
    let where_log = match &log {
        EventLog::Local(local) => format!("local, {}", local.path().display()),
        EventLog::Kafka(_) => config.log.url.clone(),
    };
    tracing::info!(%address, log = %where_log, "ingest API listening");
    if options.banner {
        eprintln!("pinpipe is up");
        eprintln!(
            "  ingest API   http://{address}/pin/  /geo/  /user/   (batches: /pins /geos /users)"
        );
        eprintln!("  API docs     http://{address}/docs");
        eprintln!("  event log    {where_log}");
        eprintln!("  stop with Ctrl-C");
    }
    let state = AppState::new(log.clone(), &config.log, config.serve.clone());
    pinpipe_ingest::serve(listener, state, shutdown_signal())
        .await
        .context("the ingest API failed")?;
    tracing::info!("stopped accepting; flushing the event log");
    log.close().await.context("cannot flush the event log")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
