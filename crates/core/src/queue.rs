//! The auto-sync engine's durable queue (M7): one catalog row per planned transfer (a file
//! to one profile), written before any byte moves, so a killed process loses no work. Rows
//! go `queued` → `running` → `done`, or `failed` (permanently, with the error) after their
//! retries; `cancelled` by the user, `superseded` when the file changed or vanished before
//! its turn (a newer row carries the newer content). Also each provider's health and the
//! lock that keeps two watchers off one catalog.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Row as SqlRow};
use serde::Serialize;
use stowage_store::ErrorKind;

use crate::catalog::Catalog;
use crate::error::{local_error, Error, Result};
use crate::units::now_ns;

/// Which copy a row makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The primary store's copy: the one the user's file depends on.
    Primary,
    /// The secondary copy of a primary+secondary rule: retried until it catches up, never
    /// failing the user's action.
    Secondary,
}

impl Role {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }

    fn parse(s: &str) -> Role {
        if s == "secondary" {
            Role::Secondary
        } else {
            Role::Primary
        }
    }
}

/// Where a row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for a worker (or for `next_at`, or for its provider to come back).
    Queued,
    /// A worker has it.
    Running,
    /// Uploaded, verified and recorded.
    Done,
    /// Failed permanently; `queue retry` puts it back.
    Failed,
    /// Cancelled by the user.
    Cancelled,
    /// The file changed or disappeared before it was uploaded.
    Superseded,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::Superseded => "superseded",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "running" => State::Running,
            "done" => State::Done,
            "failed" => State::Failed,
            "cancelled" => State::Cancelled,
            "superseded" => State::Superseded,
            _ => State::Queued,
        }
    }
}

/// A transfer to plan.
#[derive(Clone, Debug)]
pub struct NewRow {
    /// The local file, absolute.
    pub path: PathBuf,
    /// The watched folder it belongs to (keys and kinds are relative to it).
    pub dir: PathBuf,
    /// The organization prefix.
    pub org: Option<String>,
    /// Primary or secondary copy.
    pub role: Role,
    /// The profile.
    pub profile: String,
    /// The bucket.
    pub bucket: String,
    /// The key planned (with `.gz` when compressed).
    pub key: String,
    /// The file's size when planned.
    pub size: u64,
    /// Its modification time when planned.
    pub mtime_ns: i64,
}

/// A queue row.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Row {
    /// Its id.
    pub id: i64,
    /// The local file.
    pub path: PathBuf,
    /// The watched folder.
    pub dir: PathBuf,
    /// The organization prefix.
    pub org: Option<String>,
    /// Primary or secondary copy.
    pub role: Role,
    /// The profile.
    pub profile: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The file's size when planned.
    pub size: u64,
    /// Its modification time when planned.
    pub mtime_ns: i64,
    /// Where it is.
    pub state: State,
    /// Attempts that failed so far.
    pub attempts: u32,
    /// Not before this time (Unix ns).
    pub next_at_ns: i64,
    /// The last error's message.
    pub last_error: Option<String>,
    /// The last error's kind (`unavailable`, `unauthorized`, …).
    pub error_kind: Option<String>,
    /// SHA-256 of the content uploaded.
    pub sha256: Option<String>,
    /// The version recorded.
    pub version: Option<String>,
    /// When planned (Unix ns).
    pub created_at_ns: i64,
    /// Last change (Unix ns).
    pub updated_at_ns: i64,
}

const COLUMNS: &str = "id, path, dir, org, role, profile, bucket, key, size, mtime_ns, state, \
     attempts, next_at, last_error, error_kind, sha256, version, created_at, updated_at";

