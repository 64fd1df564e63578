//! S3 and S3-compatible endpoints (AWS, SeaweedFS, Garage, MinIO, Supabase's S3 endpoint) over
//! aws-sdk-s3.
//!
//! Uploads: one PUT up to `multipart_threshold`, multipart above it with `concurrency` parts in
//! flight (memory stays at about `concurrency × part_size`). Every object carries the SHA-256
//! of its content in its metadata (`x-amz-meta-sha256`), so verification never depends on
//! multipart ETags. Multipart uploads declare CRC32 at creation and send each part's CRC32,
//! which strict servers (Garage) require and lenient ones accept. Part progress is saved in a
//! [`ResumeStore`] so a killed upload resumes from the parts already stored.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart, Delete,
    MetadataDirective, ObjectIdentifier, ServerSideEncryption,
};
use aws_sdk_s3::Client;
use base64::Engine;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{parse_prefix, validate_bucket};
use crate::resume::ResumeStore;
use crate::source::{prepare, Prepared, PreparedFile, PutSource};
use crate::{
    BucketInfo, BucketOptions, ByteRange, DeleteFailure, GetResult, Key, ListEntry, ListOptions,
    ObjectMeta, ObjectPath, ProviderChecksum, PutOptions, PutResult, Store, TransferEvent,
    UrlMethod,
};

const SHA256_META: &str = "sha256";
const MIB: u64 = 1 << 20;
/// S3's limits: parts per upload, smallest part, largest single PUT / CopyObject.
const MAX_PARTS: u64 = 10_000;
const MIN_PART: u64 = 5 * MIB;
const MAX_SINGLE: u64 = 5 * 1024 * MIB;
/// Presigned URLs signed with SigV4 live at most 7 days.
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Static credentials; without them the AWS credential chain is used.
#[derive(Clone)]
pub struct S3Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
    /// Session token, for temporary credentials (never printed).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How to reach an S3-compatible endpoint.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// Endpoint URL for S3-compatible servers; None for AWS.
    pub endpoint: Option<String>,
    /// Region; None takes it from the AWS config chain, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most self-hosted servers need.
    pub force_path_style: bool,
    /// Static credentials; None uses the AWS chain (environment, `~/.aws`, `AWS_PROFILE`).
    pub credentials: Option<S3Credentials>,
    /// A named profile of `~/.aws/config` for the chain.
    pub aws_profile: Option<String>,
    /// Where interrupted multipart uploads are remembered; None disables resuming.
    pub resume_dir: Option<PathBuf>,
    /// Refuse uploads above this size before sending anything.
    pub max_object_size: Option<u64>,
    /// Uploads above this size go multipart.
    pub multipart_threshold: u64,
    /// Size of each part (grown automatically to stay under 10,000 parts).
    pub part_size: u64,
    /// Parts in flight at once.
    pub concurrency: usize,
    /// A request fails (retryable Unavailable) when no byte has moved for this long.
    pub stall_timeout: Duration,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: None,
            region: None,
            force_path_style: false,
            credentials: None,
            aws_profile: None,
            resume_dir: None,
            max_object_size: None,
            multipart_threshold: 16 * MIB,
            part_size: 16 * MIB,
            concurrency: 4,
            stall_timeout: crate::stall::DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// A store on an S3-compatible endpoint.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    config: Arc<S3Config>,
    label: String,
    /// Buckets seen to exist, so a put checks its bucket once per process.
    known_buckets: Arc<Mutex<std::collections::HashSet<String>>>,
    /// Part buffers in flight across all uploads of this store: bounds memory however many
    /// files are uploaded at once.
    part_permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.label)
            .finish_non_exhaustive()
    }
}

/// What is remembered of an interrupted multipart upload.
#[derive(Serialize, Deserialize)]
struct MultipartState {
    upload_id: String,
    sha256: String,
    size: u64,
    part_size: u64,
    /// (part number, ETag, CRC32 base64)
    parts: Vec<(i32, String, String)>,
}

