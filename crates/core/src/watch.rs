//! The watcher (M7): watches folders recursively and reports each regular file once it is
//! stable — its size and mtime unchanged for the settle period — plus renames, removals and
//! per-file problems. It decides nothing about syncing: the engine compares each `Stable`
//! file with the catalog's file state.
//!
//! How it works, and why it stays cheap on 100,000 files:
//! - one non-recursive notify watch (inotify on Linux) per folder, placed by our own walk, so
//!   that symbolic links to folders are never followed, an unreadable folder is a problem for
//!   that folder only, and an exhausted watch limit names the folder;
//! - notify-debouncer-full coalesces raw events (200 ms) and pairs the two halves of a rename;
//! - a file that changed waits in a map of deadlines (a `BTreeMap` ordered by time): only files
//!   that changed recently are looked at again, and an idle watcher sleeps on a channel;
//! - the last reported size and mtime of every known file is kept (about 100 bytes a file),
//!   so that a rescan after an inotify queue overflow reports exactly what changed and what
//!   disappeared, and so that a folder moved out of the roots yields one `Removed` per file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer_opt, DebounceEventResult, Debouncer, NoCache};
use stowage_store::ErrorKind;
use tokio::sync::mpsc;

use crate::catalog::Catalog;
use crate::error::{local_error, Error, Result};

/// How long the debouncer holds raw events to coalesce them and pair renames.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// How often the debouncer looks for events that are due (its only periodic wake-up).
const DEBOUNCE_TICK: Duration = Duration::from_millis(100);
/// Events buffered towards the consumer before the watcher waits for it.
const CHANNEL: usize = 4096;
/// How long a file found in a folder that just appeared waits at least: the other half of a
/// move into a folder not yet watched (its `From`) comes within the debounce period.
const HOLD: Duration = Duration::from_millis(500);

/// Ignored in every root, before the roots' own ignore files: version control, editor
/// temporary files, OS litter and Stowage's own temporary files.
pub const DEFAULT_IGNORES: &[&str] = &[
    ".git/",
    ".hg/",
    ".svn/",
    // vim, emacs, LibreOffice, generic editors
    "*.swp",
    "*.swo",
    "*.swx",
    "4913",
    "*~",
    ".#*",
    "#*#",
    ".~lock.*#",
    ".DS_Store",
    "Thumbs.db",
    // partial downloads of browsers
    "*.crdownload",
    "*.part",
    // Stowage's own temporary files (downloads land in `.stowage-*.part`, archives in `.tmp*`)
    ".stowage-*",
    ".tmp*",
];

/// What to watch.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Folders watched recursively.
    pub roots: Vec<PathBuf>,
    /// How long a file's size and mtime must stay unchanged before it is reported.
    pub settle: Duration,
    /// Extra ignore lines in .gitignore syntax, on top of [`DEFAULT_IGNORES`] and each root's
    /// `.gitignore` and `.stowageignore`.
    pub ignore: Vec<String>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            roots: Vec::new(),
            settle: Duration::from_secs(2),
            ignore: Vec::new(),
        }
    }
}

/// What the watcher reports.
#[derive(Debug)]
pub enum WatchEvent {
    /// A regular file whose size and mtime stayed unchanged for `settle` — from the start-up
    /// (reconciliation) scan of every root, or after a change. Emitted again after each later change.
    Stable {
        /// The watched root the file is under.
        root: PathBuf,
        /// The file (absolute, under `root`).
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// Its modification time, Unix nanoseconds (as the catalog's file state records it).
        mtime_ns: i64,
    },
    /// A file (or folder: one event per file inside) moved within the watched roots.
    Renamed {
        /// The watched root.
        root: PathBuf,
        /// Where the file was.
        from: PathBuf,
        /// Where it is now.
        to: PathBuf,
    },
    /// A file deleted or moved out of the watched roots.
    Removed {
        /// The watched root it was under.
        root: PathBuf,
        /// The file.
        path: PathBuf,
    },
    /// A per-file problem (permission denied, symlink loop, …); watching goes on.
    Problem {
        /// The file or folder concerned.
        path: PathBuf,
        /// What went wrong and what to do.
        error: Error,
    },
    /// The start-up scan of every root has been reported.
    ScanDone,
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    control: std_mpsc::Sender<Msg>,
    stop: Arc<AtomicBool>,
    settling: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("settling", &self.settling())
            .finish()
    }
}

impl Watcher {
    /// Watch `opts.roots` recursively. Returns once every folder is watched (a file created
    /// after `start` returns is never missed); the start-up scan's events then follow on the
    /// channel, ending with [`WatchEvent::ScanDone`]. Walks every root before returning, so
    /// call it from `spawn_blocking` in async code when the roots are large.
    ///
    /// Errors: a root that is missing or not a folder; the inotify watch limit reached (the
    /// message names the folder and the `sysctl` that raises it).
    pub fn start(opts: WatchOptions) -> Result<(Watcher, mpsc::Receiver<WatchEvent>)> {
        let mut roots = Vec::with_capacity(opts.roots.len());
        for root in &opts.roots {
            let canonical = std::fs::canonicalize(root).map_err(|e| {
                local_error(
                    ErrorKind::NotFound,
                    root,
                    format!("cannot watch this folder: {e}"),
                    "check the path; `stowage watch` watches the `.beast-mode` folder of each project that `stowage sync` has seen",
                )
            })?;
            if !canonical.is_dir() {
                return Err(local_error(
                    ErrorKind::Other,
                    root,
                    "cannot watch this: it is not a folder",
                    "pass a folder, e.g. a project's `.beast-mode`",
                ));
            }
            if !roots.contains(&canonical) {
                roots.push(canonical);
            }
        }
        let (out_tx, out_rx) = mpsc::channel(CHANNEL);
        let (control, control_rx) = std_mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let settling = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = std_mpsc::sync_channel(1);
        let to_debouncer = control.clone();
        let thread_stop = stop.clone();
        let thread_settling = settling.clone();
        let settle = opts.settle;
        let extra = opts.ignore.clone();
        let thread = std::thread::Builder::new()
            .name("stowage-watch".into())
            .spawn(move || {
                let debouncer = match new_debouncer_opt::<_, RecommendedWatcher, NoCache>(
                    DEBOUNCE,
                    Some(DEBOUNCE_TICK),
                    move |r: DebounceEventResult| {
                        let _ = to_debouncer.send(Msg::Notify(r));
                    },
                    NoCache,
                    notify::Config::default().with_follow_symlinks(false),
                ) {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = ready_tx
                            .send(Err(notify_error(e, roots.first().map(PathBuf::as_path))));
                        return;
                    }
                };
                let mut state = State {
                    roots: roots.iter().map(|r| Root::new(r.clone(), &extra)).collect(),
                    settle,
                    out: out_tx,
                    stop: thread_stop,
                    settling: thread_settling,
                    debouncer,
                    dirs: HashSet::new(),
                    known: BTreeMap::new(),
                    orphans: HashMap::new(),
                    pending: HashMap::new(),
                    deadlines: BTreeMap::new(),
                    seq: 0,
                    scan_waiting: Some(HashSet::new()),
                    dropping: false,
                };
                state.run(control_rx, ready_tx);
            })
            .map_err(|e| {
                local_error(
                    ErrorKind::Other,
                    Path::new("."),
                    format!("cannot start the watcher thread: {e}"),
                    "the system is out of threads or memory; try again",
                )
            })?;
        let watcher = Watcher {
            control,
            stop,
            settling,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok((watcher, out_rx)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(local_error(
                ErrorKind::Other,
                Path::new("."),
                "the watcher stopped while starting",
                "try again",
            )),
        }
    }

    /// How many files changed recently and wait for their settle period to pass.
    pub fn settling(&self) -> usize {
        self.settling.load(Ordering::Relaxed)
    }

