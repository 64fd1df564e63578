//! Transfers and object operations written once over [`Store`], for the CLI and the app: put
//! many files with bounded concurrency and progress, download to a file without ever leaving a
//! half-written one, list, remove, copy, move and share.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stowage_store::{
    BucketOptions, ErrorKind, Key, ListEntry, ListOptions, ObjectPath, PutOptions, PutSource,
    Store, TransferEvent, UrlMethod,
};
use time::OffsetDateTime;

use crate::error::{local_error, Error, Result};
use crate::location::Location;

/// Files transferred at once by [`put_files`] and [`get_files`].
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What happens to one item of a transfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ItemEvent {
    /// The transfer of `size` bytes starts.
    Started {
        /// Bytes in all.
        size: u64,
    },
    /// The source is being hashed before upload.
    Hashing {
        /// Bytes hashed so far.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// An interrupted upload resumes with this many bytes already stored.
    Resumed {
        /// Bytes already stored.
        bytes: u64,
    },
    /// This many more bytes moved.
    Moved {
        /// Bytes in this step.
        bytes: u64,
    },
    /// Finished and verified.
    Done,
    /// Failed (the error is returned with the item's result).
    Failed,
}

fn key_str<S: serde::Serializer>(key: &Key, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(key.as_str())
}

/// Called with the item's index in the plan and what happened to it.
pub type ProgressFn = Arc<dyn Fn(usize, ItemEvent) + Send + Sync>;

fn report(progress: &Option<ProgressFn>, index: usize, event: ItemEvent) {
    if let Some(p) = progress {
        p(index, event)
    }
}

/// Report `event` for item `index`, if anyone listens (for migrate and the read path).
pub(crate) fn report_event(progress: &Option<ProgressFn>, index: usize, event: ItemEvent) {
    report(progress, index, event)
}

/// One file to upload and where it goes.
#[derive(Clone, Debug, Serialize)]
pub struct PutItem {
    /// The local file.
    pub file: PathBuf,
    /// The bucket.
    pub bucket: String,
    /// The key.
    #[serde(serialize_with = "key_str")]
    pub key: Key,
    /// Its size when planned.
    pub size: u64,
    /// Gzip it on the way (the key gains `.gz`), unless [`PutFilesOptions::compress`] says.
    pub compress: bool,
}

/// How to upload.
#[derive(Clone, Debug)]
pub struct PutFilesOptions {
    /// Replace existing objects.
    pub overwrite: bool,
    /// Content type to record for every file.
    pub content_type: Option<String>,
    /// Check and report, change nothing.
    pub dry_run: bool,
    /// Create the bucket if it is missing (the local store only).
    pub create_bucket: bool,
    /// Files in flight at once.
    pub concurrency: usize,
    /// `--compress` (Some(true)) or `--no-compress` (Some(false)); None follows each item's
    /// `compress`. A key ending in `.gz` always holds gzip: plain content is compressed for
    /// it, or refused under `--no-compress`.
    pub compress: Option<bool>,
}

impl Default for PutFilesOptions {
    fn default() -> Self {
        PutFilesOptions {
            compress: None,
            overwrite: false,
            content_type: None,
            dry_run: false,
            create_bucket: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// A finished (or, in a dry run, planned) upload.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct PutOutcome {
    /// The local file.
    pub file: PathBuf,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// SHA-256 of the content, verified (None in a dry run).
    pub sha256: Option<String>,
    /// The provider's ETag.
    pub etag: Option<String>,
    /// Bytes an earlier interrupted attempt had already stored.
    pub resumed_from: u64,
    /// Whether an existing object is (or would be) replaced.
    pub replaced: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
    /// The file's size when it was gzipped on the way (`size` is then the stored size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compressed_from: Option<u64>,
    /// The file's SHA-256 when it was gzipped on the way (`sha256` is the stored bytes').
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_sha256: Option<String>,
}

/// Plan an upload of `inputs` (files or folders, walked recursively) to `dest`. Several inputs
/// or a folder make `dest` a folder; one file to a folder keeps its name.
pub fn plan_put(inputs: &[PathBuf], dest: &Location) -> Result<Vec<PutItem>> {
    let mut files: Vec<(PathBuf, String, std::fs::Metadata)> = Vec::new();
    let mut folder_mode = inputs.len() > 1;
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| io_local(input, "reading", e))?;
        let name = file_name(input)?;
        if meta.is_dir() {
            folder_mode = true;
            walk(input, &name, &mut files)?;
        } else if meta.is_file() {
            files.push((input.clone(), name, meta));
        } else {
            return Err(local_error(
                ErrorKind::Other,
                input,
                "is not a regular file or a folder",
                "pass files or folders",
            ));
        }
    }
    let dest = if folder_mode {
        dest.as_folder()
    } else {
        dest.clone()
    };
    let mut seen = std::collections::HashSet::new();
    let mut items = Vec::with_capacity(files.len());
    for (file, rel, meta) in files {
        let size = meta.len();
        let path = dest.object_for(&rel).map_err(|e| e.with_file(&file))?;
        if !seen.insert(path.key.clone()) {
            return Err(Error::Usage(format!(
                "two files would be stored as `{path}` (the second is {}); upload them to \
                 different folders",
                file.display()
            )));
        }
        items.push(PutItem {
            file,
            bucket: path.bucket,
            key: path.key,
            size,
            compress: false,
        });
    }
    Ok(items)
}

fn file_name(path: &Path) -> Result<String> {
    // `.` or `..` have no name of their own: use the folder they resolve to.
    let resolved;
    let named = if path.file_name().is_none() {
        resolved = std::fs::canonicalize(path).map_err(|e| io_local(path, "resolving", e))?;
        resolved.as_path()
    } else {
        path
    };
    let name = named.file_name().map(|n| n.to_str());
    match name {
        Some(Some(n)) => Ok(n.to_string()),
        Some(None) => Err(local_error(
            ErrorKind::InvalidKey,
            path,
            "the file name is not valid UTF-8 and cannot become an object key",
            "rename the file",
        )),
        None => Err(local_error(
            ErrorKind::Other,
            path,
            "has no file name",
            "pass a file or folder by name",
        )),
    }
}

/// Collect the regular files below `dir` as (path, path relative to `rel`, metadata), in name
/// order. Symbolic links to folders are not followed, so a link loop cannot make this run
/// forever. Used by `put` of a folder and by `sync`.
pub(crate) fn walk(
    dir: &Path,
    rel: &str,
    out: &mut Vec<(PathBuf, String, std::fs::Metadata)>,
) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_local(dir, "listing", e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| io_local(dir, "listing", e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = file_name(&path)?;
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry
            .file_type()
            .map_err(|e| io_local(&path, "reading", e))?;
        if ft.is_dir() {
            walk(&path, &child, out)?;
        } else if ft.is_file() || (ft.is_symlink() && path.is_file()) {
            let meta = std::fs::metadata(&path).map_err(|e| io_local(&path, "reading", e))?;
            out.push((path, child, meta));
        }
    }
    Ok(())
}

pub(crate) fn io_local(path: &Path, what: &str, e: std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        _ => ErrorKind::Other,
    };
    let hint = match e.kind() {
        std::io::ErrorKind::NotFound => "check the path",
        std::io::ErrorKind::PermissionDenied => "check the file's permissions",
        _ => "check the file and try again",
    };
    local_error(kind, path, format!("{what}: {e}"), hint)
}