impl S3Store {
    /// Connect (no request is sent until the first call).
    pub async fn new(config: S3Config) -> Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &config.aws_profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(c) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "stowage-profile",
            ));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.force_path_style)
            // We send our own checksums (SHA-256 on PUT, CRC32 per part).
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .build(),
            );
        if shared.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        // The SDK's own HTTP client, behind the stall watchdog.
        let http_client = {
            use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
            use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
            aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
                BehaviorVersion::latest(),
            )
            .and_then(|p| {
                p.runtime_components(&RuntimeComponentsBuilder::new("stowage"))
                    .http_client()
            })
        };
        if let Some(inner) = http_client {
            builder =
                builder.http_client(crate::stall::StallGuard::new(inner, config.stall_timeout));
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.clone());
        }
        let label = crate::provider::label("s3", config.endpoint.as_deref());
        Ok(S3Store {
            client: Client::from_conf(builder.build()),
            label,
            known_buckets: Arc::default(),
            part_permits: Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1))),
            config: Arc::new(config),
        })
    }

    fn resume(&self) -> Option<ResumeStore> {
        self.config.resume_dir.as_ref().map(ResumeStore::new)
    }

    fn err<E>(&self, e: SdkError<E, HttpResponse>, bucket: &str, key: Option<&Key>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        map_sdk_error(&self.label, e).at(bucket, key.map(Key::as_str))
    }

    fn part_size_for(&self, size: u64) -> u64 {
        let min_for_count = size.div_ceil(MAX_PARTS);
        self.config
            .part_size
            .max(MIN_PART)
            .max(min_for_count.next_multiple_of(MIB))
    }

    /// Some servers (SeaweedFS) create a missing bucket on PUT; a typo must not do that.
    async fn ensure_bucket(&self, bucket: &str) -> Result<()> {
        if self
            .known_buckets
            .lock()
            .expect("bucket cache")
            .contains(bucket)
        {
            return Ok(());
        }
        self.client
            .head_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| self.err(e, bucket, None))?;
        self.known_buckets
            .lock()
            .expect("bucket cache")
            .insert(bucket.to_string());
        Ok(())
    }

    async fn exists(&self, path: &ObjectPath) -> Result<bool> {
        match self.head(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One PUT carrying the content's SHA-256 checksum. Returns the ETag and whether the
    /// server echoed the checksum it validated (then the upload is verified without a HEAD).
    async fn put_single(
        &self,
        path: &ObjectPath,
        data: bytes::Bytes,
        sha256: &str,
        options: &PutOptions,
    ) -> Result<(Option<String>, bool)> {
        let len = data.len() as u64;
        let digest = hex::decode(sha256).expect("hex digest");
        let checksum = base64::engine::general_purpose::STANDARD.encode(digest);
        let out = self
            .client
            .put_object()
            .bucket(&path.bucket)
            .key(path.key.as_str())
            .content_length(len as i64)
            .checksum_sha256(&checksum)
            .metadata(SHA256_META, sha256)
            .set_content_type(options.content_type.clone())
            .body(ByteStream::from(data))
            // The SHA-256 checksum header already protects the body: don't hash it twice.
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?;
        options.report(TransferEvent::Sent(len));
        let verified = out.checksum_sha256.as_deref() == Some(checksum.as_str());
        Ok((out.e_tag, verified))
    }

    async fn put_multipart(
        &self,
        path: &ObjectPath,
        file: &PreparedFile,
        options: &PutOptions,
    ) -> Result<(Option<String>, u64)> {
        let part_size = self.part_size_for(file.size);
        let resume = self
            .resume()
            .zip(file.identity.as_ref())
            .map(|(store, identity)| {
                let id = ResumeStore::id(identity, &format!("{}:{}", self.label, path));
                (store, id)
            });
        let mut state = None;
        if let Some((store, id)) = &resume {
            if let Some(saved) = store.load::<MultipartState>(id) {
                if saved.sha256 == file.sha256
                    && saved.size == file.size
                    && saved.part_size == part_size
                {
                    state = self.confirm_parts(path, saved).await;
                }
                if state.is_none() {
                    store.remove(id);
                }
            }
        }
        let state = match state {
            Some(s) => s,
            None => {
                let created = self
                    .client
                    .create_multipart_upload()
                    .bucket(&path.bucket)
                    .key(path.key.as_str())
                    .metadata(SHA256_META, &file.sha256)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .set_content_type(options.content_type.clone())
                    .send()
                    .await
                    .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?;
                let upload_id = created.upload_id.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Other,
                        &self.label,
                        "the server returned no upload id",
                    )
                    .at(&path.bucket, Some(path.key.as_str()))
                })?;
                MultipartState {
                    upload_id,
                    sha256: file.sha256.clone(),
                    size: file.size,
                    part_size,
                    parts: Vec::new(),
                }
            }
        };
        let already: u64 = state
            .parts
            .iter()
            .map(|(n, _, _)| part_len(file.size, part_size, *n))
            .sum();
        if already > 0 {
            options.report(TransferEvent::Resumed(already));
        }
        let save = |s: &MultipartState| {
            if let Some((store, id)) = &resume {
                if let Err(e) = store.save(id, s) {
                    tracing::warn!("could not save upload progress: {e}");
                }
            }
        };
        save(&state);
        let upload_id = state.upload_id.clone();
        let part_count = file.size.div_ceil(part_size) as i32;
        let done: std::collections::HashSet<i32> = state.parts.iter().map(|p| p.0).collect();
        let todo: Vec<i32> = (1..=part_count).filter(|n| !done.contains(n)).collect();
        let state = Mutex::new(state);
        let result: Result<()> = stream::iter(todo)
            .map(|number| {
                let upload_id = upload_id.clone();
                let state = &state;
                let save = &save;
                async move {
                    let offset = (number as u64 - 1) * part_size;
                    let len = part_len(file.size, part_size, number);
                    let _permit = self.part_permits.acquire().await.expect("never closed");
                    let data = file.read_at(offset, len as usize).await?;
                    let crc = base64::engine::general_purpose::STANDARD
                        .encode(crc32fast::hash(&data).to_be_bytes());
                    let out = self
                        .client
                        .upload_part()
                        .bucket(&path.bucket)
                        .key(path.key.as_str())
                        .upload_id(&upload_id)
                        .part_number(number)
                        .content_length(len as i64)
                        .checksum_crc32(&crc)
                        .body(ByteStream::from(data))
                        // The part's CRC32 header protects the body.
                        .customize()
                        .disable_payload_signing()
                        .send()
                        .await
                        .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?;
                    let etag = out.e_tag.unwrap_or_default();
                    let mut s = state.lock().expect("state lock");
                    s.parts.push((number, etag, crc));
                    save(&s);
                    drop(s);
                    options.report(TransferEvent::Sent(len));
                    Ok(())
                }
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .try_collect()
            .await;
        let mut state = state.into_inner().expect("state lock");
        if let Err(e) = result {
            if !e.is_retryable() {
                // A permanent failure: do not leave parts behind to be billed.
                self.abort_multipart(path, &upload_id).await;
                if let Some((store, id)) = &resume {
                    store.remove(id);
                }
            }
            return Err(e);
        }
        file.check_unchanged()?;
        state.parts.sort_by_key(|p| p.0);
        let parts = state
            .parts
            .iter()
            .map(|(n, etag, crc)| {
                CompletedPart::builder()
                    .part_number(*n)
                    .e_tag(etag)
                    .checksum_crc32(crc)
                    .build()
            })
            .collect();
        let etag = self.complete_multipart(path, &upload_id, parts).await?;
        if let Some((store, id)) = &resume {
            store.remove(id);
        }
        Ok((etag, already))
    }

    /// Keep the saved parts the server still holds; None if the upload is gone.
    async fn confirm_parts(
        &self,
        path: &ObjectPath,
        mut saved: MultipartState,
    ) -> Option<MultipartState> {
        let mut listed = std::collections::HashMap::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&path.bucket)
                .key(path.key.as_str())
                .upload_id(&saved.upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await
                .map_err(|e| {
                    tracing::warn!(
                        "{}: listing the parts of the interrupted upload of {path} failed, so \
                         it starts over: {}",
                        self.label,
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )
                })
                .ok()?;
            for p in out.parts() {
                if let (Some(n), Some(size)) = (p.part_number, p.size) {
                    listed.insert(n, (size as u64, p.e_tag.clone().unwrap_or_default()));
                }
            }
            match out.next_part_number_marker {
                Some(m) if out.is_truncated == Some(true) => marker = Some(m),
                _ => break,
            }
        }
        tracing::debug!(
            "resuming: {} parts saved, {} listed by the server",
            saved.parts.len(),
            listed.len()
        );
        let (size, part_size) = (saved.size, saved.part_size);
        saved.parts.retain(|(n, etag, _)| {
            let listed = listed.get(n);
            let keep = listed.is_some_and(|(listed_size, listed_etag)| {
                keep_part(
                    part_len(size, part_size, *n),
                    etag,
                    *listed_size,
                    listed_etag,
                )
            });
            if !keep {
                tracing::warn!(
                    "{}: part {n} of the interrupted upload of {path} is sent again: saved \
                     {} bytes, ETag {etag}; the server lists {:?}",
                    self.label,
                    part_len(size, part_size, *n),
                    listed
                );
            }
            keep
        });
        Some(saved)
    }

    async fn verify(&self, path: &ObjectPath, size: u64, sha256: &str) -> Result<ObjectMeta> {
        let meta = self.head(path).await?;
        if meta.size != size || meta.sha256.as_deref() != Some(sha256) {
            return Err(crate::integrity_error(
                &self.label,
                path,
                (size, sha256),
                (meta.size, meta.sha256.as_deref()),
            ));
        }
        Ok(meta)
    }

    /// Server-side copy of objects over 5 GiB, part by part.
    async fn copy_multipart(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        meta: &ObjectMeta,
    ) -> Result<()> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&to.bucket)
            .key(to.key.as_str())
            .set_metadata(
                meta.sha256
                    .as_ref()
                    .map(|s| [(SHA256_META.to_string(), s.clone())].into()),
            )
            .set_content_type(meta.content_type.clone())
            .send()
            .await
            .map_err(|e| self.err(e, &to.bucket, Some(&to.key)))?;
        let upload_id = created.upload_id.unwrap_or_default();
        let part = 512 * MIB;
        let source = copy_source(from);
        let result: Result<Vec<CompletedPart>> = stream::iter(0..meta.size.div_ceil(part))
            .map(|i| {
                let upload_id = upload_id.clone();
                let source = source.clone();
                async move {
                    let start = i * part;
                    let end = (start + part).min(meta.size) - 1;
                    let out = self
                        .client
                        .upload_part_copy()
                        .bucket(&to.bucket)
                        .key(to.key.as_str())
                        .upload_id(upload_id)
                        .part_number(i as i32 + 1)
                        .copy_source(source)
                        .copy_source_range(format!("bytes={start}-{end}"))
                        .send()
                        .await
                        .map_err(|e| self.err(e, &to.bucket, Some(&to.key)))?;
                    Ok(CompletedPart::builder()
                        .part_number(i as i32 + 1)
                        .set_e_tag(out.copy_part_result.and_then(|r| r.e_tag))
                        .build())
                }
            })
            .buffered(self.config.concurrency.max(1))
            .try_collect()
            .await;
        let parts = match result {
            Ok(parts) => parts,
            Err(e) => {
                self.abort_multipart(to, &upload_id).await;
                return Err(e);
            }
        };
        self.complete_multipart(to, &upload_id, parts).await?;
        Ok(())
    }

    /// Finish a multipart upload from its parts (in part order); returns the ETag.
    async fn complete_multipart(
        &self,
        path: &ObjectPath,
        upload_id: &str,
        parts: Vec<CompletedPart>,
    ) -> Result<Option<String>> {
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&path.bucket)
            .key(path.key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?;
        Ok(out.e_tag)
    }

    /// Abandon a multipart upload so its parts are not kept (and billed); best effort, as
    /// this runs on a path that already fails.
    async fn abort_multipart(&self, path: &ObjectPath, upload_id: &str) {
        let _ = self
            .client
            .abort_multipart_upload()
            .bucket(&path.bucket)
            .key(path.key.as_str())
            .upload_id(upload_id)
            .send()
            .await;
    }
}

