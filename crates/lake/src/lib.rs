//! pinpipe's lake: storage chosen by one URL (a local folder, S3 or GCS, through `object_store`)
//! and the lake writer, which copies the event log into the raw zone in files named by the log
//! partition and offset range they hold.
//!
//! Layout: see [`layout`], where every folder is named once.

mod conditional;
mod events;
pub mod layout;
pub mod metrics;
pub mod raw;
pub mod storage;
pub mod writer;

pub use conditional::CreateOnlyCopy;
pub use layout::KINDS;
pub use storage::{Lake, LakeConfig, StoreKind};
pub use writer::{LakeWriterConfig, Until, WriterStats};

/// What can go wrong in the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// Bad configuration (URL, options).
    #[error("lake configuration: {0}")]
    Config(String),
    /// The object store failed.
    #[error("lake storage: {0}")]
    Store(String),
    /// A raw file could not be encoded.
    #[error("encoding a raw file: {0}")]
    Encode(String),
    /// The event log failed.
    #[error("event log: {0}")]
    Log(#[from] pinpipe_log::LogError),
}
