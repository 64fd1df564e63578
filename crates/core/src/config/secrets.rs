//! Refusing secrets in config.toml: they belong in the keyring or the environment.

use super::*;

/// Whether a field name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    n == "key"
        || n.ends_with("_key")
        || n.ends_with("key_id")
        || n.starts_with("key_")
        || n.contains("apikey")
        || ["secret", "password", "passwd", "token", "credential", "jwt"]
            .iter()
            .any(|w| n.contains(w))
}

/// Why a secret-looking field at `offset` is refused, with the command that moves it into
/// the keyring (never the value).
pub(super) fn secret_refusal(doc: &toml::de::DeTable<'_>, name: &str, offset: usize) -> String {
    // The profile whose table holds the field, if any.
    let profile = doc.get("profiles").and_then(|p| match p.get_ref() {
        toml::de::DeValue::Table(t) => t.iter().find_map(|(k, v)| match v.get_ref() {
            toml::de::DeValue::Table(pt) => find_secret(pt)
                .filter(|(_, o)| *o == offset)
                .map(|_| k.get_ref().to_string()),
            _ => None,
        }),
        _ => None,
    });
    let command = match &profile {
        Some(p) => format!("`stowage login --profile {p}`"),
        None => "`stowage login --profile NAME`".to_string(),
    };
    format!(
        "`{name}` looks like a secret, and secrets are never kept in the config file; remove \
         the line, then run {command} to keep it in the OS keyring ({SECRETS_FROM_ENV})"
    )
}

/// The first secret-looking key anywhere in the document, with its byte offset.
pub(super) fn find_secret(table: &toml::de::DeTable<'_>) -> Option<(String, usize)> {
    for (k, v) in table.iter() {
        if looks_secret(k.get_ref()) {
            return Some((k.get_ref().to_string(), k.span().start));
        }
        if let Some(found) = find_secret_value(v.get_ref()) {
            return Some(found);
        }
    }
    None
}

pub(super) fn find_secret_value(v: &toml::de::DeValue<'_>) -> Option<(String, usize)> {
    match v {
        toml::de::DeValue::Table(t) => find_secret(t),
        toml::de::DeValue::Array(a) => a.iter().find_map(|i| find_secret_value(i.get_ref())),
        _ => None,
    }
}
