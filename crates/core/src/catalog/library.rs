//! The library: a window of artifacts, filtered, searched and sorted in SQL. Each artifact
//! row carries its summary (versions, latest version and its metrics, sizes, where it is
//! stored, labels), kept true by the catalog's triggers (schema migration 5), so a page
//! reads one table in index order whatever the number of artifacts.

use super::*;

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
    /// Only artifacts with a copy on this kind of provider (`local`, `s3`, `supabase`; an S3
    /// kind takes in every endpoint), or on this one provider (`s3 (127.0.0.1:8333)`).
    #[serde(default)]
    pub provider: Option<String>,
    /// Only artifacts with a copy on this profile.
    #[serde(default)]
    pub profile: Option<String>,
    /// Only artifacts with a version carrying this label.
    #[serde(default)]
    pub label: Option<String>,
    /// At least this many stored bytes (all versions).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub min_size: Option<u64>,
    /// At most this many stored bytes.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub max_size: Option<u64>,
    /// Updated at or after this time (RFC 3339).
    #[serde(default)]
    pub updated_after: Option<String>,
    /// Updated at or before this time (RFC 3339).
    #[serde(default)]
    pub updated_before: Option<String>,
    /// The latest version's accuracy at least this.
    #[serde(default)]
    pub min_accuracy: Option<f64>,
    /// The latest version's accuracy at most this.
    #[serde(default)]
    pub max_accuracy: Option<f64>,
    /// The latest version's loss at least this.
    #[serde(default)]
    pub min_loss: Option<f64>,
    /// The latest version's loss at most this.
    #[serde(default)]
    pub max_loss: Option<f64>,
    /// Only artifacts with a version of this user's, or everyone's.
    #[serde(default)]
    pub scope: Scope,
    /// The order.
    #[serde(default)]
    pub sort: LibrarySort,
    /// Descending (true) or ascending (false); None: the sort's natural direction (names
    /// A→Z, loss lowest first, other figures and dates highest first).
    #[serde(default)]
    pub desc: Option<bool>,
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
    /// By kind, then name.
    Kind,
    /// By organization, then name.
    Org,
    /// By the newest version's time.
    Updated,
    /// By stored bytes.
    Size,
    /// By original bytes.
    Original,
    /// By number of versions.
    Versions,
    /// By the latest version's accuracy (artifacts without one last).
    Accuracy,
    /// By the latest version's loss (artifacts without one last).
    Loss,
}

