//! `pinpipe schedule`, `trigger`, `backfill`, `runs`, `task` and `airflow-dag`: the daily DAG on
//! the built-in scheduler, by hand, and for Apache Airflow.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Days, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe_log::EventLog;
use pinpipe_schedule::{Context, Outcome};

use crate::config::Config;

/// The parts a run needs, opened.
struct Parts {
    lake: pinpipe_lake::Lake,
    log: EventLog,
    db: pinpipe_serving::ServingDb,
    serving_url: String,
}

async fn open(config: &Config) -> anyhow::Result<Parts> {
    config.schedule.parsed_cron()?;
    let lake = crate::lake_command::open_lake(config)?;
    let log = EventLog::open(&config.log, &config.data_dir)
        .await
        .with_context(|| format!("cannot open the event log ({})", config.log.url))?;
    let db = crate::stream_command::open_serving(config).await?;
    let serving_url = pinpipe_serving::ServingDb::url(&config.serving, &config.data_dir);
    Ok(Parts {
        lake,
        log,
        db,
        serving_url,
    })
}

fn context<'a>(config: &'a Config, parts: &'a Parts) -> Context<'a> {
    Context {
        lake: &parts.lake,
        batch: &config.batch,
        log: &parts.log,
        db: &parts.db,
        serving_url: &parts.serving_url,
        config: &config.schedule,
    }
}

fn stop_on_signal() -> tokio::sync::watch::Receiver<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::serve_command::shutdown_signal().await;
        let _ = stop.send(true);
    });
    stopped
}

/// Options of `pinpipe schedule`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScheduleOptions {
    /// Run what is due now (with catch-up), then stop.
    #[arg(long)]
    once: bool,
    /// Pretend the clock reads this (RFC 3339), advancing from there: to try a schedule.
    #[arg(long, value_name = "TIME")]
    now: Option<DateTime<Utc>>,
}

/// Runs the scheduler until a signal (or once).
pub async fn schedule(config: &Config, options: &ScheduleOptions) -> anyhow::Result<()> {
    let parts = open(config).await?;
    let ctx = context(config, &parts);
    let stop = stop_on_signal();
    tracing::info!(cron = %config.schedule.cron, catchup = config.schedule.catchup, "scheduler running");
    match options.now {
        Some(at) => {
            pinpipe_schedule::run_scheduler(
                &ctx,
                pinpipe_schedule::shifted_clock(at),
                options.once,
                stop,
            )
            .await?
        }
        None => {
            pinpipe_schedule::run_scheduler(&ctx, pinpipe_schedule::wall_clock, options.once, stop)
                .await?
        }
    }
    parts.db.close().await;
    Ok(())
}

/// Options of `pinpipe trigger`.
#[derive(Debug, Clone, clap::Args)]
pub struct TriggerOptions {
    /// The day to compute.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: NaiveDate,
}

/// Runs the DAG for one date now. Exit code 0 on success, 1 on failure, 4 when another process
/// is running that date.
pub async fn trigger(
    config: &Config,
    options: &TriggerOptions,
) -> anyhow::Result<std::process::ExitCode> {
    let parts = open(config).await?;
    let ctx = context(config, &parts);
    let mut stop = stop_on_signal();
    let outcome = pinpipe_schedule::run_dag(&ctx, options.date, "trigger", &mut stop).await?;
    parts.db.close().await;
    Ok(report(options.date, &outcome))
}

fn report(date: NaiveDate, outcome: &Outcome) -> std::process::ExitCode {
    match outcome {
        Outcome::Success => {
            eprintln!("{date}: success");
            std::process::ExitCode::SUCCESS
        }
        Outcome::Failed(e) => {
            eprintln!("{date}: failed: {e} (see `pinpipe runs`)");
            std::process::ExitCode::FAILURE
        }
        Outcome::Locked => {
            eprintln!(
                "{date}: another process is running this date; not run here (see `pinpipe runs`)"
            );
            std::process::ExitCode::from(4)
        }
        Outcome::Stopped => {
            eprintln!("{date}: stopped");
            std::process::ExitCode::FAILURE
        }
        Outcome::AlreadyDone => {
            eprintln!("{date}: already successful");
            std::process::ExitCode::SUCCESS
        }
    }
}

/// Options of `pinpipe backfill`.
#[derive(Debug, Clone, clap::Args)]
pub struct BackfillOptions {
    /// First day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: NaiveDate,
    /// Last day (included).
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: NaiveDate,
    /// Run dates that already succeeded too.
    #[arg(long)]
    force: bool,
}

