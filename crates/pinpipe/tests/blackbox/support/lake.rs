//! The lake and the batch layer as black boxes: `pinpipe lake`, `pinpipe batch`,
//! `pinpipe sql --on lake` and `pinpipe analytics`, compared with `pinpipe clean --dedup` and the
//! independent Python reference of the analytics (bench/reference_analytics.py).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use super::serving::{cleaned, set};
use super::{log_cli, pinpipe, text};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Today's date, UTC (the receive date of events posted now).
pub fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

/// `pinpipe --data-dir DATA ARGS` with `env`, which must succeed.
pub fn run_ok(dir: &Path, data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut all = vec!["--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = pinpipe(dir, &all, env, "");
    assert!(
        out.status.success(),
        "pinpipe {all:?} failed ({:?}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Posts `count` seeded emulator events (batches of 100, as fast as possible) to `url`.
pub fn post(dir: &Path, url: &str, count: u64, seed: u64) {
    let out = pinpipe(
        dir,
        &[
            "emulate",
            "--url",
            url,
            "--count",
            &count.to_string(),
            "--rate",
            "0",
            "--mode",
            "batch",
            "--batch-size",
            "100",
            "--seed",
            &seed.to_string(),
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "emulate: {}", text(&out.stderr));
}

/// The golden batch set (tests/golden/batch), its expected analytics in `expected/`.
pub fn golden_batch() -> PathBuf {
    repo().join("tests/golden/batch")
}

/// Replays the golden batch set to `url` in file order, one event at a time (line i of the pin,
/// geo and user files, for each i), as its README says.
pub fn post_golden(dir: &Path, url: &str) {
    let out = pinpipe(
        dir,
        &[
            "emulate",
            "--url",
            url,
            "--source",
            golden_batch().to_str().unwrap(),
            "--order",
            "sequential",
            "--rate",
            "0",
            "--concurrency",
            "1",
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "emulate: {}", text(&out.stderr));
}

/// `pinpipe lake --once`: the raw zone catches up with the log.
pub fn lake_once(dir: &Path, data: &Path, env: &[(&str, &str)]) {
    run_ok(dir, data, env, &["lake", "--once"]);
}

/// `pinpipe batch --date DATE --json`, its summary.
pub fn batch(dir: &Path, data: &Path, env: &[(&str, &str)], date: &str) -> Value {
    let out = run_ok(dir, data, env, &["batch", "--date", date, "--json"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("batch summary ({e}): {}", text(&out.stdout)))
}

/// `pinpipe sql --on lake --format jsonl QUERY`, parsed.
pub fn lake_sql(dir: &Path, data: &Path, env: &[(&str, &str)], query: &str) -> Vec<Value> {
    let out = run_ok(
        dir,
        data,
        env,
        &["sql", "--on", "lake", "--format", "jsonl", query],
    );
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The curated tables as sets of JSON rows (data.md's columns); asserts no row is there twice.
pub fn curated(dir: &Path, data: &Path, env: &[(&str, &str)]) -> [BTreeSet<String>; 3] {
    ["pins", "geos", "users"].map(|t| {
        let rows = lake_sql(dir, data, env, &format!("SELECT * FROM {t}"));
        let count = rows.len();
        let rows = set(rows);
        assert_eq!(rows.len(), count, "curated {t} holds duplicate rows");
        rows
    })
}

/// Asserts the curated tables equal `pinpipe clean --dedup` of the log; returns the pin count.
pub fn assert_curated_equals_clean_dedup(dir: &Path, data: &Path, env: &[(&str, &str)]) -> usize {
    let [pins, geos, users] = curated(dir, data, env);
    let expected = [("pins", "pin"), ("geos", "geo"), ("users", "user")]
        .map(|(topic, kind)| set(cleaned(dir, data, topic, kind, true)));
    assert!(!pins.is_empty());
    for (name, (actual, expected)) in ["pins", "geos", "users"]
        .iter()
        .zip([pins.clone(), geos, users].iter().zip(&expected))
    {
        let missing: Vec<_> = expected.difference(actual).take(3).collect();
        let extra: Vec<_> = actual.difference(expected).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "curated {name} differs from clean --dedup ({} vs {} rows)\nmissing: {missing:#?}\nextra: {extra:#?}",
            actual.len(),
            expected.len()
        );
    }
    pins.len()
}

/// `pinpipe analytics --date DATE --format jsonl`: rows per analytic, in order.
pub fn analytics(
    dir: &Path,
    data: &Path,
    env: &[(&str, &str)],
    date: &str,
) -> BTreeMap<String, Vec<Value>> {
    let out = run_ok(
        dir,
        data,
        env,
        &["analytics", "--date", date, "--format", "jsonl"],
    );
    let mut all: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text(&out.stdout).lines() {
        let mut row: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        let name = row.remove("analytic").unwrap();
        all.entry(name.as_str().unwrap().to_owned())
            .or_default()
            .push(Value::Object(row));
    }
    all
}

/// The Python reference's analytics of the log's events (bodies in log order per topic).
pub fn reference_analytics(dir: &Path, data: &Path) -> BTreeMap<String, Vec<Value>> {
    let work = dir.join("reference");
    std::fs::create_dir_all(&work).unwrap();
    for topic in ["pins", "geos", "users"] {
        let values = log_cli(dir, data, &["tail", "--topic", topic, "--format", "value"]);
        std::fs::write(work.join(format!("{topic}.jsonl")), &values.stdout).unwrap();
    }
    reference_on(
        &work.join("pins.jsonl"),
        &work.join("geos.jsonl"),
        &work.join("users.jsonl"),
        &work.join("out"),
    )
}

/// Runs bench/reference_analytics.py on three JSONL files; reads its outputs.
pub fn reference_on(
    pins: &Path,
    geos: &Path,
    users: &Path,
    out: &Path,
) -> BTreeMap<String, Vec<Value>> {
    let script = repo().join("bench/reference_analytics.py");
    let run = std::process::Command::new("python3")
        .arg(script)
        .args(["--pins", pins.to_str().unwrap()])
        .args(["--geos", geos.to_str().unwrap()])
        .args(["--users", users.to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        matches!(run.status.code(), Some(0 | 3)),
        "reference_analytics.py: {}",
        text(&run.stderr)
    );
    read_expected(out)
}

/// `<name>.jsonl` files of a folder, parsed.
pub fn read_expected(folder: &Path) -> BTreeMap<String, Vec<Value>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let rows = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        all.insert(name, rows);
    }
    all
}

/// Two JSON values equal, numbers compared as numbers (1 = 1.0) within 1e-9 relative.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

/// Asserts pinpipe's analytics equal the expected ones: all 11, the same rows in the same order,
/// the same column names.
pub fn assert_analytics_equal(
    actual: &BTreeMap<String, Vec<Value>>,
    expected: &BTreeMap<String, Vec<Value>>,
) {
    assert_eq!(
        expected.len(),
        11,
        "expected analytics: {:?}",
        expected.keys()
    );
    for (name, rows) in expected {
        let got = actual.get(name).cloned().unwrap_or_default();
        let equal = got.len() == rows.len() && got.iter().zip(rows).all(|(a, b)| same(a, b));
        assert!(
            equal,
            "analytic {name} differs\n  pinpipe:   {}\n  expected:  {}",
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(rows).unwrap()
        );
    }
}
