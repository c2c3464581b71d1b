//! The latest refused event requests (status, FastAPI `detail`, the start of the body, request
//! id), kept in a small ring for the dashboard's errors page: a person sees what a producer got
//! wrong without searching logs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// Body bytes kept per reject.
const BODY_PREFIX: usize = 512;

/// The last `capacity` rejects; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct RejectLog {
    inner: Arc<Mutex<VecDeque<Value>>>,
    capacity: usize,
}

impl RejectLog {
    /// Keeps the latest `capacity` rejects (0: none).
    pub fn new(capacity: usize) -> RejectLog {
        RejectLog {
            inner: Arc::new(Mutex::new(VecDeque::with_capacity(capacity))),
            capacity,
        }
    }

    /// Remembers one refused request.
    pub(crate) fn record(
        &self,
        route: &str,
        status: u16,
        detail: Value,
        body: &[u8],
        request_id: &str,
    ) {
        if self.capacity == 0 {
            return;
        }
        let time = chrono::DateTime::from_timestamp_millis(pinpipe_log::now_ms())
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let prefix = &body[..body.len().min(BODY_PREFIX)];
        let entry = json!({
            "time": time,
            "route": route,
            "status": status,
            "detail": detail,
            "body": String::from_utf8_lossy(prefix),
            "body_bytes": body.len(),
            "request_id": request_id,
        });
        let mut ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == self.capacity {
            ring.pop_back();
        }
        ring.push_front(entry);
    }

    /// The rejects kept, newest first.
    pub fn latest(&self) -> Vec<Value> {
        let ring = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_newest_first_with_a_bounded_body() {
        let log = RejectLog::new(2);
        let long = vec![b'x'; 2000];
        log.record("/pin/", 422, json!([]), b"first", "a");
        log.record("/pin/", 422, json!([]), &long, "b");
        log.record("/pins", 503, json!("saturated"), b"<script>", "c");
        let latest = log.latest();
        assert_eq!(latest.len(), 2);
        assert_eq!(latest[0]["request_id"], "c");
        assert_eq!(latest[0]["body"], "<script>");
        assert_eq!(latest[1]["body"].as_str().unwrap().len(), BODY_PREFIX);
        assert_eq!(latest[1]["body_bytes"], 2000);
        RejectLog::new(0).record("/pin/", 422, json!([]), b"x", "d");
        assert!(RejectLog::new(0).latest().is_empty());
    }
}
