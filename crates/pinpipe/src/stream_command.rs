//! `pinpipe stream`: the speed layer alone (event log → serving DB), until SIGINT/SIGTERM.

use anyhow::Context;
use pinpipe_log::EventLog;
use pinpipe_serving::ServingDb;

use crate::config::Config;

/// Opens the log and the serving DB and runs the speed layer until a shutdown signal.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    let log = EventLog::open(&config.log, &config.data_dir)
        .await
        .with_context(|| format!("cannot open the event log ({})", config.log.url))?;
    let db = open_serving(config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::serve_command::shutdown_signal().await;
        let _ = stop.send(true);
    });
    tracing::info!(db = db.backend_name(), group = %config.stream.group, "speed layer running");
    let stats = pinpipe_stream::run(&log, &config.log, &db, &config.stream, stopped)
        .await
        .context("the speed layer failed")?;
    tracing::info!(
        records = stats.records,
        batches = stats.batches,
        "speed layer stopped"
    );
    db.close().await;
    log.close().await.context("cannot close the event log")?;
    Ok(())
}

/// Opens (and migrates) the configured serving DB, with a message that says what to check.
pub async fn open_serving(config: &Config) -> anyhow::Result<ServingDb> {
    let url = ServingDb::url(&config.serving, &config.data_dir);
    ServingDb::open(&config.serving, &config.data_dir)
        .await
        .with_context(|| {
            format!(
                "cannot open the serving DB ({}); check [serving] url",
                crate::config::redact_url_password(&url)
            )
        })
}
