//! The daily batch job (`pinpipe batch --date D`): raw zone up to D → clean (the model crate's
//! rules, as UDFs) → de-duplicate (last received wins) → curated Delta tables → the 11
//! analytics → the lake (`analytics/<name>/dt=D/`) and the serving DB. The queries run on the
//! session's engine (in-process, or a Ballista cluster: `[batch] engine`); the Delta commits, the
//! analytics' files and the serving DB are written by this process.
//!
//! Idempotent: the curated tables are overwritten as a whole in one Delta commit each (a run
//! killed midway leaves the previous version in place), and a date's analytics files and serving
//! rows are replaced, never appended to.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use bytes::Bytes;
use chrono::NaiveDate;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{Expr, cast, ident};
use parquet::arrow::ArrowWriter;
use pinpipe_lake::{KINDS, Lake, layout};
use pinpipe_model::EventType;
use pinpipe_serving::{AnalyticsRows, Cell, ServingDb};
use serde::Serialize;

use crate::BatchError;
use crate::analytics::{ANALYTICS, JOINED};
use crate::ballista::Engine;
use crate::delta::{self, Overwrite, PARTITION};
use crate::session::{BatchConfig, LakeSession, curated_table_schema};
use crate::udf::{clean_fields, udf_name};

/// What one stage did, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// Stage name (`scan`, `curated pins`, `analytics`, ...).
    pub name: String,
    /// Seconds it took.
    pub seconds: f64,
    /// Rows it produced.
    pub rows: u64,
}

/// What a batch run did.
#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    /// The date computed.
    pub date: NaiveDate,
    /// Raw files read (received up to the end of `date`).
    pub raw_files: u64,
    /// Bytes of those files.
    pub raw_bytes: u64,
    /// Raw records per type (pins, geos, users).
    pub raw_records: [u64; 3],
    /// Records that could not be cleaned, per type (left out; the speed layer's dead-letter
    /// table has them with their reasons).
    pub dead_letters: [u64; 3],
    /// Curated rows per type after de-duplication.
    pub curated_rows: [u64; 3],
    /// Delta table versions written (pins, geos, users).
    pub curated_versions: [i64; 3],
    /// Rows per analytic, in data.md's order.
    pub analytics_rows: Vec<(String, u64)>,
    /// Whether the analytics went to the serving DB too.
    pub serving: bool,
    /// The stages, in order, with their times.
    pub stages: Vec<Stage>,
    /// Total seconds.
    pub seconds: f64,
}

/// Progress reports of a run (the CLI draws them).
pub trait Progress: Send + Sync {
    /// A stage starts.
    fn stage(&self, name: &str);
    /// A stage ended.
    fn done(&self, stage: &Stage);
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn stage(&self, _name: &str) {}
    fn done(&self, _stage: &Stage) {}
}

/// The dates whose analytics are in the lake, sorted.
pub async fn analytics_dates(lake: &Lake) -> Result<Vec<NaiveDate>, BatchError> {
    let mut dates: Vec<NaiveDate> = lake
        .list(&layout::analytics_folder(ANALYTICS[0].name))
        .await?
        .iter()
        .filter_map(|meta| lake.relative(&meta.location))
        .filter_map(|rel| {
            rel.split('/')
                .find_map(|part| part.strip_prefix("dt="))
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        })
        .collect();
    dates.sort();
    dates.dedup();
    Ok(dates)
}

