//! Honest accounting: every event sent ends accepted, rejected or failed, and the three add up to
//! the events sent; retries and latencies are counted on the side.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use hdrhistogram::Histogram;
use pinpipe_model::EventType;
use serde::Serialize;

use crate::table::kind_index;

/// Live counters, shared by the senders and the progress display.
pub struct Stats {
    kinds: [KindCounters; 3],
    requests: AtomicU64,
    retries: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    examples: Mutex<Vec<String>>,
}

#[derive(Default)]
struct KindCounters {
    sent: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: stored.
    Accepted,
    /// A 4xx other than 408/429: the server refused the events; retrying would not help.
    Rejected,
    /// No success after every retry (connection errors, timeouts, 5xx, 408, 429).
    Failed,
}

/// Examples of refusals and failures kept for the summary.
const MAX_EXAMPLES: usize = 5;

impl Default for Stats {
    fn default() -> Self {
        Stats {
            kinds: Default::default(),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            // 1 µs to 1 hour, 3 significant digits.
            latency: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            ),
            examples: Mutex::new(Vec::new()),
        }
    }
}

impl Stats {
    /// `events` of `kind` are about to be sent (once; retries are not new events).
    pub fn sent(&self, kind: EventType, events: u64) {
        self.kinds[kind_index(kind)].sent.fetch_add(events, Relaxed);
    }

    /// One HTTP request was made (first try or retry).
    pub fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// A request will be retried.
    pub fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    /// `events` of `kind` ended with `outcome`, `latency` after they were due.
    pub fn finished(&self, kind: EventType, events: u64, outcome: Outcome, latency: Duration) {
        let counters = &self.kinds[kind_index(kind)];
        match outcome {
            Outcome::Accepted => &counters.accepted,
            Outcome::Rejected => &counters.rejected,
            Outcome::Failed => &counters.failed,
        }
        .fetch_add(events, Relaxed);
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency
            .lock()
            .expect("no panics while holding the lock")
            .saturating_record(micros);
    }

    /// Keeps an example of why events were refused or failed (the first few only).
    pub fn example(&self, text: impl FnOnce() -> String) {
        let mut examples = self
            .examples
            .lock()
            .expect("no panics while holding the lock");
        if examples.len() < MAX_EXAMPLES {
            examples.push(text());
        }
    }

    /// A consistent-enough snapshot (each counter is exact; they are read one after another).
    pub fn snapshot(&self, elapsed: Duration) -> Summary {
        let by_type: Vec<TypeCounts> = EventType::ALL
            .iter()
            .map(|&kind| {
                let c = &self.kinds[kind_index(kind)];
                TypeCounts {
                    kind,
                    sent: c.sent.load(Relaxed),
                    accepted: c.accepted.load(Relaxed),
                    rejected: c.rejected.load(Relaxed),
                    failed: c.failed.load(Relaxed),
                }
            })
            .collect();
        let total = |f: fn(&TypeCounts) -> u64| by_type.iter().map(f).sum::<u64>();
        let latency = self
            .latency
            .lock()
            .expect("no panics while holding the lock");
        let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
        let latency_ms = (!latency.is_empty()).then(|| Latency {
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: latency.max() as f64 / 1000.0,
        });
        let accepted = total(|t| t.accepted);
        let seconds = elapsed.as_secs_f64();
        Summary {
            sent: total(|t| t.sent),
            accepted,
            rejected: total(|t| t.rejected),
            failed: total(|t| t.failed),
            retried: self.retries.load(Relaxed),
            requests: self.requests.load(Relaxed),
            elapsed_s: seconds,
            accepted_per_s: if seconds > 0.0 {
                accepted as f64 / seconds
            } else {
                0.0
            },
            latency_ms,
            by_type: by_type.into_iter().filter(|t| t.sent > 0).collect(),
            examples: self
                .examples
                .lock()
                .expect("no panics while holding the lock")
                .clone(),
            target: String::new(),
            source: String::new(),
            mode: String::new(),
            seed: 0,
            interrupted: false,
        }
    }
}

/// Counts of one event type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeCounts {
    /// The type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Events sent (each once, however many times it was retried).
    pub sent: u64,
    /// Events the server stored (2xx).
    pub accepted: u64,
    /// Events the server refused (4xx).
    pub rejected: u64,
    /// Events with no answer or no success after every retry.
    pub failed: u64,
}

/// Latency percentiles, milliseconds, from when a request was due to its final answer
/// (retries included; with `--rate`, time spent waiting for a free connection included).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

/// The result of a run; `--json` prints it as is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Base URL.
    pub target: String,
    /// Where the rows came from.
    pub source: String,
    /// `single`, `batch` or `rest`.
    pub mode: String,
    /// The seed; `--seed` with it replays the run's event sequence.
    pub seed: u64,
    /// Events sent.
    pub sent: u64,
    /// Events stored.
    pub accepted: u64,
    /// Events refused.
    pub rejected: u64,
    /// Events that failed after every retry.
    pub failed: u64,
    /// Retries made.
    pub retried: u64,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// Wall-clock seconds.
    pub elapsed_s: f64,
    /// Accepted events per second.
    pub accepted_per_s: f64,
    /// Latency percentiles; absent when nothing finished.
    pub latency_ms: Option<Latency>,
    /// Per event type.
    pub by_type: Vec<TypeCounts>,
    /// A few refusals or failures, to show why.
    pub examples: Vec<String>,
    /// Stopped by Ctrl-C or SIGTERM before the planned end.
    pub interrupted: bool,
}

impl Summary {
    /// Every event sent was stored.
    pub fn all_accepted(&self) -> bool {
        self.accepted == self.sent
    }

    /// The one-line status of the live progress display.
    pub fn progress_line(&self) -> String {
        let p99 = self
            .latency_ms
            .as_ref()
            .map_or_else(|| "-".to_owned(), |l| format!("{:.1} ms", l.p99));
        format!(
            "{} accepted · {} rejected · {} failed · {} retries · {:.0}/s · p99 {p99}",
            self.accepted, self.rejected, self.failed, self.retried, self.accepted_per_s
        )
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "target     {} ({} mode)", self.target, self.mode)?;
        writeln!(f, "source     {}", self.source)?;
        writeln!(
            f,
            "seed       {} (replay with --seed {})",
            self.seed, self.seed
        )?;
        writeln!(
            f,
            "events     {} sent: {} accepted, {} rejected, {} failed{}",
            self.sent,
            self.accepted,
            self.rejected,
            self.failed,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )?;
        for t in &self.by_type {
            writeln!(
                f,
                "  {:<5}    {} sent: {} accepted, {} rejected, {} failed",
                t.kind.as_str(),
                t.sent,
                t.accepted,
                t.rejected,
                t.failed
            )?;
        }
        writeln!(f, "requests   {} ({} retries)", self.requests, self.retried)?;
        writeln!(
            f,
            "time       {:.2} s, {:.0} accepted events/s",
            self.elapsed_s, self.accepted_per_s
        )?;
        if let Some(l) = &self.latency_ms {
            writeln!(
                f,
                "latency    p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · p99.9 {:.2} ms · max {:.2} ms",
                l.p50, l.p90, l.p99, l.p999, l.max
            )?;
        }
        for example in &self.examples {
            writeln!(f, "example    {example}")?;
        }
        Ok(())
    }
}
