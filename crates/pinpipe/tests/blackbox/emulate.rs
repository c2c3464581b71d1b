//! `pinpipe emulate` as a black box: a real `pinpipe up`/`serve`, the emulator run as a user
//! would, the event log read back with `pinpipe topics`/`tail`, and the SQL source against a real
//! PostgreSQL (started by scripts/test, `TEST_POSTGRES_URL`) and a SQLite file.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use crate::support::emulator::{dry_run, emulate, emulate_json, n};
use crate::support::{Pinpipe, log_cli, record_counts, text, unused_port};
use serde_json::Value;

/// Accepted events per topic (`pins`, `geos`, `users`) according to the summary.
fn accepted_by_topic(summary: &Value) -> BTreeMap<String, u64> {
    summary["by_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                format!("{}s", t["type"].as_str().unwrap()),
                t["accepted"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every stored record of `topic` as raw bytes (`tail --format value`), sorted.
fn stored_values(server: &Pinpipe, topic: &str) -> Vec<String> {
    let out = server.cli(&["tail", "--topic", topic, "--format", "value"]);
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Bodies of one type from dry-run output, sorted.
fn dry_bodies(dry: &str, kind: &str) -> Vec<String> {
    let mut bodies: Vec<String> = dry
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(k, _)| *k == kind)
        .map(|(_, b)| b.to_owned())
        .collect();
    bodies.sort();
    bodies
}

#[test]
fn hundred_thousand_events_as_fast_as_possible_are_all_accepted_and_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["up"]).start();
    let url = server.url("");
    let (code, summary) = emulate_json(
        dir.path(),
        &[
            "--url", &url, "--count", "100000", "--rate", "0", "--seed", "1",
        ],
    );
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(n(&summary, "sent"), 100_000);
    assert_eq!(n(&summary, "accepted"), 100_000, "{summary}");
    assert_eq!(n(&summary, "rejected") + n(&summary, "failed"), 0);
    assert_eq!(n(&summary, "requests"), 100_000 + n(&summary, "retried"));
    let by_topic = accepted_by_topic(&summary);
    assert_eq!(by_topic.values().sum::<u64>(), 100_000);
    // Records: pin, geo and user of one row each, so the three counts differ by at most one.
    assert_eq!(by_topic["pins"], 33_334);
    let counts = record_counts(dir.path(), &server.data_dir);
    assert_eq!(counts, by_topic, "the log holds exactly what was accepted");
    assert!(summary["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_same_seed_gives_identical_exports_and_event_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let export = |name: &str, seed: &str| {
        let out = emulate(
            dir.path(),
            &["--export", name, "--seed", seed, "--rows", "2000"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir.path().join(name)).unwrap() {
            let path = entry.unwrap().path();
            files.insert(
                path.file_name().unwrap().to_str().unwrap().to_owned(),
                std::fs::read(&path).unwrap(),
            );
        }
        files
    };
    let a = export("a", "42");
    let b = export("b", "42");
    let c = export("c", "43");
    let names: Vec<&str> = a.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "geolocation_data.csv",
            "geolocation_data.jsonl",
            "pinterest_data.csv",
            "pinterest_data.jsonl",
            "user_data.csv",
            "user_data.jsonl"
        ]
    );
    assert_eq!(a, b, "same seed, same bytes");
    for name in a.keys() {
        assert_ne!(a[name], c[name], "{name}: another seed, other data");
    }
    let pins = String::from_utf8(a["pinterest_data.jsonl"].clone()).unwrap();
    assert_eq!(pins.lines().count(), 2000);
    let csv = String::from_utf8(a["pinterest_data.csv"].clone()).unwrap();
    assert!(csv.starts_with("index,unique_id,title,description,poster_name,follower_count,tag_list,is_image_or_video,image_src,downloaded,save_location,category\n"));
    // The exported JSONL is what the emulator sends: the original's json.dumps spacing.
    assert!(
        pins.starts_with("{\"index\": 0, \"unique_id\": \""),
        "{}",
        &pins[..80]
    );

    let seq = |seed: &str| dry_run(dir.path(), &["--seed", seed, "--count", "3000"]);
    let first = seq("7");
    assert_eq!(first, seq("7"));
    assert_ne!(first, seq("8"));
    assert_eq!(first.lines().count(), 3000);
    let kinds: Vec<&str> = first
        .lines()
        .take(6)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(kinds, ["pin", "geo", "user", "pin", "geo", "user"]);
    // Sampling with replacement: 1,000 records out of 11,154 rows repeat some rows.
    let pins: Vec<&str> = first.lines().filter(|l| l.starts_with("pin\t")).collect();
    let distinct: std::collections::BTreeSet<_> = pins.iter().collect();
    assert!(
        distinct.len() < pins.len(),
        "1,000 draws from 11,154 rows repeat some"
    );
}

#[test]
fn the_server_stores_exactly_the_bodies_of_the_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let url = server.url("");
    let args = ["--seed", "9", "--count", "900"];
    let dry = dry_run(dir.path(), &args);
    let mut send = args.to_vec();
    send.extend_from_slice(&["--url", &url, "--rate", "0", "--concurrency", "4"]);
    let (code, summary) = emulate_json(dir.path(), &send);
    assert_eq!(code, Some(0), "{summary}");
    for (kind, topic) in [("pin", "pins"), ("geo", "geos"), ("user", "users")] {
        assert_eq!(
            stored_values(&server, topic),
            dry_bodies(&dry, kind),
            "{topic}"
        );
    }
}

