//! TUS 1.0.0 resumable uploads at `/upload/resumable`, as the server's tus-node layer answers.
//!
//! Unlike the REST API these use real HTTP status codes and text/plain bodies. Upload ids are
//! base64url (no padding) of `bucket/key/version`; the version becomes the object's version.

use std::io::{Read, SeekFrom};

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use futures::StreamExt;
use md5::{Digest, Md5};
use serde::Serialize;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::api::{self, Auth, Cx};
use crate::rules;
use crate::store::{self, Shared, TusUpload};

const NOT_FOUND: &str = "The file for this url was not found\n";
const EXISTS: &str = "The resource already exists";
const TEXT: &str = "text/plain;charset=UTF-8";

fn text(status: StatusCode, msg: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, TEXT)
        .header(header::CONTENT_LENGTH, msg.len())
        .header("tus-resumable", "1.0.0")
        .body(Body::from(msg.to_string()))
        .unwrap_or_default()
}

fn bare(status: StatusCode) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("tus-resumable", "1.0.0")
}

/// Auth failures here use the JSON form with `code: AccessDenied` (as recorded).
fn tus_auth(cx: &Cx) -> Result<bool, Response> {
    #[derive(Serialize)]
    struct B<'a> {
        #[serde(rename = "statusCode")]
        status_code: &'a str,
        code: &'a str,
        error: &'a str,
        message: &'a str,
    }
    let deny = |m: &str| {
        api::json_response(
            StatusCode::BAD_REQUEST,
            &B {
                status_code: "403",
                code: "AccessDenied",
                error: "Unauthorized",
                message: m,
            },
        )
    };
    match cx.auth() {
        Auth::Missing => Err(deny(crate::jwt::INVALID_COMPACT_JWS)),
        Auth::Invalid(m) => Err(deny(m)),
        Auth::Role(r) => Ok(r == "service_role"),
    }
}

fn has_tus_header(cx: &Cx) -> bool {
    cx.header("tus-resumable").is_some()
}

fn options() -> Response {
    bare(StatusCode::NO_CONTENT)
        .header(
            "tus-extension",
            "creation,creation-with-upload,creation-defer-length,termination,expiration",
        )
        .header("tus-max-size", rules::GLOBAL_FILE_SIZE_LIMIT.to_string())
        .header("tus-version", "1.0.0")
        .body(Body::empty())
        .unwrap_or_default()
}

/// `/upload/resumable`: OPTIONS and creation.
pub(crate) async fn collection(cx: Cx, body: Body) -> Response {
    match cx.parts.method {
        Method::OPTIONS => options(),
        Method::POST => {
            let resp = create(&cx);
            // creation-with-upload is advertised but not implemented: the body is ignored.
            store::drain(body.into_data_stream()).await;
            resp
        }
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n"),
    }
}

