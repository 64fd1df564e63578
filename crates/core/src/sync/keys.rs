//! Keys of versions: where an older version is archived, and how tags sort.

use super::*;

/// Where an older version at `key` is kept: `<folder>/_versions/<name>/<sha12>[.gz]`.
pub fn archive_key(key: &str, sha256: &str) -> String {
    let gz = key.ends_with(compress::SUFFIX);
    let plain = compress::original_key(key);
    let (dir, name) = plain.rsplit_once('/').unwrap_or(("", plain));
    let short = &sha256[..sha256.len().min(12)];
    let suffix = if gz { compress::SUFFIX } else { "" };
    if dir.is_empty() {
        format!("_versions/{name}/{short}{suffix}")
    } else {
        format!("{dir}/_versions/{name}/{short}{suffix}")
    }
}

/// A sort key that orders like [`VersionTag`]'s `Ord`: numbers before timestamps, timestamps
/// by time, numbers component by component.
pub fn tag_sort_key(tag: &VersionTag) -> String {
    match tag {
        VersionTag::Timestamp(at, _) => format!(
            "T{:04}{:02}{:02}{:02}{:02}{:02}{:09}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.nanosecond()
        ),
        VersionTag::Number(parts, _) => version::number_sort_key(parts, &tag.prerelease()),
    }
}
