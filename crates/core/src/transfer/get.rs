//! Downloads: planning keys to files, verified streaming into a temporary file, extraction of archives.

use super::*;

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

/// Stream into a temporary file beside the target, verify, then move it into place: the
/// target is never half-written, and never replaced without `force`.
pub(super) async fn get_one(
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
    // whole-content checksum its provider states, when it states one.
    let stated = match got.meta.sha256 {
        None => got.meta.checksum.clone(),
        Some(_) => None,
    };
    let running = std::sync::Arc::new(std::sync::Mutex::new(stated.as_ref().map(|c| c.start())));
    if stated.is_some() {
        let state = running.clone();
        let body = std::mem::replace(&mut got.body, stream::empty().boxed());
        got.body = body
            .map_ok(move |chunk| {
                if let Some(r) = state.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    r.update(&chunk);
                }
                chunk
            })
            .boxed();
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Hashing and writing run on one blocking thread, fed chunks through a bounded channel:
    // the network keeps flowing while the disk and SHA-256 work, and memory stays flat.
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(64);
    // A small object is handed over whole, once received: one wake-up of the writer per
    // file instead of one per chunk.
    let small = !decompress && got.meta.size <= SMALL_OBJECT;
    let buffer = (got.meta.size as usize).clamp(8 << 10, 1 << 20);
    let written_to = target.to_path_buf();
    let writer =
        tokio::task::spawn_blocking(move || -> Result<(u64, Sha256, tempfile::TempPath)> {
            use std::io::Write;
            // The folder and the temporary file are made here too: creating a file can take a
            // millisecond on a busy disk, and a batch's creates then overlap instead of holding
            // up the task that drives every download.
            std::fs::create_dir_all(&dir).map_err(|e| io_local(&dir, "creating the folder", e))?;
            let mut builder = tempfile::Builder::new();
            builder.prefix(".stowage-").suffix(".part");
            // Created like any new file (umask applies), not with tempfile's private 0600.
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
            let (file, temp_path) = builder
                .tempfile_in(&dir)
                .map_err(|e| io_local(&dir, "creating a temporary file", e))?
                .into_parts();
            let writing = |e| io_local(&written_to, "writing", e);
            let mut out = std::io::BufWriter::with_capacity(buffer, file);
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            for chunk in rx {
                hasher.update(&chunk);
                out.write_all(&chunk).map_err(writing)?;
                written += chunk.len() as u64;
            }
            let file = out.into_inner().map_err(|e| writing(e.into_error()))?;
            // Durable before it takes the target's name: a crash never leaves a torn file there
            // (a landing syncs its whole batch at once).
            if !defer {
                file.sync_all().map_err(writing)?;
            }
            Ok((written, hasher, temp_path))
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
    // A failed download still waits for the writer, which owns the temporary file: the file
    // is gone before the error is reported.
    let mut failed: Option<Error> = None;
    'receive: loop {
        let chunk = match body.try_next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                failed = Some(e.into());
                break;
            }
        };
        let n = chunk.len() as u64;
        if small && held_bytes + n <= SMALL_OBJECT {
            held_bytes += n;
            held.push(chunk);
        } else {
            for c in held.drain(..).chain(std::iter::once(chunk)) {
                if tx.send(c).is_err() {
                    break 'receive; // the writer failed; its error is reported below
                }
            }
        }
        if !decompress {
            report(progress, index, ItemEvent::Moved { bytes: n });
        }
    }
    if failed.is_none() {
        for c in held {
            if tx.send(c).is_err() {
                break;
            }
        }
    }
    drop(tx);
    let wrote = writer.await;
    if let Some(e) = failed {
        drop(wrote);
        return Err(e);
    }
    let (written, hasher, temp_path) =
        wrote.map_err(|e| io_local(target, "writing", std::io::Error::other(e)))??;
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
    if let Some(stated) = stated {
        let digest = running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(|r| r.finish())
            .unwrap_or_default();
        let name = stated.algorithm.name();
        if digest != stated.digest {
            return Err(integrity(format!(
                "the download's {name} is {}, {} says {}",
                hex::encode(&digest),
                stated.source,
                hex::encode(&stated.digest)
            )));
        }
        checksum = checksum.or(Some(name));
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
