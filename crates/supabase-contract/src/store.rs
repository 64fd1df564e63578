//! The state behind the server: an in-memory index (buckets, objects, TUS uploads) persisted to
//! `index.json`, and immutable blob files named by object version under `blobs/`.
//!
//! Every mutation takes the one index mutex for a short, non-async section; bodies are spooled
//! to `tmp/` first and only renamed into `blobs/` under the lock, so readers never see a partial
//! object. A blob is never rewritten (an overwrite gets a new version), and downloads open their
//! file while holding the lock, so a concurrent overwrite or delete cannot pull it away.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// A bucket row plus its objects, keyed by object name.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Bucket {
    pub id: String,
    pub name: String,
    pub public: bool,
    pub file_size_limit: Option<u64>,
    pub allowed_mime_types: Option<Vec<String>>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Creation order: the real `GET /bucket` answers in insertion order.
    pub seq: u64,
    pub objects: BTreeMap<String, Obj>,
    /// Strict mode: folder entries left behind by deleting an object whose key ends in `/`
    /// (full folder paths without the trailing `/`), as the real server leaves them.
    #[serde(default)]
    pub phantoms: BTreeSet<String>,
}

/// An object row; times are Unix microseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Obj {
    pub id: String,
    /// Also the blob file name.
    pub version: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_accessed_at: i64,
    pub mimetype: String,
    pub cache_control: String,
    pub size: u64,
    /// Quoted md5 hex, as the file backend reports it.
    pub etag: String,
    pub user_metadata: Option<Value>,
}

/// A TUS upload in progress (or finished: HEAD still answers for it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TusUpload {
    pub bucket: String,
    pub key: String,
    pub version: String,
    pub length: Option<u64>,
    pub offset: u64,
    pub content_type: Option<String>,
    pub cache_control: String,
    pub completed: bool,
    /// User metadata from the `metadata` entry of Upload-Metadata (JSON), as storage keeps it.
    #[serde(default)]
    pub user_metadata: Option<serde_json::Value>,
}

/// Everything persisted in `index.json`.
#[derive(Default, Debug, Serialize, Deserialize)]
pub(crate) struct Index {
    pub buckets: BTreeMap<String, Bucket>,
    pub uploads: BTreeMap<String, TusUpload>,
    pub next_seq: u64,
}

/// Per-upload PATCH serialization plus the running md5 of the bytes received so far.
pub(crate) type TusSlot = Arc<tokio::sync::Mutex<Option<Md5>>>;

/// Shared server state.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub secret: Vec<u8>,
    /// Reproduce the recorded server's defects too (see [`crate::Mode::Strict`]).
    pub strict: bool,
    index: Mutex<Index>,
    dirty: Notify,
    tus_slots: Mutex<HashMap<String, TusSlot>>,
}

/// Current time in Unix microseconds, strictly increasing across calls, so rows created in
/// the same millisecond still sort by creation (PostgreSQL keeps microseconds too).
pub(crate) fn now_us() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let real = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
    let prev = LAST.fetch_max(real, std::sync::atomic::Ordering::SeqCst);
    if prev < real {
        real
    } else {
        LAST.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }
}

/// Current Unix time in seconds, for JWT claims.
pub(crate) fn now_unix() -> i64 {
    now_us() / 1_000_000
}

impl Shared {
    pub(crate) fn open(dir: &Path, secret: &str, strict: bool) -> anyhow::Result<Self> {
        for sub in ["blobs", "tmp", "tus"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        // Leftovers of an interrupted upload are garbage.
        for e in std::fs::read_dir(dir.join("tmp"))? {
            let _ = std::fs::remove_file(e?.path());
        }
        let path = dir.join("index.json");
        let index = if path.exists() {
            serde_json::from_slice(&std::fs::read(&path)?)?
        } else {
            Index::default()
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            secret: secret.as_bytes().to_vec(),
            strict,
            index: Mutex::new(index),
            dirty: Notify::new(),
            tus_slots: Mutex::new(HashMap::new()),
        })
    }

    /// Locks the index; a panic elsewhere must not wedge the test server, so poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the flusher to persist the index soon.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.notify_one();
    }

    pub(crate) async fn dirty_notified(&self) {
        self.dirty.notified().await;
    }

    /// Writes `index.json` atomically (temp file + rename).
    pub(crate) fn flush(&self) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&*self.lock()).map_err(std::io::Error::other)?;
        let tmp = self.dir.join("index.json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, self.dir.join("index.json"))
    }

    pub(crate) fn blob_path(&self, version: &str) -> PathBuf {
        self.dir.join("blobs").join(version)
    }

    pub(crate) fn tus_part_path(&self, version: &str) -> PathBuf {
        self.dir.join("tus").join(format!("{version}.part"))
    }

    pub(crate) fn tus_slot(&self, id: &str) -> TusSlot {
        let mut m = self.tus_slots.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(id.to_string()).or_default().clone()
    }

    pub(crate) fn drop_tus_slot(&self, id: &str) {
        self.tus_slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Removes blob files no longer referenced; called outside the lock.
    pub(crate) fn remove_blobs(&self, versions: impl IntoIterator<Item = String>) {
        for v in versions {
            let _ = std::fs::remove_file(self.blob_path(&v));
        }
    }
}

