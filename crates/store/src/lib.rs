//! One [`Store`] trait over a local folder, S3-compatible endpoints and Supabase Storage.
//!
//! Each backend lives in its own module; behaviour shared by all of them (key validation,
//! hashing, preparing an upload body, resumable-upload state) lives once, beside the trait.
//! [`conformance`] holds the suite every backend passes.

pub mod checksum;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
pub mod fsmeta;
pub mod key;
pub mod local;
pub mod org;
pub mod provider;
pub mod resume;
pub mod s3;
pub mod source;
mod stall;
pub mod supabase;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use time::OffsetDateTime;

pub use checksum::{ChecksumAlgorithm, ProviderChecksum};
pub use error::{Error, ErrorKind, Result};
pub use key::Key;
pub use source::PutSource;

/// A bucket and a key in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    /// The bucket.
    pub bucket: String,
    /// The key inside the bucket.
    pub key: Key,
}

impl ObjectPath {
    /// A path from a bucket and an unvalidated key.
    pub fn new(bucket: impl Into<String>, key: &str) -> Result<Self> {
        Ok(ObjectPath {
            bucket: bucket.into(),
            key: Key::parse(key)?,
        })
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.bucket, self.key)
    }
}

/// What a store knows about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: Key,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, if the provider says.
    pub last_modified: Option<OffsetDateTime>,
    /// The provider's ETag, if any (not a content hash for multipart uploads).
    pub etag: Option<String>,
    /// The SHA-256 of the content, lowercase hex, as recorded when Stowage wrote it.
    pub sha256: Option<String>,
    /// The content type, if recorded.
    pub content_type: Option<String>,
    /// A checksum of the whole content that the provider states (filled on downloads of
    /// objects Stowage did not write, which carry no `sha256`), to verify them by.
    pub checksum: Option<ProviderChecksum>,
}

/// One entry of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListEntry {
    /// An object.
    Object(ObjectMeta),
    /// A common prefix ("folder"), ending in `/`, when listing with a delimiter.
    Prefix(String),
}

impl ListEntry {
    /// The key or prefix as a string.
    pub fn name(&self) -> &str {
        match self {
            ListEntry::Object(m) => m.key.as_str(),
            ListEntry::Prefix(p) => p,
        }
    }
}

/// How to list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Only keys starting with this (validated with [`key::parse_prefix`]).
    pub prefix: String,
    /// Group keys below the next `/` after the prefix into [`ListEntry::Prefix`] entries.
    pub delimiter: bool,
    /// Entries per request to the provider; the stream pages to the end regardless.
    pub page_size: Option<u32>,
}

/// A byte range of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// Bytes `start..end` (end exclusive).
    Bounded {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// From `start` to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The concrete `start..end` for an object of `size` bytes, or None if unsatisfiable.
    pub fn resolve(&self, size: u64) -> Option<std::ops::Range<u64>> {
        let r = match *self {
            ByteRange::Bounded { start, end } => start..end.min(size),
            ByteRange::From(start) => start..size,
            ByteRange::Suffix(n) => size.saturating_sub(n)..size,
        };
        (r.start < r.end || (size == 0 && r.start == 0)).then_some(r)
    }

    /// The HTTP `Range` header value.
    pub fn header(&self) -> String {
        match *self {
            ByteRange::Bounded { start, end } => format!("bytes={start}-{}", end.saturating_sub(1)),
            ByteRange::From(start) => format!("bytes={start}-"),
            ByteRange::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

/// A download: the object's metadata and its (ranged) content as a stream.
pub struct GetResult {
    /// Metadata of the whole object.
    pub meta: ObjectMeta,
    /// The byte range the stream carries.
    pub range: std::ops::Range<u64>,
    /// The content.
    pub body: BoxStream<'static, Result<Bytes>>,
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl GetResult {
    /// Collect the whole body in memory (for small objects and tests).
    pub async fn bytes(self) -> Result<Bytes> {
        use futures::TryStreamExt;
        let chunks: Vec<Bytes> = self.body.try_collect().await?;
        Ok(chunks.concat().into())
    }
}

/// Progress of a transfer, reported as it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferEvent {
    /// The source is being hashed before upload: bytes hashed so far, of the total.
    Hashing {
        /// Bytes hashed so far.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// An interrupted upload resumes: this many bytes were already stored.
    Resumed(u64),
    /// This many more bytes reached the provider.
    Sent(u64),
}

/// A progress callback.
pub type Progress = Arc<dyn Fn(TransferEvent) + Send + Sync>;

/// How to put.
#[derive(Clone, Default)]
pub struct PutOptions {
    /// Replace an existing object. Without it an existing object is [`ErrorKind::AlreadyExists`].
    pub overwrite: bool,
    /// Content type to record; guessed from nothing, left to the provider when None.
    pub content_type: Option<String>,
    /// Called as the transfer advances.
    pub progress: Option<Progress>,
}

impl fmt::Debug for PutOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutOptions")
            .field("overwrite", &self.overwrite)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl PutOptions {
    pub(crate) fn report(&self, event: TransferEvent) {
        if let Some(p) = &self.progress {
            p(event)
        }
    }
}

/// A finished, verified upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResult {
    /// Bytes stored.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex, verified against the stored object.
    pub sha256: String,
    /// The provider's ETag, if any.
    pub etag: Option<String>,
    /// Bytes that were already stored by an earlier, interrupted attempt.
    pub resumed_from: u64,
}

/// Options for a new bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketOptions {
    /// Readable without credentials. Private unless asked.
    pub public: bool,
    /// Largest object the bucket accepts (Supabase only).
    pub file_size_limit: Option<u64>,
    /// Content types the bucket accepts (Supabase only); empty means any.
    pub allowed_mime_types: Vec<String>,
}

/// A bucket as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// Whether it is public, when the provider says.
    pub public: Option<bool>,
    /// When it was created, when the provider says.
    pub created: Option<OffsetDateTime>,
}

/// Which request a signed URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlMethod {
    /// Download.
    Get,
    /// Upload.
    Put,
}