/// Upload planned items, `options.concurrency` at a time. Returns one result per item, in plan
/// order; a failed item does not stop the others.
pub async fn put_files(
    store: &dyn Store,
    items: &[PutItem],
    options: &PutFilesOptions,
    progress: Option<ProgressFn>,
) -> Vec<Result<PutOutcome>> {
    if options.create_bucket && !options.dry_run {
        let mut buckets: Vec<&str> = items.iter().map(|i| i.bucket.as_str()).collect();
        buckets.dedup();
        for b in buckets {
            match store.create_bucket(b, &BucketOptions::default()).await {
                Err(e) if e.kind != ErrorKind::AlreadyExists => {
                    return items.iter().map(|_| Err(clone_error(&e))).collect();
                }
                _ => {}
            }
        }
    }
    run_batch(
        items,
        options.concurrency,
        progress,
        |index, item, progress| async move {
            put_one(store, item, options, index, progress)
                .await
                .map_err(|e| e.with_file(&item.file))
        },
    )
    .await
}

/// Run `one` over `items`, `concurrency` at a time, reporting each item's end; results come
/// back in item order and a failed item does not stop the others.
async fn run_batch<'a, I, T, F, Fut>(
    items: &'a [I],
    concurrency: usize,
    progress: Option<ProgressFn>,
    one: F,
) -> Vec<Result<T>>
where
    F: Fn(usize, &'a I, Option<ProgressFn>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    // Unordered: a slow item does not hold back the start of the next ones.
    let mut done: Vec<(usize, Result<T>)> = stream::iter(items.iter().enumerate())
        .map(|(index, item)| {
            let progress = progress.clone();
            let fut = one(index, item, progress.clone());
            async move {
                let r = fut.await;
                let end = if r.is_ok() {
                    ItemEvent::Done
                } else {
                    ItemEvent::Failed
                };
                report(&progress, index, end);
                (index, r)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, r)| r).collect()
}

fn clone_error(e: &stowage_store::Error) -> Error {
    let mut c = stowage_store::Error::new(e.kind, e.provider.clone(), e.message.clone());
    c.bucket = e.bucket.clone();
    c.key = e.key.clone();
    c.hint = e.hint.clone();
    c.into()
}

async fn exists(store: &dyn Store, path: &ObjectPath) -> Result<bool> {
    match store.head(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn put_one(
    store: &dyn Store,
    item: &PutItem,
    options: &PutFilesOptions,
    index: usize,
    progress: Option<ProgressFn>,
) -> Result<PutOutcome> {
    let mut path = ObjectPath {
        bucket: item.bucket.clone(),
        key: item.key.clone(),
    };
    store.check_key(&path.key)?;
    let size = std::fs::metadata(&item.file)
        .map_err(|e| io_local(&item.file, "reading", e))?
        .len();
    let gzip = gzip_for(item, &mut path, options)?;
    if gzip {
        store.check_key(&path.key)?;
    }
    // The store itself refuses to replace an object without `overwrite`; ask first only when
    // there is something to report (a dry run's plan, or what an overwrite replaces).
    let existed = if options.dry_run || options.overwrite {
        exists(store, &path).await?
    } else {
        false
    };
    if existed && !options.overwrite {
        return Err(stowage_store::Error::new(
            ErrorKind::AlreadyExists,
            store.provider(),
            "the object exists",
        )
        .at(&path.bucket, Some(path.key.as_str()))
        .hint("pass --overwrite to replace it")
        .into());
    }
    let mut outcome = PutOutcome {
        file: item.file.clone(),
        bucket: path.bucket.clone(),
        key: path.key.to_string(),
        size,
        sha256: None,
        etag: None,
        resumed_from: 0,
        replaced: existed,
        dry_run: options.dry_run,
        compressed_from: None,
        original_sha256: None,
    };
    if options.dry_run {
        outcome.compressed_from = gzip.then_some(size);
        return Ok(outcome);
    }
    report(&progress, index, ItemEvent::Started { size });
    if gzip {
        let c = crate::compress::put_gzipped(store, &path, &item.file, options.overwrite).await?;
        report(&progress, index, ItemEvent::Moved { bytes: size });
        outcome.size = c.stored_size;
        outcome.sha256 = Some(c.sha256);
        outcome.etag = c.etag;
        outcome.compressed_from = Some(c.original_size);
        outcome.original_sha256 = Some(c.original_sha256);
        return Ok(outcome);
    }
    let put_options = PutOptions {
        overwrite: options.overwrite,
        content_type: options
            .content_type
            .clone()
            .or_else(|| guess_content_type(path.key.as_str()).map(str::to_string)),
        progress: progress.map(|p| {
            Arc::new(move |e: TransferEvent| {
                p(
                    index,
                    match e {
                        TransferEvent::Hashing { done, total } => {
                            ItemEvent::Hashing { done, total }
                        }
                        TransferEvent::Resumed(bytes) => ItemEvent::Resumed { bytes },
                        TransferEvent::Sent(bytes) => ItemEvent::Moved { bytes },
                    },
                )
            }) as stowage_store::Progress
        }),
    };
    let r = store
        .put(&path, PutSource::File(item.file.clone()), &put_options)
        .await?;
    outcome.size = r.size;
    outcome.sha256 = Some(r.sha256);
    outcome.etag = r.etag;
    outcome.resumed_from = r.resumed_from;
    Ok(outcome)
}

/// Whether `item` goes up gzipped; then `path`'s key ends in `.gz`. A key that already ends
/// in `.gz` (or `.tgz`) promises gzip: plain content is compressed for it, or refused with
/// `--no-compress`, so that nothing plain is ever stored under a gzip name.
fn gzip_for(item: &PutItem, path: &mut ObjectPath, options: &PutFilesOptions) -> Result<bool> {
    let key = path.key.as_str();
    let gz_key = key.ends_with(crate::compress::SUFFIX) || key.ends_with(".tgz");
    let want = options.compress.unwrap_or(item.compress);
    if !gz_key && !want {
        return Ok(false);
    }
    let head =
        crate::compress::sniff(&item.file).map_err(|e| io_local(&item.file, "reading", e))?;
    if crate::compress::is_gzip(&head) {
        return Ok(false); // gzip already: stored as it is, under the name given
    }
    if gz_key {
        if options.compress == Some(false) {
            return Err(local_error(
                ErrorKind::InvalidKey,
                &item.file,
                format!(
                    "is not gzip, and the key `{}/{key}` ends in .gz, which promises gzip",
                    path.bucket
                ),
                "leave out --no-compress to gzip it on the way, or drop .gz from the key",
            ));
        }
        return Ok(true);
    }
    path.key = Key::parse(&crate::compress::stored_key(key))?;
    Ok(true)
}

/// A content type from the key's extension, for uploads that name none.
pub fn guess_content_type(key: &str) -> Option<&'static str> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "log" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "xml" => "application/xml",
        "py" => "text/x-python; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "parquet" => "application/vnd.apache.parquet",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

/// Pack each folder of `folders` into `<name>.tar.gz` in a fresh temporary directory, so a
/// folder can be uploaded as one artifact with [`plan_put`] and [`put_files`]. The archives
/// live as long as the returned directory.
pub async fn archive_folders(folders: &[PathBuf]) -> Result<(tempfile::TempDir, Vec<PathBuf>)> {
    let temp = tempfile::tempdir()
        .map_err(|e| io_local(&std::env::temp_dir(), "creating a temporary folder", e))?;
    let mut archives = Vec::with_capacity(folders.len());
    for dir in folders {
        if !dir.is_dir() {
            return Err(local_error(
                ErrorKind::Other,
                dir,
                "is not a folder",
                "--archive packs folders; upload files without it",
            ));
        }
        let out = temp.path().join(format!("{}.tar.gz", file_name(dir)?));
        crate::compress::tar_gz_folder(dir, &out).await?;
        archives.push(out);
    }
    Ok((temp, archives))
}

/// Download the `.tar.gz` object `src` (verified, into a temporary file) and unpack it into
/// `dest_dir`, which must be empty or missing unless `force`: unpacking never replaces a
/// local file by surprise.
pub async fn get_and_extract(
    store: &dyn Store,
    src: &ObjectPath,
    dest_dir: &Path,
    force: bool,
    progress: Option<ProgressFn>,
) -> Result<GetOutcome> {
    let occupied = std::fs::read_dir(dest_dir).is_ok_and(|mut d| d.next().is_some());
    if occupied && !force {
        return Err(local_error(
            ErrorKind::AlreadyExists,
            dest_dir,
            "the folder is not empty",
            "extract into an empty or new folder, or pass --force to unpack over it",
        ));
    }
    let parent = dest_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io_local(parent, "creating the folder", e))?;
    let temp = tempfile::tempdir_in(parent)
        .map_err(|e| io_local(parent, "creating a temporary folder", e))?;
    let item = GetItem {
        bucket: src.bucket.clone(),
        key: src.key.clone(),
        file: temp.path().join("archive.tar.gz"),
    };
    let options = GetFilesOptions {
        raw: true,
        ..Default::default()
    };
    let mut outcome = get_files(store, std::slice::from_ref(&item), &options, progress)
        .await
        .pop()
        .expect("one item")?;
    crate::compress::untar_gz(&item.file, dest_dir).await?;
    outcome.file = dest_dir.to_path_buf();
    outcome.decompressed = true;
    Ok(outcome)
}

/// One object to download and the local file it becomes.
#[derive(Clone, Debug, Serialize)]
pub struct GetItem {
    /// The object.
    pub bucket: String,
    /// Its key.
    #[serde(serialize_with = "key_str")]
    pub key: Key,
    /// The local file to write.
    pub file: PathBuf,
}

/// A finished (or planned) download.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct GetOutcome {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The local file written.
    pub file: PathBuf,
    /// Bytes written (the object's size in a dry run); decompressed bytes for a `.gz` object.
    pub size: u64,
    /// Bytes stored: `size` unless the object was decompressed on the way.
    pub stored_size: u64,
    /// Whether a gzipped object was decompressed (see [`GetFilesOptions::raw`]).
    pub decompressed: bool,
    /// SHA-256 of the stored bytes, checked against the store's (None in a dry run).
    pub sha256: Option<String>,
    /// Whether a checksum of the stored object was known and matched.
    pub verified: bool,
    /// Which: `SHA-256` (Stowage's own, or the catalog's), or `MD5` (the provider's ETag of
    /// an object another tool wrote in one part); None when nothing could be checked.
    pub checksum: Option<&'static str>,
    /// Whether an existing local file is (or would be) replaced.
    pub replaced: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// How to download.
#[derive(Clone, Debug)]
pub struct GetFilesOptions {
    /// Replace existing local files.
    pub force: bool,
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// Files in flight at once.
    pub concurrency: usize,
    /// Keep gzipped objects as stored. Without it a key ending in `.gz` (not `.tar.gz`) is
    /// decompressed, and a missing KEY falls back to KEY.gz, decompressed.
    pub raw: bool,
}

impl Default for GetFilesOptions {
    fn default() -> Self {
        GetFilesOptions {
            force: false,
            dry_run: false,
            concurrency: DEFAULT_CONCURRENCY,
            raw: false,
        }
    }
}

/// Plan a download of `src` to `dest`: one object to a file (a folder, or a path ending in
/// `/`, keeps the key's file name; no `dest` means the current folder), or with `recursive`
/// every object under the folder `src` into the folder `dest`, laid out by key. Names taken
/// from `.gz` keys drop the `.gz`, as their content is decompressed (see [`plan_get_with`]).
pub async fn plan_get(
    store: &dyn Store,
    src: &Location,
    dest: Option<&Path>,
    recursive: bool,
) -> Result<Vec<GetItem>> {
    plan_get_with(store, src, dest, recursive, false).await
}

/// [`plan_get`]; with `raw`, names taken from `.gz` keys keep the `.gz`.
pub async fn plan_get_with(
    store: &dyn Store,
    src: &Location,
    dest: Option<&Path>,
    recursive: bool,
    raw: bool,
) -> Result<Vec<GetItem>> {
    // A decompressed object's local name is its name before compression.
    let local_name = |name: &str| -> String {
        if !raw && crate::compress::is_transparent(name) {
            crate::compress::original_key(name).to_string()
        } else {
            name.to_string()
        }
    };
    let dest_dir = |d: Option<&Path>| d.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if !recursive {
        let path = src.object().map_err(|e| match e {
            Error::Usage(m) => Error::Usage(format!("{m}, or pass --recursive to get a folder")),
            e => e,
        })?;
        let file = match dest {
            Some(d) if !d.is_dir() && !d.as_os_str().to_string_lossy().ends_with('/') => {
                d.to_path_buf()
            }
            _ => dest_dir(dest).join(local_name(path.key.file_name())),
        };
        return Ok(vec![GetItem {
            bucket: path.bucket,
            key: path.key,
            file,
        }]);
    }
    let folder = src.as_folder();
    let base = dest_dir(dest);
    let entries = list(store, &folder, true).await?;
    let items: Vec<GetItem> = entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::Object)
        .map(|e| {
            let key = Key::parse(&e.name)?;
            // Keys never hold `..` or empty segments, so this stays inside `base`.
            let file = base.join(local_name(folder.relative(&key)));
            Ok(GetItem {
                bucket: folder.bucket.clone(),
                key,
                file,
            })
        })
        .collect::<Result<_>>()?;
    if items.is_empty() {
        return Err(stowage_store::Error::new(
            ErrorKind::NotFound,
            store.provider(),
            "no objects in this folder",
        )
        .at(&folder.bucket, Some(&folder.path))
        .hint("check the folder with `stowage ls`")
        .into());
    }
    Ok(items)
}

/// Download planned items, `options.concurrency` at a time; one result per item, in order.
pub async fn get_files(
    store: &dyn Store,
    items: &[GetItem],
    options: &GetFilesOptions,
    progress: Option<ProgressFn>,
) -> Vec<Result<GetOutcome>> {
    let landing = Landing::default();
    let mut results = run_batch(
        items,
        options.concurrency,
        progress,
        |index, item, progress| {
            let landing = &landing;
            async move {
                get_one(store, item, options, index, &progress, Some(landing))
                    .await
                    .map_err(|e| e.with_file(&item.file))
            }
        },
    )
    .await;
    for (index, e) in landing.commit().await {
        results[index] = Err(e);
    }
    results
}

/// Download one planned item into `landing` (see [`get_files`]): it is in place once the
/// landing commits. For callers that run their own batch, such as the read path.
pub async fn get_one_into(
    store: &dyn Store,
    item: &GetItem,
    options: &GetFilesOptions,
    index: usize,
    progress: &Option<ProgressFn>,
    landing: &Landing,
) -> Result<GetOutcome> {
    get_one(store, item, options, index, progress, Some(landing))
        .await
        .map_err(|e| e.with_file(&item.file))
}

/// Downloads that are written and verified but not yet durable under their names. Writing
/// each file, syncing it and renaming it one by one costs a journal commit per file; a batch
/// instead lands every file in [`Landing::commit`]: one flush of all the temporary files
/// (one `syncfs` for a large batch, else an `fsync` each), then the renames, then one `fsync`
/// of each folder that received a file. A target never holds a torn file, and nothing is
/// reported done before it is durable.
#[derive(Default)]
pub struct Landing {
    pending: std::sync::Mutex<Vec<Pending>>,
}

struct Pending {
    index: usize,
    temp: tempfile::TempPath,
    target: PathBuf,
    force: bool,
}

/// Objects up to this size are received whole before they are written (see
/// [`write_download`]).
const SMALL_OBJECT: u64 = 1 << 20;

/// From this many files on, one `syncfs` of their file system is cheaper than an `fsync` each.
const SYNCFS_FROM: usize = 16;

impl Landing {
    /// Hold `temp` (written, verified, not yet synced) to become `target` for item `index`.
    pub(crate) fn push(&self, index: usize, temp: tempfile::TempPath, target: &Path, force: bool) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending {
                index,
                temp,
                target: target.to_path_buf(),
                force,
            });
    }

    /// Flush every held file, move each into place (never replacing a file without `force`)
    /// and sync the folders. Returns the items that failed, by index.
    pub async fn commit(self) -> Vec<(usize, Error)> {
        let pending = self.pending.into_inner().unwrap_or_else(|e| e.into_inner());
        if pending.is_empty() {
            return Vec::new();
        }
        tokio::task::spawn_blocking(move || land(pending))
            .await
            .unwrap_or_else(|e| panic!("landing downloads: {e}"))
    }
}

