//! Error mapping: the server's answers (HTTP status and body) and failed requests become
//! typed errors with hints; a few hints need a look at the bucket first.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::metadata::parse_limit;
use super::{SupabaseStore, PROVIDER};
use crate::error::{Error, ErrorKind};
use crate::{Key, ObjectPath};

/// Recorded from the real server: copy/move into a missing bucket, and deleting a bucket
/// that still has a phantom folder entry.
pub(super) const RELATED_MISSING: &str = "the related resource does not exist";
const PORTABLE_HINT: &str = "Supabase accepts only ASCII letters, digits and `_/!-.*'() &$@=;:+,?` in keys; rename the object (e.g. transliterate unicode and replace other characters with `-`), or use an S3 or local profile, which accept any key";

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
pub(super) fn transport_error(err: reqwest::Error, what: &str) -> Error {
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

pub(super) fn invalid_key_error(key: &Key) -> Error {
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

/// Copy and move name the destination in their errors where it is at fault: an existing
/// object, or a missing bucket (the server's "The related resource does not exist").
pub(super) fn destination_error(mut e: Error, to: &ObjectPath) -> Error {
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

impl SupabaseStore {
    /// The server answers object requests made with a key it does not accept as "Bucket not
    /// found" (they run as `anon`). A bucket lookup needs a valid key: when it is refused,
    /// the key is the problem, not the bucket.
    pub(super) async fn refused_key_or(
        &self,
        not_found: Error,
        bucket: &str,
        key: Option<&str>,
    ) -> Error {
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

    /// Fill in a TooLarge error's limit from the bucket's `file_size_limit`, when it has one.
    pub(super) async fn with_bucket_limit(&self, mut err: Error, bucket: &str) -> Error {
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
}
