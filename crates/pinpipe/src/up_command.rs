//! `pinpipe up`: the whole pipeline in one process (the ingest API over the event log, the
//! speed layer, the lake writer and the scheduler; with `--emulate` the emulator too), until
//! SIGINT/SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use pinpipe_emulate::{EmulateConfig, Loaded, Plan};
use tokio::sync::watch;

use crate::config::Config;
use crate::observe::{ObserveArgs, Observer, Parts};
use crate::parts::{self, DagParts, IngestApi};
use crate::signal::shutdown_signal;

/// Options of `pinpipe up`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8000, or [serve] listen].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,

    /// Also run the emulator against this ingest API (settings from [emulate]), so data
    /// flows with nothing else running.
    #[arg(long)]
    emulate: bool,

    /// The emulator's rate in events per second (0 = as fast as possible) [default: the
    /// original pacing, one record then a 0–2 s pause].
    #[arg(long, value_name = "N", requires = "emulate")]
    emulate_rate: Option<f64>,

    #[command(flatten)]
    observe: ObserveArgs,
}

/// What `up` runs, as its banner says it.
const RUNS: [&str; 4] = [
    "the ingest API",
    "the speed layer",
    "the lake writer",
    "the scheduler",
];

/// How long a stopping emulator may take to finish its requests in flight before the API stops.
const EMULATOR_STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens every part, starts the stages and serves until a shutdown signal; then stops the
/// stages in the reverse order of their start, flushes the log and returns.
pub async fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = config.clone();
    if let Some(listen) = &args.listen {
        config.serve.listen = listen.clone();
    }
    let plan = if args.emulate {
        if args.emulate_rate.is_some() {
            config.emulate.rate = args.emulate_rate;
        }
        Some(Plan {
            pacing: parts::pacing(&config.emulate, None)?,
            count: None,
            duration: None,
            seed: parts::random_seed(),
        })
    } else {
        None
    };
    let config = &config;

    // The recorder first: the parts make their metric handles as they open.
    let observer = Observer::install(config, &args.observe).await?;
    // Everything is opened before anything starts, so a part that cannot be opened stops `up`
    // with nothing running.
    let log = parts::open_log(config).await?;
    let api = IngestApi::bind(config, &log).await?;
    let address = api.address;
    let stream_db = parts::open_serving(config).await?;
    let lake = parts::open_lake(config)?;
    // The scheduler has its own serving DB connections: the speed layer closes its own when it
    // stops, before the scheduler does.
    let dag = DagParts::with_log(config, log.clone()).await?;
    let emulator = match plan {
        Some(plan) => Some((load_emulator(config, address, plan.seed).await?, plan)),
        None => None,
    };

    let mut runs = RUNS.to_vec();
    if emulator.is_some() {
        runs.push("the emulator");
    }
    eprintln!("pinpipe is up: {}", and_list(&runs));
    eprintln!(
        "  ingest API   http://{address}/pin/  /geo/  /user/   (batches: /pins /geos /users)"
    );
    eprintln!("  API docs     http://{address}/docs");
    if let Some(observer) = &observer {
        let admin = observer.address;
        eprintln!("  dashboard    http://{admin}/dashboard   (metrics: http://{admin}/metrics)");
    }
    eprintln!("  event log    {}", parts::log_description(config, &log));
    if emulator.is_some() {
        eprintln!("  emulator     sending events to http://{address} (see `pinpipe topics`)");
    }
    eprintln!(
        "  serving DB   {} (query with `pinpipe sql --on serving \"SELECT …\"`)",
        stream_db.backend_name()
    );
    eprintln!(
        "  lake         {} (daily job: `pinpipe batch --date YYYY-MM-DD`)",
        lake.url()
    );
    eprintln!(
        "  scheduler    daily batch at \"{}\" UTC (history: `pinpipe runs`)",
        config.schedule.cron
    );
    eprintln!("  stop with Ctrl-C");

    // Stopped in the reverse order (the speed layer, the scheduler, the lake writer), after the
    // API has drained: the speed layer applies what is left in hand, the lake writer writes what
    // it holds.
    let (admin_stop, admin_stopped) = watch::channel(false);
    if let Some(observer) = observer {
        let parts = Parts {
            log: Some(log.clone()),
            serving_url: Some(dag.serving_url.clone()),
            rejects: Some(api.rejects.clone()),
        };
        observer.serve(config, parts, admin_stopped);
    }
    let stages = vec![
        lake_writer(config, &log, lake),
        scheduler(config, dag),
        speed_layer(config, &log, stream_db),
    ];
    // On a signal the emulator stops first and finishes its requests, then the API drains: so
    // the emulator's last events are answered, not cut off.
    let emulator = emulator.map(|((emulate, loaded), plan)| {
        Running::start("emulator", move |stop| {
            run_emulator(emulate, loaded, plan, stop)
        })
    });
    let api_stop = async move {
        shutdown_signal().await;
        if let Some(emulator) = emulator
            && !emulator.stop_within(EMULATOR_STOP_TIMEOUT).await
        {
            tracing::warn!("the emulator did not stop in time; stopping the API anyway");
        }
    };
    api.serve(config, &log, api_stop).await?;
    for stage in stages.into_iter().rev() {
        stage.stop().await;
    }
    let _ = admin_stop.send(true);
    parts::flush_log(log).await?;
    Ok(ExitCode::SUCCESS)
}