/// Whether one call can flush a whole file system (Linux's syncfs); elsewhere each file is
/// flushed on its own.
const HAS_SYNCFS: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
fn syncfs(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open.
    match unsafe { libc::syncfs(f.as_raw_fd()) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Never called ([`HAS_SYNCFS`] is false here).
#[cfg(not(target_os = "linux"))]
fn syncfs(_f: &std::fs::File) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

fn land(pending: Vec<Pending>) -> Vec<(usize, Error)> {
    let mut failed: Vec<(usize, Error)> = Vec::new();
    // 1. Flush the content: one syncfs per file system for a large batch, else fsync each.
    let mut by_dev: std::collections::BTreeMap<u64, Vec<&Pending>> = Default::default();
    for p in &pending {
        let dev = std::fs::metadata(&p.temp)
            .ok()
            .and_then(|m| stowage_store::fsmeta::dev_ino(&m))
            .map_or(0, |(dev, _)| dev);
        by_dev.entry(dev).or_default().push(p);
    }
    let mut unsynced: std::collections::HashSet<usize> = Default::default();
    for group in by_dev.values() {
        let sync = |p: &Pending| std::fs::File::open(&p.temp).and_then(|f| f.sync_all());
        if HAS_SYNCFS && group.len() >= SYNCFS_FROM {
            let r = std::fs::File::open(&group[0].temp).and_then(|f| syncfs(&f));
            if let Err(e) = r {
                for p in group {
                    failed.push((p.index, io_local(&p.target, "writing", clone_io(&e))));
                    unsynced.insert(p.index);
                }
            }
        } else {
            for p in group {
                if let Err(e) = sync(p) {
                    failed.push((p.index, io_local(&p.target, "writing", e)));
                    unsynced.insert(p.index);
                }
            }
        }
    }
    // 2. Move each into place; 3. make the renames durable, once per folder.
    let mut dirs: std::collections::BTreeMap<PathBuf, Vec<usize>> = Default::default();
    for p in pending {
        if unsynced.contains(&p.index) {
            continue; // the temporary file goes with `p.temp`
        }
        let (index, target) = (p.index, p.target.clone());
        match persist(p.temp, &target, p.force) {
            Ok(()) => dirs.entry(parent_dir(&target)).or_default().push(index),
            Err(e) => failed.push((index, e)),
        }
    }
    for (dir, indices) in dirs {
        if let Err(e) = std::fs::File::open(&dir).and_then(|d| d.sync_all()) {
            for index in indices {
                failed.push((index, io_local(&dir, "syncing the folder", clone_io(&e))));
            }
        }
    }
    failed
}

fn clone_io(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Move a synced temporary file to `target`; without `force`, never replace a file that
/// appeared meanwhile.
fn persist(temp: tempfile::TempPath, target: &Path, force: bool) -> Result<()> {
    if force {
        temp.persist(target)
            .map_err(|e| io_local(target, "moving into place", e.error))
    } else {
        // Linking fails if the file appeared meanwhile: never replace one by accident.
        temp.persist_noclobber(target).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                local_error(
                    ErrorKind::AlreadyExists,
                    target,
                    "the local file appeared during the download",
                    "pass --force to replace it",
                )
            } else {
                io_local(target, "moving into place", e.error)
            }
        })
    }
}

