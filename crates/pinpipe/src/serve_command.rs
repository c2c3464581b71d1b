//! `pinpipe serve` and `pinpipe up`: the ingest API over the event log, until SIGINT/SIGTERM.

use std::time::Duration;

use anyhow::Context;
use pinpipe_ingest::AppState;
use pinpipe_log::EventLog;

use crate::config::Config;

/// What to start.
pub struct Options {
    /// `up` prints a short guide on start.
    pub banner: bool,
    /// `up --emulate`: run the emulator against this API with this plan.
    pub emulate: Option<pinpipe_emulate::Plan>,
    /// `up`: run the speed layer too.
    pub stream: bool,
    /// `up`: run the lake writer and the scheduler too.
    pub lake: bool,
}

/// How long a stopping emulator may take to finish its requests in flight before the API stops.
const EMULATOR_STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens the log, serves until a shutdown signal, then drains requests in flight, flushes the log
/// and returns.
pub async fn run(config: &Config, options: &Options) -> anyhow::Result<()> {
    let open_files = raise_open_files_limit();
    let limits = pinpipe_ingest::Limits {
        header_read_timeout: Duration::from_millis(config.serve.header_read_timeout_ms.max(1)),
        keep_alive_timeout: Duration::from_millis(config.serve.keep_alive_timeout_ms.max(1)),
        max_connections: config
            .serve
            .connection_cap(open_files)
            .map_err(anyhow::Error::msg)?,
    };
    let log = EventLog::open(&config.log, &config.data_dir)
        .await
        .with_context(|| format!("cannot open the event log ({})", config.log.url))?;
    let listen = &config.serve.listen;
    let listener = pinpipe_ingest::bind(listen, config.serve.listen_backlog)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {listen}: choose another address with --listen or [serve] listen"
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!(
        open_files,
        max_connections = limits.max_connections,
        "open-files limit {open_files}, at most {} connections",
        limits.max_connections
    );
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
        if options.emulate.is_some() {
            eprintln!("  emulator     sending events to http://{address} (see `pinpipe topics`)");
        }
        eprintln!("  stop with Ctrl-C");
    }
    // The speed layer stops last: after the API has drained, it applies what is left in hand.
    let (stream_stop, stream_stopped) = tokio::sync::watch::channel(false);
    let stream = if options.stream {
        let db = crate::stream_command::open_serving(config).await?;
        if options.banner {
            eprintln!(
                "  serving DB   {} (query with `pinpipe sql --on serving \"SELECT …\"`)",
                db.backend_name()
            );
        }
        let (log, log_config, stream_config) =
            (log.clone(), config.log.clone(), config.stream.clone());
        Some(tokio::spawn(async move {
            let result =
                pinpipe_stream::run(&log, &log_config, &db, &stream_config, stream_stopped).await;
            if let Err(e) = &result {
                // Said at once: the API keeps taking events into the log meanwhile.
                tracing::error!(
                    "the speed layer stopped: {e}; events stay in the log until it runs again"
                );
            }
            db.close().await;
            result
        }))
    } else {
        None
    };
    // The lake writer stops last too, writing what it holds.
    let (lake_stop, lake_stopped) = tokio::sync::watch::channel(false);
    let lake_writer = if options.lake {
        let lake = crate::lake_command::open_lake(config)?;
        if options.banner {
            eprintln!(
                "  lake         {} (daily job: `pinpipe batch --date YYYY-MM-DD`)",
                lake.url()
            );
        }
        let (log, log_config, writer_config) =
            (log.clone(), config.log.clone(), config.lake_writer.clone());
        Some(tokio::spawn(async move {
            let result = pinpipe_lake::writer::run(
                &log,
                &log_config,
                &lake,
                &writer_config,
                pinpipe_lake::Until::Stopped,
                lake_stopped,
            )
            .await;
            if let Err(e) = &result {
                tracing::error!(
                    "the lake writer stopped: {e}; events stay in the log until it runs again"
                );
            }
            result
        }))
    } else {
        None
    };
    // The scheduler: the daily DAG on its cron, stopped with the rest.
    let (schedule_stop, schedule_stopped) = tokio::sync::watch::channel(false);
    let scheduler = if options.lake {
        config.schedule.parsed_cron()?;
        let db = crate::stream_command::open_serving(config).await?;
        let lake = crate::lake_command::open_lake(config)?;
        if options.banner {
            eprintln!(
                "  scheduler    daily batch at \"{}\" UTC (history: `pinpipe runs`)",
                config.schedule.cron
            );
        }
        let (log, batch, schedule) = (log.clone(), config.batch.clone(), config.schedule.clone());
        let serving_url = pinpipe_serving::ServingDb::url(&config.serving, &config.data_dir);
        Some(tokio::spawn(async move {
            let ctx = pinpipe_schedule::Context {
                lake: &lake,
                batch: &batch,
                log: &log,
                db: &db,
                serving_url: &serving_url,
                config: &schedule,
            };
            let result = pinpipe_schedule::run_scheduler(
                &ctx,
                pinpipe_schedule::wall_clock,
                false,
                schedule_stopped,
            )
            .await;
            if let Err(e) = &result {
                tracing::error!("the scheduler stopped: {e}");
            }
            db.close().await;
        }))
    } else {
        None
    };
    let state = AppState::new(log.clone(), &config.log, config.serve.clone());
    // On a signal the emulator stops first and finishes its requests, then the API drains: so
    // the emulator's last events are answered, not cut off.
    let (emulator_stop, emulator_stopped) = tokio::sync::watch::channel(false);
    let emulator = match &options.emulate {
        Some(plan) => Some(spawn_emulator(config, plan.clone(), address, emulator_stopped).await?),
        None => None,
    };
    let api_stop = async move {
        shutdown_signal().await;
        let _ = emulator_stop.send(true);
        if let Some(emulator) = emulator
            && tokio::time::timeout(EMULATOR_STOP_TIMEOUT, emulator)
                .await
                .is_err()
        {
            tracing::warn!("the emulator did not stop in time; stopping the API anyway");
        }
    };
    let connections = std::sync::Arc::new(pinpipe_ingest::ConnectionStats::default());
    pinpipe_ingest::serve(listener, state, limits, connections, api_stop)
        .await
        .context("the ingest API failed")?;
    if let Some(stream) = stream {
        let _ = stream_stop.send(true);
        match stream.await {
            Ok(Ok(stats)) => tracing::info!(
                records = stats.records,
                batches = stats.batches,
                "speed layer stopped"
            ),
            Ok(Err(_)) => {} // reported when it happened
            Err(e) => tracing::error!("the speed layer panicked: {e}"),
        }
    }
    if let Some(scheduler) = scheduler {
        let _ = schedule_stop.send(true);
        if let Err(e) = scheduler.await {
            tracing::error!("the scheduler panicked: {e}");
        }
    }
    if let Some(writer) = lake_writer {
        let _ = lake_stop.send(true);
        match writer.await {
            Ok(Ok(stats)) => tracing::info!(
                records = stats.records,
                files = stats.files,
                "lake writer stopped"
            ),
            Ok(Err(_)) => {} // reported when it happened
            Err(e) => tracing::error!("the lake writer panicked: {e}"),
        }
    }
    tracing::info!("stopped accepting; flushing the event log");
    log.close().await.context("cannot flush the event log")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Loads the emulator's source and starts it against `address`; it logs its counts every 10 s