/// `/upload/resumable/{id}`: HEAD, PATCH, DELETE.
pub(crate) async fn upload(cx: Cx, id: String, body: Body) -> Response {
    let result = match cx.parts.method {
        Method::OPTIONS => return options(),
        Method::HEAD => head(&cx, &id),
        Method::PATCH => patch(&cx, &id, body).await,
        Method::DELETE => delete(&cx, &id).await,
        _ => Err(text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n")),
    };
    result.unwrap_or_else(|e| e)
}

fn parse_metadata(h: &str) -> Vec<(String, String)> {
    h.split(',')
        .filter_map(|pair| {
            let pair = pair.trim();
            let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
            let v = STANDARD
                .decode(v.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())?;
            (!k.is_empty()).then(|| (k.to_string(), v))
        })
        .collect()
}

/// The metadata the server echoes on HEAD: normalised, in a fixed order.
fn echo_metadata(u: &TusUpload) -> String {
    let mut parts = vec![
        ("bucketName", u.bucket.as_str()),
        ("objectName", u.key.as_str()),
    ];
    if let Some(ct) = &u.content_type {
        parts.push(("contentType", ct));
    }
    parts.push(("cacheControl", &u.cache_control));
    parts
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn limit_for(shared: &Shared, bucket: &str) -> Option<u64> {
    let idx = shared.lock();
    let b = idx.buckets.get(bucket)?;
    Some(
        b.file_size_limit
            .unwrap_or(rules::GLOBAL_FILE_SIZE_LIMIT)
            .min(rules::GLOBAL_FILE_SIZE_LIMIT),
    )
}

fn create(cx: &Cx) -> Response {
    let service = match tus_auth(cx) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !has_tus_header(cx) {
        return text(StatusCode::PRECONDITION_FAILED, "Tus-Resumable Required\n");
    }
    let Some(meta) = cx.header("upload-metadata") else {
        return text(StatusCode::BAD_REQUEST, "Metadata header is required");
    };
    let meta = parse_metadata(meta);
    let get = |k: &str| meta.iter().find(|(mk, _)| mk == k).map(|(_, v)| v.clone());
    let (Some(bucket), Some(key)) = (get("bucketName"), get("objectName")) else {
        return text(StatusCode::BAD_REQUEST, "Metadata header is required");
    };
    let length = match (cx.header("upload-length"), cx.header("upload-defer-length")) {
        (Some(l), _) => match l.trim().parse::<u64>() {
            Ok(l) => Some(l),
            Err(_) => return text(StatusCode::BAD_REQUEST, "Invalid Upload-Length\n"),
        },
        (None, Some("1")) => None,
        _ => {
            return text(
                StatusCode::BAD_REQUEST,
                "Upload-Length or Upload-Defer-Length header required\n",
            )
        }
    };
    if !rules::is_valid_key(&key) {
        return text(StatusCode::BAD_REQUEST, &format!("Invalid key: {key}"));
    }
    let content_type = get("contentType");
    let mime = content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let version = uuid::Uuid::new_v4().to_string();
    let id = URL_SAFE_NO_PAD.encode(format!("{bucket}/{key}/{version}"));
    {
        let mut idx = cx.shared.lock();
        let Some(b) = idx.buckets.get(&bucket) else {
            return text(StatusCode::NOT_FOUND, "Bucket not found");
        };
        if !service {
            return text(
                StatusCode::FORBIDDEN,
                "new row violates row-level security policy",
            );
        }
        let limit = b
            .file_size_limit
            .unwrap_or(rules::GLOBAL_FILE_SIZE_LIMIT)
            .min(rules::GLOBAL_FILE_SIZE_LIMIT);
        if length.is_some_and(|l| l > limit) {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "Maximum size exceeded\n");
        }
        // Recorded from the real server: an upload that names no content type is accepted
        // whatever the bucket allows (and stored as application/octet-stream).
        if content_type.is_some() && !rules::mime_allowed(&mime, b.allowed_mime_types.as_deref()) {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("mime type {mime} is not supported"),
            );
        }
        if b.objects.contains_key(&key) && !cx.upsert() {
            return text(StatusCode::CONFLICT, EXISTS);
        }
        if let Err(e) = std::fs::File::create(cx.shared.tus_part_path(&version)) {
            tracing::warn!("tus create: {e}");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
        let cache_control = get("cacheControl").map_or_else(
            || "no-cache".to_string(),
            |c| rules::normalize_cache_control(&c),
        );
        idx.uploads.insert(
            id.clone(),
            TusUpload {
                bucket,
                key,
                version,
                length,
                offset: 0,
                content_type,
                cache_control,
                completed: false,
                user_metadata: get("metadata").and_then(|m| serde_json::from_str(&m).ok()),
            },
        );
    }
    cx.shared.mark_dirty();
    let host = cx.header(header::HOST).unwrap_or("localhost").to_string();
    let scheme = cx.header("x-forwarded-proto").unwrap_or("http").to_string();
    let location = format!("{scheme}://{host}{}/upload/resumable/{id}", cx.prefix);
    bare(StatusCode::CREATED)
        .header(header::CONTENT_TYPE, TEXT)
        .header(
            header::LOCATION,
            HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/")),
        )
        .body(Body::empty())
        .unwrap_or_default()
}

fn lookup(shared: &Shared, id: &str) -> Result<TusUpload, Response> {
    shared
        .lock()
        .uploads
        .get(id)
        .cloned()
        .ok_or_else(|| text(StatusCode::NOT_FOUND, NOT_FOUND))
}

fn head(cx: &Cx, id: &str) -> Result<Response, Response> {
    tus_auth(cx)?;
    if !has_tus_header(cx) {
        return Err(text(
            StatusCode::PRECONDITION_FAILED,
            "Tus-Resumable Required\n",
        ));
    }
    let u = lookup(&cx.shared, id)?;
    let mut b = bare(StatusCode::OK)
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::CONTENT_TYPE, TEXT)
        .header("upload-offset", u.offset.to_string())
        .header("upload-metadata", echo_metadata(&u));
    if let Some(l) = u.length {
        b = b.header("upload-length", l.to_string());
    }
    Ok(b.body(Body::empty()).unwrap_or_default())
}

