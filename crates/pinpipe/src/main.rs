//! The `pinpipe` command: wires the pipeline's crates to a command line.

mod clean_command;
mod config;

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
}

/// `pin`, `geo` or `user`, listed in `--help` and in the error for anything else.
fn event_type_parser() -> impl TypedValueParser<Value = EventType> {
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = config::Config::load(cli.config.as_deref(), cli.data_dir)?;
    match cli.command {
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
