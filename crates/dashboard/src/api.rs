//! The JSON API: what the pages poll, each document built by one function the page renders from
//! too, so a page's first paint and its updates show the same numbers.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use pinpipe_serving::Cell;
use pinpipe_serving::dashboard::{ANALYTICS_TABLES, analytics_table};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{ApiError, DashboardState, LOG_TIMEOUT, bounded};

/// Bytes of a dead letter's raw value shown.
pub const RAW_PREFIX_BYTES: i64 = 512;
/// Most dead letters one request lists.
pub const MAX_DEAD_LETTERS: i64 = 500;
/// Most runs one request lists.
pub const MAX_RUNS: i64 = 200;
/// Most minutes of windows one request covers (a day).
pub const MAX_MINUTES: i64 = 1440;
/// Most window rows one request returns.
const MAX_WINDOW_ROWS: i64 = 20_000;
/// Most rows of one analytic shown.
pub const MAX_ANALYTICS_ROWS: i64 = 1000;

pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The query string parsed as `T` (unknown parameters are refused), or a 400.
pub(crate) fn params<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("bad query parameters: {}", e.body_text())))
}

/// An integer parameter within `min..=max`, `default` when absent.
pub(crate) fn int_param(
    name: &str,
    value: Option<&str>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{name}={text:?}: give a whole number from {min} to {max}"
        ))),
    }
}