/// The query that cleans and de-duplicates one type's raw records received up to `date`, with
/// unusable records left out. Per key it keeps the record the one recency rule picks
/// ([`pinpipe_model::recency::latest`], tested equal in this module): first the last record of
/// each partition the key is in (highest offset), then, of those, the latest receive time, a
/// tie going to the higher partition.
///
/// Unusable records are dropped after the per-partition window, not right after cleaning: a
/// filter there, DataFusion 55's physical filter pushdown moves below the projection that cleans,
/// with the cleaning call copied into it, so every usable record was cleaned twice. No filter
/// moves below a window on a column it does not partition by. An unusable record has no key
/// (every usable one has: data.md makes `unique_id` and `ind` required), so the null-key window
/// partition holds only unusable records and the result is the same.
pub fn curated_sql(kind: EventType, date: NaiveDate) -> String {
    let raw = format!("raw_{}", kind.plural());
    let key = kind.key_field();
    let columns: Vec<String> = clean_fields(kind)
        .iter()
        .map(|f| format!("get_field(c, '{0}') AS \"{0}\"", f.name()))
        .collect();
    format!(
        "SELECT {columns}, received_at, dt FROM (\
           SELECT c, received_at, dt, row_number() OVER (\
             PARTITION BY k ORDER BY received_at DESC, \"partition\" DESC) AS rn \
           FROM (\
             SELECT c, k, \"partition\", received_at, dt, row_number() OVER (\
               PARTITION BY k, \"partition\" ORDER BY \"offset\" DESC) AS in_partition \
             FROM (SELECT c, get_field(c, '{key}') AS k, \"partition\", \"offset\", received_at, dt \
                   FROM (SELECT {udf}(value) AS c, \"partition\", \"offset\", received_at, dt \
                         FROM {raw} WHERE dt <= '{date}') cleaned) keyed\
           ) last_in_partition WHERE in_partition = 1 AND get_field(c, 'error') IS NULL\
         ) ranked WHERE rn = 1",
        columns = columns.join(", "),
        udf = udf_name(kind),
    )
}

/// The query that counts one type's unusable raw records received up to `date` (what the
/// cleaning UDFs count as they clean, for engines whose counters stay on other machines).
pub fn dead_letters_sql(kind: EventType, date: NaiveDate) -> String {
    format!(
        "SELECT COUNT(*) FROM raw_{raw} WHERE dt <= '{date}' \
         AND get_field({udf}(value), 'error') IS NOT NULL",
        raw = kind.plural(),
        udf = udf_name(kind),
    )
}

