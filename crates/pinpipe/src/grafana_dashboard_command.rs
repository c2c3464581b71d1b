//! `pinpipe grafana-dashboard`: writes the Grafana dashboard of pinpipe's metrics, the same file
//! as `deploy/grafana/pinpipe.json` (compiled in).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// The dashboard, as in the repository.
const DASHBOARD: &str = include_str!("../../../deploy/grafana/pinpipe.json");

/// Options of `pinpipe grafana-dashboard`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Write it to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Writes the dashboard.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.out {
        Some(path) => std::fs::write(path, DASHBOARD)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(DASHBOARD.as_bytes())
            .context("cannot write to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}
