//! The log's single writer thread: takes every waiting append, stores them in one transaction
//! with one fsync, answers them all; runs retention between batches.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::{oneshot, watch};

use super::retention::{Retention, apply_retention};
use super::{
    COMMIT_DELAY, Job, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_OFFSET, Payload, StoredRecordRef,
    TopicMeta, encode_batch, record_id,
};
use crate::metrics::AppendMetrics;
use crate::{LogError, Position, partition_for_key};

/// The single writer: takes every waiting append, stores them in one transaction, fsyncs once,
/// answers them all. Runs retention between batches.
pub(super) fn writer_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    appended: watch::Sender<u64>,
    retention: Retention,
    metrics: &AppendMetrics,
) {
    let mut last_retention = Instant::now();
    let mut last_batch_jobs = 0usize;
    loop {
        if last_retention.elapsed() >= retention.interval {
            if let Err(e) = apply_retention(&mut conn, &retention) {
                tracing::warn!(error = %e, "log retention failed; will retry");
            }
            last_retention = Instant::now();
        }
        // Wake up for retention even when idle.
        let wait = retention.interval.saturating_sub(last_retention.elapsed());
        let first = match blocking_recv_timeout(&jobs, wait) {
            Recv::Job(job) => job,
            Recv::Timeout => continue,
            Recv::Closed => break,
        };
        let mut batch: Vec<PendingAppend> = Vec::new();
        let mut close = None;
        let (mut records, mut bytes) = (0usize, 0usize);
        let mut next = Some(first);
        let gather_until = Instant::now() + COMMIT_DELAY;
        while let Some(job) = next.take() {
            match job {
                Job::Append {
                    topic,
                    payload,
                    reply,
                } => {
                    let (n, size) = payload.size();
                    records += n;
                    bytes += size;
                    batch.push((topic, payload, reply));
                }
                Job::Close(done) => close = Some(done),
            }
            if close.is_none() && records < MAX_BATCH_RECORDS && bytes < MAX_BATCH_BYTES {
                next = jobs.try_recv().ok();
                // Appends are arriving concurrently: wait a moment for the rest of the wave.
                let concurrent = last_batch_jobs > 1 || batch.len() > 1;
                if next.is_none() && concurrent {
                    let left = gather_until.saturating_duration_since(Instant::now());
                    if !left.is_zero()
                        && let Recv::Job(job) = blocking_recv_timeout(&jobs, left)
                    {
                        next = Some(job);
                    }
                }
            }
        }
        last_batch_jobs = batch.len();
        if !batch.is_empty() {
            commit_and_answer(&mut conn, batch, &appended, metrics);
        }
        if let Some(done) = close {
            // Appends sent after this point fail with "closed" once the receiver is dropped.
            // Appends queued before the close are still stored.
            let mut rest = Vec::new();
            while let Ok(job) = jobs.try_recv() {
                if let Job::Append {
                    topic,
                    payload,
                    reply,
                } = job
                {
                    rest.push((topic, payload, reply));
                }
            }
            if !rest.is_empty() {
                commit_and_answer(&mut conn, rest, &appended, metrics);
            }
            // PASSIVE: never waits for other processes still writing or reading the file.
            let _ = conn.pragma_update(None, "wal_checkpoint", "PASSIVE");
            let _ = done.send(());
            break;
        }
    }
}

fn commit_and_answer(
    conn: &mut Connection,
    batch: Vec<PendingAppend>,
    appended: &watch::Sender<u64>,
    metrics: &AppendMetrics,
) {
    let started = Instant::now();
    match store_batch(conn, &batch) {
        Ok(positions) => {
            metrics
                .commit_duration
                .record(started.elapsed().as_secs_f64());
            metrics.commit_records.record(batch.len() as f64);
            for ((_, _, reply), pos) in batch.into_iter().zip(positions) {
                let _ = reply.send(Ok(pos));
            }
            appended.send_modify(|n| *n += 1);
        }
        Err(e) => {
            let message = e.to_string();
            tracing::error!(error = %message, "local log append failed");
            for (_, _, reply) in batch {
                let _ = reply.send(Err(LogError::Unavailable(message.clone())));
            }
        }
    }
}

enum Recv {
    Job(Job),
    Timeout,
    Closed,
}

fn blocking_recv_timeout(jobs: &mpsc::Receiver<Job>, wait: Duration) -> Recv {
    // std's channel waits with microsecond precision (tokio's timers tick in milliseconds, far
    // too coarse for the commit delay).
    match jobs.recv_timeout(wait) {
        Ok(job) => Recv::Job(job),
        Err(mpsc::RecvTimeoutError::Timeout) => Recv::Timeout,
        Err(mpsc::RecvTimeoutError::Disconnected) => Recv::Closed,
    }
}

type PendingAppend = (
    TopicMeta,
    Payload,
    oneshot::Sender<Result<Vec<Position>, LogError>>,
);

