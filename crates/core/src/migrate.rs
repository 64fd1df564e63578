//! Migration between profiles and verification of the catalog against the providers (M8).
//!
//! **Which objects `migrate` moves.** The catalog's locations on the source profile (in the
//! chosen bucket, matching the filter). With `all_objects`, or when the catalog records
//! nothing there, every object listed in the source bucket(s) instead; such uncatalogued
//! objects are copied and verified but there is no version to record them under.
//!
//! **How.** Within one store (the same profile, or two profiles on the same server), the
//! provider copies server-side ([`Store::copy`]): no byte passes through this machine. Across
//! stores the object streams into a staging file under the data folder (verified by SHA-256
//! on the way in) and is uploaded from it; the staging file keeps its name between runs, so
//! a killed multipart or TUS upload resumes through the stores' resume records.
//!
//! **Verified before it counts.** The target's size and SHA-256 must equal the source's
//! (the SHA-256 recorded in the object's metadata, or the bytes read back and hashed when
//! the target records none). Only then is the location added to the catalog, and only then,
//! with `delete_source`, is the source object deleted and its location forgotten. An object
//! already verified on the target is skipped, so a rerun after an interruption copies only
//! what is left. An existing, different object on the target is never replaced: it is
//! reported and the source kept.
//!
//! `verify` HEADs every catalogued location: missing, different (size or SHA-256) and extra
//! objects (in a catalogued folder but not in the catalog); `fix` re-copies missing and
//! different ones from a copy that verifies. Extra objects are only reported.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stowage_store::{
    BucketOptions, ErrorKind, ListEntry, ListOptions, ObjectPath, PutOptions, PutSource, Store,
};

use crate::catalog::{AuditEvent, Catalog, NewLocation, VersionQuery};
use crate::config::{Backend, Profile};
use crate::cost::Direction;
use crate::error::{Error, Result};
use crate::transfer::{ItemEvent, ProgressFn};

/// A profile's open store and what identifies the server behind it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The profile's name.
    pub profile: String,
    /// Its store.
    pub store: Arc<dyn Store>,
    /// Two endpoints with the same identity are one store: copies between them are
    /// server-side.
    pub identity: String,
}

impl Endpoint {
    /// The endpoint of `profile` opened as `store`.
    pub fn new(profile: &Profile, store: Arc<dyn Store>) -> Endpoint {
        Endpoint {
            profile: profile.name.clone(),
            store,
            identity: store_identity(profile),
        }
    }
}

/// What identifies the server a profile reaches (no secrets: endpoints, URLs and folders).
pub fn store_identity(p: &Profile) -> String {
    match &p.backend {
        Backend::Local(l) => format!("local:{}", l.root.display()),
        Backend::S3(s) => format!(
            "s3:{}:{}:{}:{}",
            s.endpoint.as_deref().unwrap_or("aws"),
            s.region.as_deref().unwrap_or(""),
            s.aws_profile.as_deref().unwrap_or(""),
            s.path_style
        ),
        Backend::Supabase(s) => format!("supabase:{}", s.url.as_deref().unwrap_or("env")),
    }
}

/// How to migrate.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Only this source bucket [default: every bucket the catalog (or the listing) names].
    pub bucket: Option<String>,
    /// The target bucket [default: the same name as the source's].
    pub to_bucket: Option<String>,
    /// Only keys matching this glob (`*` crosses `/`).
    pub filter: Option<String>,
    /// List the source bucket(s) instead of reading the catalog.
    pub all_objects: bool,
    /// Plan and check, change nothing.
    pub dry_run: bool,
    /// Delete each source object once its copy is verified.
    pub delete_source: bool,
    /// Objects in flight at once.
    pub concurrency: usize,
    /// Where streamed copies are staged (kept between runs so uploads resume).
    pub staging_dir: PathBuf,
}

/// One object to migrate.
#[derive(Clone, Debug, Serialize)]
pub struct MigrateItem {
    /// Source bucket.
    pub bucket: String,
    /// Key (the same on the target).
    pub key: String,
    /// Target bucket.
    pub to_bucket: String,
    /// Size, when known.
    pub size: Option<u64>,
    /// SHA-256 of the stored bytes, when known.
    pub sha256: Option<String>,
    /// The catalogued version, if any.
    #[serde(skip)]
    pub version_id: Option<i64>,
    /// The source's catalogued location, if any.
    #[serde(skip)]
    pub location_id: Option<i64>,
}

