//! The sending loop: turns the event sequence into HTTP requests on the pacing's schedule, with
//! bounded retries, and counts every outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use hyper::StatusCode;
use pinpipe_model::EventType;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::config::{EmulateConfig, Mode};
use crate::http::{Answer, Connection, Target};
use crate::pacing::{Pacing, Schedule};
use crate::sequence::{Event, Sequence};
use crate::stats::{Outcome, Stats};
use crate::table::{Bodies, kind_index};

/// The ChaCha stream of the original pacing's sleeps.
const PACING_STREAM: u64 = 2;
/// Events due less than this ahead are sent at once: sleeping for less than a timer tick would
/// only add jitter.
const EARLY_SLACK: Duration = Duration::from_millis(1);
/// First retry delay; doubled on each retry up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A server's `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// What one run sends and when it stops.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Pacing.
    pub pacing: Pacing,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop after this long (with a rate: events due before it).
    pub duration: Option<Duration>,
    /// Seeds the sequence and the original pacing's sleeps.
    pub seed: u64,
}

/// One HTTP request's worth of events.
struct Job {
    kind: EventType,
    events: u64,
    body: Bytes,
    due: Instant,
}

/// Event bodies → request bodies, per the mode.
struct Batcher {
    mode: Mode,
    batch_size: usize,
    buffers: [Vec<Bytes>; 3],
}

impl Batcher {
    fn push(&mut self, event: Event, due: Instant) -> Option<Job> {
        if self.mode == Mode::Single {
            return Some(Job {
                kind: event.kind,
                events: 1,
                body: event.body,
                due,
            });
        }
        let kind = event.kind;
        let buffer = &mut self.buffers[kind_index(kind)];
        buffer.push(event.body);
        (buffer.len() >= self.batch_size).then(|| self.take(kind, due))
    }

    fn take(&mut self, kind: EventType, due: Instant) -> Job {
        let bodies = std::mem::take(&mut self.buffers[kind_index(kind)]);
        let size: usize = bodies.iter().map(|b| b.len() + 13).sum::<usize>() + 16;
        let mut body = BytesMut::with_capacity(size);
        // json.dumps spacing, as the rest of the emulator's bodies.
        let (open, item_open, item_close, close): (&[u8], &[u8], &[u8], &[u8]) = match self.mode {
            Mode::Rest => (b"{\"records\": [", b"{\"value\": ", b"}", b"]}"),
            _ => (b"[", b"", b"", b"]"),
        };
        body.put_slice(open);
        for (i, item) in bodies.iter().enumerate() {
            if i > 0 {
                body.put_slice(b", ");
            }
            body.put_slice(item_open);
            body.put_slice(item);
            body.put_slice(item_close);
        }
        body.put_slice(close);
        Job {
            kind,
            events: bodies.len() as u64,
            body: body.freeze(),
            due,
        }
    }

    fn flush(&mut self, due: Instant) -> Vec<Job> {
        let pending: Vec<EventType> = EventType::ALL
            .into_iter()
            .filter(|k| !self.buffers[kind_index(*k)].is_empty())
            .collect();
        pending.into_iter().map(|k| self.take(k, due)).collect()
    }
}

/// Sends per `plan` until it ends or `stop` turns true. Returns whether the run was interrupted.
pub(crate) async fn drive(
    config: &EmulateConfig,
    bodies: &Bodies,
    kinds: &[EventType],
    plan: &Plan,
    stats: &Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) -> Result<bool, String> {
    let concurrency = match plan.pacing {
        Pacing::Original => 1,
        _ => config.concurrency.max(1),
    };
    let target = Arc::new(Target::new(config)?);
    // A queue as deep as there are workers: the producer fills it in runs instead of waking for
    // every job. The schedule, not the queue, decides when a job is due; a queued job's latency
    // counts from then.
    let (queue, jobs) = async_channel::bounded::<Job>(concurrency);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(jobs.clone(), Arc::clone(&target), Arc::clone(stats))))
        .collect();
    drop(jobs);
    let mut sequence = Sequence::new(bodies, kinds, config.order, plan.seed);
    let mut batcher = Batcher {
        mode: config.mode,
        batch_size: config.batch_size.max(1),
        buffers: Default::default(),
    };
    let mut schedule = match plan.pacing {
        Pacing::Rate { per_second, burst } => Some(Schedule::new(per_second, burst)),
        _ => None,
    };
    let mut sleeps = ChaCha8Rng::seed_from_u64(plan.seed);
    sleeps.set_stream(PACING_STREAM);
    let start = Instant::now();
    let mut generated = 0u64;
    let mut interrupted = false;

    'records: while let Some(record) = sequence.next_record() {
        for event in record {
            if plan.count.is_some_and(|count| generated >= count) {
                break 'records;
            }
            let due = match &mut schedule {
                Some(schedule) => {
                    let t = schedule.next_due();
                    if plan.duration.is_some_and(|d| t >= d.as_secs_f64()) {
                        break 'records;
                    }
                    start + Duration::from_secs_f64(t)
                }
                None => {
                    if plan.duration.is_some_and(|d| start.elapsed() >= d) {
                        break 'records;
                    }
                    Instant::now()
                }
            };
            generated += 1;
            if let Some(job) = batcher.push(event, due)
                && !dispatch(job, &queue, stats, &mut stop).await
            {
                interrupted = true;
                break 'records;
            }
        }
        if plan.count.is_some_and(|count| generated >= count) {
            break;
        }
        if plan.pacing == Pacing::Original {
            let pause = Duration::from_secs_f64(sleeps.random_range(0.0..2.0));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => { interrupted = true; break 'records; }
            }
        }
        if *stop.borrow() {
            interrupted = true;
            break;
        }
    }
    if !interrupted {
        for job in batcher.flush(Instant::now()) {
            if !dispatch(job, &queue, stats, &mut stop).await {
                interrupted = true;
                break;
            }
        }
    }
    // Workers finish the queued jobs (already counted as sent), then end.
    queue.close();
    for worker in workers {
        worker
            .await
            .map_err(|e| format!("an emulator worker failed: {e}"))?;
    }
    Ok(interrupted)
}

