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

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, RANGE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{parse_prefix, validate_supabase_bucket as validate_bucket};
use crate::resume::ResumeStore;
use crate::source::{prepare, Prepared, PreparedFile, PutSource};
use crate::{
    BucketInfo, BucketOptions, ByteRange, DeleteFailure, GetResult, Key, ListEntry, ListOptions,
    ObjectMeta, ObjectPath, PutOptions, PutResult, Store, TransferEvent, UrlMethod,
};

const PROVIDER: &str = "supabase";
/// Uploads up to this size go in one standard request; larger ones use TUS.
pub const STANDARD_UPLOAD_LIMIT: u64 = 6_000_000;
/// The TUS chunk size Supabase expects (every chunk but the last).
pub const TUS_CHUNK: u64 = 6 * 1024 * 1024;
const TUS_VERSION: &str = "1.0.0";
const USER_METADATA_SHA256: &str = "sha256";
/// Keys per bulk delete request.
const DELETE_BATCH: usize = 1000;
/// Entries per list request when the caller does not say.
const DEFAULT_PAGE: u32 = 1000;
/// Attempts for one TUS chunk when the connection fails.
const TUS_ATTEMPTS: u32 = 3;
/// The content type sent when the caller gives none (both upload paths send one).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// Recorded from the real server: copy/move into a missing bucket, and deleting a bucket
/// that still has a phantom folder entry.
const RELATED_MISSING: &str = "the related resource does not exist";
const PORTABLE_HINT: &str = "Supabase accepts only ASCII letters, digits and `_/!-.*'() &$@=;:+,?` in keys; rename the object (e.g. transliterate unicode and replace other characters with `-`), or use an S3 or local profile, which accept any key";

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

/// What is remembered of an interrupted TUS upload.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
struct TusRecord {
    /// The upload URL (under our API base).
    url: String,
    size: u64,
    sha256: String,
    /// Whether the upload was created with `x-upsert: true`.
    upsert: bool,
}

/// One row of `POST /object/list/{bucket}`.
#[derive(Deserialize, Debug)]
struct ListRow {
    name: String,
    id: Option<String>,
    updated_at: Option<String>,
    metadata: Option<Value>,
}

/// `GET /object/info/{bucket}/{key}`.
#[derive(Deserialize, Debug)]
struct InfoBody {
    size: Option<u64>,
    content_type: Option<String>,
    etag: Option<String>,
    metadata: Option<Value>,
    last_modified: Option<String>,
    updated_at: Option<String>,
}

/// `GET /bucket` rows and `GET /bucket/{id}`.
#[derive(Deserialize, Debug)]
struct BucketRow {
    #[serde(default)]
    id: Option<String>,
    name: String,
    public: Option<bool>,
    file_size_limit: Option<Value>,
    created_at: Option<String>,
    #[serde(default)]
    allowed_mime_types: Option<Vec<String>>,
}

/// A level of a listing, folders and objects in byte order of their full names.
enum LevelEntry {
    /// A folder's full path, without the trailing `/`.
    Folder(String),
    Object(ObjectMeta),
}

impl LevelEntry {
    fn sort_name(&self) -> String {
        match self {
            LevelEntry::Folder(p) => format!("{p}/"),
            LevelEntry::Object(m) => m.key.as_str().to_string(),
        }
    }
}

struct ListState {
    bucket: String,
    /// The folder the prefix names fully (no trailing `/`) and the rest of it.
    folder: String,
    partial: String,
    delimiter: bool,
    page: u32,
    started: bool,
    done: bool,
    emitted: u64,
    stack: Vec<std::collections::VecDeque<LevelEntry>>,
}

// ---------------------------------------------------------------------------------------------
// Pure helpers: URLs, metadata, error bodies.

/// Characters escaped in a path segment: everything but unreserved ASCII.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode a key segment by segment (`/` stays a separator).
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// `{api}/{route}/{bucket}/{key}` with bucket and key encoded.
fn object_url(api: &str, route: &str, bucket: &str, key: &str) -> String {
    format!(
        "{api}/{route}/{}/{}",
        utf8_percent_encode(bucket, SEGMENT),
        encode_key(key)
    )
}

/// `{api}/{route}/{bucket}`.
fn bucket_url(api: &str, route: &str, bucket: &str) -> String {
    format!("{api}/{route}/{}", utf8_percent_encode(bucket, SEGMENT))
}

/// The API base for a project URL: `{url}/storage/v1` (kept when already there).
fn api_base(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.ends_with("/storage/v1") {
        url.to_string()
    } else {
        format!("{url}/storage/v1")
    }
}

/// Make a URL the server returned relative to the API (`/object/sign/...`) absolute.
fn absolute_url(api: &str, returned: &str) -> String {
    if returned.starts_with("http://") || returned.starts_with("https://") {
        return returned.to_string();
    }
    let rel = returned.strip_prefix("/storage/v1").unwrap_or(returned);
    if rel.starts_with('/') {
        format!("{api}{rel}")
    } else {
        format!("{api}/{rel}")
    }
}