/// Stream into a temporary file beside the target, verify, then move it into place: the
/// target is never half-written, and never replaced without `force`.
async fn get_one(
    store: &dyn Store,
    item: &GetItem,
    options: &GetFilesOptions,
    index: usize,
    progress: &Option<ProgressFn>,
    landing: Option<&Landing>,
) -> Result<GetOutcome> {
    let path = ObjectPath {
        bucket: item.bucket.clone(),
        key: item.key.clone(),
    };
    let target = &item.file;
    let existed = check_destination(target, options.force)?;
    // The object may be stored gzipped under KEY.gz (see `GetFilesOptions::raw`).
    let gz_fallback = |path: &ObjectPath| -> Option<ObjectPath> {
        if options.raw || crate::compress::is_transparent(path.key.as_str()) {
            return None;
        }
        let key = Key::parse(&crate::compress::stored_key(path.key.as_str())).ok()?;
        Some(ObjectPath {
            bucket: path.bucket.clone(),
            key,
        })
    };
    if options.dry_run {
        let (path, meta) = match store.head(&path).await {
            Err(e) if e.kind == ErrorKind::NotFound => match gz_fallback(&path) {
                Some(gz) => match store.head(&gz).await {
                    Ok(meta) => (gz, meta),
                    Err(_) => return Err(e.into()),
                },
                None => return Err(e.into()),
            },
            r => (path, r?),
        };
        let decompressed = !options.raw && crate::compress::is_transparent(path.key.as_str());
        return Ok(GetOutcome {
            bucket: path.bucket,
            key: path.key.to_string(),
            file: target.clone(),
            size: meta.size,
            stored_size: meta.size,
            decompressed,
            sha256: None,
            verified: false,
            checksum: None,
            replaced: existed,
            dry_run: true,
        });
    }
    let (path, got) = match store.get(&path, None).await {
        Err(e) if e.kind == ErrorKind::NotFound => match gz_fallback(&path) {
            Some(gz) => match store.get(&gz, None).await {
                Ok(got) => (gz, got),
                Err(_) => return Err(e.into()),
            },
            None => return Err(e.into()),
        },
        r => (path, r?),
    };
    let decompress = !options.raw && crate::compress::is_transparent(path.key.as_str());
    let written = write_download(
        store.provider(),
        &path,
        got,
        target,
        options.force,
        decompress.then(crate::compress::GunzipLimits::default),
        None,
        progress,
        index,
        landing,
    )
    .await?;
    Ok(GetOutcome {
        bucket: path.bucket,
        key: path.key.to_string(),
        file: target.clone(),
        size: written.size,
        stored_size: written.stored_size,
        decompressed: decompress,
        sha256: Some(written.stored_sha256),
        verified: written.checksum.is_some(),
        checksum: written.checksum,
        replaced: existed,
        dry_run: false,
    })
}

