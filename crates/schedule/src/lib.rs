//! The scheduler (`pinpipe schedule`, part of `pinpipe up`; `pinpipe trigger`, `pinpipe
//! backfill`, `pinpipe runs`): the daily batch as a DAG of idempotent tasks,
//!
//! 1. `wait_watermark`: the lake writer has passed the end of the date (every partition of the
//!    log either has raw files of a later date or is written up to the log's end);
//! 2. `batch`: the batch job for the date, into the lake (`pinpipe batch --no-serving`);
//! 3. `publish`: the date's analytics from the lake into the serving DB (`pinpipe publish`);
//! 4. `retention`: raw files older than `retention_days` removed (off by default),
//!
//! run on a cron (UTC; a run fired on day D+1 computes D), with retries after a delay, a timeout
//! per task, catch-up of missed runs after downtime, a lock per date in the serving DB (so two
//! processes never run one date at once) and the history of runs and task attempts in the
//! serving DB. [`airflow`] writes the same DAG for Apache Airflow.

pub mod airflow;
pub mod metrics;
pub mod reconcile;

use std::collections::BTreeSet;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Timelike, Utc};
use croner::Cron;
use pinpipe_batch::BatchConfig;
use pinpipe_lake::{KINDS, Lake};
use pinpipe_log::EventLog;
use pinpipe_serving::ServingDb;
use pinpipe_serving::schedule::{RunRecord, TaskRecord};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// `[schedule]`: the scheduler's settings (also written into the Airflow DAG).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// When the daily DAG runs, a 5-field cron expression in UTC.
    pub cron: String,
    /// Retries of a failed task.
    pub retries: u32,
    /// Pause before a retry (seconds).
    pub retry_delay_secs: u64,
    /// A task attempt taking longer fails (seconds).
    pub task_timeout_secs: u64,
    /// After downtime, run the dates missed (up to `catchup_days` back).
    pub catchup: bool,
    /// How far back catch-up goes (days).
    pub catchup_days: u32,
    /// Raw files older than this many days are deleted after a successful batch; 0 = keep all.
    pub retention_days: u32,
    /// How often the watermark is checked while waiting (seconds).
    pub watermark_poll_secs: u64,
    /// What the `reconcile` task does when the serving DB and the lake differ. `warn` by default:
    /// the differences are logged and kept in the run history, and a speed layer that is down
    /// does not stop the day's analytics from being published; `fail` makes them a gate.
    pub reconcile: ReconcileMode,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            cron: "0 0 * * *".to_owned(),
            retries: 1,
            retry_delay_secs: 300,
            task_timeout_secs: 3600,
            catchup: true,
            catchup_days: 7,
            retention_days: 0,
            watermark_poll_secs: 10,
            reconcile: ReconcileMode::Warn,
        }
    }
}

impl ScheduleConfig {
    /// The parsed cron expression, or a message that says what is wrong.
    pub fn parsed_cron(&self) -> Result<Cron, ScheduleError> {
        Cron::from_str(&self.cron).map_err(|e| {
            ScheduleError::Config(format!(
                "[schedule] cron {:?}: {e}; expected 5 fields, e.g. \"0 0 * * *\"",
                self.cron
            ))
        })
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
    /// The serving DB (history, locks) failed.
    #[error("serving DB: {0}")]
    Serving(#[from] pinpipe_serving::ServingError),
}

/// The tasks of the daily DAG, in order.
pub const TASKS: [&str; 5] = [
    "wait_watermark",
    "batch",
    "reconcile",
    "publish",
    "retention",
];

/// What the `reconcile` task does when the serving DB and the lake differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReconcileMode {
    /// The task fails (and is retried, then fails the run).
    Fail,
    /// The task succeeds; the differences are logged and recorded.
    Warn,
    /// The task does nothing.
    Off,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every task succeeded.
    Success,
    /// A task failed after its retries.
    Failed(String),
    /// Another process holds the date's lock: not run here.
    Locked,
    /// Stopped before the end.
    Stopped,
    /// Already computed successfully (by another process meanwhile): not run again.
    AlreadyDone,
}

/// Everything a run needs.
pub struct Context<'a> {
    /// The lake.
    pub lake: &'a Lake,
    /// The batch job's settings.
    pub batch: &'a BatchConfig,
    /// The event log (the watermark compares the raw zone with it).
    pub log: &'a EventLog,
    /// The serving DB (results, history, locks).
    pub db: &'a ServingDb,
    /// Its URL (the reconcile task reads it read-only).
    pub serving_url: &'a str,
    /// The scheduler's settings.
    pub config: &'a ScheduleConfig,
}

