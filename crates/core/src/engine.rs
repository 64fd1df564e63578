//! The auto-sync engine (M7, M8): whatever settles in a watched folder ends up, verified,
//! where the policy says, across crashes and outages.
//!
//! The watcher ([`crate::watch`]) reports files that stopped changing; the engine classifies
//! each by policy ([`sync::plan_file`], the same classification as `stowage sync`), skips what
//! the catalog's file state says is unchanged, and writes one queue row per transfer (the
//! primary copy, and the secondary copy of primary+secondary rules) before any byte moves.
//! Workers claim rows with bounded concurrency and run each through [`sync::run_target`], the
//! same hash/version/compress/upload/record path as one-shot sync; a row is marked done in the
//! transaction that records its upload. A killed process leaves rows `running`: the next start
//! puts them back, and an upload that finished but was not recorded is recognised by its
//! SHA-256 at the key, recorded, and neither sent nor archived again.
//!
//! Errors: an unreachable provider (`Unavailable`) pauses that profile's rows (without using
//! up their attempts) and is probed with backoff until it answers; other transient errors are
//! retried with exponential backoff and jitter up to `max_attempts`; permanent ones (refused
//! credentials, invalid keys, too large) fail the row with their message. A secondary copy's
//! failure never fails the primary's: it is its own row, retried until it catches up.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use stowage_store::{BucketOptions, ErrorKind};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::catalog::Catalog;
use crate::config::WatchConfig;
use crate::error::{Error, Result};
use crate::events::{Event, Events};
use crate::policy::{Destination, Policy};
use crate::queue::{self, Enqueued, NewRow, Role, Row};
use crate::sync::{self, Action, Target, TargetOutcome, Targets};
use crate::transfer::ProgressFn;
use crate::units::now_ns;
use crate::watch::WatchEvent;

/// What a run of the engine did.
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct Summary {
    /// Rows a killed or stopped process had left running, put back at start.
    pub reclaimed: usize,
    /// Rows done in this run.
    pub done: u64,
    /// Rows failed for good in this run.
    pub failed: u64,
    /// Failed rows in the whole queue when the run ended.
    pub failed_in_queue: u64,
    /// Stopped by the caller (Ctrl-C) rather than by going idle.
    pub interrupted: bool,
    /// When it went idle with work left only on providers that are down: per profile, the
    /// rows that wait for it.
    pub waiting: Vec<(String, u64)>,
}

/// A provider's health, tracked while the engine runs.
#[derive(Clone, Debug)]
struct Health {
    up: bool,
    since: Instant,
    delay: Duration,
    next_probe: Instant,
    probing: bool,
    /// `Unavailable` answers since its last completed transfer: a provider that answers
    /// probes but fails transfers (a full disk) backs off instead of spinning.
    failures: u32,
}

struct Shared {
    catalog: Arc<Mutex<Catalog>>,
    policy: Policy,
    targets: Targets,
    events: Events,
}

impl Shared {
    fn catalog(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn target(&self, row: &Row) -> Option<&Target> {
        match row.role {
            Role::Primary => Some(&self.targets.primary),
            Role::Secondary => self.targets.secondary.as_ref(),
        }
        .filter(|t| t.profile == row.profile)
    }
}

/// What a worker made of its row.
enum Outcome {
    Done(Box<TargetOutcome>),
    Superseded(String),
    Error(Error),
}

/// The auto-sync engine over one catalog and one pair of targets.
pub struct Engine {
    shared: Arc<Shared>,
    config: WatchConfig,
}

impl Engine {
    /// An engine writing to `targets` by `policy`, recording in `catalog`.
    pub fn new(catalog: Catalog, policy: Policy, targets: Targets, config: WatchConfig) -> Engine {
        Engine {
            shared: Arc::new(Shared {
                catalog: Arc::new(Mutex::new(catalog)),
                policy,
                targets,
                events: Events::new(),
            }),
            config,
        }
    }

    /// The event stream (subscribe before [`Engine::run`] to see every event).
    pub fn events(&self) -> Events {
        self.shared.events.clone()
    }