/// What [`write_download`] wrote.
pub(crate) struct Written {
    /// Bytes received from the store.
    pub stored_size: u64,
    /// SHA-256 of the bytes received.
    pub stored_sha256: String,
    /// The checksum that matched (see [`GetOutcome::checksum`]).
    pub checksum: Option<&'static str>,
    /// Bytes written to the file (after decompression).
    pub size: u64,
    /// Where the content is now: the target, or with a [`Landing`] its temporary file
    /// until the landing commits.
    pub at: PathBuf,
}

/// Stream a download into `target` through a synced temporary file beside it, gunzipping it
/// (within `gunzip` limits) when asked, check the received bytes against the object's size
/// and recorded SHA-256 and the written content against `expect` (size, SHA-256), then move
/// it into place, never replacing a file without `force`. With a `landing`, the synced move
/// into place is left to [`Landing::commit`]. Used by `get` and `restore`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_download(
    provider: &str,
    path: &ObjectPath,
    mut got: stowage_store::GetResult,
    target: &Path,
    force: bool,
    gunzip: Option<crate::compress::GunzipLimits>,
    expect: Option<(u64, &str)>,
    progress: &Option<ProgressFn>,
    index: usize,
    landing: Option<&Landing>,
) -> Result<Written> {
    let decompress = gunzip.is_some();
    let defer = landing.is_some();
    report(
        progress,
        index,
        ItemEvent::Started {
            size: got.meta.size,
        },
    );
    // An object without Stowage's SHA-256 (written by another tool) is checked against the
    // provider's MD5 ETag when it has one.
    let md5_expected = md5_etag(provider, &got.meta);
    let md5 = std::sync::Arc::new(std::sync::Mutex::new(<md5::Md5 as md5::Digest>::new()));
    if md5_expected.is_some() {
        let state = md5.clone();
        let body = std::mem::replace(&mut got.body, stream::empty().boxed());
        got.body = body
            .map_ok(move |chunk| {
                md5::Digest::update(
                    &mut *state.lock().unwrap_or_else(|e| e.into_inner()),
                    &chunk,
                );
                chunk
            })
            .boxed();
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Mostly an existing folder: one quick syscall here beats a hop to a blocking thread.
    std::fs::create_dir_all(&dir).map_err(|e| io_local(&dir, "creating the folder", e))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".stowage-").suffix(".part");
    // Created like any new file (umask applies), not with tempfile's private 0600.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temp = builder
        .tempfile_in(&dir)
        .map_err(|e| io_local(&dir, "creating a temporary file", e))?;
    let (file, temp_path) = temp.into_parts();
    // Hashing and writing run on one blocking thread, fed chunks through a bounded channel:
    // the network keeps flowing while the disk and SHA-256 work, and memory stays flat.
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(64);
    // A small object is handed over whole, once received: one wake-up of the writer per
    // file instead of one per chunk.
    let small = !decompress && got.meta.size <= SMALL_OBJECT;
    let buffer = (got.meta.size as usize).clamp(8 << 10, 1 << 20);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, Sha256)> {
        use std::io::Write;
        let mut out = std::io::BufWriter::with_capacity(buffer, file);
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        for chunk in rx {
            hasher.update(&chunk);
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        // Durable before it takes the target's name: a crash never leaves a torn file there
        // (a landing syncs its whole batch at once).
        if !defer {
            file.sync_all()?;
        }
        Ok((written, hasher))
    });
    // A gzipped object is hashed as stored (that is what the store's SHA-256 covers) and
    // counted for progress on the way into the decoder; the writer sees decompressed bytes.
    let stored = std::sync::Arc::new(std::sync::Mutex::new((Sha256::new(), 0u64)));
    let mut body = match gunzip {
        Some(limits) => {
            let (tally, progress) = (stored.clone(), progress.clone());
            let body = std::mem::replace(&mut got.body, stream::empty().boxed());
            let counted = body
                .map_ok(move |chunk| {
                    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                    t.0.update(&chunk);
                    t.1 += chunk.len() as u64;
                    report(
                        &progress,
                        index,
                        ItemEvent::Moved {
                            bytes: chunk.len() as u64,
                        },
                    );
                    chunk
                })
                .boxed();
            crate::compress::gunzip_stream_limited(counted, &path.to_string(), limits)
        }
        None => std::mem::replace(&mut got.body, stream::empty().boxed()),
    };
    let mut held: Vec<bytes::Bytes> = Vec::new();
    let mut held_bytes = 0u64;
    while let Some(chunk) = body.try_next().await? {
        let n = chunk.len() as u64;
        if small && held_bytes + n <= SMALL_OBJECT {
            held_bytes += n;
            held.push(chunk);
        } else {
            for c in held.drain(..).chain(std::iter::once(chunk)) {
                if tx.send(c).is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
        }
        if !decompress {
            report(progress, index, ItemEvent::Moved { bytes: n });
        }
    }
    for c in held {
        if tx.send(c).is_err() {
            break;
        }
    }
    drop(tx);
    let (written, hasher) = writer
        .await
        .map_err(|e| io_local(target, "writing", std::io::Error::other(e)))?
        .map_err(|e| io_local(target, "writing", e))?;
    let content_sha256 = hex::encode(hasher.finalize());
    let (received, sha256) = if decompress {
        let t = stored.lock().unwrap_or_else(|e| e.into_inner());
        (t.1, hex::encode(t.0.clone().finalize()))
    } else {
        (written, content_sha256.clone())
    };
    let integrity = |message: String| -> Error {
        stowage_store::Error::new(ErrorKind::Integrity, provider, message)
            .at(&path.bucket, Some(path.key.as_str()))
            .hint("nothing was written; run the command again")
            .into()
    };
    if received != got.meta.size {
        return Err(integrity(format!(
            "received {received} bytes, expected {}",
            got.meta.size
        )));
    }
    let verified = match &got.meta.sha256 {
        Some(expected) if *expected != sha256 => {
            return Err(integrity(format!(
                "the download's SHA-256 is {sha256}, the stored object's is {expected}"
            )))
        }
        Some(_) => true,
        None => false,
    };
    let mut checksum = (verified || expect.is_some()).then_some("SHA-256");
    if let Some(expected) = md5_expected {
        let state = std::mem::take(&mut *md5.lock().unwrap_or_else(|e| e.into_inner()));
        let got_md5 = hex::encode(md5::Digest::finalize(state));
        if got_md5 != expected {
            return Err(integrity(format!(
                "the download's MD5 is {got_md5}, the provider's ETag says {expected}"
            )));
        }
        checksum = checksum.or(Some("MD5"));
    }
    if let Some((size, expected)) = expect {
        if written != size || content_sha256 != expected {
            return Err(integrity(format!(
                "the content ({written} bytes, SHA-256 {content_sha256}) is not the recorded \
                 one ({size} bytes, SHA-256 {expected}); the object may have been replaced \
                 outside Stowage"
            )));
        }
    }
    let at = match landing {
        Some(landing) => {
            let at = temp_path.to_path_buf();
            landing.push(index, temp_path, target, force);
            at
        }
        None => {
            persist(temp_path, target, force)?;
            target.to_path_buf()
        }
    };
    Ok(Written {
        stored_size: received,
        stored_sha256: sha256,
        checksum,
        size: written,
        at,
    })
}

