//! The speed layer as a black box: events posted over HTTP to a real `pinpipe serve`, a real
//! `pinpipe stream` process (killed with SIGKILL and restarted while the load runs), and the
//! serving DB read back with `pinpipe sql` — compared with what `pinpipe clean --dedup` makes of
//! the same log. On SQLite, and on PostgreSQL started by scripts/test (`TEST_POSTGRES_URL`).

use std::path::PathBuf;
use std::time::Duration;

use crate::support;
use crate::support::lake::{batch, lake_once, post_golden, today};
use crate::support::serving::{
    CONTRACT_COLUMNS, assert_serving_equals_clean_dedup, cleaned_text, expected_windows,
    postgres_database, serving_windows, spawn_stream, sql, sql_text, wait_caught_up,
};
use crate::support::{Pinpipe, pinpipe, text};
use serde_json::{Value, json};

/// 100,000 events posted while the stream process is SIGKILLed at seeded random moments
/// (5 times) and restarted; then the serving DB must equal `clean --dedup` of the log, the dead
/// letters must be empty (all generated events are usable) and the window aggregates must count
/// every event exactly once.
fn crash_test(serving_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let env: Vec<(&str, &str)> = serving_url
        .map(|url| vec![("PINPIPE_SERVING__URL", url)])
        .unwrap_or_default();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    let url = server.url("");
    let mut stream = spawn_stream(dir.path(), &data, &env);
    let mut emulator = Pinpipe::command(
        dir.path(),
        &[
            "emulate",
            "--url",
            &url,
            "--count",
            "100000",
            "--rate",
            "5000",
            "--mode",
            "batch",
            "--batch-size",
            "100",
            "--concurrency",
            "8",
            "--seed",
            "17",
            "--json",
        ],
    )
    .spawn();
    // Seeded "random" moments: 1.1–3.6 s apart.
    let mut kills = 0;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while kills < 5 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::thread::sleep(Duration::from_millis(1100 + state % 2500));
        stream.kill();
        kills += 1;
        stream = spawn_stream(dir.path(), &data, &env);
    }
    let out = emulator.wait_output();
    assert!(out.status.success(), "the emulator failed");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["accepted"], 100_000, "{summary}");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(300),
    );
    assert!(stream.stop().success());

    let pins = assert_serving_equals_clean_dedup(dir.path(), &data, &env);
    assert!(pins > 10_000, "{pins} pins");
    let dead = sql(
        dir.path(),
        &data,
        &env,
        "SELECT count(*) AS n FROM dead_letter",
    );
    assert_eq!(dead[0]["n"], 0);
    assert_eq!(
        serving_windows(dir.path(), &data, &env),
        expected_windows(dir.path(), &data),
        "window aggregates count every event exactly once"
    );
}

#[test]
fn kill_9_of_the_stream_during_load_changes_nothing_sqlite() {
    crash_test(None);
}

#[test]
fn kill_9_of_the_stream_during_load_changes_nothing_postgres() {
    let Some(url) = postgres_database("stream_crash") else {
        return;
    };
    crash_test(Some(&url));
}

