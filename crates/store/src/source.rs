//! What an upload reads from, and how every backend turns it into something it can send:
//! small bodies in memory, large ones as a file with a known size and SHA-256 (readers of
//! unknown length are spooled to a temporary file so memory stays flat).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, ErrorKind, Result};
use crate::{PutOptions, TransferEvent};

const READ_CHUNK: usize = 1 << 20;

/// The body of an upload.
pub enum PutSource {
    /// A local file, read in place (large uploads resume by the file's identity).
    File(PathBuf),
    /// Bytes in memory.
    Bytes(Bytes),
    /// Any async reader, of known or unknown length.
    Reader {
        /// The reader.
        reader: Box<dyn AsyncRead + Send + Unpin>,
        /// Its length, if known.
        size: Option<u64>,
    },
}

impl fmt::Debug for PutSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PutSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            PutSource::Reader { size, .. } => write!(f, "Reader(size {size:?})"),
        }
    }
}

impl From<Bytes> for PutSource {
    fn from(b: Bytes) -> Self {
        PutSource::Bytes(b)
    }
}

impl From<Vec<u8>> for PutSource {
    fn from(b: Vec<u8>) -> Self {
        PutSource::Bytes(b.into())
    }
}

/// An upload body ready to send: its size and SHA-256 are known.
pub(crate) enum Prepared {
    /// Small enough to send in one request from memory.
    Memory { data: Bytes, sha256: String },
    /// Large: read by ranges from a file.
    File(PreparedFile),
}

impl Prepared {
    pub(crate) fn size(&self) -> u64 {
        match self {
            Prepared::Memory { data, .. } => data.len() as u64,
            Prepared::File(f) => f.size,
        }
    }

    pub(crate) fn sha256(&self) -> &str {
        match self {
            Prepared::Memory { sha256, .. } => sha256,
            Prepared::File(f) => &f.sha256,
        }
    }
}

/// A file whose size and SHA-256 are known, read by ranges.
pub(crate) struct PreparedFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// Identifies this file's content and place for resuming (None for spooled readers).
    pub identity: Option<String>,
    file: std::fs::File,
    mtime_ns: i128,
    _spool: Option<tempfile::TempPath>,
}

impl PreparedFile {
    /// Read `len` bytes at `offset`.
    pub(crate) async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| read_error(&self.path, e))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; len];
            crate::fsmeta::read_exact_at(&file, &mut buf, offset)
                .map_err(|e| read_error(&path, e))?;
            Ok(Bytes::from(buf))
        })
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                "stowage",
                format!("read task failed: {e}"),
            )
        })?
    }

    /// Fail if the file changed since it was hashed (its upload would not match the hash).
    pub(crate) fn check_unchanged(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.path).map_err(|e| read_error(&self.path, e))?;
        if meta.len() != self.size || mtime_ns(&meta) != self.mtime_ns {
            return Err(Error::new(
                ErrorKind::Conflict,
                "local file",
                format!(
                    "{} changed while it was being uploaded",
                    self.path.display()
                ),
            )
            .hint("wait until the file is no longer being written, then upload it again"));
        }
        Ok(())
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    crate::fsmeta::mtime_ns(meta)
}

/// The error for a local file that cannot be read.
pub(crate) fn read_error(path: &Path, err: std::io::Error) -> Error {
    let hint = match err.kind() {
        std::io::ErrorKind::NotFound => "check the path",
        std::io::ErrorKind::PermissionDenied => "check the file's permissions",
        _ => "check that the file is a readable regular file",
    };
    let mut e = crate::error::io_error("local file", &format!("reading {}", path.display()), err);
    if e.kind == ErrorKind::Unauthorized {
        e.kind = ErrorKind::Other;
    }
    e.hint(hint)
}

/// Turn `source` into a [`Prepared`] body: in memory when at most `memory_limit` bytes.
pub(crate) async fn prepare(
    source: PutSource,
    memory_limit: u64,
    options: &PutOptions,
) -> Result<Prepared> {
    match source {
        PutSource::Bytes(data) => {
            let sha256 = crate::sha256_hex(&data);
            Ok(Prepared::Memory { data, sha256 })
        }
        PutSource::File(path) => prepare_file(path, memory_limit, options).await,
        PutSource::Reader { mut reader, size } => {
            let mut head = BytesMut::new();
            let limit = memory_limit.min(size.unwrap_or(u64::MAX));
            let mut taken = (&mut reader).take(limit + 1);
            let mut buf = vec![0u8; READ_CHUNK.min(limit as usize + 1)];
            loop {
                let n = taken.read(&mut buf).await.map_err(reader_error)?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            if head.len() as u64 <= memory_limit {
                let data = head.freeze();
                check_declared(size, data.len() as u64)?;
                let sha256 = crate::sha256_hex(&data);
                return Ok(Prepared::Memory { data, sha256 });
            }
            spool(head.freeze(), reader, size, memory_limit, options).await
        }
    }
}

fn reader_error(e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Other,
        "stowage",
        format!("reading the upload body: {e}"),
    )
    .hint("check the source of the data and try again")
}