    /// Consume the watcher's events until `shutdown` completes (in-flight rows go back to the
    /// queue) or, given `exit_when_idle` (which tells how many files wait to settle, e.g.
    /// [`crate::watch::Watcher::settling`]), once the start-up scan is planned, no file waits
    /// to settle, nothing is queued or in flight and the watcher has been quiet a moment.
    pub async fn run(
        self,
        mut watch: mpsc::Receiver<WatchEvent>,
        exit_when_idle: Option<&(dyn Fn() -> usize + Sync)>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Summary> {
        let shared = self.shared.clone();
        let config = self.config.clone();
        let mut summary = Summary {
            reclaimed: queue::reclaim_running(&shared.catalog())?,
            ..Default::default()
        };
        for t in std::iter::once(&shared.targets.primary).chain(&shared.targets.secondary) {
            if t.create_bucket {
                // A local folder store: the bucket is made on first use; a failure shows on
                // each row instead.
                let _ = t
                    .store
                    .create_bucket(&shared.targets.bucket, &BucketOptions::default())
                    .await;
            }
        }
        let orgs: Vec<(PathBuf, Option<String>)> = shared.catalog().folders()?;
        let mut health: HashMap<String, Health> = HashMap::new();
        let mut workers: JoinSet<(Row, Outcome)> = JoinSet::new();
        let mut probes: JoinSet<(String, std::result::Result<(), Error>)> = JoinSet::new();
        let mut watching = true;
        let mut scan_done = false;
        let mut last_watch = Instant::now();
        let quiet = Duration::from_millis(300);
        tokio::pin!(shutdown);
        loop {
            // Start what is due, on providers that answer.
            let paused: Vec<String> = health
                .iter()
                .filter(|(_, h)| !h.up)
                .map(|(p, _)| p.clone())
                .collect();
            let free = config.concurrency.saturating_sub(workers.len());
            if free > 0 {
                let rows = queue::claim(&shared.catalog(), free, &paused)?;
                for row in rows {
                    shared.events.send(Event::Started {
                        id: row.id,
                        path: row.path.clone(),
                        profile: row.profile.clone(),
                        bucket: row.bucket.clone(),
                        key: row.key.clone(),
                        size: row.size,
                        attempt: row.attempts + 1,
                        at_ns: now_ns(),
                    });
                    let s = shared.clone();
                    workers.spawn(async move {
                        let outcome = work(&s, &row).await;
                        (row, outcome)
                    });
                }
            }
            // Probe providers that are down, with backoff.
            let now = Instant::now();
            for (profile, h) in health.iter_mut() {
                if !h.up && !h.probing && h.next_probe <= now {
                    h.probing = true;
                    let store = [&shared.targets.primary]
                        .into_iter()
                        .chain(&shared.targets.secondary)
                        .find(|t| t.profile == *profile)
                        .map(|t| t.store.clone());
                    let profile = profile.clone();
                    probes.spawn(async move {
                        let r = match store {
                            Some(s) => s.list_buckets().await.map(|_| ()).map_err(Error::from),
                            None => Ok(()),
                        };
                        (profile, r)
                    });
                }
            }
            let settled = exit_when_idle.is_some_and(|settling| settling() == 0);
            if workers.is_empty()
                && settled
                && (scan_done || !watching)
                && last_watch.elapsed() >= quiet
            {
                let counts = queue::counts(&shared.catalog())?;
                // Work queued only for providers down longer than the grace waits for them:
                // idle too, reported as waiting (a later `sync` or `watch` uploads it).
                let given_up = !paused.is_empty()
                    && paused.iter().all(|p| {
                        health
                            .get(p)
                            .is_some_and(|h| h.since.elapsed() >= config.down_grace)
                    });
                let waiting = if counts.queued > 0 && counts.running == 0 && given_up {
                    let by_profile = queue::queued_by_profile(&shared.catalog())?;
                    if by_profile.iter().all(|(p, _)| paused.contains(p)) {
                        by_profile
                    } else {
                        Vec::new()
                    }
                } else {
                    Vec::new()
                };
                if (counts.queued == 0 || !waiting.is_empty()) && counts.running == 0 {
                    summary.waiting = waiting;
                    summary.failed_in_queue = counts.failed;
                    shared.events.send(Event::Idle {
                        done: summary.done,
                        failed: summary.failed,
                        at_ns: now_ns(),
                    });
                    break;
                }
            }
            let wake = next_wake(
                &shared,
                &health,
                &paused,
                &workers,
                config.concurrency,
                quiet,
                last_watch,
            )?;
            tokio::select! {
                _ = &mut shutdown => {
                    summary.interrupted = true;
                    break;
                }
                ev = watch.recv(), if watching => match ev {
                    None => watching = false,
                    Some(first) => {
                        last_watch = Instant::now();
                        let mut batch = vec![first];
                        while batch.len() < 1024 {
                            match watch.try_recv() {
                                Ok(e) => batch.push(e),
                                Err(_) => break,
                            }
                        }
                        for e in &batch {
                            if matches!(e, WatchEvent::ScanDone) {
                                scan_done = true;
                            }
                        }
                        summary.failed += plan_events(&shared, &orgs, batch).await?;
                    }
                },
                Some(joined) = workers.join_next(), if !workers.is_empty() => {
                    let (row, outcome) = match joined {
                        Ok(r) => r,
                        Err(e) => return Err(Error::Usage(format!("a sync worker stopped: {e}"))),
                    };
                    settle_row(&shared, &config, &mut health, &mut summary, row, outcome)?;
                }
                Some(joined) = probes.join_next(), if !probes.is_empty() => {
                    if let Ok((profile, r)) = joined {
                        probed(&shared, &config, &mut health, profile, r)?;
                    }
                }
                _ = tokio::time::sleep(wake) => {}
            }
        }
        if summary.interrupted {
            // In-flight uploads stop here; their rows go back to the queue and resume later.
            workers.abort_all();
            while workers.join_next().await.is_some() {}
            queue::reclaim_running(&shared.catalog())?;
            summary.failed_in_queue = queue::counts(&shared.catalog())?.failed;
        }
        Ok(summary)
    }
}

/// How long the loop may sleep: until the next row is due, a probe is due, or (when idle
/// exit is near) the watcher's quiet time ends; at most a second.
fn next_wake(
    shared: &Shared,
    health: &HashMap<String, Health>,
    paused: &[String],
    workers: &JoinSet<(Row, Outcome)>,
    concurrency: usize,
    quiet: Duration,
    last_watch: Instant,
) -> Result<Duration> {
    let mut wake = Duration::from_secs(1);
    let now = Instant::now();
    for h in health.values().filter(|h| !h.up && !h.probing) {
        wake = wake.min(h.next_probe.saturating_duration_since(now));
    }
    // Only until the quiet time has passed: an idle watcher must not spin.
    let quiet_left = (last_watch + quiet).saturating_duration_since(now);
    if !quiet_left.is_zero() {
        wake = wake.min(quiet_left.max(Duration::from_millis(20)));
    }
    // Rows due already but not claimed wait for a running row of their file (a worker's end
    // wakes the loop); only rows due later need a timer. A full set of workers needs none.
    if workers.len() < concurrency {
        if let Some(at) = queue::next_due(&shared.catalog(), paused)? {
            let ns = at - now_ns();
            if ns > 0 {
                wake = wake.min(Duration::from_nanos(ns as u64));
            }
        }
    }
    Ok(wake.max(Duration::from_millis(5)))
}

/// Plan a batch of watcher events: queue rows for files that changed, version local-only ones.
/// Returns how many files could not be planned at all (each a failed row).
async fn plan_events(
    shared: &Shared,
    orgs: &[(PathBuf, Option<String>)],
    batch: Vec<WatchEvent>,
) -> Result<u64> {
    let mut failures = 0;
    let mut rows: Vec<NewRow> = Vec::new();
    let mut locals = Vec::new();
    {
        let c = shared.catalog();
        for e in batch {
            let (root, path) = match e {
                WatchEvent::Stable { root, path, .. } => (root, path),
                WatchEvent::Renamed { root, to, .. } => (root, to),
                WatchEvent::Removed { .. } => continue,
                WatchEvent::Problem { path, error } => {
                    shared.events.send(Event::Problem {
                        path,
                        error: error.to_string(),
                        at_ns: now_ns(),
                    });
                    continue;
                }
                WatchEvent::ScanDone => {
                    shared.events.send(Event::ScanDone { at_ns: now_ns() });
                    continue;
                }
            };
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue; // gone again: nothing to sync
            };
            if !meta.is_file() {
                continue;
            }
            let Some(rel) = relative(&root, &path) else {
                continue;
            };
            let org = org_for(orgs, &root).or_else(|| shared.policy.org.clone());
            let state = c.file_state(&path.to_string_lossy())?;
            let f = match sync::plan_file(
                path.clone(),
                rel,
                &meta,
                &shared.policy,
                state.as_ref(),
                org.as_deref(),
            ) {
                Ok(f) => f,
                Err(e) => {
                    failures +=
                        fail_unplanned(shared, &c, &root, &path, &meta, org.clone(), None, e)?;
                    continue;
                }
            };
            match f.action {
                Action::Unchanged | Action::Never => {}
                Action::Refused => {
                    let e = Error::Usage(format!(
                        "{}: {}",
                        path.display(),
                        f.error.clone().unwrap_or_default()
                    ));
                    failures +=
                        fail_unplanned(shared, &c, &root, &path, &meta, org, f.key.clone(), e)?;
                }
                Action::Local => locals.push((f, org)),
                Action::Upload => {
                    let key = f.key.clone().expect("uploads have a key");
                    let mut targets = vec![(Role::Primary, &shared.targets.primary)];
                    if f.destination == Destination::PrimaryAndSecondary {
                        if let Some(s) = &shared.targets.secondary {
                            targets.push((Role::Secondary, s));
                        }
                    }
                    for (role, t) in targets {
                        rows.push(NewRow {
                            path: path.clone(),
                            dir: root.clone(),
                            org: org.clone(),
                            role,
                            profile: t.profile.clone(),
                            bucket: shared.targets.bucket.clone(),
                            key: key.clone(),
                            size: f.size,
                            mtime_ns: f.mtime_ns(),
                        });
                    }
                }
            }
        }
        // Written before any byte moves: a crash from here on loses no planned transfer.
        let planned = queue::enqueue(&c, &rows)?;
        for (n, e) in rows.iter().zip(planned) {
            let id = match e {
                Enqueued::New(id) | Enqueued::Updated(id) => id,
                Enqueued::Present(_) => continue,
            };
            shared.events.send(Event::Queued {
                id,
                path: n.path.clone(),
                role: n.role.as_str(),
                profile: n.profile.clone(),
                bucket: n.bucket.clone(),
                key: n.key.clone(),
                size: n.size,
                at_ns: now_ns(),
            });
        }
    }
    // Files that stay local are only versioned in the catalog.
    for (f, org) in locals {
        let target = shared.targets.primary.clone();
        match sync::run_target(
            &shared.catalog,
            org.as_deref(),
            &f,
            &target,
            &shared.targets.bucket,
            None,
            |_, _| Ok(()),
        )
        .await
        {
            Ok(o) => shared.events.send(Event::Recorded {
                path: f.path.clone(),
                version: o.version,
                at_ns: now_ns(),
            }),
            Err(e) => shared.events.send(Event::Problem {
                path: f.path.clone(),
                error: e.to_string(),
                at_ns: now_ns(),
            }),
        }
    }
    Ok(failures)
}

/// A file that cannot be planned (refused by policy, unreadable): a failed row, once per
/// content, and an event; 1 when a row was added.
#[allow(clippy::too_many_arguments)]
fn fail_unplanned(
    shared: &Shared,
    c: &Catalog,
    root: &Path,
    path: &Path,
    meta: &std::fs::Metadata,
    org: Option<String>,
    key: Option<String>,
    e: Error,
) -> Result<u64> {
    let mtime = sync::file_mtime_ns(meta);
    if queue::failed_for(c, path, meta.len(), mtime)? {
        return Ok(0);
    }
    let n = NewRow {
        path: path.to_path_buf(),
        dir: root.to_path_buf(),
        org,
        role: Role::Primary,
        profile: shared.targets.primary.profile.clone(),
        bucket: shared.targets.bucket.clone(),
        key: key.unwrap_or_default(),
        size: meta.len(),
        mtime_ns: mtime,
    };
    let id = queue::insert_failed(c, &n, &e)?;
    shared.events.send(Event::Failed {
        id: Some(id),
        path: n.path,
        profile: n.profile,
        bucket: n.bucket,
        key: n.key,
        error: e.to_string(),
        kind: queue::kind_name(&e),
        attempt: 1,
        at_ns: now_ns(),
    });
    Ok(1)
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The organization registered for `root` or the nearest folder above it.
fn org_for(orgs: &[(PathBuf, Option<String>)], root: &Path) -> Option<String> {
    orgs.iter()
        .filter(|(p, _)| root.starts_with(p))
        .max_by_key(|(p, _)| p.as_os_str().len())
        .and_then(|(_, o)| o.clone())
}

/// One worker's row: check the file is still the one planned, then run it to its target.
async fn work(shared: &Shared, row: &Row) -> Outcome {
    let meta = match std::fs::symlink_metadata(&row.path) {
        Ok(m) if m.is_file() => m,
        _ => return Outcome::Superseded("the file is gone".into()),
    };
    if meta.len() != row.size || sync::file_mtime_ns(&meta) != row.mtime_ns {
        return Outcome::Superseded("the file changed; its new content is planned anew".into());
    }
    let Some(target) = shared.target(row) else {
        return Outcome::Error(Error::Config(format!(
            "queue row {} is for profile `{}`, which `stowage watch` no longer uploads to \
             (see [sync] in config.toml); cancel it with `stowage queue cancel {}`",
            row.id, row.profile, row.id
        )));
    };
    let Some(rel) = relative(&row.dir, &row.path) else {
        return Outcome::Superseded("the file is outside its watched folder".into());
    };
    let f = match sync::plan_file(
        row.path.clone(),
        rel,
        &meta,
        &shared.policy,
        None,
        row.org.as_deref(),
    ) {
        Ok(f) => f,
        Err(e) => return Outcome::Error(e),
    };
    if f.action != Action::Upload {
        return Outcome::Superseded(format!(
            "the policy no longer uploads it ({})",
            f.destination
        ));
    }
    let progress = progress_events(shared.events.clone(), row);
    let id = row.id;
    match sync::run_target(
        &shared.catalog,
        row.org.as_deref(),
        &f,
        target,
        &shared.targets.bucket,
        Some(progress),
        |c, o| queue::finish(c, id, &o.sha256, Some(&o.version)),
    )
    .await
    {
        Ok(o) => Outcome::Done(Box::new(o)),
        Err(e) => Outcome::Error(e),
    }
}

/// Progress events for a row (see [`crate::events::progress_fn`]).
fn progress_events(events: Events, row: &Row) -> ProgressFn {
    let item = crate::events::Tracked {
        id: row.id,
        path: row.path.clone(),
        profile: row.profile.clone(),
        bucket: row.bucket.clone(),
        key: row.key.clone(),
        size: row.size,
    };
    crate::events::progress_fn(Arc::new(move |e| events.send(e)), vec![item], false)
}

/// Whether an error may go away by itself (so the row is retried).
fn transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        Some(ErrorKind::Unavailable | ErrorKind::Integrity | ErrorKind::Other)
    )
}

