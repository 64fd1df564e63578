//! Running a pass: hash, version, compress, upload to the primary and secondary, record.

use super::*;

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
pub(super) struct Work {
    pub(super) index: usize,
    pub(super) family: String,
    pub(super) version: String,
    pub(super) version_id: Option<i64>,
    pub(super) sha256: String,
    pub(super) steps: Vec<Step>,
    /// A new version and its sort key.
    pub(super) new_version: Option<(NewVersion, String)>,
}

/// One destination's upload.
pub(super) struct Step {
    pub(super) target: Target,
    pub(super) key: String,
    /// The older version's location to archive first: (location id, archive key).
    pub(super) archive: Option<(i64, String)>,
}

/// A finished step.
pub(super) struct Done {
    pub(super) target: Target,
    pub(super) bucket: String,
    pub(super) key: String,
    pub(super) put: stowage_store::PutResult,
    pub(super) archive: Option<(i64, String)>,
    /// Found stored already (an upload that finished before a crash, never recorded).
    pub(super) already: bool,
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
pub(super) struct Fresh {
    pub(super) sha256: String,
    pub(super) metrics: VersionMetrics,
}

/// With the file hashed, find or make its version and decide each of `dests`' step (none for
/// a destination already holding this version). With `check_state`, None when the content is
/// what was synced last (only the file state is refreshed).
#[allow(clippy::too_many_arguments)]
pub(super) fn prepare(
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

/// A results file's metrics as the catalog stores them.
pub fn metrics_of(m: crate::metadata::Metrics) -> VersionMetrics {
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
pub(super) fn measure(path: &Path) -> Result<(String, VersionMetrics)> {
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

pub(super) fn hash_file(path: &Path) -> Result<String> {
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

pub(super) async fn upload(
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
pub(super) async fn stored_already(
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

pub(super) fn content_type(file: &str) -> &'static str {
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
pub(super) fn record(
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

pub(super) fn outcome_bucket(d: &Done) -> String {
    d.bucket.clone()
}