fn check_declared(declared: Option<u64>, actual: u64) -> Result<()> {
    match declared {
        Some(d) if d != actual => Err(Error::new(
            ErrorKind::Conflict,
            "stowage",
            format!("the upload body was declared as {d} bytes but has {actual}"),
        )
        .hint("pass the right length, or none")),
        _ => Ok(()),
    }
}

async fn prepare_file(path: PathBuf, memory_limit: u64, options: &PutOptions) -> Result<Prepared> {
    let progress = options.progress.clone();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| read_error(&path, e))?;
        let meta = file.metadata().map_err(|e| read_error(&path, e))?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::Other,
                "local file",
                format!("{} is not a regular file", path.display()),
            )
            .hint("pass a file; folders are uploaded file by file"));
        }
        let size = meta.len();
        if size <= memory_limit {
            let mut data = Vec::with_capacity(size as usize);
            (&file)
                .take(memory_limit + 1)
                .read_to_end(&mut data)
                .map_err(|e| read_error(&path, e))?;
            if data.len() as u64 <= memory_limit {
                let sha256 = crate::sha256_hex(&data);
                return Ok(Prepared::Memory {
                    data: data.into(),
                    sha256,
                });
            }
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut done = 0u64;
        let mut reader = &file;
        loop {
            let n = reader.read(&mut buf).map_err(|e| read_error(&path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            done += n as u64;
            if let Some(p) = &progress {
                p(TransferEvent::Hashing { done, total: size });
            }
        }
        let after = file.metadata().map_err(|e| read_error(&path, e))?;
        if done != size || after.len() != size || mtime_ns(&after) != mtime_ns(&meta) {
            return Err(Error::new(
                ErrorKind::Conflict,
                "local file",
                format!("{} changed while it was being read", path.display()),
            )
            .hint("wait until the file is no longer being written, then upload it again"));
        }
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        // Without a device and inode (not on Unix), size, mtime and path identify it.
        let (dev, ino) = crate::fsmeta::dev_ino(&meta).unwrap_or((0, 0));
        let identity = format!(
            "{}:{}:{}:{}:{}",
            dev,
            ino,
            size,
            mtime_ns(&meta),
            canonical.display()
        );
        Ok(Prepared::File(PreparedFile {
            path,
            size,
            sha256: hex::encode(hasher.finalize()),
            identity: Some(identity),
            file,
            mtime_ns: mtime_ns(&meta),
            _spool: None,
        }))
    })
    .await
    .map_err(|e| {
        Error::new(
            ErrorKind::Other,
            "stowage",
            format!("hashing task failed: {e}"),
        )
    })?
}

async fn spool(
    head: Bytes,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    declared: Option<u64>,
    _memory_limit: u64,
    options: &PutOptions,
) -> Result<Prepared> {
    use tokio::io::AsyncWriteExt;
    let spool_err = |e: std::io::Error| {
        Error::new(
            ErrorKind::Other,
            "stowage",
            format!("spooling the upload body to a temporary file: {e}"),
        )
        .hint("free space in the temporary directory (TMPDIR)")
    };
    let temp = tempfile::NamedTempFile::new().map_err(spool_err)?;
    let (std_file, temp_path) = temp.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let mut hasher = Sha256::new();
    hasher.update(&head);
    out.write_all(&head).await.map_err(spool_err)?;
    let mut size = head.len() as u64;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = reader.read(&mut buf).await.map_err(reader_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).await.map_err(spool_err)?;
        size += n as u64;
        options.report(TransferEvent::Hashing {
            done: size,
            total: declared.unwrap_or(size),
        });
    }
    out.flush().await.map_err(spool_err)?;
    check_declared(declared, size)?;
    let file = out.into_std().await;
    let meta = file.metadata().map_err(spool_err)?;
    Ok(Prepared::File(PreparedFile {
        path: temp_path.to_path_buf(),
        size,
        sha256: hex::encode(hasher.finalize()),
        identity: None,
        file,
        mtime_ns: mtime_ns(&meta),
        _spool: Some(temp_path),
    }))
}
