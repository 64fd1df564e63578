//! Artifacts: a family of versions in one folder, found by name, family or path.

use super::*;

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

pub(super) fn not_found(message: String) -> Error {
    Error::Store {
        source: Box::new(
            stowage_store::Error::new(ErrorKind::NotFound, "catalog", message)
                .hint("run `stowage versions` to see what is recorded"),
        ),
        file: None,
    }
}

pub(super) fn artifact_row(r: &Row<'_>) -> rusqlite::Result<Artifact> {
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

impl Catalog {
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
}
