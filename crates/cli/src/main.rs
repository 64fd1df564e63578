//! `stowage`: the command line. Every subcommand is a thin call into stowage-core; this file
//! parses arguments, draws progress and prints results (text or one JSON document).

mod exit;
mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::HumanBytes;
use serde::Serialize;
use serde_json::{json, Value};
use stowage_core::transfer::{self, GetFilesOptions, PutFilesOptions};
use stowage_core::{Config, Error, Location, Paths, Session};
use stowage_store::UrlMethod;

use crate::progress::Bars;

const LONG_ABOUT: &str = "\
Stowage keeps datasets and models in order across a local folder, S3 (and S3-compatible
endpoints) and Supabase Storage.

Remote locations are written BUCKET, BUCKET/KEY or BUCKET/FOLDER/ (a trailing `/` means a
folder). With no config file, the built-in `local` profile stores buckets under your data
folder, so `stowage put model.pt models/` works right away. Profiles live in config.toml in
the config folder (see `stowage profile ls`); secrets never do: they come from the
environment (AWS_* or ~/.aws for S3, SUPABASE_SERVICE_ROLE_KEY for Supabase).";

#[derive(Parser)]
#[command(name = "stowage", version, about = "Move ML datasets and models between a local folder, S3 and Supabase Storage", long_about = LONG_ABOUT, after_long_help = exit::TABLE)]
struct Cli {
    /// Profile to use [default: STOWAGE_PROFILE, then default_profile in the config, then `local`].
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Print one JSON document on stdout (errors included) instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Show what a command would change, and change nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// No progress bars or confirmations; listings, URLs and errors still print.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List, create or delete buckets.
    #[command(subcommand)]
    Buckets(BucketsCommand),
    /// Upload files or folders: `put FILE… BUCKET/FOLDER/` keeps names, `put FILE BUCKET/KEY` renames.
    Put(PutArgs),
    /// Download an object (or with --recursive a folder) to a local file or folder.
    Get(GetArgs),
    /// List buckets (no argument) or the objects and folders in BUCKET[/PREFIX].
    Ls(LsArgs),
    /// Remove objects (or with --recursive folders).
    Rm(RmArgs),
    /// Move an object within the store.
    Mv(CopyArgs),
    /// Copy an object within the store.
    Cp(CopyArgs),
    /// Print an expiring signed URL for an object.
    Url(UrlArgs),
    /// Show profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Subcommand)]
enum BucketsCommand {
    /// List buckets.
    Ls,
    /// Create a bucket (private unless --public).
    Create {
        /// The bucket's name: 3-63 lowercase letters, digits, `-` and `.`.
        name: String,
        /// Make it readable without credentials.
        #[arg(long)]
        public: bool,
    },
    /// Delete an empty bucket.
    Rm {
        /// The bucket's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// List profiles, where each comes from and which one is selected (no secrets).
    Ls,
}

#[derive(Args)]
struct PutArgs {
    /// Files or folders to upload.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// BUCKET/FOLDER/ (names kept) or BUCKET/KEY (one file).
    #[arg(value_name = "DEST")]
    dest: String,
    /// Replace objects that exist.
    #[arg(long)]
    overwrite: bool,
    /// Content type to record, e.g. application/json.
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
}

#[derive(Args)]
struct GetArgs {
    /// BUCKET/KEY (or BUCKET/FOLDER/ with --recursive).
    #[arg(value_name = "SRC")]
    src: String,
    /// A file, or a folder to download into [default: the current folder].
    #[arg(value_name = "DEST")]
    dest: Option<PathBuf>,
    /// Replace local files that exist.
    #[arg(long)]
    force: bool,
    /// Download every object under the folder SRC, laid out by key.
    #[arg(short, long)]
    recursive: bool,
}

#[derive(Args)]
struct LsArgs {
    /// BUCKET or BUCKET/PREFIX; none lists buckets.
    #[arg(value_name = "LOCATION")]
    location: Option<String>,
    /// List every object below, not just one level.
    #[arg(short, long)]
    recursive: bool,
}

#[derive(Args)]
struct RmArgs {
    /// BUCKET/KEY, or with --recursive BUCKET/FOLDER.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// Remove folders and everything in them.
    #[arg(short, long)]
    recursive: bool,
}

#[derive(Args)]
struct CopyArgs {
    /// BUCKET/KEY.
    #[arg(value_name = "SRC")]
    src: String,
    /// BUCKET/KEY, or BUCKET/FOLDER/ to keep the name.
    #[arg(value_name = "DST")]
    dst: String,
    /// Replace the destination if it exists.
    #[arg(long)]
    overwrite: bool,
}

#[derive(Args)]
struct UrlArgs {
    /// BUCKET/KEY.
    #[arg(value_name = "PATH")]
    path: String,
    /// How long the URL works: 30m, 1h, 7d…
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    expires: String,
    /// A URL to upload to instead of download from.
    #[arg(long)]
    put: bool,
}

/// Global output settings.
struct Ctx {
    json: bool,
    quiet: bool,
    dry_run: bool,
    bars: bool,
    profile: Option<String>,
}

impl Ctx {
    /// A confirmation line (hidden by --quiet and --json).
    fn say(&self, line: impl AsRef<str>) {
        if !self.json && !self.quiet {
            println!("{}", line.as_ref());
        }
    }

