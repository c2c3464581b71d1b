//! Appends records to the event log from several concurrent tasks until it is killed (or a time
//! limit passes) and prints `partition offset value` on stdout for every ACKNOWLEDGED record,
//! flushing after each acknowledged append. The contract test `kill_9_loses_nothing_acknowledged`
//! kills it with SIGKILL and checks that every printed record is in the log.
//!
//! ```text
//! appender DATA_DIR [--log-url local|kafka://HOST:PORT] [--topics PINS,GEOS,USERS]
//!                   [--partitions N] [--tasks N] [--max-seconds S]
//! ```
//!
//! Records go to the first topic (pins); keys spread them over all partitions.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pinpipe_log::{EventLog, LogConfig, NewRecord, now_ms};

struct Args {
    data_dir: PathBuf,
    config: LogConfig,
    tasks: usize,
    max_time: Duration,
}

fn usage(problem: &str) -> ! {
    eprintln!("appender: {problem}");
    eprintln!(
        "usage: appender DATA_DIR [--log-url URL] [--topics PINS,GEOS,USERS] [--partitions N] \
         [--tasks N] [--max-seconds S]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut config = LogConfig::default();
    let mut data_dir = None;
    let mut tasks = 8;
    let mut max_seconds = 120;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--log-url" => config.url = value("--log-url"),
            "--topics" => {
                let topics = value("--topics");
                let names: Vec<&str> = topics.split(',').collect();
                let [pins, geos, users] = names[..] else {
                    usage("--topics takes three comma-separated names")
                };
                config.pins_topic = pins.to_owned();
                config.geos_topic = geos.to_owned();
                config.users_topic = users.to_owned();
            }
            "--partitions" => {
                config.partitions = value("--partitions")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --partitions"));
            }
            "--tasks" => {
                tasks = value("--tasks")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --tasks"))
            }
            "--max-seconds" => {
                max_seconds = value("--max-seconds")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --max-seconds"));
            }
            _ if arg.starts_with("--") => usage(&format!("unknown option {arg}")),
            _ if data_dir.is_none() => data_dir = Some(PathBuf::from(arg)),
            _ => usage(&format!("unexpected argument {arg}")),
        }
    }
    let Some(data_dir) = data_dir else {
        usage("DATA_DIR is missing")
    };
    Args {
        data_dir,
        config,
        tasks,
        max_time: Duration::from_secs(max_seconds),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let args = parse_args();
    let log = match EventLog::open(&args.config, &args.data_dir).await {
        Ok(log) => log,
        Err(e) => {
            eprintln!("appender: cannot open the log: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("appender: opened the {} log", log.backend_name());
    let topic = args.config.pins_topic.clone();
    let run = std::process::id();
    let stop_at = Instant::now() + args.max_time;
    let mut tasks = Vec::new();
    for task in 0..args.tasks {
        let log = log.clone();
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < stop_at {
                i += 1;
                // 1 to 3 records per append, so both single and multi-record appends are killed.
                let values: Vec<String> = (0..(i % 3 + 1))
                    .map(|j| format!("r{run}-t{task}-i{i}-j{j}"))
                    .collect();
                let records = values
                    .iter()
                    .map(|v| NewRecord {
                        key: format!("key-{v}").into_bytes(),
                        value: v.clone().into_bytes(),
                        timestamp_ms: now_ms(),
                        headers: Vec::new(),
                    })
                    .collect();
                match log.append(&topic, records).await {
                    Ok(positions) => {
                        let mut lines = String::new();
                        for (position, value) in positions.iter().zip(&values) {
                            lines.push_str(&format!(
                                "{} {} {value}\n",
                                position.partition, position.offset
                            ));
                        }
                        let mut out = std::io::stdout().lock();
                        if out
                            .write_all(lines.as_bytes())
                            .and_then(|()| out.flush())
                            .is_err()
                        {
                            std::process::exit(1);
                        }
                    }
                    Err(e) if e.is_retryable() => {
                        eprintln!("appender: retrying after: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) => {
                        eprintln!("appender: append failed: {e}");
                        std::process::exit(1);
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let _ = log.close().await;
}
