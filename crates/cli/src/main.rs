//! `stowage`: the command line. Parse → call → render: every subcommand parses its
//! arguments, calls one function of the app layer (`stowage_core::app::App`) and renders its
//! typed result as text or as one JSON document (the result, serialised).

mod cost;
mod exit;
mod migrate;
mod profile;
mod progress;
mod team;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::HumanBytes;
use serde::Serialize;
use serde_json::{json, Value};
use stowage_core::app::{self, App, AppError, Item};

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
    /// The team catalog on PostgreSQL: status, push, pull, sync, rebuild.
    #[command(subcommand)]
    Team(team::TeamCommand),
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
    /// `me`: only your own versions; `team`: everyone's this catalog holds (after `stowage
    /// team pull`).
    #[arg(long, default_value = "team", value_name = "me|team")]
    scope: String,
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

#[derive(Args)]
struct CostArgs {
    /// What each row is.
    #[arg(long, default_value = "provider", value_parser = ["provider", "bucket", "folder", "kind", "org", "member"])]
    by: String,
    /// `me`: only the copies and transfers you made; `team`: everyone's this catalog holds.
    #[arg(long, default_value = "team", value_name = "me|team")]
    scope: String,
    /// Only this organization (`(no org)` for objects without one).
    #[arg(long)]
    org: Option<String>,
    /// Only this provider (as listed: local, `s3 (host:port)`, supabase).
    #[arg(long)]
    provider: Option<String>,
    /// Only objects stored since: a date (2026-11-01), an RFC 3339 time, or 30d.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only objects stored before: a date, an RFC 3339 time, or 30d.
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// Print one table as CSV instead: groups, providers, largest or stalest.
    #[arg(long, value_name = "TABLE", value_parser = ["groups", "providers", "largest", "stalest"])]
    csv: Option<String>,
}

/// Global output settings, and the app every command calls.
struct Ctx {
    json: bool,
    quiet: bool,
    dry_run: bool,
    bars: bool,
    app: App,
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

    /// Warnings on stderr (hidden by --quiet).
    fn warn(&self, warnings: &[String]) {
        if !self.quiet {
            for w in warnings {
                eprintln!("warning: {w}");
            }
        }
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
    error: Box<AppError>,
    partial: Option<Value>,
    printed: bool,
}

impl<E: Into<AppError>> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed {
            error: Box::new(e.into()),
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
    let app = match App::open(cli.profile) {
        Ok(app) => app,
        Err(e) => return fail(cli.json, Failed::from(e)),
    };
    let ctx = Ctx {
        json: cli.json,
        quiet: cli.quiet,
        dry_run: cli.dry_run,
        bars: !cli.json
            && !cli.quiet
            && std::io::stdout().is_terminal()
            && std::io::stderr().is_terminal(),
        app,
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
            ExitCode::from(app::EXIT_INTERRUPTED)
        }
        Some(Ok(doc)) => {
            if ctx.json {
                out(&doc);
            }
            ExitCode::SUCCESS
        }
        Some(Err(f)) => fail(ctx.json, f),
    }
}

