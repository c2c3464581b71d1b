//! A DataFusion session over the lake: the object store, the cleaning UDFs, and the lake's tables
//! registered by name.
//!
//! | name | what |
//! |---|---|
//! | `raw_pins`, `raw_geos`, `raw_users` | the raw zone (events as received, with `dt`) |
//! | `pins`, `geos`, `users` | curated tables, exactly data.md's columns |
//! | `curated_pins`, `curated_geos`, `curated_users` | the same plus `received_at` and `dt` |
//! | `category_by_country`, ... (the 11 analytics) | one date's results, data.md's columns |
//! | `category_by_country_history`, ... | every date's results, with `dt` first |

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use pinpipe_lake::{KINDS, Lake, layout};
use serde::{Deserialize, Serialize};

use crate::BatchError;
use crate::analytics::ANALYTICS;
use crate::ballista::Engine;
use crate::delta::{self, PARTITION, Snapshot};
use crate::udf::{self, DeadLetterCounts};

/// `[batch]`: the batch job's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Memory the query engine may use before it spills to disk (MiB).
    pub memory_limit_mb: u64,
    /// Parallel partitions of a plan; 0 means one per CPU core.
    pub target_partitions: usize,
    /// Where the job's plans run: `local` (this process) or `ballista://HOST:PORT` (a Ballista
    /// cluster of `pinpipe ballista-scheduler` and `pinpipe ballista-executor`).
    pub engine: String,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            memory_limit_mb: 1024,
            target_partitions: 0,
            engine: "local".to_owned(),
        }
    }
}

/// A DataFusion session over one lake.
pub struct LakeSession {
    /// The DataFusion context (public so callers can run their own SQL).
    pub ctx: SessionContext,
    /// The lake.
    pub lake: Lake,
    /// Records the cleaning UDFs found unusable (in this process: on a Ballista cluster they
    /// are cleaned, and counted, on the executors).
    pub dead_letters: DeadLetterCounts,
    /// Where its queries run.
    pub engine: Engine,
}

/// pinpipe's settings on a session config (the in-process engine's and every Ballista node's).
pub fn session_settings(session: SessionConfig, config: &BatchConfig) -> SessionConfig {
    let partitions = if config.target_partitions == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        config.target_partitions
    };
    session
        .with_target_partitions(partitions)
        .with_information_schema(true)
        // As delta-rs configures its own sessions: hash-join IN-list pushdown can fail on
        // dictionary-encoded join keys.
        .set_usize("datafusion.optimizer.hash_join_inlist_pushdown_max_size", 0)
        .set_usize(
            "datafusion.optimizer.hash_join_inlist_pushdown_max_distinct_values",
            0,
        )
}

/// `state` without DataFusion 55's two passes that move struct field accesses towards the scan
/// (`extract_leaf_expressions`, `push_down_leaf_projections`). They rewrite
/// `get_field(c, 'x')` over `c = clean_pin(value)` into `get_field(clean_pin(value), 'x')`, one
/// copy of the cleaning call per field read (the filter on `error`, the key, every column), so
/// each record was cleaned several times and each dead letter counted more than once. pinpipe's
/// tables have no struct columns for them to prune. Every session of the batch layer (in-process,
/// a Ballista client, the Ballista scheduler) goes through here.
pub fn without_field_pushdown(state: SessionState) -> SessionState {
    let rules: Vec<_> = state
        .optimizers()
        .iter()
        .filter(|rule| {
            !matches!(
                rule.name(),
                "extract_leaf_expressions" | "push_down_leaf_projections"
            )
        })
        .cloned()
        .collect();
    SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build()
}

impl LakeSession {
    /// A session with the lake's store and raw tables registered (curated and analytics tables
    /// come with [`LakeSession::register_curated`] and [`LakeSession::register_analytics`]).
    pub async fn new(lake: &Lake, config: &BatchConfig) -> Result<LakeSession, BatchError> {
        Self::on(lake, config, &Engine::parse(&config.engine)?).await
    }