fn row(r: &SqlRow<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        path: PathBuf::from(r.get::<_, String>(1)?),
        dir: PathBuf::from(r.get::<_, String>(2)?),
        org: r.get(3)?,
        role: Role::parse(&r.get::<_, String>(4)?),
        profile: r.get(5)?,
        bucket: r.get(6)?,
        key: r.get(7)?,
        size: r.get::<_, i64>(8)? as u64,
        mtime_ns: r.get(9)?,
        state: State::parse(&r.get::<_, String>(10)?),
        attempts: r.get(11)?,
        next_at_ns: r.get(12)?,
        last_error: r.get(13)?,
        error_kind: r.get(14)?,
        sha256: r.get(15)?,
        version: r.get(16)?,
        created_at_ns: r.get(17)?,
        updated_at_ns: r.get(18)?,
    })
}

/// What [`enqueue`] did with one planned transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row.
    New(i64),
    /// A waiting row for the same file and profile now carries the newer size and mtime.
    Updated(i64),
    /// A row for exactly this content is already queued, running, failed or cancelled by the
    /// user: nothing added.
    Present(i64),
}

/// Plan `rows`, in one transaction. A file already waiting for the same profile is not queued
/// twice: its row takes the new size and mtime (a running row is left alone and a new one
/// added, so the newer content follows it).
pub fn enqueue(c: &Catalog, rows: &[NewRow]) -> Result<Vec<Enqueued>> {
    c.batch(|c| {
        let conn = c.conn();
        let now = now_ns();
        let mut out = Vec::with_capacity(rows.len());
        for n in rows {
            let path = n.path.to_string_lossy();
            let existing: Vec<(i64, String, i64, i64)> = conn
                .prepare_cached(
                    "SELECT id, state, size, mtime_ns FROM queue
                     WHERE path = ?1 AND profile = ?2
                     AND state IN ('queued', 'running', 'failed', 'cancelled')
                     ORDER BY id",
                )
                .and_then(|mut s| {
                    s.query_map(params![path, n.profile], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .map_err(|e| c.db_err(e))?;
            if let Some((id, ..)) = existing
                .iter()
                .find(|(_, _, size, mtime)| *size as u64 == n.size && *mtime == n.mtime_ns)
            {
                out.push(Enqueued::Present(*id));
                continue;
            }
            if let Some((id, ..)) = existing.iter().find(|(_, state, ..)| state == "queued") {
                conn.prepare_cached(
                    "UPDATE queue SET size = ?2, mtime_ns = ?3, key = ?4, bucket = ?5,
                     attempts = 0, next_at = 0, updated_at = ?6 WHERE id = ?1",
                )
                .and_then(|mut s| {
                    s.execute(params![id, n.size as i64, n.mtime_ns, n.key, n.bucket, now])
                })
                .map_err(|e| c.db_err(e))?;
                out.push(Enqueued::Updated(*id));
                continue;
            }
            // An older failed row of this file is replaced by the newer content's row.
            conn.prepare_cached(
                "UPDATE queue SET state = 'superseded', updated_at = ?3
                 WHERE path = ?1 AND profile = ?2 AND state = 'failed'",
            )
            .and_then(|mut s| s.execute(params![path, n.profile, now]))
            .map_err(|e| c.db_err(e))?;
            conn.prepare_cached(
                "INSERT INTO queue (path, dir, org, role, profile, bucket, key, size, mtime_ns,
                   state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    path,
                    n.dir.to_string_lossy(),
                    n.org,
                    n.role.as_str(),
                    n.profile,
                    n.bucket,
                    n.key,
                    n.size as i64,
                    n.mtime_ns,
                    now
                ])
            })
            .map_err(|e| c.db_err(e))?;
            out.push(Enqueued::New(conn.last_insert_rowid()));
        }
        Ok(out)
    })
}

/// Record a transfer that cannot be planned at all (a refused file) as failed.
pub fn insert_failed(c: &Catalog, n: &NewRow, error: &Error) -> Result<i64> {
    let now = now_ns();
    c.conn()
        .prepare_cached(
            "INSERT INTO queue (path, dir, org, role, profile, bucket, key, size, mtime_ns,
               state, attempts, last_error, error_kind, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'failed', 1, ?10, ?11, ?12, ?12)",
        )
        .and_then(|mut s| {
            s.execute(params![
                n.path.to_string_lossy(),
                n.dir.to_string_lossy(),
                n.org,
                n.role.as_str(),
                n.profile,
                n.bucket,
                n.key,
                n.size as i64,
                n.mtime_ns,
                error.to_string(),
                kind_name(error),
                now
            ])
        })
        .map_err(|e| c.db_err(e))?;
    Ok(c.conn().last_insert_rowid())
}

