//! The committed offsets of a consumer group, read without joining the group (joining would take
//! partitions from the speed layer or the lake writer).
//!
//! [`crate::EventLog`] offers a group's committed offsets only to a member
//! (`Consumer::committed`), so this reads them where each backend keeps them: the local log's
//! `group_offsets` table (its SQLite file opened read-only, as `pinpipe topics` reads it from
//! another process), and on Kafka an OffsetFetch by a client that never subscribes. The
//! dashboard and the lag gauges ([`crate::metrics::OffsetGauges`]) read them here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{EventLog, LogConfig};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};

/// How long one read of a group's offsets may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Reads committed offsets of groups on one event log.
#[derive(Clone)]
pub struct GroupOffsets {
    log: EventLog,
    kafka: Option<Kafka>,
}

/// Kafka clients per group, made once (each is a connection to the brokers).
#[derive(Clone)]
struct Kafka {
    config: rdkafka::ClientConfig,
    clients: Arc<Mutex<HashMap<String, Arc<BaseConsumer>>>>,
}

impl GroupOffsets {
    /// For `log`, opened from `config`.
    pub fn new(log: EventLog, config: &LogConfig) -> GroupOffsets {
        let kafka = match &log {
            EventLog::Local(_) => None,
            EventLog::Kafka(_) => {
                let brokers = config
                    .url
                    .trim()
                    .trim_start_matches("kafka://")
                    .trim_end_matches('/');
                let mut client = rdkafka::ClientConfig::new();
                client.set("bootstrap.servers", brokers);
                client.set("client.id", "pinpipe-offsets");
                for (k, v) in &config.kafka.properties {
                    client.set(k, v);
                }
                client.set("enable.auto.commit", "false");
                Some(Kafka {
                    config: client,
                    clients: Arc::default(),
                })
            }
        };
        GroupOffsets { log, kafka }
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// `group`'s next offset per (topic, partition) among `partitions`; a partition the group
    /// never committed is absent.
    pub async fn committed(
        &self,
        group: &str,
        partitions: &[(String, u32)],
    ) -> Result<HashMap<(String, u32), u64>, String> {
        match (&self.log, &self.kafka) {
            (EventLog::Local(local), _) => {
                let path = local.path().to_owned();
                let group = group.to_owned();
                tokio::task::spawn_blocking(move || local_committed(&path, &group))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("cannot read group offsets: {e}"))
            }
            (EventLog::Kafka(_), Some(kafka)) => {
                let client = kafka.client(group)?;
                let partitions = partitions.to_vec();
                tokio::task::spawn_blocking(move || kafka_committed(&client, &partitions))
                    .await
                    .map_err(|e| e.to_string())?
            }
            (EventLog::Kafka(_), None) => Err("no Kafka settings".to_owned()),
        }
    }
}

impl Kafka {
    fn client(&self, group: &str) -> Result<Arc<BaseConsumer>, String> {
        let mut clients = self.clients.lock().map_err(|e| e.to_string())?;
        if let Some(client) = clients.get(group) {
            return Ok(client.clone());
        }
        let mut config = self.config.clone();
        config.set("group.id", group);
        let client: BaseConsumer = config.create().map_err(|e| e.to_string())?;
        let client = Arc::new(client);
        clients.insert(group.to_owned(), client.clone());
        Ok(client)
    }
}

fn local_committed(
    path: &std::path::Path,
    group: &str,
) -> Result<HashMap<(String, u32), u64>, rusqlite::Error> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(TIMEOUT)?;
    let mut statement = conn.prepare(
        "SELECT topic, partition, next_offset FROM group_offsets WHERE grp = ?1 LIMIT 10000",
    )?;
    let rows = statement.query_map([group], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (topic, partition, next) = row?;
        out.insert(
            (topic, u32::try_from(partition).unwrap_or_default()),
            u64::try_from(next).unwrap_or_default(),
        );
    }
    Ok(out)
}

fn kafka_committed(
    client: &BaseConsumer,
    partitions: &[(String, u32)],
) -> Result<HashMap<(String, u32), u64>, String> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, i32::try_from(*partition).unwrap_or(i32::MAX));
    }
    let committed = client
        .committed_offsets(list, TIMEOUT)
        .map_err(|e| format!("cannot read group offsets from Kafka: {e}"))?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) if o >= 0 => Some((
                (
                    e.topic().to_owned(),
                    u32::try_from(e.partition()).unwrap_or_default(),
                ),
                o as u64,
            )),
            _ => None,
        })
        .collect())
}
