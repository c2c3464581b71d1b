//! The production fault scenarios, black box, on 127.0.0.1 only (issue 14):
//!
//! 1. 2,000 hostile connections (silent, dripping headers, dripping bodies) against `pinpipe serve`
//!    started under `ulimit -Sn 1024`, while a normal client posts 50 events/s;
//! 2. `pinpipe up` killed with SIGKILL 10 times under load (single events and NDJSON batches from
//!    clients that retry), then every acknowledged event counted in the serving DB, the curated
//!    lake and the raw zone;
//! 3. a full disk under the data dir (a small tmpfs);
//! 4. (in ingest_malformed.rs) 100,000 malformed requests, bodies and framing alike;
//! 5. the Kafka-protocol broker killed with SIGKILL and restarted mid-load.
//!
//! Each prints what it counted. They run one at a time, with no other test's `pinpipe` running
//! ([`alone`]: they measure latencies on a 2-core machine). CI runs them at a reduced size; `TEST_FAULTS_FULL=1` runs the sizes of the issue:
//! `TEST_FAULTS_FULL=1 cargo test -p pinpipe --test blackbox faults:: -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::lake::{assert_curated_equals_clean_dedup, batch, lake_once, lake_sql};
use crate::support::serving::{
    assert_serving_equals_clean_dedup, expected_windows, serving_windows, sql, wait_caught_up,
};
use crate::support::{
    Pinpipe, RawResponse, alone, read_response, record_counts, text, unused_port,
};
use serde_json::{Value, json};

/// The full sizes when `TEST_FAULTS_FULL` is set.
fn full() -> bool {
    std::env::var_os("TEST_FAULTS_FULL").is_some()
}

/// A valid pin, its `unique_id` made from `n`.
fn pin(n: u64) -> Value {
    json!({
        "index": 5_000_000 + n,
        "unique_id": format!("00000000-0000-4000-8000-{n:012x}"),
        "title": format!("Fault pin {n}"),
        "description": "Posted by the fault tests",
        "poster_name": "pinpipe",
        "follower_count": "12k",
        "tag_list": "Faults,Tests",
        "is_image_or_video": "image",
        "image_src": "https://i.pinimg.com/originals/b3/bc/e2/x.png",
        "downloaded": 1,
        "save_location": "Local save in /data/quotes",
        "category": "quotes",
    })
}

fn geo(n: u64) -> Value {
    json!({
        "ind": 5_000_000 + n,
        "timestamp": "2021-03-04 05:06:07",
        "latitude": 12.5,
        "longitude": -45.25,
        "country": "Iceland",
    })
}

fn user(n: u64) -> Value {
    json!({
        "ind": 5_000_000 + n,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "age": 36,
        "date_joined": "2016-01-02 03:04:05",
    })
}

fn post_request(path: &str, content_type: &str, body: &[u8], close: bool) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    if close {
        request.extend_from_slice(b"Connection: close\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    request
}

/// One request on a new connection, bounded in time; `Err` when unanswered.
fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> std::io::Result<RawResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    read_response(&mut BufReader::new(stream))
}

/// A kept-alive connection that reconnects after it was closed.
struct KeepAlive {
    addr: SocketAddr,
    stream: Option<(TcpStream, BufReader<TcpStream>)>,
    timeout: Duration,
    /// Times the connection was found closed by the server and opened again.
    reconnects: u64,
}

impl KeepAlive {
    fn new(addr: SocketAddr, timeout: Duration) -> KeepAlive {
        KeepAlive {
            addr,
            stream: None,
            timeout,
            reconnects: 0,
        }
    }

    fn send(&mut self, request: &[u8]) -> std::io::Result<RawResponse> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            let reader = BufReader::new(stream.try_clone()?);
            self.stream = Some((stream, reader));
        }
        let (writer, reader) = self.stream.as_mut().unwrap();
        let result = writer
            .write_all(request)
            .and_then(|()| read_response(reader));
        match &result {
            Ok(response) if response.header("connection") != Some("close") => {}
            _ => {
                self.stream = None;
                self.reconnects += 1;
            }
        }
        result
    }
}