/// Whether a failed (or cancelled) row exists for exactly this content, so a rescan does not
/// add it again.
pub fn failed_for(c: &Catalog, path: &Path, size: u64, mtime_ns: i64) -> Result<bool> {
    c.conn()
        .prepare_cached(
            "SELECT 1 FROM queue WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3
             AND state IN ('failed', 'cancelled') LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(
                params![path.to_string_lossy(), size as i64, mtime_ns],
                |_| Ok(()),
            )
            .optional()
        })
        .map(|r| r.is_some())
        .map_err(|e| c.db_err(e))
}

/// Take up to `limit` due rows for workers, marking them running: oldest first, at most one
/// running row per file, none for the profiles in `paused` (unreachable providers).
pub fn claim(c: &Catalog, limit: usize, paused: &[String]) -> Result<Vec<Row>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    c.batch(|c| {
        let now = now_ns();
        // Profile names are letters, digits, `-`, `_` and `.` (config.rs); quotes are doubled
        // all the same.
        let paused_sql = paused
            .iter()
            .map(|p| format!("'{}'", p.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {COLUMNS} FROM queue q WHERE state = 'queued' AND next_at <= ?1
             AND profile NOT IN ({paused_sql})
             AND NOT EXISTS (SELECT 1 FROM queue r WHERE r.path = q.path AND r.state = 'running')
             ORDER BY next_at, id LIMIT ?2"
        );
        // Ask for more than needed: second rows of one file drop out.
        let candidates: Vec<Row> = c
            .conn()
            .prepare(&sql)
            .and_then(|mut s| {
                s.query_map(params![now, (limit * 4 + 16) as i64], row)?
                    .collect()
            })
            .map_err(|e| c.db_err(e))?;
        let mut taken: Vec<Row> = Vec::new();
        for mut r in candidates {
            if taken.len() == limit {
                break;
            }
            if paused.contains(&r.profile) || taken.iter().any(|t| t.path == r.path) {
                continue;
            }
            set_state(c, r.id, State::Running)?;
            r.state = State::Running;
            taken.push(r);
        }
        Ok(taken)
    })
}

