//! The admin listener, black box: `/metrics` against `docs/metrics.md` and `promtool`, exact
//! accounting after a known load, the run-history gauges after `pinpipe trigger`, lag in seconds
//! while the speed layer is stopped, and a real Prometheus running every expression of the
//! Grafana dashboard and the alert rules' unit tests (../shared/docs/observability.md, D1–D5, D10).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::emulator::{emulate_json, n};
use crate::support::lake::{repo, today};
use crate::support::serving::sql;
use crate::support::{Pinpipe, pinpipe, raw_request, text};

/// `GET PATH` on `addr`: status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let response = raw_request(addr, request.as_bytes()).unwrap();
    (response.status, text(&response.body))
}

/// One scrape: each sample's name, labels and value, and each family's `# TYPE`.
struct Scrape {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn of(addr: SocketAddr) -> Scrape {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, 200, "{body}");
        Scrape::parse(&body)
    }

    fn parse(body: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                types.insert(name.to_owned(), kind.trim().to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').unwrap();
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').unwrap();
                            (
                                k.to_owned(),
                                v.trim_start_matches('"').trim_end_matches('"').to_owned(),
                            )
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
            };
            samples.push((name, labels, value));
        }
        Scrape { samples, types }
    }

    /// Σ of `name`'s samples with these labels.
    fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.matching(name, filter).map(|(_, _, v)| v).sum()
    }

    fn max(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.matching(name, filter)
            .map(|(_, _, v)| *v)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    fn count(&self, name: &str, filter: &[(&str, &str)]) -> usize {
        self.matching(name, filter).count()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a (String, BTreeMap<String, String>, f64)> + 'a {
        self.samples.iter().filter(move |(n, labels, _)| {
            n == name
                && filter
                    .iter()
                    .all(|(k, v)| labels.get(*k).is_some_and(|have| have == v))
        })
    }

    /// `pinpipe_*` families: type and label names (histograms without `le`).
    fn families(&self) -> BTreeMap<String, (String, BTreeSet<String>)> {
        let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
        for (family, kind) in self.types.iter().filter(|(f, _)| f.starts_with("pinpipe_")) {
            let mut labels = BTreeSet::new();
            for (name, l, _) in &self.samples {
                let base = if kind == "histogram" {
                    name.strip_suffix("_bucket")
                        .or_else(|| name.strip_suffix("_sum"))
                        .or_else(|| name.strip_suffix("_count"))
                        .unwrap_or(name)
                } else {
                    name.as_str()
                };
                if base == family {
                    labels.extend(l.keys().filter(|k| *k != "le").cloned());
                }
            }
            out.insert(family.clone(), (kind.clone(), labels));
        }
        out
    }
}

/// `docs/metrics.md`'s table: family → (type, label names).
fn documented() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let doc = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    doc.lines()
        .filter(|l| l.starts_with("| `pinpipe_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let kind = cells[2].to_owned();
            let labels = cells[3]
                .split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            (name, (kind, labels))
        })
        .collect()
}

/// The scrape's `pinpipe_*` families against `docs/metrics.md`: every scraped family is
/// documented with the same type and label names; with `both_ways`, every documented family is
/// scraped too.
fn assert_families_match_docs(scrape: &Scrape, both_ways: bool) {
    let scraped = scrape.families();
    let documented = documented();
    let undocumented: Vec<_> = scraped
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(
        undocumented.is_empty(),
        "scraped but not documented: {undocumented:?}"
    );
    if both_ways {
        let missing: Vec<_> = documented
            .keys()
            .filter(|k| !scraped.contains_key(*k))
            .collect();
        assert!(
            missing.is_empty(),
            "documented but not scraped: {missing:?}"
        );
    }
    for (name, (kind, labels)) in &scraped {
        let (documented_kind, documented_labels) = &documented[name];
        assert_eq!(kind, documented_kind, "type of {name}");
        assert_eq!(labels, documented_labels, "labels of {name}");
    }
}

/// `promtool` from the Prometheus package (scripts/test installs it); `None` outside CI when it
/// is missing (the check is then reported as not run).
fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing: scripts/test installs Debian's prometheus package"
        );
        eprintln!("NOT RUN: promtool is missing (scripts/services/prometheus.sh install)");
        return None;
    }
    Some("promtool")
}

