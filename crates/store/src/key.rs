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

    /// Why this key cannot be a file name on Windows, if it cannot: a segment that is a
    /// reserved device name (`CON`, `NUL`, `COM1`, `aux.txt`, …), ends with `.` or a space, or
    /// holds one of `<>:"|?*`. Such keys are **accepted** (every provider stores them, and Linux
    /// and macOS folders hold them); `put` shows this as a warning, because downloading the
    /// object to a Windows folder (or a local-folder profile on Windows) will need another name.
    pub fn portability_warning(&self) -> Option<String> {
        const RESERVED: &[&str] = &["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
        self.0.split('/').find_map(|segment| {
            let stem = segment.split('.').next().unwrap_or(segment).trim_end();
            let upper = stem.to_ascii_uppercase();
            let device = RESERVED.contains(&upper.as_str())
                || ((upper.starts_with("COM") || upper.starts_with("LPT"))
                    && upper.len() == 4
                    && matches!(upper.as_bytes()[3], b'1'..=b'9'));
            let why = if device {
                format!("`{segment}` is a reserved device name on Windows")
            } else if segment.ends_with('.') || segment.ends_with(' ') {
                format!("`{segment}` ends with a dot or a space, which Windows drops")
            } else if let Some(c) = segment.chars().find(|c| "<>:\"|?*".contains(*c)) {
                format!("`{segment}` contains `{c}`, which Windows file names cannot")
            } else {
                return None;
            };
            Some(format!(
                "key `{}`: {why}; it is stored as is, but cannot be downloaded to a Windows folder under this name (rename it if Windows users need it)",
                printable(&self.0)
            ))
        })
    }
}

/// Characters that look like `/`, `\` or `.` (or `%`) without being them. Every provider stores
/// them literally, so [`Key::parse`] accepts them; where a key must provably stay inside a
/// folder (an organization's prefix, see [`crate::org`]) [`check_unambiguous`] refuses them:
/// a listing, a terminal or a later tool that folds them would show or use a different path.
pub const LOOKALIKES: &[(char, &str)] = &[
    ('\u{2215}', "DIVISION SLASH"),
    ('\u{2044}', "FRACTION SLASH"),
    ('\u{FF0F}', "FULLWIDTH SOLIDUS"),
    ('\u{29F8}', "BIG SOLIDUS"),
    (
        '\u{2571}',
        "BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT",
    ),
    ('\u{27CB}', "MATHEMATICAL RISING DIAGONAL"),
    ('\u{1735}', "PHILIPPINE SINGLE PUNCTUATION"),
    ('\u{3033}', "VERTICAL KANA REPEAT MARK UPPER HALF"),
    ('\u{2F03}', "KANGXI RADICAL SLASH"),
    ('\u{0337}', "COMBINING SHORT SOLIDUS OVERLAY"),
    ('\u{0338}', "COMBINING LONG SOLIDUS OVERLAY"),
    ('\u{FF3C}', "FULLWIDTH REVERSE SOLIDUS"),
    ('\u{FE68}', "SMALL REVERSE SOLIDUS"),
    ('\u{2216}', "SET MINUS"),
    ('\u{29F5}', "REVERSE SOLIDUS OPERATOR"),
    ('\u{29F9}', "BIG REVERSE SOLIDUS"),
    (
        '\u{2572}',
        "BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT",
    ),
    ('\u{27CD}', "MATHEMATICAL FALLING DIAGONAL"),
    ('\u{FF0E}', "FULLWIDTH FULL STOP"),
    ('\u{FE52}', "SMALL FULL STOP"),
    ('\u{2024}', "ONE DOT LEADER"),
    ('\u{2025}', "TWO DOT LEADER"),
    ('\u{2026}', "HORIZONTAL ELLIPSIS"),
    ('\u{0701}', "SYRIAC SUPRALINEAR FULL STOP"),
    ('\u{0702}', "SYRIAC SUBLINEAR FULL STOP"),
    ('\u{A4F8}', "LISU LETTER TONE MYA TI"),
    ('\u{A60E}', "VAI FULL STOP"),
    ('\u{FF05}', "FULLWIDTH PERCENT SIGN"),
    ('\u{FE6A}', "SMALL PERCENT SIGN"),
];

