//! pinpipe's built-in dashboard, served by the admin listener next to `/metrics`: pages rendered
//! on the server (numbers readable without JavaScript) that then poll the JSON API once a second,
//! and that API itself, over the event log and the serving DB. Charts are drawn by uPlot 1.6.32,
//! vendored from npm and compiled into the binary: pages load nothing from another origin.
//!
//! | path | what |
//! |---|---|
//! | `/dashboard` | the pipeline strip (ingest → log → speed layer / lake → batch) and 15 minutes of charts, from `/api/v1/overview` |
//! | `/dashboard/realtime` | `pin_windows` of the last 60 minutes per category; the current and previous minute |
//! | `/dashboard/log` | topics × partitions; each consumer group's committed offset and lag |
//! | `/dashboard/errors` | dead letters per topic and reason over 24 h, the latest 50 with their `pinpipe tail` command; ingest rejects |
//! | `/dashboard/runs` | the scheduler's runs as a grid of dates × tasks; `batch_runs` stage bars |
//! | `/dashboard/analytics?date=` | the 11 analytics of a date, and the category trend over dates |
//! | `/api/v1/windows?minutes=`, `/api/v1/log`, `/api/v1/dead-letters?topic=&limit=`, `/api/v1/runs?limit=`, `/api/v1/batch-runs?limit=`, `/api/v1/analytics/{name}?date=` | JSON; a bad parameter is a 400 `{"detail": …}` |
//! | `/assets/…` | uPlot and the dashboard's own script and stylesheet, `Cache-Control: immutable` |
//!
//! `/api/v1/overview` and `/metrics` belong to the admin server; the pages read the overview
//! through [`DashboardState`]'s provider for their first paint and over HTTP afterwards.
//!
//! ```no_run
//! # async fn wire(log: pinpipe_log::EventLog, log_config: &pinpipe_log::LogConfig) {
//! use std::sync::Arc;
//! let overview: pinpipe_dashboard::OverviewProvider =
//!     Arc::new(|since| serde_json::json!({"seq": since.unwrap_or(0)}));
//! let state = pinpipe_dashboard::DashboardState::new(overview)
//!     .with_serving_url("sqlite:pinpipe-data/serving.db")
//!     .with_log(log, log_config);
//! let app: axum::Router = pinpipe_dashboard::router(state);
//! # }
//! ```

mod api;
pub mod assets;
pub mod html;
mod pages;
mod status;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pinpipe_log::{EventLog, LogConfig};
use pinpipe_serving::ServingDb;
use tokio::sync::OnceCell;

pub use pinpipe_log::GroupOffsets;
pub use status::{Health, stage_health};

/// The admin server's overview: called with `since` (`?since=SEQ`), it returns the overview JSON
/// (`{"seq", "time", "stages", "history"}`, only history points newer than `since`).
pub type OverviewProvider = Arc<dyn Fn(Option<u64>) -> serde_json::Value + Send + Sync>;

/// What the pages show and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardConfig {
    /// Minutes of history the overview charts show (`[observe] history_minutes`).
    pub history_minutes: u64,
    /// Ingest rejects listed on the errors page (`[observe] reject_samples`).
    pub reject_samples: usize,
    /// The consumer groups shown on the log page.
    pub groups: Vec<String>,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            history_minutes: 15,
            reject_samples: 50,
            groups: vec!["pinpipe-stream".to_owned(), "pinpipe-lake".to_owned()],
        }
    }
}

/// Everything the dashboard reads from. Cheap to clone.
///
/// Build it with [`DashboardState::new`] and the `with_*` methods; what is not given is shown
/// as "not available here" (e.g. `pinpipe serve` has no serving DB).
#[derive(Clone)]
pub struct DashboardState {
    overview: OverviewProvider,
    serving: Option<Arc<Serving>>,
    log: Option<GroupOffsets>,
    config: Arc<DashboardConfig>,
}

/// The serving DB, opened read-only on first use (the speed layer may create it after the
/// dashboard starts, so a failed open is tried again on the next request).
struct Serving {
    url: String,
    db: OnceCell<ServingDb>,
}

