//! The local folder store, Stowage's embedded default: one directory per bucket, one file per
//! object at `<root>/<bucket>/<key>`. Writes are atomic (temp file, fsync, rename). What the
//! file system cannot hold (content SHA-256, content type) sits in a sidecar record under
//! `<root>/.stowage/meta/<bucket>/`, named by the hash of the key so no key can collide with it.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;

use crate::error::{io_error, Error, ErrorKind, Result};
use crate::key::{parse_prefix, validate_bucket};
use crate::source::{read_error, PutSource};
use crate::{
    BucketInfo, BucketOptions, ByteRange, DeleteFailure, GetResult, Key, ListEntry, ListOptions,
    ObjectMeta, ObjectPath, PutOptions, PutResult, Store, TransferEvent, UrlMethod,
};

const PROVIDER: &str = "local";
const CHUNK: usize = 1 << 20;

/// A store in a local directory.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    key: String,
    size: u64,
    mtime_ns: i128,
    sha256: String,
    content_type: Option<String>,
}

impl LocalStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join(".stowage/tmp"))
            .map_err(|e| io_error(PROVIDER, &format!("creating {}", root.display()), e))?;
        Ok(LocalStore { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        validate_bucket(PROVIDER, bucket)?;
        Ok(self.root.join(bucket))
    }

    fn existing_bucket(&self, bucket: &str) -> Result<PathBuf> {
        let dir = self.bucket_dir(bucket)?;
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(Error::new(
                ErrorKind::NotFound,
                PROVIDER,
                format!("no bucket directory {}", dir.display()),
            )
            .bucket(bucket))
        }
    }

    fn object_file(&self, path: &ObjectPath) -> Result<PathBuf> {
        Ok(self.existing_bucket(&path.bucket)?.join(path.key.as_str()))
    }

    fn sidecar_file(&self, path: &ObjectPath) -> PathBuf {
        let h = crate::sha256_hex(path.key.as_str().as_bytes());
        self.root
            .join(".stowage/meta")
            .join(&path.bucket)
            .join(&h[..2])
            .join(format!("{h}.json"))
    }

    fn read_meta(&self, path: &ObjectPath, file: &Path) -> Result<ObjectMeta> {
        let err = |e| io_error(PROVIDER, "reading object", e);
        let meta = std::fs::metadata(file)
            .map_err(|e| err(e).at(&path.bucket, Some(path.key.as_str())))?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::NotFound,
                PROVIDER,
                "no such object (a folder has this name)",
            )
            .at(&path.bucket, Some(path.key.as_str())));
        }
        let mtime = mtime_ns(&meta);
        let sidecar: Option<Sidecar> = std::fs::read(self.sidecar_file(path))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .filter(|s: &Sidecar| {
                s.size == meta.len() && s.mtime_ns == mtime && s.key == path.key.as_str()
            });
        Ok(ObjectMeta {
            key: path.key.clone(),
            size: meta.len(),
            last_modified: OffsetDateTime::from_unix_timestamp_nanos(mtime).ok(),
            etag: Some(format!("{:x}-{:x}", meta.len(), mtime)),
            sha256: sidecar.as_ref().map(|s| s.sha256.clone()),
            content_type: sidecar.and_then(|s| s.content_type),
            checksum: None,
        })
    }

    /// Write `source` into a temp file, hashing as it goes, then move it into place.
    fn put_blocking(
        &self,
        path: &ObjectPath,
        mut reader: Box<dyn Read + Send>,
        declared: Option<u64>,
        options: &PutOptions,
    ) -> Result<PutResult> {
        let at = |e: Error| e.at(&path.bucket, Some(path.key.as_str()));
        let dest = self.object_file(path).map_err(at)?;
        if !options.overwrite && dest.exists() {
            return Err(at(Error::new(
                ErrorKind::AlreadyExists,
                PROVIDER,
                "the object exists",
            )));
        }
        let tmp_dir = self.root.join(".stowage/tmp");
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)
            .map_err(|e| at(io_error(PROVIDER, "creating a temporary file", e)))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(at(Error::new(
                        ErrorKind::Other,
                        PROVIDER,
                        format!("reading the upload body: {e}"),
                    )))
                }
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| at(io_error(PROVIDER, "writing", e)))?;
            size += n as u64;
            options.report(TransferEvent::Sent(n as u64));
        }
        if let Some(d) = declared.filter(|d| *d != size) {
            return Err(at(Error::new(
                ErrorKind::Conflict,
                PROVIDER,
                format!("the upload body was declared as {d} bytes but has {size}"),
            )
            .hint(
                "the file changed while it was read; upload it again once it is complete",
            )));
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| at(io_error(PROVIDER, "syncing", e)))?;
        let sha256 = hex::encode(hasher.finalize());
        let written = tmp
            .as_file()
            .metadata()
            .map_err(|e| at(io_error(PROVIDER, "checking the written file", e)))?
            .len();
        if written != size {
            return Err(crate::integrity_error(
                PROVIDER,
                path,
                (size, &sha256),
                (written, None),
            ));
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                if path.key.as_str().split('/').any(|s| s.len() > 255) {
                    return at(io_error(PROVIDER, "creating the folder", e)).hint(
                        "a key segment (between `/`) is longer than 255 bytes, which a local \
                         folder cannot hold; shorten it",
                    );
                }
                at(io_error(
                    PROVIDER,
                    "creating the folder (is a parent key an object?)",
                    e,
                ))
                .hint("a key above this one is an object, not a folder; choose another destination")
            })?;
        }
        if dest.is_dir() {
            return Err(at(Error::new(
                ErrorKind::Conflict,
                PROVIDER,
                "a folder of objects has this name",
            )
            .hint(
                "choose another key, or put the file into that folder with a trailing `/`",
            )));
        }
        if options.overwrite {
            tmp.persist(&dest)
                .map_err(|e| at(io_error(PROVIDER, "moving into place", e.error)))?;
        } else {
            // Linking fails if the destination appeared meanwhile: never replace by accident.
            tmp.persist_noclobber(&dest).map_err(|e| {
                let mut err = io_error(PROVIDER, "moving into place", e.error);
                if err.kind == ErrorKind::AlreadyExists {
                    err.message = "the object exists".into();
                }
                at(err)
            })?;
        }
        if let Some(parent) = dest.parent() {
            if let Ok(d) = std::fs::File::open(parent) {
                let _ = d.sync_all();
            }
        }
        let meta = std::fs::metadata(&dest)
            .map_err(|e| at(io_error(PROVIDER, "checking the stored file", e)))?;
        let sidecar = Sidecar {
            key: path.key.as_str().to_string(),
            size,
            mtime_ns: mtime_ns(&meta),
            sha256: sha256.clone(),
            content_type: options.content_type.clone(),
        };
        write_atomic(
            &self.sidecar_file(path),
            &serde_json::to_vec(&sidecar).expect("serialisable"),
        )
        .map_err(|e| at(io_error(PROVIDER, "recording the object's metadata", e)))?;
        Ok(PutResult {
            size,
            etag: Some(format!("{:x}-{:x}", size, mtime_ns(&meta))),
            sha256,
            resumed_from: 0,
        })
    }

    fn list_blocking(&self, bucket: &str, options: &ListOptions) -> Result<Vec<ListEntry>> {
        let dir = self.existing_bucket(bucket)?;
        let prefix = parse_prefix(&options.prefix).map_err(|e| e.bucket(bucket))?;
        // Start at the deepest folder the prefix names fully; filter the rest by name.
        let (folder, _) = prefix.rsplit_once('/').unwrap_or(("", &prefix));
        let mut out = Vec::new();
        let start = if folder.is_empty() {
            dir.clone()
        } else {
            dir.join(folder)
        };
        let base = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        if start.is_dir() {
            walk(&start, &base, &prefix, options.delimiter, &mut out)
                .map_err(|e| io_error(PROVIDER, "listing", e).bucket(bucket))?;
        }
        Ok(out)
    }
}

