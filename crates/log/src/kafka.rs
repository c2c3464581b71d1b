//! The event log on any Kafka-protocol broker, through librdkafka (`rdkafka`).
//!
//! - Producer: `enable.idempotence=true` and `acks=all`, so an acknowledged append is on every
//!   in-sync replica and a retried send is never written twice; `partitioner=consistent`, the
//!   same CRC-32 rule as the local backend ([`crate::partition_for_key`]). Appends are batched
//!   by librdkafka (`linger.ms`), the broker-side equivalent of the local group commit.
//! - Topics are created on open when missing, with [`LogConfig::partitions`] partitions.
//! - Consumers: one Kafka consumer group per pinpipe group, manual commits only
//!   (`enable.auto.commit=false`), `auto.offset.reset=earliest`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::metrics::AppendMetrics;
use crate::{
    CommitOffset, LogConfig, LogError, NewRecord, PartitionInfo, Position, Record, TopicInfo,
};

/// How long metadata and offset requests may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle on a Kafka-protocol broker; cheap to clone.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

struct Inner {
    brokers: String,
    config: LogConfig,
    producer: FutureProducer,
    /// A group-less client for metadata and watermarks.
    meta: BaseConsumer,
    metrics: AppendMetrics,
}

/// How long librdkafka retries a message the broker has not acknowledged, at least.
const MESSAGE_TIMEOUT_MS: u64 = 300_000;

impl KafkaLog {
    fn client_config(config: &LogConfig, brokers: &str) -> ClientConfig {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", brokers);
        client.set("client.id", "pinpipe");
        for (k, v) in &config.kafka.properties {
            client.set(k, v);
        }
        client
    }

    pub(crate) async fn open(config: &LogConfig, brokers: &str) -> Result<KafkaLog, LogError> {
        let mut producer_config = Self::client_config(config, brokers);
        if !config.kafka.properties.contains_key("linger.ms") {
            producer_config.set("linger.ms", "2");
        }
        producer_config
            .set("partitioner", "consistent")
            // The client has its answer after `append_timeout_ms` (503 when the broker has not
            // acknowledged by then); librdkafka keeps retrying the message in the background
            // for longer, so that a broker away for a while gets it once back (a retried event
            // is de-duplicated downstream). A message timeout makes the idempotent producer bump
            // its epoch, and tansu 0.6.0 (the test broker) then fails every produce of that
            // producer ("more or less than one row" in its idempotence check, its storage task
            // dead) until it is restarted: with this timeout, outages shorter than it recover
            // by themselves there too.
            .set(
                "message.timeout.ms",
                config.append_timeout_ms.max(MESSAGE_TIMEOUT_MS).to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                (config.max_pending_appends.max(1) * 64).to_string(),
            )
            // The guarantees rest on these; user properties cannot weaken them.
            .set("enable.idempotence", "true")
            .set("acks", "all");
        let producer: FutureProducer = producer_config.create()?;
        let meta: BaseConsumer = Self::client_config(config, brokers).create()?;
        let log = KafkaLog {
            inner: Arc::new(Inner {
                brokers: brokers.to_owned(),
                config: config.clone(),
                producer,
                meta,
                metrics: AppendMetrics::new(config),
            }),
        };
        log.create_missing_topics().await?;
        Ok(log)
    }

