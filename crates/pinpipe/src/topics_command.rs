//! `pinpipe topics`: the event log's topics with their partitions and offsets.

use std::io::Write;
use std::process::ExitCode;

use crate::config::Config;
use crate::output::{self, Align};
use crate::parts;

/// Options of `pinpipe topics`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints topics, partitions and offsets as an aligned table or JSON.
pub async fn run(config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let log = parts::open_log(config).await?;
    let topics = log.topics().await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &topics)?;
        writeln!(out)?;
        log.close().await?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                vec![
                    t.name.clone(),
                    p.partition.to_string(),
                    p.start_offset.to_string(),
                    p.end_offset.to_string(),
                    (p.end_offset - p.start_offset).to_string(),
                ]
            })
        })
        .chain(topics.iter().map(|t| {
            let end: u64 = t.partitions.iter().map(|p| p.end_offset).sum();
            vec![
                t.name.clone(),
                "all".into(),
                String::new(),
                end.to_string(),
                t.records().to_string(),
            ]
        }))
        .collect();
    let header = ["TOPIC", "PARTITION", "START", "END", "RECORDS"].map(str::to_owned);
    let align = [
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
    ];
    output::table(&mut out, &header, &rows, &align)?;
    log.close().await?;
    Ok(ExitCode::SUCCESS)
}
