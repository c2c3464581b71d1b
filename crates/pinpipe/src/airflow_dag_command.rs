//! `pinpipe airflow-dag`: an Apache Airflow 3 DAG file that runs the daily DAG with this
//! configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use crate::config::Config;

/// Options of `pinpipe airflow-dag`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Write the DAG file here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    engine: crate::config::EngineArg,
}

/// Writes the Airflow DAG file.
pub fn run(
    config: &Config,
    config_file: Option<&Path>,
    options: &Args,
) -> anyhow::Result<ExitCode> {
    let config = &config.with_engine(&options.engine)?;
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
        batch_args: match config.batch.engine.as_str() {
            "local" => Vec::new(),
            engine => vec!["--engine".to_owned(), engine.to_owned()],
        },
        today: Utc::now().date_naive(),
    };
    let text = pinpipe_schedule::airflow::dag_file(&config.schedule, &target);
    match &options.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