    /// A line of data (hidden only by --json, which carries it in the document).
    fn data(&self, line: impl AsRef<str>) {
        if !self.json {
            println!("{}", line.as_ref());
        }
    }

    async fn session(&self) -> Result<Session, Error> {
        Session::open(self.profile.as_deref()).await
    }

    fn would(&self, done: &str, planned: &str) -> String {
        if self.dry_run {
            format!("would {planned}")
        } else {
            done.to_string()
        }
    }
}

/// A failed command: the error, and for batches the document of what did succeed.
struct Failed {
    error: Error,
    partial: Option<Value>,
    printed: bool,
}

impl<E: Into<Error>> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed {
            error: e.into(),
            partial: None,
            printed: false,
        }
    }
}

type CmdResult = Result<Value, Failed>;

/// Large transfer buffers (S3 parts, TUS chunks) must go back to the OS when freed. glibc
/// raises its mmap threshold after the first free of a big block and then keeps such blocks
/// in per-thread arenas, which doubled peak memory on large uploads; a fixed threshold stops
/// that.
fn bound_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called once before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn main() -> ExitCode {
    bound_allocator_retention();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let usage = !matches!(e.kind(), K::DisplayHelp | K::DisplayVersion)
                && !matches!(e.kind(), K::DisplayHelpOnMissingArgumentOrSubcommand);
            // Scripts asked for JSON get it for usage errors too (clap prints the text).
            if usage && std::env::args().any(|a| a == "--json") {
                let message = e.kind().as_str().unwrap_or("invalid arguments").to_string();
                println!(
                    "{}",
                    json!({"error": {"kind": "usage", "exit_code": 2, "message": message}})
                );
            }
            e.exit();
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOWAGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .init();
    let ctx = Ctx {
        json: cli.json,
        quiet: cli.quiet,
        dry_run: cli.dry_run,
        bars: !cli.json
            && !cli.quiet
            && std::io::stdout().is_terminal()
            && std::io::stderr().is_terminal(),
        profile: cli.profile,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(&ctx, cli.command) => Some(r),
            // Dropping the command removes its temporary files; uploads resume next time.
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        None => {
            eprintln!("error: interrupted; no partial file was kept. Next: run the command again (large uploads resume)");
            ExitCode::from(exit::INTERRUPTED)
        }
        Some(Ok(doc)) => {
            if ctx.json {
                println!("{doc}");
            }
            ExitCode::SUCCESS
        }
        Some(Err(f)) => {
            if !f.printed {
                eprintln!("error: {}", f.error);
            } else if let Error::Several { failed, total, .. } = &f.error {
                eprintln!("error: {failed} of {total} failed (see above)");
            }
            if ctx.json {
                let mut doc = f.partial.unwrap_or_else(|| json!({}));
                doc["error"] = error_json(&f.error);
                println!("{doc}");
            }
            ExitCode::from(exit::code_for(&f.error))
        }
    }
}

async fn run(ctx: &Ctx, command: Command) -> CmdResult {
    match command {
        Command::Buckets(c) => buckets(ctx, c).await,
        Command::Put(a) => put(ctx, a).await,
        Command::Get(a) => get(ctx, a).await,
        Command::Ls(a) => ls(ctx, a).await,
        Command::Rm(a) => rm(ctx, a).await,
        Command::Mv(a) => copy(ctx, a, true).await,
        Command::Cp(a) => copy(ctx, a, false).await,
        Command::Url(a) => url(ctx, a).await,
        Command::Profile(ProfileCommand::Ls) => profiles(ctx),
    }
}

fn error_json(e: &Error) -> Value {
    let mut v = json!({
        "kind": exit::kind_name(e),
        "exit_code": exit::code_for(e),
        "message": e.to_string(),
    });
    match e {
        Error::Store { source, file } => {
            v["provider"] = json!(source.provider);
            v["bucket"] = json!(source.bucket);
            v["key"] = json!(source.key);
            v["hint"] = json!(source.hint);
            v["file"] = json!(file);
        }
        Error::Several { failed, total, .. } => {
            v["failed"] = json!(failed);
            v["total"] = json!(total);
        }
        Error::Config(_) | Error::Usage(_) => {}
    }
    v
}