/// Whether the server closed `stream` (EOF or reset), without waiting.
fn closed_by_server(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut reader = stream;
    let closed = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue, // an answer (e.g. 408); the close follows
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn soft_open_files_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Hostile connections under `ulimit -Sn 1024`.
// ---------------------------------------------------------------------------------------------

#[test]
fn two_thousand_hostile_connections_under_ulimit_1024_lock_no_client_out() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .env(&[("RUST_LOG", "info")])
        .under("ulimit -Sn 1024")
        .start();
    let addr = server.addr();
    let log = server.log_text();
    assert!(
        log.contains("raised the open-files limit from 1024"),
        "pinpipe raises its soft limit:\n{log}"
    );
    let limit = soft_open_files_limit(server.pid());
    assert!(limit > 2_500, "soft limit now {limit}");

    const SILENT: usize = 400;
    const HEADER_DRIP: usize = 800;
    const BODY_DRIP: usize = 800;
    let hold = Duration::from_secs(20);
    let started = Instant::now();
    let mut silent = Vec::new();
    let mut header_drip = Vec::new();
    let mut body_drip = Vec::new();
    for i in 0..SILENT + HEADER_DRIP + BODY_DRIP {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("hostile connection {i}: {e}"));
        if i < SILENT {
            silent.push(stream);
        } else if i < SILENT + HEADER_DRIP {
            stream.write_all(b"P").unwrap();
            header_drip.push(stream);
        } else {
            stream
                .write_all(
                    b"POST /pin/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
                )
                .unwrap();
            body_drip.push(stream);
        }
    }
    let opened_in = started.elapsed();
    // The drippers send one more byte every second.
    let stop = Arc::new(AtomicBool::new(false));
    let dripper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let header =
                b"OST /pin/ HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            let mut second = 0;
            let mut write_errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(1));
                for stream in &mut header_drip {
                    let byte = header[second % header.len()];
                    write_errors += u64::from(stream.write_all(&[byte]).is_err());
                }
                for stream in &mut body_drip {
                    write_errors += u64::from(stream.write_all(b" ").is_err());
                }
                second += 1;
            }
            (header_drip, body_drip, write_errors)
        })
    };
    // The normal client: 50 events/s, alternately on a new and on a kept-alive connection.
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut kept = KeepAlive::new(addr, Duration::from_secs(10));
    let mut n = 0u64;
    let client_start = Instant::now();
    while client_start.elapsed() < hold {
        let due = client_start + Duration::from_millis(20 * n);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let body = pin(n).to_string();
        let request = post_request("/pin/", "application/json", body.as_bytes(), false);
        let sent = Instant::now();
        let answer = if n.is_multiple_of(2) {
            exchange(addr, &request, Duration::from_secs(10))
        } else {
            kept.send(&request)
        };
        latencies.push(sent.elapsed());
        let label = match answer {
            Ok(response) => response.status.to_string(),
            Err(e) => format!("no answer ({})", e.kind()),
        };
        *statuses.entry(label).or_default() += 1;
        n += 1;
    }
    // Before the drippers' connections go: which of the hostile ones did the server close?
    let silent_closed = silent.iter_mut().filter(|s| closed_by_server(s)).count();
    stop.store(true, Ordering::Relaxed);
    let (mut header_drip, mut body_drip, write_errors) = dripper.join().unwrap();
    let header_closed = header_drip
        .iter_mut()
        .filter(|s| closed_by_server(s))
        .count();
    let body_open = body_drip
        .iter_mut()
        .filter(|s| !closed_by_server(s))
        .count();
    latencies.sort();
    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    let max = latencies.last().copied().unwrap_or_default();
    eprintln!(
        "hostile: {} connections opened in {opened_in:?} and held {hold:?} (server soft limit {limit}); \
         normal client: {n} requests, statuses {statuses:?}, p50 {p50:?}, p99 {p99:?}, max {max:?}, \
         kept-alive reconnects {}; closed by the header timeout: {silent_closed}/{SILENT} silent, \
         {header_closed}/{HEADER_DRIP} dripping headers; dripping bodies still open: {body_open}/{BODY_DRIP} \
         (the body timeout is 30 s); dripper write errors {write_errors}",
        SILENT + HEADER_DRIP + BODY_DRIP,
        kept.reconnects,
    );
    assert_eq!(
        statuses.get("200").copied(),
        Some(n),
        "every normal request gets 200: {statuses:?}"
    );
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
    assert_eq!(
        kept.reconnects, 0,
        "the kept-alive client kept its connection"
    );
    assert_eq!(
        silent_closed, SILENT,
        "silent connections closed by the timeout"
    );
    assert_eq!(
        header_closed, HEADER_DRIP,
        "header drippers closed by the timeout"
    );
    assert!(server.is_running());
    assert_eq!(record_counts(dir.path(), &data)["pins"], n);
    drop((silent, header_drip, body_drip));
    server.send_sigterm();
    let status = server.wait_exit(Duration::from_secs(60));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let log = server.log_text();
    assert!(
        log.contains("whose request head did not arrive"),
        "the closes are logged:\n{log}"
    );
}

