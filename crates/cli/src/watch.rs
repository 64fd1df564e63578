//! `stowage watch` and `stowage queue`: thin calls into core's auto-sync engine
//! (stowage_core::engine), its durable queue and its event stream.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::HumanBytes;
use serde_json::json;
use stowage_core::catalog::Catalog;
use stowage_core::engine::Engine;
use stowage_core::events::Event;
use stowage_core::queue::{self, State, WatchLock};
use stowage_core::transfer::ItemEvent;
use stowage_core::watch::{self, WatchOptions, Watcher};
use stowage_core::{Config, Error, Paths};
use tokio::sync::broadcast;

use crate::progress::Bars;
use crate::{sync_org, sync_targets, CmdResult, Ctx};

#[derive(Args)]
pub struct WatchArgs {
    /// Folders to watch (e.g. `.beast-mode`), registered as projects [default: every
    /// registered project's `.beast-mode`].
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Exit once the start-up scan is done, no file waits to settle and the queue is empty
    /// (exit code 1 if any transfer failed for good).
    #[arg(long)]
    exit_when_idle: bool,
    /// With --exit-when-idle: how long to wait for a provider that is down before exiting
    /// with its uploads still queued (exit code 9), e.g. `0s`, `5m`.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    wait_down: String,
    /// Organization prefix for keys of the folders given [default: the organization the
    /// profile is bound to, else `org` in policy.toml].
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// List the queue's rows (newest first) and each provider's health.
    Ls {
        /// Only rows in this state: queued, running, done, failed, cancelled, superseded.
        #[arg(long, value_name = "STATE")]
        state: Vec<String>,
        /// At most this many rows.
        #[arg(long, value_name = "N", default_value = "100")]
        limit: u64,
    },
    /// Put a failed (or cancelled) row back in the queue; `stowage watch` picks it up.
    Retry {
        /// The row's id (see `stowage queue ls`).
        #[arg(value_name = "ID", required_unless_present = "all_failed")]
        id: Option<i64>,
        /// Every failed row.
        #[arg(long, conflicts_with = "id")]
        all_failed: bool,
    },
    /// Drop a queued or failed row.
    Cancel {
        /// The row's id.
        #[arg(value_name = "ID")]
        id: i64,
    },
}

fn row_line(r: &queue::Row) -> String {
    format!(
        "{:>6}  {:<10} {:<9} {}:{}/{}  {}  {}{}",
        r.id,
        r.state.as_str(),
        r.role.as_str(),
        r.profile,
        r.bucket,
        r.key,
        HumanBytes(r.size),
        r.path.display(),
        r.last_error
            .as_ref()
            .filter(|_| r.state != State::Done)
            .map(|e| format!("\n        error (attempt {}): {e}", r.attempts))
            .unwrap_or_default()
    )
}

/// `queue ls|retry|cancel`.
pub async fn queue_cmd(ctx: &Ctx, c: QueueCommand) -> CmdResult {
    let paths = Paths::from_env()?;
    let catalog = Catalog::open(&paths)?;
    match c {
        QueueCommand::Ls { state, limit } => {
            let mut states = Vec::new();
            for s in &state {
                states.push(parse_state(s)?);
            }
            let rows = queue::list(&catalog, &states, Some(limit))?;
            let counts = queue::counts(&catalog)?;
            let health = queue::health(&catalog)?;
            for h in &health {
                ctx.data(format!(
                    "provider {}: {} since {}{}",
                    h.profile,
                    if h.up { "up" } else { "DOWN" },
                    format_ns(h.since_ns),
                    h.last_error
                        .as_ref()
                        .filter(|_| !h.up)
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ));
            }
            for r in &rows {
                ctx.data(row_line(r));
            }
            ctx.say(format!(
                "{} queued, {} running, {} done, {} failed, {} cancelled, {} superseded",
                counts.queued,
                counts.running,
                counts.done,
                counts.failed,
                counts.cancelled,
                counts.superseded
            ));
            Ok(json!({ "rows": rows, "counts": counts, "health": health }))
        }
        QueueCommand::Retry { id, all_failed } => {
            if ctx.dry_run {
                return Ok(json!({ "dry_run": true, "id": id, "all_failed": all_failed }));
            }
            if all_failed {
                let n = queue::retry_all_failed(&catalog)?;
                ctx.say(format!(
                    "{n} failed rows queued again; `stowage watch` uploads them"
                ));
                Ok(json!({ "retried": n, "dry_run": false }))
            } else {
                let r = queue::retry(&catalog, id.expect("clap requires ID"))?;
                ctx.say(format!("queued again: {}", row_line(&r)));
                Ok(json!({ "retried": 1, "row": r, "dry_run": false }))
            }
        }
        QueueCommand::Cancel { id } => {
            if ctx.dry_run {
                let r = queue::get(&catalog, id)?;
                return Ok(json!({ "dry_run": true, "row": r }));
            }
            let r = queue::cancel(&catalog, id)?;
            ctx.say(format!("cancelled: {}", row_line(&r)));
            Ok(json!({ "cancelled": r, "dry_run": false }))
        }
    }
}