/// What happened to one object.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct MigrateOutcome {
    /// `profile:bucket/key` of the source.
    pub from: String,
    /// `profile:bucket/key` of the target.
    pub to: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, verified on the target (None in a dry run when unknown).
    pub sha256: Option<String>,
    /// `copied`, `skipped` (already verified on the target) or `planned` (dry run).
    pub action: &'static str,
    /// `server_copy`, `streamed` or `none`.
    pub method: &'static str,
    /// Bytes that passed through this machine (downloaded; the same went up).
    pub bytes_moved: u64,
    /// Bytes an interrupted upload had already stored.
    pub resumed_from: u64,
    /// Whether the target was verified (size and SHA-256).
    pub verified: bool,
    /// Whether the source object was deleted (only after verification).
    pub source_deleted: bool,
    /// Whether the target location was recorded in the catalog.
    pub catalogued: bool,
}

fn glob(filter: Option<&str>) -> Result<Option<globset::GlobMatcher>> {
    filter
        .map(|f| {
            globset::Glob::new(f)
                .map(|g| g.compile_matcher())
                .map_err(|e| Error::Usage(format!("--filter `{f}` is not a glob: {e}")))
        })
        .transpose()
}

/// The objects to migrate from `from` (see the module documentation for which).
pub async fn plan(
    catalog: &Catalog,
    from: &Endpoint,
    options: &MigrateOptions,
) -> Result<Vec<MigrateItem>> {
    let matcher = glob(options.filter.as_deref())?;
    let wanted = |bucket: &str, key: &str| {
        options.bucket.as_deref().is_none_or(|b| b == bucket)
            && matcher.as_ref().is_none_or(|m| m.is_match(key))
    };
    let to_bucket = |b: &str| options.to_bucket.clone().unwrap_or_else(|| b.to_string());
    let mut items = Vec::new();
    if !options.all_objects {
        for v in catalog.versions(&VersionQuery::default())? {
            for l in v.locations.iter().filter(|l| l.profile == from.profile) {
                if wanted(&l.bucket, &l.key) {
                    items.push(MigrateItem {
                        bucket: l.bucket.clone(),
                        key: l.key.clone(),
                        to_bucket: to_bucket(&l.bucket),
                        size: Some(l.size),
                        sha256: l.sha256.clone(),
                        version_id: Some(v.id),
                        location_id: Some(l.id),
                    });
                }
            }
        }
    }
    if items.is_empty() {
        let buckets = match &options.bucket {
            Some(b) => vec![b.clone()],
            None => crate::transfer::list_buckets(&*from.store)
                .await?
                .into_iter()
                .map(|b| b.name)
                .collect(),
        };
        for b in buckets {
            let mut listing = from.store.list(&b, ListOptions::default());
            while let Some(entry) = listing.try_next().await? {
                if let ListEntry::Object(m) = entry {
                    if wanted(&b, m.key.as_str()) {
                        // The catalog may know it after all (e.g. under another filter).
                        let known = catalog.location_at(&from.profile, &b, m.key.as_str())?;
                        items.push(MigrateItem {
                            bucket: b.clone(),
                            key: m.key.to_string(),
                            to_bucket: to_bucket(&b),
                            size: Some(m.size),
                            sha256: m.sha256.clone(),
                            version_id: known.as_ref().map(|l| l.version_id),
                            location_id: known.as_ref().map(|l| l.id),
                        });
                    }
                }
            }
        }
    }
    items.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
    Ok(items)
}

/// Stream an object and hash it: (size, SHA-256). Memory stays flat.
pub async fn hash_object(store: &dyn Store, path: &ObjectPath) -> Result<(u64, String)> {
    let mut got = store.get(path, None).await?;
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = got.body.try_next().await? {
        hasher.update(&chunk);
        n += chunk.len() as u64;
    }
    Ok((n, hex::encode(hasher.finalize())))
}