/// The delay before retry `attempt` (1-based): `base × 2^(attempt-1)`, at most `max`, then
/// between half and all of it (jitter, so rows failed together do not return together).
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max);
    let seed = now_ns() as u64 ^ (u64::from(attempt) << 32);
    let mut x = seed | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let frac = 0.5 + (x % 1000) as f64 / 2000.0;
    exp.mul_f64(frac)
}

/// Record what a worker made of its row, retrying or failing it, and track provider health.
fn settle_row(
    shared: &Shared,
    config: &WatchConfig,
    health: &mut HashMap<String, Health>,
    summary: &mut Summary,
    row: Row,
    outcome: Outcome,
) -> Result<()> {
    match outcome {
        Outcome::Done(o) => {
            summary.done += 1;
            if let Some(h) = health.get_mut(&row.profile) {
                h.failures = 0;
            }
            mark_up(shared, health, &row.profile)?;
            let (stored_size, sha256) = o
                .upload
                .as_ref()
                .map_or((0, o.sha256.clone()), |u| (u.size, u.sha256.clone()));
            shared.events.send(Event::Verified {
                id: row.id,
                path: row.path,
                profile: row.profile,
                bucket: row.bucket,
                key: o.upload.as_ref().map_or(row.key, |u| u.key.clone()),
                size: row.size,
                stored_size,
                sha256,
                version: o.version,
                resumed_from: o.resumed_from,
                already_stored: o.already_stored,
                at_ns: now_ns(),
            });
        }
        Outcome::Superseded(reason) => {
            queue::supersede(&shared.catalog(), row.id, &reason)?;
            shared.events.send(Event::Superseded {
                id: row.id,
                path: row.path,
                reason,
                at_ns: now_ns(),
            });
        }
        Outcome::Error(e) => {
            let c = shared.catalog();
            let changed = std::fs::symlink_metadata(&row.path)
                .map(|m| m.len() != row.size || sync::file_mtime_ns(&m) != row.mtime_ns)
                .unwrap_or(true);
            if changed && matches!(e.kind(), Some(ErrorKind::Conflict | ErrorKind::NotFound)) {
                let reason = format!("the file changed while it was uploaded: {e}");
                queue::supersede(&c, row.id, &reason)?;
                shared.events.send(Event::Superseded {
                    id: row.id,
                    path: row.path,
                    reason,
                    at_ns: now_ns(),
                });
            } else if e.kind() == Some(&ErrorKind::Unavailable) {
                // The provider is down: its rows wait for it, attempts untouched.
                drop(c);
                let (delay, down) = mark_down(shared, config, health, &row.profile, &e)?;
                let next = now_ns() + delay.as_nanos() as i64;
                queue::retry_later(&shared.catalog(), row.id, &e, next, false)?;
                // Told after the row is back in the queue, so what the event says is on disk.
                if let Some(down) = down {
                    shared.events.send(down);
                }
                shared.events.send(Event::Retried {
                    id: row.id,
                    path: row.path,
                    profile: row.profile,
                    error: e.to_string(),
                    attempt: row.attempts,
                    retry_in_ms: delay.as_millis() as u64,
                    at_ns: now_ns(),
                });
            } else if transient(&e) && row.attempts + 1 < config.max_attempts {
                let delay = backoff(row.attempts + 1, config.retry_base, config.retry_max);
                queue::retry_later(&c, row.id, &e, now_ns() + delay.as_nanos() as i64, true)?;
                shared.events.send(Event::Retried {
                    id: row.id,
                    path: row.path,
                    profile: row.profile,
                    error: e.to_string(),
                    attempt: row.attempts + 1,
                    retry_in_ms: delay.as_millis() as u64,
                    at_ns: now_ns(),
                });
            } else {
                queue::fail(&c, row.id, &e)?;
                summary.failed += 1;
                shared.events.send(Event::Failed {
                    id: Some(row.id),
                    path: row.path,
                    profile: row.profile,
                    bucket: row.bucket,
                    key: row.key,
                    error: e.to_string(),
                    kind: queue::kind_name(&e),
                    attempt: row.attempts + 1,
                    at_ns: now_ns(),
                });
            }
        }
    }
    Ok(())
}

