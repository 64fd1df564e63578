//! What a dry run checks without writing: buckets, key rules and organization scope.

use super::*;

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