async fn delete(cx: &Cx, id: &str) -> Result<Response, Response> {
    tus_auth(cx)?;
    if !has_tus_header(cx) {
        return Err(text(
            StatusCode::PRECONDITION_FAILED,
            "Tus-Resumable Required\n",
        ));
    }
    lookup(&cx.shared, id)?;
    let slot = cx.shared.tus_slot(id);
    let _guard = slot.lock().await;
    let removed = cx.shared.lock().uploads.remove(id);
    let Some(u) = removed else {
        return Err(text(StatusCode::NOT_FOUND, NOT_FOUND));
    };
    let _ = std::fs::remove_file(cx.shared.tus_part_path(&u.version));
    cx.shared.drop_tus_slot(id);
    cx.shared.mark_dirty();
    Ok(bare(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .unwrap_or_default())
}

/// Reads a body into an error and discards the rest, so the client sees our answer.
async fn refuse(body: Body, resp: Response) -> Response {
    store::drain(body.into_data_stream()).await;
    resp
}

async fn patch(cx: &Cx, id: &str, body: Body) -> Result<Response, Response> {
    let service = match tus_auth(cx) {
        Ok(s) => s,
        Err(r) => return Err(refuse(body, r).await),
    };
    if !has_tus_header(cx) {
        return Err(refuse(
            body,
            text(StatusCode::PRECONDITION_FAILED, "Tus-Resumable Required\n"),
        )
        .await);
    }
    if cx.header(header::CONTENT_TYPE) != Some("application/offset+octet-stream") {
        return Err(refuse(
            body,
            text(StatusCode::BAD_REQUEST, "Invalid content-type\n"),
        )
        .await);
    }
    if let Err(r) = lookup(&cx.shared, id) {
        return Err(refuse(body, r).await);
    }
    // One PATCH at a time per upload; the slot also carries the running md5.
    let slot = cx.shared.tus_slot(id);
    let mut hasher = slot.lock().await;
    let mut u = match lookup(&cx.shared, id) {
        Ok(u) => u,
        Err(r) => return Err(refuse(body, r).await),
    };
    if !service {
        return Err(refuse(
            body,
            text(
                StatusCode::FORBIDDEN,
                "new row violates row-level security policy",
            ),
        )
        .await);
    }
    // Checked on every request, hence upsert needs `x-upsert: true` on each PATCH (as recorded).
    let upsert = cx.upsert();
    let exists = cx
        .shared
        .lock()
        .buckets
        .get(&u.bucket)
        .map(|b| b.objects.contains_key(&u.key));
    match exists {
        None => return Err(refuse(body, text(StatusCode::NOT_FOUND, "Bucket not found")).await),
        Some(true) if !upsert => return Err(refuse(body, text(StatusCode::CONFLICT, EXISTS)).await),
        _ => {}
    }
    let Some(offset) = cx
        .header("upload-offset")
        .and_then(|o| o.trim().parse::<u64>().ok())
    else {
        return Err(refuse(
            body,
            text(
                StatusCode::BAD_REQUEST,
                "Missing or invalid Upload-Offset header\n",
            ),
        )
        .await);
    };
    if u.length.is_none() {
        if let Some(l) = cx
            .header("upload-length")
            .and_then(|l| l.trim().parse::<u64>().ok())
        {
            if l < u.offset || l > limit_for(&cx.shared, &u.bucket).unwrap_or(0) {
                return Err(refuse(
                    body,
                    text(StatusCode::PAYLOAD_TOO_LARGE, "Maximum size exceeded\n"),
                )
                .await);
            }
            u.length = Some(l);
        }
    }
    if offset != u.offset {
        return Err(refuse(body, text(StatusCode::CONFLICT, "Upload-Offset conflict\n")).await);
    }
    let max = u.length.unwrap_or(rules::GLOBAL_FILE_SIZE_LIMIT);
    let declared = cx
        .header(header::CONTENT_LENGTH)
        .and_then(|l| l.parse::<u64>().ok());
    if declared.is_some_and(|n| offset + n > max) {
        return Err(refuse(
            body,
            text(StatusCode::PAYLOAD_TOO_LARGE, "upload's size exceeded\n"),
        )
        .await);
    }

    // Append the body at `offset`; roll back to `offset` if it runs past the length.
    let part = cx.shared.tus_part_path(&u.version);
    let mut file = match tokio::fs::OpenOptions::new().write(true).open(&part).await {
        Ok(f) => f,
        Err(e) => return Err(refuse(body, internal_text(e)).await),
    };
    if let Err(e) = file.set_len(offset).await {
        return Err(refuse(body, internal_text(e)).await);
    }
    if let Err(e) = file.seek(SeekFrom::Start(offset)).await {
        return Err(refuse(body, internal_text(e)).await);
    }
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut md5 = match hasher.clone() {
        Some(h) => Some(h),
        None if offset == 0 => Some(Md5::new()),
        None => None,
    };
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    let mut interrupted = false;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            interrupted = true;
            break;
        };
        if offset + written + chunk.len() as u64 > max {
            drop(out);
            store::drain(stream).await;
            if let Ok(f) = tokio::fs::OpenOptions::new().write(true).open(&part).await {
                let _ = f.set_len(offset).await;
            }
            return Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload's size exceeded\n",
            ));
        }
        if let Err(e) = out.write_all(&chunk).await {
            return Err(internal_text(e));
        }
        if let Some(h) = md5.as_mut() {
            h.update(&chunk);
        }
        written += chunk.len() as u64;
    }
    if let Err(e) = out.flush().await {
        return Err(internal_text(e));
    }
    drop(out);
    // What arrived counts even if the client went away: that is what resuming relies on.
    u.offset = offset + written;
    *hasher = md5;
    let done = u.length == Some(u.offset);
    if let Some(rec) = cx.shared.lock().uploads.get_mut(id) {
        rec.offset = u.offset;
        rec.length = u.length;
        rec.completed = done;
    }
    cx.shared.mark_dirty();
    if interrupted {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "Request body was interrupted\n",
        ));
    }
    if done {
        let etag = match hasher.take() {
            Some(h) => h.finalize().to_vec(),
            None => {
                let p = part.clone();
                match tokio::task::spawn_blocking(move || md5_file(&p)).await {
                    Ok(Ok(d)) => d,
                    _ => {
                        return Err(text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Internal Server Error",
                        ))
                    }
                }
            }
        };
        let spooled = store::Spooled {
            path: part,
            size: u.offset,
            etag: format!("\"{}\"", hex::encode(etag)),
        };
        let mimetype = u
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into());
        let meta = api::UploadMeta {
            mimetype,
            cache_control: u.cache_control.clone(),
            user_metadata: u.user_metadata.clone(),
        };
        // On failure the part file stays, so a retry (e.g. with x-upsert) can still finish.
        if let Err(e) = api::commit(
            &cx.shared,
            &u.bucket,
            &u.key,
            &spooled,
            meta,
            upsert,
            u.version.clone(),
        ) {
            return Err(match e {
                api::CommitError::BucketGone => text(StatusCode::NOT_FOUND, "Bucket not found"),
                api::CommitError::Exists => text(StatusCode::CONFLICT, EXISTS),
                api::CommitError::Io(e) => internal_text(e),
            });
        }
        // The file is now the object's blob; an empty part keeps a retried PATCH harmless.
        let _ = std::fs::File::create(cx.shared.tus_part_path(&u.version));
    }
    Ok(bare(StatusCode::NO_CONTENT)
        .header("upload-offset", u.offset.to_string())
        .body(Body::empty())
        .unwrap_or_default())
}

fn internal_text(e: std::io::Error) -> Response {
    tracing::warn!("tus: {e}");
    text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn md5_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finalize().to_vec());
        }
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_roundtrip() {
        let m = parse_metadata("bucketName ZngtcGxhaW4=,objectName dHVzL2JpZy5iaW4=,contentType YXBwbGljYXRpb24vb2N0ZXQtc3RyZWFt,cacheControl MzYwMA==");
        assert_eq!(m[0], ("bucketName".into(), "fx-plain".into()));
        assert_eq!(m[3], ("cacheControl".into(), "3600".into()));
        let u = TusUpload {
            bucket: "fx-plain".into(),
            key: "tus/overflow.bin".into(),
            version: "v".into(),
            length: Some(1024),
            offset: 0,
            content_type: None,
            cache_control: "no-cache".into(),
            completed: false,
            user_metadata: None,
        };
        assert_eq!(
            echo_metadata(&u),
            "bucketName ZngtcGxhaW4=,objectName dHVzL292ZXJmbG93LmJpbg==,cacheControl bm8tY2FjaGU="
        );
    }
}
