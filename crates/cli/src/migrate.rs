//! `stowage migrate`, `stowage verify` and `stowage cache ls|clean`: parse, call the app
//! layer, render.

use clap::{Args, Subcommand};
use indicatif::HumanBytes;
use stowage_core::app;
use stowage_core::cache::CleanScope;

use crate::progress::Bars;
use crate::{doc, finish, lines, settle, CmdResult, Ctx};

#[derive(Args)]
pub struct MigrateArgs {
    /// The profile to copy from.
    #[arg(long, value_name = "P")]
    from: String,
    /// The profile to copy to.
    #[arg(long, value_name = "Q")]
    to: String,
    /// Only this source bucket.
    #[arg(long, value_name = "B")]
    bucket: Option<String>,
    /// The target bucket [default: the source bucket's name; created if missing].
    #[arg(long, value_name = "B")]
    to_bucket: Option<String>,
    /// Only keys matching this glob, e.g. `models/**` or `*.pt` (`*` crosses `/`).
    #[arg(long, value_name = "GLOB")]
    filter: Option<String>,
    /// Every object listed in the source bucket(s), not just what the catalog records there.
    #[arg(long)]
    all_objects: bool,
    /// Delete each source object after its copy is verified on the target.
    #[arg(long)]
    delete_source: bool,
    /// Objects in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    concurrency: usize,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Re-copy missing and different objects from a copy that verifies.
    #[arg(long)]
    fix: bool,
}

#[derive(Subcommand)]
pub enum CacheCommand {
    /// List cached downloads: size, age, last use, and the total against the cap.
    Ls,
    /// Remove expired entries and the least recently used beyond the cap (or --all / --expired).
    Clean {
        /// Remove every entry.
        #[arg(long, conflicts_with = "expired")]
        all: bool,
        /// Remove only entries past the TTL.
        #[arg(long)]
        expired: bool,
    },
}

/// `migrate --from P --to Q`.
pub async fn migrate_cmd(ctx: &Ctx, a: MigrateArgs) -> CmdResult {
    let request = app::MigrateRequest {
        from: a.from,
        to: a.to,
        bucket: a.bucket,
        to_bucket: a.to_bucket,
        filter: a.filter,
        all_objects: a.all_objects,
        delete_source: a.delete_source,
        concurrency: a.concurrency,
        dry_run: ctx.dry_run,
    };
    let from = request.from.clone();
    let bars = Bars::follow(&ctx.app, "copying", ctx.bars);
    let r = ctx.app.migrate(request).await;
    settle(bars).await;
    let r = r?;
    if r.migrated.is_empty() {
        ctx.say(format!("nothing to migrate from `{from}`"));
        return Ok(doc(&r));
    }
    lines(ctx, &r.migrated, |o| {
        let how = match o.method {
            "server_copy" => "server-side copy",
            "streamed" => "streamed",
            _ => "",
        };
        let mut notes = vec![HumanBytes(o.size).to_string()];
        if !how.is_empty() {
            notes.push(how.to_string());
        }
        if o.verified {
            notes.push("SHA-256 verified".into());
        }
        if o.resumed_from > 0 {
            notes.push(format!("resumed after {}", HumanBytes(o.resumed_from)));
        }
        if o.source_deleted {
            notes.push("source deleted".into());
        }
        let verb = match o.action {
            "copied" => "copied",
            "skipped" => "already there",
            _ => "would copy",
        };
        format!("{verb} {} → {} ({})", o.from, o.to, notes.join(", "))
    });
    let s = &r.summary;
    ctx.say(format!(
        "{} {}, {} already there, {} failed",
        s.copied + s.planned,
        if ctx.dry_run {
            "would be copied"
        } else {
            "copied"
        },
        s.skipped,
        s.failed
    ));
    finish(doc(&r), r.failure(), true)
}

/// `verify [--fix]` (the global `--profile` restricts it to one profile).
pub async fn verify_cmd(ctx: &Ctx, a: VerifyArgs) -> CmdResult {
    let r = ctx.app.verify(a.fix, ctx.dry_run).await?;
    let report = &r.report;
    for p in &report.problems {
        let what = match p.kind {
            "missing" => "missing".to_string(),
            "different" => format!(
                "different: {} bytes SHA-256 {}, the catalog records {} bytes SHA-256 {}",
                p.found_size.unwrap_or(0),
                p.found_sha256.as_deref().unwrap_or("(none recorded)"),
                p.expected_size.unwrap_or(0),
                p.expected_sha256.as_deref().unwrap_or("(none)")
            ),
            "extra" => "extra: not in the catalog (left in place)".to_string(),
            other => format!("{other}: {}", p.error.as_deref().unwrap_or("")),
        };
        let fix = if p.fixed {
            format!(
                " → fixed from {}",
                p.fixed_from.as_deref().unwrap_or("another copy")
            )
        } else if p.fixed_from.is_some() {
            format!(
                " → would fix from {}",
                p.fixed_from.as_deref().unwrap_or("")
            )
        } else if a.fix && p.kind != "extra" {
            format!(" → not fixed: {}", p.error.as_deref().unwrap_or(""))
        } else {
            String::new()
        };
        ctx.data(format!("{}:{}/{}  {what}{fix}", p.profile, p.bucket, p.key));
    }
    ctx.say(format!(
        "checked {} locations: {} ok, {} problems, {} fixed",
        report.checked,
        report.ok,
        report.problems.len(),
        report.fixed
    ));
    for c in &r.policy_changes {
        ctx.data(format!(
            "{}  stored as {}, the policy now says {} (next: `stowage sync {}`)",
            c.file.display(),
            c.recorded,
            c.now,
            c.dir.display()
        ));
    }
    finish(doc(&r), r.failure(), false)
}

/// `cache ls` / `cache clean`.
pub fn cache_cmd(ctx: &Ctx, c: CacheCommand) -> CmdResult {
    let now = stowage_core::units::now_ns();
    let age = |ns: i64| human_age(now.saturating_sub(ns));
    match c {
        CacheCommand::Ls => {
            let r = ctx.app.cache()?;
            for e in &r.entries {
                ctx.data(format!(
                    "{:>11}  stored {:>8} ago  used {:>8} ago{}  {}  {}",
                    HumanBytes(e.size).to_string(),
                    age(e.stored_at_ns),
                    age(e.last_used_ns),
                    if e.expired { " (expired)" } else { "" },
                    &e.sha256[..12],
                    e.source
                ));
            }
            ctx.data(format!(
                "{} entries, {} of {} ({}; TTL {})",
                r.entries.len(),
                HumanBytes(r.total),
                HumanBytes(r.max_size),
                r.dir.display(),
                human_age((r.ttl_secs as i64).saturating_mul(1_000_000_000))
            ));
            Ok(doc(&r))
        }
        CacheCommand::Clean { all, expired } => {
            let scope = match (all, expired) {
                (true, _) => CleanScope::All,
                (_, true) => CleanScope::Expired,
                _ => CleanScope::ToFit,
            };
            let r = ctx.app.cache_clean(scope, ctx.dry_run)?;
            ctx.say(format!(
                "{} {} entries ({})",
                ctx.would("removed", "remove"),
                r.removed.len(),
                HumanBytes(r.bytes)
            ));
            Ok(doc(&r))
        }
    }
}

fn human_age(ns: i64) -> String {
    let s = ns.max(0) / 1_000_000_000;
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
