//! Consumer groups on the local log: membership by heartbeat, partitions dealt round-robin over
//! the live members, a lease per partition so two members never read one partition at once, and
//! commits fenced by that lease (see the parent module's docs).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{LocalLog, TopicMeta, read_stored};
use crate::{CommitOffset, LogError, Record, now_ms};

/// A consumer-group member on the local log.
pub struct LocalConsumer {
    log: LocalLog,
    group: String,
    member: String,
    topics: Vec<(String, TopicMeta)>,
    /// Owned partitions and the next offset this member reads from each.
    positions: BTreeMap<(String, u32), u64>,
    last_heartbeat: Option<Instant>,
    next_partition: usize,
}

impl LocalConsumer {
    /// Joins `group` as a new member subscribed to `topics`, taking its first leases.
    pub(super) async fn join(
        log: LocalLog,
        group: &str,
        topics: Vec<(String, TopicMeta)>,
    ) -> Result<LocalConsumer, LogError> {
        let mut consumer = LocalConsumer {
            log,
            group: group.to_owned(),
            member: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            topics,
            positions: BTreeMap::new(),
            last_heartbeat: None,
            next_partition: 0,
        };
        consumer.heartbeat().await?;
        Ok(consumer)
    }

    fn heartbeat_interval(&self) -> Duration {
        (self.log.inner.session_timeout / 5).min(Duration::from_millis(500))
    }

