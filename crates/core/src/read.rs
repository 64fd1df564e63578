//! The read path for catalogued content (M8/M9): local cache → primary → secondary.
//!
//! A catalogued version (or object) has a known size and SHA-256, so a cache hit can be served
//! with no network at all, verified on the way out ([`crate::cache`]). A miss downloads from
//! the primary's location (streamed into a temporary file, verified, then moved into place)
//! and populates the cache; when the primary fails with `Unavailable`, `NotFound`,
//! `Unauthorized` or an integrity error, the next location (the secondary, then any other
//! recorded one) is tried and a warning names the provider and its error. Signed URLs come
//! from the primary when it holds the object, else from the secondary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use stowage_store::{ErrorKind, ObjectPath, Store, UrlMethod};

use crate::cache::Cache;
use crate::catalog::{AuditEvent, Catalog, StoredLocation, VersionInfo};
use crate::compress;
use crate::cost::Direction;
use crate::error::{local_error, Error, Result};
use crate::location::Location;
use crate::transfer::{GetFilesOptions, GetItem, GetOutcome, Landing, ProgressFn, SignedUrl};

/// The stores a read may use, which of them is primary and secondary, and the cache.
#[derive(Debug, Default)]
pub struct Reader {
    /// Open stores by profile name.
    pub stores: HashMap<String, Arc<dyn Store>>,
    /// The primary profile (tried first).
    pub primary: Option<String>,
    /// The secondary profile (tried next).
    pub secondary: Option<String>,
    /// The download cache, if reads may use it.
    pub cache: Option<Cache>,
}

/// Where a read was served from.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct ReadInfo {
    /// `cache`, `primary`, `secondary` or `other` (a further recorded location).
    pub source: &'static str,
    /// `cache`, or `profile:bucket/key`.
    pub from: String,
    /// Failed attempts before it, each naming the provider and the error.
    pub warnings: Vec<String>,
}

/// A restored version.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Restored {
    /// The family.
    pub family: String,
    /// The version.
    pub version: String,
    /// The file written.
    pub file: PathBuf,
    /// Bytes written (the original size).
    pub size: u64,
    /// SHA-256 of what was written, equal to the recorded one.
    pub sha256: String,
    /// Whether it was stored gzipped (and so decompressed).
    pub decompressed: bool,
}

/// A restored version and where it came from.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct RestoreRead {
    /// The restore.
    #[serde(flatten)]
    pub restored: Restored,
    /// Where it was read.
    #[serde(flatten)]
    pub read: ReadInfo,
}

/// Whether a failed read should try the next location.
pub fn falls_back(e: &Error) -> bool {
    matches!(
        e.kind(),
        Some(
            ErrorKind::Unavailable
                | ErrorKind::NotFound
                | ErrorKind::Unauthorized
                | ErrorKind::Integrity
        )
    )
}

impl Reader {
    /// A reader over `stores` with no primary, secondary or cache: locations in recorded order.
    pub fn new(stores: HashMap<String, Arc<dyn Store>>) -> Reader {
        Reader {
            stores,
            ..Default::default()
        }
    }

    fn role(&self, profile: &str) -> &'static str {
        if self.primary.as_deref() == Some(profile) {
            "primary"
        } else if self.secondary.as_deref() == Some(profile) {
            "secondary"
        } else {
            "other"
        }
    }

    /// Locations in read order: primary, secondary, then the rest as recorded.
    pub fn order<'a>(&self, locations: &'a [StoredLocation]) -> Vec<&'a StoredLocation> {
        let rank = |l: &StoredLocation| match self.role(&l.profile) {
            "primary" => 0,
            "secondary" => 1,
            _ => 2,
        };
        let mut v: Vec<&StoredLocation> = locations.iter().collect();
        v.sort_by_key(|l| rank(l));
        v
    }
}

