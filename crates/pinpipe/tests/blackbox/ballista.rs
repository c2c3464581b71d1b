//! The daily job on a DataFusion Ballista cluster: `pinpipe ballista-scheduler` and two
//! `pinpipe ballista-executor`s started as separate processes on 127.0.0.1, and
//! `pinpipe batch --engine ballista://…` run through them on a lake built from emulator events
//! posted twice (duplicates) plus unusable records a foreign producer appended to the log. On
//! the same lake, copied, the in-process engine runs too: the curated tables, the 11 analytics,
//! the summaries' counts and a re-run must be equal, the Python `deltalake` package must read the
//! same rows from both, and the golden batch set must give its expected files. The executors
//! prove the work ran on them: on SIGTERM each logs how many records its cleaning UDFs cleaned.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::lake::{
    analytics, assert_analytics_equal, curated, golden_batch, lake_once, post, post_golden,
    read_expected, run_ok, today,
};
use crate::support::{Pinpipe, pinpipe, python_with_deltalake, test_service, text, unused_port};

/// A scheduler and its executors, SIGKILLed when dropped (a failing test leaves nothing behind).
struct Cluster {
    scheduler: Pinpipe,
    executors: Vec<Pinpipe>,
    engine: String,
}

/// Waits until something accepts connections on `127.0.0.1:port`.
fn wait_listening(port: u16, process: &mut Pinpipe, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            process.is_running(),
            "{what} exited:\n{}",
            process.log_text()
        );
        assert!(
            Instant::now() < deadline,
            "{what} does not listen on {port}:\n{}",
            process.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// A scheduler and two executors (one task slot each) reading the config `env` gives.
    fn start(dir: &Path, data: &Path, env: &[(&str, &str)]) -> Cluster {
        let port = unused_port();
        let bind = format!("127.0.0.1:{port}");
        let mut scheduler = Pinpipe::command(dir, &["ballista-scheduler", "--bind", &bind])
            .data_dir(data)
            .env(env)
            .name("scheduler")
            .spawn();
        wait_listening(port, &mut scheduler, "the scheduler");
        let scheduler_addr = format!("127.0.0.1:{port}");
        let executors = (0..2)
            .map(|i| {
                let (flight, grpc) = (unused_port(), unused_port());
                let work = dir.join(format!("executor-{i}"));
                let mut executor = Pinpipe::command(
                    dir,
                    &[
                        "ballista-executor",
                        "--scheduler",
                        &scheduler_addr,
                        "--bind",
                        "127.0.0.1",
                        "--port",
                        &flight.to_string(),
                        "--grpc-port",
                        &grpc.to_string(),
                        "--work-dir",
                        work.to_str().unwrap(),
                        "--vcores",
                        "1",
                    ],
                )
                .data_dir(data)
                .env(env)
                .name(&format!("executor-{i}"))
                .spawn();
                wait_listening(flight, &mut executor, "an executor");
                executor
            })
            .collect();
        Cluster {
            scheduler,
            executors,
            engine: format!("ballista://{scheduler_addr}"),
        }
    }

    /// SIGTERMs the executors, then the scheduler; each must exit 0. Returns the records each
    /// executor's cleaning UDFs cleaned (pins + geos + users), from its last log line.
    fn stop(mut self) -> Vec<u64> {
        let cleaned = self
            .executors
            .iter_mut()
            .map(|executor| {
                let status = executor.stop();
                let log = executor.log_text();
                assert!(status.success(), "executor exited {status}:\n{log}");
                assert!(!log.contains("panicked"), "{log}");
                cleaned_by(&log)
            })
            .collect();
        let status = self.scheduler.stop();
        assert!(
            status.success(),
            "scheduler exited {status}:\n{}",
            self.scheduler.log_text()
        );
        cleaned
    }
}

