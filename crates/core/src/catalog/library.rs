//! The library: a window of artifacts, filtered, searched and sorted in SQL.

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

impl Catalog {
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
        // The page's ids first: by name straight from the name index, else by an aggregate
        // over the versions; then the figures of those rows only.
        let limit = q.limit.clamp(1, 1000);
        let page = match q.sort {
            LibrarySort::Name => format!(
                "SELECT a.id FROM artifacts a{filter}
                   AND EXISTS (SELECT 1 FROM versions v WHERE v.artifact_id = a.id)
                 ORDER BY a.folder, a.family, a.extension, a.org"
            ),
            sort => format!(
                "SELECT a.id FROM artifacts a JOIN versions v ON v.artifact_id = a.id{filter}
                 GROUP BY a.id ORDER BY {}",
                match sort {
                    LibrarySort::Updated => "MAX(v.created_at) DESC, a.id DESC",
                    LibrarySort::Size => "SUM(v.size) DESC, a.id",
                    _ => "COUNT(*) DESC, a.id",
                }
            ),
        };
        let ids: Vec<i64> = self
            .conn
            .prepare(&format!("{page} LIMIT {limit} OFFSET {}", q.offset))
            .and_then(|mut s| {
                s.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .map_err(self.err())?;
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT a.id, a.org, a.family, a.kind, a.framework, a.folder, a.extension,
                    (SELECT COUNT(*) FROM versions v WHERE v.artifact_id = a.id),
                    (SELECT MAX(created_at) FROM versions v WHERE v.artifact_id = a.id),
                    (SELECT SUM(size) FROM versions v WHERE v.artifact_id = a.id),
                    (SELECT SUM(original_size) FROM versions v WHERE v.artifact_id = a.id),
                    (SELECT l.version FROM versions l WHERE l.artifact_id = a.id
                      ORDER BY l.sort_key DESC LIMIT 1),
                    (SELECT COUNT(*) FROM locations o JOIN versions w ON w.id = o.version_id
                      WHERE w.artifact_id = a.id),
                    (SELECT GROUP_CONCAT(DISTINCT o.profile) FROM locations o
                      JOIN versions w ON w.id = o.version_id WHERE w.artifact_id = a.id)
               FROM artifacts a WHERE a.id IN ({list})"
        );
        let mut s = self.conn.prepare(&sql).map_err(self.err())?;
        let mut rows = s
            .query_map([], |r| {
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
        // In the page's order (ids are row ids, never text: nothing to escape).
        rows.sort_by_key(|r| ids.iter().position(|&id| id == r.id));
        Ok(LibraryPage {
            total,
            offset: q.offset,
            rows,
        })
    }
}
