//! The API's URLs: the base for a project URL, and routes with the bucket and key encoded.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

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
pub(super) fn object_url(api: &str, route: &str, bucket: &str, key: &str) -> String {
    format!(
        "{api}/{route}/{}/{}",
        utf8_percent_encode(bucket, SEGMENT),
        encode_key(key)
    )
}

/// `{api}/{route}/{bucket}`.
pub(super) fn bucket_url(api: &str, route: &str, bucket: &str) -> String {
    format!("{api}/{route}/{}", utf8_percent_encode(bucket, SEGMENT))
}

/// The API base for a project URL: `{url}/storage/v1` (kept when already there).
pub(super) fn api_base(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.ends_with("/storage/v1") {
        url.to_string()
    } else {
        format!("{url}/storage/v1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
