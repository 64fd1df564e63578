//! One-shot sync of a project folder by policy (M3–M6), written once over [`Store`]: walk,
//! classify, skip what is unchanged, version, compress, upload to the primary (and secondary),
//! record in the catalog. Also restoring a recorded version and garbage-collecting old ones.
//!
//! Keys. A name-versioned file (`model-x-2026-01-06T03-27-22.json`) has a key of its own, so
//! its versions never collide. An unversioned name (`dataset.json`) keeps the latest content
//! at its policy key (`training-data/dataset.json.gz`); when the content changes, the object
//! holding the older version is first copied to `training-data/_versions/dataset.json/<sha12>.gz`
//! and the catalog moves that version's location there, so every version stays restorable and
//! the plain key always holds the newest. An object at a key the catalog does not know is never
//! overwritten.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stowage_store::{
    BucketOptions, ErrorKind, Key, ObjectPath, PutOptions, PutSource, Store, TransferEvent,
};
use time::OffsetDateTime;

use crate::catalog::{
    self, AuditEvent, Catalog, FileState, NewLocation, NewVersion, VersionInfo, VersionMetrics,
};
use crate::compress;
use crate::cost::Direction;
use crate::error::{local_error, Error, Result};
use crate::policy::{Destination, Policy};
use crate::transfer::{io_local, walk, ItemEvent, ProgressFn};
use crate::version::{self, VersionTag};

/// Files uploaded at once.
pub const CONCURRENCY: usize = crate::transfer::DEFAULT_CONCURRENCY;

/// A store that sync writes to, with the profile it was opened from.
#[derive(Clone, Debug)]
pub struct Target {
    /// The profile's name (recorded in the catalog; never a credential).
    pub profile: String,
    /// Its open store.
    pub store: Arc<dyn Store>,
    /// Create the bucket when missing (local folder stores only).
    pub create_bucket: bool,
}

/// Where sync uploads.
#[derive(Clone, Debug)]
pub struct Targets {
    /// The primary store.
    pub primary: Target,
    /// The secondary store, for primary+secondary rules.
    pub secondary: Option<Target>,
    /// The bucket on both.
    pub bucket: String,
}

/// What sync does with one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Upload it (or, for a file the catalog already holds, only record it).
    Upload,
    /// Record it in the catalog; it stays in the folder.
    Local,
    /// Leave it alone: it must never leave the machine.
    Never,
    /// Skip it: size and modification time match what was synced.
    Unchanged,
    /// Refuse it (the reason is in `error`).
    Refused,
}

/// One file of a sync plan.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct PlannedFile {
    /// Path relative to the synced folder, `/`-separated.
    pub file: String,
    /// The absolute path.
    #[serde(skip)]
    pub path: PathBuf,
    /// The policy kind.
    pub kind: String,
    /// The rule that matched.
    pub rule: String,
    /// Where it goes.
    pub destination: Destination,
    /// The key it is stored under (with `.gz` when compressed).
    pub key: Option<String>,
    /// Whether it is gzipped on the way up.
    pub compress: bool,
    /// Why (or why not) compressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress_reason: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// What sync does with it.
    pub action: Action,
    /// Why it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    mtime_ns: i64,
}

/// A walked and classified folder.
#[derive(Clone, Debug, Serialize)]
pub struct SyncPlan {
    /// The folder, canonical.
    pub dir: PathBuf,
    /// The organization prefix.
    pub org: Option<String>,
    /// Every regular file below it, by path.
    pub files: Vec<PlannedFile>,
}

/// Walk `dir` (not following symbolic links to folders), classify each file by `policy` and
/// mark files whose size and mtime match the catalog's file state as unchanged, reading no
/// file beyond the first bytes of the ones that may be compressed.
pub fn plan(dir: &Path, policy: &Policy, catalog: &Catalog, org: Option<&str>) -> Result<SyncPlan> {
    let dir = std::fs::canonicalize(dir).map_err(|e| io_local(dir, "reading the folder", e))?;
    if !dir.is_dir() {
        return Err(local_error(
            ErrorKind::Other,
            &dir,
            "is not a folder",
            "pass the project folder to sync, e.g. `.beast-mode`",
        ));
    }
    let org = org.map(str::to_string).or_else(|| policy.org.clone());
    let mut found = Vec::new();
    walk(&dir, "", &mut found)?;
    let states = catalog.file_states(&format!("{}/", dir.display()))?;
    let mut files = Vec::with_capacity(found.len());
    for (path, rel, meta) in found {
        let state = states.get(&path.to_string_lossy().into_owned());
        files.push(plan_file(path, rel, &meta, policy, state, org.as_deref())?);
    }
    Ok(SyncPlan { dir, org, files })
}

/// Classify one file of a synced folder (`rel` is its `/`-separated path inside it) and mark
/// it unchanged when its size and mtime match `state`, the catalog's file state. Shared by
/// [`plan`] and the auto-sync engine, which plans files one at a time as they settle.
pub fn plan_file(
    path: PathBuf,
    rel: String,
    meta: &std::fs::Metadata,
    policy: &Policy,
    state: Option<&FileState>,
    org: Option<&str>,
) -> Result<PlannedFile> {
    let size = meta.len();
    let mtime_ns = mtime_ns(meta);
    let d = policy.classify(&rel, size, org);
    let mut f = PlannedFile {
        file: rel,
        path,
        kind: d.kind.as_str().to_string(),
        rule: d.rule,
        destination: d.destination,
        key: d.key,
        compress: false,
        compress_reason: None,
        size,
        action: match d.destination {
            Destination::Never => Action::Never,
            Destination::Local => Action::Local,
            _ => Action::Upload,
        },
        error: d.key_error,
        mtime_ns,
    };
    if f.error.is_some() {
        f.action = Action::Refused;
    }
    let unchanged = state.is_some_and(|s| s.size == size && s.mtime_ns == mtime_ns);
    if f.action == Action::Upload {
        if d.compress {
            let head = compress::sniff(&f.path).map_err(|e| io_local(&f.path, "reading", e))?;
            let c = compress::decide(&f.path, &head, size, policy.compress_min_size);
            f.compress = c.compress;
            f.compress_reason = Some(c.reason);
        }
        if f.compress {
            f.key = f.key.as_deref().map(compress::stored_key);
        }
    }
    // A policy edit that changes where or how the file is stored re-plans it.
    let same_decision = state.is_some_and(|s| s.decision.as_deref() == Some(&*f.decision()));
    if unchanged && same_decision && matches!(f.action, Action::Upload | Action::Local) {
        f.action = Action::Unchanged;
    }
    Ok(f)
}

impl PlannedFile {
    /// What the policy decided for it, as recorded in its file state: destination, key and
    /// compression.
    pub fn decision(&self) -> String {
        format!(
            "{}|{}|{}",
            self.destination,
            self.key.as_deref().unwrap_or(""),
            if self.compress { "gzip" } else { "as is" }
        )
    }

