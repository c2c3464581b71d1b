//! The event log's and the consumer groups' metric families, each named once here, and the
//! bucket sets every stage's histograms use (../shared/docs/observability.md, section 7).
//!
//! Appends are counted where they become durable ([`crate::EventLog::append`]); commit latency
//! and width where the backend commits; offsets, group offsets and lag are gauges refreshed from
//! the log by [`OffsetGauges::refresh`] in every process that opens it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};

use crate::group_offsets::GroupOffsets;
use crate::{EventLog, LogConfig, LogError};

/// Histogram buckets, in the unit of their family (seconds or records).
pub mod buckets {
    /// HTTP requests: 0.5 ms … 10 s.
    pub const HTTP: &[f64] = &[
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    /// One log commit: 0.1 ms … 1 s.
    pub const LOG_COMMIT: &[f64] = &[
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    ];
    /// One micro-batch or one lake file: 1 ms … 60 s.
    pub const BATCH: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ];
    /// Receive → applied: 5 ms … 60 s.
    pub const END_TO_END: &[f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ];
    /// Records per commit or batch: 1, 4, 16 … 16384.
    pub const RECORDS: &[f64] = &[1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0];
}

/// Records durably appended (counter; `topic`).
pub const APPENDED_RECORDS: &str = "pinpipe_log_appended_records_total";
/// Value bytes durably appended (counter; `topic`).
pub const APPENDED_BYTES: &str = "pinpipe_log_appended_bytes_total";
/// One group commit with its fsync, or one produce acknowledgement (histogram).
pub const COMMIT_DURATION: &str = "pinpipe_log_commit_duration_seconds";
/// Appends answered by one commit (histogram).
pub const COMMIT_RECORDS: &str = "pinpipe_log_commit_records";
/// Appends waiting for the log (gauge).
pub const PENDING: &str = "pinpipe_log_pending_appends";
/// `log.max_pending_appends` (gauge).
pub const PENDING_LIMIT: &str = "pinpipe_log_pending_appends_limit";
/// First retained offset (gauge; `topic`, `partition`).
pub const START_OFFSET: &str = "pinpipe_log_start_offset";
/// Next offset to be appended (gauge; `topic`, `partition`).
pub const END_OFFSET: &str = "pinpipe_log_end_offset";
/// Records removed by retention (counter; `topic`).
pub const RETENTION_DELETED: &str = "pinpipe_log_retention_deleted_records_total";
/// A group's committed next offset (gauge; `group`, `topic`, `partition`).
pub const COMMITTED_OFFSET: &str = "pinpipe_consumer_committed_offset";
/// End offset minus committed offset (gauge; `group`, `topic`, `partition`).
pub const LAG_RECORDS: &str = "pinpipe_consumer_lag_records";
/// Now minus the receive time of the first record not yet processed; 0 when caught up (gauge;
/// `group`, `topic`, `partition`).
pub const LAG_SECONDS: &str = "pinpipe_consumer_lag_seconds";
/// Partitions this process's member holds (gauge; `group`).
pub const PARTITIONS_OWNED: &str = "pinpipe_consumer_partitions_owned";
/// Assignment changes seen (counter; `group`).
pub const REBALANCES: &str = "pinpipe_consumer_rebalances_total";

/// The log's histograms with their buckets (for the recorder).
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    (COMMIT_DURATION, buckets::LOG_COMMIT),
    (COMMIT_RECORDS, buckets::RECORDS),
];

/// Describes the log's and the consumers' families (HELP and unit).
pub fn describe() {
    describe_counter!(
        APPENDED_RECORDS,
        Unit::Count,
        "Records durably appended to the event log"
    );
    describe_counter!(
        APPENDED_BYTES,
        Unit::Bytes,
        "Value bytes durably appended to the event log"
    );
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "One group commit including fsync (local), or one produce acknowledgement (kafka)"
    );
    describe_histogram!(
        COMMIT_RECORDS,
        Unit::Count,
        "Appends answered by one commit"
    );
    describe_gauge!(PENDING, Unit::Count, "Appends waiting for the event log");
    describe_gauge!(
        PENDING_LIMIT,
        Unit::Count,
        "log.max_pending_appends: beyond it ingest answers 503"
    );
    describe_gauge!(
        START_OFFSET,
        Unit::Count,
        "First offset still stored in the partition"
    );
    describe_gauge!(
        END_OFFSET,
        Unit::Count,
        "Offset the next appended record of the partition gets"
    );
    describe_counter!(
        RETENTION_DELETED,
        Unit::Count,
        "Records removed by retention"
    );
    describe_gauge!(
        COMMITTED_OFFSET,
        Unit::Count,
        "The consumer group's committed next offset"
    );
    describe_gauge!(
        LAG_RECORDS,
        Unit::Count,
        "Records between the group's committed offset and the partition's end"
    );
    describe_gauge!(
        LAG_SECONDS,
        Unit::Seconds,
        "Now minus the receive time of the first record the group has not processed; 0 when caught up"
    );
    describe_gauge!(
        PARTITIONS_OWNED,
        Unit::Count,
        "Partitions this process's group member holds"
    );
    describe_counter!(
        REBALANCES,
        Unit::Count,
        "Assignment changes this process's group member saw"
    );
}

/// Handles of the append path, per configured topic.
pub(crate) struct AppendMetrics {
    topics: Vec<(String, Counter, Counter)>,
    pub(crate) pending: Gauge,
    pub(crate) commit_duration: Histogram,
    pub(crate) commit_records: Histogram,
}

