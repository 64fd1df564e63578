//! Request routing and the REST handlers (buckets, objects, listing, signing, copy/move/remove).
//!
//! Routing is by hand over the raw path: keys may contain `//`, `..`, a trailing `/` or be
//! empty, and must reach us exactly as sent (a path router would normalise or refuse them).

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{request, Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::rules::{self, SortColumn};
use crate::store::{self, now_unix, now_us, Bucket, Obj, Shared, SpoolError};
use crate::{jwt, tus};

/// Everything a handler needs besides the body.
pub(crate) struct Cx {
    pub shared: Arc<Shared>,
    /// `""` or `"/storage/v1"`: where the request came in, for absolute TUS locations.
    pub prefix: &'static str,
    pub parts: request::Parts,
    pub query: Vec<(String, String)>,
}

impl Cx {
    pub(crate) fn header(&self, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn upsert(&self) -> bool {
        self.header("x-upsert")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub(crate) fn auth(&self) -> Auth {
        let Some(v) = self.parts.headers.get(header::AUTHORIZATION) else {
            return Auth::Missing;
        };
        let v = v.to_str().unwrap_or("").trim();
        let token = match v.get(..6) {
            Some(p) if p.eq_ignore_ascii_case("bearer") => v[6..].trim(),
            _ => v,
        };
        match jwt::verify(&self.shared.secret, token, now_unix()) {
            Ok(claims) => Auth::Role(
                claims
                    .get("role")
                    .and_then(Value::as_str)
                    .unwrap_or("anon")
                    .to_string(),
            ),
            Err(m) => Auth::Invalid(m),
        }
    }

    /// Auth for API routes: `Ok(is_service_role)` or the recorded error.
    fn require_auth(&self) -> Result<bool, Response> {
        match self.auth() {
            Auth::Missing => Err(err(
                "400",
                "Error",
                "headers must have required property 'authorization'",
            )),
            Auth::Invalid(m) => Err(err("403", "Unauthorized", m)),
            Auth::Role(r) => Ok(r == "service_role"),
        }
    }

    /// Auth for read routes, where a missing or bad token just means "no role".
    fn read_access(&self) -> Access {
        match self.auth() {
            Auth::Role(r) if r == "service_role" => Access::Service,
            Auth::Role(_) => Access::Role,
            _ => Access::NoToken,
        }
    }
}

pub(crate) enum Auth {
    Missing,
    Invalid(&'static str),
    Role(String),
}

/// Who is reading, which decides the error for a private bucket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Service,
    /// A valid non-service JWT: row-level security hides private objects.
    Role,
    NoToken,
    /// `/object/public/...`: only public buckets.
    Public,
    /// A verified signed URL: bypasses row-level security.
    Signed,
}

// ---------- responses ----------

#[derive(Serialize)]
struct ErrBody<'a> {
    #[serde(rename = "statusCode")]
    status_code: &'a str,
    error: &'a str,
    message: &'a str,
}

/// A JSON response with an explicit Content-Length (kept on HEAD).
pub(crate) fn json_response(status: StatusCode, v: &impl Serialize) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_default()
}

fn ok_json(v: &impl Serialize) -> Response {
    json_response(StatusCode::OK, v)
}

/// The server's error shape: HTTP 400 for every 4xx, the real code as a string in the body.
pub(crate) fn err(code: &str, error: &str, message: &str) -> Response {
    let status = if code.starts_with('4') {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    json_response(
        status,
        &ErrBody {
            status_code: code,
            error,
            message,
        },
    )
}

fn bucket_not_found() -> Response {
    err("404", "Bucket not found", "Bucket not found")
}
fn object_not_found() -> Response {
    err("404", "not_found", "Object not found")
}
fn duplicate() -> Response {
    err("409", "Duplicate", "The resource already exists")
}
fn rls() -> Response {
    err(
        "403",
        "Unauthorized",
        "new row violates row-level security policy",
    )
}
fn invalid_key(key: &str) -> Response {
    err("400", "InvalidKey", &format!("Invalid key: {key}"))
}
fn required(field: &str) -> Response {
    err(
        "400",
        "Error",
        &format!("body must have required property '{field}'"),
    )
}
fn internal(e: impl std::fmt::Display) -> Response {
    tracing::warn!("internal error: {e}");
    #[derive(Serialize)]
    struct B<'a> {
        #[serde(rename = "statusCode")]
        status_code: &'a str,
        error: &'a str,
        message: &'a str,
        code: &'a str,
    }
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &B {
            status_code: "500",
            error: "Internal",
            message: "Internal Server Error",
            code: "InternalError",
        },
    )
}

/// What the real server answers for a key with a leading `/`: a database error (HTTP 500);
/// strict mode repeats the SQL text it put in the message.
fn leading_slash_error(strict: bool) -> Response {
    #[derive(Serialize)]
    struct B<'a> {
        #[serde(rename = "statusCode")]
        status_code: &'a str,
        code: &'a str,
        error: &'a str,
        message: &'a str,
    }
    json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &B {
            status_code: "500",
            code: "DatabaseError",
            error: "DatabaseError",
            message: if strict {
                "insert into \"objects\" (\"bucket_id\", \"metadata\", \"name\", \"owner\", \"owner_id\", \"user_metadata\", \"version\") values ($1, DEFAULT, $2, DEFAULT, DEFAULT, DEFAULT, $3) - null value in column \"level\" of relation \"prefixes\" violates not-null constraint"
            } else {
                "null value in column \"level\" of relation \"prefixes\" violates not-null constraint"
            },
        },
    )
}

/// Key check for writes, in the server's order (a leading slash fails later, in the database;
/// in strict mode a segment over 255 bytes fails later still, in the file backend).
fn check_key(shared: &Shared, key: &str) -> Result<(), Response> {
    if !rules::is_valid_key(key) {
        return Err(invalid_key(key));
    }
    if key.starts_with('/') {
        return Err(leading_slash_error(shared.strict));
    }
    if shared.strict && key.split('/').any(|s| s.len() > rules::MAX_SEGMENT_BYTES) {
        return Err(internal("file name too long"));
    }
    Ok(())
}

fn not_route(method: &Method, path: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"statusCode": "404", "error": "Not Found", "message": format!("Route {method}:{path} not found")}),
    )
}

