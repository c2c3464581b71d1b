//! pinpipe's ingest API (axum).
//!
//! The front door: the original pipeline's `POST /pin/`, `/geo/`, `/user/` webhook (same paths,
//! same JSON bodies, FastAPI-shaped 422 errors), batch endpoints, and a Confluent REST Proxy v2
//! compatible `POST /topics/{topic}`. Every accepted event is appended to the event log exactly
//! as received; the answer is 200 only after the log has it durably. Anything else is a clear
//! JSON error the client can act on: 4xx for the request, 503 with `Retry-After` when the log
//! cannot take it now.

pub mod config;
mod error;
mod handlers;
pub mod metrics;
mod openapi;
mod rejects;
pub mod server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use pinpipe_log::{EventLog, LogConfig};
use pinpipe_model::EventType;

pub use config::ServeConfig;
pub use openapi::api_doc;
pub use rejects::RejectLog;
pub use server::{ConnectionStats, Limits, bind};

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    log: EventLog,
    config: ServeConfig,
    /// Topic of each event type: pins, geos, users.
    topics: [String; 3],
    /// Permits for batch requests in progress.
    batches: tokio::sync::Semaphore,
    /// What the latest appends said about the log, for `/readyz`.
    appends: AppendHealth,
    /// Accepted, rejected and received counters per event type.
    events: metrics::EventMetrics,
    /// Request counters and durations per route.
    http: Arc<metrics::HttpMetrics>,
    /// The latest refused requests, for the dashboard.
    rejects: RejectLog,
}

/// How long a refused append keeps `/readyz` not ready when no append has been tried since: then
/// readiness falls back to whether the log answers, so that a server that got no traffic while
/// it was refusing is offered traffic again (and the next append decides).
pub const READY_RECHECK: Duration = Duration::from_secs(10);

/// Whether the log took the latest append: failures keep `/readyz` not ready until an append
/// succeeds (or [`READY_RECHECK`] passes without one).
#[derive(Default)]
struct AppendHealth {
    /// Fast path: appends succeeding look at this atomic only.
    failing: AtomicBool,
    /// When the current run of failures began, the latest failure's time and reason.
    failure: Mutex<Option<Failure>>,
}

#[derive(Clone)]
struct Failure {
    first: Instant,
    latest: Instant,
    reason: String,
}

impl AppendHealth {
    fn succeeded(&self) {
        if self.failing.load(Ordering::Relaxed) {
            self.failing.store(false, Ordering::Relaxed);
            if let Ok(mut failure) = self.failure.lock() {
                *failure = None;
            }
        }
    }

    fn failed(&self, reason: &str) {
        let now = Instant::now();
        if let Ok(mut failure) = self.failure.lock() {
            let first = failure.as_ref().map_or(now, |f| f.first);
            *failure = Some(Failure {
                first,
                latest: now,
                reason: reason.to_owned(),
            });
        }
        self.failing.store(true, Ordering::Relaxed);
    }

    /// The failure that keeps the log not ready now, if any.
    fn current(&self) -> Option<Failure> {
        if !self.failing.load(Ordering::Relaxed) {
            return None;
        }
        let failure = self.failure.lock().ok()?.clone()?;
        (failure.latest.elapsed() < READY_RECHECK).then_some(failure)
    }
}

impl AppState {
    /// State over an opened log; refused requests are kept in `rejects`.
    pub fn new(
        log: EventLog,
        log_config: &LogConfig,
        config: ServeConfig,
        rejects: RejectLog,
    ) -> AppState {
        let [pins, geos, users] = log_config.topic_names();
        let topics = [pins.to_owned(), geos.to_owned(), users.to_owned()];
        AppState {
            inner: Arc::new(StateInner {
                log,
                batches: tokio::sync::Semaphore::new(config.max_concurrent_batches.max(1)),
                appends: AppendHealth::default(),
                config,
                events: metrics::EventMetrics::new(&topics),
                http: metrics::HttpMetrics::new(),
                rejects,
                topics,
            }),
        }
    }

    fn topic(&self, kind: EventType) -> &str {
        match kind {
            EventType::Pin => &self.inner.topics[0],
            EventType::Geo => &self.inner.topics[1],
            EventType::User => &self.inner.topics[2],
        }
    }

    /// The event type whose events a REST-proxy topic name carries: the configured topic names,
    /// `pin`/`pins`/`geo`/… and the course's `<user id>.pin` style names.
    fn kind_of_topic(&self, topic: &str) -> Option<EventType> {
        for kind in EventType::ALL {
            if topic == self.topic(kind) {
                return Some(kind);
            }
        }
        EventType::from_name(topic.rsplit('.').next().unwrap_or(topic))
    }
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    let http = state.inner.http.clone();
    let api = Router::new()
        .route("/pin/", post(handlers::post_pin))
        .route("/pin", post(handlers::post_pin))
        .route("/geo/", post(handlers::post_geo))
        .route("/geo", post(handlers::post_geo))
        .route("/user/", post(handlers::post_user))
        .route("/user", post(handlers::post_user))
        .route("/pins", post(handlers::post_pins))
        .route("/pins/", post(handlers::post_pins))
        .route("/geos", post(handlers::post_geos))
        .route("/geos/", post(handlers::post_geos))
        .route("/users", post(handlers::post_users))
        .route("/users/", post(handlers::post_users))
        .route("/topics/{topic}", post(handlers::post_topic))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state);
    // The layer covers the docs routes too, whose 404/405 would otherwise be empty.
    // Outermost, the metrics see the final status and the whole time.
    api.merge(openapi::docs())
        .layer(axum::middleware::from_fn(handlers::json_errors))
        .layer(axum::middleware::from_fn_with_state(http, metrics::track))
}

/// The ingest API, with what it serves on: started with [`Server::run`] (the entry shape every
/// long-running stage shares: its parts in a struct, then `run(stop)`).
pub struct Server {
    /// The bound listener.
    pub listener: tokio::net::TcpListener,
    /// The API's state (the log, settings, counters).
    pub state: AppState,
    /// Connection limits.
    pub limits: Limits,
    /// Counts the connections handled and dropped.
    pub stats: Arc<ConnectionStats>,
}

impl Server {
    /// Serves until `stop` turns true, then stops accepting, closes idle connections, lets
    /// requests in flight finish (their appends included) and returns.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) -> std::io::Result<()> {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        server::serve(
            self.listener,
            router(self.state),
            self.limits,
            self.stats,
            shutdown,
        )
        .await
    }
}
