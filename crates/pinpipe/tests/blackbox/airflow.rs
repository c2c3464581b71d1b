//! The exported Airflow DAG, run by a real Apache Airflow 3.3.2 (`airflow dags test`, installed
//! by scripts/services/airflow.sh) against a real pinpipe data dir with events in it.

use std::process::Command;

use crate::support::lake::{lake_once, post, repo, run_ok};
use crate::support::serving::sql;
use crate::support::{Pinpipe, text};
use chrono::{Days, Utc};

#[test]
fn the_exported_dag_passes_airflow_dags_test() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is missing, and Apache Airflow needs it");
        return;
    }
    if std::env::var_os("TEST_AIRFLOW").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "TEST_AIRFLOW is not set: scripts/test installs Airflow and sets it"
        );
        eprintln!("NOT RUN: set TEST_AIRFLOW=1 after scripts/services/airflow.sh install");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Pinpipe::command(dir.path(), &["serve"])
        .data_dir(&data)
        .start();
    post(dir.path(), &server.url(""), 3_000, 11);
    drop(server);
    lake_once(dir.path(), &data, &[]);

    // Retries would make a failing task wait 5 minutes in `dags test`: none here.
    let env = [("PINPIPE_SCHEDULE__RETRIES", "0")];
    let dag = dir.path().join("pinpipe_daily.py");
    run_ok(
        dir.path(),
        &data,
        &env,
        &["airflow-dag", "--out", dag.to_str().unwrap()],
    );
    let dag_text = std::fs::read_to_string(&dag).unwrap();
    assert!(dag_text.contains("\"retries\": 0"), "{dag_text}");
    assert!(dag_text.contains("schedule='0 0 * * *'"));

    // The run of tomorrow's logical date computes today, when the events were received.
    let today = Utc::now().date_naive();
    let logical = (today + Days::new(1)).to_string();
    let out = Command::new(repo().join("scripts/services/airflow.sh"))
        .args([
            "dags-test",
            dag.to_str().unwrap(),
            "pinpipe_daily",
            &logical,
        ])
        .arg(dir.path().join("airflow"))
        .output()
        .unwrap();
    let log = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "airflow dags test failed:\n{log}");
    for task in [
        "wait_watermark",
        "batch",
        "reconcile",
        "publish",
        "retention",
    ] {
        assert!(log.contains(task), "{task} not in the log:\n{log}");
    }
    let served = sql(
        dir.path(),
        &data,
        &[],
        &format!("SELECT COUNT(*) AS n FROM category_by_country WHERE dt = '{today}'"),
    );
    assert!(served[0]["n"].as_u64().unwrap() > 0, "{served:?}\n{log}");
    let out = run_ok(
        dir.path(),
        &data,
        &[],
        &[
            "analytics",
            "--date",
            &today.to_string(),
            "--name",
            "top_user",
        ],
    );
    assert!(
        text(&out.stdout).contains("(1 row)"),
        "{}",
        text(&out.stdout)
    );
}
