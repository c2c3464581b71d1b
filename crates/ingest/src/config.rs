//! The ingest API's configuration (`[serve]` in `pinpipe.toml`, `PINPIPE_SERVE__*`).

use serde::{Deserialize, Serialize};

/// Ingest API settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address and port to listen on (the original API's is port 8000).
    pub listen: String,
    /// Largest body of a single-event request (`POST /pin/`); larger gets 413.
    pub max_body_bytes: usize,
    /// Largest body of a batch request (`POST /pins`, `POST /topics/{topic}`); larger gets 413.
    pub max_batch_body_bytes: usize,
    /// Most events in one batch request; more gets 413.
    pub max_batch_events: usize,
    /// Batch requests (`/pins`, `/topics/{topic}`, …) handled at once; others wait their turn
    /// (at most `body_timeout_ms`, then 503). Bounds memory whatever the number of connections.
    pub max_concurrent_batches: usize,
    /// Longest time to receive a request body before answering 408.
    pub body_timeout_ms: u64,
    /// Seconds a client is told to wait (`Retry-After`) when the log is unavailable or saturated.
    pub retry_after_secs: u64,
    /// When set, writes need `Authorization: Bearer <token>`. Reads (`/healthz`, `/readyz`,
    /// `/docs`, `/openapi.json`) stay open.
    pub auth_token: Option<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8000".to_owned(),
            max_body_bytes: 1 << 20,
            max_batch_body_bytes: 32 << 20,
            max_batch_events: 50_000,
            max_concurrent_batches: 4,
            body_timeout_ms: 30_000,
            retry_after_secs: 1,
            auth_token: None,
        }
    }
}
