//! The local side of the team catalog (crate::team): the outbox the schema's triggers fill,
//! read as changes to push; pulled changes applied without echoing into the outbox; the
//! link's state (machine id, pull cursor, hybrid logical clock).
//!
//! Rows are named by natural keys, never by local row ids: an artifact by organization,
//! folder, family and extension; a version by its artifact and tag and content (SHA-256);
//! a location by provider, bucket and key; a label by its artifact and name.

use std::collections::HashSet;

use rusqlite::types::Value;

use super::*;

/// Whose rows a listing or report covers once the catalog holds the team's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only this user's own (recorded here, or by this user on another machine).
    Me,
    /// Everyone's the catalog holds.
    #[default]
    Team,
}

impl std::str::FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Scope> {
        match s.trim() {
            "me" => Ok(Scope::Me),
            "team" => Ok(Scope::Team),
            other => Err(Error::Usage(format!(
                "unknown scope `{other}`; use `me` (your own) or `team` (everyone's)"
            ))),
        }
    }
}

/// An artifact's natural key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ArtifactKey {
    /// Organization (empty: none).
    pub org: String,
    /// Folder (`models/`).
    pub folder: String,
    /// Family.
    pub family: String,
    /// Extension (empty: none).
    pub extension: String,
}

/// An artifact, as the team shares it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamArtifact {
    /// Its key.
    pub key: ArtifactKey,
    /// The policy kind.
    pub kind: String,
    /// The framework.
    pub framework: Option<String>,
    /// When first recorded (ns).
    pub created_ns: i64,
}

/// A version, as the team shares it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamVersion {
    /// Its artifact.
    pub artifact: ArtifactKey,
    /// Its tag.
    pub version: String,
    /// SHA-256 of its content.
    pub sha256: String,
    /// Stored size.
    pub size: i64,
    /// Original size.
    pub original_size: i64,
    /// `gzip` when stored compressed.
    pub encoding: Option<String>,
    /// The source file's mtime.
    pub mtime_ns: Option<i64>,
    /// The source file (on the machine that recorded it).
    pub source_path: Option<String>,
    /// When recorded (ns).
    pub created_ns: i64,
    /// Metrics.
    pub accuracy: Option<f64>,
    /// Metrics.
    pub loss: Option<f64>,
    /// Metrics.
    pub epochs: Option<i64>,
    /// Metrics.
    pub model_type: Option<String>,
    /// Metrics.
    pub dataset_count: Option<i64>,
    /// Metrics.
    pub training_split: Option<String>,
    /// Other metrics, as JSON.
    pub other_metrics: Option<String>,
}

/// A stored copy, as the team shares it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamLocation {
    /// Provider, bucket and key: its natural key.
    pub provider: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The profile name it was stored through (on the machine that stored it).
    pub profile: String,
    /// The version it holds: artifact, tag and SHA-256.
    pub artifact: ArtifactKey,
    /// The version's tag.
    pub version: String,
    /// The version's SHA-256.
    pub version_sha256: String,
    /// Bytes stored.
    pub size: i64,
    /// ETag.
    pub etag: Option<String>,
    /// SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// When stored (ns).
    pub stored_ns: i64,
}

/// A label move (or removal), with its clock.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamLabel {
    /// Its artifact.
    pub artifact: ArtifactKey,
    /// The label.
    pub name: String,
    /// The version it points at: tag and SHA-256 (empty when removed).
    pub version: String,
    /// The version's SHA-256.
    pub version_sha256: String,
    /// The hybrid logical clock of the move.
    pub hlc: i64,
    /// The clock of the value it replaced on the machine that moved it.
    pub base: i64,
}

/// Bytes moved, for the cost report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeamTransfer {
    /// Its row id on the machine that recorded it.
    pub local_id: i64,
    /// The profile.
    pub profile: String,
    /// The provider.
    pub provider: String,
    /// The bucket.
    pub bucket: String,
    /// `upload` or `download`.
    pub direction: String,
    /// Bytes.
    pub bytes: i64,
    /// Requests.
    pub requests: i64,
    /// When (ns).
    pub at_ns: i64,
}