    /// Renews the membership and takes or releases partition leases (see the module docs).
    async fn heartbeat(&mut self) -> Result<(), LogError> {
        let group = self.group.clone();
        let member = self.member.clone();
        let topics = self.topics.clone();
        let session = self.log.inner.session_timeout.as_millis() as i64;
        let owned: Vec<(String, u32, u64)> = self
            .log
            .with_conn(move |conn| {
                // IMMEDIATE takes the write lock first, so the membership step is atomic.
                let tx =
                    rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
                let now = now_ms();
                tx.execute(
                    "INSERT INTO group_members (grp, member, heartbeat_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (grp, member) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
                    params![group, member, now],
                )?;
                tx.execute(
                    "DELETE FROM group_members WHERE grp = ?1 AND heartbeat_ms < ?2",
                    params![group, now - session],
                )?;
                tx.execute(
                    "DELETE FROM group_owners WHERE grp = ?1
                     AND member NOT IN (SELECT member FROM group_members WHERE grp = ?1)",
                    params![group],
                )?;
                let members: Vec<String> = tx
                    .prepare("SELECT member FROM group_members WHERE grp = ?1 ORDER BY member")?
                    .query_map([&group], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let me = members.iter().position(|m| *m == member).unwrap_or(0);
                let mut all = Vec::new();
                for (name, meta) in &topics {
                    for p in 0..meta.partitions {
                        all.push((name.clone(), p));
                    }
                }
                all.sort();
                for (i, (topic, partition)) in all.iter().enumerate() {
                    let mine = i % members.len().max(1) == me;
                    if mine {
                        tx.execute(
                            "INSERT INTO group_owners (grp, topic, partition, member)
                             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                            params![group, topic, partition, member],
                        )?;
                    } else {
                        tx.execute(
                            "DELETE FROM group_owners
                             WHERE grp = ?1 AND topic = ?2 AND partition = ?3 AND member = ?4",
                            params![group, topic, partition, member],
                        )?;
                    }
                }
                let owned: Vec<(String, u32, u64)> = tx
                    .prepare(
                        "SELECT o.topic, o.partition, coalesce(g.next_offset, -1)
                         FROM group_owners o LEFT JOIN group_offsets g
                           ON g.grp = o.grp AND g.topic = o.topic AND g.partition = o.partition
                         WHERE o.grp = ?1 AND o.member = ?2 ORDER BY o.topic, o.partition",
                    )?
                    .query_map(params![group, member], |r| {
                        let committed: i64 = r.get(2)?;
                        Ok((r.get(0)?, r.get(1)?, committed.max(0) as u64))
                    })?
                    .collect::<Result<_, _>>()?;
                tx.commit()?;
                Ok(owned)
            })
            .await?;
        let mut positions = BTreeMap::new();
        for (topic, partition, committed) in owned {
            let key = (topic, partition);
            let position = self.positions.get(&key).copied().unwrap_or(committed);
            positions.insert(key, position);
        }
        self.positions = positions;
        self.last_heartbeat = Some(Instant::now());
        Ok(())
    }

    async fn heartbeat_if_due(&mut self) -> Result<(), LogError> {
        let due = self
            .last_heartbeat
            .is_none_or(|t| t.elapsed() >= self.heartbeat_interval());
        if due { self.heartbeat().await } else { Ok(()) }
    }

    pub(crate) async fn poll(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, LogError> {
        let deadline = Instant::now() + wait;
        let mut appended = self.log.inner.appended.clone();
        loop {
            self.heartbeat_if_due().await?;
            appended.mark_unchanged();
            let owned: Vec<((String, u32), u64)> = self
                .positions
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            let start = self.next_partition;
            let topics: BTreeMap<String, TopicMeta> = self.topics.iter().cloned().collect();
            let ranges = self
                .log
                .with_conn(move |conn| {
                    let mut ranges = Vec::new();
                    let mut left = max;
                    let n = owned.len();
                    for i in 0..n {
                        if left == 0 {
                            break;
                        }
                        let ((topic, partition), position) = &owned[(start + i) % n];
                        let meta = topics[topic];
                        let range = read_stored(conn, topic, meta, *partition, *position, left)?;
                        // Counted without decoding: at worst a batch more is read than needed.
                        left -= range.at_least(left);
                        ranges.push(range);
                    }
                    Ok(ranges)
                })
                .await?;
            let mut records = Vec::new();
            for range in ranges {
                let left = max - records.len();
                if left == 0 {
                    break;
                }
                records.extend(range.decode(left)?);
            }
            self.next_partition = self.next_partition.wrapping_add(1);
            if !records.is_empty() {
                // Records come in runs per partition: one position update per run.
                for (i, r) in records.iter().enumerate() {
                    let run_ends = records
                        .get(i + 1)
                        .is_none_or(|n| n.partition != r.partition || n.topic != r.topic);
                    if run_ends {
                        self.positions
                            .insert((r.topic.clone(), r.partition), r.offset + 1);
                    }
                }
                return Ok(records);
            }
            if Instant::now() >= deadline {
                return Ok(records);
            }
            let until = deadline.min(Instant::now() + self.heartbeat_interval());
            self.log.wait_for_appends(&mut appended, until).await;
        }
    }

    pub(crate) async fn commit(&mut self, offsets: &[CommitOffset]) -> Result<(), LogError> {
        let group = self.group.clone();
        let member = self.member.clone();
        let offsets = offsets.to_vec();
        self.log
            .with_conn(move |conn| {
                let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
                for o in &offsets {
                    let owner: Option<String> = tx
                        .query_row(
                            "SELECT member FROM group_owners WHERE grp = ?1 AND topic = ?2 AND partition = ?3",
                            params![group, o.topic, o.partition],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if owner.as_deref() != Some(member.as_str()) {
                        return Err(LogError::NotAssigned { topic: o.topic.clone(), partition: o.partition });
                    }
                    tx.execute(
                        "INSERT INTO group_offsets (grp, topic, partition, next_offset) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (grp, topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                        params![group, o.topic, o.partition, o.next_offset as i64],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    pub(crate) async fn committed(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, LogError> {
        let group = self.group.clone();
        let topic = topic.to_owned();
        self.log
            .with_conn(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT next_offset FROM group_offsets WHERE grp = ?1 AND topic = ?2 AND partition = ?3",
                        params![group, topic, partition],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()?
                    .map(|o| o as u64))
            })
            .await
    }

    pub(crate) fn assignment(&self) -> Vec<(String, u32)> {
        self.positions.keys().cloned().collect()
    }

    pub(crate) fn seek(
        &mut self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), LogError> {
        match self.positions.get_mut(&(topic.to_owned(), partition)) {
            Some(position) => {
                *position = offset;
                Ok(())
            }
            None => Err(LogError::NotAssigned {
                topic: topic.to_owned(),
                partition,
            }),
        }
    }

    pub(crate) async fn close(self) -> Result<(), LogError> {
        let group = self.group.clone();
        let member = self.member.clone();
        self.log
            .with_conn(move |conn| {
                let tx =
                    rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
                tx.execute(
                    "DELETE FROM group_owners WHERE grp = ?1 AND member = ?2",
                    params![group, member],
                )?;
                tx.execute(
                    "DELETE FROM group_members WHERE grp = ?1 AND member = ?2",
                    params![group, member],
                )?;
                tx.commit()?;
                Ok(())
            })
            .await
    }
}