/// Report a failed command: its message (unless printed already), its JSON document, and
/// its exit code.
fn fail(json: bool, f: Failed) -> ExitCode {
    if !f.printed {
        eprintln!("error: {}", f.error);
    } else if let (Some(failed), Some(total)) = (f.error.failed, f.error.total) {
        eprintln!("error: {failed} of {total} failed (see above)");
    }
    if json {
        let mut doc = f.partial.unwrap_or_else(|| json!({}));
        doc["error"] = json!(f.error);
        out(&doc);
    }
    ExitCode::from(f.error.exit_code)
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
        Command::Team(c) => team::team(ctx, c).await,
        Command::Profile(ProfileCommand::Ls) => profiles(ctx),
        Command::Profile(ProfileCommand::Add(a)) => profile::add(ctx, a),
        Command::Profile(ProfileCommand::Show { name }) => profile::show(ctx, name),
        Command::Profile(ProfileCommand::Rm { name }) => profile::rm(ctx, name),
        Command::Login(a) => profile::login(ctx, a),
        Command::Sync(a) => sync_cmd(ctx, a).await,
        Command::Watch(a) => watch::watch_cmd(ctx, a).await,
        Command::Queue(c) => watch::queue_cmd(ctx, c),
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

/// The document of a result.
fn doc(result: &impl Serialize) -> Value {
    serde_json::to_value(result).expect("serialisable")
}

/// A command's end: its document, or its failure with the document as what did succeed.
/// `printed`: the failure's items were reported already.
fn finish(doc: Value, failure: Option<AppError>, printed: bool) -> CmdResult {
    match failure {
        None => Ok(doc),
        Some(error) => Err(Failed {
            error: Box::new(error),
            partial: Some(doc),
            printed,
        }),
    }
}

/// Print each item's line (or its error).
fn lines<T>(ctx: &Ctx, items: &[Item<T>], describe: impl Fn(&T) -> String) {
    for i in items {
        match &i.0 {
            Ok(o) => ctx.say(describe(o)),
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

/// Wait for the bars of an operation to clear.
async fn settle(bars: Option<tokio::task::JoinHandle<()>>) {
    if let Some(b) = bars {
        let _ = b.await;
    }
}

async fn put(ctx: &Ctx, a: PutArgs) -> CmdResult {
    let request = app::PutRequest {
        files: a.files,
        dest: a.dest,
        archive: a.archive,
        overwrite: a.overwrite,
        content_type: a.content_type,
        compress: match (a.compress, a.no_compress) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        dry_run: ctx.dry_run,
        profile: None,
    };
    let bars = Bars::follow(&ctx.app, "uploading", ctx.bars);
    let r = ctx.app.put(request).await;
    settle(bars).await;
    let r = r?;
    ctx.warn(&r.warnings);
    let verb = ctx.would("uploaded", "upload");
    lines(ctx, &r.uploaded, |o| {
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
    });
    finish(doc(&r), r.failure(), true)
}

async fn get(ctx: &Ctx, a: GetArgs) -> CmdResult {
    if a.dest.as_deref() == Some(std::path::Path::new("-")) {
        return get_to_stdout(ctx, a).await;
    }
    let request = app::GetRequest {
        src: a.src,
        dest: a.dest,
        recursive: a.recursive,
        raw: a.raw,
        extract: a.extract,
        force: a.force,
        dry_run: ctx.dry_run,
    };
    let bars = Bars::follow(&ctx.app, "downloading", ctx.bars);
    if a.extract {
        let r = ctx.app.extract(request).await;
        settle(bars).await;
        let r = r?;
        let verb = ctx.would("extracted", "extract");
        lines(ctx, &r.extracted, |o| {
            format!("{verb} {}/{} → {}/", o.bucket, o.key, o.folder.display())
        });
        return finish(doc(&r), r.failure(), true);
    }
    let r = ctx.app.get(request).await;
    settle(bars).await;
    let r = r?;
    ctx.warn(&r.warnings);
    if !ctx.quiet && !ctx.json {
        for n in &r.notes {
            eprintln!("{n}");
        }
    }
    let verb = ctx.would("downloaded", "download");
    lines(ctx, &r.downloaded, |o| {
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
    });
    finish(doc(&r), r.failure(), true)
}

/// How a download was checked, for its line: the checksum that matched, or a plain word that
/// nothing could be (an object another tool wrote, with no SHA-256 and no checksum its
/// provider states).
fn checked(o: &stowage_core::transfer::GetOutcome) -> String {
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
        return Err(AppError::usage(
            "`-` writes one object to stdout; it does not go with --recursive, --extract, \
             --json or --dry-run",
        )
        .into());
    }
    let staged = ctx.app.get_staged(&a.src, a.raw).await?;
    ctx.warn(&staged.warnings);
    let copied = std::fs::File::open(&staged.file).and_then(|mut f| {
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut f, &mut stdout)?;
        std::io::Write::flush(&mut stdout)
    });
    match copied {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            drop(staged);
            std::process::exit(exit::BROKEN_PIPE.into());
        }
        Err(e) => return Err(AppError::usage(format!("cannot write to stdout: {e}")).into()),
    }
    let o = &staged.outcome;
    if !ctx.quiet {
        eprintln!(
            "downloaded {}/{} → stdout ({}{})",
            o.bucket,
            o.key,
            HumanBytes(o.size),
            checked(o)
        );
    }
    Ok(json!({}))
}

async fn ls(ctx: &Ctx, a: LsArgs) -> CmdResult {
    let r = ctx.app.ls(a.location.as_deref(), a.recursive).await?;
    match &r {
        app::LsResult::Buckets { buckets } => {
            for b in buckets {
                ctx.data(match b.public {
                    Some(true) => format!("{}  (public)", b.name),
                    _ => b.name.clone(),
                });
            }
        }
        app::LsResult::Entries {
            bucket, entries, ..
        } => {
            let format = time::format_description::parse_borrowed::<2>(
                "[year]-[month]-[day] [hour]:[minute]",
            )
            .expect("valid format");
            for e in entries {
                let size = e
                    .size
                    .map_or("-".to_string(), |s| HumanBytes(s).to_string());
                let date = e
                    .last_modified
                    .and_then(|d| d.format(&format).ok())
                    .unwrap_or_else(|| "-".into());
                ctx.data(format!("{size:>11}  {date:<16}  {bucket}/{}", e.name));
            }
        }
    }
    Ok(doc(&r))
}

async fn rm(ctx: &Ctx, a: RmArgs) -> CmdResult {
    if !a.version.is_empty() {
        let r = ctx
            .app
            .delete_versions(&a.version, a.org.as_deref(), ctx.dry_run)
            .await?;
        let verb = ctx.would("deleted", "delete");
        lines(ctx, &r.deleted, |d| {
            let mut line = format!("{verb} {}@{}", d.artifact, d.version);
            if d.objects.is_empty() {
                line.push_str(" (no stored copy)");
            } else {
                line.push_str(&format!(
                    " ({}: {})",
                    HumanBytes(d.bytes),
                    d.objects.join(", ")
                ));
            }
            line
        });
        return finish(doc(&r), r.failure(), true);
    }
    let r = ctx.app.rm(&a.paths, a.recursive, ctx.dry_run).await?;
    ctx.warn(&r.warnings);
    let verb = ctx.would("removed", "remove");
    lines(ctx, &r.removed, |o| {
        o.keys
            .iter()
            .map(|k| format!("{verb} {}/{k}", o.bucket))
            .collect::<Vec<_>>()
            .join("\n")
    });
    finish(doc(&r), r.failure(), true)
}

async fn copy(ctx: &Ctx, a: CopyArgs, move_: bool) -> CmdResult {
    let r = ctx
        .app
        .copy(&a.src, &a.dst, a.overwrite, move_, ctx.dry_run)
        .await?;
    ctx.warn(&r.warnings);
    let verb = match move_ {
        true => ctx.would("moved", "move"),
        false => ctx.would("copied", "copy"),
    };
    ctx.say(format!("{verb} {} → {}", r.outcome.from, r.outcome.to));
    Ok(doc(&r))
}

async fn url(ctx: &Ctx, a: UrlArgs) -> CmdResult {
    let request = app::UrlRequest {
        path: a.path,
        put: a.put,
        expires: a.expires.clone(),
    };
    let read = ctx.app.url(&request).await?;
    ctx.warn(&read.warnings);
    if read.source == "secondary" && !ctx.quiet && !ctx.json {
        eprintln!("signed by secondary `{}`", read.profile);
    }
    let signed = &read.url;
    ctx.data(&signed.url);
    if !ctx.json && !ctx.quiet {
        let when = signed
            .expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| signed.expires_at.to_string());
        eprintln!("expires {when} ({})", a.expires);
    }
    Ok(doc(&read))
}

