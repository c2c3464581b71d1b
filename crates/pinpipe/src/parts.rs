//! The pipeline's parts as the commands open them from the configuration, each with the message
//! that says what to check when it cannot be opened: the event log, the serving DB, the lake, the
//! ingest API's listener, the parts of the daily DAG; and the command-line values several
//! commands share (the event type, the emulator's pacing and seed).

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::builder::TypedValueParser;
use pinpipe_emulate::{Burst, EmulateConfig, Pacing};
use pinpipe_lake::Lake;
use pinpipe_log::EventLog;
use pinpipe_model::EventType;
use pinpipe_serving::ServingDb;

use crate::config::Config;

/// Opens the configured event log.
pub async fn open_log(config: &Config) -> anyhow::Result<EventLog> {
    EventLog::open(&config.log, &config.data_dir)
        .await
        .with_context(|| format!("cannot open the event log ({})", config.log.url))
}

/// Where the event log is, for people: `local, <path>` or the broker's URL.
pub fn log_description(config: &Config, log: &EventLog) -> String {
    match log {
        EventLog::Local(local) => format!("local, {}", local.path().display()),
        EventLog::Kafka(_) => config.log.url.clone(),
    }
}

/// Flushes the event log once the ingest API (and what else ran) has stopped.
pub async fn flush_log(log: EventLog) -> anyhow::Result<()> {
    tracing::info!("stopped accepting; flushing the event log");
    log.close().await.context("cannot flush the event log")?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Opens (and migrates) the configured serving DB.
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

/// The serving DB's URL for a read-only query; a SQLite file that does not exist yet is an error
/// that says what to start.
pub fn existing_serving_url(config: &Config) -> anyhow::Result<String> {
    let url = ServingDb::url(&config.serving, &config.data_dir);
    if let Some(path) = url.strip_prefix("sqlite:")
        && !std::path::Path::new(path.trim_start_matches("//")).exists()
    {
        bail!(
            "no serving DB at {path}: start `pinpipe up` (or `pinpipe stream`) first, or set [serving] url"
        );
    }
    Ok(url)
}

/// Opens the configured lake (without reaching it).
pub fn open_lake(config: &Config) -> anyhow::Result<Lake> {
    Lake::open(&config.lake, &config.data_dir).context("cannot open the lake; check [lake] url")
}

/// Opens the configured lake and checks that it can be reached.
pub async fn open_reachable_lake(config: &Config) -> anyhow::Result<Lake> {
    let lake = open_lake(config)?;
    lake.ready().await.context("the lake cannot be reached")?;
    Ok(lake)
}

/// How `serve` and `up` announce the bound address on stdout: this prefix, then `IP:PORT`.
const LISTENING_LINE: &str = "pinpipe: ingest API listening on http://";

/// The ingest API's listener, bound, with its connection limits.
pub struct IngestApi {
    listener: tokio::net::TcpListener,
    limits: pinpipe_ingest::Limits,
    /// The address it listens on (the bound port when `[serve] listen` asks for port 0).
    pub address: SocketAddr,
    /// The latest refused requests (`[observe] reject_samples` of them), for the dashboard.
    pub rejects: pinpipe_ingest::RejectLog,
}

impl IngestApi {
    /// Raises the open-files limit, binds `[serve] listen` and logs where the API listens and
    /// over which log.
    pub async fn bind(config: &Config, log: &EventLog) -> anyhow::Result<IngestApi> {
        let open_files = raise_open_files_limit();
        let limits = pinpipe_ingest::Limits {
            header_read_timeout: Duration::from_millis(config.serve.header_read_timeout_ms.max(1)),
            keep_alive_timeout: Duration::from_millis(config.serve.keep_alive_timeout_ms.max(1)),
            max_connections: config
                .serve
                .connection_cap(open_files)
                .map_err(anyhow::Error::msg)?,
        };
        let listen = &config.serve.listen;
        let listener = pinpipe_ingest::bind(listen, config.serve.listen_backlog)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {listen}: choose another address with --listen or [serve] listen"
                )
            })?;
        let address = listener.local_addr()?;
        tracing::info!(
            open_files,
            max_connections = limits.max_connections,
            "open-files limit {open_files}, at most {} connections",
            limits.max_connections
        );
        let log = log_description(config, log);
        tracing::info!(%address, %log, "ingest API listening");
        // The same on stdout at any log level, one stable line for whoever started pinpipe on
        // port 0 and needs the port (the black-box tests do). A closed stdout is not an error.
        let _ = writeln!(std::io::stdout(), "{LISTENING_LINE}{address}");
        Ok(IngestApi {
            listener,
            limits,
            address,
            rejects: pinpipe_ingest::RejectLog::new(config.observe.reject_samples),
        })
    }

    /// Serves until `stop` resolves, then drains the requests in flight (their appends included).
    pub async fn serve(
        self,
        config: &Config,
        log: &EventLog,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = pinpipe_ingest::AppState::new(
            log.clone(),
            &config.log,
            config.serve.clone(),
            self.rejects,
        );
        let server = pinpipe_ingest::Server {
            listener: self.listener,
            state,
            limits: self.limits,
            stats: std::sync::Arc::new(pinpipe_ingest::ConnectionStats::default()),
        };
        // `stop` (a signal, or `up`'s emulator stopping first) turns into the stages' stop flag.
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop.await;
            let _ = stopping.send(true);
        });
        server.run(stopped).await.context("the ingest API failed")
    }
}