fn parse_state(s: &str) -> Result<State, Error> {
    Ok(match s {
        "queued" => State::Queued,
        "running" => State::Running,
        "done" => State::Done,
        "failed" => State::Failed,
        "cancelled" => State::Cancelled,
        "superseded" => State::Superseded,
        _ => {
            return Err(Error::Usage(format!(
                "--state `{s}`: use queued, running, done, failed, cancelled or superseded"
            )))
        }
    })
}

fn format_ns(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ns.to_string())
}

/// `watch [DIR…]`: the auto-sync engine in the foreground until Ctrl-C (or idle).
pub async fn watch_cmd(ctx: &Ctx, a: WatchArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let policy = stowage_core::policy::Policy::load(&paths)?;
    let org = sync_org(ctx, &config, &policy, a.org.as_deref())?;
    let catalog = Catalog::open(&paths)?;
    let _lock = WatchLock::acquire(&paths.data_dir)?;
    let mut roots = Vec::new();
    for d in &a.dirs {
        let dir = std::fs::canonicalize(d).map_err(|e| {
            Error::Usage(format!(
                "{}: cannot watch it ({e}); pass an existing project folder such as `.beast-mode`",
                d.display()
            ))
        })?;
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "{}: is not a folder; pass the project folder to watch, e.g. `.beast-mode`",
                dir.display()
            ))
            .into());
        }
        catalog.register_folder(&dir, org.as_deref().or(policy.org.as_deref()))?;
        roots.push(dir);
    }
    if roots.is_empty() {
        roots = watch::default_roots(&catalog)?;
        if roots.is_empty() {
            return Err(Error::Usage(
                "no project folder is registered to watch; pass one: `stowage watch .beast-mode`"
                    .into(),
            )
            .into());
        }
    }
    let targets = sync_targets(ctx, &config, &paths).await?;
    let options = WatchOptions {
        roots: roots.clone(),
        settle: config.watch.settle,
        ignore: Vec::new(),
    };
    let (watcher, rx) = tokio::task::spawn_blocking(move || Watcher::start(options))
        .await
        .map_err(|e| Error::Usage(format!("the watcher did not start: {e}")))??;
    let initial = queue::counts(&catalog)?;
    let profiles: Vec<String> = std::iter::once(targets.primary.profile.clone())
        .chain(targets.secondary.as_ref().map(|s| s.profile.clone()))
        .collect();
    if !ctx.json && !ctx.quiet {
        eprintln!(
            "watching {} → {} ({}), settle {:?}; Ctrl-C stops",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            profiles.join(" + "),
            targets.bucket,
            config.watch.settle
        );
    }
    let mut watch_config = config.watch.clone();
    watch_config.down_grace = stowage_core::parse_duration_or_zero(&a.wait_down)?;
    let engine = Engine::new(catalog, policy, targets, watch_config);
    let events = engine.events().subscribe();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let printer = tokio::spawn(render(
        events,
        stop_rx,
        ctx.json,
        ctx.quiet,
        ctx.bars,
        initial.queued + initial.running,
        profiles,
    ));
    let settling = || watcher.settling();
    let idle: Option<&(dyn Fn() -> usize + Sync)> = if a.exit_when_idle {
        Some(&settling)
    } else {
        None
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = engine.run(rx, idle, shutdown).await;
    drop(watcher);
    let _ = stop_tx.send(());
    let _ = printer.await;
    let summary = result?;
    if summary.interrupted {
        eprintln!(
            "stopped: transfers in flight go back to the queue; `stowage watch` resumes them"
        );
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    }
    let doc = json!({ "watch": summary });
    if summary.failed_in_queue > 0 {
        let e = stowage_store::Error::new(
            stowage_store::ErrorKind::Other,
            "queue",
            format!(
                "{} transfers failed for good ({} of them in this run)",
                summary.failed_in_queue, summary.failed
            ),
        )
        .hint(
            "see `stowage queue ls --state failed`, fix the cause, then \
             `stowage queue retry --all-failed`",
        );
        return Err(crate::Failed {
            error: e.into(),
            partial: Some(doc),
            printed: false,
        });
    }
    if !summary.waiting.is_empty() {
        // Nothing more can happen until a provider returns: say what waits, for whom.
        if ctx.json {
            crate::out(&doc);
        } else {
            for (profile, n) in &summary.waiting {
                eprintln!(
                    "waiting: {n} upload(s) for `{profile}`, which does not answer; the next \
                     `stowage watch` or `stowage sync` uploads them when it is back"
                );
            }
        }
        std::process::exit(i32::from(crate::exit::WAITING));
    }
    if !ctx.json {
        ctx.say(format!(
            "idle: {} uploaded and verified, {} failed",
            summary.done, summary.failed
        ));
    }
    Ok(doc)
}