/// What a fetch wrote.
struct Fetched {
    read: ReadInfo,
    location: Option<StoredLocation>,
    stored_size: u64,
    stored_sha256: Option<String>,
    size: u64,
}

/// Content to fetch: the bytes written must be `size` bytes with SHA-256 `sha256`.
struct Want<'a> {
    size: u64,
    sha256: &'a str,
    /// Decompress the stored bytes (gzip) on the way.
    gunzip: bool,
}

/// Downloads of one batch to enter in the cache once they have landed, by item.
type ToCache = std::sync::Mutex<Vec<(usize, crate::cache::Download)>>;

/// cache → each location in read order; writes `dest` (never replacing a file without
/// `force`; with a `landing`, left to its commit, and the cache entry to the batch's
/// [`ToCache`]), populates the cache on a download. A dry run only checks.
#[allow(clippy::too_many_arguments)]
async fn fetch(
    reader: &Reader,
    locations: &[StoredLocation],
    want: &Want<'_>,
    dest: &Path,
    force: bool,
    dry_run: bool,
    progress: &Option<ProgressFn>,
    index: usize,
    landing: Option<(&Landing, &ToCache)>,
) -> Result<Fetched> {
    if let Some(cache) = &reader.cache {
        let hit = if dry_run {
            cache.contains(want.sha256, want.size)?
        } else {
            cache.serve_into(
                want.sha256,
                want.size,
                dest,
                force,
                landing.map(|(l, _)| (l, index)),
            )?
        };
        if hit {
            return Ok(Fetched {
                read: ReadInfo {
                    source: "cache",
                    from: "cache".into(),
                    warnings: Vec::new(),
                },
                location: None,
                stored_size: want.size,
                stored_sha256: None,
                size: want.size,
            });
        }
    }
    let mut warnings = Vec::new();
    let mut last: Option<Error> = None;
    for loc in reader.order(locations) {
        let Some(store) = reader.stores.get(&loc.profile) else {
            warnings.push(format!(
                "profile `{}` holds a copy but is not configured (or did not open) here",
                loc.profile
            ));
            continue;
        };
        let path = ObjectPath::new(&loc.bucket, &loc.key)?;
        let from = format!("{}:{}", loc.profile, path);
        let attempt = async {
            if dry_run {
                let meta = store.head(&path).await?;
                return Ok((meta.size, meta.sha256, want.size, dest.to_path_buf()));
            }
            let got = store.get(&path, None).await?;
            let limits = compress::GunzipLimits {
                max_output: Some(want.size),
                ..Default::default()
            };
            let w = crate::transfer::write_download(
                store.provider(),
                &path,
                got,
                dest,
                force,
                want.gunzip.then_some(limits),
                Some((want.size, want.sha256)),
                progress,
                index,
                landing.map(|(l, _)| l),
            )
            .await?;
            Ok::<_, Error>((w.stored_size, Some(w.stored_sha256), w.size, w.at))
        };
        match attempt.await {
            Ok((stored_size, stored_sha256, size, at)) => {
                if let (false, Some(cache)) = (dry_run, &reader.cache) {
                    // Verified while written: the cache takes it without reading it again
                    // (in a batch, once it has landed under its name).
                    let download = crate::cache::Download {
                        file: if landing.is_some() {
                            dest.to_path_buf()
                        } else {
                            at
                        },
                        sha256: want.sha256.to_string(),
                        size,
                        source: from.clone(),
                    };
                    match landing {
                        Some((_, later)) => later
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((index, download)),
                        None => {
                            for (_, e) in cache.insert_downloads(&[download]) {
                                warnings.push(format!("the download was not cached: {e}"));
                            }
                        }
                    }
                }
                return Ok(Fetched {
                    read: ReadInfo {
                        source: reader.role(&loc.profile),
                        from,
                        warnings,
                    },
                    location: Some(loc.clone()),
                    stored_size,
                    stored_sha256,
                    size,
                });
            }
            Err(e) if falls_back(&e) => {
                warnings.push(format!(
                    "{} `{}` ({}) failed: {e}; trying the next copy",
                    reader.role(&loc.profile),
                    loc.profile,
                    store.provider()
                ));
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    let summary = if warnings.is_empty() {
        "no copy is recorded on a configured profile".to_string()
    } else {
        warnings.join("; ")
    };
    Err(match last {
        Some(e) if warnings.len() == 1 => e,
        Some(e) => Error::Store {
            source: Box::new(
                stowage_store::Error::new(
                    *e.kind().unwrap_or(&ErrorKind::Unavailable),
                    "stowage",
                    format!("every copy failed: {summary}"),
                )
                .hint("check the providers with `stowage verify`, then run the command again"),
            ),
            file: Some(dest.to_path_buf()),
        },
        None => Error::Store {
            source: Box::new(
                stowage_store::Error::new(ErrorKind::NotFound, "catalog", summary)
                    .hint("read from a machine where its profile is configured"),
            ),
            file: Some(dest.to_path_buf()),
        },
    })
}

/// Restore version `v` to `dest` by the read order (cache → primary → secondary → other
/// locations), decompressing a gzipped one and verifying the original SHA-256; the download
/// is recorded in the catalog (transfer, audit, last read).
pub async fn restore(
    catalog: &Catalog,
    v: &VersionInfo,
    reader: &Reader,
    dest: &Path,
    force: bool,
    dry_run: bool,
) -> Result<RestoreRead> {
    if dest.is_dir() {
        return Err(local_error(
            ErrorKind::Conflict,
            dest,
            "is a folder",
            "name the file to restore into",
        ));
    }
    if dest.exists() && !force {
        return Err(local_error(
            ErrorKind::AlreadyExists,
            dest,
            "the local file exists",
            "pass --force to replace it, or choose another destination",
        ));
    }
    if v.locations.is_empty()
        && !reader
            .cache
            .as_ref()
            .is_some_and(|c| c.contains(&v.sha256, v.original_size).unwrap_or(false))
    {
        return Err(Error::Store {
            source: Box::new(
                stowage_store::Error::new(
                    ErrorKind::NotFound,
                    "catalog",
                    format!(
                        "version {} of `{}` is not stored anywhere Stowage can reach (it was \
                         recorded as local only)",
                        v.version, v.family
                    ),
                )
                .hint("restore from a machine where its profile is configured"),
            ),
            file: Some(dest.to_path_buf()),
        });
    }
    let gz = v.encoding.as_deref() == Some(compress::ENCODING);
    let want = Want {
        size: v.original_size,
        sha256: &v.sha256,
        gunzip: gz,
    };
    let f = fetch(
        reader,
        &v.locations,
        &want,
        dest,
        force,
        dry_run,
        &None,
        0,
        None,
    )
    .await?;
    if !dry_run {
        catalog.batch(|c| {
            if let Some(loc) = &f.location {
                c.touch_location(loc.id)?;
                c.record_transfer(
                    &loc.profile,
                    &loc.provider,
                    &loc.bucket,
                    Direction::Download,
                    loc.size,
                    1,
                )?;
            }
            c.audit(&AuditEvent {
                action: "restore",
                profile: f.location.as_ref().map(|l| l.profile.as_str()),
                bucket: f.location.as_ref().map(|l| l.bucket.as_str()),
                key: f.location.as_ref().map(|l| l.key.as_str()),
                detail: Some(format!(
                    "{} version {} to {} (from {})",
                    v.family,
                    v.version,
                    dest.display(),
                    f.read.from
                )),
            })
        })?;
    }
    Ok(RestoreRead {
        restored: Restored {
            family: v.family.clone(),
            version: v.version.clone(),
            file: dest.to_path_buf(),
            size: if dry_run { v.original_size } else { f.size },
            sha256: v.sha256.clone(),
            decompressed: gz,
        },
        read: f.read,
    })
}

/// The version recorded at `profile`/`bucket`/`key`, with that location.
pub fn catalogued(
    catalog: &Catalog,
    profile: &str,
    bucket: &str,
    key: &str,
) -> Result<Option<(VersionInfo, StoredLocation)>> {
    let Some(loc) = catalog.location_at(profile, bucket, key)? else {
        return Ok(None);
    };
    let v = version_by_id(catalog, loc.version_id)?;
    Ok(v.map(|v| (v, loc)))
}

/// A version by row id.
pub fn version_by_id(catalog: &Catalog, id: i64) -> Result<Option<VersionInfo>> {
    catalog.version(id)
}

/// Download one planned item through the read path when the catalog knows it (on the
/// reader's primary profile, as KEY or, for a transparent get, KEY.gz): cache → the object
/// itself → other recorded copies of the same bytes. None when it is not catalogued (the
/// caller downloads it directly).
async fn get_catalogued(
    catalog: &Catalog,
    reader: &Reader,
    item: &GetItem,
    options: &GetFilesOptions,
    progress: &Option<ProgressFn>,
    index: usize,
    landing: Option<(&Landing, &ToCache)>,
) -> Result<Option<(GetOutcome, ReadInfo)>> {
    let Some(profile) = reader.primary.as_deref() else {
        return Ok(None);
    };
    let key = item.key.as_str();
    let mut found = catalogued(catalog, profile, &item.bucket, key)?;
    if found.is_none() && !options.raw && !compress::is_transparent(key) {
        let gz = compress::stored_key(key);
        found = catalogued(catalog, profile, &item.bucket, &gz)?;
    }
    let Some((v, loc)) = found else {
        return Ok(None);
    };
    let Some(loc_sha) = loc.sha256.clone() else {
        return Ok(None);
    };
    let decompress = !options.raw && compress::is_transparent(&loc.key);
    let (size, sha256) = if decompress {
        if v.encoding.as_deref() != Some(compress::ENCODING) {
            return Ok(None);
        }
        (v.original_size, v.sha256.clone())
    } else {
        (loc.size, loc_sha.clone())
    };
    let target = &item.file;
    let existed = crate::transfer::check_destination(target, options.force)?;
    // The same stored bytes wherever they are: this location first, then the others.
    let mut copies: Vec<StoredLocation> = vec![loc.clone()];
    copies.extend(
        v.locations
            .iter()
            .filter(|l| l.id != loc.id && l.sha256.as_deref() == Some(&loc_sha))
            .cloned(),
    );
    let want = Want {
        size,
        sha256: &sha256,
        gunzip: decompress,
    };
    let f = fetch(
        reader,
        &copies,
        &want,
        target,
        options.force,
        options.dry_run,
        progress,
        index,
        landing,
    )
    .await?;
    let served = f.location.clone().unwrap_or(loc);
    Ok(Some((
        GetOutcome {
            bucket: served.bucket.clone(),
            key: served.key.clone(),
            file: target.clone(),
            size: f.size,
            stored_size: if f.location.is_some() {
                f.stored_size
            } else {
                served.size
            },
            decompressed: decompress,
            sha256: if options.dry_run {
                None
            } else {
                Some(f.stored_sha256.unwrap_or(loc_sha))
            },
            verified: !options.dry_run,
            checksum: (!options.dry_run).then_some("SHA-256"),
            replaced: existed,
            dry_run: options.dry_run,
        },
        f.read,
    )))
}

/// A download and, when the read path served it, where from.
pub type GetRead = (GetOutcome, Option<ReadInfo>);

/// Download planned items, `options.concurrency` at a time: each through the read path
/// when the catalog knows it ([`get_catalogued`], with where it was read), else directly from
/// `store`. Every download lands in one batch ([`Landing`]): one flush, then the renames,
/// before this returns. One result per item, in order; progress reports each item's end
/// once it has landed.
pub async fn get_many(
    catalog: &Catalog,
    reader: &Reader,
    store: &dyn Store,
    items: &[GetItem],
    options: &GetFilesOptions,
    progress: Option<ProgressFn>,
) -> Vec<Result<GetRead>> {
    use futures::StreamExt;
    let landing = Landing::default();
    let to_cache = ToCache::default();
    let (landing_ref, to_cache_ref) = (&landing, &to_cache);
    // Unordered: a slow item does not hold back the start of the next ones.
    let mut done: Vec<(usize, Result<GetRead>)> = futures::stream::iter(items.iter().enumerate())
        .map(|(index, item)| {
            let progress = progress.clone();
            async move {
                let r = get_catalogued(
                    catalog,
                    reader,
                    item,
                    options,
                    &progress,
                    index,
                    Some((landing_ref, to_cache_ref)),
                )
                .await
                .map_err(|e| e.with_file(&item.file));
                let r = match r {
                    Ok(Some((o, info))) => Ok((o, Some(info))),
                    Ok(None) => crate::transfer::get_one_into(
                        store,
                        item,
                        options,
                        index,
                        &progress,
                        landing_ref,
                    )
                    .await
                    .map(|o| (o, None)),
                    Err(e) => Err(e),
                };
                (index, r)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    done.sort_by_key(|(index, _)| *index);
    let mut results: Vec<_> = done.into_iter().map(|(_, r)| r).collect();
    for (index, e) in landing.commit().await {
        results[index] = Err(e);
    }
    // What landed enters the cache in one go (one transaction, one eviction check).
    if let Some(cache) = &reader.cache {
        let (indices, downloads): (Vec<usize>, Vec<_>) = to_cache
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .filter(|(index, _)| results[*index].is_ok())
            .unzip();
        for (at, e) in cache.insert_downloads(&downloads) {
            if let Ok((_, Some(info))) = &mut results[indices[at]] {
                info.warnings
                    .push(format!("the download was not cached: {e}"));
            }
        }
    }
    if let Some(p) = &progress {
        for (index, r) in results.iter().enumerate() {
            p(
                index,
                if r.is_ok() {
                    crate::transfer::ItemEvent::Done
                } else {
                    crate::transfer::ItemEvent::Failed
                },
            );
        }
    }
    results
}

/// A signed URL and which profile signed it.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct UrlRead {
    /// The URL.
    #[serde(flatten)]
    pub url: SignedUrl,
    /// The profile that signed it.
    pub profile: String,
    /// `primary` or `secondary`.
    pub source: &'static str,
    /// Why the primary was passed over.
    pub warnings: Vec<String>,
}

/// Sign `loc` from the primary when it holds the object (a HEAD says so), else from the
/// secondary (at the key the catalog records for the same version there, or the same path).
/// Upload URLs always come from the primary.
pub async fn signed_url(
    catalog: Option<&Catalog>,
    reader: &Reader,
    loc: &Location,
    method: UrlMethod,
    expires: Duration,
) -> Result<UrlRead> {
    let primary = reader
        .primary
        .as_deref()
        .ok_or_else(|| Error::Usage("no profile to sign with".into()))?;
    let store = reader
        .stores
        .get(primary)
        .ok_or_else(|| Error::Config(format!("profile `{primary}` did not open")))?;
    let first = crate::transfer::signed_url(&**store, loc, method, expires).await;
    let err = match first {
        Ok(url) => {
            return Ok(UrlRead {
                url,
                profile: primary.to_string(),
                source: "primary",
                warnings: Vec::new(),
            })
        }
        Err(e) => e,
    };
    let secondary = match (&reader.secondary, method) {
        (Some(s), UrlMethod::Get) if falls_back(&err) && s != primary => s.clone(),
        _ => return Err(err),
    };
    let Some(sstore) = reader.stores.get(&secondary) else {
        return Err(err);
    };
    let warning = format!(
        "primary `{primary}` ({}) cannot serve it: {err}; signing from secondary `{secondary}`",
        store.provider()
    );
    // The catalog may record the same version under another key on the secondary.
    let mut target = loc.clone();
    if let (Some(c), Ok(path)) = (catalog, loc.object()) {
        if let Some((v, _)) = catalogued(c, primary, &path.bucket, path.key.as_str())? {
            if let Some(l) = v.locations.iter().find(|l| l.profile == secondary) {
                target = Location {
                    bucket: l.bucket.clone(),
                    path: l.key.clone(),
                };
            }
        }
    }
    let url = crate::transfer::signed_url(&**sstore, &target, method, expires)
        .await
        .map_err(|e| match e {
            Error::Store { source, file } => {
                let mut both = stowage_store::Error::new(
                    source.kind,
                    source.provider.clone(),
                    format!("{} (and {warning})", source.message),
                );
                both.bucket = source.bucket.clone();
                both.key = source.key.clone();
                both.hint = source.hint.clone();
                Error::Store {
                    source: Box::new(both),
                    file,
                }
            }
            e => e,
        })?;
    Ok(UrlRead {
        url,
        profile: secondary,
        source: "secondary",
        warnings: vec![warning],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewLocation, NewVersion, VersionMetrics};
    use stowage_store::local::LocalStore;
    use stowage_store::PutOptions;

    struct World {
        _dir: tempfile::TempDir,
        root: std::path::PathBuf,
        catalog: Catalog,
        a: Arc<dyn Store>,
        b: Arc<dyn Store>,
        content: Vec<u8>,
    }

    /// One version stored at `a:bkt/m/x.pt` and `b:bkt/m/x.pt`.
    async fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let a: Arc<dyn Store> = Arc::new(LocalStore::new(root.join("a")).unwrap());
        let b: Arc<dyn Store> = Arc::new(LocalStore::new(root.join("b")).unwrap());
        let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sha = stowage_store::sha256_hex(&content);
        let catalog = Catalog::in_memory().unwrap();
        let art = catalog
            .upsert_artifact(None, "x", "model", None, "models/")
            .unwrap();
        let vid = catalog
            .insert_version(&NewVersion {
                artifact_id: art,
                version: "v1".into(),
                sha256: sha.clone(),
                size: content.len() as u64,
                original_size: content.len() as u64,
                encoding: None,
                mtime_ns: None,
                source_path: Some("/p/x-v1.pt".into()),
                created_at: time::OffsetDateTime::now_utc(),
                metrics: VersionMetrics::default(),
            })
            .unwrap();
        for (name, store) in [("a", &a), ("b", &b)] {
            store
                .create_bucket("bkt", &Default::default())
                .await
                .unwrap();
            let path = ObjectPath::new("bkt", "m/x.pt").unwrap();
            store
                .put(&path, content.clone().into(), &PutOptions::default())
                .await
                .unwrap();
            catalog
                .add_location(
                    vid,
                    &NewLocation {
                        profile: name.into(),
                        provider: "local".into(),
                        bucket: "bkt".into(),
                        key: "m/x.pt".into(),
                        size: content.len() as u64,
                        etag: None,
                        sha256: Some(sha.clone()),
                        stored_at: time::OffsetDateTime::now_utc(),
                    },
                )
                .unwrap();
        }
        World {
            _dir: dir,
            root,
            catalog,
            a,
            b,
            content,
        }
    }

    fn reader(w: &World, cache: bool) -> Reader {
        Reader {
            stores: [
                ("a".to_string(), w.a.clone()),
                ("b".to_string(), w.b.clone()),
            ]
            .into(),
            primary: Some("a".into()),
            secondary: Some("b".into()),
            cache: cache
                .then(|| Cache::open_in(&w.root.join("cache"), &Default::default()).unwrap()),
        }
    }

    fn version(w: &World) -> VersionInfo {
        w.catalog.resolve(None, "x", None).unwrap()
    }

    #[tokio::test]
    async fn primary_first_then_cache_with_no_store_at_all() {
        let w = world().await;
        let r = reader(&w, true);
        let out = w.root.join("out1.pt");
        let got = restore(&w.catalog, &version(&w), &r, &out, false, false)
            .await
            .unwrap();
        assert_eq!(got.read.source, "primary");
        assert!(got.read.warnings.is_empty());
        assert_eq!(std::fs::read(&out).unwrap(), w.content);
        // No store reachable at all: the cache serves it.
        let offline = Reader {
            stores: HashMap::new(),
            cache: r.cache,
            ..Default::default()
        };
        let out2 = w.root.join("out2.pt");
        let got = restore(&w.catalog, &version(&w), &offline, &out2, false, false)
            .await
            .unwrap();
        assert_eq!(got.read.source, "cache");
        assert_eq!(std::fs::read(&out2).unwrap(), w.content);
    }

    #[tokio::test]
    async fn missing_or_tampered_primary_falls_back_to_the_secondary() {
        let w = world().await;
        let r = reader(&w, false);
        let path = ObjectPath::new("bkt", "m/x.pt").unwrap();
        // Tampered: the primary holds other bytes (with their own consistent metadata).
        w.a.put(
            &path,
            b"not the model".to_vec().into(),
            &PutOptions {
                overwrite: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let out = w.root.join("t.pt");
        let got = restore(&w.catalog, &version(&w), &r, &out, false, false)
            .await
            .unwrap();
        assert_eq!(got.read.source, "secondary");
        assert!(
            got.read.warnings[0].contains("primary `a` (local)"),
            "{:?}",
            got.read.warnings
        );
        assert_eq!(std::fs::read(&out).unwrap(), w.content);
        // Missing on the primary.
        w.a.delete(&path).await.unwrap();
        let out = w.root.join("m.pt");
        let got = restore(&w.catalog, &version(&w), &r, &out, false, false)
            .await
            .unwrap();
        assert_eq!(got.read.source, "secondary");
        // Missing everywhere: the error says every copy failed, and nothing is written.
        w.b.delete(&path).await.unwrap();
        let out = w.root.join("none.pt");
        let err = restore(&w.catalog, &version(&w), &r, &out, false, false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("every copy failed"), "{err}");
        assert!(!out.exists());
    }

    #[tokio::test]
    async fn url_signs_from_the_secondary_when_the_primary_lacks_it() {
        let w = world().await;
        let r = reader(&w, false);
        let loc = Location::parse("bkt/m/x.pt").unwrap();
        // Local stores cannot sign: the primary's answer (not supported) is final.
        let err = signed_url(
            Some(&w.catalog),
            &r,
            &loc,
            UrlMethod::Get,
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), Some(&ErrorKind::NotSupported));
        // Without the object on the primary, the secondary is asked (and it, too, cannot
        // sign, which the error says along with why the primary was passed over).
        w.a.delete(&ObjectPath::new("bkt", "m/x.pt").unwrap())
            .await
            .unwrap();
        let err = signed_url(
            Some(&w.catalog),
            &r,
            &loc,
            UrlMethod::Get,
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("signing from secondary `b`"),
            "{err}"
        );
    }

    #[test]
    fn read_order_is_primary_secondary_then_the_rest() {
        let loc = |id: i64, profile: &str| StoredLocation {
            id,
            version_id: 1,
            profile: profile.into(),
            provider: "local".into(),
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            etag: None,
            sha256: None,
            stored_at: time::OffsetDateTime::now_utc(),
        };
        let locs = vec![loc(1, "other"), loc(2, "sec"), loc(3, "pri")];
        let r = Reader {
            primary: Some("pri".into()),
            secondary: Some("sec".into()),
            ..Default::default()
        };
        let order: Vec<i64> = r.order(&locs).iter().map(|l| l.id).collect();
        assert_eq!(order, vec![3, 2, 1]);
    }
}