#[test]
fn batch_and_rest_proxy_modes_store_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let url = server.url("");
    let args = ["--seed", "5", "--count", "2500", "--batch-size", "300"];
    let dry = dry_run(dir.path(), &args);
    let mut total = BTreeMap::new();
    for mode in ["batch", "rest"] {
        let mut send = args.to_vec();
        send.extend_from_slice(&["--url", &url, "--rate", "0", "--mode", mode]);
        let (code, summary) = emulate_json(dir.path(), &send);
        assert_eq!(code, Some(0), "{mode}: {summary}");
        assert_eq!(n(&summary, "accepted"), 2500, "{mode}");
        // 834 pins in batches of 300: 3 requests; 833 geos and users: 3 each.
        assert_eq!(n(&summary, "requests"), 9, "{mode}: {summary}");
        for (topic, count) in accepted_by_topic(&summary) {
            *total.entry(topic).or_insert(0) += count;
        }
    }
    assert_eq!(record_counts(dir.path(), &server.data_dir), total);
    // Both runs sent the same sequence: every body is stored twice.
    let mut twice: Vec<String> = dry_bodies(&dry, "geo")
        .into_iter()
        .flat_map(|b| [b.clone(), b])
        .collect();
    twice.sort();
    assert_eq!(stored_values(&server, "geos"), twice);
}

