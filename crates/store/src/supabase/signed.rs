//! Signed URLs: download URLs signed in one batch request, and the URLs the server returns
//! rebuilt under our API base with the key encoded.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::urls::{bucket_url, object_url};
use super::{SupabaseStore, PROVIDER};
use crate::error::{Error, ErrorKind, Result};
use crate::key::validate_supabase_bucket as validate_bucket;
use crate::{Key, Store};

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
pub(super) fn signed_url_for(
    api: &str,
    route: &str,
    bucket: &str,
    key: &str,
    returned: &str,
) -> String {
    match signed_token(returned) {
        Some(token) => format!("{}?token={token}", object_url(api, route, bucket, key)),
        None => absolute_url(api, returned),
    }
}

impl SupabaseStore {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supabase::urls::api_base;

    #[test]
    fn signed_urls_are_rebuilt_under_our_base() {
        let api = api_base("https://ref.supabase.co/");
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
}
