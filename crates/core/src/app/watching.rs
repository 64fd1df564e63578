//! The sync view: registered project folders (add, remove, pause, resume), who watches them
//! (this app, a `stowage watch` elsewhere, or nobody), the queue and each provider's health.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;
use ts_rs::TS;

use super::{App, AppError, AppResult, OpId, QueueList, Watching};
use crate::catalog::{Catalog, RegisteredFolder};
use crate::queue::WatchLock;

/// A registered project folder.
#[derive(Clone, Debug, Serialize, TS)]
pub struct WatchedFolder {
    /// The folder.
    #[ts(type = "string")]
    pub path: PathBuf,
    /// What is watched: the folder, or the `.beast-mode` folder inside it.
    #[ts(type = "string")]
    pub root: PathBuf,
    /// The organization its keys go under.
    pub org: Option<String>,
    /// When it was registered.
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    /// Whether watching passes over it until resumed.
    pub paused: bool,
    /// Whether it is there now (a deleted folder, an unmounted disk are kept, not watched).
    pub exists: bool,
}

impl From<RegisteredFolder> for WatchedFolder {
    fn from(f: RegisteredFolder) -> WatchedFolder {
        WatchedFolder {
            root: crate::watch::root_of(&f.path),
            exists: f.path.is_dir(),
            path: f.path,
            org: f.org,
            added_at: f.added_at,
            paused: f.paused,
        }
    }
}

/// Who watches the registered folders.
#[derive(Clone, Debug, Serialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WatcherState {
    /// This app, as operation `op`.
    Here {
        /// The operation (its events carry this id).
        op: OpId,
        /// What it watches and where it writes.
        watching: Watching,
    },
    /// Another process (a `stowage watch`) holds the watch lock; the queue shown is the
    /// catalog's, which it works on.
    Elsewhere {
        /// Who, in words.
        message: String,
    },
    /// Nobody: nothing is registered, every folder is paused, or the last watch failed.
    Stopped {
        /// Why the last watch ended, when it failed.
        error: Option<AppError>,
    },
}

/// The sync view.
#[derive(Clone, Debug, Serialize, TS)]
pub struct SyncStatus {
    /// Registered project folders, by path.
    pub folders: Vec<WatchedFolder>,
    /// Who watches them.
    pub watcher: WatcherState,
    /// The queue (newest first, at most the asked number of rows), its counts and each
    /// provider's health.
    pub queue: QueueList,
}

/// Clears the app's watch state when the watch ends, however it ends.
pub(super) struct Shown<'a>(&'a Mutex<Option<(OpId, Watching)>>);

impl Drop for Shown<'_> {
    fn drop(&mut self) {
        *self.0.lock().expect("watch state") = None;
    }
}

impl App {
    /// Record that this app watches, as operation `op`, until the guard drops.
    pub(super) fn watching_now(&self, op: OpId, w: Watching) -> Shown<'_> {
        *self.watching.lock().expect("watch state") = Some((op, w));
        Shown(&self.watching)
    }

    /// The watch this app runs, if any.
    pub fn watching(&self) -> Option<OpId> {
        self.watching
            .lock()
            .expect("watch state")
            .as_ref()
            .map(|w| w.0)
    }

    /// Stop this app's watch (transfers in flight go back to the queue); false when none runs.
    pub fn stop_watching(&self) -> bool {
        self.watching().is_some_and(|op| self.cancel(op))
    }

    /// The sync view: folders, watcher, and the newest `limit` queue rows in `states` (every
    /// state when empty).
    pub fn sync_status(&self, states: &[String], limit: u64) -> AppResult<SyncStatus> {
        let catalog = Catalog::open(&self.paths)?;
        let folders = catalog
            .registered_folders()?
            .into_iter()
            .map(WatchedFolder::from)
            .collect();
        let here = self.watching.lock().expect("watch state").clone();
        let watcher = match here {
            Some((op, watching)) => WatcherState::Here { op, watching },
            None => match WatchLock::holder(&self.paths.data_dir) {
                Some(message) => WatcherState::Elsewhere { message },
                None => WatcherState::Stopped {
                    error: self.watch_failed.lock().expect("watch state").clone(),
                },
            },
        };
        Ok(SyncStatus {
            folders,
            watcher,
            queue: self.queue(states, limit)?,
        })
    }

    /// Register a project folder to watch, under `org` (else the policy's); returns it.
    pub fn add_folder(&self, path: &Path, org: Option<&str>) -> AppResult<WatchedFolder> {
        let dir = std::fs::canonicalize(path)
            .ok()
            .filter(|d| d.is_dir())
            .ok_or_else(|| {
                AppError::usage(format!(
                    "{}: is not a folder; pick a project folder (one holding `.beast-mode`, or \
                     the `.beast-mode` folder itself)",
                    path.display()
                ))
            })?;
        let org = super::org_arg(org)?.or(self.policy()?.org);
        let catalog = Catalog::open(&self.paths)?;
        catalog.register_folder(&dir, org.as_deref())?;
        catalog.pause_folder(&dir, false)?;
        self.folder(&catalog, &dir)
    }

    /// Forget a registered folder: it is no longer watched; its files and stored objects stay.
    pub fn remove_folder(&self, path: &Path) -> AppResult<WatchedFolder> {
        let catalog = Catalog::open(&self.paths)?;
        let folder = self.folder(&catalog, path)?;
        catalog.unregister_folder(path)?;
        Ok(folder)
    }

    /// Pause (or resume) watching a registered folder.
    pub fn pause_folder(&self, path: &Path, paused: bool) -> AppResult<WatchedFolder> {
        let catalog = Catalog::open(&self.paths)?;
        self.folder(&catalog, path)?;
        catalog.pause_folder(path, paused)?;
        self.folder(&catalog, path)
    }

    fn folder(&self, catalog: &Catalog, path: &Path) -> AppResult<WatchedFolder> {
        catalog
            .registered_folders()?
            .into_iter()
            .find(|f| f.path == path)
            .map(WatchedFolder::from)
            .ok_or_else(|| {
                AppError::usage(format!(
                    "{}: is not a registered project folder; add it first",
                    path.display()
                ))
            })
    }
}

impl App {
    /// The desktop app's auto-sync: watch every registered folder that is not paused until
    /// stopped ([`App::stop_watching`]), as `stowage watch` does (same engine, same lock).
    /// `Ok(None)`, with no error kept, when there is nothing to watch or a `stowage watch`
    /// elsewhere already does it.
    pub async fn watch_registered(
        &self,
        started: impl FnOnce(&Watching),
    ) -> AppResult<Option<super::WatchResult>> {
        let idle = {
            let catalog = Catalog::open(&self.paths)?;
            crate::watch::default_roots(&catalog)?.is_empty()
                || WatchLock::holder(&self.paths.data_dir).is_some()
        };
        if idle {
            *self.watch_failed.lock().expect("watch state") = None;
            return Ok(None);
        }
        self.watch(
            super::WatchRequest::default(),
            started,
            std::future::pending(),
        )
        .await
        .map(Some)
    }
}
