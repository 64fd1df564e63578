//! HS256 JWTs: the API keys (`role` claim) and the signed-URL tokens (`url` claim).
//!
//! Error strings are the ones the real server passes through from the `jose` library.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

pub(crate) const INVALID_COMPACT_JWS: &str = "Invalid Compact JWS";
pub(crate) const BAD_SIGNATURE: &str = "signature verification failed";
pub(crate) const EXPIRED: &str = "\"exp\" claim timestamp check failed";

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    Hmac::<Sha256>::new_from_slice(secret).expect("hmac key")
}

/// Signs `payload` with HS256 under the given protected header.
pub(crate) fn sign(secret: &[u8], header: &Value, payload: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let p = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut m = mac(secret);
    m.update(format!("{h}.{p}").as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{h}.{p}.{sig}")
}

/// Verifies an HS256 token and its `exp`, returning the claims or jose's error message.
pub(crate) fn verify(secret: &[u8], token: &str, now_unix: i64) -> Result<Value, &'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(INVALID_COMPACT_JWS);
    }
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| INVALID_COMPACT_JWS);
    let header: Value =
        serde_json::from_slice(&decode(parts[0])?).map_err(|_| INVALID_COMPACT_JWS)?;
    let sig = decode(parts[2])?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err("\"alg\" (Algorithm) Header Parameter value not allowed");
    }
    let mut m = mac(secret);
    m.update(parts[0].as_bytes());
    m.update(b".");
    m.update(parts[1].as_bytes());
    m.verify_slice(&sig).map_err(|_| BAD_SIGNATURE)?;
    let claims: Value =
        serde_json::from_slice(&decode(parts[1])?).map_err(|_| INVALID_COMPACT_JWS)?;
    if !claims.is_object() {
        return Err("JWT Claims Set must be a top-level JSON object");
    }
    if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
        if exp <= now_unix as f64 {
            return Err(EXPIRED);
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roundtrip_and_errors() {
        let t = sign(
            b"s3cret",
            &json!({"alg":"HS256"}),
            &json!({"url":"b/k","exp":100}),
        );
        assert_eq!(verify(b"s3cret", &t, 50).unwrap()["url"], "b/k");
        assert_eq!(verify(b"s3cret", &t, 100), Err(EXPIRED));
        assert_eq!(verify(b"other", &t, 50), Err(BAD_SIGNATURE));
        assert_eq!(
            verify(b"s3cret", "this-is-not-a-jwt", 50),
            Err(INVALID_COMPACT_JWS)
        );
        assert_eq!(verify(b"s3cret", "", 50), Err(INVALID_COMPACT_JWS));
        let mut tampered = t.clone();
        let i = t.rfind('.').unwrap() + 1;
        tampered.replace_range(i..i + 1, if &t[i..i + 1] == "A" { "B" } else { "A" });
        assert_eq!(verify(b"s3cret", &tampered, 50), Err(BAD_SIGNATURE));
    }
}