    /// A session like [`LakeSession::new`] whose queries run in this process, whatever
    /// `[batch] engine` says (`pinpipe sql`, small reads).
    pub async fn local(lake: &Lake, config: &BatchConfig) -> Result<LakeSession, BatchError> {
        Self::on(lake, config, &Engine::Local).await
    }

    /// A session whose queries run on `engine`.
    pub async fn on(
        lake: &Lake,
        config: &BatchConfig,
        engine: &Engine,
    ) -> Result<LakeSession, BatchError> {
        let (ctx, dead_letters) = match engine {
            Engine::Local => {
                let memory = usize::try_from(config.memory_limit_mb.max(64) * 1024 * 1024)
                    .unwrap_or(usize::MAX);
                let runtime = RuntimeEnvBuilder::new()
                    .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
                    .build_arc()?;
                let state = SessionStateBuilder::new()
                    .with_default_features()
                    .with_config(session_settings(SessionConfig::new(), config))
                    .with_runtime_env(runtime)
                    .build();
                let ctx = SessionContext::new_with_state(without_field_pushdown(state));
                ctx.register_object_store(&lake.store_url(), lake.store());
                let dead_letters = udf::register(&ctx);
                (ctx, dead_letters)
            }
            Engine::Ballista { host, port } => {
                crate::ballista::client_context(lake, config, host, *port).await?
            }
        };
        let this = LakeSession {
            ctx,
            lake: lake.clone(),
            dead_letters,
            engine: engine.clone(),
        };
        for kind in KINDS {
            this.register_listing(
                &format!("raw_{kind}"),
                &layout::raw_folder(kind),
                pinpipe_lake::raw::schema(),
            )?;
        }
        Ok(this)
    }

