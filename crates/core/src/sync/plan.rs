//! Planning a pass: walk the folder, classify each file by policy, skip what is unchanged, notice policy edits.

use super::*;

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
    pub(super) mtime_ns: i64,
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

pub(super) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
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