/// Waits until `check` passes on a fresh scrape (within `timeout`), returning that scrape.
fn wait_for(
    addr: SocketAddr,
    timeout: Duration,
    what: &str,
    check: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + timeout;
    loop {
        let scrape = Scrape::of(addr);
        if check(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "{what} not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_scrape_is_clean_documented_and_created_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["up"]).start();
    let admin = server.admin_addr();
    assert!(admin.ip().is_loopback());
    // The first refresh of the log's gauges runs at start.
    // The stages register their series as they start, each in its own task: wait for all of them
    // (under a loaded CI machine the speed layer may start after the log's first refresh).
    let scrape = wait_for(
        admin,
        Duration::from_secs(30),
        "every stage's series",
        |s| {
            s.count("pinpipe_consumer_lag_seconds", &[]) == 18
                && s.count("pinpipe_stream_dead_letters_total", &[]) == 15
                && s.count("pinpipe_ingest_events_rejected_total", &[]) == 12
        },
    );

    // D1: promtool finds nothing to say about it.
    if let Some(promtool) = promtool() {
        let (_, body) = get(admin, "/metrics");
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool check metrics: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    // D2 (before any run or request): every family scraped is documented, with its type and
    // labels; the rest appear with their first use (checked both ways after a load and a run).
    assert_families_match_docs(&scrape, false);

    // Every (topic, reason) of rejects and dead letters exists at 0, and each group's gauges for
    // all 9 partitions.
    for topic in ["pins", "geos", "users"] {
        for reason in ["invalid", "saturated", "timeout", "unavailable"] {
            let f = [("topic", topic), ("reason", reason)];
            assert_eq!(
                scrape.count("pinpipe_ingest_events_rejected_total", &f),
                1,
                "{f:?}"
            );
            assert_eq!(scrape.sum("pinpipe_ingest_events_rejected_total", &f), 0.0);
        }
        for reason in [
            "empty",
            "invalid_json",
            "not_object",
            "missing_field",
            "wrong_type",
        ] {
            let f = [("topic", topic), ("reason", reason)];
            assert_eq!(
                scrape.count("pinpipe_stream_dead_letters_total", &f),
                1,
                "{f:?}"
            );
        }
    }
    for group in ["pinpipe-stream", "pinpipe-lake"] {
        for family in [
            "pinpipe_consumer_committed_offset",
            "pinpipe_consumer_lag_records",
            "pinpipe_consumer_lag_seconds",
        ] {
            assert_eq!(
                scrape.count(family, &[("group", group)]),
                9,
                "{family} {group}"
            );
        }
    }
    assert_eq!(
        scrape.sum(
            "pinpipe_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // D10: the ingest port keeps only the API; the admin port answers JSON 404s.
    for path in ["/metrics", "/dashboard", "/api/v1/overview"] {
        let (status, _) = get(server.addr(), path);
        assert_eq!(status, 404, "ingest port {path}");
    }
    let (status, body) = get(admin, "/no/such/page");
    assert_eq!(status, 404);
    assert!(body.contains("\"detail\""), "{body}");
    let (status, body) = get(admin, "/api/v1/overview?since=x");
    assert_eq!(status, 400, "{body}");
    // Without the launcher's port-0 setting: the binary's own default.
    let mut config = crate::support::command(dir.path());
    config.env_remove("PINPIPE_OBSERVE__LISTEN").arg("config");
    let out = config.output().unwrap();
    assert!(
        text(&out.stdout).contains("listen = \"127.0.0.1:8001\""),
        "the default admin address is loopback"
    );

    // A taken admin port stops a second process with exit code 2 and says what to do.
    let taken = admin.to_string();
    let second = pinpipe(
        dir.path(),
        &[
            "--data-dir",
            dir.path().join("other").to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--observe-listen",
            &taken,
        ],
        &[],
        "",
    );
    assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
    let message = text(&second.stderr);
    assert!(
        message.contains("--observe-listen") && message.contains("127.0.0.1:0"),
        "{message}"
    );

    // D5 (part): the dashboard written by the binary is the repository's file.
    let written = dir.path().join("grafana.json");
    let out = pinpipe(
        dir.path(),
        &["grafana-dashboard", "--out", written.to_str().unwrap()],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(&written).unwrap(),
        std::fs::read(repo().join("deploy/grafana/pinpipe.json")).unwrap()
    );
}

/// Twenty records the ingest API would refuse, written straight into the local log as a foreign
/// producer would: five kinds of unusable, four each, all on the pins topic.
fn append_unusable(data: &Path) -> usize {
    let values: [&[u8]; 5] = [
        b"",
        b"not json",
        b"[1, 2]",
        br#"{"unique_id": "x"}"#,
        br#"{"index": "seven", "unique_id": "x"}"#,
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let log = pinpipe_log::EventLog::open(&pinpipe_log::LogConfig::default(), data)
            .await
            .unwrap();
        let mut records = Vec::new();
        for copy in 0..4 {
            for value in values {
                records.push(pinpipe_log::NewRecord {
                    key: format!("bad-{copy}").into_bytes(),
                    value: value.to_vec(),
                    timestamp_ms: pinpipe_log::now_ms(),
                    headers: Vec::new(),
                });
            }
        }
        let count = records.len();
        log.append("pins", records).await.unwrap();
        log.close().await.unwrap();
        count
    })
}

#[test]
fn every_event_is_accounted_for_and_the_run_gauges_follow_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [
        ("PINPIPE_LAKE_WRITER__ROLL_SECS", "5"),
        ("PINPIPE_OBSERVE__REFRESH_SECS", "1"),
    ];
    let server = Pinpipe::command(dir.path(), &["up"])
        .data_dir(&data)
        .env(&env)
        .start();
    let admin = server.admin_addr();
    let url = server.url("");
    let (code, summary) = emulate_json(
        dir.path(),
        &[
            "--url", &url, "--count", "150", "--rate", "0", "--seed", "5",
        ],
    );
    assert_eq!(code, Some(0), "{summary}");
    let events = n(&summary, "accepted");
    assert_eq!(n(&summary, "failed") + n(&summary, "rejected"), 0);
    for i in 0..30 {
        let body = format!("{{\"note\": {i}}}");
        let request = format!(
            "POST /pin/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let response = raw_request(server.addr(), request.as_bytes()).unwrap();
        assert_eq!(response.status, 422);
    }
    let unusable = append_unusable(&data) as f64;
    let n_events = events as f64;
    let all = n_events + unusable;

    let scrape = wait_for(
        admin,
        Duration::from_secs(60),
        "the whole load applied and written",
        |s| {
            s.sum("pinpipe_stream_records_applied_total", &[])
                + s.sum("pinpipe_stream_dead_letters_total", &[])
                == all
                && s.sum("pinpipe_lake_records_written_total", &[]) == all
                && s.max("pinpipe_consumer_lag_records", &[]) == 0.0
                && s.sum("pinpipe_log_end_offset", &[]) - s.sum("pinpipe_log_start_offset", &[])
                    == all
        },
    );
    let counts = || {
        format!(
            "accepted {} appended {} applied {} dead {} lake {}",
            scrape.sum("pinpipe_ingest_events_accepted_total", &[]),
            scrape.sum("pinpipe_log_appended_records_total", &[]),
            scrape.sum("pinpipe_stream_records_applied_total", &[]),
            scrape.sum("pinpipe_stream_dead_letters_total", &[]),
            scrape.sum("pinpipe_lake_records_written_total", &[]),
        )
    };
    assert_eq!(
        scrape.sum("pinpipe_ingest_events_accepted_total", &[]),
        n_events,
        "{}",
        counts()
    );
    assert_eq!(
        scrape.sum("pinpipe_log_appended_records_total", &[]),
        n_events,
        "{}",
        counts()
    );
    assert_eq!(
        scrape.sum(
            "pinpipe_ingest_events_rejected_total",
            &[("reason", "invalid")]
        ),
        30.0
    );
    assert_eq!(
        scrape.sum("pinpipe_http_requests_total", &[("status", "422")]),
        30.0
    );
    assert_eq!(
        scrape.sum("pinpipe_stream_dead_letters_total", &[]),
        unusable
    );
    // Four of each kind, each under its reason.
    for reason in ["invalid_json", "not_object", "missing_field", "wrong_type"] {
        let have = scrape.sum("pinpipe_stream_dead_letters_total", &[("reason", reason)]);
        assert!(have >= 4.0, "{reason}: {have}");
    }
    let dead = sql(
        dir.path(),
        &data,
        &[],
        "SELECT count(*) AS n FROM dead_letter",
    );
    let dead_rows = dead[0]["n"]
        .as_f64()
        .or_else(|| dead[0]["n"].as_str().and_then(|s| s.parse().ok()))
        .unwrap();
    assert_eq!(dead_rows, unusable);
    for group in ["pinpipe-stream", "pinpipe-lake"] {
        assert_eq!(
            scrape.max("pinpipe_consumer_lag_records", &[("group", group)]),
            0.0
        );
        assert_eq!(
            scrape.max("pinpipe_consumer_lag_seconds", &[("group", group)]),
            0.0
        );
    }
    assert!(scrape.sum("pinpipe_log_commit_duration_seconds_count", &[]) >= 1.0);
    assert!(scrape.sum("pinpipe_stream_end_to_end_seconds_count", &[]) >= all);

    // The overview says the same.
    let (status, body) = get(admin, "/api/v1/overview");
    assert_eq!(status, 200);
    let overview: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        overview["stages"]["ingest"]["total"].as_f64(),
        Some(n_events)
    );
    // The 30 refused posts are the errors page's latest rejects, newest first, with their bodies.
    let rejects = overview["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 30, "{rejects:?}");
    assert!(
        rejects
            .iter()
            .all(|r| r["status"] == 422 && r["route"] == "/pin/" && r["request_id"].is_string()),
        "{rejects:?}"
    );
    assert_eq!(rejects[0]["body"], "{\"note\": 29}");
    let (status, page) = get(admin, "/dashboard/errors");
    assert_eq!(status, 200);
    assert!(page.contains("note") && page.contains("422"), "{page}");

    // D4: a triggered run shows in the run-history gauges.
    let date = today();
    let out = pinpipe(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "trigger",
            "--date",
            &date,
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "trigger: {}", text(&out.stderr));
    let runs = pinpipe(
        dir.path(),
        &["--data-dir", data.to_str().unwrap(), "runs", "--json"],
        &[],
        "",
    );
    let history: Vec<Value> = text(&runs.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tasks: BTreeSet<String> = history
        .iter()
        .flat_map(|r| r["tasks"].as_array().cloned().unwrap_or_default())
        .map(|t| t["task"].as_str().unwrap().to_owned())
        .collect();
    assert!(tasks.len() >= 4, "{history:?}");
    let scrape = wait_for(admin, Duration::from_secs(30), "run gauges", |s| {
        s.sum("pinpipe_schedule_runs", &[("state", "success")]) >= 1.0
            && s.max("pinpipe_schedule_last_success_timestamp_seconds", &[]) > 0.0
            && s.max("pinpipe_batch_last_success_timestamp_seconds", &[]) > 0.0
    });
    for task in &tasks {
        assert_eq!(
            scrape.count(
                "pinpipe_schedule_task_last_duration_seconds",
                &[("task", task)]
            ),
            1,
            "{task}"
        );
    }
    // The batch task's summary in `pinpipe runs --json` has the stages the gauges show.
    let detail = history
        .iter()
        .flat_map(|r| r["tasks"].as_array().cloned().unwrap_or_default())
        .find(|t| t["task"] == "batch" && t["state"] == "success")
        .and_then(|t| t["detail"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no batch task detail in {history:?}"));
    let summary: Value = serde_json::from_str(&detail).unwrap();
    let stages = summary["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("no stages in {summary}"));
    assert!(!stages.is_empty());
    for stage in stages {
        let code: String = stage["name"]
            .as_str()
            .unwrap()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let seconds = scrape.max("pinpipe_batch_last_run_stage_seconds", &[("stage", &code)]);
        assert!(
            (seconds - stage["seconds"].as_f64().unwrap()).abs() < 1e-6,
            "{code}: {seconds} vs {stage}"
        );
    }
    // D2 both ways, now that requests were answered and a run finished.
    assert_families_match_docs(&scrape, true);
    let midnight = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp() as f64;
    assert_eq!(
        scrape.max("pinpipe_batch_latest_date_timestamp_seconds", &[]),
        midnight
    );
}

#[test]
fn lag_in_seconds_grows_while_the_speed_layer_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("PINPIPE_OBSERVE__REFRESH_SECS", "1")];
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .env(&env)
        .start();
    let admin = server.admin_addr();
    let mut stream = Pinpipe::command(dir.path(), &["stream"])
        .data_dir(&data)
        .spawn();
    let mut load = Pinpipe::command(
        dir.path(),
        &[
            "emulate",
            "--url",
            &server.url(""),
            "--rate",
            "200",
            "--duration",
            "40s",
        ],
    )
    .spawn();
    // Caught up first: lag in seconds near 0 while the speed layer runs.
    wait_for(
        admin,
        Duration::from_secs(60),
        "the speed layer caught up",
        |s| {
            s.sum("pinpipe_ingest_events_accepted_total", &[]) > 100.0
                && s.max(
                    "pinpipe_consumer_lag_seconds",
                    &[("group", "pinpipe-stream")],
                ) < 2.0
        },
    );
    let signal = |sig: &str| {
        let status = Command::new("kill")
            .args([sig, &stream.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let lag = || {
        Scrape::of(admin).max(
            "pinpipe_consumer_lag_seconds",
            &[("group", "pinpipe-stream")],
        )
    };
    std::thread::sleep(Duration::from_secs(4));
    let first = lag();
    std::thread::sleep(Duration::from_secs(8));
    let second = lag();
    signal("-CONT");
    let grown = second - first;
    assert!(
        (5.0..=11.0).contains(&grown),
        "lag seconds grew {grown} s in 8 s ({first} → {second})"
    );
    // And back near 0 once it runs again.
    wait_for(admin, Duration::from_secs(60), "lag back near 0", |s| {
        s.max(
            "pinpipe_consumer_lag_seconds",
            &[("group", "pinpipe-stream")],
        ) < 2.0
    });
    load.kill();
    stream.stop();
}

/// Prometheus from Debian (scripts/test installs it): the helper script, or `None` outside CI.
fn prometheus_script() -> Option<std::path::PathBuf> {
    let script = repo().join("scripts/services/prometheus.sh");
    let installed = Command::new("prometheus").arg("--version").output().is_ok();
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is missing: scripts/test installs Debian's prometheus package"
        );
        eprintln!("NOT RUN: prometheus is missing (scripts/services/prometheus.sh install)");
        return None;
    }
    Some(script)
}

#[test]
fn a_real_prometheus_answers_every_dashboard_expression_and_the_alert_tests_pass() {
    let Some(script) = prometheus_script() else {
        return;
    };
    let check = Command::new(&script).arg("check").output().unwrap();
    assert!(
        check.status.success(),
        "promtool check config / rules / test rules:\n{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["up", "--emulate", "--emulate-rate", "200"])
        .env(&[("PINPIPE_LAKE_WRITER__ROLL_SECS", "2")])
        .start();
    let admin = server.admin_addr();
    // A batch run (not a DAG run: its watermark never passes while the emulator sends), so
    // that the batch stage panels have series.
    wait_for(admin, Duration::from_secs(60), "raw files", |s| {
        s.sum("pinpipe_lake_files_written_total", &[]) >= 3.0
    });
    let data = server.data_dir.to_str().unwrap().to_owned();
    let out = pinpipe(
        dir.path(),
        &["--data-dir", &data, "batch", "--date", &today()],
        &[],
        "",
    );
    assert!(out.status.success(), "batch: {}", text(&out.stderr));
    let prom_dir = dir.path().join("prometheus");
    let port = crate::support::unused_port().to_string();
    let start = Command::new(&script)
        .args(["start", prom_dir.to_str().unwrap(), &admin.to_string()])
        .env("PROMETHEUS_PORT", &port)
        .output()
        .unwrap();
    assert!(
        start.status.success(),
        "prometheus start: {}{}",
        text(&start.stdout),
        text(&start.stderr)
    );
    struct Stop<'a>(&'a Path, &'a Path, String);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = Command::new(self.0)
                .args(["stop", self.1.to_str().unwrap()])
                .env("PROMETHEUS_PORT", &self.2)
                .output();
        }
    }
    let _stop = Stop(&script, &prom_dir, port.clone());
    // 20 s of load scraped every second.
    std::thread::sleep(Duration::from_secs(25));
    let python = std::env::var("TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let prometheus = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(&python)
            .arg(repo().join("deploy/grafana/check_expressions.py"))
            .arg(&prometheus)
            .arg(repo().join("deploy/grafana/pinpipe.json"))
            .output()
            .unwrap();
        if out.status.success() {
            eprintln!("{}", text(&out.stdout));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard expressions without series:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(3));
    }
}