/// Whether a saved part still stands on the server: the size it should have, and the ETag we
/// recorded when the server lists one. Some servers (s3s-fs) list parts without an ETag; the
/// size then decides, and the whole object's SHA-256 check after completing still guards it.
fn keep_part(expected_size: u64, saved_etag: &str, listed_size: u64, listed_etag: &str) -> bool {
    let listed_etag = listed_etag.trim_matches('"');
    listed_size == expected_size
        && (listed_etag.is_empty() || listed_etag == saved_etag.trim_matches('"'))
}

fn part_len(size: u64, part_size: u64, number: i32) -> u64 {
    let offset = (number as u64 - 1) * part_size;
    part_size.min(size - offset)
}

fn copy_source(path: &ObjectPath) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    format!(
        "{}/{}",
        path.bucket,
        percent_encoding::utf8_percent_encode(path.key.as_str(), SET)
    )
}

/// The checksums an S3 response states for the whole object.
struct StatedChecksums<'a> {
    sha256: Option<&'a str>,
    crc64nvme: Option<&'a str>,
    crc32c: Option<&'a str>,
    crc32: Option<&'a str>,
    /// A multipart upload's checksum of its parts' checksums, not of the content.
    composite: bool,
    metadata: Option<&'a std::collections::HashMap<String, String>>,
    etag: Option<&'a str>,
    /// SSE-C and SSE-KMS objects' ETags are not the MD5 of their content.
    encrypted: bool,
}