/// Print each item's outcome (or error) and build the command's document under `key`.
fn batch<T: Serialize>(
    ctx: &Ctx,
    key: &str,
    results: Vec<Result<T, Error>>,
    describe: impl Fn(&T) -> String,
) -> CmdResult {
    let total = results.len();
    let mut items = Vec::with_capacity(total);
    let mut failed = 0;
    let mut first = None;
    for r in results {
        match r {
            Ok(o) => {
                ctx.say(describe(&o));
                let mut v = serde_json::to_value(&o).expect("serialisable");
                v["ok"] = json!(true);
                items.push(v);
            }
            Err(e) => {
                eprintln!("error: {e}");
                items.push(json!({"ok": false, "error": error_json(&e)}));
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    let doc = json!({ key: items, "dry_run": ctx.dry_run });
    match first {
        None => Ok(doc),
        Some(e) => Err(Failed {
            error: if total == 1 {
                e
            } else {
                Error::Several {
                    failed,
                    total,
                    first: Box::new(e),
                }
            },
            partial: Some(doc),
            printed: true,
        }),
    }
}

async fn put(ctx: &Ctx, a: PutArgs) -> CmdResult {
    let session = ctx.session().await?;
    let dest = Location::parse(&a.dest)?;
    let items = transfer::plan_put(&a.files, &dest)?;
    let labels = items
        .iter()
        .map(|i| i.key.file_name().to_string())
        .collect();
    let bars = Bars::new(labels, "uploading", ctx.bars);
    let options = PutFilesOptions {
        overwrite: a.overwrite,
        content_type: a.content_type,
        dry_run: ctx.dry_run,
        create_bucket: session.creates_buckets(),
        ..Default::default()
    };
    let results = transfer::put_files(&*session.store, &items, &options, bars.callback()).await;
    let verb = ctx.would("uploaded", "upload");
    batch(ctx, "uploaded", results, |o| {
        let mut notes = vec![HumanBytes(o.size).to_string()];
        if o.sha256.is_some() {
            notes.push("SHA-256 verified".into());
        }
        if o.resumed_from > 0 {
            notes.push(format!("resumed after {}", HumanBytes(o.resumed_from)));
        }
        if o.replaced {
            notes.push("replacing the old one".into());
        }
        format!(
            "{verb} {} → {}/{} ({})",
            o.file.display(),
            o.bucket,
            o.key,
            notes.join(", ")
        )
    })
}

async fn get(ctx: &Ctx, a: GetArgs) -> CmdResult {
    let session = ctx.session().await?;
    let src = Location::parse(&a.src)?;
    let items = transfer::plan_get(&*session.store, &src, a.dest.as_deref(), a.recursive).await?;
    let labels = items
        .iter()
        .map(|i| i.key.file_name().to_string())
        .collect();
    let bars = Bars::new(labels, "downloading", ctx.bars);
    let options = GetFilesOptions {
        force: a.force,
        dry_run: ctx.dry_run,
        ..Default::default()
    };
    let results = transfer::get_files(&*session.store, &items, &options, bars.callback()).await;
    let verb = ctx.would("downloaded", "download");
    batch(ctx, "downloaded", results, |o| {
        format!(
            "{verb} {}/{} → {} ({}{})",
            o.bucket,
            o.key,
            o.file.display(),
            HumanBytes(o.size),
            if o.verified { ", SHA-256 verified" } else { "" }
        )
    })
}

async fn ls(ctx: &Ctx, a: LsArgs) -> CmdResult {
    let session = ctx.session().await?;
    let Some(raw) = a.location else {
        let buckets = transfer::list_buckets(&*session.store).await?;
        for b in &buckets {
            ctx.data(match b.public {
                Some(true) => format!("{}  (public)", b.name),
                _ => b.name.clone(),
            });
        }
        return Ok(json!({ "buckets": buckets }));
    };
    let loc = Location::parse(&raw)?;
    let entries = transfer::list(&*session.store, &loc, a.recursive).await?;
    let format =
        time::format_description::parse_borrowed::<2>("[year]-[month]-[day] [hour]:[minute]")
            .expect("valid format");
    for e in &entries {
        let size = e
            .size
            .map_or("-".to_string(), |s| HumanBytes(s).to_string());
        let date = e
            .last_modified
            .and_then(|d| d.format(&format).ok())
            .unwrap_or_else(|| "-".into());
        ctx.data(format!("{size:>11}  {date:<16}  {}/{}", loc.bucket, e.name));
    }
    Ok(
        json!({ "bucket": loc.bucket, "prefix": loc.path, "recursive": a.recursive, "entries": entries }),
    )
}

async fn rm(ctx: &Ctx, a: RmArgs) -> CmdResult {
    let session = ctx.session().await?;
    let mut results = Vec::with_capacity(a.paths.len());
    for raw in &a.paths {
        let r = match Location::parse(raw) {
            Ok(loc) => transfer::remove(&*session.store, &loc, a.recursive, ctx.dry_run).await,
            Err(e) => Err(e),
        };
        results.push(r);
    }
    let verb = ctx.would("removed", "remove");
    batch(ctx, "removed", results, |o| {
        o.keys
            .iter()
            .map(|k| format!("{verb} {}/{k}", o.bucket))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

async fn copy(ctx: &Ctx, a: CopyArgs, move_: bool) -> CmdResult {
    let session = ctx.session().await?;
    let from = Location::parse(&a.src)?;
    let to = Location::parse(&a.dst)?;
    let o = transfer::copy(&*session.store, &from, &to, a.overwrite, move_, ctx.dry_run).await?;
    let verb = match move_ {
        true => ctx.would("moved", "move"),
        false => ctx.would("copied", "copy"),
    };
    ctx.say(format!("{verb} {} → {}", o.from, o.to));
    Ok(serde_json::to_value(o).expect("serialisable"))
}

async fn url(ctx: &Ctx, a: UrlArgs) -> CmdResult {
    let expires = stowage_core::parse_duration(&a.expires)?;
    let session = ctx.session().await?;
    let loc = Location::parse(&a.path)?;
    let method = if a.put {
        UrlMethod::Put
    } else {
        UrlMethod::Get
    };
    let signed = transfer::signed_url(&*session.store, &loc, method, expires).await?;
    ctx.data(&signed.url);
    if !ctx.json && !ctx.quiet {
        eprintln!("expires {} ({})", signed.expires_at, a.expires);
    }
    Ok(serde_json::to_value(signed).expect("serialisable"))
}

async fn buckets(ctx: &Ctx, c: BucketsCommand) -> CmdResult {
    let session = ctx.session().await?;
    let store = &*session.store;
    match c {
        BucketsCommand::Ls => {
            let buckets = transfer::list_buckets(store).await?;
            for b in &buckets {
                ctx.data(&b.name);
            }
            Ok(json!({ "buckets": buckets }))
        }
        BucketsCommand::Create { name, public } => {
            transfer::create_bucket(store, &name, public, ctx.dry_run).await?;
            ctx.say(format!(
                "{} {name} ({}) on {}",
                ctx.would("created bucket", "create bucket"),
                if public { "public" } else { "private" },
                store.provider()
            ));
            Ok(
                json!({ "bucket": name, "public": public, "created": !ctx.dry_run, "dry_run": ctx.dry_run }),
            )
        }
        BucketsCommand::Rm { name } => {
            transfer::delete_bucket(store, &name, ctx.dry_run).await?;
            ctx.say(format!(
                "{} {name} on {}",
                ctx.would("deleted bucket", "delete bucket"),
                store.provider()
            ));
            Ok(json!({ "bucket": name, "deleted": !ctx.dry_run, "dry_run": ctx.dry_run }))
        }
    }
}

fn profiles(ctx: &Ctx) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let env = std::env::var("STOWAGE_PROFILE").ok();
    let selected = config.select(ctx.profile.as_deref(), env.as_deref());
    let (sel_name, sel_why) = match &selected {
        Ok((p, why)) => (Some(p.name.clone()), Some(*why)),
        Err(_) => (None, None),
    };
    let mut list = Vec::new();
    for p in config.profiles.values() {
        let mut v = serde_json::to_value(p).expect("serialisable");
        v["credentials"] = json!(stowage_core::credential_source(p));
        v["selected"] = json!(sel_name.as_deref() == Some(&p.name));
        let source = match p.source {
            stowage_core::config::ProfileSource::Embedded => "built in".to_string(),
            stowage_core::config::ProfileSource::ConfigFile => config.file.display().to_string(),
        };
        let details = v
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, v)| {
                !matches!(
                    k.as_str(),
                    "name" | "kind" | "source" | "credentials" | "selected"
                ) && !v.is_null()
            })
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        ctx.data(format!(
            "{} {:<12} {:<9} {}\n    from: {source}\n    credentials: {}",
            if sel_name.as_deref() == Some(&p.name) {
                "*"
            } else {
                " "
            },
            p.name,
            p.backend.kind(),
            details,
            stowage_core::credential_source(p),
        ));
        list.push(v);
    }
    let file_note = if config.file_exists {
        ""
    } else {
        " (not present: only the built-in profile)"
    };
    ctx.data(format!("config file: {}{file_note}", config.file.display()));
    match (&sel_name, sel_why) {
        (Some(n), Some(why)) => ctx.data(format!("selected: {n} (by {why})")),
        _ => {
            if let Err(e) = &selected {
                eprintln!("warning: {e}");
            }
        }
    }
    Ok(json!({
        "config_file": config.file,
        "config_file_exists": config.file_exists,
        "selected": sel_name,
        "selected_by": sel_why,
        "profiles": list,
    }))
}
