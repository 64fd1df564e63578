//! Versions: recording them, their metrics and labels, and listing them with filters.

use super::*;

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
    /// The teammate who recorded it, for a version pulled from the team catalog (None: this
    /// user's own).
    pub member: Option<String>,
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
pub(super) enum FilterValue {
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
    /// Only this user's versions, or everyone's.
    pub scope: Scope,
}

impl Catalog {
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

    pub(super) fn versions_where(
        &self,
        q: &VersionQuery,
        id: Option<i64>,
    ) -> Result<Vec<VersionInfo>> {
        let mut sql = String::from(
            "SELECT v.id, v.artifact_id, a.org, a.family, a.kind, a.framework, v.version,
               v.sha256, v.size, v.original_size, v.encoding, v.source_path, v.created_at,
               v.accuracy, v.loss, v.epochs, v.model_type, v.dataset_count, v.training_split,
               v.other_metrics,
               v.sort_key = (SELECT MAX(sort_key) FROM versions l WHERE l.artifact_id = v.artifact_id),
               a.folder, a.extension, v.member
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
        if q.scope == Scope::Me {
            sql.push_str(" AND v.member IS NULL");
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
                    member: r.get(23)?,
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
}
