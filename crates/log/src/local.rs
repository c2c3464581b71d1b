//! The embedded event log: SQLite in the data dir (`<data_dir>/log/events.db`).
//!
//! Why SQLite: it is crash-safe (WAL with `synchronous=FULL` fsyncs every commit), it lets other
//! processes read and write the same file safely (so `pinpipe topics`, `pinpipe tail` and extra
//! consumers work while the server runs), and it is one of the best-tested storage engines there
//! is. pinpipe adds only the log's semantics on top:
//!
//! - Records are stored as **record batches**, as Kafka does: each commit writes one row per
//!   partition it touched, holding that commit's records of the partition (postcard-encoded:
//!   time, key, value, headers; LZ4-compressed). The row's integer primary key packs topic, partition and the
//!   batch's first offset (`topic_id << 48 | partition << 40 | offset`), so a partition is one
//!   contiguous range of the B-tree: appends go to its right edge, a read finds the batch holding
//!   its offset with one index probe, and replays are range scans. One row per commit rather than
//!   per record cuts SQLite's per-row work and WAL volume several times.
//! - **Group commit**: appends are queued (bounded: a full queue is reported as
//!   [`LogError::Saturated`]) to one writer thread that stores everything waiting in one
//!   transaction and answers all of those callers after its single fsync. Batch appends arrive
//!   already encoded and compressed per partition by the appender (on the async workers, while the
//!   writer commits); single records are gathered and encoded by the writer, so they still
//!   compress as one batch per partition and commit.
//! - Next offsets are read inside the write transaction, so several processes may append.
//! - Consumer groups: members heartbeat into `group_members`; partitions are dealt round-robin
//!   over the live members sorted by id, and a member only reads a partition after it has taken
//!   the partition's lease in `group_owners` (released by the previous owner first, or expired
//!   with it), so two members never read the same partition at once. Commits are fenced by the
//!   lease.
//! - Reads: the SQL on the blocking pool, the decoding on the caller (`StoredRange`).
//!
//! Files: this one opens the log and reads it; `local/writer.rs` is the writer thread,
//! `local/group.rs` the consumer groups, `local/retention.rs` retention.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use tokio::sync::{oneshot, watch};

mod group;
mod retention;
mod writer;

pub use group::LocalConsumer;
use retention::Retention;

use crate::metrics::AppendMetrics;
use crate::{
    LogConfig, LogError, NewRecord, PartitionInfo, Position, Record, TopicInfo, partition_for_key,
};

/// Most partitions a local topic can have (8 bits of the record id).
pub const MAX_PARTITIONS: u32 = 256;
const PARTITION_SHIFT: u32 = 40;
const TOPIC_SHIFT: u32 = 48;
const MAX_OFFSET: u64 = (1 << PARTITION_SHIFT) - 1;
/// Most records or bytes one group-commit transaction takes before it commits.
const MAX_BATCH_RECORDS: usize = 50_000;
const MAX_BATCH_BYTES: usize = 32 << 20;
/// How long the writer keeps collecting appends for one commit when appends arrive concurrently
/// (PostgreSQL's `commit_delay` idea): a little latency buys much larger group commits.
const COMMIT_DELAY: Duration = Duration::from_micros(250);
/// How often a reader in another process looks for new records.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

fn record_id(topic_id: i64, partition: u32, offset: u64) -> i64 {
    (topic_id << TOPIC_SHIFT) | (i64::from(partition) << PARTITION_SHIFT) | offset as i64
}

