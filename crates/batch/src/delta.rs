//! The curated tables' Delta log, kept by pinpipe itself: the query engine writes a run's Parquet
//! files into a folder of its own inside the table (`curated/<kind>/<run>/dt=D/…`), and pinpipe
//! commits them as one Delta transaction (the new files added, every file of the previous
//! snapshot removed, protocol and metadata on the first commit or a schema change): an overwrite
//! that other Delta readers see atomically. Readers of pinpipe scan the snapshot's run folder as
//! plain Parquet.
//!
//! Why not delta-rs's own writer and table provider: they run the write in the calling process
//! and their plan nodes have no wire codec, so a Ballista cluster could neither write nor read
//! through them (../shared/docs/ballista.md §3); and they need deltalake's `datafusion` feature,
//! which builds a second copy of DataFusion's default feature set. With the engine writing plain
//! Parquet, either engine can write, and deltalake is only the log.
//!
//! A run killed before its commit leaves only files no snapshot references (the previous version
//! stays in place); the next run writes a new folder.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::Schema;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, MetadataExt as _, Protocol, StructType, new_metadata};
use deltalake::logstore::{
    LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore, logstore_factories,
};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::TryStreamExt as _;
use pinpipe_lake::Lake;

use crate::BatchError;

/// The one partition column of the curated tables.
pub const PARTITION: &str = "dt";

/// delta-rs's plain log store (commits by "rename if absent", which the lake's stores provide)
/// for any scheme. delta-rs registers it for `file://` only and leaves S3 and GCS to optional
/// crates that bring their own AWS/GCP clients; pinpipe hands it its own `object_store` stores
/// instead, so the plain log store is all that is missing.
struct PlainLogStores;

impl LogStoreFactory for PlainLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &url::Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// Makes delta-rs accept the lake's scheme (idempotent).
fn register_log_store(lake: &Lake) {
    let scheme = format!("{}://", lake.url().scheme());
    if let Ok(url) = url::Url::parse(&scheme) {
        let factories = logstore_factories();
        if !factories.contains_key(&url) {
            factories.insert(url, Arc::new(PlainLogStores));
        }
    }
}

/// A Delta table object for a folder of the lake (not loaded).
fn delta_table(lake: &Lake, rel: &str) -> Result<DeltaTable, BatchError> {
    register_log_store(lake);
    let url = lake.folder_url(rel)?;
    Ok(DeltaTableBuilder::from_url(url.clone())?
        .with_storage_backend(lake.store(), url)
        .build()?)
}