/// The MD5 an S3 ETag states, for an object that carries no SHA-256: a single-part upload's
/// ETag is the MD5 of its bytes (32 hex digits); a multipart one (`…-N`) is not.
fn md5_etag(provider: &str, meta: &stowage_store::ObjectMeta) -> Option<String> {
    if meta.sha256.is_some() || !provider.starts_with("s3") {
        return None;
    }
    let etag = meta.etag.as_deref()?.trim_matches('"').to_ascii_lowercase();
    (etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())).then_some(etag)
}

/// Whether a listing entry is an object or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// An object.
    Object,
    /// A common prefix.
    Folder,
}

/// One listed object or folder.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Entry {
    /// Object or folder.
    pub kind: EntryKind,
    /// The key, or the prefix ending in `/`.
    pub name: String,
    /// Size in bytes (objects).
    pub size: Option<u64>,
    /// Last written (objects, when known).
    #[ts(type = "string | null")]
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_modified: Option<OffsetDateTime>,
    /// The provider's ETag.
    pub etag: Option<String>,
}

/// List a bucket or folder: one level (folders grouped) or, with `recursive`, every object.
pub async fn list(store: &dyn Store, loc: &Location, recursive: bool) -> Result<Vec<Entry>> {
    let options = ListOptions {
        prefix: loc.path.clone(),
        delimiter: !recursive,
        page_size: None,
    };
    Ok(store
        .list(&loc.bucket, options)
        .map_ok(|e| match e {
            ListEntry::Object(m) => Entry {
                kind: EntryKind::Object,
                name: m.key.to_string(),
                size: Some(m.size),
                last_modified: m.last_modified,
                etag: m.etag,
            },
            ListEntry::Prefix(p) => Entry {
                kind: EntryKind::Folder,
                name: p,
                size: None,
                last_modified: None,
                etag: None,
            },
        })
        .try_collect()
        .await?)
}

