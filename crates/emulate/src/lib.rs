//! pinpipe's event emulator (`pinpipe emulate`).
//!
//! The course project's emulator picked a random row of its database of spoof Pinterest data,
//! POSTed the pin, geo and user records to `http://localhost:8000/pin/` (and `/geo/`, `/user/`)
//! and slept 0–2 s, forever. This crate does that by default, and also what load testing needs:
//!
//! - sources: a built-in seeded synthetic data set ([`synth`]), JSONL files, or the course's
//!   database through sqlx ([`sql`]);
//! - modes: one event per request, batches, or the Confluent REST Proxy envelope;
//! - pacing: the original sleeps, an open-loop rate with bursts, or as fast as possible;
//! - honest accounting: bounded retries, every event counted as accepted, rejected or failed,
//!   latency percentiles, a live progress line and a JSON summary ([`stats`]);
//! - reproducibility: the same seed gives the same data set and the same event sequence.

pub mod config;
mod http;
pub mod pacing;
pub mod pyjson;
pub mod send;
pub mod sequence;
pub mod source;
pub mod sql;
pub mod stats;
pub mod synth;
pub mod table;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{EmulateConfig, Mode, Order};
pub use pacing::{Burst, Pacing};
use pinpipe_model::EventType;
pub use send::Plan;
pub use source::{Loaded, Source};
pub use stats::Summary;

use crate::sequence::Sequence;
use crate::stats::Stats;
use crate::table::Table;

/// A source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file could not be read.
    #[error("{}: {detail}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong and what to do.
        detail: String,
    },
    /// A database could not be read.
    #[error("{url}: {detail}")]
    Database {
        /// The URL, password redacted.
        url: String,
        /// What went wrong and what to do.
        detail: String,
    },
    /// Nothing to send.
    #[error("{0}")]
    Empty(String),
}

/// How progress is shown while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A live progress line on stderr (indicatif; drawn only on a terminal).
    Bar,
    /// A log line (tracing, `info`) this often; for `pinpipe up --emulate`.
    Log(Duration),
    /// Nothing.
    Quiet,
}

/// The event types a configuration sends.
pub fn kinds(config: &EmulateConfig) -> Vec<EventType> {
    match config.only {
        Some(kind) => vec![kind],
        None => EventType::ALL.to_vec(),
    }
}

/// Loads the configured source.
pub async fn load(config: &EmulateConfig, seed: u64) -> Result<Loaded, SourceError> {
    let source = Source::parse(&config.source, config.rows);
    source::load(&source, seed, &kinds(config)).await
}

/// Sends events per `plan` until it ends or `stop` resolves; in-flight requests are finished
/// and counted before returning.
pub async fn run(
    config: &EmulateConfig,
    loaded: &Loaded,
    plan: &Plan,
    progress: Progress,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, String> {
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopper = tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let start = Instant::now();
    let reporter = spawn_progress(progress, plan.count, Arc::clone(&stats), start);
    let result = send::drive(
        config,
        &loaded.bodies,
        &kinds(config),
        plan,
        &stats,
        stop_rx,
    )
    .await;
    stopper.abort();
    if let Some((task, bar)) = reporter {
        task.abort();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
    let interrupted = result?;
    let mut summary = stats.snapshot(start.elapsed());
    summary.target = config.url.clone();
    summary.source = loaded.description.clone();
    summary.mode = config.mode.to_string();
    summary.seed = plan.seed;
    summary.interrupted = interrupted;
    Ok(summary)
}

type Reporter = (tokio::task::JoinHandle<()>, Option<indicatif::ProgressBar>);

fn spawn_progress(
    progress: Progress,
    count: Option<u64>,
    stats: Arc<Stats>,
    start: Instant,
) -> Option<Reporter> {
    match progress {
        Progress::Quiet => None,
        Progress::Bar => {
            let bar = match count {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = if count.is_some() {
                "{elapsed_precise} [{bar:20}] {pos}/{len} · {wide_msg}"
            } else {
                "{spinner} {elapsed_precise} {pos} sent · {wide_msg}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            let shown = bar.clone();
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    let now = stats.snapshot(start.elapsed());
                    shown.set_position(now.sent);
                    shown.set_message(now.progress_line());
                }
            });
            Some((task, Some(bar)))
        }
        Progress::Log(every) => {
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let now = stats.snapshot(start.elapsed());
                    tracing::info!(target: "pinpipe::emulate", "emulator: {} sent · {}", now.sent, now.progress_line());
                }
            });
            Some((task, None))
        }
    }
}

/// Writes the event sequence a run with `plan` would send, one event per line as
/// `TYPE<tab>BODY`, without sending anything. Needs a count (or the sequential order), since
/// the random order never ends. Returns the number of events written.
pub fn dry_run(
    config: &EmulateConfig,
    loaded: &Loaded,
    plan: &Plan,
    out: &mut impl Write,
) -> std::io::Result<u64> {
    let kinds = kinds(config);
    let mut sequence = Sequence::new(&loaded.bodies, &kinds, config.order, plan.seed);
    let mut written = 0u64;
    'records: while let Some(record) = sequence.next_record() {
        for event in record {
            if plan.count.is_some_and(|c| written >= c) {
                break 'records;
            }
            out.write_all(event.kind.as_str().as_bytes())?;
            out.write_all(b"\t")?;
            out.write_all(&event.body)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

/// Writes the built-in tables as `<table>.jsonl` (the bodies the emulator sends, one per line)
/// and `<table>.csv` (a header row; null as an empty field) in `dir`. Returns the files written.
pub fn export(seed: u64, rows: usize, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for table in source::builtin_tables(seed, rows) {
        let name = table::table_name(table.kind);
        let jsonl = dir.join(format!("{name}.jsonl"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
        for body in table.bodies() {
            out.write_all(&body)?;
            out.write_all(b"\n")?;
        }
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()?;
        written.push(jsonl);
        let csv_path = dir.join(format!("{name}.csv"));
        write_csv(&table, &csv_path)?;
        written.push(csv_path);
    }
    Ok(written)
}

fn write_csv(table: &Table, path: &Path) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(&table.columns)?;
    let mut fields: Vec<Vec<u8>> = Vec::new();
    for row in &table.rows {
        fields.clear();
        for value in row {
            let mut field = Vec::new();
            match value {
                serde_json::Value::Null => {}
                serde_json::Value::String(text) => field.extend_from_slice(text.as_bytes()),
                other => pyjson::write_value(other, &mut field),
            }
            fields.push(field);
        }
        writer.write_record(&fields)?;
    }
    writer.flush()?;
    writer.into_inner().map_err(|e| e.into_error())?.sync_all()
}
