//! Gzip for objects that shrink (JSON, JSONL, CSV, text), streamed both ways; detection of
//! formats that are already compressed or binary model containers, by content first; and a
//! folder as one `.tar.gz` artifact.
//!
//! The convention for compressed objects: the key gets `.gz`, the content type is
//! `application/gzip`, and the caller (the catalog) records the encoding and the original
//! size returned in [`CompressedObject`]. Downloads of a `.gz` key are decompressed
//! transparently unless raw bytes are asked for (see `transfer::get_files`).

use std::io::{Read, Write};
use std::path::{Component, Path};

use bytes::Bytes;
use flate2::write::MultiGzDecoder;
use flate2::Compression;
use futures::stream::{BoxStream, StreamExt};
use sha2::{Digest, Sha256};
use stowage_store::{ErrorKind, ObjectPath, PutOptions, PutSource, Store};

use crate::error::{local_error, Result};

/// Objects smaller than this are stored as they are: gzip's gain does not pay for itself.
pub const DEFAULT_THRESHOLD: u64 = 64 << 10;
/// Bytes [`sniff`] reads to classify a file.
pub const SNIFF_LEN: usize = 8 << 10;
/// The gzip level. On zlib-rs, level 6 uses the fast "medium" matcher and comes out slightly
/// larger than GNU `gzip -6`; 7 is about 3 % smaller than it and still faster than it
/// (scripts/bench-compress).
pub const LEVEL: u32 = 7;
/// Content type of a stored compressed object.
pub const CONTENT_TYPE: &str = "application/gzip";
/// The encoding recorded for a compressed object.
pub const ENCODING: &str = "gzip";
/// The suffix a compressed object's key gets.
pub const SUFFIX: &str = ".gz";
/// Output may be at most this many times the compressed input (deflate's own maximum is
/// about 1032:1, so legitimate data stays below it; bombs sit at it).
pub const DEFAULT_MAX_RATIO: u64 = 1000;

const CHUNK: usize = 256 << 10;

/// Whether to gzip a file, and why (for logs, dry runs and the UI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompressionDecision {
    /// Store it gzipped.
    pub compress: bool,
    /// Why, in a few words.
    pub reason: String,
}

impl CompressionDecision {
    fn no(reason: impl Into<String>) -> Self {
        CompressionDecision {
            compress: false,
            reason: reason.into(),
        }
    }
}

/// A format recognised by its first bytes.
fn magic(head: &[u8]) -> Option<&'static str> {
    const MAGICS: &[(&[u8], &str)] = &[
        (&[0x1f, 0x8b], "gzip"),
        (
            b"PK\x03\x04",
            "a zip container (.zip, PyTorch .pt, .npz, .keras)",
        ),
        (b"PK\x05\x06", "a zip container"),
        (b"PK\x07\x08", "a zip container"),
        (b"\x89HDF\r\n\x1a\n", "HDF5 (.h5)"),
        (b"PAR1", "Parquet"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz"),
        (b"BZh", "bzip2"),
        (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "7-zip"),
        (&[0x04, 0x22, 0x4d, 0x18], "LZ4"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (&[0xff, 0xd8, 0xff], "JPEG"),
        (b"GIF8", "GIF"),
        (b"ARROW1", "Arrow IPC"),
    ];
    if let Some((_, name)) = MAGICS.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(name);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some("WebP");
    }
    // Pickle protocol 2–5 (legacy PyTorch .pt, scikit-learn .pkl): numeric blobs.
    if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return Some("a pickle (.pt, .pkl)");
    }
    // safetensors: a little-endian u64 header length, then the JSON header itself.
    if head.len() >= 9 && head[8] == b'{' {
        let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        if n > 1 && n < 100 << 20 {
            return Some("safetensors");
        }
    }
    None
}

/// Extensions of formats that are compressed already or hold packed binary tensors.
const NEVER: &[&str] = &[
    "gz",
    "tgz",
    "zip",
    "pt",
    "pth",
    "ckpt",
    "safetensors",
    "h5",
    "hdf5",
    "keras",
    "parquet",
    "zst",
    "zstd",
    "xz",
    "bz2",
    "7z",
    "lz4",
    "br",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "mp4",
    "mp3",
    "onnx",
    "npz",
    "tflite",
    "pb",
    "xgb",
    "lgb",
    "feather",
    "arrow",
];