/// For HEAD: same status and headers (including Content-Length), no body.
fn strip_body(resp: Response) -> Response {
    let (parts, _) = resp.into_parts();
    Response::from_parts(parts, Body::empty())
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_bytes(s.as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

// ---------- routing ----------

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Decodes a path parameter as the real server's router (`find-my-way`'s safe decoding) does:
/// escapes of the reserved characters `# $ & + , / : ; = ? @` stay as they were sent.
fn router_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                if !b"#$&+,/:;=?@".contains(&v) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query strings are decoded like Node's `querystring` (`+` is a space there).
fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Splits `bucket/key...` into decoded parts; `None` when there is no `/` after the bucket.
fn bucket_and_key(rest: &str) -> Option<(String, String)> {
    let (b, k) = rest.split_once('/')?;
    Some((decode(b), decode(k)))
}

/// The single entry point: every request lands here (mounted at `/` and `/storage/v1`).
pub(crate) async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let full = parts.uri.path().to_string();
    let (prefix, path) = match full.strip_prefix("/storage/v1") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => ("/storage/v1", rest.to_string()),
        _ => ("", full.clone()),
    };
    let query = parse_query(parts.uri.query());
    let cx = Cx {
        shared,
        prefix,
        parts,
        query,
    };
    let head = cx.parts.method == Method::HEAD;
    let resp = route(cx, &path, body).await;
    if head {
        strip_body(resp)
    } else {
        resp
    }
}

async fn route(cx: Cx, path: &str, body: Body) -> Response {
    let m = cx.parts.method.clone();
    let is = |x: &Method| m == *x;
    let get = is(&Method::GET) || is(&Method::HEAD);

    if path == "/upload/resumable" || path == "/upload/resumable/" {
        return tus::collection(cx, body).await;
    }
    if let Some(id) = path.strip_prefix("/upload/resumable/") {
        return tus::upload(cx, id.to_string(), body).await;
    }
    if path == "/bucket" || path == "/bucket/" {
        return match m {
            Method::GET => bucket_list(&cx),
            Method::POST => flat(bucket_create(&cx, body).await),
            _ => not_route(&m, path),
        };
    }
    if let Some(rest) = path.strip_prefix("/bucket/") {
        if let Some(id) = rest.strip_suffix("/empty") {
            if is(&Method::POST) {
                return bucket_empty(&cx, &decode(id));
            }
        }
        let id = decode(rest);
        return match m {
            Method::GET => bucket_get(&cx, &id),
            Method::PUT => flat(bucket_update(&cx, &id, body).await),
            Method::DELETE => bucket_delete(&cx, &id),
            _ => not_route(&m, path),
        };
    }
    if path == "/object/copy" && is(&Method::POST) {
        return flat(copy_or_move(&cx, body, true).await);
    }
    if path == "/object/move" && is(&Method::POST) {
        return flat(copy_or_move(&cx, body, false).await);
    }
    let Some(rest) = path.strip_prefix("/object/") else {
        return not_route(&m, path);
    };
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    match (first, &m) {
        ("list", &Method::POST) => return flat(list_v1(&cx, &decode(tail), body).await),
        ("list-v2", &Method::POST) => return flat(list_v2(&cx, &decode(tail), body).await),
        ("info", _) if get => {
            let (access, bk) = match tail.split_once('/') {
                Some(("public", r)) => (Access::Public, r),
                Some(("authenticated", r)) => (cx.read_access(), r),
                _ => (cx.read_access(), tail),
            };
            return match bucket_and_key(bk) {
                Some((b, k)) => info(&cx, &b, &k, access),
                None => not_route(&m, path),
            };
        }
        ("public", _) if get => {
            if let Some((b, k)) = bucket_and_key(tail) {
                return download(&cx, &b, &k, Access::Public).await;
            }
        }
        ("authenticated", _) if get => {
            if let Some((b, k)) = bucket_and_key(tail) {
                return download(&cx, &b, &k, cx.read_access()).await;
            }
        }
        ("sign", _) => {
            return match (bucket_and_key(tail), &m) {
                (None, &Method::POST) => flat(sign_many(&cx, &decode(tail), body).await),
                (Some((b, _)), &Method::POST) => {
                    // The real server signs the key as its router saw it (see `sign_one`).
                    let raw = tail.split_once('/').map_or("", |(_, k)| k);
                    flat(sign_one(&cx, &b, raw, body).await)
                }
                (Some((b, k)), _) if get => signed_download(&cx, &b, &k).await,
                _ => not_route(&m, path),
            };
        }
        ("upload", _) if tail.starts_with("sign/") => {
            return match (bucket_and_key(&tail[5..]), &m) {
                (Some((b, k)), &Method::POST) => upload_sign_create(&cx, &b, &k),
                (Some((b, k)), &Method::PUT) => upload_signed(&cx, &b, &k, body).await,
                _ => not_route(&m, path),
            };
        }
        _ => {}
    }
    match (bucket_and_key(rest), &m) {
        (None, &Method::DELETE) => flat(remove_many(&cx, &decode(rest), body).await),
        (Some((b, k)), _) if get => download(&cx, &b, &k, cx.read_access()).await,
        (Some((b, k)), &Method::POST) => upload_route(&cx, &b, &k, body, cx.upsert()).await,
        // PUT is an update that also creates a missing object (as recorded).
        (Some((b, k)), &Method::PUT) => upload_route(&cx, &b, &k, body, true).await,
        (Some((b, k)), &Method::DELETE) => remove_one(&cx, &b, &k),
        _ => not_route(&m, path),
    }
}