/// The strongest whole-content checksum stated: an `x-amz-checksum-*` of the full object
/// (SHA-256, CRC-64/NVME, CRC-32C, CRC-32), then rclone's `md5chksum` metadata (which rclone
/// writes on multipart uploads), then the MD5 a single-part upload's ETag is.
fn stated_checksum(s: StatedChecksums<'_>) -> Option<ProviderChecksum> {
    use crate::checksum::ChecksumAlgorithm as A;
    let header = [
        (A::Sha256, s.sha256, "x-amz-checksum-sha256"),
        (A::Crc64Nvme, s.crc64nvme, "x-amz-checksum-crc64nvme"),
        (A::Crc32c, s.crc32c, "x-amz-checksum-crc32c"),
        (A::Crc32, s.crc32, "x-amz-checksum-crc32"),
    ]
    .into_iter()
    .filter(|_| !s.composite)
    .find_map(|(a, v, source)| ProviderChecksum::from_base64(a, v?, source));
    header
        .or_else(|| {
            let v = s.metadata?.get("md5chksum")?;
            ProviderChecksum::from_base64(A::Md5, v, "rclone's md5chksum metadata")
        })
        .or_else(|| {
            (!s.encrypted)
                .then(|| ProviderChecksum::from_hex(A::Md5, s.etag?, "the ETag"))
                .flatten()
        })
}

fn to_time(t: Option<&aws_smithy_types::DateTime>) -> Option<OffsetDateTime> {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp_nanos(t.as_nanos()).ok())
}