async fn buckets(ctx: &Ctx, c: BucketsCommand) -> CmdResult {
    match c {
        BucketsCommand::Ls => {
            let r = ctx.app.buckets().await?;
            for b in &r.buckets {
                ctx.data(&b.name);
            }
            Ok(doc(&r))
        }
        BucketsCommand::Create { name, public } => {
            let r = ctx.app.create_bucket(&name, public, ctx.dry_run).await?;
            ctx.say(format!(
                "{} {name} ({}) on {}",
                ctx.would("created bucket", "create bucket"),
                if public { "public" } else { "private" },
                r.provider
            ));
            Ok(doc(&r))
        }
        BucketsCommand::Rm { name } => {
            let r = ctx.app.delete_bucket(&name, ctx.dry_run).await?;
            ctx.say(format!(
                "{} {name} on {}",
                ctx.would("deleted bucket", "delete bucket"),
                r.provider
            ));
            Ok(doc(&r))
        }
    }
}

fn profiles(ctx: &Ctx) -> CmdResult {
    let r = ctx.app.profiles()?;
    for e in &r.profiles {
        let v = doc(&e.profile);
        let details = v
            .as_object()
            .expect("object")
            .iter()
            .filter(|(k, v)| !matches!(k.as_str(), "name" | "kind" | "source") && !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        ctx.data(format!(
            "{} {:<12} {:<9} {}\n    from: {}\n    credentials: {}",
            if e.selected { "*" } else { " " },
            e.profile.name,
            e.profile.backend.kind(),
            details,
            e.defined_in,
            e.credentials,
        ));
    }
    let file_note = if r.config_file_exists {
        ""
    } else {
        " (not present: only the built-in profile)"
    };
    ctx.data(format!(
        "config file: {}{file_note}",
        r.config_file.display()
    ));
    match (&r.selected, r.selected_by) {
        (Some(n), Some(why)) => ctx.data(format!("selected: {n} (by {why})")),
        _ => {
            if let Some(e) = &r.selection_error {
                eprintln!("warning: {e}");
            }
        }
    }
    Ok(doc(&r))
}

/// `explain FILE…`: the policy's decision for each file, with the rules it passed over.
fn explain(ctx: &Ctx, a: ExplainArgs) -> CmdResult {
    let r = ctx.app.explain(&a.files, a.org.as_deref())?;
    let from = r
        .policy
        .as_ref()
        .map_or("built-in defaults".to_string(), |p| p.display().to_string());
    ctx.data(format!("policy: {from}"));
    for item in &r.files {
        let x = match &item.0 {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        let e = &x.explanation;
        let d = &e.decision;
        let key = match (&d.key, &d.key_error) {
            (Some(k), _) if d.compress => format!("{k} (stored with .gz appended)"),
            (Some(k), _) => k.clone(),
            (None, Some(why)) => format!("none: {why}"),
            (None, None) => "none (not uploaded)".into(),
        };
        let mut text = format!(
            "{}\n  rule:        {} ({})\n  kind:        {}\n  size:        {} ({} bytes)\n  \
             destination: {}\n  key:         {key}\n  compress:    {}",
            x.path,
            d.rule,
            e.matched,
            d.kind,
            stowage_core::units::human_size(x.size),
            x.size,
            d.destination,
            if d.compress { "yes (gzip)" } else { "no" },
        );
        for (rule, why) in &e.skipped {
            text.push_str(&format!("\n  skipped {rule}: {why}"));
        }
        ctx.data(text);
    }
    finish(doc(&r), r.failure(), true)
}

/// `stowage cost`: estimates from the catalog at the config's `[prices]`.
fn cost(ctx: &Ctx, a: CostArgs) -> CmdResult {
    let now = time::OffsetDateTime::now_utc();
    let when = |w: &Option<String>| {
        w.as_deref()
            .map(|w| stowage_core::units::parse_instant(w, now))
            .transpose()
    };
    let request = app::CostRequest {
        by: a.by.parse()?,
        filter: stowage_core::cost::CostFilter {
            org: a.org,
            provider: a.provider,
            stored_after: when(&a.since)?,
            stored_before: when(&a.until)?,
            scope: a.scope.parse()?,
        },
    };
    let report = ctx.app.cost(&request)?;
    match a.csv {
        Some(table) => {
            let table: stowage_core::cost::CostTable = table.parse()?;
            out(stowage_core::cost::csv(&report, table).trim_end());
        }
        None => ctx.data(cost::render_text(&report).trim_end()),
    }
    Ok(doc(&report))
}

/// `sync DIR`: one pass over a project folder by policy.
async fn sync_cmd(ctx: &Ctx, a: SyncArgs) -> CmdResult {
    let request = app::SyncRequest {
        dir: a.dir,
        org: a.org,
        create_bucket: a.create_bucket,
        dry_run: ctx.dry_run,
    };
    let bars = Bars::follow(&ctx.app, "uploading", ctx.bars && !ctx.dry_run);
    let r = ctx.app.sync(request).await;
    settle(bars).await;
    let r = r?;
    match &r {
        app::SyncResult::Planned { plan, problems, .. } => {
            for f in plan {
                ctx.data(format!(
                    "{} → {} → {} → {} → {}{}",
                    f.file,
                    f.kind,
                    f.destination,
                    f.key.as_deref().unwrap_or("-"),
                    if f.compress { "gzip" } else { "as is" },
                    match f.action {
                        stowage_core::sync::Action::Unchanged => " (unchanged)",
                        stowage_core::sync::Action::Refused => " (refused)",
                        _ => "",
                    }
                ));
            }
            for p in problems {
                let file = p
                    .file
                    .as_deref()
                    .map(|f| format!("{f}: "))
                    .unwrap_or_default();
                let level = if p.fatal { "error" } else { "warning" };
                eprintln!("{level}: {file}{}", p.message);
            }
        }
        app::SyncResult::Done { sync: report, .. } => {
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
                    "queued {file} → {profile}: the provider did not answer; the next `stowage \
                     sync` or `stowage watch` uploads it"
                ));
            }
        }
    }
    finish(doc(&r), r.failure(), true)
}

