//! Files dropped onto the desktop app's window (or picked with "Upload…"): what the policy
//! decides for each, before anything moves. The upload itself is `put`, one file at a time,
//! with the destination the user confirmed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{App, AppError, AppResult, Item};
use crate::policy::Destination;

/// Paths dropped or picked: files and folders.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct DropRequest {
    /// The dropped paths.
    pub paths: Vec<PathBuf>,
    /// The organization keys go under [default: the policy's].
    #[serde(default)]
    pub org: Option<String>,
}

/// One dropped file and what the policy decides for it.
#[derive(Clone, Debug, Serialize, TS)]
pub struct DropFile {
    /// The local file.
    pub file: PathBuf,
    /// Its name as the policy sees it: relative to the dropped folder's parent, so a
    /// dropped folder keeps its name and its subfolders.
    pub name: String,
    /// Its size in bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// What it is (`model`, `dataset`, …).
    pub kind: String,
    /// The rule that matched.
    pub rule: String,
    /// The policy's destination (`primary`, `primary+secondary`, `local`, `never`).
    pub destination: String,
    /// The profiles it goes to, the first being where it is uploaded now (empty: it is not
    /// uploaded, see `refused`).
    pub profiles: Vec<String>,
    /// The bucket.
    pub bucket: String,
    /// The key it is stored under (before the `.gz` compression appends).
    pub key: String,
    /// Whether it is gzipped on the way up.
    pub compress: bool,
    /// Why it will not be uploaded (a rule that keeps it on this machine, a name that cannot
    /// be a key).
    pub refused: Option<String>,
}

/// The upload preview: one item per file found under the dropped paths.
#[derive(Debug, Serialize, TS)]
pub struct DropPlan {
    /// Each file, in the order found (folders walked in name order).
    pub files: Vec<Item<DropFile>>,
    /// The profiles the user can choose instead.
    pub profiles: Vec<String>,
    /// The primary profile.
    pub primary: String,
    /// The secondary profile, for `primary+secondary` rules.
    pub secondary: Option<String>,
    /// The bucket uploads go to.
    pub bucket: String,
}

/// Every file under `path` (itself, when a file), in name order, with its name relative to
/// `root`. Symbolic links are not followed: a link out of the dropped folder is not part of
/// it.
fn walk(root: &Path, path: &Path, out: &mut Vec<AppResult<(PathBuf, String, u64)>>) {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            out.push(Err(local_error(path, &e)));
            return;
        }
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                out.push(Err(local_error(path, &e)));
                return;
            }
        };
        entries.sort();
        for entry in entries {
            walk(root, &entry, out);
        }
    } else if meta.is_file() {
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        out.push(Ok((path.to_path_buf(), name, meta.len())));
    }
}

fn local_error(path: &Path, e: &std::io::Error) -> AppError {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        stowage_store::ErrorKind::NotFound
    } else {
        stowage_store::ErrorKind::Other
    };
    crate::Error::from(
        stowage_store::Error::new(kind, "local file", e.to_string())
            .hint("check that the file still exists and can be read"),
    )
    .with_file(path)
    .into()
}

impl App {
    /// The upload preview of dropped or picked paths: per file, the policy's kind,
    /// destination, key and compression, and the profiles it would go to.
    pub fn drop_plan(&self, r: &DropRequest) -> AppResult<DropPlan> {
        let config = self.config()?;
        let policy = self.policy()?;
        let org = self.sync_org(&config, &policy, r.org.as_deref())?;
        let primary = self.primary(&config)?.name.clone();
        let secondary = config
            .sync
            .secondary
            .clone()
            .filter(|s| *s != primary && config.profiles.contains_key(s));
        let bucket = config.sync.bucket.clone();
        let mut found = Vec::new();
        for path in &r.paths {
            let root = path.parent().unwrap_or(Path::new(""));
            walk(root, path, &mut found);
        }
        let files = found
            .into_iter()
            .map(|f| {
                Item(f.map(|(file, name, size)| {
                    let d = policy.explain(&name, size, org.as_deref()).decision;
                    let (profiles, refused) = match (d.destination, &d.key_error) {
                        (_, Some(e)) => (vec![], Some(e.clone())),
                        (Destination::Never, _) => (
                            vec![],
                            Some(format!(
                                "rule `{}` keeps it on this machine (policy destination \
                                 `never`)",
                                d.rule
                            )),
                        ),
                        (Destination::PrimaryAndSecondary, _) => (
                            std::iter::once(primary.clone())
                                .chain(secondary.clone())
                                .collect(),
                            None,
                        ),
                        _ => (vec![primary.clone()], None),
                    };
                    DropFile {
                        key: d.key.clone().unwrap_or_else(|| policy_key(&name, &org)),
                        file,
                        name,
                        size,
                        kind: d.kind.as_str().to_string(),
                        rule: d.rule,
                        destination: d.destination.as_str().to_string(),
                        profiles,
                        bucket: bucket.clone(),
                        compress: d.compress,
                        refused,
                    }
                }))
            })
            .collect();
        Ok(DropPlan {
            files,
            profiles: config.profiles.keys().cloned().collect(),
            primary,
            secondary,
            bucket,
        })
    }
}

/// The key of a file whose rule keeps it local (no key from the policy): its name under the
/// organization, as an upload the user asks for anyway would store it.
fn policy_key(name: &str, org: &Option<String>) -> String {
    match org {
        Some(o) => format!("{o}/{name}"),
        None => name.to_string(),
    }
}