/// What a remove did (or would do).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct RemoveOutcome {
    /// The bucket.
    pub bucket: String,
    /// The keys removed.
    pub keys: Vec<String>,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// Remove one object (a missing one is NotFound, so a typo is reported) or, with
/// `recursive`, the object and everything in the folder of that name.
pub async fn remove(
    store: &dyn Store,
    loc: &Location,
    recursive: bool,
    dry_run: bool,
) -> Result<RemoveOutcome> {
    let mut keys: Vec<Key> = Vec::new();
    if !recursive {
        let path = loc.object().map_err(|_| {
            Error::Usage(format!(
                "`{loc}` is a folder; pass --recursive to remove everything in it"
            ))
        })?;
        if let Err(e) = store.head(&path).await {
            if e.kind == ErrorKind::NotFound && has_objects(store, &loc.as_folder()).await {
                return Err(e
                    .hint(format!(
                        "`{loc}` is a folder; pass --recursive to remove everything in it"
                    ))
                    .into());
            }
            return Err(e.into());
        }
        keys.push(path.key);
    } else {
        if !loc.is_folder() {
            let path = loc.object()?;
            if exists(store, &path).await? {
                keys.push(path.key);
            }
        }
        let folder = loc.as_folder();
        for e in list(store, &folder, true).await? {
            if e.kind == EntryKind::Object {
                keys.push(Key::parse(&e.name)?);
            }
        }
        if keys.is_empty() {
            return Err(stowage_store::Error::new(
                ErrorKind::NotFound,
                store.provider(),
                "nothing to remove",
            )
            .at(&loc.bucket, Some(&loc.path))
            .hint("check the path with `stowage ls`")
            .into());
        }
    }
    if !dry_run {
        if keys.len() == 1 && !recursive {
            store
                .delete(&ObjectPath {
                    bucket: loc.bucket.clone(),
                    key: keys[0].clone(),
                })
                .await?;
        } else {
            for chunk in keys.chunks(1000) {
                let failures = store.delete_many(&loc.bucket, chunk).await?;
                if let Some((_, e)) = failures.into_iter().next() {
                    return Err(e.into());
                }
            }
        }
    }
    Ok(RemoveOutcome {
        bucket: loc.bucket.clone(),
        keys: keys.into_iter().map(|k| k.to_string()).collect(),
        dry_run,
    })
}