/// One change to share or to apply. `member` names who made it (None: this user).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Change {
    /// An artifact recorded or changed.
    Artifact(TeamArtifact),
    /// An artifact forgotten.
    ArtifactGone(ArtifactKey),
    /// A version recorded or changed, and by whom.
    Version(TeamVersion, Option<String>),
    /// A version forgotten: its artifact, tag and SHA-256.
    VersionGone(ArtifactKey, String, String),
    /// A copy stored, and by whom.
    Location(TeamLocation, Option<String>),
    /// A copy deleted: provider, bucket, key.
    LocationGone(String, String, String),
    /// A label moved or removed (`version` empty), by a machine.
    Label(TeamLabel, Option<String>),
    /// A transfer, and by whom.
    Transfer(TeamTransfer, Option<String>),
}

/// Pending outbox entries read as changes: up to `last_id` they are all covered.
#[derive(Debug, Default)]
pub struct Outbox {
    /// The changes, in order, one per row changed.
    pub changes: Vec<Change>,
    /// The last outbox entry read (acknowledge it once pushed).
    pub last_id: i64,
}

/// The link to a team database, as recorded in this catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TeamLink {
    /// Whether changes are written to the outbox.
    pub linked: bool,
    /// This machine's id in the team database.
    pub machine: Option<String>,
    /// The last change sequence pulled.
    pub cursor: i64,
    /// Changes waiting to be pushed.
    pub pending: u64,
    /// The clock.
    pub hlc: i64,
}

fn key_of(json: &str) -> Vec<Value> {
    let parsed: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    parsed
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Value::Text(s),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Integer)
                .unwrap_or(Value::Real(n.as_f64().unwrap_or(0.0))),
            _ => Value::Null,
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        _ => String::new(),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        Value::Text(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn artifact_key(k: &[Value]) -> ArtifactKey {
    let at = |i: usize| k.get(i).map(text).unwrap_or_default();
    ArtifactKey {
        org: at(0),
        folder: at(1),
        family: at(2),
        extension: at(3),
    }
}

/// A text column that may hold a number (SQLite keeps what it was given).
fn loose_text(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match r.get::<_, Value>(i)? {
        Value::Null => None,
        v => Some(text(&v)),
    })
}

const VERSION_COLUMNS: &str = "v.version, v.sha256, v.size, v.original_size, v.encoding,
    v.mtime_ns, v.source_path, v.created_at, v.accuracy, v.loss, v.epochs, v.model_type,
    v.dataset_count, v.training_split, v.other_metrics, v.member";

fn version_of(
    artifact: ArtifactKey,
    r: &Row<'_>,
) -> rusqlite::Result<(TeamVersion, Option<String>)> {
    Ok((
        TeamVersion {
            artifact,
            version: r.get(0)?,
            sha256: r.get(1)?,
            size: r.get(2)?,
            original_size: r.get(3)?,
            encoding: r.get(4)?,
            mtime_ns: r.get(5)?,
            source_path: r.get(6)?,
            created_ns: r.get(7)?,
            accuracy: r.get(8)?,
            loss: r.get(9)?,
            epochs: r.get(10)?,
            model_type: r.get(11)?,
            dataset_count: r.get(12)?,
            training_split: loose_text(r, 13)?,
            other_metrics: r.get(14)?,
        },
        r.get(15)?,
    ))
}

impl Catalog {
    fn state(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT value FROM team_state WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(self.err())
    }

