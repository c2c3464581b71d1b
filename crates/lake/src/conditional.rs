//! "Copy only if the target does not exist" for S3 through a conditional PUT.
//!
//! Delta Lake commits a table version by renaming a temporary file to `_delta_log/<v>.json` only
//! if that name is still free; `object_store` implements that with a copy-if-not-exists, which
//! plain S3 and most S3-compatible servers do not offer (`object_store` needs a vendor header or a
//! multipart trick for it). What they do offer is a PUT with `If-None-Match: *` (conditional put,
//! which `object_store` supports). This wrapper re-expresses a create-only copy as a read of the
//! source plus a create-only PUT of its bytes: commits stay atomic and two writers of the same
//! version cannot both win. Written here because no crate provides this adapter; commit files
//! are small, so reading them whole costs nothing.

use std::fmt;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    Result,
};

/// An object store whose create-only copies are conditional PUTs.
#[derive(Debug)]
pub struct CreateOnlyCopy<T> {
    inner: T,
    /// Overwriting copies too go through a read and a PUT (GCS in object_store 0.13, whose
    /// overwriting copy is conditional by mistake).
    all: bool,
}

impl<T> CreateOnlyCopy<T> {
    /// Wraps `inner`: create-only copies become conditional PUTs.
    pub fn new(inner: T) -> Self {
        CreateOnlyCopy { inner, all: false }
    }

    /// Wraps `inner`: every copy becomes a read and a (conditional, for create-only) PUT.
    pub fn all_copies(inner: T) -> Self {
        CreateOnlyCopy { inner, all: true }
    }
}

impl<T: fmt::Display> fmt::Display for CreateOnlyCopy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

#[async_trait]
impl<T: ObjectStore> ObjectStore for CreateOnlyCopy<T> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let mode = match options.mode {
            CopyMode::Overwrite if !self.all => {
                return self.inner.copy_opts(from, to, options).await;
            }
            CopyMode::Overwrite => PutMode::Overwrite,
            CopyMode::Create => PutMode::Create,
        };
        let bytes = self.inner.get(from).await?.bytes().await?;
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        self.inner
            .put_opts(to, PutPayload::from_bytes(bytes), opts)
            .await
            .map(|_| ())
    }
}