/// Print events as NDJSON (`--json`), or as bars and a status line: queued, in flight, done,
/// failed and each provider's health.
async fn render(
    mut events: broadcast::Receiver<Event>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    json: bool,
    quiet: bool,
    bars: bool,
    queued: u64,
    profiles: Vec<String>,
) {
    let view = Bars::new(Vec::new(), "uploading", bars);
    let status = (!json && !quiet && !view.is_hidden()).then(|| view.status());
    let mut queued = queued as i64;
    let mut flight: HashSet<i64> = HashSet::new();
    let mut moved: HashMap<i64, u64> = HashMap::new();
    let (mut done, mut failed) = (0u64, 0u64);
    let mut health: Vec<(String, bool)> = profiles.into_iter().map(|p| (p, true)).collect();
    let stdout = std::io::stdout();
    loop {
        let e = tokio::select! {
            biased;
            e = events.recv() => e,
            _ = &mut stop => {
                // Drain what was sent before the engine stopped.
                match events.try_recv() {
                    Ok(e) => Ok(e),
                    Err(_) => break,
                }
            }
        };
        let e = match e {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        if json {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{}", serde_json::to_string(&e).unwrap_or_default());
            let _ = out.flush();
        }
        let ended = |id: i64, flight: &mut HashSet<i64>, moved: &mut HashMap<i64, u64>| {
            moved.remove(&id);
            flight.remove(&id)
        };
        let idx = |id: i64| id as usize;
        match &e {
            Event::Queued { .. } => queued += 1,
            Event::Started { id, path, size, .. } => {
                queued -= 1;
                flight.insert(*id);
                view.set_label(idx(*id), label(path));
                view.handle(idx(*id), ItemEvent::Started { size: *size });
            }
            Event::Progress { id, bytes, .. } => {
                let before = moved.insert(*id, *bytes).unwrap_or(0);
                view.handle(
                    idx(*id),
                    ItemEvent::Moved {
                        bytes: bytes.saturating_sub(before),
                    },
                );
            }
            Event::Verified {
                id,
                path,
                profile,
                bucket,
                key,
                stored_size,
                version,
                ..
            } => {
                ended(*id, &mut flight, &mut moved);
                done += 1;
                view.handle(idx(*id), ItemEvent::Done);
                if !json && !quiet {
                    view.println(&format!(
                        "uploaded {} → {profile}:{bucket}/{key} ({}, version {version})",
                        path.display(),
                        HumanBytes(*stored_size)
                    ));
                }
            }
            Event::Failed { id, error, .. } => {
                if let Some(id) = id {
                    if ended(*id, &mut flight, &mut moved) {
                        view.handle(idx(*id), ItemEvent::Failed);
                    }
                }
                failed += 1;
                if !json {
                    view.println(&format!("error: {error}"));
                }
            }
            Event::Retried { id, error, .. } => {
                if ended(*id, &mut flight, &mut moved) {
                    view.handle(idx(*id), ItemEvent::Failed);
                }
                queued += 1;
                if !json && !quiet {
                    view.println(&format!("retrying later: {error}"));
                }
            }
            Event::Superseded { id, .. } => {
                if ended(*id, &mut flight, &mut moved) {
                    view.handle(idx(*id), ItemEvent::Failed);
                }
            }
            Event::ProviderDown { profile, error, .. } => {
                set_health(&mut health, profile, false);
                if !json {
                    view.println(&format!(
                        "warning: {profile} is unreachable; its transfers wait for it ({error})"
                    ));
                }
            }
            Event::ProviderUp { profile, .. } => {
                set_health(&mut health, profile, true);
                if !json && !quiet {
                    view.println(&format!("{profile} answers again; its transfers resume"));
                }
            }
            Event::Problem { path, error, .. } => {
                if !json {
                    view.println(&format!("warning: {}: {error}", path.display()));
                }
            }
            Event::Recorded { .. } | Event::ScanDone { .. } | Event::Idle { .. } => {}
        }
        if let Some(s) = &status {
            s.set_message(format!(
                "{} queued · {} in flight · {done} done · {failed} failed · {}",
                queued.max(0),
                flight.len(),
                health
                    .iter()
                    .map(|(p, up)| format!("{p} {}", if *up { "up" } else { "DOWN" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(s) = status {
        s.finish_and_clear();
    }
}

fn set_health(health: &mut Vec<(String, bool)>, profile: &str, up: bool) {
    match health.iter_mut().find(|(p, _)| p == profile) {
        Some(h) => h.1 = up,
        None => health.push((profile.to_string(), up)),
    }
}

fn label(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