/// Depth-first walk in byte order of keys: a folder sorts as its name plus `/`.
fn walk(
    dir: &Path,
    base: &str,
    prefix: &str,
    delimiter: bool,
    out: &mut Vec<ListEntry>,
) -> std::io::Result<()> {
    let mut entries: Vec<(String, String, bool)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let ft = entry.file_type()?;
        if ft.is_dir() {
            entries.push((format!("{base}{name}/"), name, true));
        } else if ft.is_file() {
            entries.push((format!("{base}{name}"), name, false));
        }
    }
    entries.sort();
    for (name, fs_name, is_dir) in entries {
        if is_dir {
            if !(name.starts_with(prefix) || prefix.starts_with(&name)) {
                continue;
            }
            if delimiter && name.starts_with(prefix) {
                out.push(ListEntry::Prefix(name));
            } else {
                walk(&dir.join(&fs_name), &name, prefix, delimiter, out)?;
            }
        } else if name.starts_with(prefix) {
            let Ok(key) = Key::parse(&name) else { continue };
            let meta = std::fs::metadata(dir.join(&fs_name))?;
            let mtime = mtime_ns(&meta);
            out.push(ListEntry::Object(ObjectMeta {
                key,
                size: meta.len(),
                last_modified: OffsetDateTime::from_unix_timestamp_nanos(mtime).ok(),
                etag: Some(format!("{:x}-{:x}", meta.len(), mtime)),
                sha256: None,
                content_type: None,
                checksum: None,
            }));
        }
    }
    Ok(())
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    crate::fsmeta::mtime_ns(meta)
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("sidecar has a parent");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Remove now-empty folders between `file`'s parent and the bucket directory.
fn prune_empty_parents(bucket_dir: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == bucket_dir || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Error::new(
            ErrorKind::Other,
            PROVIDER,
            format!("worker task failed: {e}"),
        )
    })?
}