#[test]
fn header_and_keep_alive_timeouts_are_separate_limits() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[
            ("PINPIPE_SERVE__HEADER_READ_TIMEOUT_MS", "700"),
            ("PINPIPE_SERVE__KEEP_ALIVE_TIMEOUT_MS", "2500"),
        ])
        .start();
    let addr = server.addr();
    // Silent: closed after the header timeout, not before.
    let silent = TcpStream::connect(addr).unwrap();
    let opened = Instant::now();
    let mut slow_head = TcpStream::connect(addr).unwrap();
    slow_head.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!closed_by_server(&silent), "closed too early");
    slow_head.write_all(b"Host: t\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        closed_by_server(&silent),
        "silent connection still open after {:?}",
        opened.elapsed()
    );
    assert!(closed_by_server(&slow_head), "slow head still open");
    // Kept alive: idle longer than the header timeout between requests is fine …
    let mut kept = KeepAlive::new(addr, Duration::from_secs(5));
    let get = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_eq!(kept.send(get).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(kept.send(get).unwrap().status, 200);
    assert_eq!(
        kept.reconnects, 0,
        "idle 1.5 s is within the keep-alive timeout"
    );
    // … idle longer than the keep-alive timeout is not.
    std::thread::sleep(Duration::from_millis(3000));
    let (stream, _) = kept.stream.as_mut().unwrap();
    assert!(
        closed_by_server(stream),
        "idle 3 s: closed by the keep-alive timeout"
    );
}

#[test]
fn beyond_the_connection_cap_new_connections_get_503_at_once_and_open_ones_are_served() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Pinpipe::command(dir.path(), &["serve"])
        .env(&[
            ("PINPIPE_SERVE__MAX_CONNECTIONS", "20"),
            ("RUST_LOG", "info"),
        ])
        .start();
    let addr = server.addr();
    let mut kept = KeepAlive::new(addr, Duration::from_secs(5));
    assert_eq!(
        kept.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap()
            .status,
        200
    );
    let idle: Vec<TcpStream> = (0..19).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for _ in 0..50 {
        let started = Instant::now();
        let response = exchange(
            addr,
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
            Duration::from_secs(5),
        )
        .expect("a refused connection still gets an answer");
        slowest = slowest.max(started.elapsed());
        assert_eq!(response.status, 503);
        assert_eq!(response.header("connection"), Some("close"));
        assert!(response.header("retry-after").is_some());
        assert!(
            response.json()["detail"]
                .as_str()
                .unwrap()
                .contains("max_connections")
        );
    }
    assert!(
        slowest < Duration::from_secs(1),
        "refused at once: {slowest:?}"
    );
    // The open connection keeps being served.
    let body = pin(1).to_string();
    let response = kept
        .send(&post_request(
            "/pin/",
            "application/json",
            body.as_bytes(),
            false,
        ))
        .unwrap();
    assert_eq!(response.status, 200);
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let response = exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        response.status, 200,
        "slots come back when connections close"
    );
    server.send_sigterm();
    assert!(
        server
            .wait_exit(Duration::from_secs(30))
            .is_some_and(|s| s.success())
    );
    let log = server.log_text();
    assert!(
        log.contains("refused 50 connections at the cap of 20"),
        "refusals are counted and logged:\n{log}"
    );
    eprintln!("cap 20: 50 refused, slowest refusal {slowest:?}");
}

