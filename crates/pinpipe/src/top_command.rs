//! `pinpipe top`: a terminal view of a running pinpipe, a thin client of its admin listener's
//! `GET /api/v1/overview` (the numbers the dashboard's pipeline strip shows), redrawn every
//! `--interval` with plain ANSI codes.
//!
//! One row per stage: `in/s` is what reaches the stage (ingest: events received, accepted or
//! refused; the log: events accepted by ingest; the speed layer and the lake writer: records
//! appended to the log), `out/s` what it makes of them (accepted, appended, applied or
//! dead-lettered, written to the raw zone), then errors per minute, consumer lag in records and
//! seconds, and the totals since the watched process started. `--once --json` prints the
//! overview's `seq`, `time` and `stages` as the endpoint answered them.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::Utc;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, HOST, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use pinpipe_dashboard::{Health, stage_health};
use serde_json::{Value, json};

use crate::config::Config;
use crate::output::{self, Align};
use crate::signal::shutdown_signal;

/// Options of `pinpipe top`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The admin listener of the pinpipe to watch (its `[observe] listen`, or what it printed as
    /// `pinpipe: admin listening on …`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8001")]
    url: String,

    /// How often to redraw, e.g. 1s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    interval: Duration,

    /// Print once and exit.
    #[arg(long)]
    once: bool,

    /// The overview's numbers as JSON (`seq`, `time`, `stages`), one line per refresh.
    #[arg(long)]
    json: bool,
}

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The stages in the strip's order, with the names shown.
const STAGES: [(&str, &str); 5] = [
    ("ingest", "ingest API"),
    ("log", "event log"),
    ("stream", "speed layer"),
    ("lake", "lake writer"),
    ("batch", "batch"),
];

/// Watches the overview until Ctrl-C (or once).
pub async fn run(_config: &Config, args: &Args) -> anyhow::Result<ExitCode> {
    let client = Client::new(&args.url)?;
    // The first answer carries the whole history; later ones only what is newer (`?since=`).
    let mut since: Option<u64> = None;
    let first = client
        .overview(since)
        .await
        .map_err(|e| unreachable(&args.url, &e))?;
    since = first.get("seq").and_then(Value::as_u64);
    // Colors on a terminal; redrawn in place there unless it is --once.
    let terminal = !args.json && std::io::stdout().is_terminal();
    let live = terminal && !args.once;
    let mut screen = Screen::new(live);
    let mut last = first;
    let mut problem: Option<String> = None;
    let interval = args.interval.max(Duration::from_millis(100));
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        if args.json {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", numbers(&last))?;
            out.flush()?;
        } else {
            screen.draw(&render(
                &args.url,
                interval,
                &last,
                problem.as_deref(),
                (terminal, live),
            ))?;
        }
        if args.once {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => break,
        }
        match client.overview(since).await {
            Ok(doc) => {
                since = doc.get("seq").and_then(Value::as_u64).or(since);
                last = doc;
                problem = None;
            }
            // Keep the last numbers on screen and say why they are not updating.
            Err(e) => problem = Some(e),
        }
    }
    screen.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// The error for an admin listener that does not answer at all.
fn unreachable(url: &str, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{why}; is pinpipe running? its admin listener is [observe] listen \
         (default 127.0.0.1:8001, or --observe-listen; `pinpipe up` prints \
         \"pinpipe: admin listening on http://…\"): give that address with --url (now {url})"
    )
}