    /// The modification time planned with (Unix ns).
    pub fn mtime_ns(&self) -> i64 {
        self.mtime_ns
    }
}

/// A file's modification time in Unix nanoseconds, as sync records it.
pub fn file_mtime_ns(meta: &std::fs::Metadata) -> i64 {
    mtime_ns(meta)
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    stowage_store::fsmeta::mtime_ns(meta) as i64
}

/// A synced file stored by a decision the policy no longer makes (a rule was edited): the
/// catalog and the policy disagree until the next `sync` or `watch` stores it anew.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct PolicyChange {
    /// The file.
    pub file: PathBuf,
    /// The folder it is synced from.
    pub dir: PathBuf,
    /// The decision it was stored by: `destination|key|compression`.
    pub recorded: String,
    /// The decision the policy makes now.
    pub now: String,
}

/// Every file of the registered project folders whose recorded decision differs from the
/// one `policy` makes now. Reads only file metadata (and the first bytes of files that may
/// be compressed); changes nothing.
pub fn policy_changes(catalog: &Catalog, policy: &Policy) -> Result<Vec<PolicyChange>> {
    let mut out = Vec::new();
    for (dir, org) in catalog.folders()? {
        if !dir.is_dir() {
            continue;
        }
        let plan = plan(&dir, policy, catalog, org.as_deref())?;
        let states = catalog.file_states(&format!("{}/", plan.dir.display()))?;
        for f in &plan.files {
            if !matches!(f.action, Action::Upload | Action::Local) {
                continue;
            }
            let recorded = states
                .get(&*f.path.to_string_lossy())
                .and_then(|s| s.decision.clone());
            let now = f.decision();
            if let Some(recorded) = recorded.filter(|r| *r != now) {
                out.push(PolicyChange {
                    file: f.path.clone(),
                    dir: plan.dir.clone(),
                    recorded,
                    now,
                });
            }
        }
    }
    Ok(out)
}

/// One upload sync made.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Upload {
    /// The profile.
    pub profile: String,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes stored.
    pub size: u64,
    /// SHA-256 of the stored bytes.
    pub sha256: String,
    /// The provider's ETag.
    pub etag: Option<String>,
    /// Where the older version at this key was kept, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_previous_to: Option<String>,
}

/// What sync did with one file.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct FileOutcome {
    /// The plan for it.
    #[serde(flatten)]
    pub planned: PlannedFile,
    /// `uploaded`, `recorded` (catalog only), `unchanged`, `local`, `never` or `failed`.
    pub result: &'static str,
    /// The artifact family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The version recorded (or found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Uploads made.
    pub uploads: Vec<Upload>,
    /// Problems that did not fail the file (a secondary that failed, metrics not read).
    pub warnings: Vec<String>,
}

/// The result of a sync run.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct SyncReport {
    /// The folder.
    pub dir: PathBuf,
    /// Per file.
    pub files: Vec<FileOutcome>,
    /// Objects uploaded.
    pub uploaded: usize,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Files skipped as unchanged (or already stored).
    pub unchanged: usize,
    /// New versions recorded.
    pub new_versions: usize,
    /// Files that failed.
    pub failed: usize,
    /// Copies that wait in the durable queue for a provider that did not answer (the next
    /// `sync` or `watch` makes them): (file, profile).
    pub queued: Vec<(String, String)>,
    /// Why they failed (each file's message is in its outcome too).
    #[serde(skip)]
    pub error: Option<Error>,
}

/// What to do for one file after hashing it.
struct Work {
    index: usize,
    family: String,
    version: String,
    version_id: Option<i64>,
    sha256: String,
    steps: Vec<Step>,
    /// A new version and its sort key.
    new_version: Option<(NewVersion, String)>,
}

/// One destination's upload.
struct Step {
    target: Target,
    key: String,
    /// The older version's location to archive first: (location id, archive key).
    archive: Option<(i64, String)>,
}

/// A finished step.
struct Done {
    target: Target,
    bucket: String,
    key: String,
    put: stowage_store::PutResult,
    archive: Option<(i64, String)>,
    /// Found stored already (an upload that finished before a crash, never recorded).
    already: bool,
}

