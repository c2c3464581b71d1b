//! Request handlers.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use pinpipe_log::{LogError, NewRecord, Position};
use pinpipe_model::EventType;
use pinpipe_model::validate::{ErrorDetail, json_error_offset, validate_key};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::metrics::Rejection;

const JSON: &str = "application/json";
const NDJSON_TYPES: &[&str] = &[
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
];
const KAFKA_JSON_TYPES: &[&str] = &[
    "application/vnd.kafka.json.v2+json",
    "application/vnd.kafka.v2+json",
];

/// The media type of a request, lower-cased, without parameters; `None` when absent.
fn media_type(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::UnsupportedMediaType {
        got: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        expected: JSON,
    })?;
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Ok(Some(essence))
}

/// JSON as FastAPI takes it: `application/json`, any `application/*+json`, or no content type.
fn is_json(media: Option<&str>) -> bool {
    match media {
        None => true,
        Some(m) => m == JSON || (m.starts_with("application/") && m.ends_with("+json")),
    }
}

fn check_auth(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.inner.config.auth_token.as_deref() else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("");
    // Constant-time: the comparison takes as long whatever prefix of the token is right.
    use subtle::ConstantTimeEq;
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Reads the whole body, bounded in size (413) and time (408).
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "request body is larger than the limit of {limit} bytes"
        ))
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let timeout = Duration::from_millis(state.inner.config.body_timeout_ms);
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::BodyTimeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(ApiError::BadBody(inner.to_string()))
            }
        }
    }
}

/// Request id: the client's `X-Request-Id` when it is sane, else a new UUIDv7.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn record(key: String, value: &[u8], received_ms: i64, request_id: &str) -> NewRecord {
    NewRecord {
        key: key.into_bytes(),
        value: value.to_vec(),
        timestamp_ms: received_ms,
        headers: vec![("request_id".to_owned(), request_id.to_owned())],
    }
}

async fn append(
    state: &AppState,
    kind: EventType,
    records: Vec<NewRecord>,
) -> Result<Vec<Position>, ApiError> {
    let events = records.len();
    let result = state.inner.log.append(state.topic(kind), records).await;
    match &result {
        Ok(_) => {
            state.inner.appends.succeeded();
            state.inner.events.accepted(kind, events);
        }
        Err(e) => {
            state.inner.appends.failed(&e.to_string());
            let reason = match e {
                LogError::Saturated(_) => Rejection::Saturated,
                LogError::Timeout(_) => Rejection::Timeout,
                _ => Rejection::Unavailable,
            };
            state.inner.events.rejected(kind, reason, events);
        }
    }
    result.map_err(|e| {
        let retry_after = state.inner.config.retry_after_secs;
        match &e {
            LogError::Saturated(_) | LogError::Timeout(_) => {
                tracing::warn!(error = %e, "append refused");
            }
            _ => tracing::error!(error = %e, "append failed"),
        }
        ApiError::Unavailable {
            reason: e.to_string(),
            retry_after,
        }
    })
}

/// Keeps a refused event request for the dashboard's errors page (422 and 503 answers).
fn remember(state: &AppState, route: &str, error: &ApiError, body: &[u8], request_id: &str) {
    let (status, detail) = match error {
        ApiError::Invalid(problems) | ApiError::ProxyInvalid(_, problems) => {
            (422, serde_json::to_value(problems).unwrap_or_default())
        }
        ApiError::Unavailable { reason, .. } => (503, Value::from(reason.as_str())),
        _ => return,
    };
    state
        .inner
        .rejects
        .record(route, status, detail, body, request_id);
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// One event: validate, append, echo.
async fn single(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    kind: EventType,
) -> Result<Response, ApiError> {
    check_auth(&state, &headers)?;
    let media = media_type(&headers)?;
    if !is_json(media.as_deref()) {
        return Err(ApiError::UnsupportedMediaType {
            got: media.unwrap_or_default(),
            expected: JSON,
        });
    }
    let body = read_body(&state, &headers, body, state.inner.config.max_body_bytes).await?;
    state.inner.events.received(kind, body.len());
    let id = request_id(&headers);
    let route = || format!("/{}/", kind.as_str());
    let key = validate_key(kind, &body)
        .map_err(ApiError::from)
        .inspect_err(|e| {
            state.inner.events.rejected(kind, Rejection::Invalid, 1);
            remember(&state, &route(), e, &body, &id);
        })?;
    let positions = append(
        &state,
        kind,
        vec![record(key, &body, pinpipe_log::now_ms(), &id)],
    )
    .await
    .inspect_err(|e| remember(&state, &route(), e, &body, &id))?;
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, JSON)], body).into_response();
    if let Some(position) = positions.first() {
        let h = response.headers_mut();
        h.insert("x-pinpipe-partition", HeaderValue::from(position.partition));
        h.insert("x-pinpipe-offset", HeaderValue::from(position.offset));
    }
    Ok(with_request_id(response, &id))
}

