//! What the object commands (`put`, `rm`, `mv`, `cp`) and `migrate` record: each write goes
//! through the catalog's recording primitives ([`Catalog::record_stored`],
//! [`Catalog::record_deleted`], [`Catalog::record_moved`], [`Catalog::record_copied`]), the
//! same ones sync, watch, gc and version deletion use, so the catalog's locations equal what
//! the providers hold whichever command wrote.
//!
//! An object stored by key (`put model.pt models/`) is a version of the artifact its key
//! names, as sync would name it: the key's folder, the file name's family and extension
//! (`models/model-q-v2.json` is version `v2` of `models/model-q.json`; `data/train.csv`
//! gets content versions `1`, `2`… like an unversioned synced file). Its content is the
//! stored bytes as they are.

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use crate::catalog::{Activity, AuditEvent, Catalog, NewLocation, NewVersion, VersionMetrics};
use crate::cost::Direction;
use crate::error::Result;
use crate::version::{self, VersionTag};

/// One write a command made on a profile's store.
#[derive(Clone, Debug)]
pub enum Write {
    /// An object stored: uploaded from `file`, `sent` bytes of it sent this time.
    Stored {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Bytes stored.
        size: u64,
        /// SHA-256 of the stored bytes.
        sha256: String,
        /// The provider's ETag.
        etag: Option<String>,
        /// Bytes sent (an interrupted upload's stored part excluded).
        sent: u64,
        /// The local file it came from.
        file: Option<PathBuf>,
        /// When the file was gzipped on the way: its size and SHA-256 (the version's content).
        gzipped_from: Option<(u64, String)>,
    },
    /// An object deleted.
    Deleted {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// An object copied (or with `moved`, moved) within the store.
    Copied {
        /// The source's bucket.
        bucket: String,
        /// The source's key.
        key: String,
        /// The destination's bucket.
        to_bucket: String,
        /// The destination's key.
        to_key: String,
        /// Whether the source is gone (a move).
        moved: bool,
    },
}

/// What recording an object found or made.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// The artifact's name (`models/model-q.json`).
    pub artifact: String,
    /// The version the object holds.
    pub version: String,
    /// Whether that version is new.
    pub new_version: bool,
}

/// Record `writes` made on `profile` (of `provider`, in organization `org`) in one
/// transaction: the catalog's locations, versions, transfers and audit events.
pub fn record_writes(
    catalog: &Catalog,
    profile: &str,
    provider: &str,
    org: Option<&str>,
    writes: &[Write],
) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    catalog.batch(|c| {
        let mut activity = Vec::new();
        for w in writes {
            match w {
                Write::Stored {
                    bucket,
                    key,
                    size,
                    sha256,
                    etag,
                    sent,
                    file,
                    gzipped_from,
                } => {
                    let stored = NewLocation {
                        profile: profile.to_string(),
                        provider: provider.to_string(),
                        bucket: bucket.clone(),
                        key: key.clone(),
                        size: *size,
                        etag: etag.clone(),
                        sha256: Some(sha256.clone()),
                        stored_at: OffsetDateTime::now_utc(),
                    };
                    let source = file.as_ref().map(|f| {
                        std::path::absolute(f)
                            .unwrap_or_else(|_| f.clone())
                            .to_string_lossy()
                            .into_owned()
                    });
                    let content = gzipped_from
                        .as_ref()
                        .map(|(size, sha)| (*size, sha.as_str()));
                    record_object(c, org, &stored, source.as_deref(), content)?;
                    activity.push(Activity {
                        action: "put",
                        bucket: bucket.clone(),
                        key: key.clone(),
                        moved: Some((Direction::Upload, *sent)),
                    });
                }
                Write::Deleted { bucket, key } => {
                    c.record_deleted(profile, bucket, key)?;
                    activity.push(Activity {
                        action: "delete",
                        bucket: bucket.clone(),
                        key: key.clone(),
                        moved: None,
                    });
                }
                Write::Copied {
                    bucket,
                    key,
                    to_bucket,
                    to_key,
                    moved,
                } => {
                    let (from, to) = ((bucket.as_str(), key.as_str()), (&**to_bucket, &**to_key));
                    if *moved {
                        c.record_moved(profile, from, to)?;
                    } else {
                        c.record_copied(profile, from, to)?;
                    }
                    c.audit(&AuditEvent {
                        action: "put",
                        profile: Some(profile),
                        bucket: Some(to_bucket),
                        key: Some(to_key),
                        detail: Some(format!(
                            "{} from {bucket}/{key}",
                            if *moved { "moved" } else { "copied" }
                        )),
                    })?;
                    if *moved {
                        activity.push(Activity {
                            action: "delete",
                            bucket: bucket.clone(),
                            key: key.clone(),
                            moved: None,
                        });
                    }
                }
            }
        }
        c.record_activity(profile, provider, &activity)
    })
}