fn mark_down(
    shared: &Shared,
    config: &WatchConfig,
    health: &mut HashMap<String, Health>,
    profile: &str,
    e: &Error,
) -> Result<(Duration, Option<Event>)> {
    let now = Instant::now();
    let h = health.entry(profile.to_string()).or_insert(Health {
        up: true,
        since: now,
        delay: Duration::ZERO,
        next_probe: now,
        probing: false,
        failures: 0,
    });
    h.failures += 1;
    let delay = backoff(
        h.failures,
        config.retry_base.min(Duration::from_millis(500)),
        config.retry_max,
    );
    let mut event = None;
    if h.up {
        h.up = false;
        h.since = now;
        h.delay = delay;
        h.next_probe = now + h.delay;
        queue::set_health(&shared.catalog(), profile, false, Some(&e.to_string()))?;
        event = Some(Event::ProviderDown {
            profile: profile.to_string(),
            error: e.to_string(),
            at_ns: now_ns(),
        });
    }
    Ok((delay, event))
}

fn mark_up(shared: &Shared, health: &mut HashMap<String, Health>, profile: &str) -> Result<()> {
    match health.get_mut(profile) {
        Some(h) if !h.up => {
            h.up = true;
            let down = h.since.elapsed();
            h.since = Instant::now();
            queue::set_health(&shared.catalog(), profile, true, None)?;
            shared.events.send(Event::ProviderUp {
                profile: profile.to_string(),
                down_ms: down.as_millis() as u64,
                at_ns: now_ns(),
            });
        }
        Some(_) => {}
        None => {
            let now = Instant::now();
            health.insert(
                profile.to_string(),
                Health {
                    up: true,
                    since: now,
                    delay: Duration::ZERO,
                    next_probe: now,
                    probing: false,
                    failures: 0,
                },
            );
            queue::set_health(&shared.catalog(), profile, true, None)?;
        }
    }
    Ok(())
}