#[test]
fn rejected_events_are_counted_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let url = server.url("");
    let good = |i: u32| format!(r#"{{"index": {i}, "unique_id": "id-{i}", "title": "t"}}"#);
    let lines = [
        good(1),
        "not json".to_owned(),
        good(2),
        r#"{"index": 3}"#.to_owned(),
        String::new(),
        r#"{"index": "four", "unique_id": "x"}"#.to_owned(),
        good(5),
    ];
    let file = dir.path().join("pins.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_str().unwrap();
    let (code, summary) = emulate_json(
        dir.path(),
        &[
            "--url",
            &url,
            "--source",
            file,
            "--only",
            "pin",
            "--order",
            "sequential",
            "--rate",
            "0",
        ],
    );
    assert_eq!(code, Some(3), "some events were rejected: {summary}");
    assert_eq!(n(&summary, "sent"), 6, "the blank line is not an event");
    assert_eq!(n(&summary, "accepted"), 3);
    assert_eq!(n(&summary, "rejected"), 3);
    assert_eq!(n(&summary, "failed"), 0);
    assert_eq!(n(&summary, "retried"), 0, "a 422 is not retried");
    assert_eq!(n(&summary, "requests"), 6);
    let examples = summary["examples"].as_array().unwrap();
    assert!(
        examples.iter().any(|e| e.as_str().unwrap().contains("422")),
        "{summary}"
    );
    let stored = stored_values(&server, "pins");
    let mut expected = vec![good(1), good(2), good(5)];
    expected.sort();
    assert_eq!(stored, expected);
}

#[test]
fn a_server_killed_and_restarted_mid_run_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    let url = server.url("");
    let args = [
        "--seed",
        "13",
        "--count",
        "3000",
        "--rate",
        "600",
        "--concurrency",
        "16",
        "--retries",
        "30",
        "--timeout",
        "5s",
    ];
    let dry = dry_run(dir.path(), &args);
    let mut send: Vec<&str> = args.to_vec();
    send.extend_from_slice(&["--url", &url, "--json"]);
    let mut emulate = vec!["emulate"];
    emulate.extend_from_slice(&send);
    let mut child = Pinpipe::command(dir.path(), &emulate).spawn();
    // Kill once the emulator is well under way (its start-up is slow on a loaded machine).
    let deadline = Instant::now() + Duration::from_secs(60);
    while record_counts(dir.path(), &data).values().sum::<u64>() < 300 {
        assert!(Instant::now() < deadline, "the emulator sent nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill();
    std::thread::sleep(Duration::from_millis(700));
    // Where the emulator sends.
    server.restart();
    let out = child.wait_output();
    let summary: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{} {}", text(&out.stdout), text(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{summary}");
    assert_eq!(n(&summary, "sent"), 3000);
    assert_eq!(
        n(&summary, "accepted"),
        3000,
        "retries carried every event: {summary}"
    );
    assert!(
        n(&summary, "retried") > 0,
        "the kill was noticed: {summary}"
    );
    // Every event of the sequence is in the log at least once (an event stored just before the
    // kill whose answer was lost is sent again: a duplicate, which the pipeline de-duplicates).
    for (kind, topic) in [("pin", "pins"), ("geo", "geos"), ("user", "users")] {
        let mut remaining: BTreeMap<String, i64> = BTreeMap::new();
        for body in stored_values(&server, topic) {
            *remaining.entry(body).or_default() += 1;
        }
        for body in dry_bodies(&dry, kind) {
            let left = remaining.get_mut(&body);
            assert!(
                left.as_ref().is_some_and(|l| **l > 0),
                "{topic}: an accepted event is missing from the log: {body}"
            );
            *left.unwrap() -= 1;
        }
        let extra: i64 = remaining.values().sum();
        assert!(
            u64::try_from(extra).unwrap() <= n(&summary, "retried"),
            "{topic}: {extra} duplicates, more than the retries"
        );
    }
}

#[test]
fn a_rate_is_held_on_schedule_and_bursts_add_their_share() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let url = server.url("");
    let started = Instant::now();
    let (code, summary) = emulate_json(
        dir.path(),
        &[
            "--url",
            &url,
            "--rate",
            "200",
            "--duration",
            "3s",
            "--concurrency",
            "8",
        ],
    );
    assert_eq!(code, Some(0), "{summary}");
    // Open loop: the events due in 3 s at 200/s, whatever the answers' speed.
    assert_eq!(n(&summary, "sent"), 600);
    assert_eq!(n(&summary, "accepted"), 600);
    let elapsed = summary["elapsed_s"].as_f64().unwrap();
    assert!((2.9..10.0).contains(&elapsed), "{elapsed}");
    assert!(started.elapsed() >= Duration::from_millis(2900));

    let (code, summary) = emulate_json(
        dir.path(),
        &[
            "--url",
            &url,
            "--rate",
            "100",
            "--burst",
            "1000:1s/4s",
            "--duration",
            "4s",
        ],
    );
    assert_eq!(code, Some(0), "{summary}");
    // 1 s at 1,000/s, then 3 s at 100/s.
    let sent = n(&summary, "sent");
    assert!((1295..=1305).contains(&sent), "{sent}");
}