/// Reads a small JSON body; an empty body counts as `{}`.
async fn json_body(body: Body) -> Result<Value, Response> {
    let bytes = axum::body::to_bytes(body, 16 << 20).await.map_err(|_| {
        err(
            "400",
            "Error",
            "Request body is too large or was interrupted",
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|_| err("400", "Error", "Body is not valid JSON"))
}

fn int_field(v: &Value, name: &str) -> Option<i64> {
    match v.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, Response> {
    match v.get(name) {
        None | Some(Value::Null) => Err(required(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(err("400", "Error", &format!("body/{name} must be string"))),
    }
}

// ---------- buckets ----------

fn bucket_list(cx: &Cx) -> Response {
    let service = match cx.require_auth() {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !service {
        return ok_json(&json!([]));
    }
    let idx = cx.shared.lock();
    let mut buckets: Vec<&Bucket> = idx.buckets.values().collect();
    buckets.sort_by_key(|b| b.seq);
    ok_json(&buckets.iter().map(|b| b.json(true)).collect::<Vec<_>>())
}

fn parse_limit(v: Option<&Value>) -> Result<Option<u64>, Response> {
    let bad = || err("400", "Invalid Input", "Invalid file size limit");
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => rules::parse_size(s).map(Some).ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

fn parse_mimes(v: Option<&Value>) -> Result<Option<Vec<String>>, Response> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| err("400", "Error", "body/allowed_mime_types/0 must be string")),
        Some(_) => Err(err("400", "Error", "body/allowed_mime_types must be array")),
    }
}

async fn bucket_create(cx: &Cx, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let name = str_field(&v, "name")?.to_string();
    let service = cx.require_auth()?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_string();
    if !rules::is_valid_bucket_name(&name) || !rules::is_valid_bucket_name(&id) {
        return Err(err("400", "Invalid Input", "Bucket name invalid"));
    }
    if !service {
        return Err(rls());
    }
    let limit = parse_limit(v.get("file_size_limit"))?;
    let mimes = parse_mimes(v.get("allowed_mime_types"))?;
    let mut idx = cx.shared.lock();
    if idx.buckets.contains_key(&id) {
        return Err(duplicate());
    }
    let now = now_us();
    idx.next_seq += 1;
    let seq = idx.next_seq;
    idx.buckets.insert(
        id.clone(),
        Bucket {
            id,
            name: name.clone(),
            public: v.get("public").and_then(Value::as_bool).unwrap_or(false),
            file_size_limit: limit,
            allowed_mime_types: mimes,
            created_at: now,
            updated_at: now,
            seq,
            objects: BTreeMap::new(),
            phantoms: Default::default(),
        },
    );
    drop(idx);
    cx.shared.mark_dirty();
    Ok(ok_json(&json!({ "name": name })))
}

fn bucket_get(cx: &Cx, id: &str) -> Response {
    match cx.require_auth() {
        Err(r) => r,
        Ok(false) => bucket_not_found(),
        Ok(true) => match cx.shared.lock().buckets.get(id) {
            Some(b) => ok_json(&b.json(false)),
            None => bucket_not_found(),
        },
    }
}

async fn bucket_update(cx: &Cx, id: &str, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    if !cx.require_auth()? {
        return Err(bucket_not_found());
    }
    let limit = parse_limit(v.get("file_size_limit"))?;
    let mimes = parse_mimes(v.get("allowed_mime_types"))?;
    let mut idx = cx.shared.lock();
    let b = idx.buckets.get_mut(id).ok_or_else(bucket_not_found)?;
    // Only the fields present change; the recorded server leaves updated_at as it was.
    if let Some(p) = v.get("public").and_then(Value::as_bool) {
        b.public = p;
    }
    if v.get("file_size_limit").is_some() {
        b.file_size_limit = limit;
    }
    if v.get("allowed_mime_types").is_some() {
        b.allowed_mime_types = mimes;
    }
    drop(idx);
    cx.shared.mark_dirty();
    Ok(ok_json(&json!({"message": "Successfully updated"})))
}

fn bucket_delete(cx: &Cx, id: &str) -> Response {
    match cx.require_auth() {
        Err(r) => return r,
        Ok(false) => return bucket_not_found(),
        Ok(true) => {}
    }
    let mut idx = cx.shared.lock();
    match idx.buckets.get(id) {
        None => return bucket_not_found(),
        Some(b) if !b.objects.is_empty() => {
            return err(
                "409",
                "InvalidRequest",
                "The bucket you tried to delete is not empty",
            )
        }
        // Recorded: a phantom folder entry still references the bucket.
        Some(b) if !b.phantoms.is_empty() => {
            return err(
                "404",
                "InvalidRequest",
                "The related resource does not exist",
            )
        }
        Some(_) => {}
    }
    idx.buckets.remove(id);
    drop(idx);
    cx.shared.mark_dirty();
    ok_json(&json!({"message": "Successfully deleted"}))
}

fn bucket_empty(cx: &Cx, id: &str) -> Response {
    match cx.require_auth() {
        Err(r) => return r,
        Ok(false) => return bucket_not_found(),
        Ok(true) => {}
    }
    // The real server queues this; we finish before answering, which a client cannot tell apart.
    let versions: Vec<String> = {
        let mut idx = cx.shared.lock();
        let Some(b) = idx.buckets.get_mut(id) else {
            return bucket_not_found();
        };
        std::mem::take(&mut b.objects)
            .into_values()
            .map(|o| o.version)
            .collect()
    };
    cx.shared.remove_blobs(versions);
    cx.shared.mark_dirty();
    ok_json(&json!({"message": "Empty bucket has been queued. Completion may take up to an hour."}))
}

// ---------- downloads ----------

/// Finds an object for reading and opens its blob under the lock (see `store`).
fn open_object(
    cx: &Cx,
    bucket: &str,
    key: &str,
    access: Access,
) -> Result<(Obj, std::fs::File), Response> {
    let idx = cx.shared.lock();
    let b = idx.buckets.get(bucket).ok_or_else(bucket_not_found)?;
    match access {
        Access::Public | Access::NoToken if !b.public => return Err(bucket_not_found()),
        Access::Role if !b.public => return Err(object_not_found()),
        _ => {}
    }
    let obj = b.objects.get(key).ok_or_else(object_not_found)?;
    let file =
        std::fs::File::open(cx.shared.blob_path(&obj.version)).map_err(|_| object_not_found())?;
    Ok((obj.clone(), file))
}

async fn download(cx: &Cx, bucket: &str, key: &str, access: Access) -> Response {
    match open_object(cx, bucket, key, access) {
        Ok((obj, file)) => serve(cx, obj, file, true).await,
        Err(r) => r,
    }
}

enum RangeSpec {
    Full,
    Part(u64, u64),
    /// The first byte asked for, and the last when the range named one.
    Unsatisfiable(u64, Option<u64>),
    /// `bytes=-N`.
    Suffix(u64),
}

/// Parses a single `bytes=` range; anything we do not understand means the whole object.
fn parse_range(h: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        // Suffix range: the recorded server answers 500 here; we serve it as RFC 9110 says.
        (None, Some(n)) if a.is_empty() => RangeSpec::Suffix(n),
        (Some(s), None) if b.is_empty() => {
            if s >= size {
                RangeSpec::Unsatisfiable(s, None)
            } else {
                RangeSpec::Part(s, size - 1)
            }
        }
        (Some(s), Some(e)) if s <= e => {
            if s >= size {
                RangeSpec::Unsatisfiable(s, Some(e))
            } else {
                RangeSpec::Part(s, e.min(size - 1))
            }
        }
        _ => RangeSpec::Full,
    }
}

const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// Streams an object with the recorded headers; `cache_header` is off for signed URLs (as recorded).
async fn serve(cx: &Cx, obj: Obj, file: std::fs::File, cache_header: bool) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_TYPE, hv(&obj.mimetype));
    h.insert(header::ETAG, hv(&obj.etag));
    h.insert(header::LAST_MODIFIED, hv(&store::http_date(obj.updated_at)));
    if cache_header {
        h.insert(header::CACHE_CONTROL, hv(&obj.cache_control));
    }
    if let Some(name) = cx.query("download") {
        let v = if name.is_empty() {
            "attachment;".to_string()
        } else {
            let enc = utf8_percent_encode(name, URI_COMPONENT).to_string();
            format!("attachment; filename={enc}; filename*=UTF-8''{enc}")
        };
        h.insert(header::CONTENT_DISPOSITION, hv(&v));
    }
    let mut builder = Response::builder();
    if cx
        .header(header::IF_NONE_MATCH)
        .is_some_and(|v| etag_matches(v, &obj.etag))
    {
        // hyper never writes Content-Length on a 304 (the recorded server sent `0`).
        builder = builder.status(StatusCode::NOT_MODIFIED);
        *builder.headers_mut().expect("builder") = h;
        return builder.body(Body::empty()).unwrap_or_default();
    }
    let mut spec = parse_range(cx.header(header::RANGE), obj.size);
    if let RangeSpec::Suffix(n) = spec {
        if cx.shared.strict {
            // Recorded: `bytes=-5` fails inside the server.
            return internal("suffix range");
        }
        // Served as RFC 9110 says.
        spec = if n == 0 || obj.size == 0 {
            RangeSpec::Unsatisfiable(obj.size, None)
        } else {
            RangeSpec::Part(obj.size - n.min(obj.size), obj.size - 1)
        };
    }
    let (status, start, len) = match spec {
        RangeSpec::Full | RangeSpec::Suffix(_) => (StatusCode::OK, 0, obj.size),
        RangeSpec::Part(s, e) => {
            h.insert(
                header::CONTENT_RANGE,
                hv(&format!("bytes {s}-{e}/{}", obj.size)),
            );
            (StatusCode::PARTIAL_CONTENT, s, e - s + 1)
        }
        RangeSpec::Unsatisfiable(s, e) if cx.shared.strict => {
            // Recorded: a 206 that promises the bytes asked for, then the connection closes.
            let promised = e.map_or(1, |e| e - s + 1);
            let last = e.unwrap_or(s);
            h.insert(
                header::CONTENT_RANGE,
                hv(&format!("bytes {s}-{last}/{}", obj.size)),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(promised));
            builder = builder.status(StatusCode::PARTIAL_CONTENT);
            *builder.headers_mut().expect("builder") = h;
            // Pending first, so the headers go out before the connection is cut.
            let cut = futures::stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::other(
                    "the recorded server closes the connection here",
                ))
            });
            return builder.body(Body::from_stream(cut)).unwrap_or_default();
        }
        RangeSpec::Unsatisfiable(..) => {
            // The recorded server promises bytes it never sends; we answer a plain 416.
            h.insert(header::CONTENT_RANGE, hv(&format!("bytes */{}", obj.size)));
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            builder = builder.status(StatusCode::RANGE_NOT_SATISFIABLE);
            *builder.headers_mut().expect("builder") = h;
            return builder.body(Body::empty()).unwrap_or_default();
        }
    };
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    builder = builder.status(status);
    *builder.headers_mut().expect("builder") = h;
    if cx.parts.method == Method::HEAD {
        return builder.body(Body::empty()).unwrap_or_default();
    }
    let mut file = tokio::fs::File::from_std(file);
    if start > 0 {
        if let Err(e) = file.seek(SeekFrom::Start(start)).await {
            return internal(e);
        }
    }
    let stream = ReaderStream::with_capacity(file.take(len), 256 * 1024);
    builder.body(Body::from_stream(stream)).unwrap_or_default()
}

