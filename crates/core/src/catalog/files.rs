//! Registered project folders and what sync remembers of each file.

use super::*;

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

/// A registered project folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredFolder {
    /// The folder.
    pub path: PathBuf,
    /// The organization its keys go under.
    pub org: Option<String>,
    /// When it was registered.
    pub added_at: OffsetDateTime,
    /// Whether watch passes over it until resumed.
    pub paused: bool,
}

impl Catalog {
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

    /// Registered project folders that are not paused, and their organizations.
    pub fn folders(&self) -> Result<Vec<(PathBuf, Option<String>)>> {
        Ok(self
            .registered_folders()?
            .into_iter()
            .filter(|f| !f.paused)
            .map(|f| (f.path, f.org))
            .collect())
    }

    /// Every registered project folder, paused ones too, by path.
    pub fn registered_folders(&self) -> Result<Vec<RegisteredFolder>> {
        let mut s = self
            .conn
            .prepare_cached("SELECT path, org, added_at, paused FROM folders ORDER BY path")
            .map_err(self.err())?;
        let rows = s
            .query_map([], |r| {
                Ok(RegisteredFolder {
                    path: PathBuf::from(r.get::<_, String>(0)?),
                    org: r.get(1)?,
                    added_at: from_ns(r.get(2)?),
                    paused: r.get::<_, i64>(3)? != 0,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }

    /// Pause or resume a registered folder; false when it is not registered.
    pub fn pause_folder(&self, path: &Path, paused: bool) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE folders SET paused = ?2 WHERE path = ?1",
                params![path.to_string_lossy(), paused as i64],
            )
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// Forget a registered folder (its files and stored objects stay); false when it was not
    /// registered.
    pub fn unregister_folder(&self, path: &Path) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM folders WHERE path = ?1",
                params![path.to_string_lossy()],
            )
            .map_err(self.err())?;
        Ok(n > 0)
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
}
