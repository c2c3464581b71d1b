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
    /// Longest time from a connection's accept (or from the first byte of a later request on a
    /// kept-alive connection) to the end of its request head; then the connection is closed. A
    /// client that connects and sends nothing, or drips its headers, is closed after this.
    pub header_read_timeout_ms: u64,
    /// Longest time a kept-alive connection may wait, idle, for its next request; then it is
    /// closed.
    pub keep_alive_timeout_ms: u64,
    /// Most connections open at once. Beyond it a new connection is answered 503 at once and
    /// closed; open connections keep being served. Unset: 10,000, or less when the open-files
    /// limit is lower (the limit minus [`RESERVED_FILES`]). A set value that does not fit the
    /// limit is refused at start.
    pub max_connections: Option<usize>,
    /// The listen socket's backlog: connections the kernel queues before pinpipe accepts them
    /// (capped by the kernel's `net.core.somaxconn`).
    pub listen_backlog: u32,
}

/// Open files pinpipe keeps for itself beside its connections: the event log's SQLite files and
/// readers, the serving DB's pool, the lake writer's and the batch job's files, the runtime.
pub const RESERVED_FILES: u64 = 256;

/// Connections at most when `max_connections` is unset and the open-files limit allows.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

impl ServeConfig {
    /// The connection cap for a process whose open-files limit is `open_files`: the configured
    /// `max_connections`, or the default that fits; an error saying what to set when a configured
    /// cap does not fit.
    pub fn connection_cap(&self, open_files: u64) -> Result<usize, String> {
        let room = open_files.saturating_sub(RESERVED_FILES);
        match self.max_connections {
            Some(0) => Err("serve.max_connections must be at least 1".to_owned()),
            Some(cap) if cap as u64 > room => Err(format!(
                "serve.max_connections = {cap} does not fit the open-files limit of {open_files} \
                 (pinpipe keeps {RESERVED_FILES} files for itself): set serve.max_connections \
                 (PINPIPE_SERVE__MAX_CONNECTIONS) to at most {room}, or raise the hard limit \
                 (ulimit -Hn, systemd LimitNOFILE=)"
            )),
            Some(cap) => Ok(cap),
            None if room == 0 => Err(format!(
                "the open-files limit of {open_files} leaves no room for connections (pinpipe \
                 keeps {RESERVED_FILES} files for itself): raise it (ulimit -n, systemd \
                 LimitNOFILE=)"
            )),
            None => Ok(DEFAULT_MAX_CONNECTIONS.min(room as usize)),
        }
    }
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
            header_read_timeout_ms: 10_000,
            keep_alive_timeout_ms: 60_000,
            max_connections: None,
            listen_backlog: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_fits_the_open_files_limit() {
        let auto = ServeConfig::default();
        assert_eq!(auto.connection_cap(1 << 20), Ok(DEFAULT_MAX_CONNECTIONS));
        assert_eq!(
            auto.connection_cap(1024),
            Ok(1024 - RESERVED_FILES as usize)
        );
        assert!(auto.connection_cap(RESERVED_FILES).is_err());
        let set = |cap| ServeConfig {
            max_connections: Some(cap),
            ..ServeConfig::default()
        };
        assert_eq!(set(500).connection_cap(1024), Ok(500));
        let refused = set(5000).connection_cap(1024).unwrap_err();
        assert!(refused.contains("at most 768"), "{refused}");
        assert!(set(0).connection_cap(1024).is_err());
    }
}
