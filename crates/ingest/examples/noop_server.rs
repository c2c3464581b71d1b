//! The benchmark baseline: an axum server that answers `POST /pin/` (and `/pins`) with 200 and
//! the body echoed, storing nothing. `bench/ingest.sh` measures pinpipe against it, so the ratio
//! shows what durability and validation cost on top of plain HTTP on the same machine.
//!
//! Usage: `noop_server [ADDR]` (default 127.0.0.1:8100).

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;

async fn echo(body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8100".to_owned());
    let app = Router::new()
        .route("/pin/", post(echo))
        .route("/pins", post(echo))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("noop server on {addr}");
    axum::serve(listener, app).await
}
