//! The effective configuration: defaults, then `pinpipe.toml`, then `PINPIPE_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Each stage owns one section (one struct). Nested keys in the environment are separated by a
//! double underscore: `PINPIPE_CLEAN__DEDUP=true` sets `[clean] dedup`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The default configuration file, read when present in the working directory.
const DEFAULT_CONFIG_FILE: &str = "pinpipe.toml";

/// pinpipe's whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where pinpipe keeps its data (event log, lake, databases).
    pub data_dir: PathBuf,
    /// `pinpipe clean`.
    #[serde(default)]
    pub clean: CleanConfig,
    /// The event log (`local` or a Kafka broker).
    #[serde(default)]
    pub log: pinpipe_log::LogConfig,
    /// The ingest API (`pinpipe serve`, part of `pinpipe up`).
    #[serde(default)]
    pub serve: pinpipe_ingest::ServeConfig,
    /// The event emulator (`pinpipe emulate`, `pinpipe up --emulate`).
    #[serde(default)]
    pub emulate: pinpipe_emulate::EmulateConfig,
    /// The serving DB (speed layer's output, `pinpipe sql --on serving`).
    #[serde(default)]
    pub serving: pinpipe_serving::ServingConfig,
    /// The speed layer (`pinpipe stream`, part of `pinpipe up`).
    #[serde(default)]
    pub stream: pinpipe_stream::StreamConfig,
    /// Where the lake is (local folder, S3, GCS).
    #[serde(default)]
    pub lake: pinpipe_lake::LakeConfig,
    /// The lake writer (`pinpipe lake`, part of `pinpipe up`).
    #[serde(default)]
    pub lake_writer: pinpipe_lake::LakeWriterConfig,
    /// The daily batch job (`pinpipe batch`) and SQL over the lake.
    #[serde(default)]
    pub batch: pinpipe_batch::BatchConfig,
    /// The scheduler (`pinpipe schedule`, part of `pinpipe up`) and the Airflow DAG.
    #[serde(default)]
    pub schedule: pinpipe_schedule::ScheduleConfig,
    /// The admin listener: metrics, dashboard, overview (every long-running command).
    #[serde(default)]
    pub observe: pinpipe_observe::ObserveConfig,
}

/// Settings of `pinpipe clean`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanConfig {
    /// De-duplicate by default, as `--dedup` does.
    pub dedup: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("pinpipe-data"),
            clean: CleanConfig::default(),
            log: pinpipe_log::LogConfig::default(),
            serve: pinpipe_ingest::ServeConfig::default(),
            emulate: pinpipe_emulate::EmulateConfig::default(),
            serving: pinpipe_serving::ServingConfig::default(),
            stream: pinpipe_stream::StreamConfig::default(),
            lake: pinpipe_lake::LakeConfig::default(),
            lake_writer: pinpipe_lake::LakeWriterConfig::default(),
            batch: pinpipe_batch::BatchConfig::default(),
            schedule: pinpipe_schedule::ScheduleConfig::default(),
            observe: pinpipe_observe::ObserveConfig::default(),
        }
    }
}

impl Config {
    /// Loads the configuration. `file` is `--config`; without it `./pinpipe.toml` is read when it
    /// exists. `data_dir` is `--data-dir`.
    pub fn load(file: Option<&Path>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.is_file() => bail!(
                "config file {} not found: create it, or leave out --config / PINPIPE_CONFIG",
                path.display()
            ),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed("PINPIPE_").ignore(&["config"]).split("__"));
        if let Some(dir) = data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        let config: Config = figment
            .extract()
            .context("invalid configuration (see `pinpipe config` and README.md, Configuration)")?;
        pinpipe_batch::ballista::Engine::parse(&config.batch.engine)
            .context("invalid configuration: [batch] engine")?;
        Ok(config)
    }

    /// This configuration with `--engine`, when given, as `[batch] engine`.
    pub fn with_engine(&self, engine: &EngineArg) -> anyhow::Result<Config> {
        let mut config = self.clone();
        if let Some(url) = &engine.engine {
            let parsed = pinpipe_batch::ballista::Engine::parse(url).context("--engine")?;
            config.batch.engine = parsed.url();
        }
        Ok(config)
    }

    /// The configuration as TOML, with secrets replaced by `***`.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut value = toml::Value::try_from(self)?;
        redact(&mut value);
        Ok(toml::to_string(&value)?)
    }
}

/// `--engine`: where the batch job's plans run, for the commands that run it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EngineArg {
    /// Where the batch job runs: `local` (this process) or `ballista://HOST:PORT` (a Ballista
    /// cluster's scheduler, `pinpipe ballista-scheduler`) [default: [batch] engine].
    #[arg(long, value_name = "URL")]
    pub engine: Option<String>,
}

/// Key names whose values are secrets.
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "secret",
    "token",
    "credential",
    "private_key",
    "access_key",
    "api_key",
];

/// Replaces secret values, and passwords inside URLs, with `***`.
fn redact(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table.iter_mut() {
                let key = key.to_ascii_lowercase();
                if SECRET_KEY_PARTS.iter().any(|part| key.contains(part)) {
                    *value = toml::Value::String("***".into());
                } else {
                    redact(value);
                }
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(redact),
        toml::Value::String(text) => *text = redact_url_password(text),
        _ => {}
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`; other text unchanged.
///
/// Hand-written because only the user-info part matters here, and the `url` crate would refuse
/// (and so fail to redact) connection strings that are not strict URLs.
pub fn redact_url_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = text[authority_start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| authority_start + i);
    let authority = &text[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return text.to_owned();
    };
    let password_start = authority_start + colon + 1;
    let password_end = authority_start + at;
    format!("{}***{}", &text[..password_start], &text[password_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/pins",
                "postgres://app:***@db:5432/pins",
            ),
            ("postgres://app:p@ss@db/pins", "postgres://app:***@db/pins"),
            ("postgres://app@db/pins", "postgres://app@db/pins"),
            ("s3://bucket/a:b@c", "s3://bucket/a:b@c"),
            ("kafka://127.0.0.1:9092", "kafka://127.0.0.1:9092"),
            ("plain text", "plain text"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_url_password(input), expected, "{input}");
        }
    }

    #[test]
    fn secret_keys_are_redacted_at_any_depth() {
        let mut value: toml::Value = toml::from_str(
            "db = 'postgres://u:pw@h/d'\n[lake]\naws_secret_access_key = 'x'\nregion = 'eu'\n",
        )
        .unwrap();
        redact(&mut value);
        assert_eq!(value["db"].as_str(), Some("postgres://u:***@h/d"));
        assert_eq!(value["lake"]["aws_secret_access_key"].as_str(), Some("***"));
        assert_eq!(value["lake"]["region"].as_str(), Some("eu"));
    }
}