/// Refuse what [`Key::parse`] lets through but a decoding layer could turn into a different
/// path: a percent-encoded `/`, `\`, `.`, `%` or control byte (`%2F`, `%2e%2e`, `%5C`,
/// `%252F`), a look-alike of `/`, `\`, `.` or `%` ([`LOOKALIKES`]), and any character whose
/// compatibility form (NFKC) adds or removes a separator, a dot or a percent sign. Used by
/// [`crate::org::OrgScoped`] for every key and for organization names.
pub fn check_unambiguous(raw: &str) -> Result<()> {
    let refuse = |why: String| {
        Err(Error::new(ErrorKind::InvalidKey, "stowage", why)
            .key(printable(raw))
            .hint("rename it with plain `/` separators, without percent-encoding or look-alike characters"))
    };
    for c in raw.chars() {
        if let Some((_, name)) = LOOKALIKES.iter().find(|(l, _)| *l == c) {
            return refuse(format!(
                "the key contains U+{:04X} {name}, which looks like a path character",
                c as u32
            ));
        }
    }
    if let Some(code) = encoded_separator_nested(raw) {
        return refuse(format!(
            "the key contains the percent-encoded character `{code}`, which a decoding layer would read as a path character"
        ));
    }
    let nfc: String = raw.nfc().collect();
    let folded: String = nfc.nfkc().collect();
    if folded != nfc {
        let special = |s: &str| {
            s.chars()
                .filter(|c| matches!(c, '/' | '\\' | '.' | '%') || c.is_control())
                .collect::<String>()
        };
        if special(&folded) != special(&nfc) || encoded_separator_nested(&folded).is_some() {
            return refuse(
                "the key contains characters whose compatibility form (NFKC) is `/`, `\\`, `.` or `%`"
                    .to_string(),
            );
        }
    }
    Ok(())
}

/// The first `%XX` that decodes to a byte a path layer treats specially, in `s` or in what
/// decoding `s` again and again produces (`%%32%46` decodes to `%2F`, then to `/`). Each
/// decoding shortens the text, so this ends.
fn encoded_separator_nested(s: &str) -> Option<String> {
    let mut current = s.to_string();
    loop {
        if let Some(code) = encoded_separator(&current) {
            return Some(code.to_string());
        }
        let next = percent_decode(&current);
        if next == current {
            return None;
        }
        current = next;
    }
}

/// `%XX` sequences decoded, the rest kept; invalid UTF-8 replaced.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first `%XX` in `s` that decodes to a byte a path layer treats specially.
fn encoded_separator(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(2)).find_map(|i| {
        if b[i] != b'%' {
            return None;
        }
        let byte = hex_value(b[i + 1])? << 4 | hex_value(b[i + 2])?;
        (byte < 0x20 || matches!(byte, b'/' | b'\\' | b'.' | b'%' | 0x7f)).then(|| &s[i..i + 3])
    })
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
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

/// Validate a bucket name by S3's rule (also the local store's): 3–63 characters of lowercase
/// letters, digits, `-` and `.`, starting and ending with a letter or digit. Each backend
/// applies its own rule ([`crate::Store::check_bucket`]); this is the default.
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
            format!(
                "`{}` is not a bucket name here: bucket names are 3-63 characters of lowercase letters, digits, `-` and `.`",
                printable(name)
            ),
        )
        .bucket(printable(name))
        .hint("choose a name like `ml-artifacts`"))
    }
}

/// The characters Supabase Storage accepts in a bucket name besides ASCII letters and digits.
const SUPABASE_BUCKET_CHARS: &str = "_!-.*'() &$@=;:+,?";

/// Validate a bucket name by Supabase Storage's rule: 1–100 ASCII letters, digits and
/// ``_!-.*'() &$@=;:+,?`` (so `user_uploads` and `Avatars` are names, unlike on S3).
pub fn validate_supabase_bucket(provider: &str, name: &str) -> Result<()> {
    let ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SUPABASE_BUCKET_CHARS.contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidKey,
            provider,
            format!(
                "`{}` is not a bucket name: Supabase bucket names are 1-100 ASCII letters, digits and `_!-.*'() &$@=;:+,?`",
                printable(name)
            ),
        )
        .bucket(printable(name))
        .hint("choose a name like `ml-artifacts` or `user_uploads`"))
    }
}