/// Run `plan`: hash what may have changed, version it, upload it by policy and record it.
/// A failed file does not stop the others; a failed secondary upload is a warning.
pub async fn run(
    plan: &SyncPlan,
    catalog: &Catalog,
    targets: &Targets,
    progress: Option<ProgressFn>,
) -> Result<SyncReport> {
    catalog.register_folder(&plan.dir, plan.org.as_deref())?;
    for t in std::iter::once(&targets.primary).chain(&targets.secondary) {
        if t.create_bucket && plan.files.iter().any(|f| f.action == Action::Upload) {
            match t
                .store
                .create_bucket(&targets.bucket, &BucketOptions::default())
                .await
            {
                // The secondary's failure surfaces as a warning on each upload instead.
                Err(e)
                    if e.kind != ErrorKind::AlreadyExists
                        && t.profile == targets.primary.profile =>
                {
                    return Err(e.into())
                }
                _ => {}
            }
        }
    }
    if plan.files.iter().any(|f| f.action == Action::Upload) && !targets.primary.create_bucket {
        // A missing bucket fails every upload the same way: say it once, up front.
        check_bucket(&targets.primary, &targets.bucket).await?;
    }
    let mut outcomes: Vec<FileOutcome> = plan
        .files
        .iter()
        .map(|f| FileOutcome {
            planned: f.clone(),
            result: match f.action {
                Action::Unchanged => "unchanged",
                Action::Never => "never",
                Action::Refused => "failed",
                Action::Local => "local",
                Action::Upload => "uploaded",
            },
            family: None,
            version: None,
            uploads: Vec::new(),
            warnings: Vec::new(),
        })
        .collect();
    let mut errors: Vec<Error> = Vec::new();
    // Phase 1: hash (and read the metrics of) each file that may have changed, a few at a
    // time; then version them all in one catalog transaction, in plan order.
    let mut candidates = Vec::new();
    let mut claimed: HashSet<String> = HashSet::new();
    for (index, f) in plan.files.iter().enumerate() {
        if !matches!(f.action, Action::Upload | Action::Local) {
            continue;
        }
        if let Some(key) = &f.key {
            if !claimed.insert(key.clone()) {
                outcomes[index].result = "failed";
                let e = Error::Usage(format!(
                    "{}: another file of this folder is also stored as `{key}`; rename one",
                    f.path.display()
                ));
                outcomes[index].planned.error = Some(e.to_string());
                errors.push(e);
                continue;
            }
        }
        candidates.push(index);
    }
    let hashed: Vec<(usize, Result<(String, VersionMetrics)>)> = stream::iter(candidates)
        .map(|index| {
            let path = plan.files[index].path.clone();
            async move {
                let r = tokio::task::spawn_blocking(move || measure(&path))
                    .await
                    .unwrap_or_else(|e| {
                        Err(io_local(
                            &plan.files[index].path,
                            "hashing",
                            std::io::Error::other(e),
                        ))
                    });
                (index, r)
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut work = Vec::new();
    let mut new_versions: HashSet<(i64, String)> = HashSet::new();
    let mut queued = Vec::new();
    // Artifacts this run may have created: one left without a version (every upload of its
    // file failed) is forgotten at the end, so it never names what does not exist.
    let mut touched: Vec<i64> = Vec::new();
    catalog.batch(|c| {
        for (index, measured) in hashed {
            let f = &plan.files[index];
            let mut dests = vec![targets.primary.clone()];
            if f.destination == Destination::PrimaryAndSecondary {
                dests.extend(targets.secondary.clone());
            }
            let prepared = measured.and_then(|(sha, metrics)| {
                let fresh = Fresh {
                    sha256: sha,
                    metrics,
                };
                prepare(
                    plan.org.as_deref(),
                    f,
                    index,
                    c,
                    dests,
                    &targets.bucket,
                    fresh,
                    true,
                )
            });
            // Two files of one run that would be the same new version of one artifact
            // (`model_v1.json` beside `model-v1.json`): the second is refused, never merged.
            let duplicate = prepared
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .and_then(|w| {
                    let (v, _) = w.new_version.as_ref()?;
                    (!new_versions.insert((v.artifact_id, v.version.clone())))
                        .then(|| (w.family.clone(), v.version.clone()))
                });
            let prepared = match duplicate {
                Some((family, tag)) => Err(Error::Usage(format!(
                    "{}: another file of this folder is also version {tag} of `{family}` in \
                     the same folder; rename one",
                    f.path.display()
                ))),
                None => prepared,
            };
            match prepared {
                Ok(Some(w)) => {
                    outcomes[index].family = Some(w.family.clone());
                    outcomes[index].version = Some(w.version.clone());
                    if let Some((v, _)) = &w.new_version {
                        touched.push(v.artifact_id);
                    }
                    if w.steps.is_empty() {
                        record(c, f, &w, &[], &mut outcomes[index])?;
                        if f.action == Action::Upload {
                            outcomes[index].result = "recorded";
                        }
                    } else {
                        work.push(w);
                    }
                }
                Ok(None) => outcomes[index].result = "unchanged",
                Err(e) => {
                    outcomes[index].result = "failed";
                    outcomes[index].planned.error = Some(e.to_string());
                    errors.push(e);
                }
            }
        }
        Ok(())
    })?;
    // Phase 2: uploads, a few at a time; each is recorded as soon as it finishes so a crash
    // loses at most the uploads in flight.
    let bucket = targets.bucket.clone();
    let mut results = stream::iter(work.into_iter().map(|w| {
        let progress = progress.clone();
        let bucket = bucket.clone();
        async move {
            let f = &plan.files[w.index];
            let mut done = Vec::new();
            let mut failures = Vec::new();
            for step in &w.steps {
                match upload(f, &w, step, &bucket, w.index, &progress).await {
                    Ok(d) => done.push(d),
                    Err(e) => failures.push((step.target.profile.clone(), e)),
                }
            }
            let end = if failures.is_empty() {
                ItemEvent::Done
            } else {
                ItemEvent::Failed
            };
            if let Some(p) = &progress {
                p(w.index, end);
            }
            (w, done, failures)
        }
    }))
    .buffer_unordered(CONCURRENCY)
    // Record whatever has finished in one transaction: one commit per file would hold up
    // the uploads in flight while it runs.
    .ready_chunks(256);
    while let Some(finished) = results.next().await {
        catalog.batch(|c| {
            for (w, done, failures) in finished {
                let f = &plan.files[w.index];
                let outcome = &mut outcomes[w.index];
                let primary_failed = failures.iter().any(|(p, _)| *p == targets.primary.profile);
                // The primary did not answer: its copy waits in the durable queue for the
                // next `sync` or `watch`, and whatever the secondary holds is recorded.
                let primary_down = failures.iter().any(|(p, e)| {
                    *p == targets.primary.profile && e.kind() == Some(&ErrorKind::Unavailable)
                });
                if primary_down {
                    let key = f.key.clone().expect("uploads have a key");
                    crate::queue::enqueue(
                        c,
                        &[crate::queue::NewRow {
                            path: f.path.clone(),
                            dir: plan.dir.clone(),
                            org: plan.org.clone(),
                            role: crate::queue::Role::Primary,
                            profile: targets.primary.profile.clone(),
                            bucket: targets.bucket.clone(),
                            key,
                            size: f.size,
                            mtime_ns: f.mtime_ns,
                        }],
                    )?;
                    queued.push((f.file.clone(), targets.primary.profile.clone()));
                    outcome.result = "queued";
                    let mut rest = Vec::new();
                    for (p, e) in failures {
                        if p == targets.primary.profile {
                            outcome
                                .warnings
                                .push(format!("primary `{p}` did not answer; queued: {e}"));
                            errors.push(e);
                        } else {
                            rest.push((p, e));
                        }
                    }
                    for (p, e) in rest {
                        outcome
                            .warnings
                            .push(format!("secondary `{p}` failed: {e}"));
                    }
                    if !done.is_empty() {
                        record(c, f, &w, &done, outcome)?;
                    }
                    // Forget the file state so the next run uploads the missing copy.
                    c.set_file_state(
                        &f.path.to_string_lossy(),
                        &FileState {
                            size: u64::MAX,
                            mtime_ns: 0,
                            sha256: w.sha256.clone(),
                            decision: None,
                        },
                    )?;
                    continue;
                }
                if primary_failed || done.is_empty() {
                    outcome.result = "failed";
                    for (_, e) in failures {
                        outcome.planned.error.get_or_insert_with(|| e.to_string());
                        errors.push(e);
                    }
                    continue;
                }
                for (profile, e) in failures {
                    // A secondary failure is never fatal: the file is not marked synced, so
                    // the next run uploads the missing copy.
                    outcome
                        .warnings
                        .push(format!("secondary `{profile}` failed: {e}"));
                }
                let complete = outcome.warnings.is_empty();
                record(c, f, &w, &done, outcome)?;
                if !complete {
                    // Forget the file state so the next run retries the secondary.
                    c.set_file_state(
                        &f.path.to_string_lossy(),
                        &FileState {
                            size: u64::MAX,
                            mtime_ns: 0,
                            sha256: w.sha256.clone(),
                            decision: None,
                        },
                    )?;
                }
            }
            Ok(())
        })?;
    }
    catalog.batch(|c| {
        for id in touched {
            c.forget_artifact_if_empty(id)?;
        }
        Ok(())
    })?;
    let mut report = SyncReport {
        dir: plan.dir.clone(),
        queued,
        uploaded: outcomes.iter().map(|o| o.uploads.len()).sum(),
        bytes_uploaded: outcomes
            .iter()
            .flat_map(|o| &o.uploads)
            .map(|u| u.size)
            .sum(),
        unchanged: outcomes
            .iter()
            .filter(|o| matches!(o.result, "unchanged" | "recorded"))
            .count(),
        new_versions: 0,
        failed: outcomes.iter().filter(|o| o.result == "failed").count(),
        files: outcomes,
        error: None,
    };
    report.new_versions = report
        .files
        .iter()
        .filter(|o| o.version.is_some() && matches!(o.result, "uploaded" | "local"))
        .count();
    if !errors.is_empty() {
        let total = report.files.len();
        let failed = report.failed.max(1);
        let first = errors.remove(0);
        report.error = Some(if failed == 1 && errors.is_empty() {
            first
        } else {
            Error::Several {
                failed,
                total,
                first: Box::new(first),
            }
        });
    }
    Ok(report)
}

/// Fail when `bucket` does not exist on `target` (one cheap listing request), with the ways
/// to create it. Any other answer (a provider that is down) is left to the uploads.
pub async fn check_bucket(target: &Target, bucket: &str) -> Result<()> {
    let options = stowage_store::ListOptions {
        page_size: Some(1),
        ..Default::default()
    };
    let first = target.store.list(bucket, options).next().await;
    match first {
        Some(Err(e)) if e.kind == ErrorKind::NotFound => Err(e
            .at(bucket, None)
            .hint(format!(
                "the bucket `{bucket}` does not exist on profile `{}`: create it with \
                 `stowage sync --create-bucket`, or `stowage buckets create {bucket} --profile \
                 {}`, or name another in [sync] bucket in config.toml",
                target.profile, target.profile
            ))
            .into()),
        _ => Ok(()),
    }
}

/// A problem a dry run found that the real run would meet.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Problem {
    /// The file (None for the whole run, e.g. a missing bucket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The profile.
    pub profile: String,
    /// Whether it fails the run (the primary), or only leaves a copy out (a secondary).
    pub fatal: bool,
    /// What happens, with the next step.
    pub message: String,
}

/// Check without writing what a real run of `plan` would meet: each target's bucket exists
/// (unless sync creates it), and each planned key is one the target (its backend's key rules,
/// the organization its profile is bound to) accepts. A provider that cannot be asked is
/// reported too, as not fatal.
pub async fn check(plan: &SyncPlan, targets: &Targets) -> Vec<Problem> {
    let mut problems = Vec::new();
    let uploads: Vec<&PlannedFile> = plan
        .files
        .iter()
        .filter(|f| f.action == Action::Upload)
        .collect();
    if uploads.is_empty() {
        return problems;
    }
    for (t, primary) in std::iter::once((&targets.primary, true))
        .chain(targets.secondary.iter().map(|t| (t, false)))
    {
        let used = primary
            || uploads
                .iter()
                .any(|f| f.destination == Destination::PrimaryAndSecondary);
        if used && !t.create_bucket {
            let options = stowage_store::ListOptions {
                page_size: Some(1),
                ..Default::default()
            };
            let first = t.store.list(&targets.bucket, options).next().await;
            match first {
                Some(Err(e)) if e.kind == ErrorKind::NotFound => {
                    let e: Error = check_bucket(t, &targets.bucket)
                        .await
                        .err()
                        .unwrap_or_else(|| e.into());
                    problems.push(Problem {
                        file: None,
                        profile: t.profile.clone(),
                        fatal: primary,
                        message: e.to_string(),
                    })
                }
                Some(Err(e)) => problems.push(Problem {
                    file: None,
                    profile: t.profile.clone(),
                    fatal: false,
                    message: format!("could not check the bucket: {}", Error::from(e)),
                }),
                _ => {}
            }
        }
        for f in &uploads {
            if !primary && f.destination != Destination::PrimaryAndSecondary {
                continue;
            }
            let key = f.key.as_deref().unwrap_or_default();
            let checked = ObjectPath::new(&targets.bucket, key)
                .map_err(Error::from)
                .and_then(|p| t.store.check_key(&p.key).map_err(Error::from));
            if let Err(e) = checked {
                problems.push(Problem {
                    file: Some(f.file.clone()),
                    profile: t.profile.clone(),
                    fatal: primary,
                    message: if primary {
                        e.to_string()
                    } else {
                        format!(
                            "secondary `{}` cannot hold it, so it keeps one copy: {e}",
                            t.profile
                        )
                    },
                });
            }
        }
    }
    problems
}

/// What one file's transfer to one target did ([`run_target`]).
#[derive(Clone, Debug, Serialize)]
pub struct TargetOutcome {
    /// The artifact family.
    pub family: String,
    /// The version recorded (or found).
    pub version: String,
    /// SHA-256 of the file's content.
    pub sha256: String,
    /// The upload made (None when the target held this version already, or the file stays
    /// local).
    pub upload: Option<Upload>,
    /// The object was found stored already (an upload that finished before a crash): only
    /// recorded.
    pub already_stored: bool,
    /// Bytes the provider held from an interrupted upload.
    pub resumed_from: u64,
}

/// Run one planned file to one target (a queue row of the auto-sync engine) through the same
/// steps as [`run`]: hash, find or make its version, upload (archiving the older version at
/// the key first, or recognising an upload that finished before a crash without sending or
/// archiving anything again), record. `commit` runs inside the recording transaction, so what
/// the caller marks there (the queue row done) commits with the record or not at all. The
/// catalog is locked only for its own steps, never across the upload. A file that stays local
/// by policy (`Action::Local`) is only versioned.
pub async fn run_target(
    catalog: &std::sync::Mutex<Catalog>,
    org: Option<&str>,
    f: &PlannedFile,
    target: &Target,
    bucket: &str,
    progress: Option<ProgressFn>,
    commit: impl FnOnce(&Catalog, &TargetOutcome) -> Result<()>,
) -> Result<TargetOutcome> {
    let path = f.path.clone();
    let (sha256, metrics) = tokio::task::spawn_blocking(move || measure(&path))
        .await
        .map_err(|e| io_local(&f.path, "hashing", std::io::Error::other(e)))??;
    let lock = || catalog.lock().unwrap_or_else(|p| p.into_inner());
    let dests = if f.action == Action::Upload {
        vec![target.clone()]
    } else {
        Vec::new()
    };
    let fresh = Fresh { sha256, metrics };
    let w = {
        let c = lock();
        c.batch(|c| prepare(org, f, 0, c, dests, bucket, fresh, false))?
            .expect("prepare without check_state always plans")
    };
    let mut done = Vec::new();
    for step in &w.steps {
        done.push(upload(f, &w, step, bucket, 0, &progress).await?);
    }
    let mut outcome = FileOutcome {
        planned: f.clone(),
        result: if done.is_empty() {
            "recorded"
        } else {
            "uploaded"
        },
        family: Some(w.family.clone()),
        version: Some(w.version.clone()),
        uploads: Vec::new(),
        warnings: Vec::new(),
    };
    let result = TargetOutcome {
        family: w.family.clone(),
        version: w.version.clone(),
        sha256: w.sha256.clone(),
        upload: None,
        already_stored: done.iter().any(|d| d.already),
        resumed_from: done.iter().map(|d| d.put.resumed_from).sum(),
    };
    let c = lock();
    c.batch(|c| {
        record(c, f, &w, &done, &mut outcome)?;
        let result = TargetOutcome {
            upload: outcome.uploads.first().cloned(),
            ..result.clone()
        };
        commit(c, &result)?;
        Ok(result)
    })
}

/// A file's measured content.
struct Fresh {
    sha256: String,
    metrics: VersionMetrics,
}

/// With the file hashed, find or make its version and decide each of `dests`' step (none for
/// a destination already holding this version). With `check_state`, None when the content is
/// what was synced last (only the file state is refreshed).
#[allow(clippy::too_many_arguments)]
fn prepare(
    org: Option<&str>,
    f: &PlannedFile,
    index: usize,
    catalog: &Catalog,
    dests: Vec<Target>,
    bucket: &str,
    fresh: Fresh,
    check_state: bool,
) -> Result<Option<Work>> {
    let Fresh { sha256, metrics } = fresh;
    let key_path = f.path.to_string_lossy().into_owned();
    let state = FileState {
        size: f.size,
        mtime_ns: f.mtime_ns,
        sha256: sha256.clone(),
        decision: Some(f.decision()),
    };
    let previous = catalog.file_state(&key_path)?;
    if check_state
        && previous.is_some_and(|p| {
            p.sha256 == sha256 && p.size != u64::MAX && p.decision == state.decision
        })
    {
        // Touched, not changed: remember the new mtime so the next run skips it unread.
        catalog.set_file_state(&key_path, &state)?;
        return Ok(None);
    }
    let name = f.file.rsplit('/').next().unwrap_or(&f.file);
    let parsed = version::parse_name(name);
    // The artifact is its folder (the key's; for a file kept local, its folder in the
    // project), family and extension: two files of one name in two folders stay apart.
    let folder = f
        .key
        .as_deref()
        .unwrap_or(&f.file)
        .rsplit_once('/')
        .map_or(String::new(), |(d, _)| format!("{d}/"));
    // A policy edit that stores the file in another folder moves its artifact there: one
    // file stays one artifact.
    if let Some(a) = catalog.artifact_of_source(&key_path)? {
        let same =
            a.family == parsed.family && a.extension == parsed.extension && a.org.as_deref() == org;
        if same && a.folder != folder {
            catalog.move_artifact(a.id, &folder)?;
        }
    }
    let artifact = catalog.upsert_artifact_at(
        org,
        &folder,
        &parsed.family,
        &parsed.extension,
        &f.kind,
        version::framework(&parsed.extension),
    )?;
    let base = parsed.version.as_ref().map(VersionTag::to_string);
    let current = catalog.latest_version_of(artifact, base.as_deref())?;
    // New content under a version another file of the folder holds (`model_v1.pt` beside
    // `model-v1.pt`) is a different file, not a new version of it: refused, never merged.
    if let (Some(tag), Some((id, _, sha))) = (&base, &current) {
        if *sha != sha256 {
            if let Some(other) = catalog.version_source(*id)? {
                if other != key_path && Path::new(&other).is_file() {
                    return Err(Error::Usage(format!(
                        "{key_path}: {other} is already version {tag} of `{}`; two files \
                         cannot share a version, rename one",
                        parsed.family
                    )));
                }
            }
        }
    }
    let encoding = f.compress.then(|| compress::ENCODING.to_string());
    // A version's encoding says how every copy of it is stored: a policy edit that turns
    // compression on or off stores the same content in another form, a version of its own.
    let same_form = |id: i64| -> Result<bool> { Ok(catalog.version_encoding(id)? == encoding) };
    let (version_id, tag, new_version) = match current {
        Some((id, tag, sha)) if sha == sha256 && same_form(id)? => (Some(id), tag, None),
        _ => {
            let (tag, sort) = next_tag(catalog, artifact, parsed.version.as_ref())?;
            let v = NewVersion {
                artifact_id: artifact,
                version: tag.clone(),
                sha256: sha256.clone(),
                size: f.size,
                original_size: f.size,
                encoding,
                mtime_ns: Some(f.mtime_ns),
                source_path: Some(key_path.clone()),
                created_at: OffsetDateTime::now_utc(),
                metrics,
            };
            (None, tag, Some((v, sort)))
        }
    };
    let mut steps = Vec::new();
    if f.action == Action::Upload {
        let key = f.key.clone().expect("uploads have a key");
        for target in dests {
            let holder = catalog.location_at(&target.profile, bucket, &key)?;
            match holder {
                Some(h) if Some(h.version_id) == version_id => continue,
                Some(h) => {
                    let held_sha = catalog.version_sha(h.version_id)?;
                    let archive = archive_key(&key, &held_sha);
                    steps.push(Step {
                        target,
                        key: key.clone(),
                        archive: Some((h.id, archive)),
                    });
                }
                None => steps.push(Step {
                    target,
                    key: key.clone(),
                    archive: None,
                }),
            }
        }
    }
    Ok(Some(Work {
        index,
        family: parsed.family,
        version: tag,
        version_id,
        sha256,
        steps,
        new_version,
    }))
}

/// Where an older version at `key` is kept: `<folder>/_versions/<name>/<sha12>[.gz]`.
pub fn archive_key(key: &str, sha256: &str) -> String {
    let gz = key.ends_with(compress::SUFFIX);
    let plain = compress::original_key(key);
    let (dir, name) = plain.rsplit_once('/').unwrap_or(("", plain));
    let short = &sha256[..sha256.len().min(12)];
    let suffix = if gz { compress::SUFFIX } else { "" };
    if dir.is_empty() {
        format!("_versions/{name}/{short}{suffix}")
    } else {
        format!("{dir}/_versions/{name}/{short}{suffix}")
    }
}

/// The tag and sort key of a new version: the name's version (`V`, then `V+2`, `V+3` when the
/// same name gets new content), or for unversioned names the next content number.
pub(crate) fn next_tag(
    catalog: &Catalog,
    artifact: i64,
    named: Option<&VersionTag>,
) -> Result<(String, String)> {
    match named {
        Some(v) => {
            let base = v.to_string();
            let base_key = tag_sort_key(v);
            if !catalog.has_version(artifact, &base)? {
                return Ok((base, base_key));
            }
            let mut n = 2u64;
            loop {
                let tag = format!("{base}+{n}");
                if !catalog.has_version(artifact, &tag)? {
                    return Ok((
                        tag,
                        format!("{base_key}+{}", crate::version::sort_key(&n.to_string())),
                    ));
                }
                n += 1;
            }
        }
        None => {
            let mut n = catalog.version_count(artifact)? + 1;
            loop {
                let tag = n.to_string();
                if !catalog.has_version(artifact, &tag)? {
                    return Ok((tag.clone(), format!("C{}", crate::version::sort_key(&tag))));
                }
                n += 1;
            }
        }
    }
}

/// A sort key that orders like [`VersionTag`]'s `Ord`: numbers before timestamps, timestamps
/// by time, numbers component by component.
pub fn tag_sort_key(tag: &VersionTag) -> String {
    match tag {
        VersionTag::Timestamp(at, _) => format!(
            "T{:04}{:02}{:02}{:02}{:02}{:02}{:09}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.nanosecond()
        ),
        VersionTag::Number(parts, _) => version::number_sort_key(parts, &tag.prerelease()),
    }
}

fn metrics_of(m: crate::metadata::Metrics) -> VersionMetrics {
    VersionMetrics {
        accuracy: m.accuracy,
        loss: m.loss,
        epochs: m.epochs.map(|e| e as i64),
        model_type: m.model_type,
        dataset_count: m.dataset_count.map(|c| c as i64),
        training_split: m.training_split.map(|s| s.to_string()),
        other: m.other,
    }
}

/// The SHA-256 of a file and, for JSON, the metrics it holds (unreadable metrics are none:
/// a results file with a syntax error still syncs).
fn measure(path: &Path) -> Result<(String, VersionMetrics)> {
    let sha = hash_file(path)?;
    let json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let metrics = if json {
        crate::metadata::extract(path)
            .ok()
            .flatten()
            .map(metrics_of)
            .unwrap_or_default()
    } else {
        VersionMetrics::default()
    };
    Ok((sha, metrics))
}

fn hash_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| io_local(path, "reading", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| io_local(path, "reading", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

async fn upload(
    f: &PlannedFile,
    w: &Work,
    step: &Step,
    bucket: &str,
    index: usize,
    progress: &Option<ProgressFn>,
) -> Result<Done> {
    let store = &*step.target.store;
    let path = ObjectPath::new(bucket, &step.key)?;
    store.check_key(&path.key)?;
    let found = |meta: stowage_store::ObjectMeta| Done {
        target: step.target.clone(),
        bucket: bucket.to_string(),
        key: step.key.clone(),
        put: stowage_store::PutResult {
            size: meta.size,
            sha256: meta.sha256.unwrap_or_default(),
            etag: meta.etag,
            resumed_from: meta.size,
        },
        archive: step.archive.clone(),
        already: true,
    };
    if let Some((_, archive)) = &step.archive {
        // The key holds the version the catalog knows there, unless this very upload finished
        // before a crash: then the older version was archived already (the copy comes first)
        // and neither is done again.
        if let Some(meta) = stored_already(f, w, store, &path).await? {
            return Ok(found(meta));
        }
        // Keep the older version before its key takes the new content.
        let to = ObjectPath::new(bucket, archive)?;
        store.copy(&path, &to, true).await?;
    }
    if let Some(p) = progress {
        p(index, ItemEvent::Started { size: f.size });
    }
    let options = PutOptions {
        overwrite: step.archive.is_some(),
        content_type: Some(if f.compress {
            compress::CONTENT_TYPE.to_string()
        } else {
            content_type(&f.file).to_string()
        }),
        progress: progress.clone().map(|p| {
            Arc::new(move |e: TransferEvent| {
                if let TransferEvent::Sent(bytes) = e {
                    p(index, ItemEvent::Moved { bytes })
                }
            }) as stowage_store::Progress
        }),
    };
    let source = if f.compress {
        let file = tokio::fs::File::open(&f.path)
            .await
            .map_err(|e| io_local(&f.path, "reading", e))?;
        PutSource::Reader {
            reader: Box::new(compress::gzip_reader(file)),
            size: None,
        }
    } else {
        PutSource::File(f.path.clone())
    };
    let put = match store.put(&path, source, &options).await {
        Err(e) if e.kind == ErrorKind::AlreadyExists => {
            // Our own upload that finished before a crash, never recorded: record it.
            match stored_already(f, w, store, &path).await? {
                Some(meta) => return Ok(found(meta)),
                None => Err(e),
            }
        }
        other => other,
    };
    let put = put.map_err(|e| {
        if e.kind == ErrorKind::AlreadyExists {
            Error::from(e.hint(
                "an object Stowage did not record is at this key, and sync never replaces one; \
                 remove or rename it (`stowage rm`), or change the rule's folder",
            ))
        } else {
            Error::from(e)
        }
    });
    let put = put.map_err(|e| e.with_file(&f.path))?;
    if !f.compress && put.sha256 != w.sha256 {
        if step.archive.is_none() {
            // Nothing was at the key before this put (it does not replace): the half-written
            // copy is ours alone, and the next attempt must not find it.
            let _ = store.delete(&path).await;
        }
        return Err(local_error(
            ErrorKind::Conflict,
            &f.path,
            "changed while it was being synced",
            "wait until it is no longer being written, then sync again",
        ));
    }
    Ok(Done {
        target: step.target.clone(),
        bucket: bucket.to_string(),
        key: step.key.clone(),
        put,
        archive: step.archive.clone(),
        already: false,
    })
}

/// The object at `path` when it already holds exactly this file's content as sync stores it
/// (gzipped when planned so: gzip here is deterministic, so the stored SHA-256 is recomputed).
async fn stored_already(
    f: &PlannedFile,
    w: &Work,
    store: &dyn Store,
    path: &ObjectPath,
) -> Result<Option<stowage_store::ObjectMeta>> {
    let meta = match store.head(path).await {
        Ok(m) => m,
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(stored) = meta.sha256.clone() else {
        return Ok(None);
    };
    let expected = if f.compress {
        use tokio::io::AsyncReadExt;
        let file = tokio::fs::File::open(&f.path)
            .await
            .map_err(|e| io_local(&f.path, "reading", e))?;
        let mut reader = compress::gzip_reader(file);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| io_local(&f.path, "compressing", e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        hex::encode(hasher.finalize())
    } else {
        w.sha256.clone()
    };
    Ok((stored == expected).then_some(meta))
}

fn content_type(file: &str) -> &'static str {
    match file
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => "application/json",
        Some("csv") => "text/csv",
        Some("txt" | "log" | "md") => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Record a file's version, its new locations, transfers and audit events, in one transaction.
fn record(
    catalog: &Catalog,
    f: &PlannedFile,
    w: &Work,
    done: &[Done],
    outcome: &mut FileOutcome,
) -> Result<()> {
    let stored_size = done.first().map(|d| d.put.size);
    catalog.batch(|c| {
        let version_id = match (&w.new_version, w.version_id) {
            (Some((v, sort)), _) => {
                let mut v = v.clone();
                if let Some(s) = stored_size {
                    v.size = s;
                }
                c.insert_version_sorted(&v, Some(sort))?
            }
            (None, Some(id)) => id,
            (None, None) => unreachable!("a version is either new or found"),
        };
        for d in done {
            // A copy waiting in the queue (its provider was down) is made now.
            crate::queue::settle_waiting(
                c,
                &f.path,
                (f.size, f.mtime_ns),
                &d.target.profile,
                &w.sha256,
                Some(&w.version),
            )?;
            let provider = d.target.store.provider().to_string();
            if let Some((location, archive)) = &d.archive {
                c.move_location(*location, archive)?;
                c.record_transfer(
                    &d.target.profile,
                    &provider,
                    &outcome_bucket(d),
                    Direction::Upload,
                    0,
                    1,
                )?;
            }
            c.record_stored(
                version_id,
                &NewLocation {
                    profile: d.target.profile.clone(),
                    provider: provider.clone(),
                    bucket: outcome_bucket(d),
                    key: d.key.clone(),
                    size: d.put.size,
                    etag: d.put.etag.clone(),
                    sha256: Some(d.put.sha256.clone()),
                    stored_at: OffsetDateTime::now_utc(),
                },
            )?;
            c.record_transfer(
                &d.target.profile,
                &provider,
                &outcome_bucket(d),
                Direction::Upload,
                d.put.size - d.put.resumed_from,
                1,
            )?;
            c.audit(&AuditEvent {
                action: "put",
                profile: Some(&d.target.profile),
                bucket: Some(&outcome_bucket(d)),
                key: Some(&d.key),
                detail: Some(format!(
                    "sync: {} version {} ({} bytes{})",
                    w.family,
                    w.version,
                    f.size,
                    if f.compress { ", gzip" } else { "" }
                )),
            })?;
        }
        c.set_file_state(
            &f.path.to_string_lossy(),
            &FileState {
                size: f.size,
                mtime_ns: f.mtime_ns,
                sha256: w.sha256.clone(),
                decision: Some(f.decision()),
            },
        )
    })?;
    for d in done {
        outcome.uploads.push(Upload {
            profile: d.target.profile.clone(),
            bucket: outcome_bucket(d),
            key: d.key.clone(),
            size: d.put.size,
            sha256: d.put.sha256.clone(),
            etag: d.put.etag.clone(),
            archived_previous_to: d.archive.as_ref().map(|(_, k)| k.clone()),
        });
    }
    Ok(())
}

fn outcome_bucket(d: &Done) -> String {
    d.bucket.clone()
}

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
    let all = catalog.versions(&catalog::VersionQuery {
        family: retention.family.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_store::local::LocalStore;

    fn json(len: usize, seed: u64) -> Vec<u8> {
        let mut out = format!("{{\"accuracy\":0.9{seed},\"loss\":0.1,\"rows\":[").into_bytes();
        let mut i = seed;
        while out.len() + 40 < len {
            out.extend_from_slice(format!("{{\"id\":{i},\"v\":{}}},", i * 7 % 1000).as_bytes());
            i += 1;
        }
        out.extend_from_slice(b"0]}");
        out
    }

    fn targets(root: &Path) -> Targets {
        Targets {
            primary: Target {
                profile: "local".into(),
                store: Arc::new(LocalStore::new(root).unwrap()),
                create_bucket: true,
            },
            secondary: Some(Target {
                profile: "backup".into(),
                store: Arc::new(LocalStore::new(root.join("backup")).unwrap()),
                create_bucket: true,
            }),
            bucket: "ml-artifacts".into(),
        }
    }

    /// A crash after an upload finished but before it was recorded: the run of the same row
    /// after restart finds the object (same SHA-256), records it and sends nothing; with an
    /// older version at the key, the archive made before the crash is not made again.
    #[tokio::test]
    async fn sync_run_target_records_an_upload_a_crash_left_unrecorded_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        let file = proj.join("weights.bin");
        let v1 = json(2_000, 1);
        std::fs::write(&file, &v1).unwrap();
        let store_root = dir.path().join("store");
        let targets = targets(&store_root);
        let t = &targets.primary;
        t.store
            .create_bucket("ml-artifacts", &BucketOptions::default())
            .await
            .unwrap();
        let policy = Policy::parse(
            "[[rule]]\nname = \"all\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"runs/\"\ncompress = false\n",
            Path::new("policy.toml"),
        )
        .unwrap();
        let catalog = std::sync::Mutex::new(Catalog::in_memory().unwrap());
        let planned = |path: &Path| {
            let meta = std::fs::metadata(path).unwrap();
            plan_file(
                path.to_path_buf(),
                "weights.bin".into(),
                &meta,
                &policy,
                None,
                None,
            )
            .unwrap()
        };
        let key = ObjectPath::new("ml-artifacts", "runs/weights.bin").unwrap();
        // The crashed run's upload landed; nothing was recorded.
        t.store
            .put(&key, PutSource::File(file.clone()), &PutOptions::default())
            .await
            .unwrap();
        let mut committed = 0;
        let o = run_target(
            &catalog,
            None,
            &planned(&file),
            t,
            "ml-artifacts",
            None,
            |_, _| {
                committed += 1;
                Ok(())
            },
        )
        .await
        .unwrap();
        assert!(o.already_stored);
        assert_eq!(committed, 1);
        assert_eq!(o.version, "1");
        // New content; the crashed run archived v1 and uploaded v2, then died unrecorded.
        let v2 = json(2_100, 2);
        std::fs::write(&file, &v2).unwrap();
        let sha1 = hex::encode(Sha256::digest(&v1));
        let archive =
            ObjectPath::new("ml-artifacts", &archive_key("runs/weights.bin", &sha1)).unwrap();
        t.store.copy(&key, &archive, true).await.unwrap();
        let put = PutOptions {
            overwrite: true,
            ..Default::default()
        };
        t.store
            .put(&key, PutSource::File(file.clone()), &put)
            .await
            .unwrap();
        let o = run_target(
            &catalog,
            None,
            &planned(&file),
            t,
            "ml-artifacts",
            None,
            |_, _| Ok(()),
        )
        .await
        .unwrap();
        assert!(o.already_stored);
        assert_eq!(o.version, "2");
        let c = catalog.lock().unwrap();
        let versions = c
            .versions(&catalog::VersionQuery {
                family: Some("weights".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(versions.len(), 2, "one version per content, none twice");
        assert_eq!(versions[0].locations[0].key, "runs/weights.bin");
        assert_eq!(versions[1].locations[0].key, archive.key.as_str());
        // The key holds v2, the archive v1: nothing was archived or replaced again.
        let root = store_root.join("ml-artifacts");
        assert_eq!(std::fs::read(root.join("runs/weights.bin")).unwrap(), v2);
        assert_eq!(std::fs::read(root.join(archive.key.as_str())).unwrap(), v1);
        let archived: Vec<_> = std::fs::read_dir(root.join("runs/_versions/weights.bin"))
            .unwrap()
            .collect();
        assert_eq!(archived.len(), 1);
    }

    #[test]
    fn sync_archive_keys_keep_folder_and_encoding() {
        let sha = "0123456789abcdef0123";
        assert_eq!(
            archive_key("training-data/dataset.json.gz", sha),
            "training-data/_versions/dataset.json/0123456789ab.gz"
        );
        assert_eq!(
            archive_key("acme/models/m.pt", sha),
            "acme/models/_versions/m.pt/0123456789ab"
        );
        assert_eq!(archive_key("x.csv", sha), "_versions/x.csv/0123456789ab");
        assert!(Key::parse(&archive_key("training-data/dataset.json.gz", sha)).is_ok());
    }

    #[test]
    fn sync_tag_sort_keys_order_like_version_tags() {
        let mut names = vec![
            "m-2026-01-06T03-27-22.json",
            "m-v2.10.json",
            "m-2026-01-05T21-01-16.json",
            "m-v2.9.json",
            "m-2026-01-06T01-48-25.json",
        ];
        let tags: Vec<VersionTag> = names
            .iter()
            .map(|n| version::parse_name(n).version.unwrap())
            .collect();
        let mut by_key = tags.clone();
        by_key.sort_by_key(tag_sort_key);
        let mut by_ord = tags;
        by_ord.sort();
        assert_eq!(by_key, by_ord);
        names.clear();
    }

    #[tokio::test]
    async fn sync_dual_writes_and_versions_changed_content_of_a_versioned_name() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        std::fs::create_dir_all(&proj).unwrap();
        std::fs::write(proj.join("model-q-v1.json"), json(150_000, 2)).unwrap();
        let store_root = dir.path().join("store");
        let targets = targets(&store_root);
        let catalog = Catalog::in_memory().unwrap();
        let policy = Policy::parse(
            "[[rule]]\nname = \"both\"\npatterns = [\"model-*\"]\ndestination = \"primary+secondary\"\nfolder = \"models/\"\n",
            Path::new("policy.toml"),
        )
        .unwrap();
        let p = plan(&proj, &policy, &catalog, Some("acme")).unwrap();
        let r = run(&p, &catalog, &targets, None).await.unwrap();
        assert_eq!(r.uploaded, 2);
        for root in [store_root.clone(), store_root.join("backup")] {
            assert!(root
                .join("ml-artifacts/acme/models/model-q-v1.json.gz")
                .is_file());
        }
        // The same name with new content: version `v1+2`, newest, the old one archived.
        std::fs::write(proj.join("model-q-v1.json"), json(160_000, 5)).unwrap();
        let p = plan(&proj, &policy, &catalog, Some("acme")).unwrap();
        let r = run(&p, &catalog, &targets, None).await.unwrap();
        assert_eq!(r.uploaded, 2);
        assert_eq!(r.files[0].version.as_deref(), Some("v1+2"));
        let v = catalog.resolve(Some("acme"), "model-q", None).unwrap();
        assert_eq!(v.version, "v1+2");
        assert_eq!(v.locations.len(), 2);
        let old = catalog
            .resolve(Some("acme"), "model-q", Some("v1"))
            .unwrap();
        assert!(old
            .locations
            .iter()
            .all(|l| l.key.starts_with("acme/models/_versions/model-q-v1.json/")));
        let (objects, transfers) = catalog.cost_inputs().unwrap();
        assert_eq!(objects.len(), 4);
        assert!(objects.iter().all(|o| o.org.as_deref() == Some("acme")));
        assert!(transfers.len() >= 4);
    }

    #[tokio::test]
    async fn sync_versions_archives_restores_and_collects() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        std::fs::create_dir_all(proj.join("logs")).unwrap();
        std::fs::write(proj.join("dataset.json"), json(1_200_000, 1)).unwrap();
        std::fs::write(proj.join("model-q-v1.json"), json(150_000, 2)).unwrap();
        std::fs::write(proj.join("notes.txt"), b"small").unwrap();
        std::fs::write(proj.join("logs/run.log"), b"log").unwrap();
        let store_root = dir.path().join("store");
        let targets = targets(&store_root);
        let catalog = Catalog::in_memory().unwrap();
        let policy = Policy::defaults();

        let p = plan(&proj, &policy, &catalog, None).unwrap();
        let actions: Vec<_> = p
            .files
            .iter()
            .map(|f| (f.file.as_str(), f.action))
            .collect();
        assert_eq!(
            actions,
            [
                ("dataset.json", Action::Upload),
                ("logs/run.log", Action::Never),
                ("model-q-v1.json", Action::Upload),
                ("notes.txt", Action::Local),
            ]
        );
        let r = run(&p, &catalog, &targets, None).await.unwrap();
        assert!(r.error.is_none());
        assert_eq!(r.uploaded, 2);
        assert_eq!(r.new_versions, 3);
        assert!(store_root
            .join("ml-artifacts/training-data/dataset.json.gz")
            .is_file());

        // Unchanged: nothing read, nothing uploaded.
        let p = plan(&proj, &policy, &catalog, None).unwrap();
        assert!(p
            .files
            .iter()
            .all(|f| matches!(f.action, Action::Unchanged | Action::Never)));
        assert_eq!(run(&p, &catalog, &targets, None).await.unwrap().uploaded, 0);

        // New content of an unversioned name: the old object moves under _versions/.
        std::fs::write(proj.join("dataset.json"), json(1_300_000, 3)).unwrap();
        let p = plan(&proj, &policy, &catalog, None).unwrap();
        let r = run(&p, &catalog, &targets, None).await.unwrap();
        assert_eq!(r.uploaded, 1);
        let archived = r.files[0].uploads[0].archived_previous_to.clone().unwrap();
        assert!(store_root.join("ml-artifacts").join(&archived).is_file());
        let versions = catalog
            .versions(&catalog::VersionQuery {
                family: Some("dataset".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|v| v.version.as_str())
                .collect::<Vec<_>>(),
            ["2", "1"]
        );
        assert_eq!(versions[1].locations[0].key, archived);
        assert_eq!(versions[1].metrics.accuracy, Some(0.91));

        let stores: HashMap<String, Arc<dyn Store>> =
            [("local".to_string(), targets.primary.store.clone())].into();
        let dest = dir.path().join("restored.json");
        let reader = crate::read::Reader::new(stores.clone());
        let got = crate::read::restore(&catalog, &versions[1], &reader, &dest, false, false)
            .await
            .unwrap();
        assert!(got.restored.decompressed);
        assert_eq!(std::fs::read(&dest).unwrap(), json(1_200_000, 1));
        assert!(
            crate::read::restore(&catalog, &versions[1], &reader, &dest, false, false)
                .await
                .is_err()
        );

        // gc keeps the latest; with version 1 labelled nothing goes, without it, it does.
        catalog.set_label(versions[1].id, "production").unwrap();
        let keep = Retention {
            keep_last: 1,
            older_than: Duration::ZERO,
            family: Some("dataset".into()),
        };
        assert!(gc(&catalog, &keep, &stores, false)
            .await
            .unwrap()
            .is_empty());
        catalog.set_label(versions[0].id, "production").unwrap();
        let removed = gc(&catalog, &keep, &stores, false).await.unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].version, "1");
        assert!(!store_root.join("ml-artifacts").join(&archived).exists());
        assert_eq!(catalog.audit_log().unwrap().last().unwrap().1, "gc");
    }
}