fn info(cx: &Cx, bucket: &str, key: &str, access: Access) -> Response {
    let (obj, _file) = match open_object(cx, bucket, key, access) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut resp = ok_json(&obj.info_json(bucket, key));
    let h = resp.headers_mut();
    h.insert(header::ETAG, hv(&obj.etag));
    h.insert(header::LAST_MODIFIED, hv(&store::http_date(obj.updated_at)));
    h.insert(header::CACHE_CONTROL, hv(&obj.cache_control));
    resp
}

// ---------- uploads ----------

/// What an upload stores besides the bytes.
pub(crate) struct UploadMeta {
    pub mimetype: String,
    pub cache_control: String,
    pub user_metadata: Option<Value>,
}

fn user_metadata_header(cx: &Cx) -> Option<Value> {
    let raw = cx.header("x-metadata")?;
    let bytes = STANDARD.decode(raw.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn upload_route(cx: &Cx, bucket: &str, key: &str, body: Body, upsert: bool) -> Response {
    match cx.require_auth() {
        Err(r) => reject(body, r).await,
        Ok(service) => upload(cx, bucket, key, body, upsert, service, false).await,
    }
}

/// Drains the body before answering early, so a client still sending gets our answer.
async fn reject(body: Body, resp: Response) -> Response {
    store::drain(body.into_data_stream()).await;
    resp
}

/// The upload pipeline shared by POST, PUT and signed-upload PUT.
async fn upload(
    cx: &Cx,
    bucket: &str,
    key: &str,
    body: Body,
    upsert: bool,
    service: bool,
    signed: bool,
) -> Response {
    if let Err(r) = check_key(&cx.shared, key) {
        return reject(body, r).await;
    }
    let checked = {
        let idx = cx.shared.lock();
        match idx.buckets.get(bucket) {
            None => Err(bucket_not_found()),
            Some(_) if !service => Err(rls()),
            Some(b) => Ok((
                b.file_size_limit
                    .unwrap_or(rules::GLOBAL_FILE_SIZE_LIMIT)
                    .min(rules::GLOBAL_FILE_SIZE_LIMIT),
                b.allowed_mime_types.clone(),
            )),
        }
    };
    let (limit, allowed) = match checked {
        Ok(x) => x,
        Err(r) => return reject(body, r).await,
    };
    let ctype = cx.header(header::CONTENT_TYPE).unwrap_or("").to_string();
    let spooled = if ctype
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        spool_multipart(cx, &ctype, body, limit, allowed.as_deref()).await
    } else {
        let mimetype = if ctype.is_empty() {
            "application/octet-stream".to_string()
        } else {
            ctype
        };
        if !rules::mime_allowed(&mimetype, allowed.as_deref()) {
            return reject(body, bad_mime(&mimetype)).await;
        }
        let meta = UploadMeta {
            mimetype,
            cache_control: cx
                .header(header::CACHE_CONTROL)
                .unwrap_or("no-cache")
                .to_string(),
            user_metadata: Some(user_metadata_header(cx).unwrap_or_else(|| json!({}))),
        };
        spool_result(store::spool(&cx.shared, body.into_data_stream(), limit).await)
            .map(|s| (s, meta))
    };
    let (spooled, meta) = match spooled {
        Ok(x) => x,
        Err(r) => return r,
    };
    let version = uuid::Uuid::new_v4().to_string();
    let result = commit(&cx.shared, bucket, key, &spooled, meta, upsert, version).map_err(|e| {
        spooled.discard();
        match e {
            CommitError::BucketGone => bucket_not_found(),
            CommitError::Exists => duplicate(),
            CommitError::Io(e) => internal(e),
        }
    });
    match result {
        Ok(_) if signed => ok_json(&json!({"Key": format!("{bucket}/{key}")})),
        Ok(id) => ok_json(&json!({"Key": format!("{bucket}/{key}"), "Id": id})),
        Err(r) => r,
    }
}

fn bad_mime(m: &str) -> Response {
    err(
        "415",
        "invalid_mime_type",
        &format!("mime type {m} is not supported"),
    )
}

fn too_large() -> Response {
    err(
        "413",
        "Payload too large",
        "The object exceeded the maximum allowed size",
    )
}

fn spool_result(r: Result<store::Spooled, SpoolError>) -> Result<store::Spooled, Response> {
    r.map_err(|e| match e {
        SpoolError::TooLarge => too_large(),
        SpoolError::Io(e) => internal(e),
        SpoolError::Body => err("400", "Error", "Request body was interrupted"),
    })
}

/// multipart/form-data: the first part with a filename is the object (supabase-js names it `""`);
/// `cacheControl` and `metadata` fields are honoured, later parts are read and ignored.
async fn spool_multipart(
    cx: &Cx,
    ctype: &str,
    body: Body,
    limit: u64,
    allowed: Option<&[String]>,
) -> Result<(store::Spooled, UploadMeta), Response> {
    let boundary = match multer::parse_boundary(ctype) {
        Ok(b) => b,
        Err(_) => {
            return Err(reject(body, err("400", "Error", "Invalid multipart boundary")).await)
        }
    };
    let mut mp = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut file: Option<(store::Spooled, String)> = None;
    let mut failure: Option<Response> = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                return Err(
                    failure.unwrap_or_else(|| err("400", "Error", "Malformed multipart body"))
                )
            }
        };
        if file.is_some() || failure.is_some() {
            store::drain(field).await;
            continue;
        }
        if field.file_name().is_none() {
            let name = field.name().unwrap_or("").to_string();
            let text = field.text().await.unwrap_or_default();
            fields.insert(name, text);
            continue;
        }
        let mime = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        if !rules::mime_allowed(&mime, allowed) {
            failure = Some(bad_mime(&mime));
            store::drain(field).await;
            continue;
        }
        match spool_result(store::spool(&cx.shared, field, limit).await) {
            Ok(s) => file = Some((s, mime)),
            Err(r) => failure = Some(r),
        }
    }
    if let Some(r) = failure {
        return Err(r);
    }
    let Some((spooled, mimetype)) = file else {
        return Err(err("400", "Error", "The multipart body has no file"));
    };
    let user_metadata = fields
        .get("metadata")
        .and_then(|m| serde_json::from_str(m).ok())
        .or_else(|| user_metadata_header(cx))
        .unwrap_or_else(|| json!({}));
    let cache_control = fields
        .get("cacheControl")
        .map(|c| rules::normalize_cache_control(c))
        .or_else(|| cx.header(header::CACHE_CONTROL).map(str::to_string))
        .unwrap_or_else(|| "no-cache".into());
    Ok((
        spooled,
        UploadMeta {
            mimetype,
            cache_control,
            user_metadata: Some(user_metadata),
        },
    ))
}