/// A key that a bulk delete could not remove, and why.
pub type DeleteFailure = (Key, Error);

/// One interface over every storage provider. Implementations live one per module; they never
/// put secrets into errors or `Debug` output.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// A short provider label for messages: `local`, `s3`, `supabase`.
    fn provider(&self) -> &str;

    /// Whether this provider can hold `key`. The default accepts every valid [`Key`].
    fn check_key(&self, key: &Key) -> Result<()> {
        let _ = key;
        Ok(())
    }

    /// Whether `name` is a bucket name this provider accepts. The default is S3's rule
    /// ([`key::validate_bucket`]); Supabase has its own. A store that wraps another must
    /// delegate this, as it does `check_key`.
    fn check_bucket(&self, name: &str) -> Result<()> {
        key::validate_bucket(self.provider(), name)
    }

    /// Create a bucket (private unless `options.public`).
    async fn create_bucket(&self, name: &str, options: &BucketOptions) -> Result<()>;
    /// All buckets the credentials can see.
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>>;
    /// Delete an empty bucket; a non-empty one is [`ErrorKind::Conflict`].
    async fn delete_bucket(&self, name: &str) -> Result<()>;

    /// Upload `source` to `path`, verified by size and SHA-256 before returning.
    async fn put(
        &self,
        path: &ObjectPath,
        source: PutSource,
        options: &PutOptions,
    ) -> Result<PutResult>;
    /// Download `path`, all of it or `range`.
    async fn get(&self, path: &ObjectPath, range: Option<ByteRange>) -> Result<GetResult>;
    /// Metadata of `path`.
    async fn head(&self, path: &ObjectPath) -> Result<ObjectMeta>;
    /// List a bucket, paging to the end. With `delimiter`, one level in ascending byte order;
    /// without, every key once in the provider's order (byte order on AWS S3 and the local
    /// store; path-segment order on SeaweedFS, which lists a folder's subtree first).
    fn list(&self, bucket: &str, options: ListOptions) -> BoxStream<'_, Result<ListEntry>>;
    /// Delete one object. Deleting a missing object is not an error.
    async fn delete(&self, path: &ObjectPath) -> Result<()>;
    /// Delete many objects of one bucket; missing keys are not failures. Returns the keys that
    /// could not be deleted.
    async fn delete_many(&self, bucket: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>>;
    /// Copy an object (server-side where the provider can).
    async fn copy(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()>;
    /// Move an object.
    async fn rename(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()>;
    /// An expiring URL that allows `method` on `path` without credentials.
    async fn signed_url(
        &self,
        path: &ObjectPath,
        method: UrlMethod,
        expires: Duration,
    ) -> Result<String>;
}

/// Delete every object under `prefix`, in bulk. Written once over [`Store`].
pub async fn delete_prefix(store: &dyn Store, bucket: &str, prefix: &str) -> Result<u64> {
    use futures::TryStreamExt;
    let options = ListOptions {
        prefix: key::parse_prefix(prefix)?,
        ..Default::default()
    };
    let keys: Vec<Key> = store
        .list(bucket, options)
        .try_filter_map(|e| async move {
            Ok(match e {
                ListEntry::Object(m) => Some(m.key),
                ListEntry::Prefix(_) => None,
            })
        })
        .try_collect()
        .await?;
    let mut deleted = 0;
    for chunk in keys.chunks(1000) {
        let failures = store.delete_many(bucket, chunk).await?;
        if let Some((_, err)) = failures.into_iter().next() {
            return Err(err);
        }
        deleted += chunk.len() as u64;
    }
    Ok(deleted)
}

/// SHA-256 of a byte slice, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The integrity error every backend raises when what is stored is not what was sent.
pub(crate) fn integrity_error(
    provider: &str,
    path: &ObjectPath,
    expected: (u64, &str),
    found: (u64, Option<&str>),
) -> Error {
    Error::new(
        ErrorKind::Integrity,
        provider,
        format!(
            "stored object does not match the upload: expected {} bytes with SHA-256 {}, found {} bytes with SHA-256 {}",
            expected.0,
            expected.1,
            found.0,
            found.1.unwrap_or("(none recorded)")
        ),
    )
    .at(&path.bucket, Some(path.key.as_str()))
    .hint("the upload was not counted as done; run the command again")
}
