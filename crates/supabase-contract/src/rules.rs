//! Pure validation and ordering rules of Supabase Storage, kept apart so they can be unit tested.

use std::cmp::Ordering;

/// The server-wide upload limit; also what TUS advertises as `Tus-Max-Size`.
pub(crate) const GLOBAL_FILE_SIZE_LIMIT: u64 = 524_288_000;

/// The longest file name the file backend can write; strict mode fails longer key segments
/// with HTTP 500, as the recorded server did.
pub(crate) const MAX_SEGMENT_BYTES: usize = 255;

/// Supabase's object key rule: ASCII letters, digits, `_` and ``/!-.*'() &$@=;:+,?``; not empty.
pub(crate) fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_/!-.*'() &$@=;:+,?".contains(&b))
}

/// Supabase's bucket name rule: the key alphabet without `/`, shorter than 101 characters.
pub(crate) fn is_valid_bucket_name(name: &str) -> bool {
    // The real regex accepts an empty name; we refuse it because it could never be addressed.
    !name.is_empty()
        && name.len() < 101
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_!-.*'() &$@=;:+,?".contains(&b))
}

/// Whether `mime` passes a bucket's `allowed_mime_types` (`None` or empty = anything).
///
/// Mirrors the server: split on `/`, compare type and subtype as strings, `type/*` wildcards.
/// Parameters are part of the subtype, so `text/plain; charset=utf-8` does not match `text/plain`.
pub(crate) fn mime_allowed(mime: &str, allowed: Option<&[String]>) -> bool {
    let allowed = match allowed {
        Some(a) if !a.is_empty() => a,
        _ => return true,
    };
    let mut req = mime.split('/');
    let (Some(ty), Some(sub)) = (req.next(), req.next()) else {
        return false;
    };
    allowed.iter().any(|a| {
        let mut it = a.split('/');
        match (it.next(), it.next()) {
            (Some(aty), Some("*")) => aty == ty,
            (Some(aty), Some(asub)) => aty == ty && asub == sub,
            _ => false,
        }
    })
}

/// Parses a size limit string such as `"2MB"` (decimal units: 2 000 000) or `"1048576"`.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    Some((value * mult).round() as u64)
}

/// TUS metadata and multipart fields carry a bare number of seconds; the server stores `max-age=N`.
pub(crate) fn normalize_cache_control(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        format!("max-age={v}")
    } else {
        v.to_string()
    }
}

/// `ILIKE 'pattern%'` without wildcards: ASCII case-insensitive starts-with, as the list SQL does.
pub(crate) fn ilike_prefix(hay: &str, pattern: &str) -> bool {
    hay.len() >= pattern.len()
        && hay.as_bytes()[..pattern.len()].eq_ignore_ascii_case(pattern.as_bytes())
}

/// The columns `POST /object/list` may sort by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SortColumn {
    Name,
    CreatedAt,
    UpdatedAt,
    LastAccessedAt,
}

impl SortColumn {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "name" => Some(Self::Name),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" => Some(Self::UpdatedAt),
            "last_accessed_at" => Some(Self::LastAccessedAt),
            _ => None,
        }
    }
}

/// One row of a v1 listing before it is rendered: a folder (no times) or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListItem {
    pub name: String,
    /// `(created, updated, last_accessed)` in µs; `None` for a folder.
    pub times: Option<(i64, i64, i64)>,
}