/// Map an SDK error to our kinds, using the S3 error code and HTTP status; no request details
/// (which could carry signatures) are formatted.
fn map_sdk_error<E>(provider: &str, e: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("").to_string();
            let status_code = se.raw().status().as_u16();
            let kind = match (code.as_str(), status_code) {
                ("NoSuchKey" | "NotFound" | "NoSuchBucket" | "NoSuchUpload", _) | (_, 404) => {
                    ErrorKind::NotFound
                }
                ("BucketAlreadyOwnedByYou" | "BucketAlreadyExists", _) => ErrorKind::AlreadyExists,
                ("PreconditionFailed", _) | (_, 412) => ErrorKind::AlreadyExists,
                (
                    "AccessDenied"
                    | "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "InvalidToken",
                    _,
                )
                | (_, 401 | 403) => ErrorKind::Unauthorized,
                ("EntityTooLarge", _) | (_, 413) => ErrorKind::TooLarge { limit: None },
                ("InvalidBucketName" | "KeyTooLongError", _) => ErrorKind::InvalidKey,
                ("BucketNotEmpty" | "OperationAborted", _) | (_, 409) => ErrorKind::Conflict,
                ("NotImplemented", _) | (_, 501) => ErrorKind::NotSupported,
                (
                    "BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch" | "InvalidPart",
                    _,
                ) => ErrorKind::Integrity,
                ("SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout", _)
                | (_, 500..=599) => ErrorKind::Unavailable,
                _ => ErrorKind::Other,
            };
            let message = match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                (None, Some(m)) => m.to_string(),
                (None, None) if status_code != 0 => format!("HTTP {status_code}"),
                (None, None) => "the server refused the request".to_string(),
            };
            let mut out = Error::new(kind, provider, message);
            if kind == (ErrorKind::TooLarge { limit: None }) {
                out = out.hint("the server refused the size; raise its limit or split the data");
            }
            if kind == ErrorKind::NotFound && code == "NoSuchBucket" {
                out = out.hint("check the bucket name, or create it with `stowage buckets create`");
            }
            out
        }
        SdkError::TimeoutError(_) => {
            Error::new(ErrorKind::Unavailable, provider, "the request timed out")
        }
        SdkError::DispatchFailure(d) => {
            let context = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            // Missing credentials surface as a request that could not be sent.
            if context.contains("credential") || context.contains("identity") {
                return Error::new(
                    ErrorKind::Unauthorized,
                    provider,
                    "no AWS credentials were found (no AWS_* variables, ~/.aws files or instance role)",
                )
                .hint("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure ~/.aws and AWS_PROFILE");
            }
            let detail = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            if let Some(at) = detail.find(crate::stall::STALLED) {
                let why = detail[at..]
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(')');
                return Error::new(ErrorKind::Unavailable, provider, format!("{why})"))
                    .hint("check that the server is healthy, then retry (large uploads resume)");
            }
            let why = if d.is_io() {
                "could not connect"
            } else if d.is_timeout() {
                "connection timed out"
            } else {
                "the request could not be sent"
            };
            let detail = d
                .as_connector_error()
                .map(|c| c.to_string())
                .unwrap_or_default();
            Error::new(ErrorKind::Unavailable, provider, format!("{why}: {detail}")).hint(
                "check the endpoint URL and that the server is running; the transfer can be retried",
            )
        }
        SdkError::ResponseError(_) => Error::new(
            ErrorKind::Unavailable,
            provider,
            "the response was cut off or malformed",
        ),
        SdkError::ConstructionFailure(_) => {
            let detail = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            let kind = if detail.contains("credential") {
                ErrorKind::Unauthorized
            } else {
                ErrorKind::Other
            };
            Error::new(
                kind,
                provider,
                format!(
                    "could not build the request: {}",
                    strip_request_detail(&detail)
                ),
            )
            .hint(
                "check the profile's region, endpoint and credentials (AWS_ACCESS_KEY_ID / ~/.aws)",
            )
        }
        _ => Error::new(ErrorKind::Other, provider, "unexpected SDK error"),
    }
}

/// The SDK's context string names the failing stage; keep its first line only.
fn strip_request_detail(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(300).collect()
}

#[async_trait]
impl Store for S3Store {
    fn provider(&self) -> &str {
        &self.label
    }