#[test]
fn posted_events_appear_cleaned_in_the_serving_db() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    let mut stream = spawn_stream(dir.path(), &data, &[]);
    let post = |path: &str, body: &str| {
        let response = support::raw_request(
            server.addr(),
            format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(response.status, 200, "{path} {body}");
    };
    post(
        "/pin/",
        r#"{"index": 1, "unique_id": "k1", "title": " First ", "follower_count": "2k"}"#,
    );
    post(
        "/geo/",
        r#"{"ind": 1, "timestamp": "2020:08:28 03:52:47", "latitude": 10, "longitude": 20.5, "country": " Chad "}"#,
    );
    post(
        "/user/",
        r#"{"ind": 1, "first_name": " Ann", "last_name": "Lee ", "age": 30, "date_joined": "2015-01-02T03:04:05+01:00"}"#,
    );
    wait_caught_up(
        dir.path(),
        &data,
        &[],
        "pinpipe-stream",
        Duration::from_secs(60),
    );
    let pins = sql(
        dir.path(),
        &data,
        &[],
        "SELECT unique_id, title, follower_count FROM pins",
    );
    assert_eq!(
        pins,
        [json!({"unique_id": "k1", "title": "First", "follower_count": 2000})]
    );
    let geos = sql(
        dir.path(),
        &data,
        &[],
        "SELECT ind, country, coordinates, \"timestamp\" FROM geos",
    );
    assert_eq!(
        geos,
        [
            json!({"ind": 1, "country": "Chad", "coordinates": [10.0, 20.5], "timestamp": "2020-08-28T03:52:47Z"})
        ]
    );
    let users = sql(
        dir.path(),
        &data,
        &[],
        "SELECT ind, user_name, age, date_joined FROM users",
    );
    assert_eq!(
        users,
        [
            json!({"ind": 1, "user_name": "Ann Lee", "age": 30, "date_joined": "2015-01-02T02:04:05Z"})
        ]
    );
    let dead = sql(
        dir.path(),
        &data,
        &[],
        "SELECT count(*) AS n FROM dead_letter",
    );
    assert_eq!(dead[0]["n"], 0);
    assert!(stream.stop().success());
    // Bad SQL and writes get clear errors.
    let out = pinpipe(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "sql",
            "--on",
            "serving",
            "DELETE FROM pins",
        ],
        &[],
        "",
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("read"), "{}", text(&out.stderr));
}

/// Events ingest accepts whose clean values are the hard ones to store and read back: negative
/// and extreme follower counts, escapes and control characters, -0.0, 1e-300 and 17-digit
/// coordinates, years 0000 and 9999, offsets that move the date, a key posted twice.
const EDGE_EVENTS: &[(&str, &str)] = &[
    (
        "/pin/",
        r#"{"index": 900, "unique_id": "  edge-1\t", "title": "Quote \"q\" \\ / é \u0007", "follower_count": -5, "tag_list": "a\"b, \\c ,/d,Noël", "is_image_or_video": "video", "image_src": "HTTPS://x", "downloaded": true, "save_location": "Local save in /data/x ", "category": "ΣΟΦΟΣ"}"#,
    ),
    (
        "/pin/",
        r#"{"index": 901, "unique_id": "edge-2", "follower_count": -9223372036854775808, "downloaded": 0, "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"}"#,
    ),
    (
        "/pin/",
        r#"{"index": 902, "unique_id": "edge-3", "follower_count": 0, "downloaded": null, "tag_list": null}"#,
    ),
    (
        "/pin/",
        r#"{"index": 903, "unique_id": "edge-1", "title": "received last, wins whole", "follower_count": 9223372036854775807}"#,
    ),
    (
        "/geo/",
        r#"{"ind": 900, "timestamp": "2020-01-01T00:30:00+01:00", "latitude": -0.0, "longitude": 1e-300, "country": " X "}"#,
    ),
    (
        "/geo/",
        r#"{"ind": 901, "timestamp": "2020-08-28 03:52:47", "latitude": 0.1, "longitude": 12.345678901234567}"#,
    ),
    (
        "/geo/",
        r#"{"ind": 902, "timestamp": "2020-02-30 00:00:00", "latitude": 90.5, "longitude": 0}"#,
    ),
    (
        "/geo/",
        r#"{"ind": 903, "timestamp": "9999-12-31T23:59:59Z", "latitude": 45, "longitude": -180}"#,
    ),
    (
        "/geo/",
        r#"{"ind": 904, "timestamp": "0000-01-01T00:00:00Z", "latitude": -89.9787, "longitude": 173.293}"#,
    ),
    (
        "/user/",
        r#"{"ind": 900, "first_name": " Ann", "last_name": "Lee ", "age": 120, "date_joined": "2017-12-31T23:00:00-05:00"}"#,
    ),
    (
        "/user/",
        r#"{"ind": 901, "first_name": "", "age": -1, "date_joined": "2016:02:29 10:00:00"}"#,
    ),
];

