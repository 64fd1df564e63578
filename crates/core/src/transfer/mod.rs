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

mod get;
mod landing;
mod objects;
mod put;

pub use get::*;
pub use landing::*;
pub use objects::*;
pub use put::*;

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
