//! The speed layer from the tests: `pinpipe stream` processes, the serving DB read with
//! `pinpipe sql`, and what `pinpipe clean` makes of the same log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Pinpipe, log_cli, pinpipe, record_counts, text};

/// `pinpipe stream` over `data_dir` with `env`, in the background; its stderr goes to
/// WORK/stream.log (appended to by every restart).
pub fn spawn_stream(work_dir: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Pinpipe {
    spawn_stream_named(work_dir, data_dir, env, "stream")
}

/// As [`spawn_stream`], with stderr in WORK/NAME.log.
pub fn spawn_stream_named(
    work_dir: &Path,
    data_dir: &Path,
    env: &[(&str, &str)],
    name: &str,
) -> Pinpipe {
    Pinpipe::command(work_dir, &["stream"])
        .data_dir(data_dir)
        .env(env)
        .name(name)
        .spawn()
}

/// `pinpipe sql --on ON --format FORMAT SQL` with `env`: its stdout.
pub fn sql_text(
    dir: &Path,
    data: &Path,
    env: &[(&str, &str)],
    on: &str,
    format: &str,
    query: &str,
) -> String {
    let data = data.to_str().unwrap();
    let out = pinpipe(
        dir,
        &[
            "--data-dir",
            data,
            "sql",
            "--on",
            on,
            "--format",
            format,
            query,
        ],
        env,
        "",
    );
    assert!(
        out.status.success(),
        "pinpipe sql --on {on} {query:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `pinpipe sql --on serving --format jsonl SQL` with `env`, parsed.
pub fn sql(dir: &Path, data: &Path, env: &[(&str, &str)], query: &str) -> Vec<Value> {
    sql_text(dir, data, env, "serving", "jsonl", query)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits until the serving DB's offsets cover every record in the log.
pub fn wait_caught_up(
    dir: &Path,
    data: &Path,
    env: &[(&str, &str)],
    group: &str,
    timeout: Duration,
) {
    let total: u64 = record_counts(dir, data).values().sum();
    let deadline = Instant::now() + timeout;
    let query = format!(
        "SELECT COALESCE(SUM(next_offset), 0) AS n FROM stream_offsets WHERE consumer_group = '{group}'"
    );
    let mut all = vec!["--data-dir", data.to_str().unwrap()];
    all.extend(["sql", "--on", "serving", "--format", "jsonl", &query]);
    loop {
        // Until the speed layer has created and migrated the serving DB, the query fails:
        // nothing is applied yet.
        let out = pinpipe(dir, &all, env, "");
        let done: Vec<Value> = if out.status.success() {
            text(&out.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        } else {
            Vec::new()
        };
        let applied = done
            .first()
            .and_then(|r| {
                r["n"]
                    .as_u64()
                    .or_else(|| r["n"].as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0);
        if applied >= total {
            assert_eq!(applied, total, "offsets beyond the log");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the speed layer applied {applied} of {total} records in {timeout:?}:\n{}",
            std::fs::read_to_string(dir.join("stream.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `pinpipe tail --topic T --format value | pinpipe clean --type K [--dedup]`: its stdout.
pub fn cleaned_text(dir: &Path, data: &Path, topic: &str, kind: &str, dedup: bool) -> String {
    let values = log_cli(dir, data, &["tail", "--topic", topic, "--format", "value"]);
    let mut args = vec!["clean", "--type", kind];
    if dedup {
        args.push("--dedup");
    }
    let out = pinpipe(dir, &args, &[], &text(&values.stdout));
    assert!(out.status.success(), "clean: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `pinpipe tail --topic T --format value | pinpipe clean --type K [--dedup]`, parsed.
pub fn cleaned(dir: &Path, data: &Path, topic: &str, kind: &str, dedup: bool) -> Vec<Value> {
    cleaned_text(dir, data, topic, kind, dedup)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Rows as a set of their JSON texts (order-free comparison with readable diffs).
pub fn set(rows: impl IntoIterator<Item = Value>) -> BTreeSet<String> {
    rows.into_iter().map(|r| r.to_string()).collect()
}

/// data.md's clean columns of `pins`, `geos` and `users`, in data.md's order, as SQL.
pub const CONTRACT_COLUMNS: [(&str, &str); 3] = [
    (
        "pins",
        "ind, unique_id, title, description, poster_name, follower_count, tag_list, media_type, \
         image_src, downloaded, save_location, category",
    ),
    ("geos", "ind, country, coordinates, \"timestamp\""),
    ("users", "ind, user_name, age, date_joined"),
];

/// The serving DB's clean tables, data.md's columns read as they are (the serving DB presents
/// the contract: `tag_list` and `coordinates` arrays, `downloaded` a boolean, RFC 3339 times).
pub fn serving_tables(dir: &Path, data: &Path, env: &[(&str, &str)]) -> [BTreeSet<String>; 3] {
    CONTRACT_COLUMNS.map(|(table, columns)| {
        set(sql(
            dir,
            data,
            env,
            &format!("SELECT {columns} FROM {table}"),
        ))
    })
}

/// The window aggregates the log implies: every clean pin event by receive minute and category.
pub fn expected_windows(dir: &Path, data: &Path) -> BTreeMap<(String, String), [i64; 5]> {
    let records = log_cli(dir, data, &["tail", "--topic", "pins", "--format", "json"]);
    let records: Vec<Value> = text(&records.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let clean = cleaned(dir, data, "pins", "pin", false);
    assert_eq!(records.len(), clean.len(), "every generated pin cleans");
    let mut windows: BTreeMap<(String, String), [i64; 5]> = BTreeMap::new();
    let mut keys: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (record, pin) in records.iter().zip(&clean) {
        let received = record["timestamp"].as_str().unwrap();
        let minute = format!("{}:00Z", &received[..16]);
        let category = pin["category"].as_str().unwrap_or("").to_owned();
        let w = windows
            .entry((minute.clone(), category.clone()))
            .or_default();
        w[0] += 1;
        w[2] += i64::from(pin["media_type"] == "video");
        w[3] += i64::from(pin["media_type"] == "image");
        // Follower counts are never negative; the sum saturates at i64::MAX (contract note 31).
        w[4] = w[4].saturating_add(pin["follower_count"].as_i64().unwrap_or(0));
        keys.entry((minute, category))
            .or_default()
            .insert(pin["unique_id"].as_str().unwrap().to_owned());
    }
    for (key, ids) in keys {
        windows.get_mut(&key).unwrap()[1] = ids.len() as i64;
    }
    windows
}

pub fn serving_windows(
    dir: &Path,
    data: &Path,
    env: &[(&str, &str)],
) -> BTreeMap<(String, String), [i64; 5]> {
    sql(
        dir,
        data,
        env,
        "SELECT window_start, category, events, distinct_pins, videos, images, total_followers FROM pin_windows",
    )
    .into_iter()
    .map(|r| {
        let n = |k: &str| r[k].as_i64().unwrap();
        (
            (r["window_start"].as_str().unwrap().to_owned(), r["category"].as_str().unwrap().to_owned()),
            [n("events"), n("distinct_pins"), n("videos"), n("images"), n("total_followers")],
        )
    })
    .collect()
}

/// A fresh PostgreSQL database for one test, or `None` (reported) when no server is configured.
pub fn postgres_database(name: &str) -> Option<String> {
    let admin = match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL")
        }
        Err(_) => {
            eprintln!("NOT RUN: set TEST_POSTGRES_URL (scripts/test does)");
            return None;
        }
    };
    let db = format!("{name}_{}", std::process::id());
    let out = Command::new("psql")
        .args([
            &admin,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("DROP DATABASE IF EXISTS {db}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new("psql")
        .args([
            &admin,
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {db}"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(
        admin
            .rsplit_once('/')
            .map(|(base, _)| format!("{base}/{db}"))
            .unwrap(),
    )
}

/// A whole table, ordered, as JSON lines (for comparing two serving DBs).
pub fn dump(dir: &Path, data: &Path, env: &[(&str, &str)], table: &str, order: &str) -> Vec<Value> {
    sql(
        dir,
        data,
        env,
        &format!("SELECT * FROM {table} ORDER BY {order}"),
    )
}

/// A PostgreSQL cluster of this test's own (scripts/services/postgres.sh), stopped when dropped.
pub struct OwnPostgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl OwnPostgres {
    pub fn script(&self, action: &str) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services/postgres.sh");
        let out = Command::new(script)
            .args([action, self.dir.path().join("pg").to_str().unwrap()])
            .env("PG_PORT", self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postgres.sh {action}: {}",
            text(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services/postgres.sh");
        let _ = Command::new(script)
            .args(["stop", self.dir.path().join("pg").to_str().unwrap()])
            .env("PG_PORT", self.port.to_string())
            .output();
    }
}

/// Asserts that the serving DB's `pins`, `geos` and `users` equal `pinpipe clean --dedup` of the
/// log, all columns; returns the number of pins.
pub fn assert_serving_equals_clean_dedup(dir: &Path, data: &Path, env: &[(&str, &str)]) -> usize {
    let [pins, geos, users] = serving_tables(dir, data, env);
    assert_eq!(pins, set(cleaned(dir, data, "pins", "pin", true)), "pins");
    assert_eq!(geos, set(cleaned(dir, data, "geos", "geo", true)), "geos");
    assert_eq!(
        users,
        set(cleaned(dir, data, "users", "user", true)),
        "users"
    );
    pins.len()
}
