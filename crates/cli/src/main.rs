//! `stowage`: the command line. Every subcommand is a thin call into stowage-core; this file
//! parses arguments, draws progress and prints results (text or one JSON document).

mod exit;
mod migrate;
mod profile;
mod progress;
mod watch;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::HumanBytes;
use serde::Serialize;
use serde_json::{json, Value};
use stowage_core::catalog::{self, Activity, Catalog};
use stowage_core::cost::Direction;
use stowage_core::record::Write;
use stowage_core::sync;
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
the config folder (see `stowage profile ls`); secrets never do: `stowage login` keeps them
in the OS keyring, else they come from the environment (AWS_* or ~/.aws for S3,
SUPABASE_SERVICE_ROLE_KEY for Supabase).";

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
    /// Estimate storage, egress and request costs from the catalog, with growth and forecast.
    Cost(CostArgs),
    /// List, add, show or remove profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Keep a profile's secrets in the OS keyring (asked without echo, or --stdin).
    Login(profile::LoginArgs),
    /// Sync a project folder by policy: classify, version, compress, upload, record.
    Sync(SyncArgs),
    /// Keep project folders synced: upload whatever settles in them, by policy, until Ctrl-C.
    Watch(watch::WatchArgs),
    /// Show, retry or cancel the auto-sync queue's transfers.
    #[command(subcommand)]
    Queue(watch::QueueCommand),
    /// List an artifact's versions with sizes, locations, labels and metrics.
    Versions(VersionsArgs),
    /// Download a recorded version (decompressed) to a local file.
    Restore(RestoreArgs),
    /// Point a label (e.g. `production`) at a version; the label moves if set.
    Label(LabelArgs),
    /// Delete old versions' objects: never a labelled one, never the latest.
    Gc(GcArgs),
    /// Say which policy rule a file matches, where it would go and why (uploads nothing).
    Explain(ExplainArgs),
    /// Copy objects from one profile to another, verified by SHA-256 (resumes; --delete-source moves).
    Migrate(migrate::MigrateArgs),
    /// Compare the catalog with each provider: missing, different and extra objects (--fix re-copies).
    Verify(migrate::VerifyArgs),
    /// List or clean the local download cache.
    #[command(subcommand)]
    Cache(migrate::CacheCommand),
}

#[derive(Subcommand)]
enum BucketsCommand {
    /// List buckets.
    Ls,
    /// Create a bucket (private unless --public).
    Create {
        /// The bucket's name: 3-63 lowercase letters, digits, `-` and `.` (S3, local); Supabase
        /// also takes capitals, `_` and more (`user_uploads`, `Avatars`).
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
    /// Add a profile to config.toml (no secrets: `stowage login` keeps those in the keyring).
    Add(profile::AddArgs),
    /// Show a profile's settings and where each credential comes from (never a value).
    Show {
        /// The profile [default: the selected one].
        name: Option<String>,
    },
    /// Remove a profile from config.toml and its secrets from the keyring.
    Rm {
        /// The profile.
        name: String,
    },
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
    /// Upload each folder as one `<name>.tar.gz` artifact (restore with `get --extract`).
    #[arg(long)]
    archive: bool,
    /// Gzip every file on the way (its key gains `.gz`; `get` restores it). Without
    /// --compress or --no-compress, policy.toml decides, as for `sync`.
    #[arg(long, conflicts_with = "no_compress")]
    compress: bool,
    /// Store every file as it is; a plain file is then refused for a key ending in `.gz`
    /// (such a key is always given gzip bytes).
    #[arg(long)]
    no_compress: bool,
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
    /// Keep gzipped objects as stored. Without it, a key ending in .gz (not .tar.gz) is
    /// decompressed (`get B/data.json.gz` writes data.json; an explicit DEST is used as
    /// named), and `get B/data.json` falls back to B/data.json.gz when only that exists.
    #[arg(long)]
    raw: bool,
    /// Unpack a `.tar.gz` artifact (from `put --archive`) into the folder DEST
    /// [default: its name without .tar.gz]; DEST must be empty or new unless --force.
    #[arg(long, conflicts_with_all = ["recursive", "raw"])]
    extract: bool,
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
    #[arg(required_unless_present = "version", value_name = "PATH")]
    paths: Vec<String>,
    /// Remove folders and everything in them.
    #[arg(short, long)]
    recursive: bool,
    /// Delete a recorded version instead: every stored copy and its catalog row together
    /// (FAMILY@VERSION, or FOLDER/FAMILY@VERSION when the family is in several folders).
    #[arg(long, value_name = "FAMILY@VERSION", conflicts_with_all = ["paths", "recursive"])]
    version: Vec<String>,
    /// The artifact's organization, with --version, when the family exists in several.
    #[arg(long, value_name = "ORG", requires = "version")]
    org: Option<String>,
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

#[derive(Args)]
struct ExplainArgs {
    /// Files to classify; their paths count from the current folder.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Organization prefix for keys [default: `org` in policy.toml].
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
}

#[derive(Args)]
struct SyncArgs {
    /// The project folder (e.g. `.beast-mode`), walked recursively.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Organization prefix for keys [default: the organization the profile is bound to, else
    /// `org` in policy.toml].
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// Create the bucket when it does not exist.
    #[arg(long)]
    create_bucket: bool,
}

#[derive(Args)]
struct VersionsArgs {
    /// The artifact family, e.g. `model-notable-quality` [default: every family].
    #[arg(value_name = "FAMILY")]
    family: Option<String>,
    /// Order: version (newest first), created, accuracy (highest first) or loss (lowest first).
    #[arg(long, default_value = "version", value_name = "BY")]
    sort: String,
    /// Keep versions whose metric compares so, e.g. `accuracy>0.9` (repeatable).
    #[arg(long, value_name = "COND")]
    filter: Vec<String>,
    /// Show at most this many.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Only this organization's artifacts.
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
}

#[derive(Args)]
struct RestoreArgs {
    /// FAMILY (the latest), FAMILY@VERSION or FAMILY@LABEL.
    #[arg(value_name = "FAMILY[@VERSION|@LABEL]")]
    spec: String,
    /// A file, or a folder to restore into [default: the original name, here].
    #[arg(value_name = "DEST")]
    dest: Option<PathBuf>,
    /// Replace a local file that exists.
    #[arg(long)]
    force: bool,
    /// The artifact's organization, when the family exists in several.
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
}

#[derive(Args)]
struct LabelArgs {
    /// FAMILY@VERSION.
    #[arg(value_name = "FAMILY@VERSION")]
    spec: String,
    /// The label, e.g. `production`; a label names one version per family, so it moves.
    #[arg(value_name = "NAME")]
    name: String,
    /// The artifact's organization, when the family exists in several.
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
}

#[derive(Args)]
struct GcArgs {
    /// Keep this many newest versions of each family.
    #[arg(long, value_name = "N")]
    keep_last: usize,
    /// Only remove versions recorded longer ago than this: 30d, 12h…
    #[arg(long, value_name = "DURATION")]
    older_than: String,
    /// Only this family [default: every family].
    #[arg(value_name = "FAMILY")]
    family: Option<String>,
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
            out(line.as_ref());
        }
    }