async fn has_objects(store: &dyn Store, folder: &Location) -> bool {
    let options = ListOptions {
        prefix: folder.path.clone(),
        delimiter: true,
        page_size: Some(1),
    };
    matches!(
        store.list(&folder.bucket, options).next().await,
        Some(Ok(_))
    )
}

/// What a copy or move did (or would do).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct CopyOutcome {
    /// The source.
    pub from: String,
    /// The destination.
    pub to: String,
    /// Whether the source was removed (a move).
    pub moved: bool,
    /// Whether an existing destination is (or would be) replaced.
    pub replaced: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// Copy (or with `move_` move) one object within the store; a folder destination keeps the
/// source's file name.
pub async fn copy(
    store: &dyn Store,
    from: &Location,
    to: &Location,
    overwrite: bool,
    move_: bool,
    dry_run: bool,
) -> Result<CopyOutcome> {
    let src = from.object()?;
    let dst = to.object_for(src.key.file_name())?;
    store.check_key(&dst.key)?;
    if src == dst {
        return Err(Error::Usage(format!(
            "`{src}` is both source and destination"
        )));
    }
    store.head(&src).await?;
    let replaced = exists(store, &dst).await?;
    if replaced && !overwrite {
        return Err(stowage_store::Error::new(
            ErrorKind::AlreadyExists,
            store.provider(),
            "the destination exists",
        )
        .at(&dst.bucket, Some(dst.key.as_str()))
        .hint("pass --overwrite to replace it")
        .into());
    }
    if !dry_run {
        if move_ {
            store.rename(&src, &dst, overwrite).await?;
        } else {
            store.copy(&src, &dst, overwrite).await?;
        }
    }
    Ok(CopyOutcome {
        from: src.to_string(),
        to: dst.to_string(),
        moved: move_,
        replaced,
        dry_run,
    })
}

/// A signed URL and when it stops working.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct SignedUrl {
    /// The object.
    pub path: String,
    /// The URL (carries a signature, not the credentials).
    pub url: String,
    /// `get` or `put`.
    pub method: &'static str,
    /// When it expires.
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An expiring URL for `loc`. A download URL is only made for an object that exists.
pub async fn signed_url(
    store: &dyn Store,
    loc: &Location,
    method: UrlMethod,
    expires: Duration,
) -> Result<SignedUrl> {
    let path = loc.object()?;
    if method == UrlMethod::Get {
        store.head(&path).await?;
    }
    let url = store
        .signed_url(&path, method, expires)
        .await
        .map_err(|e| match e.kind {
            // `url` has no --overwrite: say what does work.
            ErrorKind::AlreadyExists if method == UrlMethod::Put => e.hint(format!(
                "this provider signs upload URLs only for new keys: remove the object first \
                 (`stowage rm {path}`), or sign another key"
            )),
            _ => e,
        })?;
    Ok(SignedUrl {
        path: path.to_string(),
        url,
        method: match method {
            UrlMethod::Get => "get",
            UrlMethod::Put => "put",
        },
        // Whole seconds: the URL's own expiry has no finer grain.
        expires_at: (OffsetDateTime::now_utc() + expires)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond"),
    })
}

/// A bucket as listed.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Bucket {
    /// Its name.
    pub name: String,
    /// Whether it is public, when the provider says.
    pub public: Option<bool>,
    /// When it was created, when the provider says.
    #[ts(type = "string | null")]
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
}

/// All buckets, by name.
pub async fn list_buckets(store: &dyn Store) -> Result<Vec<Bucket>> {
    let mut buckets: Vec<Bucket> = store
        .list_buckets()
        .await?
        .into_iter()
        .map(|b| Bucket {
            name: b.name,
            public: b.public,
            created: b.created,
        })
        .collect();
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(buckets)
}

/// Create a bucket (private unless `public`); in a dry run only check it does not exist.
pub async fn create_bucket(
    store: &dyn Store,
    name: &str,
    public: bool,
    dry_run: bool,
) -> Result<()> {
    store.check_bucket(name)?;
    if dry_run {
        if list_buckets(store).await?.iter().any(|b| b.name == name) {
            return Err(stowage_store::Error::new(
                ErrorKind::AlreadyExists,
                store.provider(),
                "the bucket exists",
            )
            .bucket(name)
            .hint("choose another name")
            .into());
        }
        return Ok(());
    }
    let options = BucketOptions {
        public,
        ..Default::default()
    };
    Ok(store.create_bucket(name, &options).await?)
}

/// Delete an empty bucket; in a dry run only check that it exists and is empty.
pub async fn delete_bucket(store: &dyn Store, name: &str, dry_run: bool) -> Result<()> {
    if dry_run {
        if !list_buckets(store).await?.iter().any(|b| b.name == name) {
            return Err(stowage_store::Error::new(
                ErrorKind::NotFound,
                store.provider(),
                "no such bucket",
            )
            .bucket(name)
            .hint("list buckets with `stowage buckets ls`")
            .into());
        }
        let root = Location {
            bucket: name.to_string(),
            path: String::new(),
        };
        if has_objects(store, &root).await {
            return Err(stowage_store::Error::new(
                ErrorKind::Conflict,
                store.provider(),
                "the bucket is not empty",
            )
            .bucket(name)
            .hint(format!(
                "remove its objects first: `stowage rm --recursive {name}/`"
            ))
            .into());
        }
        return Ok(());
    }
    Ok(store.delete_bucket(name).await?)
}

/// Whether a download's destination file exists; refuses a folder, and an existing file
/// unless `force`.
pub(crate) fn check_destination(target: &Path, force: bool) -> Result<bool> {
    let existed = target.exists();
    if existed && target.is_dir() {
        return Err(local_error(
            ErrorKind::Conflict,
            target,
            "is a folder",
            "name a file, or a folder to download into",
        ));
    }
    if existed && !force {
        return Err(local_error(
            ErrorKind::AlreadyExists,
            target,
            "the local file exists",
            "pass --force to replace it, or choose another destination",
        ));
    }
    Ok(existed)
}
