//! The ingest API's metric families, each named once here, with the handles the hot path holds
//! (built when the API starts, so every series exists at 0 before the first request).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use pinpipe_log::metrics::buckets;
use pinpipe_model::EventType;

/// Requests answered (counter; `route`, `method`, `status`).
pub const HTTP_REQUESTS: &str = "pinpipe_http_requests_total";
/// Receipt → response, durable append included (histogram; `route`).
pub const HTTP_DURATION: &str = "pinpipe_http_request_duration_seconds";
/// Requests being handled (gauge).
pub const HTTP_IN_FLIGHT: &str = "pinpipe_http_requests_in_flight";
/// Body bytes of event requests (counter; `topic`).
pub const RECEIVED_BYTES: &str = "pinpipe_ingest_received_bytes_total";
/// Events answered 200, durable in the log (counter; `topic`).
pub const ACCEPTED: &str = "pinpipe_ingest_events_accepted_total";
/// Events refused after parsing (counter; `topic`, `reason`).
pub const REJECTED: &str = "pinpipe_ingest_events_rejected_total";

/// The ingest API's histograms with their buckets (for the recorder).
pub const HISTOGRAMS: &[(&str, &[f64])] = &[(HTTP_DURATION, buckets::HTTP)];

/// Why events were refused: the `reason` label of [`REJECTED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 422: the event breaks the API's rules.
    Invalid,
    /// 503: too many appends waiting.
    Saturated,
    /// 503: the log did not answer in time.
    Timeout,
    /// 503: the log cannot be reached.
    Unavailable,
}

impl Rejection {
    /// Every reason, in label order.
    pub const ALL: [Rejection; 4] = [
        Rejection::Invalid,
        Rejection::Saturated,
        Rejection::Timeout,
        Rejection::Unavailable,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Invalid => "invalid",
            Rejection::Saturated => "saturated",
            Rejection::Timeout => "timeout",
            Rejection::Unavailable => "unavailable",
        }
    }
}

/// The route templates of the `route` label: `/pin` is counted as `/pin/`, `/pins/` as `/pins`;
/// anything unmatched is `other`.
pub const ROUTES: [&str; 11] = [
    "/pin/",
    "/geo/",
    "/user/",
    "/pins",
    "/geos",
    "/users",
    "/topics/{topic}",
    "/healthz",
    "/readyz",
    "/docs",
    "other",
];

/// The event routes, whose 200 and 422 series are created at start.
const EVENT_ROUTES: usize = 7;

/// Describes the ingest API's families (HELP and unit).
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        Unit::Count,
        "HTTP requests answered by the ingest API"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Receipt to response of ingest API requests, durable append included"
    );
    describe_gauge!(
        HTTP_IN_FLIGHT,
        Unit::Count,
        "Ingest API requests being handled"
    );
    describe_counter!(RECEIVED_BYTES, Unit::Bytes, "Body bytes of event requests");
    describe_counter!(
        ACCEPTED,
        Unit::Count,
        "Events answered 200, i.e. durable in the event log"
    );
    describe_counter!(
        REJECTED,
        Unit::Count,
        "Events refused after parsing: invalid (422), saturated, timeout or unavailable (503)"
    );
}

/// Per-topic handles of one event type.
struct TopicHandles {
    received_bytes: Counter,
    accepted: Counter,
    rejected: [Counter; 4],
}

/// The event counters, per event type.
pub(crate) struct EventMetrics {
    topics: [TopicHandles; 3],
}

impl EventMetrics {
    /// Handles for the three topics (pins, geos, users as configured).
    pub(crate) fn new(topics: &[String; 3]) -> EventMetrics {
        EventMetrics {
            topics: topics.each_ref().map(|topic| TopicHandles {
                received_bytes: counter!(RECEIVED_BYTES, "topic" => topic.clone()),
                accepted: counter!(ACCEPTED, "topic" => topic.clone()),
                rejected: Rejection::ALL
                    .map(|r| counter!(REJECTED, "topic" => topic.clone(), "reason" => r.as_str())),
            }),
        }
    }

    fn of(&self, kind: EventType) -> &TopicHandles {
        match kind {
            EventType::Pin => &self.topics[0],
            EventType::Geo => &self.topics[1],
            EventType::User => &self.topics[2],
        }
    }

    pub(crate) fn received(&self, kind: EventType, bytes: usize) {
        self.of(kind).received_bytes.increment(bytes as u64);
    }

