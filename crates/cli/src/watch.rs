//! `stowage watch` and `stowage queue`: thin calls into core's auto-sync engine
//! (stowage_core::engine), its durable queue and its event stream.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::HumanBytes;
use stowage_core::app::{self, AppEvent};
use stowage_core::events::Event;
use stowage_core::queue::{self, State};
use tokio::sync::broadcast;

use crate::progress::Bars;
use crate::{doc, CmdResult, Ctx};

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
pub fn queue_cmd(ctx: &Ctx, c: QueueCommand) -> CmdResult {
    match c {
        QueueCommand::Ls { state, limit } => {
            let r = ctx.app.queue(&state, limit)?;
            for h in &r.health {
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
            for row in &r.rows {
                ctx.data(row_line(row));
            }
            let counts = &r.counts;
            ctx.say(format!(
                "{} queued, {} running, {} done, {} failed, {} cancelled, {} superseded",
                counts.queued,
                counts.running,
                counts.done,
                counts.failed,
                counts.cancelled,
                counts.superseded
            ));
            Ok(doc(&r))
        }
        QueueCommand::Retry { id, all_failed } => {
            let r = ctx
                .app
                .queue_retry(id.filter(|_| !all_failed), ctx.dry_run)?;
            match (&r.row, ctx.dry_run) {
                (_, true) => {}
                (Some(row), false) => ctx.say(format!("queued again: {}", row_line(row))),
                (None, false) => ctx.say(format!(
                    "{} failed rows queued again; `stowage watch` uploads them",
                    r.retried.unwrap_or(0)
                )),
            }
            Ok(doc(&r))
        }
        QueueCommand::Cancel { id } => {
            let r = ctx.app.queue_cancel(id, ctx.dry_run)?;
            if let Some(row) = &r.cancelled {
                ctx.say(format!("cancelled: {}", row_line(row)));
            }
            Ok(doc(&r))
        }
    }
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
    let request = app::WatchRequest {
        dirs: a.dirs,
        exit_when_idle: a.exit_when_idle,
        wait_down: Some(a.wait_down),
        org: a.org,
    };
    let events = ctx.app.events();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<app::Watching>();
    let (json, quiet, bars) = (ctx.json, ctx.quiet, ctx.bars);
    let printer = tokio::spawn(async move {
        // Nothing to draw until the engine starts.
        let Ok(w) = started_rx.await else { return };
        if !json && !quiet {
            eprintln!(
                "watching {} → {} ({}), settle {:?}; Ctrl-C stops",
                w.roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                w.profiles.join(" + "),
                w.bucket,
                std::time::Duration::from_millis(w.settle_ms)
            );
        }
        render(events, stop_rx, json, quiet, bars, w.pending, w.profiles).await
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = ctx
        .app
        .watch(
            request,
            |w| {
                let _ = started_tx.send(w.clone());
            },
            shutdown,
        )
        .await;
    let _ = stop_tx.send(());
    let _ = printer.await;
    let r = result?;
    let document = doc(&r);
    match r.failure() {
        None => {
            if !ctx.json {
                ctx.say(format!(
                    "idle: {} uploaded and verified, {} failed",
                    r.watch.done, r.watch.failed
                ));
            }
            Ok(document)
        }
        Some(e) if e.kind == "cancelled" => {
            eprintln!("{}", e.message);
            std::process::exit(i32::from(e.exit_code));
        }
        Some(e) if e.kind == "waiting" => {
            // Nothing more can happen until a provider returns: say what waits, for whom.
            if ctx.json {
                crate::out(&document);
            } else {
                for line in e.message.lines() {
                    eprintln!("waiting: {line}");
                }
            }
            std::process::exit(i32::from(e.exit_code));
        }
        Some(e) => crate::finish(document, Some(e), false),
    }
}

/// Print events as NDJSON (`--json`), or as bars and a status line: queued, in flight, done,
/// failed and each provider's health.
async fn render(
    mut events: broadcast::Receiver<AppEvent>,
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
        view.event(&e.event);
        match &e.event {
            Event::Queued { .. } => queued += 1,
            Event::Started { id, .. } => {
                queued -= 1;
                flight.insert(*id);
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
                flight.remove(id);
                done += 1;
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
                    flight.remove(id);
                }
                failed += 1;
                if !json {
                    view.println(&format!("error: {error}"));
                }
            }
            Event::Retried { id, error, .. } => {
                flight.remove(id);
                queued += 1;
                if !json && !quiet {
                    view.println(&format!("retrying later: {error}"));
                }
            }
            Event::Superseded { id, .. } => {
                flight.remove(id);
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
            Event::Problem { path, error, .. } if !json => {
                view.println(&format!("warning: {}: {error}", path.display()));
            }
            _ => {}
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