impl DashboardState {
    /// A dashboard over the admin server's `overview`, with no serving DB and no log yet.
    pub fn new(overview: OverviewProvider) -> DashboardState {
        DashboardState {
            overview,
            serving: None,
            log: None,
            config: Arc::new(DashboardConfig::default()),
        }
    }

    /// Reads the serving DB at `url` (`ServingDb::url(&config.serving, &config.data_dir)`),
    /// read-only with a 2 s statement timeout.
    pub fn with_serving_url(mut self, url: impl Into<String>) -> DashboardState {
        self.serving = Some(Arc::new(Serving {
            url: url.into(),
            db: OnceCell::new(),
        }));
        self
    }

    /// Reads topics and group offsets from `log` (the process's open event log), opened from
    /// `config` (`[log]`).
    pub fn with_log(mut self, log: EventLog, config: &LogConfig) -> DashboardState {
        self.log = Some(GroupOffsets::new(log, config));
        self
    }

    /// Sets what the pages show.
    pub fn with_config(mut self, config: DashboardConfig) -> DashboardState {
        self.config = Arc::new(config);
        self
    }

    fn overview(&self, since: Option<u64>) -> serde_json::Value {
        (self.overview)(since)
    }

    /// The serving DB, or why it cannot be read now.
    async fn serving(&self) -> Result<&ServingDb, ApiError> {
        let Some(serving) = &self.serving else {
            return Err(ApiError::unavailable(
                "this process has no serving DB (run `pinpipe up` or `pinpipe stream`)",
            ));
        };
        let open = serving.db.get_or_try_init(|| async {
            match tokio::time::timeout(
                pinpipe_serving::dashboard::STATEMENT_TIMEOUT,
                ServingDb::open_read_only(&serving.url),
            )
            .await
            {
                Ok(Ok(db)) => Ok(db),
                Ok(Err(e)) => Err(format!("serving DB not readable yet: {e}")),
                Err(_) => Err("serving DB did not answer within 2 s".to_owned()),
            }
        });
        open.await.map_err(ApiError::unavailable)
    }
}

/// A failed API call: its status and a `{"detail": …}` body (FastAPI's shape, as the ingest API
/// answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for people.
    pub detail: String,
}

impl ApiError {
    fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            detail: detail.into(),
        }
    }

    fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "detail": self.detail })),
        )
            .into_response()
    }
}

/// Runs a serving-DB read with the dashboard's time limit.
async fn bounded<T>(
    read: impl Future<Output = Result<T, pinpipe_serving::ServingError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(pinpipe_serving::dashboard::STATEMENT_TIMEOUT, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::unavailable(format!("serving DB: {e}"))),
        Err(_) => Err(ApiError::unavailable(
            "serving DB: the query took more than 2 s",
        )),
    }
}

/// How long an event-log read may take.
const LOG_TIMEOUT: Duration = Duration::from_secs(2);

/// The dashboard's pages, JSON API and assets, to be merged into the admin server's router.
pub fn router(state: DashboardState) -> Router {
    let mut router = Router::new()
        .route("/dashboard", get(pages::overview))
        .route("/dashboard/", get(pages::overview))
        .route("/dashboard/realtime", get(pages::realtime))
        .route("/dashboard/log", get(pages::log))
        .route("/dashboard/errors", get(pages::errors))
        .route("/dashboard/runs", get(pages::runs))
        .route("/dashboard/analytics", get(pages::analytics))
        .route("/api/v1/windows", get(api::windows))
        .route("/api/v1/log", get(api::log))
        .route("/api/v1/dead-letters", get(api::dead_letters))
        .route("/api/v1/runs", get(api::runs))
        .route("/api/v1/batch-runs", get(api::batch_runs))
        .route("/api/v1/analytics/{name}", get(api::analytics));
    for (path, content_type, bytes) in assets::all() {
        router = router.route(
            path,
            get(move || async move { assets::response(content_type, bytes) }),
        );
    }
    router.with_state(state)
}
