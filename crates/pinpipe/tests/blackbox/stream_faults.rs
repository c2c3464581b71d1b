//! The speed layer under faults of the parts around it: the serving DB going away, and (with a
//! broker that survives it) a consumer-group rebalance between two `pinpipe stream` processes.

use std::time::Duration;

use crate::support::serving::{
    OwnPostgres, assert_serving_equals_clean_dedup, dump, postgres_database, spawn_stream,
    spawn_stream_named, wait_caught_up,
};
use crate::support::{Pinpipe, pinpipe, text, unused_port};
use serde_json::Value;

#[test]
fn the_speed_layer_waits_out_a_serving_db_outage_and_loses_nothing() {
    // Needs PostgreSQL installed (scripts/test installs it); this test runs a cluster of its own
    // so that stopping it does not disturb the others.
    if postgres_database("outage_probe").is_none() {
        return;
    }
    let pg = OwnPostgres {
        dir: tempfile::tempdir().unwrap(),
        port: unused_port(),
    };
    pg.script("start");
    let url = pg.url();
    let env = [("PINPIPE_SERVING__URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    let target = server.url("");
    let mut stream = spawn_stream(dir.path(), &data, &env);
    let send = |seed: &str| {
        let out = pinpipe(
            dir.path(),
            &[
                "emulate", "--url", &target, "--count", "600", "--rate", "0", "--seed", seed,
                "--json",
            ],
            &[],
            "",
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["accepted"], 600, "{summary}");
    };
    send("1");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(60),
    );

    pg.script("stop");
    send("2"); // ingest does not depend on the serving DB
    // Longer than the pool's 10 s wait for a connection: the writes fail and are retried.
    std::thread::sleep(Duration::from_secs(13));
    assert!(stream.is_running(), "the speed layer must wait, not exit");
    pg.script("start");
    wait_caught_up(
        dir.path(),
        &data,
        &env,
        "pinpipe-stream",
        Duration::from_secs(90),
    );
    assert!(stream.stop().success());
    let log = std::fs::read_to_string(dir.path().join("stream.log")).unwrap();
    assert!(log.contains("retrying"), "the outage was noticed: {log}");
    assert_serving_equals_clean_dedup(dir.path(), &data, &env);
}

#[test]
fn two_stream_processes_in_one_group_on_kafka_write_the_same_tables_as_one() {
    let brokers = match std::env::var("TEST_KAFKA_BROKERS") {
        Ok(brokers) => brokers,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("TEST_KAFKA_BROKERS is not set: scripts/test starts tansu")
        }
        Err(_) => {
            eprintln!("NOT RUN: set TEST_KAFKA_BROKERS (scripts/test does)");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = format!("s{}", std::process::id());
    // Fresh topics for this run.
    std::fs::write(
        dir.path().join("pinpipe.toml"),
        format!(
            "[log]\nurl = \"kafka://{brokers}\"\npins_topic = \"{run}-pins\"\ngeos_topic = \"{run}-geos\"\nusers_topic = \"{run}-users\"\n"
        ),
    )
    .unwrap();
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    let two_db = format!("sqlite:{}", dir.path().join("two.db").display());
    let one_db = format!("sqlite:{}", dir.path().join("one.db").display());
    let two_env = [
        ("PINPIPE_SERVING__URL", two_db.as_str()),
        ("PINPIPE_STREAM__GROUP", "two"),
        ("PINPIPE_STREAM__REPORT_INTERVAL_SECS", "1"),
    ];
    let one_env = [
        ("PINPIPE_SERVING__URL", one_db.as_str()),
        ("PINPIPE_STREAM__GROUP", "one"),
    ];
    // Two members of group "two" share the partitions while events arrive; the second then
    // leaves mid-stream (a second rebalance) and the first takes its partitions over. Group
    // "one" is a single member reading the same topics.
    let mut first = spawn_stream_named(dir.path(), &data, &two_env, "first");
    std::thread::sleep(Duration::from_millis(300));
    let mut second = spawn_stream_named(dir.path(), &data, &two_env, "second");
    let mut alone = spawn_stream_named(dir.path(), &data, &one_env, "alone");
    let mut emulator = Pinpipe::command(
        dir.path(),
        &[
            "emulate",
            "--url",
            &server.url(""),
            "--count",
            "40000",
            "--rate",
            "8000",
            "--mode",
            "batch",
            "--batch-size",
            "100",
            "--seed",
            "23",
            "--json",
        ],
    )
    .spawn();
    // The second member leaves once it has applied records of its own (its progress line, every
    // second, says so): how long the group takes to rebalance depends on the machine's load.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap_or_default();
        let working = log
            .lines()
            .filter(|l| l.contains("speed layer") && l.contains("records="))
            .any(|l| !l.contains("records=0 "));
        if working {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second member never got records:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(second.stop().success());
    let out = emulator.wait_output();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["accepted"],
        40_000,
        "{summary} {}",
        text(&out.stderr)
    );
    wait_caught_up(dir.path(), &data, &two_env, "two", Duration::from_secs(240));
    wait_caught_up(dir.path(), &data, &one_env, "one", Duration::from_secs(240));
    for stream in [&mut first, &mut alone] {
        assert!(stream.stop().success());
    }
    // Both members of the group did some of the work.
    for log in ["first.log", "second.log"] {
        let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
        let stopped = text
            .lines()
            .find(|l| l.contains("speed layer stopped"))
            .unwrap_or_else(|| panic!("{log}: {text}"));
        assert!(!stopped.contains("records=0 "), "{log}: {stopped}");
    }
    for (table, order) in [
        ("pins", "unique_id"),
        ("geos", "ind"),
        ("users", "ind"),
        ("pin_windows", "window_start, category"),
        ("pin_window_keys", "window_start, category, unique_id"),
        ("dead_letter", "topic, log_partition, log_offset"),
    ] {
        let two = dump(dir.path(), &data, &two_env, table, order);
        let one = dump(dir.path(), &data, &one_env, table, order);
        assert_eq!(two.len(), one.len(), "{table}");
        assert!(two == one, "{table}: two members wrote other rows than one");
    }
}