/// `versions [FAMILY]`: every version with sizes, locations, labels and metrics.
fn versions_cmd(ctx: &Ctx, a: VersionsArgs) -> CmdResult {
    let r = ctx.app.versions(&app::VersionsRequest {
        family: a.family,
        org: a.org,
        filters: a.filter,
        sort: Some(a.sort),
        limit: a.limit,
        scope: a.scope.parse()?,
    })?;
    for v in &r.versions {
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
        if let Some(member) = &v.member {
            line.push_str(&format!("  by {member}"));
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
    Ok(doc(&r))
}

/// `restore FAMILY[@VERSION|@LABEL] [DEST]`.
async fn restore_cmd(ctx: &Ctx, a: RestoreArgs) -> CmdResult {
    let r = ctx
        .app
        .restore(app::RestoreRequest {
            spec: a.spec,
            dest: a.dest,
            org: a.org,
            force: a.force,
            dry_run: ctx.dry_run,
        })
        .await?;
    ctx.warn(&r.read.read.warnings);
    let x = &r.read.restored;
    ctx.say(format!(
        "{} {}@{} from {} → {} ({}{})",
        ctx.would("restored", "restore"),
        x.family,
        x.version,
        r.read.read.from,
        x.file.display(),
        HumanBytes(x.size),
        if x.decompressed { ", decompressed" } else { "" }
    ));
    Ok(doc(&r))
}

/// `label FAMILY@VERSION NAME`.
fn label_cmd(ctx: &Ctx, a: LabelArgs) -> CmdResult {
    let r = ctx
        .app
        .label(&a.spec, &a.name, a.org.as_deref(), ctx.dry_run)?;
    ctx.say(format!(
        "{} {}@{} as {}",
        ctx.would("labelled", "label"),
        r.family,
        r.version,
        r.label
    ));
    Ok(doc(&r))
}

/// `gc --keep-last N --older-than D`.
async fn gc_cmd(ctx: &Ctx, a: GcArgs) -> CmdResult {
    let r = ctx
        .app
        .gc(a.keep_last, &a.older_than, a.family, ctx.dry_run)
        .await?;
    let verb = ctx.would("removed", "remove");
    for c in &r.removed {
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
        r.removed.len(),
        HumanBytes(r.removed.iter().map(|c| c.bytes).sum())
    ));
    Ok(doc(&r))
}
