//! The event log's configuration (`[log]` in `pinpipe.toml`, `PINPIPE_LOG__*` in the environment).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::LogError;

/// Event log settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `"local"` (embedded log in the data dir) or `"kafka://host:9092[,host2:9092]"`.
    pub url: String,
    /// Partitions of each topic created by pinpipe (existing topics keep theirs).
    pub partitions: u32,
    /// Topic of pin events.
    pub pins_topic: String,
    /// Topic of geolocation events.
    pub geos_topic: String,
    /// Topic of user events.
    pub users_topic: String,
    /// Appends that may wait for the log at once; beyond that ingest answers 503.
    pub max_pending_appends: usize,
    /// Longest wait for an append to become durable before giving up (ingest answers 503).
    pub append_timeout_ms: u64,
    /// How long a consumer-group member may stay silent before the others take its partitions.
    pub session_timeout_ms: u64,
    /// Retention of old records.
    pub retention: RetentionConfig,
    /// Kafka backend settings.
    pub kafka: KafkaConfig,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            url: "local".to_owned(),
            partitions: 3,
            pins_topic: "pins".to_owned(),
            geos_topic: "geos".to_owned(),
            users_topic: "users".to_owned(),
            max_pending_appends: 16_384,
            append_timeout_ms: 10_000,
            session_timeout_ms: 10_000,
            retention: RetentionConfig::default(),
            kafka: KafkaConfig::default(),
        }
    }
}

/// When the local log removes old records. Both limits apply per partition; `0` means no limit.
/// (On Kafka, retention is the broker's topic setting.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Remove records older than this many hours (default 7 days).
    pub max_age_hours: u64,
    /// Remove the oldest records once a partition's stored records (values, keys, times and
    /// headers) take more than this many bytes. Removal goes by whole stored batches.
    pub max_bytes: u64,
    /// How often retention runs.
    pub check_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            max_age_hours: 24 * 7,
            max_bytes: 0,
            check_interval_secs: 60,
        }
    }
}

/// Kafka backend settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Replication factor of topics pinpipe creates.
    pub replication_factor: i32,
    /// Extra librdkafka properties for every client (e.g. `security.protocol`, `sasl.username`,
    /// `sasl.password`, `linger.ms`). They override pinpipe's defaults, except the ones the
    /// guarantees rest on (`acks=all`, `enable.idempotence=true`, manual offset commits).
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            replication_factor: 1,
            properties: BTreeMap::new(),
        }
    }
}

/// The backend a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Backend {
    Local,
    Kafka { brokers: String },
}

impl LogConfig {
    /// The three event topics, in the order pins, geos, users.
    pub fn topic_names(&self) -> [&str; 3] {
        [&self.pins_topic, &self.geos_topic, &self.users_topic]
    }

    /// The append timeout as a duration.
    pub fn append_timeout(&self) -> Duration {
        Duration::from_millis(self.append_timeout_ms)
    }

    pub(crate) fn backend(&self) -> Result<Backend, LogError> {
        let url = self.url.trim();
        if url == "local" || url == "local://" {
            return Ok(Backend::Local);
        }
        if let Some(rest) = url.strip_prefix("kafka://") {
            let brokers = rest.trim_end_matches('/');
            if brokers.is_empty() {
                return Err(LogError::Config(format!(
                    "log.url {url:?} names no broker; write kafka://host:9092"
                )));
            }
            return Ok(Backend::Kafka {
                brokers: brokers.to_owned(),
            });
        }
        Err(LogError::Config(format!(
            "log.url {url:?} is not supported; use \"local\" or \"kafka://host:9092\""
        )))
    }

    /// Checks the settings that do not depend on the backend.
    pub fn validate(&self) -> Result<(), LogError> {
        self.backend()?;
        if self.partitions == 0 || self.partitions > crate::local::MAX_PARTITIONS {
            return Err(LogError::Config(format!(
                "log.partitions must be between 1 and {}, not {}",
                crate::local::MAX_PARTITIONS,
                self.partitions
            )));
        }
        for name in self.topic_names() {
            if name.is_empty()
                || name.len() > 249
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return Err(LogError::Config(format!(
                    "topic name {name:?} is not valid: use 1-249 of a-z A-Z 0-9 . _ -"
                )));
            }
        }
        if self.max_pending_appends == 0 {
            return Err(LogError::Config(
                "log.max_pending_appends must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