fn set_state(c: &Catalog, id: i64, state: State) -> Result<()> {
    c.conn()
        .prepare_cached("UPDATE queue SET state = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, state.as_str(), now_ns()]))
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Mark a row done with what was stored (call inside the batch that records the upload, so
/// both commit together).
pub fn finish(c: &Catalog, id: i64, sha256: &str, version: Option<&str>) -> Result<()> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'done', sha256 = ?2, version = ?3, last_error = NULL,
             error_kind = NULL, updated_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, sha256, version, now_ns()]))
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Mark done the rows still waiting to upload `path` (as of `size` and `mtime_ns`) to
/// `profile`, once another pass (a one-shot `sync`) has made that copy.
pub fn settle_waiting(
    c: &Catalog,
    path: &Path,
    (size, mtime_ns): (u64, i64),
    profile: &str,
    sha256: &str,
    version: Option<&str>,
) -> Result<()> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'done', sha256 = ?3, version = ?4, updated_at = ?5
             WHERE path = ?1 AND profile = ?2 AND state = 'queued'
               AND size = ?6 AND mtime_ns = ?7",
        )
        .and_then(|mut s| {
            s.execute(params![
                path.to_string_lossy(),
                profile,
                sha256,
                version,
                now_ns(),
                size as i64,
                mtime_ns
            ])
        })
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Queued rows per profile: what waits, and for which provider.
pub fn queued_by_profile(c: &Catalog) -> Result<Vec<(String, u64)>> {
    c.conn()
        .prepare_cached(
            "SELECT profile, COUNT(*) FROM queue WHERE state = 'queued'
             GROUP BY profile ORDER BY profile",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
        .map_err(|e| c.db_err(e))
}

/// Put a row back in the queue after an error, due at `next_at_ns`; `counted` adds an attempt
/// (an unreachable provider's rows wait without using theirs up).
pub fn retry_later(
    c: &Catalog,
    id: i64,
    error: &Error,
    next_at_ns: i64,
    counted: bool,
) -> Result<()> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'queued', attempts = attempts + ?2, next_at = ?3,
             last_error = ?4, error_kind = ?5, updated_at = ?6 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                counted as i64,
                next_at_ns,
                error.to_string(),
                kind_name(error),
                now_ns()
            ])
        })
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Mark a row failed for good, with its error.
pub fn fail(c: &Catalog, id: i64, error: &Error) -> Result<()> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'failed', attempts = attempts + 1, last_error = ?2,
             error_kind = ?3, updated_at = ?4 WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, error.to_string(), kind_name(error), now_ns()]))
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Mark a row superseded (the file changed or vanished before its upload).
pub fn supersede(c: &Catalog, id: i64, why: &str) -> Result<()> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'superseded', last_error = ?2, updated_at = ?3
             WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, why, now_ns()]))
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Put rows a stopped (or killed) process left running back in the queue; how many.
pub fn reclaim_running(c: &Catalog) -> Result<usize> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'queued', next_at = 0, updated_at = ?1
             WHERE state = 'running'",
        )
        .and_then(|mut s| s.execute([now_ns()]))
        .map_err(|e| c.db_err(e))
}

/// `queue retry ID`: a failed (or cancelled) row goes back to the queue with fresh attempts.
pub fn retry(c: &Catalog, id: i64) -> Result<Row> {
    let r = get(c, id)?;
    if !matches!(r.state, State::Failed | State::Cancelled) {
        return Err(Error::Usage(format!(
            "queue row {id} is {}, not failed or cancelled; only those can be retried",
            r.state.as_str()
        )));
    }
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'queued', attempts = 0, next_at = 0, updated_at = ?2
             WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, now_ns()]))
        .map_err(|e| c.db_err(e))?;
    get(c, id)
}

/// `queue retry --all-failed`: every failed row goes back to the queue; how many.
pub fn retry_all_failed(c: &Catalog) -> Result<usize> {
    c.conn()
        .prepare_cached(
            "UPDATE queue SET state = 'queued', attempts = 0, next_at = 0, updated_at = ?1
             WHERE state = 'failed'",
        )
        .and_then(|mut s| s.execute([now_ns()]))
        .map_err(|e| c.db_err(e))
}

/// `queue cancel ID`: a waiting or failed row is dropped. A running row cannot be cancelled
/// from another process (its upload is in flight); stop `stowage watch` first.
pub fn cancel(c: &Catalog, id: i64) -> Result<Row> {
    let r = get(c, id)?;
    if !matches!(r.state, State::Queued | State::Failed) {
        return Err(Error::Usage(format!(
            "queue row {id} is {}; only queued or failed rows can be cancelled{}",
            r.state.as_str(),
            if r.state == State::Running {
                " (stop `stowage watch` first: its upload is in flight)"
            } else {
                ""
            }
        )));
    }
    set_state(c, id, State::Cancelled)?;
    get(c, id)
}

/// One row by id.
pub fn get(c: &Catalog, id: i64) -> Result<Row> {
    c.conn()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM queue WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], row).optional())
        .map_err(|e| c.db_err(e))?
        .ok_or_else(|| Error::Store {
            source: Box::new(
                stowage_store::Error::new(
                    ErrorKind::NotFound,
                    "queue",
                    format!("there is no queue row {id}"),
                )
                .hint("list the queue with `stowage queue ls`"),
            ),
            file: None,
        })
}