/// Whether `path` on `store` holds `size` bytes with SHA-256 `sha256`: the recorded
/// metadata when the store has it, else the content read back. Ok(None) when missing.
async fn holds(
    store: &dyn Store,
    path: &ObjectPath,
    size: u64,
    sha256: &str,
) -> Result<Option<(bool, u64, Option<String>)>> {
    let meta = match store.head(path).await {
        Ok(m) => m,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if meta.size != size {
        return Ok(Some((false, meta.size, meta.sha256)));
    }
    match meta.sha256 {
        Some(s) => Ok(Some((s == sha256, meta.size, Some(s)))),
        None => {
            let (n, s) = hash_object(store, path).await?;
            Ok(Some((n == size && s == sha256, n, Some(s))))
        }
    }
}

fn integrity(provider: &str, path: &ObjectPath, message: String, hint: &str) -> Error {
    stowage_store::Error::new(ErrorKind::Integrity, provider, message)
        .at(&path.bucket, Some(path.key.as_str()))
        .hint(hint)
        .into()
}

/// What [`copy_verified`] did.
struct Copied {
    size: u64,
    sha256: String,
    action: &'static str,
    method: &'static str,
    bytes_moved: u64,
    resumed_from: u64,
}

/// Copy `src` on `from` to `dst` on `to` and verify it there. An object already verified at
/// `dst` is skipped; a different one is refused unless `overwrite`.
#[allow(clippy::too_many_arguments)]
async fn copy_verified(
    from: &Endpoint,
    src: &ObjectPath,
    to: &Endpoint,
    dst: &ObjectPath,
    known: (Option<u64>, Option<String>),
    overwrite: bool,
    dry_run: bool,
    staging_dir: &std::path::Path,
    progress: &Option<ProgressFn>,
    index: usize,
) -> Result<Copied> {
    // What the source holds: the catalog's record, else the source's own metadata.
    let (size, mut sha256) = match known {
        (Some(size), Some(sha)) => (size, Some(sha)),
        _ => {
            let meta = from.store.head(src).await?;
            (meta.size, meta.sha256)
        }
    };
    let same_store = from.identity == to.identity;
    if sha256.is_none() && !dry_run {
        // Nothing recorded: hash the source itself so the target can be checked.
        let (n, s) = hash_object(&*from.store, src).await?;
        if n != size {
            return Err(integrity(
                from.store.provider(),
                src,
                format!("read {n} bytes, the listing says {size}"),
                "the object changed during the migration; run it again",
            ));
        }
        sha256 = Some(s);
    }
    // Staged under a name fixed by source and target, so a rerun finds it (and the upload's
    // resume record, keyed by the file's identity, still applies).
    let staged = staging_dir.join(stowage_store::sha256_hex(
        format!("{}\n{src}\n{}\n{dst}", from.profile, to.profile).as_bytes(),
    ));
    if let Some(sha) = &sha256 {
        match holds(&*to.store, dst, size, sha).await? {
            Some((true, _, _)) => {
                // Verified there already (an interrupted run finished the upload but not
                // its clean-up): its staged copy is not needed any more.
                if !dry_run {
                    let _ = std::fs::remove_file(&staged);
                }
                return Ok(Copied {
                    size,
                    sha256: sha.clone(),
                    action: "skipped",
                    method: "none",
                    bytes_moved: 0,
                    resumed_from: 0,
                });
            }
            Some((false, found, found_sha)) if !overwrite => {
                return Err(stowage_store::Error::new(
                    ErrorKind::Conflict,
                    to.store.provider(),
                    format!(
                        "a different object is already there ({found} bytes, SHA-256 {}); \
                         expected {size} bytes with SHA-256 {sha}. Nothing was copied and the \
                         source is kept",
                        found_sha.as_deref().unwrap_or("(none recorded)")
                    ),
                )
                .at(&dst.bucket, Some(dst.key.as_str()))
                .hint(format!(
                    "inspect or remove `{}:{dst}`, then run the migration again",
                    to.profile
                ))
                .into());
            }
            _ => {}
        }
    }
    if dry_run {
        return Ok(Copied {
            size,
            sha256: sha256.unwrap_or_default(),
            action: "planned",
            method: if same_store {
                "server_copy"
            } else {
                "streamed"
            },
            bytes_moved: 0,
            resumed_from: 0,
        });
    }
    let sha256 = sha256.expect("hashed above");
    let (method, bytes_moved, resumed_from) = if same_store {
        crate::transfer::report_event(progress, index, ItemEvent::Started { size });
        from.store.copy(src, dst, overwrite).await?;
        ("server_copy", 0, 0)
    } else {
        std::fs::create_dir_all(staging_dir)
            .map_err(|e| crate::transfer::io_local(staging_dir, "creating the folder", e))?;
        let reusable = match std::fs::metadata(&staged) {
            Ok(m) if m.len() == size => hash_file(&staged)? == sha256,
            _ => false,
        };
        let mut moved = 0;
        if !reusable {
            let got = from.store.get(src, None).await?;
            crate::transfer::write_download(
                from.store.provider(),
                src,
                got,
                &staged,
                true,
                None,
                Some((size, &sha256)),
                progress,
                index,
                None,
            )
            .await?;
            moved = size;
        }
        let put = to
            .store
            .put(
                dst,
                PutSource::File(staged.clone()),
                &PutOptions {
                    overwrite,
                    ..Default::default()
                },
            )
            .await;
        let put = match put {
            Ok(p) => p,
            Err(e) => return Err(e.into()),
        };
        if put.sha256 != sha256 || put.size != size {
            let _ = std::fs::remove_file(&staged);
            return Err(integrity(
                to.store.provider(),
                dst,
                format!(
                    "uploaded {} bytes with SHA-256 {}, expected {size} with {sha256}",
                    put.size, put.sha256
                ),
                "the staged copy changed; run the migration again",
            ));
        }
        let _ = std::fs::remove_file(&staged);
        ("streamed", moved, put.resumed_from)
    };
    match holds(&*to.store, dst, size, &sha256).await? {
        Some((true, _, _)) => {}
        Some((false, found, found_sha)) => {
            return Err(integrity(
                to.store.provider(),
                dst,
                format!(
                    "after the copy the target holds {found} bytes with SHA-256 {}, not {size} \
                     bytes with {sha256}; the source is kept",
                    found_sha.as_deref().unwrap_or("(none recorded)")
                ),
                "run `stowage verify --fix`, or the migration again",
            ))
        }
        None => {
            return Err(integrity(
                to.store.provider(),
                dst,
                "the copy is not there after it was made; the source is kept".into(),
                "run the migration again",
            ))
        }
    }
    Ok(Copied {
        size,
        sha256,
        action: "copied",
        method,
        bytes_moved,
        resumed_from,
    })
}

async fn ensure_buckets(to: &Endpoint, items: &[MigrateItem]) -> Result<()> {
    let buckets: BTreeSet<&str> = items.iter().map(|i| i.to_bucket.as_str()).collect();
    for b in buckets {
        match to.store.create_bucket(b, &BucketOptions::default()).await {
            Ok(()) => {}
            Err(e) if matches!(e.kind, ErrorKind::AlreadyExists | ErrorKind::Conflict) => {}
            Err(e) => {
                // No right to create buckets is fine if the bucket is there.
                let exists = crate::transfer::list_buckets(&*to.store)
                    .await
                    .map(|l| l.iter().any(|x| x.name == b))
                    .unwrap_or(false);
                if !exists {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(())
}

/// Held while a migration runs (an exclusive `flock` on `<staging>.lock`, released when the
/// process ends, even by `kill -9`). The run that takes it clears the partial downloads a
/// killed run left in the staging folder: no other migration is writing them then. When
/// another migration holds it, nothing is cleared.
struct StagingLock {
    _file: Option<std::fs::File>,
}

fn claim_staging(dir: &std::path::Path) -> StagingLock {
    let _ = std::fs::create_dir_all(dir);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(dir.with_extension("lock"));
    let Ok(file) = lock else {
        return StagingLock { _file: None };
    };
    if !crate::queue::try_lock_exclusive(&file) {
        return StagingLock { _file: None };
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".stowage-") && name.ends_with(".part") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    StagingLock { _file: Some(file) }
}

/// Migrate planned items from `from` to `to`, `options.concurrency` at a time. One result
/// per item, in plan order; a failed item leaves its source untouched and does not stop the
/// others. The catalog learns each verified copy as soon as it is verified.
pub async fn run(
    catalog: &Catalog,
    from: &Endpoint,
    to: &Endpoint,
    items: &[MigrateItem],
    options: &MigrateOptions,
    progress: Option<ProgressFn>,
) -> Result<Vec<Result<MigrateOutcome>>> {
    // What stops the whole run is said once, as it is, not once per object.
    if from.profile == to.profile
        && items.iter().any(|i| i.bucket == i.to_bucket)
        && !items.is_empty()
    {
        return Err(Error::Usage(format!(
            "--from and --to are both `{}` and the buckets are the same; pass --to-bucket \
             to migrate within one profile",
            from.profile
        )));
    }
    if !options.dry_run {
        ensure_buckets(to, items).await?;
    }
    let _staging = (!options.dry_run).then(|| claim_staging(&options.staging_dir));
    let mut results: Vec<Option<Result<MigrateOutcome>>> = Vec::new();
    results.resize_with(items.len(), || None);
    let mut work = stream::iter(items.iter().enumerate())
        .map(|(index, item)| {
            let progress = progress.clone();
            async move {
                let r = async {
                    let src = ObjectPath::new(&item.bucket, &item.key)?;
                    let dst = ObjectPath::new(&item.to_bucket, &item.key)?;
                    to.store.check_key(&dst.key)?;
                    copy_verified(
                        from,
                        &src,
                        to,
                        &dst,
                        (item.size, item.sha256.clone()),
                        false,
                        options.dry_run,
                        &options.staging_dir,
                        &progress,
                        index,
                    )
                    .await
                }
                .await;
                (index, r)
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((index, r)) = work.next().await {
        let item = &items[index];
        let r = match r {
            Ok(c) => finish_one(catalog, from, to, item, c, options).await,
            Err(e) => Err(e),
        };
        crate::transfer::report_event(
            &progress,
            index,
            if r.is_ok() {
                ItemEvent::Done
            } else {
                ItemEvent::Failed
            },
        );
        results[index] = Some(r);
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect())
}

/// After a verified copy: record the target, then (only then) delete the source if asked.
async fn finish_one(
    catalog: &Catalog,
    from: &Endpoint,
    to: &Endpoint,
    item: &MigrateItem,
    c: Copied,
    options: &MigrateOptions,
) -> Result<MigrateOutcome> {
    let mut outcome = MigrateOutcome {
        from: format!("{}:{}/{}", from.profile, item.bucket, item.key),
        to: format!("{}:{}/{}", to.profile, item.to_bucket, item.key),
        size: c.size,
        sha256: (!c.sha256.is_empty()).then(|| c.sha256.clone()),
        action: c.action,
        method: c.method,
        bytes_moved: c.bytes_moved,
        resumed_from: c.resumed_from,
        verified: c.action != "planned",
        source_deleted: false,
        catalogued: false,
    };
    if options.dry_run {
        return Ok(outcome);
    }
    let src = ObjectPath::new(&item.bucket, &item.key)?;
    catalog.batch(|cat| {
        let target = NewLocation {
            profile: to.profile.clone(),
            provider: to.store.provider().to_string(),
            bucket: item.to_bucket.clone(),
            key: item.key.clone(),
            size: c.size,
            etag: None,
            sha256: Some(c.sha256.clone()),
            stored_at: time::OffsetDateTime::now_utc(),
        };
        match item.version_id {
            Some(version_id) => cat.record_stored(version_id, &target)?,
            None if !c.sha256.is_empty() => {
                // An object the catalog did not know (written by another tool): both copies,
                // verified equal, are recorded as a version of the artifact its key names.
                let source = NewLocation {
                    profile: from.profile.clone(),
                    provider: from.store.provider().to_string(),
                    bucket: item.bucket.clone(),
                    key: item.key.clone(),
                    ..target.clone()
                };
                crate::record::record_object(cat, None, &source, None, None)?;
                let version = cat
                    .location_at(&source.profile, &source.bucket, &source.key)?
                    .map(|l| l.version_id);
                if let Some(v) = version {
                    cat.record_stored(v, &target)?;
                }
            }
            None => {}
        }
        outcome.catalogued = cat
            .location_at(&target.profile, &target.bucket, &target.key)?
            .is_some();
        if c.action == "copied" {
            if c.bytes_moved > 0 {
                cat.record_transfer(
                    &from.profile,
                    from.store.provider(),
                    &item.bucket,
                    Direction::Download,
                    c.bytes_moved,
                    1,
                )?;
            }
            if c.method == "streamed" {
                cat.record_transfer(
                    &to.profile,
                    to.store.provider(),
                    &item.to_bucket,
                    Direction::Upload,
                    c.size - c.resumed_from,
                    1,
                )?;
            }
            cat.audit(&AuditEvent {
                action: "put",
                profile: Some(&to.profile),
                bucket: Some(&item.to_bucket),
                key: Some(&item.key),
                detail: Some(format!(
                    "migrated from {} ({}, SHA-256 verified)",
                    outcome.from, c.method
                )),
            })?;
        }
        Ok(())
    })?;
    if options.delete_source && outcome.verified {
        from.store.delete(&src).await?;
        catalog.batch(|cat| {
            cat.record_deleted(&from.profile, &item.bucket, &item.key)?;
            cat.audit(&AuditEvent {
                action: "delete",
                profile: Some(&from.profile),
                bucket: Some(&item.bucket),
                key: Some(&item.key),
                detail: Some(format!("migrated to {} and verified there", outcome.to)),
            })
        })?;
        outcome.source_deleted = true;
    }
    Ok(outcome)
}

/// One disagreement between the catalog and a provider.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
#[ts(rename = "VerifyProblem")]
pub struct Problem {
    /// `missing`, `different`, `extra` or `unreachable`.
    pub kind: &'static str,
    /// The profile.
    pub profile: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// What the catalog records (not for `extra`).
    pub expected_size: Option<u64>,
    /// What the catalog records.
    pub expected_sha256: Option<String>,
    /// What the provider holds.
    pub found_size: Option<u64>,
    /// What the provider records.
    pub found_sha256: Option<String>,
    /// Whether `--fix` repaired it.
    pub fixed: bool,
    /// The copy it was repaired from: `profile:bucket/key`.
    pub fixed_from: Option<String>,
    /// Why it could not be checked or fixed.
    pub error: Option<String>,
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct VerifyReport {
    /// Locations checked.
    pub checked: usize,
    /// Locations that matched.
    pub ok: usize,
    /// Everything that did not.
    pub problems: Vec<Problem>,
    /// Problems repaired.
    pub fixed: usize,
    /// Whether this was only a check (`fix` with `dry_run` repairs nothing).
    pub dry_run: bool,
}

impl VerifyReport {
    /// Problems still standing (extra objects included: they are only reported).
    pub fn unresolved(&self) -> usize {
        self.problems.iter().filter(|p| !p.fixed).count()
    }
}

/// Compare every catalogued location on `profiles` (all when empty) with its provider; with
/// `fix`, re-copy missing and different objects from a copy that verifies.
pub async fn verify(
    catalog: &Catalog,
    endpoints: &HashMap<String, Endpoint>,
    profiles: &[String],
    fix: bool,
    dry_run: bool,
    staging_dir: &std::path::Path,
) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        dry_run,
        ..Default::default()
    };
    let in_scope = |p: &str| profiles.is_empty() || profiles.iter().any(|x| x == p);
    for p in profiles {
        if !endpoints.contains_key(p) {
            return Err(Error::Config(format!(
                "profile `{p}` is not configured or did not open; `stowage profile ls` lists them"
            )));
        }
    }
    let versions = catalog.versions(&VersionQuery::default())?;
    // Catalogued keys per (profile, bucket), and the folders they live in.
    let mut known: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for v in &versions {
        for l in &v.locations {
            known
                .entry((l.profile.clone(), l.bucket.clone()))
                .or_default()
                .insert(l.key.clone());
        }
    }
    for v in &versions {
        for l in v.locations.iter().filter(|l| in_scope(&l.profile)) {
            let Some(ep) = endpoints.get(&l.profile) else {
                report.checked += 1;
                report.problems.push(Problem {
                    kind: "unreachable",
                    profile: l.profile.clone(),
                    bucket: l.bucket.clone(),
                    key: l.key.clone(),
                    expected_size: Some(l.size),
                    expected_sha256: l.sha256.clone(),
                    found_size: None,
                    found_sha256: None,
                    fixed: false,
                    fixed_from: None,
                    error: Some(format!("profile `{}` is not configured here", l.profile)),
                });
                continue;
            };
            report.checked += 1;
            let path = ObjectPath::new(&l.bucket, &l.key)?;
            let expected_sha = l.sha256.clone().unwrap_or_default();
            let found = holds(&*ep.store, &path, l.size, &expected_sha).await;
            let mut problem = Problem {
                kind: "missing",
                profile: l.profile.clone(),
                bucket: l.bucket.clone(),
                key: l.key.clone(),
                expected_size: Some(l.size),
                expected_sha256: l.sha256.clone(),
                found_size: None,
                found_sha256: None,
                fixed: false,
                fixed_from: None,
                error: None,
            };
            match found {
                Ok(Some((true, _, _))) => {
                    report.ok += 1;
                    continue;
                }
                Ok(Some((false, size, sha))) => {
                    problem.kind = "different";
                    problem.found_size = Some(size);
                    problem.found_sha256 = sha;
                }
                Ok(None) => {}
                Err(e) => {
                    problem.kind = "unreachable";
                    problem.error = Some(e.to_string());
                }
            }
            if fix && problem.kind != "unreachable" && l.sha256.is_some() {
                // A good copy: another location of this version holding the same bytes.
                let mut last_err = None;
                for good in v.locations.iter().filter(|g| {
                    g.id != l.id && g.sha256 == l.sha256 && endpoints.contains_key(&g.profile)
                }) {
                    let gep = &endpoints[&good.profile];
                    let gpath = ObjectPath::new(&good.bucket, &good.key)?;
                    match holds(&*gep.store, &gpath, good.size, &expected_sha).await {
                        Ok(Some((true, _, _))) => {}
                        _ => continue,
                    }
                    let r = copy_verified(
                        gep,
                        &gpath,
                        ep,
                        &path,
                        (Some(l.size), l.sha256.clone()),
                        true,
                        dry_run,
                        staging_dir,
                        &None,
                        0,
                    )
                    .await;
                    match r {
                        Ok(_) => {
                            problem.fixed = !dry_run;
                            problem.fixed_from = Some(format!("{}:{}", good.profile, gpath));
                            break;
                        }
                        Err(e) => last_err = Some(e.to_string()),
                    }
                }
                if problem.fixed_from.is_none() {
                    problem.error = Some(last_err.unwrap_or_else(|| {
                        "no other copy of this version verifies; nothing to repair it from".into()
                    }));
                }
                if problem.fixed {
                    report.fixed += 1;
                    catalog.audit(&AuditEvent {
                        action: "put",
                        profile: Some(&l.profile),
                        bucket: Some(&l.bucket),
                        key: Some(&l.key),
                        detail: Some(format!(
                            "verify --fix re-copied it from {}",
                            problem.fixed_from.as_deref().unwrap_or("")
                        )),
                    })?;
                }
            }
            report.problems.push(problem);
        }
    }
    // Extra objects: in a folder the catalog uses on that profile and bucket, not catalogued.
    let mut folders: BTreeSet<(String, String, String)> = BTreeSet::new();
    for ((profile, bucket), keys) in &known {
        if !in_scope(profile) || !endpoints.contains_key(profile) {
            continue;
        }
        for k in keys {
            let folder = k
                .rsplit_once('/')
                .map_or(String::new(), |(f, _)| format!("{f}/"));
            folders.insert((profile.clone(), bucket.clone(), folder));
        }
    }
    for (profile, bucket, folder) in folders {
        let ep = &endpoints[&profile];
        let keys = &known[&(profile.clone(), bucket.clone())];
        let options = ListOptions {
            prefix: folder.clone(),
            delimiter: true,
            page_size: None,
        };
        let listed: Vec<ListEntry> = match ep.store.list(&bucket, options).try_collect().await {
            Ok(l) => l,
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in listed {
            if let ListEntry::Object(m) = entry {
                if !keys.contains(m.key.as_str()) {
                    report.problems.push(Problem {
                        kind: "extra",
                        profile: profile.clone(),
                        bucket: bucket.clone(),
                        key: m.key.to_string(),
                        expected_size: None,
                        expected_sha256: None,
                        found_size: Some(m.size),
                        found_sha256: m.sha256,
                        fixed: false,
                        fixed_from: None,
                        error: None,
                    });
                }
            }
        }
    }
    Ok(report)
}

/// SHA-256 of a local file, read in 1 MiB steps.
fn hash_file(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(path).map_err(|e| crate::transfer::io_local(path, "reading", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| crate::transfer::io_local(path, "reading", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NewVersion, VersionMetrics};
    use stowage_store::local::LocalStore;

    fn endpoint(name: &str, root: &std::path::Path) -> Endpoint {
        Endpoint {
            profile: name.into(),
            store: Arc::new(LocalStore::new(root.join(name)).unwrap()),
            identity: format!("local:{name}"),
        }
    }

    /// Two objects on `a`, both catalogued.
    async fn setup(root: &std::path::Path) -> (Catalog, Endpoint, Endpoint) {
        let catalog = Catalog::in_memory().unwrap();
        let (a, b) = (endpoint("a", root), endpoint("b", root));
        a.store
            .create_bucket("bkt", &Default::default())
            .await
            .unwrap();
        for (i, key) in ["m/one.pt", "d/two.csv"].iter().enumerate() {
            let content = vec![i as u8 + 1; 70_000 + i];
            let put = a
                .store
                .put(
                    &ObjectPath::new("bkt", key).unwrap(),
                    content.into(),
                    &PutOptions::default(),
                )
                .await
                .unwrap();
            let art = catalog
                .upsert_artifact(None, key, "model", None, "m/")
                .unwrap();
            let vid = catalog
                .insert_version(&NewVersion {
                    artifact_id: art,
                    version: "1".into(),
                    sha256: put.sha256.clone(),
                    size: put.size,
                    original_size: put.size,
                    encoding: None,
                    mtime_ns: None,
                    source_path: None,
                    created_at: time::OffsetDateTime::now_utc(),
                    metrics: VersionMetrics::default(),
                })
                .unwrap();
            catalog
                .add_location(
                    vid,
                    &NewLocation {
                        profile: "a".into(),
                        provider: "local".into(),
                        bucket: "bkt".into(),
                        key: key.to_string(),
                        size: put.size,
                        etag: None,
                        sha256: Some(put.sha256),
                        stored_at: time::OffsetDateTime::now_utc(),
                    },
                )
                .unwrap();
        }
        (catalog, a, b)
    }

    fn options(root: &std::path::Path) -> MigrateOptions {
        MigrateOptions {
            bucket: None,
            to_bucket: None,
            filter: None,
            all_objects: false,
            dry_run: false,
            delete_source: false,
            concurrency: 2,
            staging_dir: root.join("staging"),
        }
    }

    #[tokio::test]
    async fn plan_reads_the_catalog_filters_and_falls_back_to_listing() {
        let dir = tempfile::tempdir().unwrap();
        let (catalog, a, b) = setup(dir.path()).await;
        let mut o = options(dir.path());
        let all = plan(&catalog, &a, &o).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|i| i.version_id.is_some()));
        o.filter = Some("m/*".into());
        let some = plan(&catalog, &a, &o).await.unwrap();
        assert_eq!(some.len(), 1);
        assert_eq!(some[0].key, "m/one.pt");
        o.filter = Some("[".into());
        assert!(matches!(plan(&catalog, &a, &o).await, Err(Error::Usage(_))));
        // Nothing catalogued on `b`: its listing is used (here, an empty store).
        o.filter = None;
        b.store
            .create_bucket("bkt", &Default::default())
            .await
            .unwrap();
        assert!(plan(&catalog, &b, &o).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn dry_run_changes_nothing_and_run_verifies_records_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let (catalog, a, b) = setup(dir.path()).await;
        let mut o = options(dir.path());
        let items = plan(&catalog, &a, &o).await.unwrap();
        o.dry_run = true;
        let planned = run(&catalog, &a, &b, &items, &o, None).await.unwrap();
        assert!(planned
            .iter()
            .all(|r| r.as_ref().unwrap().action == "planned"));
        assert!(b.store.list_buckets().await.unwrap().is_empty());
        o.dry_run = false;
        o.delete_source = true;
        let done = run(&catalog, &a, &b, &items, &o, None).await.unwrap();
        for r in &done {
            let r = r.as_ref().unwrap();
            assert_eq!((r.action, r.method), ("copied", "streamed"));
            assert!(r.verified && r.source_deleted && r.catalogued);
        }
        let versions = catalog.versions(&VersionQuery::default()).unwrap();
        for v in versions {
            let profiles: Vec<&str> = v.locations.iter().map(|l| l.profile.as_str()).collect();
            assert_eq!(profiles, vec!["b"]);
        }
        for i in &items {
            let path = ObjectPath::new("bkt", &i.key).unwrap();
            assert_eq!(
                a.store.head(&path).await.unwrap_err().kind,
                ErrorKind::NotFound
            );
            assert_eq!(b.store.head(&path).await.unwrap().sha256, i.sha256);
        }
    }

    #[tokio::test]
    async fn verify_reports_missing_and_fix_recopies_from_a_good_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (catalog, a, b) = setup(dir.path()).await;
        let o = options(dir.path());
        let items = plan(&catalog, &a, &o).await.unwrap();
        run(&catalog, &a, &b, &items, &o, None).await.unwrap();
        let path = ObjectPath::new("bkt", "m/one.pt").unwrap();
        b.store.delete(&path).await.unwrap();
        let eps: HashMap<String, Endpoint> =
            [("a".to_string(), a.clone()), ("b".to_string(), b.clone())].into();
        let r = verify(&catalog, &eps, &[], false, false, &o.staging_dir)
            .await
            .unwrap();
        assert_eq!((r.checked, r.ok), (4, 3));
        assert_eq!(r.problems[0].kind, "missing");
        assert_eq!(r.problems[0].profile, "b");
        let r = verify(
            &catalog,
            &eps,
            &["b".to_string()],
            true,
            false,
            &o.staging_dir,
        )
        .await
        .unwrap();
        assert_eq!((r.checked, r.fixed), (2, 1));
        assert_eq!(r.problems[0].fixed_from.as_deref(), Some("a:bkt/m/one.pt"));
        assert_eq!(
            b.store.head(&path).await.unwrap().sha256,
            a.store.head(&path).await.unwrap().sha256
        );
    }
}