    /// Feed a raw notify event to the watcher as if the OS had sent it, and optionally drop
    /// real events (as the kernel does when its queue overflows). Tests only.
    #[cfg(test)]
    fn inject(&self, msg: Msg) {
        let _ = self.control.send(msg);
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.control.send(Msg::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The `.beast-mode` folder of each project folder registered in the catalog
/// (`Catalog::folders`): a registered folder that is itself named `.beast-mode` is used as
/// is, otherwise its `.beast-mode` subfolder when there is one, otherwise the folder itself.
/// Folders that no longer exist are left out.
/// What watch watches of a registered folder: the folder itself when it is a `.beast-mode`
/// folder or holds none, else the `.beast-mode` folder inside it.
pub fn root_of(folder: &Path) -> PathBuf {
    if folder.file_name().is_none_or(|n| n != ".beast-mode") && folder.join(".beast-mode").is_dir()
    {
        folder.join(".beast-mode")
    } else {
        folder.to_path_buf()
    }
}

pub fn default_roots(catalog: &Catalog) -> Result<Vec<PathBuf>> {
    let mut roots = Vec::new();
    for (folder, _org) in catalog.folders()? {
        let root = root_of(&folder);
        if root.is_dir() && !roots.contains(&root) {
            roots.push(root);
        }
    }
    Ok(roots)
}

/// Messages to the watcher thread.
enum Msg {
    /// Debounced events (or errors) from notify.
    Notify(DebounceEventResult),
    /// Stop watching.
    Stop,
    /// Tests: drop (true) or process (false) notify events from now on.
    #[cfg(test)]
    DropEvents(bool),
}

/// A watched root and its ignore rules.
struct Root {
    path: PathBuf,
    extra: Vec<String>,
    /// Defaults, the options' lines, the root's `.gitignore` and `.stowageignore`.
    base: Gitignore,
    /// Ignore files of folders below the root, by folder.
    nested: HashMap<PathBuf, Gitignore>,
    /// Problems met while reading ignore files, reported once by the thread.
    problems: Vec<(PathBuf, String)>,
}

impl Root {
    fn new(path: PathBuf, extra: &[String]) -> Root {
        let mut root = Root {
            path,
            extra: extra.to_vec(),
            base: Gitignore::empty(),
            nested: HashMap::new(),
            problems: Vec::new(),
        };
        let path = root.path.clone();
        root.base = root.build(&path, true);
        root
    }

    /// The matcher for `dir`'s ignore files (plus the defaults and extra lines for the root).
    fn build(&mut self, dir: &Path, is_root: bool) -> Gitignore {
        let mut b = GitignoreBuilder::new(dir);
        if is_root {
            for line in DEFAULT_IGNORES {
                let _ = b.add_line(None, line);
            }
            for line in &self.extra {
                if let Err(e) = b.add_line(None, line) {
                    self.problems.push((dir.to_path_buf(), e.to_string()));
                }
            }
        }
        for name in IGNORE_FILES {
            let file = dir.join(name);
            if !file.is_file() {
                continue;
            }
            if let Some(e) = b.add(&file) {
                self.problems.push((file, e.to_string()));
            }
        }
        b.build().unwrap_or_else(|e| {
            self.problems.push((dir.to_path_buf(), e.to_string()));
            Gitignore::empty()
        })
    }

    /// Re-read the ignore files of `dir` (a folder under this root, or the root).
    fn reload(&mut self, dir: &Path) {
        if dir == self.path {
            self.base = self.build(dir, true);
        } else {
            let g = self.build(dir, false);
            if g.is_empty() {
                self.nested.remove(dir);
            } else {
                self.nested.insert(dir.to_path_buf(), g);
            }
        }
    }

    /// Whether `path` (under this root) is ignored: the deepest ignore file that has a say
    /// wins (a `!pattern` re-includes), then the root's rules.
    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        if !self.nested.is_empty() {
            let mut dir = path.parent();
            while let Some(d) = dir {
                if d == self.path || !d.starts_with(&self.path) {
                    break;
                }
                if let Some(g) = self.nested.get(d) {
                    let m = g.matched_path_or_any_parents(path, is_dir);
                    if m.is_ignore() {
                        return true;
                    }
                    if m.is_whitelist() {
                        return false;
                    }
                }
                dir = d.parent();
            }
        }
        path != self.path
            && self
                .base
                .matched_path_or_any_parents(path, is_dir)
                .is_ignore()
    }
}

const IGNORE_FILES: [&str; 2] = [".gitignore", ".stowageignore"];

/// A file found by a walk.
struct Found {
    path: PathBuf,
    size: u64,
    mtime_ns: i64,
    ino: u64,
}

impl Found {
    fn new(path: PathBuf, meta: &std::fs::Metadata) -> Found {
        Found {
            path,
            size: meta.len(),
            mtime_ns: mtime_ns(meta),
            ino: inode(meta),
        }
    }
}

/// What is remembered of a file known to exist.
#[derive(Clone, Copy)]
struct Known {
    /// The size and mtime last reported (`None`: not reported yet).
    reported: Option<(u64, i64)>,
    /// Its inode, to pair a move into a folder that was not watched yet.
    ino: u64,
}

/// A file waiting for its settle period.
struct Pending {
    size: u64,
    mtime_ns: i64,
    due: (Instant, u64),
}

/// The watcher thread's state.
struct State {
    roots: Vec<Root>,
    settle: Duration,
    out: mpsc::Sender<WatchEvent>,
    stop: Arc<AtomicBool>,
    settling: Arc<AtomicUsize>,
    debouncer: Debouncer<RecommendedWatcher, NoCache>,
    /// Folders with a watch.
    dirs: HashSet<PathBuf>,
    /// Every file known to exist.
    known: BTreeMap<PathBuf, Known>,
    /// Files just found in folders that just appeared, by inode, for a few seconds.
    orphans: HashMap<u64, (PathBuf, Instant)>,
    /// Files waiting to settle, and their deadlines in time order.
    pending: HashMap<PathBuf, Pending>,
    deadlines: BTreeMap<(Instant, u64), PathBuf>,
    seq: u64,
    /// Files of the start-up scan not reported yet; `None` once `ScanDone` was sent.
    scan_waiting: Option<HashSet<PathBuf>>,
    /// Tests: drop notify events, as the kernel does on overflow.
    dropping: bool,
}

/// The consumer went away, or the watcher was dropped: stop.
struct Closed;

type Flow = std::result::Result<(), Closed>;

impl State {
    fn run(&mut self, control: std_mpsc::Receiver<Msg>, ready: std_mpsc::SyncSender<Result<()>>) {
        // Watches first, then the scan: a file created in between is seen by both, and the
        // pending map turns that into one report.
        let mut found = Vec::new();
        for i in 0..self.roots.len() {
            let root = self.roots[i].path.clone();
            if let Err(e) = self.walk(&root, &mut found, true) {
                let _ = ready.send(Err(e));
                return;
            }
        }
        let _ = ready.send(Ok(()));
        if self.start_up(found).is_err() {
            return;
        }
        loop {
            let msg = match self.deadlines.keys().next() {
                Some(&(due, _)) => {
                    match control.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(m) => Some(m),
                        Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                        Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match control.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return,
                },
            };
            let flow = match msg {
                Some(Msg::Stop) => return,
                Some(Msg::Notify(r)) => self.notified(r),
                #[cfg(test)]
                Some(Msg::DropEvents(on)) => {
                    self.dropping = on;
                    Ok(())
                }
                None => Ok(()),
            };
            if flow.and_then(|()| self.due()).is_err() || self.stop.load(Ordering::Acquire) {
                return;
            }
        }
    }

    /// Report the start-up scan's files (settled ones at once), then `ScanDone` once none of
    /// them is waiting any more.
    fn start_up(&mut self, found: Vec<Found>) -> Flow {
        self.report_ignore_problems()?;
        let mut waiting = HashSet::new();
        for f in found {
            let path = f.path.clone();
            if self.candidate(f, false)? {
                waiting.insert(path);
            }
        }
        self.scan_waiting = Some(waiting);
        self.check_scan_done()
    }

    fn check_scan_done(&mut self) -> Flow {
        if self.scan_waiting.as_ref().is_some_and(HashSet::is_empty) {
            self.scan_waiting = None;
            self.send(WatchEvent::ScanDone)?;
        }
        Ok(())
    }

    fn scan_finished_with(&mut self, path: &Path) -> Flow {
        if let Some(w) = &mut self.scan_waiting {
            if w.remove(path) {
                return self.check_scan_done();
            }
        }
        Ok(())
    }

    fn root_of(&self, path: &Path) -> Option<usize> {
        self.roots
            .iter()
            .enumerate()
            .filter(|(_, r)| path.starts_with(&r.path))
            .max_by_key(|(_, r)| r.path.as_os_str().len())
            .map(|(i, _)| i)
    }

    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        match self.root_of(path) {
            Some(i) => self.roots[i].ignored(path, is_dir),
            None => true,
        }
    }

    /// Watch `dir` and every folder below it that is not ignored, reading ignore files on
    /// the way, and collect its files. At start-up (`fatal`) a watch-limit error is
    /// returned; later it is reported as a problem.
    fn walk(&mut self, dir: &Path, found: &mut Vec<Found>, fatal: bool) -> Result<()> {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            if let Some(i) = self.root_of(&dir) {
                if dir != self.roots[i].path && IGNORE_FILES.iter().any(|n| dir.join(n).is_file()) {
                    self.roots[i].reload(&dir);
                }
            }
            if !self.dirs.contains(&dir) {
                match self.debouncer.watch(&dir, RecursiveMode::NonRecursive) {
                    Ok(()) => {
                        self.dirs.insert(dir.clone());
                    }
                    Err(e) => {
                        let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch);
                        let err = notify_error(e, Some(&dir));
                        if limit && fatal {
                            return Err(err);
                        }
                        let sent = self.send(WatchEvent::Problem {
                            path: dir.clone(),
                            error: err,
                        });
                        if sent.is_err() {
                            return Ok(());
                        }
                        // Past the watch limit its files are still reported once (changes
                        // in it are not seen until the limit is raised); an unreadable
                        // folder is skipped.
                        if !limit {
                            continue;
                        }
                    }
                }
            }
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    let err = io_problem(&dir, "reading the folder", &e);
                    let _ = self.send(WatchEvent::Problem {
                        path: dir,
                        error: err,
                    });
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    if !self.ignored(&path, true) {
                        stack.push(path);
                    }
                } else if ft.is_symlink() {
                    if let Some(meta) = self.symlink(&path) {
                        found.push(Found::new(path, &meta));
                    }
                } else if ft.is_file() && !self.ignored(&path, false) {
                    match entry.metadata() {
                        Ok(meta) => found.push(Found::new(path, &meta)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            let err = io_problem(&path, "reading the file's size", &e);
                            let _ = self.send(WatchEvent::Problem { path, error: err });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A symbolic link: a link to a file counts as that file; a link to a folder is not
    /// followed; a loop is a problem for that link only.
    fn symlink(&mut self, link: &Path) -> Option<std::fs::Metadata> {
        if self.ignored(link, false) {
            return None;
        }
        match std::fs::metadata(link) {
            Ok(meta) if meta.is_file() => Some(meta),
            Ok(meta) if meta.is_dir() => {
                let target = std::fs::canonicalize(link).ok()?;
                let parent = link.parent().and_then(|p| std::fs::canonicalize(p).ok())?;
                if parent.starts_with(&target) {
                    let _ = self.send(WatchEvent::Problem {
                        path: link.to_path_buf(),
                        error: local_error(
                            ErrorKind::Other,
                            link,
                            format!(
                                "symbolic link loop: it points to {}, which contains it; not followed",
                                target.display()
                            ),
                            "remove the link or point it outside the folder",
                        ),
                    });
                }
                None
            }
            Ok(_) => None,
            Err(e) if is_link_loop(&e) => {
                let _ = self.send(WatchEvent::Problem {
                    path: link.to_path_buf(),
                    error: local_error(
                        ErrorKind::Other,
                        link,
                        "symbolic link loop: the link resolves to itself; not followed",
                        "remove the link or point it at a real file",
                    ),
                });
                None
            }
            // A dangling link: nothing to sync.
            Err(_) => None,
        }
    }

    /// A file that exists now with this size and mtime: report it at once when its mtime
    /// is older than the settle period, else wait. Returns whether it waits. A file whose
    /// size and mtime were already reported is not reported again. `hold`: it was just found
    /// in a folder that just appeared, and waits at least [`HOLD`] in case it was moved there.
    fn candidate(&mut self, f: Found, hold: bool) -> std::result::Result<bool, Closed> {
        let Found {
            path,
            size,
            mtime_ns,
            ino,
        } = f;
        let known = self.known.entry(path.clone()).or_insert(Known {
            reported: None,
            ino,
        });
        known.ino = ino;
        if known.reported == Some((size, mtime_ns)) {
            self.unschedule(&path);
            return Ok(false);
        }
        if hold {
            let now = Instant::now();
            self.orphans
                .retain(|_, (_, at)| now.duration_since(*at) < HOLD * 4);
            self.orphans.insert(ino, (path.clone(), now));
            self.schedule(path, size, mtime_ns, HOLD);
            return Ok(true);
        }
        let age = now_ns().saturating_sub(mtime_ns);
        if age >= self.settle.as_nanos() as i64 && !self.pending.contains_key(&path) {
            self.stable(path, size, mtime_ns)?;
            return Ok(false);
        }
        self.schedule(path, size, mtime_ns, Duration::ZERO);
        Ok(true)
    }

    /// Look at `path` again once its mtime is `settle` old: unchanged size and mtime then
    /// mean no write for the whole settle period.
    fn schedule(&mut self, path: PathBuf, size: u64, mtime_ns: i64, at_least: Duration) {
        self.seq += 1;
        let age = Duration::from_nanos(now_ns().saturating_sub(mtime_ns).max(0) as u64);
        let wait = self.settle.saturating_sub(age).max(at_least);
        let due = (Instant::now() + wait, self.seq);
        if let Some(old) = self.pending.insert(
            path.clone(),
            Pending {
                size,
                mtime_ns,
                due,
            },
        ) {
            self.deadlines.remove(&old.due);
        }
        self.deadlines.insert(due, path);
        self.settling.store(self.pending.len(), Ordering::Relaxed);
    }

    fn unschedule(&mut self, path: &Path) {
        if let Some(old) = self.pending.remove(path) {
            self.deadlines.remove(&old.due);
            self.settling.store(self.pending.len(), Ordering::Relaxed);
        }
    }

    /// Look again at the files whose settle period ended.
    fn due(&mut self) -> Flow {
        let now = Instant::now();
        while let Some((&key, _)) = self.deadlines.first_key_value() {
            if key.0 > now {
                break;
            }
            let path = self.deadlines.remove(&key).expect("present");
            let Some(p) = self.pending.remove(&path) else {
                continue;
            };
            self.settling.store(self.pending.len(), Ordering::Relaxed);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    let (size, mtime) = (meta.len(), mtime_ns(&meta));
                    if (size, mtime) == (p.size, p.mtime_ns) {
                        self.stable(path, size, mtime)?;
                    } else {
                        self.schedule(path, size, mtime, Duration::ZERO);
                    }
                }
                Ok(_) => self.removed(&path, false)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.removed(&path, false)?,
                Err(e) => {
                    let err = io_problem(&path, "reading the file's size", &e);
                    self.send(WatchEvent::Problem {
                        path: path.clone(),
                        error: err,
                    })?;
                    self.scan_finished_with(&path)?;
                }
            }
        }
        Ok(())
    }

    /// Report a settled file, unless it cannot be read.
    fn stable(&mut self, path: PathBuf, size: u64, mtime_ns: i64) -> Flow {
        let Some(root) = self.root_of(&path).map(|i| self.roots[i].path.clone()) else {
            return Ok(());
        };
        if let Err(e) = readable(&path) {
            // Forget what was reported, so that a later change (a chmod too) is looked at.
            if let Some(k) = self.known.get_mut(&path) {
                k.reported = None;
            }
            let err = io_problem(&path, "opening the file", &e);
            self.send(WatchEvent::Problem {
                path: path.clone(),
                error: err,
            })?;
            return self.scan_finished_with(&path);
        }
        if let Some(k) = self.known.get_mut(&path) {
            k.reported = Some((size, mtime_ns));
            if self.orphans.get(&k.ino).is_some_and(|(p, _)| p == &path) {
                self.orphans.remove(&k.ino);
            }
        }
        self.send(WatchEvent::Stable {
            root,
            path: path.clone(),
            size,
            mtime_ns,
        })?;
        self.scan_finished_with(&path)
    }

    /// `path` (a file or a folder) is gone: one `Removed` per known file at or below it.
    /// `moved`: it was moved away (a rename whose other half was not seen); a file of it
    /// just found in a new folder with the same inode is where it went.
    fn removed(&mut self, path: &Path, moved: bool) -> Flow {
        let gone: Vec<PathBuf> = self
            .known
            .range(path.to_path_buf()..)
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(path))
            .cloned()
            .collect();
        for p in gone {
            let Some(k) = self.known.remove(&p) else {
                continue;
            };
            let reported = k.reported.is_some();
            self.unschedule(&p);
            let went = if moved {
                self.orphans.remove(&k.ino)
            } else {
                None
            };
            if let Some((to, _)) = went.filter(|(to, _)| to != &p && self.known.contains_key(to)) {
                let (fi, ti) = (self.root_of(&p), self.root_of(&to));
                if reported && fi == ti {
                    if let Some(i) = ti {
                        let root = self.roots[i].path.clone();
                        self.send(WatchEvent::Renamed {
                            root,
                            from: p.clone(),
                            to,
                        })?;
                        self.scan_finished_with(&p)?;
                        continue;
                    }
                }
            }
            if reported {
                if let Some(i) = self.root_of(&p) {
                    let root = self.roots[i].path.clone();
                    self.send(WatchEvent::Removed {
                        root,
                        path: p.clone(),
                    })?;
                }
            }
            self.scan_finished_with(&p)?;
        }
        self.forget_dirs(path);
        Ok(())
    }

