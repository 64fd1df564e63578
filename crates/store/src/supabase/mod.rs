//! Supabase Storage over its REST API (reqwest).
//!
//! The API lives at `{project URL}/storage/v1`; every request carries the key twice, as
//! `apikey:` and as `Authorization: Bearer`, and nowhere else (never in errors, logs or
//! `Debug`). Behaviour follows what supabase/storage v1.26.5 was recorded doing (see
//! `shared/fixtures/supabase-storage`), including its surprises:
//!
//! * Outside TUS every 4xx arrives as HTTP 400 with the real code as a *string* in the body
//!   (`{"statusCode":"404",...}`); TUS answers with real HTTP codes and text bodies.
//!   [`api_error`] maps both.
//! * Uploads up to 6,000,000 bytes are one `POST /object/{bucket}/{key}` carrying the
//!   content's SHA-256 as user metadata (`x-metadata`, base64 JSON); larger ones use TUS
//!   (`/upload/resumable`) in 6 MiB chunks, resumable across processes through a
//!   [`ResumeStore`] record. `x-upsert: true` goes on every request of an overwrite, TUS
//!   included (the server checks it again on each PATCH).
//! * Keys are limited to ASCII letters, digits and `_/!-.*'() &$@=;:+,?`; anything else is
//!   refused by [`Store::check_key`] before a request is sent.
//! * `bytes=-N` ranges answer HTTP 500 and unsatisfiable ranges close the connection, so
//!   ranges are resolved against the object's size first and sent as bounded ranges.
//! * Move ignores `x-upsert`; an overwriting rename copies (with upsert), verifies, then
//!   deletes the source.
//! * Bucket names follow Supabase's rule (`user_uploads`, `Avatars` are names), not S3's.
//! * Download URLs are signed by the batch endpoint (`POST /object/sign/{bucket}` with
//!   `paths`), which signs the raw key; the single-object endpoint signs the key still
//!   percent-encoded, so its URLs fail for keys with `$ & + , : ; = ? @`.
//! * With a key the server does not accept, object reads answer "Bucket not found" (the
//!   request runs as `anon`); a bucket lookup, which needs a valid key, tells the two apart.
//! * Copy or move into a missing bucket answers `"404"` "The related resource does not exist".
//! * Both upload paths send a content type (`application/octet-stream` when none is given):
//!   TUS without one is accepted by buckets that restrict types, a standard upload is not.
//! * A TUS upload that will not be resumed (the file changed) is terminated (TUS DELETE),
//!   so its partial upload does not stay on the server.

mod buckets;
mod errors;
mod list;
mod metadata;
mod objects;
mod signed;
mod tus;
mod urls;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, ETAG, RANGE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::key::{parse_prefix, validate_supabase_bucket as validate_bucket};
use crate::resume::ResumeStore;
use crate::source::{prepare, Prepared, PutSource};
use crate::{
    BucketInfo, BucketOptions, ByteRange, DeleteFailure, GetResult, Key, ListEntry, ListOptions,
    ObjectMeta, ObjectPath, PutOptions, PutResult, Store, UrlMethod,
};
use buckets::BucketRow;
use errors::{api_error, destination_error, invalid_key_error, transport_error, RELATED_MISSING};
use list::ListState;
use metadata::{clean_etag, parse_http_date, parse_time};
use signed::signed_url_for;
use urls::{api_base, bucket_url, object_url};

const PROVIDER: &str = "supabase";
/// Uploads up to this size go in one standard request; larger ones use TUS.
pub const STANDARD_UPLOAD_LIMIT: u64 = 6_000_000;
/// The TUS chunk size Supabase expects (every chunk but the last).
pub const TUS_CHUNK: u64 = 6 * 1024 * 1024;
/// Keys per bulk delete request.
const DELETE_BATCH: usize = 1000;
/// Entries per list request when the caller does not say.
const DEFAULT_PAGE: u32 = 1000;
/// The content type sent when the caller gives none (both upload paths send one).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// How to reach a Supabase project's Storage API.
#[derive(Clone)]
pub struct SupabaseConfig {
    /// The project URL (`https://<ref>.supabase.co`); the API is at `{url}/storage/v1`.
    /// A URL already ending in `/storage/v1` is taken as is.
    pub url: String,
    /// The service-role or anon key (a JWT). Never printed.
    pub key: String,
    /// Where interrupted TUS uploads are remembered; None disables resuming.
    pub resume_dir: Option<PathBuf>,
    /// Refuse uploads above this size before sending anything.
    pub max_object_size: Option<u64>,
}

