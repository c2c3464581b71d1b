//! The lake writer's log events, each named once: one struct per event, whose `emit` writes the
//! log line (and, once there are metrics, will count it). All of them use [`TARGET`].

use std::time::Duration;

use pinpipe_log::LogError;

use crate::LakeError;
use crate::writer::WriterStats;

/// The `tracing` target of every lake-writer event (`RUST_LOG=pinpipe::lake=debug`).
pub const TARGET: &str = "pinpipe::lake";

/// The consumer's positions were set from where the raw zone ends (debug).
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
            "lake writer positions"
        );
    }
}

/// A raw file could not be written; retrying after `pause` (warn). The records stay in hand.
pub(crate) struct WriteRetry<'a> {
    pub error: &'a LakeError,
    pub pause: Duration,
}

impl WriteRetry<'_> {
    pub fn emit(self) {
        tracing::warn!(target: TARGET, "{}; retrying in {:?}", self.error, self.pause);
    }
}

/// The group's offsets could not follow the raw zone (warn: the raw zone is the truth).
pub(crate) struct CommitFailed<'a> {
    pub error: &'a LogError,
}

impl CommitFailed<'_> {
    pub fn emit(self) {
        tracing::warn!(target: TARGET, "committing the lake writer's offsets: {}", self.error);
    }
}

/// Progress and lag, every `report_interval_secs` (info).
pub(crate) struct Progress<'a> {
    pub stats: &'a WriterStats,
    pub buffered_bytes: u64,
    pub lag: u64,
}

impl Progress<'_> {
    pub fn emit(self) {
        tracing::info!(
            target: TARGET,
            records = self.stats.records,
            files = self.stats.files,
            buffered_bytes = self.buffered_bytes,
            lag = self.lag,
            "lake writer"
        );
    }
}