/// Bridges an async reader into the blocking writer, a chunk at a time (bounded memory).
fn reader_into_blocking(
    mut reader: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
) -> Box<dyn Read + Send> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Bytes>>(4);
    tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                    if tx.send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    Box::new(ChannelReader {
        rx,
        current: Bytes::new(),
    })
}

struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(chunk) => self.current = chunk?,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[async_trait]
impl Store for LocalStore {
    fn provider(&self) -> &str {
        PROVIDER
    }

    async fn create_bucket(&self, name: &str, _options: &BucketOptions) -> Result<()> {
        let dir = self.bucket_dir(name)?;
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(()),
            Err(e) => {
                Err(io_error(PROVIDER, &format!("creating {}", dir.display()), e).bucket(name))
            }
        }
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let mut out = Vec::new();
        let rd =
            std::fs::read_dir(&self.root).map_err(|e| io_error(PROVIDER, "listing buckets", e))?;
        for entry in rd.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if validate_bucket(PROVIDER, &name).is_err() || !entry.path().is_dir() {
                continue;
            }
            let created = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .map(OffsetDateTime::from);
            out.push(BucketInfo {
                name,
                public: Some(false),
                created,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        let dir = self.existing_bucket(name)?;
        let has_files = self
            .list_blocking(name, &ListOptions::default())?
            .into_iter()
            .next()
            .is_some();
        if has_files {
            return Err(Error::bucket_not_empty(PROVIDER, name));
        }
        std::fs::remove_dir_all(&dir)
            .map_err(|e| io_error(PROVIDER, "deleting the bucket", e).bucket(name))?;
        let _ = std::fs::remove_dir_all(self.root.join(".stowage/meta").join(name));
        Ok(())
    }

    async fn put(
        &self,
        path: &ObjectPath,
        source: PutSource,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.check_key(&path.key)?;
        let (reader, declared): (Box<dyn Read + Send>, Option<u64>) = match source {
            PutSource::Bytes(b) => {
                let n = b.len() as u64;
                (Box::new(std::io::Cursor::new(b)), Some(n))
            }
            PutSource::File(file) => {
                let f = std::fs::File::open(&file).map_err(|e| read_error(&file, e))?;
                let meta = f.metadata().map_err(|e| read_error(&file, e))?;
                if !meta.is_file() {
                    return Err(Error::new(
                        ErrorKind::Other,
                        "local file",
                        format!("{} is not a regular file", file.display()),
                    )
                    .hint("pass a file; folders are uploaded file by file"));
                }
                // A file that grows or shrinks while it is read is refused, never stored half
                // old, half new.
                (Box::new(f), Some(meta.len()))
            }
            PutSource::Reader { reader, size } => (reader_into_blocking(reader), size),
        };
        let store = self.clone();
        let path = path.clone();
        let options = options.clone();
        blocking(move || store.put_blocking(&path, reader, declared, &options)).await
    }

    async fn get(&self, path: &ObjectPath, range: Option<ByteRange>) -> Result<GetResult> {
        let file_path = self
            .object_file(path)
            .map_err(|e| e.at(&path.bucket, Some(path.key.as_str())))?;
        let meta = self.read_meta(path, &file_path)?;
        let range = match range {
            None => 0..meta.size,
            Some(r) => r.resolve(meta.size).ok_or_else(|| {
                Error::new(
                    ErrorKind::Other,
                    PROVIDER,
                    format!(
                        "range {} is outside the object ({} bytes)",
                        r.header(),
                        meta.size
                    ),
                )
                .at(&path.bucket, Some(path.key.as_str()))
            })?,
        };
        let mut file = std::fs::File::open(&file_path).map_err(|e| {
            io_error(PROVIDER, "opening", e).at(&path.bucket, Some(path.key.as_str()))
        })?;
        file.seek(SeekFrom::Start(range.start))
            .map_err(|e| io_error(PROVIDER, "seeking", e))?;
        let remaining = range.end - range.start;
        let body = stream::unfold((file, remaining), |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let want = remaining.min(CHUNK as u64) as usize;
            let res = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; want];
                file.read_exact(&mut buf).map(|_| (file, buf))
            })
            .await;
            match res {
                Ok(Ok((file, buf))) => {
                    Some((Ok(Bytes::from(buf)), (file, remaining - want as u64)))
                }
                Ok(Err(e)) => Some((
                    Err(io_error(PROVIDER, "reading", e)),
                    (std::fs::File::open("/dev/null").ok()?, 0),
                )),
                Err(e) => Some((
                    Err(Error::new(
                        ErrorKind::Other,
                        PROVIDER,
                        format!("read task failed: {e}"),
                    )),
                    (std::fs::File::open("/dev/null").ok()?, 0),
                )),
            }
        })
        .boxed();
        Ok(GetResult { meta, range, body })
    }

    async fn head(&self, path: &ObjectPath) -> Result<ObjectMeta> {
        let file = self
            .object_file(path)
            .map_err(|e| e.at(&path.bucket, Some(path.key.as_str())))?;
        self.read_meta(path, &file)
    }

    fn list(&self, bucket: &str, options: ListOptions) -> BoxStream<'_, Result<ListEntry>> {
        let store = self.clone();
        let bucket = bucket.to_string();
        stream::once(async move { blocking(move || store.list_blocking(&bucket, &options)).await })
            .flat_map(|res| match res {
                Ok(entries) => stream::iter(entries.into_iter().map(Ok)).boxed(),
                Err(e) => stream::iter(vec![Err(e)]).boxed(),
            })
            .boxed()
    }

    async fn delete(&self, path: &ObjectPath) -> Result<()> {
        let bucket_dir = self.existing_bucket(&path.bucket)?;
        let file = bucket_dir.join(path.key.as_str());
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if file.is_dir() => {
                let _ = e;
                return Err(Error::new(
                    ErrorKind::NotFound,
                    PROVIDER,
                    "no such object (a folder has this name)",
                )
                .at(&path.bucket, Some(path.key.as_str())));
            }
            Err(e) => {
                return Err(
                    io_error(PROVIDER, "deleting", e).at(&path.bucket, Some(path.key.as_str()))
                )
            }
        }
        let _ = std::fs::remove_file(self.sidecar_file(path));
        prune_empty_parents(&bucket_dir, &file);
        Ok(())
    }

    async fn delete_many(&self, bucket: &str, keys: &[Key]) -> Result<Vec<DeleteFailure>> {
        self.existing_bucket(bucket)?;
        let mut failures = Vec::new();
        for key in keys {
            let path = ObjectPath {
                bucket: bucket.to_string(),
                key: key.clone(),
            };
            if let Err(e) = self.delete(&path).await {
                failures.push((key.clone(), e));
            }
        }
        Ok(failures)
    }

    async fn copy(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        let src = self
            .object_file(from)
            .map_err(|e| e.at(&from.bucket, Some(from.key.as_str())))?;
        let meta = self.read_meta(from, &src)?;
        let file = std::fs::File::open(&src).map_err(|e| {
            io_error(PROVIDER, "opening", e).at(&from.bucket, Some(from.key.as_str()))
        })?;
        let options = PutOptions {
            overwrite,
            content_type: meta.content_type,
            progress: None,
        };
        let store = self.clone();
        let to = to.clone();
        let stored =
            blocking(move || store.put_blocking(&to, Box::new(file), Some(meta.size), &options))
                .await?;
        if let Some(expected) = meta.sha256 {
            if expected != stored.sha256 {
                return Err(crate::integrity_error(
                    PROVIDER,
                    from,
                    (meta.size, &expected),
                    (stored.size, Some(&stored.sha256)),
                ));
            }
        }
        Ok(())
    }

    async fn rename(&self, from: &ObjectPath, to: &ObjectPath, overwrite: bool) -> Result<()> {
        if from == to {
            return Err(Error::new(
                ErrorKind::Conflict,
                PROVIDER,
                "source and destination are the same",
            )
            .at(&from.bucket, Some(from.key.as_str())));
        }
        self.copy(from, to, overwrite).await?;
        self.delete(from).await
    }

    async fn signed_url(
        &self,
        path: &ObjectPath,
        _method: UrlMethod,
        _expires: Duration,
    ) -> Result<String> {
        Err(Error::new(
            ErrorKind::NotSupported,
            PROVIDER,
            "a local folder cannot issue signed URLs",
        )
        .at(&path.bucket, Some(path.key.as_str()))
        .hint("share from an S3 or Supabase profile (`stowage url --profile NAME`)"))
    }
}
