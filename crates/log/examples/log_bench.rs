//! Appends as fast as possible to the event log, without HTTP: the ceiling of the log backend
//! (local SQLite, or a Kafka-protocol broker with `acks=all`), beside which `bench/ingest.sh`
//! reports the ingest API's rate.
//!
//! Usage: `log_bench URL DATA_DIR COUNT CONCURRENCY BATCH` (URL `local` or `kafka://host:port`);
//! `VALUES_FILE=FILE` takes the values from the lines of FILE.
//! Prints one line: `events=N seconds=S events_per_sec=R`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pinpipe_log::{EventLog, LogConfig, NewRecord};

const FIXED_PIN: &[u8] = br#"{"index": 1, "unique_id": "bench", "title": "Baby wedding winter holiday budget rustic ideas sleeve makeup handmade", "description": "Decor tattoos small handmade sketch christmas bedroom wrapping yarn abstract kids investing watercolor birthday sketch nails abstract budget money christmas nails birthday kids", "poster_name": "Sleeve routine", "follower_count": "35k", "tag_list": "Vehicles street,Vehicles quote,Mountains,Destinations,Beach", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/originals/95/3f/48/953f48f1a09f76b5a1d6d6d6d6d6d6d6.jpg", "downloaded": 1, "save_location": "Local save in /data/travel", "category": "travel"}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: log_bench URL DATA_DIR COUNT CONCURRENCY BATCH");
        std::process::exit(2);
    }
    let config = LogConfig {
        url: args[1].clone(),
        ..LogConfig::default()
    };
    let data_dir = std::path::PathBuf::from(&args[2]);
    let count: u64 = args[3].parse()?;
    let concurrency: u64 = args[4].parse()?;
    let batch: u64 = args[5].parse()?;
    let log = EventLog::open(&config, &data_dir).await?;
    // Values: the lines of $VALUES_FILE when set (realistic, varied events, so compression
    // sees what it would in production), else one fixed pin.
    let values: Arc<Vec<Vec<u8>>> = Arc::new(match std::env::var_os("VALUES_FILE") {
        Some(path) => std::fs::read(path)?
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
        None => vec![FIXED_PIN.to_vec()],
    });
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let log = log.clone();
        let next = next.clone();
        let values = values.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if first >= count {
                    return Ok::<(), pinpipe_log::LogError>(());
                }
                let records = (first..(first + batch).min(count))
                    .map(|i| NewRecord {
                        key: format!("key-{i}").into_bytes(),
                        value: values[i as usize % values.len()].clone(),
                        timestamp_ms: pinpipe_log::now_ms(),
                        headers: vec![("request_id".into(), i.to_string())],
                    })
                    .collect();
                log.append("pins", records).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let seconds = start.elapsed().as_secs_f64();
    log.close().await?;
    println!(
        "events={count} seconds={seconds:.3} events_per_sec={:.0}",
        count as f64 / seconds
    );
    Ok(())
}
