//! The scheduler as a black box: `pinpipe trigger`, `pinpipe schedule --once --now …`,
//! `pinpipe backfill` and `pinpipe runs --json` over a real data dir (log, lake, serving DB):
//! a task made to fail once is retried and both attempts are recorded; two scheduler processes
//! never run one date at the same time; a backfill gives the same tables as separate triggers.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::lake::{lake_once, post, run_ok};
use crate::support::serving::sql;
use crate::support::{Pinpipe, pinpipe, text};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::Value;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A data dir with a few thousand events in the log and the raw zone (received today).
fn loaded(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    let server = Pinpipe::command(dir, &["serve"]).data_dir(&data).start();
    post(dir, &server.url(""), 3_000, 7);
    drop(server);
    lake_once(dir, &data, &[]);
    data
}

fn runs(dir: &Path, data: &Path, env: &[(&str, &str)]) -> Vec<Value> {
    let out = run_ok(dir, data, env, &["runs", "--json", "--limit", "1000"]);
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// The batch task fails once (the lake's `analytics` folder is blocked by a file) and succeeds on
/// its retry after the delay; the history records both attempts, and the results are served.
#[test]
fn a_task_failing_once_is_retried_and_both_attempts_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = loaded(dir.path());
    let env = [
        ("PINPIPE_SCHEDULE__RETRIES", "1"),
        ("PINPIPE_SCHEDULE__RETRY_DELAY_SECS", "4"),
    ];
    let blocker = data.join("lake/analytics");
    std::fs::write(&blocker, "not a folder").unwrap();
    let date = today().to_string();
    let mut trigger = Pinpipe::command(dir.path(), &["trigger", "--date", &date])
        .data_dir(&data)
        .env(&env)
        .spawn();
    // Unblock once the first attempt has failed (the retry waits 4 s).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let failed = runs(dir.path(), &data, &env).iter().any(|r| {
            r["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["task"] == "batch" && t["state"] == "failed")
        });
        if failed {
            std::fs::remove_file(&blocker).unwrap();
            break;
        }
        assert!(Instant::now() < deadline, "the batch task never failed");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = trigger.wait_output();
    assert!(
        out.status.success(),
        "trigger failed: {}",
        text(&out.stderr)
    );

    let history = runs(dir.path(), &data, &env);
    assert_eq!(history.len(), 1);
    let run = &history[0];
    assert_eq!(run["state"], "success");
    assert_eq!(run["dt"], date);
    let tasks: Vec<(String, i64, String)> = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap().to_owned(),
                t["attempt"].as_i64().unwrap(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, i64, String)> = [
        ("wait_watermark", 1, "success"),
        ("batch", 1, "failed"),
        ("batch", 2, "success"),
        ("reconcile", 1, "success"),
        ("publish", 1, "success"),
        ("retention", 1, "success"),
    ]
    .iter()
    .map(|(t, a, s)| ((*t).to_owned(), *a, (*s).to_owned()))
    .collect();
    assert_eq!(tasks, expected);
    // The reconcile task keeps what it found in the history (no speed layer ran here, so the
    // lake's rows are only in the lake; `warn` by default lets the run go on).
    let reconcile = &run["tasks"][3];
    let detail = reconcile["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("pins: 0 matched") && detail.contains("only in lake"),
        "{reconcile}"
    );
    let failed = &run["tasks"][1];
    assert!(
        failed["error"].as_str().unwrap().contains("analytics"),
        "{failed}"
    );
    // The retry waited for the delay.
    let gap = time(&run["tasks"][2]["started_at"]) - time(&failed["ended_at"]);
    assert!(gap >= chrono::Duration::seconds(4), "retried after {gap}");
    let served = sql(
        dir.path(),
        &data,
        &[],
        &format!("SELECT COUNT(*) AS n FROM category_by_country WHERE dt = '{date}'"),
    );
    assert!(served[0]["n"].as_u64().unwrap() > 0, "{served:?}");
    // The table people read.
    let table = run_ok(dir.path(), &data, &[], &["runs"]);
    let table = text(&table.stdout);
    assert!(
        table.contains("batch") && table.contains("failed") && table.contains("success"),
        "{table}"
    );
}

