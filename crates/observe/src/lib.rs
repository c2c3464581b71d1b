//! pinpipe's observability plumbing, shared by every long-running command:
//!
//! - [`install`]: the process-wide Prometheus recorder of the `metrics` facade, with explicit
//!   buckets for every histogram (else they render as summaries, which cannot be aggregated),
//!   histogram upkeep every 5 s (so memory stays flat when nobody scrapes), process metrics and
//!   `pinpipe_build_info`. Until it is called every `metrics` handle is a no-op: with
//!   `[observe] listen = "off"` the hot paths pay nothing.
//! - [`AdminServer`]: the admin listener (`[observe] listen`, default `127.0.0.1:8001`) serving
//!   `GET /metrics`, `GET /api/v1/overview` and whatever else the caller merges in (the
//!   dashboard), with JSON 404s.
//! - [`overview`]: a sampler that reads the recorder's own rendering once a second into a ring
//!   of the last minutes, so the dashboard shows exactly what `/metrics` says.
//!
//! The metric families themselves are named once, each in the stage crate that owns it
//! (`metrics.rs` there); this crate knows none of them except the overview's reading of them.

pub mod admin;
pub mod exposition;
pub mod overview;

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use admin::AdminServer;
pub use overview::{Overview, OverviewNames};

/// `[observe]`: the admin listener and what the overview keeps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObserveConfig {
    /// Where the admin listener (`/metrics`, `/dashboard`, `/api/v1/…`) listens, or `off`.
    pub listen: String,
    /// How often gauges derived from the log and the serving DB (offsets, lag, runs) are read.
    pub refresh_secs: u64,
    /// Minutes of per-second history the overview keeps.
    pub history_minutes: u64,
    /// Ingest rejects listed on the errors page.
    pub reject_samples: usize,
}

impl Default for ObserveConfig {
    fn default() -> Self {
        ObserveConfig {
            listen: "127.0.0.1:8001".to_owned(),
            refresh_secs: 5,
            history_minutes: 15,
            reject_samples: 50,
        }
    }
}

impl ObserveConfig {
    /// Whether the admin listener (and with it the recorder) is turned off.
    pub fn is_off(&self) -> bool {
        self.listen.trim().eq_ignore_ascii_case("off")
    }
}

/// A histogram's name and its bucket upper bounds.
pub type Buckets = (&'static str, &'static [f64]);

/// How often histograms are drained into their buckets.
const UPKEEP: Duration = Duration::from_secs(5);

/// `pinpipe_build_info{version}`: always 1, to join on and to find instances by.
const BUILD_INFO: &str = "pinpipe_build_info";

/// The installed recorder: renders the exposition text.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: Arc<metrics_process::Collector>,
}

impl Metrics {
    /// The Prometheus text exposition (format 0.0.4) of every family, process metrics refreshed.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }

    /// The exposition without refreshing process metrics (the overview sampler's reading).
    pub(crate) fn render_stage_metrics(&self) -> String {
        self.handle.render()
    }
}

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct InstallError(String);

/// Installs the process-wide recorder with `histograms`' buckets (each histogram of every stage,
/// from their `metrics::HISTOGRAMS`), describes the process and build families and spawns the
/// histogram upkeep on the current Tokio runtime. Call it once, before the stages build their
/// handles (handles made before it are no-ops).
pub fn install(version: &str, histograms: &[&[Buckets]]) -> Result<Metrics, InstallError> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in histograms.iter().flat_map(|list| list.iter()) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .map_err(|e| InstallError(e.to_string()))?;
    }
    let handle = builder
        .install_recorder()
        .map_err(|e| InstallError(e.to_string()))?;
    let process = metrics_process::Collector::default();
    process.describe();
    process.collect();
    metrics::describe_gauge!(BUILD_INFO, "1, labelled with the pinpipe version");
    metrics::gauge!(BUILD_INFO, "version" => version.to_owned()).set(1.0);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(Metrics {
        handle,
        process: Arc::new(process),
    })
}

/// Seconds since the Unix epoch, now, as Prometheus timestamps are written.
pub fn unix_seconds_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
