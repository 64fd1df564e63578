//! `stowage migrate`, `stowage verify`, `stowage cache ls|clean`, and the read path (cache →
//! primary → secondary) behind `get`, `restore` and `url`. Thin calls into stowage-core's
//! `migrate`, `read` and `cache` modules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::HumanBytes;
use serde_json::json;
use stowage_core::cache::{Cache, CleanScope};
use stowage_core::catalog::{Catalog, VersionInfo};
use stowage_core::migrate::{self, Endpoint, MigrateOptions};
use stowage_core::read::{self, Reader};
use stowage_core::transfer::{self, GetFilesOptions, GetItem, GetOutcome, ProgressFn};
use stowage_core::{Config, Error, Location, Paths, Session};
use stowage_store::{ErrorKind, UrlMethod};

use crate::progress::Bars;
use crate::{batch, CmdResult, Ctx, Failed};

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

fn endpoint(
    config: &Config,
    paths: &Paths,
    name: &str,
) -> impl std::future::Future<Output = Result<Endpoint, Error>> {
    let profile = config.profiles.get(name).cloned();
    let names = config
        .profiles
        .keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let paths = paths.clone();
    let name = name.to_string();
    async move {
        let p = profile.ok_or_else(|| {
            Error::Config(format!(
                "no profile `{name}`; known profiles: {names}. Define it in config.toml or pick \
                 one listed by `stowage profile ls`"
            ))
        })?;
        let store = stowage_core::open_store(&p, &paths).await?;
        Ok(Endpoint::new(&p, store))
    }
}

fn staging_dir(paths: &Paths) -> PathBuf {
    paths.data_dir.join("migrate")
}