/// Two `pinpipe schedule` processes catching up the same three dates at once: each date runs
/// once successfully, and no two runs of one date overlap in time.
#[test]
fn two_schedulers_never_run_one_date_at_the_same_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = loaded(dir.path());
    let now = format!("{}T00:05:00Z", today() + Days::new(3));
    let env = [("PINPIPE_SCHEDULE__CATCHUP_DAYS", "3")];
    let spawn = || {
        Pinpipe::command(dir.path(), &["schedule", "--once", "--now", &now])
            .data_dir(&data)
            .env(&env)
            .spawn()
    };
    let (mut a, mut b) = (spawn(), spawn());
    for child in [&mut a, &mut b] {
        let out = child.wait_output();
        assert!(
            out.status.success(),
            "scheduler failed: {}",
            text(&out.stderr)
        );
    }
    let history = runs(dir.path(), &data, &[]);
    let expected: Vec<String> = (0..3)
        .map(|i| (today() + Days::new(i)).to_string())
        .collect();
    for date in &expected {
        let of_date: Vec<&Value> = history
            .iter()
            .filter(|r| r["dt"] == date.as_str())
            .collect();
        let successes = of_date.iter().filter(|r| r["state"] == "success").count();
        assert_eq!(successes, 1, "{date}: {of_date:#?}");
        for (i, x) in of_date.iter().enumerate() {
            for y in &of_date[i + 1..] {
                let apart = time(&x["ended_at"]) <= time(&y["started_at"])
                    || time(&y["ended_at"]) <= time(&x["started_at"]);
                assert!(apart, "{date}: runs overlap: {x} {y}");
            }
        }
    }
    assert!(
        history
            .iter()
            .all(|r| expected.contains(&r["dt"].as_str().unwrap().to_owned()))
    );
    assert!(history.iter().all(|r| r["trigger"] == "schedule"));
}

/// The serving DB's analytics and the curated tables, for comparing two data dirs.
fn results(dir: &Path, data: &Path) -> (Vec<Value>, Vec<Value>) {
    let analytics = sql(
        dir,
        data,
        &[],
        "SELECT * FROM category_by_country ORDER BY dt, country",
    );
    let mut all = analytics;
    for table in ["top_tags", "users_joined_by_year", "category_summary"] {
        all.extend(sql(
            dir,
            data,
            &[],
            &format!("SELECT * FROM {table} ORDER BY 1, 2, 3"),
        ));
    }
    let out = run_ok(
        dir,
        data,
        &[],
        &[
            "sql",
            "--format",
            "jsonl",
            "SELECT * FROM pins ORDER BY unique_id",
        ],
    );
    let pins = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (all, pins)
}

/// A backfill over 7 dates gives the same tables as 7 triggers, and a second backfill skips them.
#[test]
fn backfill_over_seven_dates_equals_seven_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let data = loaded(dir.path());
    let copy = dir.path().join("copy");
    assert!(
        Command::new("cp")
            .args(["-a", data.to_str().unwrap(), copy.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let from = today() - Days::new(3);
    let to = today() + Days::new(3);
    run_ok(
        dir.path(),
        &data,
        &[],
        &[
            "backfill",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ],
    );
    let mut day = from;
    while day <= to {
        run_ok(
            dir.path(),
            &copy,
            &[],
            &["trigger", "--date", &day.to_string()],
        );
        day = day + Days::new(1);
    }
    let (backfilled, triggered) = (results(dir.path(), &data), results(dir.path(), &copy));
    assert!(!backfilled.0.is_empty() && !backfilled.1.is_empty());
    assert_eq!(backfilled, triggered);
    let dates: std::collections::BTreeSet<String> = runs(dir.path(), &data, &[])
        .iter()
        .filter(|r| r["state"] == "success")
        .map(|r| r["dt"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dates.len(), 7);

    // Resumable: a second backfill skips every date; --force runs them again.
    let out = run_ok(
        dir.path(),
        &data,
        &[],
        &[
            "backfill",
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ],
    );
    assert!(
        text(&out.stderr).contains("0 ran, 7 skipped"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(runs(dir.path(), &data, &[]).len(), 7);
    let out = pinpipe(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "backfill",
            "--from",
            "2026-01-02",
            "--to",
            "2026-01-01",
        ],
        &[],
        "",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("before --from"),
        "{}",
        text(&out.stderr)
    );
}
