//! The overview behind the dashboard's pipeline strip and charts (`GET /api/v1/overview`): once a
//! second the sampler reads the recorder's exposition, derives per-stage rates, totals, lag and
//! errors per minute, and keeps the last `history_minutes` of points in a ring.
//!
//! ```json
//! {"seq": 42, "time": "…", "stages": {"ingest": {"rate", "total", "errors_per_min"},
//!  "log": {"rate", "total", "pending", "pending_limit"},
//!  "stream": {"rate", "total", "lag_records", "lag_seconds", "errors_per_min"},
//!  "lake": {…the same…}, "batch": {"latest_date", "last_success"}},
//!  "history": {"t": […], "series": {"ingest_rate": […], …}}}
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::Metrics;
use crate::exposition::{Scrape, quantile};

/// The families the overview reads, by their names in the stage crates (passed in, so each name
/// stays defined once, where its stage records it).
#[derive(Debug, Clone)]
pub struct OverviewNames {
    /// Ingest: events answered 200 (counter).
    pub accepted: &'static str,
    /// Ingest: events refused (counter).
    pub rejected: &'static str,
    /// HTTP request duration (histogram).
    pub http_duration: &'static str,
    /// Log: records appended (counter).
    pub appended: &'static str,
    /// Log: appends waiting (gauge) and their limit (gauge).
    pub pending: &'static str,
    /// See `pending`.
    pub pending_limit: &'static str,
    /// Consumer lag in records and in seconds (gauges, labelled `group`).
    pub lag_records: &'static str,
    /// See `lag_records`.
    pub lag_seconds: &'static str,
    /// Speed layer: records applied and dead letters (counters).
    pub applied: &'static str,
    /// See `applied`.
    pub dead_letters: &'static str,
    /// Lake writer: records written and write errors (counters).
    pub lake_written: &'static str,
    /// See `lake_written`.
    pub lake_errors: &'static str,
    /// Batch: the latest published date and the last success (gauges, Unix seconds).
    pub batch_latest_date: &'static str,
    /// See `batch_latest_date`.
    pub batch_last_success: &'static str,
    /// The speed layer's consumer group.
    pub stream_group: String,
    /// The lake writer's consumer group.
    pub lake_group: String,
}

/// The history series, in the order the overview lists them.
const SERIES: [&str; 10] = [
    "ingest_rate",
    "log_rate",
    "stream_rate",
    "lake_rate",
    "stream_lag_seconds",
    "lake_lag_seconds",
    "http_p50_seconds",
    "http_p99_seconds",
    "rejects_per_min",
    "dead_letters_per_min",
];

/// One sampled second.
#[derive(Debug, Clone)]
struct Point {
    seq: u64,
    time: DateTime<Utc>,
    /// Unix seconds, the charts' x.
    t: i64,
    totals: Totals,
    /// The HTTP histogram's cumulative buckets at this point.
    http: Vec<(f64, f64)>,
    stages: Value,
    series: [Option<f64>; 10],
}

/// Counter totals and gauges read from one scrape.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    accepted: f64,
    rejected: f64,
    appended: f64,
    applied: f64,
    dead_letters: f64,
    lake_written: f64,
    lake_errors: f64,
}

/// The sampler's state; cheap to clone.
#[derive(Clone)]
pub struct Overview {
    inner: Arc<Mutex<Ring>>,
}

struct Ring {
    points: VecDeque<Point>,
    capacity: usize,
    seq: u64,
}