    /// A line of data (hidden only by --json, which carries it in the document).
    fn data(&self, line: impl AsRef<str>) {
        if !self.json {
            out(line.as_ref());
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
                out(json!({"error": {"kind": "usage", "exit_code": 2, "message": message}}));
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
    // `watch` handles Ctrl-C itself: its in-flight transfers go back to the queue.
    let handles_ctrl_c = matches!(cli.command, Command::Watch(_));
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(&ctx, cli.command) => Some(r),
            // Dropping the command removes its temporary files; uploads resume next time.
            _ = tokio::signal::ctrl_c(), if !handles_ctrl_c => None,
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
                out(&doc);
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
                out(&doc);
            }
            ExitCode::from(exit::code_for(&f.error))
        }
    }
}

/// Write one line to stdout. A reader that went away (`stowage ls | head`) ends the process
/// quietly with [`exit::BROKEN_PIPE`] (141, what a shell reports for coreutils killed by
/// SIGPIPE): the output was cut, so scripts under `set -o pipefail` still see it.
pub(crate) fn out(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(exit::BROKEN_PIPE.into());
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
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
        Command::Cost(a) => cost(ctx, a),
        Command::Profile(ProfileCommand::Ls) => profiles(ctx),
        Command::Profile(ProfileCommand::Add(a)) => profile::add(ctx, a),
        Command::Profile(ProfileCommand::Show { name }) => profile::show(ctx, name),
        Command::Profile(ProfileCommand::Rm { name }) => profile::rm(ctx, name),
        Command::Login(a) => profile::login(ctx, a),
        Command::Sync(a) => sync_cmd(ctx, a).await,
        Command::Watch(a) => watch::watch_cmd(ctx, a).await,
        Command::Queue(c) => watch::queue_cmd(ctx, c).await,
        Command::Versions(a) => versions_cmd(ctx, a),
        Command::Restore(a) => restore_cmd(ctx, a).await,
        Command::Label(a) => label_cmd(ctx, a),
        Command::Gc(a) => gc_cmd(ctx, a).await,
        Command::Explain(a) => explain(ctx, a),
        Command::Migrate(a) => migrate::migrate_cmd(ctx, a).await,
        Command::Verify(a) => migrate::verify_cmd(ctx, a).await,
        Command::Cache(c) => migrate::cache_cmd(ctx, c),
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
            v["hint"] = json!(source.next_step());
            v["file"] = json!(file);
        }
        Error::Several { failed, total, .. } => {
            v["failed"] = json!(failed);
            v["total"] = json!(total);
        }
        Error::Config(_) | Error::Usage(_) => {}
    }
    // Every error's next step is in `hint` when its message gives one.
    if v["hint"].is_null() {
        if let Some((_, next)) = e.to_string().rsplit_once("Next: ") {
            v["hint"] = json!(next);
        }
    }
    v
}

/// The result of a command over several items: the document, or the first failure (counted
/// against the total) with the document of what did succeed.
fn finish(doc: Value, first: Option<Error>, failed: usize, total: usize) -> CmdResult {
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
    finish(doc, first, failed, total)
}

