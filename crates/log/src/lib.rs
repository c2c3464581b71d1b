//! pinpipe's event log: the durable, replayable backbone between ingest and the two pipelines.
//!
//! Topics (`pins`, `geos`, `users` by default) are split into partitions; each record has an
//! offset in its partition; consumer groups commit the next offset to read and split the
//! partitions between their members. Two backends share one API and one contract test suite:
//!
//! - **local** ([`local`]): an embedded, crash-safe log in the data dir, stored in SQLite (WAL,
//!   `synchronous=FULL`). One writer thread commits many concurrent appends in one transaction,
//!   so they share one fsync (group commit). Other processes (`pinpipe topics`, `pinpipe tail`,
//!   a second consumer) open the same file and read while the server writes.
//! - **kafka** ([`kafka`]): any Kafka-protocol broker through librdkafka (`rdkafka`), idempotent
//!   producer with `acks=all`; topics are created on start-up when missing.
//!
//! An append returns only once the records are durable (fsync'd locally, acknowledged by all
//! in-sync replicas on Kafka): that is what lets ingest answer 200.

pub mod config;
pub mod group_offsets;
pub mod kafka;
pub mod local;
pub mod member;
pub mod metrics;
mod partition;

use std::path::Path;
use std::time::Duration;

pub use config::{KafkaConfig, LogConfig, RetentionConfig};
pub use group_offsets::GroupOffsets;
pub use partition::partition_for_key;

/// A record to append. The value is kept exactly as given (lossless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// Message key; records with the same key always land in the same partition.
    pub key: Vec<u8>,
    /// Message value, stored byte for byte.
    pub value: Vec<u8>,
    /// Record time in milliseconds since the Unix epoch (ingest: the receive time).
    pub timestamp_ms: i64,
    /// Small string headers (ingest: `request_id`, `content_type`).
    pub headers: Vec<(String, String)>,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Topic name.
    pub topic: String,
    /// Partition within the topic.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
    /// Message key (absent when a foreign producer wrote none).
    pub key: Option<Vec<u8>>,
    /// Message value as appended (absent for a Kafka tombstone).
    pub value: Option<Vec<u8>>,
    /// Record time in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// String headers (non-UTF-8 Kafka header values are replaced lossily).
    pub headers: Vec<(String, String)>,
}

/// Where an appended record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// Partition.
    pub partition: u32,
    /// Offset within the partition.
    pub offset: u64,
}

/// One partition's offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: u32,
    /// First offset still stored (older records were removed by retention).
    pub start_offset: u64,
    /// Offset the next appended record gets (the "high watermark").
    pub end_offset: u64,
}

/// A topic and its partitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Partitions in order.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// Records currently stored (end minus start, summed over partitions).
    pub fn records(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| p.end_offset - p.start_offset)
            .sum()
    }
}

/// A committed position of a consumer group: the next offset the group will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOffset {
    /// Topic name.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Next offset to read (one past the last processed record).
    pub next_offset: u64,
}

