//! The catalog (M4): one SQLite file per user data folder (`<data dir>/catalog.sqlite3`) that
//! records artifacts, their versions and metrics, where each version is stored, transfers,
//! labels, registered project folders, sync file state and an audit log.
//!
//! Nothing in these rows is a secret: profiles are recorded by name, never by credential.

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

/// The catalog's file name inside the data folder.
pub const FILE_NAME: &str = "catalog.sqlite3";

/// Schema migrations, applied in order; `PRAGMA user_version` counts how many ran. Never edit
/// one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE artifacts (
        id          INTEGER PRIMARY KEY,
        org         TEXT NOT NULL DEFAULT '',
        family      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        framework   TEXT,
        folder      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        UNIQUE (family, org)
    );
    CREATE TABLE versions (
        id              INTEGER PRIMARY KEY,
        artifact_id     INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
        version         TEXT NOT NULL,
        sort_key        TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        size            INTEGER NOT NULL,
        original_size   INTEGER NOT NULL,
        encoding        TEXT,
        mtime_ns        INTEGER,
        source_path     TEXT,
        created_at      INTEGER NOT NULL,
        accuracy        REAL,
        loss            REAL,
        epochs          INTEGER,
        model_type      TEXT,
        dataset_count   INTEGER,
        training_split  TEXT,
        other_metrics   TEXT,
        UNIQUE (artifact_id, version)
    );
    CREATE INDEX versions_by_artifact_sort ON versions(artifact_id, sort_key);
    CREATE INDEX versions_by_artifact_sha ON versions(artifact_id, sha256);
    CREATE INDEX versions_by_accuracy ON versions(accuracy) WHERE accuracy IS NOT NULL;
    CREATE INDEX versions_by_loss ON versions(loss) WHERE loss IS NOT NULL;
    CREATE INDEX versions_by_created ON versions(created_at);
    CREATE TABLE locations (
        id          INTEGER PRIMARY KEY,
        version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        profile     TEXT NOT NULL,
        provider    TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        key         TEXT NOT NULL,
        size        INTEGER NOT NULL,
        etag        TEXT,
        sha256      TEXT,
        stored_at   INTEGER NOT NULL,
        last_read   INTEGER,
        UNIQUE (profile, bucket, key)
    );
    CREATE INDEX locations_by_version ON locations(version_id);
    CREATE TABLE transfers (
        id          INTEGER PRIMARY KEY,
        profile     TEXT NOT NULL,
        provider    TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        direction   TEXT NOT NULL CHECK (direction IN ('upload', 'download')),
        bytes       INTEGER NOT NULL,
        requests    INTEGER NOT NULL,
        at          INTEGER NOT NULL
    );
    CREATE INDEX transfers_by_at ON transfers(at);
    CREATE TABLE audit_events (
        id       INTEGER PRIMARY KEY,
        at       INTEGER NOT NULL,
        action   TEXT NOT NULL
                 CHECK (action IN ('put', 'get', 'url', 'delete', 'restore', 'label', 'gc')),
        profile  TEXT,
        bucket   TEXT,
        key      TEXT,
        detail   TEXT
    );
    CREATE INDEX audit_by_at ON audit_events(at);
    CREATE TABLE labels (
        id           INTEGER PRIMARY KEY,
        artifact_id  INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        version_id   INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
        set_at       INTEGER NOT NULL,
        UNIQUE (artifact_id, name)
    );
    CREATE INDEX labels_by_version ON labels(version_id);
    CREATE TABLE folders (
        path      TEXT PRIMARY KEY,
        org       TEXT,
        added_at  INTEGER NOT NULL
    );
    CREATE TABLE file_state (
        path       TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL,
        sha256     TEXT NOT NULL,
        synced_at  INTEGER NOT NULL
    );
    "#,
    // 2: the auto-sync queue (crate::queue): one row per planned transfer, written before any
    // byte moves; and each provider's health.
    r#"
    CREATE TABLE queue (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL,
        dir         TEXT NOT NULL,
        org         TEXT,
        role        TEXT NOT NULL CHECK (role IN ('primary', 'secondary')),
        profile     TEXT NOT NULL,
        bucket      TEXT NOT NULL,
        key         TEXT NOT NULL,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        state       TEXT NOT NULL
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled',
                                     'superseded')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        error_kind  TEXT,
        sha256      TEXT,
        version     TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE INDEX queue_by_state ON queue(state, next_at);
    CREATE INDEX queue_by_path ON queue(path, profile);
    CREATE TABLE provider_health (
        profile     TEXT PRIMARY KEY,
        up          INTEGER NOT NULL,
        since       INTEGER NOT NULL,
        last_error  TEXT,
        checked_at  INTEGER NOT NULL
    );
    "#,
    // 3: an artifact is identified by its folder, family and extension, not its family alone
    // (`generations/gen-001/main.py` and `generations/gen-002/main.py` are two artifacts;
    // `models/model-T.pt` and `results/model-T.json` too). Rows from before keep an empty
    // extension until sync or put meets them again. And sync remembers the decision it
    // stored each file by (destination, key, compression), so a policy edit re-plans it.
    // Foreign keys are off while migrations run (see `Catalog::migrate`).
    r#"
    CREATE TABLE artifacts_v3 (
        id          INTEGER PRIMARY KEY,
        org         TEXT NOT NULL DEFAULT '',
        family      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        framework   TEXT,
        folder      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        extension   TEXT NOT NULL DEFAULT '',
        UNIQUE (org, folder, family, extension)
    );
    INSERT INTO artifacts_v3 (id, org, family, kind, framework, folder, created_at)
        SELECT id, org, family, kind, framework, folder, created_at FROM artifacts;
    DROP TABLE artifacts;
    ALTER TABLE artifacts_v3 RENAME TO artifacts;
    CREATE INDEX artifacts_by_family ON artifacts(family, org);
    ALTER TABLE file_state ADD COLUMN decision TEXT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

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

/// An artifact: one family of versions (`model-notable-quality`, `dataset`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Its row id.
    pub id: i64,
    /// Organization prefix, if any.
    pub org: Option<String>,
    /// The family name.
    pub family: String,
    /// The policy kind (`dataset`, `model`, …).
    pub kind: String,
    /// The framework, from the extension.
    pub framework: Option<String>,
    /// The storage folder (`models/`).
    pub folder: String,
    /// The extension shared by its versions (`json`; empty for names without one, and for
    /// artifacts recorded before extensions were).
    pub extension: String,
}

impl Artifact {
    /// Its name: folder, family and extension, like a path without the version
    /// (`generations/gen-001/main.py`, `models/model-notable-quality.json`).
    pub fn name(&self) -> String {
        artifact_name(&self.folder, &self.family, &self.extension)
    }

    /// Whether `spec` names it: its family, its name, or the end of its name from a folder
    /// boundary on (`gen-001/main.py`, `gen-001/main`).
    pub fn answers_to(&self, spec: &str) -> bool {
        let spec = spec.trim_start_matches('/');
        let with_ext = self.name();
        let without_ext = format!("{}{}", self.folder, self.family);
        spec == self.family
            || [with_ext, without_ext]
                .iter()
                .any(|n| n == spec || n.ends_with(&format!("/{spec}")))
    }
}

/// An artifact's name from its folder, family and extension.
pub fn artifact_name(folder: &str, family: &str, extension: &str) -> String {
    if extension.is_empty() {
        format!("{folder}{family}")
    } else {
        format!("{folder}{family}.{extension}")
    }
}

/// Metrics recorded with a version (from training-result JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct VersionMetrics {
    /// Accuracy.
    pub accuracy: Option<f64>,
    /// Loss.
    pub loss: Option<f64>,
    /// Epochs trained.
    pub epochs: Option<i64>,
    /// Model type.
    pub model_type: Option<String>,
    /// Number of examples in the dataset.
    pub dataset_count: Option<i64>,
    /// The training split, as written.
    pub training_split: Option<String>,
    /// Other top-level numeric metrics.
    pub other: BTreeMap<String, f64>,
}

impl VersionMetrics {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        *self == VersionMetrics::default()
    }
}

/// A version to record.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The artifact.
    pub artifact_id: i64,
    /// Version tag as shown.
    pub version: String,
    /// SHA-256 of the original content.
    pub sha256: String,
    /// Stored size (after compression).
    pub size: u64,
    /// Original size.
    pub original_size: u64,
    /// `gzip` when stored compressed.
    pub encoding: Option<String>,
    /// The source file's mtime.
    pub mtime_ns: Option<i64>,
    /// The source file.
    pub source_path: Option<String>,
    /// When recorded.
    pub created_at: OffsetDateTime,
    /// Metrics.
    pub metrics: VersionMetrics,
}

/// Where a version is stored, to record.
#[derive(Clone, Debug)]
pub struct NewLocation {
    /// The profile's name.
    pub profile: String,
    /// `local`, `s3` or `supabase`.
    pub provider: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// The provider's ETag.
    pub etag: Option<String>,
    /// SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// When stored.
    pub stored_at: OffsetDateTime,
}

/// A recorded location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct StoredLocation {
    /// Its row id.
    pub id: i64,
    /// The version it holds.
    pub version_id: i64,
    /// The profile's name.
    pub profile: String,
    /// The provider.
    pub provider: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// The provider's ETag.
    pub etag: Option<String>,
    /// SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// When stored.
    #[ts(type = "string")]
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub stored_at: OffsetDateTime,
}