/// Rows in `states` (every state when empty), newest first, at most `limit`.
pub fn list(c: &Catalog, states: &[State], limit: Option<u64>) -> Result<Vec<Row>> {
    let filter = if states.is_empty() {
        String::new()
    } else {
        format!(
            "WHERE state IN ({})",
            states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM queue {filter} ORDER BY id DESC LIMIT {}",
        limit.map_or(-1, |l| l as i64)
    );
    c.conn()
        .prepare(&sql)
        .and_then(|mut s| s.query_map([], row)?.collect())
        .map_err(|e| c.db_err(e))
}

/// How many rows are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Counts {
    /// Waiting.
    pub queued: u64,
    /// In flight.
    pub running: u64,
    /// Uploaded and verified.
    pub done: u64,
    /// Failed permanently.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Superseded by newer content.
    pub superseded: u64,
}

/// Rows per state.
pub fn counts(c: &Catalog) -> Result<Counts> {
    let mut out = Counts::default();
    let rows: Vec<(String, u64)> = c
        .conn()
        .prepare_cached("SELECT state, COUNT(*) FROM queue GROUP BY state")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect()
        })
        .map_err(|e| c.db_err(e))?;
    for (state, n) in rows {
        match State::parse(&state) {
            State::Queued => out.queued = n,
            State::Running => out.running = n,
            State::Done => out.done = n,
            State::Failed => out.failed = n,
            State::Cancelled => out.cancelled = n,
            State::Superseded => out.superseded = n,
        }
    }
    Ok(out)
}

/// When the earliest waiting row of a profile not in `paused` is due (Unix ns).
pub fn next_due(c: &Catalog, paused: &[String]) -> Result<Option<i64>> {
    let rows: Vec<(String, i64)> = c
        .conn()
        .prepare_cached(
            "SELECT profile, MIN(next_at) FROM queue WHERE state = 'queued' GROUP BY profile",
        )
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(|e| c.db_err(e))?;
    Ok(rows
        .into_iter()
        .filter(|(p, _)| !paused.contains(p))
        .map(|(_, at)| at)
        .min())
}

/// A provider's health as last seen by the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Health {
    /// The profile.
    pub profile: String,
    /// Whether it answered last time.
    pub up: bool,
    /// Since when (Unix ns).
    pub since_ns: i64,
    /// The error that took it down.
    pub last_error: Option<String>,
    /// Last checked (Unix ns).
    pub checked_at_ns: i64,
}

/// Record a profile's health; `since` changes only when `up` does.
pub fn set_health(c: &Catalog, profile: &str, up: bool, error: Option<&str>) -> Result<()> {
    let now = now_ns();
    c.conn()
        .prepare_cached(
            "INSERT INTO provider_health (profile, up, since, last_error, checked_at)
             VALUES (?1, ?2, ?3, ?4, ?3)
             ON CONFLICT (profile) DO UPDATE SET
               since = CASE WHEN up = excluded.up THEN since ELSE excluded.since END,
               up = excluded.up,
               last_error = COALESCE(excluded.last_error, last_error),
               checked_at = excluded.checked_at",
        )
        .and_then(|mut s| s.execute(params![profile, up as i64, now, error]))
        .map_err(|e| c.db_err(e))?;
    Ok(())
}

/// Every profile's recorded health.
pub fn health(c: &Catalog) -> Result<Vec<Health>> {
    c.conn()
        .prepare_cached(
            "SELECT profile, up, since, last_error, checked_at FROM provider_health
             ORDER BY profile",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(Health {
                    profile: r.get(0)?,
                    up: r.get::<_, i64>(1)? != 0,
                    since_ns: r.get(2)?,
                    last_error: r.get(3)?,
                    checked_at_ns: r.get(4)?,
                })
            })?
            .collect()
        })
        .map_err(|e| c.db_err(e))
}