/// Why a spooled body could not become an object.
pub(crate) enum CommitError {
    BucketGone,
    Exists,
    Io(std::io::Error),
}

/// Moves a spooled body into place as blob `version` and records it; keeps id and created_at
/// on overwrite. The caller owns the spooled file on failure.
pub(crate) fn commit(
    shared: &Shared,
    bucket: &str,
    key: &str,
    spooled: &store::Spooled,
    meta: UploadMeta,
    upsert: bool,
    version: String,
) -> Result<String, CommitError> {
    let now = now_us();
    let mut idx = shared.lock();
    let b = idx.buckets.get_mut(bucket).ok_or(CommitError::BucketGone)?;
    let old = b.objects.get(key).cloned();
    if old.is_some() && !upsert {
        return Err(CommitError::Exists);
    }
    std::fs::rename(&spooled.path, shared.blob_path(&version)).map_err(CommitError::Io)?;
    let id = old
        .as_ref()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), |o| o.id.clone());
    b.objects.insert(
        key.to_string(),
        Obj {
            id: id.clone(),
            version,
            created_at: old.as_ref().map_or(now, |o| o.created_at),
            updated_at: now,
            last_accessed_at: old.as_ref().map_or(now, |o| o.last_accessed_at),
            mimetype: meta.mimetype,
            cache_control: meta.cache_control,
            size: spooled.size,
            etag: spooled.etag.clone(),
            user_metadata: meta.user_metadata,
        },
    );
    drop(idx);
    shared.remove_blobs(old.map(|o| o.version));
    shared.mark_dirty();
    Ok(id)
}