/// A version as listed by [`Catalog::versions`].
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct VersionInfo {
    /// Its row id.
    pub id: i64,
    /// The artifact's row id.
    pub artifact_id: i64,
    /// The artifact's organization.
    pub org: Option<String>,
    /// The family.
    pub family: String,
    /// The artifact's name ([`Artifact::name`]): folder, family and extension.
    pub artifact: String,
    /// The kind.
    pub kind: String,
    /// The framework.
    pub framework: Option<String>,
    /// The version tag.
    pub version: String,
    /// SHA-256 of the original content.
    pub sha256: String,
    /// Stored size.
    pub size: u64,
    /// Original size.
    pub original_size: u64,
    /// `gzip` when stored compressed.
    pub encoding: Option<String>,
    /// The source file.
    pub source_path: Option<String>,
    /// When recorded.
    #[ts(type = "string")]
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether this is the family's newest version.
    pub latest: bool,
    /// Labels pointing at it.
    pub labels: Vec<String>,
    /// Where it is stored (empty: local only).
    pub locations: Vec<StoredLocation>,
    /// Its metrics.
    pub metrics: VersionMetrics,
}

/// What [`Catalog::library`] returns: one window of the matching artifacts.
#[derive(Clone, Debug, Default, serde::Deserialize, ts_rs::TS)]
pub struct LibraryQuery {
    /// Only this kind (`model`, `dataset`, …).
    #[serde(default)]
    pub kind: Option<String>,
    /// Only this organization.
    #[serde(default)]
    pub org: Option<String>,
    /// Text the artifact's name (folder, family, extension) contains.
    #[serde(default)]
    pub search: Option<String>,
    /// The order.
    #[serde(default)]
    pub sort: LibrarySort,
    /// Rows to skip.
    #[serde(default)]
    #[ts(type = "number")]
    pub offset: u64,
    /// Rows to return (1 to 1,000).
    #[ts(type = "number")]
    pub limit: u64,
}

/// How to order the library.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum LibrarySort {
    /// By name (folder, family, extension).
    #[default]
    Name,
    /// Most recently versioned first.
    Updated,
    /// Most stored bytes first.
    Size,
    /// Most versions first.
    Versions,
}

/// One artifact in the library.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct LibraryRow {
    /// The artifact's row id.
    #[ts(type = "number")]
    pub id: i64,
    /// Its name: folder, family and extension.
    pub name: String,
    /// Its organization.
    pub org: Option<String>,
    /// The family.
    pub family: String,
    /// The kind.
    pub kind: String,
    /// The framework.
    pub framework: Option<String>,
    /// How many versions it has.
    #[ts(type = "number")]
    pub versions: u64,
    /// Its newest version's tag.
    pub latest: String,
    /// When its newest version was recorded.
    #[serde(with = "time::serde::rfc3339")]
    #[ts(type = "string")]
    pub updated_at: OffsetDateTime,
    /// Stored bytes over all versions.
    #[ts(type = "number")]
    pub stored_bytes: u64,
    /// Original bytes over all versions.
    #[ts(type = "number")]
    pub original_bytes: u64,
    /// Stored copies over all versions (0: local only).
    #[ts(type = "number")]
    pub locations: u64,
    /// The profiles holding copies.
    pub profiles: Vec<String>,
}

/// A window of the library.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct LibraryPage {
    /// Artifacts that match, in all.
    #[ts(type = "number")]
    pub total: u64,
    /// The first row's position.
    #[ts(type = "number")]
    pub offset: u64,
    /// The rows.
    pub rows: Vec<LibraryRow>,
}

/// How to order [`Catalog::versions`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionSort {
    /// Newest version first (by version tag).
    #[default]
    Version,
    /// Most recently recorded first.
    Created,
    /// Highest accuracy first.
    Accuracy,
    /// Lowest loss first.
    Loss,
}

impl std::str::FromStr for VersionSort {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "version" => VersionSort::Version,
            "created" => VersionSort::Created,
            "accuracy" => VersionSort::Accuracy,
            "loss" => VersionSort::Loss,
            _ => {
                return Err(Error::Usage(format!(
                    "cannot sort by `{s}`; use accuracy, loss, created or version"
                )))
            }
        })
    }
}

/// A comparison on a metric, like `accuracy>0.9`.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    column: &'static str,
    op: &'static str,
    value: FilterValue,
}

#[derive(Clone, Debug, PartialEq)]
enum FilterValue {
    Number(f64),
    Text(String),
}

impl Filter {
    /// Parse `FIELD OP VALUE` with OP one of `> >= < <= = !=`; fields: accuracy, loss, epochs,
    /// dataset_count, size, original_size, model_type, training_split.
    pub fn parse(raw: &str) -> Result<Filter> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "`{raw}` is not a filter ({why}); write FIELD OP VALUE like `accuracy>0.9` with \
                 OP one of > >= < <= = != and FIELD one of accuracy, loss, epochs, \
                 dataset_count, size, original_size, model_type, training_split"
            ))
        };
        let pos = raw
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| bad("no comparison"))?;
        let (field, rest) = raw.split_at(pos);
        let (op, value) = ["<=", ">=", "!=", "<", ">", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v)))
            .ok_or_else(|| bad("unknown comparison"))?;
        let (column, numeric) = match field.trim() {
            "accuracy" => ("v.accuracy", true),
            "loss" => ("v.loss", true),
            "epochs" => ("v.epochs", true),
            "dataset_count" => ("v.dataset_count", true),
            "size" => ("v.size", true),
            "original_size" => ("v.original_size", true),
            "model_type" => ("v.model_type", false),
            "training_split" => ("v.training_split", false),
            _ => return Err(bad("unknown field")),
        };
        let value = value.trim();
        let value = if numeric {
            FilterValue::Number(value.parse().map_err(|_| bad("not a number"))?)
        } else {
            FilterValue::Text(value.to_string())
        };
        if !numeric && !matches!(op, "=" | "!=") {
            return Err(bad("text fields compare with = or !="));
        }
        Ok(Filter { column, op, value })
    }
}

/// What [`Catalog::versions`] returns.
#[derive(Clone, Debug, Default)]
pub struct VersionQuery {
    /// Only this family (every family when None).
    pub family: Option<String>,
    /// Only this artifact (by row id).
    pub artifact: Option<i64>,
    /// Only this organization.
    pub org: Option<String>,
    /// Metric conditions, all of which must hold.
    pub filters: Vec<Filter>,
    /// The order.
    pub sort: VersionSort,
    /// At most this many.
    pub limit: Option<u64>,
}

/// What sync remembers about a local file, to skip it unread when unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds.
    pub mtime_ns: i64,
    /// SHA-256 of the content.
    pub sha256: String,
    /// What the policy decided when it was stored (destination, key, compression): a file
    /// whose decision changed is planned again even when its content did not. None for
    /// states recorded before decisions were.
    pub decision: Option<String>,
}

/// One audit event to record.
#[derive(Clone, Debug, Default)]
pub struct AuditEvent<'a> {
    /// `put`, `get`, `url`, `delete`, `restore`, `label` or `gc`.
    pub action: &'a str,
    /// The profile used.
    pub profile: Option<&'a str>,
    /// The bucket.
    pub bucket: Option<&'a str>,
    /// The key.
    pub key: Option<&'a str>,
    /// Free text (never a secret).
    pub detail: Option<String>,
}

