//! The lake's storage, chosen by one URL: a local folder (default), S3 or GCS, through the
//! `object_store` crate.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::LakeError;

/// `[lake]`: where the lake lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LakeConfig {
    /// `file:///abs/path`, a plain path, `s3://bucket/prefix` or `gs://bucket/prefix`.
    /// Empty: `<data_dir>/lake`.
    pub url: String,
    /// Options of the object store, as `object_store` names them (`aws_endpoint`,
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_region`, `aws_allow_http`,
    /// `google_service_account`, `google_base_url`, ...). The standard environment variables
    /// (`AWS_*`, `GOOGLE_*`) are read too; these win.
    pub options: BTreeMap<String, String>,
}

/// Which kind of store a lake URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A local folder.
    Local,
    /// Amazon S3 or an S3-compatible server.
    S3,
    /// Google Cloud Storage or its emulator.
    Gcs,
}

/// An opened lake: the store, rooted at the bucket (or `/`), and the lake's prefix in it.
#[derive(Clone, Debug)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    /// `file:///…/`, `s3://bucket/prefix/` or `gs://bucket/prefix/`, always ending in `/`.
    url: Url,
    /// The lake's folder inside the store.
    prefix: Path,
    kind: StoreKind,
    /// For a local lake: its folder on disk (to fsync what was written).
    local_root: Option<PathBuf>,
}

impl Lake {
    /// Opens the lake named by `config` (`<data_dir>/lake` when the URL is empty). A local folder
    /// is created when missing; a bucket must exist.
    pub fn open(config: &LakeConfig, data_dir: &FsPath) -> Result<Lake, LakeError> {
        let url = if config.url.trim().is_empty() {
            local_url(&data_dir.join("lake"))?
        } else if config.url.contains("://") {
            let mut url = Url::parse(config.url.trim())
                .map_err(|e| LakeError::Config(format!("lake url {:?}: {e}", config.url)))?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            url
        } else {
            local_url(FsPath::new(config.url.trim()))?
        };
        match url.scheme() {
            "file" => {
                let dir = url
                    .to_file_path()
                    .map_err(|()| LakeError::Config(format!("lake url {url}: not a local path")))?;
                std::fs::create_dir_all(&dir).map_err(|e| {
                    LakeError::Config(format!("creating the lake folder {}: {e}", dir.display()))
                })?;
                let prefix = Path::from_absolute_path(&dir).map_err(|e| {
                    LakeError::Config(format!("lake folder {}: {e}", dir.display()))
                })?;
                Ok(Lake {
                    store: Arc::new(LocalFileSystem::new()),
                    url,
                    prefix,
                    kind: StoreKind::Local,
                    local_root: Some(dir),
                })
            }
            "s3" | "s3a" => {
                let bucket = bucket_of(&url)?;
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
                // Delta commits need "create only if absent"; S3 (and compatible servers) do it
                // with `If-None-Match: *` on PUT.
                builder = builder
                    .with_config(object_store::aws::AmazonS3ConfigKey::ConditionalPut, "etag");
                for (key, value) in &config.options {
                    let key = key
                        .parse()
                        .map_err(|e| LakeError::Config(format!("lake option {key:?} (S3): {e}")))?;
                    builder = builder.with_config(key, value);
                }
                let store = builder
                    .build()
                    .map_err(|e| LakeError::Config(format!("S3 lake {url}: {e}")))?;
                Ok(Lake {
                    store: Arc::new(crate::conditional::CreateOnlyCopy::new(store)),
                    prefix: Path::from(url.path().trim_matches('/')),
                    url,
                    kind: StoreKind::S3,
                    local_root: None,
                })
            }
            "gs" => {
                let bucket = bucket_of(&url)?;
                let mut builder = GoogleCloudStorageBuilder::from_env().with_bucket_name(&bucket);
                // The GCS emulator convention: STORAGE_EMULATOR_HOST points at a local server
                // over plain HTTP that needs no credentials (object_store still wants a service
                // account for writes; one with OAuth disabled signs nothing).
                if let Ok(host) = std::env::var("STORAGE_EMULATOR_HOST")
                    && !host.trim().is_empty()
                {
                    let host = host.trim().trim_end_matches('/');
                    let key = serde_json::json!({
                        "gcs_base_url": host,
                        "disable_oauth": true,
                        "client_email": "",
                        "private_key": "",
                        "private_key_id": "",
                    });
                    builder = builder
                        .with_base_url(host)
                        .with_service_account_key(key.to_string())
                        .with_client_options(ClientOptions::new().with_allow_http(true));
                }
                for (key, value) in &config.options {
                    let key = key.parse().map_err(|e| {
                        LakeError::Config(format!("lake option {key:?} (GCS): {e}"))
                    })?;
                    builder = builder.with_config(key, value);
                }
                let store = builder
                    .build()
                    .map_err(|e| LakeError::Config(format!("GCS lake {url}: {e}")))?;
                Ok(Lake {
                    // object_store 0.13's GCS copies send their "only if absent" condition the
                    // wrong way round; copies go through reads and (conditional) PUTs instead.
                    store: Arc::new(crate::conditional::CreateOnlyCopy::all_copies(store)),
                    prefix: Path::from(url.path().trim_matches('/')),
                    url,
                    kind: StoreKind::Gcs,
                    local_root: None,
                })
            }
            other => Err(LakeError::Config(format!(
                "lake url {url}: unsupported scheme {other:?}; use a folder, file://, s3:// or gs://"
            ))),
        }
    }