    fn forget_dirs(&mut self, path: &Path) {
        let gone: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(path))
            .cloned()
            .collect();
        for d in gone {
            self.dirs.remove(&d);
            // notify already dropped the kernel watch of a deleted or moved folder.
            let _ = self.debouncer.unwatch(&d);
        }
        for r in &mut self.roots {
            r.nested.retain(|d, _| !d.starts_with(path));
        }
    }

    /// Something happened at `path`: look at what is there now.
    fn touched(&mut self, path: &Path) -> Flow {
        let Some(i) = self.root_of(path) else {
            return Ok(());
        };
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return self.removed(path, false),
            Err(e) => {
                let err = io_problem(path, "reading the file's size", &e);
                return self.send(WatchEvent::Problem {
                    path: path.to_path_buf(),
                    error: err,
                });
            }
        };
        if meta.is_dir() {
            if path == self.roots[i].path || !self.ignored(path, true) {
                self.rescan(path)?;
            }
            return Ok(());
        }
        let name = path.file_name().unwrap_or_default();
        if IGNORE_FILES.iter().any(|n| name == *n) {
            if let Some(dir) = path.parent() {
                self.roots[i].reload(dir);
                self.report_ignore_problems()?;
                let dir = dir.to_path_buf();
                // Rules changed: drop what is ignored now, pick up what no longer is.
                let now_ignored: Vec<PathBuf> = self
                    .known
                    .range(dir.clone()..)
                    .map(|(p, _)| p)
                    .take_while(|p| p.starts_with(&dir))
                    .filter(|p| self.ignored(p, false))
                    .cloned()
                    .collect();
                for p in now_ignored {
                    self.known.remove(&p);
                    self.unschedule(&p);
                }
                self.rescan(&dir)?;
            }
        }
        if meta.file_type().is_symlink() {
            if let Some(m) = self.symlink(path) {
                self.candidate(Found::new(path.to_path_buf(), &m), false)?;
            }
            return Ok(());
        }
        if meta.is_file() && !self.ignored(path, false) {
            self.candidate(Found::new(path.to_path_buf(), &meta), false)?;
        }
        Ok(())
    }

    /// Walk `dir` again (new folder, folder moved in, overflowed queue): watch what is not
    /// watched, report what is new or changed, and what disappeared.
    fn rescan(&mut self, dir: &Path) -> Flow {
        let mut found = Vec::new();
        let _ = self.walk(dir, &mut found, false);
        self.report_ignore_problems()?;
        let present: HashSet<&PathBuf> = found.iter().map(|f| &f.path).collect();
        let gone: Vec<PathBuf> = self
            .known
            .range(dir.to_path_buf()..)
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(dir))
            .filter(|p| !present.contains(p))
            .cloned()
            .collect();
        for p in gone {
            self.removed(&p, false)?;
        }
        for f in found {
            let hold = !self.known.contains_key(&f.path);
            self.candidate(f, hold)?;
        }
        Ok(())
    }

    /// `from` was renamed to `to`.
    fn renamed(&mut self, from: &Path, to: &Path) -> Flow {
        let (Some(fi), Some(ti)) = (self.root_of(from), self.root_of(to)) else {
            // Moved in from outside, or out of the roots.
            if self.root_of(to).is_some() {
                return self.touched(to);
            }
            return self.removed(from, true);
        };
        let moved: Vec<(PathBuf, Known)> = self
            .known
            .range(from.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(from))
            .map(|(p, k)| (p.clone(), *k))
            .collect();
        self.forget_dirs(from);
        let root = self.roots[ti].path.clone();
        for (old, state) in moved {
            self.known.remove(&old);
            self.unschedule(&old);
            let rel = old.strip_prefix(from).unwrap_or(Path::new(""));
            let new = if rel.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rel)
            };
            if state.reported.is_some() {
                if fi == ti && !self.ignored(&new, false) {
                    self.send(WatchEvent::Renamed {
                        root: root.clone(),
                        from: old.clone(),
                        to: new.clone(),
                    })?;
                    // Keep what was reported, so the file at its new place is reported as
                    // stable (the engine records it there) but not as changed twice.
                    self.known.insert(
                        new,
                        Known {
                            reported: None,
                            ino: state.ino,
                        },
                    );
                } else {
                    let from_root = self.roots[fi].path.clone();
                    self.send(WatchEvent::Removed {
                        root: from_root,
                        path: old.clone(),
                    })?;
                }
            }
            self.scan_finished_with(&old)?;
        }
        self.touched(to)
    }

    fn notified(&mut self, r: DebounceEventResult) -> Flow {
        if self.dropping {
            return Ok(());
        }
        let events = match r {
            Ok(events) => events,
            Err(errors) => {
                for e in errors {
                    let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch);
                    let path = e
                        .paths
                        .first()
                        .cloned()
                        .unwrap_or_else(|| PathBuf::from("."));
                    let err = notify_error(e, Some(&path));
                    self.send(WatchEvent::Problem { path, error: err })?;
                    if !limit {
                        // A read error on the inotify descriptor may have lost events.
                        self.rescan_all()?;
                    }
                }
                return Ok(());
            }
        };
        for ev in events {
            if ev.need_rescan() {
                self.rescan_all()?;
                continue;
            }
            match ev.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) | EventKind::Create(_) => {
                    for p in &ev.paths {
                        self.touched(p)?;
                    }
                }
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if ev.paths.len() == 2 => {
                    self.renamed(&ev.paths[0], &ev.paths[1])?;
                }
                EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                    for p in &ev.paths {
                        // A `From` whose `To` never came: moved out of the roots (or
                        // something new is already there).
                        if std::fs::symlink_metadata(p).is_err() {
                            let moved = matches!(ev.kind, EventKind::Modify(_));
                            self.removed(p, moved)?;
                        } else {
                            self.touched(p)?;
                        }
                    }
                }
                EventKind::Modify(_) | EventKind::Any => {
                    for p in &ev.paths {
                        self.touched(p)?;
                    }
                }
                // Opens and reads (the engine's own uploads) change nothing.
                EventKind::Access(_) | EventKind::Other => {}
            }
        }
        Ok(())
    }

    fn rescan_all(&mut self) -> Flow {
        for i in 0..self.roots.len() {
            let root = self.roots[i].path.clone();
            self.rescan(&root)?;
        }
        Ok(())
    }

    fn report_ignore_problems(&mut self) -> Flow {
        let mut problems = Vec::new();
        for r in &mut self.roots {
            problems.append(&mut r.problems);
        }
        for (path, msg) in problems {
            let error = local_error(
                ErrorKind::Other,
                &path,
                format!("bad ignore pattern: {msg}"),
                "fix the pattern (.gitignore syntax); the other patterns still apply",
            );
            self.send(WatchEvent::Problem { path, error })?;
        }
        Ok(())
    }

    /// Send an event, waiting while the consumer's buffer is full; `Closed` once the
    /// consumer is gone or the watcher was dropped.
    fn send(&self, ev: WatchEvent) -> Flow {
        let mut ev = ev;
        loop {
            match self.out.try_send(ev) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(Closed),
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if self.stop.load(Ordering::Acquire) {
                        return Err(Closed);
                    }
                    ev = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

/// A file's mtime in Unix nanoseconds, as the catalog's file state records it.
fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    stowage_store::fsmeta::mtime_ns(meta) as i64
}

/// The inode that pairs a file moved away with the file that turns up elsewhere. Without one
/// (not on Unix) every file gets a number of its own: such a move is a removal and a new file.
fn inode(meta: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        std::os::unix::fs::MetadataExt::ino(meta)
    }
    #[cfg(not(unix))]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let _ = meta;
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
}

