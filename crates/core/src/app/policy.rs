//! The policy editor: the policy file's text, a check of edited text (its rules, or the
//! error that points at the faulty one, and what it decides for sample files) before anything
//! is saved, and saving it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{App, AppError, AppResult, Item};
use crate::policy::{Explanation, Policy, Rule};

/// The policy file as the editor opens it.
#[derive(Clone, Debug, Serialize, TS)]
pub struct PolicyDocument {
    /// Where it lives.
    #[ts(type = "string")]
    pub file: PathBuf,
    /// Whether it exists (else the built-in rules apply, and `text` is a starter).
    pub exists: bool,
    /// Its text.
    pub text: String,
}

/// A file to explain: a path as the policy sees it (`models/churn-v2.pt`) and its size, or a
/// file on disk (its size read from it).
#[derive(Clone, Debug, Deserialize, TS)]
pub struct PolicySample {
    /// The path.
    pub path: String,
    /// Its size; None reads it from the file at `path`.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub size: Option<u64>,
}

/// Edited policy text, checked.
#[derive(Debug, Serialize, TS)]
pub struct PolicyCheck {
    /// Why the text is refused (the message names the line, column and rule); None when valid.
    pub error: Option<AppError>,
    /// The rules in the order they are tried (the built-in ones included when the file
    /// includes them).
    pub rules: Vec<Rule>,
    /// What the text decides for each sample, with the rules passed over and why.
    pub explained: Vec<Item<Explanation>>,
}

impl App {
    /// The policy file's text (a starter when there is none).
    pub fn policy_document(&self) -> AppResult<PolicyDocument> {
        let file = Policy::file(&self.paths);
        let (exists, text) = match std::fs::read_to_string(&file) {
            Ok(t) => (true, t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (false, crate::policy::STARTER.to_string())
            }
            Err(e) => {
                return Err(crate::Error::Config(format!(
                    "cannot read the policy file {}: {e}; check its permissions",
                    file.display()
                ))
                .into())
            }
        };
        Ok(PolicyDocument { file, exists, text })
    }

    /// Check `text` as the policy file would be read, and explain `samples` by it; nothing
    /// is written.
    pub fn check_policy(&self, text: &str, samples: &[PolicySample]) -> PolicyCheck {
        let policy = match Policy::parse(text, &Policy::file(&self.paths)) {
            Ok(p) => p,
            Err(e) => {
                return PolicyCheck {
                    error: Some(e.into()),
                    rules: Vec::new(),
                    explained: Vec::new(),
                }
            }
        };
        let explain = |s: &PolicySample| -> AppResult<Explanation> {
            let size = match s.size {
                Some(n) => n,
                None => std::fs::metadata(&s.path)
                    .map(|m| m.len())
                    .map_err(|e| AppError::usage(format!("{}: cannot read it ({e})", s.path)))?,
            };
            // A file on disk is matched by its name, as a dropped file is.
            let path = if s.size.is_none() {
                std::path::Path::new(&s.path)
                    .file_name()
                    .map_or(s.path.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                s.path.clone()
            };
            Ok(policy.explain(&path, size, None))
        };
        PolicyCheck {
            error: None,
            rules: policy.rules().to_vec(),
            explained: samples.iter().map(|s| Item(explain(s))).collect(),
        }
    }

    /// Save `text` as the policy file, once it checks; the next sync, watch and drop use it.
    pub fn save_policy(&self, text: &str) -> AppResult<PolicyDocument> {
        let file = Policy::file(&self.paths);
        Policy::parse(text, &file)?;
        let dir = file.parent().unwrap_or(std::path::Path::new("."));
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            let mut temp = tempfile::Builder::new()
                .prefix(".policy.toml.")
                .tempfile_in(dir)?;
            std::io::Write::write_all(&mut temp, text.as_bytes())?;
            temp.as_file().sync_all()?;
            temp.persist(&file).map_err(|e| e.error)?;
            Ok(())
        });
        written.map_err(|e| {
            crate::Error::Config(format!(
                "cannot write the policy file {}: {e}; check its permissions",
                file.display()
            ))
        })?;
        self.policy_document()
    }
}