/// Runs the DAG for each date of a range, in order, skipping dates already successful (so an
/// interrupted backfill resumes where it stopped). Exit 1 when a date failed.
pub async fn backfill(
    config: &Config,
    options: &BackfillOptions,
) -> anyhow::Result<std::process::ExitCode> {
    if options.to < options.from {
        anyhow::bail!("--to {} is before --from {}", options.to, options.from);
    }
    let parts = open(config).await?;
    let ctx = context(config, &parts);
    let mut stop = stop_on_signal();
    let done = pinpipe_schedule::successful_dates(&parts.db).await?;
    let mut dates = Vec::new();
    let mut day = options.from;
    while day <= options.to {
        dates.push(day);
        day = day + Days::new(1);
    }
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(dates.len() as u64).with_style(
            ProgressStyle::with_template("backfill {bar:30} {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::hidden()
    };
    let (mut ran, mut skipped, mut failed) = (0, 0, 0);
    for date in dates {
        bar.set_message(date.to_string());
        if done.contains(&date) && !options.force {
            skipped += 1;
            bar.println(format!(
                "{date}: already successful, skipped (--force runs it again)"
            ));
        } else {
            match pinpipe_schedule::run_dag(&ctx, date, "backfill", &mut stop).await? {
                Outcome::Success => ran += 1,
                Outcome::AlreadyDone => skipped += 1,
                Outcome::Stopped => {
                    bar.abandon();
                    eprintln!("backfill stopped at {date}; run the same command to resume");
                    return Ok(std::process::ExitCode::FAILURE);
                }
                other => {
                    failed += 1;
                    bar.println(format!("{date}: {other:?}"));
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "backfill {}..{}: {ran} ran, {skipped} skipped, {failed} failed",
        options.from, options.to
    );
    parts.db.close().await;
    Ok(if failed > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// Options of `pinpipe runs`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunsOptions {
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// JSON lines (one run per line, with its task attempts) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints the run history.
pub async fn runs(config: &Config, options: &RunsOptions) -> anyhow::Result<()> {
    let db = crate::stream_command::open_serving(config).await?;
    let runs = db.runs(options.limit.max(1)).await?;
    db.close().await;
    let mut out = std::io::stdout().lock();
    if options.json {
        for run in &runs {
            writeln!(out, "{}", serde_json::to_string(run)?)?;
        }
        return Ok(());
    }
    let time = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let mut rows = vec![
        [
            "date",
            "run",
            "trigger",
            "state",
            "started",
            "ended",
            "task",
            "attempt",
            "task state",
            "error",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for run in &runs {
        rows.push(vec![
            run.dt.to_string(),
            run.run_id
                .chars()
                .rev()
                .take(8)
                .collect::<String>()
                .chars()
                .rev()
                .collect(),
            run.trigger.clone(),
            run.state.clone(),
            time(&run.started_at),
            run.ended_at.as_ref().map(time).unwrap_or_default(),
            String::new(),
            String::new(),
            String::new(),
            run.error.clone().unwrap_or_default(),
        ]);
        for task in &run.tasks {
            rows.push(vec![
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                time(&task.started_at),
                task.ended_at.as_ref().map(time).unwrap_or_default(),
                task.task.clone(),
                task.attempt.to_string(),
                task.state.clone(),
                task.error.clone().unwrap_or_default().replace('\n', " "),
            ]);
        }
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    if runs.is_empty() {
        writeln!(
            out,
            "(no runs yet: `pinpipe trigger --date YYYY-MM-DD` or `pinpipe schedule`)"
        )?;
    }
    Ok(())
}

/// Options of `pinpipe task`.
#[derive(Debug, Clone, clap::Args)]
pub struct TaskOptions {
    /// wait_watermark, reconcile, publish or retention (the batch task is `pinpipe batch`).
    #[arg(value_parser = ["wait_watermark", "reconcile", "publish", "retention"])]
    task: String,
    /// The day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: NaiveDate,
}

/// Runs one task of the DAG (as Airflow's operators do).
pub async fn task(config: &Config, options: &TaskOptions) -> anyhow::Result<()> {
    let parts = open(config).await?;
    match options.task.as_str() {
        "reconcile" => {
            use pinpipe_schedule::ReconcileMode;
            if config.schedule.reconcile == ReconcileMode::Off {
                eprintln!("{}: reconcile is off ([schedule] reconcile)", options.date);
                return Ok(());
            }
            let report = pinpipe_schedule::reconcile::reconcile(
                &parts.serving_url,
                &parts.lake,
                &config.batch,
                options.date,
            )
            .await
            .map_err(anyhow::Error::msg)?;
            eprintln!("{}: {}", options.date, report.summary());
            if !report.is_equal() && config.schedule.reconcile == ReconcileMode::Fail {
                anyhow::bail!(
                    "the serving DB and the lake differ for {} ([schedule] reconcile = \"fail\")",
                    options.date
                );
            }
        }
        "wait_watermark" => loop {
            if pinpipe_schedule::watermark_passed(&parts.lake, &parts.log, options.date)
                .await
                .map_err(anyhow::Error::msg)?
            {
                eprintln!(
                    "{}: the lake writer has passed the end of the day",
                    options.date
                );
                break;
            }
            eprintln!("{}: waiting for the lake writer", options.date);
            tokio::time::sleep(std::time::Duration::from_secs(
                config.schedule.watermark_poll_secs.max(1),
            ))
            .await;
        },
        "publish" => {
            let rows =
                pinpipe_batch::job::publish(&parts.lake, &config.batch, options.date, &parts.db)
                    .await?;
            eprintln!("{}: {rows} analytics rows in the serving DB", options.date);
        }
        _ => {
            let deleted = pinpipe_schedule::retention(
                &parts.lake,
                options.date,
                config.schedule.retention_days,
            )
            .await?;
            eprintln!("{}: {deleted} raw files removed", options.date);
        }
    }
    parts.db.close().await;
    Ok(())
}

/// Options of `pinpipe airflow-dag`.
#[derive(Debug, Clone, clap::Args)]
pub struct AirflowOptions {
    /// Write the DAG file here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Writes the Airflow DAG file.
pub fn airflow_dag(
    config: &Config,
    config_file: Option<&std::path::Path>,
    options: &AirflowOptions,
) -> anyhow::Result<()> {
    config.schedule.parsed_cron()?;
    let binary = std::env::current_exe()
        .context("cannot find the pinpipe binary's path")?
        .display()
        .to_string();
    let data_dir = std::path::absolute(&config.data_dir)?;
    let mut global_args = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
    if let Some(file) = config_file {
        global_args.push("--config".to_owned());
        global_args.push(std::path::absolute(file)?.display().to_string());
    }
    let target = pinpipe_schedule::airflow::Target {
        binary,
        global_args,
        today: Utc::now().date_naive(),
    };
    let text = pinpipe_schedule::airflow::dag_file(&config.schedule, &target);
    match &options.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
