//! The HTTP server under the API: hyper's HTTP/1 connections with the hygiene a public-facing
//! server needs and `axum::serve` does not expose.
//!
//! - **Header-read timeout**: a connection whose request head is not complete
//!   `header_read_timeout_ms` after its accept (or after the first byte of a later request on a
//!   kept-alive connection) is closed; so is one that never sends a byte.
//! - **Keep-alive timeout**: a kept-alive connection idle `keep_alive_timeout_ms` between requests
//!   is closed.
//! - **Connection cap**: beyond `max_connections` open connections, a new one gets a 503 at once
//!   and is closed; the accept loop never waits for a slot, so open clients keep being served.
//! - **Listen backlog**: `listen_backlog`.
//!
//! hyper 1's own `header_read_timeout` arms one timer for both the wait for the next request and
//! its head, so the two timeouts could not differ; the small watchdog here keeps them apart (the
//! phase of each connection is two atomics and a timestamp, updated by the connection's reads
//! and by the service around each request).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tower::ServiceExt;

/// The connection limits of a server (from `[serve]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See `ServeConfig::header_read_timeout_ms`.
    pub header_read_timeout: Duration,
    /// See `ServeConfig::keep_alive_timeout_ms`.
    pub keep_alive_timeout: Duration,
    /// Connections open at once, at most.
    pub max_connections: usize,
}

/// Counters of the connections a server handled (for logs and metrics).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections refused at the cap (answered 503 and closed).
    pub refused: AtomicU64,
    /// Connections closed because their request head did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Kept-alive connections closed after idling too long.
    pub idle_timeouts: AtomicU64,
    /// Errors accepting a connection (e.g. out of file descriptors).
    pub accept_errors: AtomicU64,
}

/// Binds `addr` (`HOST:PORT`) with the given listen backlog.
pub async fn bind(addr: &str, backlog: u32) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match bind_one(addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} resolves to no address"),
        )
    }))
}

fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's and axum's listeners do: a restart may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The answer to a connection over the cap: written without waiting (the socket's send buffer
/// is empty), then the connection is closed.
static OVER_CAPACITY: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let body = r#"{"detail":"too many open connections (serve.max_connections); retry later on a new connection"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// One log line per interval at most for each kind of dropped connection.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, closes idle
/// connections, lets requests in flight finish and returns once every connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    let mut reporter = DropReporter::new(stats.clone(), limits);
    let mut report = tokio::time::interval(LOG_EVERY);
    report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
            _ = report.tick() => {
                reporter.flush();
                continue;
            }
        };
        let (stream, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                reporter.accept_error(&e);
                // Out of descriptors or memory: give closing connections a moment instead of
                // spinning on the same error.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            let _ = stream.try_write(&OVER_CAPACITY);
            drop(stream);
            continue;
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (app, stats, stop) = (app.clone(), stats.clone(), stop_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, app, limits, &stats, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot until it closes.
    let _ = slots.acquire_many(max as u32).await;
    reporter.flush();
    Ok(())
}

/// Where a connection is, for the watchdog.
struct Phase {
    /// A request is being handled (its body read, its answer computed).
    busy: AtomicBool,
    /// Bytes of a request head have arrived since the last request ended (or this is a fresh
    /// connection, whose head is due from its accept).
    head: AtomicBool,
    /// Milliseconds since `epoch` when the current phase started.
    since_ms: AtomicU64,
    epoch: Instant,
    /// Wakes the watchdog when the phase changes.
    changed: Notify,
}

impl Phase {
    fn new() -> Phase {
        Phase {
            busy: AtomicBool::new(false),
            head: AtomicBool::new(true),
            since_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            changed: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn read_some(&self) {
        if !self.head.load(Ordering::Relaxed) && !self.busy.load(Ordering::Relaxed) {
            self.since_ms.store(self.now_ms(), Ordering::Relaxed);
            self.head.store(true, Ordering::Relaxed);
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    fn request_ended(&self) {
        self.head.store(false, Ordering::Relaxed);
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// When the connection is due to be closed, and why; `None` while a request is in hand.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Expiry)> {
        if self.busy.load(Ordering::Relaxed) {
            return None;
        }
        let since = self.epoch + Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        Some(if self.head.load(Ordering::Relaxed) {
            (since + limits.header_read_timeout, Expiry::Header)
        } else {
            (since + limits.keep_alive_timeout, Expiry::Idle)
        })
    }
}

#[derive(Clone, Copy)]
enum Expiry {
    Header,
    Idle,
}

/// A TCP stream that tells its connection's [`Phase`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    phase: Arc<Phase>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.read_some();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    stats: &ConnectionStats,
    mut stop: watch::Receiver<bool>,
) {
    let phase = Arc::new(Phase::new());
    let io = TokioIo::new(Watched {
        stream,
        phase: phase.clone(),
    });
    let service_phase = phase.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let phase = service_phase.clone();
        phase.request_started();
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await;
            phase.request_ended();
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // The watchdog below times request heads; hyper's own timer would also close idle
    // kept-alive connections after the header timeout.
    http.header_read_timeout(None);
    let mut connection = pin!(http.serve_connection(io, service));
    let mut stopping = false;
    loop {
        let deadline = phase.deadline(&limits);
        let changed = phase.changed.notified();
        tokio::select! {
            _ = connection.as_mut() => return,
            () = changed => {}
            result = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                if result.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = sleep_until(deadline) => {
                // Looked at again: the phase may have changed while the timer fired.
                if let Some((due, why)) = phase.deadline(&limits)
                    && due <= Instant::now()
                {
                    let counter = match why {
                        Expiry::Header => &stats.header_timeouts,
                        Expiry::Idle => &stats.idle_timeouts,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    return; // dropping the connection closes the socket
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<(Instant, Expiry)>) {
    match deadline {
        Some((at, _)) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Logs dropped connections at most once per [`LOG_EVERY`] for each kind, with the counts since
/// the last line.
struct DropReporter {
    stats: Arc<ConnectionStats>,
    limits: Limits,
    reported: [u64; 3],
    last_accept_error: Option<Instant>,
}

impl DropReporter {
    fn new(stats: Arc<ConnectionStats>, limits: Limits) -> DropReporter {
        DropReporter {
            stats,
            limits,
            reported: [0; 3],
            last_accept_error: None,
        }
    }

    fn counts(&self) -> [u64; 3] {
        [
            self.stats.refused.load(Ordering::Relaxed),
            self.stats.header_timeouts.load(Ordering::Relaxed),
            self.stats.idle_timeouts.load(Ordering::Relaxed),
        ]
    }

    fn flush(&mut self) {
        let now = self.counts();
        let [refused, header, idle] = [0, 1, 2].map(|i| now[i] - self.reported[i]);
        self.reported = now;
        if refused > 0 {
            tracing::warn!(
                target: "pinpipe::ingest",
                refused,
                max_connections = self.limits.max_connections,
                "refused {refused} connections at the cap of {} open connections (serve.max_connections)",
                self.limits.max_connections
            );
        }
        if header > 0 {
            tracing::warn!(
                target: "pinpipe::ingest",
                closed = header,
                "closed {header} connections whose request head did not arrive within {:?} (serve.header_read_timeout_ms)",
                self.limits.header_read_timeout
            );
        }
        if idle > 0 {
            tracing::info!(
                target: "pinpipe::ingest",
                closed = idle,
                "closed {idle} kept-alive connections idle for {:?} (serve.keep_alive_timeout_ms)",
                self.limits.keep_alive_timeout
            );
        }
    }

    fn accept_error(&mut self, e: &io::Error) {
        let due = self
            .last_accept_error
            .is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if due {
            self.last_accept_error = Some(Instant::now());
            let errors = self.stats.accept_errors.load(Ordering::Relaxed);
            tracing::error!(
                target: "pinpipe::ingest",
                error = %e,
                errors,
                "cannot accept connections: {e} ({errors} so far); if it says too many open files, lower serve.max_connections or raise the open-files limit"
            );
        }
    }
}