/// A probe's answer: anything but `Unavailable` means the provider answers again.
fn probed(
    shared: &Shared,
    config: &WatchConfig,
    health: &mut HashMap<String, Health>,
    profile: String,
    r: std::result::Result<(), Error>,
) -> Result<()> {
    match r {
        Err(e) if e.kind() == Some(&ErrorKind::Unavailable) => {
            if let Some(h) = health.get_mut(&profile) {
                h.probing = false;
                h.delay = (h.delay * 2).min(config.retry_max.max(Duration::from_millis(500)));
                h.next_probe = Instant::now() + backoff(1, h.delay, h.delay);
            }
            queue::set_health(&shared.catalog(), &profile, false, Some(&e.to_string()))
        }
        _ => {
            if let Some(h) = health.get_mut(&profile) {
                h.probing = false;
            }
            mark_up(shared, health, &profile)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use stowage_store::local::LocalStore;
    use stowage_store::{ObjectPath, PutOptions, PutSource, Store};

    const ALL_PRIMARY: &str = "include_defaults = false\n[[rule]]\nname = \"all\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"runs/\"\ncompress = false\n";

    fn stable(root: &Path, name: &str) -> WatchEvent {
        let path = root.join(name);
        let meta = std::fs::metadata(&path).unwrap();
        WatchEvent::Stable {
            root: root.to_path_buf(),
            path,
            size: meta.len(),
            mtime_ns: sync::file_mtime_ns(&meta),
        }
    }

    /// Run an engine over `events` until idle; its events and summary.
    async fn run_engine(
        catalog_path: &Path,
        store_root: &Path,
        events: Vec<WatchEvent>,
    ) -> (Vec<Event>, Summary) {
        let catalog = Catalog::open_at(catalog_path).unwrap();
        let targets = Targets {
            primary: Target {
                profile: "local".into(),
                store: Arc::new(LocalStore::new(store_root).unwrap()),
                create_bucket: true,
            },
            secondary: None,
            bucket: "ml-artifacts".into(),
        };
        let policy = Policy::parse(ALL_PRIMARY, Path::new("policy.toml")).unwrap();
        let engine = Engine::new(catalog, policy, targets, WatchConfig::default());
        let mut rx_events = engine.events().subscribe();
        let (tx, rx) = mpsc::channel(16);
        for e in events {
            tx.send(e).await.unwrap();
        }
        tx.send(WatchEvent::ScanDone).await.unwrap();
        let settling = || 0usize;
        let summary = engine
            .run(rx, Some(&settling), std::future::pending())
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Ok(e) = rx_events.try_recv() {
            seen.push(e);
        }
        (seen, summary)
    }

    fn verified(events: &[Event]) -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Verified {
                    key,
                    already_stored,
                    ..
                } => Some((key.clone(), *already_stored)),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// The engine end to end on a local folder store: planned rows, uploads, nothing again
    /// for unchanged files, and a row a killed process left running whose upload had landed
    /// is reclaimed and recorded without sending it again.
    #[tokio::test]
    async fn engine_uploads_skips_unchanged_and_reclaims_a_killed_run() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.bin"), b"alpha").unwrap();
        std::fs::write(root.join("empty.bin"), b"").unwrap();
        let cat = dir.path().join("catalog.sqlite3");
        let store = dir.path().join("store");
        let evs = vec![stable(&root, "a.bin"), stable(&root, "empty.bin")];
        let (events, summary) = run_engine(&cat, &store, evs).await;
        assert_eq!(summary.done, 2);
        assert_eq!(
            verified(&events),
            [
                ("runs/a.bin".to_string(), false),
                ("runs/empty.bin".to_string(), false)
            ]
        );
        assert_eq!(
            std::fs::read(store.join("ml-artifacts/runs/empty.bin")).unwrap(),
            b""
        );
        // The same files again: unchanged, nothing planned.
        let evs = vec![stable(&root, "a.bin"), stable(&root, "empty.bin")];
        let (events, summary) = run_engine(&cat, &store, evs).await;
        assert_eq!(summary.done, 0);
        assert!(!events.iter().any(|e| matches!(e, Event::Queued { .. })));

        // A killed run: b.bin's row is `running` and its upload landed, unrecorded.
        std::fs::write(root.join("b.bin"), b"bravo").unwrap();
        {
            let c = Catalog::open_at(&cat).unwrap();
            let WatchEvent::Stable { size, mtime_ns, .. } = stable(&root, "b.bin") else {
                unreachable!()
            };
            queue::enqueue(
                &c,
                &[NewRow {
                    path: root.join("b.bin"),
                    dir: root.clone(),
                    org: None,
                    role: Role::Primary,
                    profile: "local".into(),
                    bucket: "ml-artifacts".into(),
                    key: "runs/b.bin".into(),
                    size,
                    mtime_ns,
                }],
            )
            .unwrap();
            assert_eq!(queue::claim(&c, 8, &[]).unwrap().len(), 1);
            LocalStore::new(&store)
                .unwrap()
                .put(
                    &ObjectPath::new("ml-artifacts", "runs/b.bin").unwrap(),
                    PutSource::File(root.join("b.bin")),
                    &PutOptions::default(),
                )
                .await
                .unwrap();
        }
        // Restart; the watcher's start-up scan reports b.bin too.
        let (events, summary) = run_engine(&cat, &store, vec![stable(&root, "b.bin")]).await;
        assert_eq!(summary.reclaimed, 1);
        assert_eq!(verified(&events), [("runs/b.bin".to_string(), true)]);
        let c = Catalog::open_at(&cat).unwrap();
        assert_eq!(
            queue::counts(&c).unwrap(),
            queue::Counts {
                done: 3,
                ..Default::default()
            }
        );
        assert_eq!(
            c.versions(&crate::catalog::VersionQuery::default())
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn engine_backoff_doubles_caps_and_jitters_within_half() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..=10 {
            let full = (base * (1 << (attempt - 1))).min(max);
            let d = backoff(attempt, base, max);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert!(backoff(30, base, max) <= max);
    }

    #[test]
    fn engine_watch_config_reads_durations_and_refuses_bad_values() {
        let paths = crate::Paths {
            config_dir: "/c".into(),
            data_dir: "/d".into(),
            cache_dir: "/k".into(),
        };
        let parse = |t: &str| crate::Config::parse(t, Path::new("/c/config.toml"), &paths);
        let c = parse("[watch]\nsettle = \"500ms\"\nconcurrency = 3\nmax_attempts = 2\n").unwrap();
        assert_eq!(c.watch.settle, Duration::from_millis(500));
        assert_eq!(c.watch.concurrency, 3);
        assert_eq!(c.watch.max_attempts, 2);
        assert_eq!(parse("").unwrap().watch, WatchConfig::default());
        let e = parse("[watch]\nsettle = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml:2:") && e.contains("[watch] settle"),
            "{e}"
        );
        let e = parse("[watch]\nconcurrency = 0\n").unwrap_err().to_string();
        assert!(e.contains("[watch] concurrency"), "{e}");
    }
}
