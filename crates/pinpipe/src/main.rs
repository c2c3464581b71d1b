//! The `pinpipe` command: wires the pipeline's crates to a command line.

mod clean_command;
mod config;
mod emulate_command;
mod lake_command;
mod log_commands;
mod reconcile_command;
mod schedule_command;
mod serve_command;
mod sql_command;
mod stream_command;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use pinpipe_model::EventType;

// Cleaning allocates a few short strings per event; mimalloc makes those allocations about twice
// as cheap as glibc's malloc, which shows in events/s.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Clean raw events: JSONL on stdin, clean JSONL on stdout, unusable lines reported on stderr.
    ///
    /// Exit code 0 when every line was used, 3 when some lines were unusable (the others are still
    /// written), 1 on a fatal error.
    Clean {
        /// The type of the events on stdin.
        #[arg(long = "type", value_name = "TYPE", value_parser = event_type_parser())]
        event_type: EventType,

        /// Keep one record per key, the one received last ("last received wins").
        #[arg(long)]
        dedup: bool,
    },
    /// Print the effective configuration as TOML, secrets redacted.
    Config,
    /// Run the whole pipeline on one machine with the embedded defaults (today: the ingest API,
    /// the event log, the speed layer into the serving DB and the lake writer). Stops cleanly on Ctrl-C or SIGTERM.
    Up {
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
    },
    /// Run the ingest API alone (POST /pin/ and friends) over the configured event log.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8000, or [serve] listen].
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// List the event log's topics with their partitions and offsets.
    Topics {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print records of a topic, from an offset.
    Tail(log_commands::TailOptions),
    /// Send Pinterest-like events to the ingest API, like the course's emulator: at its pace by
    /// default, or at a rate, in bursts or as fast as possible, with retries and a summary.
    ///
    /// Exit code 0 when every event was accepted, 3 when some were rejected or failed, 1 when
    /// none got through or on a fatal error.
    Emulate(Box<emulate_command::EmulateOptions>),
    /// Run the speed layer alone: read the event log as a consumer group member, clean, and write
    /// the serving DB exactly once. Stops cleanly on Ctrl-C or SIGTERM.
    Stream,
    /// Run read-only SQL on the lake (default: curated tables, analytics, raw zone) or on the
    /// serving DB (`--on serving`).
    Sql(sql_command::SqlOptions),
    /// Run the lake writer alone: copy the event log into the lake's raw zone (files named by
    /// partition and offsets, written once). Stops cleanly on Ctrl-C or SIGTERM.
    Lake(lake_command::LakeOptions),
    /// Run the daily batch job for a date: raw zone → clean → de-duplicate → curated Delta tables
    /// → the 11 analytics, into the lake and the serving DB. Safe to re-run.
    Batch(lake_command::BatchOptions),
    /// Print the daily analytics of a date (from the lake).
    Analytics(lake_command::AnalyticsOptions),
    /// Compare the serving DB (speed layer) with the lake's curated tables (batch layer) for a
    /// date, key by key and column by column. Exit code 0 when they agree, 5 when not.
    Reconcile(reconcile_command::ReconcileOptions),
    /// Run the built-in scheduler: the daily DAG (wait for the lake writer, batch, publish to the
    /// serving DB, retention) on `[schedule] cron`, with retries, catch-up and run history.
    Schedule(schedule_command::ScheduleOptions),
    /// Run the daily DAG for one date now (recorded in `pinpipe runs`). Exit code 4 when another
    /// process is running that date.
    Trigger(schedule_command::TriggerOptions),
    /// Run the daily DAG for every date of a range, skipping dates already successful.
    Backfill(schedule_command::BackfillOptions),
    /// Show the scheduler's run history (runs and task attempts).
    Runs(schedule_command::RunsOptions),
    /// Run one task of the daily DAG for a date (what the Airflow DAG's operators call).
    Task(schedule_command::TaskOptions),
    /// Write an Apache Airflow 3 DAG file that runs the daily DAG with this configuration.
    AirflowDag(schedule_command::AirflowOptions),
}