/// The token of a signed URL the server returned (`...?token=JWT`).
fn signed_token(returned: &str) -> Option<&str> {
    let (_, rest) = returned.rsplit_once("token=")?;
    let token = rest.split(['&', '#']).next()?;
    (!token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=".contains(c)))
    .then_some(token)
}

/// The absolute signed URL for `route` (`object/sign`, `object/upload/sign`) of an object.
/// The server writes the key into the URL it returns without escaping it, so a key with `?`,
/// `#` or `%` would break that URL; the token is taken from it and the URL rebuilt with the
/// key encoded (the server decodes the path before comparing it with the token's claim).
fn signed_url_for(api: &str, route: &str, bucket: &str, key: &str, returned: &str) -> String {
    match signed_token(returned) {
        Some(token) => format!("{}?token={token}", object_url(api, route, bucket, key)),
        None => absolute_url(api, returned),
    }
}

/// The upload id of a TUS `Location` (absolute or relative), i.e. what follows
/// `/upload/resumable/`. The upload URL is rebuilt under our own API base, so the key is
/// never sent to a host the server named (self-hosted servers behind a proxy often name an
/// internal one).
fn tus_upload_id(location: &str) -> Option<&str> {
    let (_, rest) = location.split_once("/upload/resumable/")?;
    let id = rest.split(['?', '#']).next()?.trim_end_matches('/');
    (!id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.~".contains(c)))
    .then_some(id)
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The `x-metadata` header of a standard upload: base64 of `{"sha256": "..."}`.
fn user_metadata_header(sha256: &str) -> String {
    b64(json!({ USER_METADATA_SHA256: sha256 })
        .to_string()
        .as_bytes())
}

/// The TUS `Upload-Metadata` header: `key base64,key base64,...`. `metadata` carries the
/// user metadata (JSON) for servers that keep it.
fn tus_metadata_header(
    bucket: &str,
    key: &str,
    content_type: Option<&str>,
    sha256: &str,
) -> String {
    let mut parts = vec![
        format!("bucketName {}", b64(bucket.as_bytes())),
        format!("objectName {}", b64(key.as_bytes())),
    ];
    if let Some(ct) = content_type {
        parts.push(format!("contentType {}", b64(ct.as_bytes())));
    }
    parts.push(format!(
        "metadata {}",
        b64(json!({ USER_METADATA_SHA256: sha256 })
            .to_string()
            .as_bytes())
    ));
    parts.join(",")
}

/// The SHA-256 recorded in an object's user metadata, if it looks like one.
fn recorded_sha256(metadata: Option<&Value>) -> Option<String> {
    let v = metadata?.get(USER_METADATA_SHA256)?.as_str()?;
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

fn parse_time(s: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s?, &time::format_description::well_known::Rfc3339).ok()
}

fn parse_http_date(s: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s?, &time::format_description::well_known::Rfc2822).ok()
}

/// A size limit as the server writes it: a number, or a numeric string.
fn parse_limit(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn clean_etag(s: &str) -> String {
    s.trim_start_matches("W/").trim_matches('"').to_string()
}

/// Server text fit for a message: no control characters, bounded length.
fn tidy(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "statusCode")]
    status_code: Option<Value>,
    error: Option<String>,
    message: Option<String>,
    #[serde(default)]
    msg: Option<String>,
}

/// Map an error answer (HTTP status and body) to a typed error. Handles the JSON form of the
/// REST API (HTTP 400 with the real code as `statusCode`), the text bodies of TUS (real HTTP
/// codes), empty bodies (HEAD) and the gateway's own answers.
pub(crate) fn api_error(status: StatusCode, body: &[u8]) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let text = tidy(&String::from_utf8_lossy(body));
    let (code, label, message) = match &parsed {
        Some(b) => {
            let code = match &b.status_code {
                Some(Value::String(s)) => s.parse::<u16>().ok(),
                Some(Value::Number(n)) => n.as_u64().map(|n| n as u16),
                _ => None,
            };
            (
                code.unwrap_or(status.as_u16()),
                b.error.clone().map(|s| tidy(&s)),
                tidy(b.message.as_deref().or(b.msg.as_deref()).unwrap_or("")),
            )
        }
        None => (status.as_u16(), None, text.clone()),
    };
    // Server failures keep their HTTP code; trust it over the body.
    let code = if status.is_server_error() {
        status.as_u16()
    } else {
        code
    };
    let mut shown = match (&label, message.is_empty()) {
        (Some(l), false) if *l != message => format!("{message} ({l})"),
        (Some(l), true) => l.clone(),
        (_, false) => message.clone(),
        (None, true) => String::new(),
    };
    if code != status.as_u16() {
        shown = format!("{shown} [HTTP {}, statusCode {code}]", status.as_u16());
    } else {
        shown = format!("{shown} [HTTP {code}]").trim_start().to_string();
    }
    let lower = format!("{} {}", label.as_deref().unwrap_or(""), message).to_lowercase();
    let (kind, hint): (ErrorKind, Option<&str>) = match code {
        _ if status.is_server_error() => (ErrorKind::Unavailable, None),
        // HEAD on a missing object: HTTP 400 and no body at all.
        400 if body.is_empty() => (ErrorKind::NotFound, None),
        404 | 410 => (ErrorKind::NotFound, None),
        409 if lower.contains("duplicate") || lower.contains("already exists") => {
            (ErrorKind::AlreadyExists, None)
        }
        409 => (ErrorKind::Conflict, None),
        401 | 403 => (ErrorKind::Unauthorized, Some("check SUPABASE_SERVICE_ROLE_KEY (a service-role or anon JWT of this project) and that its role may use this bucket (row-level security)")),
        413 => (
            ErrorKind::TooLarge { limit: None },
            Some("raise the bucket's file_size_limit in Supabase, and the project's global upload limit (Storage settings); uploads above 6 MB already go resumable (TUS), which the standard-upload cap does not apply to"),
        ),
        415 => (
            ErrorKind::Other,
            Some("the bucket accepts only its allowed_mime_types, compared exactly (`text/plain; charset=utf-8` is not `text/plain`); pass a content type it allows, or change the bucket's allowed_mime_types in Supabase"),
        ),
        400 if lower.contains("invalidkey") || lower.contains("invalid key") => {
            (ErrorKind::InvalidKey, Some(PORTABLE_HINT))
        }
        400 if lower.contains("required property 'authorization'") => (
            ErrorKind::Unauthorized,
            Some("set SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY) to the project's key"),
        ),
        400 if lower.contains("bucket name invalid") => (
            ErrorKind::InvalidKey,
            Some("choose a bucket name like `ml-artifacts`"),
        ),
        _ => (ErrorKind::Other, None),
    };
    let mut err = Error::new(kind, PROVIDER, format!("the server answered: {shown}"));
    if let Some(h) = hint {
        err = err.hint(h);
    }
    err
}

