//! The catalog's actions: versions, the library pages and an artifact's detail, restore,
//! label, gc, deleting versions and metric diffs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{org_arg, secondary_for, App, AppError, AppResult, Item};
use crate::catalog::{
    self, AuditEvent, LibraryPage, LibraryQuery, VersionInfo, VersionMetrics, VersionQuery,
};
use crate::read::{self, Reader, RestoreRead};
use crate::sync::{self, Collected};

/// `versions [FAMILY]`: which versions to list.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct VersionsRequest {
    /// A family (every artifact of that name), or an artifact's name
    /// (`generations/gen-001/main.py`); every version when None.
    #[serde(default)]
    pub family: Option<String>,
    /// Only this organization.
    #[serde(default)]
    pub org: Option<String>,
    /// Metric conditions like `accuracy>0.9`, all of which must hold.
    #[serde(default)]
    pub filters: Vec<String>,
    /// `version` (default), `created`, `accuracy` or `loss`.
    #[serde(default)]
    pub sort: Option<String>,
    /// At most this many.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub limit: Option<u64>,
    /// Only this user's versions (`me`), or everyone's the catalog holds (`team`, default).
    #[serde(default)]
    pub scope: catalog::Scope,
}

/// Versions with sizes, locations, labels and metrics.
#[derive(Clone, Debug, Serialize, TS)]
pub struct VersionList {
    /// The versions.
    pub versions: Vec<VersionInfo>,
}

/// A version deleted with all its stored copies.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DeletedVersion {
    /// The artifact's name.
    pub artifact: String,
    /// The version.
    pub version: String,
    /// The objects deleted: `profile:bucket/key`.
    pub objects: Vec<String>,
    /// Stored bytes freed.
    pub bytes: u64,
}

/// What `rm --version` did, one item per version.
#[derive(Debug, Serialize, TS)]
pub struct DeleteVersionsResult {
    /// Each version.
    pub deleted: Vec<Item<DeletedVersion>>,
    /// Whether this was only planned.
    pub dry_run: bool,
}

impl DeleteVersionsResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.deleted)
    }
}

/// `restore FAMILY[@VERSION|@LABEL] [DEST]`.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct RestoreRequest {
    /// `FAMILY`, `FAMILY@VERSION` or `FAMILY@LABEL`.
    pub spec: String,
    /// The file or folder to restore into [default: the source file's name here].
    #[serde(default)]
    pub dest: Option<PathBuf>,
    /// Only this organization.
    #[serde(default)]
    pub org: Option<String>,
    /// Replace an existing file.
    #[serde(default)]
    pub force: bool,
    /// Check and report, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A restored version and where it was read.
#[derive(Clone, Debug, Serialize, TS)]
pub struct RestoreResult {
    /// The restore.
    #[serde(flatten)]
    pub read: RestoreRead,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// A label set on a version.
#[derive(Clone, Debug, Serialize, TS)]
pub struct Labelled {
    /// The family.
    pub family: String,
    /// The version.
    pub version: String,
    /// The label.
    pub label: String,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// What `gc` removed.
#[derive(Clone, Debug, Serialize, TS)]
pub struct GcResult {
    /// The versions removed, with their objects.
    pub removed: Vec<Collected>,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// One artifact with all its versions.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ArtifactDetail {
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
    /// Every version, newest first, with locations, labels and metrics.
    pub versions: Vec<VersionInfo>,
}

/// One metric of two versions side by side.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct MetricChange {
    /// The metric.
    pub metric: String,
    /// Its value in the first version.
    pub a: Option<serde_json::Value>,
    /// Its value in the second.
    pub b: Option<serde_json::Value>,
    /// `b - a` for numbers.
    pub delta: Option<f64>,
}

/// Two versions' metrics compared.
#[derive(Clone, Debug, Serialize, TS)]
pub struct MetricDiff {
    /// The first version (`FAMILY@VERSION`).
    pub a: String,
    /// The second.
    pub b: String,
    /// Every metric either records, in name order.
    pub metrics: Vec<MetricChange>,
}

/// Split `FAMILY@WHICH`.
fn family_at(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('@') {
        Some((f, w)) if !f.is_empty() && !w.is_empty() => (f, Some(w)),
        _ => (spec, None),
    }
}

/// `FAMILY@WHICH`, or a usage error saying how to write it.
fn version_spec(spec: &str, listed_by: bool) -> AppResult<(&str, &str)> {
    match family_at(spec) {
        (family, Some(which)) => Ok((family, which)),
        (family, None) => Err(AppError::usage(format!(
            "`{spec}` names no version; write FAMILY@VERSION, e.g. `{family}@v2`{}",
            if listed_by {
                format!(" (`stowage versions {family}` lists them)")
            } else {
                String::new()
            }
        ))),
    }
}

/// The file name a restored version gets: its source file's name, else the key's.
fn restore_name(v: &VersionInfo) -> String {
    v.source_path
        .as_deref()
        .and_then(|p| p.rsplit('/').next())
        .map(str::to_string)
        .or_else(|| {
            v.locations.first().map(|l| {
                let key = crate::compress::original_key(&l.key);
                key.rsplit('/').next().unwrap_or(key).to_string()
            })
        })
        .unwrap_or_else(|| format!("{}-{}", v.family, v.version))
}

/// A version's metrics by name, as JSON values.
fn metric_map(m: &VersionMetrics) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(m) {
        for (k, v) in map {
            match (k.as_str(), v) {
                (_, serde_json::Value::Null) => {}
                ("other", serde_json::Value::Object(other)) => out.extend(other),
                (_, v) => {
                    out.insert(k, v);
                }
            }
        }
    }
    out
}

