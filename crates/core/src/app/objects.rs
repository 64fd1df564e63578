//! Object actions on the selected profile: put, get, ls, rm, cp/mv, url and buckets.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stowage_store::UrlMethod;
use ts_rs::TS;

use super::{items, relative_path, secondary_for, App, AppError, AppResult, Item, Op};
use crate::catalog::{Activity, Catalog};
use crate::cost::Direction;
use crate::events::{progress_fn, Event, Tracked};
use crate::read::{self, Reader};
use crate::record::Write;
use crate::transfer::{
    self, Bucket, CopyOutcome, Entry, GetFilesOptions, GetItem, GetOutcome, ProgressFn,
    PutFilesOptions, PutOutcome, RemoveOutcome,
};
use crate::{Location, Session};

/// `put`: files (or folders) to a bucket or folder.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct PutRequest {
    /// Local files or folders.
    pub files: Vec<PathBuf>,
    /// `BUCKET`, `BUCKET/KEY` or `BUCKET/FOLDER/`.
    pub dest: String,
    /// Pack each folder as one `.tar.gz` first.
    #[serde(default)]
    pub archive: bool,
    /// Replace existing objects.
    #[serde(default)]
    pub overwrite: bool,
    /// Content type to record for every file.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Gzip every file (true), none (false), or as the policy decides (None).
    #[serde(default)]
    pub compress: Option<bool>,
    /// Check and report, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The profile to upload to [default: the selected one].
    #[serde(default)]
    pub profile: Option<String>,
}

/// What `put` did, one item per file.
#[derive(Debug, Serialize, TS)]
pub struct PutResult {
    /// Each upload.
    pub uploaded: Vec<Item<PutOutcome>>,
    /// Whether this was only planned.
    pub dry_run: bool,
    /// Things the user should know (a key other tools may not handle, a catalog that could
    /// not record).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl PutResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.uploaded)
    }
}

/// `get`: objects to local files.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct GetRequest {
    /// `BUCKET/KEY` or, with `recursive`, `BUCKET/FOLDER/`.
    pub src: String,
    /// The local file or folder [default: the key's name in the current folder].
    #[serde(default)]
    pub dest: Option<PathBuf>,
    /// Every object under a folder.
    #[serde(default)]
    pub recursive: bool,
    /// Keep gzipped objects as stored.
    #[serde(default)]
    pub raw: bool,
    /// Unpack a `.tar.gz` into a folder.
    #[serde(default)]
    pub extract: bool,
    /// Replace existing local files.
    #[serde(default)]
    pub force: bool,
    /// Check and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What `get` did, one item per object.
#[derive(Debug, Serialize, TS)]
pub struct GetResult {
    /// Each download.
    pub downloaded: Vec<Item<GetOutcome>>,
    /// Whether this was only planned.
    pub dry_run: bool,
    /// Copies that failed before one served (each names provider and error).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Where reads were served from when not from the profile (`FILE: served from the
    /// local cache`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl GetResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.downloaded)
    }
}

/// An archive unpacked into a folder.
#[derive(Clone, Debug, Serialize, TS)]
pub struct Extracted {
    /// The bucket.
    pub bucket: String,
    /// The archive's key.
    pub key: String,
    /// The folder it was unpacked into.
    pub folder: PathBuf,
    /// The archive's stored size (None in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What `get --extract` did.
#[derive(Debug, Serialize, TS)]
pub struct ExtractResult {
    /// The archive.
    pub extracted: Vec<Item<Extracted>>,
    /// Whether this was only planned.
    pub dry_run: bool,
}

impl ExtractResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.extracted)
    }
}