// ---------- listing ----------

async fn list_v1(cx: &Cx, bucket: &str, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let prefix = str_field(&v, "prefix")?.to_string();
    let limit = int_field(&v, "limit").unwrap_or(100);
    if limit < 1 {
        return Err(err("400", "Error", "body/limit must be >= 1"));
    }
    let offset = int_field(&v, "offset").unwrap_or(0);
    if offset < 0 {
        return Err(err("400", "Error", "body/offset must be >= 0"));
    }
    let sort = v.get("sortBy").cloned().unwrap_or(Value::Null);
    let column = match sort.get("column").and_then(Value::as_str) {
        None => SortColumn::Name,
        Some(c) => SortColumn::parse(c).ok_or_else(|| {
            err(
                "400",
                "Error",
                "body/sortBy/column must be equal to one of the allowed values",
            )
        })?,
    };
    let desc = match sort.get("order").and_then(Value::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(err(
                "400",
                "Error",
                "body/sortBy/order must be equal to one of the allowed values",
            ))
        }
    };
    let search = v.get("search").and_then(Value::as_str).unwrap_or("");
    if !cx.require_auth()? {
        return Ok(ok_json(&json!([])));
    }
    let idx = cx.shared.lock();
    let Some(b) = idx.buckets.get(bucket) else {
        return Ok(ok_json(&json!([])));
    };
    // The prefix is always a folder: "list" and "list/" are the same.
    let folder = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.clone()
    } else {
        format!("{prefix}/")
    };
    let pattern = format!("{folder}{search}");
    let mut folders = std::collections::BTreeSet::new();
    let mut items = Vec::new();
    for p in &b.phantoms {
        let as_folder = format!("{p}/");
        if rules::ilike_prefix(&as_folder, &pattern) {
            if let Some(first) = as_folder[folder.len()..].split('/').next() {
                if !first.is_empty() {
                    folders.insert(first.to_string());
                }
            }
        }
    }
    for (key, obj) in &b.objects {
        if !rules::ilike_prefix(key, &pattern) {
            continue;
        }
        let rest = &key[folder.len()..];
        match rest.find('/') {
            Some(i) => {
                folders.insert(rest[..i].to_string());
            }
            None => items.push(rules::ListItem {
                name: rest.to_string(),
                times: Some((obj.created_at, obj.updated_at, obj.last_accessed_at)),
            }),
        }
    }
    items.extend(
        folders
            .into_iter()
            .map(|name| rules::ListItem { name, times: None }),
    );
    rules::order_listing(&mut items, column, desc);
    let out: Vec<Value> = items
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|it| match it.times {
            None => json!({"name": it.name, "id": null, "updated_at": null, "created_at": null, "last_accessed_at": null, "metadata": null}),
            Some(_) => {
                let o = &b.objects[&format!("{folder}{}", it.name)];
                json!({
                    "name": it.name,
                    "id": o.id,
                    "updated_at": store::iso(o.updated_at),
                    "created_at": store::iso(o.created_at),
                    "last_accessed_at": store::iso(o.last_accessed_at),
                    "metadata": o.metadata_json(),
                })
            }
        })
        .collect();
    Ok(ok_json(&out))
}