/// The lines of `text`, sorted (an order-free comparison that keeps duplicates).
fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines
}

/// `pinpipe sql` output with its rows sorted: the JSON array's elements, CSV's lines after the
/// header, a table's lines between the header and the row count.
fn canonical(format: &str, output: &str) -> Vec<String> {
    match format {
        "json" => {
            let rows: Vec<Value> = serde_json::from_str(output).unwrap();
            let mut rows: Vec<String> = rows.iter().map(Value::to_string).collect();
            rows.sort_unstable();
            rows
        }
        _ => {
            let lines: Vec<&str> = output.lines().collect();
            let (head, rest) = lines.split_first().unwrap();
            let (tail, rows) = match format {
                "table" => {
                    let (last, rows) = rest.split_last().unwrap();
                    (Some(*last), rows)
                }
                _ => (None, rest),
            };
            let mut rows: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
            rows.sort_unstable();
            rows.insert(0, head.to_string());
            rows.extend(tail.map(str::to_owned));
            rows
        }
    }
}

/// data.md, "Where clean records are read (the same everywhere)": on the golden data set (dirty
/// values, duplicates, padded ids) and the edge events, the serving DB's `pins`, `geos` and
/// `users` print the same rows as `pinpipe clean --dedup` of the log (byte for byte, as JSON
/// lines) and as the lake's curated tables after a batch, in every output format; `SELECT *`
/// gives the contract's columns first, in order.
fn contract_test(serving_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env: Vec<(&str, &str)> = serving_url
        .map(|url| vec![("PINPIPE_SERVING__URL", url)])
        .unwrap_or_default();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    let mut stream = spawn_stream(dir.path(), &data, &env);
    post_golden(dir.path(), &server.url(""));
    for (path, body) in EDGE_EVENTS {
        let response = support::raw_request(
            server.addr(),
            format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(response.status, 200, "{path} {body}");
    }
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(60),
    );
    assert!(stream.stop().success());
    lake_once(dir.path(), &data, &[]);
    batch(dir.path(), &data, &[], &today());

    for ((table, columns), (topic, kind)) in
        CONTRACT_COLUMNS
            .iter()
            .zip([("pins", "pin"), ("geos", "geo"), ("users", "user")])
    {
        let query = format!("SELECT {columns} FROM {table}");
        let serving = sql_text(dir.path(), &data, &env, "serving", "jsonl", &query);
        let lake = sql_text(dir.path(), &data, &env, "lake", "jsonl", &query);
        let clean = cleaned_text(dir.path(), &data, topic, kind, true);
        assert!(clean.lines().count() > 40, "{table}: {clean}");
        assert_eq!(
            sorted_lines(&serving),
            sorted_lines(&clean),
            "{table}: serving DB vs clean --dedup"
        );
        assert_eq!(
            sorted_lines(&lake),
            sorted_lines(&clean),
            "{table}: lake vs clean --dedup"
        );
        for format in ["json", "csv", "table"] {
            assert_eq!(
                canonical(
                    format,
                    &sql_text(dir.path(), &data, &env, "serving", format, &query)
                ),
                canonical(
                    format,
                    &sql_text(dir.path(), &data, &env, "lake", format, &query)
                ),
                "{table} --format {format}: serving DB vs lake"
            );
        }
        let star = sql_text(
            dir.path(),
            &data,
            &env,
            "serving",
            "csv",
            &format!("SELECT * FROM {table}"),
        );
        let header = star.lines().next().unwrap();
        let contract = columns
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            header,
            format!("{contract},received_at,log_partition,log_offset"),
            "SELECT * FROM {table}"
        );
    }
}

#[test]
fn serving_db_lake_and_clean_dedup_give_the_same_contract_rows_sqlite() {
    contract_test(None);
}

#[test]
fn serving_db_lake_and_clean_dedup_give_the_same_contract_rows_postgres() {
    let Some(url) = postgres_database("stream_contract") else {
        return;
    };
    contract_test(Some(&url));
}
