//! `pinpipe task NAME --date D`: one task of the daily DAG for a date (what the Airflow DAG's
//! operators call).

use std::process::ExitCode;

use chrono::NaiveDate;

use crate::config::Config;
use crate::parts::DagParts;

/// Options of `pinpipe task`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// wait_watermark, reconcile, publish or retention (the batch task is `pinpipe batch`).
    #[arg(value_parser = ["wait_watermark", "reconcile", "publish", "retention"])]
    task: String,
    /// The day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: NaiveDate,
}

/// Runs one task of the DAG (as Airflow's operators do).
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let parts = DagParts::open(config).await?;
    match options.task.as_str() {
        "reconcile" => {
            use pinpipe_schedule::ReconcileMode;
            if config.schedule.reconcile == ReconcileMode::Off {
                eprintln!("{}: reconcile is off ([schedule] reconcile)", options.date);
            } else {
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
    parts.close().await;
    Ok(ExitCode::SUCCESS)
}
