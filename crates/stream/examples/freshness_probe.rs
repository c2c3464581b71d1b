//! The freshness probe of `bench/stream.sh`: posts marked pins to the ingest API and measures
//! how long after the HTTP 200 each one is visible in the serving DB.
//!
//! Usage: `freshness_probe ADDR SERVING_URL PROBES INTERVAL_MS` (e.g. `127.0.0.1:8000
//! sqlite:data/serving.db 100 200`). Prints one line: `probes p50_ms p90_ms p99_ms max_ms`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sqlx::Connection;

fn post(addr: &str, body: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "POST /pin/ HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, url, probes, interval] = args.as_slice() else {
        return Err("usage: freshness_probe ADDR SERVING_URL PROBES INTERVAL_MS".into());
    };
    let probes: usize = probes.parse()?;
    let interval = Duration::from_millis(interval.parse()?);
    let run = std::process::id();
    let mut latencies = Vec::with_capacity(probes);
    let query = "SELECT count(*) FROM pins WHERE unique_id = ";
    // Posts each probe, then polls until its row is there; `$mark` is the backend's placeholder.
    macro_rules! probe {
        ($db:expr, $mark:literal) => {{
            let mut db = $db;
            for i in 0..probes {
                let id = format!("probe-{run}-{i}");
                let body = format!(r#"{{"index": 1, "unique_id": "{id}", "category": "probe"}}"#);
                assert_eq!(post(addr, &body)?, 200, "the probe's POST was not accepted");
                let acked = Instant::now();
                loop {
                    let (n,): (i64,) =
                        sqlx::query_as(sqlx::AssertSqlSafe(format!("{query}{}", $mark)))
                            .bind(&id)
                            .fetch_one(&mut db)
                            .await?;
                    if n > 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                latencies.push(acked.elapsed());
                tokio::time::sleep(interval).await;
            }
        }};
    }
    if url.starts_with("postgres") {
        probe!(sqlx::PgConnection::connect(url).await?, "$1");
    } else {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
        probe!(
            sqlx::SqliteConnection::connect_with(&options.read_only(true)).await?,
            "?"
        );
    }
    latencies.sort();
    let ms = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "{} {:.1} {:.1} {:.1} {:.1}",
        latencies.len(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(1.0)
    );
    Ok(())
}