/// A request body written to `tmp/`.
pub(crate) struct Spooled {
    pub path: PathBuf,
    pub size: u64,
    pub etag: String,
}

impl Spooled {
    /// Deletes the temp file of an upload that was refused after spooling.
    pub(crate) fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(crate) enum SpoolError {
    TooLarge,
    Io(std::io::Error),
    /// The client went away or sent a malformed body.
    Body,
}

/// Reads and discards the rest of a body so the client can read our early answer cleanly.
pub(crate) async fn drain<S, E>(mut stream: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    while let Some(Ok(_)) = stream.next().await {}
}

/// Streams a body to a temp file, hashing it; stops writing (but keeps draining) past `limit`.
pub(crate) async fn spool<S, E>(
    shared: &Shared,
    mut stream: S,
    limit: u64,
) -> Result<Spooled, SpoolError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let path = shared
        .dir
        .join("tmp")
        .join(uuid::Uuid::new_v4().to_string());
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(SpoolError::Io)?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut md5 = Md5::new();
    let mut size = 0u64;
    let fail = |e: SpoolError, path: &Path| {
        let _ = std::fs::remove_file(path);
        e
    };
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(fail(SpoolError::Body, &path));
        };
        size += chunk.len() as u64;
        if size > limit {
            drop(out);
            drain(stream).await;
            return Err(fail(SpoolError::TooLarge, &path));
        }
        md5.update(&chunk);
        if let Err(e) = out.write_all(&chunk).await {
            return Err(fail(SpoolError::Io(e), &path));
        }
    }
    if let Err(e) = out.flush().await {
        return Err(fail(SpoolError::Io(e), &path));
    }
    Ok(Spooled {
        path,
        size,
        etag: format!("\"{}\"", hex::encode(md5.finalize())),
    })
}

/// Formats Unix µs as the ISO form PostgreSQL/JS print (`2026-11-23T06:25:33.486Z`).
pub(crate) fn iso(us: i64) -> String {
    let t = dt(us);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Formats Unix µs as an HTTP date (`Mon, 23 Nov 2026 06:25:33 GMT`).
pub(crate) fn http_date(us: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = dt(us);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[t.month() as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn dt(us: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

impl Obj {
    /// The `metadata` column: what the storage backend reported for the blob.
    pub(crate) fn metadata_json(&self) -> Value {
        json!({
            "eTag": self.etag,
            "size": self.size,
            "mimetype": self.mimetype,
            "cacheControl": self.cache_control,
            "lastModified": iso(self.updated_at),
            "contentLength": self.size,
            "httpStatusCode": 200,
        })
    }

    /// The full `storage.objects` row, as copy and multi-delete return it.
    pub(crate) fn row_json(&self, bucket: &str, name: &str) -> Value {
        json!({
            "name": name,
            "bucket_id": bucket,
            "owner": "",
            "owner_id": "",
            "version": self.version,
            "id": self.id,
            "updated_at": iso(self.updated_at),
            "created_at": iso(self.created_at),
            "last_accessed_at": iso(self.last_accessed_at),
            "metadata": self.metadata_json(),
            "user_metadata": self.user_metadata,
        })
    }

    /// The `/object/info` answer.
    pub(crate) fn info_json(&self, bucket: &str, name: &str) -> Value {
        json!({
            "id": self.id,
            "name": name,
            "version": self.version,
            "bucket_id": bucket,
            "size": self.size,
            "content_type": self.mimetype,
            "cache_control": self.cache_control,
            "etag": self.etag,
            "metadata": self.user_metadata,
            "last_modified": iso(self.updated_at),
            "created_at": iso(self.created_at),
        })
    }
}

impl Bucket {
    /// The bucket row; `with_type` for the list form (`GET /bucket`), which has a `type` field.
    pub(crate) fn json(&self, with_type: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "owner": "",
            "public": self.public,
            "file_size_limit": self.file_size_limit,
            "allowed_mime_types": self.allowed_mime_types,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        });
        if with_type {
            v["type"] = json!("STANDARD");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // 2026-11-23T06:25:33.486Z
        let us = 1_795_415_133_486_123;
        assert_eq!(iso(us), "2026-11-23T06:25:33.486Z");
        assert_eq!(http_date(us), "Mon, 23 Nov 2026 06:25:33 GMT");
    }
}