/// `list-v2`: S3-style. Objects under `prefix` by name; with `with_delimiter`, deeper keys fold
/// into `folders` (`prefix/sub/`). Cursor is base64 of `l:<last name>`.
async fn list_v2(cx: &Cx, bucket: &str, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let prefix = v
        .get("prefix")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let delimiter = v
        .get("with_delimiter")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let limit = int_field(&v, "limit").unwrap_or(1000);
    if limit < 1 {
        return Err(err("400", "Error", "body/limit must be >= 1"));
    }
    let cursor = v
        .get("cursor")
        .and_then(Value::as_str)
        .and_then(|c| STANDARD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .map(|c| c.strip_prefix("l:").unwrap_or(&c).to_string());
    let empty = json!({"hasNext": false, "folders": [], "objects": []});
    if !cx.require_auth()? {
        return Ok(ok_json(&empty));
    }
    let idx = cx.shared.lock();
    let Some(b) = idx.buckets.get(bucket) else {
        return Ok(ok_json(&empty));
    };
    // (name, object) with folders as (prefix + segment + "/", None); BTreeMap keeps byte order.
    let mut entries: BTreeMap<String, Option<&Obj>> = BTreeMap::new();
    for (key, obj) in b.objects.range(prefix.clone()..) {
        if !key.starts_with(&prefix) {
            break;
        }
        let rest = &key[prefix.len()..];
        match rest.find('/') {
            Some(i) if delimiter => {
                entries.insert(format!("{prefix}{}", &rest[..=i]), None);
            }
            _ => {
                entries.insert(key.clone(), Some(obj));
            }
        }
    }
    let mut page = entries
        .into_iter()
        .filter(|(name, _)| cursor.as_ref().is_none_or(|c| name.as_str() > c.as_str()));
    let taken: Vec<(String, Option<&Obj>)> = page.by_ref().take(limit as usize).collect();
    let has_next = page.next().is_some();
    let mut folders = Vec::new();
    let mut objects = Vec::new();
    for (name, obj) in &taken {
        match obj {
            None => folders.push(json!({"id": null, "name": name})),
            Some(o) if delimiter => objects.push(json!({
                "key": &name[prefix.len()..],
                "name": name,
                "id": o.id,
                "updated_at": store::iso(o.updated_at),
                "created_at": store::iso(o.created_at),
                "metadata": o.metadata_json(),
            })),
            Some(o) => objects.push(json!({
                "id": o.id,
                "name": name,
                "metadata": o.metadata_json(),
                "updated_at": store::iso(o.updated_at),
            })),
        }
    }
    let mut out = json!({"hasNext": has_next, "folders": folders, "objects": objects});
    if has_next {
        if let Some((last, _)) = taken.last() {
            out["nextCursor"] = json!(STANDARD.encode(format!("l:{last}")));
        }
    }
    Ok(ok_json(&out))
}

// ---------- signed URLs ----------

fn expires_in(v: &Value) -> Result<i64, Response> {
    match v.get("expiresIn") {
        None | Some(Value::Null) => Err(required("expiresIn")),
        Some(_) => match int_field(v, "expiresIn") {
            Some(n) if n >= 1 => Ok(n),
            Some(_) => Err(err("400", "Error", "body/expiresIn must be >= 1")),
            None => Err(err("400", "Error", "body/expiresIn must be integer")),
        },
    }
}

fn sign_token(shared: &Shared, url: &str, expires: i64, upsert: Option<bool>) -> String {
    let now = now_unix();
    let mut claims = json!({"url": url, "iat": now, "exp": now + expires});
    if let Some(u) = upsert {
        claims["upsert"] = json!(u);
    }
    jwt::sign(&shared.secret, &json!({"alg": "HS256"}), &claims)
}

fn object_exists(shared: &Shared, bucket: &str, key: &str) -> bool {
    shared
        .lock()
        .buckets
        .get(bucket)
        .is_some_and(|b| b.objects.contains_key(key))
}

/// `POST /object/sign/{bucket}/{key}`. The real server's router decodes the key as
/// `find-my-way` does, leaving `# $ & + , / : ; = ? @` percent-encoded, and signs that text:
/// for keys holding one of those characters the signed URL is refused (`InvalidSignature`),
/// because the download compares the fully decoded key. The batch endpoint signs raw keys.
async fn sign_one(cx: &Cx, bucket: &str, raw_key: &str, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let expires = expires_in(&v)?;
    let key = decode(raw_key);
    if !cx.require_auth()? || !object_exists(&cx.shared, bucket, &key) {
        return Err(object_not_found());
    }
    let url = format!("{bucket}/{}", router_decode(raw_key));
    let token = sign_token(&cx.shared, &url, expires, None);
    // Relative and not percent-encoded, as the server answers; clients prepend their base URL.
    Ok(ok_json(
        &json!({"signedURL": format!("/object/sign/{url}?token={token}")}),
    ))
}

async fn sign_many(cx: &Cx, bucket: &str, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let expires = expires_in(&v)?;
    let paths: Vec<String> = match v.get("paths") {
        None | Some(Value::Null) => return Err(required("paths")),
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| p.as_str().unwrap_or_default().to_string())
            .collect(),
        Some(_) => return Err(err("400", "Error", "body/paths must be array")),
    };
    if paths.is_empty() {
        return Err(err(
            "400",
            "Error",
            "body/paths must NOT have fewer than 1 items",
        ));
    }
    let service = cx.require_auth()?;
    let out: Vec<Value> = paths
        .iter()
        .map(|p| {
            if service && object_exists(&cx.shared, bucket, p) {
                let url = format!("{bucket}/{p}");
                let token = sign_token(&cx.shared, &url, expires, None);
                json!({"error": null, "path": p, "signedURL": format!("/object/sign/{url}?token={token}")})
            } else {
                json!({"error": "Either the object does not exist or you do not have access to it", "path": p, "signedURL": null})
            }
        })
        .collect();
    Ok(ok_json(&out))
}

/// Checks a signed-URL token for `bucket/key`; returns its claims.
fn check_url_token(cx: &Cx, bucket: &str, key: &str) -> Result<Value, Response> {
    let token = cx.query("token").ok_or_else(|| {
        err(
            "400",
            "Error",
            "querystring must have required property 'token'",
        )
    })?;
    let claims = jwt::verify(&cx.shared.secret, token, now_unix())
        .map_err(|m| err("400", "InvalidJWT", m))?;
    if claims.get("url").and_then(Value::as_str) != Some(format!("{bucket}/{key}").as_str()) {
        return Err(err("400", "InvalidSignature", "Invalid signature"));
    }
    Ok(claims)
}

async fn signed_download(cx: &Cx, bucket: &str, key: &str) -> Response {
    if let Err(r) = check_url_token(cx, bucket, key) {
        return r;
    }
    match open_object(cx, bucket, key, Access::Signed) {
        Ok((obj, file)) => serve(cx, obj, file, false).await,
        Err(r) => r,
    }
}

