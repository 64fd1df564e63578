//! Project folders: explain (the policy's decision), sync (one pass), watch (the auto-sync
//! engine) and its durable queue.

use std::future::Future;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{org_arg, relative_path, App, AppError, AppEvent, AppResult, Item};
use crate::catalog::Catalog;
use crate::engine::{Engine, Summary};
use crate::policy::{self, Explanation, Policy};
use crate::queue::{self, Counts, Health, Row, State, WatchLock};
use crate::sync::{self, PlannedFile, Problem, SyncReport, Target, Targets};
use crate::watch::{WatchOptions, Watcher};
use crate::{Backend, Config, Profile};

/// The policy's decision for one file.
#[derive(Clone, Debug, Serialize, TS)]
pub struct Explained {
    /// The decision, the rules passed over and why.
    #[serde(flatten)]
    pub explanation: Explanation,
    /// The file as given.
    pub file: PathBuf,
    /// The path the policy matched (relative to the current folder, `/`-separated).
    pub path: String,
    /// Its size (in JSON as the decision's `size`).
    #[serde(skip)]
    #[ts(skip)]
    pub size: u64,
}

/// `explain FILE…`.
#[derive(Debug, Serialize, TS)]
pub struct ExplainResult {
    /// The policy file (None: the built-in defaults).
    pub policy: Option<PathBuf>,
    /// Each file's decision.
    pub files: Vec<Item<Explained>>,
}

impl ExplainResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.files)
    }
}

/// `sync DIR`.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct SyncRequest {
    /// The project folder.
    pub dir: PathBuf,
    /// Organization prefix for keys [default: the profile's, else the policy's].
    #[serde(default)]
    pub org: Option<String>,
    /// Create missing buckets.
    #[serde(default)]
    pub create_bucket: bool,
    /// Plan and check, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What `sync` did (or, in a dry run, would do).
#[derive(Debug, Serialize, TS)]
#[serde(untagged)]
pub enum SyncResult {
    /// The plan, and the problems a real run would meet.
    Planned {
        /// The folder.
        dir: PathBuf,
        /// The organization prefix.
        org: Option<String>,
        /// Every file and what sync would do with it.
        plan: Vec<PlannedFile>,
        /// What the real run would meet.
        problems: Vec<Problem>,
        /// Always true.
        dry_run: bool,
    },
    /// The pass.
    Done {
        /// Per file, with totals.
        sync: SyncReport,
        /// Objects uploaded.
        uploaded: usize,
        /// Always false.
        dry_run: bool,
    },
}

impl SyncResult {
    /// How the action ended: a dry run with fatal problems fails as the real run would.
    pub fn failure(&self) -> Option<AppError> {
        match self {
            SyncResult::Planned { problems, .. } => {
                let first = problems.iter().find(|p| p.fatal)?;
                let fatal = problems.iter().filter(|p| p.fatal).count();
                Some(AppError::usage(format!(
                    "the real run would fail: {fatal} problem(s), the first: {}",
                    first.message
                )))
            }
            SyncResult::Done { sync, .. } => sync.error.as_ref().map(AppError::from),
        }
    }
}

/// `watch [DIR…]`.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct WatchRequest {
    /// Folders to watch, registered as projects [default: every registered project].
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// Stop once the start-up scan is done, nothing waits to settle and the queue is empty.
    #[serde(default)]
    pub exit_when_idle: bool,
    /// With `exit_when_idle`: how long to wait for a provider that is down (`60s`).
    #[serde(default)]
    pub wait_down: Option<String>,
    /// Organization prefix for keys of the folders given.
    #[serde(default)]
    pub org: Option<String>,
}

/// What is being watched, sent before the engine starts.
#[derive(Clone, Debug, Serialize, TS)]
pub struct Watching {
    /// The folders.
    pub roots: Vec<PathBuf>,
    /// The profiles written to: the primary, then the secondary.
    pub profiles: Vec<String>,
    /// The bucket.
    pub bucket: String,
    /// How long a file must be quiet before it is uploaded.
    #[ts(type = "number")]
    pub settle_ms: u64,
    /// Rows queued or running when it started.
    #[ts(type = "number")]
    pub pending: u64,
}

/// How `watch` ended.
#[derive(Clone, Debug, Serialize, TS)]
pub struct WatchResult {
    /// The run's totals.
    pub watch: Summary,
}

