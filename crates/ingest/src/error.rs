//! Every error the API answers, always as JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pinpipe_model::validate::{ErrorDetail, ValidationErrors};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 422, FastAPI's shape.
    Invalid(Vec<ErrorDetail>),
    /// 422 on the REST proxy, Confluent's shape plus the details.
    ProxyInvalid(String, Vec<ErrorDetail>),
    /// 404 on the REST proxy, Confluent's shape.
    ProxyUnknownTopic(String),
    /// 415.
    UnsupportedMediaType { got: String, expected: &'static str },
    /// 413.
    TooLarge(String),
    /// 401.
    Unauthorized,
    /// 408.
    BodyTimeout,
    /// 400 (the body could not be read).
    BadBody(String),
    /// 503 with `Retry-After`.
    Unavailable { reason: String, retry_after: u64 },
    /// 404.
    NotFound(String),
    /// 405.
    MethodNotAllowed,
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Invalid(e.detail)
    }
}

fn detail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "detail": message.into() }))).into_response()
}

impl ApiError {
    /// Errors answered before the request body was read to its end. The server then cannot reuse
    /// the connection, so it says so (`Connection: close`) instead of dropping it unannounced
    /// under a keep-alive client.
    fn body_maybe_unread(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthorized
                | ApiError::UnsupportedMediaType { .. }
                | ApiError::TooLarge(_)
                | ApiError::BodyTimeout
                | ApiError::BadBody(_)
                | ApiError::ProxyUnknownTopic(_)
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let close = self.body_maybe_unread();
        let mut response = self.response();
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl ApiError {
    fn response(self) -> Response {
        match self {
            ApiError::Invalid(details) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({ "detail": details })),
            )
                .into_response(),
            ApiError::ProxyInvalid(message, details) => {
                let body = json!({ "error_code": 42201, "message": message, "detail": details });
                let mut response =
                    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/vnd.kafka.v2+json"),
                );
                response
            }
            ApiError::ProxyUnknownTopic(topic) => {
                let body = json!({
                    "error_code": 40401,
                    "message": format!("Topic {topic} not found. pinpipe takes pin, geo and user topics (e.g. pins, <prefix>.pin)."),
                });
                let mut response = (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/vnd.kafka.v2+json"),
                );
                response
            }
            ApiError::UnsupportedMediaType { got, expected } => detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {got:?}; send {expected}"),
            ),
            ApiError::TooLarge(message) => detail(StatusCode::PAYLOAD_TOO_LARGE, message),
            ApiError::Unauthorized => {
                let mut response = detail(
                    StatusCode::UNAUTHORIZED,
                    "Not authenticated: send Authorization: Bearer <token>",
                );
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            ApiError::BodyTimeout => detail(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            ),
            ApiError::BadBody(message) => detail(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {message}"),
            ),
            ApiError::Unavailable {
                reason,
                retry_after,
            } => {
                let mut response = detail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{reason}; retry later (a retried event is de-duplicated downstream)"),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                response
            }
            ApiError::NotFound(path) => detail(StatusCode::NOT_FOUND, format!("Not Found: {path}")),
            ApiError::MethodNotAllowed => {
                detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
            }
        }
    }
}