/// Runs the batch job for `date` on the engine `[batch] engine` names.
pub async fn run(
    lake: &Lake,
    config: &BatchConfig,
    date: NaiveDate,
    serving: Option<&ServingDb>,
    progress: &dyn Progress,
) -> Result<BatchSummary, BatchError> {
    let started = Instant::now();
    let session = LakeSession::new(lake, config).await?;
    let mut stages = Vec::new();
    let stage = |name: &str, since: Instant, rows: u64, stages: &mut Vec<Stage>| {
        let s = Stage {
            name: name.to_owned(),
            seconds: since.elapsed().as_secs_f64(),
            rows,
        };
        progress.done(&s);
        stages.push(s);
    };

    // 1. What the raw zone holds up to the date.
    progress.stage("scan");
    let t = Instant::now();
    // One listing of the raw zone gives both the files and their sizes.
    let mut raw_files = 0;
    let mut raw_bytes = 0;
    for object in lake.list(layout::RAW).await? {
        let in_range = lake
            .relative(&object.location)
            .and_then(|rel| pinpipe_lake::raw::RawFile::parse(&rel))
            .is_some_and(|f| f.date <= date);
        if in_range {
            raw_files += 1;
            raw_bytes += object.size;
        }
    }
    let mut raw_records = [0; 3];
    for (i, kind) in KINDS.iter().enumerate() {
        raw_records[i] = count(
            &session,
            &format!("SELECT COUNT(*) FROM raw_{kind} WHERE dt <= '{date}'"),
        )
        .await?;
    }
    stage("scan", t, raw_records.iter().sum(), &mut stages);

    // 2. Clean, de-duplicate and write each curated table (one Delta commit each).
    session.dead_letters.reset();
    let mut curated_versions = [0; 3];
    for (i, (kind, event)) in KINDS.iter().zip(EventType::ALL).enumerate() {
        let name = format!("curated {kind}");
        progress.stage(&name);
        let t = Instant::now();
        // The engine writes the run's files into a folder of their own; one Delta commit then
        // makes them the table's content (crate::delta).
        let rel = layout::curated_table(kind);
        let run_folder = delta::new_run();
        let schema = curated_table_schema(event);
        let columns: Vec<Expr> = schema
            .fields()
            .iter()
            .map(|f| cast(ident(f.name()), f.data_type().clone()).alias(f.name()))
            .collect();
        session
            .ctx
            .sql(&curated_sql(event, date))
            .await?
            .select(columns)?
            .write_parquet(
                lake.folder_url(&format!("{rel}/{run_folder}"))?.as_str(),
                DataFrameWriteOptions::new().with_partition_by(vec![PARTITION.to_owned()]),
                None,
            )
            .await?;
        curated_versions[i] = delta::commit_overwrite(
            lake,
            Overwrite {
                table: &rel,
                run: &run_folder,
                schema: &schema,
                name: kind,
                description: format!(
                    "pinpipe curated {kind}: clean, de-duplicated (last received wins), received up to {date}"
                ),
            },
        )
        .await?;
        session.register_curated().await?;
        let rows = count(&session, &format!("SELECT COUNT(*) FROM {kind}")).await?;
        stage(&name, t, rows, &mut stages);
    }
    let mut curated_rows = [0; 3];
    for (i, rows) in curated_rows.iter_mut().enumerate() {
        *rows = stages[1 + i].rows;
    }
    // In process, the UDFs counted the dead letters as they cleaned; on a cluster they cleaned
    // on the executors, whose counters do not reach this process, so a query counts them.
    let dead_letters = match session.engine {
        Engine::Local => session.dead_letters.get(),
        Engine::Ballista { .. } => {
            progress.stage("dead letters");
            let t = Instant::now();
            let mut counts = [0; 3];
            for (i, event) in EventType::ALL.into_iter().enumerate() {
                counts[i] = count(&session, &dead_letters_sql(event, date)).await?;
            }
            stage("dead letters", t, counts.iter().sum(), &mut stages);
            counts
        }
    };

    // 3. The analytics, over the curated tables just written. Their common join is computed
    //    once, into the lake's work area, and every analytic reads that (a view would repeat the
    //    join 11 times). Joins are sort-merge joins: their sorts spill to disk, where a hash
    //    join must hold its whole build side in memory (at 10M events that exceeded the memory
    //    pool). Both are plain plans over lake files, as a Ballista cluster would run them.
    progress.stage("join");
    let t = Instant::now();
    let work = format!("{WORK}/{date}-{}", uuid::Uuid::now_v7().simple());
    clear_stale_work(lake).await?;
    session
        .ctx
        .sql("SET datafusion.optimizer.prefer_hash_join = false")
        .await?
        .collect()
        .await?;
    let joined = session.ctx.sql(JOINED).await?;
    let joined_schema = Arc::new(joined.schema().as_arrow().clone());
    joined
        .write_parquet(
            lake.folder_url(&format!("{work}/joined"))?.as_str(),
            DataFrameWriteOptions::new(),
            None,
        )
        .await?;
    session.register_parquet_folder("joined", &format!("{work}/joined"), joined_schema)?;
    let joined_rows = count(&session, "SELECT COUNT(*) FROM joined").await?;
    stage("join", t, joined_rows, &mut stages);

    progress.stage("analytics");
    let t = Instant::now();
    let mut results = Vec::new();
    for analytic in ANALYTICS {
        let frame = session.ctx.sql(&analytic.sql()).await?;
        let schema = frame.schema().as_arrow().clone();
        let batches = frame.collect().await?;
        let rows = to_rows(analytic.name, analytic.columns, &batches)?;
        let file = encode_parquet(&schema, &batches, analytic.columns)?;
        lake.put_durable(&layout::analytics_file(analytic.name, date), file)
            .await?;
        results.push(rows);
    }
    lake.delete_all(&work).await?;
    let analytics_rows: Vec<(String, u64)> = results
        .iter()
        .map(|r| (r.name.clone(), r.rows.len() as u64))
        .collect();
    stage(
        "analytics",
        t,
        analytics_rows.iter().map(|(_, n)| n).sum(),
        &mut stages,
    );

    let mut summary = BatchSummary {
        date,
        raw_files,
        raw_bytes,
        raw_records,
        dead_letters,
        curated_rows,
        curated_versions,
        analytics_rows,
        serving: serving.is_some(),
        stages,
        seconds: 0.0,
    };

    // 4. The serving DB: the date's rows replaced in one transaction.
    if let Some(db) = serving {
        progress.stage("serving DB");
        let t = Instant::now();
        summary.seconds = started.elapsed().as_secs_f64();
        let json = serde_json::to_value(&summary).unwrap_or_default();
        db.replace_analytics(date, &results, &json).await?;
        let rows = results.iter().map(|r| r.rows.len() as u64).sum();
        stage("serving DB", t, rows, &mut summary.stages);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The lake's work area ([`layout::WORK`]): a run's intermediate results, deleted when the run
/// ends.
pub use pinpipe_lake::layout::WORK;

/// How old a run's work folder must be before another run deletes it as left over by a run that
/// was killed (longer than any run).
const STALE_WORK_SECS: i64 = 24 * 3600;

/// Deletes work files of runs that were killed (older than a day).
async fn clear_stale_work(lake: &Lake) -> Result<(), BatchError> {
    let cutoff = chrono::Utc::now() - chrono::Duration::seconds(STALE_WORK_SECS);
    for object in lake.list(WORK).await? {
        if object.last_modified < cutoff
            && let Some(rel) = lake.relative(&object.location)
        {
            lake.delete_all(&rel).await?;
        }
    }
    Ok(())
}

async fn count(session: &LakeSession, sql: &str) -> Result<u64, BatchError> {
    let batches = session.ctx.sql(sql).await?.collect().await?;
    let value = batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .map(|b| arrow::compute::cast(b.column(0), &DataType::Int64))
        .transpose()?
        .and_then(|a| {
            a.as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    Ok(u64::try_from(value).unwrap_or(0))
}

/// An analytic's result as one Parquet file with plain types (Int64, Float64, Utf8), typed by
/// the query's schema (so an empty result has the same column types as any other date's).
fn encode_parquet(
    query_schema: &arrow::datatypes::Schema,
    batches: &[RecordBatch],
    columns: &[&str],
) -> Result<Bytes, BatchError> {
    let schema = Arc::new(arrow::datatypes::Schema::new(
        columns
            .iter()
            .zip(query_schema.fields())
            .map(|(name, field)| {
                arrow::datatypes::Field::new(*name, plain_type(field.data_type()), true)
            })
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), None)?;
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    writer.close()?;
    Ok(Bytes::from(out))
}

fn plain_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DataType::Int64,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
        _ => DataType::Utf8,
    }
}

/// An analytic's result as rows of cells (for the serving DB).
fn to_rows(
    name: &str,
    columns: &[&str],
    batches: &[RecordBatch],
) -> Result<AnalyticsRows, BatchError> {
    let mut rows = Vec::new();
    for batch in batches {
        let arrays = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::cast(c, &plain_type(c.data_type())))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                arrays
                    .iter()
                    .map(|array| cell(array.as_ref(), row))
                    .collect(),
            );
        }
    }
    Ok(AnalyticsRows {
        name: name.to_owned(),
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        rows,
    })
}