/// Whether `head` (the first bytes of a file) reads as text: UTF-8 (a multi-byte character
/// cut at the end is fine) without NULs or other control bytes.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    valid
        && !head
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
}

/// Decide whether to gzip `path` of `size` bytes whose first bytes are `head` (see [`sniff`]):
/// content that is already compressed or a binary model never is; text above `threshold` is.
pub fn decide(path: &Path, head: &[u8], size: u64, threshold: u64) -> CompressionDecision {
    if let Some(format) = magic(head) {
        return CompressionDecision::no(format!("{format} content: already packed"));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if NEVER.contains(&ext.as_str()) {
        return CompressionDecision::no(format!(".{ext} files are already compressed or binary"));
    }
    if size < threshold {
        return CompressionDecision::no(format!(
            "{size} bytes, below the {threshold}-byte threshold"
        ));
    }
    if !is_text(head) {
        return CompressionDecision::no("binary content of unknown format");
    }
    let trimmed = head
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(head)
        .trim_ascii_start();
    let kind = match ext.as_str() {
        "jsonl" | "ndjson" => "JSON Lines",
        "csv" | "tsv" => "CSV",
        _ if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") => "JSON",
        _ => "text",
    };
    CompressionDecision {
        compress: true,
        reason: format!("{kind}, {size} bytes (threshold {threshold})"),
    }
}

/// The first [`SNIFF_LEN`] bytes of `path` (fewer if the file is shorter).
pub fn sniff(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    std::fs::File::open(path)?
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The key a compressed object is stored under: `key` + `.gz`.
pub fn stored_key(key: &str) -> String {
    format!("{key}{SUFFIX}")
}

/// Whether downloads of `key` are decompressed by default: it ends in `.gz` but is not a
/// `.tar.gz` / `.tgz` folder archive (those stay archives; unpack them with [`untar_gz`]).
pub fn is_transparent(key: &str) -> bool {
    key.ends_with(SUFFIX) && !key.ends_with(".tar.gz") && key.len() > SUFFIX.len()
}

/// The name a compressed object had before compression: `key` without `.gz`.
pub fn original_key(key: &str) -> &str {
    key.strip_suffix(SUFFIX).unwrap_or(key)
}

/// A streaming gzip encoder (at [`LEVEL`]) over `file`: compression runs on a blocking thread so
/// the async workers stay free, and memory stays at a few chunks whatever the file's size.
/// Must be called within a Tokio runtime.
pub fn gzip_reader(file: tokio::fs::File) -> impl tokio::io::AsyncRead + Send + Unpin {
    let input: Box<dyn Read + Send> = match file.try_into_std() {
        Ok(f) => Box::new(f),
        Err(_) => Box::new(Failing),
    };
    gzip_read(input)
}

/// A reader for a tokio file that still had an operation in flight (never the case for a
/// freshly opened one).
struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other(
            "the file was busy with another operation",
        ))
    }
}

/// Gzip any blocking reader on a blocking thread, handing chunks to the returned async reader.
fn gzip_read<R: Read + Send + 'static>(
    input: R,
) -> tokio_util::io::StreamReader<
    impl futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    Bytes,
> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || pump(input, tx));
    tokio_util::io::StreamReader::new(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Bounds on what [`gunzip_stream_limited`] may produce, against decompression bombs.
#[derive(Clone, Copy, Debug)]
pub struct GunzipLimits {
    /// Output may be at most this many times the input read so far (plus 1 MiB of slack for
    /// tiny inputs).
    pub max_ratio: u64,
    /// The original size recorded at upload; output beyond it is refused.
    pub max_output: Option<u64>,
}

impl Default for GunzipLimits {
    fn default() -> Self {
        GunzipLimits {
            max_ratio: DEFAULT_MAX_RATIO,
            max_output: None,
        }
    }
}

/// Decompress a stored gzip body as it streams, with the default [`GunzipLimits`]. A corrupt
/// or truncated body yields an [`ErrorKind::Integrity`] error naming `file_label`.
pub fn gunzip_stream(
    body: BoxStream<'static, stowage_store::Result<Bytes>>,
    file_label: &str,
) -> BoxStream<'static, stowage_store::Result<Bytes>> {
    gunzip_stream_limited(body, file_label, GunzipLimits::default())
}