/// `migrate --from P --to Q`.
pub async fn migrate_cmd(ctx: &Ctx, a: MigrateArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let catalog = if ctx.dry_run {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    if a.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()).into());
    }
    let from = endpoint(&config, &paths, &a.from).await?;
    let to = endpoint(&config, &paths, &a.to).await?;
    if a.all_objects && a.bucket.is_none() {
        // Every bucket on a server is rarely what is meant: ask which.
        let names = transfer::list_buckets(&*from.store)
            .await?
            .into_iter()
            .map(|b| b.name)
            .collect::<Vec<_>>();
        return Err(Error::Usage(format!(
            "--all-objects copies every object of a bucket: name it with --bucket B (buckets on \
             `{}`: {})",
            from.profile,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ))
        .into());
    }
    let options = MigrateOptions {
        bucket: a.bucket,
        to_bucket: a.to_bucket,
        filter: a.filter,
        all_objects: a.all_objects,
        dry_run: ctx.dry_run,
        delete_source: a.delete_source,
        concurrency: a.concurrency,
        staging_dir: staging_dir(&paths),
    };
    let items = migrate::plan(&catalog, &from, &options).await?;
    if items.is_empty() {
        ctx.say(format!("nothing to migrate from `{}`", from.profile));
        return Ok(
            json!({"migrated": [], "summary": {"copied": 0, "skipped": 0, "failed": 0, "bytes_moved": 0}, "dry_run": ctx.dry_run}),
        );
    }
    let labels = items.iter().map(|i| i.key.clone()).collect();
    let bars = Bars::new(labels, "copying", ctx.bars);
    let results = migrate::run(&catalog, &from, &to, &items, &options, bars.callback()).await?;
    let count = |action: &str| {
        results
            .iter()
            .flatten()
            .filter(|o| o.action == action)
            .count()
    };
    let summary = json!({
        "copied": count("copied"),
        "skipped": count("skipped"),
        "planned": count("planned"),
        "failed": results.iter().filter(|r| r.is_err()).count(),
        "source_deleted": results.iter().flatten().filter(|o| o.source_deleted).count(),
        "bytes_moved": results.iter().flatten().map(|o| o.bytes_moved).sum::<u64>(),
    });
    let done = batch(ctx, "migrated", results, |o| {
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
    ctx.say(format!(
        "{} {}, {} already there, {} failed",
        summary["copied"].as_u64().unwrap_or(0) + summary["planned"].as_u64().unwrap_or(0),
        if ctx.dry_run {
            "would be copied"
        } else {
            "copied"
        },
        summary["skipped"],
        summary["failed"]
    ));
    match done {
        Ok(mut doc) => {
            doc["summary"] = summary;
            Ok(doc)
        }
        Err(mut f) => {
            if let Some(p) = f.partial.as_mut() {
                p["summary"] = summary;
            }
            Err(f)
        }
    }
}

/// `verify [--fix]` (the global `--profile` restricts it to one profile).
pub async fn verify_cmd(ctx: &Ctx, a: VerifyArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let catalog = if ctx.dry_run || !a.fix {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    let mut endpoints = HashMap::new();
    for name in config.profiles.keys() {
        if let Ok(e) = endpoint(&config, &paths, name).await {
            endpoints.insert(name.clone(), e);
        }
    }
    let profiles: Vec<String> = ctx.profile.iter().cloned().collect();
    let report = migrate::verify(
        &catalog,
        &endpoints,
        &profiles,
        a.fix,
        ctx.dry_run,
        &staging_dir(&paths),
    )
    .await?;
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
    // Files stored by a rule the policy no longer gives: the catalog and the policy disagree.
    let policy = stowage_core::policy::Policy::load(&paths)?;
    let changes = stowage_core::sync::policy_changes(&catalog, &policy)?;
    for c in &changes {
        ctx.data(format!(
            "{}  stored as {}, the policy now says {} (next: `stowage sync {}`)",
            c.file.display(),
            c.recorded,
            c.now,
            c.dir.display()
        ));
    }
    let mut doc = serde_json::to_value(&report).expect("serialisable");
    doc["policy_changes"] = json!(changes);
    // Extra objects are only reported: they fail a check, not a fix.
    let unresolved = report
        .problems
        .iter()
        .filter(|p| !p.fixed && (!a.fix || p.kind != "extra"))
        .count()
        + changes.len();
    if unresolved == 0 {
        return Ok(doc);
    }
    let hint = if unresolved == changes.len() {
        "run `stowage sync` on the listed folders to store the files by the current policy"
    } else if a.fix {
        "repair the listed objects by hand, or restore them from another machine"
    } else {
        "run `stowage verify --fix` to re-copy missing and different objects"
    };
    Err(Failed {
        error: stowage_store::Error::new(
            ErrorKind::Integrity,
            "stowage",
            format!(
                "{unresolved} of {} checks found a problem",
                report.checked.max(unresolved)
            ),
        )
        .hint(hint)
        .into(),
        partial: Some(doc),
        printed: false,
    })
}

/// `cache ls` / `cache clean`.
pub fn cache_cmd(ctx: &Ctx, c: CacheCommand) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let cache = Cache::open(&paths, &config.cache)?;
    let now = stowage_core::catalog::now_ns();
    let age = |ns: i64| human_age(now.saturating_sub(ns));
    match c {
        CacheCommand::Ls => {
            let entries = cache.entries()?;
            let total: u64 = entries.iter().map(|e| e.size).sum();
            for e in &entries {
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
                entries.len(),
                HumanBytes(total),
                HumanBytes(cache.config().max_size),
                cache.dir().display(),
                human_age(cache.config().ttl.as_nanos().min(i64::MAX as u128) as i64)
            ));
            Ok(json!({
                "dir": cache.dir(),
                "entries": entries,
                "total": total,
                "max_size": cache.config().max_size,
                "ttl_secs": cache.config().ttl.as_secs(),
            }))
        }
        CacheCommand::Clean { all, expired } => {
            let scope = match (all, expired) {
                (true, _) => CleanScope::All,
                (_, true) => CleanScope::Expired,
                _ => CleanScope::ToFit,
            };
            let r = cache.clean(scope, ctx.dry_run)?;
            ctx.say(format!(
                "{} {} entries ({})",
                ctx.would("removed", "remove"),
                r.removed.len(),
                HumanBytes(r.bytes)
            ));
            Ok(serde_json::to_value(&r).expect("serialisable"))
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

/// The cache, or None (with a warning) when it cannot be opened: reads still work.
fn open_cache(ctx: &Ctx, paths: &Paths, config: &Config) -> Option<Cache> {
    match Cache::open(paths, &config.cache) {
        Ok(c) => Some(c),
        Err(e) => {
            if !ctx.quiet {
                eprintln!("warning: reading without the cache: {e}");
            }
            None
        }
    }
}

/// `[sync]`'s other profile when `primary` is one of the pair, else `[sync] secondary`.
fn secondary_for(config: &Config, primary: &str) -> Option<String> {
    let (p, s) = (&config.sync.primary, &config.sync.secondary);
    match (p, s) {
        (Some(p), Some(s)) if s == primary => Some(p.clone()),
        (_, Some(s)) if s != primary => Some(s.clone()),
        _ => None,
    }
}

fn warn_all(ctx: &Ctx, warnings: &[String]) {
    if !ctx.quiet {
        for w in warnings {
            eprintln!("warning: {w}");
        }
    }
}

/// `restore`'s read: cache → primary (`--profile`, else `[sync] primary`, else the selected
/// profile) → secondary → other recorded copies.
pub async fn restore_read(
    ctx: &Ctx,
    config: &Config,
    paths: &Paths,
    catalog: &Catalog,
    v: &VersionInfo,
    dest: &Path,
    force: bool,
) -> Result<read::RestoreRead, Error> {
    let env = std::env::var("STOWAGE_PROFILE").ok();
    let primary = match (&ctx.profile, &config.sync.primary) {
        (None, Some(p)) => p.clone(),
        (flag, _) => config
            .select(flag.as_deref(), env.as_deref())?
            .0
            .name
            .clone(),
    };
    let secondary = secondary_for(config, &primary);
    let wanted = v
        .locations
        .iter()
        .map(|l| l.profile.clone())
        .chain(std::iter::once(primary.clone()))
        .chain(secondary.clone());
    let reader = Reader {
        stores: crate::stores_for(config, paths, wanted).await,
        primary: Some(primary),
        secondary,
        cache: open_cache(ctx, paths, config),
    };
    let r = read::restore(catalog, v, &reader, dest, force, ctx.dry_run).await?;
    warn_all(ctx, &r.read.warnings);
    Ok(r)
}

/// `url`: sign from the primary (the selected profile) when it holds the object, else from
/// the secondary.
pub async fn url_read(
    ctx: &Ctx,
    session: &Session,
    loc: &Location,
    method: UrlMethod,
    expires: std::time::Duration,
) -> Result<read::UrlRead, Error> {
    let config = Config::load(&session.paths)?;
    let primary = session.profile.name.clone();
    let secondary = secondary_for(&config, &primary);
    let mut stores = crate::stores_for(&config, &session.paths, secondary.clone()).await;
    stores.insert(primary.clone(), session.store.clone());
    let reader = Reader {
        stores,
        primary: Some(primary),
        secondary,
        cache: None,
    };
    let catalog = Catalog::open_read_only(&session.paths).ok();
    let r = read::signed_url(catalog.as_ref(), &reader, loc, method, expires).await?;
    warn_all(ctx, &r.warnings);
    if r.source == "secondary" && !ctx.quiet && !ctx.json {
        eprintln!("signed by secondary `{}`", r.profile);
    }
    Ok(r)
}

/// `get`'s downloads: catalogued objects go cache → this profile → other copies; the rest
/// download directly. One result per item, in order.
pub async fn get_read(
    ctx: &Ctx,
    session: &Session,
    items: &[GetItem],
    options: &GetFilesOptions,
    progress: Option<ProgressFn>,
) -> Vec<Result<GetOutcome, Error>> {
    let setup = async {
        let config = Config::load(&session.paths)?;
        let catalog = Catalog::open_read_only(&session.paths)?;
        Ok::<_, Error>((config, catalog))
    };
    let Ok((config, catalog)) = setup.await else {
        return transfer::get_files(&*session.store, items, options, progress).await;
    };
    let primary = session.profile.name.clone();
    let secondary = secondary_for(&config, &primary);
    let others: Vec<String> = config.profiles.keys().cloned().collect();
    let mut stores = crate::stores_for(&config, &session.paths, others).await;
    stores.insert(primary.clone(), session.store.clone());
    let reader = Reader {
        stores,
        primary: Some(primary),
        secondary,
        cache: open_cache(ctx, &session.paths, &config),
    };
    // Items download `options.concurrency` at a time and land together (one flush, then the
    // renames) before any is reported done: see `read::get_many`.
    let results =
        read::get_many(&catalog, &reader, &*session.store, items, options, progress).await;
    results
        .into_iter()
        .zip(items)
        .map(|(r, item)| {
            r.map(|(o, info)| {
                if let Some(info) = info {
                    warn_all(ctx, &info.warnings);
                    if info.source == "cache" && !ctx.quiet && !ctx.json {
                        eprintln!("{}: served from the local cache", item.file.display());
                    }
                }
                o
            })
        })
        .collect()
}
