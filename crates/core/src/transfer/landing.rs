//! Landing downloads: flush the content, then rename into place, so a crash never leaves a half file under a real name.

use super::*;

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

pub(super) struct Pending {
    index: usize,
    temp: tempfile::TempPath,
    target: PathBuf,
    force: bool,
}

/// Objects up to this size are received whole before they are written (see
/// [`write_download`]).
pub(super) const SMALL_OBJECT: u64 = 1 << 20;

/// From this many files on, one `syncfs` of their file system is cheaper than an `fsync` each.
pub(super) const SYNCFS_FROM: usize = 16;

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
pub(super) const HAS_SYNCFS: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
pub(super) fn syncfs(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open.
    match unsafe { libc::syncfs(f.as_raw_fd()) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Never called ([`HAS_SYNCFS`] is false here).
#[cfg(not(target_os = "linux"))]
pub(super) fn syncfs(_f: &std::fs::File) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

pub(super) fn land(pending: Vec<Pending>) -> Vec<(usize, Error)> {
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
        // Windows flushes only through a handle that may write.
        let sync = |p: &Pending| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(cfg!(windows))
                .open(&p.temp)
                .and_then(|f| f.sync_all())
        };
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
    // A folder is flushed where it can be opened as a file (Unix); Windows makes renames
    // durable with the file system's own journal.
    for (dir, indices) in dirs.into_iter().filter(|_| cfg!(unix)) {
        if let Err(e) = std::fs::File::open(&dir).and_then(|d| d.sync_all()) {
            for index in indices {
                failed.push((index, io_local(&dir, "syncing the folder", clone_io(&e))));
            }
        }
    }
    failed
}

pub(super) fn clone_io(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

pub(super) fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Move a synced temporary file to `target`; without `force`, never replace a file that
/// appeared meanwhile.
pub(super) fn persist(temp: tempfile::TempPath, target: &Path, force: bool) -> Result<()> {
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