/// and its summary when `stop` turns true.
async fn spawn_emulator(
    config: &Config,
    plan: pinpipe_emulate::Plan,
    address: std::net::SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut emulate = config.emulate.clone();
    emulate.url = format!("http://{address}");
    let loaded = pinpipe_emulate::load(&emulate, plan.seed)
        .await
        .context("cannot load the emulator's source ([emulate] source)")?;
    tracing::info!(source = %loaded.description, pacing = ?plan.pacing, "emulator sending to {}", emulate.url);
    Ok(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let progress = pinpipe_emulate::Progress::Log(Duration::from_secs(10));
        match pinpipe_emulate::run(&emulate, &loaded, &plan, progress, stopped).await {
            Ok(summary) => tracing::info!(
                target: "pinpipe::emulate",
                "emulator stopped: {} sent · {}",
                summary.sent,
                summary.progress_line()
            ),
            Err(e) => tracing::error!("the emulator failed: {e}"),
        }
    }))
}

/// Raises the soft open-files limit to the hard limit (each connection is a descriptor) and
/// returns the limit in effect.
fn raise_open_files_limit() -> u64 {
    let before = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft).ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            if before.is_some_and(|before| before < now) {
                tracing::info!(
                    "raised the open-files limit from {} to {now} (the hard limit)",
                    before.unwrap_or(0)
                );
            }
            now
        }
        Err(e) => {
            let now = before.unwrap_or(1024);
            tracing::warn!("cannot raise the open-files limit ({e}); it stays {now}");
            now
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
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