/// Where decompressed output collects, refusing to grow past the limits.
struct Sink {
    out: Vec<u8>,
    produced: u64,
    cap: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.produced += buf.len() as u64;
        if self.produced > self.cap {
            return Err(std::io::Error::other(BombError));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct BombError;

impl std::fmt::Display for BombError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("output limit reached")
    }
}

impl std::error::Error for BombError {}

struct Gunzip {
    body: BoxStream<'static, stowage_store::Result<Bytes>>,
    decoder: MultiGzDecoder<Sink>,
    label: String,
    limits: GunzipLimits,
    consumed: u64,
    done: bool,
}

impl Gunzip {
    fn damaged(&self, detail: impl std::fmt::Display) -> stowage_store::Error {
        stowage_store::Error::new(
            ErrorKind::Integrity,
            "gzip",
            format!(
                "{}: the stored object is damaged ({detail}); the local copy was not touched",
                self.label
            ),
        )
        .hint("download it again with --raw to inspect it, or upload it again from the source")
    }

    fn fail(&self, e: std::io::Error) -> stowage_store::Error {
        let bomb = e.get_ref().is_some_and(|i| i.is::<BombError>());
        if !bomb {
            return self.damaged(e);
        }
        let (limit, why) = match self.limits.max_output {
            Some(max) if self.decoder.get_ref().produced > max => (
                max,
                format!("more than the recorded original size of {max} bytes"),
            ),
            _ => (
                self.decoder.get_ref().cap,
                format!("more than {}× its compressed size", self.limits.max_ratio),
            ),
        };
        stowage_store::Error::new(
            ErrorKind::TooLarge { limit: Some(limit) },
            "gzip",
            format!(
                "{}: decompressing would produce {why}, which looks like a decompression bomb; \
                 stopped, the local copy was not touched",
                self.label
            ),
        )
        .hint("download it with --raw if you trust it")
    }

    /// Feed one chunk in small slices, so a highly compressible slice can only produce a
    /// bounded amount of output before the limits are checked again.
    fn feed(&mut self, chunk: &[u8]) -> stowage_store::Result<Bytes> {
        for slice in chunk.chunks(16 << 10) {
            self.consumed += slice.len() as u64;
            let by_ratio = self
                .consumed
                .saturating_mul(self.limits.max_ratio)
                .saturating_add(1 << 20);
            let sink = self.decoder.get_mut();
            sink.cap = self.limits.max_output.map_or(by_ratio, |m| m.min(by_ratio));
            if let Err(e) = self.decoder.write_all(slice) {
                return Err(self.fail(e));
            }
        }
        Ok(std::mem::take(&mut self.decoder.get_mut().out).into())
    }
}

/// [`gunzip_stream`] with explicit limits: output beyond `limits` is refused with
/// [`ErrorKind::TooLarge`] before it is produced in full.
pub fn gunzip_stream_limited(
    body: BoxStream<'static, stowage_store::Result<Bytes>>,
    file_label: &str,
    limits: GunzipLimits,
) -> BoxStream<'static, stowage_store::Result<Bytes>> {
    let state = Gunzip {
        body,
        decoder: MultiGzDecoder::new(Sink {
            out: Vec::new(),
            produced: 0,
            cap: 0,
        }),
        label: file_label.to_string(),
        limits,
        consumed: 0,
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if s.done {
                return None;
            }
            match s.body.next().await {
                Some(Ok(chunk)) => match s.feed(&chunk) {
                    Ok(out) if out.is_empty() => continue,
                    Ok(out) => return Some((Ok(out), s)),
                    Err(e) => {
                        s.done = true;
                        return Some((Err(e), s));
                    }
                },
                Some(Err(e)) => {
                    s.done = true;
                    return Some((Err(e), s));
                }
                None => {
                    s.done = true;
                    if s.consumed == 0 {
                        return Some((Err(s.damaged("it is empty")), s));
                    }
                    // A stream cut short ends without the trailer: finishing checks for it.
                    if let Err(e) = s.decoder.try_finish() {
                        let e = s.fail(e);
                        return Some((Err(e), s));
                    }
                    let out = std::mem::take(&mut s.decoder.get_mut().out);
                    if out.is_empty() {
                        return None;
                    }
                    return Some((Ok(out.into()), s));
                }
            }
        }
    })
    .boxed()
}