/// Splits a batch body into its events (raw JSON text of each).
fn split_batch(body: &[u8], ndjson: bool) -> Result<Vec<&[u8]>, ApiError> {
    if ndjson {
        // memchr finds line ends a word at a time; a byte-by-byte split showed in profiles.
        let mut lines = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
            let line = &body[start..end];
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push(line);
            }
            start = end + 1;
        }
        return Ok(lines);
    }
    match serde_json::from_slice::<Vec<&RawValue>>(body) {
        Ok(items) => Ok(items.into_iter().map(|r| r.get().as_bytes()).collect()),
        Err(_) => {
            // Tell "not a list" from "not JSON", as Pydantic does, and place a JSON error by its
            // byte offset as `POST /pin/` does.
            let detail = match serde_json::from_slice::<Value>(body) {
                Ok(other) => ErrorDetail {
                    kind: "list_type",
                    loc: vec!["body".into()],
                    msg: "Input should be a valid list".into(),
                    input: other,
                    ctx: None,
                },
                Err(e) => ErrorDetail {
                    kind: "json_invalid",
                    loc: vec!["body".into(), json_error_offset(body, &e).into()],
                    msg: "JSON decode error".into(),
                    input: json!({}),
                    ctx: Some(json!({ "error": e.to_string() })),
                },
            };
            Err(ApiError::Invalid(vec![detail]))
        }
    }
}

/// Validates every event of a batch; all problems are reported, each `loc` starting with
/// `["body", <index>]`.
fn validate_all(kind: EventType, items: &[&[u8]]) -> Result<Vec<String>, Vec<ErrorDetail>> {
    let mut keys = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match validate_key(kind, item) {
            Ok(key) => keys.push(key),
            Err(e) => problems.extend(e.detail.into_iter().map(|mut d| {
                d.loc.insert(1, Value::from(index));
                d
            })),
        }
    }
    if problems.is_empty() {
        Ok(keys)
    } else {
        Err(problems)
    }
}

/// Appends the validated events of one batch request together, stamped with one receive time
/// and request id. Returns the request id and where each event went.
async fn append_batch(
    state: &AppState,
    headers: &HeaderMap,
    kind: EventType,
    items: &[&[u8]],
    keys: Vec<String>,
) -> Result<(String, Vec<Position>), ApiError> {
    let id = request_id(headers);
    let now = pinpipe_log::now_ms();
    let records = items
        .iter()
        .zip(keys)
        .map(|(item, key)| record(key, item, now, &id))
        .collect();
    let positions = append(state, kind, records).await?;
    Ok((id, positions))
}

/// Waits for a batch permit, at most the body timeout; then 503.
async fn batch_permit(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    let wait = Duration::from_millis(state.inner.config.body_timeout_ms);
    match tokio::time::timeout(wait, state.inner.batches.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::Unavailable {
            reason: "too many batch requests in progress".into(),
            retry_after: state.inner.config.retry_after_secs,
        }),
    }
}

/// A batch: all events valid, then appended together (one transaction on the local log).
async fn batch(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    kind: EventType,
) -> Result<Response, ApiError> {
    check_auth(&state, &headers)?;
    let media = media_type(&headers)?;
    let ndjson = media.as_deref().is_some_and(|m| NDJSON_TYPES.contains(&m));
    if !ndjson && !is_json(media.as_deref()) {
        return Err(ApiError::UnsupportedMediaType {
            got: media.unwrap_or_default(),
            expected: "application/json (a JSON array) or application/x-ndjson",
        });
    }
    let _permit = batch_permit(&state).await?;
    let body = read_body(
        &state,
        &headers,
        body,
        state.inner.config.max_batch_body_bytes,
    )
    .await?;
    state.inner.events.received(kind, body.len());
    let items = split_batch(&body, ndjson)?;
    let max = state.inner.config.max_batch_events;
    if items.len() > max {
        return Err(ApiError::TooLarge(format!(
            "batch of {} events is over the limit of {max}",
            items.len()
        )));
    }
    let route = || format!("/{}s", kind.as_str());
    let keys = validate_all(kind, &items).map_err(|problems| {
        state
            .inner
            .events
            .rejected(kind, Rejection::Invalid, items.len());
        let error = ApiError::Invalid(problems);
        remember(&state, &route(), &error, &body, &request_id(&headers));
        error
    })?;
    let (id, positions) = append_batch(&state, &headers, kind, &items, keys)
        .await
        .inspect_err(|e| remember(&state, &route(), e, &body, &request_id(&headers)))?;
    let body = BatchAccepted {
        accepted: positions.len(),
        offsets: &positions,
    };
    Ok(with_request_id(
        (StatusCode::OK, axum::Json(body)).into_response(),
        &id,
    ))
}