/// One partition's state inside a commit.
struct Head<'a> {
    /// The next offset to hand out.
    next: u64,
    /// The partition's stored bytes so far.
    bytes: i64,
    /// Records of small appends not yet stored, from `open_base` on.
    open: Vec<StoredRecordRef<'a>>,
    open_base: u64,
}

/// The commit's state of a partition, read from the `partitions` table on first use.
fn head_of<'m, 'a>(
    heads: &'m mut BTreeMap<(i64, u32), Head<'a>>,
    head_stmt: &mut rusqlite::CachedStatement<'_>,
    topic_id: i64,
    partition: u32,
) -> Result<&'m mut Head<'a>, LogError> {
    match heads.entry((topic_id, partition)) {
        std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
        std::collections::btree_map::Entry::Vacant(e) => {
            let (next, bytes): (i64, i64) = head_stmt
                .query_row(params![topic_id, partition], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(e.insert(Head {
                next: next as u64,
                bytes,
                open: Vec::new(),
                open_base: next as u64,
            }))
        }
    }
}

/// Inserts one stored batch of `records` records starting at `base`.
fn store(
    insert: &mut rusqlite::CachedStatement<'_>,
    topic_id: i64,
    partition: u32,
    base: u64,
    records: u64,
    max_ts: i64,
    blob: &[u8],
) -> Result<(), LogError> {
    let last = base + records - 1;
    if last > MAX_OFFSET {
        return Err(LogError::Unavailable(
            "partition offset space exhausted".into(),
        ));
    }
    insert.execute(params![
        record_id(topic_id, partition, base),
        last as i64,
        max_ts,
        blob
    ])?;
    Ok(())
}

/// Stores the records of small appends gathered for a partition, if any.
fn flush_open(
    insert: &mut rusqlite::CachedStatement<'_>,
    topic_id: i64,
    partition: u32,
    head: &mut Head<'_>,
) -> Result<(), LogError> {
    if head.open.is_empty() {
        return Ok(());
    }
    let blob = encode_batch(&head.open)?;
    let max_ts = head.open.iter().map(|r| r.ts).max().unwrap_or(0);
    store(
        insert,
        topic_id,
        partition,
        head.open_base,
        head.open.len() as u64,
        max_ts,
        &blob,
    )?;
    head.bytes += blob.len() as i64;
    head.open.clear();
    Ok(())
}

/// Stores all appends of a batch in one transaction. Next offsets are read inside it, so other
/// processes appending to the same file are safe. A partition's rows are written in offset order:
/// the small appends' records gathered for a partition are stored before an encoded batch of the
/// same partition takes the offsets after them.
fn store_batch(
    conn: &mut Connection,
    batch: &[PendingAppend],
) -> Result<Vec<Vec<Position>>, LogError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut heads: BTreeMap<(i64, u32), Head<'_>> = BTreeMap::new();
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut head_stmt = tx.prepare_cached(
            "SELECT next_offset, bytes FROM partitions WHERE topic_id = ?1 AND partition = ?2",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO batches (id, last_offset, max_ts, records) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (topic, payload, _) in batch {
            match payload {
                Payload::Records(records) => {
                    let mut positions = Vec::with_capacity(records.len());
                    for record in records {
                        let partition = partition_for_key(&record.key, topic.partitions);
                        let head = head_of(&mut heads, &mut head_stmt, topic.id, partition)?;
                        if head.open.is_empty() {
                            head.open_base = head.next;
                        }
                        positions.push(Position {
                            partition,
                            offset: head.next,
                        });
                        head.next += 1;
                        head.open.push(StoredRecordRef::of(record));
                    }
                    out.push(positions);
                }
                Payload::Encoded(encoded) => {
                    let mut bases = Vec::with_capacity(encoded.groups.len());
                    for group in &encoded.groups {
                        let head = head_of(&mut heads, &mut head_stmt, topic.id, group.partition)?;
                        flush_open(&mut insert, topic.id, group.partition, head)?;
                        store(
                            &mut insert,
                            topic.id,
                            group.partition,
                            head.next,
                            group.records,
                            group.max_ts,
                            &group.blob,
                        )?;
                        bases.push(head.next);
                        head.next += group.records;
                        head.bytes += group.blob.len() as i64;
                    }
                    out.push(
                        encoded
                            .order
                            .iter()
                            .map(|&(group, index)| Position {
                                partition: encoded.groups[group as usize].partition,
                                offset: bases[group as usize] + u64::from(index),
                            })
                            .collect(),
                    );
                }
            }
        }
        let mut update = tx.prepare_cached(
            "UPDATE partitions SET next_offset = ?3, bytes = ?4 WHERE topic_id = ?1 AND partition = ?2",
        )?;
        for ((topic_id, partition), head) in &mut heads {
            flush_open(&mut insert, *topic_id, *partition, head)?;
            update.execute(params![topic_id, partition, head.next as i64, head.bytes])?;
        }
    }
    tx.commit()?;
    Ok(out)
}