fn cell(array: &dyn Array, row: usize) -> Cell {
    use arrow::array::{Float64Array, Int64Array, StringArray};
    if array.is_null(row) {
        return Cell::Null;
    }
    if let Some(a) = array.as_any().downcast_ref::<Int64Array>() {
        Cell::Int(a.value(row))
    } else if let Some(a) = array.as_any().downcast_ref::<Float64Array>() {
        Cell::Float(a.value(row))
    } else if let Some(a) = array.as_any().downcast_ref::<StringArray>() {
        Cell::Text(a.value(row).to_owned())
    } else {
        Cell::Null
    }
}

/// Copies the analytics of `date` from the lake into the serving DB (the scheduler's `publish`
/// task, for runs whose batch wrote the lake only). Returns the rows written.
pub async fn publish(
    lake: &Lake,
    config: &BatchConfig,
    date: NaiveDate,
    db: &ServingDb,
) -> Result<u64, BatchError> {
    let session = LakeSession::local(lake, config).await?;
    if session.register_analytics(Some(date)).await? != Some(date) {
        return Err(BatchError::NoAnalytics(date));
    }
    let mut results = Vec::new();
    for analytic in ANALYTICS {
        let batches = session
            .ctx
            .sql(&format!("SELECT * FROM {}", analytic.name))
            .await?
            .collect()
            .await?;
        results.push(to_rows(analytic.name, analytic.columns, &batches)?);
    }
    let rows = results.iter().map(|r| r.rows.len() as u64).sum();
    let summary = serde_json::json!({ "date": date, "published_rows": rows });
    db.replace_analytics(date, &results, &summary).await?;
    Ok(rows)
}
