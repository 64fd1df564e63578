//! Uploads: planning files to keys, gzip on the way by policy, verified puts, folder archives.

use super::*;

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

pub(super) fn file_name(path: &Path) -> Result<String> {
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

pub(super) async fn put_one(
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
pub(super) fn gzip_for(
    item: &PutItem,
    path: &mut ObjectPath,
    options: &PutFilesOptions,
) -> Result<bool> {
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
