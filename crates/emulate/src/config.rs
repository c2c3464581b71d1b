//! The emulator's settings: the `[emulate]` section of `pinpipe.toml`.

use std::fmt;
use std::str::FromStr;

use pinpipe_model::EventType;
use serde::{Deserialize, Serialize};

/// `[emulate]`: where to send, what, and how. Per-run choices (`--count`, `--duration`,
/// `--seed`, `--burst`) are command-line flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulateConfig {
    /// Base URL of the ingest API (the original emulator's target by default).
    pub url: String,
    /// `builtin` (synthetic data), a JSONL file or folder, or a database URL
    /// (`postgres://…`, `mysql://…`, `sqlite:…`).
    pub source: String,
    /// Rows per table of the built-in data set.
    pub rows: usize,
    /// `single` (one POST per event, as the original), `batch` (`/pins` …) or `rest`
    /// (Confluent REST Proxy envelope to `/topics/{topic}`).
    pub mode: Mode,
    /// Events per request in `batch` and `rest` modes.
    pub batch_size: usize,
    /// Topic names in `rest` mode are `<prefix>pin`, `<prefix>geo`, `<prefix>user`
    /// (the course used `<user id>.`).
    pub rest_topic_prefix: String,
    /// Events per second; `0` sends as fast as possible; absent: the original pacing (one record,
    /// then a random 0–2 s sleep).
    pub rate: Option<f64>,
    /// Requests in flight at most (with `rate`; the original pacing sends one at a time).
    pub concurrency: usize,
    /// Retries of a request answered 408/429/5xx or not answered at all.
    pub retries: u32,
    /// Per-request timeout, milliseconds.
    pub timeout_ms: u64,
    /// Bearer token, when the ingest API requires one.
    pub token: Option<String>,
    /// Send one event type only.
    pub only: Option<EventType>,
    /// `random`: rows sampled with replacement (the original); `sequential`: each row once, in
    /// order.
    pub order: Order,
}

impl Default for EmulateConfig {
    fn default() -> Self {
        EmulateConfig {
            url: "http://localhost:8000".to_owned(),
            source: "builtin".to_owned(),
            rows: crate::synth::DEFAULT_ROWS,
            mode: Mode::Single,
            batch_size: 500,
            rest_topic_prefix: String::new(),
            rate: None,
            concurrency: 64,
            retries: 5,
            timeout_ms: 10_000,
            token: None,
            only: None,
            order: Order::Random,
        }
    }
}

/// How events are put into requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `POST /pin/`, `/geo/`, `/user/`, one event each.
    Single,
    /// `POST /pins`, `/geos`, `/users` with a JSON array.
    Batch,
    /// `POST /topics/{topic}` with `{"records":[{"value":…}]}`.
    Rest,
}

/// Which rows, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Sampled with replacement, as the original emulator did (keys repeat).
    Random,
    /// Every row once, in table order; the run ends after the last row.
    Sequential,
}

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),* }) => {
        impl $ty {
            /// The name used in config and on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    _ => Err(format!("expected one of: {}", [$($name),*].join(", "))),
                }
            }
        }
    };
}
names!(Mode { Single => "single", Batch => "batch", Rest => "rest" });
names!(Order { Random => "random", Sequential => "sequential" });