    async fn create_bucket(&self, name: &str, options: &BucketOptions) -> Result<()> {
        validate_bucket(&self.label, name)?;
        let mut req = self.client.create_bucket().bucket(name);
        let region = self
            .client
            .config()
            .region()
            .map(|r| r.as_ref().to_string());
        if let Some(region) = region.filter(|r| r != "us-east-1") {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        req.send().await.map_err(|e| {
            let e = self.err(e, name, None);
            match e.kind {
                ErrorKind::AlreadyExists => e.hint(format!(
                    "the bucket `{name}` is already there: use it as it is, or pick another name"
                )),
                ErrorKind::Unauthorized if e.message.starts_with("AccessDenied") => e.hint(
                    "these credentials were accepted but may not create buckets (s3:CreateBucket): \
                     create the bucket in the provider's console, or use a profile whose key may",
                ),
                _ => e,
            }
        })?;
        if options.public {
            let policy = serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
                               "Resource": [format!("arn:aws:s3:::{name}/*")]}]
            });
            self.client
                .put_bucket_policy()
                .bucket(name)
                .policy(policy.to_string())
                .send()
                .await
                .map_err(|e| {
                    let mut e = self.err(e, name, None);
                    if e.kind == ErrorKind::NotSupported {
                        e.message = format!(
                            "the bucket exists, private: this server has no bucket policies ({})",
                            e.message
                        );
                        e.hint(
                            "share objects with `stowage url`, or make the bucket public in the \
                             server's own settings",
                        )
                    } else {
                        e.message = format!("the bucket exists, private: {}", e.message);
                        e.hint("make it public in the provider's console")
                    }
                })?;
        }
        Ok(())
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let out = self
            .client
            .list_buckets()
            .send()
            .await
            .map_err(|e| map_sdk_error(&self.label, e))?;
        Ok(out
            .buckets()
            .iter()
            .filter_map(|b| {
                Some(BucketInfo {
                    name: b.name.clone()?,
                    public: None,
                    created: to_time(b.creation_date.as_ref()),
                })
            })
            .collect())
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(&self.label, name)?;
        // Some servers (SeaweedFS) delete a bucket with its objects; never lose data that way.
        let listed = self
            .client
            .list_objects_v2()
            .bucket(name)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| self.err(e, name, None))?;
        if !listed.contents().is_empty() {
            return Err(Error::bucket_not_empty(&self.label, name));
        }
        self.known_buckets
            .lock()
            .expect("bucket cache")
            .remove(name);
        self.client
            .delete_bucket()
            .bucket(name)
            .send()
            .await
            .map_err(|e| match self.err(e, name, None) {
                e if e.kind == ErrorKind::Conflict => Error::bucket_not_empty(&self.label, name),
                e => e,
            })?;
        Ok(())
    }

    async fn put(
        &self,
        path: &ObjectPath,
        source: PutSource,
        options: &PutOptions,
    ) -> Result<PutResult> {
        validate_bucket(&self.label, &path.bucket)?;
        self.ensure_bucket(&path.bucket).await?;
        if !options.overwrite && self.exists(path).await? {
            return Err(
                Error::new(ErrorKind::AlreadyExists, &self.label, "the object exists")
                    .at(&path.bucket, Some(path.key.as_str())),
            );
        }
        let prepared = prepare(source, self.config.multipart_threshold, options).await?;
        let limit = self
            .config
            .max_object_size
            .unwrap_or(u64::MAX)
            .min(MAX_SINGLE * MAX_PARTS);
        if prepared.size() > limit {
            return Err(Error::new(
                ErrorKind::TooLarge { limit: Some(limit) },
                &self.label,
                format!("the upload is {} bytes", prepared.size()),
            )
            .at(&path.bucket, Some(path.key.as_str()))
            .hint("raise the profile's max_object_size, or split the data"));
        }
        let (etag, resumed_from, verified) = match &prepared {
            Prepared::Memory { data, sha256 } => {
                let (etag, verified) = self.put_single(path, data.clone(), sha256, options).await?;
                (etag, 0, verified)
            }
            Prepared::File(file) => {
                let (etag, resumed) = self.put_multipart(path, file, options).await?;
                (etag, resumed, false)
            }
        };
        let etag = if verified {
            etag
        } else {
            let meta = self
                .verify(path, prepared.size(), prepared.sha256())
                .await?;
            etag.or(meta.etag)
        };
        Ok(PutResult {
            size: prepared.size(),
            sha256: prepared.sha256().to_string(),
            etag,
            resumed_from,
        })
    }

    async fn get(&self, path: &ObjectPath, range: Option<ByteRange>) -> Result<GetResult> {
        let whole = range.is_none();
        let out = self
            .client
            .get_object()
            .bucket(&path.bucket)
            .key(path.key.as_str())
            .set_range(range.map(|r| r.header()))
            .customize()
            .mutate_request(move |req| {
                // A whole object comes with the checksums its writer stored, to check an
                // object without Stowage's SHA-256 by. Asked by header rather than through
                // `checksum_mode`, which would make the SDK check them itself and report a
                // mismatch as a broken connection.
                if whole {
                    req.headers_mut().insert("x-amz-checksum-mode", "ENABLED");
                }
            })
            .send()
            .await
            .map_err(|e| {
                let mut e = self.err(e, &path.bucket, Some(&path.key));
                if e.message.starts_with("InvalidRange") {
                    e.kind = ErrorKind::Other;
                    e = e.hint(
                        "the range lies outside the object; check its size with `stowage ls`",
                    );
                }
                e
            })?;
        let length = out.content_length.unwrap_or(0) as u64;
        let (range, size) = match out.content_range.as_deref().and_then(parse_content_range) {
            Some((start, end, total)) => (start..end, total),
            None => (0..length, length),
        };
        let meta = ObjectMeta {
            key: path.key.clone(),
            size,
            last_modified: to_time(out.last_modified.as_ref()),
            etag: out.e_tag.clone(),
            sha256: out
                .metadata
                .as_ref()
                .and_then(|m| m.get(SHA256_META).cloned()),
            content_type: out.content_type.clone(),
            checksum: None,
        };
        let meta = ObjectMeta {
            checksum: (meta.sha256.is_none() && whole)
                .then(|| {
                    stated_checksum(StatedChecksums {
                        sha256: out.checksum_sha256(),
                        crc64nvme: out.checksum_crc64_nvme(),
                        crc32c: out.checksum_crc32_c(),
                        crc32: out.checksum_crc32(),
                        composite: out.checksum_type() == Some(&ChecksumType::Composite),
                        metadata: out.metadata.as_ref(),
                        etag: out.e_tag(),
                        encrypted: out.sse_customer_algorithm.is_some()
                            || matches!(
                                out.server_side_encryption,
                                Some(
                                    ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse
                                )
                            ),
                    })
                })
                .flatten(),
            ..meta
        };
        let provider = self.label.clone();
        let (bucket, key) = (path.bucket.clone(), path.key.to_string());
        let body = stream::unfold(out.body, move |mut body| {
            let provider = provider.clone();
            let (bucket, key) = (bucket.clone(), key.clone());
            async move {
                match body.next().await {
                    None => None,
                    Some(Ok(b)) => Some((Ok(b), body)),
                    Some(Err(e)) => Some((
                        Err(Error::new(
                            ErrorKind::Unavailable,
                            provider,
                            format!("download interrupted: {e}"),
                        )
                        .bucket(bucket)
                        .key(key)),
                        body,
                    )),
                }
            }
        })
        .boxed();
        Ok(GetResult { meta, range, body })
    }

    async fn head(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        let out = self
            .client
            .head_object()
            .bucket(&path.bucket)
            .key(path.key.as_str())
            .send()
            .await
            .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?;
        Ok(ObjectMeta {
            key: path.key.clone(),
            size: out.content_length.unwrap_or(0) as u64,
            last_modified: to_time(out.last_modified.as_ref()),
            etag: out.e_tag,
            sha256: out.metadata.and_then(|m| m.get(SHA256_META).cloned()),
            content_type: out.content_type,
            checksum: None,
        })
    }

    fn list(&self, bucket: &str, options: ListOptions) -> BoxStream<'_, Result<ListEntry>> {
        let prefix = match parse_prefix(&options.prefix) {
            Ok(p) => p,
            Err(e) => return stream::iter(vec![Err(e.bucket(bucket))]).boxed(),
        };
        let bucket = bucket.to_string();
        // State: (continuation token, finished?)
        stream::try_unfold((None::<String>, false), move |(token, finished)| {
            let bucket = bucket.clone();
            let prefix = prefix.clone();
            let options = options.clone();
            async move {
                if finished {
                    return Ok(None);
                }
                let out = self
                    .client
                    .list_objects_v2()
                    .bucket(&bucket)
                    .set_prefix((!prefix.is_empty()).then_some(prefix))
                    .set_delimiter(options.delimiter.then(|| "/".to_string()))
                    .set_max_keys(options.page_size.map(|n| n as i32))
                    .set_continuation_token(token)
                    .send()
                    .await
                    .map_err(|e| self.err(e, &bucket, None))?;
                let mut entries: Vec<ListEntry> = out
                    .contents()
                    .iter()
                    .filter_map(|o| {
                        let key = Key::parse(o.key.as_deref()?).ok()?;
                        Some(ListEntry::Object(ObjectMeta {
                            key,
                            size: o.size.unwrap_or(0) as u64,
                            last_modified: to_time(o.last_modified.as_ref()),
                            etag: o.e_tag.clone(),
                            sha256: None,
                            content_type: None,
                            checksum: None,
                        }))
                    })
                    .chain(
                        out.common_prefixes()
                            .iter()
                            .filter_map(|p| Some(ListEntry::Prefix(p.prefix.clone()?))),
                    )
                    .collect();
                entries.sort_by(|a, b| a.name().cmp(b.name()));
                let next = out
                    .next_continuation_token
                    .filter(|_| out.is_truncated == Some(true));
                let finished = next.is_none();
                Ok(Some((
                    stream::iter(entries.into_iter().map(Ok)),
                    (next, finished),
                )))
            }
        })
        .try_flatten()
        .boxed()
    }

    async fn delete(&self, path: &ObjectPath) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&path.bucket)
            .key(path.key.as_str())
            .send()
            .await
            .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?;
        Ok(())
    }

    async fn delete_many(&self, bucket: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>> {
        let mut failures = Vec::new();
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| {
                    ObjectIdentifier::builder()
                        .key(k.as_str())
                        .build()
                        .expect("key is set")
                })
                .collect();
            let out = self
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(
                    Delete::builder()
                        .set_objects(Some(objects))
                        .quiet(true)
                        .build()
                        .expect("objects are set"),
                )
                .send()
                .await
                .map_err(|e| self.err(e, bucket, None))?;
            for e in out.errors() {
                let code = e.code().unwrap_or("");
                if code == "NoSuchKey" {
                    continue;
                }
                let Some(key) = e.key().and_then(|k| Key::parse(k).ok()) else {
                    continue;
                };
                let kind = if code == "AccessDenied" {
                    ErrorKind::Unauthorized
                } else {
                    ErrorKind::Other
                };
                let err = Error::new(
                    kind,
                    &self.label,
                    format!("{code}: {}", e.message().unwrap_or("")),
                )
                .bucket(bucket)
                .key(key.as_str());
                failures.push((key, err));
            }
        }
        Ok(failures)
    }

    async fn copy(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        let meta = self.head(from).await?;
        self.ensure_bucket(&to.bucket).await?;
        if !overwrite && self.exists(to).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                &self.label,
                "the destination exists",
            )
            .at(&to.bucket, Some(to.key.as_str())));
        }
        if meta.size > MAX_SINGLE {
            return self.copy_multipart(from, to, &meta).await;
        }
        self.client
            .copy_object()
            .bucket(&to.bucket)
            .key(to.key.as_str())
            .copy_source(copy_source(from))
            .metadata_directive(MetadataDirective::Copy)
            .send()
            .await
            .map_err(|e| self.err(e, &to.bucket, Some(&to.key)))?;
        Ok(())
    }

    async fn rename(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        if from == to {
            return Err(Error::new(
                ErrorKind::Conflict,
                &self.label,
                "source and destination are the same",
            )
            .at(&from.bucket, Some(from.key.as_str())));
        }
        let source = self.head(from).await?;
        self.copy(from, to, overwrite).await?;
        // The source goes only once the copy is verified.
        let copied = self.head(to).await?;
        if copied.size != source.size || copied.sha256 != source.sha256 {
            return Err(crate::integrity_error(
                &self.label,
                to,
                (
                    source.size,
                    source.sha256.as_deref().unwrap_or("(none recorded)"),
                ),
                (copied.size, copied.sha256.as_deref()),
            ));
        }
        self.delete(from).await
    }

    async fn signed_url(
        &self,
        path: &ObjectPath,
        method: UrlMethod,
        expires: Duration,
    ) -> Result<String> {
        if expires > MAX_PRESIGN || expires.is_zero() {
            return Err(Error::new(
                ErrorKind::Other,
                &self.label,
                format!(
                    "an S3 signed URL lives between 1 second and 7 days, not {}s",
                    expires.as_secs()
                ),
            )
            .at(&path.bucket, Some(path.key.as_str()))
            .hint("pass a shorter --expires, e.g. 1h or 7d"));
        }
        let config = PresigningConfig::expires_in(expires)
            .map_err(|e| Error::new(ErrorKind::Other, &self.label, e.to_string()))?;
        let req = match method {
            UrlMethod::Get => self
                .client
                .get_object()
                .bucket(&path.bucket)
                .key(path.key.as_str())
                .presigned(config)
                .await
                .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?,
            UrlMethod::Put => self
                .client
                .put_object()
                .bucket(&path.bucket)
                .key(path.key.as_str())
                .presigned(config)
                .await
                .map_err(|e| self.err(e, &path.bucket, Some(&path.key)))?,
        };
        Ok(req.uri().to_string())
    }
}