/// A short name for an error's kind, as stored and shown.
pub fn kind_name(e: &Error) -> &'static str {
    match e.kind() {
        Some(ErrorKind::NotFound) => "not_found",
        Some(ErrorKind::AlreadyExists) => "already_exists",
        Some(ErrorKind::Unauthorized) => "unauthorized",
        Some(ErrorKind::TooLarge { .. }) => "too_large",
        Some(ErrorKind::InvalidKey) => "invalid_key",
        Some(ErrorKind::Unavailable) => "unavailable",
        Some(ErrorKind::Conflict) => "conflict",
        Some(ErrorKind::NotSupported) => "not_supported",
        Some(ErrorKind::Integrity) => "integrity",
        Some(ErrorKind::Other) => "other",
        None => match e {
            Error::Config(_) => "config",
            _ => "usage",
        },
    }
}

/// Take an exclusive lock on `file` without waiting; false if it cannot be had.
#[cfg(unix)]
pub(crate) fn try_lock_exclusive(file: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor the caller owns; no memory is involved.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Take an exclusive lock on `file` without waiting; false if it cannot be had. The system
/// releases it when the process dies, like `flock`.
#[cfg(not(unix))]
pub(crate) fn try_lock_exclusive(file: &File) -> bool {
    file.try_lock().is_ok()
}

/// The lock that keeps a second `stowage watch` off the same catalog: an exclusive `flock` on
/// `watch.lock` beside it, released when dropped or when the process dies (even by `kill -9`).
#[derive(Debug)]
pub struct WatchLock {
    _file: File,
    path: PathBuf,
}

impl WatchLock {
    /// Take the lock in `data_dir`, or say which process holds it.
    pub fn acquire(data_dir: &Path) -> Result<WatchLock> {
        use std::io::{Read, Seek, Write};
        let path = data_dir.join("watch.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| crate::transfer::io_local(&path, "opening the watch lock", e))?;
        if !try_lock_exclusive(&file) {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(local_error(
                ErrorKind::Conflict,
                &path,
                format!(
                    "another `stowage watch` (process {}) is already working on this catalog",
                    holder
                        .trim()
                        .parse::<u32>()
                        .map_or("unknown".into(), |p| p.to_string())
                ),
                "stop it first, or use it: one watcher serves every registered project",
            ));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(WatchLock { _file: file, path })
    }

    /// Who holds the lock in `data_dir`, without taking it: the holder's message, or None
    /// when no watcher runs.
    pub fn holder(data_dir: &Path) -> Option<String> {
        use std::io::Read;
        let path = data_dir.join("watch.lock");
        let mut file = std::fs::File::open(&path).ok()?;
        if try_lock_exclusive(&file) {
            return None;
        }
        let mut pid = String::new();
        let _ = file.read_to_string(&mut pid);
        Some(match pid.trim().parse::<u32>() {
            Ok(p) => format!("`stowage watch` (process {p}) is watching the registered folders"),
            Err(_) => "another `stowage watch` is watching the registered folders".to_string(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_row(path: &str, profile: &str, size: u64, mtime: i64) -> NewRow {
        NewRow {
            path: PathBuf::from(path),
            dir: PathBuf::from("/p"),
            org: None,
            role: Role::Primary,
            profile: profile.into(),
            bucket: "b".into(),
            key: "k".into(),
            size,
            mtime_ns: mtime,
        }
    }

    fn unavailable() -> Error {
        stowage_store::Error::new(ErrorKind::Unavailable, "s3", "connection refused").into()
    }

    #[test]
    fn queue_dedupes_updates_waiting_rows_and_claims_one_per_file() {
        let c = Catalog::in_memory().unwrap();
        let a = enqueue(
            &c,
            &[new_row("/p/a", "s3", 1, 1), new_row("/p/a", "backup", 1, 1)],
        )
        .unwrap();
        assert!(matches!(a[..], [Enqueued::New(_), Enqueued::New(_)]));
        // The same content again: nothing new.
        assert_eq!(
            enqueue(&c, &[new_row("/p/a", "s3", 1, 1)]).unwrap(),
            [Enqueued::Present(match a[0] {
                Enqueued::New(id) => id,
                _ => unreachable!(),
            })]
        );
        // Newer content of a waiting file updates its row.
        let u = enqueue(&c, &[new_row("/p/a", "s3", 2, 2)]).unwrap();
        assert!(matches!(u[0], Enqueued::Updated(_)));
        assert_eq!(counts(&c).unwrap().queued, 2);
        // One running row per file: the two rows of /p/a are claimed one at a time.
        let first = claim(&c, 8, &[]).unwrap();
        assert_eq!(first.len(), 1);
        assert!(claim(&c, 8, &[]).unwrap().is_empty());
        // A paused profile's rows wait.
        finish(&c, first[0].id, "sha", Some("1")).unwrap();
        let paused = vec!["backup".to_string(), "s3".to_string()];
        assert!(claim(&c, 8, &paused).unwrap().is_empty());
        assert_eq!(claim(&c, 8, &[]).unwrap().len(), 1);
    }

    #[test]
    fn queue_reclaims_running_retries_fails_and_cancels() {
        let c = Catalog::in_memory().unwrap();
        enqueue(
            &c,
            &[new_row("/p/a", "s3", 1, 1), new_row("/p/b", "s3", 1, 1)],
        )
        .unwrap();
        let rows = claim(&c, 8, &[]).unwrap();
        assert_eq!(rows.len(), 2);
        // A killed process left both running: both come back.
        assert_eq!(reclaim_running(&c).unwrap(), 2);
        let rows = claim(&c, 8, &[]).unwrap();
        // Not yet due after a counted retry; an uncounted one keeps its attempts.
        retry_later(
            &c,
            rows[0].id,
            &unavailable(),
            now_ns() + 60_000_000_000,
            true,
        )
        .unwrap();
        retry_later(&c, rows[1].id, &unavailable(), 0, false).unwrap();
        let again = claim(&c, 8, &[]).unwrap();
        assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), [rows[1].id]);
        assert_eq!(again[0].attempts, 0);
        assert_eq!(get(&c, rows[0].id).unwrap().attempts, 1);
        assert_eq!(
            get(&c, rows[0].id).unwrap().error_kind.as_deref(),
            Some("unavailable")
        );
        fail(&c, again[0].id, &unavailable()).unwrap();
        assert_eq!(counts(&c).unwrap().failed, 1);
        assert!(failed_for(&c, Path::new("/p/b"), 1, 1).unwrap());
        // Cancel refuses a done row, takes a queued one; retry brings failed rows back.
        assert!(cancel(&c, rows[0].id).is_ok());
        assert!(cancel(&c, rows[0].id).is_err());
        assert_eq!(retry_all_failed(&c).unwrap(), 1);
        assert_eq!(get(&c, again[0].id).unwrap().state, State::Queued);
        assert!(matches!(
            get(&c, 999).unwrap_err().kind(),
            Some(ErrorKind::NotFound)
        ));
    }

    #[test]
    fn queue_health_keeps_since_until_the_state_changes() {
        let c = Catalog::in_memory().unwrap();
        set_health(&c, "s3", false, Some("refused")).unwrap();
        let down = health(&c).unwrap()[0].clone();
        std::thread::sleep(std::time::Duration::from_millis(2));
        set_health(&c, "s3", false, None).unwrap();
        let still = health(&c).unwrap()[0].clone();
        assert_eq!(still.since_ns, down.since_ns);
        assert_eq!(still.last_error.as_deref(), Some("refused"));
        set_health(&c, "s3", true, None).unwrap();
        let up = health(&c).unwrap()[0].clone();
        assert!(up.up && up.since_ns > down.since_ns);
    }

    #[test]
    fn queue_watch_lock_refuses_a_second_watcher_and_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = WatchLock::acquire(dir.path()).unwrap();
        let err = WatchLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("watch.lock"), "{err}");
        drop(lock);
        assert!(WatchLock::acquire(dir.path()).is_ok());
    }
}