/// The date a run fired at `fire` computes: the day before.
pub fn date_for(fire: DateTime<Utc>) -> NaiveDate {
    fire.date_naive() - Days::new(1)
}

/// The dates whose runs fired in `(after, until]`.
pub fn due_dates(cron: &Cron, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    let mut from = whole_seconds(after);
    while let Ok(next) = cron.find_next_occurrence(&from, false) {
        if next > until {
            break;
        }
        dates.push(date_for(next));
        from = next;
    }
    dates.dedup();
    dates
}

/// Runs the DAG for `date` unless another process holds its lock.
pub async fn run_dag(
    ctx: &Context<'_>,
    date: NaiveDate,
    trigger: &str,
    stop: &mut watch::Receiver<bool>,
) -> Result<Outcome, ScheduleError> {
    let owner = format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        uuid::Uuid::now_v7()
    );
    // The lock outlives the longest a task may take, and is refreshed before each task.
    let ttl = chrono::Duration::seconds(
        i64::try_from(ctx.config.task_timeout_secs.max(60) * 2).unwrap_or(i64::MAX / 4),
    );
    if !ctx.db.try_lock_date(date, &owner, Utc::now() + ttl).await? {
        tracing::info!(%date, "another process is running this date; skipped");
        return Ok(Outcome::Locked);
    }
    // Scheduled and backfilled dates run once: another process may have finished this one
    // between our look at the history and our lock. A trigger always runs.
    if trigger != "trigger" && successful_dates(ctx.db).await?.contains(&date) {
        ctx.db.unlock_date(date, &owner).await?;
        return Ok(Outcome::AlreadyDone);
    }
    let run_id = uuid::Uuid::now_v7().to_string();
    let run = RunRecord {
        run_id: run_id.clone(),
        dt: date,
        trigger: trigger.to_owned(),
        state: "running".to_owned(),
        started_at: Utc::now(),
        ended_at: None,
        error: None,
        tasks: Vec::new(),
    };
    ctx.db.start_run(&run).await?;
    tracing::info!(%date, %trigger, %run_id, "run started");
    let mut outcome = Outcome::Success;
    'tasks: for task in TASKS {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if !ctx
                .db
                .refresh_date_lock(date, &owner, Utc::now() + ttl)
                .await?
            {
                outcome = Outcome::Failed("lost the date's lock".to_owned());
                break 'tasks;
            }
            let record = TaskRecord {
                task: task.to_owned(),
                attempt,
                state: "running".to_owned(),
                started_at: Utc::now(),
                ended_at: None,
                error: None,
                detail: None,
            };
            ctx.db.start_task(&run_id, &record).await?;
            let timeout = Duration::from_secs(ctx.config.task_timeout_secs.max(1));
            let (result, detail) = tokio::select! {
                r = tokio::time::timeout(timeout, run_task(ctx, task, date)) => match r {
                    Ok(r) => r,
                    Err(_) => (Err(format!("timed out after {timeout:?}")), None),
                },
                _ = stop.wait_for(|s| *s) => (Err("stopped".to_owned()), None),
            };
            if let Some(detail) = &detail {
                ctx.db
                    .set_task_detail(&run_id, task, attempt, detail)
                    .await?;
            }
            match result {
                Ok(()) => {
                    ctx.db
                        .end_task(&run_id, task, attempt, "success", None)
                        .await?;
                    metrics::attempt_finished(task, "success");
                    tracing::info!(%date, task, attempt, "task done");
                    break;
                }
                Err(e) => {
                    ctx.db
                        .end_task(&run_id, task, attempt, "failed", Some(&e))
                        .await?;
                    metrics::attempt_finished(task, "failed");
                    tracing::warn!(%date, task, attempt, "task failed: {e}");
                    if *stop.borrow() {
                        outcome = Outcome::Stopped;
                        break 'tasks;
                    }
                    if attempt > i64::from(ctx.config.retries) {
                        outcome = Outcome::Failed(format!("{task}: {e}"));
                        break 'tasks;
                    }
                    let delay = Duration::from_secs(ctx.config.retry_delay_secs);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = stop.wait_for(|s| *s) => {
                            outcome = Outcome::Stopped;
                            break 'tasks;
                        }
                    }
                }
            }
        }
    }
    let (state, error) = match &outcome {
        Outcome::Success => ("success", None),
        Outcome::Failed(e) => ("failed", Some(e.as_str())),
        Outcome::Stopped | Outcome::Locked | Outcome::AlreadyDone => {
            ("failed", Some("stopped before the end"))
        }
    };
    ctx.db.end_run(&run_id, state, error).await?;
    ctx.db.unlock_date(date, &owner).await?;
    tracing::info!(%date, %run_id, state, "run ended");
    Ok(outcome)
}

