//! The pages, rendered on the server from the same documents the JSON API returns. Each page
//! embeds its document as `<script id="initial" type="application/json">` for the script, which
//! draws the charts and then polls for updates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::Uri;
use axum::response::Html;
use chrono::{DateTime, NaiveDate, Utc};
use pinpipe_serving::dashboard::ANALYTICS_TABLES;
use serde_json::{Value, json};

use crate::api::{self, DateQuery, NoQuery, params};
use crate::html::{bars, chart, count, esc, notice, number, page, table};
use crate::{ApiError, DashboardState, stage_health};

/// The daily DAG's tasks in their order (the scheduler's `TASKS`); tasks found in the history
/// that are not listed follow.
const TASK_ORDER: [&str; 5] = [
    "wait_watermark",
    "batch",
    "reconcile",
    "publish",
    "retention",
];

/// A count: a JSON integer, or a float as the overview's sampler gives its totals and gauges
/// (`1234.0`), rounded; 0 when absent or negative.
fn u(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(|n| {
            n.as_u64()
                .or_else(|| n.as_f64().map(|f| f.max(0.0).round() as u64))
        })
        .unwrap_or(0)
}

fn fl(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One field of a tile: `<div><dt>label</dt><dd data-field=key>value</dd></div>`.
fn field(out: &mut String, key: &str, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div><dt>{}</dt><dd data-field=\"{}\">{}</dd></div>",
        esc(label),
        esc(key),
        esc(value)
    );
}

fn tile(name: &str, title: &str, stage: &Value, now: DateTime<Utc>) -> String {
    let health = stage_health(name, stage, now);
    let mut out = format!(
        "<section class=\"tile {}\" data-stage=\"{}\"><h2>{}</h2><dl>",
        health.class(),
        esc(name),
        esc(title)
    );
    match name {
        "batch" => {
            field(
                &mut out,
                "latest_date",
                "latest date",
                stage
                    .get("latest_date")
                    .and_then(Value::as_str)
                    .unwrap_or("none yet"),
            );
            field(
                &mut out,
                "last_success",
                "last success",
                stage
                    .get("last_success")
                    .and_then(Value::as_str)
                    .unwrap_or("never"),
            );
        }
        _ => {
            field(&mut out, "rate", "events/s", &number(fl(stage, "rate")));
            field(&mut out, "total", "total", &count(u(stage, "total")));
            if name == "log" {
                field(
                    &mut out,
                    "pending",
                    "pending appends",
                    &format!(
                        "{} / {}",
                        count(u(stage, "pending")),
                        count(u(stage, "pending_limit"))
                    ),
                );
            }
            if name == "stream" || name == "lake" {
                field(
                    &mut out,
                    "lag_records",
                    "lag records",
                    &count(u(stage, "lag_records")),
                );
                field(
                    &mut out,
                    "lag_seconds",
                    "lag s",
                    &number(fl(stage, "lag_seconds")),
                );
            }
            if name != "log" {
                field(
                    &mut out,
                    "errors_per_min",
                    "errors/min",
                    &number(fl(stage, "errors_per_min")),
                );
            }
        }
    }
    out.push_str("</dl></section>");
    out
}

/// The pipeline strip from an overview document.
pub(crate) fn strip(overview: &Value, now: DateTime<Utc>) -> String {
    let stages = overview.get("stages").cloned().unwrap_or(json!({}));
    let stage = |name: &str| stages.get(name).cloned().unwrap_or(json!({}));
    format!(
        "<div class=\"strip\" id=\"strip\">{}<span class=\"arrow\">→</span>{}<span class=\"arrow\">→</span>\
         <div class=\"fork\">{}{}</div><span class=\"arrow\">→</span>{}</div>",
        tile("ingest", "Ingest API", &stage("ingest"), now),
        tile("log", "Event log", &stage("log"), now),
        tile("stream", "Speed layer", &stage("stream"), now),
        tile("lake", "Lake writer", &stage("lake"), now),
        tile("batch", "Batch", &stage("batch"), now),
    )
}