/// Confluent REST Proxy v2 produce request.
#[derive(Deserialize)]
struct ProxyRequest<'a> {
    #[serde(borrow)]
    records: Vec<ProxyRecord<'a>>,
}

#[derive(Deserialize)]
struct ProxyRecord<'a> {
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

async fn proxy(
    state: AppState,
    topic: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_auth(&state, &headers)?;
    let media = media_type(&headers)?;
    let ok_type = media
        .as_deref()
        .is_none_or(|m| KAFKA_JSON_TYPES.contains(&m) || m == JSON);
    if !ok_type {
        return Err(ApiError::UnsupportedMediaType {
            got: media.unwrap_or_default(),
            expected: "application/vnd.kafka.json.v2+json",
        });
    }
    let kind = state
        .kind_of_topic(&topic)
        .ok_or(ApiError::ProxyUnknownTopic(topic))?;
    let _permit = batch_permit(&state).await?;
    let body = read_body(
        &state,
        &headers,
        body,
        state.inner.config.max_batch_body_bytes,
    )
    .await?;
    state.inner.events.received(kind, body.len());
    let request: ProxyRequest<'_> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::ProxyInvalid(
            format!("expected {{\"records\":[{{\"value\":{{…}}}}]}}: {e}"),
            Vec::new(),
        )
    })?;
    let max = state.inner.config.max_batch_events;
    if request.records.len() > max {
        return Err(ApiError::TooLarge(format!(
            "{} records are over the limit of {max}",
            request.records.len()
        )));
    }
    let mut items = Vec::with_capacity(request.records.len());
    for (index, r) in request.records.iter().enumerate() {
        match r.value {
            Some(v) => items.push(v.get().as_bytes()),
            None => {
                return Err(ApiError::ProxyInvalid(
                    format!("record {index} has no value"),
                    Vec::new(),
                ));
            }
        }
    }
    let keys = validate_all(kind, &items).map_err(|d| {
        state
            .inner
            .events
            .rejected(kind, Rejection::Invalid, items.len());
        ApiError::ProxyInvalid(format!("{} problem(s) in the records", d.len()), d)
    })?;
    let (id, positions) = append_batch(&state, &headers, kind, &items, keys).await?;
    let offsets: Vec<Value> = positions
        .iter()
        .map(|p| json!({ "partition": p.partition, "offset": p.offset, "error_code": null, "error": null }))
        .collect();
    let body = json!({ "key_schema_id": null, "value_schema_id": null, "offsets": offsets });
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.kafka.v2+json"),
    );
    Ok(with_request_id(response, &id))
}

macro_rules! single_handler {
    ($name:ident, $kind:expr, $path:literal, $schema:ty, $what:literal) => {
        #[doc = concat!("`POST ", $path, "`: one ", $what, ".")]
        #[utoipa::path(
            post,
            path = $path,
            tag = "events",
            description = concat!(
                "Accepts one ", $what, " as the original pipeline's API did (also without the trailing slash). ",
                "200 echoes the event once the event log has it durably."
            ),
            request_body(content = $schema, content_type = "application/json"),
            responses(
                (status = 200, description = "Stored durably; the event is echoed", body = $schema),
                (status = 401, description = "Missing or wrong bearer token (when auth is on)"),
                (status = 413, description = "Body over the limit"),
                (status = 415, description = "Not application/json"),
                (status = 422, description = "Invalid event (FastAPI's shape)", body = pinpipe_model::validate::ValidationErrors),
                (status = 503, description = "The event log cannot take it now; retry after Retry-After seconds"),
            ),
            security((), ("bearer" = [])),
        )]
        pub(crate) async fn $name(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
            single(state, headers, body, $kind).await.unwrap_or_else(IntoResponse::into_response)
        }
    };
}

macro_rules! batch_handler {
    ($name:ident, $kind:expr, $path:literal, $schema:ty, $what:literal) => {
        #[doc = concat!("`POST ", $path, "`: a batch of ", $what, "s.")]
        #[utoipa::path(
            post,
            path = $path,
            tag = "events",
            description = concat!(
                "Accepts many ", $what, "s: a JSON array (application/json) or one event per line ",
                "(application/x-ndjson). Order is kept. All or nothing: one invalid event refuses the ",
                "request, and the 422 lists every problem with its index in `loc` (`[\"body\", index, field]`)."
            ),
            request_body(content = Vec<$schema>, content_type = "application/json"),
            responses(
                (status = 200, description = "All stored durably", body = BatchAccepted),
                (status = 413, description = "Body or event count over the limit"),
                (status = 415, description = "Neither JSON nor NDJSON"),
                (status = 422, description = "At least one invalid event", body = pinpipe_model::validate::ValidationErrors),
                (status = 503, description = "The event log cannot take it now; retry after Retry-After seconds"),
            ),
            security((), ("bearer" = [])),
        )]
        pub(crate) async fn $name(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
            batch(state, headers, body, $kind).await.unwrap_or_else(IntoResponse::into_response)
        }
    };
}