    async fn create_missing_topics(&self) -> Result<(), LogError> {
        let admin: AdminClient<DefaultClientContext> =
            Self::client_config(&self.inner.config, &self.inner.brokers).create()?;
        let wanted = self.inner.config.topic_names().map(str::to_owned);
        let existing = self.existing_topics().await?;
        let missing: Vec<&String> = wanted.iter().filter(|t| !existing.contains(*t)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        let partitions = self.inner.config.partitions as i32;
        let replication = self.inner.config.kafka.replication_factor;
        let new_topics: Vec<NewTopic<'_>> = missing
            .iter()
            .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
        for result in admin.create_topics(&new_topics, &options).await? {
            match result {
                Ok(name) => tracing::info!(topic = %name, partitions, "created kafka topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(LogError::Unavailable(format!(
                        "cannot create topic {name}: {code}"
                    )));
                }
            }
        }
        // Wait until the new topics show up in metadata with their partitions.
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let existing = self.existing_topics().await?;
            if wanted.iter().all(|t| existing.contains(t)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LogError::Unavailable(
                    "created topics did not appear in metadata".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn existing_topics(&self) -> Result<BTreeSet<String>, LogError> {
        let inner = self.inner.clone();
        blocking(move || {
            let metadata = inner.meta.fetch_metadata(None, REQUEST_TIMEOUT)?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                .map(|t| t.name().to_owned())
                .collect())
        })
        .await
    }

    pub(crate) fn event_topics(&self) -> [&str; 3] {
        self.inner.config.topic_names()
    }

    pub(crate) async fn append(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Position>, LogError> {
        if !self.inner.config.topic_names().contains(&topic) {
            return Err(LogError::UnknownTopic(topic.to_owned()));
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for record in &records {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
            let message = FutureRecord::to(topic)
                .key(&record.key)
                .payload(&record.value)
                .timestamp(record.timestamp_ms)
                .headers(headers);
            match self.inner.producer.send_result(message) {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(LogError::Saturated(self.inner.config.max_pending_appends));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        let timeout = self.inner.config.append_timeout();
        let started = std::time::Instant::now();
        let all = futures_join_all(deliveries);
        let results = tokio::time::timeout(timeout, all)
            .await
            .map_err(|_| LogError::Timeout(timeout))?;
        let mut positions = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(Ok(delivery)) => positions.push(Position {
                    partition: delivery.partition as u32,
                    offset: delivery.offset as u64,
                }),
                Ok(Err((e, _))) => return Err(e.into()),
                Err(_) => return Err(LogError::Unavailable("the kafka producer stopped".into())),
            }
        }
        let metrics = &self.inner.metrics;
        metrics
            .commit_duration
            .record(started.elapsed().as_secs_f64());
        metrics.commit_records.record(positions.len() as f64);
        Ok(positions)
    }

    pub(crate) fn append_metrics(&self) -> &AppendMetrics {
        &self.inner.metrics
    }

    pub(crate) async fn topics(&self) -> Result<Vec<TopicInfo>, LogError> {
        let inner = self.inner.clone();
        let mut names = self.inner.config.topic_names().map(str::to_owned);
        names.sort();
        blocking(move || {
            let mut out = Vec::new();
            for name in names {
                let metadata = inner.meta.fetch_metadata(Some(&name), REQUEST_TIMEOUT)?;
                let Some(topic) = metadata.topics().first() else {
                    continue;
                };
                let mut ids: Vec<i32> = topic.partitions().iter().map(|p| p.id()).collect();
                ids.sort_unstable();
                let mut partitions = Vec::new();
                for id in ids {
                    let (low, high) = inner.meta.fetch_watermarks(&name, id, REQUEST_TIMEOUT)?;
                    partitions.push(PartitionInfo {
                        partition: id as u32,
                        start_offset: low.max(0) as u64,
                        end_offset: high.max(0) as u64,
                    });
                }
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
        let mut config = Self::client_config(&self.inner.config, &self.inner.brokers);
        config
            .set("group.id", "pinpipe-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest");
        let consumer: StreamConsumer = config.create()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition as i32, Offset::Offset(offset as i64))?;
        consumer.assign(&tpl)?;
        // Records below the high watermark are there to read: wait for them however short
        // `wait` is, since a fresh consumer needs a few round trips before the first one arrives
        // (and some brokers hold every fetch for up to `fetch.wait.max.ms`). Returning nothing
        // would tell the caller it is at the end. `wait` only bounds the wait at the end.
        let inner = self.inner.clone();
        let name = topic.to_owned();
        let watermarks = blocking(move || {
            Ok(inner
                .meta
                .fetch_watermarks(&name, partition as i32, REQUEST_TIMEOUT)?)
        })
        .await;
        let started = Instant::now();
        let end_deadline = started + wait.max(Duration::from_millis(500));
        let mut deadline = match watermarks {
            Ok((_, high)) if high > offset as i64 => started + REQUEST_TIMEOUT.max(wait),
            _ => end_deadline,
        };
        let mut out = Vec::new();
        while out.len() < max {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, consumer.recv()).await {
                Ok(Ok(message)) => {
                    out.push(to_record(&message));
                    // Records are flowing: the rest of this read keeps to `wait`.
                    deadline = deadline.min(end_deadline);
                }
                Ok(Err(KafkaError::PartitionEOF(_))) => {
                    // At the end of the partition: from here on only `wait` applies.
                    deadline = deadline.min(end_deadline);
                    if !out.is_empty() || Instant::now() >= deadline || wait.is_zero() {
                        break;
                    }
                }
                // The broker's UNKNOWN_TOPIC_OR_PARTITION, or librdkafka's own "Local: Unknown
                // partition" when the topic's metadata has no such partition.
                Ok(Err(KafkaError::MessageConsumption(
                    RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownPartition,
                ))) => {
                    return Err(LogError::UnknownPartition {
                        topic: topic.to_owned(),
                        partition,
                    });
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    pub(crate) async fn consumer(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<KafkaConsumer, LogError> {
        let mut config = Self::client_config(&self.inner.config, &self.inner.brokers);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                self.inner.config.session_timeout_ms.max(6000).to_string(),
            )
            .set("partition.assignment.strategy", "roundrobin");
        let consumer: StreamConsumer = config.create()?;
        consumer.subscribe(topics)?;
        Ok(KafkaConsumer {
            consumer: Arc::new(consumer),
        })
    }

    pub(crate) async fn ready(&self) -> Result<(), LogError> {
        let inner = self.inner.clone();
        blocking(move || {
            inner.meta.fetch_metadata(None, Duration::from_secs(2))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn close(&self) -> Result<(), LogError> {
        let inner = self.inner.clone();
        blocking(move || {
            use rdkafka::producer::Producer as _;
            inner.producer.flush(REQUEST_TIMEOUT)?;
            Ok(())
        })
        .await
    }
}

/// A Kafka consumer-group member.
pub struct KafkaConsumer {
    consumer: Arc<StreamConsumer>,
}

impl KafkaConsumer {
    pub(crate) async fn poll(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, LogError> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while out.len() < max {
            // After the first record, take only what is already buffered.
            let remaining = if out.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            match tokio::time::timeout(remaining, self.consumer.recv()).await {
                Ok(Ok(message)) => out.push(to_record(&message)),
                Ok(Err(KafkaError::PartitionEOF(_))) => continue,
                Ok(Err(e)) => {
                    if out.is_empty() {
                        return Err(e.into());
                    }
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(out)
    }

    pub(crate) async fn commit(&mut self, offsets: &[CommitOffset]) -> Result<(), LogError> {
        let assigned: BTreeSet<(String, u32)> = self.assignment().into_iter().collect();
        let mut tpl = TopicPartitionList::new();
        for o in offsets {
            if !assigned.contains(&(o.topic.clone(), o.partition)) {
                return Err(LogError::NotAssigned {
                    topic: o.topic.clone(),
                    partition: o.partition,
                });
            }
            tpl.add_partition_offset(
                &o.topic,
                o.partition as i32,
                Offset::Offset(o.next_offset as i64),
            )?;
        }
        let consumer = self.consumer.clone();
        blocking(move || Ok(consumer.commit(&tpl, CommitMode::Sync)?)).await
    }

    pub(crate) async fn committed(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<Option<u64>, LogError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition as i32);
        let consumer = self.consumer.clone();
        let topic = topic.to_owned();
        blocking(move || {
            let result = consumer.committed_offsets(tpl, REQUEST_TIMEOUT)?;
            Ok(result
                .find_partition(&topic, partition as i32)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) if o >= 0 => Some(o as u64),
                    _ => None,
                }))
        })
        .await
    }

    pub(crate) fn assignment(&self) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = self
            .consumer
            .assignment()
            .map(|tpl| {
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition() as u32))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    pub(crate) fn seek(
        &mut self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), LogError> {
        self.consumer.seek(
            topic,
            partition as i32,
            Offset::Offset(offset as i64),
            REQUEST_TIMEOUT,
        )?;
        Ok(())
    }

    pub(crate) async fn close(self) -> Result<(), LogError> {
        let consumer = self.consumer.clone();
        blocking(move || {
            consumer.unsubscribe();
            Ok(())
        })
        .await?;
        drop(self);
        Ok(())
    }
}

fn to_record(message: &BorrowedMessage<'_>) -> Record {
    let headers = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|header| {
                    let value = header
                        .value
                        .map(|v| String::from_utf8_lossy(v).into_owned());
                    (header.key.to_owned(), value.unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: message.topic().to_owned(),
        partition: message.partition() as u32,
        offset: message.offset() as u64,
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
        headers,
    }
}

/// Runs a blocking librdkafka call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LogError::Unavailable(format!("kafka task failed: {e}")))?
}

/// Awaits every delivery future, in order.
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await);
    }
    out
}