impl Overview {
    /// Starts sampling `metrics` every second on the current runtime, keeping `history_minutes`.
    pub fn start(metrics: Metrics, names: OverviewNames, history_minutes: u64) -> Overview {
        let overview = Overview {
            inner: Arc::new(Mutex::new(Ring {
                points: VecDeque::new(),
                capacity: usize::try_from(history_minutes.max(1) * 60).unwrap_or(900),
                seq: 0,
            })),
        };
        let sampler = overview.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let scrape = Scrape::parse(&metrics.render_stage_metrics());
                sampler.sample(&scrape, &names, Utc::now());
            }
        });
        overview
    }

    fn sample(&self, scrape: &Scrape, names: &OverviewNames, now: DateTime<Utc>) {
        let Ok(mut ring) = self.inner.lock() else {
            return;
        };
        ring.seq += 1;
        let seq = ring.seq;
        let totals = Totals {
            accepted: scrape.sum(names.accepted, &[]),
            rejected: scrape.sum(names.rejected, &[]),
            appended: scrape.sum(names.appended, &[]),
            applied: scrape.sum(names.applied, &[]),
            dead_letters: scrape.sum(names.dead_letters, &[]),
            lake_written: scrape.sum(names.lake_written, &[]),
            lake_errors: scrape.sum(names.lake_errors, &[]),
        };
        let http = scrape.buckets(names.http_duration);
        let previous = ring.points.back();
        let dt = previous
            .map(|p| (now - p.time).as_seconds_f64())
            .filter(|dt| *dt > 0.0);
        let rate = |get: fn(&Totals) -> f64| match (previous, dt) {
            (Some(p), Some(dt)) => ((get(&totals) - get(&p.totals)) / dt).max(0.0),
            _ => 0.0,
        };
        // Per minute: the difference with the point about 60 s ago (or the oldest one kept).
        let minute_ago = ring
            .points
            .iter()
            .find(|p| (now - p.time).num_seconds() <= 60)
            .map(|p| p.totals);
        let per_min = |get: fn(&Totals) -> f64| {
            minute_ago.map_or(0.0, |old| (get(&totals) - get(&old)).max(0.0))
        };
        let group = |name: &'static str, group: &str, max: bool| {
            if max {
                scrape.max(name, &[("group", group)])
            } else {
                scrape.sum(name, &[("group", group)])
            }
        };
        let (p50, p99) = match previous {
            Some(p) => (
                quantile(&p.http, &http, 0.5),
                quantile(&p.http, &http, 0.99),
            ),
            None => (None, None),
        };
        let ingest_rate = rate(|t| t.accepted);
        let log_rate = rate(|t| t.appended);
        let stream_rate = rate(|t| t.applied + t.dead_letters);
        let lake_rate = rate(|t| t.lake_written);
        let stream_lag = group(names.lag_seconds, &names.stream_group, true);
        let lake_lag = group(names.lag_seconds, &names.lake_group, true);
        let rejects_per_min = per_min(|t| t.rejected);
        let dead_per_min = per_min(|t| t.dead_letters);
        let timestamp = |name: &'static str| {
            let seconds = scrape.max(name, &[]);
            (seconds > 0.0)
                .then(|| DateTime::from_timestamp(seconds as i64, 0))
                .flatten()
        };
        let stages = json!({
            "ingest": {"rate": ingest_rate, "total": totals.accepted, "errors_per_min": rejects_per_min},
            "log": {
                "rate": log_rate,
                "total": totals.appended,
                "pending": scrape.sum(names.pending, &[]),
                "pending_limit": scrape.max(names.pending_limit, &[]),
            },
            "stream": {
                "rate": stream_rate,
                "total": totals.applied + totals.dead_letters,
                "lag_records": group(names.lag_records, &names.stream_group, false),
                "lag_seconds": stream_lag,
                "errors_per_min": dead_per_min,
            },
            "lake": {
                "rate": lake_rate,
                "total": totals.lake_written,
                "lag_records": group(names.lag_records, &names.lake_group, false),
                "lag_seconds": lake_lag,
                "errors_per_min": per_min(|t| t.lake_errors),
            },
            "batch": {
                "latest_date": timestamp(names.batch_latest_date).map(|d| d.format("%Y-%m-%d").to_string()),
                "last_success": timestamp(names.batch_last_success).map(|d| d.to_rfc3339()),
            },
        });
        let point = Point {
            seq,
            time: now,
            t: now.timestamp(),
            totals,
            http,
            stages,
            series: [
                Some(ingest_rate),
                Some(log_rate),
                Some(stream_rate),
                Some(lake_rate),
                Some(stream_lag),
                Some(lake_lag),
                p50,
                p99,
                Some(rejects_per_min),
                Some(dead_per_min),
            ],
        };
        ring.points.push_back(point);
        while ring.points.len() > ring.capacity {
            ring.points.pop_front();
        }
    }

    /// The overview document; `since` (`?since=SEQ`) limits the history to newer points.
    pub fn snapshot(&self, since: Option<u64>) -> Value {
        let Ok(ring) = self.inner.lock() else {
            return json!({"seq": 0});
        };
        let latest = ring.points.back();
        let newer: Vec<&Point> = ring
            .points
            .iter()
            .filter(|p| since.is_none_or(|s| p.seq > s))
            .collect();
        let mut series = serde_json::Map::new();
        for (i, name) in SERIES.iter().enumerate() {
            series.insert(
                (*name).to_owned(),
                newer.iter().map(|p| json!(p.series[i])).collect(),
            );
        }
        json!({
            "seq": ring.seq,
            "time": latest.map_or_else(|| Utc::now().to_rfc3339(), |p| p.time.to_rfc3339()),
            "stages": latest.map_or_else(|| json!({}), |p| p.stages.clone()),
            "history": {
                "t": newer.iter().map(|p| p.t).collect::<Vec<_>>(),
                "series": series,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> OverviewNames {
        OverviewNames {
            accepted: "acc",
            rejected: "rej",
            http_duration: "http",
            appended: "app",
            pending: "pend",
            pending_limit: "limit",
            lag_records: "lag",
            lag_seconds: "lags",
            applied: "applied",
            dead_letters: "dead",
            lake_written: "lake",
            lake_errors: "lakeerr",
            batch_latest_date: "date",
            batch_last_success: "success",
            stream_group: "s".into(),
            lake_group: "l".into(),
        }
    }

    fn overview() -> Overview {
        Overview {
            inner: Arc::new(Mutex::new(Ring {
                points: VecDeque::new(),
                capacity: 3,
                seq: 0,
            })),
        }
    }

    #[test]
    fn rates_lag_and_history_come_from_successive_scrapes() {
        let o = overview();
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let text = |n: u64| {
            format!(
                "acc{{topic=\"p\"}} {n}\napp 0\nlags{{group=\"s\",partition=\"0\"}} 2\nlags{{group=\"s\",partition=\"1\"}} 5\n\
                 lag{{group=\"s\"}} 4\nlag{{group=\"l\"}} 9\ndate 86400\nlimit 10\n"
            )
        };
        o.sample(&Scrape::parse(&text(10)), &names(), t0);
        o.sample(
            &Scrape::parse(&text(30)),
            &names(),
            t0 + chrono::Duration::seconds(2),
        );
        let doc = o.snapshot(None);
        assert_eq!(doc["seq"], 2);
        assert_eq!(doc["stages"]["ingest"]["rate"], 10.0);
        assert_eq!(doc["stages"]["ingest"]["total"], 30.0);
        assert_eq!(doc["stages"]["stream"]["lag_seconds"], 5.0);
        assert_eq!(doc["stages"]["stream"]["lag_records"], 4.0);
        assert_eq!(doc["stages"]["lake"]["lag_records"], 9.0);
        assert_eq!(doc["stages"]["log"]["pending_limit"], 10.0);
        assert_eq!(doc["stages"]["batch"]["latest_date"], "1970-01-02");
        assert_eq!(doc["history"]["t"].as_array().unwrap().len(), 2);
        assert_eq!(doc["history"]["series"]["ingest_rate"][1], 10.0);
        // Only newer points with ?since=.
        let newer = o.snapshot(Some(1));
        assert_eq!(newer["history"]["t"].as_array().unwrap().len(), 1);
        // The ring keeps its capacity.
        for i in 3..10 {
            o.sample(
                &Scrape::parse(&text(30 + i)),
                &names(),
                t0 + chrono::Duration::seconds(i as i64),
            );
        }
        assert_eq!(
            o.snapshot(None)["history"]["t"].as_array().unwrap().len(),
            3
        );
    }
}