single_handler!(
    post_pin,
    EventType::Pin,
    "/pin/",
    pinpipe_model::raw::RawPin,
    "pin"
);
single_handler!(
    post_geo,
    EventType::Geo,
    "/geo/",
    pinpipe_model::raw::RawGeo,
    "geolocation record"
);
single_handler!(
    post_user,
    EventType::User,
    "/user/",
    pinpipe_model::raw::RawUser,
    "user record"
);
batch_handler!(
    post_pins,
    EventType::Pin,
    "/pins",
    pinpipe_model::raw::RawPin,
    "pin"
);
batch_handler!(
    post_geos,
    EventType::Geo,
    "/geos",
    pinpipe_model::raw::RawGeo,
    "geolocation record"
);
batch_handler!(
    post_users,
    EventType::User,
    "/users",
    pinpipe_model::raw::RawUser,
    "user record"
);

/// Body of a 200 from a batch endpoint, serialised straight from the positions (a `json!` value
/// built a map per event: 3 % of the workers' time under `POST /pins`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct BatchAccepted<'a> {
    /// Events stored.
    accepted: usize,
    /// Where each event went, in request order.
    #[schema(value_type = Vec<PositionDoc>)]
    offsets: &'a [Position],
}

/// A log position.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct PositionDoc {
    partition: u32,
    offset: u64,
}

/// `POST /topics/{topic}`: Confluent REST Proxy v2 produce.
#[utoipa::path(
    post,
    path = "/topics/{topic}",
    tag = "kafka rest proxy",
    description = "Confluent REST Proxy v2 produce (`{\"records\":[{\"value\":{…}}]}`, content type \
        application/vnd.kafka.json.v2+json), so emulators written for a Kafka REST proxy work unchanged. \
        The topic's last dot-separated part names the event type (`pins`, `pin`, `<prefix>.pin`, `geo`, \
        `user`, …); events go to pinpipe's topic of that type, validated as on `/pin/`.",
    params(("topic" = String, Path, description = "e.g. pins, or 0a1b2c3d.pin")),
    responses(
        (status = 200, description = "All records stored durably; their offsets"),
        (status = 404, description = "Topic names no event type"),
        (status = 415, description = "Wrong content type"),
        (status = 422, description = "Invalid envelope or events"),
        (status = 503, description = "The event log cannot take it now"),
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn post_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy(state, topic, headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Up")))]
pub(crate) async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: the event log can be reached and takes appends.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    description = "Ready when the event log answers and the latest append succeeded. Not ready \
        (503) while the log refuses appends (disk full, read-only, saturated, broker away) until \
        an append succeeds again; a refusal with no append tried for 10 s since is no longer held \
        against it.",
    responses(
        (status = 200, description = "The event log answers and takes appends"),
        (status = 503, description = "The event log does not answer, or refuses appends; `detail` says why"),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let log = &state.inner.log;
    if let Some(failure) = state.inner.appends.current() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({
                "status": "unavailable",
                "log": log.backend_name(),
                "detail": format!("the event log refuses appends: {}", failure.reason),
                "failing_for_ms": failure.first.elapsed().as_millis() as u64,
            })),
        )
            .into_response();
    }
    match tokio::time::timeout(Duration::from_secs(3), log.ready()).await {
        Ok(Ok(())) => axum::Json(json!({ "status": "ready", "log": log.backend_name() })).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "log": log.backend_name(), "detail": e.to_string() })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "log": log.backend_name(), "detail": "timed out" })),
        )
            .into_response(),
    }
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    ApiError::NotFound(uri.path().to_owned()).into_response()
}

pub(crate) async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

/// Makes every error answer JSON (`{"detail": …}`), whatever produced it (the docs routes, an
/// extractor's rejection), and closes the connection after a 404 or 405 to a request with a
/// body: the body was never read, so the connection cannot carry another request.
pub(crate) async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let has_body = request.headers().contains_key(header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let mut response = if is_json {
        response
    } else {
        let (mut parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 64 << 10)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let message = match text.trim() {
            "" => status.canonical_reason().unwrap_or("error").to_owned(),
            text => text.to_owned(),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        let body = serde_json::to_vec(&json!({ "detail": message })).unwrap_or_default();
        Response::from_parts(parts, Body::from(body))
    };
    if has_body
        && matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        )
    {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
