//! The speed layer's log events, each named once: one struct per event, whose `emit` writes the
//! log line (and, once there are metrics, will count it). All of them use [`TARGET`].

use pinpipe_log::LogError;
use pinpipe_serving::ServingError;

use crate::StreamStats;

/// The `tracing` target of every speed-layer event (`RUST_LOG=pinpipe::stream=debug`).
pub const TARGET: &str = "pinpipe::stream";

/// A poll returned records (trace).
pub(crate) struct Polled {
    pub records: usize,
}

impl Polled {
    pub fn emit(self) {
        tracing::trace!(target: TARGET, records = self.records, "polled");
    }
}

/// The serving DB's offsets could not be read; retrying (warn).
pub(crate) struct OffsetsReadRetry<'a> {
    pub error: &'a ServingError,
}

impl OffsetsReadRetry<'_> {
    pub fn emit(self) {
        tracing::warn!(target: TARGET, "reading offsets from the serving DB: {}; retrying", self.error);
    }
}

/// The consumer's positions were set from the serving DB's offsets (debug).
pub(crate) struct Positions {
    pub partitions: usize,
    pub sought: usize,
}

impl Positions {
    pub fn emit(self) {
        tracing::debug!(
            target: TARGET,
            partitions = self.partitions,
            sought = self.sought,
            "stream positions from the serving DB"
        );
    }
}

/// A micro-batch could not be written to the serving DB; retrying (warn).
pub(crate) struct ApplyRetry<'a> {
    pub error: &'a ServingError,
}

impl ApplyRetry<'_> {
    pub fn emit(self) {
        tracing::warn!(
            target: TARGET,
            "writing to the serving DB: {}; retrying, offsets unchanged",
            self.error
        );
    }
}

/// The log's own group offsets could not follow the serving DB's (debug: they do not count).
pub(crate) struct LogCommitFailed<'a> {
    pub error: &'a LogError,
}

impl LogCommitFailed<'_> {
    pub fn emit(self) {
        tracing::debug!(target: TARGET, "committing to the log's group offsets: {}", self.error);
    }
}

/// Another member moved a partition's offsets: this one re-reads them (info).
pub(crate) struct Fenced<'a> {
    pub topic: &'a str,
    pub partition: u32,
}

impl Fenced<'_> {
    pub fn emit(self) {
        tracing::info!(
            target: TARGET,
            topic = %self.topic,
            partition = self.partition,
            "offsets moved: another member writes this partition; re-reading"
        );
    }
}

/// Progress and lag, every `report_interval_secs` (info).
pub(crate) struct Progress<'a> {
    pub stats: &'a StreamStats,
    pub lag: u64,
}

impl Progress<'_> {
    pub fn emit(self) {
        tracing::info!(
            target: TARGET,
            records = self.stats.records,
            dead_letters = self.stats.dead_letters,
            batches = self.stats.batches,
            lag = self.lag,
            "speed layer"
        );
    }
}