/// Check what can be checked of a bucket name before its backend is known: a name that no
/// backend accepts. Every backend's rule is a subset of this one (Supabase's is the widest);
/// the backend then applies its own ([`crate::Store::check_bucket`]).
pub fn validate_any_bucket(provider: &str, name: &str) -> Result<()> {
    validate_supabase_bucket(provider, name).map_err(|mut e| {
        e.message = format!(
            "`{}` is not a bucket name: bucket names are ASCII letters, digits and `_!-.*'() &$@=;:+,?` (Supabase, 1-100 characters); S3 and local stores take 3-63 lowercase letters, digits, `-` and `.`",
            printable(name)
        );
        e
    })
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
    fn windows_names_are_accepted_with_a_warning() {
        for k in [
            "d/CON",
            "d/nul.txt",
            "COM1/x",
            "d/lpt9.log",
            "d/aux",
            "d/trail.",
            "d/trail ",
            "d/a:b",
            "d/q?",
        ] {
            let key = Key::parse(k).unwrap();
            let w = key.portability_warning().unwrap_or_else(|| panic!("{k:?}"));
            assert!(w.contains("Windows") && w.contains("stored as is"), "{w}");
        }
        for k in [
            "d/CONSOLE",
            "d/COM0",
            "d/COM10",
            "d/nullable.txt",
            "d/x.txt",
            "d/.hidden",
        ] {
            assert_eq!(Key::parse(k).unwrap().portability_warning(), None, "{k:?}");
        }
    }

    #[test]
    fn ambiguous_keys_are_refused_by_check_unambiguous() {
        for k in [
            "a/%2e%2e/b",
            "a/%2E%2e",
            "a%2Fb",
            "a%2fb",
            "a%5Cb",
            "a%5cb",
            "a%252Fb",
            "a%00b",
            "a%7f",
            // Found by the `key` fuzz target: decoding twice makes `%00` (and `%2F`).
            "acme/%%300000\u{fffd}k)2%%",
            "a%%32%46b",
            "a%%%32%35%32%46b",
            "a\u{2215}b",
            "a\u{2044}b",
            "a\u{FF0F}b",
            "a\u{29F8}b",
            "a\u{2571}b",
            "a\u{FF3C}b",
            "\u{FF0E}\u{FF0E}/b",
            "\u{2025}",
            "a\u{2026}",
            "x\u{0338}",
            "\u{FF05}2F",
            "\u{FE52}\u{FE52}",
            "\u{FE68}",
        ] {
            let e = check_unambiguous(k).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidKey, "{k:?}");
            assert!(e.hint.is_some(), "{k:?}");
        }
        for k in [
            "a/b.txt",
            "100%.txt",
            "a%20b",
            "a%zz",
            "%",
            "x%2",
            "こんにちは。",
            "caf\u{e9}",
            "\u{FF41}bc",
            "Ⅻ",
        ] {
            check_unambiguous(k).unwrap_or_else(|e| panic!("{k:?}: {e}"));
        }
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

    #[test]
    fn bucket_rules_belong_to_each_backend() {
        // Legal on Supabase, not on S3.
        for name in [
            "user_uploads",
            "Avatars",
            "a",
            "x y",
            "a+b",
            &"x".repeat(100),
        ] {
            validate_supabase_bucket("supabase", name).unwrap_or_else(|e| panic!("{name}: {e}"));
            validate_any_bucket("stowage", name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(validate_bucket("s3", name).is_err(), "{name}");
        }
        for bad in ["", "a/b", "ü", "a#b", "tab\tx", &"x".repeat(101)] {
            let e = validate_supabase_bucket("supabase", bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidKey, "{bad:?}");
            assert!(e.to_string().contains("user_uploads"), "{e}");
            assert!(validate_any_bucket("stowage", bad).is_err(), "{bad:?}");
        }
        // Every S3 name is a Supabase name, so checking the widest rule first refuses nothing
        // a backend would take.
        for name in ["ml-artifacts", "a.b-c", "abc"] {
            validate_bucket("s3", name).unwrap();
            validate_any_bucket("stowage", name).unwrap();
        }
    }
}
