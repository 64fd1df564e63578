//! Metadata in both directions: the SHA-256 sent as user metadata (standard and TUS
//! uploads) and read back, and the times, sizes and ETags the server writes.

use base64::Engine;
use serde_json::{json, Value};
use time::OffsetDateTime;

const USER_METADATA_SHA256: &str = "sha256";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// The `x-metadata` header of a standard upload: base64 of `{"sha256": "..."}`.
pub(super) fn user_metadata_header(sha256: &str) -> String {
    b64(json!({ USER_METADATA_SHA256: sha256 })
        .to_string()
        .as_bytes())
}

/// The TUS `Upload-Metadata` header: `key base64,key base64,...`. `metadata` carries the
/// user metadata (JSON) for servers that keep it.
pub(super) fn tus_metadata_header(
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
pub(super) fn recorded_sha256(metadata: Option<&Value>) -> Option<String> {
    let v = metadata?.get(USER_METADATA_SHA256)?.as_str()?;
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

pub(super) fn parse_time(s: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s?, &time::format_description::well_known::Rfc3339).ok()
}

pub(super) fn parse_http_date(s: Option<&str>) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s?, &time::format_description::well_known::Rfc2822).ok()
}

/// A size limit as the server writes it: a number, or a numeric string.
pub(super) fn parse_limit(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn clean_etag(s: &str) -> String {
    s.trim_start_matches("W/").trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