/// The Delta table of a folder of the lake, loaded; `None` when there is none yet.
pub async fn load(lake: &Lake, rel: &str) -> Result<Option<DeltaTable>, BatchError> {
    if lake.list(&format!("{rel}/_delta_log")).await?.is_empty() {
        return Ok(None);
    }
    let mut table = delta_table(lake, rel)?;
    match table.load().await {
        Ok(()) => Ok(Some(table)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A new run folder's name: a UUIDv7, so folders sort by time and never start with `_` or `.`
/// (which readers skip as hidden).
pub fn new_run() -> String {
    format!("run-{}", uuid::Uuid::now_v7().simple())
}

/// What the current snapshot of a curated table holds, for reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// The table has no files (an empty result was committed).
    Empty,
    /// Every file of the snapshot is inside this run folder (relative to the table), and every
    /// file of that folder belongs to the snapshot (a run writes its folder once).
    Run(String),
    /// The files are not in one run folder: the table was written by pinpipe before run
    /// folders (delta-rs's writer, files in `dt=D/` next to replaced ones), so no folder scan
    /// reads exactly the snapshot. The next `pinpipe batch` rewrites it.
    Legacy,
}

/// The snapshot of a loaded table: its version and where its files are.
pub async fn snapshot(table: &DeltaTable) -> Result<(i64, Snapshot), BatchError> {
    let state = table.snapshot()?;
    let version = i64::try_from(state.version()).unwrap_or(i64::MAX);
    let paths: Vec<String> = state
        .snapshot()
        .file_views(&table.log_store(), None)
        .map_ok(|f| f.path().into_owned())
        .try_collect()
        .await?;
    let mut run = None;
    for path in &paths {
        let folder = match path.split_once('/') {
            Some((folder, _)) if folder.starts_with("run-") => folder,
            _ => return Ok((version, Snapshot::Legacy)),
        };
        match run {
            None => run = Some(folder),
            Some(r) if r == folder => {}
            Some(_) => return Ok((version, Snapshot::Legacy)),
        }
    }
    Ok((
        version,
        run.map_or(Snapshot::Empty, |r| Snapshot::Run(r.to_owned())),
    ))
}

/// What to commit: the table, the run folder the engine wrote, the files' schema (without the
/// partition column) and the table's name and description.
pub struct Overwrite<'a> {
    /// The table's folder in the lake (`curated/pins`).
    pub table: &'a str,
    /// The run folder inside it that holds the new files.
    pub run: &'a str,
    /// The columns of the files plus [`PARTITION`] last, as the table's schema.
    pub schema: &'a Schema,
    /// The table's name in its metadata.
    pub name: &'a str,
    /// The table's description in its metadata.
    pub description: String,
}

/// Commits the Parquet files of `run` as the table's new content, replacing every file of the
/// previous snapshot, in one Delta transaction. Returns the version written.
pub async fn commit_overwrite(lake: &Lake, write: Overwrite<'_>) -> Result<i64, BatchError> {
    let previous = load(lake, write.table).await?;
    let table = match &previous {
        Some(table) => table.clone(),
        None => delta_table(lake, write.table)?,
    };
    let schema: StructType = write.schema.try_into_kernel()?;
    let mut actions = Vec::new();
    let metadata = match &previous {
        None => Some(
            new_metadata(&schema, [PARTITION], std::iter::empty::<(String, String)>())?
                .with_name(write.name.to_owned())?,
        ),
        Some(table) => {
            let state = table.snapshot()?;
            let current = state.metadata();
            let same = *state.schema() == schema && current.partition_columns() == [PARTITION];
            (!same)
                .then(|| current.clone().with_schema(&schema))
                .transpose()?
        }
    };
    if previous.is_none() {
        // Reader 1, writer 2: what delta-rs writes for a plain table (no table features).
        let protocol: Protocol = serde_json::from_value(serde_json::json!({
            "minReaderVersion": 1, "minWriterVersion": 2
        }))
        .map_err(|e| DeltaTableError::Generic(format!("protocol: {e}")))?;
        actions.push(Action::Protocol(protocol));
    }
    if let Some(metadata) = metadata {
        actions.push(Action::Metadata(
            metadata.with_description(write.description)?,
        ));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let run_rel = format!("{}/{}", write.table.trim_matches('/'), write.run);
    for object in lake.list(&run_rel).await? {
        let Some(rel) = lake.relative(&object.location) else {
            continue;
        };
        let Some(path) = rel.strip_prefix(&format!("{}/", write.table.trim_matches('/'))) else {
            continue;
        };
        if !path.ends_with(".parquet") {
            continue;
        }
        let dt = path
            .split('/')
            .find_map(|part| part.strip_prefix(&format!("{PARTITION}=")))
            .map(str::to_owned);
        actions.push(Action::Add(Add {
            path: path.to_owned(),
            partition_values: HashMap::from([(PARTITION.to_owned(), dt)]),
            size: i64::try_from(object.size).unwrap_or(i64::MAX),
            modification_time: object.last_modified.timestamp_millis(),
            data_change: true,
            ..Add::default()
        }));
    }
    if let Some(table) = &previous {
        let removes: Vec<Action> = table
            .snapshot()?
            .snapshot()
            .file_views(&table.log_store(), None)
            .map_ok(|f| {
                let mut remove = f.remove_action(true);
                remove.deletion_timestamp = Some(now);
                Action::Remove(remove)
            })
            .try_collect()
            .await?;
        actions.extend(removes);
    }
    let operation = DeltaOperation::Write {
        mode: SaveMode::Overwrite,
        partition_by: Some(vec![PARTITION.to_owned()]),
        predicate: None,
    };
    let committed = CommitBuilder::default()
        .with_actions(actions)
        .build(
            previous
                .as_ref()
                .map(|t| t.snapshot())
                .transpose()?
                .map(|s| s as &dyn deltalake::kernel::transaction::TableReference),
            table.log_store(),
            operation,
        )
        .await?;
    Ok(i64::try_from(committed.version()).unwrap_or(i64::MAX))
}
