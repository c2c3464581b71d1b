//! The speed layer as a black box: events posted over HTTP to a real `pinpipe serve`, a real
//! `pinpipe stream` process (killed with SIGKILL and restarted while the load runs), and the
//! serving DB read back with `pinpipe sql` — compared with what `pinpipe clean --dedup` makes of
//! the same log. On SQLite, and on PostgreSQL started by scripts/test (`TEST_POSTGRES_URL`).

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::serving::{
    Stream, assert_serving_equals_clean_dedup, expected_windows, postgres_database,
    serving_windows, sql, wait_caught_up,
};
use support::{Server, pinpipe, text};

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
    let server = Server::start_on(dir.path(), &data, &[]);
    let url = server.url("");
    let mut stream = Stream::start(dir.path(), &data, &env);
    let mut emulator = Command::new(env!("CARGO_BIN_EXE_pinpipe"))
        .args([
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
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
        stream = Stream::start(dir.path(), &data, &env);
    }
    let out = emulator.wait().unwrap();
    assert!(out.success(), "the emulator failed");
    let mut summary = String::new();
    std::io::Read::read_to_string(emulator.stdout.as_mut().unwrap(), &mut summary).unwrap();
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["accepted"], 100_000, "{summary}");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(300),
    );
    assert!(stream.sigterm().success());

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
    let server = Server::start_on(dir.path(), &data, &[]);
    let mut stream = Stream::start(dir.path(), &data, &[]);
    let post = |path: &str, body: &str| {
        let response = support::raw_request(
            server.addr,
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
        "SELECT ind, country, latitude, longitude, \"timestamp\" FROM geos",
    );
    assert_eq!(
        geos,
        [
            json!({"ind": 1, "country": "Chad", "latitude": 10.0, "longitude": 20.5, "timestamp": "2020-08-28T03:52:47Z"})
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
    assert!(stream.sigterm().success());
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