/// `pin`, `geo` or `user`, listed in `--help` and in the error for anything else.
pub(crate) fn event_type_parser() -> impl TypedValueParser<Value = EventType> {
    let names = EventType::ALL.map(EventType::as_str);
    clap::builder::PossibleValuesParser::new(names)
        .try_map(|name| name.parse::<EventType>().map_err(|e| e.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pinpipe: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A multi-threaded runtime for the commands that do network or log I/O.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Logs to stderr; `RUST_LOG` overrides the level (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,buoyant_kernel=warn,deltalake_core=warn")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_file = cli.config.clone();
    let mut config = config::Config::load(cli.config.as_deref(), cli.data_dir)?;
    match cli.command {
        Command::Up {
            ref listen,
            emulate,
            emulate_rate,
        } => {
            if let Some(listen) = listen {
                config.serve.listen = listen.clone();
            }
            let emulate = if emulate {
                if emulate_rate.is_some() {
                    config.emulate.rate = emulate_rate;
                }
                let pacing = emulate_command::pacing(&config.emulate, None)?;
                Some(pinpipe_emulate::Plan {
                    pacing,
                    count: None,
                    duration: None,
                    seed: emulate_command::random_seed(),
                })
            } else {
                None
            };
            init_tracing();
            let options = serve_command::Options {
                banner: true,
                emulate,
                stream: true,
                lake: true,
            };
            runtime()?.block_on(serve_command::run(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { ref listen } => {
            if let Some(listen) = listen {
                config.serve.listen = listen.clone();
            }
            init_tracing();
            let options = serve_command::Options {
                banner: false,
                emulate: None,
                stream: false,
                lake: false,
            };
            runtime()?.block_on(serve_command::run(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Stream => {
            init_tracing();
            runtime()?.block_on(stream_command::run(&config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lake(options) => {
            init_tracing();
            runtime()?.block_on(lake_command::lake(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Batch(options) => {
            init_tracing();
            runtime()?.block_on(lake_command::batch(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Analytics(options) => {
            runtime()?.block_on(lake_command::analytics(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile(options) => {
            init_tracing();
            runtime()?.block_on(reconcile_command::run(&config, &options))
        }
        Command::Schedule(options) => {
            init_tracing();
            runtime()?.block_on(schedule_command::schedule(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Trigger(options) => {
            init_tracing();
            runtime()?.block_on(schedule_command::trigger(&config, &options))
        }
        Command::Backfill(options) => {
            init_tracing();
            runtime()?.block_on(schedule_command::backfill(&config, &options))
        }
        Command::Runs(options) => {
            runtime()?.block_on(schedule_command::runs(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Task(options) => {
            init_tracing();
            runtime()?.block_on(schedule_command::task(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::AirflowDag(options) => {
            schedule_command::airflow_dag(&config, config_file.as_deref(), &options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql(options) => {
            runtime()?.block_on(sql_command::run(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Emulate(options) => {
            // One thread: the emulator is I/O-bound, and without cross-thread wake-ups it needs
            // about half the CPU per request, leaving the other core to the server under test.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(emulate_command::run(&config, &options))
        }
        Command::Topics { json } => {
            runtime()?.block_on(log_commands::topics(&config, json))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tail(options) => {
            runtime()?.block_on(log_commands::tail(&config, &options))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Clean { event_type, dedup } => {
            let options = clean_command::Options {
                event_type,
                dedup: dedup || config.clean.dedup,
            };
            // A large read buffer: fewer system calls on multi-gigabyte inputs.
            let stdin = std::io::BufReader::with_capacity(1 << 20, std::io::stdin().lock());
            let stdout = std::io::stdout().lock();
            let stderr = std::io::stderr().lock();
            let summary = clean_command::run(&options, stdin, stdout, stderr)?;
            Ok(summary.exit_code())
        }
        Command::Config => {
            print!("{}", config.to_redacted_toml()?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