    /// The store, rooted at the bucket (local: at `/`).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The lake's URL, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL of the store's root (`file:///`, `s3://bucket/`): where the store is registered.
    pub fn store_url(&self) -> Url {
        let mut url = self.url.clone();
        url.set_path("/");
        url
    }

    /// The kind of store.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The URL of a folder inside the lake (`rel` like `curated/pins`), ending in `/`.
    pub fn folder_url(&self, rel: &str) -> Result<Url, LakeError> {
        self.url
            .join(&format!("{}/", rel.trim_matches('/')))
            .map_err(|e| LakeError::Config(format!("lake path {rel:?}: {e}")))
    }

    /// The store path of `rel` inside the lake.
    pub fn path(&self, rel: &str) -> Path {
        let mut path = self.prefix.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            path = path.clone().join(part);
        }
        path
    }

    /// `path` relative to the lake (the inverse of [`Lake::path`]).
    pub fn relative(&self, path: &Path) -> Option<String> {
        path.prefix_match(&self.prefix).map(|parts| {
            parts
                .map(|p| p.as_ref().to_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    /// Writes one object whole, atomically, and returns only once it is durable: on a local lake
    /// the file and its folder are fsync'd (object_store renames a finished temporary file into
    /// place but does not fsync); S3 and GCS acknowledge a PUT once it is stored.
    pub async fn put_durable(&self, rel: &str, bytes: Bytes) -> Result<(), LakeError> {
        let path = self.path(rel);
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| LakeError::Store(format!("writing {rel}: {e}")))?;
        if let Some(root) = &self.local_root {
            let file = root.join(rel);
            let folder = file.parent().map(FsPath::to_path_buf);
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::File::open(&file)?.sync_all()?;
                if let Some(folder) = folder {
                    std::fs::File::open(folder)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| LakeError::Store(format!("fsync of {rel}: {e}")))?
            .map_err(|e| LakeError::Store(format!("fsync of {rel}: {e}")))?;
        }
        Ok(())
    }

    /// Reads one object whole; `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>, LakeError> {
        match self.store.get(&self.path(rel)).await {
            Ok(result) => {
                Ok(Some(result.bytes().await.map_err(|e| {
                    LakeError::Store(format!("reading {rel}: {e}"))
                })?))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(LakeError::Store(format!("reading {rel}: {e}"))),
        }
    }

    /// Every object under `rel` (recursively).
    pub async fn list(&self, rel: &str) -> Result<Vec<ObjectMeta>, LakeError> {
        let prefix = self.path(rel);
        match self.store.list(Some(&prefix)).try_collect().await {
            Ok(objects) => Ok(objects),
            // A local folder that does not exist yet lists as empty.
            Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(LakeError::Store(format!("listing {rel}: {e}"))),
        }
    }

    /// Deletes every object under `rel` (on a local lake, the folders left empty too).
    pub async fn delete_all(&self, rel: &str) -> Result<u64, LakeError> {
        let deleted = self.delete_objects(rel).await?;
        if let Some(root) = &self.local_root {
            let folder = root.join(rel.trim_matches('/'));
            // Best effort: a folder that is not empty (a concurrent write) stays.
            let _ = tokio::task::spawn_blocking(move || remove_empty_folders(&folder)).await;
        }
        Ok(deleted)
    }

    async fn delete_objects(&self, rel: &str) -> Result<u64, LakeError> {
        let objects = self.list(rel).await?;
        let mut deleted = 0;
        for object in objects {
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                Err(e) => {
                    return Err(LakeError::Store(format!(
                        "deleting {}: {e}",
                        object.location
                    )));
                }
            }
        }
        Ok(deleted)
    }

    /// Checks that the lake can be reached: lists its root.
    pub async fn ready(&self) -> Result<(), LakeError> {
        let prefix = self.path("");
        self.store
            .list_with_delimiter(Some(&prefix))
            .await
            .map(|_| ())
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(()),
                e => Err(LakeError::Store(format!(
                    "lake {} cannot be reached: {e}",
                    self.url
                ))),
            })
    }
}

