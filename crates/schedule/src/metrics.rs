//! The batch layer's and the scheduler's metric families, each named once here. They are gauges
//! read from the serving DB's run history (`runs`, `task_runs`, `batch_runs`) by every process
//! that opens it, so runs of one-shot `pinpipe batch`/`trigger` and of Airflow show up too; only
//! the attempt counter counts what this process ran.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use croner::Cron;
use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};
use pinpipe_serving::ServingDb;

use crate::{ScheduleError, TASKS, due_dates, midnight};

/// 00:00 UTC of the latest date whose analytics are published (gauge).
pub const BATCH_LATEST_DATE: &str = "pinpipe_batch_latest_date_timestamp_seconds";
/// `finished_at` of that run (gauge).
pub const BATCH_LAST_SUCCESS: &str = "pinpipe_batch_last_success_timestamp_seconds";
/// Seconds of each phase of the latest batch run (gauge; `stage`).
pub const BATCH_STAGE_SECONDS: &str = "pinpipe_batch_last_run_stage_seconds";
/// Rows of each phase of the latest batch run (gauge; `stage`).
pub const BATCH_STAGE_ROWS: &str = "pinpipe_batch_last_run_stage_rows";
/// Runs in the history per state (gauge; `state`).
pub const RUNS: &str = "pinpipe_schedule_runs";
/// Attempts finished by this process (counter; `task`, `state`).
pub const TASK_ATTEMPTS: &str = "pinpipe_schedule_task_attempts_total";
/// Duration of each task's latest attempt (gauge; `task`).
pub const TASK_LAST_DURATION: &str = "pinpipe_schedule_task_last_duration_seconds";
/// End of the last successful run (gauge).
pub const LAST_SUCCESS: &str = "pinpipe_schedule_last_success_timestamp_seconds";
/// The next cron fire (gauge).
pub const NEXT_RUN: &str = "pinpipe_schedule_next_run_timestamp_seconds";
/// Dates due in the catch-up window that have not succeeded yet (gauge).
pub const PENDING_DATES: &str = "pinpipe_schedule_pending_dates";

/// Run states of the `state` label.
pub const RUN_STATES: [&str; 3] = ["running", "success", "failed"];
/// Attempt outcomes of the `state` label.
pub const ATTEMPT_STATES: [&str; 2] = ["success", "failed"];

/// Describes the families and creates the attempt counters and run gauges at 0.
pub fn describe() {
    describe_gauge!(
        BATCH_LATEST_DATE,
        Unit::Seconds,
        "00:00 UTC of the latest date whose analytics are published"
    );
    describe_gauge!(
        BATCH_LAST_SUCCESS,
        Unit::Seconds,
        "When the latest published batch run finished"
    );
    describe_gauge!(
        BATCH_STAGE_SECONDS,
        Unit::Seconds,
        "Seconds of each phase of the latest batch run"
    );
    describe_gauge!(
        BATCH_STAGE_ROWS,
        Unit::Count,
        "Rows of each phase of the latest batch run"
    );
    describe_gauge!(
        RUNS,
        Unit::Count,
        "Runs of the daily DAG in the history, per state"
    );
    describe_counter!(
        TASK_ATTEMPTS,
        Unit::Count,
        "Task attempts finished by this process"
    );
    describe_gauge!(
        TASK_LAST_DURATION,
        Unit::Seconds,
        "Duration of each task's latest attempt"
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "End of the last successful run of the daily DAG"
    );
    describe_gauge!(
        NEXT_RUN,
        Unit::Seconds,
        "The next time the scheduler's cron fires"
    );
    describe_gauge!(
        PENDING_DATES,
        Unit::Count,
        "Dates due in the catch-up window that have not succeeded yet"
    );
    for task in TASKS {
        for state in ATTEMPT_STATES {
            counter!(TASK_ATTEMPTS, "task" => task, "state" => state).increment(0);
        }
    }
    for state in RUN_STATES {
        gauge!(RUNS, "state" => state).set(0.0);
    }
    // Timestamps at 0 until there is a run ("never"), so that alerts on them fire from the start.
    for timestamp in [BATCH_LATEST_DATE, BATCH_LAST_SUCCESS, LAST_SUCCESS] {
        gauge!(timestamp).set(0.0);
    }
    for task in TASKS {
        gauge!(TASK_LAST_DURATION, "task" => task).set(0.0);
    }
}