impl AppendMetrics {
    pub(crate) fn new(config: &LogConfig) -> AppendMetrics {
        let topics = config
            .topic_names()
            .iter()
            .map(|t| {
                let topic = (*t).to_owned();
                (
                    topic.clone(),
                    counter!(APPENDED_RECORDS, "topic" => topic.clone()),
                    counter!(APPENDED_BYTES, "topic" => topic),
                )
            })
            .collect();
        gauge!(PENDING_LIMIT).set(config.max_pending_appends as f64);
        AppendMetrics {
            topics,
            pending: gauge!(PENDING),
            commit_duration: histogram!(COMMIT_DURATION),
            commit_records: histogram!(COMMIT_RECORDS),
        }
    }

    /// Counts `records` records of `bytes` value bytes made durable in `topic`.
    pub(crate) fn appended(&self, topic: &str, records: usize, bytes: usize) {
        if let Some((_, r, b)) = self.topics.iter().find(|(t, _, _)| t == topic) {
            r.increment(records as u64);
            b.increment(bytes as u64);
        }
    }
}

/// A consumer group member's handles: partitions held and rebalances (`group`).
#[derive(Clone)]
pub struct MemberMetrics {
    owned: Gauge,
    rebalances: Counter,
}

impl MemberMetrics {
    /// Handles for `group`, registered at 0.
    pub fn new(group: &str) -> MemberMetrics {
        MemberMetrics {
            owned: gauge!(PARTITIONS_OWNED, "group" => group.to_owned()),
            rebalances: counter!(REBALANCES, "group" => group.to_owned()),
        }
    }

    /// The member now holds `partitions` partitions after an assignment change.
    pub fn assigned(&self, partitions: usize) {
        self.owned.set(partitions as f64);
        self.rebalances.increment(1);
    }
}

type Key = (String, u32);

/// The offset, group-offset and lag gauges, refreshed from the log (`[observe] refresh_secs`).
pub struct OffsetGauges {
    log: EventLog,
    groups: Vec<String>,
    offsets: GroupOffsets,
    /// Start offsets seen at the previous refresh (for the retention counter) and handles.
    state: Mutex<HashMap<Key, u64>>,
    retention: HashMap<String, Counter>,
}

impl OffsetGauges {
    /// Gauges for `groups` on `log`; every partition's series are created at 0 by the first
    /// [`refresh`](OffsetGauges::refresh).
    pub fn new(log: EventLog, config: &LogConfig, groups: &[String]) -> Arc<OffsetGauges> {
        let retention = config
            .topic_names()
            .iter()
            .map(|t| {
                (
                    (*t).to_owned(),
                    counter!(RETENTION_DELETED, "topic" => (*t).to_owned()),
                )
            })
            .collect();
        Arc::new(OffsetGauges {
            offsets: GroupOffsets::new(log.clone(), config),
            log,
            groups: groups.to_vec(),
            state: Mutex::new(HashMap::new()),
            retention,
        })
    }

    /// Reads the partitions' offsets, each group's committed offsets and, for a partition that
    /// is behind, the receive time of its first unprocessed record, and sets the gauges.
    pub async fn refresh(&self) -> Result<(), LogError> {
        let topics = self.log.topics().await?;
        let partitions: Vec<Key> = topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), p.partition)))
            .collect();
        let mut starts = HashMap::new();
        for topic in &topics {
            for p in &topic.partitions {
                let labels = [
                    ("topic", topic.name.clone()),
                    ("partition", p.partition.to_string()),
                ];
                gauge!(START_OFFSET, &labels).set(p.start_offset as f64);
                gauge!(END_OFFSET, &labels).set(p.end_offset as f64);
                starts.insert(
                    (topic.name.clone(), p.partition),
                    (p.start_offset, p.end_offset),
                );
            }
        }
        if let Ok(mut seen) = self.state.lock() {
            for (key, (start, _)) in &starts {
                if let Some(before) = seen.insert(key.clone(), *start)
                    && *start > before
                    && let Some(counter) = self.retention.get(&key.0)
                {
                    counter.increment(start - before);
                }
            }
        }
        let now_ms = crate::now_ms();
        for group in &self.groups {
            let committed = match self.offsets.committed(group, &partitions).await {
                Ok(committed) => committed,
                Err(e) => {
                    tracing::debug!(group, "cannot read group offsets: {e}");
                    continue;
                }
            };
            for key in &partitions {
                let (start, end) = starts[key];
                // A group that never committed a partition reads it from its start.
                let next = committed.get(key).copied().unwrap_or(start).max(start);
                let behind = end.saturating_sub(next);
                let lag_seconds = if behind == 0 {
                    0.0
                } else {
                    match self
                        .log
                        .read(&key.0, key.1, next, 1, std::time::Duration::ZERO)
                        .await
                    {
                        Ok(records) => records
                            .first()
                            .map_or(0.0, |r| ((now_ms - r.timestamp_ms).max(0) as f64) / 1000.0),
                        Err(_) => 0.0,
                    }
                };
                let labels = [
                    ("group", group.clone()),
                    ("topic", key.0.clone()),
                    ("partition", key.1.to_string()),
                ];
                gauge!(COMMITTED_OFFSET, &labels).set(next as f64);
                gauge!(LAG_RECORDS, &labels).set(behind as f64);
                gauge!(LAG_SECONDS, &labels).set(lag_seconds);
            }
        }
        Ok(())
    }
}

/// The partitions in a set, for [`MemberMetrics::assigned`].
pub fn partitions_held(owned: &BTreeSet<(String, u32)>) -> usize {
    owned.len()
}
