//! `pinpipe runs`: the scheduler's run history (runs and task attempts).

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::output;
use crate::parts;

/// Options of `pinpipe runs`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// JSON lines (one run per line, with its task attempts) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints the run history.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let db = parts::open_serving(config).await?;
    let runs = db.runs(options.limit.max(1)).await?;
    db.close().await;
    let mut out = std::io::stdout().lock();
    if options.json {
        for run in &runs {
            writeln!(out, "{}", serde_json::to_string(run)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let time = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let header = [
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
    .map(str::to_owned);
    let mut rows = Vec::new();
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
    output::table(&mut out, &header, &rows, &[])?;
    if runs.is_empty() {
        writeln!(
            out,
            "(no runs yet: `pinpipe trigger --date YYYY-MM-DD` or `pinpipe schedule`)"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