/// Counts an attempt this process finished.
pub(crate) fn attempt_finished(task: &'static str, state: &'static str) {
    counter!(TASK_ATTEMPTS, "task" => task, "state" => state).increment(1);
}

/// A stage name as a label value: `curated pins` → `curated_pins`.
fn stage_code(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn seconds(time: DateTime<Utc>) -> f64 {
    time.timestamp_millis() as f64 / 1000.0
}

/// Sets the batch and schedule gauges from the serving DB's history; `cron` and `catchup_days`
/// (the scheduler's settings) give the next run and the pending dates.
pub async fn refresh(db: &ServingDb, cron: &Cron, catchup_days: u32) -> Result<(), ScheduleError> {
    let now = Utc::now();
    let runs = db.runs(100_000).await?;
    let mut per_state: BTreeMap<&str, u64> = RUN_STATES.iter().map(|s| (*s, 0)).collect();
    let mut last_success: Option<DateTime<Utc>> = None;
    let mut succeeded = BTreeSet::new();
    let mut latest_attempt: BTreeMap<String, (DateTime<Utc>, f64)> = BTreeMap::new();
    // The newest batch summary with stages: a DAG run's batch task detail, or below a
    // `pinpipe batch`'s row in `batch_runs`.
    let mut stages: Option<(DateTime<Utc>, Vec<serde_json::Value>)> = None;
    for run in &runs {
        if let Some(count) = per_state.get_mut(run.state.as_str()) {
            *count += 1;
        }
        if run.state == "success" {
            succeeded.insert(run.dt);
            last_success = last_success.max(run.ended_at);
        }
        for task in &run.tasks {
            let Some(ended) = task.ended_at else {
                continue;
            };
            if task.task == "batch"
                && task.state == "success"
                && stages.as_ref().is_none_or(|(at, _)| ended > *at)
                && let Some(list) = task
                    .detail
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .and_then(|d| {
                        d.get("stages")
                            .and_then(serde_json::Value::as_array)
                            .cloned()
                    })
            {
                stages = Some((ended, list));
            }
            let duration = (ended - task.started_at).as_seconds_f64().max(0.0);
            let entry = latest_attempt
                .entry(task.task.clone())
                .or_insert((task.started_at, duration));
            if task.started_at >= entry.0 {
                *entry = (task.started_at, duration);
            }
        }
    }
    for (state, count) in per_state {
        gauge!(RUNS, "state" => state).set(count as f64);
    }
    if let Some(at) = last_success {
        gauge!(LAST_SUCCESS).set(seconds(at));
    }
    for task in TASKS {
        if let Some((_, duration)) = latest_attempt.get(task) {
            gauge!(TASK_LAST_DURATION, "task" => task).set(*duration);
        }
    }
    if let Ok(next) = cron.find_next_occurrence(&now, false) {
        gauge!(NEXT_RUN).set(seconds(next));
    }
    let window_start = now - chrono::Duration::days(i64::from(catchup_days));
    let pending = due_dates(cron, window_start, now)
        .into_iter()
        .filter(|d| !succeeded.contains(d))
        .count();
    gauge!(PENDING_DATES).set(pending as f64);
    if let Some(latest) = db.batch_runs(1).await?.into_iter().next() {
        gauge!(BATCH_LATEST_DATE).set(seconds(midnight(latest.dt)));
        gauge!(BATCH_LAST_SUCCESS).set(seconds(latest.finished_at));
        if let Some(list) = latest
            .summary
            .get("stages")
            .and_then(serde_json::Value::as_array)
            && stages
                .as_ref()
                .is_none_or(|(at, _)| latest.finished_at > *at)
        {
            stages = Some((latest.finished_at, list.clone()));
        }
    }
    if let Some((_, stages)) = stages {
        for stage in stages {
            let Some(name) = stage.get("name").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let code = stage_code(name);
            let number = |key: &str| {
                stage
                    .get(key)
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0)
            };
            gauge!(BATCH_STAGE_SECONDS, "stage" => code.clone()).set(number("seconds"));
            gauge!(BATCH_STAGE_ROWS, "stage" => code).set(number("rows"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn stage_names_become_snake_case_codes() {
        assert_eq!(super::stage_code("curated pins"), "curated_pins");
        assert_eq!(super::stage_code("Analytics"), "analytics");
    }
}