/// A stage running in its own task, until told to stop.
struct Running {
    /// How messages name it.
    name: &'static str,
    /// Turns true to stop it.
    stop: watch::Sender<bool>,
    /// Ends when it has stopped; the stage reports its own outcome.
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Spawns `stage`, handing it the flag that tells it to stop.
    fn start<F>(name: &'static str, stage: impl FnOnce(watch::Receiver<bool>) -> F) -> Running
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        Running {
            name,
            stop,
            handle: tokio::spawn(stage(stopped)),
        }
    }

    /// Tells the stage to stop and waits until it has.
    async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            tracing::error!("the {} panicked: {e}", self.name);
        }
    }

    /// [`Running::stop`], waiting `timeout` at most; false when the stage did not stop in time.
    async fn stop_within(self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.stop()).await.is_ok()
    }
}

/// The speed layer: event log → serving DB.
fn speed_layer(
    config: &Config,
    log: &pinpipe_log::EventLog,
    db: pinpipe_serving::ServingDb,
) -> Running {
    let (config, log) = (config.clone(), log.clone());
    Running::start("speed layer", move |stop| async move {
        let layer = pinpipe_stream::SpeedLayer {
            log: &log,
            log_config: &config.log,
            db: &db,
            config: &config.stream,
        };
        let result = layer.run(stop).await;
        if let Err(e) = &result {
            // Said at once: the API keeps taking events into the log meanwhile.
            tracing::error!(
                "the speed layer stopped: {e}; events stay in the log until it runs again"
            );
        }
        db.close().await;
        if let Ok(stats) = result {
            tracing::info!(
                records = stats.records,
                batches = stats.batches,
                "speed layer stopped"
            );
        }
    })
}

/// The lake writer: event log → the lake's raw zone.
fn lake_writer(config: &Config, log: &pinpipe_log::EventLog, lake: pinpipe_lake::Lake) -> Running {
    let (config, log) = (config.clone(), log.clone());
    Running::start("lake writer", move |stop| async move {
        let writer = pinpipe_lake::writer::LakeWriter {
            log: &log,
            log_config: &config.log,
            lake: &lake,
            config: &config.lake_writer,
            until: pinpipe_lake::Until::Stopped,
        };
        match writer.run(stop).await {
            Ok(stats) => tracing::info!(
                records = stats.records,
                files = stats.files,
                "lake writer stopped"
            ),
            Err(e) => tracing::error!(
                "the lake writer stopped: {e}; events stay in the log until it runs again"
            ),
        }
    })
}

/// The scheduler: the daily DAG on its cron.
fn scheduler(config: &Config, dag: DagParts) -> Running {
    let config = config.clone();
    Running::start("scheduler", move |stop| async move {
        let ctx = dag.context(&config);
        let scheduler = pinpipe_schedule::Scheduler {
            ctx: &ctx,
            clock: pinpipe_schedule::wall_clock,
            once: false,
        };
        if let Err(e) = scheduler.run(stop).await {
            tracing::error!("the scheduler stopped: {e}");
        }
        dag.close().await;
    })
}

/// Loads the emulator's source, aimed at the API on `address`.
async fn load_emulator(
    config: &Config,
    address: SocketAddr,
    seed: u64,
) -> anyhow::Result<(EmulateConfig, Loaded)> {
    let mut emulate = config.emulate.clone();
    emulate.url = format!("http://{address}");
    let loaded = pinpipe_emulate::load(&emulate, seed)
        .await
        .context("cannot load the emulator's source ([emulate] source)")?;
    Ok((emulate, loaded))
}

/// Sends events until `stop` turns true, logging the counts every 10 s and the summary at the end.
async fn run_emulator(
    emulate: EmulateConfig,
    loaded: Loaded,
    plan: Plan,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!(source = %loaded.description, pacing = ?plan.pacing, "emulator sending to {}", emulate.url);
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let progress = pinpipe_emulate::Progress::Log(Duration::from_secs(10));
    match pinpipe_emulate::run(&emulate, &loaded, &plan, progress, stopped).await {
        Ok(summary) => tracing::info!(
            target: "pinpipe::emulate",
            "emulator stopped: {} sent · {}",
            summary.sent,
            summary.progress_line()
        ),
        Err(e) => tracing::error!("the emulator failed: {e}"),
    }
}

/// `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
