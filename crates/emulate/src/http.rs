//! The HTTP side of the emulator: `concurrency` workers, each owning one keep-alive HTTP/1.1
//! connection (hyper's connection API), taking requests from a shared queue.
//!
//! One connection per worker, not a pooled client: with no pool, no per-request task and no URL
//! parsing, a request costs about 18 µs of CPU instead of about 30 µs with reqwest's pooled
//! client (measured here, docs/benchmarks.md), which is what lets one core keep up with the
//! fastest server on the other.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{
    AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER, USER_AGENT,
};
use hyper::{Request, StatusCode, Uri};
use pinpipe_model::EventType;

use crate::config::{EmulateConfig, Mode};
use crate::table::kind_index;

/// Where and how requests go; shared by the workers.
pub(crate) struct Target {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header.
    host: HeaderValue,
    /// Request paths by event type.
    paths: [String; 3],
    content_type: HeaderValue,
    authorization: Option<HeaderValue>,
    timeout: Duration,
    /// Retries after the first attempt.
    pub(crate) retries: u32,
}

impl Target {
    /// Checks the configuration's URL and prepares the requests.
    pub(crate) fn new(config: &EmulateConfig) -> Result<Target, String> {
        let invalid = |why: &str| {
            format!(
                "--url {:?} {why} (for example http://localhost:8000)",
                config.url
            )
        };
        let uri: Uri = config
            .url
            .parse()
            .map_err(|_| invalid("is not an http:// URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid(
                    "uses https, which the emulator does not speak: send to the API over plain \
                     HTTP, next to it or through a TLS-terminating proxy",
                ));
            }
            _ => return Err(invalid("is not an http:// URL")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let address = format!("{}:{port}", authority.host());
        let base = uri.path().trim_end_matches('/');
        let paths = EventType::ALL.map(|kind| match config.mode {
            Mode::Single => format!("{base}/{}/", kind.as_str()),
            Mode::Batch => format!("{base}/{}s", kind.as_str()),
            Mode::Rest => format!(
                "{base}/topics/{}{}",
                config.rest_topic_prefix,
                kind.as_str()
            ),
        });
        let authorization = match &config.token {
            Some(token) => Some(HeaderValue::try_from(format!("Bearer {token}")).map_err(
                |_| "the [emulate] token has characters a header cannot carry".to_owned(),
            )?),
            None => None,
        };
        Ok(Target {
            address,
            host: HeaderValue::try_from(authority.as_str())
                .map_err(|_| invalid("has an odd host"))?,
            paths,
            content_type: HeaderValue::from_static(match config.mode {
                Mode::Rest => "application/vnd.kafka.json.v2+json",
                _ => "application/json",
            }),
            authorization,
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            retries: config.retries,
        })
    }

    /// The request path of an event type, for messages.
    pub(crate) fn path(&self, kind: EventType) -> &str {
        &self.paths[kind_index(kind)]
    }
}

/// What came back for one attempt.
pub(crate) enum Answer {
    /// A complete response: status, `Retry-After`, body.
    Status(StatusCode, Option<Duration>, Bytes),
    /// No (complete) response: why.
    NoAnswer(String),
}

/// One worker's connection, opened on first use and again after an error.
#[derive(Default)]
pub(crate) struct Connection {
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// Sends one request and reads the whole answer, within the target's timeout. A connection
    /// that failed, timed out or was closed by the server is dropped and reopened next time.
    pub(crate) async fn send(
        &mut self,
        target: &Arc<Target>,
        kind: EventType,
        body: &Bytes,
    ) -> Answer {
        match tokio::time::timeout(target.timeout, self.exchange(target, kind, body)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(why)) => {
                self.sender = None;
                Answer::NoAnswer(why)
            }
            Err(_) => {
                self.sender = None;
                Answer::NoAnswer(format!("timed out after {:?}", target.timeout))
            }
        }
    }

    async fn exchange(
        &mut self,
        target: &Target,
        kind: EventType,
        body: &Bytes,
    ) -> Result<Answer, String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(connect(&target.address).await?);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender
            .ready()
            .await
            .map_err(|e| describe("connection lost", &e))?;
        let mut request = Request::post(target.path(kind))
            .header(HOST, target.host.clone())
            .header(CONTENT_TYPE, target.content_type.clone())
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("pinpipe-emulate/", env!("CARGO_PKG_VERSION"))),
            )
            .body(Full::new(body.clone()))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        if let Some(authorization) = &target.authorization {
            request
                .headers_mut()
                .insert(AUTHORIZATION, authorization.clone());
        }
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| describe("request failed", &e))?;
        let status = response.status();
        let headers = response.headers();
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let closing = headers
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| describe("answer cut off", &e))?
            .to_bytes();
        if closing {
            self.sender = None;
        }
        Ok(Answer::Status(status, retry_after, body))
    }
}

/// A new keep-alive connection; its I/O runs in a task of its own.
async fn connect(address: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    // Requests are small and answered at once: no Nagle delay.
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| describe("cannot start HTTP", &e))?;
    tokio::spawn(async move {
        // Errors surface on the sender side as failed requests.
        let _ = connection.await;
    });
    Ok(sender)
}

/// An error with its causes on one line.
fn describe(what: &str, error: &dyn std::error::Error) -> String {
    let mut text = format!("{what}: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
