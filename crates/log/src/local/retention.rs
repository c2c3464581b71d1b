//! Retention of the local log: whole stored batches go, oldest first, once they are older than
//! `log.retention.max_age_hours` or the partition holds more than `log.retention.max_bytes`.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};

use super::record_id;
use crate::{LogConfig, LogError, now_ms};

pub(super) struct Retention {
    max_age_ms: i64,
    max_bytes: i64,
    pub(super) interval: Duration,
}

impl Retention {
    pub(super) fn from_config(config: &LogConfig) -> Retention {
        let r = &config.retention;
        Retention {
            max_age_ms: i64::try_from(r.max_age_hours.saturating_mul(3_600_000)).unwrap_or(0),
            max_bytes: i64::try_from(r.max_bytes).unwrap_or(i64::MAX),
            interval: Duration::from_secs(r.check_interval_secs.max(1)),
        }
    }
}

/// Removes batches past the age or size limit, oldest first, at most 100,000 per partition per
/// pass so appends never wait long. A batch is old when its newest record is.
pub(super) fn apply_retention(
    conn: &mut Connection,
    retention: &Retention,
) -> Result<(), LogError> {
    const MAX_DELETE: i64 = 100_000;
    if retention.max_age_ms == 0 && retention.max_bytes == 0 {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let heads: Vec<(i64, u32, i64, i64, i64)> = tx
        .prepare("SELECT topic_id, partition, start_offset, next_offset, bytes FROM partitions")?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let cutoff = now_ms() - retention.max_age_ms;
    for (topic_id, partition, start, next, bytes) in heads {
        if start >= next {
            continue;
        }
        let mut new_start = start;
        let mut removed_bytes = 0i64;
        // Whole batches go, oldest first (like Kafka's segments).
        let mut rows = tx.prepare_cached(
            "SELECT last_offset, max_ts, length(records) FROM batches
             WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
        )?;
        let mut it = rows.query(params![
            record_id(topic_id, partition, start as u64),
            record_id(topic_id, partition, next as u64),
            MAX_DELETE
        ])?;
        while let Some(row) = it.next()? {
            let last: i64 = row.get(0)?;
            let ts: i64 = row.get(1)?;
            let len: i64 = row.get(2)?;
            let too_old = retention.max_age_ms > 0 && ts < cutoff;
            let too_big = retention.max_bytes > 0 && bytes - removed_bytes > retention.max_bytes;
            if !(too_old || too_big) {
                break;
            }
            new_start = last + 1;
            removed_bytes += len;
        }
        drop(it);
        drop(rows);
        if new_start > start {
            tx.execute(
                "DELETE FROM batches WHERE id >= ?1 AND id < ?2",
                params![
                    record_id(topic_id, partition, start as u64),
                    record_id(topic_id, partition, new_start as u64)
                ],
            )?;
            tx.execute(
                "UPDATE partitions SET start_offset = ?3, bytes = bytes - ?4
                 WHERE topic_id = ?1 AND partition = ?2",
                params![topic_id, partition, new_start, removed_bytes],
            )?;
            tracing::info!(
                topic_id,
                partition,
                removed = new_start - start,
                "log retention"
            );
        }
    }
    tx.commit()?;
    Ok(())
}
