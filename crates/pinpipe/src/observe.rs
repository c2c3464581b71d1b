//! The admin listener of the long-running commands (`up`, `serve`, `stream`, `lake`,
//! `schedule`): the metrics recorder with every stage's families, `/metrics`, the overview, the
//! dashboard, and the gauges refreshed from the log and the serving DB.
//!
//! [`Observer::install`] runs first, before any part is opened: the stages' metric handles are
//! made when their parts open and are no-ops without a recorder. [`Observer::serve`] starts
//! listening once the parts are open.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pinpipe_log::EventLog;
use pinpipe_observe::{AdminServer, Metrics, Overview, OverviewNames};
use pinpipe_serving::ServingDb;
use tokio::sync::watch;

use crate::config::Config;

/// `--observe-listen`, shared by the long-running commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ObserveArgs {
    /// Where the admin listener (/metrics, /dashboard, /api/v1/…) listens, or `off`
    /// [default: 127.0.0.1:8001, or [observe] listen]. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR|off")]
    observe_listen: Option<String>,
}

/// How the admin listener announces the bound address on stdout: this prefix, then `IP:PORT`.
const LISTENING_LINE: &str = "pinpipe: admin listening on http://";

/// A command-line mistake the user fixes: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The recorder installed and the admin listener bound; serves once [`Observer::serve`] is called.
pub struct Observer {
    metrics: Metrics,
    overview: Overview,
    server: AdminServer,
    /// Where it listens.
    pub address: SocketAddr,
}

/// What this process has opened, for the dashboard and the refreshed gauges.
#[derive(Default)]
pub struct Parts {
    /// The event log (offsets, group offsets and lag; the log page).
    pub log: Option<EventLog>,
    /// The serving DB's URL (run history and batch gauges; the pages that read it).
    pub serving_url: Option<String>,
    /// The ingest API's latest refused requests (the errors page).
    pub rejects: Option<pinpipe_ingest::RejectLog>,
}

impl Observer {
    /// Installs the recorder with every stage's families and binds the admin listener, unless
    /// it is `off` (then `None`: no recorder, no listener, the metric handles cost nothing).
    pub async fn install(config: &Config, args: &ObserveArgs) -> anyhow::Result<Option<Observer>> {
        let mut observe = config.observe.clone();
        if let Some(listen) = &args.observe_listen {
            observe.listen = listen.clone();
        }
        if observe.is_off() {
            return Ok(None);
        }
        let listen = observe.listen.trim();
        let server = AdminServer::bind(listen).await.map_err(|e| {
            UsageError(format!(
                "cannot listen on {listen} for the admin listener (metrics, dashboard): {e}; \
                 choose another address with --observe-listen (127.0.0.1:0 picks a free port) \
                 or [observe] listen, or turn it off with --observe-listen off"
            ))
        })?;
        let metrics = pinpipe_observe::install(
            env!("CARGO_PKG_VERSION"),
            &[
                pinpipe_ingest::metrics::HISTOGRAMS,
                pinpipe_log::metrics::HISTOGRAMS,
                pinpipe_stream::metrics::HISTOGRAMS,
                pinpipe_lake::metrics::HISTOGRAMS,
            ],
        )?;
        pinpipe_ingest::metrics::describe();
        pinpipe_log::metrics::describe();
        pinpipe_stream::metrics::describe();
        pinpipe_lake::metrics::describe();
        pinpipe_schedule::metrics::describe();
        let overview = Overview::start(
            metrics.clone(),
            overview_names(config),
            observe.history_minutes,
        );
        let address = server.address;
        tracing::info!(%address, "admin listener (metrics, dashboard)");
        // One stable line on stdout at any log level, for whoever started pinpipe on port 0.
        let _ = writeln!(std::io::stdout(), "{LISTENING_LINE}{address}");
        Ok(Some(Observer {
            metrics,
            overview,
            server,
            address,
        }))
    }

