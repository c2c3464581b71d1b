//! The speed layer (`pinpipe stream`, part of `pinpipe up`): a consumer-group member of the event
//! log that cleans `pins`, `geos` and `users` with the shared model crate and writes them, with
//! the window aggregates, dead letters and its offsets, into the serving DB — one transaction per
//! micro-batch.
//!
//! Exactly-once effect: the serving DB, not the log, holds the offsets that count. They are
//! written in the same transaction as the rows they produced and read back whenever this member is
//! given partitions, so a crash at any point replays exactly what was not committed. Offsets move
//! by compare-and-set, so a member that lost its partitions in a rebalance cannot write them.

mod events;
pub mod metrics;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pinpipe_log::member::{self, Backoff, PartitionKey};
use pinpipe_log::{CommitOffset, Consumer, EventLog, LogConfig, LogError, Record};
use pinpipe_model::{CleanRecord, EventType, LatestByKey};
use pinpipe_serving::{
    Change, DeadLetter, OffsetMove, Origin, ServingDb, ServingError, WindowEvent,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// `[stream]`: the speed layer's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Consumer group in the log (and key of the offsets in the serving DB).
    pub group: String,
    /// At most this many records per micro-batch (one transaction).
    pub max_batch_events: usize,
    /// A micro-batch waits at most this long for records (the freshness budget's share).
    pub max_batch_ms: u64,
    /// Longest pause between retries while the serving DB is down.
    pub max_retry_backoff_ms: u64,
    /// How often progress and lag are logged.
    pub report_interval_secs: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            group: "pinpipe-stream".to_owned(),
            max_batch_events: 5000,
            max_batch_ms: 100,
            max_retry_backoff_ms: 5000,
            report_interval_secs: 10,
        }
    }
}

/// Why the speed layer stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The event log failed in a way retrying does not fix.
    #[error("event log: {0}")]
    Log(#[from] LogError),
    /// The serving DB failed in a way retrying does not fix.
    #[error("{0}")]
    Serving(#[from] ServingError),
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// Records applied (clean rows and dead letters).
    pub records: u64,
    /// Of which dead letters.
    pub dead_letters: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Batches retried because the serving DB failed.
    pub retries: u64,
    /// Times the offsets were re-read (rebalances, fencing).
    pub resyncs: u64,
}

/// The speed layer, with what it reads and writes: started with [`SpeedLayer::run`], the entry
/// shape every long-running stage shares (its parts in a struct, then `run(stop)`).
#[derive(Clone, Copy)]
pub struct SpeedLayer<'a> {
    /// The event log it consumes, as a member of `config.group`.
    pub log: &'a EventLog,
    /// The log's settings (the topic names).
    pub log_config: &'a LogConfig,
    /// The serving DB it writes.
    pub db: &'a ServingDb,
    /// `[stream]`.
    pub config: &'a StreamConfig,
}

impl SpeedLayer<'_> {
    /// Runs the speed layer until `stop` turns true; the micro-batch in hand is finished first.
    pub async fn run(self, stop: watch::Receiver<bool>) -> Result<StreamStats, StreamError> {
        run(self.log, self.log_config, self.db, self.config, stop).await
    }
}

async fn run(
    log: &EventLog,
    log_config: &LogConfig,
    db: &ServingDb,
    config: &StreamConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<StreamStats, StreamError> {
    let names = log_config.topic_names();
    let topics = names.map(str::to_owned);
    // Every series exists at 0 before the group is joined (a join can take a while).
    let metrics = metrics::StreamMetrics::new(&topics, &config.group);
    let mut consumer = log.consumer(&config.group, &names).await?;
    let mut member = Member {
        config,
        metrics,
        topics,
        db,
        positions: HashMap::new(),
        stats: StreamStats::default(),
    };
    let result = member.run(log, &mut consumer, &mut stop).await;
    member::leave(consumer).await;
    result.map(|()| member.stats)
}

struct Member<'a> {
    config: &'a StreamConfig,
    metrics: metrics::StreamMetrics,
    topics: [String; 3],
    db: &'a ServingDb,
    /// Per owned partition: the next offset the serving DB holds (`None`: it holds none yet).
    positions: HashMap<PartitionKey, Option<u64>>,
    stats: StreamStats,
}