fn local_url(path: &FsPath) -> Result<Url, LakeError> {
    let absolute = std::path::absolute(path)
        .map_err(|e| LakeError::Config(format!("lake folder {}: {e}", path.display())))?;
    Url::from_directory_path(&absolute)
        .map_err(|()| LakeError::Config(format!("lake folder {}: not a path", absolute.display())))
}

fn bucket_of(url: &Url) -> Result<String, LakeError> {
    match url.host_str() {
        Some(bucket) if !bucket.is_empty() => Ok(bucket.to_owned()),
        _ => Err(LakeError::Config(format!(
            "lake url {url}: name the bucket, as in {}://my-bucket/lake",
            url.scheme()
        ))),
    }
}

/// Removes `folder` and the folders under it that hold no files (object stores have no folders;
/// a local lake should not keep empty ones after a delete).
fn remove_empty_folders(folder: &FsPath) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    let mut empty = true;
    for entry in entries.flatten() {
        let path = entry.path();
        if !(path.is_dir() && remove_empty_folders(&path)) {
            empty = false;
        }
    }
    empty && std::fs::remove_dir(folder).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_paths_and_urls_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&LakeConfig::default(), dir.path()).unwrap();
        assert_eq!(lake.kind(), StoreKind::Local);
        assert!(lake.url().as_str().ends_with("/lake/"));
        let path = lake.path("raw/pins/dt=2026-11-26/x.parquet");
        assert_eq!(
            lake.relative(&path).as_deref(),
            Some("raw/pins/dt=2026-11-26/x.parquet")
        );
        lake.put_durable("raw/pins/a.bin", Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(
            lake.get("raw/pins/a.bin").await.unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        assert_eq!(lake.get("raw/pins/none").await.unwrap(), None);
        assert_eq!(lake.list("raw").await.unwrap().len(), 1);
        assert!(lake.list("nothing/here").await.unwrap().is_empty());
        assert!(
            lake.folder_url("curated/pins")
                .unwrap()
                .as_str()
                .ends_with("/lake/curated/pins/")
        );
    }

    #[tokio::test]
    async fn delete_all_removes_the_objects_and_their_empty_local_folders() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&LakeConfig::default(), dir.path()).unwrap();
        for rel in [
            "work/run/joined/a.parquet",
            "work/run/joined/b.parquet",
            "work/keep.txt",
        ] {
            lake.put_durable(rel, Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        assert_eq!(lake.delete_all("work/run").await.unwrap(), 2);
        assert!(!dir.path().join("lake/work/run").exists());
        assert_eq!(lake.list("work").await.unwrap().len(), 1);
        assert_eq!(lake.delete_all("work/none").await.unwrap(), 0);
    }

    #[test]
    fn bad_urls_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = Lake::open(
            &LakeConfig {
                url: "ftp://x/y".into(),
                ..LakeConfig::default()
            },
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("s3://"), "{err}");
    }
}