fn split_id(id: i64) -> (u32, u64) {
    let partition = ((id >> PARTITION_SHIFT) & 0xff) as u32;
    (partition, (id as u64) & MAX_OFFSET)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    last_offset INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    records BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    grp TEXT NOT NULL,
    member TEXT NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_owners (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
";

/// Handle on the embedded log; cheap to clone.
#[derive(Clone)]
pub struct LocalLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    topics: BTreeMap<String, TopicMeta>,
    /// The configured event topics, in the order pins, geos, users.
    event_topics: [String; 3],
    jobs: mpsc::SyncSender<Job>,
    /// Set by the writer when it stops.
    writer_stopped: Arc<AtomicBool>,
    max_pending: usize,
    append_timeout: Duration,
    session_timeout: Duration,
    /// Bumped after every commit of this process's writer; readers wait on it.
    appended: watch::Receiver<u64>,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    metrics: Arc<AppendMetrics>,
}

#[derive(Debug, Clone, Copy)]
struct TopicMeta {
    id: i64,
    partitions: u32,
}

enum Job {
    Append {
        topic: TopicMeta,
        payload: Payload,
        reply: oneshot::Sender<Result<Vec<Position>, LogError>>,
    },
    Close(oneshot::Sender<()>),
}

/// Appends of at least this many records are encoded and compressed by the appender.
const ENCODE_BY_APPENDER: usize = 64;

/// What an append hands the writer.
enum Payload {
    /// A few records (a single event): the writer groups them with the other appends of its
    /// commit, per partition, and encodes each group once (small appends compress poorly alone).
    Records(Vec<NewRecord>),
    /// Many records (a batch request), already split per partition, encoded and compressed on the
    /// appender's thread. Compression was most of the single writer thread's work; done here, it
    /// runs on every core and beside the writer's commit (its fsync) instead of inside it.
    Encoded(EncodedAppend),
}

impl Payload {
    /// Records, and bytes as the writer's commit limits count them.
    fn size(&self) -> (usize, usize) {
        match self {
            Payload::Records(records) => (
                records.len(),
                records.iter().map(|r| r.value.len() + r.key.len()).sum(),
            ),
            Payload::Encoded(e) => (e.order.len(), e.groups.iter().map(|g| g.blob.len()).sum()),
        }
    }
}

/// An append encoded by the appender: one stored batch per partition it touches.
struct EncodedAppend {
    groups: Vec<EncodedGroup>,
    /// Per record, in append order: its group and its index within the group.
    order: Vec<(u32, u32)>,
}

struct EncodedGroup {
    partition: u32,
    records: u64,
    max_ts: i64,
    blob: Vec<u8>,
}

/// Splits `records` per partition and encodes each part as a stored batch.
fn encode_append(records: &[NewRecord], partitions: u32) -> Result<EncodedAppend, LogError> {
    let mut parts: Vec<Vec<StoredRecordRef<'_>>> = (0..partitions).map(|_| Vec::new()).collect();
    let mut order = Vec::with_capacity(records.len());
    for record in records {
        let partition = partition_for_key(&record.key, partitions);
        let part = &mut parts[partition as usize];
        order.push((partition, part.len() as u32));
        part.push(StoredRecordRef::of(record));
    }
    let mut group_of = vec![0u32; partitions as usize];
    let mut groups = Vec::new();
    for (partition, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        group_of[partition] = groups.len() as u32;
        groups.push(EncodedGroup {
            partition: partition as u32,
            records: part.len() as u64,
            max_ts: part.iter().map(|r| r.ts).max().unwrap_or(0),
            blob: encode_batch(part)?,
        });
    }
    for (group, _) in &mut order {
        *group = group_of[*group as usize];
    }
    Ok(EncodedAppend { groups, order })
}

fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: the WAL is fsync'd at every commit, so a committed append survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl LocalLog {
    /// Opens (creating when needed) the log in `<data_dir>/log/events.db` and its topics.
    pub async fn open(config: &LogConfig, data_dir: &Path) -> Result<LocalLog, LogError> {
        let dir = data_dir.join("log");
        std::fs::create_dir_all(&dir)
            .map_err(|e| LogError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("events.db");
        let names = config.topic_names().map(str::to_owned);
        let partitions = config.partitions;
        let open_path = path.clone();
        let (conn, topics) = tokio::task::spawn_blocking(move || {
            let mut conn = open_connection(&open_path)?;
            let old_layout: bool = conn.query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'records'",
                [],
                |r| r.get(0),
            )?;
            if old_layout {
                return Err(LogError::Config(format!(
                    "{} was written by an older pinpipe build (one row per record); \
                     move it away or use another --data-dir",
                    open_path.display()
                )));
            }
            conn.execute_batch(SCHEMA)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for name in &names {
                tx.execute(
                    "INSERT INTO topics (name, partitions) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                    params![name, partitions],
                )?;
                let (id, n): (i64, u32) = tx.query_row(
                    "SELECT id, partitions FROM topics WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                for p in 0..n {
                    tx.execute(
                        "INSERT INTO partitions (topic_id, partition, start_offset, next_offset, bytes)
                         VALUES (?1, ?2, 0, 0, 0) ON CONFLICT DO NOTHING",
                        params![id, p],
                    )?;
                }
            }
            tx.commit()?;
            let topics = load_topics(&conn)?;
            Ok::<_, LogError>((conn, topics))
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("log open task failed: {e}")))??;

        let (jobs_tx, jobs_rx) = mpsc::sync_channel(config.max_pending_appends);
        let writer_stopped = Arc::new(AtomicBool::new(false));
        let stopped = writer_stopped.clone();
        let (appended_tx, appended_rx) = watch::channel(0u64);
        let retention = Retention::from_config(config);
        let metrics = Arc::new(AppendMetrics::new(config));
        let writer_metrics = metrics.clone();
        // Checkpoints (copying the WAL into the main file) run inside the writer's commits
        // (SQLite's automatic checkpoint, every 1000 pages). Measured here: a separate
        // checkpointing thread made fsyncs contend and tripled p99 latency (56-70 ms against
        // 12-18 ms at 10,000 events/s).
        let writer = std::thread::Builder::new()
            .name("pinpipe-log-writer".into())
            .spawn(move || {
                writer::writer_loop(conn, jobs_rx, appended_tx, retention, &writer_metrics);
                stopped.store(true, Ordering::Release);
            })
            .map_err(|e| LogError::Unavailable(format!("cannot start the log writer: {e}")))?;
        Ok(LocalLog {
            inner: Arc::new(Inner {
                path,
                topics,
                event_topics: config.topic_names().map(str::to_owned),
                jobs: jobs_tx,
                writer_stopped,
                max_pending: config.max_pending_appends,
                append_timeout: config.append_timeout(),
                session_timeout: Duration::from_millis(config.session_timeout_ms.max(100)),
                appended: appended_rx,
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(writer)),
                metrics,
            }),
        })
    }

    pub(crate) fn append_metrics(&self) -> &AppendMetrics {
        &self.inner.metrics
    }

    /// The SQLite file holding the log.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn event_topics(&self) -> [&str; 3] {
        let [pins, geos, users] = &self.inner.event_topics;
        [pins, geos, users]
    }

    fn topic(&self, name: &str) -> Result<TopicMeta, LogError> {
        self.inner
            .topics
            .get(name)
            .copied()
            .ok_or_else(|| LogError::UnknownTopic(name.to_owned()))
    }

    pub(crate) async fn append(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Position>, LogError> {
        let meta = self.topic(topic)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let payload = if records.len() >= ENCODE_BY_APPENDER {
            Payload::Encoded(encode_append(&records, meta.partitions)?)
        } else {
            Payload::Records(records)
        };
        let (reply, answer) = oneshot::channel();
        match self.inner.jobs.try_send(Job::Append {
            topic: meta,
            payload,
            reply,
        }) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => {
                return Err(LogError::Saturated(self.inner.max_pending));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(LogError::Unavailable("the local log is closed".into()));
            }
        }
        match tokio::time::timeout(self.inner.append_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(LogError::Unavailable("the log writer stopped".into())),
            Err(_) => Err(LogError::Timeout(self.inner.append_timeout)),
        }
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .map(|mut pool| pool.pop())
                .unwrap_or(None);
            let conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock()
                && pool.len() < 8
            {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("log read task failed: {e}")))?
    }

    pub(crate) async fn topics(&self) -> Result<Vec<TopicInfo>, LogError> {
        self.with_conn(|conn| {
            let topics = load_topics(conn)?;
            let mut out = Vec::new();
            for (name, meta) in topics {
                let mut stmt = conn.prepare_cached(
                    "SELECT partition, start_offset, next_offset FROM partitions
                     WHERE topic_id = ?1 ORDER BY partition",
                )?;
                let partitions = stmt
                    .query_map([meta.id], |r| {
                        Ok(PartitionInfo {
                            partition: r.get(0)?,
                            start_offset: r.get::<_, i64>(1)? as u64,
                            end_offset: r.get::<_, i64>(2)? as u64,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(TopicInfo { name, partitions });
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, LogError> {
        let meta = self.topic(topic)?;
        if partition >= meta.partitions {
            return Err(LogError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
            });
        }
        let deadline = Instant::now() + wait;
        let mut appended = self.inner.appended.clone();
        loop {
            appended.mark_unchanged();
            let name = topic.to_owned();
            let batch = self
                .with_conn(move |conn| read_stored(conn, &name, meta, partition, offset, max))
                .await?
                .decode(max)?;
            if !batch.is_empty() || Instant::now() >= deadline {
                return Ok(batch);
            }
            self.wait_for_appends(&mut appended, deadline).await;
        }
    }

    /// Waits until this process appends, another process may have (poll interval), or the
    /// deadline passes.
    async fn wait_for_appends(&self, appended: &mut watch::Receiver<u64>, deadline: Instant) {
        let until = deadline.min(Instant::now() + POLL_INTERVAL);
        let _ = tokio::time::timeout_at(until.into(), appended.changed()).await;
    }

    pub(crate) async fn consumer(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<LocalConsumer, LogError> {
        let mut subscribed = Vec::new();
        for name in topics {
            let meta = self.topic(name)?;
            subscribed.push((name.to_string(), meta));
        }
        LocalConsumer::join(self.clone(), group, subscribed).await
    }

    pub(crate) async fn ready(&self) -> Result<(), LogError> {
        if self.inner.writer_stopped.load(Ordering::Acquire) {
            return Err(LogError::Unavailable("the log writer stopped".into()));
        }
        self.with_conn(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM topics", [], |r| r.get::<_, i64>(0))?)
        })
        .await
        .map(|_| ())
    }

    pub(crate) async fn close(&self) -> Result<(), LogError> {
        let (done, finished) = oneshot::channel();
        let jobs = self.inner.jobs.clone();
        let sent = tokio::task::spawn_blocking(move || jobs.send(Job::Close(done)).is_ok()).await;
        if matches!(sent, Ok(true)) {
            let _ = finished.await;
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        Ok(())
    }
}

fn load_topics(conn: &Connection) -> Result<BTreeMap<String, TopicMeta>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached("SELECT name, id, partitions FROM topics ORDER BY name")?;
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            TopicMeta {
                id: r.get(1)?,
                partitions: r.get(2)?,
            },
        ))
    })?
    .collect()
}

/// The stored batches of one partition that hold a range of offsets, as read from SQLite and
/// not yet decoded. Reads split in two: the SQL on the blocking pool ([`read_stored`]), the
/// decoding on the caller ([`StoredRange::decode`]). Decoding on the blocking pool allocated
/// every record on whichever pool thread ran the read and freed it on a runtime worker; the
/// allocator kept those pages per pool thread, which showed as memory under load.
pub(crate) struct StoredRange {
    topic: String,
    partition: u32,
    offset: u64,
    /// (base offset, stored batch), in offset order.
    batches: Vec<(u64, Vec<u8>)>,
    /// The batches hold the whole range (a later batch starts past it).
    full: bool,
}

/// Reads the stored batches holding up to `max` records of `topic`/`partition` from `offset`.
fn read_stored(
    conn: &Connection,
    topic: &str,
    meta: TopicMeta,
    partition: u32,
    offset: u64,
    max: usize,
) -> Result<StoredRange, LogError> {
    let first_id = record_id(meta.id, partition, 0);
    let target = record_id(meta.id, partition, offset.min(MAX_OFFSET));
    let last_id = record_id(meta.id, partition, MAX_OFFSET);
    // The batch holding `offset` starts at or before it.
    let start: Option<i64> = conn
        .prepare_cached("SELECT max(id) FROM batches WHERE id >= ?1 AND id <= ?2")?
        .query_row(params![first_id, target], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, records FROM batches WHERE id >= ?1 AND id <= ?2 ORDER BY id",
    )?;
    let mut rows = stmt.query(params![start.unwrap_or(first_id), last_id])?;
    let end = offset.saturating_add(max as u64);
    let mut batches = Vec::new();
    let mut full = false;
    while let Some(row) = rows.next()? {
        let (_, base) = split_id(row.get(0)?);
        // A batch starting at or past the range's end holds none of it (the first one read
        // always starts at or before `offset`).
        if !batches.is_empty() && base >= end {
            full = true;
            break;
        }
        let blob = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        batches.push((base, blob.to_vec()));
    }
    Ok(StoredRange {
        topic: topic.to_owned(),
        partition,
        offset,
        batches,
        full,
    })
}

impl StoredRange {
    /// How many records of the range the batches hold at least, without decoding them: all
    /// of it when a later batch starts past it, else up to the last batch's start and one more.
    pub(crate) fn at_least(&self, max: usize) -> usize {
        match self.batches.last() {
            None => 0,
            Some(_) if self.full => max,
            Some((last, _)) => {
                usize::try_from(last.saturating_sub(self.offset) + 1).map_or(max, |n| n.min(max))
            }
        }
    }

    /// The records of the range, at most `max`.
    pub(crate) fn decode(self, max: usize) -> Result<Vec<Record>, LogError> {
        let StoredRange {
            topic,
            partition,
            offset,
            batches,
            ..
        } = self;
        let mut out = Vec::new();
        for (base, blob) in batches {
            if out.len() >= max {
                break;
            }
            let stored = decode_batch(&blob).map_err(|e| {
                LogError::Unavailable(format!(
                    "corrupt record batch at {topic}/{partition}/{base}: {e}"
                ))
            })?;
            for (i, r) in stored.into_iter().enumerate() {
                let record_offset = base + i as u64;
                if record_offset < offset {
                    continue;
                }
                if out.len() >= max {
                    break;
                }
                out.push(Record {
                    topic: topic.clone(),
                    partition,
                    offset: record_offset,
                    timestamp_ms: r.ts,
                    key: Some(r.key),
                    value: Some(r.value),
                    headers: r.headers,
                });
            }
        }
        Ok(out)
    }
}

/// First byte of a stored batch: how the rest is encoded.
const CODEC_LZ4: u8 = 1;

/// A batch as stored: a codec byte, then the postcard-encoded records compressed with LZ4 (size
/// prepended). JSON events compress several times, which cuts the bytes SQLite writes to the
/// WAL and copies again at checkpoints, as Kafka's batch compression does.
fn compress_batch(encoded: &[u8]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(1 + encoded.len() / 2);
    blob.push(CODEC_LZ4);
    blob.extend_from_slice(&lz4_flex::compress_prepend_size(encoded));
    blob
}

/// A stored batch of `records`: postcard, then [`compress_batch`]. (`to_stdvec` copies byte
/// strings with one `extend_from_slice`; `to_extend` pushed them a byte at a time.)
fn encode_batch(records: &[StoredRecordRef<'_>]) -> Result<Vec<u8>, LogError> {
    let encoded = postcard::to_stdvec(records)
        .map_err(|e| LogError::Unavailable(format!("cannot encode a record batch: {e}")))?;
    Ok(compress_batch(&encoded))
}

fn decode_batch(blob: &[u8]) -> Result<Vec<StoredRecord>, String> {
    match blob.split_first() {
        Some((&CODEC_LZ4, rest)) => {
            let encoded = lz4_flex::decompress_size_prepended(rest).map_err(|e| e.to_string())?;
            postcard::from_bytes(&encoded).map_err(|e| e.to_string())
        }
        Some((codec, _)) => Err(format!("unknown batch codec {codec}")),
        None => Err("empty batch".into()),
    }
}

/// One record inside a stored batch (postcard-encoded, a documented compact format).
#[derive(serde::Deserialize)]
struct StoredRecord {
    ts: i64,
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    value: Vec<u8>,
    headers: Vec<(String, String)>,
}

/// The same, borrowed, for writing without copies.
#[derive(serde::Serialize)]
struct StoredRecordRef<'a> {
    ts: i64,
    #[serde(with = "serde_bytes")]
    key: &'a [u8],
    #[serde(with = "serde_bytes")]
    value: &'a [u8],
    headers: &'a [(String, String)],
}

impl<'a> StoredRecordRef<'a> {
    fn of(record: &'a NewRecord) -> StoredRecordRef<'a> {
        StoredRecordRef {
            ts: record.timestamp_ms,
            key: &record.key,
            value: &record.value,
            headers: &record.headers,
        }
    }
}