/// An object stored gzipped, as the catalog records it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CompressedObject {
    /// The key it is stored under (ends in `.gz`).
    pub key: String,
    /// Always [`ENCODING`].
    pub encoding: String,
    /// Bytes before compression.
    pub original_size: u64,
    /// Bytes stored.
    pub stored_size: u64,
    /// SHA-256 of the stored (compressed) bytes, as the store verified them.
    pub sha256: String,
    /// SHA-256 of the original file, hashed as it was read.
    pub original_sha256: String,
    /// The provider's ETag.
    pub etag: Option<String>,
}

impl CompressedObject {
    /// Stored size over original size (0.2 means an 80 % saving).
    pub fn ratio(&self) -> f64 {
        if self.original_size == 0 {
            1.0
        } else {
            self.stored_size as f64 / self.original_size as f64
        }
    }
}

/// Reads a file while hashing and counting it, so the original's size and SHA-256 come out
/// of the same single pass that compresses it.
struct Tally<R> {
    inner: R,
    state: std::sync::Arc<std::sync::Mutex<(Sha256, u64)>>,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0.update(&buf[..n]);
        s.1 += n as u64;
        Ok(n)
    }
}

/// Upload `file` gzipped to `dest`'s key + `.gz` (content type `application/gzip`), streamed
/// through [`gzip_reader`]'s encoder; returns what the catalog records.
pub async fn put_compressed(
    store: &dyn Store,
    dest: &ObjectPath,
    file: &Path,
    overwrite: bool,
) -> Result<CompressedObject> {
    let key = stowage_store::Key::parse(&stored_key(dest.key.as_str()))?;
    let path = ObjectPath {
        bucket: dest.bucket.clone(),
        key,
    };
    put_gzipped(store, &path, file, overwrite).await
}

/// Whether `head` (the first bytes of some content) is gzip.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Upload `file` gzipped to exactly `path` (its key already names the `.gz`), as
/// [`put_compressed`] does.
pub async fn put_gzipped(
    store: &dyn Store,
    path: &ObjectPath,
    file: &Path,
    overwrite: bool,
) -> Result<CompressedObject> {
    let path = path.clone();
    let f = std::fs::File::open(file).map_err(|e| {
        local_error(
            ErrorKind::NotFound,
            file,
            format!("opening: {e}"),
            "check the path",
        )
    })?;
    let state = std::sync::Arc::new(std::sync::Mutex::new((Sha256::new(), 0u64)));
    let tally = Tally {
        inner: f,
        state: state.clone(),
    };
    let reader = gzip_read(tally);
    let options = PutOptions {
        overwrite,
        content_type: Some(CONTENT_TYPE.to_string()),
        progress: None,
    };
    let source = PutSource::Reader {
        reader: Box::new(reader),
        size: None,
    };
    let put = store
        .put(&path, source, &options)
        .await
        .map_err(|e| crate::error::Error::from(e).with_file(file))?;
    let (hasher, original_size) = {
        let s = state.lock().unwrap_or_else(|e| e.into_inner());
        (s.0.clone(), s.1)
    };
    Ok(CompressedObject {
        key: path.key.to_string(),
        encoding: ENCODING.to_string(),
        original_size,
        stored_size: put.size,
        sha256: put.sha256,
        original_sha256: hex::encode(hasher.finalize()),
        etag: put.etag,
    })
}

