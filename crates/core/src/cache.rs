//! The local download cache (M9): content-addressed by SHA-256 under the user cache directory
//! (`STOWAGE_CACHE_DIR` overrides it), with a small SQLite index of its own
//! (`<cache dir>/index.sqlite3`, not the catalog) that remembers each entry's size, when it
//! was stored and when it was last used.
//!
//! - Entries go in through a temporary file that is hashed on the way and renamed into place
//!   only when its SHA-256 is the one asked for: the cache never holds a torn or wrong file
//!   under a name.
//! - Entries are served by copying them out while hashing again; an entry whose content no
//!   longer matches its name (disk corruption, a hand edit) is dropped and reported as a miss,
//!   so the caller fetches it again: a corrupt entry is never served.
//! - An entry unused for longer than `ttl` is expired (not served, removed by the next
//!   eviction); when the total passes `max_size`, the least recently used entries go first.
//!
//! ```toml
//! [cache]
//! ttl = "7d"          # default
//! max_size = "10 GiB" # default
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stowage_store::ErrorKind;

use crate::config::CacheConfig;
use crate::error::{local_error, Error, Result};
use crate::paths::Paths;

/// One cached download.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CacheEntry {
    /// SHA-256 of the content, its name in the cache.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// What it was downloaded as: `profile:bucket/key`.
    pub source: String,
    /// When it was stored (Unix ns).
    pub stored_at_ns: i64,
    /// When it was last served or stored (Unix ns).
    pub last_used_ns: i64,
    /// Whether it is past the TTL.
    pub expired: bool,
}

/// A download verified as it was written, to enter in the cache (see
/// [`Cache::insert_downloads`]).
#[derive(Clone, Debug)]
pub struct Download {
    /// The file written.
    pub file: PathBuf,
    /// SHA-256 of its content.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// What it was downloaded as: `profile:bucket/key`.
    pub source: String,
}

/// What [`Cache::clean`] removed (or would remove).
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct Cleaned {
    /// The entries removed.
    pub removed: Vec<CacheEntry>,
    /// Their bytes.
    pub bytes: u64,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// Which entries [`Cache::clean`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CleanScope {
    /// Every entry.
    All,
    /// Entries past the TTL.
    Expired,
    /// Entries past the TTL, then least recently used ones until the total fits the cap.
    ToFit,
}

/// The download cache.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    conn: Mutex<Connection>,
    config: CacheConfig,
}

fn now_ns() -> i64 {
    crate::units::now_ns()
}

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    local_error(
        ErrorKind::Other,
        path,
        format!("the cache index cannot be used: {e}"),
        "run `stowage cache clean --all` to start the cache afresh",
    )
}

fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    crate::transfer::io_local(path, what, e)
}

const COPY_BUF: usize = 1 << 20;

impl Cache {
    /// Open (creating) the cache in `paths.cache_dir` with `config`'s limits.
    pub fn open(paths: &Paths, config: &CacheConfig) -> Result<Cache> {
        Cache::open_in(&paths.cache_dir, config)
    }

