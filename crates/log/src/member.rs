//! What every consumer-group member of the log needs, whatever it does with the records: a
//! backoff while its sink is down, a poll that rides out the log's passing failures, noticing
//! that its partitions changed, and how far behind the log's end it is.
//!
//! These are primitives, not a driver: the speed layer (`pinpipe_stream`) and the lake writer
//! (`pinpipe_lake::writer`) keep their own loops, because they differ where it matters (where
//! positions come from, buffer-and-roll vs apply-per-poll, catching up vs fencing).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::sync::watch;

use crate::{Consumer, EventLog, LogError, Record};

/// A partition of a topic: `(topic, partition)`.
pub type PartitionKey = (String, u32);

/// The first pause of a [`Backoff`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The pause after a retryable error from [`Consumer::poll`], before [`poll_retrying`] polls again.
pub const POLL_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Exponential backoff from 100 ms ([`FIRST_PAUSE`]), doubling up to a limit (at least 100 ms),
/// interrupted by `stop`. Make a new one for each operation retried.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// A backoff whose pauses grow up to `max_ms` milliseconds (raised to 100 when lower).
    pub fn new(max_ms: u64) -> Backoff {
        Backoff {
            next: FIRST_PAUSE,
            max: Duration::from_millis(max_ms).max(FIRST_PAUSE),
        }
    }

    /// How long the next [`Backoff::wait`] pauses.
    pub fn pause(&self) -> Duration {
        self.next
    }

    /// Waits the next pause and doubles it (up to the limit); false when `stop` turned true (or
    /// its sender went away) first.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let pause = self.advance();
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            _ = stop.wait_for(|s| *s) => false,
        }
    }

    /// Returns the next pause and doubles it, up to the limit.
    fn advance(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }
}

/// Polls up to `max` records (at least 1), waiting at most `wait()` for them. A retryable error
/// is logged ("reading the event log: …; retrying") and, after [`POLL_RETRY_PAUSE`], the poll is
/// made again with a fresh `wait()`. `Ok(None)` when `stop` is or turns true first; a
/// non-retryable error is returned.
pub async fn poll_retrying(
    consumer: &mut Consumer,
    max: usize,
    wait: impl Fn() -> Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Vec<Record>>, LogError> {
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        let polled = tokio::select! {
            polled = consumer.poll(max.max(1), wait()) => polled,
            _ = stop.wait_for(|s| *s) => return Ok(None),
        };
        match polled {
            Ok(records) => return Ok(Some(records)),
            Err(e) if e.is_retryable() => {
                tracing::warn!("reading the event log: {e}; retrying");
                tokio::time::sleep(POLL_RETRY_PAUSE).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Leaves the group ([`Consumer::close`]); a failure is only logged ("leaving the consumer group:
/// …"), since the member is done either way and the others take over once the log notices.
pub async fn leave(consumer: Consumer) {
    if let Err(e) = consumer.close().await {
        tracing::warn!("leaving the consumer group: {e}");
    }
}

/// The partitions `consumer` owns now, as a set.
pub fn owned(consumer: &Consumer) -> BTreeSet<PartitionKey> {
    consumer.assignment().into_iter().collect()
}

/// True when `owned` (see [`owned`]) is not exactly the partitions a member holds positions
/// for: partitions came or went, and the member must read its positions again.
pub fn assignment_changed<V>(
    owned: &BTreeSet<PartitionKey>,
    positions: &HashMap<PartitionKey, V>,
) -> bool {
    owned.len() != positions.len() || owned.iter().any(|p| !positions.contains_key(p))
}

/// Each partition's end offset (the next offset to be appended) in the log now.
pub async fn log_ends(log: &EventLog) -> Result<HashMap<PartitionKey, u64>, LogError> {
    Ok(log
        .topics()
        .await?
        .into_iter()
        .flat_map(|t| {
            t.partitions
                .into_iter()
                .map(move |p| ((t.name.clone(), p.partition), p.end_offset))
        })
        .collect())
}

/// Records behind the log's end, summed over the partitions a member holds positions for
/// (`positions`: the next offset it needs, `None` for the partition's start). Partitions in
/// `ends` it does not hold are not counted.
pub fn lag(
    ends: &HashMap<PartitionKey, u64>,
    positions: &HashMap<PartitionKey, Option<u64>>,
) -> u64 {
    ends.iter()
        .filter_map(|(p, end)| {
            positions
                .get(p)
                .map(|next| end.saturating_sub(next.unwrap_or(0)))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(topic: &str, partition: u32) -> PartitionKey {
        (topic.to_owned(), partition)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_doubles_from_100_ms_up_to_the_limit() {
        let mut backoff = Backoff::new(1000);
        let pauses: Vec<Duration> = (0..6).map(|_| backoff.advance()).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1000, 1000].map(ms));
        assert_eq!(backoff.pause(), ms(1000));
    }

    #[test]
    fn backoff_limit_is_at_least_100_ms() {
        let mut backoff = Backoff::new(30);
        let pauses: Vec<Duration> = (0..3).map(|_| backoff.advance()).collect();
        assert_eq!(pauses, [100, 100, 100].map(ms));
        let mut odd = Backoff::new(250);
        let pauses: Vec<Duration> = (0..4).map(|_| odd.advance()).collect();
        assert_eq!(pauses, [100, 200, 250, 250].map(ms));
    }

    #[tokio::test]
    async fn backoff_waits_until_stopped() {
        let (stop_tx, mut stop) = watch::channel(false);
        let mut backoff = Backoff::new(5000);
        let start = std::time::Instant::now();
        assert!(backoff.wait(&mut stop).await);
        assert!(backoff.wait(&mut stop).await);
        assert!(start.elapsed() >= ms(300), "waited 100 ms, then 200 ms");
        stop_tx.send(true).unwrap();
        let stopped = std::time::Instant::now();
        assert!(!backoff.wait(&mut stop).await, "a stop cuts the wait short");
        assert!(stopped.elapsed() < ms(400), "did not wait the 400 ms pause");
        let (gone, mut orphan) = watch::channel(false);
        drop(gone);
        assert!(!Backoff::new(5000).wait(&mut orphan).await);
    }

    #[test]
    fn lag_sums_what_is_behind_on_held_partitions_only() {
        let ends = HashMap::from([
            (key("pins", 0), 10),
            (key("pins", 1), 5),
            (key("geos", 0), 7),
            (key("users", 0), 100), // not held: not counted
        ]);
        let positions = HashMap::from([
            (key("pins", 0), Some(4)), // 6 behind
            (key("pins", 1), None),    // nothing read yet: 5 behind
            (key("geos", 0), Some(9)), // ahead of a stale end: 0, not negative
            (key("geos", 1), Some(3)), // not in the log's ends: not counted
        ]);
        assert_eq!(lag(&ends, &positions), 11);
        assert_eq!(lag(&HashMap::new(), &positions), 0);
        assert_eq!(lag(&ends, &HashMap::new()), 0);
    }

    #[test]
    fn assignment_changes_when_partitions_come_or_go() {
        let held = HashMap::from([(key("pins", 0), Some(1)), (key("pins", 1), None)]);
        let same = BTreeSet::from([key("pins", 0), key("pins", 1)]);
        assert!(!assignment_changed(&same, &held));
        let fewer = BTreeSet::from([key("pins", 0)]);
        assert!(assignment_changed(&fewer, &held));
        let other = BTreeSet::from([key("pins", 0), key("geos", 1)]);
        assert!(assignment_changed(&other, &held));
        let none: HashMap<PartitionKey, ()> = HashMap::new();
        assert!(!assignment_changed(&BTreeSet::new(), &none));
    }
}