/// Compress `input` into the channel in whole chunks (the blocking half of the encoders).
fn pump<R: Read>(input: R, tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>) {
    let input = std::io::BufReader::with_capacity(CHUNK, input);
    let mut enc = flate2::read::GzEncoder::new(input, Compression::new(LEVEL));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut filled = 0;
        let result = loop {
            match enc.read(&mut buf[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if filled > 0
            && tx
                .blocking_send(Ok(Bytes::copy_from_slice(&buf[..filled])))
                .is_err()
        {
            return; // the reader was dropped
        }
        match result {
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            Ok(()) if filled < buf.len() => return, // end of input
            Ok(()) => {}
        }
    }
}

/// Pack the folder `dir` into the gzipped tar `out` (written beside it under a temporary
/// name, then moved into place); returns the archive's size. Symbolic links are stored as
/// links, never followed, so nothing outside `dir` is packed.
pub async fn tar_gz_folder(dir: &Path, out: &Path) -> Result<u64> {
    let (dir, out_path) = (dir.to_path_buf(), out.to_path_buf());
    let out = out_path.clone();
    tokio::task::spawn_blocking(move || {
        let io = |what: &str, p: &Path, e: std::io::Error| {
            local_error(
                ErrorKind::Other,
                p,
                format!("{what}: {e}"),
                "check the path and try again",
            )
        };
        if !dir.is_dir() {
            return Err(local_error(
                ErrorKind::NotFound,
                &dir,
                "is not a folder",
                "pass the folder to pack",
            ));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".stowage-")
            .suffix(".part")
            .tempfile_in(&parent)
            .map_err(|e| io("creating a temporary file", &parent, e))?;
        let writer = std::io::BufWriter::with_capacity(CHUNK, temp.as_file());
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            writer,
            Compression::new(LEVEL),
        ));
        tar.follow_symlinks(false);
        tar.append_dir_all(".", &dir)
            .map_err(|e| io("packing", &dir, e))?;
        let gz = tar.into_inner().map_err(|e| io("packing", &dir, e))?;
        let writer = gz.finish().map_err(|e| io("writing", &out, e))?;
        writer
            .into_inner()
            .map_err(|e| io("writing", &out, e.into_error()))?
            .sync_all()
            .map_err(|e| io("writing", &out, e))?;
        temp.persist(&out)
            .map_err(|e| io("moving into place", &out, e.error))?;
        let size = std::fs::metadata(&out)
            .map_err(|e| io("reading", &out, e))?
            .len();
        Ok(size)
    })
    .await
    .map_err(|e| {
        local_error(
            ErrorKind::Other,
            &out_path,
            format!("packing: {e}"),
            "try again",
        )
    })?
}

