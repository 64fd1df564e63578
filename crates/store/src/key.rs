//! Object keys and bucket names are validated and normalised here, once, for every backend.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, ErrorKind, Result};

/// The longest key S3 accepts, in UTF-8 bytes; we hold every provider to it.
pub const MAX_KEY_BYTES: usize = 1024;

/// A validated, normalised object key: `/`-separated, no empty, `.` or `..` segments, no
/// control characters, no leading `/`, at most 1,024 bytes, Unicode NFC. Spaces, unicode and
/// punctuation are kept as they are.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// Validate and normalise `raw`.
    pub fn parse(raw: &str) -> Result<Key> {
        let invalid = |why: &str| {
            Error::new(ErrorKind::InvalidKey, "stowage", why.to_string())
                .key(printable(raw))
                .hint("use a relative key like `folder/file.json` without `..`, empty segments or control characters")
        };
        if raw.is_empty() {
            return Err(invalid("the key is empty"));
        }
        let key: String = raw.nfc().collect();
        if key.starts_with('/') {
            return Err(invalid(
                "the key starts with `/`; keys are relative to the bucket",
            ));
        }
        if let Some(c) = key.chars().find(|c| c.is_control() || is_bidi_control(*c)) {
            return Err(invalid(&format!(
                "the key contains the control character U+{:04X}",
                c as u32
            )));
        }
        if key.contains('\\') {
            return Err(invalid(
                "the key contains `\\`; use `/` to separate folders",
            ));
        }
        for segment in key.split('/') {
            match segment {
                "" => {
                    return Err(invalid(
                        "the key has an empty segment (`//` or a trailing `/`)",
                    ))
                }
                "." | ".." => {
                    return Err(invalid(&format!("the key has a `{segment}` segment")));
                }
                _ => {}
            }
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid(&format!(
                "the key is {} bytes long; the limit is {MAX_KEY_BYTES}",
                key.len()
            )));
        }
        Ok(Key(key))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Join a relative path below this key, as a folder.
    pub fn join(&self, rest: &str) -> Result<Key> {
        Key::parse(&format!("{}/{}", self.0, rest))
    }

    /// Whether the key is plain ASCII of the characters every provider accepts
    /// (Supabase's set: letters, digits, `_ / ! - . * ' ( ) space & $ @ = ; : + , ?`).
    pub fn is_portable(&self) -> bool {
        self.0.chars().all(is_portable_char)
    }
}

/// Characters Supabase Storage accepts in a key.
pub fn is_portable_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_/!-.*'() &$@=;:+,?".contains(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A key shown in an error: control characters escaped so they cannot garble a terminal.
fn printable(raw: &str) -> String {
    raw.chars()
        .flat_map(|c| {
            if c.is_control() || is_bidi_control(c) {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Key {
    type Error = Error;
    fn try_from(value: &str) -> Result<Key> {
        Key::parse(value)
    }
}

/// Validate a list prefix: empty, or a key-like string that may end with `/`.
pub fn parse_prefix(raw: &str) -> Result<String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let trimmed = raw.strip_suffix('/').unwrap_or(raw);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let key = Key::parse(trimmed)?;
    Ok(if raw.ends_with('/') {
        format!("{key}/")
    } else {
        key.0
    })
}

/// Validate a bucket name by the rules S3 and Supabase share: 3–63 characters of lowercase
/// letters, digits, `-` and `.`, starting and ending with a letter or digit.
pub fn validate_bucket(provider: &str, name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidKey,
            provider,
            "bucket names are 3-63 characters of lowercase letters, digits, `-` and `.`",
        )
        .bucket(printable(name))
        .hint("choose a name like `ml-artifacts`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spaces_unicode_and_punctuation() {
        for k in [
            "a",
            "with space/file name.txt",
            "unicode/こんにちは-ün.json",
            "pct/%20%2F%zz",
            "xml/<&>\"'",
            "a/b/c/d/e/f/g/h/i/j/deep.bin",
            "...hidden/..x/x..",
        ] {
            assert_eq!(Key::parse(k).unwrap().as_str(), k);
        }
    }

    #[test]
    fn rejects_escapes_and_garbage() {
        for k in [
            "",
            "/abs",
            "a//b",
            "trailing/",
            "..",
            "../x",
            "a/../b",
            "a/./b",
            ".",
            "nul\0byte",
            "new\nline",
            "tab\tx",
            "rtl\u{202E}txt.exe",
            "back\\slash",
        ] {
            let err = Key::parse(k).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidKey, "{k:?}");
            assert!(!err.to_string().contains('\0'));
        }
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(Key::parse(&long)
            .unwrap_err()
            .to_string()
            .contains("1025 bytes"));
        assert!(Key::parse(&"k".repeat(MAX_KEY_BYTES)).is_ok());
    }

    #[test]
    fn normalises_to_nfc() {
        let decomposed = "cafe\u{301}.txt";
        assert_eq!(Key::parse(decomposed).unwrap().as_str(), "caf\u{e9}.txt");
    }

    #[test]
    fn portability_matches_supabase_rules() {
        assert!(Key::parse("a+b=c&d;e,f@g$h!(i)'j*k:l?.txt")
            .unwrap()
            .is_portable());
        assert!(!Key::parse("ü.txt").unwrap().is_portable());
        assert!(!Key::parse("100%.txt").unwrap().is_portable());
        assert!(!Key::parse("a<b").unwrap().is_portable());
    }

    #[test]
    fn prefixes_and_buckets() {
        assert_eq!(parse_prefix("").unwrap(), "");
        assert_eq!(parse_prefix("a/b/").unwrap(), "a/b/");
        assert_eq!(parse_prefix("a/b").unwrap(), "a/b");
        assert!(parse_prefix("../").is_err());
        assert!(validate_bucket("s3", "ml-artifacts").is_ok());
        for bad in ["ab", "Upper", "-x-", "a_b", "a..b", &"x".repeat(64)] {
            assert!(validate_bucket("s3", bad).is_err(), "{bad}");
        }
    }
}