/// What can go wrong with the log. Every variant tells the caller whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log cannot be reached or refused the write; retry later.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// Too many appends are waiting; retry later.
    #[error("event log saturated: {0} appends already waiting")]
    Saturated(usize),
    /// The append or read did not finish in time; it may or may not have been stored.
    #[error("event log timed out after {0:?}")]
    Timeout(Duration),
    /// The topic does not exist.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// The partition does not exist.
    #[error("topic {topic:?} has no partition {partition}")]
    UnknownPartition {
        /// Topic name.
        topic: String,
        /// Partition asked for.
        partition: u32,
    },
    /// A consumer committed a partition it no longer owns (the group was rebalanced).
    #[error("partition {topic}/{partition} is not assigned to this group member (rebalanced)")]
    NotAssigned {
        /// Topic name.
        topic: String,
        /// Partition.
        partition: u32,
    },
    /// Bad configuration (URL, partitions, options).
    #[error("event log configuration: {0}")]
    Config(String),
    /// The embedded store failed.
    #[error("local event log: {0}")]
    Local(#[from] rusqlite::Error),
    /// The Kafka client failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

impl LogError {
    /// True when the same call may succeed later (HTTP 503 rather than 500).
    pub fn is_retryable(&self) -> bool {
        match self {
            LogError::Unavailable(_) | LogError::Saturated(_) | LogError::Timeout(_) => true,
            LogError::Local(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    | Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
            ),
            LogError::Kafka(_) => true,
            _ => false,
        }
    }
}

/// The event log, on the backend chosen by [`LogConfig::url`].
#[derive(Clone)]
pub enum EventLog {
    /// Embedded SQLite log in the data dir.
    Local(local::LocalLog),
    /// A Kafka-protocol broker.
    Kafka(kafka::KafkaLog),
}

impl EventLog {
    /// Opens the log and makes sure the configured topics exist (created with
    /// [`LogConfig::partitions`] partitions when missing).
    pub async fn open(config: &LogConfig, data_dir: &Path) -> Result<EventLog, LogError> {
        config.validate()?;
        match config.backend()? {
            config::Backend::Local => Ok(EventLog::Local(
                local::LocalLog::open(config, data_dir).await?,
            )),
            config::Backend::Kafka { brokers } => Ok(EventLog::Kafka(
                kafka::KafkaLog::open(config, &brokers).await?,
            )),
        }
    }

    /// The configured event topics, in the order pins, geos, users ([`LogConfig::topic_names`]).
    pub fn event_topics(&self) -> [&str; 3] {
        match self {
            EventLog::Local(log) => log.event_topics(),
            EventLog::Kafka(log) => log.event_topics(),
        }
    }

    /// A short name of the backend for logs and `/readyz`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            EventLog::Local(_) => "local",
            EventLog::Kafka(_) => "kafka",
        }
    }

    /// Appends records to one topic and returns once they are durable, with their positions in
    /// the order given. Records of one call go to the log in order; on the local backend they
    /// are stored all-or-nothing.
    pub async fn append(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Position>, LogError> {
        let metrics = match self {
            EventLog::Local(log) => log.append_metrics(),
            EventLog::Kafka(log) => log.append_metrics(),
        };
        let count = records.len();
        let bytes = records.iter().map(|r| r.value.len()).sum();
        metrics.pending.increment(1.0);
        let result = match self {
            EventLog::Local(log) => log.append(topic, records).await,
            EventLog::Kafka(log) => log.append(topic, records).await,
        };
        metrics.pending.decrement(1.0);
        if result.is_ok() {
            metrics.appended(topic, count, bytes);
        }
        result
    }

    /// Topics with their partitions and offsets, sorted by name.
    pub async fn topics(&self) -> Result<Vec<TopicInfo>, LogError> {
        match self {
            EventLog::Local(log) => log.topics().await,
            EventLog::Kafka(log) => log.topics().await,
        }
    }

    /// Reads up to `max` records of one partition starting at `offset` (replay). Returns fewer,
    /// possibly none, at the end of the partition; waits at most `wait` for the first record.
    pub async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, LogError> {
        match self {
            EventLog::Local(log) => log.read(topic, partition, offset, max, wait).await,
            EventLog::Kafka(log) => log.read(topic, partition, offset, max, wait).await,
        }
    }

    /// Joins consumer group `group` for `topics`. Members of one group split the partitions.
    /// A partition without a committed offset is read from its start.
    pub async fn consumer(&self, group: &str, topics: &[&str]) -> Result<Consumer, LogError> {
        match self {
            EventLog::Local(log) => Ok(Consumer::Local(log.consumer(group, topics).await?)),
            EventLog::Kafka(log) => Ok(Consumer::Kafka(log.consumer(group, topics).await?)),
        }
    }

    /// Checks that the log can be reached (`/readyz`).
    pub async fn ready(&self) -> Result<(), LogError> {
        match self {
            EventLog::Local(log) => log.ready().await,
            EventLog::Kafka(log) => log.ready().await,
        }
    }

    /// Waits for in-flight appends and releases the log (graceful shutdown).
    pub async fn close(&self) -> Result<(), LogError> {
        match self {
            EventLog::Local(log) => log.close().await,
            EventLog::Kafka(log) => log.close().await,
        }
    }
}

/// A member of a consumer group.
pub enum Consumer {
    /// On the local log.
    Local(local::LocalConsumer),
    /// On Kafka.
    Kafka(kafka::KafkaConsumer),
}

impl Consumer {
    /// Returns up to `max` records from the partitions currently assigned to this member, waiting
    /// at most `wait` when none is ready. Also keeps the membership alive.
    pub async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Record>, LogError> {
        match self {
            Consumer::Local(c) => c.poll(max, wait).await,
            Consumer::Kafka(c) => c.poll(max, wait).await,
        }
    }

    /// Commits the group's next offsets. Fails with [`LogError::NotAssigned`] for a partition this
    /// member no longer owns.
    pub async fn commit(&mut self, offsets: &[CommitOffset]) -> Result<(), LogError> {
        match self {
            Consumer::Local(c) => c.commit(offsets).await,
            Consumer::Kafka(c) => c.commit(offsets).await,
        }
    }

    /// The group's committed next offset for a partition, if any.
    pub async fn committed(&self, topic: &str, partition: u32) -> Result<Option<u64>, LogError> {
        match self {
            Consumer::Local(c) => c.committed(topic, partition).await,
            Consumer::Kafka(c) => c.committed(topic, partition).await,
        }
    }

    /// Partitions this member owns now, sorted.
    pub fn assignment(&self) -> Vec<(String, u32)> {
        match self {
            Consumer::Local(c) => c.assignment(),
            Consumer::Kafka(c) => c.assignment(),
        }
    }

    /// Moves this member's read position of an assigned partition (replay from any offset).
    pub fn seek(&mut self, topic: &str, partition: u32, offset: u64) -> Result<(), LogError> {
        match self {
            Consumer::Local(c) => c.seek(topic, partition, offset),
            Consumer::Kafka(c) => c.seek(topic, partition, offset),
        }
    }

    /// Leaves the group so the other members take over its partitions at once.
    pub async fn close(self) -> Result<(), LogError> {
        match self {
            Consumer::Local(c) => c.close().await,
            Consumer::Kafka(c) => c.close().await,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
