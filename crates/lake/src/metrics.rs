//! The lake writer's metric families, each named once here, with the handles its loop holds.

use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};
use pinpipe_log::metrics::{MemberMetrics, buckets};

/// Records written to the raw zone (counter; `topic`).
pub const RECORDS_WRITTEN: &str = "pinpipe_lake_records_written_total";
/// Raw Parquet files written (counter; `topic`).
pub const FILES_WRITTEN: &str = "pinpipe_lake_files_written_total";
/// Bytes of the files written (counter; `topic`).
pub const WRITTEN_BYTES: &str = "pinpipe_lake_written_bytes_total";
/// Records waiting for `roll_bytes` / `roll_secs` (gauge; `topic`).
pub const BUFFERED_RECORDS: &str = "pinpipe_lake_buffered_records";
/// Event bytes waiting (gauge; `topic`).
pub const BUFFERED_BYTES: &str = "pinpipe_lake_buffered_bytes";
/// Encode and durable write (or upload) of one file (histogram).
pub const FILE_WRITE_DURATION: &str = "pinpipe_lake_file_write_duration_seconds";
/// Failed file writes, each retried (counter; `topic`).
pub const WRITE_ERRORS: &str = "pinpipe_lake_write_errors_total";

/// The lake writer's histograms with their buckets (for the recorder).
pub const HISTOGRAMS: &[(&str, &[f64])] = &[(FILE_WRITE_DURATION, buckets::BATCH)];

/// Describes the lake writer's families (HELP and unit).
pub fn describe() {
    describe_counter!(
        RECORDS_WRITTEN,
        Unit::Count,
        "Records written to the lake's raw zone"
    );
    describe_counter!(FILES_WRITTEN, Unit::Count, "Raw Parquet files written");
    describe_counter!(WRITTEN_BYTES, Unit::Bytes, "Bytes of the raw files written");
    describe_gauge!(
        BUFFERED_RECORDS,
        Unit::Count,
        "Records waiting for roll_bytes or roll_secs"
    );
    describe_gauge!(
        BUFFERED_BYTES,
        Unit::Bytes,
        "Event bytes waiting for roll_bytes or roll_secs"
    );
    describe_histogram!(
        FILE_WRITE_DURATION,
        Unit::Seconds,
        "Encode and durable write or upload of one raw file"
    );
    describe_counter!(
        WRITE_ERRORS,
        Unit::Count,
        "Failed raw file writes (each is retried)"
    );
}

/// Per-topic handles.
pub(crate) struct TopicMetrics {
    pub records: Counter,
    pub files: Counter,
    pub bytes: Counter,
    pub buffered_records: Gauge,
    pub buffered_bytes: Gauge,
    pub errors: Counter,
}

/// Every handle of the lake writer.
pub(crate) struct LakeMetrics {
    pub topics: [TopicMetrics; 3],
    pub file_write: Histogram,
    pub member: MemberMetrics,
}

impl LakeMetrics {
    pub(crate) fn new(topics: &[String; 3], group: &str) -> LakeMetrics {
        LakeMetrics {
            topics: topics.each_ref().map(|topic| TopicMetrics {
                records: counter!(RECORDS_WRITTEN, "topic" => topic.clone()),
                files: counter!(FILES_WRITTEN, "topic" => topic.clone()),
                bytes: counter!(WRITTEN_BYTES, "topic" => topic.clone()),
                buffered_records: gauge!(BUFFERED_RECORDS, "topic" => topic.clone()),
                buffered_bytes: gauge!(BUFFERED_BYTES, "topic" => topic.clone()),
                errors: counter!(WRITE_ERRORS, "topic" => topic.clone()),
            }),
            file_write: histogram!(FILE_WRITE_DURATION),
            member: MemberMetrics::new(group),
        }
    }
}