/// `GET /dashboard`.
pub(crate) async fn overview(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Html<String>, ApiError> {
    let _: NoQuery = params(&uri)?;
    let overview = state.overview(None);
    let mut body = strip(&overview, Utc::now());
    let _ = write!(
        body,
        "<p class=\"meta\">overview #<span id=\"seq\">{}</span> at <span id=\"time\">{}</span>; charts: the last {} minutes</p><div class=\"charts\">{}{}{}{}</div>",
        u(&overview, "seq"),
        esc(s(&overview, "time")),
        state.config.history_minutes,
        chart("chart-rates", "Events/s per stage"),
        chart("chart-lag", "Lag, seconds, per consumer group"),
        chart("chart-http", "HTTP latency p50 / p99, seconds"),
        chart("chart-errors", "Rejects and dead letters per minute"),
    );
    Ok(Html(page("overview", "Pipeline", &body, &overview)))
}

fn windows_body(doc: &Value) -> String {
    let current = s(doc, "current_window");
    let previous = s(doc, "previous_window");
    let empty = Vec::new();
    let windows = doc
        .get("windows")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut out = chart(
        "chart-windows",
        "Pin events per minute, stacked by category",
    );
    let _ = write!(
        out,
        "<h2>Current and previous minute</h2><table id=\"minutes\"><thead><tr><th>minute</th><th>category</th>\
         <th>events</th><th>distinct_pins</th><th>videos</th><th>images</th><th>total_followers</th></tr></thead><tbody>"
    );
    let mut any = false;
    for window in [current, previous] {
        for w in windows.iter().filter(|w| s(w, "window_start") == window) {
            any = true;
            let which = if window == current {
                "current"
            } else {
                "previous"
            };
            let _ = write!(
                out,
                "<tr class=\"{which}\" data-window=\"{ws}\" data-category=\"{cat}\"><td>{which} ({ws})</td><td>{catshow}</td>\
                 <td class=\"events\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                u(w, "events"),
                u(w, "distinct_pins"),
                u(w, "videos"),
                u(w, "images"),
                w.get("total_followers")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                ws = esc(window),
                cat = esc(s(w, "category")),
                catshow = if s(w, "category").is_empty() {
                    "(none)".to_owned()
                } else {
                    esc(s(w, "category"))
                },
            );
        }
    }
    if !any {
        out.push_str(
            "<tr class=\"empty\"><td colspan=\"7\">no pin events in these two minutes</td></tr>",
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// `GET /dashboard/realtime`.
pub(crate) async fn realtime(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Html<String>, ApiError> {
    let _: NoQuery = params(&uri)?;
    let (body, initial) = match api::windows_doc(&state, 60).await {
        Ok(doc) => (windows_body(&doc), doc),
        Err(e) => (
            format!(
                "{}{}",
                notice(&e.detail),
                chart("chart-windows", "Pin events per minute")
            ),
            json!({"error": e.detail}),
        ),
    };
    Ok(Html(page("realtime", "Real time", &body, &initial)))
}

fn log_body(doc: &Value, overview: &Value) -> String {
    let empty = Vec::new();
    let log_stage = overview
        .get("stages")
        .and_then(|s| s.get("log"))
        .cloned()
        .unwrap_or(json!({}));
    let mut out = format!(
        "<p class=\"meta\">backend: {}; appends pending <span id=\"pending\">{}</span> of at most {}; {} records/s</p>",
        esc(s(doc, "backend")),
        count(u(&log_stage, "pending")),
        count(u(&log_stage, "pending_limit")),
        number(fl(&log_stage, "rate")),
    );
    let mut rows = Vec::new();
    for t in doc
        .get("topics")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        for p in t
            .get("partitions")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            rows.push(vec![
                s(t, "name").to_owned(),
                u(p, "partition").to_string(),
                u(p, "start_offset").to_string(),
                u(p, "end_offset").to_string(),
                u(p, "records").to_string(),
            ]);
        }
    }
    out.push_str("<h2>Topics and partitions</h2>");
    out.push_str(&table(
        "topics",
        &["topic", "partition", "start", "end", "records"],
        &rows,
    ));
    for g in doc
        .get("groups")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let group = s(g, "group");
        let _ = write!(out, "<h2>Group {}</h2>", esc(group));
        if let Some(error) = g.get("error").and_then(Value::as_str) {
            out.push_str(&notice(error));
            continue;
        }
        let rows: Vec<Vec<String>> = g
            .get("partitions")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .map(|p| {
                vec![
                    s(p, "topic").to_owned(),
                    u(p, "partition").to_string(),
                    p.get("committed")
                        .and_then(Value::as_u64)
                        .map_or("none".to_owned(), |c| c.to_string()),
                    u(p, "end_offset").to_string(),
                    u(p, "lag").to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            &format!("group-{group}"),
            &["topic", "partition", "committed", "end", "lag records"],
            &rows,
        ));
        let _ = write!(
            out,
            "<p class=\"meta\">lag, all partitions: {} records</p>",
            u(g, "lag")
        );
    }
    out
}

/// `GET /dashboard/log`.
pub(crate) async fn log(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Html<String>, ApiError> {
    let _: NoQuery = params(&uri)?;
    let overview = state.overview(None);
    let (body, initial) = match api::log_doc(&state).await {
        Ok(doc) => (log_body(&doc, &overview), doc),
        Err(e) => (notice(&e.detail), json!({"error": e.detail})),
    };
    Ok(Html(page("log", "Event log", &body, &initial)))
}

fn dead_letters_body(doc: &Value) -> String {
    let empty = Vec::new();
    let mut out = format!(
        "<h2>Dead letters per topic and reason since {}</h2>",
        esc(s(doc, "since"))
    );
    let rows: Vec<Vec<String>> = doc
        .get("counts")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .map(|c| {
            vec![
                s(c, "topic").to_owned(),
                s(c, "reason").to_owned(),
                u(c, "count").to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        "dead-letter-counts",
        &["topic", "reason", "count"],
        &rows,
    ));
    out.push_str(
        "<h2>Latest dead letters</h2><table id=\"dead-letters\"><thead><tr><th>topic</th><th>partition</th>\
         <th>offset</th><th>received_at</th><th>reason</th><th>raw (first 512 bytes)</th><th>see it</th></tr></thead><tbody>",
    );
    let latest = doc
        .get("latest")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if latest.is_empty() {
        out.push_str("<tr class=\"empty\"><td colspan=\"7\">none</td></tr>");
    }
    for d in latest {
        let raw = d
            .get("raw_prefix")
            .and_then(Value::as_str)
            .map_or("(no value)".to_owned(), esc);
        let more = if u(d, "raw_bytes") > api::RAW_PREFIX_BYTES as u64 {
            format!(" … ({} bytes)", u(d, "raw_bytes"))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<tr data-topic=\"{topic}\" data-partition=\"{p}\" data-offset=\"{o}\"><td>{topic}</td><td>{p}</td><td>{o}</td>\
             <td>{at}</td><td>{reason}</td><td><code class=\"raw\">{raw}</code>{more}</td><td><code>{tail}</code></td></tr>",
            topic = esc(s(d, "topic")),
            p = u(d, "partition"),
            o = u(d, "offset"),
            at = esc(s(d, "received_at")),
            reason = esc(s(d, "reason")),
            tail = esc(s(d, "tail")),
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn rejects_body(overview: &Value, limit: usize) -> String {
    let Some(rejects) = overview.get("rejects").and_then(Value::as_array) else {
        return "<h2>Ingest rejects</h2><p class=\"meta\">the overview carries no reject samples in this process</p>".to_owned();
    };
    let rows: Vec<Vec<String>> = rejects
        .iter()
        .take(limit)
        .map(|r| {
            let text = |k: &str| match r.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            };
            vec![
                text("time"),
                text("route"),
                text("status"),
                text("detail"),
                text("body"),
                text("request_id"),
            ]
        })
        .collect();
    format!(
        "<h2>Ingest rejects (latest {})</h2>{}",
        rows.len(),
        table(
            "rejects",
            &[
                "time",
                "route",
                "status",
                "detail",
                "body (first 512 bytes)",
                "request id"
            ],
            &rows
        )
    )
}

/// `GET /dashboard/errors`.
pub(crate) async fn errors(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Html<String>, ApiError> {
    let _: NoQuery = params(&uri)?;
    let overview = state.overview(None);
    let (mut body, initial) = match api::dead_letters_doc(&state, None, 50).await {
        Ok(doc) => (dead_letters_body(&doc), doc),
        Err(e) => (notice(&e.detail), json!({"error": e.detail})),
    };
    body.push_str(&rejects_body(&overview, state.config.reject_samples));
    Ok(Html(page("errors", "Errors", &body, &initial)))
}

fn duration_text(start: &str, end: Option<&str>) -> String {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok();
    match (parse(start), end.and_then(parse)) {
        (Some(a), Some(b)) => format!("{}s", number((b - a).num_milliseconds() as f64 / 1000.0)),
        (Some(_), None) => "running".to_owned(),
        _ => String::new(),
    }
}

/// Per date, the stage times of the newest successful `batch` attempt in the run history: the
/// scheduler keeps the batch summary as that task's detail, while `batch_runs` then holds what
/// its `publish` task wrote (no stage times).
fn history_stages(runs: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    // Runs come newest first.
    for run in runs {
        let dt = s(run, "dt");
        if out.contains_key(dt) {
            continue;
        }
        let found = run
            .get("tasks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|t| s(t, "task") == "batch" && s(t, "state") == "success")
            .filter_map(|t| t.get("detail").and_then(Value::as_str))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| v.get("stages").and_then(Value::as_array).cloned())
            .rfind(|stages| !stages.is_empty());
        if let Some(stages) = found {
            out.insert(dt.to_owned(), stages);
        }
    }
    out
}

/// A task attempt's detail for people: JSON (the batch summary) indented, other text as it is.
fn detail_text(detail: &str) -> String {
    match serde_json::from_str::<Value>(detail) {
        Ok(v @ Value::Object(_)) => {
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| detail.to_owned())
        }
        _ => detail.to_owned(),
    }
}

fn runs_body(runs: &Value, batch_runs: Option<&Value>) -> String {
    let empty = Vec::new();
    let runs = runs.get("runs").and_then(Value::as_array).unwrap_or(&empty);
    let from_history = history_stages(runs);
    // The latest run of each date (runs come newest first), and how many runs the date had.
    let mut dates: BTreeMap<&str, (&Value, usize)> = BTreeMap::new();
    let mut tasks: Vec<String> = TASK_ORDER.iter().map(|t| (*t).to_owned()).collect();
    for run in runs {
        dates
            .entry(s(run, "dt"))
            .and_modify(|(_, n)| *n += 1)
            .or_insert((run, 1));
        for t in run.get("tasks").and_then(Value::as_array).unwrap_or(&empty) {
            if !tasks.iter().any(|known| known == s(t, "task")) {
                tasks.push(s(t, "task").to_owned());
            }
        }
    }
    let mut out = String::from(
        "<h2>Runs of the daily DAG</h2><table id=\"grid\" class=\"grid\"><thead><tr><th>date</th><th>run</th>",
    );
    for t in &tasks {
        let _ = write!(out, "<th>{}</th>", esc(t));
    }
    out.push_str("</tr></thead><tbody>");
    if dates.is_empty() {
        let _ = write!(
            out,
            "<tr class=\"empty\"><td colspan=\"{}\">no runs yet</td></tr>",
            tasks.len() + 2
        );
    }
    for (dt, (run, n)) in dates.iter().rev() {
        let _ = write!(
            out,
            "<tr data-date=\"{dt}\" data-run=\"{id}\"><th>{dt}</th><td class=\"run {state}\">{state}<br><small>{trigger}, {n} run{plural}</small>{error}</td>",
            dt = esc(dt),
            id = esc(s(run, "run_id")),
            state = esc(s(run, "state")),
            trigger = esc(s(run, "trigger")),
            plural = if *n == 1 { "" } else { "s" },
            error = run
                .get("error")
                .and_then(Value::as_str)
                .map(|e| format!(
                    "<details><summary>error</summary><pre>{}</pre></details>",
                    esc(e)
                ))
                .unwrap_or_default(),
        );
        let attempts = run.get("tasks").and_then(Value::as_array).unwrap_or(&empty);
        for t in &tasks {
            let mine: Vec<&Value> = attempts.iter().filter(|a| s(a, "task") == t).collect();
            let Some(last) = mine.last() else {
                let _ = write!(
                    out,
                    "<td class=\"cell none\" data-task=\"{}\" data-state=\"none\">–</td>",
                    esc(t)
                );
                continue;
            };
            let _ = write!(
                out,
                "<td class=\"cell {state}\" data-task=\"{task}\" data-state=\"{state}\" data-attempts=\"{n}\">{state}<br><small>{n} attempt{plural}, {dur}</small>",
                state = esc(s(last, "state")),
                task = esc(t),
                n = mine.len(),
                plural = if mine.len() == 1 { "" } else { "s" },
                dur = esc(&duration_text(
                    s(last, "started_at"),
                    last.get("ended_at").and_then(Value::as_str)
                )),
            );
            let notes: Vec<String> = mine
                .iter()
                .filter_map(|a| {
                    let text = [a.get("error"), a.get("detail")]
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(detail_text)
                        .collect::<Vec<_>>()
                        .join("\n");
                    (!text.is_empty()).then(|| format!("attempt {}: {}", u(a, "attempt"), text))
                })
                .collect();
            if !notes.is_empty() {
                let _ = write!(
                    out,
                    "<details><summary>details</summary><pre>{}</pre></details>",
                    esc(&notes.join("\n"))
                );
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out.push_str("<h2>Batch runs: time per stage</h2>");
    match batch_runs {
        None => out.push_str(&notice("batch runs not readable")),
        Some(doc) => {
            let rows = doc
                .get("batch_runs")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            if rows.is_empty() {
                out.push_str("<p class=\"meta\">no batch run yet</p>");
            }
            out.push_str("<div id=\"stages\">");
            for r in rows {
                let summary = r.get("summary").cloned().unwrap_or(json!({}));
                let mut stages = summary
                    .get("stages")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if stages.is_empty()
                    && let Some(found) = from_history.get(s(r, "dt"))
                {
                    stages.clone_from(found);
                }
                if stages.is_empty() {
                    // The scheduler's publish task records only what it published.
                    let published = summary
                        .get("published_rows")
                        .and_then(Value::as_u64)
                        .map(|n| format!(" ({n} analytics rows published)"))
                        .unwrap_or_default();
                    let _ = write!(
                        out,
                        "<div class=\"stagerun\" data-date=\"{dt}\"><span class=\"bar-label\">{dt}</span>\
                         <span class=\"meta\">no stage times recorded for this run{published}</span></div>",
                        dt = esc(s(r, "dt")),
                    );
                    continue;
                }
                let total: f64 = stages.iter().map(|st| fl(st, "seconds")).sum();
                let _ = write!(
                    out,
                    "<div class=\"stagerun\" data-date=\"{dt}\"><span class=\"bar-label\">{dt}</span><span class=\"stagebar\">",
                    dt = esc(s(r, "dt"))
                );
                for (i, st) in stages.iter().enumerate() {
                    let width = if total > 0.0 {
                        fl(st, "seconds") / total * 100.0
                    } else {
                        0.0
                    };
                    let _ = write!(
                        out,
                        "<span class=\"seg seg{}\" style=\"width:{width:.1}%\" title=\"{name}: {secs}s, {rows} rows\"></span>",
                        i % 6,
                        name = esc(s(st, "name")),
                        secs = number(fl(st, "seconds")),
                        rows = u(st, "rows"),
                    );
                }
                let _ = write!(
                    out,
                    "</span><span class=\"bar-value\">{}s</span></div>",
                    number(total)
                );
                let legend: Vec<Vec<String>> = stages
                    .iter()
                    .map(|st| {
                        vec![
                            s(st, "name").to_owned(),
                            number(fl(st, "seconds")),
                            u(st, "rows").to_string(),
                        ]
                    })
                    .collect();
                let _ = write!(
                    out,
                    "<details class=\"stagelegend\"><summary>stages of {}</summary>{}</details>",
                    esc(s(r, "dt")),
                    table("", &["stage", "seconds", "rows"], &legend)
                );
            }
            out.push_str("</div>");
        }
    }
    out
}

/// `GET /dashboard/runs`.
pub(crate) async fn runs(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Html<String>, ApiError> {
    let _: NoQuery = params(&uri)?;
    let (body, initial) = match api::runs_doc(&state, 50).await {
        Ok(doc) => {
            let batch = api::batch_runs_doc(&state, 30).await.ok();
            (runs_body(&doc, batch.as_ref()), doc)
        }
        Err(e) => (notice(&e.detail), json!({"error": e.detail})),
    };
    Ok(Html(page("runs", "Runs", &body, &initial)))
}

/// Columns that hold an analytic's measure (what its bars show), in preference order.
const VALUE_COLUMNS: [&str; 5] = [
    "category_count",
    "follower_count",
    "number_users_joined",
    "pins",
    "median_follower_count",
];

/// Columns that are measures, not part of a row's label.
const MEASURES: [&str; 7] = [
    "category_count",
    "follower_count",
    "median_follower_count",
    "number_users_joined",
    "pins",
    "images",
    "videos",
];

fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn analytic_body(doc: &Value) -> String {
    let empty = Vec::new();
    let name = s(doc, "name");
    let columns: Vec<&str> = doc
        .get("columns")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let rows = doc.get("rows").and_then(Value::as_array).unwrap_or(&empty);
    let value_col = VALUE_COLUMNS
        .iter()
        .find_map(|v| columns.iter().position(|c| c == v));
    let mut out = format!(
        "<figure class=\"analytic panel\" data-analytic=\"{}\"><figcaption>{} <small>({} rows)</small></figcaption>",
        esc(name),
        esc(name),
        rows.len()
    );
    if let Some(vi) = value_col {
        let points: Vec<(String, f64)> = rows
            .iter()
            .filter_map(Value::as_array)
            .map(|r| {
                let label = r
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        *i != vi && !MEASURES.contains(&columns.get(*i).copied().unwrap_or(""))
                    })
                    .map(|(_, v)| cell_text(v))
                    .collect::<Vec<_>>()
                    .join(" · ");
                (label, r.get(vi).and_then(Value::as_f64).unwrap_or(0.0))
            })
            .collect();
        out.push_str(&bars(&points, ""));
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .filter_map(Value::as_array)
        .map(|r| r.iter().map(cell_text).collect())
        .collect();
    let _ = write!(
        out,
        "<details><summary>table</summary>{}</details></figure>",
        table("", &columns, &table_rows)
    );
    out
}

fn trend_body(trend: &[pinpipe_serving::dashboard::CategoryTrendRow]) -> String {
    let categories: BTreeSet<&str> = trend.iter().map(|r| r.category.as_str()).collect();
    let mut by_date: BTreeMap<NaiveDate, BTreeMap<&str, i64>> = BTreeMap::new();
    for r in trend {
        by_date.entry(r.dt).or_default().insert(&r.category, r.pins);
    }
    let mut header = vec!["date"];
    header.extend(categories.iter().copied());
    let rows: Vec<Vec<String>> = by_date
        .iter()
        .rev()
        .map(|(dt, pins)| {
            let mut row = vec![dt.to_string()];
            row.extend(
                categories
                    .iter()
                    .map(|c| pins.get(c).map_or(String::new(), |p| p.to_string())),
            );
            row
        })
        .collect();
    format!(
        "<h2>Trend: pins per category over dates (category_summary)</h2>{}<details><summary>table</summary>{}</details>",
        chart("chart-trend", "Pins per category, by date"),
        table("trend", &header, &rows)
    )
}

/// `GET /dashboard/analytics?date=`.
pub(crate) async fn analytics(
    State(state): State<DashboardState>,
    uri: Uri,
) -> Result<Html<String>, ApiError> {
    let q: DateQuery = params(&uri)?;
    let asked = api::date_param(q.date.as_deref())?;
    let (date, dates) = match api::analytics_date(&state, asked).await {
        Ok(found) => found,
        Err(e) => {
            let body = format!(
                "{}{}",
                notice(&e.detail),
                chart("chart-trend", "Pins per category, by date")
            );
            return Ok(Html(page(
                "analytics",
                "Analytics",
                &body,
                &json!({"error": e.detail}),
            )));
        }
    };
    let mut body = String::from(
        "<form method=\"get\" action=\"/dashboard/analytics\" id=\"date-form\"><label>date <select name=\"date\" id=\"date\">",
    );
    for d in &dates {
        let selected = if Some(*d) == date { " selected" } else { "" };
        let _ = write!(body, "<option value=\"{d}\"{selected}>{d}</option>");
    }
    if let Some(d) = date.filter(|d| !dates.contains(d)) {
        let _ = write!(body, "<option value=\"{d}\" selected>{d} (no run)</option>");
    }
    body.push_str("</select></label> <button type=\"submit\">show</button></form>");
    let mut initial = json!({"date": date.map(|d| d.to_string()), "trend": []});
    match date {
        None => body.push_str(&notice(
            "no batch run yet: run `pinpipe batch --date D` or `pinpipe trigger --date D`",
        )),
        Some(d) => {
            let _ = write!(
                body,
                "<p class=\"meta\">the 11 analytics of <strong id=\"shown-date\">{d}</strong></p><div class=\"analytics\">"
            );
            for (name, _) in ANALYTICS_TABLES {
                match api::analytic_doc(&state, name, d).await {
                    Ok(doc) => body.push_str(&analytic_body(&doc)),
                    Err(e) => body.push_str(&notice(&format!("{name}: {}", e.detail))),
                }
            }
            body.push_str("</div>");
        }
    }
    let trend = match state.serving().await {
        Ok(db) => crate::bounded(db.category_trend(30)).await,
        Err(e) => Err(e),
    };
    match trend {
        Ok(trend) => {
            body.push_str(&trend_body(&trend));
            initial["trend"] = serde_json::to_value(&trend).unwrap_or(json!([]));
        }
        Err(e) => {
            body.push_str(&notice(&e.detail));
            body.push_str(&chart("chart-trend", "Pins per category, by date"));
        }
    }
    Ok(Html(page("analytics", "Analytics", &body, &initial)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_shows_every_stage_with_its_health() {
        let overview = json!({"seq": 3, "stages": {
            "ingest": {"rate": 12.5, "total": 1000, "errors_per_min": 0.0},
            "log": {"rate": 12.5, "total": 1000, "pending": 0, "pending_limit": 16384},
            "stream": {"rate": 12.0, "total": 990, "lag_records": 10, "lag_seconds": 120.0, "errors_per_min": 0.0},
            "lake": {"rate": 0.0, "total": 0, "lag_records": 1000, "lag_seconds": 5.0, "errors_per_min": 0.0},
            "batch": {"latest_date": null, "last_success": null},
        }});
        let html = strip(&overview, Utc::now());
        for stage in ["ingest", "log", "stream", "lake", "batch"] {
            assert!(html.contains(&format!("data-stage=\"{stage}\"")), "{stage}");
        }
        assert!(
            html.contains("class=\"tile red\" data-stage=\"stream\""),
            "{html}"
        );
        assert!(
            html.contains("class=\"tile green\" data-stage=\"lake\""),
            "{html}"
        );
        assert!(
            html.contains("class=\"tile amber\" data-stage=\"batch\""),
            "{html}"
        );
        assert!(html.contains("<dd data-field=\"rate\">12.5</dd>"), "{html}");
        assert!(html.contains("1\u{202f}000"), "{html}");
    }

    #[test]
    fn counts_the_sampler_gives_as_floats_are_shown() {
        // The overview's sampler reads the exposition: its totals and gauges are floats.
        let overview = json!({"stages": {
            "ingest": {"rate": 1.0, "total": 1234.0, "errors_per_min": 0.0},
            "log": {"rate": 1.0, "total": 1234.0, "pending": 3.0, "pending_limit": 16384.0},
            "stream": {"rate": 1.0, "total": 1200.0, "lag_records": 34.0, "lag_seconds": 0.5, "errors_per_min": 0.0},
        }});
        let html = strip(&overview, Utc::now());
        assert!(
            html.contains("<dd data-field=\"total\">1\u{202f}234</dd>"),
            "{html}"
        );
        assert!(html.contains("3 / 16\u{202f}384"), "{html}");
        assert!(
            html.contains("<dd data-field=\"lag_records\">34</dd>"),
            "{html}"
        );
        let log = log_body(
            &json!({"backend": "local", "topics": [], "groups": []}),
            &overview,
        );
        assert!(log.contains("of at most 16\u{202f}384"), "{log}");
    }

    #[test]
    fn runs_grid_has_a_cell_per_task_with_attempts() {
        let runs = json!({"runs": [
            {"run_id": "r2", "dt": "2026-12-01", "trigger": "trigger", "state": "success", "started_at": "2026-12-02T00:00:00Z", "ended_at": "2026-12-02T00:00:09Z", "error": null,
             "tasks": [
                {"task": "wait_watermark", "attempt": 1, "state": "success", "started_at": "2026-12-02T00:00:00Z", "ended_at": "2026-12-02T00:00:01Z", "error": null, "detail": null},
                {"task": "batch", "attempt": 1, "state": "failed", "started_at": "2026-12-02T00:00:01Z", "ended_at": "2026-12-02T00:00:02Z", "error": "<b>disk</b>", "detail": null},
                {"task": "batch", "attempt": 2, "state": "success", "started_at": "2026-12-02T00:00:03Z", "ended_at": "2026-12-02T00:00:08Z", "error": null, "detail": null}
             ]},
            {"run_id": "r1", "dt": "2026-12-01", "trigger": "schedule", "state": "failed", "started_at": "2026-12-01T00:00:00Z", "ended_at": null, "error": "x", "tasks": []}
        ]});
        let html = runs_body(&runs, Some(&json!({"batch_runs": []})));
        assert!(
            html.contains("data-run=\"r2\""),
            "the latest run of the date: {html}"
        );
        assert!(!html.contains("data-run=\"r1\""));
        assert!(html.contains("2 runs"));
        assert!(
            html.contains("data-task=\"batch\" data-state=\"success\" data-attempts=\"2\""),
            "{html}"
        );
        assert!(
            html.contains("5.00s"),
            "duration of the last attempt: {html}"
        );
        assert!(
            html.contains("attempt 1: &lt;b&gt;disk&lt;/b&gt;"),
            "{html}"
        );
        assert!(html.contains("data-task=\"publish\" data-state=\"none\""));
        // A run published by the scheduler has no stage times in its batch_runs summary.
        let published = json!({"batch_runs": [{"dt": "2026-12-01", "finished_at": "2026-12-02T00:00:09Z",
            "summary": {"date": "2026-12-01", "published_rows": 42}}]});
        let html = runs_body(&runs, Some(&published));
        assert!(
            html.contains("no stage times recorded for this run (42 analytics rows published)"),
            "{html}"
        );
        assert!(!html.contains("-0.00"), "{html}");
        // ... unless the run history has the batch task's summary.
        let mut with_detail = runs.clone();
        with_detail["runs"][0]["tasks"][2]["detail"] = json!(
            r#"{"date": "2026-12-01", "stages": [{"name": "scan", "seconds": 1.0, "rows": 10}, {"name": "analytics", "seconds": 3.0, "rows": 5}]}"#
        );
        let html = runs_body(&with_detail, Some(&published));
        assert!(html.contains("title=\"scan: 1.00s, 10 rows\""), "{html}");
        assert!(html.contains("width:75.0%"), "{html}");
        assert!(html.contains("4.00s"), "{html}");
        assert!(
            html.contains("&quot;stages&quot;: ["),
            "the detail indented: {html}"
        );
    }

    #[test]
    fn analytic_bars_use_the_measure_column() {
        let doc = json!({"name": "category_summary", "columns": ["category", "pins", "images", "videos", "median_follower_count"],
            "rows": [["art", 10, 4, 6, 5.5], ["travel", 5, 5, 0, null]]});
        let html = analytic_body(&doc);
        assert!(html.contains("data-analytic=\"category_summary\""));
        assert!(
            html.contains("<span class=\"bar-label\">art</span>"),
            "{html}"
        );
        assert!(
            html.contains("width:50.0%"),
            "travel's 5 of art's 10: {html}"
        );
    }
}
