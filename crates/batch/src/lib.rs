//! pinpipe's batch layer on Apache DataFusion: the daily job (raw zone → clean → de-duplicate →
//! curated Delta tables → the 11 analytics) and read-only SQL over the lake.
//!
//! Cleaning is the model crate's, registered as UDFs ([`udf`]), so the batch layer and the speed
//! layer cannot disagree. Every step is a DataFusion plan (SQL over tables registered from the
//! object store), with nothing collected into the process in between, so the same plans run
//! in-process or on a DataFusion Ballista cluster whose scheduler and executors are this binary
//! ([`ballista`]: they register the same UDFs and the lake's store). Curated tables are written
//! by the engine as Parquet and committed to Delta by pinpipe ([`delta`]), so both engines write
//! them the same way.

pub mod analytics;
pub mod ballista;
pub mod delta;
pub mod job;
pub mod query;
pub mod session;
pub mod udf;

pub use job::{BatchSummary, Progress, Quiet, Stage};
pub use session::{BatchConfig, LakeSession};

/// What can go wrong in the batch layer.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The lake failed.
    #[error("{0}")]
    Lake(#[from] pinpipe_lake::LakeError),
    /// A query failed (also: bad SQL from `pinpipe sql`).
    #[error("{0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// A Delta table operation failed.
    #[error("delta: {0}")]
    Delta(#[from] deltalake::DeltaTableError),
    /// A Delta log action could not be built (schema, metadata).
    #[error("delta: {0}")]
    DeltaAction(#[from] deltalake::kernel::Error),
    /// The engine is misconfigured or cannot be reached.
    #[error("{0}")]
    Engine(String),
    /// A Ballista scheduler or executor failed.
    #[error("ballista: {0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    /// `pinpipe sql` was given a statement that writes.
    #[error("the lake is read-only here: only SELECT (and EXPLAIN, SHOW, DESCRIBE) can run")]
    ReadOnly,
    /// No analytics of this date in the lake.
    #[error("no analytics for {0} in the lake: run `pinpipe batch --date {0}` first")]
    NoAnalytics(chrono::NaiveDate),
    /// The serving DB failed.
    #[error("serving DB: {0}")]
    Serving(#[from] pinpipe_serving::ServingError),
}