/// The metrics a local JSON results file holds (none for other files, or when unreadable: a
/// results file with a syntax error is still stored).
fn json_metrics(path: &str) -> VersionMetrics {
    let json = std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !json {
        return VersionMetrics::default();
    }
    crate::metadata::extract(std::path::Path::new(path))
        .ok()
        .flatten()
        .map(crate::sync::metrics_of)
        .unwrap_or_default()
}

/// Record an object stored at `stored`: the version of the artifact its key names with that
/// content (found, or made as sync would make it), and the location. The content is the
/// stored bytes, or with `gzipped_from` (original size, SHA-256) the file they gunzip to.
/// Runs inside the caller's transaction when there is one.
pub fn record_object(
    catalog: &Catalog,
    org: Option<&str>,
    stored: &NewLocation,
    source_path: Option<&str>,
    gzipped_from: Option<(u64, &str)>,
) -> Result<Recorded> {
    let sha256 = match gzipped_from {
        Some((_, sha)) => sha.to_string(),
        None => stored.sha256.clone().unwrap_or_default(),
    };
    let (folder, name) = match stored.key.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), stored.key.as_str()),
    };
    // A gzipped file is the artifact it was before compression, as sync names it.
    let name = match gzipped_from {
        Some(_) => name.strip_suffix(crate::compress::SUFFIX).unwrap_or(name),
        None => name,
    };
    let parsed = version::parse_name(name);
    catalog.batch(|c| {
        let kind = if version::framework(&parsed.extension).is_some() {
            "model"
        } else {
            "other"
        };
        let artifact = c.upsert_artifact_at(
            org,
            &folder,
            &parsed.family,
            &parsed.extension,
            kind,
            version::framework(&parsed.extension),
        )?;
        let base = parsed.version.as_ref().map(VersionTag::to_string);
        let (version_id, tag, new_version) = match c.latest_version_of(artifact, base.as_deref())? {
            Some((id, tag, sha)) if sha == sha256 => (id, tag, false),
            _ => match c.version_with_sha(artifact, &sha256)? {
                // The same bytes stored again under this name: the version they are.
                Some((id, tag)) if parsed.version.is_none() => (id, tag, false),
                _ => {
                    let (tag, sort) = crate::sync::next_tag(c, artifact, parsed.version.as_ref())?;
                    let id = c.insert_version_sorted(
                        &NewVersion {
                            artifact_id: artifact,
                            version: tag.clone(),
                            sha256: sha256.clone(),
                            size: stored.size,
                            original_size: gzipped_from.map_or(stored.size, |(n, _)| n),
                            encoding: gzipped_from.map(|_| crate::compress::ENCODING.to_string()),
                            mtime_ns: None,
                            source_path: source_path.map(str::to_string),
                            created_at: OffsetDateTime::now_utc(),
                            metrics: source_path.map(json_metrics).unwrap_or_default(),
                        },
                        Some(&sort),
                    )?;
                    (id, tag, true)
                }
            },
        };
        c.record_stored(version_id, stored)?;
        Ok(Recorded {
            artifact: crate::catalog::artifact_name(&folder, &parsed.family, &parsed.extension),
            version: tag,
            new_version,
        })
    })
}