impl WatchResult {
    /// How the action ended: transfers that failed for good, or uploads left waiting on a
    /// provider that is down (exit 9), or interrupted.
    pub fn failure(&self) -> Option<AppError> {
        let s = &self.watch;
        if s.interrupted {
            return Some(AppError::cancelled(
                "stopped: transfers in flight go back to the queue; `stowage watch` resumes them",
            ));
        }
        if s.failed_in_queue > 0 {
            return Some(AppError::from(
                stowage_store::Error::new(
                    stowage_store::ErrorKind::Other,
                    "queue",
                    format!(
                        "{} transfers failed for good ({} of them in this run)",
                        s.failed_in_queue, s.failed
                    ),
                )
                .hint(
                    "see `stowage queue ls --state failed`, fix the cause, then \
                     `stowage queue retry --all-failed`",
                ),
            ));
        }
        if !s.waiting.is_empty() {
            return Some(AppError::waiting(
                s.waiting
                    .iter()
                    .map(|(profile, n)| {
                        format!(
                            "{n} upload(s) for `{profile}`, which does not answer; the next \
                             `stowage watch` or `stowage sync` uploads them when it is back"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ));
        }
        None
    }
}

/// `queue ls`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct QueueList {
    /// The rows, newest first.
    pub rows: Vec<Row>,
    /// Rows per state.
    pub counts: Counts,
    /// Each provider's health.
    pub health: Vec<Health>,
}

/// `queue retry` / `queue cancel`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct QueueChange {
    /// Rows queued again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried: Option<usize>,
    /// The row retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<Row>,
    /// The row cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Row>,
    /// Whether this was only planned.
    pub dry_run: bool,
}

impl App {
    /// The organization sync and watch key folders under: `flag`, else the organization the
    /// primary profile is bound to, else the policy's `org`. A profile bound to an
    /// organization can write only under it, so another organization (by flag or policy) is
    /// refused up front instead of failing every upload.
    pub(super) fn sync_org(
        &self,
        config: &Config,
        policy: &Policy,
        flag: Option<&str>,
    ) -> AppResult<Option<String>> {
        let flag = org_arg(flag)?;
        let primary = self.primary(config)?;
        let Some(bound) = &primary.org else {
            return Ok(flag.or_else(|| policy.org.clone()));
        };
        let (other, source) = match (&flag, &policy.org) {
            (Some(f), _) => (f, "--org"),
            (None, Some(p)) => (p, "policy.toml's `org`"),
            (None, None) => return Ok(Some(bound.clone())),
        };
        if other != bound {
            return Err(AppError::usage(format!(
                "{source} names organization `{other}`, but profile `{}` is bound to \
                 organization `{bound}` and can write only under `{bound}/`; drop {source} \
                 (sync then uses `{bound}`), or pick a profile bound to `{other}` with --profile",
                primary.name
            )));
        }
        Ok(Some(bound.clone()))
    }

    /// The stores sync writes to: the primary, plus `[sync] secondary`.
    async fn sync_targets(&self, config: &Config, create_bucket: bool) -> AppResult<Targets> {
        let primary = self.primary(config)?;
        let target = |p: &Profile| {
            let p = p.clone();
            async move {
                Ok::<_, AppError>(Target {
                    store: self.store(&p).await?,
                    create_bucket: create_bucket || matches!(p.backend, Backend::Local(_)),
                    profile: p.name,
                })
            }
        };
        let secondary = match &config.sync.secondary {
            Some(s) if *s != primary.name => {
                Some(target(config.select(Some(s.as_str()), None)?.0).await?)
            }
            _ => None,
        };
        Ok(Targets {
            primary: target(primary).await?,
            secondary,
            bucket: config.sync.bucket.clone(),
        })
    }

    /// `explain FILE…`: the policy's decision for each file, with the rules it passed over.
    pub fn explain(&self, files: &[PathBuf], org: Option<&str>) -> AppResult<ExplainResult> {
        let policy = self.policy()?;
        let org = org
            .map(policy::validate_org)
            .transpose()
            .map_err(|m| AppError::usage(format!("--org: {m}")))?;
        let cwd = std::env::current_dir()
            .map_err(|e| AppError::usage(format!("cannot read the current folder: {e}")))?;
        let one = |file: &PathBuf| -> AppResult<Explained> {
            let size = match std::fs::metadata(file) {
                Ok(m) if m.is_dir() => {
                    return Err(AppError::usage(format!(
                        "{} is a folder; explain takes files (try `{}/*`)",
                        file.display(),
                        file.display()
                    )))
                }
                Ok(m) => m.len(),
                Err(e) => {
                    let kind = if e.kind() == std::io::ErrorKind::NotFound {
                        stowage_store::ErrorKind::NotFound
                    } else {
                        stowage_store::ErrorKind::Other
                    };
                    return Err(crate::Error::from(
                        stowage_store::Error::new(kind, "local file", e.to_string())
                            .hint("check the path"),
                    )
                    .with_file(file)
                    .into());
                }
            };
            let path = relative_path(&cwd, file);
            Ok(Explained {
                explanation: policy.explain(&path, size, org.as_deref()),
                file: file.clone(),
                path,
                size,
            })
        };
        Ok(ExplainResult {
            policy: policy.source.clone(),
            files: files.iter().map(|f| Item(one(f))).collect(),
        })
    }