#[test]
fn the_original_pacing_sends_one_record_then_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"]).start();
    let url = server.url("");
    let run = || {
        let (code, summary) =
            emulate_json(dir.path(), &["--url", &url, "--count", "12", "--seed", "3"]);
        assert_eq!(code, Some(0), "{summary}");
        assert_eq!(n(&summary, "accepted"), 12);
        assert_eq!(n(&summary, "requests"), 12);
        summary["elapsed_s"].as_f64().unwrap()
    };
    // Four records with a random 0–2 s pause between them (three pauses): seeded, so the same
    // length every run, and far longer than sending 12 events.
    let first = run();
    let second = run();
    assert!((0.5..10.0).contains(&first), "{first}");
    assert!((0.5..10.0).contains(&second), "{second}");
    // The pauses are the same both runs; what differs is scheduling, which on a loaded 2-core
    // machine (the whole suite in one binary) adds up to about a second to one run.
    assert!(
        (first - second).abs() < 1.5,
        "seeded pauses: {first} s vs {second} s"
    );
}

#[test]
fn up_with_emulate_shows_data_flowing_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Pinpipe::command(dir.path(), &["up", "--emulate", "--emulate-rate", "300"])
        .data_dir(&data)
        .env(&[("RUST_LOG", "info")])
        .start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counts = record_counts(dir.path(), &data);
        if ["pins", "geos", "users"]
            .iter()
            .all(|t| counts.get(*t).copied().unwrap_or(0) >= 100)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no data flowing: {counts:?}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.send_sigterm();
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("up stops on SIGTERM");
    assert!(status.success(), "{status}\n{}", server.log_text());
    let log = server.log_text();
    // "emulator stopped: N sent · A accepted · R rejected · F failed · …"
    let line = log
        .lines()
        .find(|l| l.contains("emulator stopped:"))
        .unwrap_or_else(|| panic!("{log}"));
    let number_before = |word: &str| -> u64 {
        let before = &line[..line.find(word).unwrap()];
        before.split_whitespace().last().unwrap().parse().unwrap()
    };
    let sent = number_before(" sent");
    let accepted = number_before(" accepted");
    assert_eq!(sent, accepted, "the emulator stops before the API: {line}");
    assert_eq!(number_before(" failed"), 0, "{line}");
    let counts = record_counts(dir.path(), &data);
    assert_eq!(counts.values().sum::<u64>(), accepted, "{line}");
}

#[test]
fn mistakes_get_a_message_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let port = unused_port();
    let nobody = format!("http://127.0.0.1:{port}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--burst", "1000:1s/4s"], "--burst needs a base rate"),
        (vec!["--rate=-5"], "is not a rate"),
        (vec!["--dry-run"], "--dry-run needs --count"),
        (
            vec!["--url", "ftp://x", "--count", "1"],
            "is not an http:// URL",
        ),
        (
            vec!["--source", "missing.jsonl", "--count", "1"],
            "one file",
        ),
        (
            vec!["--source", "missing.jsonl", "--only", "pin", "--count", "1"],
            "missing.jsonl",
        ),
        (vec!["--source", "missing-dir/", "--count", "1"], "one file"),
        (vec!["--burst", "fast"], "RATE:ON/EVERY"),
        (
            vec![
                "--url",
                &nobody,
                "--count",
                "3",
                "--rate",
                "0",
                "--retries",
                "1",
            ],
            "is the ingest API running?",
        ),
    ];
    for (args, expected) in cases {
        let out = emulate(dir.path(), &args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = log_cli(dir.path(), &dir.path().join("d"), &["config"]);
    assert!(text(&out.stdout).contains("[emulate]"));
}