impl Member<'_> {
    async fn run(
        &mut self,
        log: &EventLog,
        consumer: &mut Consumer,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), StreamError> {
        let wait = Duration::from_millis(self.config.max_batch_ms.max(1));
        let report_every = Duration::from_secs(self.config.report_interval_secs.max(1));
        let mut last_report = Instant::now();
        let mut log_commits = LogCommits::default();
        while !*stop.borrow() {
            let polled =
                member::poll_retrying(consumer, self.config.max_batch_events, || wait, stop)
                    .await?;
            let Some(mut records) = polled else {
                break;
            };
            if records.is_empty() || log_commits.due() {
                log_commits.send(consumer).await;
            }
            let started = Instant::now();
            for record in &records {
                if let Some(i) = topic_index(&self.topics, &record.topic) {
                    self.metrics.topics[i].read.increment(1);
                }
            }
            events::Polled {
                records: records.len(),
            }
            .emit();
            let owned = member::owned(consumer);
            if member::assignment_changed(&owned, &self.positions) {
                // Partitions came or went: start each owned one where the serving DB says. Records
                // polled from a partition that had to be moved are read again after the seek.
                let sought = self.resync(consumer, &owned, false, stop).await?;
                log_commits.pending.retain(|p, _| owned.contains(p));
                self.metrics.member.assigned(owned.len());
                records.retain(|r| !sought.contains(&(r.topic.clone(), r.partition)));
            }
            if records.is_empty() {
                if last_report.elapsed() >= report_every {
                    self.report(log).await;
                    last_report = Instant::now();
                }
                continue;
            }
            match self.apply(&records, started, stop).await {
                Ok(Some(moves)) => log_commits.follow(&moves),
                Ok(None) => break, // stopped while the DB was down
                Err(ServingError::Fenced { topic, partition }) => {
                    self.metrics.retry_fenced.increment(1);
                    events::Fenced {
                        topic: &topic,
                        partition,
                    }
                    .emit();
                    // Everything after the DB's positions is read again.
                    self.resync(consumer, &owned, true, stop).await?;
                }
                Err(e) => return Err(e.into()),
            }
            if last_report.elapsed() >= report_every {
                self.report(log).await;
                last_report = Instant::now();
            }
        }
        log_commits.send(consumer).await;
        Ok(())
    }

    /// Reads the serving DB's offsets for the owned partitions and moves the consumer there (all
    /// of them with `always`, else those where the log's group offset differs). Returns the
    /// partitions it moved.
    async fn resync(
        &mut self,
        consumer: &mut Consumer,
        owned: &BTreeSet<PartitionKey>,
        always: bool,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<BTreeSet<PartitionKey>, StreamError> {
        self.stats.resyncs += 1;
        let mut backoff = Backoff::new(self.config.max_retry_backoff_ms);
        let stored = loop {
            match self.db.offsets(&self.config.group).await {
                Ok(stored) => break stored,
                Err(e) if e.is_retryable() => {
                    events::OffsetsReadRetry { error: &e }.emit();
                    if !backoff.wait(stop).await {
                        return Ok(BTreeSet::new());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.positions.clear();
        let mut sought = BTreeSet::new();
        for (topic, partition) in owned {
            let next = stored.get(&(topic.clone(), *partition)).copied();
            // The log's group offset follows the serving DB's (committed after it), so the
            // consumer starts at or before the DB's position and records before it are skipped.
            // Seek only when they differ (a crash between the two commits, or a new serving DB):
            // librdkafka may not start fetching a partition sought before its first fetch.
            let in_log = consumer.committed(topic, *partition).await?;
            if always || in_log.unwrap_or(0) != next.unwrap_or(0) {
                consumer.seek(topic, *partition, next.unwrap_or(0))?;
                sought.insert((topic.clone(), *partition));
            }
            self.positions.insert((topic.clone(), *partition), next);
        }
        events::Positions {
            partitions: owned.len(),
            sought: sought.len(),
        }
        .emit();
        Ok(sought)
    }

    /// Cleans `records` into one change and applies it, retrying while the DB is down. Returns
    /// the offsets moved, or `None` when stopped before the change could be applied.
    async fn apply(
        &mut self,
        records: &[Record],
        started: Instant,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<Vec<OffsetMove>>, ServingError> {
        let mut tally = Tally::default();
        let change = change(&self.topics, &self.positions, records, &mut tally);
        if change.offsets.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let mut backoff = Backoff::new(self.config.max_retry_backoff_ms);
        loop {
            match self.db.apply(&self.config.group, &change).await {
                Ok(()) => break,
                Err(e) if e.is_retryable() => {
                    self.stats.retries += 1;
                    self.metrics.retry_unavailable.increment(1);
                    events::ApplyRetry { error: &e }.emit();
                    if !backoff.wait(stop).await {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        for m in &change.offsets {
            self.positions
                .insert((m.topic.clone(), m.partition), Some(m.to));
        }
        self.stats.batches += 1;
        self.stats.records += change.records;
        self.stats.dead_letters += change.dead.len() as u64;
        self.count(&tally, change.records, started);
        Ok(Some(change.offsets))
    }

    /// Counts a committed micro-batch: applied records and dead letters per topic, its size and
    /// duration, and each record's time from receipt to commit.
    fn count(&self, tally: &Tally, records: u64, started: Instant) {
        let m = &self.metrics;
        m.batch_duration.record(started.elapsed().as_secs_f64());
        m.batch_records.record(records as f64);
        let now_ms = pinpipe_log::now_ms();
        for (i, topic) in m.topics.iter().enumerate() {
            topic.applied.increment(tally.applied[i]);
            for received in &tally.received_ms[i] {
                topic
                    .end_to_end
                    .record(((now_ms - received).max(0) as f64) / 1000.0);
            }
            if let Some(newest) = tally.received_ms[i].iter().max() {
                topic.last_received.set((*newest as f64) / 1000.0);
            }
        }
        for (topic, reason) in &tally.dead {
            m.dead(*topic, reason).increment(1);
        }
    }

    /// Logs progress and the lag (records behind the log's end) of the owned partitions.
    async fn report(&self, log: &EventLog) {
        let Ok(ends) = member::log_ends(log).await else {
            return;
        };
        events::Progress {
            stats: &self.stats,
            lag: member::lag(&ends, &self.positions),
        }
        .emit();
    }
}

/// The log's own group offsets, following the serving DB's. The serving DB's offsets are the ones
/// that count (a member starts where they say); the log's are for tools and lag. So they are sent
/// at most every [`LogCommits::EVERY`], when the member is idle and when it stops, not after each
/// micro-batch: on the local log each commit is a write transaction with its own fsync on the file
/// ingest appends to, and the member waited for it before reading on.
#[derive(Default)]
struct LogCommits {
    pending: HashMap<PartitionKey, u64>,
    last: Option<Instant>,
}

impl LogCommits {
    const EVERY: Duration = Duration::from_secs(1);

    /// Records the serving DB's new positions.
    fn follow(&mut self, moves: &[OffsetMove]) {
        for m in moves {
            self.pending.insert((m.topic.clone(), m.partition), m.to);
        }
    }

    fn due(&self) -> bool {
        !self.pending.is_empty() && self.last.is_none_or(|last| last.elapsed() >= Self::EVERY)
    }

    /// Sends what is pending; a failure is only reported (the next send carries it again, and the
    /// serving DB has the truth).
    async fn send(&mut self, consumer: &mut Consumer) {
        if self.pending.is_empty() {
            return;
        }
        let commits: Vec<CommitOffset> = self
            .pending
            .iter()
            .map(|((topic, partition), next)| CommitOffset {
                topic: topic.clone(),
                partition: *partition,
                next_offset: *next,
            })
            .collect();
        self.last = Some(Instant::now());
        match consumer.commit(&commits).await {
            Ok(()) => self.pending.clear(),
            Err(LogError::NotAssigned { .. }) => self.pending.clear(),
            Err(error) => events::LogCommitFailed { error: &error }.emit(),
        }
    }
}

/// The change a batch of records makes: the latest record per key, every pin event for the
/// windows, dead letters, and the offsets. Records before a partition's position (already
/// applied) are skipped.
/// What a micro-batch did, per topic (index in pins, geos, users), for the metrics.
#[derive(Debug, Default)]
struct Tally {
    /// Clean records applied.
    applied: [u64; 3],
    /// Receive time of every record applied or dead-lettered.
    received_ms: [Vec<i64>; 3],
    /// Each dead letter's topic and reason code.
    dead: Vec<(usize, &'static str)>,
}

fn change(
    topics: &[String; 3],
    positions: &HashMap<PartitionKey, Option<u64>>,
    records: &[Record],
    tally: &mut Tally,
) -> Change {
    let mut pins: LatestByKey<String, pinpipe_model::CleanPin<'static>> = LatestByKey::new();
    let mut geos: LatestByKey<i64, pinpipe_model::CleanGeo<'static>> = LatestByKey::new();
    let mut users: LatestByKey<i64, pinpipe_model::CleanUser<'static>> = LatestByKey::new();
    let mut change = Change::default();
    let mut ends: HashMap<PartitionKey, u64> = HashMap::new();
    for record in records {
        let partition_key = (record.topic.clone(), record.partition);
        let Some(position) = positions.get(&partition_key) else {
            continue; // not ours (any more)
        };
        if record.offset < position.unwrap_or(0) {
            continue; // applied before
        }
        change.records += 1;
        let end = ends.entry(partition_key).or_insert(0);
        *end = (*end).max(record.offset + 1);
        let origin = Origin {
            partition: record.partition,
            offset: record.offset,
            received_at: received_at(record.timestamp_ms),
        };
        let Some(kind) = kind_of(topics, &record.topic) else {
            continue;
        };
        let topic = topic_index(topics, &record.topic).unwrap_or(0);
        tally.received_ms[topic].push(record.timestamp_ms);
        let Some(value) = record.value.as_deref() else {
            change
                .dead
                .push(dead(record, origin, "empty record (no value)".to_owned()));
            tally.dead.push((topic, "empty"));
            continue;
        };
        match kind.clean_json(value).map(CleanRecord::into_owned) {
            Err(reason) => {
                tally.dead.push((topic, reason.code()));
                change.dead.push(dead(record, origin, reason.to_string()));
            }
            Ok(CleanRecord::Pin(pin)) => {
                tally.applied[topic] += 1;
                change.windows.push(WindowEvent {
                    window_start: pinpipe_serving::window_start(origin.received_at),
                    category: pin.category.as_deref().unwrap_or_default().to_owned(),
                    unique_id: pin.unique_id.to_string(),
                    video: pin.media_type == Some(pinpipe_model::clean::MediaType::Video),
                    image: pin.media_type == Some(pinpipe_model::clean::MediaType::Image),
                    followers: pin.follower_count.unwrap_or(0),
                });
                pins.offer(origin, pin.unique_id.to_string(), pin);
            }
            Ok(CleanRecord::Geo(geo)) => {
                tally.applied[topic] += 1;
                geos.offer(origin, geo.ind, geo);
            }
            Ok(CleanRecord::User(user)) => {
                tally.applied[topic] += 1;
                users.offer(origin, user.ind, user);
            }
        }
    }
    change.pins = winners(pins);
    change.geos = winners(geos);
    change.users = winners(users);
    change.offsets = ends
        .into_iter()
        .map(|((topic, partition), to)| {
            let from = positions
                .get(&(topic.clone(), partition))
                .copied()
                .flatten();
            OffsetMove {
                topic,
                partition,
                from,
                to,
            }
        })
        .collect();
    change
}

fn topic_index(topics: &[String; 3], topic: &str) -> Option<usize> {
    topics.iter().position(|name| name == topic)
}

fn kind_of(topics: &[String; 3], topic: &str) -> Option<EventType> {
    EventType::ALL
        .into_iter()
        .zip(topics)
        .find(|(_, name)| *name == topic)
        .map(|(kind, _)| kind)
}

/// The records received last per key (the one recency rule), each with where it came from.
fn winners<K: std::hash::Hash + Eq, R>(latest: LatestByKey<K, R>) -> Vec<(R, Origin)> {
    latest
        .into_winners()
        .into_iter()
        .map(|(origin, record)| (record, origin))
        .collect()
}

fn dead(record: &Record, origin: Origin, reason: String) -> DeadLetter {
    DeadLetter {
        topic: record.topic.clone(),
        origin,
        reason,
        raw: record.value.clone(),
    }
}

fn received_at(timestamp_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(timestamp_ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> [String; 3] {
        ["pins".into(), "geos".into(), "users".into()]
    }

    fn record(topic: &str, partition: u32, offset: u64, ms: i64, value: Option<&str>) -> Record {
        Record {
            topic: topic.into(),
            partition,
            offset,
            key: None,
            value: value.map(|v| v.as_bytes().to_vec()),
            timestamp_ms: ms,
            headers: Vec::new(),
        }
    }

    fn pin(id: &str, title: &str) -> String {
        format!(r#"{{"index": 1, "unique_id": "{id}", "title": "{title}", "category": "travel"}}"#)
    }

    /// How one micro-batch is built from the records polled, case by case.
    #[test]
    fn a_micro_batch_keeps_the_last_record_per_key_and_accounts_for_every_record() {
        let owned: HashMap<PartitionKey, Option<u64>> = [
            (("pins".to_owned(), 0), None),
            (("pins".to_owned(), 1), Some(10)),
            (("geos".to_owned(), 0), Some(5)),
        ]
        .into();
        let (a1, a2, b) = (pin("a", "first"), pin("a", "second"), pin("b", "other p"));
        let records = [
            // the same key twice in one partition: the higher offset wins
            record("pins", 0, 0, 1_000, Some(&a1)),
            record("pins", 0, 1, 900, Some(&a2)),
            // before the partition's position: applied already, skipped and not counted
            record("pins", 1, 9, 1_000, Some(&b)),
            // a partition this member does not own: skipped
            record("pins", 2, 0, 1_000, Some(&b)),
            // counted, and in the windows
            record("pins", 1, 10, 1_000, Some(&b)),
            // unusable and empty records are dead letters, and still move the offset
            record("geos", 0, 5, 1_000, Some("not json")),
            record("geos", 0, 6, 1_000, None),
            record(
                "geos",
                0,
                7,
                1_000,
                Some(r#"{"ind": 3, "country": "Peru"}"#),
            ),
        ];
        let change = change(&topics(), &owned, &records, &mut Tally::default());
        assert_eq!(change.records, 6, "records counted");
        let mut pins: Vec<(String, Option<String>)> = change
            .pins
            .iter()
            .map(|(p, _)| {
                (
                    p.unique_id.to_string(),
                    p.title.as_deref().map(str::to_owned),
                )
            })
            .collect();
        pins.sort();
        assert_eq!(
            pins,
            vec![
                ("a".to_owned(), Some("second".to_owned())),
                ("b".to_owned(), Some("other p".to_owned()))
            ]
        );
        assert_eq!(
            change.windows.len(),
            3,
            "every pin event counts in its window"
        );
        assert_eq!(change.geos.len(), 1);
        assert_eq!(change.dead.len(), 2);
        assert!(
            change
                .dead
                .iter()
                .any(|d| d.reason.contains("empty record"))
        );
        let mut offsets: Vec<(String, u32, Option<u64>, u64)> = change
            .offsets
            .iter()
            .map(|o| (o.topic.clone(), o.partition, o.from, o.to))
            .collect();
        offsets.sort();
        assert_eq!(
            offsets,
            vec![
                ("geos".to_owned(), 0, Some(5), 8),
                ("pins".to_owned(), 0, None, 2),
                ("pins".to_owned(), 1, Some(10), 11),
            ]
        );
    }

    /// A key seen in two partitions (a repartitioned topic): the record received later wins,
    /// and a dead letter never replaces a good row.
    #[test]
    fn across_partitions_the_later_receive_time_wins_and_dead_letters_replace_nothing() {
        let owned: HashMap<PartitionKey, Option<u64>> = [
            (("pins".to_owned(), 0), None),
            (("pins".to_owned(), 1), None),
        ]
        .into();
        let (early, late) = (pin("k", "early"), pin("k", "late"));
        for records in [
            vec![
                record("pins", 1, 50, 2_000, Some(&late)),
                record("pins", 0, 900, 1_000, Some(&early)),
            ],
            vec![
                record("pins", 0, 900, 1_000, Some(&early)),
                record("pins", 1, 50, 2_000, Some(&late)),
                record("pins", 0, 901, 3_000, Some(r#"{"index": 1}"#)),
            ],
        ] {
            let change = change(&topics(), &owned, &records, &mut Tally::default());
            assert_eq!(change.pins.len(), 1);
            assert_eq!(change.pins[0].0.title.as_deref(), Some("late"));
        }
    }
}