    fn set_state(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO team_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut s| s.execute([key, value]))
            .map_err(self.err())?;
        Ok(())
    }

    fn clear_state(&self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM team_state WHERE key = ?1")
            .and_then(|mut s| s.execute([key]))
            .map_err(self.err())?;
        Ok(())
    }

    /// How many artifacts are recorded.
    pub fn artifact_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM artifacts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The link to the team database, as recorded here.
    pub fn team_link(&self) -> Result<TeamLink> {
        let pending: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM team_outbox", [], |r| r.get(0))
            .map_err(self.err())?;
        Ok(TeamLink {
            linked: self.state("linked")?.is_some(),
            machine: self.state("machine")?,
            cursor: self
                .state("cursor")?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
            pending: pending as u64,
            hlc: self.state("hlc")?.and_then(|c| c.parse().ok()).unwrap_or(0),
        })
    }

    /// Link this catalog to a team database as `machine`: from now on every change goes to
    /// the outbox, and everything recorded so far (this user's own rows) is queued once.
    /// Returns the machine id (the one recorded earlier, if linked before).
    pub fn team_link_up(&self, machine: &str) -> Result<String> {
        self.batch(|c| {
            if c.state("linked")?.is_some() {
                return Ok(c.state("machine")?.unwrap_or_else(|| machine.to_string()));
            }
            c.set_state("machine", machine)?;
            c.conn
                .execute_batch(
                    "INSERT OR IGNORE INTO team_state (key, value) VALUES ('hlc', '0');
                     INSERT OR IGNORE INTO team_state (key, value) VALUES ('cursor', '0');
                     INSERT INTO team_outbox (entity, op, key)
                         SELECT 'artifact', 'put', json_array(org, folder, family, extension)
                         FROM artifacts ORDER BY id;
                     INSERT INTO team_outbox (entity, op, key)
                         SELECT 'version', 'put', json_array(a.org, a.folder, a.family,
                                                             a.extension, v.version, v.sha256)
                         FROM versions v JOIN artifacts a ON a.id = v.artifact_id
                         WHERE v.member IS NULL ORDER BY v.id;
                     INSERT INTO team_outbox (entity, op, key)
                         SELECT 'location', 'put', json_array(provider, bucket, key)
                         FROM locations WHERE member IS NULL ORDER BY id;
                     INSERT INTO team_outbox (entity, op, key, value)
                         SELECT 'label', 'put', json_array(a.org, a.folder, a.family,
                                                           a.extension, l.name),
                                json_array(v.version, v.sha256, l.hlc, l.hlc)
                         FROM labels l JOIN artifacts a ON a.id = l.artifact_id
                         JOIN versions v ON v.id = l.version_id ORDER BY l.id;
                     INSERT INTO team_outbox (entity, op, key)
                         SELECT 'transfer', 'put', json_array(id) FROM transfers
                         WHERE member IS NULL ORDER BY id;
                     INSERT INTO team_state (key, value) VALUES ('linked', '1');",
                )
                .map_err(c.err())?;
            Ok(machine.to_string())
        })
    }

    /// Up to `limit` outbox entries, read as the changes they stand for: the current row
    /// for a change (or its absence, a deletion), the last of several to one row.
    pub fn team_outbox(&self, limit: usize) -> Result<Outbox> {
        type Entry = (i64, String, String, String, Option<String>);
        let entries: Vec<Entry> = self
            .conn
            .prepare_cached(
                "SELECT id, entity, op, key, value FROM team_outbox ORDER BY id LIMIT ?1",
            )
            .and_then(|mut s| {
                s.query_map([limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(self.err())?;
        let mut out = Outbox {
            last_id: entries.last().map_or(0, |e| e.0),
            ..Outbox::default()
        };
        // The last entry for each row decides (a label's last move carries the latest clock).
        let mut last: HashMap<(String, String), usize> = HashMap::new();
        for (i, (_, entity, _, key, _)) in entries.iter().enumerate() {
            last.insert((entity.clone(), key.clone()), i);
        }
        for (i, (_, entity, op, key, value)) in entries.iter().enumerate() {
            if last.get(&(entity.clone(), key.clone())) != Some(&i) {
                continue;
            }
            let k = key_of(key);
            let change = match entity.as_str() {
                "artifact" => self.artifact_change(artifact_key(&k))?,
                "version" => self.version_change(artifact_key(&k), text(&k[4]), text(&k[5]))?,
                "location" => self.location_change(text(&k[0]), text(&k[1]), text(&k[2]))?,
                "label" => {
                    let v = key_of(value.as_deref().unwrap_or("[]"));
                    let at = |i: usize| v.get(i).cloned().unwrap_or(Value::Null);
                    let removed = op == "del";
                    Some(Change::Label(
                        TeamLabel {
                            artifact: artifact_key(&k),
                            name: text(&k[4]),
                            version: if removed { String::new() } else { text(&at(0)) },
                            version_sha256: if removed { String::new() } else { text(&at(1)) },
                            hlc: int(&at(2)),
                            base: int(&at(3)),
                        },
                        None,
                    ))
                }
                "transfer" => self.transfer_change(int(&k[0]))?,
                _ => None,
            };
            out.changes.extend(change);
        }
        Ok(out)
    }

    /// Forget the outbox entries up to `last_id`: the team database has them.
    pub fn team_acknowledge(&self, last_id: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM team_outbox WHERE id <= ?1")
            .and_then(|mut s| s.execute([last_id]))
            .map_err(self.err())?;
        Ok(())
    }

    fn artifact_change(&self, key: ArtifactKey) -> Result<Option<Change>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT kind, framework, created_at FROM artifacts
                 WHERE org = ?1 AND folder = ?2 AND family = ?3 AND extension = ?4",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![key.org, key.folder, key.family, key.extension],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })
            .map_err(self.err())?;
        Ok(Some(match row {
            Some((kind, framework, created_ns)) => Change::Artifact(TeamArtifact {
                key,
                kind,
                framework,
                created_ns,
            }),
            None => Change::ArtifactGone(key),
        }))
    }

    fn version_change(
        &self,
        artifact: ArtifactKey,
        version: String,
        sha256: String,
    ) -> Result<Option<Change>> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {VERSION_COLUMNS} FROM versions v JOIN artifacts a ON a.id = v.artifact_id
                 WHERE a.org = ?1 AND a.folder = ?2 AND a.family = ?3 AND a.extension = ?4
                   AND v.version = ?5 AND v.sha256 = ?6"
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![
                        artifact.org,
                        artifact.folder,
                        artifact.family,
                        artifact.extension,
                        version,
                        sha256
                    ],
                    |r| version_of(artifact.clone(), r),
                )
                .optional()
            })
            .map_err(self.err())?;
        Ok(Some(match row {
            Some((v, member)) => Change::Version(v, member),
            None => Change::VersionGone(artifact, version, sha256),
        }))
    }

    fn location_change(
        &self,
        provider: String,
        bucket: String,
        key: String,
    ) -> Result<Option<Change>> {
        if stowage_store::provider::of_label(&provider).is_some_and(|p| p.machine_local) {
            // A folder on this machine: nobody else can reach it.
            return Ok(None);
        }
        let row = self
            .conn
            .prepare_cached(
                "SELECT o.profile, a.org, a.folder, a.family, a.extension, v.version, v.sha256,
                   o.size, o.etag, o.sha256, o.stored_at, o.member
                 FROM locations o JOIN versions v ON v.id = o.version_id
                 JOIN artifacts a ON a.id = v.artifact_id
                 WHERE o.provider = ?1 AND o.bucket = ?2 AND o.key = ?3
                 ORDER BY o.member IS NOT NULL, o.id LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![provider, bucket, key], |r| {
                    Ok((
                        TeamLocation {
                            provider: provider.clone(),
                            bucket: bucket.clone(),
                            key: key.clone(),
                            profile: r.get(0)?,
                            artifact: ArtifactKey {
                                org: r.get(1)?,
                                folder: r.get(2)?,
                                family: r.get(3)?,
                                extension: r.get(4)?,
                            },
                            version: r.get(5)?,
                            version_sha256: r.get(6)?,
                            size: r.get(7)?,
                            etag: r.get(8)?,
                            sha256: r.get(9)?,
                            stored_ns: r.get(10)?,
                        },
                        r.get::<_, Option<String>>(11)?,
                    ))
                })
                .optional()
            })
            .map_err(self.err())?;
        Ok(Some(match row {
            Some((l, member)) => Change::Location(l, member),
            None => Change::LocationGone(provider, bucket, key),
        }))
    }

    fn transfer_change(&self, id: i64) -> Result<Option<Change>> {
        self.conn
            .prepare_cached(
                "SELECT profile, provider, bucket, direction, bytes, requests, at, member
                 FROM transfers WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok(Change::Transfer(
                        TeamTransfer {
                            local_id: id,
                            profile: r.get(0)?,
                            provider: r.get(1)?,
                            bucket: r.get(2)?,
                            direction: r.get(3)?,
                            bytes: r.get(4)?,
                            requests: r.get(5)?,
                            at_ns: r.get(6)?,
                        },
                        r.get(7)?,
                    ))
                })
                .optional()
            })
            .map_err(self.err())
    }

    /// Begin applying pulled changes: one transaction, the outbox off, until
    /// [`Applier::finish`] commits them (dropped unfinished, it rolls them back). `bulk` (a
    /// rebuild of an empty catalog) pauses the library's summaries and computes them once at
    /// the end, skips deletions (there is nothing to delete) and finds the rows it added
    /// without asking SQLite.
    pub fn team_applier(&self, bulk: bool) -> Result<Applier<'_>> {
        if bulk {
            // Statement journals in memory, and room for the whole rebuild's pages.
            self.conn
                .execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -131072;")
                .map_err(self.err())?;
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        let mut applier = Applier {
            catalog: self,
            bulk,
            done: false,
            indexes: Vec::new(),
            artifacts: HashMap::new(),
            versions: HashMap::new(),
            tags: HashSet::new(),
        };
        self.set_state("applying", "1")?;
        if bulk {
            self.set_state("bulk", "1")?;
            // Indexes are built faster once, from the rows, than row by row: the secondary
            // ones go until `finish` (in this transaction: a rollback brings them back).
            let indexes: Vec<(String, String, String)> = self
                .conn
                .prepare(
                    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'
                       AND sql IS NOT NULL
                       AND tbl_name IN ('artifacts', 'versions', 'locations', 'labels')",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(self.err())?;
            for (name, table, sql) in indexes {
                self.conn
                    .execute_batch(&format!("DROP INDEX \"{name}\""))
                    .map_err(self.err())?;
                applier.indexes.push((table, sql));
            }
        }
        Ok(applier)
    }

    fn artifact_id_of(&self, k: &ArtifactKey) -> Result<Option<i64>> {
        self.conn
            .prepare_cached(
                "SELECT id FROM artifacts WHERE org = ?1 AND folder = ?2 AND family = ?3
                   AND extension = ?4",
            )
            .and_then(|mut s| {
                s.query_row(params![k.org, k.folder, k.family, k.extension], |r| {
                    r.get(0)
                })
                .optional()
            })
            .map_err(self.err())
    }
}