impl App {
    /// `versions [FAMILY]`.
    pub fn versions(&self, r: &VersionsRequest) -> AppResult<VersionList> {
        let catalog = self.catalog(true)?;
        let org = org_arg(r.org.as_deref())?;
        // A family lists every artifact of that name; anything else names one artifact by
        // its folder (`generations/gen-001/main.py`), or says what exists.
        let (family, artifact) = match &r.family {
            Some(f) if !catalog.artifacts_named(f)?.is_empty() => (Some(f.clone()), None),
            Some(f) => (None, Some(catalog.artifact_named(org.as_deref(), f)?.id)),
            None => (None, None),
        };
        let query = VersionQuery {
            family,
            artifact,
            org,
            filters: r
                .filters
                .iter()
                .map(|f| catalog::Filter::parse(f))
                .collect::<Result<_, _>>()?,
            sort: r.sort.as_deref().unwrap_or("version").parse()?,
            limit: r.limit,
            scope: r.scope,
        };
        Ok(VersionList {
            versions: catalog.versions(&query)?,
        })
    }

    /// One page of the library: artifacts filtered, searched and sorted in the catalog,
    /// `limit` at a time from `offset`, with the total that match.
    pub fn library(&self, q: &LibraryQuery) -> AppResult<LibraryPage> {
        Ok(self.catalog(true)?.library(q)?)
    }

    /// One artifact (by row id) with every version, its locations, labels and metrics.
    pub fn artifact(&self, id: i64) -> AppResult<ArtifactDetail> {
        let catalog = self.catalog(true)?;
        let versions = catalog.versions(&VersionQuery {
            artifact: Some(id),
            ..Default::default()
        })?;
        let Some(first) = versions.first() else {
            return Err(AppError::from(crate::Error::from(
                stowage_store::Error::new(
                    stowage_store::ErrorKind::NotFound,
                    "catalog",
                    format!("no artifact with id {id} has a version"),
                )
                .hint("list the library again: it may have been deleted"),
            )));
        };
        Ok(ArtifactDetail {
            id,
            name: first.artifact.clone(),
            org: first.org.clone(),
            family: first.family.clone(),
            kind: first.kind.clone(),
            framework: first.framework.clone(),
            versions,
        })
    }

    /// Compare the metrics of `FAMILY@A` and `FAMILY@B` (either may be a label).
    pub fn metric_diff(&self, a: &str, b: &str, org: Option<&str>) -> AppResult<MetricDiff> {
        let catalog = self.catalog(true)?;
        let org = org_arg(org)?;
        let resolve = |spec: &str| -> AppResult<VersionInfo> {
            let (family, which) = version_spec(spec, true)?;
            Ok(catalog.resolve(org.as_deref(), family, Some(which))?)
        };
        let (va, vb) = (resolve(a)?, resolve(b)?);
        let (ma, mb) = (metric_map(&va.metrics), metric_map(&vb.metrics));
        let names: std::collections::BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
        let metrics = names
            .into_iter()
            .map(|name| {
                let (x, y) = (ma.get(name).cloned(), mb.get(name).cloned());
                let delta = match (
                    x.as_ref().and_then(|v| v.as_f64()),
                    y.as_ref().and_then(|v| v.as_f64()),
                ) {
                    (Some(x), Some(y)) => Some(y - x),
                    _ => None,
                };
                MetricChange {
                    metric: name.clone(),
                    a: x,
                    b: y,
                    delta,
                }
            })
            .collect();
        Ok(MetricDiff {
            a: format!("{}@{}", va.family, va.version),
            b: format!("{}@{}", vb.family, vb.version),
            metrics,
        })
    }