    /// Serves the admin routes over `parts` until `stop` turns true, and refreshes the gauges
    /// derived from the log and the serving DB every `[observe] refresh_secs`.
    pub fn serve(self, config: &Config, parts: Parts, stop: watch::Receiver<bool>) {
        let overview = self.overview.clone();
        let rejects = parts.rejects.clone();
        let provider: pinpipe_dashboard::OverviewProvider = Arc::new(move |since| {
            let mut doc = overview.snapshot(since);
            if let (Some(rejects), Some(map)) = (&rejects, doc.as_object_mut()) {
                map.insert("rejects".to_owned(), rejects.latest().into());
            }
            doc
        });
        let mut dashboard = pinpipe_dashboard::DashboardState::new(provider.clone()).with_config(
            pinpipe_dashboard::DashboardConfig {
                history_minutes: config.observe.history_minutes,
                reject_samples: config.observe.reject_samples,
                groups: groups(config),
            },
        );
        if let Some(url) = &parts.serving_url {
            dashboard = dashboard.with_serving_url(url.clone());
        }
        if let Some(log) = &parts.log {
            dashboard = dashboard.with_log(log.clone(), &config.log);
        }
        let router = AdminServer::router(
            self.metrics.clone(),
            provider,
            pinpipe_dashboard::router(dashboard),
        );
        let mut stopped = stop.clone();
        let server = self.server;
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = server.serve(router, until).await {
                tracing::error!("the admin listener failed: {e}");
            }
        });
        tokio::spawn(refresh_gauges(config.clone(), parts, stop));
    }
}

/// The consumer groups whose offsets and lag are shown.
fn groups(config: &Config) -> Vec<String> {
    vec![
        config.stream.group.clone(),
        config.lake_writer.group.clone(),
    ]
}

/// The families the overview reads, by the names their stages define.
fn overview_names(config: &Config) -> OverviewNames {
    OverviewNames {
        accepted: pinpipe_ingest::metrics::ACCEPTED,
        rejected: pinpipe_ingest::metrics::REJECTED,
        http_duration: pinpipe_ingest::metrics::HTTP_DURATION,
        appended: pinpipe_log::metrics::APPENDED_RECORDS,
        pending: pinpipe_log::metrics::PENDING,
        pending_limit: pinpipe_log::metrics::PENDING_LIMIT,
        lag_records: pinpipe_log::metrics::LAG_RECORDS,
        lag_seconds: pinpipe_log::metrics::LAG_SECONDS,
        applied: pinpipe_stream::metrics::RECORDS_APPLIED,
        dead_letters: pinpipe_stream::metrics::DEAD_LETTERS,
        lake_written: pinpipe_lake::metrics::RECORDS_WRITTEN,
        lake_errors: pinpipe_lake::metrics::WRITE_ERRORS,
        batch_latest_date: pinpipe_schedule::metrics::BATCH_LATEST_DATE,
        batch_last_success: pinpipe_schedule::metrics::BATCH_LAST_SUCCESS,
        stream_group: config.stream.group.clone(),
        lake_group: config.lake_writer.group.clone(),
    }
}

/// Refreshes the offset and lag gauges (from the log) and the run-history gauges (from the
/// serving DB, opened read-only once it exists) until `stop`.
async fn refresh_gauges(config: Config, parts: Parts, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(config.observe.refresh_secs.max(1));
    let offsets = parts
        .log
        .map(|log| pinpipe_log::metrics::OffsetGauges::new(log, &config.log, &groups(&config)));
    let cron = config.schedule.parsed_cron().ok();
    let mut serving: Option<ServingDb> = None;
    loop {
        if let Some(offsets) = &offsets
            && let Err(e) = offsets.refresh().await
        {
            tracing::debug!("cannot refresh the log's offset gauges: {e}");
        }
        if let (Some(url), Some(cron)) = (&parts.serving_url, &cron) {
            if serving.is_none() {
                serving = ServingDb::open_read_only(url).await.ok();
            }
            if let Some(db) = &serving
                && let Err(e) =
                    pinpipe_schedule::metrics::refresh(db, cron, config.schedule.catchup_days).await
            {
                tracing::debug!("cannot refresh the run-history gauges: {e}");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    if let Some(db) = serving {
        db.close().await;
    }
}