/// Whether `p` stays below the folder it is relative to: no root, no prefix, no `..`.
fn stays_inside(p: &Path) -> bool {
    p.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Unpack the gzipped tar `archive` into `dest` (created if missing). Entries that would land
/// outside `dest` — absolute paths, `..`, links pointing out — and device files are refused
/// with an error naming the entry; entries before it may already be unpacked.
pub async fn untar_gz(archive: &Path, dest: &Path) -> Result<()> {
    let (archive_path, dest) = (archive.to_path_buf(), dest.to_path_buf());
    let archive = archive_path.clone();
    tokio::task::spawn_blocking(move || {
        let bad = |entry: &str, why: &str| {
            local_error(
                ErrorKind::Integrity,
                &archive,
                format!("refusing entry `{entry}`: {why}"),
                "the archive is damaged or unsafe; nothing outside the destination was written",
            )
        };
        let io = |what: &str, p: &Path, e: std::io::Error| {
            local_error(
                ErrorKind::Other,
                p,
                format!("{what}: {e}"),
                "check the archive and the destination",
            )
        };
        let file = std::fs::File::open(&archive).map_err(|e| io("opening", &archive, e))?;
        let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(CHUNK, file));
        let mut tar = tar::Archive::new(gz);
        tar.set_preserve_permissions(false);
        std::fs::create_dir_all(&dest).map_err(|e| io("creating", &dest, e))?;
        for entry in tar.entries().map_err(|e| io("reading", &archive, e))? {
            let mut entry = entry.map_err(|e| io("reading", &archive, e))?;
            let path = entry
                .path()
                .map_err(|e| io("reading", &archive, e))?
                .into_owned();
            let name = path.display().to_string();
            if !stays_inside(&path) {
                return Err(bad(&name, "its path leaves the destination"));
            }
            use tar::EntryType as T;
            match entry.header().entry_type() {
                T::Regular | T::Continuous | T::Directory => {}
                T::Symlink | T::Link => {
                    // A link target without `..` and not absolute can only point further in.
                    let target = entry
                        .link_name()
                        .map_err(|e| io("reading", &archive, e))?
                        .map(|t| t.into_owned());
                    if !target.as_deref().is_some_and(stays_inside) {
                        return Err(bad(&name, "it links outside the destination"));
                    }
                }
                T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
                other => {
                    return Err(bad(
                        &name,
                        &format!("entries of type {other:?} are not unpacked"),
                    ))
                }
            }
            let unpacked = entry
                .unpack_in(&dest)
                .map_err(|e| io(&format!("unpacking `{name}`"), &archive, e))?;
            if !unpacked {
                return Err(bad(&name, "its path leaves the destination"));
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| {
        local_error(
            ErrorKind::Other,
            &archive_path,
            format!("unpacking: {e}"),
            "try again",
        )
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use stowage_store::local::LocalStore;

    use crate::testdata;
    use crate::transfer::{get_files, GetFilesOptions, GetItem};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn chunks(data: Vec<u8>, size: usize) -> BoxStream<'static, stowage_store::Result<Bytes>> {
        let parts: Vec<stowage_store::Result<Bytes>> = data
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts).boxed()
    }

    async fn gunzip_all(data: Vec<u8>, limits: GunzipLimits) -> stowage_store::Result<Vec<u8>> {
        let parts: Vec<Bytes> = gunzip_stream_limited(chunks(data, 7000), "b/x.json.gz", limits)
            .try_collect()
            .await?;
        Ok(parts.concat())
    }

    #[test]
    fn large_training_results_beat_gzip_6_and_round_trip() {
        // The lock is taken outside the runtime: it is a std mutex.
        let _heavy = testdata::heavy();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(large_round_trip());
    }

    async fn large_round_trip() {
        let path = testdata::large_training_results();
        let original = std::fs::metadata(path).unwrap().len();
        assert!(
            original > 140_000_000 && original < 170_000_000,
            "{original}"
        );
        let gzip = std::process::Command::new("gzip")
            .args(["-6", "-c"])
            .stdin(std::fs::File::open(path).unwrap())
            .output()
            .expect("gzip is installed");
        assert!(gzip.status.success());

        let file = tokio::fs::File::open(path).await.unwrap();
        let mut compressed = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut gzip_reader(file), &mut compressed)
            .await
            .unwrap();
        assert!(
            compressed.len() <= gzip.stdout.len(),
            "ours {} > gzip -6 {}",
            compressed.len(),
            gzip.stdout.len()
        );
        let saving = 1.0 - compressed.len() as f64 / original as f64;
        assert!((0.7..0.9).contains(&saving), "saving {saving}");

        // Byte-identical: compare SHA-256 of the decompressed stream with the file's.
        let mut out = gunzip_stream(chunks(compressed, 1 << 20), "b/results.json.gz");
        let (mut got, mut n) = (Sha256::new(), 0u64);
        while let Some(c) = out.try_next().await.unwrap() {
            got.update(&c);
            n += c.len() as u64;
        }
        let mut want = Sha256::new();
        std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut want).unwrap();
        assert_eq!(n, original);
        assert_eq!(got.finalize(), want.finalize());
    }

    #[test]
    fn packed_formats_are_never_recompressed() {
        let mb = 1 << 20;
        let mut safetensors = 80u64.to_le_bytes().to_vec();
        safetensors
            .extend_from_slice(b"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        let samples: Vec<(&str, Vec<u8>)> = vec![
            ("model.pt", b"PK\x03\x04archive/data.pkl".to_vec()),
            ("legacy.pt", b"\x80\x02}q\x00(X".to_vec()),
            ("model.safetensors", safetensors.clone()),
            ("weights.bin", safetensors),
            ("model.h5", b"\x89HDF\r\n\x1a\n\0\0\0".to_vec()),
            ("data.parquet", b"PAR1\x15\x04".to_vec()),
            ("bundle.zip", b"PK\x03\x04\x14\0".to_vec()),
            ("results.json.gz", gz(b"{\"a\":1}")),
            // Content wins over a misleading extension.
            ("actually-gzip.json", gz(b"{\"a\":1}")),
            ("x.zst", vec![0x28, 0xb5, 0x2f, 0xfd, 0]),
            ("x.xz", vec![0xfd, b'7', b'z', b'X', b'Z', 0]),
            ("x.bz2", b"BZh91AY&SY".to_vec()),
            ("x.png", b"\x89PNG\r\n\x1a\n".to_vec()),
            ("x.jpg", vec![0xff, 0xd8, 0xff, 0xe0]),
            // An extension alone is enough for formats without a magic (ONNX) or text-like heads.
            ("model.onnx", b"\x08\x07\x12\x07pytorch".to_vec()),
        ];
        for (name, head) in samples {
            let d = decide(Path::new(name), &head, 10 * mb, DEFAULT_THRESHOLD);
            assert!(!d.compress, "{name}: {}", d.reason);
        }
        // And on disk, through sniff.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pt");
        std::fs::write(&p, b"PK\x03\x04rest").unwrap();
        let head = sniff(&p).unwrap();
        assert!(!decide(&p, &head, 10 * mb, DEFAULT_THRESHOLD).compress);
    }

    #[test]
    fn text_above_the_threshold_is_compressed() {
        let json = b"  {\"model_type\": \"Dense\", \"metrics\": {\"loss\": 0.1}}";
        for name in ["r.json", "r.jsonl", "t.csv", "notes.txt", "no-extension"] {
            let d = decide(Path::new(name), json, 1 << 20, DEFAULT_THRESHOLD);
            assert!(d.compress, "{name}: {}", d.reason);
        }
        let d = decide(Path::new("r.json"), json, 1000, DEFAULT_THRESHOLD);
        assert!(
            !d.compress && d.reason.contains("threshold"),
            "{}",
            d.reason
        );
        let binary = [0u8, 1, 2, 3, 200, 201];
        assert!(!decide(Path::new("x.bin"), &binary, 1 << 20, DEFAULT_THRESHOLD).compress);
        // A multi-byte character cut by the 8 KiB window is still text.
        let mut cut = "é".repeat(SNIFF_LEN / 2).into_bytes();
        cut.truncate(SNIFF_LEN - 1);
        assert!(decide(Path::new("t.txt"), &cut, 1 << 20, DEFAULT_THRESHOLD).compress);
        assert_eq!(stored_key("a/b.json"), "a/b.json.gz");
        assert!(is_transparent("a/b.json.gz") && !is_transparent("a/b.tar.gz"));
    }

    #[tokio::test]
    async fn truncated_and_corrupt_gzip_are_clear_integrity_errors() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let good = gz(&data);
        assert_eq!(
            gunzip_all(good.clone(), GunzipLimits::default())
                .await
                .unwrap(),
            data
        );

        let truncated = good[..good.len() / 2].to_vec();
        let mut corrupt = good.clone();
        let mid = corrupt.len() / 2;
        for b in &mut corrupt[mid..mid + 64] {
            *b ^= 0x5a;
        }
        let mut bad_trailer = good.clone();
        let n = bad_trailer.len();
        bad_trailer[n - 6] ^= 1; // the CRC
        for (what, body) in [
            ("truncated", truncated),
            ("corrupt", corrupt),
            ("bad CRC", bad_trailer),
            ("empty", Vec::new()),
        ] {
            let e = gunzip_all(body, GunzipLimits::default()).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Integrity, "{what}: {e}");
            let msg = e.to_string();
            assert!(msg.contains("b/x.json.gz"), "{what}: {msg}");
            assert!(msg.contains("stored object is damaged"), "{what}: {msg}");
            assert!(msg.contains("local copy was not touched"), "{what}: {msg}");
        }
    }

    #[tokio::test]
    async fn decompression_bombs_are_refused() {
        let zeros = gz(&vec![0u8; 50 << 20]);
        let e = gunzip_all(
            zeros.clone(),
            GunzipLimits {
                max_ratio: 100,
                max_output: None,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("decompression bomb"), "{e}");
        let e = gunzip_all(
            zeros,
            GunzipLimits {
                max_ratio: DEFAULT_MAX_RATIO,
                max_output: Some(1 << 20),
            },
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("recorded original size"), "{e}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn tar_gz_folder_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("run-42");
        std::fs::create_dir_all(src.join("checkpoints/epoch-1")).unwrap();
        std::fs::write(src.join("results.json"), b"{\"loss\":0.1}").unwrap();
        std::fs::write(src.join("checkpoints/epoch-1/w.bin"), vec![7u8; 100_000]).unwrap();
        std::os::unix::fs::symlink("results.json", src.join("latest.json")).unwrap();
        let archive = dir.path().join("run-42.tar.gz");
        let size = tar_gz_folder(&src, &archive).await.unwrap();
        assert_eq!(size, std::fs::metadata(&archive).unwrap().len());
        let out = dir.path().join("out");
        untar_gz(&archive, &out).await.unwrap();
        assert_eq!(
            std::fs::read(out.join("results.json")).unwrap(),
            b"{\"loss\":0.1}"
        );
        assert_eq!(
            std::fs::read(out.join("checkpoints/epoch-1/w.bin")).unwrap(),
            vec![7u8; 100_000]
        );
        assert_eq!(
            std::fs::read_link(out.join("latest.json")).unwrap(),
            Path::new("results.json")
        );
    }

    /// A tar with one entry whose name (and link target) bypass the tar crate's own checks.
    fn evil_archive(path: &Path, name: &[u8], kind: tar::EntryType, link: &[u8]) {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(if kind == tar::EntryType::Regular {
            4
        } else {
            0
        });
        header.set_cksum();
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            Compression::new(6),
        );
        let mut b = tar::Builder::new(gz);
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"evil"
        } else {
            b""
        };
        b.append(&header, data).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }

    #[tokio::test]
    async fn malicious_archives_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest");
        use tar::EntryType as T;
        let cases: [(&[u8], T, &[u8]); 4] = [
            (b"../escaped.txt", T::Regular, b""),
            (b"/tmp/stowage-absolute-escape.txt", T::Regular, b""),
            (b"link", T::Symlink, b"../../etc"),
            (b"abs-link", T::Symlink, b"/etc/passwd"),
        ];
        for (i, (name, kind, link)) in cases.into_iter().enumerate() {
            let archive = dir.path().join(format!("evil-{i}.tar.gz"));
            evil_archive(&archive, name, kind, link);
            let e = untar_gz(&archive, &dest).await.unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("refusing entry"), "{msg}");
            assert!(msg.contains(&format!("evil-{i}.tar.gz")), "{msg}");
        }
        assert!(!dir.path().join("escaped.txt").exists());
        assert!(!Path::new("/tmp/stowage-absolute-escape.txt").exists());
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn put_compressed_then_get_decompresses_transparently() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("store")).unwrap();
        store
            .create_bucket("bkt", &Default::default())
            .await
            .unwrap();
        let src = dir.path().join("results.json");
        let content = format!("{{\"rows\":[{}]}}", "[0.125,0.25],".repeat(20_000) + "[0]");
        std::fs::write(&src, &content).unwrap();
        let dest = ObjectPath::new("bkt", "runs/results.json").unwrap();
        let put = put_compressed(&store, &dest, &src, false).await.unwrap();
        assert_eq!(put.key, "runs/results.json.gz");
        assert_eq!(put.original_size, content.len() as u64);
        assert!(put.ratio() < 0.1, "{}", put.ratio());
        assert_eq!(
            put.original_sha256,
            stowage_store::sha256_hex(content.as_bytes())
        );

        let get = |key: &str, file: &Path, raw: bool, force: bool| {
            let item = GetItem {
                bucket: "bkt".into(),
                key: stowage_store::Key::parse(key).unwrap(),
                file: file.to_path_buf(),
            };
            let options = GetFilesOptions {
                raw,
                force,
                ..Default::default()
            };
            let store = &store;
            async move {
                get_files(store, &[item], &options, None)
                    .await
                    .pop()
                    .unwrap()
            }
        };
        // The .gz key, decompressed; the stored SHA-256 is the one verified.
        let out = dir.path().join("a.json");
        let o = get("runs/results.json.gz", &out, false, false)
            .await
            .unwrap();
        assert!(o.decompressed && o.verified);
        assert_eq!(
            (o.size, o.stored_size),
            (put.original_size, put.stored_size)
        );
        assert_eq!(o.sha256.as_deref(), Some(put.sha256.as_str()));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), content);
        // The name without .gz falls back to the .gz object.
        let out = dir.path().join("b.json");
        let o = get("runs/results.json", &out, false, false).await.unwrap();
        assert_eq!(o.key, "runs/results.json.gz");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), content);
        // --raw keeps the stored bytes.
        let out = dir.path().join("c.json.gz");
        let o = get("runs/results.json.gz", &out, true, false)
            .await
            .unwrap();
        assert!(!o.decompressed);
        assert_eq!(std::fs::metadata(&out).unwrap().len(), put.stored_size);

        // A damaged object: an error, no partial file, an existing file untouched.
        let stored = dir.path().join("store/bkt/runs/results.json.gz");
        let bytes = std::fs::read(&stored).unwrap();
        let bad = ObjectPath::new("bkt", "runs/bad.json.gz").unwrap();
        store
            .put(
                &bad,
                bytes[..bytes.len() / 2].to_vec().into(),
                &Default::default(),
            )
            .await
            .unwrap();
        let keep = dir.path().join("keep.json");
        std::fs::write(&keep, b"precious").unwrap();
        let e = get("runs/bad.json.gz", &keep, false, true)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), Some(&ErrorKind::Integrity), "{e}");
        assert!(e.to_string().contains("stored object is damaged"), "{e}");
        assert_eq!(std::fs::read(&keep).unwrap(), b"precious");
        let fresh = dir.path().join("fresh.json");
        assert!(get("runs/bad.json.gz", &fresh, false, false).await.is_err());
        assert!(!fresh.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
