//! `pinpipe batch --date D`: the daily batch job (raw zone → clean → de-duplicate → curated
//! Delta tables → the 11 analytics, into the lake and the serving DB).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use pinpipe_batch::{BatchSummary, Progress, Stage};
use pinpipe_lake::Lake;
use pinpipe_log::EventLog;

use crate::config::Config;
use crate::parts;

/// Options of `pinpipe batch`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The day to compute: all events received up to its end (UTC) [default: yesterday, UTC].
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<NaiveDate>,
    /// Do not write the analytics to the serving DB (only to the lake).
    #[arg(long)]
    no_serving: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// First wait until the lake writer has written every record of the date that the event
    /// log holds (as the daily DAG's wait_watermark task does).
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    engine: crate::config::EngineArg,
}

/// The event log, when there is one to look at: a local log only when its file exists (a batch
/// on a machine without the log must not create one), a Kafka log when it answers in time.
async fn existing_log(config: &Config) -> Option<EventLog> {
    let local = config.log.url.trim().eq_ignore_ascii_case("local");
    if local && !config.data_dir.join("log").join("events.db").exists() {
        return None;
    }
    let open = EventLog::open(&config.log, &config.data_dir);
    match tokio::time::timeout(Duration::from_secs(10), open).await {
        Ok(Ok(log)) => Some(log),
        Ok(Err(e)) => {
            tracing::debug!("not checking the event log: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("not checking the event log: it did not answer in 10 s");
            None
        }
    }
}

/// With `--wait`: polls until the raw zone holds every record of `date` the log has.
async fn wait_for_raw_zone(
    config: &Config,
    lake: &Lake,
    log: &EventLog,
    date: NaiveDate,
) -> anyhow::Result<()> {
    let poll = Duration::from_secs(config.schedule.watermark_poll_secs.max(1));
    loop {
        if pinpipe_schedule::watermark_passed(lake, log, date)
            .await
            .map_err(anyhow::Error::msg)?
        {
            return Ok(());
        }
        let (pending, more) = pinpipe_schedule::not_in_raw_zone(lake, log, date)
            .await
            .map_err(anyhow::Error::msg)?;
        let at_least = if more { "at least " } else { "" };
        eprintln!(
            "waiting: {at_least}{pending} records received on {date} are in the event log but not in the \
             raw zone yet (the lake writer of `pinpipe up` or `pinpipe lake` writes them within \
             lake_writer.roll_secs)"
        );
        tokio::time::sleep(poll).await;
    }
}

/// Draws a spinner per stage on a terminal; logs stages otherwise.
struct Spinner {
    bar: Option<ProgressBar>,
}

impl Progress for Spinner {
    fn stage(&self, name: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(name.to_owned()),
            None => tracing::info!(target: "pinpipe::batch", "{name}…"),
        }
    }

    fn done(&self, stage: &Stage) {
        let line = format!(
            "{:<16} {:>10} rows  {:>7.2} s",
            stage.name, stage.rows, stage.seconds
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None => tracing::info!(target: "pinpipe::batch", "{line}"),
        }
    }
}

/// Runs the batch job for one date and prints its summary.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let config = &config.with_engine(&options.engine)?;
    let date = options
        .date
        .unwrap_or_else(|| chrono::Utc::now().date_naive() - chrono::Days::new(1));
    let lake = parts::open_reachable_lake(config).await?;
    let log = existing_log(config).await;
    if options.wait {
        let Some(log) = &log else {
            anyhow::bail!(
                "--wait needs the event log ({}), which cannot be opened here; run without --wait",
                config.log.url
            );
        };
        wait_for_raw_zone(config, &lake, log, date).await?;
    }
    let db = if options.no_serving {
        None
    } else {
        Some(parts::open_serving(config).await?)
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} batch {prefix}: {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(date.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let spinner = Spinner { bar };
    let summary = pinpipe_batch::job::run(&lake, &config.batch, date, db.as_ref(), &spinner)
        .await
        .with_context(|| format!("the batch job for {date} failed"))?;
    if let Some(bar) = &spinner.bar {
        bar.finish_and_clear();
    }
    if let Some(db) = &db {
        db.close().await;
    }
    if options.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        eprint!("{}", human_summary(&summary));
    }
    if let Some(log) = log {
        // Said after the run, so it is the last thing a user reads.
        match pinpipe_schedule::not_in_raw_zone(&lake, &log, date).await {
            Ok((0, _)) => {}
            Ok((pending, more)) => {
                let at_least = if more { "at least " } else { "" };
                eprintln!(
                    "warning: {at_least}{pending} records received on {date} are in the event log \
                     but not in the raw zone yet, so this run left them out: the lake writer \
                     writes them within lake_writer.roll_secs ({} s). Run `pinpipe lake --once` \
                     and then this again, or `pinpipe batch --date {date} --wait`.",
                    config.lake_writer.roll_secs
                );
            }
            Err(e) => tracing::debug!("cannot count the records not in the raw zone: {e}"),
        }
        let _ = log.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

fn human_summary(s: &BatchSummary) -> String {
    let mut text = format!(
        "batch {}: done in {:.1} s\n  raw zone   {} files, {:.1} MB: pins {}, geos {}, users {}\n  \
         unusable   pins {}, geos {}, users {} (left out)\n  curated    pins {}, geos {}, users {} \
         (Delta versions {}, {}, {})\n  analytics  ",
        s.date,
        s.seconds,
        s.raw_files,
        s.raw_bytes as f64 / 1e6,
        s.raw_records[0],
        s.raw_records[1],
        s.raw_records[2],
        s.dead_letters[0],
        s.dead_letters[1],
        s.dead_letters[2],
        s.curated_rows[0],
        s.curated_rows[1],
        s.curated_rows[2],
        s.curated_versions[0],
        s.curated_versions[1],
        s.curated_versions[2],
    );
    let parts: Vec<String> = s
        .analytics_rows
        .iter()
        .map(|(name, rows)| format!("{name} {rows}"))
        .collect();
    text.push_str(&parts.join(", "));
    text.push('\n');
    if s.serving {
        text.push_str("  serving DB analytics tables updated\n");
    }
    text
}
