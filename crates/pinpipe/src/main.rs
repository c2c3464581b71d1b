//! The `pinpipe` command: wires the pipeline's crates to a command line.
//!
//! One module per command, each with its `Args` and its `run`; the command modules import only
//! the shared modules (`config`, `parts`, `observe`, `signal`, `output`), never one another.

mod config;
mod observe;
mod output;
mod parts;
mod signal;

mod airflow_dag_command;
mod analytics_command;
mod backfill_command;
mod ballista_executor_command;
mod ballista_scheduler_command;
mod batch_command;
mod clean_command;
mod config_command;
mod emulate_command;
mod grafana_dashboard_command;
mod lake_command;
mod reconcile_command;
mod runs_command;
mod schedule_command;
mod serve_command;
mod sql_command;
mod stream_command;
mod tail_command;
mod task_command;
mod top_command;
mod topics_command;
mod trigger_command;
mod up_command;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

// Cleaning allocates a few short strings per event; mimalloc makes those allocations about twice
// as cheap as glibc's malloc, which shows in events/s.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's setting that the services run with, unless it is set already.
const ALLOCATOR_SETTING: (&str, &str) = ("MIMALLOC_ARENA_EAGER_COMMIT", "0");

/// Starts the process again with [`ALLOCATOR_SETTING`] in its environment (same process id,
/// arguments and file descriptors), unless the setting is there already.
///
/// By default mimalloc commits its arena eagerly, and memory it has freed then stays resident: under
/// load `pinpipe up` held 250–290 MB where it needs 150–210 MB, at the same events/s
/// (docs/benchmarks.md, "The memory of `pinpipe up`"). mimalloc reads its options once, from the
/// environment, at the first allocation, which comes before `main`; setting them from the program
/// would need `unsafe` code and comes too late for the first arena. So a service re-executes
/// itself once with the variable set. Where that fails it runs on as it is. Users who set the
/// variable themselves keep their value.
#[cfg(unix)]
fn lean_allocator() {
    use std::os::unix::process::CommandExt;
    let (name, value) = ALLOCATOR_SETTING;
    if std::env::var_os(name).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // `exec` returns only when it failed.
    let _ = command.args(args).env(name, value).exec();
}

#[cfg(not(unix))]
fn lean_allocator() {}