    /// `sync DIR`: one pass over a project folder by policy. A dry run plans and checks what
    /// can be checked without writing (buckets, key rules, org scope), and writes nothing.
    pub async fn sync(&self, r: SyncRequest) -> AppResult<SyncResult> {
        self.run("sync", |op| async move {
            let config = self.config()?;
            let policy = self.policy()?;
            let org = self.sync_org(&config, &policy, r.org.as_deref())?;
            let catalog = self.catalog(r.dry_run)?;
            let plan = sync::plan(&r.dir, &policy, &catalog, org.as_deref())?;
            if r.dry_run {
                let mut targets = self.sync_targets(&config, false).await?;
                targets.primary.create_bucket |= r.create_bucket;
                let problems = sync::check(&plan, &targets).await;
                return Ok(SyncResult::Planned {
                    dir: plan.dir,
                    org: plan.org,
                    plan: plan.files,
                    problems,
                    dry_run: true,
                });
            }
            let targets = self.sync_targets(&config, r.create_bucket).await?;
            let tracked = plan
                .files
                .iter()
                .enumerate()
                .map(|(i, f)| crate::events::Tracked {
                    id: i as i64,
                    path: PathBuf::from(&f.file),
                    profile: targets.primary.profile.clone(),
                    bucket: targets.bucket.clone(),
                    key: f.key.clone().unwrap_or_default(),
                    size: f.size,
                })
                .collect();
            let report = sync::run(&plan, &catalog, &targets, op.progress(tracked)).await?;
            Ok(SyncResult::Done {
                uploaded: report.uploaded,
                sync: report,
                dry_run: false,
            })
        })
        .await
    }

    /// `watch [DIR…]`: the auto-sync engine until `shutdown` completes, the operation is
    /// cancelled, or (with `exit_when_idle`) nothing is left to do. `started` is told what
    /// is watched before the first event.
    pub async fn watch(
        &self,
        r: WatchRequest,
        started: impl FnOnce(&Watching),
        shutdown: impl Future<Output = ()>,
    ) -> AppResult<WatchResult> {
        let result = self.watch_inner(r, started, shutdown).await;
        *self.watch_failed.lock().expect("watch state") = result.as_ref().err().cloned();
        result
    }

