//! `pinpipe config`: the effective configuration as TOML, secrets redacted.

use std::process::ExitCode;

use crate::config::Config;

/// Options of `pinpipe config` (none).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// Prints the configuration.
pub fn run(config: &Config, _args: &Args) -> anyhow::Result<ExitCode> {
    print!("{}", config.to_redacted_toml()?);
    Ok(ExitCode::SUCCESS)
}
