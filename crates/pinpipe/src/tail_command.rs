//! `pinpipe tail`: records of a topic of the event log, from an offset.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use pinpipe_log::Record;
use serde_json::value::RawValue;

use crate::config::Config;
use crate::parts;

/// What `pinpipe tail` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TailFormat {
    /// One JSON object per record: topic, partition, offset, timestamp, key, headers, value.
    Json,
    /// The stored value only, one per line (pipe it into `pinpipe clean`).
    Value,
}

/// Options of `pinpipe tail`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Topic to read (pins, geos, users).
    #[arg(long)]
    pub topic: String,
    /// Only this partition [default: all, one after the other].
    #[arg(long)]
    pub partition: Option<u32>,
    /// First offset to print in each partition.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Keep waiting for new records (until Ctrl-C or --count).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TailFormat::Json)]
    pub format: TailFormat,
}

/// `pinpipe tail`: records of a topic from an offset, partition by partition (or round-robin
/// with `--follow`).
pub async fn run(config: &Config, options: &Args) -> anyhow::Result<ExitCode> {
    let log = parts::open_log(config).await?;
    let topics = log.topics().await?;
    let Some(topic) = topics.iter().find(|t| t.name == options.topic) else {
        let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        bail!(
            "no topic {:?}; topics are: {}",
            options.topic,
            names.join(", ")
        );
    };
    let partitions: Vec<u32> = match options.partition {
        Some(p) if topic.partitions.iter().any(|i| i.partition == p) => vec![p],
        Some(p) => bail!(
            "topic {} has no partition {p} (it has {})",
            topic.name,
            topic.partitions.len()
        ),
        None => topic.partitions.iter().map(|p| p.partition).collect(),
    };
    let mut positions: Vec<u64> = partitions.iter().map(|_| options.offset).collect();
    let mut done: Vec<bool> = partitions.iter().map(|_| false).collect();
    let mut left = options.count.unwrap_or(u64::MAX);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while left > 0 {
        let mut progressed = false;
        for (i, &partition) in partitions.iter().enumerate() {
            if done[i] && !options.follow {
                continue;
            }
            // Without --follow, drain one partition before the next (partition order).
            loop {
                let max = left.min(1000) as usize;
                let wait = if options.follow {
                    Duration::from_millis(100)
                } else {
                    Duration::ZERO
                };
                let records = log
                    .read(&topic.name, partition, positions[i], max, wait)
                    .await?;
                if records.is_empty() {
                    done[i] = true;
                    break;
                }
                progressed = true;
                for record in &records {
                    write_record(&mut out, record, options.format)?;
                    positions[i] = record.offset + 1;
                }
                left -= records.len() as u64;
                if left == 0 || options.follow {
                    break;
                }
            }
            if left == 0 {
                break;
            }
        }
        out.flush()?;
        if !options.follow && done.iter().all(|d| *d) {
            break;
        }
        if options.follow && !progressed {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `json` on one line: white space between tokens removed, everything else byte for byte.
/// Events posted pretty-printed are stored as received, newlines included; tail prints one record
/// per line. Hand-written because no JSON crate minifies without re-encoding strings and numbers.
fn one_line(json: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !json.iter().any(|&b| b == b'\n' || b == b'\r') {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            out.push(b);
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn write_record(out: &mut impl Write, record: &Record, format: TailFormat) -> anyhow::Result<()> {
    let value = one_line(record.value.as_deref().unwrap_or_default());
    let value = value.as_ref();
    match format {
        TailFormat::Value => {
            out.write_all(value)?;
            out.write_all(b"\n")?;
        }
        TailFormat::Json => {
            #[derive(serde::Serialize)]
            struct Line<'a> {
                topic: &'a str,
                partition: u32,
                offset: u64,
                timestamp: String,
                key: Option<std::borrow::Cow<'a, str>>,
                headers: std::collections::BTreeMap<&'a str, &'a str>,
                value: Value<'a>,
            }
            #[derive(serde::Serialize)]
            #[serde(untagged)]
            enum Value<'a> {
                Json(&'a RawValue),
                Text(std::borrow::Cow<'a, str>),
            }
            // The value is embedded as JSON when it is JSON (as ingest stores it), else as text.
            let value = match serde_json::from_slice::<&RawValue>(value) {
                Ok(raw) => Value::Json(raw),
                Err(_) => Value::Text(String::from_utf8_lossy(value)),
            };
            let timestamp = chrono::DateTime::from_timestamp_millis(record.timestamp_ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default();
            let line = Line {
                topic: &record.topic,
                partition: record.partition,
                offset: record.offset,
                timestamp,
                key: record.key.as_deref().map(String::from_utf8_lossy),
                headers: record
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
                value,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_drops_white_space_between_tokens_only() {
        let pretty = b"{\n  \"a\": \"x \\\" \\n y\",\r\n  \"b\": [1, 2]\n}";
        assert_eq!(
            one_line(pretty).as_ref(),
            b"{\"a\":\"x \\\" \\n y\",\"b\":[1,2]}"
        );
        let flat: &[u8] = b"{\"a\": 1}";
        assert_eq!(one_line(flat).as_ref(), flat);
    }
}