    async fn watch_inner(
        &self,
        r: WatchRequest,
        started: impl FnOnce(&Watching),
        shutdown: impl Future<Output = ()>,
    ) -> AppResult<WatchResult> {
        let op = self.begin("watch");
        let config = self.config()?;
        let policy = self.policy()?;
        let org = self.sync_org(&config, &policy, r.org.as_deref())?;
        let catalog = Catalog::open(&self.paths)?;
        let _lock = WatchLock::acquire(&self.paths.data_dir)?;
        let mut roots = Vec::new();
        for d in &r.dirs {
            let dir = std::fs::canonicalize(d).map_err(|e| {
                AppError::usage(format!(
                    "{}: cannot watch it ({e}); pass an existing project folder such as \
                     `.beast-mode`",
                    d.display()
                ))
            })?;
            if !dir.is_dir() {
                return Err(AppError::usage(format!(
                    "{}: is not a folder; pass the project folder to watch, e.g. `.beast-mode`",
                    dir.display()
                )));
            }
            catalog.register_folder(&dir, org.as_deref().or(policy.org.as_deref()))?;
            roots.push(dir);
        }
        if roots.is_empty() {
            roots = crate::watch::default_roots(&catalog)?;
            if roots.is_empty() {
                return Err(AppError::usage(
                    "no project folder is registered to watch; pass one: `stowage watch \
                     .beast-mode`",
                ));
            }
        }
        let mut watch_config = config.watch.clone();
        watch_config.down_grace =
            crate::parse_duration_or_zero(r.wait_down.as_deref().unwrap_or("60s"))?;
        let targets = self.sync_targets(&config, false).await?;
        let options = WatchOptions {
            roots: roots.clone(),
            settle: config.watch.settle,
            ignore: Vec::new(),
        };
        let (watcher, rx) = tokio::task::spawn_blocking(move || Watcher::start(options))
            .await
            .map_err(|e| AppError::usage(format!("the watcher did not start: {e}")))??;
        let initial = queue::counts(&catalog)?;
        let watching = Watching {
            roots,
            profiles: std::iter::once(targets.primary.profile.clone())
                .chain(targets.secondary.as_ref().map(|s| s.profile.clone()))
                .collect(),
            bucket: targets.bucket.clone(),
            settle_ms: config.watch.settle.as_millis() as u64,
            pending: initial.queued + initial.running,
        };
        started(&watching);
        let _shown = self.watching_now(op.id, watching);
        // With a team database, the watch also pushes and pulls now and then.
        let _team = crate::team::target(&config)
            .ok()
            .flatten()
            .map(|t| super::team::team_ticker(self.paths.clone(), t));
        let engine = Engine::new(catalog, policy, targets, watch_config);
        // The engine's events join the app's stream under this operation's id.
        let mut events = engine.events().subscribe();
        let (tx, id) = (self.events.clone(), op.id);
        let forward = tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let _ = tx.send(AppEvent { op: id, event });
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
        });
        let settling = || watcher.settling();
        let idle: Option<&(dyn Fn() -> usize + Sync)> = if r.exit_when_idle {
            Some(&settling)
        } else {
            None
        };
        let token = op.token.clone();
        let stop = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = token.cancelled() => {}
            }
        };
        let result = engine.run(rx, idle, stop).await;
        drop(watcher);
        // The engine (and its sender) is gone: the forwarder drains what is left and ends.
        let _ = forward.await;
        let watch = result?;
        op.emit(crate::events::Event::Ended {
            ok: !watch.interrupted && watch.failed_in_queue == 0 && watch.waiting.is_empty(),
            error: None,
            at_ns: crate::events::Event::now(),
        });
        Ok(WatchResult { watch })
    }

    /// `queue ls`: rows (newest first) in `states` (every state when empty), the counts per
    /// state and each provider's health.
    pub fn queue(&self, states: &[String], limit: u64) -> AppResult<QueueList> {
        let catalog = Catalog::open(&self.paths)?;
        let states = states
            .iter()
            .map(|s| parse_state(s))
            .collect::<AppResult<Vec<State>>>()?;
        Ok(QueueList {
            rows: queue::list(&catalog, &states, Some(limit))?,
            counts: queue::counts(&catalog)?,
            health: queue::health(&catalog)?,
        })
    }

    /// `queue retry ID` (or every failed row, with `id` None): queue it again.
    pub fn queue_retry(&self, id: Option<i64>, dry_run: bool) -> AppResult<QueueChange> {
        let catalog = Catalog::open(&self.paths)?;
        let (retried, row) = match (id, dry_run) {
            (Some(id), true) => (Some(1), Some(queue::get(&catalog, id)?)),
            (None, true) => (Some(queue::counts(&catalog)?.failed as usize), None),
            (Some(id), false) => (Some(1), Some(queue::retry(&catalog, id)?)),
            (None, false) => (Some(queue::retry_all_failed(&catalog)?), None),
        };
        Ok(QueueChange {
            retried,
            row,
            cancelled: None,
            dry_run,
        })
    }

    /// `queue cancel ID`: drop a queued or failed row.
    pub fn queue_cancel(&self, id: i64, dry_run: bool) -> AppResult<QueueChange> {
        let catalog = Catalog::open(&self.paths)?;
        let (row, cancelled) = if dry_run {
            (Some(queue::get(&catalog, id)?), None)
        } else {
            (None, Some(queue::cancel(&catalog, id)?))
        };
        Ok(QueueChange {
            retried: None,
            row,
            cancelled,
            dry_run,
        })
    }
}

fn parse_state(s: &str) -> AppResult<State> {
    Ok(match s {
        "queued" => State::Queued,
        "running" => State::Running,
        "done" => State::Done,
        "failed" => State::Failed,
        "cancelled" => State::Cancelled,
        "superseded" => State::Superseded,
        _ => {
            return Err(AppError::usage(format!(
                "--state `{s}`: use queued, running, done, failed, cancelled or superseded"
            )))
        }
    })
}