/// Raises the soft open-files limit to the hard limit (each connection is a descriptor) and
/// returns the limit in effect.
fn raise_open_files_limit() -> u64 {
    let before = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft).ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            if before.is_some_and(|before| before < now) {
                tracing::info!(
                    "raised the open-files limit from {} to {now} (the hard limit)",
                    before.unwrap_or(0)
                );
            }
            now
        }
        Err(e) => {
            let now = before.unwrap_or(1024);
            tracing::warn!("cannot raise the open-files limit ({e}); it stays {now}");
            now
        }
    }
}

/// What a run of the daily DAG needs, opened.
pub struct DagParts {
    /// The lake.
    pub lake: Lake,
    /// The event log (for the watermark).
    pub log: EventLog,
    /// The serving DB (results, run history, locks).
    pub db: ServingDb,
    /// Its URL (the reconcile task reads it read-only).
    pub serving_url: String,
}

impl DagParts {
    /// Checks `[schedule] cron` and opens the lake, the event log and the serving DB.
    pub async fn open(config: &Config) -> anyhow::Result<DagParts> {
        config.schedule.parsed_cron()?;
        let lake = open_lake(config)?;
        let log = open_log(config).await?;
        let db = open_serving(config).await?;
        let serving_url = ServingDb::url(&config.serving, &config.data_dir);
        Ok(DagParts {
            lake,
            log,
            db,
            serving_url,
        })
    }

    /// The same over an event log already open.
    pub async fn with_log(config: &Config, log: EventLog) -> anyhow::Result<DagParts> {
        config.schedule.parsed_cron()?;
        let db = open_serving(config).await?;
        let lake = open_lake(config)?;
        let serving_url = ServingDb::url(&config.serving, &config.data_dir);
        Ok(DagParts {
            lake,
            log,
            db,
            serving_url,
        })
    }

    /// The scheduler's view of these parts.
    pub fn context<'a>(&'a self, config: &'a Config) -> pinpipe_schedule::Context<'a> {
        pinpipe_schedule::Context {
            lake: &self.lake,
            batch: &config.batch,
            log: &self.log,
            db: &self.db,
            serving_url: &self.serving_url,
            config: &config.schedule,
        }
    }

    /// Closes the serving DB.
    pub async fn close(self) {
        self.db.close().await;
    }
}

/// `pin`, `geo` or `user`, listed in `--help` and in the error for anything else.
pub fn event_type_parser() -> impl TypedValueParser<Value = EventType> {
    let names = EventType::ALL.map(EventType::as_str);
    clap::builder::PossibleValuesParser::new(names)
        .try_map(|name| name.parse::<EventType>().map_err(|e| e.to_string()))
}

/// The emulator's pacing from its configuration, with `--burst`.
pub fn pacing(config: &EmulateConfig, burst: Option<Burst>) -> anyhow::Result<Pacing> {
    match (config.rate, burst) {
        (None, None) => Ok(Pacing::Original),
        (None, Some(_)) => {
            bail!("--burst needs a base rate: add --rate N (events per second outside bursts)")
        }
        (Some(rate), _) if !(rate.is_finite() && rate >= 0.0) => {
            bail!(
                "--rate {rate} is not a rate: give events per second, or 0 for as fast as possible"
            )
        }
        (Some(0.0), None) => Ok(Pacing::Max),
        (Some(0.0), Some(_)) => {
            bail!("--burst needs a base rate above 0 (--rate 0 already sends as fast as possible)")
        }
        (Some(rate), burst) => Ok(Pacing::Rate {
            per_second: rate,
            burst,
        }),
    }
}

/// A seed from the OS's randomness (std's hasher keys), for emulator runs without `--seed`.
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}
