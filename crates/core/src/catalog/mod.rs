//! The catalog (M4): one SQLite file per user data folder (`<data dir>/catalog.sqlite3`) that
//! records artifacts, their versions and metrics, where each version is stored, transfers,
//! labels, registered project folders, sync file state and an audit log.
//!
//! Nothing in these rows is a secret: profiles are recorded by name, never by credential.
//!
//! One file per concern: `schema` (migrations), `artifacts`, `versions` (with labels and
//! metric filters), `locations` (and the recording primitives every write goes through),
//! `activity` (transfers and the audit log), `files` (project folders and sync file state),
//! `library` (windows of artifacts for the app), `cost` (sums for the cost report) and `team`
//! (the outbox and pulled changes of the team catalog).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use serde::Serialize;
use stowage_store::ErrorKind;
use time::OffsetDateTime;

use crate::cost::{Direction, StoredObject, TransferRecord};
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::units::now_ns;
use crate::version::sort_key;

mod activity;
mod artifacts;
mod cost;
mod files;
mod library;
mod locations;
mod schema;
mod team;
mod versions;

#[cfg(test)]
mod tests;

pub use activity::*;
pub use artifacts::*;
pub use files::*;
pub use library::*;
pub use locations::*;
pub use schema::*;
pub use team::*;
pub use versions::*;

/// The catalog's file name inside the data folder.
pub const FILE_NAME: &str = "catalog.sqlite3";

/// The embedded catalog.
#[derive(Debug)]
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

/// Nanoseconds since the epoch, as stored.
fn to_ns(t: OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

fn from_ns(ns: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ns as i128).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    let busy = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    let (kind, hint) = if busy {
        (
            ErrorKind::Unavailable,
            "another Stowage process is writing the catalog; try again in a moment",
        )
    } else {
        (
            ErrorKind::Other,
            "check that the data folder is writable; the catalog can be rebuilt by syncing again",
        )
    };
    Error::Store {
        source: Box::new(stowage_store::Error::new(kind, "catalog", e.to_string()).hint(hint)),
        file: Some(path.to_path_buf()),
    }
}

impl Catalog {
    /// Open (creating and migrating) the catalog in the data folder.
    pub fn open(paths: &Paths) -> Result<Catalog> {
        std::fs::create_dir_all(&paths.data_dir).map_err(|e| {
            crate::error::local_error(
                ErrorKind::Other,
                &paths.data_dir,
                format!("creating the data folder: {e}"),
                "check the folder's permissions or set STOWAGE_DATA_DIR",
            )
        })?;
        Catalog::open_at(&paths.data_dir.join(FILE_NAME))
    }

    /// The catalog's path in the data folder.
    pub fn path_in(paths: &Paths) -> PathBuf {
        paths.data_dir.join(FILE_NAME)
    }

    /// Open (creating and migrating) the catalog at `path`.
    pub fn open_at(path: &Path) -> Result<Catalog> {
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        let mut catalog = Catalog {
            conn,
            path: path.to_path_buf(),
        };
        catalog.configure(true)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    /// For dry runs: the existing catalog opened read-only, or an empty one in memory; either
    /// way nothing on disk changes.
    pub fn open_read_only(paths: &Paths) -> Result<Catalog> {
        let path = Catalog::path_in(paths);
        if !path.exists() {
            return Catalog::in_memory();
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_error(&path, e))?;
        let catalog = Catalog { conn, path };
        catalog.configure(false)?;
        let version = catalog.schema_version()?;
        if version != SCHEMA_VERSION {
            return Err(Error::Config(format!(
                "the catalog {} has schema version {version}, this Stowage uses \
                 {SCHEMA_VERSION}; run the command once without --dry-run to upgrade it",
                catalog.path.display()
            )));
        }
        Ok(catalog)
    }

    /// An empty catalog in memory (tests, dry runs on a fresh machine).
    pub fn in_memory() -> Result<Catalog> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| db_error(&path, e))?;
        let mut catalog = Catalog { conn, path };
        catalog.configure(true)?;
        catalog.migrate()?;
        Ok(catalog)
    }

    fn configure(&self, writable: bool) -> Result<()> {
        let err = |e| db_error(&self.path, e);
        // Several CLI runs (and the app) may share the file: wait for a lock, don't fail.
        self.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(err)?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        if writable {
            let _mode: String = self
                .conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .map_err(err)?;
            self.conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(err)?;
        }
        Ok(())
    }

    /// The catalog file's path (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for queries kept in their own modules (the queue).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// A database error on this catalog, with its path and next step.
    pub(crate) fn db_err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| db_error(&self.path, e)
    }

    /// Run `f` in one transaction: everything it records commits together, or nothing does.
    /// Inside another batch, `f` simply joins it.
    pub fn batch<T>(&self, f: impl FnOnce(&Catalog) -> Result<T>) -> Result<T> {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(self.err())?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    // Recording writes. Every command that writes or deletes an object (sync, watch, put,
    // migrate, rm, mv, cp, verify --fix, gc, version deletion) records it through these, so
    // the locations always equal what the providers hold. A version lives as long as one of
    // its stored copies does: when the last location of a version that had any is deleted
    // or overwritten, the version goes with it (a version that never had a location, a file
    // kept local by policy, stays).
}