/// `seq`, `time` and `stages` of an overview document, as it came (without the history).
fn numbers(doc: &Value) -> Value {
    json!({
        "seq": doc.get("seq").cloned().unwrap_or(Value::Null),
        "time": doc.get("time").cloned().unwrap_or(Value::Null),
        "stages": doc.get("stages").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A GET client of one admin listener: a connection per request (once a second at most).
struct Client {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header.
    host: String,
    /// The URL's path without its trailing `/` (a listener behind a path-prefix proxy).
    base: String,
}

impl Client {
    fn new(url: &str) -> anyhow::Result<Client> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL (e.g. http://127.0.0.1:8001)"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => bail!(
                "--url {url:?}: `pinpipe top` speaks plain http, not {other} \
                 (the admin listener serves http)"
            ),
            None => bail!("--url {url:?} needs http://, e.g. http://127.0.0.1:8001"),
        }
        let authority = uri
            .authority()
            .with_context(|| format!("--url {url:?} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let address = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Client {
            address,
            host: authority.as_str().to_owned(),
            base: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// `GET /api/v1/overview[?since=SEQ]`, parsed; `Err` says what went wrong.
    async fn overview(&self, since: Option<u64>) -> Result<Value, String> {
        let path = match since {
            Some(seq) => format!("{}/api/v1/overview?since={seq}", self.base),
            None => format!("{}/api/v1/overview", self.base),
        };
        let url = format!("http://{}{path}", self.host);
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, self.get(&path))
            .await
            .map_err(|_| format!("{url} did not answer within {REQUEST_TIMEOUT:?}"))?
            .map_err(|e| format!("cannot get {url}: {e}"))?;
        if status != StatusCode::OK {
            let detail = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(format!(
                "{url} answered {status}: {detail} (is it a pinpipe admin listener?)"
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("{url} answered something that is not the overview JSON: {e}"))
    }

    async fn get(&self, path: &str) -> Result<(StatusCode, Bytes), String> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| describe(&e))?;
        tokio::spawn(async move {
            // Errors surface on the sender side.
            let _ = connection.await;
        });
        let request = Request::get(path)
            .header(HOST, &self.host)
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                concat!("pinpipe-top/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| describe(&e))?
            .to_bytes();
        Ok((status, body))
    }
}

/// An error with its causes on one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn f(stage: &Value, key: &str) -> f64 {
    stage.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// A rate, a lag or a per-minute count as the dashboard shows it.
fn number(x: f64) -> String {
    pinpipe_dashboard::html::number(x)
}

/// A total: a whole number, no separators (easy to copy and compare).
fn whole(x: f64) -> String {
    format!("{:.0}", x.max(0.0))
}

/// The table's rows, one per stage: cells and the stage's health.
fn rows(doc: &Value) -> Vec<(Vec<String>, Health)> {
    let stages = doc.get("stages").cloned().unwrap_or_else(|| json!({}));
    let stage = |name: &str| stages.get(name).cloned().unwrap_or_else(|| json!({}));
    let (ingest, log) = (stage("ingest"), stage("log"));
    let now = Utc::now();
    let dash = || "–".to_owned();
    STAGES
        .iter()
        .map(|(name, shown)| {
            let st = stage(name);
            let cells = match *name {
                "ingest" => vec![
                    number(f(&st, "rate") + f(&st, "errors_per_min") / 60.0),
                    number(f(&st, "rate")),
                    number(f(&st, "errors_per_min")),
                    dash(),
                    dash(),
                    format!("{} accepted", whole(f(&st, "total"))),
                ],
                "log" => vec![
                    number(f(&ingest, "rate")),
                    number(f(&st, "rate")),
                    dash(),
                    dash(),
                    dash(),
                    format!(
                        "{} appended, {}/{} appends pending",
                        whole(f(&st, "total")),
                        whole(f(&st, "pending")),
                        whole(f(&st, "pending_limit"))
                    ),
                ],
                "stream" | "lake" => vec![
                    number(f(&log, "rate")),
                    number(f(&st, "rate")),
                    number(f(&st, "errors_per_min")),
                    whole(f(&st, "lag_records")),
                    number(f(&st, "lag_seconds")),
                    format!(
                        "{} {}",
                        whole(f(&st, "total")),
                        if *name == "stream" {
                            "applied or dead-lettered"
                        } else {
                            "written"
                        }
                    ),
                ],
                _ => {
                    let text = |key: &str, none: &str| {
                        st.get(key)
                            .and_then(Value::as_str)
                            .unwrap_or(none)
                            .to_owned()
                    };
                    vec![
                        dash(),
                        dash(),
                        dash(),
                        dash(),
                        dash(),
                        format!(
                            "latest date {}, last success {}",
                            text("latest_date", "none yet"),
                            text("last_success", "never")
                        ),
                    ]
                }
            };
            let mut row = vec![(*shown).to_owned()];
            row.extend(cells);
            (row, stage_health(name, &st, now))
        })
        .collect()
}

/// The whole screen as lines: a title, the table, and why the numbers are stale if they are;
/// `(ansi, live)`: with colors, and with the legend of a screen redrawn in place.
fn render(
    url: &str,
    interval: Duration,
    doc: &Value,
    problem: Option<&str>,
    (ansi, live): (bool, bool),
) -> Vec<String> {
    let header = [
        "stage",
        "in/s",
        "out/s",
        "errors/min",
        "lag records",
        "lag s",
        "totals",
    ]
    .map(str::to_owned);
    let align = [
        Align::Left,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Left,
    ];
    let rows = rows(doc);
    let cells: Vec<Vec<String>> = rows.iter().map(|(cells, _)| cells.clone()).collect();
    let mut table = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = output::table(&mut table, &header, &cells, &align);
    let table = String::from_utf8_lossy(&table).into_owned();
    let stage_width = cells
        .iter()
        .map(|r| r[0].chars().count())
        .chain([header[0].len()])
        .max()
        .unwrap_or(0);
    let seq = doc.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let time = doc.get("time").and_then(Value::as_str).unwrap_or("");
    let mut lines = vec![
        format!(
            "pinpipe top  {url}  overview #{seq} at {time}  every {}",
            humantime::format_duration(interval)
        ),
        String::new(),
    ];
    for (i, line) in table.lines().enumerate() {
        let line = if !ansi {
            line.to_owned()
        } else if i == 0 {
            format!("\x1b[1m{line}\x1b[0m")
        } else {
            let color = match rows[i - 1].1 {
                Health::Green => "32",
                Health::Amber => "33",
                Health::Red => "31",
            };
            // The stage names are ASCII: the first column is `stage_width` bytes.
            let cut = stage_width.min(line.len());
            format!("\x1b[{color}m{}\x1b[0m{}", &line[..cut], &line[cut..])
        };
        lines.push(line);
    }
    if let Some(problem) = problem {
        lines.push(String::new());
        let text = format!("not updating: {problem}");
        lines.push(if ansi {
            format!("\x1b[31m{text}\x1b[0m")
        } else {
            text
        });
    }
    if live {
        lines.push(String::new());
        lines.push(
            "green: caught up · amber: errors or behind · red: far behind · Ctrl-C to quit"
                .to_owned(),
        );
    }
    lines
}

/// Where the lines go: redrawn in place on a terminal, appended otherwise.
struct Screen {
    ansi: bool,
    drawn: bool,
}

impl Screen {
    fn new(ansi: bool) -> Screen {
        Screen { ansi, drawn: false }
    }

    fn draw(&mut self, lines: &[String]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.ansi {
            if !self.drawn {
                // Clear the screen and hide the cursor once.
                write!(out, "\x1b[2J\x1b[?25l")?;
            }
            // Home, then each line with the rest of it cleared, then the rest of the screen.
            write!(out, "\x1b[H")?;
            for line in lines {
                write!(out, "{line}\x1b[K\r\n")?;
            }
            write!(out, "\x1b[J")?;
        } else {
            // One snapshot after the other, a blank line apart.
            if self.drawn {
                writeln!(out)?;
            }
            for line in lines {
                writeln!(out, "{line}")?;
            }
        }
        self.drawn = true;
        out.flush()
    }

    /// Shows the cursor again.
    fn finish(&mut self) -> std::io::Result<()> {
        if self.ansi && self.drawn {
            let mut out = std::io::stdout().lock();
            write!(out, "\x1b[?25h")?;
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({"seq": 7, "time": "2026-12-02T10:00:00+00:00", "stages": {
            "ingest": {"rate": 200.0, "total": 1234.0, "errors_per_min": 60.0},
            "log": {"rate": 199.0, "total": 1230.0, "pending": 3.0, "pending_limit": 16384.0},
            "stream": {"rate": 150.0, "total": 1100.0, "lag_records": 130.0, "lag_seconds": 0.5, "errors_per_min": 0.0},
            "lake": {"rate": 0.0, "total": 900.0, "lag_records": 330.0, "lag_seconds": 700.0, "errors_per_min": 0.0},
            "batch": {"latest_date": null, "last_success": null},
        }, "history": {"t": [1, 2], "series": {}}})
    }

    #[test]
    fn a_row_per_stage_with_in_and_out() {
        let rows = rows(&doc());
        let names: Vec<&str> = rows.iter().map(|(r, _)| r[0].as_str()).collect();
        assert_eq!(
            names,
            [
                "ingest API",
                "event log",
                "speed layer",
                "lake writer",
                "batch"
            ]
        );
        // Ingest receives accepted + refused (60/min = 1/s).
        assert_eq!(rows[0].0[1], "201");
        assert_eq!(rows[0].0[2], "200");
        assert_eq!(rows[0].1, Health::Amber);
        // The speed layer gets what the log appended.
        assert_eq!(rows[2].0[1..6], ["199", "150", "0.00", "130", "0.50"]);
        assert_eq!(rows[3].1, Health::Red);
        assert!(rows[4].0[6].contains("none yet"), "{:?}", rows[4]);
    }

    #[test]
    fn plain_lines_have_no_escape_codes_and_json_drops_the_history() {
        let lines = render(
            "http://x",
            Duration::from_secs(1),
            &doc(),
            Some("gone"),
            (false, false),
        );
        assert!(lines.iter().all(|l| !l.contains('\x1b')), "{lines:?}");
        assert!(lines[0].contains("overview #7"), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("stage ")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("not updating: gone")));
        let colored = render(
            "http://x",
            Duration::from_secs(1),
            &doc(),
            None,
            (true, true),
        );
        assert!(
            colored.iter().any(|l| l.starts_with("\x1b[33mingest API")),
            "{colored:?}"
        );
        let n = numbers(&doc());
        assert_eq!(n["stages"], doc()["stages"]);
        assert!(n.get("history").is_none());
    }

    #[test]
    fn urls() {
        let c = Client::new("http://127.0.0.1:9/").unwrap();
        assert_eq!((c.address.as_str(), c.base.as_str()), ("127.0.0.1:9", ""));
        let c = Client::new("http://[::1]:8001/admin").unwrap();
        assert_eq!(
            (c.address.as_str(), c.base.as_str()),
            ("[::1]:8001", "/admin")
        );
        assert!(Client::new("https://x").is_err());
        assert!(Client::new("localhost:8001").is_err());
    }
}