/// Orders a v1 listing like the server: folders first by name, then files by the column
/// (ties by name); `desc` reverses both groups. Byte order, as with `COLLATE "C"`.
pub(crate) fn order_listing(items: &mut [ListItem], column: SortColumn, desc: bool) {
    let key = |t: &(i64, i64, i64)| match column {
        SortColumn::Name => 0,
        SortColumn::CreatedAt => t.0,
        SortColumn::UpdatedAt => t.1,
        SortColumn::LastAccessedAt => t.2,
    };
    items.sort_by(|a, b| {
        let ord = match (&a.times, &b.times) {
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (None, None) => a.name.as_bytes().cmp(b.name.as_bytes()),
            (Some(ta), Some(tb)) => key(ta)
                .cmp(&key(tb))
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes())),
        };
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(is_valid_key("special/a+b=c&d;e,f@g$h!(i)'j*k:l.txt"));
        assert!(is_valid_key("what?.txt"));
        assert!(is_valid_key("dots/x/../escape.txt"));
        assert!(is_valid_key("trailing/"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("hash#.txt"));
        assert!(!is_valid_key("unicode/ünï.txt"));
        assert!(!is_valid_key("tab\there"));
    }

    #[test]
    fn bucket_names() {
        assert!(is_valid_bucket_name("fx-private"));
        assert!(!is_valid_bucket_name("fx-bad name/x"));
        assert!(!is_valid_bucket_name(""));
        assert!(!is_valid_bucket_name(&"a".repeat(101)));
    }

    #[test]
    fn mime_matching() {
        let list = vec!["text/plain".to_string(), "image/png".to_string()];
        assert!(mime_allowed("text/plain", Some(&list)));
        assert!(!mime_allowed("text/plain; charset=utf-8", Some(&list)));
        assert!(!mime_allowed("application/json", Some(&list)));
        assert!(!mime_allowed("garbage", Some(&list)));
        let wild = vec!["text/*".to_string()];
        assert!(mime_allowed("text/plain", Some(&wild)));
        assert!(mime_allowed("text/plain; charset=utf-8", Some(&wild)));
        assert!(!mime_allowed("application/json", Some(&wild)));
        assert!(mime_allowed("anything", None));
        assert!(mime_allowed("anything/x", Some(&[])));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("2 mb"), Some(2_000_000));
        assert_eq!(parse_size("1.5KB"), Some(1500));
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("1048576"), Some(1_048_576));
        assert_eq!(parse_size("10B"), Some(10));
        assert_eq!(parse_size("2MiB"), None);
        assert_eq!(parse_size("MB"), None);
    }

    #[test]
    fn cache_control() {
        assert_eq!(normalize_cache_control("3600"), "max-age=3600");
        assert_eq!(normalize_cache_control("no-cache"), "no-cache");
        assert_eq!(normalize_cache_control("max-age=60"), "max-age=60");
    }

    #[test]
    fn ilike() {
        assert!(ilike_prefix("list/b.txt", "list/b"));
        assert!(ilike_prefix("List/B.txt", "list/b"));
        assert!(!ilike_prefix("list/a.txt", "list/b"));
        assert!(!ilike_prefix("li", "list/"));
    }

    fn file(name: &str, c: i64, u: i64) -> ListItem {
        ListItem {
            name: name.into(),
            times: Some((c, u, c)),
        }
    }
    fn folder(name: &str) -> ListItem {
        ListItem {
            name: name.into(),
            times: None,
        }
    }
    fn names(v: &[ListItem]) -> Vec<&str> {
        v.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn listing_order() {
        // Upload order c, a, b; a was upserted last (as in the recording).
        let base = vec![
            file("c.txt", 1, 1),
            file("a.txt", 2, 4),
            file("b.txt", 3, 3),
            folder("sub2"),
            folder("sub"),
        ];
        let mut v = base.clone();
        order_listing(&mut v, SortColumn::Name, false);
        assert_eq!(names(&v), ["sub", "sub2", "a.txt", "b.txt", "c.txt"]);
        order_listing(&mut v, SortColumn::Name, true);
        assert_eq!(names(&v), ["sub2", "sub", "c.txt", "b.txt", "a.txt"]);
        order_listing(&mut v, SortColumn::CreatedAt, false);
        assert_eq!(names(&v), ["sub", "sub2", "c.txt", "a.txt", "b.txt"]);
        order_listing(&mut v, SortColumn::UpdatedAt, true);
        assert_eq!(names(&v), ["sub2", "sub", "a.txt", "b.txt", "c.txt"]);
        let mut v = vec![
            folder("dots"),
            folder(".."),
            file("Z", 1, 1),
            file("a", 1, 1),
        ];
        order_listing(&mut v, SortColumn::Name, false);
        assert_eq!(names(&v), ["..", "dots", "Z", "a"]);
    }
}