/// `bytes START-END/TOTAL` → (start, end exclusive, total).
fn parse_content_range(s: &str) -> Option<(u64, u64, u64)> {
    let rest = s.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    Some((
        a.parse().ok()?,
        b.parse::<u64>().ok()? + 1,
        total.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_stay_under_the_part_limit() {
        let cfg = S3Config {
            part_size: 16 * MIB,
            ..Default::default()
        };
        let parts = |size: u64, part: u64| size.div_ceil(part);
        let store_part = |size| {
            let min_for_count = u64::div_ceil(size, MAX_PARTS);
            cfg.part_size
                .max(MIN_PART)
                .max(min_for_count.next_multiple_of(MIB))
        };
        assert_eq!(store_part(1 << 30), 16 * MIB);
        let huge = 5 * (1u64 << 40);
        assert!(parts(huge, store_part(huge)) <= MAX_PARTS);
        assert_eq!(part_len(40 * MIB, 16 * MIB, 3), 8 * MIB);
        assert_eq!(part_len(32 * MIB, 16 * MIB, 2), 16 * MIB);
    }

    #[test]
    fn resume_keeps_parts_listed_without_an_etag() {
        // A listed ETag must match ours; none listed (s3s-fs) leaves the size to decide.
        assert!(keep_part(5, "\"abc\"", 5, "abc"));
        assert!(keep_part(5, "abc", 5, ""));
        assert!(!keep_part(5, "abc", 5, "def"));
        assert!(!keep_part(5, "abc", 4, ""));
    }

    #[test]
    fn content_range_and_copy_source() {
        assert_eq!(parse_content_range("bytes 0-4/24"), Some((0, 5, 24)));
        assert_eq!(parse_content_range("garbage"), None);
        let p = ObjectPath::new("b", "a dir/ü%<&.txt").unwrap();
        assert_eq!(copy_source(&p), "b/a%20dir/%C3%BC%25%3C%26.txt");
    }

    #[test]
    fn credentials_never_print() {
        let c = S3Credentials {
            access_key_id: "AK".into(),
            secret_access_key: "planted-secret".into(),
            session_token: Some("tok-secret".into()),
        };
        let s = format!("{c:?}");
        assert!(
            !s.contains("planted-secret") && !s.contains("tok-secret"),
            "{s}"
        );
    }
}