/// A failed request (no answer): connection, timeout, body. The URL is dropped first — signed
/// URLs carry tokens.
fn transport_error(err: reqwest::Error, what: &str) -> Error {
    let err = err.without_url();
    let kind = if err.is_builder() || err.is_redirect() {
        ErrorKind::Other
    } else {
        ErrorKind::Unavailable
    };
    let mut msg = format!("{what}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    let mut e = Error::new(kind, PROVIDER, tidy(&msg));
    if kind == ErrorKind::Unavailable {
        e = e.hint("check the network and the project URL, then retry");
    }
    e
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

fn invalid_key_error(key: &Key) -> Error {
    let bad: String = key
        .as_str()
        .chars()
        .filter(|c| !crate::key::is_portable_char(*c))
        .take(8)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    Error::new(
        ErrorKind::InvalidKey,
        PROVIDER,
        format!("Supabase Storage cannot hold this key (it contains `{bad}`)"),
    )
    .key(key.as_str())
    .hint(PORTABLE_HINT)
}

// ---------------------------------------------------------------------------------------------

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

    /// The server answers object requests made with a key it does not accept as "Bucket not
    /// found" (they run as `anon`). A bucket lookup needs a valid key: when it is refused,
    /// the key is the problem, not the bucket.
    async fn refused_key_or(&self, not_found: Error, bucket: &str, key: Option<&str>) -> Error {
        match self.bucket_row(bucket).await {
            Err(e) if e.kind == ErrorKind::Unauthorized => {
                let mut e = e.at(bucket, key);
                e.message = format!(
                    "the project's key was refused (Supabase answers object requests made with a key it does not accept as if the bucket were missing); {}",
                    e.message
                );
                e
            }
            Ok(None) => {
                let mut e = not_found;
                e.message = format!(
                    "{}; the bucket does not exist (or this key's role may not see it)",
                    e.message
                );
                e.hint(format!(
                    "check the bucket name (`stowage buckets ls` lists them), or create it with `stowage buckets create {bucket}`"
                ))
            }
            _ => not_found,
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

    /// Fill in a TooLarge error's limit from the bucket's `file_size_limit`, when it has one.
    async fn with_bucket_limit(&self, mut err: Error, bucket: &str) -> Error {
        if let Ok(Some(row)) = self.bucket_row(bucket).await {
            if let Some(limit) = parse_limit(row.file_size_limit.as_ref()) {
                err.kind = ErrorKind::TooLarge { limit: Some(limit) };
                err.message = format!(
                    "{}; bucket `{bucket}` accepts objects of at most {limit} bytes",
                    err.message
                );
                err = err.hint(format!(
                    "raise the bucket's file_size_limit (now {limit} bytes) in Supabase, or upload a smaller object"
                ));
            }
        }
        err
    }

    /// The bucket's row, or None when it does not exist.
    async fn bucket_row(&self, bucket: &str) -> Result<Option<BucketRow>> {
        let url = bucket_url(&self.api, "bucket", bucket);
        match self
            .send_raw(
                self.request(Method::GET, &url),
                "reading the bucket",
                bucket,
                None,
            )
            .await
        {
            Ok(resp) => Ok(Some(
                self.json(resp, "reading the bucket", bucket, None).await?,
            )),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// NotFound unless the bucket exists.
    async fn require_bucket(&self, bucket: &str) -> Result<()> {
        match self.bucket_row(bucket).await? {
            Some(_) => Ok(()),
            None => Err(
                Error::new(ErrorKind::NotFound, PROVIDER, "the bucket does not exist")
                    .bucket(bucket),
            ),
        }
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

    /// `GET /object/info`: size, ETag, content type and the recorded SHA-256.
    async fn info(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        let url = object_url(&self.api, "object/info", &path.bucket, path.key.as_str());
        let key = Some(path.key.as_str());
        let info: InfoBody = self
            .send_json(
                self.request(Method::GET, &url),
                "reading the object's metadata",
                &path.bucket,
                key,
            )
            .await?;
        Ok(ObjectMeta {
            key: path.key.clone(),
            size: info.size.unwrap_or(0),
            last_modified: parse_time(info.last_modified.as_deref())
                .or_else(|| parse_time(info.updated_at.as_deref())),
            etag: info.etag.as_deref().map(clean_etag),
            sha256: recorded_sha256(info.metadata.as_ref()),
            content_type: info.content_type,
        })
    }

    // ----- uploads ---------------------------------------------------------------------------

    /// One `POST /object/{bucket}/{key}` with the SHA-256 as user metadata.
    async fn put_standard(
        &self,
        path: &ObjectPath,
        data: Bytes,
        sha256: &str,
        options: &PutOptions,
    ) -> Result<()> {
        let url = object_url(&self.api, "object", &path.bucket, path.key.as_str());
        let size = data.len() as u64;
        let content_type = options
            .content_type
            .as_deref()
            .unwrap_or(DEFAULT_CONTENT_TYPE);
        let mut req = self
            .request(Method::POST, &url)
            .header("x-metadata", user_metadata_header(sha256))
            .header(CONTENT_TYPE, content_type)
            .body(data);
        if options.overwrite {
            req = req.header("x-upsert", "true");
        }
        self.send(req, "uploading", &path.bucket, Some(path.key.as_str()))
            .await?;
        options.report(TransferEvent::Sent(size));
        Ok(())
    }

    fn tus_request(&self, method: Method, url: &str, upsert: bool) -> RequestBuilder {
        let req = self
            .request(method, url)
            .header("tus-resumable", TUS_VERSION);
        if upsert {
            req.header("x-upsert", "true")
        } else {
            req
        }
    }

    /// HEAD a TUS upload: its offset, or None when the server no longer knows it.
    async fn tus_offset(
        &self,
        url: &str,
        path: &ObjectPath,
        upsert: bool,
    ) -> Result<Option<(u64, Option<u64>)>> {
        let req = self.tus_request(Method::HEAD, url, upsert);
        match self
            .send(
                req,
                "checking the resumable upload",
                &path.bucket,
                Some(path.key.as_str()),
            )
            .await
        {
            Ok(resp) => {
                let h = resp.headers();
                let offset = header_str(h, "upload-offset").and_then(|s| s.parse().ok());
                let length = header_str(h, "upload-length").and_then(|s| s.parse().ok());
                match offset {
                    Some(o) => Ok(Some((o, length))),
                    None => Err(Error::new(
                        ErrorKind::Other,
                        PROVIDER,
                        "the resumable upload's HEAD answer has no Upload-Offset",
                    )
                    .at(&path.bucket, Some(path.key.as_str()))),
                }
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Terminate a TUS upload that will not be resumed (TUS DELETE), so its partial upload
    /// does not stay on the server. Best effort: an upload the server no longer knows is
    /// already gone, and any other failure only leaves what expiry will clean up.
    async fn tus_terminate(&self, url: &str, path: &ObjectPath, upsert: bool) {
        if !url.starts_with(&format!("{}/upload/resumable/", self.api)) {
            return;
        }
        let req = self.tus_request(Method::DELETE, url, upsert);
        match self
            .send_raw(
                req,
                "abandoning the resumable upload",
                &path.bucket,
                Some(path.key.as_str()),
            )
            .await
        {
            Ok(_) => tracing::debug!("terminated an abandoned resumable upload of {path}"),
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("the abandoned resumable upload of {path} stays on the server until it expires: {e}"),
        }
    }

    /// Create a TUS upload; returns its URL under our API base.
    async fn tus_create(
        &self,
        path: &ObjectPath,
        file: &PreparedFile,
        options: &PutOptions,
    ) -> Result<String> {
        let key = Some(path.key.as_str());
        let req = self
            .tus_request(
                Method::POST,
                &format!("{}/upload/resumable", self.api),
                options.overwrite,
            )
            .header("upload-length", file.size.to_string())
            .header(
                "upload-metadata",
                tus_metadata_header(
                    &path.bucket,
                    path.key.as_str(),
                    // Always named: without one, TUS would accept what a standard upload of
                    // the same file is refused (a bucket's allowed_mime_types).
                    Some(
                        options
                            .content_type
                            .as_deref()
                            .unwrap_or(DEFAULT_CONTENT_TYPE),
                    ),
                    &file.sha256,
                ),
            );
        let resp = self
            .send(req, "starting the resumable upload", &path.bucket, key)
            .await?;
        let location = header_str(resp.headers(), "location").unwrap_or("");
        let id = tus_upload_id(location).ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                PROVIDER,
                "the server did not say where to send the resumable upload (no usable Location header)",
            )
            .at(&path.bucket, key)
            .hint("check that the profile's url points at Supabase Storage")
        })?;
        Ok(format!("{}/upload/resumable/{id}", self.api))
    }

    /// The resume record of a file going to `path`, when resuming is possible. One record
    /// per destination, whichever file: the record holds the size and SHA-256 it is good for,
    /// so the next upload to the same place finds an upload left by other content (the file
    /// changed) and terminates it instead of leaving it on the server.
    fn record_id(&self, file: &PreparedFile, path: &ObjectPath) -> Option<String> {
        self.resume.as_ref()?;
        file.identity.as_ref()?;
        let destination = format!("supabase:{}/{}/{}", self.api, path.bucket, path.key);
        Some(ResumeStore::id("destination", &destination))
    }

    /// A TUS upload, resumed when an earlier attempt left a record. Returns the offset it
    /// resumed from.
    async fn put_tus(
        &self,
        path: &ObjectPath,
        file: &PreparedFile,
        options: &PutOptions,
    ) -> Result<u64> {
        let key = Some(path.key.as_str());
        let upsert = options.overwrite;
        let record_id = self.record_id(file, path);
        let resume = self.resume.as_ref();
        let mut url = None;
        let mut offset = 0;
        if let (Some(store), Some(id)) = (resume, &record_id) {
            if let Some(rec) = store.load::<TusRecord>(id) {
                let usable = rec.size == file.size
                    && rec.sha256 == file.sha256
                    // An upload created to replace may only go on if replacing is still
                    // asked for; one created without may always go on.
                    && (upsert || !rec.upsert)
                    && rec
                        .url
                        .starts_with(&format!("{}/upload/resumable/", self.api));
                if usable {
                    match self.tus_offset(&rec.url, path, upsert).await? {
                        Some((o, len)) if o <= file.size && len.is_none_or(|l| l == file.size) => {
                            url = Some(rec.url);
                            offset = o;
                        }
                        Some(_) => {
                            self.tus_terminate(&rec.url, path, rec.upsert).await;
                            store.remove(id);
                        }
                        None => store.remove(id),
                    }
                } else {
                    // Other content, or replacing no longer asked for: start over, and end
                    // the old upload so its partial upload does not stay on the server.
                    self.tus_terminate(&rec.url, path, rec.upsert).await;
                    store.remove(id);
                }
            }
        }
        let resumed_from = offset;
        let url = match url {
            Some(u) => {
                if offset > 0 {
                    options.report(TransferEvent::Resumed(offset));
                }
                u
            }
            None => {
                let u = self.tus_create(path, file, options).await?;
                if let (Some(store), Some(id)) = (resume, &record_id) {
                    let rec = TusRecord {
                        url: u.clone(),
                        size: file.size,
                        sha256: file.sha256.clone(),
                        upsert,
                    };
                    if let Err(e) = store.save(id, &rec) {
                        tracing::warn!(
                            "cannot remember the resumable upload, it will not resume: {e}"
                        );
                    }
                }
                u
            }
        };
        let mut failures = 0;
        while offset < file.size {
            if let Err(e) = file.check_unchanged() {
                // This upload can never be finished with the file as it now is.
                self.tus_terminate(&url, path, upsert).await;
                if let (Some(store), Some(id)) = (resume, &record_id) {
                    store.remove(id);
                }
                return Err(e);
            }
            let len = TUS_CHUNK.min(file.size - offset);
            let chunk = file.read_at(offset, len as usize).await?;
            let req = self
                .tus_request(Method::PATCH, &url, upsert)
                .header("upload-offset", offset.to_string())
                .header(CONTENT_TYPE, "application/offset+octet-stream")
                .body(chunk);
            match self.send(req, "uploading a chunk", &path.bucket, key).await {
                Ok(resp) => {
                    failures = 0;
                    let new = header_str(resp.headers(), "upload-offset")
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(offset + len);
                    if new <= offset || new > file.size {
                        return Err(Error::new(
                            ErrorKind::Other,
                            PROVIDER,
                            format!(
                                "the server reported offset {new} after a chunk sent at {offset}"
                            ),
                        )
                        .at(&path.bucket, key)
                        .hint(
                            "run the command again; the upload resumes from what the server holds",
                        ));
                    }
                    options.report(TransferEvent::Sent(new - offset));
                    offset = new;
                }
                // A lost connection or an offset conflict (a chunk that arrived after all):
                // ask the server where it stands and go on from there.
                Err(e)
                    if (e.kind == ErrorKind::Unavailable || e.kind == ErrorKind::Conflict)
                        && failures + 1 < TUS_ATTEMPTS =>
                {
                    failures += 1;
                    tracing::debug!("chunk at {offset} failed, asking the server: {e}");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(failures))).await;
                    match self.tus_offset(&url, path, upsert).await? {
                        Some((o, _)) if o <= file.size => offset = o,
                        _ => return Err(e),
                    }
                }
                Err(e) => {
                    if e.kind == ErrorKind::NotFound {
                        if let (Some(store), Some(id)) = (resume, &record_id) {
                            store.remove(id);
                        }
                    }
                    return Err(e.hint(
                        "run the command again; the upload resumes from the last stored chunk",
                    ));
                }
            }
        }
        Ok(resumed_from)
    }

    /// Download the object and hash it: the SHA-256 and size of what is stored.
    async fn hash_stored(&self, path: &ObjectPath) -> Result<(u64, String)> {
        let url = object_url(&self.api, "object", &path.bucket, path.key.as_str());
        let key = Some(path.key.as_str());
        let resp = self
            .send(
                self.request(Method::GET, &url),
                "verifying the upload",
                &path.bucket,
                key,
            )
            .await?;
        let mut body = resp.bytes_stream();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| transport_error(e, "verifying the upload").at(&path.bucket, key))?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((size, hex::encode(hasher.finalize())))
    }

    // ----- listing ---------------------------------------------------------------------------

    /// One folder level (`POST /object/list`), all pages, in byte order of full names.
    async fn list_level(
        &self,
        bucket: &str,
        folder: &str,
        search: &str,
        page: u32,
    ) -> Result<std::collections::VecDeque<LevelEntry>> {
        let url = bucket_url(&self.api, "object/list", bucket);
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let mut body = json!({
                "prefix": folder,
                "limit": page,
                "offset": offset,
                "sortBy": { "column": "name", "order": "asc" },
            });
            if !search.is_empty() {
                body["search"] = json!(search);
            }
            let rows: Vec<ListRow> = self
                .send_json(
                    self.request(Method::POST, &url).json(&body),
                    "listing",
                    bucket,
                    None,
                )
                .await?;
            let n = rows.len() as u64;
            for row in rows {
                // `search` is a case-insensitive LIKE on the server; keep exact matches only.
                // An empty name is an object whose key ends in `/`, which no Key can name.
                if row.name.is_empty() || !row.name.starts_with(search) {
                    continue;
                }
                let full = if folder.is_empty() {
                    row.name.clone()
                } else {
                    format!("{folder}/{}", row.name)
                };
                let Ok(key) = Key::parse(&full) else {
                    tracing::debug!("skipping a listed name no key can hold: {full:?}");
                    continue;
                };
                if row.id.is_none() {
                    out.push(LevelEntry::Folder(key.as_str().to_string()));
                    continue;
                }
                let m = row.metadata.as_ref();
                let get = |k: &str| m.and_then(|m| m.get(k));
                out.push(LevelEntry::Object(ObjectMeta {
                    key,
                    size: get("size")
                        .or_else(|| get("contentLength"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                    last_modified: parse_time(get("lastModified").and_then(Value::as_str))
                        .or_else(|| parse_time(row.updated_at.as_deref())),
                    etag: get("eTag").and_then(Value::as_str).map(clean_etag),
                    sha256: None,
                    content_type: get("mimetype").and_then(Value::as_str).map(str::to_string),
                }));
            }
            if n < u64::from(page) {
                break;
            }
            offset += n;
        }
        // Folders come first from the server; the trait wants byte order of full names.
        out.sort_by_cached_key(LevelEntry::sort_name);
        Ok(out.into())
    }

    async fn next_list_entry(&self, st: &mut ListState) -> Option<Result<ListEntry>> {
        if st.done {
            return None;
        }
        let fail = |st: &mut ListState, e: Error| {
            st.done = true;
            st.stack.clear();
            Some(Err(e))
        };
        if !st.started {
            st.started = true;
            match self
                .list_level(&st.bucket, &st.folder, &st.partial, st.page)
                .await
            {
                Ok(level) => st.stack.push(level),
                Err(e) => return fail(st, e),
            }
        }
        loop {
            let Some(top) = st.stack.last_mut() else {
                st.done = true;
                // The server lists a missing bucket as empty; say so instead.
                if st.emitted == 0 {
                    if let Err(e) = self.require_bucket(&st.bucket).await {
                        return Some(Err(e));
                    }
                }
                return None;
            };
            match top.pop_front() {
                None => {
                    st.stack.pop();
                }
                Some(LevelEntry::Object(m)) => {
                    st.emitted += 1;
                    return Some(Ok(ListEntry::Object(m)));
                }
                Some(LevelEntry::Folder(p)) if st.delimiter => {
                    st.emitted += 1;
                    return Some(Ok(ListEntry::Prefix(format!("{p}/"))));
                }
                Some(LevelEntry::Folder(p)) => {
                    match self.list_level(&st.bucket, &p, "", st.page).await {
                        Ok(level) => st.stack.push(level),
                        Err(e) => return fail(st, e),
                    }
                }
            }
        }
    }

    /// Sign download URLs for many objects of one bucket in one request. Each key gets its
    /// URL, or the server's reason (a missing object) as a NotFound error.
    pub async fn signed_urls(
        &self,
        bucket: &str,
        keys: &[Key],
        expires: Duration,
    ) -> Result<Vec<(Key, Result<String>)>> {
        validate_bucket(PROVIDER, bucket)?;
        for key in keys {
            self.check_key(key)?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let secs = expires.as_secs() + u64::from(expires.subsec_nanos() > 0);
        let url = bucket_url(&self.api, "object/sign", bucket);
        let paths: Vec<&str> = keys.iter().map(Key::as_str).collect();
        let answers: Vec<Value> = self
            .send_json(
                self.request(Method::POST, &url)
                    .json(&json!({ "expiresIn": secs.max(1), "paths": paths })),
                "signing download URLs",
                bucket,
                None,
            )
            .await?;
        Ok(keys
            .iter()
            .map(|key| {
                let answer = answers
                    .iter()
                    .find(|a| a.get("path").and_then(Value::as_str) == Some(key.as_str()));
                let signed = answer
                    .and_then(|a| a.get("signedURL").or_else(|| a.get("signedUrl")))
                    .and_then(Value::as_str);
                let result = match signed {
                    Some(rel) => Ok(signed_url_for(
                        &self.api,
                        "object/sign",
                        bucket,
                        key.as_str(),
                        rel,
                    )),
                    None => {
                        let why = answer
                            .and_then(|a| a.get("error"))
                            .and_then(Value::as_str)
                            .unwrap_or("the server did not sign this path");
                        Err(Error::new(ErrorKind::NotFound, PROVIDER, why)
                            .at(bucket, Some(key.as_str())))
                    }
                };
                (key.clone(), result)
            })
            .collect())
    }

    // ----- buckets ---------------------------------------------------------------------------

    /// Ask the server to delete every object of `bucket`. The server does it in the
    /// background ("may take up to an hour"); this waits a little for the bucket to list
    /// empty and returns either way.
    pub async fn empty_bucket(&self, bucket: &str) -> Result<()> {
        validate_bucket(PROVIDER, bucket)?;
        let url = format!("{}/empty", bucket_url(&self.api, "bucket", bucket));
        self.send(
            self.request(Method::POST, &url),
            "emptying the bucket",
            bucket,
            None,
        )
        .await?;
        for attempt in 0..20u64 {
            let first = self.list(bucket, ListOptions::default()).next().await;
            match first {
                None => break,
                Some(Err(e)) => return Err(e),
                Some(Ok(_)) => {}
            }
            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
        }
        Ok(())
    }

    async fn move_object(&self, from: &ObjectPath, to: &ObjectPath) -> Result<()> {
        let body = json!({
            "bucketId": from.bucket,
            "sourceKey": from.key.as_str(),
            "destinationBucket": to.bucket,
            "destinationKey": to.key.as_str(),
        });
        let url = format!("{}/object/move", self.api);
        match self
            .send(
                self.request(Method::POST, &url).json(&body),
                "moving",
                &from.bucket,
                Some(from.key.as_str()),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(destination_error(e, to)),
        }
    }

    /// Delete a bucket the server says is still referenced ("The related resource does not
    /// exist"): an object whose key ended in `/` was deleted and left its folder entry behind
    /// (supabase/storage v1.26.5). The recorded way out: upload an object into each such
    /// folder and delete it, then delete the bucket again.
    async fn clear_phantom_folders(&self, bucket: &str) -> Result<u64> {
        let mut cleared = 0;
        let mut pending = vec![String::new()];
        while let Some(folder) = pending.pop() {
            let level = self.list_level(bucket, &folder, "", DEFAULT_PAGE).await?;
            let mut subfolders = 0;
            for entry in level {
                match entry {
                    LevelEntry::Folder(f) => {
                        subfolders += 1;
                        pending.push(f);
                    }
                    // The bucket has objects after all: not this case.
                    LevelEntry::Object(_) => return Ok(0),
                }
            }
            if subfolders == 0 && !folder.is_empty() {
                self.touch_folder(bucket, &folder).await?;
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Upload an empty object into `folder` and delete it (clears a phantom folder entry).
    async fn touch_folder(&self, bucket: &str, folder: &str) -> Result<()> {
        let key = format!("{folder}/.stowage-folder-cleanup");
        // A bucket that restricts content types must accept the placeholder's.
        let content_type = self
            .bucket_row(bucket)
            .await?
            .and_then(|r| r.allowed_mime_types)
            .and_then(|types| types.into_iter().next())
            .map(|t| match t.strip_suffix("/*") {
                Some(top) => format!("{top}/octet-stream"),
                None => t,
            })
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
        let url = object_url(&self.api, "object", bucket, &key);
        let what = "clearing a leftover folder entry";
        self.send(
            self.request(Method::POST, &url)
                .header(CONTENT_TYPE, content_type)
                .header("x-upsert", "true")
                .body(Bytes::new()),
            what,
            bucket,
            Some(&key),
        )
        .await?;
        self.send(self.request(Method::DELETE, &url), what, bucket, Some(&key))
            .await?;
        Ok(())
    }
}

/// Copy and move name the destination in their errors where it is at fault: an existing
/// object, or a missing bucket (the server's "The related resource does not exist").
fn destination_error(mut e: Error, to: &ObjectPath) -> Error {
    if e.kind == ErrorKind::AlreadyExists {
        e.bucket = Some(to.bucket.clone());
        e.key = Some(to.key.to_string());
        return e;
    }
    if e.kind == ErrorKind::NotFound && e.message.to_lowercase().contains(RELATED_MISSING) {
        return Error::new(
            ErrorKind::NotFound,
            PROVIDER,
            format!(
                "the destination bucket `{}` does not exist ({})",
                to.bucket, e.message
            ),
        )
        .at(&to.bucket, Some(to.key.as_str()))
        .hint(format!(
            "create it with `stowage buckets create {}`, then run the command again",
            to.bucket
        ));
    }
    e
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

    fn err(status: u16, body: &str) -> Error {
        api_error(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn recorded_error_bodies_map_to_kinds() {
        let cases: &[(u16, &str, ErrorKind)] = &[
            (
                400,
                r#"{"statusCode":"404","error":"not_found","message":"Object not found"}"#,
                ErrorKind::NotFound,
            ),
            (
                400,
                r#"{"statusCode":"404","error":"Bucket not found","message":"Bucket not found"}"#,
                ErrorKind::NotFound,
            ),
            (
                400,
                r#"{"statusCode":"409","error":"Duplicate","message":"The resource already exists"}"#,
                ErrorKind::AlreadyExists,
            ),
            (
                400,
                r#"{"statusCode":"409","error":"InvalidRequest","message":"The bucket you tried to delete is not empty"}"#,
                ErrorKind::Conflict,
            ),
            (
                400,
                r#"{"statusCode":"404","error":"InvalidRequest","message":"The related resource does not exist"}"#,
                ErrorKind::NotFound,
            ),
            (
                400,
                r#"{"statusCode":"403","error":"Unauthorized","message":"signature verification failed"}"#,
                ErrorKind::Unauthorized,
            ),
            (
                400,
                r#"{"statusCode":"403","error":"Unauthorized","message":"new row violates row-level security policy"}"#,
                ErrorKind::Unauthorized,
            ),
            (
                400,
                r#"{"statusCode":"400","error":"Error","message":"headers must have required property 'authorization'"}"#,
                ErrorKind::Unauthorized,
            ),
            (
                400,
                r#"{"statusCode":"413","error":"Payload too large","message":"The object exceeded the maximum allowed size"}"#,
                ErrorKind::TooLarge { limit: None },
            ),
            (
                400,
                r#"{"statusCode":"415","error":"invalid_mime_type","message":"mime type application/json is not supported"}"#,
                ErrorKind::Other,
            ),
            (
                400,
                r#"{"statusCode":"400","error":"InvalidKey","message":"Invalid key: special/hash#.txt"}"#,
                ErrorKind::InvalidKey,
            ),
            (
                400,
                r#"{"statusCode":"400","error":"Invalid Input","message":"Bucket name invalid"}"#,
                ErrorKind::InvalidKey,
            ),
            (
                400,
                r#"{"statusCode":"400","error":"Error","message":"body/limit must be >= 1"}"#,
                ErrorKind::Other,
            ),
            (
                500,
                r#"{"statusCode":"500","error":"Internal","message":"Internal Server Error","code":"InternalError"}"#,
                ErrorKind::Unavailable,
            ),
            (502, "Bad Gateway", ErrorKind::Unavailable),
            (
                401,
                r#"{"message":"Invalid API key"}"#,
                ErrorKind::Unauthorized,
            ),
            // HEAD on a missing object: HTTP 400, no body.
            (400, "", ErrorKind::NotFound),
            // TUS: real codes, text bodies.
            (409, "Upload-Offset conflict\n", ErrorKind::Conflict),
            (409, "The resource already exists", ErrorKind::AlreadyExists),
            (404, "", ErrorKind::NotFound),
            (404, "Bucket not found", ErrorKind::NotFound),
            (
                413,
                "Maximum size exceeded\n",
                ErrorKind::TooLarge { limit: None },
            ),
            (
                413,
                "upload's size exceeded\n",
                ErrorKind::TooLarge { limit: None },
            ),
            (
                415,
                "mime type application/json is not supported",
                ErrorKind::Other,
            ),
            (
                403,
                "new row violates row-level security policy",
                ErrorKind::Unauthorized,
            ),
            (400, "Invalid key: tus/ünï.bin", ErrorKind::InvalidKey),
            (412, "Tus-Resumable Required\n", ErrorKind::Other),
            (
                400,
                r#"{"statusCode":"403","code":"AccessDenied","error":"Unauthorized","message":"Invalid Compact JWS"}"#,
                ErrorKind::Unauthorized,
            ),
        ];
        for (status, body, kind) in cases {
            let e = err(*status, body);
            assert_eq!(&e.kind, kind, "{status} {body}");
            assert_eq!(e.provider, "supabase");
            assert!(
                e.to_string().contains("Next: ")
                    || matches!(e.kind, ErrorKind::Other | ErrorKind::Conflict),
                "{e}"
            );
        }
        assert!(err(
            400,
            r#"{"statusCode":"415","error":"invalid_mime_type","message":"x"}"#
        )
        .to_string()
        .contains("allowed_mime_types"));
        let e = err(400, r#"{"statusCode":"413","error":"Payload too large","message":"The object exceeded the maximum allowed size"}"#)
            .at("b", Some("k"));
        let s = e.to_string();
        assert!(s.contains("file_size_limit"), "{s}");
        assert!(s.contains("`b/k`"), "{s}");
        assert!(s.contains("The object exceeded"), "{s}");
        // Server text is tidied: no control characters, bounded length.
        let long = format!(
            r#"{{"statusCode":"500","message":"{}\u0007"}}"#,
            "x".repeat(1000)
        );
        let s = err(500, &long).message.clone();
        assert!(s.len() < 400 && !s.contains('\u{7}'), "{s}");
    }

    #[test]
    fn urls_encode_keys_segment_by_segment() {
        let api = api_base("https://ref.supabase.co/");
        assert_eq!(api, "https://ref.supabase.co/storage/v1");
        assert_eq!(api_base("http://h:1/storage/v1/"), "http://h:1/storage/v1");
        assert_eq!(
            object_url(&api, "object", "fx-plain", "with space/file name.txt"),
            "https://ref.supabase.co/storage/v1/object/fx-plain/with%20space/file%20name.txt"
        );
        assert_eq!(
            encode_key("special/what?.txt"),
            "special/what%3F.txt",
            "`?` must not start a query"
        );
        assert_eq!(
            encode_key("special/a+b=c&d;e,f@g$h!(i)'j*k:l.txt"),
            "special/a%2Bb%3Dc%26d%3Be%2Cf%40g%24h%21%28i%29%27j%2Ak%3Al.txt",
            "as the recorded client sent it"
        );
        assert_eq!(encode_key("a-b_c.d~e/f"), "a-b_c.d~e/f");
        assert_eq!(
            object_url(&api, "object/info", "b", "x y"),
            "https://ref.supabase.co/storage/v1/object/info/b/x%20y"
        );
        assert_eq!(
            absolute_url(&api, "/object/sign/b/k.txt?token=abc"),
            "https://ref.supabase.co/storage/v1/object/sign/b/k.txt?token=abc"
        );
        assert_eq!(
            absolute_url(&api, "/storage/v1/object/upload/sign/b/k?token=t"),
            "https://ref.supabase.co/storage/v1/object/upload/sign/b/k?token=t"
        );
        assert_eq!(
            signed_url_for(&api, "object/sign", "b", "a dir/what?.txt", "/object/sign/b/a dir/what?.txt?token=eyJ.eyJ.sig-_"),
            "https://ref.supabase.co/storage/v1/object/sign/b/a%20dir/what%3F.txt?token=eyJ.eyJ.sig-_"
        );
        assert_eq!(signed_token("/x?token=abc&download=1"), Some("abc"));
        assert_eq!(signed_token("/x?download=1"), None);
        assert_eq!(
            absolute_url(&api, "https://cdn.example/x?token=t"),
            "https://cdn.example/x?token=t"
        );
    }

    #[test]
    fn tus_locations_become_ids_under_our_base() {
        let loc = "http://127.0.0.1:5000/upload/resumable/ZngtcGxhaW4vdHVzL2JpZy5iaW4vZjEyZTJiMjItMmI5Zi00YThkLThiMTYtMmNjMWQ4MzBmZDMx";
        assert_eq!(
            tus_upload_id(loc),
            Some("ZngtcGxhaW4vdHVzL2JpZy5iaW4vZjEyZTJiMjItMmI5Zi00YThkLThiMTYtMmNjMWQ4MzBmZDMx")
        );
        assert_eq!(
            tus_upload_id("/storage/v1/upload/resumable/abc=?x=1"),
            Some("abc=")
        );
        assert_eq!(tus_upload_id("/upload/resumable/"), None);
        assert_eq!(tus_upload_id("/upload/resumable/../../bucket"), None);
        assert_eq!(tus_upload_id("https://elsewhere/other"), None);
    }

    #[test]
    fn metadata_is_base64_json() {
        let sha = "809c91a540ca066a42a4c61f80878a9f31ebead19fd0f4dac2d19e1ed67b4e47";
        let h = user_metadata_header(sha);
        let decoded = base64::engine::general_purpose::STANDARD.decode(h).unwrap();
        let v: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(recorded_sha256(Some(&v)).as_deref(), Some(sha));
        // The recorded fixture's x-metadata decodes the same way.
        let recorded = base64::engine::general_purpose::STANDARD
            .decode("eyJvd25lciI6ICJmaXh0dXJlIiwgIm4iOiAxfQ==")
            .unwrap();
        let v: Value = serde_json::from_slice(&recorded).unwrap();
        assert_eq!(v["owner"], "fixture");
        assert_eq!(recorded_sha256(Some(&v)), None);
        assert_eq!(recorded_sha256(Some(&json!({"sha256": "nothex"}))), None);
        assert_eq!(recorded_sha256(None), None);

        let m = tus_metadata_header(
            "fx-plain",
            "tus/big.bin",
            Some("application/octet-stream"),
            sha,
        );
        let parts: Vec<&str> = m.split(',').collect();
        assert_eq!(parts[0], "bucketName ZngtcGxhaW4=");
        assert_eq!(parts[1], "objectName dHVzL2JpZy5iaW4=");
        assert_eq!(parts[2], "contentType YXBwbGljYXRpb24vb2N0ZXQtc3RyZWFt");
        let (name, value) = parts[3].split_once(' ').unwrap();
        assert_eq!(name, "metadata");
        let v: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(value)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["sha256"], sha);
        assert_eq!(parse_limit(Some(&json!(2000000))), Some(2_000_000));
        assert_eq!(parse_limit(Some(&json!("1048576"))), Some(1_048_576));
        assert_eq!(parse_limit(Some(&Value::Null)), None);
        assert_eq!(clean_etag("\"af68\""), "af68");
        assert_eq!(clean_etag("W/\"af68\""), "af68");
        assert!(parse_time(Some("2026-11-23T06:25:33.555Z")).is_some());
        assert!(parse_http_date(Some("Mon, 23 Nov 2026 06:25:33 GMT")).is_some());
    }

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