/// A `YYYY-MM-DD` parameter.
pub(crate) fn date_param(value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                ApiError::bad_request(format!("date={text:?}: give a date as YYYY-MM-DD"))
            }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MinutesQuery {
    minutes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeadLettersQuery {
    pub(crate) topic: Option<String>,
    pub(crate) limit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitQuery {
    pub(crate) limit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DateQuery {
    pub(crate) date: Option<String>,
}

/// `pin_windows` of the last `minutes`, and which minutes are the current and the previous one.
pub(crate) async fn windows_doc(state: &DashboardState, minutes: i64) -> Result<Value, ApiError> {
    let db = state.serving().await?;
    let now = Utc::now();
    let current = pinpipe_serving::window_start(now);
    let since = current - Duration::minutes(minutes - 1);
    let rows = bounded(db.windows_since(since, MAX_WINDOW_ROWS)).await?;
    Ok(json!({
        "minutes": minutes,
        "time": time_text(now),
        "current_window": time_text(current),
        "previous_window": time_text(current - Duration::minutes(1)),
        "windows": rows.iter().map(|w| json!({
            "window_start": time_text(w.window_start),
            "category": w.category,
            "events": w.events,
            "distinct_pins": w.distinct_pins,
            "videos": w.videos,
            "images": w.images,
            "total_followers": w.total_followers,
        })).collect::<Vec<_>>(),
    }))
}

/// `GET /api/v1/windows?minutes=60`.
pub(crate) async fn windows(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let q: MinutesQuery = params(&uri)?;
    let minutes = int_param("minutes", q.minutes.as_deref(), 60, 1, MAX_MINUTES)?;
    windows_doc(&state, minutes).await.map(Json)
}

/// Topics × partitions and each group's committed offsets and lag.
pub(crate) async fn log_doc(state: &DashboardState) -> Result<Value, ApiError> {
    let Some(offsets) = &state.log else {
        return Err(ApiError::unavailable("this process has no event log"));
    };
    let log = offsets.log();
    let topics = match tokio::time::timeout(LOG_TIMEOUT, log.topics()).await {
        Ok(Ok(topics)) => topics,
        Ok(Err(e)) => return Err(ApiError::unavailable(e.to_string())),
        Err(_) => {
            return Err(ApiError::unavailable(
                "the event log did not answer within 2 s",
            ));
        }
    };
    let ends: BTreeMap<(String, u32), u64> = topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| ((t.name.clone(), p.partition), p.end_offset))
        })
        .collect();
    let keys: Vec<(String, u32)> = ends.keys().cloned().collect();
    let mut groups = Vec::new();
    for group in &state.config.groups {
        let committed =
            match tokio::time::timeout(LOG_TIMEOUT, offsets.committed(group, &keys)).await {
                Ok(result) => result,
                Err(_) => Err("the event log did not answer within 2 s".to_owned()),
            };
        match committed {
            Ok(committed) => {
                let mut lag_total = 0u64;
                let partitions: Vec<Value> = ends
                    .iter()
                    .map(|((topic, partition), end)| {
                        let next = committed.get(&(topic.clone(), *partition)).copied();
                        let lag = end.saturating_sub(next.unwrap_or(0));
                        lag_total += lag;
                        json!({"topic": topic, "partition": partition, "committed": next, "end_offset": end, "lag": lag})
                    })
                    .collect();
                groups.push(json!({"group": group, "lag": lag_total, "partitions": partitions}));
            }
            Err(e) => groups.push(json!({"group": group, "error": e, "partitions": []})),
        }
    }
    Ok(json!({
        "backend": log.backend_name(),
        "topics": topics.iter().map(|t| json!({
            "name": t.name,
            "records": t.records(),
            "partitions": t.partitions.iter().map(|p| json!({
                "partition": p.partition,
                "start_offset": p.start_offset,
                "end_offset": p.end_offset,
                "records": p.end_offset - p.start_offset,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "groups": groups,
    }))
}

/// `GET /api/v1/log`.
pub(crate) async fn log(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let _: NoQuery = params(&uri)?;
    log_doc(&state).await.map(Json)
}

/// The contract's short code of a dead letter's reason message (`model::Unusable`'s messages).
pub fn reason_code(message: &str) -> &'static str {
    if message.starts_with("invalid JSON") {
        "invalid_json"
    } else if message.starts_with("not a JSON object") {
        "not_object"
    } else if message.starts_with("missing required field") {
        "missing_field"
    } else if message.starts_with("field `") {
        "wrong_type"
    } else if message.contains("empty record") {
        "empty"
    } else {
        "other"
    }
}

/// The command that prints one record of the log.
pub fn tail_command(topic: &str, partition: u32, offset: u64) -> String {
    format!("pinpipe tail --topic {topic} --partition {partition} --offset {offset} -n 1")
}

/// Dead letters per topic and reason over 24 h, and the latest `limit` (of `topic`).
pub(crate) async fn dead_letters_doc(
    state: &DashboardState,
    topic: Option<&str>,
    limit: i64,
) -> Result<Value, ApiError> {
    let db = state.serving().await?;
    let since = Utc::now() - Duration::hours(24);
    let counts = bounded(db.dead_letter_counts(since, 1000)).await?;
    let mut by_code: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
    for c in &counts {
        *by_code
            .entry((c.topic.clone(), reason_code(&c.reason)))
            .or_default() += c.count;
    }
    let latest = bounded(db.latest_dead_letters(topic, limit, RAW_PREFIX_BYTES)).await?;
    Ok(json!({
        "since": time_text(since),
        "counts": by_code.iter().map(|((topic, reason), count)| json!({"topic": topic, "reason": reason, "count": count})).collect::<Vec<_>>(),
        "latest": latest.iter().map(|d| json!({
            "topic": d.topic,
            "partition": d.partition,
            "offset": d.offset,
            "received_at": d.received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "reason": d.reason,
            "reason_code": reason_code(&d.reason),
            "raw_prefix": d.raw_prefix.as_deref().map(String::from_utf8_lossy),
            "raw_bytes": d.raw_len,
            "tail": tail_command(&d.topic, d.partition, d.offset),
        })).collect::<Vec<_>>(),
    }))
}

/// `GET /api/v1/dead-letters?topic=&limit=`.
pub(crate) async fn dead_letters(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let q: DeadLettersQuery = params(&uri)?;
    let limit = int_param("limit", q.limit.as_deref(), 50, 1, MAX_DEAD_LETTERS)?;
    let topic = q.topic.as_deref().map(str::trim).filter(|t| !t.is_empty());
    dead_letters_doc(&state, topic, limit).await.map(Json)
}

/// The scheduler's latest `limit` runs with their task attempts (`pinpipe runs --json`).
pub(crate) async fn runs_doc(state: &DashboardState, limit: i64) -> Result<Value, ApiError> {
    let db = state.serving().await?;
    let runs = bounded(db.runs(limit)).await?;
    Ok(json!({ "runs": runs }))
}

/// `GET /api/v1/runs?limit=`.
pub(crate) async fn runs(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let q: LimitQuery = params(&uri)?;
    let limit = int_param("limit", q.limit.as_deref(), 30, 1, MAX_RUNS)?;
    runs_doc(&state, limit).await.map(Json)
}

/// The latest `limit` rows of `batch_runs`.
pub(crate) async fn batch_runs_doc(state: &DashboardState, limit: i64) -> Result<Value, ApiError> {
    let db = state.serving().await?;
    let rows = bounded(db.batch_runs(limit)).await?;
    Ok(json!({ "batch_runs": rows }))
}

/// `GET /api/v1/batch-runs?limit=`.
pub(crate) async fn batch_runs(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let q: LimitQuery = params(&uri)?;
    let limit = int_param("limit", q.limit.as_deref(), 30, 1, MAX_RUNS)?;
    batch_runs_doc(&state, limit).await.map(Json)
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(v) => json!(v),
        Cell::Float(v) => json!(v),
        Cell::Text(v) => json!(v),
    }
}

/// The date asked for, or the latest date with a batch run (`None`: there is none).
pub(crate) async fn analytics_date(
    state: &DashboardState,
    date: Option<NaiveDate>,
) -> Result<(Option<NaiveDate>, Vec<NaiveDate>), ApiError> {
    let db = state.serving().await?;
    let dates: Vec<NaiveDate> = bounded(db.batch_runs(MAX_RUNS))
        .await?
        .into_iter()
        .map(|r| r.dt)
        .collect();
    Ok((date.or_else(|| dates.first().copied()), dates))
}

/// One analytic's rows of `date`.
pub(crate) async fn analytic_doc(
    state: &DashboardState,
    name: &str,
    date: NaiveDate,
) -> Result<Value, ApiError> {
    let db = state.serving().await?;
    let rows = bounded(db.analytics_rows(name, date, MAX_ANALYTICS_ROWS)).await?;
    Ok(json!({
        "name": rows.name,
        "date": date.to_string(),
        "columns": rows.columns,
        "rows": rows.rows.iter().map(|r| r.iter().map(cell_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
    }))
}

/// `GET /api/v1/analytics/{name}?date=` (latest date by default).
pub(crate) async fn analytics(
    State(state): State<DashboardState>,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let q: DateQuery = params(&uri)?;
    if analytics_table(&name).is_none() {
        let names: Vec<&str> = ANALYTICS_TABLES.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::not_found(format!(
            "no analytic named {name:?}; one of {}",
            names.join(", ")
        )));
    }
    let date = date_param(q.date.as_deref())?;
    let (date, _) = analytics_date(&state, date).await?;
    let Some(date) = date else {
        return Err(ApiError::not_found(
            "no batch run yet: run `pinpipe batch --date D` or `pinpipe trigger`",
        ));
    };
    analytic_doc(&state, &name, date).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_parameters_are_bounded() {
        assert_eq!(int_param("limit", None, 50, 1, 500).unwrap(), 50);
        assert_eq!(int_param("limit", Some("7"), 50, 1, 500).unwrap(), 7);
        for bad in ["0", "501", "-1", "x", "1.5", ""] {
            let e = int_param("limit", Some(bad), 50, 1, 500).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.detail.contains("limit="), "{}", e.detail);
        }
    }

    #[test]
    fn dates_are_iso() {
        assert_eq!(date_param(None).unwrap(), None);
        assert_eq!(
            date_param(Some("2026-12-01")).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1)
        );
        assert!(date_param(Some("2026-13-01")).is_err());
        assert!(date_param(Some("yesterday")).is_err());
    }

    #[test]
    fn reason_codes_of_the_models_messages() {
        assert_eq!(
            reason_code("invalid JSON: expected value at line 1"),
            "invalid_json"
        );
        assert_eq!(reason_code("not a JSON object: array"), "not_object");
        assert_eq!(
            reason_code("missing required field `unique_id`"),
            "missing_field"
        );
        assert_eq!(
            reason_code("field `ind` must be an integer, got string"),
            "wrong_type"
        );
        assert_eq!(reason_code("empty record"), "empty");
        assert_eq!(reason_code("something new"), "other");
    }

    #[test]
    fn tail_command_names_the_record() {
        assert_eq!(
            tail_command("pins", 2, 17),
            "pinpipe tail --topic pins --partition 2 --offset 17 -n 1"
        );
    }
}