impl LibrarySort {
    /// The direction this order takes unless asked otherwise.
    pub fn natural_desc(self) -> bool {
        !matches!(
            self,
            LibrarySort::Name | LibrarySort::Kind | LibrarySort::Org | LibrarySort::Loss
        )
    }
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
    /// Its newest version's row id.
    #[ts(type = "number")]
    pub latest_id: i64,
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
    /// The kinds of provider holding copies (`local`, `s3`, `supabase`).
    pub providers: Vec<String>,
    /// The labels on its versions.
    pub labels: Vec<String>,
    /// The latest version's accuracy.
    pub accuracy: Option<f64>,
    /// The latest version's loss.
    pub loss: Option<f64>,
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

/// `,a,b,` (as the summary stores sets) to `[a, b]`, sorted.
pub(super) fn set_of(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

impl Catalog {
    /// One page of the library: one row per artifact that has a version, filtered, sorted,
    /// `limit` rows from `offset`, with the number of rows that match. Everything happens
    /// in SQL on the artifacts' summaries: no more rows than the page are read.
    pub fn library(&self, q: &LibraryQuery) -> Result<LibraryPage> {
        use rusqlite::types::Value;
        let mut filter = String::from(" WHERE a.n_versions > 0");
        let mut args: Vec<Value> = Vec::new();
        let mut push = |filter: &mut String, sql: &str, v: Value| {
            args.push(v);
            filter.push_str(&sql.replace('?', &format!("?{}", args.len())));
        };
        let text = |o: &Option<String>| {
            o.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        };
        if let Some(k) = text(&q.kind) {
            push(&mut filter, " AND a.kind = ?", k.into());
        }
        if let Some(o) = &q.org {
            push(&mut filter, " AND a.org = ?", o.clone().into());
        }
        if q.scope == Scope::Me {
            filter.push_str(
                " AND EXISTS (SELECT 1 FROM versions m WHERE m.artifact_id = a.id
                              AND m.member IS NULL)",
            );
        }
        if let Some(t) = text(&q.search) {
            // LIKE with the user's text escaped: `%` and `_` match themselves.
            let escaped = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            push(
                &mut filter,
                " AND (a.folder || a.family || '.' || a.extension) LIKE ? ESCAPE '\\'",
                format!("%{escaped}%").into(),
            );
        }
        if let Some(p) = text(&q.provider) {
            // A whole label (`s3 (127.0.0.1:8333)`), or a kind (`s3`) with its endpoints.
            let endpoints = stowage_store::provider::endpoint_label_prefix(&p);
            push(
                &mut filter,
                " AND (instr(a.providers, ',' || ? || ',') > 0",
                p.into(),
            );
            push(
                &mut filter,
                " OR instr(a.providers, ',' || ?) > 0)",
                endpoints.into(),
            );
        }
        for (value, column) in [(text(&q.profile), "profiles"), (text(&q.label), "labels")] {
            if let Some(v) = value {
                let sql = format!(" AND instr(a.{column}, ',' || ? || ',') > 0");
                push(&mut filter, &sql, v.into());
            }
        }
        let range = [
            (
                q.min_size.map(|v| Value::Integer(v as i64)),
                "a.stored_bytes >= ?",
            ),
            (
                q.max_size.map(|v| Value::Integer(v as i64)),
                "a.stored_bytes <= ?",
            ),
            (q.min_accuracy.map(Value::Real), "a.accuracy >= ?"),
            (q.max_accuracy.map(Value::Real), "a.accuracy <= ?"),
            (q.min_loss.map(Value::Real), "a.loss >= ?"),
            (q.max_loss.map(Value::Real), "a.loss <= ?"),
            (
                time_arg(q.updated_after.as_deref(), "updated_after")?,
                "a.updated_at >= ?",
            ),
            (
                time_arg(q.updated_before.as_deref(), "updated_before")?,
                "a.updated_at <= ?",
            ),
        ];
        for (value, sql) in range {
            if let Some(v) = value {
                push(&mut filter, &format!(" AND {sql}"), v);
            }
        }
        let desc = q.desc.unwrap_or(q.sort.natural_desc());
        let dir = if desc { "DESC" } else { "ASC" };
        let name = format!("a.folder {dir}, a.family {dir}, a.extension {dir}, a.org {dir}");
        let order = match q.sort {
            LibrarySort::Name => name,
            LibrarySort::Kind => format!("a.kind {dir}, {name}"),
            LibrarySort::Org => format!("a.org {dir}, {name}"),
            sort => {
                let column = match sort {
                    LibrarySort::Updated => "a.updated_at",
                    LibrarySort::Size => "a.stored_bytes",
                    LibrarySort::Original => "a.original_bytes",
                    LibrarySort::Versions => "a.n_versions",
                    LibrarySort::Accuracy => "a.accuracy",
                    _ => "a.loss",
                };
                // Artifacts without the figure go last in either direction (SQLite puts
                // NULL first when ascending).
                if desc {
                    format!("{column} DESC, a.id DESC")
                } else {
                    format!("{column} IS NULL, {column} ASC, a.id")
                }
            }
        };
        let limit = q.limit.clamp(1, 1000);
        let sql = format!(
            "SELECT a.id, a.org, a.family, a.kind, a.framework, a.folder, a.extension,
                    a.n_versions, a.latest_version, a.latest_id, a.updated_at, a.stored_bytes,
                    a.original_bytes, a.n_locations, a.profiles, a.providers, a.labels,
                    a.accuracy, a.loss
               FROM artifacts a{filter}
              ORDER BY {order} LIMIT {limit} OFFSET {}",
            q.offset
        );
        let mut s = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = s
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let org: String = r.get(1)?;
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
                    latest: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    latest_id: r.get::<_, Option<i64>>(9)?.unwrap_or_default(),
                    updated_at: from_ns(r.get::<_, Option<i64>>(10)?.unwrap_or_default()),
                    stored_bytes: r.get::<_, i64>(11)? as u64,
                    original_bytes: r.get::<_, i64>(12)? as u64,
                    locations: r.get::<_, i64>(13)? as u64,
                    profiles: set_of(&r.get::<_, String>(14)?),
                    providers: set_of(&r.get::<_, String>(15)?),
                    labels: set_of(&r.get::<_, String>(16)?),
                    accuracy: r.get(17)?,
                    loss: r.get(18)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        // A short window that is not empty (or the first one) holds the last match: the total
        // follows without counting, which spares a search keystroke its second scan.
        let total = if (rows.len() as u64) < limit && (q.offset == 0 || !rows.is_empty()) {
            q.offset + rows.len() as u64
        } else {
            self.conn
                .query_row(
                    &format!("SELECT COUNT(*) FROM artifacts a{filter}"),
                    rusqlite::params_from_iter(args.iter()),
                    |r| r.get::<_, i64>(0),
                )
                .map_err(self.err())? as u64
        };
        Ok(LibraryPage {
            total,
            offset: q.offset,
            rows,
        })
    }
}

/// A time filter as the catalog stores times (ns since the epoch), or a usage error naming
/// the field.
fn time_arg(v: Option<&str>, field: &str) -> Result<Option<rusqlite::types::Value>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t =
        OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|e| {
            Error::Usage(format!(
                "{field}: `{v}` is not a time like 2026-01-31T00:00:00Z ({e})"
            ))
        })?;
    Ok(Some(rusqlite::types::Value::Integer(
        t.unix_timestamp_nanos() as i64,
    )))
}
