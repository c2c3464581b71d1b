//! The speed layer's metric families, each named once here, with the handles its loop holds.

use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use pinpipe_log::metrics::{MemberMetrics, buckets};

/// Records taken from the log (counter; `topic`).
pub const RECORDS_READ: &str = "pinpipe_stream_records_read_total";
/// Records whose effect is committed in the serving DB (counter; `topic`).
pub const RECORDS_APPLIED: &str = "pinpipe_stream_records_applied_total";
/// Rows written to `dead_letter` (counter; `topic`, `reason`).
pub const DEAD_LETTERS: &str = "pinpipe_stream_dead_letters_total";
/// Records per micro-batch (histogram).
pub const BATCH_RECORDS: &str = "pinpipe_stream_batch_records";
/// One micro-batch, read → commit (histogram).
pub const BATCH_DURATION: &str = "pinpipe_stream_batch_duration_seconds";
/// Commit time − receive time, per record (histogram; `topic`).
pub const END_TO_END: &str = "pinpipe_stream_end_to_end_seconds";
/// Receive time of the newest applied record (gauge; `topic`).
pub const LAST_APPLIED_RECEIVED: &str = "pinpipe_stream_last_applied_received_timestamp_seconds";
/// Batches tried again (counter; `reason`).
pub const RETRIES: &str = "pinpipe_stream_retries_total";

/// The speed layer's histograms with their buckets (for the recorder).
pub const HISTOGRAMS: &[(&str, &[f64])] = &[
    (BATCH_RECORDS, buckets::RECORDS),
    (BATCH_DURATION, buckets::BATCH),
    (END_TO_END, buckets::END_TO_END),
];

/// The `reason` of a dead letter: `empty` (no value) or `pinpipe_model::Unusable::code`.
pub const DEAD_LETTER_REASONS: [&str; 5] = [
    "empty",
    "invalid_json",
    "not_object",
    "missing_field",
    "wrong_type",
];

/// Describes the speed layer's families (HELP and unit).
pub fn describe() {
    describe_counter!(
        RECORDS_READ,
        Unit::Count,
        "Records the speed layer took from the event log"
    );
    describe_counter!(
        RECORDS_APPLIED,
        Unit::Count,
        "Clean records whose effect is committed in the serving DB"
    );
    describe_counter!(
        DEAD_LETTERS,
        Unit::Count,
        "Unusable records written to the dead_letter table"
    );
    describe_histogram!(BATCH_RECORDS, Unit::Count, "Records per micro-batch");
    describe_histogram!(
        BATCH_DURATION,
        Unit::Seconds,
        "One micro-batch, from the read to the commit"
    );
    describe_histogram!(
        END_TO_END,
        Unit::Seconds,
        "Commit time minus receive time, per record"
    );
    describe_gauge!(
        LAST_APPLIED_RECEIVED,
        Unit::Seconds,
        "Receive time of the newest applied record (Unix seconds)"
    );
    describe_counter!(
        RETRIES,
        Unit::Count,
        "Micro-batches tried again: serving_unavailable, fenced"
    );
}

/// Per-topic handles.
pub(crate) struct TopicMetrics {
    pub read: Counter,
    pub applied: Counter,
    pub dead: [Counter; 5],
    pub end_to_end: Histogram,
    pub last_received: Gauge,
}

/// Every handle of the speed layer.
pub(crate) struct StreamMetrics {
    pub topics: [TopicMetrics; 3],
    pub batch_records: Histogram,
    pub batch_duration: Histogram,
    pub retry_unavailable: Counter,
    pub retry_fenced: Counter,
    pub member: MemberMetrics,
}

impl StreamMetrics {
    pub(crate) fn new(topics: &[String; 3], group: &str) -> StreamMetrics {
        StreamMetrics {
            topics: topics.each_ref().map(|topic| TopicMetrics {
                read: counter!(RECORDS_READ, "topic" => topic.clone()),
                applied: counter!(RECORDS_APPLIED, "topic" => topic.clone()),
                dead: DEAD_LETTER_REASONS.map(
                    |reason| counter!(DEAD_LETTERS, "topic" => topic.clone(), "reason" => reason),
                ),
                end_to_end: histogram!(END_TO_END, "topic" => topic.clone()),
                last_received: gauge!(LAST_APPLIED_RECEIVED, "topic" => topic.clone()),
            }),
            batch_records: histogram!(BATCH_RECORDS),
            batch_duration: histogram!(BATCH_DURATION),
            retry_unavailable: counter!(RETRIES, "reason" => "serving_unavailable"),
            retry_fenced: counter!(RETRIES, "reason" => "fenced"),
            member: MemberMetrics::new(group),
        }
    }

    /// The dead-letter counter of `topic` (index) and `reason`.
    pub(crate) fn dead(&self, topic: usize, reason: &str) -> &Counter {
        let index = DEAD_LETTER_REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(1);
        &self.topics[topic].dead[index]
    }
}