    /// `restore FAMILY[@VERSION|@LABEL] [DEST]`: read cache → primary (the chosen profile,
    /// else `[sync] primary`, else the selected one) → secondary → other recorded copies;
    /// verify; decompress what was stored gzipped.
    pub async fn restore(&self, r: RestoreRequest) -> AppResult<RestoreResult> {
        self.run("restore", |_op| async move {
            let config = self.config()?;
            let catalog = self.catalog(r.dry_run)?;
            let (family, which) = family_at(&r.spec);
            let org = org_arg(r.org.as_deref())?;
            let v = catalog.resolve(org.as_deref(), family, which)?;
            let dest = match &r.dest {
                Some(d) if d.is_dir() => d.join(restore_name(&v)),
                Some(d) => d.clone(),
                None => PathBuf::from(restore_name(&v)),
            };
            let primary = self.primary(&config)?.name.clone();
            let secondary = secondary_for(&config, &primary);
            let wanted = v
                .locations
                .iter()
                .map(|l| l.profile.clone())
                .chain(std::iter::once(primary.clone()))
                .chain(secondary.clone());
            let mut warnings = Vec::new();
            let cache = self.read_cache(&config, &mut warnings);
            let reader = Reader {
                stores: self.stores_for(&config, wanted).await,
                primary: Some(primary),
                secondary,
                cache,
            };
            let mut read = read::restore(&catalog, &v, &reader, &dest, r.force, r.dry_run).await?;
            warnings.append(&mut read.read.warnings);
            read.read.warnings = warnings;
            Ok(RestoreResult {
                read,
                dry_run: r.dry_run,
            })
        })
        .await
    }

    /// `label FAMILY@VERSION NAME`: point a label at a version (moving it from another).
    pub fn label(
        &self,
        spec: &str,
        name: &str,
        org: Option<&str>,
        dry_run: bool,
    ) -> AppResult<Labelled> {
        let (family, which) = version_spec(spec, false)?;
        if name.is_empty() || name.contains(['@', '/']) || name.chars().any(char::is_control) {
            return Err(AppError::usage(format!(
                "`{}` cannot be a label; use letters, digits, `-`, `_` or `.`",
                name.escape_debug()
            )));
        }
        let org = org_arg(org)?;
        let catalog = self.catalog(dry_run)?;
        let v = catalog.resolve(org.as_deref(), family, Some(which))?;
        if !dry_run {
            catalog.batch(|c| {
                c.set_label(v.id, name)?;
                c.audit(&AuditEvent {
                    action: "label",
                    detail: Some(format!(
                        "{} version {} labelled {name}",
                        v.family, v.version
                    )),
                    ..Default::default()
                })
            })?;
        }
        Ok(Labelled {
            family: v.family,
            version: v.version,
            label: name.to_string(),
            dry_run,
        })
    }

    /// `gc --keep-last N --older-than D [FAMILY]`: delete old versions' objects and rows;
    /// never a labelled version, a family's latest, or a local-only one.
    pub async fn gc(
        &self,
        keep_last: usize,
        older_than: &str,
        family: Option<String>,
        dry_run: bool,
    ) -> AppResult<GcResult> {
        self.run("gc", |_op| async move {
            let config = self.config()?;
            // `0s` means "however recent": only --keep-last limits what goes.
            let older_than = crate::parse_duration_or_zero(older_than)?;
            let catalog = self.catalog(dry_run)?;
            let profiles = config.profiles.keys().cloned().collect::<Vec<_>>();
            let stores = self.stores_for(&config, profiles).await;
            let retention = sync::Retention {
                keep_last,
                older_than,
                family,
            };
            Ok(GcResult {
                removed: sync::gc(&catalog, &retention, &stores, dry_run).await?,
                dry_run,
            })
        })
        .await
    }

    /// `rm --version FAMILY@VERSION…`: delete each version's stored copies and its row.
    pub async fn delete_versions(
        &self,
        specs: &[String],
        org: Option<&str>,
        dry_run: bool,
    ) -> AppResult<DeleteVersionsResult> {
        self.run("rm", |_op| async move {
            let config = self.config()?;
            let org = org_arg(org)?;
            let catalog = self.catalog(dry_run)?;
            let mut results = Vec::with_capacity(specs.len());
            for spec in specs {
                let r = async {
                    let (family, which) = version_spec(spec, true)?;
                    let v = catalog.resolve(org.as_deref(), family, Some(which))?;
                    let profiles = v.locations.iter().map(|l| l.profile.clone());
                    let stores = self.stores_for(&config, profiles).await;
                    let c = sync::remove_version(&catalog, &v, &stores, dry_run, "delete").await?;
                    Ok::<_, AppError>(DeletedVersion {
                        artifact: v.artifact,
                        version: c.version,
                        objects: c.objects,
                        bytes: c.bytes,
                    })
                };
                results.push(Item(r.await));
            }
            Ok(DeleteVersionsResult {
                deleted: results,
                dry_run,
            })
        })
        .await
    }
}