/// Pulled changes being applied in one transaction ([`Catalog::team_applier`]).
pub struct Applier<'c> {
    catalog: &'c Catalog,
    bulk: bool,
    done: bool,
    /// In bulk: the secondary indexes dropped until the rows are in, (table, CREATE).
    indexes: Vec<(String, String)>,
    /// In bulk: what this rebuild added, by key.
    artifacts: HashMap<ArtifactKey, i64>,
    versions: HashMap<(i64, String), i64>,
    tags: HashSet<(i64, String)>,
}

impl Drop for Applier<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.catalog.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Applier<'_> {
    /// Commit the applied changes with the new pull cursor and clock.
    pub fn finish(mut self, cursor: i64, hlc: i64) -> Result<()> {
        let c = self.catalog;
        if self.bulk {
            c.clear_state("bulk")?;
            // The indexes the summaries read first; the artifacts' (most over the summary
            // columns) once the summaries are in.
            let (artifacts, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.indexes)
                .into_iter()
                .partition(|(table, _)| table == "artifacts");
            for (_, sql) in &others {
                c.conn.execute_batch(sql).map_err(c.err())?;
            }
            c.conn.execute_batch(SUMMARIZE_ALL).map_err(c.err())?;
            for (_, sql) in &artifacts {
                c.conn.execute_batch(sql).map_err(c.err())?;
            }
        }
        c.clear_state("applying")?;
        c.set_state("cursor", &cursor.to_string())?;
        let mine: i64 = c.state("hlc")?.and_then(|h| h.parse().ok()).unwrap_or(0);
        c.set_state("hlc", &mine.max(hlc).to_string())?;
        c.conn.execute_batch("COMMIT").map_err(c.err())?;
        self.done = true;
        Ok(())
    }

    fn artifact_id(&self, k: &ArtifactKey) -> Result<Option<i64>> {
        if self.bulk {
            return Ok(self.artifacts.get(k).copied());
        }
        self.catalog.artifact_id_of(k)
    }

    fn version_id(&self, artifact: i64, sha256: &str) -> Result<Option<i64>> {
        if self.bulk {
            return Ok(self.versions.get(&(artifact, sha256.to_string())).copied());
        }
        Ok(self
            .catalog
            .version_with_sha(artifact, sha256)?
            .map(|(id, _)| id))
    }

    fn has_tag(&self, artifact: i64, tag: &str) -> Result<bool> {
        if self.bulk {
            return Ok(self.tags.contains(&(artifact, tag.to_string())));
        }
        self.catalog.has_version(artifact, tag)
    }

    /// Apply one pulled change. `member` None marks the change as this user's own.
    pub fn apply(&mut self, change: &Change) -> Result<()> {
        let bulk = self.bulk;
        let c = self.catalog;
        match change {
            Change::ArtifactGone(_) | Change::VersionGone(..) | Change::LocationGone(..)
                if bulk =>
            {
                return Ok(());
            }
            Change::Artifact(a) => {
                c.conn
                    .prepare_cached(
                        "INSERT INTO artifacts (org, folder, family, extension, kind, framework,
                           created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (org, folder, family, extension) DO UPDATE
                           SET kind = excluded.kind,
                               framework = COALESCE(excluded.framework, framework)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            a.key.org,
                            a.key.folder,
                            a.key.family,
                            a.key.extension,
                            a.kind,
                            a.framework,
                            a.created_ns
                        ])
                    })
                    .map_err(c.err())?;
                if bulk {
                    self.artifacts
                        .insert(a.key.clone(), c.conn.last_insert_rowid());
                }
            }
            Change::ArtifactGone(k) => {
                c.conn
                    .prepare_cached(
                        "DELETE FROM artifacts WHERE org = ?1 AND folder = ?2 AND family = ?3
                           AND extension = ?4
                           AND NOT EXISTS (SELECT 1 FROM versions WHERE artifact_id = artifacts.id)",
                    )
                    .and_then(|mut s| s.execute(params![k.org, k.folder, k.family, k.extension]))
                    .map_err(c.err())?;
            }
            Change::Version(v, member) => {
                let Some(artifact) = self.artifact_id(&v.artifact)? else {
                    return Ok(());
                };
                if self.version_id(artifact, &v.sha256)?.is_some() {
                    // The same content is recorded: one version, not two.
                    return Ok(());
                }
                // Another file under the same tag keeps its own version, told apart by
                // its content.
                let tag = if self.has_tag(artifact, &v.version)? {
                    format!("{}+{}", v.version, &v.sha256[..v.sha256.len().min(8)])
                } else {
                    v.version.clone()
                };
                c.conn
                    .prepare_cached(
                        "INSERT INTO versions (artifact_id, version, sort_key, sha256, size,
                           original_size, encoding, mtime_ns, source_path, created_at, accuracy,
                           loss, epochs, model_type, dataset_count, training_split,
                           other_metrics, member)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                           ?15, ?16, ?17, ?18)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            artifact,
                            tag,
                            sort_key(&tag),
                            v.sha256,
                            v.size,
                            v.original_size,
                            v.encoding,
                            v.mtime_ns,
                            v.source_path,
                            v.created_ns,
                            v.accuracy,
                            v.loss,
                            v.epochs,
                            v.model_type,
                            v.dataset_count,
                            v.training_split,
                            v.other_metrics,
                            member,
                        ])
                    })
                    .map_err(c.err())?;
                if bulk {
                    let id = c.conn.last_insert_rowid();
                    self.versions.insert((artifact, v.sha256.clone()), id);
                    self.tags.insert((artifact, tag));
                }
            }
            Change::VersionGone(k, _, sha256) => {
                let Some(artifact) = self.artifact_id(k)? else {
                    return Ok(());
                };
                if let Some(id) = self.version_id(artifact, sha256)? {
                    // Kept while a copy is still recorded here.
                    if c.locations_of(id)?.is_empty() {
                        c.remove_version(id)?;
                    }
                }
            }
            Change::Location(l, member) => {
                let Some(artifact) = self.artifact_id(&l.artifact)? else {
                    return Ok(());
                };
                let Some(version) = self.version_id(artifact, &l.version_sha256)? else {
                    return Ok(());
                };
                c.conn
                    .prepare_cached(
                        "INSERT INTO locations (version_id, profile, provider, bucket, key, size,
                           etag, sha256, stored_at, member)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT (profile, bucket, key) DO UPDATE
                           SET version_id = excluded.version_id, provider = excluded.provider,
                               size = excluded.size, etag = excluded.etag,
                               sha256 = excluded.sha256, stored_at = excluded.stored_at,
                               member = excluded.member",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            version,
                            l.profile,
                            l.provider,
                            l.bucket,
                            l.key,
                            l.size,
                            l.etag,
                            l.sha256,
                            l.stored_ns,
                            member
                        ])
                    })
                    .map_err(c.err())?;
            }
            Change::LocationGone(provider, bucket, key) => {
                let gone: Vec<(i64, i64)> = c
                    .conn
                    .prepare_cached(
                        "SELECT id, version_id FROM locations
                         WHERE provider = ?1 AND bucket = ?2 AND key = ?3",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![provider, bucket, key], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })?
                        .collect()
                    })
                    .map_err(c.err())?;
                for (id, version) in gone {
                    c.remove_location(id)?;
                    c.forget_version_if_unstored(version)?;
                }
            }
            Change::Label(l, _) => {
                let Some(artifact) = self.artifact_id(&l.artifact)? else {
                    return Ok(());
                };
                if l.version.is_empty() {
                    c.conn
                        .prepare_cached("DELETE FROM labels WHERE artifact_id = ?1 AND name = ?2")
                        .and_then(|mut s| s.execute(params![artifact, l.name]))
                        .map_err(c.err())?;
                    return Ok(());
                }
                let Some(version) = self.version_id(artifact, &l.version_sha256)? else {
                    return Ok(());
                };
                c.conn
                    .prepare_cached(
                        "INSERT INTO labels (artifact_id, name, version_id, set_at, hlc)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (artifact_id, name) DO UPDATE
                           SET version_id = excluded.version_id, set_at = excluded.set_at,
                               hlc = excluded.hlc",
                    )
                    .and_then(|mut s| {
                        s.execute(params![artifact, l.name, version, now_ns(), l.hlc])
                    })
                    .map_err(c.err())?;
            }
            Change::Transfer(t, member) => {
                c.conn
                    .prepare_cached(
                        "INSERT INTO transfers (profile, provider, bucket, direction, bytes,
                           requests, at, member) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            t.profile,
                            t.provider,
                            t.bucket,
                            t.direction,
                            t.bytes,
                            t.requests,
                            t.at_ns,
                            member
                        ])
                    })
                    .map_err(c.err())?;
            }
        }
        Ok(())
    }
}