/// One object downloaded and verified into a private temporary file (for `get KEY -`): the
/// file goes away with this value.
#[derive(Debug)]
pub struct Staged {
    /// The download.
    pub outcome: GetOutcome,
    /// Its verified bytes.
    pub file: PathBuf,
    /// Warnings and notes, as in [`GetResult`].
    pub warnings: Vec<String>,
    dir: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ls`: buckets, or a bucket's or folder's entries.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(untagged)]
pub enum LsResult {
    /// Every bucket.
    Buckets {
        /// The buckets.
        buckets: Vec<Bucket>,
    },
    /// One listing.
    Entries {
        /// The bucket.
        bucket: String,
        /// The folder listed.
        prefix: String,
        /// Whether every object below was listed.
        recursive: bool,
        /// What is there.
        entries: Vec<Entry>,
    },
}

/// What `rm` did, one item per path.
#[derive(Debug, Serialize, TS)]
pub struct RmResult {
    /// Each removal.
    pub removed: Vec<Item<RemoveOutcome>>,
    /// Whether this was only planned.
    pub dry_run: bool,
    /// A catalog that could not record it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl RmResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.removed)
    }
}

/// What `cp` or `mv` did.
#[derive(Debug, Serialize, TS)]
pub struct Copied {
    /// The copy.
    #[serde(flatten)]
    pub outcome: CopyOutcome,
    /// A catalog that could not record it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `url`: a signed URL.
#[derive(Clone, Debug, Deserialize, TS)]
pub struct UrlRequest {
    /// `BUCKET/KEY`.
    pub path: String,
    /// Sign an upload (PUT) instead of a download.
    #[serde(default)]
    pub put: bool,
    /// How long it lasts: `1h`, `30m`, `7d`.
    pub expires: String,
}

/// `buckets create`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct BucketCreated {
    /// The bucket.
    pub bucket: String,
    /// Whether it is public.
    pub public: bool,
    /// Whether it was created (false in a dry run).
    pub created: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
    /// The provider it lives on.
    pub provider: String,
}

/// `buckets rm`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct BucketDeleted {
    /// The bucket.
    pub bucket: String,
    /// Whether it was deleted (false in a dry run).
    pub deleted: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
    /// The provider it lived on.
    pub provider: String,
}

/// Every bucket.
#[derive(Clone, Debug, Serialize, TS)]
pub struct BucketList {
    /// The buckets.
    pub buckets: Vec<Bucket>,
    /// The provider they live on.
    pub provider: String,
}

impl Op<'_> {
    /// Events for a transfer's items, tagged with this operation.
    pub(super) fn progress(&self, items: Vec<Tracked>) -> Option<ProgressFn> {
        let (tx, op) = (self.app.events.clone(), self.id);
        let sink = Arc::new(move |event| {
            let _ = tx.send(super::AppEvent { op, event });
        });
        Some(progress_fn(sink, items, true))
    }

    /// A `failed` event for each item that failed.
    fn failed<T>(&self, items: &[Item<T>], tracked: &[Tracked]) {
        for (i, t) in items.iter().zip(tracked) {
            if let Err(e) = &i.0 {
                self.emit(Event::Failed {
                    id: Some(t.id),
                    path: t.path.clone(),
                    profile: t.profile.clone(),
                    bucket: t.bucket.clone(),
                    key: t.key.clone(),
                    error: e.message.clone(),
                    kind: "transfer",
                    attempt: 1,
                    at_ns: Event::now(),
                });
            }
        }
    }
}

/// The items of a transfer as its events name them.
fn tracked<'a>(
    profile: &str,
    it: impl Iterator<Item = (&'a std::path::Path, &'a str, &'a str, u64)>,
) -> Vec<Tracked> {
    it.enumerate()
        .map(|(i, (path, bucket, key, size))| Tracked {
            id: i as i64,
            path: path.to_path_buf(),
            profile: profile.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            size,
        })
        .collect()
}

impl App {
    /// `put FILE… DEST`: upload, verify (SHA-256) and record each file.
    pub async fn put(&self, r: PutRequest) -> AppResult<PutResult> {
        self.run("put", |op| async move {
            let session = self.session_for(r.profile.as_deref()).await?;
            let dest = Location::parse(&r.dest)?;
            // The archives live in `_packed` until the upload ends.
            let (_packed, files) = if r.archive {
                let (dir, archives) = transfer::archive_folders(&r.files).await?;
                (Some(dir), archives)
            } else {
                (None, r.files.clone())
            };
            let mut planned = transfer::plan_put(&files, &dest)?;
            let mut warnings: Vec<String> = planned
                .iter()
                .filter_map(|i| i.key.portability_warning())
                .collect();
            if r.compress.is_none() {
                self.policy_compression(&mut planned, &mut warnings);
            }
            let tracked = tracked(
                &session.profile.name,
                planned
                    .iter()
                    .map(|i| (i.file.as_path(), i.bucket.as_str(), i.key.as_str(), i.size)),
            );
            let options = PutFilesOptions {
                overwrite: r.overwrite,
                content_type: r.content_type.clone(),
                dry_run: r.dry_run,
                create_bucket: session.creates_buckets(),
                compress: r.compress,
                ..Default::default()
            };
            let progress = op.progress(tracked.clone());
            let results = transfer::put_files(&*session.store, &planned, &options, progress).await;
            let writes = results
                .iter()
                .flatten()
                .filter(|o| !o.dry_run)
                .filter_map(|o| {
                    Some(Write::Stored {
                        bucket: o.bucket.clone(),
                        key: o.key.clone(),
                        size: o.size,
                        sha256: o.sha256.clone()?,
                        etag: o.etag.clone(),
                        sent: o.size - o.resumed_from,
                        // An archive's file is a temporary one.
                        file: (!r.archive).then(|| o.file.clone()),
                        gzipped_from: o.compressed_from.zip(o.original_sha256.clone()),
                    })
                })
                .collect();
            App::record(&session, writes, &mut warnings);
            let uploaded = items(results);
            op.failed(&uploaded, &tracked);
            Ok(PutResult {
                uploaded,
                dry_run: r.dry_run,
                warnings,
            })
        })
        .await
    }

    /// Mark the files policy.toml would store gzipped (as `sync` decides: the matching rule,
    /// then the content). A policy that cannot be read leaves every file as it is, with a
    /// warning.
    fn policy_compression(&self, items: &mut [transfer::PutItem], warnings: &mut Vec<String>) {
        use crate::compress;
        let policy = match self.policy() {
            Ok(p) => p,
            Err(e) => {
                warnings.push(format!("no automatic compression: {e}"));
                return;
            }
        };
        let cwd = std::env::current_dir().unwrap_or_default();
        for item in items {
            let rel = relative_path(&cwd, &item.file);
            let d = policy.explain(&rel, item.size, None).decision;
            // A rule that uploads decides; a file `sync` would keep local still goes up here,
            // and then the automatic rule (text from compress_min_size) decides alone.
            if d.destination.uploads() && !d.compress {
                continue;
            }
            if let Ok(head) = compress::sniff(&item.file) {
                item.compress =
                    compress::decide(&item.file, &head, item.size, policy.compress_min_size)
                        .compress;
            }
        }
    }

    /// The read path for the selected profile: catalogued objects go cache → this profile
    /// → other recorded copies; the rest download directly.
    async fn reader(&self, session: &Session, warnings: &mut Vec<String>) -> AppResult<Reader> {
        let config = self.config()?;
        let primary = session.profile.name.clone();
        let secondary = secondary_for(&config, &primary);
        let others: Vec<String> = config.profiles.keys().cloned().collect();
        let mut stores = self.stores_for(&config, others).await;
        stores.insert(primary.clone(), session.store.clone());
        let cache = self.read_cache(&config, warnings);
        Ok(Reader {
            stores,
            primary: Some(primary),
            secondary,
            cache,
        })
    }

    /// Download `planned` through the read path; one result per item, in order.
    async fn get_read(
        &self,
        session: &Session,
        planned: &[GetItem],
        options: &GetFilesOptions,
        progress: Option<ProgressFn>,
        warnings: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) -> Vec<crate::Result<GetOutcome>> {
        let catalog = Catalog::open_read_only(&self.paths);
        let reader = match catalog {
            Ok(c) => self.reader(session, warnings).await.map(|r| (c, r)),
            Err(e) => Err(e.into()),
        };
        let Ok((catalog, reader)) = reader else {
            return transfer::get_files(&*session.store, planned, options, progress).await;
        };
        // Items download `options.concurrency` at a time and land together (one flush, then
        // the renames) before any is reported done: see `read::get_many`.
        let results = read::get_many(
            &catalog,
            &reader,
            &*session.store,
            planned,
            options,
            progress,
        )
        .await;
        results
            .into_iter()
            .zip(planned)
            .map(|(r, item)| {
                r.map(|(o, info)| {
                    if let Some(info) = info {
                        warnings.extend(info.warnings);
                        if info.source == "cache" {
                            notes.push(format!(
                                "{}: served from the local cache",
                                item.file.display()
                            ));
                        }
                    }
                    o
                })
            })
            .collect()
    }

    /// `get SRC [DEST]`: download and verify each object.
    pub async fn get(&self, r: GetRequest) -> AppResult<GetResult> {
        self.run("get", |op| async move {
            let session = self.session().await?;
            let src = Location::parse(&r.src)?;
            let planned = transfer::plan_get_with(
                &*session.store,
                &src,
                r.dest.as_deref(),
                r.recursive,
                r.raw,
            )
            .await?;
            let options = GetFilesOptions {
                force: r.force,
                dry_run: r.dry_run,
                raw: r.raw,
                ..Default::default()
            };
            let tracked = tracked(
                &session.profile.name,
                planned
                    .iter()
                    .map(|i| (i.file.as_path(), i.bucket.as_str(), i.key.as_str(), 0)),
            );
            let (mut warnings, mut notes) = (Vec::new(), Vec::new());
            let results = self
                .get_read(
                    &session,
                    &planned,
                    &options,
                    op.progress(tracked.clone()),
                    &mut warnings,
                    &mut notes,
                )
                .await;
            let activity = results
                .iter()
                .flatten()
                .filter(|o| !o.dry_run)
                .map(|o| Activity {
                    action: "get",
                    bucket: o.bucket.clone(),
                    key: o.key.clone(),
                    moved: Some((Direction::Download, o.stored_size)),
                })
                .collect();
            App::remember(&session, activity, &mut warnings);
            let downloaded = items(results);
            op.failed(&downloaded, &tracked);
            Ok(GetResult {
                downloaded,
                dry_run: r.dry_run,
                warnings,
                notes,
            })
        })
        .await
    }

    /// `get --extract ARCHIVE [FOLDER]`: download a `.tar.gz` and unpack it.
    pub async fn extract(&self, r: GetRequest) -> AppResult<ExtractResult> {
        self.run("extract", |op| async move {
            let session = self.session().await?;
            let src = Location::parse(&r.src)?;
            let path = src.object()?;
            let name = path.key.file_name();
            let dest = r
                .dest
                .clone()
                .unwrap_or_else(|| PathBuf::from(name.strip_suffix(".tar.gz").unwrap_or(name)));
            let result = if r.dry_run {
                transfer::plan_get_with(&*session.store, &src, Some(&dest), false, true)
                    .await
                    .map(|_| Extracted {
                        bucket: path.bucket.clone(),
                        key: path.key.to_string(),
                        folder: dest.clone(),
                        size: None,
                    })
            } else {
                let tracked = tracked(
                    &session.profile.name,
                    [(dest.as_path(), path.bucket.as_str(), path.key.as_str(), 0)].into_iter(),
                );
                transfer::get_and_extract(
                    &*session.store,
                    &path,
                    &dest,
                    r.force,
                    op.progress(tracked),
                )
                .await
                .map(|o| Extracted {
                    bucket: o.bucket,
                    key: o.key,
                    folder: o.file,
                    size: Some(o.stored_size),
                })
            };
            Ok(ExtractResult {
                extracted: items(vec![result]),
                dry_run: r.dry_run,
            })
        })
        .await
    }

    /// One object downloaded and verified into a private temporary file, for a shell that
    /// streams it on (`get KEY -`): nothing unverified ever reaches the reader.
    pub async fn get_staged(&self, src: &str, raw: bool) -> AppResult<Staged> {
        self.run("get", |op| async move {
            let session = self.session().await?;
            let loc = Location::parse(src)?;
            let dir =
                session
                    .paths
                    .cache_dir
                    .join(format!("stdout-{}-{}", std::process::id(), op.id));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)
                .map_err(|e| AppError::usage(format!("cannot create {}: {e}", dir.display())))?;
            let file = dir.join("object");
            let mut staged = Staged {
                outcome: GetOutcome {
                    bucket: String::new(),
                    key: String::new(),
                    file: file.clone(),
                    size: 0,
                    stored_size: 0,
                    decompressed: false,
                    sha256: None,
                    verified: false,
                    checksum: None,
                    replaced: false,
                    dry_run: false,
                },
                file: file.clone(),
                warnings: Vec::new(),
                dir,
            };
            let planned =
                transfer::plan_get_with(&*session.store, &loc, Some(&file), false, raw).await?;
            let options = GetFilesOptions {
                force: true,
                raw,
                ..Default::default()
            };
            let mut notes = Vec::new();
            let mut results = self
                .get_read(
                    &session,
                    &planned,
                    &options,
                    None,
                    &mut staged.warnings,
                    &mut notes,
                )
                .await;
            staged.outcome = match results.pop() {
                Some(o) => o?,
                None => return Err(AppError::usage(format!("`{src}` names no object"))),
            };
            let activity = vec![Activity {
                action: "get",
                bucket: staged.outcome.bucket.clone(),
                key: staged.outcome.key.clone(),
                moved: Some((Direction::Download, staged.outcome.stored_size)),
            }];
            App::remember(&session, activity, &mut staged.warnings);
            Ok(staged)
        })
        .await
    }

    /// `ls [LOCATION]`: the buckets, or what a bucket or folder holds.
    pub async fn ls(&self, location: Option<&str>, recursive: bool) -> AppResult<LsResult> {
        let session = self.session().await?;
        let Some(raw) = location else {
            return Ok(LsResult::Buckets {
                buckets: transfer::list_buckets(&*session.store).await?,
            });
        };
        let loc = Location::parse(raw)?;
        let entries = transfer::list(&*session.store, &loc, recursive).await?;
        Ok(LsResult::Entries {
            bucket: loc.bucket,
            prefix: loc.path,
            recursive,
            entries,
        })
    }

    /// `rm PATH…`: delete objects (a folder's with `recursive`) and their catalog rows.
    pub async fn rm(
        &self,
        paths: &[String],
        recursive: bool,
        dry_run: bool,
    ) -> AppResult<RmResult> {
        self.run("rm", |_op| async move {
            let session = self.session().await?;
            let mut results = Vec::with_capacity(paths.len());
            let mut writes = Vec::new();
            for raw in paths {
                let removal = match Location::parse(raw) {
                    Ok(loc) => transfer::remove(&*session.store, &loc, recursive, dry_run).await,
                    Err(e) => Err(e),
                };
                // What was removed is recorded even when the removal stopped part of the way.
                results.push(removal.and_then(|r| {
                    let o = r.outcome;
                    if !o.dry_run {
                        writes.extend(o.keys.iter().map(|k| Write::Deleted {
                            bucket: o.bucket.clone(),
                            key: k.clone(),
                        }));
                    }
                    match r.error {
                        Some(e) => Err(e),
                        None => Ok(o),
                    }
                }));
            }
            let mut warnings = Vec::new();
            App::record(&session, writes, &mut warnings);
            Ok(RmResult {
                removed: items(results),
                dry_run,
                warnings,
            })
        })
        .await
    }

    /// `cp` / `mv SRC DST` on one profile (a server-side copy where the provider has one).
    pub async fn copy(
        &self,
        src: &str,
        dst: &str,
        overwrite: bool,
        move_: bool,
        dry_run: bool,
    ) -> AppResult<Copied> {
        self.run(if move_ { "mv" } else { "cp" }, |_op| async move {
            let session = self.session().await?;
            let from = Location::parse(src)?;
            let to = Location::parse(dst)?;
            let o = transfer::copy(&*session.store, &from, &to, overwrite, move_, dry_run).await?;
            let mut warnings = Vec::new();
            if !o.dry_run {
                let split = |p: &str| {
                    let (b, k) = p.split_once('/').unwrap_or((p, ""));
                    (b.to_string(), k.to_string())
                };
                let ((bucket, key), (to_bucket, to_key)) = (split(&o.from), split(&o.to));
                let writes = vec![Write::Copied {
                    bucket,
                    key,
                    to_bucket,
                    to_key,
                    moved: move_,
                }];
                App::record(&session, writes, &mut warnings);
            }
            Ok(Copied {
                outcome: o,
                warnings,
            })
        })
        .await
    }

    /// `url PATH`: a signed URL, from the selected profile when it holds the object, else
    /// from the secondary.
    pub async fn url(&self, r: &UrlRequest) -> AppResult<read::UrlRead> {
        let expires = crate::parse_duration(&r.expires)?;
        let session = self.session().await?;
        let loc = Location::parse(&r.path)?;
        let method = if r.put {
            UrlMethod::Put
        } else {
            UrlMethod::Get
        };
        let config = self.config()?;
        let primary = session.profile.name.clone();
        let secondary = secondary_for(&config, &primary);
        let mut stores = self.stores_for(&config, secondary.clone()).await;
        stores.insert(primary.clone(), session.store.clone());
        let reader = Reader {
            stores,
            primary: Some(primary),
            secondary,
            cache: None,
        };
        let catalog = Catalog::open_read_only(&session.paths).ok();
        let mut read = read::signed_url(catalog.as_ref(), &reader, &loc, method, expires).await?;
        if let Ok(path) = loc.object() {
            let activity = vec![Activity {
                action: "url",
                bucket: path.bucket,
                key: path.key.to_string(),
                moved: None,
            }];
            App::remember(&session, activity, &mut read.warnings);
        }
        Ok(read)
    }

    /// `buckets ls`.
    pub async fn buckets(&self) -> AppResult<BucketList> {
        let session = self.session().await?;
        Ok(BucketList {
            buckets: transfer::list_buckets(&*session.store).await?,
            provider: session.store.provider().to_string(),
        })
    }

    /// `buckets create NAME`.
    pub async fn create_bucket(
        &self,
        name: &str,
        public: bool,
        dry_run: bool,
    ) -> AppResult<BucketCreated> {
        let session = self.session().await?;
        transfer::create_bucket(&*session.store, name, public, dry_run).await?;
        Ok(BucketCreated {
            bucket: name.to_string(),
            public,
            created: !dry_run,
            dry_run,
            provider: session.store.provider().to_string(),
        })
    }

    /// `buckets rm NAME` (it must be empty).
    pub async fn delete_bucket(&self, name: &str, dry_run: bool) -> AppResult<BucketDeleted> {
        let session = self.session().await?;
        transfer::delete_bucket(&*session.store, name, dry_run).await?;
        Ok(BucketDeleted {
            bucket: name.to_string(),
            deleted: !dry_run,
            dry_run,
            provider: session.store.provider().to_string(),
        })
    }
}