fn upload_sign_create(cx: &Cx, bucket: &str, key: &str) -> Response {
    let service = match cx.require_auth() {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_key(&cx.shared, key) {
        return r;
    }
    let upsert = cx.upsert();
    {
        let idx = cx.shared.lock();
        let Some(b) = idx.buckets.get(bucket) else {
            return bucket_not_found();
        };
        if !service {
            return rls();
        }
        if !upsert && b.objects.contains_key(key) {
            return duplicate();
        }
    }
    let url = format!("{bucket}/{key}");
    // Two hours, as the Supabase docs state for signed upload URLs.
    let token = sign_token(&cx.shared, &url, 7200, Some(upsert));
    ok_json(&json!({"url": format!("/object/upload/sign/{url}?token={token}"), "token": token}))
}

async fn upload_signed(cx: &Cx, bucket: &str, key: &str, body: Body) -> Response {
    let claims = match check_url_token(cx, bucket, key) {
        Ok(c) => c,
        Err(r) => return reject(body, r).await,
    };
    let upsert = claims
        .get("upsert")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    upload(cx, bucket, key, body, upsert, true, true).await
}

// ---------- copy, move, remove ----------

async fn copy_or_move(cx: &Cx, body: Body, copy: bool) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let src_bucket = str_field(&v, "bucketId")?.to_string();
    let src_key = str_field(&v, "sourceKey")?.to_string();
    let dst_key = str_field(&v, "destinationKey")?.to_string();
    let dst_bucket = v
        .get("destinationBucket")
        .and_then(Value::as_str)
        .unwrap_or(&src_bucket)
        .to_string();
    if !cx.require_auth()? {
        return Err(object_not_found());
    }
    check_key(&cx.shared, &dst_key)?;
    // Copy honours x-upsert; move ignores it (recorded: still "409").
    let upsert = copy && cx.upsert();
    let override_meta = v.get("metadata").cloned().unwrap_or(Value::Null);
    let copy_user_meta = v
        .get("copyMetadata")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let now = now_us();
    let mut idx = cx.shared.lock();
    let src = idx
        .buckets
        .get(&src_bucket)
        .and_then(|b| b.objects.get(&src_key))
        .cloned()
        .ok_or_else(object_not_found)?;
    // Recorded from the real server: a missing destination bucket is a foreign-key failure.
    let dst = idx.buckets.get(&dst_bucket).ok_or_else(|| {
        err(
            "404",
            "InvalidRequest",
            "The related resource does not exist",
        )
    })?;
    let old = dst.objects.get(&dst_key).cloned();
    if old.is_some() && !upsert {
        return Err(duplicate());
    }
    if !copy {
        let obj = idx
            .buckets
            .get_mut(&src_bucket)
            .and_then(|b| b.objects.remove(&src_key))
            .ok_or_else(object_not_found)?;
        if let Some(b) = idx.buckets.get_mut(&dst_bucket) {
            b.objects.insert(
                dst_key,
                Obj {
                    updated_at: now,
                    ..obj
                },
            );
        }
        drop(idx);
        cx.shared.mark_dirty();
        return Ok(ok_json(&json!({"message": "Successfully moved"})));
    }
    // Blobs are immutable, so a hard link is a safe, instant copy.
    let version = uuid::Uuid::new_v4().to_string();
    let (from, to) = (
        cx.shared.blob_path(&src.version),
        cx.shared.blob_path(&version),
    );
    if std::fs::hard_link(&from, &to).is_err() {
        std::fs::copy(&from, &to).map_err(internal)?;
    }
    let obj = Obj {
        id: old
            .as_ref()
            .map(|o| o.id.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        version,
        created_at: old.as_ref().map_or(now, |o| o.created_at),
        updated_at: now,
        last_accessed_at: old.as_ref().map_or(now, |o| o.last_accessed_at),
        mimetype: override_meta
            .get("mimetype")
            .and_then(Value::as_str)
            .map_or(src.mimetype.clone(), str::to_string),
        cache_control: override_meta
            .get("cacheControl")
            .and_then(Value::as_str)
            .map_or(src.cache_control.clone(), str::to_string),
        size: src.size,
        etag: src.etag.clone(),
        user_metadata: if copy_user_meta {
            src.user_metadata.clone()
        } else {
            None
        },
    };
    let mut row = obj.row_json(&dst_bucket, &dst_key);
    row["Key"] = json!(format!("{dst_bucket}/{dst_key}"));
    row["Id"] = json!(obj.id);
    if let Some(b) = idx.buckets.get_mut(&dst_bucket) {
        b.objects.insert(dst_key, obj);
    }
    drop(idx);
    cx.shared.remove_blobs(old.map(|o| o.version));
    cx.shared.mark_dirty();
    Ok(ok_json(&row))
}

/// Strict mode, after deleting `key`: a key ending in `/` leaves its folders behind as
/// entries (the recorded "phantom folder"); deleting an object inside a folder clears it.
fn track_phantoms(shared: &Shared, b: &mut Bucket, key: &str) {
    if !shared.strict {
        return;
    }
    if let Some(folder) = key.strip_suffix('/') {
        let mut path = String::new();
        for seg in folder.split('/') {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(seg);
            b.phantoms.insert(path.clone());
        }
    } else {
        b.phantoms.retain(|p| {
            !(key.len() > p.len() && key.starts_with(p.as_str()) && key.as_bytes()[p.len()] == b'/')
        });
    }
}

fn remove_one(cx: &Cx, bucket: &str, key: &str) -> Response {
    match cx.require_auth() {
        Err(r) => return r,
        Ok(false) => return object_not_found(),
        Ok(true) => {}
    }
    let removed = {
        let mut idx = cx.shared.lock();
        idx.buckets.get_mut(bucket).and_then(|b| {
            let o = b.objects.remove(key)?;
            track_phantoms(&cx.shared, b, key);
            Some(o)
        })
    };
    match removed {
        None => object_not_found(),
        Some(o) => {
            cx.shared.remove_blobs([o.version]);
            cx.shared.mark_dirty();
            ok_json(&json!({"message": "Successfully deleted"}))
        }
    }
}

async fn remove_many(cx: &Cx, bucket: &str, body: Body) -> Result<Response, Response> {
    let v = json_body(body).await?;
    let prefixes: Vec<String> = match v.get("prefixes") {
        None | Some(Value::Null) => return Err(required("prefixes")),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(err("400", "Error", "body/prefixes must be array")),
    };
    if prefixes.is_empty() {
        return Err(err(
            "400",
            "Error",
            "body/prefixes must NOT have fewer than 1 items",
        ));
    }
    if !cx.require_auth()? {
        return Ok(ok_json(&json!([])));
    }
    let mut rows = Vec::new();
    let mut versions = Vec::new();
    {
        let mut idx = cx.shared.lock();
        if let Some(b) = idx.buckets.get_mut(bucket) {
            // Each entry is an exact key; folders and missing keys delete nothing.
            for p in &prefixes {
                if let Some(o) = b.objects.remove(p) {
                    rows.push(o.row_json(bucket, p));
                    versions.push(o.version);
                    track_phantoms(&cx.shared, b, p);
                }
            }
        }
    }
    cx.shared.remove_blobs(versions);
    cx.shared.mark_dirty();
    Ok(ok_json(&rows))
}

/// Handlers return `Result` so they can use `?` with error responses.
fn flat(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|e| e)
}

/// Compile-time guard: axum needs `dispatch`'s future to be `Send` (no index guard across `.await`).
#[allow(dead_code)]
fn _send_check(s: Arc<Shared>, r: Request) {
    fn is_send<T: Send>(_: &T) {}
    let f = dispatch(State(s), r);
    is_send(&f);
}