async fn put(ctx: &Ctx, a: PutArgs) -> CmdResult {
    let session = ctx.session().await?;
    let dest = Location::parse(&a.dest)?;
    // The archives live in `_packed` until the upload ends.
    let (_packed, files) = if a.archive {
        let (dir, archives) = transfer::archive_folders(&a.files).await?;
        (Some(dir), archives)
    } else {
        (None, a.files)
    };
    let mut items = transfer::plan_put(&files, &dest)?;
    let compress = match (a.compress, a.no_compress) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    if compress.is_none() {
        policy_compression(&mut items);
    }
    for warning in items.iter().filter_map(|i| i.key.portability_warning()) {
        eprintln!("warning: {warning}");
    }
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
        compress,
        ..Default::default()
    };
    let results = transfer::put_files(&*session.store, &items, &options, bars.callback()).await;
    let packed = a.archive;
    record(
        ctx,
        &session,
        results
            .iter()
            .flatten()
            .filter(|o| !o.dry_run)
            .filter_map(|o| {
                Some(Write::Stored {
                    bucket: o.bucket.clone(),
                    key: o.key.clone(),
                    size: o.size,
                    sha256: o.sha256.clone()?,
                    etag: o.etag.clone(),
                    sent: o.size - o.resumed_from,
                    // An archive's file is a temporary one.
                    file: (!packed).then(|| o.file.clone()),
                    gzipped_from: o.compressed_from.zip(o.original_sha256.clone()),
                })
            }),
    );
    let verb = ctx.would("uploaded", "upload");
    batch(ctx, "uploaded", results, |o| {
        let mut notes = vec![HumanBytes(o.size).to_string()];
        if o.sha256.is_some() {
            notes.push("SHA-256 verified".into());
        }
        if let Some(original) = o.compressed_from {
            notes.push(format!("gzipped from {}", HumanBytes(original)));
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

/// Mark the files policy.toml would store gzipped (as `sync` decides: the matching rule, then
/// the content). A policy that cannot be read leaves every file as it is, with a warning.
fn policy_compression(items: &mut [transfer::PutItem]) {
    use stowage_core::{compress, policy::Policy};
    let policy = match Paths::from_env().and_then(|p| Policy::load(&p)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warning: no automatic compression: {e}");
            return;
        }
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    for item in items {
        let rel = relative_path(&cwd, &item.file);
        let d = policy.explain(&rel, item.size, None).decision;
        // A rule that uploads decides; a file `sync` would keep local still goes up here,
        // and then the automatic rule (text from compress_min_size) decides alone.
        if d.destination.uploads() && !d.compress {
            continue;
        }
        if let Ok(head) = compress::sniff(&item.file) {
            item.compress =
                compress::decide(&item.file, &head, item.size, policy.compress_min_size).compress;
        }
    }
}

async fn get(ctx: &Ctx, a: GetArgs) -> CmdResult {
    if a.dest.as_deref() == Some(std::path::Path::new("-")) {
        return get_to_stdout(ctx, a).await;
    }
    let session = ctx.session().await?;
    let src = Location::parse(&a.src)?;
    if a.extract {
        let path = src.object()?;
        let name = path.key.file_name();
        let dest = a
            .dest
            .clone()
            .unwrap_or_else(|| PathBuf::from(name.strip_suffix(".tar.gz").unwrap_or(name)));
        let results = if ctx.dry_run {
            vec![transfer::plan_get_with(&*session.store, &src, Some(&dest), false, true)
                .await
                .map(|_| ())
                .map(|()| json!({"bucket": path.bucket, "key": path.key.as_str(), "folder": dest}))]
        } else {
            let bars = Bars::new(vec![name.to_string()], "downloading", ctx.bars);
            vec![transfer::get_and_extract(&*session.store, &path, &dest, a.force, bars.callback())
                .await
                .map(|o| json!({"bucket": o.bucket, "key": o.key, "folder": o.file, "size": o.stored_size}))]
        };
        let verb = ctx.would("extracted", "extract");
        return batch(ctx, "extracted", results, |o| {
            format!(
                "{verb} {}/{} → {}/",
                o["bucket"].as_str().unwrap_or(""),
                o["key"].as_str().unwrap_or(""),
                o["folder"].as_str().unwrap_or("")
            )
        });
    }
    let items =
        transfer::plan_get_with(&*session.store, &src, a.dest.as_deref(), a.recursive, a.raw)
            .await?;
    let labels = items
        .iter()
        .map(|i| i.key.file_name().to_string())
        .collect();
    let bars = Bars::new(labels, "downloading", ctx.bars);
    let options = GetFilesOptions {
        force: a.force,
        dry_run: ctx.dry_run,
        raw: a.raw,
        ..Default::default()
    };
    let results = migrate::get_read(ctx, &session, &items, &options, bars.callback()).await;
    remember(
        ctx,
        &session,
        results
            .iter()
            .flatten()
            .filter(|o| !o.dry_run)
            .map(|o| Activity {
                action: "get",
                bucket: o.bucket.clone(),
                key: o.key.clone(),
                moved: Some((Direction::Download, o.stored_size)),
            }),
    );
    let verb = ctx.would("downloaded", "download");
    batch(ctx, "downloaded", results, |o| {
        format!(
            "{verb} {}/{} → {} ({}{}{})",
            o.bucket,
            o.key,
            o.file.display(),
            HumanBytes(o.size),
            if o.decompressed {
                format!(", decompressed from {}", HumanBytes(o.stored_size))
            } else {
                String::new()
            },
            checked(o)
        )
    })
}

/// How a download was checked, for its line: the checksum that matched, or a plain word that
/// nothing could be (an object another tool wrote, with no SHA-256 and no MD5 ETag).
fn checked(o: &transfer::GetOutcome) -> String {
    match o.checksum {
        Some(c) => format!(", {c} verified"),
        None if o.dry_run => String::new(),
        None => ", not verified: the provider gave no checksum for it".into(),
    }
}

/// `get BUCKET/KEY -`: the object on stdout, as other tools do. It is downloaded and verified
/// into a private temporary file first, so nothing unverified ever reaches the reader.
async fn get_to_stdout(ctx: &Ctx, a: GetArgs) -> CmdResult {
    if a.recursive || a.extract || ctx.json || ctx.dry_run {
        return Err(Error::Usage(
            "`-` writes one object to stdout; it does not go with --recursive, --extract, \
             --json or --dry-run"
                .into(),
        )
        .into());
    }
    let session = ctx.session().await?;
    let src = Location::parse(&a.src)?;
    let dir = session
        .paths
        .cache_dir
        .join(format!("stdout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let cleanup = Cleanup(dir.clone());
    let file = dir.join("object");
    let items = transfer::plan_get_with(&*session.store, &src, Some(&file), false, a.raw).await?;
    let options = GetFilesOptions {
        force: true,
        raw: a.raw,
        ..Default::default()
    };
    let bars = Bars::new(vec![src.to_string()], "downloading", false);
    let mut results = migrate::get_read(ctx, &session, &items, &options, bars.callback()).await;
    let o = match results.pop() {
        Some(Ok(o)) => o,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(Error::Usage(format!("`{}` names no object", a.src)).into()),
    };
    let copied = std::fs::File::open(&o.file).and_then(|mut f| {
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut f, &mut stdout)?;
        std::io::Write::flush(&mut stdout)
    });
    match copied {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            drop(cleanup);
            std::process::exit(exit::BROKEN_PIPE.into());
        }
        Err(e) => return Err(Error::Usage(format!("cannot write to stdout: {e}")).into()),
    }
    remember(
        ctx,
        &session,
        [Activity {
            action: "get",
            bucket: o.bucket.clone(),
            key: o.key.clone(),
            moved: Some((Direction::Download, o.stored_size)),
        }],
    );
    if !ctx.quiet {
        eprintln!(
            "downloaded {}/{} → stdout ({}{})",
            o.bucket,
            o.key,
            HumanBytes(o.size),
            checked(&o)
        );
    }
    Ok(json!({}))
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

/// Record what a command wrote in the catalog (locations, versions, transfers, audit). The
/// write itself already succeeded, so a catalog that cannot be written is a warning, not a
/// failure: `stowage verify` then reports what the catalog lacks.
fn record(ctx: &Ctx, session: &Session, writes: impl IntoIterator<Item = Write>) {
    let writes: Vec<Write> = writes.into_iter().collect();
    if let Err(e) = session.record_writes(&writes) {
        if !ctx.quiet {
            eprintln!("warning: the catalog did not record this: {e}");
        }
    }
}

/// Record a command's activity in the catalog. The transfer itself already succeeded, so a
/// catalog that cannot be written is a warning, not a failure.
fn remember(ctx: &Ctx, session: &Session, activity: impl IntoIterator<Item = Activity>) {
    let activity: Vec<Activity> = activity.into_iter().collect();
    if let Err(e) = session.record(&activity) {
        if !ctx.quiet {
            eprintln!("warning: the catalog did not record this: {e}");
        }
    }
}

async fn rm(ctx: &Ctx, a: RmArgs) -> CmdResult {
    if !a.version.is_empty() {
        return rm_versions(ctx, a).await;
    }
    let session = ctx.session().await?;
    let mut results = Vec::with_capacity(a.paths.len());
    for raw in &a.paths {
        let r = match Location::parse(raw) {
            Ok(loc) => transfer::remove(&*session.store, &loc, a.recursive, ctx.dry_run).await,
            Err(e) => Err(e),
        };
        results.push(r);
    }
    record(
        ctx,
        &session,
        results
            .iter()
            .flatten()
            .filter(|o| !o.dry_run)
            .flat_map(|o| {
                o.keys.iter().map(|k| Write::Deleted {
                    bucket: o.bucket.clone(),
                    key: k.clone(),
                })
            }),
    );
    let verb = ctx.would("removed", "remove");
    batch(ctx, "removed", results, |o| {
        o.keys
            .iter()
            .map(|k| format!("{verb} {}/{k}", o.bucket))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `rm --version FAMILY@VERSION…`: delete each version's stored copies and its catalog row.
async fn rm_versions(ctx: &Ctx, a: RmArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let org = org_arg(a.org.as_deref())?;
    let catalog = if ctx.dry_run {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    let mut results = Vec::with_capacity(a.version.len());
    for spec in &a.version {
        let (family, which) = family_at(spec);
        let r = match which {
            None => Err(Error::Usage(format!(
                "`{spec}` names no version; write FAMILY@VERSION, e.g. `{family}@v2` \
                 (`stowage versions {family}` lists them)"
            ))),
            Some(w) => match catalog.resolve(org.as_deref(), family, Some(w)) {
                Ok(v) => {
                    let profiles = v.locations.iter().map(|l| l.profile.clone());
                    let stores = stores_for(&config, &paths, profiles).await;
                    sync::remove_version(&catalog, &v, &stores, ctx.dry_run, "delete")
                        .await
                        .map(|c| {
                            json!({
                                "artifact": v.artifact, "version": c.version,
                                "objects": c.objects, "bytes": c.bytes
                            })
                        })
                }
                Err(e) => Err(e),
            },
        };
        results.push(r);
    }
    let verb = ctx.would("deleted", "delete");
    batch(ctx, "deleted", results, |d| {
        let objects: Vec<&str> = d["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut line = format!(
            "{verb} {}@{}",
            d["artifact"].as_str().unwrap_or(""),
            d["version"].as_str().unwrap_or("")
        );
        if objects.is_empty() {
            line.push_str(" (no stored copy)");
        } else {
            line.push_str(&format!(
                " ({}: {})",
                HumanBytes(d["bytes"].as_u64().unwrap_or(0)),
                objects.join(", ")
            ));
        }
        line
    })
}

async fn copy(ctx: &Ctx, a: CopyArgs, move_: bool) -> CmdResult {
    let session = ctx.session().await?;
    let from = Location::parse(&a.src)?;
    let to = Location::parse(&a.dst)?;
    let o = transfer::copy(&*session.store, &from, &to, a.overwrite, move_, ctx.dry_run).await?;
    if !o.dry_run {
        let split = |p: &str| {
            let (b, k) = p.split_once('/').unwrap_or((p, ""));
            (b.to_string(), k.to_string())
        };
        let ((bucket, key), (to_bucket, to_key)) = (split(&o.from), split(&o.to));
        record(
            ctx,
            &session,
            [Write::Copied {
                bucket,
                key,
                to_bucket,
                to_key,
                moved: move_,
            }],
        );
    }
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
    let read = migrate::url_read(ctx, &session, &loc, method, expires).await?;
    let signed = &read.url;
    if let Ok(path) = loc.object() {
        remember(
            ctx,
            &session,
            [Activity {
                action: "url",
                bucket: path.bucket,
                key: path.key.to_string(),
                moved: None,
            }],
        );
    }
    ctx.data(&signed.url);
    if !ctx.json && !ctx.quiet {
        let when = signed
            .expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| signed.expires_at.to_string());
        eprintln!("expires {when} ({})", a.expires);
    }
    Ok(serde_json::to_value(&read).expect("serialisable"))
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

/// `explain FILE…`: the policy's decision for each file, with the rules it passed over.
fn explain(ctx: &Ctx, a: ExplainArgs) -> CmdResult {
    use stowage_core::policy::{self, Policy};
    let paths = Paths::from_env()?;
    let policy = Policy::load(&paths)?;
    let org = a
        .org
        .as_deref()
        .map(policy::validate_org)
        .transpose()
        .map_err(|m| Error::Usage(format!("--org: {m}")))?;
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the current folder: {e}")))?;
    let from = policy
        .source
        .as_ref()
        .map_or("built-in defaults".to_string(), |p| p.display().to_string());
    ctx.data(format!("policy: {from}"));
    let (total, mut failed, mut first, mut items) = (a.files.len(), 0, None, Vec::new());
    for file in &a.files {
        let size = match std::fs::metadata(file) {
            Ok(m) if m.is_dir() => Err(Error::Usage(format!(
                "{} is a folder; explain takes files (try `{}/*`)",
                file.display(),
                file.display()
            ))),
            Ok(m) => Ok(m.len()),
            Err(e) => {
                let kind = if e.kind() == std::io::ErrorKind::NotFound {
                    stowage_store::ErrorKind::NotFound
                } else {
                    stowage_store::ErrorKind::Other
                };
                Err(Error::from(
                    stowage_store::Error::new(kind, "local file", e.to_string())
                        .hint("check the path"),
                )
                .with_file(file))
            }
        };
        let size = match size {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                items.push(json!({"file": file, "ok": false, "error": error_json(&e)}));
                failed += 1;
                first.get_or_insert(e);
                continue;
            }
        };
        let rel = relative_path(&cwd, file);
        let e = policy.explain(&rel, size, org.as_deref());
        let d = &e.decision;
        let key = match (&d.key, &d.key_error) {
            (Some(k), _) if d.compress => format!("{k} (stored with .gz appended)"),
            (Some(k), _) => k.clone(),
            (None, Some(why)) => format!("none: {why}"),
            (None, None) => "none (not uploaded)".into(),
        };
        let mut text = format!(
            "{rel}\n  rule:        {} ({})\n  kind:        {}\n  size:        {} ({} bytes)\n  \
             destination: {}\n  key:         {key}\n  compress:    {}",
            d.rule,
            e.matched,
            d.kind,
            policy::human_size(size),
            size,
            d.destination,
            if d.compress { "yes (gzip)" } else { "no" },
        );
        for (rule, why) in &e.skipped {
            text.push_str(&format!("\n  skipped {rule}: {why}"));
        }
        ctx.data(text);
        let mut v = serde_json::to_value(&e).expect("serialisable");
        v["file"] = json!(file);
        v["path"] = json!(rel);
        v["ok"] = json!(true);
        items.push(v);
    }
    let doc = json!({ "policy": policy.source, "files": items });
    finish(doc, first, failed, total)
}

/// `file` relative to `cwd` with `/` separators, `.` and `..` resolved lexically; a file
/// outside `cwd` keeps its whole path so folder patterns like `cache/**` still apply.
fn relative_path(cwd: &std::path::Path, file: &std::path::Path) -> String {
    use std::path::Component;
    let joined = cwd.join(file);
    let mut parts: Vec<Component> = Vec::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let normal: PathBuf = parts.iter().collect();
    let rel = normal.strip_prefix(cwd).unwrap_or(&normal);
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[derive(Args)]
struct CostArgs {
    /// What each row is.
    #[arg(long, default_value = "provider", value_parser = ["provider", "bucket", "folder", "kind", "org"])]
    by: String,
}

/// `stowage cost`: estimates from the catalog at the config's `[prices]`.
fn cost(ctx: &Ctx, a: CostArgs) -> CmdResult {
    let by: stowage_core::cost::GroupBy = a.by.parse()?;
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let catalog = stowage_core::catalog::Catalog::open(&paths)?;
    // Summed in SQL: the same report as over every stored row, without loading them.
    let now = time::OffsetDateTime::now_utc();
    let summary = catalog.cost_summary(by, now)?;
    let report = stowage_core::cost::report_summary(&summary, &config.prices, by, now);
    ctx.data(stowage_core::cost::render_text(&report).trim_end());
    Ok(serde_json::to_value(&report).expect("serialisable"))
}

/// `--org`, checked like the policy file's `org`.
fn org_arg(org: Option<&str>) -> Result<Option<String>, Error> {
    org.map(stowage_core::policy::validate_org)
        .transpose()
        .map_err(|m| Error::Usage(format!("--org: {m}")))
}

/// The profile sync writes to first: `--profile`, else `[sync] primary`, else the selected
/// profile.
fn sync_primary<'a>(ctx: &Ctx, config: &'a Config) -> Result<&'a stowage_core::Profile, Error> {
    let env = std::env::var("STOWAGE_PROFILE").ok();
    Ok(match (&ctx.profile, &config.sync.primary) {
        (None, Some(p)) => config.select(Some(p.as_str()), None)?.0,
        (flag, _) => config.select(flag.as_deref(), env.as_deref())?.0,
    })
}

/// The organization sync and watch key folders under: `--org`, else the organization the
/// primary profile is bound to, else the policy's `org`. A profile bound to an organization
/// can write only under it, so another organization (by flag or policy) is refused up front
/// instead of failing every upload.
fn sync_org(
    ctx: &Ctx,
    config: &Config,
    policy: &stowage_core::policy::Policy,
    flag: Option<&str>,
) -> Result<Option<String>, Error> {
    let flag = org_arg(flag)?;
    let primary = sync_primary(ctx, config)?;
    let Some(bound) = &primary.org else {
        return Ok(flag.or_else(|| policy.org.clone()));
    };
    let (other, source) = match (&flag, &policy.org) {
        (Some(f), _) => (f, "--org"),
        (None, Some(p)) => (p, "policy.toml's `org`"),
        (None, None) => return Ok(Some(bound.clone())),
    };
    if other != bound {
        return Err(Error::Usage(format!(
            "{source} names organization `{other}`, but profile `{}` is bound to organization \
             `{bound}` and can write only under `{bound}/`; drop {source} (sync then uses \
             `{bound}`), or pick a profile bound to `{other}` with --profile",
            primary.name
        )));
    }
    Ok(Some(bound.clone()))
}

/// The stores sync writes to: `--profile`, else `[sync] primary`, else the selected profile;
/// plus `[sync] secondary`.
async fn sync_targets(ctx: &Ctx, config: &Config, paths: &Paths) -> Result<sync::Targets, Error> {
    let primary = sync_primary(ctx, config)?;
    let target = |p: &stowage_core::Profile| {
        let p = p.clone();
        async move {
            Ok::<_, Error>(sync::Target {
                store: stowage_core::open_store(&p, paths).await?,
                create_bucket: matches!(p.backend, stowage_core::Backend::Local(_)),
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
    Ok(sync::Targets {
        primary: target(primary).await?,
        secondary,
        bucket: config.sync.bucket.clone(),
    })
}

/// Every configured profile's store that opens (for reading recorded locations).
async fn stores_for(
    config: &Config,
    paths: &Paths,
    wanted: impl IntoIterator<Item = String>,
) -> HashMap<String, Arc<dyn stowage_store::Store>> {
    let mut stores = HashMap::new();
    for name in wanted {
        if stores.contains_key(&name) {
            continue;
        }
        if let Some(p) = config.profiles.get(&name) {
            if let Ok(s) = stowage_core::open_store(p, paths).await {
                stores.insert(name, s);
            }
        }
    }
    stores
}

/// `sync DIR`: one pass over a project folder by policy.
async fn sync_cmd(ctx: &Ctx, a: SyncArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let policy = stowage_core::policy::Policy::load(&paths)?;
    let org = sync_org(ctx, &config, &policy, a.org.as_deref())?;
    // A dry run reads the catalog (or an empty one) and writes nothing at all.
    let catalog = if ctx.dry_run {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    let plan = sync::plan(&a.dir, &policy, &catalog, org.as_deref())?;
    if ctx.dry_run {
        for f in &plan.files {
            ctx.data(format!(
                "{} → {} → {} → {} → {}{}",
                f.file,
                f.kind,
                f.destination,
                f.key.as_deref().unwrap_or("-"),
                if f.compress { "gzip" } else { "as is" },
                match f.action {
                    sync::Action::Unchanged => " (unchanged)",
                    sync::Action::Refused => " (refused)",
                    _ => "",
                }
            ));
        }
        // Check what can be checked without writing: buckets, key rules, org scope.
        let mut targets = sync_targets(ctx, &config, &paths).await?;
        if a.create_bucket {
            targets.primary.create_bucket = true;
        }
        let problems = sync::check(&plan, &targets).await;
        for p in &problems {
            let file = p
                .file
                .as_deref()
                .map(|f| format!("{f}: "))
                .unwrap_or_default();
            let level = if p.fatal { "error" } else { "warning" };
            eprintln!("{level}: {file}{}", p.message);
        }
        let doc = json!({
            "dir": plan.dir, "org": plan.org, "plan": plan.files, "problems": problems,
            "dry_run": true
        });
        if let Some(first) = problems.iter().find(|p| p.fatal) {
            let fatal = problems.iter().filter(|p| p.fatal).count();
            return Err(Failed {
                error: Error::Usage(format!(
                    "the real run would fail: {fatal} problem(s), the first: {}",
                    first.message
                )),
                partial: Some(doc),
                printed: true,
            });
        }
        return Ok(doc);
    }
    let mut targets = sync_targets(ctx, &config, &paths).await?;
    if a.create_bucket {
        targets.primary.create_bucket = true;
        if let Some(s) = &mut targets.secondary {
            s.create_bucket = true;
        }
    }
    let labels = plan.files.iter().map(|f| f.file.clone()).collect();
    let bars = Bars::new(labels, "uploading", ctx.bars);
    let mut report = sync::run(&plan, &catalog, &targets, bars.callback()).await?;
    for o in &report.files {
        for u in &o.uploads {
            ctx.say(format!(
                "uploaded {} → {}:{}/{} ({}{})",
                o.planned.file,
                u.profile,
                u.bucket,
                u.key,
                HumanBytes(u.size),
                o.version
                    .as_ref()
                    .map(|v| format!(", version {v}"))
                    .unwrap_or_default()
            ));
        }
        for w in &o.warnings {
            eprintln!("warning: {}: {w}", o.planned.file);
        }
        if let Some(e) = o.planned.error.as_ref().filter(|_| o.result == "failed") {
            eprintln!("error: {e}");
        }
    }
    ctx.say(format!(
        "{} uploaded ({}), {} unchanged, {} new versions, {} failed",
        report.uploaded,
        HumanBytes(report.bytes_uploaded),
        report.unchanged,
        report.new_versions,
        report.failed
    ));
    for (file, profile) in &report.queued {
        ctx.say(format!(
            "queued {file} → {profile}: the provider did not answer; the next `stowage sync` \
             or `stowage watch` uploads it"
        ));
    }
    let error = report.error.take();
    let doc = json!({ "sync": report, "uploaded": report.uploaded, "dry_run": false });
    match error {
        None => Ok(doc),
        Some(error) => Err(Failed {
            error,
            partial: Some(doc),
            printed: true,
        }),
    }
}

/// `versions [FAMILY]`: every version with sizes, locations, labels and metrics.
fn versions_cmd(ctx: &Ctx, a: VersionsArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let catalog = Catalog::open_read_only(&paths)?;
    let org = org_arg(a.org.as_deref())?;
    // A family lists every artifact of that name; anything else names one artifact by its
    // folder (`generations/gen-001/main.py`), or says what exists.
    let (family, artifact) = match &a.family {
        Some(f) if !catalog.artifacts_named(f)?.is_empty() => (Some(f.clone()), None),
        Some(f) => (None, Some(catalog.artifact_named(org.as_deref(), f)?.id)),
        None => (None, None),
    };
    let query = catalog::VersionQuery {
        family,
        artifact,
        org,
        filters: a
            .filter
            .iter()
            .map(|f| catalog::Filter::parse(f))
            .collect::<Result<_, _>>()?,
        sort: a.sort.parse()?,
        limit: a.limit,
    };
    let versions = catalog.versions(&query)?;
    for v in &versions {
        let mut line = format!(
            "{}{}@{}{}  {} stored / {} original",
            v.org.as_ref().map(|o| format!("{o}/")).unwrap_or_default(),
            v.family,
            v.version,
            if v.latest { " (latest)" } else { "" },
            HumanBytes(v.size),
            HumanBytes(v.original_size),
        );
        if !v.labels.is_empty() {
            line.push_str(&format!("  [{}]", v.labels.join(", ")));
        }
        let m = &v.metrics;
        let mut metrics = Vec::new();
        if let Some(x) = m.accuracy {
            metrics.push(format!("accuracy={x}"));
        }
        if let Some(x) = m.loss {
            metrics.push(format!("loss={x}"));
        }
        if let Some(x) = m.epochs {
            metrics.push(format!("epochs={x}"));
        }
        if let Some(x) = &m.model_type {
            metrics.push(format!("model_type={x}"));
        }
        if let Some(x) = m.dataset_count {
            metrics.push(format!("dataset_count={x}"));
        }
        if let Some(x) = &m.training_split {
            metrics.push(format!("training_split={x}"));
        }
        if !metrics.is_empty() {
            line.push_str(&format!("  {}", metrics.join(" ")));
        }
        line.push_str(&format!(
            "\n    {}  created {}  sha256 {}",
            v.artifact,
            v.created_at.date(),
            &v.sha256[..v.sha256.len().min(12)]
        ));
        if v.locations.is_empty() {
            line.push_str("\n    local only");
        }
        for l in &v.locations {
            line.push_str(&format!(
                "\n    at {}:{}/{} ({})",
                l.profile,
                l.bucket,
                l.key,
                HumanBytes(l.size)
            ));
        }
        ctx.data(line);
    }
    Ok(json!({ "versions": versions }))
}

/// Split `FAMILY@WHICH`.
fn family_at(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('@') {
        Some((f, w)) if !f.is_empty() && !w.is_empty() => (f, Some(w)),
        _ => (spec, None),
    }
}

/// `restore FAMILY[@VERSION|@LABEL] [DEST]`.
async fn restore_cmd(ctx: &Ctx, a: RestoreArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    let catalog = if ctx.dry_run {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    let (family, which) = family_at(&a.spec);
    let org = org_arg(a.org.as_deref())?;
    let v = catalog.resolve(org.as_deref(), family, which)?;
    let dest = match a.dest {
        Some(d) if d.is_dir() => d.join(restore_name(&v)),
        Some(d) => d,
        None => PathBuf::from(restore_name(&v)),
    };
    let read = migrate::restore_read(ctx, &config, &paths, &catalog, &v, &dest, a.force).await?;
    let r = &read.restored;
    ctx.say(format!(
        "{} {}@{} from {} → {} ({}{})",
        ctx.would("restored", "restore"),
        r.family,
        r.version,
        r.from,
        r.file.display(),
        HumanBytes(r.size),
        if r.decompressed { ", decompressed" } else { "" }
    ));
    let mut doc = serde_json::to_value(&read).expect("serialisable");
    doc["dry_run"] = json!(ctx.dry_run);
    Ok(doc)
}

/// The file name a restored version gets: its source file's name, else the key's.
fn restore_name(v: &catalog::VersionInfo) -> String {
    v.source_path
        .as_deref()
        .and_then(|p| p.rsplit('/').next())
        .map(str::to_string)
        .or_else(|| {
            v.locations.first().map(|l| {
                let key = stowage_core::compress::original_key(&l.key);
                key.rsplit('/').next().unwrap_or(key).to_string()
            })
        })
        .unwrap_or_else(|| format!("{}-{}", v.family, v.version))
}

/// `label FAMILY@VERSION NAME`.
fn label_cmd(ctx: &Ctx, a: LabelArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let (family, which) = family_at(&a.spec);
    let Some(which) = which else {
        return Err(Error::Usage(format!(
            "`{}` names no version; write FAMILY@VERSION, e.g. `{family}@v2`",
            a.spec
        ))
        .into());
    };
    if a.name.is_empty() || a.name.contains(['@', '/']) || a.name.chars().any(char::is_control) {
        return Err(Error::Usage(format!(
            "`{}` cannot be a label; use letters, digits, `-`, `_` or `.`",
            a.name.escape_debug()
        ))
        .into());
    }
    let org = org_arg(a.org.as_deref())?;
    let catalog = if ctx.dry_run {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    let v = catalog.resolve(org.as_deref(), family, Some(which))?;
    if !ctx.dry_run {
        catalog.batch(|c| {
            c.set_label(v.id, &a.name)?;
            c.audit(&catalog::AuditEvent {
                action: "label",
                detail: Some(format!(
                    "{} version {} labelled {}",
                    v.family, v.version, a.name
                )),
                ..Default::default()
            })
        })?;
    }
    ctx.say(format!(
        "{} {}@{} as {}",
        ctx.would("labelled", "label"),
        v.family,
        v.version,
        a.name
    ));
    Ok(json!({
        "family": v.family, "version": v.version, "label": a.name, "dry_run": ctx.dry_run
    }))
}

/// `gc --keep-last N --older-than D`.
async fn gc_cmd(ctx: &Ctx, a: GcArgs) -> CmdResult {
    let paths = Paths::from_env()?;
    let config = Config::load(&paths)?;
    // `0s` means "however recent": only --keep-last limits what goes.
    let older_than = stowage_core::parse_duration_or_zero(&a.older_than)?;
    let catalog = if ctx.dry_run {
        Catalog::open_read_only(&paths)?
    } else {
        Catalog::open(&paths)?
    };
    let profiles = config.profiles.keys().cloned().collect::<Vec<_>>();
    let stores = stores_for(&config, &paths, profiles).await;
    let retention = sync::Retention {
        keep_last: a.keep_last,
        older_than,
        family: a.family,
    };
    let removed = sync::gc(&catalog, &retention, &stores, ctx.dry_run).await?;
    let verb = ctx.would("removed", "remove");
    for c in &removed {
        ctx.say(format!(
            "{verb} {}@{} ({}: {})",
            c.family,
            c.version,
            HumanBytes(c.bytes),
            c.objects.join(", ")
        ));
    }
    ctx.say(format!(
        "{} {} versions, {}",
        verb,
        removed.len(),
        HumanBytes(removed.iter().map(|c| c.bytes).sum())
    ));
    Ok(json!({ "removed": removed, "dry_run": ctx.dry_run }))
}