/// Whether resolving a link failed because it loops.
fn is_link_loop(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(windows)]
    {
        // ERROR_CANT_RESOLVE_FILENAME: a reparse point that leads back to itself.
        e.raw_os_error() == Some(1921)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = e;
        false
    }
}

/// Whether a notify error is the per-user limit of inotify instances (a Linux limit).
fn is_too_many_instances(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::EMFILE)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Whether this process may read `path`, asked without opening it (an open would itself
/// raise a watch event for every file).
#[cfg(unix)]
fn readable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::access(c.as_ptr(), libc::R_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether `path` can be looked at: elsewhere than on Unix access rights cannot be asked
/// without opening the file, so a file that cannot be read fails when it is uploaded.
#[cfg(not(unix))]
fn readable(path: &Path) -> std::io::Result<()> {
    std::fs::metadata(path).map(|_| ())
}

fn io_problem(path: &Path, what: &str, e: &std::io::Error) -> Error {
    let (kind, hint) = match e.kind() {
        std::io::ErrorKind::PermissionDenied => (
            ErrorKind::Unauthorized,
            "Stowage cannot read it: give your user read access (e.g. `chmod u+r`) or add it to .stowageignore",
        ),
        std::io::ErrorKind::NotFound => (ErrorKind::NotFound, "check the path"),
        _ => (ErrorKind::Other, "check the file and try again"),
    };
    local_error(kind, path, format!("{what}: {e}"), hint)
}

/// A notify error as a core error naming `path` and, for the inotify limits, the fix.
fn notify_error(e: notify::Error, path: Option<&Path>) -> Error {
    let path = e
        .paths
        .first()
        .cloned()
        .or_else(|| path.map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    match e.kind {
        notify::ErrorKind::MaxFilesWatch => watch_limit_error(&path),
        notify::ErrorKind::Io(io) if is_too_many_instances(&io) => local_error(
            ErrorKind::Other,
            &path,
            format!("cannot watch this folder: too many inotify instances ({io})"),
            format!(
                "raise the limit with `sudo sysctl fs.inotify.max_user_instances=1024` (now {}), \
                 or stop other programs that watch files",
                read_limit("max_user_instances")
            ),
        ),
        notify::ErrorKind::Io(io) => io_problem(&path, "watching the folder", &io),
        notify::ErrorKind::PathNotFound => local_error(
            ErrorKind::NotFound,
            &path,
            "cannot watch this folder: it does not exist",
            "check the path",
        ),
        other => local_error(
            ErrorKind::Other,
            &path,
            format!("cannot watch this folder: {other:?}"),
            "try again",
        ),
    }
}

/// The inotify watch limit is reached while watching `dir`.
fn watch_limit_error(dir: &Path) -> Error {
    local_error(
        ErrorKind::Other,
        dir,
        format!(
            "cannot watch this folder: the inotify watch limit is reached \
             (fs.inotify.max_user_watches = {}{}; one watch per folder)",
            read_limit("max_user_watches"),
            // Containers (user namespaces) can have a lower limit of their own.
            std::fs::read_to_string("/proc/sys/user/max_inotify_watches")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|n| {
                    read_limit("max_user_watches")
                        .parse::<u64>()
                        .is_ok_and(|global| *n < global)
                })
                .map(|n| format!(", user.max_inotify_watches = {n} here"))
                .unwrap_or_default()
        ),
        "raise it with `sudo sysctl fs.inotify.max_user_watches=524288` (add \
         `fs.inotify.max_user_watches=524288` to /etc/sysctl.d/99-stowage.conf to keep it), \
         or watch fewer folders (.stowageignore)",
    )
}

fn read_limit(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    //! Real file system, real inotify: every test creates files in a temporary folder and
    //! reads what the watcher reports.
    use std::collections::BTreeSet;
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    use notify::event::Flag;
    use notify_debouncer_full::DebouncedEvent;

    use super::*;

    const SETTLE: Duration = Duration::from_millis(500);

    fn canon(p: &Path) -> PathBuf {
        std::fs::canonicalize(p).unwrap()
    }

    fn start(roots: &[&Path], settle: Duration) -> (Watcher, mpsc::Receiver<WatchEvent>) {
        Watcher::start(WatchOptions {
            roots: roots.iter().map(|p| p.to_path_buf()).collect(),
            settle,
            ignore: Vec::new(),
        })
        .expect("watcher starts")
    }

    /// Write `bytes` to `path` (creating its folder) and close it.
    fn write(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Make `path`'s mtime an hour old: such a file is settled when first seen.
    fn age(path: &Path) {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    }

    /// Every event up to and including `ScanDone` (which must come within 20 s).
    async fn scan(rx: &mut mpsc::Receiver<WatchEvent>) -> Vec<WatchEvent> {
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
                Ok(Some(WatchEvent::ScanDone)) => return out,
                Ok(Some(ev)) => out.push(ev),
                Ok(None) => panic!("watcher stopped before ScanDone; got {out:?}"),
                Err(_) => panic!("no ScanDone within 20 s; got {out:?}"),
            }
        }
    }

    /// Events until none came for `quiet`.
    async fn drain(rx: &mut mpsc::Receiver<WatchEvent>, quiet: Duration) -> Vec<WatchEvent> {
        let mut out = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout(quiet, rx.recv()).await {
            out.push(ev);
        }
        out
    }

    /// Events until `done` holds for what came so far (at most 30 s).
    async fn until(
        rx: &mut mpsc::Receiver<WatchEvent>,
        mut done: impl FnMut(&[WatchEvent]) -> bool,
    ) -> Vec<WatchEvent> {
        let mut out = Vec::new();
        let end = Instant::now() + Duration::from_secs(30);
        while !done(&out) {
            let left = end.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(ev)) => out.push(ev),
                Ok(None) => panic!("watcher stopped; got {out:?}"),
                Err(_) => panic!("condition not met within 30 s; got {out:?}"),
            }
        }
        out
    }

    fn stable(evs: &[WatchEvent]) -> Vec<(PathBuf, u64)> {
        evs.iter()
            .filter_map(|e| match e {
                WatchEvent::Stable { path, size, .. } => Some((path.clone(), *size)),
                _ => None,
            })
            .collect()
    }

    fn stable_set(evs: &[WatchEvent]) -> BTreeSet<PathBuf> {
        stable(evs).into_iter().map(|(p, _)| p).collect()
    }

    fn has_stable(evs: &[WatchEvent], p: &Path) -> bool {
        stable(evs).iter().any(|(q, _)| q == p)
    }

    fn problems(evs: &[WatchEvent]) -> Vec<(PathBuf, String)> {
        evs.iter()
            .filter_map(|e| match e {
                WatchEvent::Problem { path, error } => Some((path.clone(), error.to_string())),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn start_up_scan_reports_every_file_once_then_scan_done() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let old = root.join("models/old.pt");
        write(&old, b"weights");
        age(&old);
        let nested = root.join("results/2026/run1/metrics.json");
        write(&nested, b"{\"accuracy\":0.9}");
        age(&nested);
        // Written just now: reported once its settle period has passed, before ScanDone.
        let fresh = root.join("fresh.csv");
        write(&fresh, b"a,b\n1,2\n");
        let (_w, mut rx) = start(&[&root], SETTLE);
        let evs = scan(&mut rx).await;
        assert_eq!(
            stable_set(&evs),
            BTreeSet::from([old.clone(), nested.clone(), fresh.clone()])
        );
        assert_eq!(stable(&evs).len(), 3, "each file once: {evs:?}");
        let mtime = mtime_ns(&std::fs::metadata(&old).unwrap());
        assert!(evs.iter().any(|e| matches!(e,
            WatchEvent::Stable { root: r, path, size: 7, mtime_ns }
                if r == &root && path == &old && *mtime_ns == mtime)));
        // Nothing more: no duplicate reports.
        let later = drain(&mut rx, SETTLE * 3).await;
        assert!(later.is_empty(), "{later:?}");
    }

    #[tokio::test]
    async fn a_file_being_appended_to_is_reported_only_after_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let settle = Duration::from_secs(1);
        let (_w, mut rx) = start(&[&root], settle);
        assert!(scan(&mut rx).await.is_empty());
        let log = root.join("train.log");
        let mut f = std::fs::File::create(&log).unwrap();
        // 3 s of appends, one every 200 ms: never quiet for the 1 s settle period.
        let mut during = Vec::new();
        for i in 0..15 {
            writeln!(f, "epoch {i} loss 0.{i}").unwrap();
            f.flush().unwrap();
            while let Ok(ev) = rx.try_recv() {
                during.push(ev);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(f);
        let final_size = std::fs::metadata(&log).unwrap().len();
        assert!(stable(&during).is_empty(), "reported mid-write: {during:?}");
        let evs = until(&mut rx, |e| has_stable(e, &log)).await;
        assert_eq!(stable(&evs), vec![(log.clone(), final_size)]);
        let later = drain(&mut rx, settle * 2).await;
        assert!(stable(&later).is_empty(), "reported twice: {later:?}");
    }

    #[tokio::test]
    async fn empty_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let before = root.join("empty-before");
        write(&before, b"");
        let (_w, mut rx) = start(&[&root], SETTLE);
        let evs = scan(&mut rx).await;
        assert_eq!(stable(&evs), vec![(before, 0)]);
        let after = root.join("empty-after");
        std::fs::File::create(&after).unwrap();
        let evs = until(&mut rx, |e| has_stable(e, &after)).await;
        assert_eq!(stable(&evs), vec![(after, 0)]);
    }

    #[tokio::test]
    async fn folders_created_after_start_are_watched() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let (_w, mut rx) = start(&[&root], SETTLE);
        scan(&mut rx).await;
        // Created together with its folders, before any watch can be on them.
        let first = root.join("a/b/c/first.json");
        write(&first, b"{}");
        let evs = until(&mut rx, |e| has_stable(e, &first)).await;
        assert_eq!(stable_set(&evs), BTreeSet::from([first.clone()]));
        // Later files in the new folders come from their own watches.
        let second = root.join("a/b/c/second.json");
        let third = root.join("a/b/third.json");
        write(&second, b"[]");
        write(&third, b"[1]");
        let evs = until(&mut rx, |e| has_stable(e, &second) && has_stable(e, &third)).await;
        assert_eq!(stable(&evs).len(), 2, "{evs:?}");
    }

    #[tokio::test]
    async fn renames_and_moves_in_and_out_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(&dir.path().join("root").tap_mkdir());
        let outside = canon(&dir.path().join("outside").tap_mkdir());
        let a = root.join("a.pt");
        write(&a, b"aaaa");
        age(&a);
        let (_w, mut rx) = start(&[&root], SETTLE);
        assert_eq!(
            stable_set(&scan(&mut rx).await),
            BTreeSet::from([a.clone()])
        );

        // Within the root: Renamed, then Stable at the new place.
        let b = root.join("sub/b.pt");
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::rename(&a, &b).unwrap();
        let evs = until(&mut rx, |e| has_stable(e, &b)).await;
        let renamed = evs
            .iter()
            .position(|e| matches!(e, WatchEvent::Renamed { from, to, root: r } if from == &a && to == &b && r == &root))
            .unwrap_or_else(|| panic!("no Renamed: {evs:?}"));
        let at_new = evs
            .iter()
            .position(|e| matches!(e, WatchEvent::Stable { path, size: 4, .. } if path == &b))
            .unwrap();
        assert!(renamed < at_new, "{evs:?}");
        assert!(
            !evs.iter().any(|e| matches!(e, WatchEvent::Removed { .. })),
            "{evs:?}"
        );

        // Out of the root: Removed.
        std::fs::rename(&b, outside.join("b.pt")).unwrap();
        let evs = until(&mut rx, |e| {
            e.iter()
                .any(|e| matches!(e, WatchEvent::Removed { path, .. } if path == &b))
        })
        .await;
        assert!(stable(&evs).is_empty(), "{evs:?}");

        // Into the root (an old file): Stable at once, no Renamed.
        let c = outside.join("c.bin");
        write(&c, b"cc");
        age(&c);
        let c_in = root.join("c.bin");
        std::fs::rename(&c, &c_in).unwrap();
        let evs = until(&mut rx, |e| has_stable(e, &c_in)).await;
        assert_eq!(stable(&evs), vec![(c_in, 2)]);
        assert!(
            !evs.iter().any(|e| matches!(e, WatchEvent::Renamed { .. })),
            "{evs:?}"
        );
    }

    #[tokio::test]
    async fn a_renamed_folder_reports_each_file_and_stays_watched() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let names = ["x.json", "deep/y.json", "deep/er/z.json"];
        for n in names {
            let p = root.join("run1").join(n);
            write(&p, n.as_bytes());
            age(&p);
        }
        let (_w, mut rx) = start(&[&root], SETTLE);
        assert_eq!(stable(&scan(&mut rx).await).len(), 3);
        std::fs::rename(root.join("run1"), root.join("run2")).unwrap();
        let evs = until(&mut rx, |e| stable(e).len() == 3).await;
        for n in names {
            let (from, to) = (root.join("run1").join(n), root.join("run2").join(n));
            assert!(
                evs.iter().any(|e| matches!(e, WatchEvent::Renamed { from: f, to: t, .. } if f == &from && t == &to)),
                "no Renamed for {n}: {evs:?}"
            );
            assert!(has_stable(&evs, &to), "{evs:?}");
        }
        // The renamed folders are watched under their new names.
        let new = root.join("run2/deep/er/new.json");
        write(&new, b"new");
        let evs = until(&mut rx, |e| has_stable(e, &new)).await;
        assert_eq!(stable(&evs), vec![(new, 3)]);
        // And a folder moved out: one Removed per file.
        let outside = tempfile::tempdir().unwrap();
        std::fs::rename(root.join("run2"), outside.path().join("run2")).unwrap();
        let evs = until(&mut rx, |e| {
            e.iter()
                .filter(|e| matches!(e, WatchEvent::Removed { .. }))
                .count()
                == 4
        })
        .await;
        assert!(stable(&evs).is_empty(), "{evs:?}");
    }

    #[tokio::test]
    async fn ignore_files_defaults_and_extra_lines_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        write(&root.join(".gitignore"), b"*.log\n/cache/\n");
        write(&root.join("sub/.stowageignore"), b"*.tmpdata\n!keep.log\n");
        let files = [
            "keep.txt",
            "x.log",
            "cache/blob",
            "sub/y.tmpdata",
            "sub/z.txt",
            "sub/keep.log",
            "secret/k.txt",
            ".git/config",
            "notes.txt.swp",
            "draft~",
            ".stowage-abc123.part",
        ];
        for f in files {
            let p = root.join(f);
            write(&p, b"data");
            age(&p);
        }
        for f in [".gitignore", "sub/.stowageignore"] {
            age(&root.join(f));
        }
        let (_w, mut rx) = Watcher::start(WatchOptions {
            roots: vec![root.clone()],
            settle: SETTLE,
            ignore: vec!["secret/".into()],
        })
        .unwrap();
        let evs = scan(&mut rx).await;
        let want: BTreeSet<PathBuf> = [
            "keep.txt",
            "sub/z.txt",
            "sub/keep.log",
            ".gitignore",
            "sub/.stowageignore",
        ]
        .iter()
        .map(|f| root.join(f))
        .collect();
        assert_eq!(stable_set(&evs), want);
        // The same rules apply to files created later.
        for f in [
            "later.log",
            "sub/later.tmpdata",
            ".git/HEAD",
            "secret/new",
            "cache/x",
        ] {
            write(&root.join(f), b"ignored");
        }
        let seen = root.join("sub/later.txt");
        write(&seen, b"seen");
        let evs = until(&mut rx, |e| has_stable(e, &seen)).await;
        let more = drain(&mut rx, SETTLE * 2).await;
        assert_eq!(stable(&evs), vec![(seen, 4)], "{evs:?}");
        assert!(stable(&more).is_empty(), "{more:?}");
    }

    #[tokio::test]
    async fn an_ignore_file_written_while_watching_applies_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let (_w, mut rx) = start(&[&root], SETTLE);
        scan(&mut rx).await;
        let rules = root.join("runs/.stowageignore");
        write(&rules, b"*.ckpt\n");
        until(&mut rx, |e| has_stable(e, &rules)).await;
        let (ckpt, json) = (root.join("runs/a.ckpt"), root.join("runs/a.json"));
        write(&ckpt, b"checkpoint");
        write(&json, b"{}");
        let evs = until(&mut rx, |e| has_stable(e, &json)).await;
        let more = drain(&mut rx, SETTLE * 2).await;
        assert!(
            !has_stable(&evs, &ckpt) && !has_stable(&more, &ckpt),
            "{evs:?} {more:?}"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlink_loops_are_problems_for_that_link_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let real = root.join("sub/real.bin");
        write(&real, b"real");
        age(&real);
        std::os::unix::fs::symlink(&root, root.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("self", root.join("self")).unwrap();
        let (_w, mut rx) = start(&[&root], SETTLE);
        let evs = tokio::time::timeout(Duration::from_secs(20), scan(&mut rx))
            .await
            .expect("scan finishes despite the loops");
        assert_eq!(stable_set(&evs), BTreeSet::from([real]));
        let mut probs: Vec<PathBuf> = problems(&evs).into_iter().map(|(p, _)| p).collect();
        probs.sort();
        assert_eq!(
            probs,
            vec![root.join("self"), root.join("sub/up")],
            "{evs:?}"
        );
        assert!(
            problems(&evs)
                .iter()
                .all(|(_, m)| m.contains("symbolic link loop")),
            "{evs:?}"
        );
    }

    #[cfg(unix)]
    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// As root, chmod 000 does not stop reading: run this test again as `nobody`.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_permission_error_is_reported_for_that_file_only() {
        if is_root() && std::env::var_os("STOWAGE_WATCH_TEST_UNPRIVILEGED").is_none() {
            let exe = std::env::current_exe().unwrap();
            let out = std::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&exe)
                .args([
                    "--exact",
                    "watch::tests::a_permission_error_is_reported_for_that_file_only",
                    "--nocapture",
                ])
                .env("STOWAGE_WATCH_TEST_UNPRIVILEGED", "1")
                .env("TMPDIR", "/tmp")
                .output()
                .expect("setpriv (util-linux) runs this test as nobody when run as root");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "as nobody:\n{text}");
            assert!(
                text.contains("1 passed"),
                "the test did not run as nobody:\n{text}"
            );
            return;
        }
        assert!(!is_root(), "must run unprivileged");
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let ok = root.join("ok.csv");
        write(&ok, b"1,2");
        age(&ok);
        let secret = root.join("secret.pkl");
        write(&secret, b"pickle");
        age(&secret);
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
        let locked = root.join("locked");
        write(&locked.join("inside.bin"), b"x");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let (_w, mut rx) = start(&[&root], SETTLE);
        let evs = scan(&mut rx).await;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(stable_set(&evs), BTreeSet::from([ok]));
        let probs = problems(&evs);
        assert!(
            probs.iter().any(|(p, m)| p == &secret
                && m.contains("secret.pkl")
                && m.contains("ermission denied")
                && m.contains("chmod")),
            "{probs:?}"
        );
        assert!(probs.iter().any(|(p, _)| p == &locked), "{probs:?}");
        assert!(evs
            .iter()
            .any(|e| matches!(e, WatchEvent::Problem { path, error }
            if path == &secret && error.kind() == Some(&ErrorKind::Unauthorized))));
        // Made readable, it is reported.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let evs = until(&mut rx, |e| has_stable(e, &secret)).await;
        assert_eq!(stable(&evs), vec![(secret, 6)]);
    }

    #[tokio::test]
    async fn several_roots_are_watched_and_named() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let (r1, r2) = (canon(one.path()), canon(two.path()));
        let f1 = r1.join("one.json");
        write(&f1, b"1");
        let (_w, mut rx) = start(&[&r1, &r2], SETTLE);
        let evs = scan(&mut rx).await;
        assert!(evs.iter().any(
            |e| matches!(e, WatchEvent::Stable { root, path, .. } if root == &r1 && path == &f1)
        ));
        let f2 = r2.join("deep/two.json");
        write(&f2, b"22");
        let evs = until(&mut rx, |e| has_stable(e, &f2)).await;
        assert!(evs.iter().any(|e| matches!(e, WatchEvent::Stable { root, path, size: 2, .. } if root == &r2 && path == &f2)));
    }

    #[tokio::test]
    async fn a_burst_of_5000_files_is_reported_exactly_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let (_w, mut rx) = start(&[&root], SETTLE);
        scan(&mut rx).await;
        let mut want = BTreeSet::new();
        for i in 0..5000 {
            let p = root.join(format!("d{}/f{i:05}.json", i % 5));
            write(&p, format!("{{\"i\":{i}}}").as_bytes());
            want.insert(p);
        }
        let evs = until(&mut rx, |e| stable(e).len() >= 5000).await;
        let more = drain(&mut rx, SETTLE * 3).await;
        let all: Vec<(PathBuf, u64)> = stable(&evs).into_iter().chain(stable(&more)).collect();
        assert_eq!(all.len(), 5000, "duplicates reported");
        assert_eq!(
            all.iter().map(|(p, _)| p.clone()).collect::<BTreeSet<_>>(),
            want
        );
        assert!(problems(&evs).is_empty(), "{:?}", problems(&evs));
    }

    /// The kernel drops events when its queue overflows and then sends IN_Q_OVERFLOW
    /// (notify's rescan flag). Here the real events are dropped on purpose, then the real
    /// rescan path runs: what changed meanwhile is reported, nothing else.
    #[tokio::test]
    async fn an_overflowed_queue_rescans_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let (same, changed, deleted) = (
            root.join("same"),
            root.join("changed"),
            root.join("deleted"),
        );
        for p in [&same, &changed, &deleted] {
            write(p, b"v1");
            age(p);
        }
        let (w, mut rx) = start(&[&root], SETTLE);
        assert_eq!(stable(&scan(&mut rx).await).len(), 3);
        w.inject(Msg::DropEvents(true));
        let added = root.join("new/added");
        write(&added, b"new");
        age(&added);
        write(&changed, b"version 2");
        age(&changed);
        std::fs::remove_file(&deleted).unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(drain(&mut rx, Duration::from_millis(100)).await.is_empty());
        w.inject(Msg::DropEvents(false));
        let overflow = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        w.inject(Msg::Notify(Ok(vec![DebouncedEvent::new(
            overflow,
            Instant::now(),
        )])));
        let evs = until(&mut rx, |e| {
            stable(e).len() >= 2 && e.iter().any(|e| matches!(e, WatchEvent::Removed { .. }))
        })
        .await;
        let more = drain(&mut rx, SETTLE * 2).await;
        assert_eq!(
            stable_set(&evs),
            BTreeSet::from([added, changed.clone()]),
            "{evs:?}"
        );
        assert!(evs
            .iter()
            .any(|e| matches!(e, WatchEvent::Removed { path, .. } if path == &deleted)));
        assert!(stable(&more).is_empty(), "{more:?}");
        assert!(has_stable(&evs, &changed) && stable(&evs).contains(&(changed, 9)));
        // The new folder got its watch during the rescan.
        let later = root.join("new/later");
        write(&later, b"l");
        assert!(has_stable(
            &until(&mut rx, |e| has_stable(e, &later)).await,
            &later
        ));
    }

    #[test]
    fn an_exhausted_watch_limit_names_the_folder_and_the_fix() {
        let dir = Path::new("/data/project/.beast-mode/runs");
        let err = notify_error(
            notify::Error::new(notify::ErrorKind::MaxFilesWatch),
            Some(dir),
        );
        let msg = err.to_string();
        assert!(msg.contains("/data/project/.beast-mode/runs"), "{msg}");
        assert!(msg.contains("inotify watch limit"), "{msg}");
        assert!(msg.contains("sysctl fs.inotify.max_user_watches="), "{msg}");
        // notify's own path, when it has one, wins.
        let e = notify::Error::new(notify::ErrorKind::MaxFilesWatch).add_path("/x/deeper".into());
        assert!(notify_error(e, Some(dir)).to_string().contains("/x/deeper"));
    }

    /// A real exhausted limit, in a user namespace of its own whose inotify watch limit is
    /// 8 (the machine's limit is untouched): at start-up an error, later a problem, each
    /// naming the folder and the fix.
    #[tokio::test]
    async fn a_real_exhausted_watch_limit_is_reported_with_the_folder() {
        if std::env::var_os("STOWAGE_WATCH_TEST_LIMITED").is_none() {
            let exe = std::env::current_exe().unwrap();
            let out = std::process::Command::new("unshare")
                .args(["--user", "--map-root-user", "sh", "-c"])
                .arg("echo 8 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"")
                .arg(&exe)
                .args([
                    "--exact",
                    "watch::tests::a_real_exhausted_watch_limit_is_reported_with_the_folder",
                    "--nocapture",
                ])
                .env("STOWAGE_WATCH_TEST_LIMITED", "1")
                .output()
                .expect("unshare (util-linux) runs this test in a user namespace");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success(),
                "in a user namespace (needs unprivileged user namespaces):\n{text}"
            );
            assert!(text.contains("1 passed"), "did not run:\n{text}");
            return;
        }
        // Start-up: 12 folders, 8 watches.
        let dir = tempfile::tempdir().unwrap();
        let big = canon(&dir.path().join("big").tap_mkdir());
        for i in 0..12 {
            std::fs::create_dir(big.join(format!("f{i:02}"))).unwrap();
        }
        let err = Watcher::start(WatchOptions {
            roots: vec![big.clone()],
            ..WatchOptions::default()
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&big.display().to_string()), "{msg}");
        assert!(msg.contains("inotify watch limit is reached"), "{msg}");
        assert!(msg.contains("user.max_inotify_watches = 8"), "{msg}");
        assert!(msg.contains("sysctl fs.inotify.max_user_watches="), "{msg}");
        // Later: 3 folders fit; the folders created afterwards do not.
        let small = canon(&dir.path().join("small").tap_mkdir());
        std::fs::create_dir(small.join("a")).unwrap();
        std::fs::create_dir(small.join("b")).unwrap();
        let (_w, mut rx) = start(&[&small], SETTLE);
        scan(&mut rx).await;
        for i in 0..10 {
            write(&small.join(format!("new{i:02}/file")), b"x");
        }
        let evs = until(&mut rx, |e| {
            problems(e)
                .iter()
                .any(|(_, m)| m.contains("inotify watch limit is reached"))
        })
        .await;
        let (path, m) = problems(&evs)
            .into_iter()
            .find(|(_, m)| m.contains("inotify watch limit"))
            .unwrap();
        assert!(path.starts_with(&small) && path != small, "{path:?}");
        assert!(m.contains(&path.display().to_string()), "{m}");
        // Every new file is still reported once, watched folder or not.
        let files: Vec<PathBuf> = (0..10)
            .map(|i| small.join(format!("new{i:02}/file")))
            .collect();
        let before = stable_set(&evs);
        let after = until(&mut rx, |e| {
            files.iter().all(|f| before.contains(f) || has_stable(e, f))
        })
        .await;
        let all: Vec<(PathBuf, u64)> = stable(&evs).into_iter().chain(stable(&after)).collect();
        assert_eq!(all.len(), 10, "each once: {all:?}");
    }

    #[tokio::test]
    async fn a_missing_root_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope/.beast-mode");
        let err = Watcher::start(WatchOptions {
            roots: vec![missing.clone()],
            ..WatchOptions::default()
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&missing.display().to_string()) && msg.contains("cannot watch"),
            "{msg}"
        );
        assert_eq!(err.kind(), Some(&ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn dropping_the_watcher_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let (w, mut rx) = start(&[&root], SETTLE);
        scan(&mut rx).await;
        drop(w);
        write(&root.join("after-drop"), b"x");
        let r = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(r, Ok(None)), "channel not closed: {r:?}");
    }

    #[test]
    fn default_roots_are_the_registered_projects_beast_mode_folders() {
        let dir = tempfile::tempdir().unwrap();
        let base = canon(dir.path());
        let cat = Catalog::open_at(&base.join("catalog.sqlite3")).unwrap();
        let proj = base.join("proj");
        std::fs::create_dir_all(proj.join(".beast-mode")).unwrap();
        let direct = base.join("other/.beast-mode");
        std::fs::create_dir_all(&direct).unwrap();
        let plain = base.join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        for f in [&proj, &direct, &plain, &base.join("gone")] {
            cat.register_folder(f, None).unwrap();
        }
        let mut roots = default_roots(&cat).unwrap();
        roots.sort();
        let mut want = vec![proj.join(".beast-mode"), direct, plain];
        want.sort();
        assert_eq!(roots, want);
    }

    trait TapMkdir {
        fn tap_mkdir(self) -> Self;
    }
    impl TapMkdir for PathBuf {
        fn tap_mkdir(self) -> Self {
            std::fs::create_dir_all(&self).unwrap();
            self
        }
    }
}
