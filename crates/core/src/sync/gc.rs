//! Garbage collection of old versions, and deleting one version with all its copies.

use super::*;

/// A version garbage collection removes (or would remove).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Collected {
    /// The family.
    pub family: String,
    /// The version.
    pub version: String,
    /// The objects deleted: `profile:bucket/key`.
    pub objects: Vec<String>,
    /// Stored bytes freed.
    pub bytes: u64,
}

/// What to keep in [`gc`].
#[derive(Clone, Debug)]
pub struct Retention {
    /// Keep this many newest versions of every family.
    pub keep_last: usize,
    /// Only versions recorded longer ago than this are removed.
    pub older_than: Duration,
    /// Only this family (every family when None).
    pub family: Option<String>,
}

/// Delete the stored objects of versions outside `retention` and forget them; never a
/// labelled version, never a family's latest, never a local-only version. Versions whose
/// profile `stores` cannot open are left alone.
pub async fn gc(
    catalog: &Catalog,
    retention: &Retention,
    stores: &HashMap<String, Arc<dyn Store>>,
    dry_run: bool,
) -> Result<Vec<Collected>> {
    // Only this user's own versions: a teammate's copies are theirs to collect.
    let all = catalog.versions(&catalog::VersionQuery {
        family: retention.family.clone(),
        scope: catalog::Scope::Me,
        ..Default::default()
    })?;
    let cutoff = OffsetDateTime::now_utc() - retention.older_than;
    let mut by_artifact: HashMap<i64, usize> = HashMap::new();
    let mut out = Vec::new();
    // Versions come newest first within each artifact.
    for v in &all {
        let rank = by_artifact.entry(v.artifact_id).or_insert(0);
        *rank += 1;
        let keep = *rank <= retention.keep_last
            || v.latest
            || !v.labels.is_empty()
            || v.locations.is_empty()
            || v.created_at > cutoff
            || v.locations.iter().any(|l| !stores.contains_key(&l.profile));
        if keep {
            continue;
        }
        out.push(remove_version(catalog, v, stores, dry_run, "gc").await?);
    }
    Ok(out)
}

/// Delete version `v`: every stored copy (one already gone counts as deleted), then its
/// catalog row (with its labels), as one record per object so an interruption leaves the
/// catalog true; `action` is the audit action (`gc` or `delete`). Refused before anything
/// is deleted when a copy's profile is not among `stores`. A dry run only lists.
pub async fn remove_version(
    catalog: &Catalog,
    v: &VersionInfo,
    stores: &HashMap<String, Arc<dyn Store>>,
    dry_run: bool,
    action: &str,
) -> Result<Collected> {
    if let Some(l) = v
        .locations
        .iter()
        .find(|l| !stores.contains_key(&l.profile))
    {
        return Err(Error::Config(format!(
            "{}@{} has a copy on profile `{}` ({}/{}), which is not configured or did not \
             open; nothing was deleted. Fix the profile (`stowage profile ls`) and retry",
            v.artifact, v.version, l.profile, l.bucket, l.key
        )));
    }
    let mut objects = Vec::new();
    let mut bytes = 0;
    for l in &v.locations {
        objects.push(format!("{}:{}/{}", l.profile, l.bucket, l.key));
        bytes += l.size;
        if dry_run {
            continue;
        }
        let path = ObjectPath {
            bucket: l.bucket.clone(),
            key: Key::parse(&l.key)?,
        };
        match stores[&l.profile].delete(&path).await {
            Err(e) if e.kind != ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        catalog.batch(|c| {
            c.record_deleted(&l.profile, &l.bucket, &l.key)?;
            c.audit(&AuditEvent {
                action,
                profile: Some(&l.profile),
                bucket: Some(&l.bucket),
                key: Some(&l.key),
                detail: Some(format!("{} version {}", v.artifact, v.version)),
            })
        })?;
    }
    if !dry_run {
        catalog.remove_version(v.id)?;
    }
    Ok(Collected {
        family: v.family.clone(),
        version: v.version.clone(),
        objects,
        bytes,
    })
}