impl fmt::Debug for SupabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupabaseConfig")
            .field("url", &self.url)
            .field("key", &"<redacted>")
            .field("resume_dir", &self.resume_dir)
            .field("max_object_size", &self.max_object_size)
            .finish()
    }
}

/// A store on a Supabase project's Storage API.
#[derive(Clone)]
pub struct SupabaseStore {
    /// `{url}/storage/v1`, without a trailing slash.
    api: String,
    http: reqwest::Client,
    /// `apikey` and `Authorization` values, marked sensitive.
    apikey: HeaderValue,
    bearer: HeaderValue,
    resume: Option<ResumeStore>,
    max_object_size: Option<u64>,
}

impl fmt::Debug for SupabaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupabaseStore")
            .field("api", &self.api)
            .field("key", &"<redacted>")
            .field("resume", &self.resume)
            .field("max_object_size", &self.max_object_size)
            .finish()
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

impl SupabaseStore {
    /// A store for `config` (no request is sent until the first call).
    pub fn new(config: SupabaseConfig) -> Result<Self> {
        let parsed = url::Url::parse(config.url.trim()).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                PROVIDER,
                format!("the project URL is not a valid URL ({e})"),
            )
            .hint("set the profile's url to the project URL, e.g. https://<ref>.supabase.co")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(Error::new(
                ErrorKind::Other,
                PROVIDER,
                "the project URL must be an http(s) URL with a host",
            )
            .hint("set the profile's url to the project URL, e.g. https://<ref>.supabase.co"));
        }
        if parsed.password().is_some() || !parsed.username().is_empty() {
            return Err(Error::new(
                ErrorKind::Other,
                PROVIDER,
                "the project URL must not contain credentials",
            )
            .hint("remove them from the URL; the key comes from SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY)"));
        }
        let key = config.key.trim();
        if key.is_empty() {
            return Err(
                Error::new(ErrorKind::Unauthorized, PROVIDER, "no key is configured").hint(
                    "set SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY) to the project's key",
                ),
            );
        }
        let bad_key = || {
            Error::new(
                ErrorKind::Unauthorized,
                PROVIDER,
                "the key contains characters that cannot be sent in an HTTP header",
            )
            .hint("copy the key again from the project's API settings")
        };
        let mut apikey = HeaderValue::from_str(key).map_err(|_| bad_key())?;
        apikey.set_sensitive(true);
        let mut bearer = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| bad_key())?;
        bearer.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // A server that stops answering mid-request fails as unavailable instead of
            // hanging; `STOWAGE_READ_TIMEOUT_SECS` shortens it (tests with a stalled server).
            .read_timeout(Duration::from_secs(
                std::env::var("STOWAGE_READ_TIMEOUT_SECS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .filter(|&s: &u64| s > 0)
                    .unwrap_or(300),
            ))
            .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| transport_error(e, "creating the HTTP client"))?;
        Ok(SupabaseStore {
            api: api_base(config.url.as_str()),
            http,
            apikey,
            bearer,
            resume: config.resume_dir.map(ResumeStore::new),
            max_object_size: config.max_object_size,
        })
    }

    /// The API base URL (`{url}/storage/v1`).
    pub fn api_url(&self) -> &str {
        &self.api
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .header("apikey", self.apikey.clone())
            .header(AUTHORIZATION, self.bearer.clone())
    }

    /// Send, and turn an error answer into a typed error naming `bucket` and `key`; a
    /// TooLarge answer gets the bucket's limit.
    async fn send(
        &self,
        req: RequestBuilder,
        what: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<Response> {
        match self.send_raw(req, what, bucket, key).await {
            Err(e) if e.kind == (ErrorKind::TooLarge { limit: None }) => {
                Err(self.with_bucket_limit(e, bucket).await)
            }
            Err(e) if e.kind == ErrorKind::NotFound && e.message.contains("Bucket not found") => {
                Err(self.refused_key_or(e, bucket, key).await)
            }
            other => other,
        }
    }

    /// Send; a request that can be repeated safely (GET, HEAD, DELETE, PUT with a body in
    /// memory) is retried twice, after 250 ms and 500 ms, when the answer is a transient
    /// failure (5xx, 429, connection trouble): a short burst of errors is not a failure.
    async fn send_raw(
        &self,
        req: RequestBuilder,
        what: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<Response> {
        let mut req = req;
        let mut attempt = 0u32;
        loop {
            let again = req.try_clone().filter(|r| {
                r.try_clone().and_then(|r| r.build().ok()).is_some_and(|r| {
                    matches!(
                        *r.method(),
                        Method::GET | Method::HEAD | Method::DELETE | Method::PUT
                    )
                })
            });
            match self.send_once(req, what, bucket, key).await {
                Err(e) if e.kind == ErrorKind::Unavailable && attempt < 2 && again.is_some() => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 << (attempt - 1))).await;
                    req = again.expect("checked");
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        req: RequestBuilder,
        what: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<Response> {
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(e, what).at(bucket, key))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let mut err = api_error(status, &body).at(bucket, key);
        err.message = format!("{what}: {}", err.message);
        if err.kind == ErrorKind::Unavailable
            && status == StatusCode::INTERNAL_SERVER_ERROR
            && key.is_some_and(|k| k.split('/').any(|s| s.len() > 255))
        {
            // The file backend fails on such a name every time: retrying cannot help.
            err.kind = ErrorKind::InvalidKey;
            err = err.hint("the key has a segment longer than 255 characters, which Supabase's file backend cannot store; shorten that part of the key");
        }
        Err(err)
    }

    /// Send `req` and read its JSON answer (errors mapped as by [`Self::send`]).
    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        req: RequestBuilder,
        what: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<T> {
        let resp = self.send(req, what, bucket, key).await?;
        self.json(resp, what, bucket, key).await
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: Response,
        what: &str,
        bucket: &str,
        key: Option<&str>,
    ) -> Result<T> {
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport_error(e, what).at(bucket, key))?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                PROVIDER,
                format!("{what}: the server's answer was not the JSON expected ({e})"),
            )
            .at(bucket, key)
            .hint("check that the profile's url is the project URL of a Supabase project")
        })
    }

    fn too_large(&self, path: &ObjectPath, size: u64) -> Result<()> {
        match self.max_object_size {
            Some(limit) if size > limit => Err(Error::new(
                ErrorKind::TooLarge { limit: Some(limit) },
                PROVIDER,
                format!("the upload is {size} bytes, more than the configured max_object_size"),
            )
            .at(&path.bucket, Some(path.key.as_str()))
            .hint("raise the profile's max_object_size, or upload a smaller object")),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Store for SupabaseStore {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn check_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(PROVIDER, name)
    }

    fn check_key(&self, key: &Key) -> Result<()> {
        if key.is_portable() {
            Ok(())
        } else {
            Err(invalid_key_error(key))
        }
    }

    async fn create_bucket(&self, name: &str, options: &BucketOptions) -> Result<()> {
        validate_bucket(PROVIDER, name)?;
        let mut body = json!({ "name": name, "id": name, "public": options.public });
        if let Some(limit) = options.file_size_limit {
            body["file_size_limit"] = json!(limit);
        }
        if !options.allowed_mime_types.is_empty() {
            body["allowed_mime_types"] = json!(options.allowed_mime_types);
        }
        let url = format!("{}/bucket", self.api);
        self.send(
            self.request(Method::POST, &url).json(&body),
            "creating the bucket",
            name,
            None,
        )
        .await?;
        Ok(())
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let url = format!("{}/bucket", self.api);
        let resp = self
            .request(Method::GET, &url)
            .send()
            .await
            .map_err(|e| transport_error(e, "listing buckets"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.bytes().await.unwrap_or_default();
            let mut e = api_error(status, &body);
            e.message = format!("listing buckets: {}", e.message);
            return Err(e);
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport_error(e, "listing buckets"))?;
        let rows: Vec<BucketRow> = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                PROVIDER,
                format!("listing buckets: the server's answer was not the JSON expected ({e})"),
            )
            .hint("check that the profile's url is the project URL of a Supabase project")
        })?;
        let mut out: Vec<BucketInfo> = rows
            .into_iter()
            .map(|r| BucketInfo {
                name: r.id.unwrap_or(r.name),
                public: r.public,
                created: parse_time(r.created_at.as_deref()),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        validate_bucket(PROVIDER, name)?;
        let url = bucket_url(&self.api, "bucket", name);
        let mut cleared = false;
        loop {
            let result = self
                .send(
                    self.request(Method::DELETE, &url),
                    "deleting the bucket",
                    name,
                    None,
                )
                .await;
            return match result {
                Ok(_) => Ok(()),
                Err(e) if e.kind == ErrorKind::Conflict => {
                    Err(Error::bucket_not_empty(PROVIDER, name))
                }
                Err(e)
                    if e.kind == ErrorKind::NotFound
                        && e.message.to_lowercase().contains(RELATED_MISSING) =>
                {
                    if !cleared && self.clear_phantom_folders(name).await? > 0 {
                        cleared = true;
                        continue;
                    }
                    Err(Error::new(
                        ErrorKind::Conflict,
                        PROVIDER,
                        format!("deleting the bucket: {}", e.message),
                    )
                    .bucket(name)
                    .hint("the bucket still holds a folder entry left by an object whose key ended in `/`; upload an object into that folder and delete it, then try again"))
                }
                Err(e) => Err(e),
            };
        }
    }

    async fn put(
        &self,
        path: &ObjectPath,
        source: PutSource,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.check_key(&path.key)?;
        validate_bucket(PROVIDER, &path.bucket)?;
        // Refuse what is known to be too big before reading it.
        let known = match &source {
            PutSource::Bytes(b) => Some(b.len() as u64),
            PutSource::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            PutSource::Reader { size, .. } => *size,
        };
        if let Some(size) = known {
            self.too_large(path, size)?;
        }
        let prepared = prepare(source, STANDARD_UPLOAD_LIMIT, options).await?;
        let (size, sha256) = (prepared.size(), prepared.sha256().to_string());
        self.too_large(path, size)?;
        let resumed_from = match &prepared {
            Prepared::Memory { data, sha256 } => {
                self.put_standard(path, data.clone(), sha256, options)
                    .await?;
                0
            }
            Prepared::File(file) => self.put_tus(path, file, options).await?,
        };
        // Verification: the size is what the server recorded; the SHA-256 is checked as
        // cheaply as soundness allows.
        // * A standard upload is one request: the server stores all of the body or nothing,
        //   and the row it reports carries the SHA-256 we sent with that very body
        //   (`x-metadata`), so a matching size and recorded SHA-256 identify our write.
        // * A TUS upload sends the same SHA-256 in Upload-Metadata `metadata`, which
        //   supabase/storage keeps as user metadata since v1.11 (custom metadata, PR #518;
        //   the recorded v1.26.5 is later, though the recording never sent it). The upload
        //   URL is bound to this SHA-256 and size by its resume record, and the server
        //   refuses chunks at any offset but its own, so every byte it holds came from
        //   content with this hash; a matching recorded SHA-256 and size verify it like a
        //   standard upload.
        // * A server that keeps no user metadata for TUS uploads leaves nothing to compare
        //   (TUS here has no `checksum` extension either), so the object is downloaded
        //   again, streamed and hashed (memory stays flat; the cost is one download).
        let meta = self
            .info(path)
            .await
            .map_err(|e| e.hint("the upload was not counted as done; run the command again"))?;
        let record_id = match &prepared {
            Prepared::File(f) => self.record_id(f, path),
            Prepared::Memory { .. } => None,
        };
        let forget = || {
            if let (Some(store), Some(id)) = (&self.resume, &record_id) {
                store.remove(id);
            }
        };
        let mismatch = |found: (u64, Option<&str>)| {
            crate::integrity_error(PROVIDER, path, (size, &sha256), found)
        };
        if meta.size != size {
            forget();
            return Err(mismatch((meta.size, meta.sha256.as_deref())));
        }
        match (&prepared, meta.sha256.as_deref()) {
            (_, Some(recorded)) if recorded == sha256 => forget(),
            (Prepared::File(_), None) => {
                let (stored_size, stored_sha) = self.hash_stored(path).await?;
                forget();
                if stored_size != size || stored_sha != sha256 {
                    return Err(mismatch((stored_size, Some(&stored_sha))));
                }
            }
            (_, recorded) => {
                forget();
                return Err(mismatch((meta.size, recorded)));
            }
        }
        Ok(PutResult {
            size,
            sha256,
            etag: meta.etag,
            resumed_from,
        })
    }

    async fn get(&self, path: &ObjectPath, range: Option<ByteRange>) -> Result<GetResult> {
        self.check_key(&path.key)?;
        let key = Some(path.key.as_str());
        let url = object_url(&self.api, "object", &path.bucket, path.key.as_str());
        // The object's metadata first: it has the recorded SHA-256, and the size lets us send
        // only satisfiable, bounded ranges (the server fails on `bytes=-N` and closes the
        // connection on unsatisfiable ranges).
        let mut attempt = 0;
        loop {
            attempt += 1;
            let meta = self.info(path).await?;
            let r = match range {
                None => 0..meta.size,
                Some(r) => r.resolve(meta.size).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Other,
                        PROVIDER,
                        format!(
                            "range {} is outside the object ({} bytes)",
                            r.header(),
                            meta.size
                        ),
                    )
                    .at(&path.bucket, key)
                    .hint("check the object's size with `stowage ls` and ask for a range inside it")
                })?,
            };
            if r.start == r.end {
                return Ok(GetResult {
                    meta,
                    range: r,
                    body: stream::empty().boxed(),
                });
            }
            let partial = r.start != 0 || r.end != meta.size;
            let mut req = self.request(Method::GET, &url);
            if partial {
                req = req.header(RANGE, format!("bytes={}-{}", r.start, r.end - 1));
            }
            let resp = self.send(req, "downloading", &path.bucket, key).await?;
            let etag = header_str(resp.headers(), ETAG.as_str()).map(clean_etag);
            if let (Some(a), Some(b)) = (&meta.etag, &etag) {
                if a != b {
                    // Replaced between the two requests: read the new version instead.
                    if attempt < 3 {
                        continue;
                    }
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        PROVIDER,
                        "the object changed while it was being read",
                    )
                    .at(&path.bucket, key)
                    .hint("retry once nothing is writing to it"));
                }
            }
            if partial && resp.status() != StatusCode::PARTIAL_CONTENT {
                return Err(Error::new(
                    ErrorKind::Other,
                    PROVIDER,
                    format!(
                        "asked for bytes {}..{} but the server answered HTTP {} without a range",
                        r.start,
                        r.end,
                        resp.status().as_u16()
                    ),
                )
                .at(&path.bucket, key));
            }
            let mut meta = meta;
            if meta.last_modified.is_none() {
                meta.last_modified = parse_http_date(header_str(resp.headers(), "last-modified"));
            }
            let expected = r.end - r.start;
            let (bucket, k) = (path.bucket.clone(), path.key.to_string());
            let body = Box::pin(resp.bytes_stream());
            let body = stream::unfold((body, 0u64, false), move |(mut body, mut got, done)| {
                let (bucket, k) = (bucket.clone(), k.clone());
                async move {
                    if done {
                        return None;
                    }
                    let fail = |msg: String| {
                        Error::new(ErrorKind::Unavailable, PROVIDER, msg)
                            .bucket(bucket.clone())
                            .key(k.clone())
                            .hint("the download was cut off; retry")
                    };
                    match body.next().await {
                        Some(Ok(chunk)) => {
                            got += chunk.len() as u64;
                            if got > expected {
                                let e = fail(format!(
                                    "the server sent more than the {expected} bytes asked for"
                                ));
                                Some((Err(e), (body, got, true)))
                            } else {
                                Some((Ok(chunk), (body, got, false)))
                            }
                        }
                        Some(Err(e)) => {
                            let e = transport_error(e, "downloading").at(&bucket, Some(k.as_str()));
                            Some((Err(e), (body, got, true)))
                        }
                        None if got < expected => {
                            let e = fail(format!(
                                "the download ended after {got} of {expected} bytes"
                            ));
                            Some((Err(e), (body, got, true)))
                        }
                        None => None,
                    }
                }
            })
            .boxed();
            return Ok(GetResult {
                meta,
                range: r,
                body,
            });
        }
    }

    async fn head(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        self.check_key(&path.key)?;
        self.info(path).await
    }

    fn list(&self, bucket: &str, options: ListOptions) -> BoxStream<'_, Result<ListEntry>> {
        let prefix = match parse_prefix(&options.prefix) {
            Ok(p) => p,
            Err(e) => return stream::iter(vec![Err(e.bucket(bucket))]).boxed(),
        };
        if let Err(e) = validate_bucket(PROVIDER, bucket) {
            return stream::iter(vec![Err(e)]).boxed();
        }
        // The list API works one folder at a time: `prefix` names the folder and `search`
        // the start of names in it.
        let (folder, partial) = match prefix.rsplit_once('/') {
            Some((f, p)) => (f.to_string(), p.to_string()),
            None => (String::new(), prefix.clone()),
        };
        let state = ListState {
            bucket: bucket.to_string(),
            folder,
            partial,
            delimiter: options.delimiter,
            page: options.page_size.unwrap_or(DEFAULT_PAGE).max(1),
            started: false,
            done: false,
            emitted: 0,
            stack: Vec::new(),
        };
        stream::unfold(state, move |mut st| async move {
            let item = self.next_list_entry(&mut st).await?;
            Some((item, st))
        })
        .boxed()
    }

    async fn delete(&self, path: &ObjectPath) -> Result<()> {
        self.check_key(&path.key)?;
        let url = object_url(&self.api, "object", &path.bucket, path.key.as_str());
        match self
            .send(
                self.request(Method::DELETE, &url),
                "deleting",
                &path.bucket,
                Some(path.key.as_str()),
            )
            .await
        {
            Ok(_) => Ok(()),
            // A missing object is not an error; a missing bucket is.
            Err(e) if e.kind == ErrorKind::NotFound => {
                if e.message.contains("Bucket not found") {
                    self.require_bucket(&path.bucket).await
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn delete_many(&self, bucket: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>> {
        validate_bucket(PROVIDER, bucket)?;
        let mut failures = Vec::new();
        let mut sendable = Vec::with_capacity(keys.len());
        for key in keys {
            match self.check_key(key) {
                Ok(()) => sendable.push(key),
                Err(e) => failures.push((key.clone(), e.bucket(bucket))),
            }
        }
        let url = bucket_url(&self.api, "object", bucket);
        let mut checked_bucket = false;
        for chunk in sendable.chunks(DELETE_BATCH) {
            let names: Vec<&str> = chunk.iter().map(|k| k.as_str()).collect();
            let rows: Vec<Value> = self
                .send_json(
                    self.request(Method::DELETE, &url)
                        .json(&json!({ "prefixes": names })),
                    "deleting objects",
                    bucket,
                    None,
                )
                .await?;
            // Missing keys are skipped silently by the server, and so is a missing bucket:
            // when fewer rows come back than keys went out, make sure the bucket exists.
            if rows.len() < chunk.len() && !checked_bucket {
                checked_bucket = true;
                self.require_bucket(bucket).await?;
            }
        }
        Ok(failures)
    }

    async fn copy(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        self.check_key(&from.key)?;
        self.check_key(&to.key)?;
        let body = json!({
            "bucketId": from.bucket,
            "sourceKey": from.key.as_str(),
            "destinationBucket": to.bucket,
            "destinationKey": to.key.as_str(),
        });
        let url = format!("{}/object/copy", self.api);
        let mut req = self.request(Method::POST, &url).json(&body);
        if overwrite {
            req = req.header("x-upsert", "true");
        }
        match self
            .send(req, "copying", &from.bucket, Some(from.key.as_str()))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(destination_error(e, to)),
        }
    }

    async fn rename(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        self.check_key(&from.key)?;
        self.check_key(&to.key)?;
        if from == to {
            return Err(Error::new(
                ErrorKind::Conflict,
                PROVIDER,
                "source and destination are the same",
            )
            .at(&from.bucket, Some(from.key.as_str())));
        }
        match self.move_object(from, to).await {
            Ok(()) => Ok(()),
            // The server ignores x-upsert on move: replace by copying over the destination,
            // checking the copy, and only then deleting the source.
            Err(e) if e.kind == ErrorKind::AlreadyExists && overwrite => {
                let source = self.info(from).await?;
                self.copy(from, to, true).await?;
                let copied = self.info(to).await?;
                let same_sha = match (&source.sha256, &copied.sha256) {
                    (Some(a), Some(b)) => a == b,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                let same_etag = match (&source.etag, &copied.etag) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                if copied.size != source.size || !same_sha || !same_etag {
                    return Err(crate::integrity_error(
                        PROVIDER,
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
            Err(e) => Err(e),
        }
    }

    async fn signed_url(
        &self,
        path: &ObjectPath,
        method: UrlMethod,
        expires: Duration,
    ) -> Result<String> {
        self.check_key(&path.key)?;
        let key = Some(path.key.as_str());
        match method {
            // The batch endpoint signs the raw key; the single-object one signs it still
            // percent-encoded, and its URLs fail for keys with `$ & + , : ; = ? @`.
            UrlMethod::Get => {
                let answers = self
                    .signed_urls(&path.bucket, std::slice::from_ref(&path.key), expires)
                    .await?;
                match answers.into_iter().next() {
                    Some((_, Ok(url))) => Ok(url),
                    Some((_, Err(e))) => {
                        // The batch answer does not say whether the object or the key is
                        // at fault; the object's metadata does.
                        self.info(path).await?;
                        Err(e)
                    }
                    None => Err(Error::new(
                        ErrorKind::Other,
                        PROVIDER,
                        "the server's answer has no signedURL",
                    )
                    .at(&path.bucket, key)),
                }
            }
            UrlMethod::Put => {
                // Supabase decides how long signed upload URLs live (`expires` cannot be
                // passed), and they create the object only if it does not exist yet.
                let url = object_url(
                    &self.api,
                    "object/upload/sign",
                    &path.bucket,
                    path.key.as_str(),
                );
                let v: Value = self
                    .send_json(
                        self.request(Method::POST, &url),
                        "signing an upload URL",
                        &path.bucket,
                        key,
                    )
                    .await?;
                let rel = v.get("url").and_then(Value::as_str).ok_or_else(|| {
                    Error::new(ErrorKind::Other, PROVIDER, "the server's answer has no url")
                        .at(&path.bucket, key)
                })?;
                Ok(signed_url_for(
                    &self.api,
                    "object/upload/sign",
                    &path.bucket,
                    path.key.as_str(),
                    rel,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn keys_outside_supabases_set_are_refused_before_any_request() {
        let store = SupabaseStore::new(SupabaseConfig {
            url: "http://127.0.0.1:9".into(),
            key: "planted-secret-key".into(),
            resume_dir: None,
            max_object_size: None,
        })
        .unwrap();
        for bad in ["unicode/ü.txt", "100%.txt", "a<b", "hash#.txt"] {
            let e = store.check_key(&Key::parse(bad).unwrap()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidKey, "{bad}");
            let s = e.to_string();
            assert!(s.contains("ASCII letters, digits"), "{s}");
            assert!(s.contains(bad), "{s}");
        }
        assert!(store
            .check_key(&Key::parse("special/a+b=c&d;e,f@g$h!(i)'j*k:l?.txt").unwrap())
            .is_ok());
    }

    #[test]
    fn the_key_never_prints() {
        let config = SupabaseConfig {
            url: "https://ref.supabase.co".into(),
            key: "planted-secret-key".into(),
            resume_dir: None,
            max_object_size: Some(5),
        };
        assert!(!format!("{config:?}").contains("planted"));
        let store = SupabaseStore::new(config).unwrap();
        let s = format!("{store:?}");
        assert!(!s.contains("planted"), "{s}");
        assert!(s.contains("ref.supabase.co"), "{s}");
        assert!(store.bearer.is_sensitive() && store.apikey.is_sensitive());
        let e = SupabaseStore::new(SupabaseConfig {
            url: "https://ref.supabase.co".into(),
            key: "bad\nplanted-secret".into(),
            resume_dir: None,
            max_object_size: None,
        })
        .unwrap_err();
        assert!(!e.to_string().contains("planted"), "{e}");
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert!(SupabaseStore::new(SupabaseConfig {
            url: "ftp://x".into(),
            key: "k".into(),
            resume_dir: None,
            max_object_size: None,
        })
        .is_err());
    }

    #[tokio::test]
    async fn unreachable_server_is_unavailable_and_names_the_object() {
        let store = SupabaseStore::new(SupabaseConfig {
            url: "http://127.0.0.1:9".into(),
            key: "planted-secret-key".into(),
            resume_dir: None,
            max_object_size: Some(3),
        })
        .unwrap();
        let path = ObjectPath::new("data", "a b.txt").unwrap();
        let e = store.head(&path).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable, "{e}");
        let s = e.to_string();
        assert!(
            s.contains("`data/a b.txt`") && !s.contains("planted"),
            "{s}"
        );
        assert!(e.is_retryable());
        let e = store
            .put(
                &path,
                Bytes::from_static(b"four").into(),
                &PutOptions::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge { limit: Some(3) }, "{e}");
    }
}