    /// Registers a Parquet folder partitioned by `dt=` as a table.
    fn register_listing(
        &self,
        name: &str,
        rel: &str,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<(), BatchError> {
        self.register_parquet(name, rel, schema, true)
    }

    /// Registers a folder of Parquet files (no partition columns) as a table, replacing a table
    /// of that name.
    pub fn register_parquet_folder(
        &self,
        name: &str,
        rel: &str,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<(), BatchError> {
        self.ctx.deregister_table(name)?;
        self.register_parquet(name, rel, schema, false)
    }

    fn register_parquet(
        &self,
        name: &str,
        rel: &str,
        schema: arrow::datatypes::SchemaRef,
        by_date: bool,
    ) -> Result<(), BatchError> {
        let url = ListingTableUrl::parse(self.lake.folder_url(rel)?.as_str())?;
        let mut options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        if by_date {
            options = options.with_table_partition_cols(vec![("dt".to_owned(), DataType::Utf8)]);
        }
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        self.ctx
            .register_table(name, Arc::new(ListingTable::try_new(config)?))?;
        Ok(())
    }

    /// Registers the curated Delta tables that exist (as `curated_<kind>` and, with data.md's
    /// columns only, `<kind>`), each read as a Parquet scan of its current snapshot's files.
    /// Returns the kinds found.
    pub async fn register_curated(&self) -> Result<Vec<&'static str>, BatchError> {
        let mut found = Vec::new();
        for (kind, event) in KINDS.iter().zip(pinpipe_model::EventType::ALL) {
            let rel = layout::curated_table(kind);
            let Some(table) = delta::load(&self.lake, &rel).await? else {
                continue;
            };
            let name = format!("curated_{kind}");
            let files = curated_file_schema(event);
            let provider: Arc<dyn datafusion::catalog::TableProvider> =
                match delta::snapshot(&table).await? {
                    (_, Snapshot::Run(run)) => {
                        let url = ListingTableUrl::parse(
                            self.lake.folder_url(&format!("{rel}/{run}"))?.as_str(),
                        )?;
                        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                            .with_file_extension(".parquet")
                            .with_table_partition_cols(vec![(
                                PARTITION.to_owned(),
                                DataType::Utf8,
                            )]);
                        let config = ListingTableConfig::new(url)
                            .with_listing_options(options)
                            .with_schema(files);
                        Arc::new(ListingTable::try_new(config)?)
                    }
                    (_, Snapshot::Empty) => Arc::new(EmptyTable::new(curated_table_schema(event))),
                    (version, Snapshot::Legacy) => {
                        tracing::warn!(
                            table = %rel,
                            version,
                            "curated {kind} was written by an older pinpipe (its files are not in \
                             one run folder) and is left out; the next `pinpipe batch --date D` \
                             rewrites it"
                        );
                        continue;
                    }
                };
            self.ctx.deregister_table(name.as_str())?;
            self.ctx.register_table(name.as_str(), provider)?;
            let columns: Vec<String> = udf::clean_fields(event)
                .iter()
                .map(|f| format!("\"{}\"", f.name()))
                .collect();
            let view = self
                .ctx
                .sql(&format!("SELECT {} FROM {name}", columns.join(", ")))
                .await?
                .into_view();
            self.ctx.deregister_table(*kind)?;
            self.ctx.register_table(*kind, view)?;
            found.push(*kind);
        }
        Ok(found)
    }

    /// Registers each analytic's results: `<name>_history` (every date, `dt` first) and `<name>`
    /// (the rows of `date`, or of the latest date computed). Returns the date shown, if any.
    pub async fn register_analytics(
        &self,
        date: Option<NaiveDate>,
    ) -> Result<Option<NaiveDate>, BatchError> {
        let dates = crate::job::analytics_dates(&self.lake).await?;
        let shown = match date {
            Some(date) => dates.contains(&date).then_some(date),
            None => dates.last().copied(),
        };
        for analytic in ANALYTICS {
            let files = self
                .lake
                .list(&layout::analytics_folder(analytic.name))
                .await?;
            if files.is_empty() {
                continue;
            }
            let listing = format!("{}_files", analytic.name);
            let url = ListingTableUrl::parse(
                self.lake
                    .folder_url(&layout::analytics_folder(analytic.name))?
                    .as_str(),
            )?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("dt".to_owned(), DataType::Utf8)]);
            let config = ListingTableConfig::new(url)
                .with_listing_options(options)
                .infer_schema(&self.ctx.state())
                .await?;
            self.ctx.deregister_table(listing.as_str())?;
            self.ctx
                .register_table(listing.as_str(), Arc::new(ListingTable::try_new(config)?))?;
            let columns = analytic.columns.join(", ");
            let history = self
                .ctx
                .sql(&format!("SELECT dt, {columns} FROM {listing}"))
                .await?
                .into_view();
            let history_name = format!("{}_history", analytic.name);
            self.ctx.deregister_table(history_name.as_str())?;
            self.ctx.register_table(history_name.as_str(), history)?;
            let day = shown.map(|d| d.to_string()).unwrap_or_default();
            let current = self
                .ctx
                .sql(&format!(
                    "SELECT {columns} FROM {listing} WHERE dt = '{day}'"
                ))
                .await?
                .into_view();
            self.ctx.deregister_table(analytic.name)?;
            self.ctx.register_table(analytic.name, current)?;
        }
        Ok(shown)
    }
}

/// The columns of a curated table's Parquet files: data.md's clean columns, then `received_at`
/// (the partition column [`PARTITION`] is in the folder names, not in the files).
pub fn curated_file_schema(kind: pinpipe_model::EventType) -> SchemaRef {
    let mut fields: Vec<Field> = udf::clean_fields(kind)
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("received_at", udf::timestamp_type(), true));
    Arc::new(Schema::new(fields))
}

/// A curated table's schema: its files' columns, then [`PARTITION`] (as its Delta metadata
/// declares it).
pub fn curated_table_schema(kind: pinpipe_model::EventType) -> SchemaRef {
    let mut fields: Vec<Field> = curated_file_schema(kind)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(PARTITION, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}
