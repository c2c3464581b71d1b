//! `pinpipe emulate`: replays Pinterest-like events against an ingest API (see the
//! pinpipe-emulate crate), or exports the built-in data set.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use pinpipe_emulate::{Burst, EmulateConfig, Mode, Order, Plan, Progress};
use pinpipe_model::EventType;

use crate::config::Config;
use crate::parts;
use crate::signal::shutdown_signal;

/// Options of `pinpipe emulate`. Flags override `[emulate]` in the configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Base URL of the ingest API [default: http://localhost:8000, the original's].
    #[arg(long, value_name = "URL")]
    url: Option<String>,

    /// Rows to send: `builtin` (synthetic data), a JSONL file (with --only) or folder
    /// (pinterest_data.jsonl, geolocation_data.jsonl, user_data.jsonl), or a database URL
    /// (postgres://…, mysql://…, sqlite:FILE) with tables shaped like the course's.
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,

    /// Rows per table of the built-in data set [default: 11154].
    #[arg(long, value_name = "N")]
    rows: Option<usize>,

    /// Seed of the data set, the event order and the pauses; the same seed replays the same
    /// events [default: random, printed in the summary].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Send one event type only.
    #[arg(long, value_name = "TYPE", value_parser = parts::event_type_parser())]
    only: Option<EventType>,

    /// `single` (POST /pin/ …, one event each), `batch` (POST /pins … with arrays) or `rest`
    /// (Confluent REST Proxy envelope to /topics/{topic}).
    #[arg(long, value_name = "MODE")]
    mode: Option<Mode>,

    /// Events per request in batch and rest modes [default: 500].
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,

    /// Prefix of the REST Proxy topic names (`<prefix>pin` …), e.g. `0a1d8948160f.`.
    #[arg(long, value_name = "PREFIX")]
    rest_topic_prefix: Option<String>,

    /// Events per second on a fixed schedule (open loop); 0 = as fast as possible. Without it,
    /// the original pacing: one record, then a random 0–2 s pause.
    #[arg(long, value_name = "N")]
    rate: Option<f64>,

    /// Bursts on top of --rate: RATE:ON/EVERY, e.g. 20000:2s/10s.
    #[arg(long, value_name = "RATE:ON/EVERY")]
    burst: Option<Burst>,

    /// Requests in flight at most, with --rate [default: 64].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,

    /// Stop after N events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,

    /// Stop after this long, e.g. 30s, 5m.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,

    /// `random` (rows sampled with replacement, as the original) or `sequential` (each row once).
    #[arg(long, value_name = "ORDER")]
    order: Option<Order>,

    /// Retries of a request answered 408, 429 or 5xx, or not answered [default: 5].
    #[arg(long, value_name = "N")]
    retries: Option<u32>,

    /// Per-request timeout, e.g. 10s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,

    /// Print the summary as JSON on stdout (and no progress line).
    #[arg(long)]
    json: bool,

    /// No progress line.
    #[arg(long, short)]
    quiet: bool,

    /// Print the events that would be sent (`TYPE<tab>BODY` per line) instead of sending them.
    #[arg(long, conflicts_with = "export")]
    dry_run: bool,

    /// Write the built-in data set to DIR as JSONL and CSV, then exit.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
}

impl Args {
    /// The configuration with these flags applied.
    fn apply(&self, mut config: EmulateConfig) -> EmulateConfig {
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = &self.$field { config.$field = v.clone().into(); } )* };
        }
        set!(
            url,
            source,
            rows,
            mode,
            batch_size,
            rest_topic_prefix,
            concurrency,
            retries,
            order
        );
        if self.rate.is_some() {
            config.rate = self.rate;
        }
        if self.only.is_some() {
            config.only = self.only;
        }
        if let Some(timeout) = self.timeout {
            config.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        }
        config
    }
}

/// Runs `pinpipe emulate`.
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let emulate = options.apply(config.emulate.clone());
    let seed = options.seed.unwrap_or_else(parts::random_seed);
    if let Some(dir) = &options.export {
        let files = pinpipe_emulate::export(seed, emulate.rows, dir)
            .with_context(|| format!("cannot write the data set to {}", dir.display()))?;
        for file in files {
            println!("{}", file.display());
        }
        eprintln!("exported {} rows per table with seed {seed}", emulate.rows);
        return Ok(ExitCode::SUCCESS);
    }
    let pacing = parts::pacing(&emulate, options.burst)?;
    let plan = Plan {
        pacing,
        count: options.count,
        duration: options.duration,
        seed,
    };
    let loaded = pinpipe_emulate::load(&emulate, seed).await?;
    if options.dry_run {
        if plan.count.is_none() && emulate.order == Order::Random {
            bail!("--dry-run needs --count N (the random order never ends) or --order sequential");
        }
        let stdout = std::io::stdout().lock();
        let mut out = std::io::BufWriter::new(stdout);
        match pinpipe_emulate::dry_run(&emulate, &loaded, &plan, &mut out) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => {
                other.context("cannot write the events")?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress = if options.json || options.quiet {
        Progress::Quiet
    } else {
        Progress::Bar
    };
    let summary = pinpipe_emulate::run(&emulate, &loaded, &plan, progress, shutdown_signal())
        .await
        .map_err(anyhow::Error::msg)?;
    let mut stdout = std::io::stdout().lock();
    if options.json {
        serde_json::to_writer(&mut stdout, &summary)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{summary}")?;
    }
    stdout.flush()?;
    if summary.accepted == 0 && summary.failed > 0 {
        eprintln!(
            "pinpipe: no event was accepted by {}: is the ingest API running? Start it with \
             `pinpipe up`, or point --url at it",
            emulate.url
        );
        return Ok(ExitCode::FAILURE);
    }
    // 3, as `pinpipe clean` uses for "some were not used": rejected or failed events.
    Ok(if summary.all_accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