#[test]
fn a_connection_cap_that_does_not_fit_the_open_files_limit_is_refused_at_start() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let out = Pinpipe::command(dir.path(), &["serve", "--listen", "127.0.0.1:0"])
        .env(&[("PINPIPE_SERVE__MAX_CONNECTIONS", "5000")])
        .under("ulimit -n 1024")
        .spawn()
        .wait_output();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("serve.max_connections = 5000 does not fit the open-files limit of 1024")
            && stderr.contains("at most 768"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. kill -9 of the whole `pinpipe up`, 10 times under load.
// ---------------------------------------------------------------------------------------------

/// Posts NDJSON batches of pins, geos and users until `count` events are acknowledged, retrying
/// every batch until it gets a 200; returns the acknowledged keys by topic and the retries.
fn ndjson_client(
    addr: SocketAddr,
    count: u64,
    per_batch: u64,
    rate: f64,
) -> (BTreeMap<&'static str, BTreeSet<String>>, u64) {
    let mut acked: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut retries = 0;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut batch_no = 0u64;
    while sent < count {
        let due = started + Duration::from_secs_f64(sent as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let n = per_batch.min(count - sent);
        let (path, topic) =
            [("/pins", "pins"), ("/geos", "geos"), ("/users", "users")][(batch_no % 3) as usize];
        let first = sent;
        let mut body = Vec::new();
        let mut keys = Vec::new();
        for i in first..first + n {
            let event = match topic {
                "pins" => pin(i),
                "geos" => geo(i),
                _ => user(i),
            };
            keys.push(match topic {
                "pins" => event["unique_id"].as_str().unwrap().to_owned(),
                _ => event["ind"].to_string(),
            });
            body.extend_from_slice(event.to_string().as_bytes());
            body.push(b'\n');
        }
        let request = post_request(path, "application/x-ndjson", &body, true);
        loop {
            match exchange(addr, &request, Duration::from_secs(15)) {
                Ok(response) if response.status == 200 => break,
                Ok(response) => assert!(
                    response.status == 503 || response.status == 408,
                    "a batch answered {} {}",
                    response.status,
                    text(&response.body)
                ),
                Err(_) => {}
            }
            retries += 1;
            assert!(retries < 100_000, "the server never came back");
            std::thread::sleep(Duration::from_millis(100));
        }
        acked.entry(topic).or_default().extend(keys);
        sent += n;
        batch_no += 1;
    }
    (acked, retries)
}

/// Keys of the three tables as `query` (the serving DB's or the lake's SQL) reads them: pins'
/// `unique_id`, geos' and users' `ind`.
fn keys_of(query: impl Fn(&str) -> Vec<Value>) -> BTreeMap<&'static str, Vec<String>> {
    let mut keys = BTreeMap::new();
    for (table, key) in [("pins", "unique_id"), ("geos", "ind"), ("users", "ind")] {
        let rows = query(&format!("SELECT {key} AS k FROM {table}"));
        keys.insert(
            table,
            rows.iter()
                .map(|r| match &r["k"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        );
    }
    keys
}

/// Per topic and partition, the raw zone's file names (`p<P>-<first>-<last>.parquet`) must cover
/// the log's offsets from its start to its end exactly once.
fn assert_raw_zone_covers_the_log(dir: &Path, data: &Path) -> usize {
    let topics = support::topics_json(dir, data);
    let mut files = 0;
    for topic in topics.as_array().unwrap() {
        let name = topic["name"].as_str().unwrap();
        let mut ranges: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
        let folder = data.join("lake/raw").join(name);
        for day in std::fs::read_dir(&folder).into_iter().flatten() {
            for file in std::fs::read_dir(day.unwrap().path()).unwrap() {
                let file_name = file.unwrap().file_name().into_string().unwrap();
                let Some(stem) = file_name.strip_suffix(".parquet") else {
                    continue;
                };
                let parts: Vec<&str> = stem.split('-').collect();
                let partition: u64 = parts[0].trim_start_matches('p').parse().unwrap();
                ranges
                    .entry(partition)
                    .or_default()
                    .push((parts[1].parse().unwrap(), parts[2].parse().unwrap()));
                files += 1;
            }
        }
        for p in topic["partitions"].as_array().unwrap() {
            let partition = p["partition"].as_u64().unwrap();
            let (start, end) = (
                p["start_offset"].as_u64().unwrap(),
                p["end_offset"].as_u64().unwrap(),
            );
            let mut list = ranges.remove(&partition).unwrap_or_default();
            list.sort();
            let mut next = start;
            for (first, last) in &list {
                assert_eq!(
                    *first, next,
                    "{name} p{partition}: a gap or an overlap at {next} ({list:?})"
                );
                next = last + 1;
            }
            assert_eq!(
                next, end,
                "{name} p{partition}: raw files end at {next}, the log at {end}"
            );
        }
        assert!(
            ranges.is_empty(),
            "{name}: files of unknown partitions {ranges:?}"
        );
    }
    files
}

fn dry_run_keys(dir: &Path, args: &[&str]) -> BTreeMap<&'static str, BTreeSet<String>> {
    let lines = support::emulator::dry_run(dir, args);
    let mut keys: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for line in lines.lines() {
        let (kind, body) = line.split_once('\t').unwrap();
        let event: Value = serde_json::from_str(body).unwrap();
        let (topic, key) = match kind {
            "pin" => ("pins", event["unique_id"].as_str().unwrap().to_owned()),
            "geo" => ("geos", event["ind"].to_string()),
            _ => ("users", event["ind"].to_string()),
        };
        keys.entry(topic).or_default().insert(key);
    }
    keys
}

#[test]
fn kill_9_of_the_whole_up_ten_times_under_load_loses_and_duplicates_nothing() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let (emulated, ndjson) = if full() {
        (50_000u64, 150_000u64)
    } else {
        (6_000, 24_000)
    };
    let (emulate_rate, ndjson_rate) = if full() {
        (1_500.0, 4_500.0)
    } else {
        (200.0, 800.0)
    };
    let env = [
        ("PINPIPE_LAKE_WRITER__ROLL_SECS", "1"),
        ("PINPIPE_SCHEDULE__CATCHUP", "false"),
        ("RUST_LOG", "info"),
    ];
    let mut up = Pinpipe::command(dir.path(), &["up"])
        .data_dir(&data)
        .env(&env)
        .start();
    let addr = up.addr();
    let url = format!("http://{addr}");
    let count = emulated.to_string();
    let rate = emulate_rate.to_string();
    let emulate_args = [
        "--seed",
        "29",
        "--count",
        &count,
        "--rate",
        &rate,
        "--mode",
        "single",
        "--concurrency",
        "16",
        "--retries",
        "1000",
        "--timeout",
        "5s",
    ];
    let mut send = emulate_args.to_vec();
    send.extend_from_slice(&["--url", &url, "--json"]);
    let mut emulate = vec!["emulate"];
    emulate.extend_from_slice(&send);
    let mut emulator = Pinpipe::command(dir.path(), &emulate).spawn();
    let client = std::thread::spawn(move || ndjson_client(addr, ndjson, 100, ndjson_rate));
    // Ten kills at seeded moments 1.1–3.6 s apart (the first once events flow).
    let deadline = Instant::now() + Duration::from_secs(60);
    while record_counts(dir.path(), &data).values().sum::<u64>() < 500 {
        assert!(Instant::now() < deadline, "no events arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut kills = Vec::new();
    for _ in 0..10 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::thread::sleep(Duration::from_millis(1100 + state % 2500));
        kills.push(record_counts(dir.path(), &data).values().sum::<u64>());
        up.restart(); // SIGKILL, then `up` again where the clients send
    }
    let (acked, ndjson_retries) = client.join().unwrap();
    let out = emulator.wait_output();
    let summary: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{} {}", text(&out.stdout), text(&out.stderr)));
    assert_eq!(summary["sent"], emulated, "{summary}");
    assert_eq!(
        summary["accepted"], emulated,
        "every emulated event acknowledged: {summary}"
    );
    // Drain: the speed layer catches up, `up` stops, the lake writer's last files, the batch.
    wait_caught_up(
        dir.path(),
        &data,
        &[],
        "pinpipe-stream",
        Duration::from_secs(600),
    );
    up.send_sigterm();
    assert!(
        up.wait_exit(Duration::from_secs(120))
            .is_some_and(|s| s.success())
    );
    lake_once(dir.path(), &data, &[]);
    let mut dates: Vec<String> = std::fs::read_dir(data.join("lake/raw/pins"))
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter_map(|d| d.strip_prefix("dt=").map(str::to_owned))
        .collect();
    dates.sort();
    for date in &dates {
        let summary = batch(dir.path(), &data, &[], date);
        let dead: u64 = summary["dead_letters"]
            .as_array()
            .unwrap_or_else(|| panic!("dead_letters in {summary}"))
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(dead, 0, "every generated event is usable: {summary}");
    }

    // Every acknowledged event is in the serving DB and the curated lake exactly once.
    let mut expected = dry_run_keys(dir.path(), &emulate_args);
    for (topic, keys) in &acked {
        expected
            .entry(topic)
            .or_default()
            .extend(keys.iter().cloned());
    }
    let in_log = record_counts(dir.path(), &data);
    let serving = keys_of(|q| sql(dir.path(), &data, &[], q));
    let lake = keys_of(|q| lake_sql(dir.path(), &data, &[], q));
    for topic in ["pins", "geos", "users"] {
        let want = &expected[topic];
        for (name, keys) in [
            ("serving DB", &serving[topic]),
            ("curated lake", &lake[topic]),
        ] {
            let distinct: BTreeSet<&String> = keys.iter().collect();
            assert_eq!(distinct.len(), keys.len(), "{name} {topic}: a key twice");
            let missing: Vec<_> = want
                .iter()
                .filter(|k| !distinct.contains(k))
                .take(5)
                .collect();
            assert!(
                missing.is_empty(),
                "{name} {topic}: acknowledged but missing {missing:?}"
            );
            assert_eq!(keys.len(), want.len(), "{name} {topic}: keys never sent");
        }
    }
    let pins = assert_serving_equals_clean_dedup(dir.path(), &data, &[]);
    let curated_pins = assert_curated_equals_clean_dedup(dir.path(), &data, &[]);
    assert_eq!(pins, curated_pins);
    assert_eq!(
        serving_windows(dir.path(), &data, &[]),
        expected_windows(dir.path(), &data),
        "window aggregates count every logged pin exactly once"
    );
    let files = assert_raw_zone_covers_the_log(dir.path(), &data);
    let total: u64 = in_log.values().sum();
    let distinct: usize = expected.values().map(BTreeSet::len).sum();
    eprintln!(
        "kill -9 of up: 10 kills (log size at each: {kills:?}); {emulated} single events (emulator retried {}) \
         and {ndjson} NDJSON events (client retried {ndjson_retries} batches) acknowledged; the log holds \
         {total} records (re-sent after a lost answer: {}), {distinct} distinct keys; serving DB and curated \
         lake: each acknowledged key once, none missing, none extra; {files} raw files cover every offset once; \
         dates {dates:?}",
        summary["retried"],
        total - (emulated + ndjson),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A full disk under the data dir.
// ---------------------------------------------------------------------------------------------

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (scripts/test runs as root): {}",
            text(&out.stderr)
        );
        Tmpfs { path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system of `dir` with `filler` until writes fail.
fn fill(filler: &Path) {
    let mut file = std::fs::File::create(filler).unwrap();
    let block = vec![0x55u8; 64 << 10];
    while file.write_all(&block).is_ok() {}
    let small = [0x55u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
}

/// Posts NDJSON batches of 50 pins (numbered from `*next`) until one is refused; returns the
/// keys acknowledged and the refusal.
fn post_until_refused(addr: SocketAddr, next: &mut u64) -> (Vec<String>, RawResponse, Duration) {
    let mut acked = Vec::new();
    loop {
        let mut body = Vec::new();
        let mut keys = Vec::new();
        for i in *next..*next + 50 {
            let event = pin(i);
            keys.push(event["unique_id"].as_str().unwrap().to_owned());
            body.extend_from_slice(event.to_string().as_bytes());
            body.push(b'\n');
        }
        *next += 50;
        let started = Instant::now();
        let response = exchange(
            addr,
            &post_request("/pins", "application/x-ndjson", &body, true),
            Duration::from_secs(30),
        )
        .unwrap();
        let took = started.elapsed();
        if response.status == 200 {
            acked.extend(keys);
            assert!(acked.len() < 2_000_000, "the disk never filled");
        } else {
            return (acked, response, took);
        }
    }
}

/// Posts `batches` NDJSON batches of 50 pins, each of which must get 200; returns their keys.
fn post_batches(addr: SocketAddr, next: &mut u64, batches: u64) -> Vec<String> {
    let mut acked = Vec::new();
    for _ in 0..batches {
        let mut body = Vec::new();
        for i in *next..*next + 50 {
            let event = pin(i);
            acked.push(event["unique_id"].as_str().unwrap().to_owned());
            body.extend_from_slice(event.to_string().as_bytes());
            body.push(b'\n');
        }
        *next += 50;
        let response = exchange(
            addr,
            &post_request("/pins", "application/x-ndjson", &body, true),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(response.status, 200, "{}", text(&response.body));
    }
    acked
}

fn readyz(addr: SocketAddr) -> RawResponse {
    exchange(
        addr,
        b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n",
        Duration::from_secs(10),
    )
    .unwrap()
}

fn logged_pin_ids(dir: &Path, data: &Path) -> BTreeSet<String> {
    support::tail_json(dir, data, "pins")
        .iter()
        .map(|r| {
            let value: Value = match &r["value"] {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            value["unique_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn a_full_disk_answers_503_says_not_ready_loses_nothing_and_recovers() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(dir.path().join("disk"), "32m");
    let data = disk.path.join("data");
    let filler = disk.path.join("filler");
    let append_timeout_ms = 2_000;
    let env = [("PINPIPE_LOG__APPEND_TIMEOUT_MS", "2000")];
    // The server's own log is on the full disk too, as a log file or journal often is: a log line
    // that cannot be written must not take the event log down.
    let work = disk.path.clone();
    let mut server = Pinpipe::command(&work, &["serve"])
        .data_dir(&data)
        .env(&env)
        .start();
    let addr = server.addr();
    assert_eq!(readyz(addr).status, 200);
    let mut next = 0;
    let mut acked = Vec::<String>::new();
    acked.extend(post_batches(addr, &mut next, 20));
    // The disk fills: 503 with a JSON reason and Retry-After, in time; /readyz says so.
    fill(&filler);
    let (more, refusal, took) = post_until_refused(addr, &mut next);
    acked.extend(more);
    assert_eq!(refusal.status, 503, "{}", text(&refusal.body));
    assert!(refusal.header("retry-after").is_some());
    let reason = refusal.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        took <= Duration::from_millis(append_timeout_ms + 1_000),
        "answered in {took:?}"
    );
    let not_ready = readyz(addr);
    assert_eq!(not_ready.status, 503, "{}", text(&not_ready.body));
    assert_eq!(not_ready.json()["status"], "unavailable");
    let ready_detail = not_ready.json()["detail"].as_str().unwrap().to_owned();
    // Space returns: 200 and ready again, in the same process.
    std::fs::remove_file(&filler).unwrap();
    let body = pin(next).to_string();
    next += 1;
    let ok = exchange(
        addr,
        &post_request("/pin/", "application/json", body.as_bytes(), true),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(ok.status, 200, "{}", text(&ok.body));
    acked.push(pin(next - 1)["unique_id"].as_str().unwrap().to_owned());
    assert_eq!(readyz(addr).status, 200, "ready again once appends succeed");
    // Full again, then killed while full: nothing acknowledged is lost.
    acked.extend(post_batches(addr, &mut next, 10));
    fill(&filler);
    let (more, refusal, _) = post_until_refused(addr, &mut next);
    acked.extend(more);
    assert_eq!(refusal.status, 503);
    server.kill();
    std::fs::remove_file(&filler).unwrap();
    server.restart();
    assert_eq!(readyz(addr).status, 200);
    let logged = logged_pin_ids(&work, &data);
    let lost: Vec<_> = acked
        .iter()
        .filter(|k| !logged.contains(*k))
        .take(5)
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let body = pin(next).to_string();
    let ok = exchange(
        addr,
        &post_request("/pin/", "application/json", body.as_bytes(), true),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(ok.status, 200);
    drop(server);
    eprintln!(
        "full disk: {} events acknowledged before and between two fills, all in the log after a kill -9 \
         while full ({} logged); refusal in {took:?}: {reason:?}; /readyz: {ready_detail:?}",
        acked.len(),
        logged.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 5. The broker killed and restarted mid-load (kafka backend).
// ---------------------------------------------------------------------------------------------

/// A tansu broker of this test's own (scripts/services/tansu.sh), so that killing it disturbs no
/// other test; stopped when dropped.
struct OwnTansu {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnTansu {
    fn script(&self, action: &str) -> std::process::Output {
        let script = support::lake::repo().join("scripts/services/tansu.sh");
        Command::new(script)
            .args([action, self.dir.path().to_str().unwrap()])
            .env("TANSU_PORT", self.port.to_string())
            .output()
            .unwrap()
    }

    fn start(&self) {
        let out = self.script("start");
        assert!(
            out.status.success(),
            "tansu.sh start: {}",
            text(&out.stderr)
        );
    }

    fn kill_9(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join("tansu.pid")).unwrap();
        let status = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success());
        // Wait until the port is free again.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "tansu still listening after SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnTansu {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

#[test]
fn the_broker_killed_and_restarted_mid_load_gives_503_then_recovers_losing_nothing() {
    let _alone = alone();
    if std::env::var_os("TEST_KAFKA_BROKERS").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "TEST_KAFKA_BROKERS is not set: scripts/test installs and starts tansu"
        );
        eprintln!("NOT RUN: needs tansu (scripts/test installs it and sets TEST_KAFKA_BROKERS)");
        return;
    }
    let tansu = OwnTansu {
        dir: tempfile::tempdir().unwrap(),
        port: unused_port(),
    };
    tansu.start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_url = format!("kafka://127.0.0.1:{}", tansu.port);
    let append_timeout = Duration::from_millis(5_000);
    let env = [
        ("PINPIPE_LOG__URL", log_url.as_str()),
        ("PINPIPE_LOG__APPEND_TIMEOUT_MS", "5000"),
        ("PINPIPE_SCHEDULE__CATCHUP", "false"),
        ("RUST_LOG", "info"),
    ];
    let mut up = Pinpipe::command(dir.path(), &["up"])
        .data_dir(&data)
        .env(&env)
        .start();
    let addr = up.addr();
    // The client: single pins, one at a time, each retried until 200; every answer timed.
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let acked_count = Arc::new(AtomicU64::new(0));
    let client = {
        let (stop, refused, acked_count) = (stop.clone(), refused.clone(), acked_count.clone());
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut slowest = Duration::ZERO;
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let event = pin(n);
                let request = post_request(
                    "/pin/",
                    "application/json",
                    event.to_string().as_bytes(),
                    true,
                );
                let started = Instant::now();
                let answer = exchange(addr, &request, Duration::from_secs(30));
                slowest = slowest.max(started.elapsed());
                let response = answer.unwrap_or_else(|e| panic!("no answer from pinpipe: {e}"));
                *statuses.entry(response.status).or_default() += 1;
                match response.status {
                    200 => {
                        acked.push(event["unique_id"].as_str().unwrap().to_owned());
                        acked_count.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    503 => {
                        assert!(response.header("retry-after").is_some());
                        assert!(response.json()["detail"].is_string());
                        refused.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    other => panic!("answered {other}: {}", text(&response.body)),
                }
            }
            (acked, slowest, statuses)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked_count.load(Ordering::Relaxed) < 100 {
        assert!(Instant::now() < deadline, "no 200 from the kafka backend");
        std::thread::sleep(Duration::from_millis(50));
    }
    tansu.kill_9();
    let killed = Instant::now();
    // While the broker is away the API refuses (503), within the append timeout.
    let deadline = Instant::now() + Duration::from_secs(60);
    while refused.load(Ordering::Relaxed) < 3 {
        assert!(
            Instant::now() < deadline,
            "no 503 while the broker was away"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let not_ready = readyz(addr);
    assert_eq!(
        not_ready.status,
        503,
        "/readyz while the broker is away: {}",
        text(&not_ready.body)
    );
    let refused_while_away = refused.load(Ordering::Relaxed);
    let acked_while_away = acked_count.load(Ordering::Relaxed);
    tansu.start();
    let restarted = Instant::now();
    // Recovers by itself: 200s again within seconds.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked_count.load(Ordering::Relaxed) < acked_while_away + 20 {
        assert!(
            Instant::now() < deadline,
            "pinpipe did not recover after the broker returned"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let recovered = restarted.elapsed();
    assert_eq!(readyz(addr).status, 200, "ready again");
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let (acked, slowest, statuses) = client.join().unwrap();
    assert!(
        slowest <= append_timeout + Duration::from_millis(500),
        "an answer took {slowest:?}, past the append timeout"
    );
    // Every acknowledged pin reaches the serving DB, once.
    let deadline = Instant::now() + Duration::from_secs(300);
    let in_serving = loop {
        let rows = sql(dir.path(), &data, &env, "SELECT unique_id FROM pins");
        let in_serving: Vec<String> = rows
            .iter()
            .map(|r| r["unique_id"].as_str().unwrap().to_owned())
            .collect();
        if in_serving.len() >= acked.len() || Instant::now() > deadline {
            break in_serving;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let distinct: BTreeSet<&String> = in_serving.iter().collect();
    assert_eq!(distinct.len(), in_serving.len());
    let missing: Vec<_> = acked
        .iter()
        .filter(|k| !distinct.contains(k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in the serving DB: {missing:?}"
    );
    up.send_sigterm();
    assert!(
        up.wait_exit(Duration::from_secs(60))
            .is_some_and(|s| s.success())
    );
    eprintln!(
        "broker kill: away {:?}; {refused_while_away} refusals (503 + Retry-After) while away, /readyz 503; \
         recovered {recovered:?} after the restart; {} acknowledged, all once in the serving DB ({} rows); \
         slowest answer {slowest:?}; statuses {statuses:?}",
        restarted - killed,
        acked.len(),
        in_serving.len()
    );
}