    pub(crate) fn accepted(&self, kind: EventType, events: usize) {
        self.of(kind).accepted.increment(events as u64);
    }

    pub(crate) fn rejected(&self, kind: EventType, reason: Rejection, events: usize) {
        let index = Rejection::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.of(kind).rejected[index].increment(events as u64);
    }
}

/// Statuses with a pre-made counter per (route, method); others go through a locked map.
const STATUSES: [u16; 14] = [
    200, 400, 401, 404, 405, 408, 411, 413, 415, 422, 429, 431, 500, 503,
];
const METHODS: [&str; 3] = ["POST", "GET", "other"];

/// The HTTP handles: a duration histogram per route and a request counter per (route, method,
/// status), looked up by index on the hot path.
pub(crate) struct HttpMetrics {
    in_flight: Gauge,
    durations: Vec<Histogram>,
    /// Made on first use: a series appears once a request had that outcome.
    requests: Vec<OnceLock<Counter>>,
    rare: Mutex<HashMap<(usize, usize, u16), Counter>>,
}

impl HttpMetrics {
    pub(crate) fn new() -> Arc<HttpMetrics> {
        let requests = (0..ROUTES.len() * METHODS.len() * STATUSES.len())
            .map(|_| OnceLock::new())
            .collect();
        // The event routes' 200 and 422 POSTs exist at 0 from the start (every combination of
        // route, method and status would be hundreds of empty series).
        let http = HttpMetrics {
            in_flight: gauge!(HTTP_IN_FLIGHT),
            durations: ROUTES
                .iter()
                .map(|route| histogram!(HTTP_DURATION, "route" => *route))
                .collect(),
            requests,
            rare: Mutex::new(HashMap::new()),
        };
        for route in 0..EVENT_ROUTES {
            for status in [200, 422] {
                http.count(route, 0, status, 0);
            }
        }
        http.in_flight.set(0.0);
        Arc::new(http)
    }

    /// Adds `n` to the (route, method, status) counter. The common statuses' handles are borrowed
    /// where they are held (no reference-count traffic per request); the rare ones go through the
    /// locked map.
    fn count(&self, route: usize, method: usize, status: u16, n: u64) {
        match STATUSES.iter().position(|s| *s == status) {
            Some(s) => self.requests[(route * METHODS.len() + method) * STATUSES.len() + s]
                .get_or_init(|| Self::register(route, method, status))
                .increment(n),
            None => {
                let mut rare = self.rare.lock().unwrap_or_else(|e| e.into_inner());
                rare.entry((route, method, status))
                    .or_insert_with(|| Self::register(route, method, status))
                    .increment(n)
            }
        }
    }

    fn register(route: usize, method: usize, status: u16) -> Counter {
        counter!(
            HTTP_REQUESTS,
            "route" => ROUTES[route], "method" => METHODS[method], "status" => status.to_string()
        )
    }
}

/// The `route` label of a matched route template.
fn route_index(matched: Option<&str>) -> usize {
    let other = ROUTES.len() - 1;
    let Some(path) = matched else {
        return other;
    };
    let normal = match path {
        "/pin" => "/pin/",
        "/geo" => "/geo/",
        "/user" => "/user/",
        "/pins/" => "/pins",
        "/geos/" => "/geos",
        "/users/" => "/users",
        p if p.starts_with("/docs") || p == "/openapi.json" => "/docs",
        p => p,
    };
    ROUTES.iter().position(|r| *r == normal).unwrap_or(other)
}

/// Middleware: counts each request by route, method and status and times it.
pub(crate) async fn track(
    State(http): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = route_index(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let method = match *request.method() {
        Method::POST => 0,
        Method::GET => 1,
        _ => 2,
    };
    http.in_flight.increment(1.0);
    let response = next.run(request).await;
    http.in_flight.decrement(1.0);
    http.durations[route].record(started.elapsed().as_secs_f64());
    http.count(route, method, response.status().as_u16(), 1);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_named_by_their_template() {
        let name = |p: Option<&str>| ROUTES[route_index(p)];
        assert_eq!(name(Some("/pin")), "/pin/");
        assert_eq!(name(Some("/pin/")), "/pin/");
        assert_eq!(name(Some("/pins/")), "/pins");
        assert_eq!(name(Some("/users")), "/users");
        assert_eq!(name(Some("/topics/{topic}")), "/topics/{topic}");
        assert_eq!(name(Some("/docs/{*rest}")), "/docs");
        assert_eq!(name(Some("/somewhere")), "other");
        assert_eq!(name(None), "other");
    }
}
