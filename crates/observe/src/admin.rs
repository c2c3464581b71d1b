//! The admin listener (`[observe] listen`): `/metrics`, `/api/v1/overview` and the routes the
//! caller adds (the dashboard), apart from the ingest port because its pages show event bodies.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::Metrics;

/// The content type of the text exposition format 0.0.4.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The admin listener, bound.
pub struct AdminServer {
    listener: tokio::net::TcpListener,
    /// The address bound (the real port when `listen` asked for port 0).
    pub address: SocketAddr,
}

/// The overview document for `?since=SEQ` (the sampler's, plus what the caller adds).
pub type OverviewFn = std::sync::Arc<dyn Fn(Option<u64>) -> serde_json::Value + Send + Sync>;

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    overview: OverviewFn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Since {
    since: Option<u64>,
}

impl AdminServer {
    /// Binds `listen` (`HOST:PORT`); a non-loopback address is allowed with a warning.
    pub async fn bind(listen: &str) -> std::io::Result<AdminServer> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        if !address.ip().is_loopback() {
            tracing::warn!(
                %address,
                "the admin listener (metrics, dashboard with event bodies) is reachable from other machines; \
                 bind it to 127.0.0.1 unless a firewall or proxy guards it"
            );
        }
        Ok(AdminServer { listener, address })
    }

    /// The admin routes over `metrics` and `overview`, with `extra` (the dashboard) merged in and
    /// JSON 404s for anything else.
    pub fn router(metrics: Metrics, overview: OverviewFn, extra: Router) -> Router {
        let admin = Router::new()
            .route("/metrics", get(scrape))
            .route("/api/v1/overview", get(overview_doc))
            .with_state(AdminState { metrics, overview });
        admin.merge(extra).fallback(not_found)
    }

    /// Serves `router` until `stop` resolves.
    pub async fn serve(
        self,
        router: Router,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, router)
            .with_graceful_shutdown(stop)
            .await
    }
}

async fn scrape(State(state): State<AdminState>) -> Response {
    // Rendering walks every series; off the async workers, which also run the ingest API.
    let metrics = state.metrics.clone();
    match tokio::task::spawn_blocking(move || metrics.render()).await {
        Ok(text) => ([(header::CONTENT_TYPE, EXPOSITION)], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"detail": format!("rendering metrics failed: {e}")})),
        )
            .into_response(),
    }
}

async fn overview_doc(
    State(state): State<AdminState>,
    query: Result<Query<Since>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match query {
        Ok(Query(Since { since })) => Json((state.overview)(since)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"detail": format!("{e}; expected ?since=SEQ (a number)")})),
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"detail": "Not Found"})),
    )
        .into_response()
}