/// pinpipe: a Pinterest-style event pipeline in one binary.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file [default: ./pinpipe.toml when present].
    #[arg(long, global = true, env = "PINPIPE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Where pinpipe keeps its data [default: ./pinpipe-data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// How the commands that log write their lines on stderr: `text` for people, `json` (one
    /// object a line) for log collectors.
    #[arg(long, global = true, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Clean raw events: JSONL on stdin, clean JSONL on stdout, unusable lines reported on stderr.
    ///
    /// Exit code 0 when every line was used, 3 when some lines were unusable (the others are still
    /// written), 1 on a fatal error.
    Clean(clean_command::Args),
    /// Print the effective configuration as TOML, secrets redacted.
    Config(config_command::Args),
    /// Run the whole pipeline on one machine with the embedded defaults: the ingest API over the
    /// event log, the speed layer into the serving DB, the lake writer and the scheduler (the
    /// daily DAG). Stops cleanly on Ctrl-C or SIGTERM.
    Up(up_command::Args),
    /// Run the ingest API alone (POST /pin/ and friends) over the configured event log.
    Serve(serve_command::Args),
    /// List the event log's topics with their partitions and offsets.
    Topics(topics_command::Args),
    /// Print records of a topic, from an offset.
    Tail(tail_command::Args),
    /// Send Pinterest-like events to the ingest API, like the course's emulator: at its pace by
    /// default, or at a rate, in bursts or as fast as possible, with retries and a summary.
    ///
    /// Exit code 0 when every event was accepted, 3 when some were rejected or failed, 1 when
    /// none got through or on a fatal error.
    Emulate(Box<emulate_command::Args>),
    /// Run the speed layer alone: read the event log as a consumer group member, clean, and write
    /// the serving DB exactly once. Stops cleanly on Ctrl-C or SIGTERM.
    Stream(stream_command::Args),
    /// Run read-only SQL on the lake (default: curated tables, analytics, raw zone) or on the
    /// serving DB (`--on serving`).
    Sql(sql_command::Args),
    /// Run the lake writer alone: copy the event log into the lake's raw zone (files named by
    /// partition and offsets, written once). Stops cleanly on Ctrl-C or SIGTERM.
    Lake(lake_command::Args),
    /// Run the daily batch job for a date: raw zone → clean → de-duplicate → curated Delta tables
    /// → the 11 analytics, into the lake and the serving DB. Safe to re-run.
    Batch(batch_command::Args),
    /// Print the daily analytics of a date (from the lake).
    Analytics(analytics_command::Args),
    /// Compare the serving DB (speed layer) with the lake's curated tables (batch layer) for a
    /// date, key by key and column by column. Exit code 0 when they agree, 5 when not.
    Reconcile(reconcile_command::Args),
    /// Run the built-in scheduler: the daily DAG (wait for the lake writer, batch, reconcile, publish to the
    /// serving DB, retention) on `[schedule] cron`, with retries, catch-up and run history.
    Schedule(schedule_command::Args),
    /// Run the daily DAG for one date now (recorded in `pinpipe runs`). Exit code 4 when another
    /// process is running that date.
    Trigger(trigger_command::Args),
    /// Run the daily DAG for every date of a range, skipping dates already successful.
    Backfill(backfill_command::Args),
    /// Show the scheduler's run history (runs and task attempts).
    Runs(runs_command::Args),
    /// Run one task of the daily DAG for a date (what the Airflow DAG's operators call).
    Task(task_command::Args),
    /// Write an Apache Airflow 3 DAG file that runs the daily DAG with this configuration.
    AirflowDag(airflow_dag_command::Args),
    /// Write the Grafana dashboard for pinpipe's metrics (deploy/grafana/pinpipe.json).
    GrafanaDashboard(grafana_dashboard_command::Args),
    /// Run the scheduler of a Ballista cluster for the batch job (`pinpipe batch --engine
    /// ballista://HOST:PORT`): the same binary, with pinpipe's cleaning UDFs and the lake's store.
    /// Stops on Ctrl-C or SIGTERM.
    BallistaScheduler(ballista_scheduler_command::Args),
    /// Run an executor of a Ballista cluster for the batch job, registered with its scheduler;
    /// it reads the lake of this configuration. Stops (deregistering) on Ctrl-C or SIGTERM.
    BallistaExecutor(ballista_executor_command::Args),
    /// Watch a running pinpipe in the terminal: per stage, events in and out per second, errors
    /// per minute, lag and totals, redrawn every second from its admin listener
    /// (`/api/v1/overview`). Exit code 1 when the listener cannot be reached.
    Top(top_command::Args),
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Command {
    /// Whether the command logs to stderr: those that run a stage or a job do; the others print
    /// their answer and keep stderr for their own messages.
    fn logs(&self) -> bool {
        match self {
            Command::Up(_)
            | Command::Serve(_)
            | Command::Stream(_)
            | Command::Lake(_)
            | Command::Batch(_)
            | Command::Reconcile(_)
            | Command::Schedule(_)
            | Command::Trigger(_)
            | Command::Backfill(_)
            | Command::Task(_)
            | Command::BallistaScheduler(_)
            | Command::BallistaExecutor(_) => true,
            Command::Clean(_)
            | Command::Config(_)
            | Command::Topics(_)
            | Command::Tail(_)
            | Command::Emulate(_)
            | Command::Sql(_)
            | Command::Analytics(_)
            | Command::Runs(_)
            | Command::AirflowDag(_)
            | Command::GrafanaDashboard(_)
            | Command::Top(_) => false,
        }
    }

    /// Whether the command is a service that runs until stopped (its memory is held for days).
    fn serves(&self) -> bool {
        matches!(
            self,
            Command::Up(_)
                | Command::Serve(_)
                | Command::Stream(_)
                | Command::Lake(_)
                | Command::Schedule(_)
        )
    }

    /// The runtime the command runs on.
    fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = match self {
            // One thread: the emulator is I/O-bound, and without cross-thread wake-ups it needs
            // about half the CPU per request, leaving the other core to the server under test.
            Command::Emulate(_) => tokio::runtime::Builder::new_current_thread(),
            // One request a second.
            Command::Top(_) => tokio::runtime::Builder::new_current_thread(),
            // No I/O beyond standard input and output and files.
            Command::Clean(_)
            | Command::Config(_)
            | Command::AirflowDag(_)
            | Command::GrafanaDashboard(_) => tokio::runtime::Builder::new_current_thread(),
            // Network and log I/O.
            _ => tokio::runtime::Builder::new_multi_thread(),
        };
        builder.enable_all().build()
    }

    /// Runs the command.
    async fn run(self, config: &Config, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
        match self {
            Command::Clean(args) => clean_command::run(config, &args),
            Command::Config(args) => config_command::run(config, &args),
            Command::Up(args) => up_command::run(config, &args).await,
            Command::Serve(args) => serve_command::run(config, &args).await,
            Command::Topics(args) => topics_command::run(config, &args).await,
            Command::Tail(args) => tail_command::run(config, &args).await,
            Command::Emulate(args) => emulate_command::run(config, &args).await,
            Command::Stream(args) => stream_command::run(config, &args).await,
            Command::Sql(args) => sql_command::run(config, &args).await,
            Command::Lake(args) => lake_command::run(config, &args).await,
            Command::Batch(args) => batch_command::run(config, &args).await,
            Command::Analytics(args) => analytics_command::run(config, &args).await,
            Command::Reconcile(args) => reconcile_command::run(config, &args).await,
            Command::Schedule(args) => schedule_command::run(config, &args).await,
            Command::Trigger(args) => trigger_command::run(config, &args).await,
            Command::Backfill(args) => backfill_command::run(config, &args).await,
            Command::Runs(args) => runs_command::run(config, &args).await,
            Command::Task(args) => task_command::run(config, &args).await,
            Command::AirflowDag(args) => airflow_dag_command::run(config, config_file, &args),
            Command::GrafanaDashboard(args) => grafana_dashboard_command::run(&args),
            Command::Top(args) => top_command::run(config, &args).await,
            Command::BallistaScheduler(args) => {
                ballista_scheduler_command::run(config, &args).await
            }
            Command::BallistaExecutor(args) => ballista_executor_command::run(config, &args).await,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.serves() {
        lean_allocator();
    }
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pinpipe: error: {error:#}");
            if error.downcast_ref::<observe::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Loads the configuration, then runs the command on its runtime.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref(), cli.data_dir)?;
    if cli.command.logs() {
        init_tracing(cli.log_format);
    }
    if matches!(
        cli.command,
        Command::BallistaScheduler(_) | Command::BallistaExecutor(_)
    ) {
        // Ballista's scheduler and executor log through `log`; their lines join pinpipe's.
        let _ = tracing_log::LogTracer::init();
    }
    let runtime = cli.command.runtime()?;
    runtime.block_on(cli.command.run(&config, cli.config.as_deref()))
}

/// Logs to stderr as `format` says; `RUST_LOG` overrides the level (default `info`; the Delta
/// kernel's and the Ballista client's per-query lines at `warn`: a batch on a cluster would
/// print two lines per query between its stages).
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,buoyant_kernel=warn,deltalake_core=warn,\
             ballista_core::execution_plans::distributed_query=warn",
        )
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A log line that cannot be written (stderr redirected to a full disk) is dropped: by default
    // the subscriber reports it with eprintln!, which panics when stderr cannot be written, in
    // whatever thread logged (a request's task, the event log's writer).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}