/// One thing a command did to an object, for the audit log and (when bytes moved) the
/// transfer record that egress costs come from.
#[derive(Clone, Debug)]
pub struct Activity {
    /// `put`, `get`, `url` or `delete`.
    pub action: &'static str,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes moved and their direction, when the action transferred content.
    pub moved: Option<(Direction, u64)>,
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

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| db_error(&self.path, e))
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let err = |e| db_error(&path, e);
        let current = self.schema_version()?;
        if current > SCHEMA_VERSION {
            return Err(Error::Config(format!(
                "the catalog {} was written by a newer Stowage (schema {current}, this one \
                 knows {SCHEMA_VERSION}); upgrade Stowage",
                self.path.display()
            )));
        }
        if current == SCHEMA_VERSION {
            return Ok(());
        }
        // A migration may rebuild a table others reference: with foreign keys on, dropping
        // the old table would cascade. They are checked before each commit instead.
        self.conn
            .pragma_update(None, "foreign_keys", "OFF")
            .map_err(err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            // Each migration and its version bump commit together, or not at all.
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()
                .map_err(err)?;
            if let Some(table) = broken {
                return Err(Error::Config(format!(
                    "upgrading the catalog {} to schema {} left rows in `{table}` pointing \
                     nowhere; nothing was changed. Keep the file and report this",
                    path.display(),
                    i + 1
                )));
            }
            tx.pragma_update(None, "user_version", (i + 1) as u32)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        self.resort_number_versions()
    }

    /// Number versions recorded before pre-releases were ordered (sort keys without the `,`
    /// that ends the components) get today's sort key, so old and new versions of one
    /// family order together. Runs after an upgrade; a no-op once done.
    fn resort_number_versions(&self) -> Result<()> {
        let old: Vec<(i64, String)> = self
            .conn
            .prepare(
                "SELECT id, version FROM versions
                 WHERE substr(sort_key, 1, 1) = 'N' AND instr(sort_key, ',') = 0",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.err())?;
        if old.is_empty() {
            return Ok(());
        }
        self.batch(|c| {
            for (id, tag) in &old {
                let (base, content) = match tag.split_once('+') {
                    Some((b, n)) => (b, Some(n)),
                    None => (tag.as_str(), None),
                };
                let parsed = crate::version::parse_name(&format!("x_{base}")).version;
                let Some(t @ crate::version::VersionTag::Number(parts, _)) = &parsed else {
                    continue;
                };
                let mut key = crate::version::number_sort_key(parts, &t.prerelease());
                if let Some(n) = content {
                    key.push('+');
                    key.push_str(&sort_key(n));
                }
                c.conn
                    .prepare_cached("UPDATE versions SET sort_key = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, key]))
                    .map_err(c.err())?;
            }
            Ok(())
        })
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

    /// The artifact `family` with no extension in `folder` of `org`, created with these
    /// details when new ([`Catalog::upsert_artifact_at`]).
    pub fn upsert_artifact(
        &self,
        org: Option<&str>,
        family: &str,
        kind: &str,
        framework: Option<&str>,
        folder: &str,
    ) -> Result<i64> {
        self.upsert_artifact_at(org, folder, family, "", kind, framework)
    }

    /// The artifact identified by `org`, `folder`, `family` and `extension`, created with
    /// these details when new. An artifact recorded before extensions were (the same folder
    /// and family, no extension) is this one: it takes the extension.
    pub fn upsert_artifact_at(
        &self,
        org: Option<&str>,
        folder: &str,
        family: &str,
        extension: &str,
        kind: &str,
        framework: Option<&str>,
    ) -> Result<i64> {
        let org = org.unwrap_or("");
        if !extension.is_empty() {
            self.conn
                .prepare_cached(
                    "UPDATE artifacts SET extension = ?4 WHERE org = ?1 AND folder = ?2
                       AND family = ?3 AND extension = ''
                       AND NOT EXISTS (SELECT 1 FROM artifacts WHERE org = ?1 AND folder = ?2
                                         AND family = ?3 AND extension = ?4)",
                )
                .and_then(|mut s| s.execute(params![org, folder, family, extension]))
                .map_err(self.err())?;
        }
        self.conn
            .prepare_cached(
                "INSERT INTO artifacts (org, family, kind, framework, folder, created_at, extension)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (org, folder, family, extension) DO UPDATE SET kind = excluded.kind,
                   framework = COALESCE(excluded.framework, framework)",
            )
            .and_then(|mut s| {
                s.execute(params![org, family, kind, framework, folder, now_ns(), extension])
            })
            .map_err(self.err())?;
        self.conn
            .prepare_cached(
                "SELECT id FROM artifacts WHERE org = ?1 AND folder = ?2 AND family = ?3
                   AND extension = ?4",
            )
            .and_then(|mut s| s.query_row(params![org, folder, family, extension], |r| r.get(0)))
            .map_err(self.err())
    }

    /// Every artifact `spec` names ([`Artifact::answers_to`]), of `org` when given.
    pub fn artifacts_matching(&self, org: Option<&str>, spec: &str) -> Result<Vec<Artifact>> {
        let last = spec.rsplit('/').next().unwrap_or(spec);
        let parsed = crate::version::parse_name(last).family;
        let bare = last.rsplit_once('.').map_or(last, |(stem, _)| stem);
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT id, org, family, kind, framework, folder, extension FROM artifacts
                 WHERE family IN (?1, ?2, ?3) AND (?4 IS NULL OR org = ?4)
                 ORDER BY org, folder, family, extension",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map(params![last, parsed, bare, org], artifact_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows.into_iter().filter(|a| a.answers_to(spec)).collect())
    }

    /// The artifact `family` of `org`.
    pub fn artifact(&self, org: Option<&str>, family: &str) -> Result<Option<Artifact>> {
        self.conn
            .prepare_cached(
                "SELECT id, org, family, kind, framework, folder, extension FROM artifacts
                 WHERE family = ?1 AND org = ?2 ORDER BY folder, extension LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![family, org.unwrap_or("")], artifact_row)
                    .optional()
            })
            .map_err(self.err())
    }

    /// Every artifact named `family`, whatever its organization.
    pub fn artifacts_named(&self, family: &str) -> Result<Vec<Artifact>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT id, org, family, kind, framework, folder, extension FROM artifacts
                 WHERE family = ?1 ORDER BY org, folder, extension",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map([family], artifact_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Record a version, sorted by its tag read naturally ([`sort_key`]); returns its id.
    pub fn insert_version(&self, v: &NewVersion) -> Result<i64> {
        self.insert_version_sorted(v, None)
    }

    /// Record a version with an explicit sort key (None: [`sort_key`] of the tag).
    pub fn insert_version_sorted(&self, v: &NewVersion, sort: Option<&str>) -> Result<i64> {
        let m = &v.metrics;
        let other = if m.other.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&m.other).expect("numbers serialise"))
        };
        self.conn
            .prepare_cached(
                "INSERT INTO versions (artifact_id, version, sort_key, sha256, size,
                   original_size, encoding, mtime_ns, source_path, created_at, accuracy, loss,
                   epochs, model_type, dataset_count, training_split, other_metrics)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                   ?17)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    v.artifact_id,
                    v.version,
                    sort.map_or_else(|| sort_key(&v.version), str::to_string),
                    v.sha256,
                    v.size as i64,
                    v.original_size as i64,
                    v.encoding,
                    v.mtime_ns,
                    v.source_path,
                    to_ns(v.created_at),
                    m.accuracy,
                    m.loss,
                    m.epochs,
                    m.model_type,
                    m.dataset_count,
                    m.training_split,
                    other,
                ])
            })
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The version of `artifact` with this content, if recorded.
    pub fn version_with_sha(&self, artifact: i64, sha256: &str) -> Result<Option<(i64, String)>> {
        self.conn
            .prepare_cached(
                "SELECT id, version FROM versions WHERE artifact_id = ?1 AND sha256 = ?2
                 ORDER BY sort_key DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![artifact, sha256], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(self.err())
    }

    /// The newest version of `artifact` (id, tag, SHA-256); with `base`, only among the tag
    /// `base` and its content successors `base+N`.
    pub fn latest_version_of(
        &self,
        artifact: i64,
        base: Option<&str>,
    ) -> Result<Option<(i64, String, String)>> {
        let row = |r: &Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
        match base {
            None => self
                .conn
                .prepare_cached(
                    "SELECT id, version, sha256 FROM versions WHERE artifact_id = ?1
                     ORDER BY sort_key DESC LIMIT 1",
                )
                .and_then(|mut s| s.query_row([artifact], row).optional()),
            // substr, not LIKE: tags hold `_`, which LIKE reads as a wildcard.
            Some(b) => self
                .conn
                .prepare_cached(
                    "SELECT id, version, sha256 FROM versions WHERE artifact_id = ?1
                       AND (version = ?2 OR substr(version, 1, length(?2) + 1) = ?2 || '+')
                     ORDER BY sort_key DESC LIMIT 1",
                )
                .and_then(|mut s| s.query_row(params![artifact, b], row).optional()),
        }
        .map_err(self.err())
    }

    /// The local file a version was recorded from, if any.
    pub fn version_source(&self, version_id: i64) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT source_path FROM versions WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([version_id], |r| r.get::<_, Option<String>>(0))
                    .optional()
            })
            .map(Option::flatten)
            .map_err(self.err())
    }

    /// The SHA-256 of a version's original content.
    pub fn version_sha(&self, version_id: i64) -> Result<String> {
        self.conn
            .prepare_cached("SELECT sha256 FROM versions WHERE id = ?1")
            .and_then(|mut s| s.query_row([version_id], |r| r.get(0)))
            .map_err(self.err())
    }

    /// A version's content encoding (`gzip`, or None when stored as is).
    pub fn version_encoding(&self, version_id: i64) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT encoding FROM versions WHERE id = ?1")
            .and_then(|mut s| s.query_row([version_id], |r| r.get(0)))
            .map_err(self.err())
    }

    /// Whether `artifact` has a version tagged `tag`.
    pub fn has_version(&self, artifact: i64, tag: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM versions WHERE artifact_id = ?1 AND version = ?2")
            .and_then(|mut s| s.exists(params![artifact, tag]))
            .map_err(self.err())
    }

    /// How many versions `artifact` has.
    pub fn version_count(&self, artifact: i64) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM versions WHERE artifact_id = ?1")
            .and_then(|mut s| s.query_row([artifact], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Record where a version is stored (replacing what was recorded at that key).
    pub fn add_location(&self, version_id: i64, l: &NewLocation) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO locations (version_id, profile, provider, bucket, key, size, etag,
                   sha256, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (profile, bucket, key) DO UPDATE SET version_id = excluded.version_id,
                   provider = excluded.provider, size = excluded.size, etag = excluded.etag,
                   sha256 = excluded.sha256, stored_at = excluded.stored_at, last_read = NULL",
            )
            .and_then(|mut s| {
                s.execute(params![
                    version_id,
                    l.profile,
                    l.provider,
                    l.bucket,
                    l.key,
                    l.size as i64,
                    l.etag,
                    l.sha256,
                    to_ns(l.stored_at),
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// The location recorded at `profile`/`bucket`/`key`, if any: the catalog's claim that
    /// Stowage wrote that object.
    pub fn location_at(
        &self,
        profile: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<StoredLocation>> {
        self.conn
            .prepare_cached(
                "SELECT id, version_id, profile, provider, bucket, key, size, etag, sha256,
                   stored_at FROM locations WHERE profile = ?1 AND bucket = ?2 AND key = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![profile, bucket, key], location_row)
                    .optional()
            })
            .map_err(self.err())
    }

    /// Every location of a version.
    pub fn locations_of(&self, version_id: i64) -> Result<Vec<StoredLocation>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT id, version_id, profile, provider, bucket, key, size, etag, sha256,
                   stored_at FROM locations WHERE version_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map([version_id], location_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Point a location at a new key (after the object was moved there).
    pub fn move_location(&self, location_id: i64, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE locations SET key = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![location_id, key]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Forget a location (its object was deleted).
    pub fn remove_location(&self, location_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM locations WHERE id = ?1")
            .and_then(|mut s| s.execute([location_id]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Note that a location was read now.
    pub fn touch_location(&self, location_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE locations SET last_read = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![location_id, now_ns()]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Forget a version (and, by cascade, its locations and labels), and its artifact when
    /// it was the last version.
    pub fn remove_version(&self, version_id: i64) -> Result<()> {
        let artifact: Option<i64> = self
            .conn
            .prepare_cached("SELECT artifact_id FROM versions WHERE id = ?1")
            .and_then(|mut s| s.query_row([version_id], |r| r.get(0)).optional())
            .map_err(self.err())?;
        self.conn
            .prepare_cached("DELETE FROM versions WHERE id = ?1")
            .and_then(|mut s| s.execute([version_id]))
            .map_err(self.err())?;
        if let Some(a) = artifact {
            self.forget_artifact_if_empty(a)?;
        }
        Ok(())
    }

    /// Forget the artifact `id` when it holds no version (one a failed sync pass created for a
    /// version it never recorded), so it names nothing that does not exist.
    pub fn forget_artifact_if_empty(&self, id: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "DELETE FROM artifacts WHERE id = ?1
                   AND NOT EXISTS (SELECT 1 FROM versions WHERE artifact_id = ?1)",
            )
            .and_then(|mut s| s.execute([id]))
            .map_err(self.err())?;
        Ok(())
    }

    /// The artifact of the newest version recorded from the local file `source_path`.
    pub fn artifact_of_source(&self, source_path: &str) -> Result<Option<Artifact>> {
        self.conn
            .prepare_cached(
                "SELECT a.id, a.org, a.family, a.kind, a.framework, a.folder, a.extension
                 FROM versions v JOIN artifacts a ON a.id = v.artifact_id
                 WHERE v.source_path = ?1 ORDER BY v.id DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([source_path], artifact_row).optional())
            .map_err(self.err())
    }

    /// Move an artifact to another storage folder (its file is now stored there by policy),
    /// unless an artifact of that identity exists there already.
    pub fn move_artifact(&self, artifact: i64, folder: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE OR IGNORE artifacts SET folder = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![artifact, folder]))
            .map_err(self.err())?;
        Ok(())
    }

    // Recording writes. Every command that writes or deletes an object (sync, watch, put,
    // migrate, rm, mv, cp, verify --fix, gc, version deletion) records it through these, so
    // the locations always equal what the providers hold. A version lives as long as one of
    // its stored copies does: when the last location of a version that had any is deleted
    // or overwritten, the version goes with it (a version that never had a location, a file
    // kept local by policy, stays).

    /// An object stored at `l` holding `version_id`. An object it replaced (another version
    /// recorded at that key) is forgotten, and that version too when it was its last copy.
    pub fn record_stored(&self, version_id: i64, l: &NewLocation) -> Result<()> {
        let replaced = self
            .location_at(&l.profile, &l.bucket, &l.key)?
            .filter(|old| old.version_id != version_id);
        self.add_location(version_id, l)?;
        if let Some(old) = replaced {
            self.forget_version_if_unstored(old.version_id)?;
        }
        Ok(())
    }

    /// The object at `profile`/`bucket`/`key` was deleted: forget its location, and its
    /// version when that was the version's last copy. Returns the location forgotten.
    pub fn record_deleted(
        &self,
        profile: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Option<StoredLocation>> {
        let Some(l) = self.location_at(profile, bucket, key)? else {
            return Ok(None);
        };
        self.remove_location(l.id)?;
        self.forget_version_if_unstored(l.version_id)?;
        Ok(Some(l))
    }

    /// The object at `bucket`/`key` of `profile` was moved to `to_bucket`/`to_key`: its
    /// location moves with it (what was recorded at the destination was replaced).
    pub fn record_moved(
        &self,
        profile: &str,
        (bucket, key): (&str, &str),
        (to_bucket, to_key): (&str, &str),
    ) -> Result<bool> {
        let Some(l) = self.location_at(profile, bucket, key)? else {
            self.record_deleted(profile, to_bucket, to_key)?;
            return Ok(false);
        };
        if let Some(old) = self.location_at(profile, to_bucket, to_key)? {
            self.remove_location(old.id)?;
            if old.version_id != l.version_id {
                self.forget_version_if_unstored(old.version_id)?;
            }
        }
        self.conn
            .prepare_cached("UPDATE locations SET bucket = ?2, key = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![l.id, to_bucket, to_key]))
            .map_err(self.err())?;
        Ok(true)
    }

    /// The object at `bucket`/`key` of `profile` was copied to `to_bucket`/`to_key` on the
    /// same store: the copy is another location of its version. False when the source is
    /// not recorded (the destination's old record, if any, is forgotten: it was replaced).
    pub fn record_copied(
        &self,
        profile: &str,
        (bucket, key): (&str, &str),
        (to_bucket, to_key): (&str, &str),
    ) -> Result<bool> {
        let Some(l) = self.location_at(profile, bucket, key)? else {
            self.record_deleted(profile, to_bucket, to_key)?;
            return Ok(false);
        };
        self.record_stored(
            l.version_id,
            &NewLocation {
                profile: l.profile,
                provider: l.provider,
                bucket: to_bucket.to_string(),
                key: to_key.to_string(),
                size: l.size,
                etag: None,
                sha256: l.sha256,
                stored_at: OffsetDateTime::now_utc(),
            },
        )?;
        Ok(true)
    }

    /// Forget a version whose stored copies are all gone (it had locations, none is left).
    fn forget_version_if_unstored(&self, version_id: i64) -> Result<()> {
        if self.locations_of(version_id)?.is_empty() {
            self.remove_version(version_id)?;
        }
        Ok(())
    }

    /// Record a transfer's bytes and requests (the cost dashboard's input).
    #[allow(clippy::too_many_arguments)]
    pub fn record_transfer(
        &self,
        profile: &str,
        provider: &str,
        bucket: &str,
        direction: Direction,
        bytes: u64,
        requests: u64,
    ) -> Result<()> {
        let direction = match direction {
            Direction::Upload => "upload",
            Direction::Download => "download",
        };
        self.conn
            .prepare_cached(
                "INSERT INTO transfers (profile, provider, bucket, direction, bytes, requests, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    profile,
                    provider,
                    bucket,
                    direction,
                    bytes as i64,
                    requests as i64,
                    now_ns()
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Append an audit event.
    pub fn audit(&self, e: &AuditEvent<'_>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_events (at, action, profile, bucket, key, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    now_ns(),
                    e.action,
                    e.profile,
                    e.bucket,
                    e.key,
                    e.detail
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Record what a command did with `profile` (of `provider`), in one transaction.
    pub fn record_activity(
        &self,
        profile: &str,
        provider: &str,
        activity: &[Activity],
    ) -> Result<()> {
        self.batch(|c| {
            for a in activity {
                c.audit(&AuditEvent {
                    action: a.action,
                    profile: Some(profile),
                    bucket: Some(&a.bucket),
                    key: Some(&a.key),
                    detail: None,
                })?;
                if let Some((direction, bytes)) = a.moved {
                    c.record_transfer(profile, provider, &a.bucket, direction, bytes, 1)?;
                }
            }
            Ok(())
        })
    }

    /// The audit log, oldest first: (time, action, profile, bucket, key, detail).
    #[allow(clippy::type_complexity)]
    pub fn audit_log(
        &self,
    ) -> Result<
        Vec<(
            OffsetDateTime,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        )>,
    > {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT at, action, profile, bucket, key, detail FROM audit_events ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map([], |r| {
                Ok((
                    from_ns(r.get(0)?),
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Point label `name` of the version's family at this version (moving it if set).
    pub fn set_label(&self, version_id: i64, name: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO labels (artifact_id, name, version_id, set_at)
                 SELECT artifact_id, ?2, id, ?3 FROM versions WHERE id = ?1
                 ON CONFLICT (artifact_id, name) DO UPDATE SET version_id = excluded.version_id,
                   set_at = excluded.set_at",
            )
            .and_then(|mut s| s.execute(params![version_id, name, now_ns()]))
            .map_err(self.err())?;
        Ok(())
    }

    /// The version a label of `artifact` points at.
    pub fn labelled(&self, artifact: i64, name: &str) -> Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT version_id FROM labels WHERE artifact_id = ?1 AND name = ?2")
            .and_then(|mut s| {
                s.query_row(params![artifact, name], |r| r.get(0))
                    .optional()
            })
            .map_err(self.err())
    }

    /// Register a project folder that sync works on.
    pub fn register_folder(&self, path: &Path, org: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO folders (path, org, added_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET org = excluded.org",
            )
            .and_then(|mut s| s.execute(params![path.to_string_lossy(), org, now_ns()]))
            .map_err(self.err())?;
        Ok(())
    }

    /// Registered project folders and their organizations.
    pub fn folders(&self) -> Result<Vec<(PathBuf, Option<String>)>> {
        let mut s = self
            .conn
            .prepare_cached("SELECT path, org FROM folders ORDER BY path")
            .map_err(self.err())?;
        let rows = s
            .query_map([], |r| {
                Ok((PathBuf::from(r.get::<_, String>(0)?), r.get(1)?))
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Every file state whose path starts with `prefix`, by path.
    pub fn file_states(&self, prefix: &str) -> Result<HashMap<String, FileState>> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT path, size, mtime_ns, sha256, decision FROM file_state
                 WHERE substr(path, 1, length(?1)) = ?1",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map([prefix], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    FileState {
                        size: r.get::<_, i64>(1)? as u64,
                        mtime_ns: r.get(2)?,
                        sha256: r.get(3)?,
                        decision: r.get(4)?,
                    },
                ))
            })
            .and_then(|r| r.collect::<rusqlite::Result<HashMap<_, _>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// The file state recorded for `path`.
    pub fn file_state(&self, path: &str) -> Result<Option<FileState>> {
        self.conn
            .prepare_cached(
                "SELECT size, mtime_ns, sha256, decision FROM file_state WHERE path = ?1",
            )
            .and_then(|mut s| {
                s.query_row([path], |r| {
                    Ok(FileState {
                        size: r.get::<_, i64>(0)? as u64,
                        mtime_ns: r.get(1)?,
                        sha256: r.get(2)?,
                        decision: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(self.err())
    }

    /// Remember a local file as synced in this state.
    pub fn set_file_state(&self, path: &str, state: &FileState) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO file_state (path, size, mtime_ns, sha256, synced_at, decision)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                   mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,
                   synced_at = excluded.synced_at, decision = excluded.decision",
            )
            .and_then(|mut s| {
                s.execute(params![
                    path,
                    state.size as i64,
                    state.mtime_ns,
                    state.sha256,
                    now_ns(),
                    state.decision
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Versions matching `q`, with labels, locations and metrics.
    pub fn versions(&self, q: &VersionQuery) -> Result<Vec<VersionInfo>> {
        self.versions_where(q, None)
    }

    /// The version with row id `id`, with labels, locations and metrics.
    pub fn version(&self, id: i64) -> Result<Option<VersionInfo>> {
        Ok(self
            .versions_where(&VersionQuery::default(), Some(id))?
            .pop())
    }

    fn versions_where(&self, q: &VersionQuery, id: Option<i64>) -> Result<Vec<VersionInfo>> {
        let mut sql = String::from(
            "SELECT v.id, v.artifact_id, a.org, a.family, a.kind, a.framework, v.version,
               v.sha256, v.size, v.original_size, v.encoding, v.source_path, v.created_at,
               v.accuracy, v.loss, v.epochs, v.model_type, v.dataset_count, v.training_split,
               v.other_metrics,
               v.sort_key = (SELECT MAX(sort_key) FROM versions l WHERE l.artifact_id = v.artifact_id),
               a.folder, a.extension
             FROM versions v JOIN artifacts a ON a.id = v.artifact_id WHERE 1=1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(id) = id {
            args.push(id.into());
            sql.push_str(&format!(" AND v.id = ?{}", args.len()));
        }
        if let Some(f) = &q.family {
            args.push(f.clone().into());
            sql.push_str(&format!(" AND a.family = ?{}", args.len()));
        }
        if let Some(id) = q.artifact {
            args.push(id.into());
            sql.push_str(&format!(" AND a.id = ?{}", args.len()));
        }
        if let Some(o) = &q.org {
            args.push(o.clone().into());
            sql.push_str(&format!(" AND a.org = ?{}", args.len()));
        }
        for f in &q.filters {
            args.push(match &f.value {
                FilterValue::Number(n) => (*n).into(),
                FilterValue::Text(t) => t.clone().into(),
            });
            // Column and operator come from fixed lists in Filter::parse, never from input.
            sql.push_str(&format!(" AND {} {} ?{}", f.column, f.op, args.len()));
        }
        sql.push_str(match q.sort {
            VersionSort::Version => {
                " ORDER BY a.family, a.org, a.folder, a.extension, v.sort_key DESC"
            }
            VersionSort::Created => " ORDER BY v.created_at DESC, v.id DESC",
            VersionSort::Accuracy => {
                " ORDER BY v.accuracy IS NULL, v.accuracy DESC, v.created_at DESC"
            }
            VersionSort::Loss => " ORDER BY v.loss IS NULL, v.loss ASC, v.created_at DESC",
        });
        if let Some(limit) = q.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut s = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let mut rows = s
            .query_map(rusqlite::params_from_iter(args), |r| {
                let other: Option<String> = r.get(19)?;
                Ok(VersionInfo {
                    id: r.get(0)?,
                    artifact_id: r.get(1)?,
                    org: r
                        .get::<_, String>(2)
                        .map(|o| (!o.is_empty()).then_some(o))?,
                    family: r.get(3)?,
                    artifact: artifact_name(
                        &r.get::<_, String>(21)?,
                        &r.get::<_, String>(3)?,
                        &r.get::<_, String>(22)?,
                    ),
                    kind: r.get(4)?,
                    framework: r.get(5)?,
                    version: r.get(6)?,
                    sha256: r.get(7)?,
                    size: r.get::<_, i64>(8)? as u64,
                    original_size: r.get::<_, i64>(9)? as u64,
                    encoding: r.get(10)?,
                    source_path: r.get(11)?,
                    created_at: from_ns(r.get(12)?),
                    metrics: VersionMetrics {
                        accuracy: r.get(13)?,
                        loss: r.get(14)?,
                        epochs: r.get(15)?,
                        model_type: r.get(16)?,
                        dataset_count: r.get(17)?,
                        training_split: r.get(18)?,
                        other: other
                            .and_then(|o| serde_json::from_str(&o).ok())
                            .unwrap_or_default(),
                    },
                    latest: r.get(20)?,
                    labels: Vec::new(),
                    locations: Vec::new(),
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        let mut labels = self
            .conn
            .prepare_cached("SELECT name FROM labels WHERE version_id = ?1 ORDER BY name")
            .map_err(self.err())?;
        for v in &mut rows {
            v.labels = labels
                .query_map([v.id], |r| r.get(0))
                .and_then(|r| r.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(self.err())?;
            v.locations = self.locations_of(v.id)?;
        }
        Ok(rows)
    }

    /// The artifact `spec` names ([`Artifact::answers_to`]: its family, or its name from a
    /// folder boundary on), of `org` when given. Errors name what exists and how to name one.
    pub fn artifact_named(&self, org: Option<&str>, spec: &str) -> Result<Artifact> {
        let candidates = self.artifacts_matching(org, spec)?;
        match candidates.as_slice() {
            [] => Err(not_found(format!(
                "no artifact `{spec}` in the catalog; `stowage versions` lists what is recorded"
            ))),
            [a] => Ok(a.clone()),
            many => {
                let orgs: std::collections::BTreeSet<_> = many.iter().map(|a| &a.org).collect();
                let names: Vec<String> = many
                    .iter()
                    .map(|a| match &a.org {
                        Some(o) if orgs.len() > 1 => format!("{} (--org {o})", a.name()),
                        _ => a.name(),
                    })
                    .collect();
                let example = many[0].name();
                let how = if orgs.len() > 1 && many.iter().all(|a| a.name() == example) {
                    "pass --org".to_string()
                } else {
                    format!("name one by its folder, e.g. `{example}`")
                };
                Err(Error::Usage(format!(
                    "`{spec}` names {} artifacts: {}; {how}",
                    many.len(),
                    names.join(", ")
                )))
            }
        }
    }

    /// One version of the artifact `spec` names (of `org`): by tag (`2.1` and `v2.1` are
    /// one spelling), by label, or the latest when `which` is None. Errors name what exists.
    pub fn resolve(
        &self,
        org: Option<&str>,
        spec: &str,
        which: Option<&str>,
    ) -> Result<VersionInfo> {
        let artifact = self.artifact_named(org, spec)?;
        let all = self.versions(&VersionQuery {
            artifact: Some(artifact.id),
            ..Default::default()
        })?;
        let found = match which {
            None => all.iter().find(|v| v.latest),
            Some(w) => {
                let other = match w.strip_prefix(['v', 'V']) {
                    Some(bare) if bare.starts_with(|c: char| c.is_ascii_digit()) => {
                        bare.to_string()
                    }
                    _ => format!("v{w}"),
                };
                all.iter()
                    .find(|v| v.version == w)
                    .or_else(|| all.iter().find(|v| v.labels.iter().any(|l| l == w)))
                    .or_else(|| all.iter().find(|v| v.version == other))
            }
        };
        found.cloned().ok_or_else(|| {
            not_found(format!(
                "`{}` has no version or label `{}`; versions: {}",
                artifact.name(),
                which.unwrap_or("latest"),
                all.iter()
                    .map(|v| v.version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// One page of the library: one row per artifact that has a version, filtered by kind,
    /// organization and a search over names, sorted, `limit` rows from `offset`, with the
    /// number of rows that match. Everything happens in SQL: a page costs the same at 100
    /// or 100,000 artifacts, and no more rows than the page are read.
    pub fn library(&self, q: &LibraryQuery) -> Result<LibraryPage> {
        let mut filter = String::from(" WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(k) = q.kind.as_deref().filter(|k| !k.is_empty()) {
            args.push(k.to_string().into());
            filter.push_str(&format!(" AND a.kind = ?{}", args.len()));
        }
        if let Some(o) = &q.org {
            args.push(o.clone().into());
            filter.push_str(&format!(" AND a.org = ?{}", args.len()));
        }
        if let Some(text) = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // LIKE with the user's text escaped: `%` and `_` match themselves.
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%").into());
            filter.push_str(&format!(
                " AND (a.folder || a.family || '.' || a.extension) LIKE ?{} ESCAPE '\\'",
                args.len()
            ));
        }
        let total: u64 = self
            .conn
            .query_row(
                &format!(
                    "SELECT COUNT(*) FROM artifacts a{filter}
                       AND EXISTS (SELECT 1 FROM versions v WHERE v.artifact_id = a.id)"
                ),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get::<_, i64>(0),
            )
            .map_err(self.err())? as u64;
        let order = match q.sort {
            LibrarySort::Name => "a.folder, a.family, a.extension, a.org",
            LibrarySort::Updated => "updated DESC, a.id DESC",
            LibrarySort::Size => "stored DESC, a.id",
            LibrarySort::Versions => "versions DESC, a.id",
        };
        let limit = q.limit.clamp(1, 1000);
        let sql = format!(
            "SELECT a.id, a.org, a.family, a.kind, a.framework, a.folder, a.extension,
                    COUNT(v.id) AS versions, MAX(v.created_at) AS updated,
                    SUM(v.size) AS stored, SUM(v.original_size),
                    (SELECT l.version FROM versions l WHERE l.artifact_id = a.id
                      ORDER BY l.sort_key DESC LIMIT 1),
                    (SELECT COUNT(*) FROM locations o JOIN versions w ON w.id = o.version_id
                      WHERE w.artifact_id = a.id),
                    (SELECT GROUP_CONCAT(DISTINCT o.profile) FROM locations o
                      JOIN versions w ON w.id = o.version_id WHERE w.artifact_id = a.id)
               FROM artifacts a JOIN versions v ON v.artifact_id = a.id{filter}
              GROUP BY a.id ORDER BY {order} LIMIT {limit} OFFSET {}",
            q.offset
        );
        let mut s = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = s
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let org: String = r.get(1)?;
                let profiles: Option<String> = r.get(13)?;
                let mut profiles: Vec<String> = profiles
                    .map(|p| p.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                profiles.sort();
                Ok(LibraryRow {
                    id: r.get(0)?,
                    name: artifact_name(
                        &r.get::<_, String>(5)?,
                        &r.get::<_, String>(2)?,
                        &r.get::<_, String>(6)?,
                    ),
                    org: (!org.is_empty()).then_some(org),
                    family: r.get(2)?,
                    kind: r.get(3)?,
                    framework: r.get(4)?,
                    versions: r.get::<_, i64>(7)? as u64,
                    updated_at: from_ns(r.get(8)?),
                    stored_bytes: r.get::<_, i64>(9)? as u64,
                    original_bytes: r.get::<_, i64>(10)? as u64,
                    latest: r.get(11)?,
                    locations: r.get::<_, i64>(12)? as u64,
                    profiles,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(LibraryPage {
            total,
            offset: q.offset,
            rows,
        })
    }

    /// The inputs of the cost report grouped by `group_by` as of `now`, summed in SQL
    /// ([`crate::cost::report_summary`] over them equals [`crate::cost::report`] over
    /// [`Catalog::cost_inputs`]): stored objects per provider, bucket and group, the recent
    /// transfers per bucket, and only the objects that can make a largest or stalest list.
    pub fn cost_summary(
        &self,
        group_by: crate::cost::GroupBy,
        now: OffsetDateTime,
    ) -> Result<crate::cost::CostSummary> {
        use crate::cost::{BucketTransferSum, CostCell, GroupBy, LIST_LEN, NO_ORG};
        let ([cut30, cut60, cut90], stale_cut) = crate::cost::cuts(now);
        // The group's name, and what a largest or stalest list is kept per.
        let (group, partition) = match group_by {
            GroupBy::Provider => ("''", "provider"),
            GroupBy::Bucket => ("''", "provider, bucket"),
            GroupBy::Folder => ("a.folder", "g"),
            GroupBy::Kind => ("a.kind", "g"),
            GroupBy::Org => ("CASE WHEN a.org = '' THEN ?5 ELSE a.org END", "g"),
        };
        let no_org = format!("'{}'", NO_ORG.replace('\'', "''"));
        let group = group.replace("?5", &no_org);
        // Times in whole seconds, as the report compares them; the last access is the last
        // read, or the storing when never read since.
        let objects = format!(
            "WITH o AS (
               SELECT l.id AS id, l.provider AS provider, l.bucket AS bucket, {group} AS g,
                 l.size AS stored, v.original_size AS original,
                 l.stored_at / 1000000000 AS sat,
                 CASE WHEN l.last_read IS NULL THEN l.stored_at / 1000000000
                   ELSE MAX(l.last_read / 1000000000, l.stored_at / 1000000000) END AS acc
               FROM locations l JOIN versions v ON v.id = l.version_id
               JOIN artifacts a ON a.id = v.artifact_id)"
        );
        let args = params![cut30, cut60, cut90, stale_cut];
        let mut s = self
            .conn
            .prepare(&format!(
                "{objects}
                 SELECT provider, bucket, g, COUNT(*), SUM(stored), SUM(original),
                   SUM(MAX(original - stored, 0)),
                   SUM(CASE WHEN sat >= ?1 THEN stored ELSE 0 END),
                   SUM(CASE WHEN sat < ?1 AND sat >= ?2 THEN stored ELSE 0 END),
                   SUM(CASE WHEN sat < ?2 AND sat >= ?3 THEN stored ELSE 0 END),
                   SUM(acc < ?4), SUM(CASE WHEN acc < ?4 THEN stored ELSE 0 END),
                   MIN(id) AS first
                 FROM o GROUP BY provider, bucket, g ORDER BY first"
            ))
            .map_err(self.err())?;
        let u = |r: &Row<'_>, i: usize| r.get::<_, i64>(i).map(|v| v as u64);
        let cells = s
            .query_map(args, |r| {
                Ok(CostCell {
                    provider: r.get(0)?,
                    bucket: r.get(1)?,
                    group: r.get(2)?,
                    objects: u(r, 3)?,
                    stored_bytes: u(r, 4)?,
                    original_bytes: u(r, 5)?,
                    savings_bytes: u(r, 6)?,
                    growth: [u(r, 7)?, u(r, 8)?, u(r, 9)?],
                    stale_objects: u(r, 10)?,
                    stale_bytes: u(r, 11)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        // The largest LIST_LEN of each group, and the stalest LIST_LEN of its stale objects;
        // ties go to the earlier stored, as in the report.
        let mut s = self
            .conn
            .prepare(&format!(
                "{objects},
                 pick AS (
                   SELECT id FROM (SELECT id, ROW_NUMBER() OVER
                     (PARTITION BY {partition} ORDER BY stored DESC, id) AS n FROM o)
                   WHERE n <= {LIST_LEN}
                   UNION
                   SELECT id FROM (SELECT id, ROW_NUMBER() OVER
                     (PARTITION BY {partition} ORDER BY acc, id) AS n FROM o WHERE acc < ?4)
                   WHERE n <= {LIST_LEN})
                 SELECT l.provider, l.bucket, a.org, a.folder, a.kind, a.family, v.version,
                   l.key, l.size, v.original_size, l.stored_at, l.last_read
                 FROM locations l JOIN versions v ON v.id = l.version_id
                 JOIN artifacts a ON a.id = v.artifact_id
                 WHERE l.id IN (SELECT id FROM pick) ORDER BY l.id"
            ))
            .map_err(self.err())?;
        let candidates = s
            .query_map(args, stored_object_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT provider, bucket,
                   SUM(CASE WHEN direction = 'download' THEN bytes ELSE 0 END),
                   SUM(CASE WHEN direction = 'download' THEN 0 ELSE bytes END),
                   SUM(CASE WHEN direction = 'download' THEN 0 ELSE requests END),
                   SUM(CASE WHEN direction = 'download' THEN requests ELSE 0 END),
                   MIN(id) AS first
                 FROM transfers WHERE at / 1000000000 >= ?1
                 GROUP BY provider, bucket ORDER BY first",
            )
            .map_err(self.err())?;
        let transfers = s
            .query_map([cut30], |r| {
                Ok(BucketTransferSum {
                    provider: r.get(0)?,
                    bucket: r.get(1)?,
                    down_bytes: u(r, 2)?,
                    up_bytes: u(r, 3)?,
                    up_requests: u(r, 4)?,
                    down_requests: u(r, 5)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(crate::cost::CostSummary {
            cells,
            transfers,
            candidates,
        })
    }

    /// The inputs of the cost report: every stored object and every recorded transfer.
    pub fn cost_inputs(&self) -> Result<(Vec<StoredObject>, Vec<TransferRecord>)> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT l.provider, l.bucket, a.org, a.folder, a.kind, a.family, v.version, l.key,
                   l.size, v.original_size, l.stored_at, l.last_read
                 FROM locations l JOIN versions v ON v.id = l.version_id
                 JOIN artifacts a ON a.id = v.artifact_id ORDER BY l.id",
            )
            .map_err(self.err())?;
        let objects = s
            .query_map([], stored_object_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT provider, bucket, direction, bytes, requests, at FROM transfers ORDER BY id",
            )
            .map_err(self.err())?;
        let transfers = s
            .query_map([], |r| {
                Ok(TransferRecord {
                    provider: r.get(0)?,
                    bucket: r.get(1)?,
                    direction: if r.get::<_, String>(2)? == "download" {
                        Direction::Download
                    } else {
                        Direction::Upload
                    },
                    bytes: r.get::<_, i64>(3)? as u64,
                    requests: r.get::<_, i64>(4)? as u64,
                    at: from_ns(r.get(5)?),
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok((objects, transfers))
    }
}

fn not_found(message: String) -> Error {
    Error::Store {
        source: Box::new(
            stowage_store::Error::new(ErrorKind::NotFound, "catalog", message)
                .hint("run `stowage versions` to see what is recorded"),
        ),
        file: None,
    }
}

fn stored_object_row(r: &Row<'_>) -> rusqlite::Result<StoredObject> {
    Ok(StoredObject {
        provider: r.get(0)?,
        bucket: r.get(1)?,
        org: r
            .get::<_, String>(2)
            .map(|o| (!o.is_empty()).then_some(o))?,
        folder: r.get(3)?,
        kind: r.get(4)?,
        family: r.get(5)?,
        version: r.get(6)?,
        key: r.get(7)?,
        stored_bytes: r.get::<_, i64>(8)? as u64,
        original_bytes: r.get::<_, i64>(9)? as u64,
        stored_at: from_ns(r.get(10)?),
        last_read: r.get::<_, Option<i64>>(11)?.map(from_ns),
    })
}

fn artifact_row(r: &Row<'_>) -> rusqlite::Result<Artifact> {
    let org: String = r.get(1)?;
    Ok(Artifact {
        id: r.get(0)?,
        org: (!org.is_empty()).then_some(org),
        family: r.get(2)?,
        kind: r.get(3)?,
        framework: r.get(4)?,
        folder: r.get(5)?,
        extension: r.get(6)?,
    })
}

fn location_row(r: &Row<'_>) -> rusqlite::Result<StoredLocation> {
    Ok(StoredLocation {
        id: r.get(0)?,
        version_id: r.get(1)?,
        profile: r.get(2)?,
        provider: r.get(3)?,
        bucket: r.get(4)?,
        key: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
        etag: r.get(7)?,
        sha256: r.get(8)?,
        stored_at: from_ns(r.get(9)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cost` sums in SQL: the report from the sums equals the report from every row, for
    /// every grouping, with compressed and stale objects, ties in size, several providers,
    /// buckets, folders and organizations, and transfers in and out of the window.
    #[test]
    fn cost_summary_gives_the_same_report_as_every_row() {
        use crate::cost::{self, GroupBy, PriceTable};
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open_at(&dir.path().join("c.sqlite3")).unwrap();
        let now = OffsetDateTime::now_utc();
        let day: i64 = 86_400 * 1_000_000_000;
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let providers = ["s3", "s3 (minio:9000)", "supabase", "local", "ftp"];
        let folders = ["models/", "training-data/", "exports/"];
        let orgs = [None, Some("acme"), Some("beta")];
        c.batch(|c| {
            for a in 0..60 {
                let folder = folders[rnd(3) as usize];
                let aid = c.upsert_artifact(
                    orgs[rnd(3) as usize],
                    &format!("fam-{a}"),
                    if folder == "models/" { "model" } else { "dataset" },
                    None,
                    folder,
                )?;
                for n in 0..(1 + rnd(6)) {
                    // Few sizes, so ties in the largest lists are common.
                    let size = 1 + rnd(8) * (1 << (20 + rnd(12)));
                    let mut v = version(aid, &format!("v{n}"), &format!("{a}-{n}"), None);
                    v.size = size;
                    v.original_size = if rnd(2) == 0 { size } else { size * 3 + rnd(100) };
                    let vid = c.insert_version(&v)?;
                    for _ in 0..(1 + rnd(2)) {
                        let p = providers[rnd(5) as usize];
                        let key = format!("k/{a}/{n}/{}", rnd(1_000_000));
                        let mut l = location(&key);
                        l.profile = p.into();
                        l.provider = p.into();
                        l.bucket = format!("b{}", rnd(3));
                        l.size = size;
                        l.stored_at = now - time::Duration::days(rnd(200) as i64);
                        c.add_location(vid, &l)?;
                        if rnd(2) == 0 {
                            c.conn
                                .execute(
                                    "UPDATE locations SET last_read = stored_at + ?2 WHERE key = ?1",
                                    params![key, rnd(150) as i64 * day],
                                )
                                .map_err(c.err())?;
                        }
                    }
                }
            }
            for _ in 0..300 {
                let p = providers[rnd(5) as usize];
                let dir = if rnd(2) == 0 {
                    Direction::Upload
                } else {
                    Direction::Download
                };
                c.record_transfer(p, p, &format!("b{}", rnd(4)), dir, rnd(1 << 34), 1 + rnd(9))?;
            }
            c.conn
                .execute(
                    "UPDATE transfers SET at = at - (id % 70) * ?1",
                    [day],
                )
                .map_err(c.err())?;
            Ok(())
        })
        .unwrap();
        let (objects, transfers) = c.cost_inputs().unwrap();
        assert!(objects.len() > 100, "{} objects", objects.len());
        let prices = PriceTable::default();
        for by in GroupBy::ALL {
            let rows = cost::report(&objects, &transfers, &prices, by, now);
            let summary = c.cost_summary(by, now).unwrap();
            assert!(summary.candidates.len() < objects.len());
            let summed = cost::report_summary(&summary, &prices, by, now);
            assert!(rows.total.stale_objects > 0 && rows.total.largest.len() == 20);
            assert_eq!(
                serde_json::to_value(&summed).unwrap(),
                serde_json::to_value(&rows).unwrap(),
                "grouped by {}",
                by.as_str()
            );
        }
    }

    fn version(artifact_id: i64, tag: &str, sha: &str, accuracy: Option<f64>) -> NewVersion {
        NewVersion {
            artifact_id,
            version: tag.into(),
            sha256: sha.into(),
            size: 10,
            original_size: 40,
            encoding: Some("gzip".into()),
            mtime_ns: Some(1),
            source_path: Some("/p/x.json".into()),
            created_at: OffsetDateTime::now_utc(),
            metrics: VersionMetrics {
                accuracy,
                other: [("f1".to_string(), 0.5)].into(),
                ..Default::default()
            },
        }
    }

    fn location(key: &str) -> NewLocation {
        NewLocation {
            profile: "lab".into(),
            provider: "s3".into(),
            bucket: "ml-artifacts".into(),
            key: key.into(),
            size: 10,
            etag: Some("\"e\"".into()),
            sha256: Some("ab".into()),
            stored_at: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn catalog_migrates_from_empty_and_reopens_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let c = Catalog::open_at(&path).unwrap();
            assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
            let a = c
                .upsert_artifact(None, "dataset", "dataset", None, "training-data/")
                .unwrap();
            c.insert_version(&version(a, "1", "aa", None)).unwrap();
            let mode: String = c
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
        // Re-opening runs no migration again and keeps the rows.
        let c = Catalog::open_at(&path).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        let a = c.artifact(None, "dataset").unwrap().unwrap();
        assert_eq!(c.version_count(a.id).unwrap(), 1);
        let fk: i64 = c
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        // A catalog from a newer Stowage is refused, not damaged.
        c.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = Catalog::open_at(&path).unwrap_err().to_string();
        assert!(err.contains("newer Stowage"), "{err}");
    }

    #[test]
    fn catalog_upgrades_a_schema_2_file_keeping_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO artifacts (id, org, family, kind, folder, created_at)
                   VALUES (7, '', 'main', 'other', 'generations/', 1);
                 INSERT INTO versions (id, artifact_id, version, sort_key, sha256, size,
                   original_size, created_at) VALUES (3, 7, '1', 'C0011', 'aa', 5, 5, 1);
                 INSERT INTO artifacts (id, org, family, kind, folder, created_at)
                   VALUES (8, '', 'credit_risk', 'model', 'models/', 1);
                 INSERT INTO versions (id, artifact_id, version, sort_key, sha256, size,
                   original_size, created_at) VALUES
                   (4, 8, 'v2', 'N0012.', 'b1', 5, 5, 1),
                   (5, 8, 'v2+2', 'N0012.+0012', 'b2', 5, 5, 1),
                   (6, 8, 'v2.0.1', 'N0012.0010.0011.', 'b3', 5, 5, 1);
                 INSERT INTO locations (version_id, profile, provider, bucket, key, size,
                   sha256, stored_at) VALUES (3, 'lab', 's3', 'ml', 'generations/main.py', 5,
                   'aa', 1);
                 INSERT INTO labels (artifact_id, name, version_id, set_at)
                   VALUES (7, 'production', 3, 1);
                 INSERT INTO file_state (path, size, mtime_ns, sha256, synced_at)
                   VALUES ('/p/gen-001/main.py', 5, 1, 'aa', 1);",
            )
            .unwrap();
        }
        let c = Catalog::open_at(&path).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        // Old number versions sort with new ones (a pre-release before its release).
        let pre = NewVersion {
            artifact_id: 8,
            ..version(8, "v2.0.1-rc1", "b4", None)
        };
        let key = crate::version::number_sort_key(
            &[2, 0, 1],
            &[crate::version::PreId::Word("rc".into(), Some(1))],
        );
        c.insert_version_sorted(&pre, Some(&key)).unwrap();
        let tags: Vec<String> = c
            .versions(&VersionQuery {
                artifact: Some(8),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(tags, ["v2.0.1", "v2.0.1-rc1", "v2+2", "v2"]);
        let v = c.resolve(None, "main", Some("production")).unwrap();
        assert_eq!((v.id, v.locations.len()), (3, 1));
        assert_eq!(
            c.file_state("/p/gen-001/main.py")
                .unwrap()
                .unwrap()
                .decision,
            None
        );
        let fk: i64 = c
            .conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        // The old artifact takes its extension when met again; a namesake in another folder
        // is another artifact, and naming `main` alone is then ambiguous.
        let a = c
            .upsert_artifact_at(None, "generations/", "main", "py", "other", None)
            .unwrap();
        assert_eq!(a, 7);
        let b = c
            .upsert_artifact_at(None, "generations/gen-002/", "main", "py", "other", None)
            .unwrap();
        assert_ne!(a, b);
        let err = c.artifact_named(None, "main").unwrap_err().to_string();
        assert!(
            err.contains("generations/main.py") && err.contains("generations/gen-002/main.py"),
            "{err}"
        );
        assert_eq!(c.artifact_named(None, "gen-002/main.py").unwrap().id, b);
        // Cascades still hold after the table was rebuilt.
        c.remove_version(3).unwrap();
        assert!(c
            .location_at("lab", "ml", "generations/main.py")
            .unwrap()
            .is_none());
        assert_eq!(c.labelled(a, "production").unwrap(), None);
    }

    #[test]
    fn catalog_recording_keeps_versions_while_a_copy_is_stored() {
        let c = Catalog::in_memory().unwrap();
        let a = c
            .upsert_artifact_at(None, "models/", "m", "pt", "model", None)
            .unwrap();
        let v1 = c.insert_version(&version(a, "1", "s1", None)).unwrap();
        let v2 = c.insert_version(&version(a, "2", "s2", None)).unwrap();
        c.record_stored(v1, &location("models/m.pt")).unwrap();
        assert!(c
            .record_copied(
                "lab",
                ("ml-artifacts", "models/m.pt"),
                ("ml-artifacts", "b/m.pt")
            )
            .unwrap());
        assert!(c
            .record_moved(
                "lab",
                ("ml-artifacts", "b/m.pt"),
                ("ml-artifacts", "c/m.pt")
            )
            .unwrap());
        let keys: Vec<String> = c
            .locations_of(v1)
            .unwrap()
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, ["models/m.pt", "c/m.pt"]);
        // v2 overwrites models/m.pt: v1 keeps its copy in c/, so it stays.
        c.record_stored(v2, &location("models/m.pt")).unwrap();
        assert_eq!(c.locations_of(v1).unwrap().len(), 1);
        // Its last copy deleted, v1 goes; an unknown key changes nothing.
        assert!(c
            .record_deleted("lab", "ml-artifacts", "c/m.pt")
            .unwrap()
            .is_some());
        assert!(c
            .record_deleted("lab", "ml-artifacts", "nope")
            .unwrap()
            .is_none());
        assert_eq!(c.version_count(a).unwrap(), 1);
        // The last version's last copy: the artifact goes too.
        c.record_deleted("lab", "ml-artifacts", "models/m.pt")
            .unwrap();
        assert!(c.artifact_named(None, "m").is_err());
    }

    #[test]
    fn catalog_read_only_open_never_creates_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("c"),
            data_dir: dir.path().join("d"),
            cache_dir: dir.path().join("k"),
        };
        let c = Catalog::open_read_only(&paths).unwrap();
        assert!(c.versions(&VersionQuery::default()).unwrap().is_empty());
        assert!(!paths.data_dir.exists());
        Catalog::open(&paths).unwrap();
        let ro = Catalog::open_read_only(&paths).unwrap();
        assert!(ro.upsert_artifact(None, "x", "x", None, "x/").is_err());
    }

    #[test]
    fn catalog_versions_labels_filters_and_cost_inputs() {
        let c = Catalog::in_memory().unwrap();
        let a = c
            .upsert_artifact(
                Some("acme"),
                "model-notable-quality",
                "model",
                None,
                "models/",
            )
            .unwrap();
        // Upsert returns the same artifact.
        assert_eq!(
            c.upsert_artifact(
                Some("acme"),
                "model-notable-quality",
                "model",
                None,
                "models/"
            )
            .unwrap(),
            a
        );
        let v1 = c
            .insert_version(&version(a, "2026-01-05T21-01-16", "s1", Some(0.8)))
            .unwrap();
        let v2 = c
            .insert_version(&version(a, "2026-01-06T03-27-22", "s2", Some(0.95)))
            .unwrap();
        let v3 = c
            .insert_version(&version(a, "2026-01-06T01-48-25", "s3", None))
            .unwrap();
        c.add_location(v1, &location("models/a")).unwrap();
        c.add_location(v2, &location("models/b")).unwrap();
        c.set_label(v1, "production").unwrap();
        let q = VersionQuery {
            family: Some("model-notable-quality".into()),
            ..Default::default()
        };
        let all = c.versions(&q).unwrap();
        let tags: Vec<_> = all.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(
            tags,
            [
                "2026-01-06T03-27-22",
                "2026-01-06T01-48-25",
                "2026-01-05T21-01-16"
            ]
        );
        assert!(all[0].latest && !all[1].latest);
        assert_eq!(all[2].labels, ["production"]);
        assert_eq!(all[0].locations[0].key, "models/b");
        assert_eq!(all[0].metrics.other["f1"], 0.5);
        assert_eq!(all[0].org.as_deref(), Some("acme"));

        // Moving a label moves it.
        c.set_label(v3, "production").unwrap();
        assert_eq!(c.labelled(a, "production").unwrap(), Some(v3));
        let r = c
            .resolve(None, "model-notable-quality", Some("production"))
            .unwrap();
        assert_eq!(r.id, v3);
        assert_eq!(
            c.resolve(None, "model-notable-quality", None).unwrap().id,
            v2
        );
        assert!(c.resolve(None, "nope", None).is_err());
        let err = c
            .resolve(None, "model-notable-quality", Some("v9"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("2026-01-05T21-01-16"), "{err}");

        let filtered = c
            .versions(&VersionQuery {
                filters: vec![Filter::parse("accuracy>0.9").unwrap()],
                sort: VersionSort::Accuracy,
                ..q.clone()
            })
            .unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].id, v2);
        let by_acc = c
            .versions(&VersionQuery {
                sort: VersionSort::Accuracy,
                limit: Some(2),
                ..q.clone()
            })
            .unwrap();
        assert_eq!(
            by_acc.iter().map(|v| v.id).collect::<Vec<_>>(),
            vec![v2, v1]
        );
        assert!(Filter::parse("accuracy~1").is_err());
        assert!(Filter::parse("drop table>1").is_err());
        assert!(Filter::parse("model_type>x").is_err());
        assert!(Filter::parse("model_type=xgboost").is_ok());

        c.record_transfer("lab", "s3", "ml-artifacts", Direction::Upload, 10, 1)
            .unwrap();
        let (objects, transfers) = c.cost_inputs().unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].org.as_deref(), Some("acme"));
        assert_eq!(objects[0].original_bytes, 40);
        assert_eq!(objects[0].stored_bytes, 10);
        assert_eq!(transfers.len(), 1);
        assert_eq!(transfers[0].direction, Direction::Upload);

        // Removing a version cascades to its locations and labels.
        c.remove_version(v3).unwrap();
        assert_eq!(c.labelled(a, "production").unwrap(), None);
        c.remove_version(v1).unwrap();
        assert_eq!(c.cost_inputs().unwrap().0.len(), 1);
    }

    #[test]
    fn catalog_file_state_batch_and_audit() {
        let c = Catalog::in_memory().unwrap();
        let s = FileState {
            size: 3,
            mtime_ns: 5,
            sha256: "x".into(),
            decision: None,
        };
        c.batch(|c| {
            c.set_file_state("/a/b", &s)?;
            c.set_file_state("/c/d", &s)?;
            c.audit(&AuditEvent {
                action: "put",
                key: Some("k"),
                ..Default::default()
            })
        })
        .unwrap();
        assert_eq!(c.file_states("/a/").unwrap().len(), 1);
        assert_eq!(c.file_states("").unwrap().len(), 2);
        let failed: Result<()> = c.batch(|c| {
            c.set_file_state("/e", &s)?;
            Err(Error::Usage("stop".into()))
        });
        assert!(failed.is_err());
        assert_eq!(c.file_states("").unwrap().len(), 2);
        assert_eq!(c.audit_log().unwrap()[0].1, "put");
        // An unknown action is refused by the schema.
        assert!(c
            .audit(&AuditEvent {
                action: "steal",
                ..Default::default()
            })
            .is_err());
        c.register_folder(Path::new("/proj"), Some("acme")).unwrap();
        assert_eq!(c.folders().unwrap()[0].1.as_deref(), Some("acme"));
    }

    #[test]
    fn catalog_sort_key_is_natural() {
        let mut tags = vec!["v10", "v9", "v2.1", "v2.10", "1", "2", "10"];
        tags.sort_by_key(|t| sort_key(t));
        assert_eq!(tags, ["1", "2", "10", "v2.1", "v2.10", "v9", "v10"]);
    }
}