    /// Open (creating) the cache in `dir`.
    pub fn open_in(dir: &Path, config: &CacheConfig) -> Result<Cache> {
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| io_error(&blobs, "creating the cache", e))?;
        let index = dir.join("index.sqlite3");
        let conn = Connection::open(&index).map_err(|e| db_error(&index, e))?;
        // synchronous = NORMAL under WAL: no sync per commit. A crash can lose the last
        // entries' rows, which only turns them into misses (their files are then unknown).
        conn.busy_timeout(Duration::from_secs(10))
            .and_then(|_| {
                conn.execute_batch(
                    "PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     CREATE TABLE IF NOT EXISTS entries (
                         sha256    TEXT PRIMARY KEY,
                         size      INTEGER NOT NULL,
                         source    TEXT NOT NULL,
                         stored_at INTEGER NOT NULL,
                         last_used INTEGER NOT NULL
                     );
                     CREATE INDEX IF NOT EXISTS entries_by_use ON entries(last_used);",
                )
            })
            .map_err(|e| db_error(&index, e))?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            conn: Mutex::new(conn),
            config: config.clone(),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.sqlite3")
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(&sha256[..2]).join(sha256)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, last_used_ns: i64, now: i64) -> bool {
        now.saturating_sub(last_used_ns) > self.config.ttl.as_nanos().min(i64::MAX as u128) as i64
    }

    fn row(&self, sha256: &str) -> Result<Option<CacheEntry>> {
        let now = now_ns();
        self.conn()
            .query_row(
                "SELECT sha256, size, source, stored_at, last_used FROM entries WHERE sha256 = ?1",
                [sha256],
                |r| {
                    Ok(CacheEntry {
                        sha256: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        source: r.get(2)?,
                        stored_at_ns: r.get(3)?,
                        last_used_ns: r.get(4)?,
                        expired: false,
                    })
                },
            )
            .optional()
            .map(|o| {
                o.map(|mut e| {
                    e.expired = self.expired(e.last_used_ns, now);
                    e
                })
            })
            .map_err(|e| db_error(&self.index_path(), e))
    }

    /// Forget an entry and remove its file.
    pub fn remove(&self, sha256: &str) -> Result<()> {
        if !valid_sha(sha256) {
            return Ok(());
        }
        let _ = std::fs::remove_file(self.blob(sha256));
        self.conn()
            .execute("DELETE FROM entries WHERE sha256 = ?1", [sha256])
            .map_err(|e| db_error(&self.index_path(), e))?;
        Ok(())
    }

    /// Whether a fresh entry with this SHA-256 and size is cached (its content is checked only
    /// when served).
    pub fn contains(&self, sha256: &str, size: u64) -> Result<bool> {
        if !valid_sha(sha256) {
            return Ok(false);
        }
        Ok(match self.row(sha256)? {
            Some(e) if !e.expired && e.size == size => self.blob(sha256).is_file(),
            _ => false,
        })
    }

    /// Copy the entry `sha256` of `size` bytes to `dest` (through a synced temporary file
    /// beside it, never replacing an existing file unless `force`), hashing on the way. Returns
    /// false, with nothing written, when there is no fresh entry, and drops an entry whose
    /// content does not match its SHA-256 (also false): the caller downloads instead.
    pub fn serve(&self, sha256: &str, size: u64, dest: &Path, force: bool) -> Result<bool> {
        self.serve_into(sha256, size, dest, force, None)
    }

    /// [`Cache::serve`]; with a landing, the verified copy is handed to it (as item `index`)
    /// to be synced and moved into place with the rest of its batch.
    pub(crate) fn serve_into(
        &self,
        sha256: &str,
        size: u64,
        dest: &Path,
        force: bool,
        landing: Option<(&crate::transfer::Landing, usize)>,
    ) -> Result<bool> {
        if !self.contains(sha256, size)? {
            return Ok(false);
        }
        let blob = self.blob(sha256);
        let mut src = match std::fs::File::open(&blob) {
            Ok(f) => f,
            Err(_) => {
                self.remove(sha256)?;
                return Ok(false);
            }
        };
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "creating the folder", e))?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(".stowage-").suffix(".part");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut temp = builder
            .tempfile_in(&dir)
            .map_err(|e| io_error(&dir, "creating a temporary file", e))?;
        let (got, n) = copy_hashing(&mut src, temp.as_file_mut())
            .map_err(|e| io_error(dest, "writing from the cache", e))?;
        if got != sha256 || n != size {
            // Corrupt: never served. The temporary file goes with `temp`.
            self.remove(sha256)?;
            return Ok(false);
        }
        if let Some((landing, index)) = landing {
            landing.push(index, temp.into_temp_path(), dest, force);
        } else if force {
            temp.as_file()
                .sync_all()
                .map_err(|e| io_error(dest, "writing from the cache", e))?;
            temp.persist(dest)
                .map_err(|e| io_error(dest, "moving into place", e.error))?;
        } else {
            temp.as_file()
                .sync_all()
                .map_err(|e| io_error(dest, "writing from the cache", e))?;
            temp.persist_noclobber(dest).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    local_error(
                        ErrorKind::AlreadyExists,
                        dest,
                        "the local file appeared meanwhile",
                        "pass --force to replace it",
                    )
                } else {
                    io_error(dest, "moving into place", e.error)
                }
            })?;
        }
        self.conn()
            .execute(
                "UPDATE entries SET last_used = ?2 WHERE sha256 = ?1",
                params![sha256, now_ns()],
            )
            .map_err(|e| db_error(&self.index_path(), e))?;
        Ok(true)
    }

    /// Store a copy of `file`, whose content must have SHA-256 `sha256` (checked first: a
    /// mismatch stores nothing and is an integrity error), then evict what the TTL and the
    /// size cap require. A file larger than the cap is not cached (Ok(false)).
    pub fn insert_file(&self, file: &Path, sha256: &str, source: &str) -> Result<bool> {
        if !valid_sha(sha256) {
            return Err(Error::Usage(format!("`{sha256}` is not a SHA-256")));
        }
        let len = std::fs::metadata(file)
            .map_err(|e| io_error(file, "reading", e))?
            .len();
        if len > self.config.max_size {
            return Ok(false);
        }
        let mut src = std::fs::File::open(file).map_err(|e| io_error(file, "reading", e))?;
        let (got, size) = copy_hashing(&mut src, &mut std::io::sink())
            .map_err(|e| io_error(file, "reading", e))?;
        if got != sha256 {
            return Err(local_error(
                ErrorKind::Integrity,
                file,
                format!("its content has SHA-256 {got}, not {sha256}; it was not cached"),
                "the file changed while it was being cached; download it again",
            ));
        }
        if !self.place(file, sha256, size)? {
            return Ok(false);
        }
        self.record(&[(sha256, size, source)])?;
        Ok(true)
    }

    /// Enter downloads that were verified as they were written (their content has the
    /// SHA-256 and size given, so they are not read again): each file becomes a second name
    /// of its entry, and the entries are recorded in one transaction with one eviction check
    /// for the whole batch. Returns, by position, why a download could not be cached.
    pub fn insert_downloads(&self, downloads: &[Download]) -> Vec<(usize, String)> {
        let mut failed = Vec::new();
        let mut placed = Vec::with_capacity(downloads.len());
        for (i, d) in downloads.iter().enumerate() {
            if !valid_sha(&d.sha256) {
                failed.push((i, format!("`{}` is not a SHA-256", d.sha256)));
                continue;
            }
            match self.place(&d.file, &d.sha256, d.size) {
                Ok(true) => placed.push(i),
                Ok(false) => {}
                Err(e) => failed.push((i, e.to_string())),
            }
        }
        let rows: Vec<_> = placed
            .iter()
            .map(|&i| {
                let d = &downloads[i];
                (d.sha256.as_str(), d.size, d.source.as_str())
            })
            .collect();
        if let Err(e) = self.record(&rows) {
            failed.extend(placed.iter().map(|&i| (i, e.to_string())));
        }
        failed
    }

    /// Put the `size`-byte `file` with SHA-256 `sha256` (already checked) in the cache under
    /// its name: a hard link where the file system allows it (no bytes copied), else a copy
    /// through a temporary file, hashed again. False when it is larger than the cap.
    fn place(&self, file: &Path, sha256: &str, size: u64) -> Result<bool> {
        if size > self.config.max_size {
            return Ok(false);
        }
        let blob = self.blob(sha256);
        let dir = blob.parent().expect("blob has a folder").to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "creating the cache", e))?;
        if self.link_in(file, &blob) {
            return Ok(true);
        }
        let mut src = std::fs::File::open(file).map_err(|e| io_error(file, "reading", e))?;
        let mut temp = tempfile::Builder::new()
            .prefix(".in-")
            .tempfile_in(&dir)
            .map_err(|e| io_error(&dir, "creating a temporary file", e))?;
        let (got, n) = copy_hashing(&mut src, temp.as_file_mut())
            .map_err(|e| io_error(&blob, "writing the cache", e))?;
        if got != sha256 || n != size {
            return Err(local_error(
                ErrorKind::Integrity,
                file,
                format!("its content has SHA-256 {got}, not {sha256}; it was not cached"),
                "the file changed while it was being cached; download it again",
            ));
        }
        // Not synced: an entry is verified against its SHA-256 whenever it is served, and
        // one torn by a crash is dropped then, so a sync per entry would buy nothing.
        temp.persist(&blob)
            .map_err(|e| io_error(&blob, "moving into the cache", e.error))?;
        Ok(true)
    }

    /// Make `blob` a second name of `file` (same file system): no bytes copied or written
    /// twice. Safe because an entry is verified whenever it is served: if the file is later
    /// changed in place, the entry no longer matches its SHA-256 and is dropped. A new entry
    /// is one link; an existing one is replaced through a temporary name.
    fn link_in(&self, file: &Path, blob: &Path) -> bool {
        match std::fs::hard_link(file, blob) {
            Ok(()) => return true,
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return false,
            Err(_) => {}
        }
        let dir = blob.parent().expect("blob has a folder");
        let temp = dir.join(format!(
            ".ln-{}-{}",
            std::process::id(),
            LINKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        if std::fs::hard_link(file, &temp).is_err() {
            return false;
        }
        if std::fs::rename(&temp, blob).is_err() {
            let _ = std::fs::remove_file(&temp);
            return false;
        }
        true
    }

    /// Record (or refresh) entries `(sha256, size, source)` in one transaction, then evict
    /// what the TTL and the cap require.
    fn record(&self, rows: &[(&str, u64, &str)]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = now_ns();
        {
            let mut conn = self.conn();
            let tx = conn
                .transaction()
                .map_err(|e| db_error(&self.index_path(), e))?;
            {
                let mut upsert = tx
                    .prepare_cached(
                        "INSERT INTO entries (sha256, size, source, stored_at, last_used)
                         VALUES (?1, ?2, ?3, ?4, ?4)
                         ON CONFLICT (sha256) DO UPDATE SET size = excluded.size,
                           source = excluded.source, stored_at = excluded.stored_at,
                           last_used = excluded.last_used",
                    )
                    .map_err(|e| db_error(&self.index_path(), e))?;
                for (sha256, size, source) in rows {
                    upsert
                        .execute(params![sha256, *size as i64, source, now])
                        .map_err(|e| db_error(&self.index_path(), e))?;
                }
            }
            tx.commit().map_err(|e| db_error(&self.index_path(), e))?;
        }
        if self.may_need_cleaning()? {
            self.clean(CleanScope::ToFit, false)?;
        }
        Ok(())
    }

    /// Whether the entries exceed the size cap or one has expired: one aggregate query, so
    /// an insert does not read every entry.
    fn may_need_cleaning(&self) -> Result<bool> {
        let (total, oldest): (i64, Option<i64>) = self
            .conn()
            .query_row(
                "SELECT COALESCE(SUM(size), 0), MIN(last_used) FROM entries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| db_error(&self.index_path(), e))?;
        Ok(
            total as u64 > self.config.max_size
                || oldest.is_some_and(|t| self.expired(t, now_ns())),
        )
    }

    /// Every entry, most recently used first.
    pub fn entries(&self) -> Result<Vec<CacheEntry>> {
        let now = now_ns();
        let conn = self.conn();
        let mut s = conn
            .prepare(
                "SELECT sha256, size, source, stored_at, last_used FROM entries
                 ORDER BY last_used DESC, sha256",
            )
            .map_err(|e| db_error(&self.index_path(), e))?;
        let rows = s
            .query_map([], |r| {
                Ok(CacheEntry {
                    sha256: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    source: r.get(2)?,
                    stored_at_ns: r.get(3)?,
                    last_used_ns: r.get(4)?,
                    expired: false,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| db_error(&self.index_path(), e))?;
        Ok(rows
            .into_iter()
            .map(|mut e| {
                e.expired = self.expired(e.last_used_ns, now);
                e
            })
            .collect())
    }

    /// Bytes held.
    pub fn total(&self) -> Result<u64> {
        Ok(self.entries()?.iter().map(|e| e.size).sum())
    }

    /// Remove entries by `scope` (a dry run only reports them).
    pub fn clean(&self, scope: CleanScope, dry_run: bool) -> Result<Cleaned> {
        let entries = self.entries()?;
        let mut removed = Vec::new();
        let mut kept_total: u64 = 0;
        let mut kept = Vec::new();
        for e in entries {
            if scope == CleanScope::All || e.expired {
                removed.push(e);
            } else {
                kept_total += e.size;
                kept.push(e);
            }
        }
        if scope == CleanScope::ToFit {
            // `kept` is most recently used first: evict from its end.
            while kept_total > self.config.max_size {
                let Some(e) = kept.pop() else { break };
                kept_total -= e.size;
                removed.push(e);
            }
        }
        if !dry_run {
            for e in &removed {
                self.remove(&e.sha256)?;
            }
        }
        Ok(Cleaned {
            bytes: removed.iter().map(|e| e.size).sum(),
            removed,
            dry_run,
        })
    }

    /// Set an entry's last use (tests age entries with it).
    #[doc(hidden)]
    pub fn set_last_used(&self, sha256: &str, at_ns: i64) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE entries SET last_used = ?2 WHERE sha256 = ?1",
                params![sha256, at_ns],
            )
            .map_err(|e| db_error(&self.index_path(), e))?;
        Ok(())
    }

    /// The file holding an entry (tests corrupt it through this).
    #[doc(hidden)]
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blob(sha256)
    }
}

/// Names of links being made into the cache, unique within the process.
static LINKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn valid_sha(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Copy `src` into `dst` in 1 MiB steps, returning the SHA-256 and the byte count.
fn copy_hashing(src: &mut impl Read, dst: &mut impl Write) -> std::io::Result<(String, u64)> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    loop {
        let k = src.read(&mut buf)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
        dst.write_all(&buf[..k])?;
        n += k as u64;
    }
    dst.flush()?;
    Ok((hex::encode(hasher.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cache: &Cache, dir: &Path, content: &[u8]) -> String {
        let sha = stowage_store::sha256_hex(content);
        let f = dir.join(format!("src-{}", &sha[..8]));
        std::fs::write(&f, content).unwrap();
        assert!(cache.insert_file(&f, &sha, "p:b/k").unwrap());
        sha
    }

    fn config(ttl: Duration, max_size: u64) -> CacheConfig {
        CacheConfig { ttl, max_size }
    }

    #[test]
    fn serves_a_hit_and_misses_an_unknown_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(&dir.path().join("c"), &CacheConfig::default()).unwrap();
        let sha = put(&cache, dir.path(), b"hello cache");
        let out = dir.path().join("out/x.bin");
        assert!(cache.serve(&sha, 11, &out, false).unwrap());
        assert_eq!(std::fs::read(&out).unwrap(), b"hello cache");
        // A wrong size or unknown hash is a miss, and nothing is written.
        let other = dir.path().join("y.bin");
        assert!(!cache.serve(&sha, 12, &other, false).unwrap());
        assert!(!cache.serve(&"0".repeat(64), 11, &other, false).unwrap());
        assert!(!other.exists());
        // An existing file is not replaced without force.
        let err = cache.serve(&sha, 11, &out, false).unwrap_err();
        assert_eq!(err.kind(), Some(&ErrorKind::AlreadyExists));
        assert!(cache.serve(&sha, 11, &out, true).unwrap());
    }

    #[test]
    fn refuses_content_that_does_not_match_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(&dir.path().join("c"), &CacheConfig::default()).unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"abc").unwrap();
        let wrong = stowage_store::sha256_hex(b"abd");
        let err = cache.insert_file(&f, &wrong, "p:b/k").unwrap_err();
        assert_eq!(err.kind(), Some(&ErrorKind::Integrity));
        assert!(cache.entries().unwrap().is_empty());
        assert!(!cache.blob_path(&wrong).exists());
    }

    #[test]
    fn a_corrupt_entry_is_dropped_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(&dir.path().join("c"), &CacheConfig::default()).unwrap();
        let sha = put(&cache, dir.path(), b"precious bytes");
        std::fs::write(cache.blob_path(&sha), b"precious bytez").unwrap();
        let out = dir.path().join("out.bin");
        assert!(!cache.serve(&sha, 14, &out, false).unwrap());
        assert!(!out.exists(), "nothing is written from a corrupt entry");
        assert!(cache.entries().unwrap().is_empty(), "the entry is dropped");
        assert!(!cache.blob_path(&sha).exists());
    }

    #[test]
    fn expired_entries_are_not_served_and_clean_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(
            &dir.path().join("c"),
            &config(Duration::from_secs(3600), 1 << 30),
        )
        .unwrap();
        let old = put(&cache, dir.path(), b"old");
        let new = put(&cache, dir.path(), b"new");
        cache
            .set_last_used(&old, now_ns() - 2 * 3600 * 1_000_000_000)
            .unwrap();
        assert!(!cache.contains(&old, 3).unwrap());
        assert!(cache.contains(&new, 3).unwrap());
        assert!(!cache.serve(&old, 3, &dir.path().join("o"), false).unwrap());
        let planned = cache.clean(CleanScope::Expired, true).unwrap();
        assert_eq!(planned.removed.len(), 1);
        assert_eq!(
            cache.entries().unwrap().len(),
            2,
            "a dry run removes nothing"
        );
        let done = cache.clean(CleanScope::Expired, false).unwrap();
        assert_eq!(done.removed[0].sha256, old);
        let left: Vec<String> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.sha256)
            .collect();
        assert_eq!(left, vec![new]);
        assert!(!cache.blob_path(&old).exists());
    }

    #[test]
    fn the_size_cap_evicts_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(
            &dir.path().join("c"),
            &config(crate::config::DEFAULT_TTL, 250),
        )
        .unwrap();
        let a = put(&cache, dir.path(), &[1u8; 100]);
        let b = put(&cache, dir.path(), &[2u8; 100]);
        let t = now_ns();
        cache.set_last_used(&a, t - 3_000).unwrap();
        cache.set_last_used(&b, t - 2_000).unwrap();
        // Using `a` makes `b` the least recently used.
        assert!(cache
            .serve(&a, 100, &dir.path().join("a.out"), false)
            .unwrap());
        let c = put(&cache, dir.path(), &[3u8; 100]);
        let left: Vec<String> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.sha256)
            .collect();
        assert_eq!(left.len(), 2);
        assert!(
            left.contains(&a) && left.contains(&c) && !left.contains(&b),
            "{left:?}"
        );
        assert!(cache.total().unwrap() <= 250);
        // Larger than the whole cap: not cached at all.
        let f = dir.path().join("big");
        std::fs::write(&f, [4u8; 300]).unwrap();
        let sha = stowage_store::sha256_hex(&[4u8; 300]);
        assert!(!cache.insert_file(&f, &sha, "p:b/big").unwrap());
        assert_eq!(cache.entries().unwrap().len(), 2);
    }

    #[test]
    fn verified_downloads_enter_as_second_names_in_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(
            &dir.path().join("c"),
            &config(crate::config::DEFAULT_TTL, 1000),
        )
        .unwrap();
        let download = |name: &str, content: &[u8]| {
            let file = dir.path().join(name);
            std::fs::write(&file, content).unwrap();
            Download {
                file,
                sha256: stowage_store::sha256_hex(content),
                size: content.len() as u64,
                source: format!("p:b/{name}"),
            }
        };
        let a = download("a.bin", b"first download");
        let b = download("b.bin", b"second download");
        // A torn entry left under b's name is replaced, not kept.
        std::fs::create_dir_all(cache.blob_path(&b.sha256).parent().unwrap()).unwrap();
        std::fs::write(cache.blob_path(&b.sha256), b"torn").unwrap();
        let big = download("big.bin", &[7u8; 1001]);
        let mut bad = download("bad.bin", b"x");
        bad.sha256 = "not-a-sha".into();
        let failed = cache.insert_downloads(&[a.clone(), b.clone(), big.clone(), bad]);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, 3);
        assert!(failed[0].1.contains("not-a-sha"), "{failed:?}");
        let mut entries: Vec<(String, u64, String)> = cache
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.sha256, e.size, e.source))
            .collect();
        entries.sort();
        let mut want = vec![
            (a.sha256.clone(), 14, "p:b/a.bin".to_string()),
            (b.sha256.clone(), 15, "p:b/b.bin".to_string()),
        ];
        want.sort();
        assert_eq!(entries, want, "larger than the cap: not cached");
        assert!(!cache.blob_path(&big.sha256).exists());
        for d in [&a, &b] {
            assert_eq!(
                std::fs::read(cache.blob_path(&d.sha256)).unwrap(),
                std::fs::read(&d.file).unwrap()
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
                assert_eq!(ino(&cache.blob_path(&d.sha256)), ino(&d.file), "a link");
            }
        }
        // Served back, verified.
        let out = dir.path().join("out.bin");
        assert!(cache.serve(&b.sha256, 15, &out, false).unwrap());
        assert_eq!(std::fs::read(&out).unwrap(), b"second download");
    }

    #[test]
    fn clean_all_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open_in(&dir.path().join("c"), &CacheConfig::default()).unwrap();
        let a = put(&cache, dir.path(), b"x");
        put(&cache, dir.path(), b"y");
        let r = cache.clean(CleanScope::All, false).unwrap();
        assert_eq!(r.removed.len(), 2);
        assert_eq!(r.bytes, 2);
        assert!(cache.entries().unwrap().is_empty());
        assert!(!cache.blob_path(&a).exists());
    }

    #[test]
    fn config_section_parses_and_rejects_bad_values() {
        let paths = Paths {
            config_dir: "/nonexistent/c".into(),
            data_dir: "/nonexistent/d".into(),
            cache_dir: "/nonexistent/k".into(),
        };
        let file = Path::new("/nonexistent/c/config.toml");
        let c = crate::Config::parse(
            "[cache]\nttl = \"12h\"\nmax_size = \"5 MiB\"\n",
            file,
            &paths,
        )
        .unwrap();
        assert_eq!(c.cache.ttl, Duration::from_secs(12 * 3600));
        assert_eq!(c.cache.max_size, 5 << 20);
        let d = crate::Config::parse("", file, &paths).unwrap();
        assert_eq!(d.cache, CacheConfig::default());
        let e = crate::Config::parse("[cache]\nmax_size = \"lots\"\n", file, &paths)
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml:2") && e.contains("max_size"), "{e}");
        let e = crate::Config::parse("[cache]\nttl = \"soon\"\n", file, &paths)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ttl") && e.contains("7d"), "{e}");
    }
}