/// Runs one task: its outcome, and what it found for the run history (the reconcile task's
/// report).
async fn run_task(
    ctx: &Context<'_>,
    task: &str,
    date: NaiveDate,
) -> (Result<(), String>, Option<String>) {
    let done = match task {
        "wait_watermark" => wait_watermark(ctx, date).await,
        "batch" => {
            // The summary (counts, stage times) goes into the run history as the task's detail.
            return match pinpipe_batch::job::run(
                ctx.lake,
                ctx.batch,
                date,
                None,
                &pinpipe_batch::Quiet,
            )
            .await
            {
                Ok(summary) => (Ok(()), serde_json::to_string(&summary).ok()),
                Err(e) => (Err(e.to_string()), None),
            };
        }
        "reconcile" => return reconcile_task(ctx, date).await,
        "publish" => pinpipe_batch::job::publish(ctx.lake, ctx.batch, date, ctx.db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "retention" => retention(ctx.lake, date, ctx.config.retention_days)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        other => Err(format!("unknown task {other}")),
    };
    (done, None)
}

/// The serving DB against the lake for `date` ([`reconcile::reconcile`]), as `[schedule]
/// reconcile` says.
async fn reconcile_task(
    ctx: &Context<'_>,
    date: NaiveDate,
) -> (Result<(), String>, Option<String>) {
    if ctx.config.reconcile == ReconcileMode::Off {
        return (Ok(()), Some("off ([schedule] reconcile)".to_owned()));
    }
    let report = match reconcile::reconcile(ctx.serving_url, ctx.lake, ctx.batch, date).await {
        Ok(report) => report,
        Err(e) => return (Err(e), None),
    };
    let summary = report.summary();
    if report.is_equal() {
        tracing::info!(%date, "reconciled: {summary}");
        (Ok(()), Some(summary))
    } else if ctx.config.reconcile == ReconcileMode::Warn {
        tracing::warn!(%date, "the serving DB and the lake differ: {summary}");
        (Ok(()), Some(summary))
    } else {
        (
            Err(format!("the serving DB and the lake differ: {summary}")),
            Some(summary),
        )
    }
}

/// Waits until the raw zone is complete for `date` (see [`watermark_passed`]).
async fn wait_watermark(ctx: &Context<'_>, date: NaiveDate) -> Result<(), String> {
    loop {
        if watermark_passed(ctx.lake, ctx.log, date).await? {
            return Ok(());
        }
        tracing::info!(%date, "waiting for the lake writer to pass the end of the day");
        tokio::time::sleep(Duration::from_secs(ctx.config.watermark_poll_secs.max(1))).await;
    }
}

/// True when the lake writer has passed the end of `date`: every partition of every topic either
/// has raw files of a later receive date, or is written up to the log's end offset.
pub async fn watermark_passed(
    lake: &Lake,
    log: &EventLog,
    date: NaiveDate,
) -> Result<bool, String> {
    let topics = log.topics().await.map_err(|e| e.to_string())?;
    // The configured names, by position (pins, geos, users), never by what a name looks like.
    for (kind, name) in KINDS.iter().zip(log.event_topics()) {
        let topic = topics
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| format!("the event log has no topic {name:?} (log.{kind}_topic)"))?;
        let files = pinpipe_lake::writer::raw_files(lake, kind)
            .await
            .map_err(|e| e.to_string())?;
        for partition in &topic.partitions {
            if partition.end_offset == partition.start_offset {
                continue;
            }
            let mine = files.iter().filter(|f| f.partition == partition.partition);
            let (mut later, mut written) = (false, 0);
            for file in mine {
                later |= file.date > date;
                written = written.max(file.last + 1);
            }
            if !later && written < partition.end_offset {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Most log records [`not_in_raw_zone`] reads before it stops counting.
pub const PENDING_SCAN_LIMIT: u64 = 1_000_000;

/// Records received on `date` (UTC) that the event log holds but the raw zone does not yet:
/// those after each partition's last raw file. Counts at most [`PENDING_SCAN_LIMIT`] records
/// read; the second value says whether it stopped there.
pub async fn not_in_raw_zone(
    lake: &Lake,
    log: &EventLog,
    date: NaiveDate,
) -> Result<(u64, bool), String> {
    let topics = log.topics().await.map_err(|e| e.to_string())?;
    let (mut pending, mut read) = (0u64, 0u64);
    for (kind, name) in KINDS.iter().zip(log.event_topics()) {
        let Some(topic) = topics.iter().find(|t| t.name == name) else {
            continue;
        };
        let files = pinpipe_lake::writer::raw_files(lake, kind)
            .await
            .map_err(|e| e.to_string())?;
        for partition in &topic.partitions {
            let written = files
                .iter()
                .filter(|f| f.partition == partition.partition)
                .map(|f| f.last + 1)
                .max()
                .unwrap_or(0);
            let mut offset = written.max(partition.start_offset);
            while offset < partition.end_offset {
                if read >= PENDING_SCAN_LIMIT {
                    return Ok((pending, true));
                }
                let records = log
                    .read(name, partition.partition, offset, 10_000, Duration::ZERO)
                    .await
                    .map_err(|e| e.to_string())?;
                let Some(last) = records.last() else { break };
                offset = last.offset + 1;
                read += records.len() as u64;
                pending += records
                    .iter()
                    .filter(|r| {
                        chrono::DateTime::from_timestamp_millis(r.timestamp_ms)
                            .is_some_and(|t| t.date_naive() == date)
                    })
                    .count() as u64;
            }
        }
    }
    Ok((pending, false))
}

/// Deletes raw files whose receive date is more than `days` before `date` (0: nothing).
pub async fn retention(
    lake: &Lake,
    date: NaiveDate,
    days: u32,
) -> Result<u64, pinpipe_lake::LakeError> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = date - Days::new(u64::from(days));
    let mut deleted = 0;
    for kind in KINDS {
        for file in pinpipe_lake::writer::raw_files(lake, kind).await? {
            if file.date < cutoff {
                deleted += lake.delete_all(&file.path()).await?;
            }
        }
    }
    Ok(deleted)
}

/// The earliest receive date in the raw zone (`None`: nothing received yet, or unreadable).
async fn first_raw_date(lake: &Lake) -> Option<NaiveDate> {
    let mut first = None;
    for kind in KINDS {
        if let Ok(files) = pinpipe_lake::writer::raw_files(lake, kind).await
            && let Some(date) = files.iter().map(|f| f.date).min()
        {
            first = Some(first.map_or(date, |f: NaiveDate| f.min(date)));
        }
    }
    first
}

/// Dates already computed successfully, per the run history.
pub async fn successful_dates(db: &ServingDb) -> Result<BTreeSet<NaiveDate>, ScheduleError> {
    Ok(db
        .runs(100_000)
        .await?
        .into_iter()
        .filter(|r| r.state == "success")
        .map(|r| r.dt)
        .collect())
}

/// The scheduler, with what it runs on: started with [`Scheduler::run`] (the entry shape every
/// long-running stage shares: its parts in a struct, then `run(stop)`).
pub struct Scheduler<'a, F> {
    /// The parts of a run of the daily DAG.
    pub ctx: &'a Context<'a>,
    /// The clock ([`wall_clock`], or [`shifted_clock`] to try a schedule).
    pub clock: F,
    /// Run what is due now (with catch-up), then return.
    pub once: bool,
}

impl<F, Fut> Scheduler<'_, F>
where
    F: Fn() -> Fut,
    Fut: Future<Output = DateTime<Utc>>,
{
    /// On start, runs the missed dates (catch-up), then each date as its cron time comes, until
    /// `stop` (or, with `once`, what is due now).
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<(), ScheduleError> {
        run_scheduler(self.ctx, self.clock, self.once, stop).await
    }
}

async fn run_scheduler<F, Fut>(
    ctx: &Context<'_>,
    now: F,
    once: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ScheduleError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = DateTime<Utc>>,
{
    let cron = ctx.config.parsed_cron()?;
    let start = now().await;
    let mut checked = if ctx.config.catchup {
        start - chrono::Duration::days(i64::from(ctx.config.catchup_days))
    } else {
        // Only the latest due run.
        start - chrono::Duration::days(1)
    };
    loop {
        let now_time = now().await;
        let mut due = due_dates(&cron, checked, now_time);
        if !ctx.config.catchup && due.len() > 1 {
            due.drain(..due.len() - 1);
        }
        let done = successful_dates(ctx.db).await?;
        // Nothing to compute before the first day anything was received.
        let first = first_raw_date(ctx.lake).await;
        for date in due
            .into_iter()
            .filter(|d| !done.contains(d) && first.is_some_and(|f| *d >= f))
        {
            if *stop.borrow() {
                return Ok(());
            }
            run_dag(ctx, date, "schedule", &mut stop).await?;
        }
        checked = now_time;
        if once {
            return Ok(());
        }
        let next = cron
            .find_next_occurrence(&whole_seconds(now_time), false)
            .unwrap_or_else(|_| now_time + chrono::Duration::days(1));
        let wait = (next - now_time)
            .to_std()
            .unwrap_or(Duration::from_secs(60));
        tracing::info!(next = %next, "scheduler waiting for the next run");
        tokio::select! {
            () = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
    }
}

/// `time` without its fraction of a second (cron times are whole seconds).
fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_nanosecond(0).unwrap_or(time)
}

/// The wall clock.
pub async fn wall_clock() -> DateTime<Utc> {
    Utc::now()
}

/// A fixed clock for tests and `--now`: `at` plus the time elapsed since `started`.
pub fn shifted_clock(at: DateTime<Utc>) -> impl Fn() -> std::future::Ready<DateTime<Utc>> {
    let offset = at - Utc::now();
    move || std::future::ready(Utc::now() + offset)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned())
}

/// Midnight UTC of a date.
pub fn midnight(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_cron_computes_the_day_before_and_catches_up() {
        let cron = Cron::from_str("0 0 * * *").unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let after = midnight(d("2026-11-20")) + chrono::Duration::hours(1);
        let until = midnight(d("2026-11-23")) + chrono::Duration::minutes(5);
        assert_eq!(
            due_dates(&cron, after, until),
            vec![d("2026-11-20"), d("2026-11-21"), d("2026-11-22")]
        );
        assert!(due_dates(&cron, until, until + chrono::Duration::hours(2)).is_empty());
        assert!(
            ScheduleConfig {
                cron: "0 0 *".into(),
                ..ScheduleConfig::default()
            }
            .parsed_cron()
            .is_err()
        );
    }

    /// The watermark looks at the configured topics by name, whatever the names look like.
    #[tokio::test]
    async fn the_watermark_checks_topics_whose_names_do_not_end_in_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let log_config = pinpipe_log::LogConfig {
            pins_topic: "pinterest.events".into(),
            geos_topic: "where".into(),
            users_topic: "who".into(),
            ..pinpipe_log::LogConfig::default()
        };
        let log = EventLog::open(&log_config, dir.path()).await.unwrap();
        let lake = Lake::open(&pinpipe_lake::LakeConfig::default(), dir.path()).unwrap();
        let record = pinpipe_log::NewRecord {
            key: b"k".to_vec(),
            value: br#"{"index": 1, "unique_id": "k"}"#.to_vec(),
            timestamp_ms: pinpipe_log::now_ms(),
            headers: Vec::new(),
        };
        log.append("pinterest.events", vec![record]).await.unwrap();
        let today = chrono::Utc::now().date_naive();
        assert!(
            !watermark_passed(&lake, &log, today).await.unwrap(),
            "a pin not yet in the raw zone holds the watermark"
        );
        assert_eq!(
            not_in_raw_zone(&lake, &log, today).await.unwrap(),
            (1, false)
        );
        let yesterday = today - Days::new(1);
        assert_eq!(
            not_in_raw_zone(&lake, &log, yesterday).await.unwrap(),
            (0, false)
        );
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        pinpipe_lake::writer::LakeWriter {
            log: &log,
            log_config: &log_config,
            lake: &lake,
            config: &pinpipe_lake::LakeWriterConfig::default(),
            until: pinpipe_lake::Until::CaughtUp,
        }
        .run(stop)
        .await
        .unwrap();
        assert!(watermark_passed(&lake, &log, today).await.unwrap());
        assert_eq!(
            not_in_raw_zone(&lake, &log, today).await.unwrap(),
            (0, false)
        );
        log.close().await.unwrap();
    }
}