/// The sum of `cleaned N pins, M geos and K users` in an executor's stop line.
fn cleaned_by(log: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("Ballista executor stopped"))
        .unwrap_or_else(|| panic!("no stop line in the executor's log:\n{log}"));
    let after = line
        .split("cleaned ")
        .nth(1)
        .unwrap_or_else(|| panic!("{line}"));
    let numbers: Vec<u64> = after
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(3)
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3, "{line}");
    numbers.iter().sum()
}

/// `pinpipe batch --date DATE --json [--engine ENGINE]`, its summary.
fn batch_on(dir: &Path, data: &Path, env: &[(&str, &str)], date: &str, engine: &str) -> Value {
    let out = run_ok(
        dir,
        data,
        env,
        &["batch", "--date", date, "--json", "--engine", engine],
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("batch summary ({e}): {}", text(&out.stdout)))
}

/// The parts of a summary both engines must agree on.
fn counts(summary: &Value) -> Value {
    serde_json::json!({
        "raw_files": summary["raw_files"],
        "raw_records": summary["raw_records"],
        "dead_letters": summary["dead_letters"],
        "curated_rows": summary["curated_rows"],
        "analytics_rows": summary["analytics_rows"],
    })
}

fn sum(counts: &Value) -> u64 {
    counts
        .as_array()
        .unwrap_or_else(|| panic!("{counts}"))
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// Records no cleaning rule accepts, appended straight into the local event log as a foreign
/// producer would (the ingest API refuses them), to each topic. Returns how many per topic.
fn append_unusable(data: &Path) -> u64 {
    let values: [&[u8]; 3] = [b"[1, 2]", b"not json", br#"{"unique_id": "x"}"#];
    for topic in ["pins", "geos", "users"] {
        crate::support::append_foreign(data, topic, "unusable", &values);
    }
    values.len() as u64
}

/// A raw zone from 2,000 seeded events, 500 of them posted a second time, and unusable records;
/// the server is stopped before the foreign producer writes.
fn build_log(dir: &Path, data: &Path) -> u64 {
    let mut server = Pinpipe::command(dir, &["serve"]).data_dir(data).start();
    post(dir, &server.url(""), 2_000, 17);
    post(dir, &server.url(""), 500, 17);
    assert!(server.stop().success());
    append_unusable(data)
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .args(["-a", from.to_str().unwrap(), to.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Every curated table as the Python `deltalake` package reads it: sorted JSON rows per table.
fn read_with_python(python: &str, lake: &str, storage: &Value) -> Vec<Vec<String>> {
    let script = "import json, os, sys\nfrom deltalake import DeltaTable\n\
                  lake, options = sys.argv[1], json.loads(sys.argv[2])\n\
                  out = []\n\
                  for name in ('pins', 'geos', 'users'):\n\
                  \x20   t = DeltaTable(lake + '/curated/' + name, storage_options=options).to_pyarrow_table()\n\
                  \x20   out.append(sorted(json.dumps(r, sort_keys=True, default=str) for r in t.to_pylist()))\n\
                  print(json.dumps(out))\nsys.stdout.flush()\nos._exit(0)";
    let out = Command::new(python)
        .args(["-c", script, lake, &storage.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python deltalake on {lake}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python deltalake ({e}): {}", text(&out.stdout)))
}

/// One lake: its data dir, the environment pointing commands at it, and its URL.
struct Side<'a> {
    data: &'a Path,
    env: &'a [(&'a str, &'a str)],
    lake: String,
}

impl Side<'_> {
    /// The default lake in `data`.
    fn local(data: &Path) -> Side<'_> {
        Side {
            data,
            env: &[],
            lake: data.join("lake").to_str().unwrap().to_owned(),
        }
    }
}

/// Runs the daily job in-process on lake A and on the cluster on lake B (copies of one raw
/// zone), then checks everything the issue lists; `env_a` / `env_b` point each command at its
/// lake. Returns the raw records the cluster's runs read.
fn compare_engines(
    dir: &Path,
    a: &Side<'_>,
    b: &Side<'_>,
    cluster: &Cluster,
    unusable: u64,
    storage: &Value,
) -> u64 {
    let (data_a, env_a, data_b, env_b) = (a.data, a.env, b.data, b.env);
    let date = today();
    let local = batch_on(dir, data_a, env_a, &date, "local");
    let remote = batch_on(dir, data_b, env_b, &date, &cluster.engine);
    assert_eq!(counts(&remote), counts(&local), "the summaries' counts");
    assert_eq!(
        sum(&local["dead_letters"]),
        3 * unusable,
        "the unusable records are dead letters: {local}"
    );
    let raw = sum(&local["raw_records"]);
    assert!(
        sum(&local["curated_rows"]) + 3 * unusable < raw,
        "the duplicates were removed: {local}"
    );
    // The cluster's run said which engine it used.
    assert!(
        remote["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "dead letters"),
        "a cluster run counts dead letters by a query: {remote}"
    );

    let tables = curated(dir, data_a, env_a);
    assert_eq!(curated(dir, data_b, env_b), tables, "the curated tables");
    let first = analytics(dir, data_a, env_a, &date);
    assert_eq!(first.len(), 11, "{:?}", first.keys());
    assert_analytics_equal(&analytics(dir, data_b, env_b, &date), &first);

    if let Some(python) = python_with_deltalake() {
        let rows_a = read_with_python(&python, &a.lake, storage);
        assert_eq!(
            rows_a.iter().map(Vec::len).collect::<Vec<_>>(),
            tables.iter().map(|t| t.len()).collect::<Vec<_>>(),
            "deltalake (Python) reads as many rows as pinpipe"
        );
        assert_eq!(
            read_with_python(&python, &b.lake, storage),
            rows_a,
            "deltalake (Python) reads the same rows from both engines' tables"
        );
    }

    // A re-run on the cluster: a new Delta version, the same tables and analytics.
    let again = batch_on(dir, data_b, env_b, &date, &cluster.engine);
    assert_eq!(counts(&again), counts(&local));
    assert_eq!(
        again["curated_versions"][0].as_i64().unwrap(),
        remote["curated_versions"][0].as_i64().unwrap() + 1,
        "a new Delta version: {again}"
    );
    assert_eq!(curated(dir, data_b, env_b), tables);
    assert_analytics_equal(&analytics(dir, data_b, env_b, &date), &first);
    2 * raw
}

#[test]
fn the_daily_job_on_a_ballista_cluster_equals_the_in_process_one() {
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let unusable = build_log(dir.path(), &data_a);
    lake_once(dir.path(), &data_a, &[]);
    copy_dir(&data_a, &data_b);

    // Clear errors, before any cluster runs: an engine that is not one, a scheduler nobody runs.
    for (engine, says) in [
        ("spark://x", "ballista://HOST:PORT"),
        (
            &*format!("ballista://127.0.0.1:{}", unused_port()),
            "scheduler",
        ),
    ] {
        let data = data_b.to_str().unwrap();
        let out = pinpipe(
            dir.path(),
            &[
                "--data-dir",
                data,
                "batch",
                "--date",
                &today(),
                "--engine",
                engine,
            ],
            &[],
            "",
        );
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "--engine {engine} ran");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains(says), "--engine {engine}: {stderr}");
    }
    assert!(
        !data_b.join("lake/curated").exists()
            || std::fs::read_dir(data_b.join("lake/curated"))
                .unwrap()
                .next()
                .is_none(),
        "a failed run wrote curated tables"
    );

    let cluster = Cluster::start(dir.path(), &data_b, &[]);
    let mut read = compare_engines(
        dir.path(),
        &Side::local(&data_a),
        &Side::local(&data_b),
        &cluster,
        unusable,
        &serde_json::json!({}),
    );

    // The golden batch set through the same cluster gives its expected files.
    let golden_data = dir.path().join("golden");
    let mut server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&golden_data)
        .start();
    post_golden(dir.path(), &server.url(""));
    assert!(server.stop().success());
    lake_once(dir.path(), &golden_data, &[]);
    let date = today();
    let summary = batch_on(dir.path(), &golden_data, &[], &date, &cluster.engine);
    read += sum(&summary["raw_records"]);
    assert_analytics_equal(
        &analytics(dir.path(), &golden_data, &[], &date),
        &read_expected(&golden_batch().join("expected")),
    );

    // The cleaning ran on the executors: their UDFs cleaned at least every raw record the
    // cluster's runs read (the dead-letter query cleans them again), and both took tasks.
    let cleaned = cluster.stop();
    assert!(
        cleaned.iter().sum::<u64>() >= read,
        "the executors cleaned {cleaned:?} records; the cluster's runs read {read}"
    );
    assert!(
        cleaned.iter().all(|n| *n > 0),
        "every executor cleaned records: {cleaned:?}"
    );
}

#[test]
fn the_daily_job_on_a_ballista_cluster_over_an_s3_compatible_lake() {
    let Some(endpoint) = test_service("TEST_S3_ENDPOINT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let unusable = build_log(dir.path(), &data_a);
    copy_dir(&data_a, &data_b);
    let id = std::process::id();
    let (url_a, url_b) = (
        format!("s3://pinpipe/ballista-{id}-local"),
        format!("s3://pinpipe/ballista-{id}-cluster"),
    );
    let s3 = [
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "testsecret"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    let with = |url: &str| {
        let mut env: Vec<(String, String)> = s3
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.push(("PINPIPE_LAKE__URL".into(), url.to_owned()));
        env
    };
    let (owned_a, owned_b) = (with(&url_a), with(&url_b));
    let env_a: Vec<(&str, &str)> = owned_a
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let env_b: Vec<(&str, &str)> = owned_b
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    lake_once(dir.path(), &data_a, &env_a);
    lake_once(dir.path(), &data_b, &env_b);

    let cluster = Cluster::start(dir.path(), &data_b, &env_b);
    let storage = serde_json::json!({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "testsecret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    });
    let read = compare_engines(
        dir.path(),
        &Side {
            data: &data_a,
            env: &env_a,
            lake: url_a,
        },
        &Side {
            data: &data_b,
            env: &env_b,
            lake: url_b,
        },
        &cluster,
        unusable,
        &storage,
    );
    assert!(
        !data_b.join("lake").exists(),
        "nothing may go to the local lake folder"
    );
    let cleaned = cluster.stop();
    assert!(
        cleaned.iter().sum::<u64>() >= read,
        "the executors cleaned {cleaned:?} records; the cluster's runs read {read}"
    );
}

/// The engine reaches the exported Airflow DAG's batch task, and an engine that is not one is
/// refused wherever the config is read, with what to write instead.
#[test]
fn the_engine_reaches_the_airflow_dag_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dag = dir.path().join("pinpipe_daily.py");
    let out = pinpipe(
        dir.path(),
        &[
            "airflow-dag",
            "--engine",
            "ballista://m2:50050",
            "--out",
            dag.to_str().unwrap(),
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&dag).unwrap();
    assert!(
        written.contains("BATCH_ARGS = ['--engine', 'ballista://m2:50050']")
            && written.contains("\"--no-serving\", *BATCH_ARGS)"),
        "{written}"
    );
    // The in-process engine adds nothing to the batch task.
    let local = dir.path().join("local.py");
    let out = pinpipe(
        dir.path(),
        &["airflow-dag", "--out", local.to_str().unwrap()],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !std::fs::read_to_string(&local)
            .unwrap()
            .contains("--engine")
    );

    for args in [&["config"][..], &["batch", "--date", "2026-11-26"][..]] {
        let out = pinpipe(
            dir.path(),
            args,
            &[("PINPIPE_BATCH__ENGINE", "spark://x:7077")],
            "",
        );
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted spark://");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("ballista://HOST:PORT"),
            "{args:?}: {stderr}"
        );
    }
}
