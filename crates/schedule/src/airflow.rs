//! The daily DAG as an Apache Airflow 3 DAG file: the same tasks, as BashOperators that call the
//! pinpipe binary, with the schedule, retries, timeout and catch-up of `[schedule]`.

use chrono::{Days, NaiveDate};

use crate::ScheduleConfig;

/// Where the generated DAG finds pinpipe.
#[derive(Debug, Clone)]
pub struct Target {
    /// The pinpipe binary (absolute path); `PINPIPE_BIN` overrides it when Airflow parses the file.
    pub binary: String,
    /// Arguments put before every command (`--data-dir …`, `--config …`).
    pub global_args: Vec<String>,
    /// Arguments added to the batch task (`--engine ballista://…`).
    pub batch_args: Vec<String>,
    /// The day the file is written (catch-up starts `catchup_days` before it).
    pub today: NaiveDate,
}

/// A Python string literal (single-quoted, escaped).
fn py(text: &str) -> String {
    let mut out = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The DAG file's text.
pub fn dag_file(config: &ScheduleConfig, target: &Target) -> String {
    let start = target.today - Days::new(u64::from(config.catchup_days.max(1)));
    let args: Vec<String> = target.global_args.iter().map(|a| py(a)).collect();
    let batch_args: Vec<String> = target.batch_args.iter().map(|a| py(a)).collect();
    format!(
        r#""""pinpipe's daily batch for Apache Airflow 3, written by `pinpipe airflow-dag`.

The same DAG as pinpipe's built-in scheduler (`pinpipe schedule`): a run fired on day D+1 computes
day D (UTC) with five idempotent tasks, each a call of the pinpipe binary:
wait_watermark >> batch >> reconcile >> publish >> retention.
Schedule, retries, retry delay, task timeout and catch-up come from pinpipe's [schedule] config.
Set PINPIPE_BIN to use another pinpipe binary than the one that wrote this file.
"""

import os
import shlex
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

PINPIPE = os.environ.get("PINPIPE_BIN", {binary})
GLOBAL_ARGS = [{args}]
# The batch task's engine: in the task's process, or a Ballista cluster's scheduler.
BATCH_ARGS = [{batch_args}]
# The day a run computes: the day before the run's logical date.
DAY = "{{{{ macros.ds_add(ds, -1) }}}}"


def pinpipe(*args):
    return " ".join(shlex.quote(a) for a in [PINPIPE, *GLOBAL_ARGS, *args])


with DAG(
    dag_id="pinpipe_daily",
    description="pinpipe: raw zone -> curated Delta tables -> the 11 daily analytics",
    schedule={cron},
    start_date=datetime({sy}, {sm}, {sd}),
    catchup={catchup},
    max_active_runs=1,
    default_args={{
        "retries": {retries},
        "retry_delay": timedelta(seconds={delay}),
        "execution_timeout": timedelta(seconds={timeout}),
    }},
    tags=["pinpipe"],
) as dag:
    wait_watermark = BashOperator(
        task_id="wait_watermark",
        bash_command=pinpipe("task", "wait_watermark", "--date", DAY),
    )
    batch = BashOperator(
        task_id="batch",
        bash_command=pinpipe("batch", "--date", DAY, "--no-serving", *BATCH_ARGS),
    )
    reconcile = BashOperator(
        task_id="reconcile",
        bash_command=pinpipe("task", "reconcile", "--date", DAY),
    )
    publish = BashOperator(
        task_id="publish",
        bash_command=pinpipe("task", "publish", "--date", DAY),
    )
    retention = BashOperator(
        task_id="retention",
        bash_command=pinpipe("task", "retention", "--date", DAY),
    )
    wait_watermark >> batch >> reconcile >> publish >> retention
"#,
        binary = py(&target.binary),
        args = args.join(", "),
        batch_args = batch_args.join(", "),
        cron = py(&config.cron),
        sy = start.format("%Y"),
        sm = start.format("%-m"),
        sd = start.format("%-d"),
        catchup = if config.catchup { "True" } else { "False" },
        retries = config.retries,
        delay = config.retry_delay_secs,
        timeout = config.task_timeout_secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dag_carries_the_config_and_quotes_paths() {
        let config = ScheduleConfig {
            cron: "30 1 * * *".into(),
            retries: 3,
            retry_delay_secs: 42,
            catchup: false,
            ..ScheduleConfig::default()
        };
        let target = Target {
            binary: "/opt/pin'pipe".into(),
            global_args: vec!["--data-dir".into(), "/data".into()],
            batch_args: vec!["--engine".into(), "ballista://sched:50050".into()],
            today: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        };
        let dag = dag_file(&config, &target);
        assert!(dag.contains("schedule='30 1 * * *'"), "{dag}");
        assert!(dag.contains("\"retries\": 3"));
        assert!(dag.contains("timedelta(seconds=42)"));
        assert!(dag.contains("catchup=False"));
        assert!(dag.contains("'/opt/pin\\'pipe'"));
        assert!(dag.contains("start_date=datetime(2026, 11, 19)"));
        assert!(dag.contains("\"{{ macros.ds_add(ds, -1) }}\""));
        assert!(
            dag.contains("BATCH_ARGS = ['--engine', 'ballista://sched:50050']"),
            "{dag}"
        );
        assert!(dag.contains("\"--no-serving\", *BATCH_ARGS)"), "{dag}");
    }
}