/// Waits until the job is due and a worker is free, then hands it over. Returns false (the job
/// not sent, not counted) when `stop` turned true first.
async fn dispatch(
    job: Job,
    queue: &async_channel::Sender<Job>,
    stats: &Stats,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if job.due > Instant::now() + EARLY_SLACK {
        tokio::select! {
            () = tokio::time::sleep_until(job.due.into()) => {}
            _ = stop.wait_for(|s| *s) => return false,
        }
    }
    let (kind, events) = (job.kind, job.events);
    // The common case without a wait: no futures to set up.
    let job = match queue.try_send(job) {
        Ok(()) => {
            stats.sent(kind, events);
            return true;
        }
        Err(async_channel::TrySendError::Full(job)) => job,
        Err(async_channel::TrySendError::Closed(_)) => return false,
    };
    tokio::select! {
        sent = queue.send(job) => {
            if sent.is_err() {
                return false;
            }
        }
        _ = stop.wait_for(|s| *s) => return false,
    }
    stats.sent(kind, events);
    true
}

/// A worker: takes jobs until the queue is closed and empty, sends each with retries over its
/// own connection, and counts the outcome.
async fn worker(jobs: async_channel::Receiver<Job>, target: Arc<Target>, stats: Arc<Stats>) {
    let mut connection = Connection::default();
    while let Ok(job) = jobs.recv().await {
        send(&job, &mut connection, &target, &stats).await;
    }
}

/// Sends one request, retrying 408/429/5xx and unanswered requests with backoff, and counts the
/// outcome.
async fn send(job: &Job, connection: &mut Connection, target: &Arc<Target>, stats: &Stats) {
    let mut attempt = 0;
    loop {
        stats.request();
        let answer = connection.send(target, job.kind, &job.body).await;
        let (outcome, retry_after, why) = match answer {
            Answer::Status(status, _, _) if status.is_success() => {
                (Some(Outcome::Accepted), None, String::new())
            }
            Answer::Status(status, retry_after, body) if is_retryable(status) => {
                (None, retry_after, format!("{status} {}", snippet(&body)))
            }
            Answer::Status(status, _, body) => (
                Some(Outcome::Rejected),
                None,
                format!("{status} {}", snippet(&body)),
            ),
            Answer::NoAnswer(why) => (None, None, why),
        };
        let outcome = match outcome {
            Some(outcome) => outcome,
            None if attempt < target.retries => {
                stats.retry();
                tokio::time::sleep(backoff(attempt, retry_after)).await;
                attempt += 1;
                continue;
            }
            None => Outcome::Failed,
        };
        if outcome != Outcome::Accepted {
            stats.example(|| {
                let tries = if outcome == Outcome::Failed {
                    format!(" after {} attempts", attempt + 1)
                } else {
                    String::new()
                };
                format!(
                    "{} {}: {why}{tries}",
                    job.kind.as_str(),
                    target.path(job.kind)
                )
            });
        }
        stats.finished(job.kind, job.events, outcome, job.due.elapsed());
        return;
    }
}

/// 408 Request Timeout, 429 Too Many Requests and 5xx may succeed later; other 4xx will not.
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Exponential backoff with jitter, or the server's `Retry-After` when it asks for longer.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = FIRST_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    // Up to +50% jitter so that many senders refused at once do not retry in step. The clock's
    // nanoseconds are random enough here: jitter changes when a retry happens, never what is sent.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = f64::from(nanos % 1000) / 2000.0;
    let delay = exponential.mul_f64(1.0 + jitter);
    match retry_after {
        Some(wanted) => delay.max(wanted.min(MAX_RETRY_AFTER)),
        None => delay,
    }
}

/// A short, one-line excerpt of a response body for the summary's examples.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
