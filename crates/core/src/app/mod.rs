//! The app layer: one function per user action, shared by the `stowage` CLI and the desktop
//! app. Both shells are thin: they parse (arguments, or an IPC call), call one method of
//! [`App`], and render its typed, serialisable result (text or JSON, or the window).
//!
//! - [`App`] is opened once and shared across threads. It owns Stowage's paths, the profile
//!   the user chose, the opened stores (one per profile, reused), the registry of running
//!   operations and the one event stream. Config, policy and catalog are read on each call,
//!   so an edit made by another process (or by `profile add`) is seen at once.
//! - Every action runs as an operation with an id ([`OpId`]): its events on
//!   [`App::events`] carry that id, and [`App::cancel`] stops it.
//! - Every action fails with one [`AppError`]: kind, message, file/provider/key, next step,
//!   whether a retry may help, and the CLI's exit code.
//! - Results that cover several items (put, get, rm…) hold one [`Item`] per item; their
//!   `failure()` says how the whole action ended.
//! - The TypeScript declarations of these types are generated from them
//!   (`crates/core/bindings/app.ts`, checked by a test), so the window cannot drift.
//!
//! Below this layer, core's modules do the work: policy classifies, sync and watch plan,
//! queue and transfer move bytes, read serves them back, record writes the catalog.

// An AppError is made once per failed action, at the edge, and read by a person: its size
// costs nothing measurable, and boxing it would only complicate every shell's use of it.
#![allow(clippy::result_large_err)]

mod cost;
mod drop;
mod error;
mod event;
mod library;
mod notices;
mod objects;
mod policy;
mod profiles;
mod sync;
mod team;
mod watching;

#[cfg(test)]
mod tests;

pub use cost::*;
pub use drop::*;
pub use error::{AppError, AppResult, EXIT_INTERRUPTED, EXIT_WAITING};
pub use event::{AppEvent, OpId};
pub use library::*;
pub use notices::{Notice, Notices};
pub use objects::*;
pub use policy::*;
pub use profiles::*;
pub use sync::*;
pub use team::*;
pub use watching::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Serialize, Serializer};
use stowage_store::Store;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::catalog::Catalog;
use crate::events::Event;
use crate::{open_store, Config, Paths, Profile, Selection, Session};

/// A profile's store, opened with these settings.
type Opened = (Profile, Arc<dyn Store>);

/// The app: paths, the chosen profile, opened stores, running operations and their events.
pub struct App {
    paths: Paths,
    /// The profile asked for (`--profile`, or the window's choice).
    profile: Option<String>,
    /// `STOWAGE_PROFILE`, read once.
    env_profile: Option<String>,
    stores: Mutex<HashMap<String, Opened>>,
    ops: Mutex<HashMap<OpId, CancellationToken>>,
    next_op: AtomicU64,
    events: broadcast::Sender<AppEvent>,
    /// The watch this app runs, once started; and how the last one ended, if it failed.
    watching: Mutex<Option<(OpId, Watching)>>,
    watch_failed: Mutex<Option<AppError>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("paths", &self.paths)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Open the app on Stowage's folders (from the environment), with `profile` chosen.
    pub fn open(profile: Option<String>) -> AppResult<App> {
        Ok(App::with_paths(Paths::from_env()?, profile))
    }

    /// Open the app on these folders.
    pub fn with_paths(paths: Paths, profile: Option<String>) -> App {
        let (events, _) = broadcast::channel(16_384);
        App {
            paths,
            profile,
            env_profile: std::env::var("STOWAGE_PROFILE")
                .ok()
                .filter(|p| !p.is_empty()),
            stores: Mutex::new(HashMap::new()),
            ops: Mutex::new(HashMap::new()),
            next_op: AtomicU64::new(1),
            events,
            watching: Mutex::new(None),
            watch_failed: Mutex::new(None),
        }
    }

    /// Stowage's folders.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Every event of every operation from now on.
    pub fn events(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }

    /// Cancel a running operation. Its in-flight transfers stop (uploads resume next time;
    /// no partial file is kept); it ends with a `cancelled` error. False when no operation
    /// of that id is running.
    pub fn cancel(&self, op: OpId) -> bool {
        match self.ops.lock().expect("ops lock").get(&op) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// The operations running now.
    pub fn running(&self) -> Vec<OpId> {
        let mut ids: Vec<OpId> = self.ops.lock().expect("ops lock").keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Start an operation: its id, and a guard that ends it when dropped.
    fn begin(&self, action: &'static str) -> Op<'_> {
        let id = OpId(self.next_op.fetch_add(1, Ordering::Relaxed));
        let token = CancellationToken::new();
        self.ops.lock().expect("ops lock").insert(id, token.clone());
        let op = Op {
            app: self,
            id,
            token,
        };
        op.emit(Event::Began {
            action: action.into(),
            at_ns: Event::now(),
        });
        op
    }

    /// Run `work` as operation `action`: its events carry the id; a cancel stops it (the
    /// future is dropped, which removes its temporary files).
    async fn run<'a, T, F, Fut>(&'a self, action: &'static str, work: F) -> AppResult<T>
    where
        F: FnOnce(Op<'a>) -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let op = self.begin(action);
        let (id, token) = (op.id, op.token.clone());
        let result = tokio::select! {
            biased;
            _ = token.cancelled() => Err(self.cancelled(id, action)),
            r = work(op) => r,
        };
        let _ = self.events.send(AppEvent {
            op: id,
            event: Event::Ended {
                ok: result.is_ok(),
                error: result.as_ref().err().map(|e| e.message.clone()),
                at_ns: Event::now(),
            },
        });
        result
    }

    /// Say that operation `id` was cancelled; its error.
    fn cancelled(&self, id: OpId, action: &str) -> AppError {
        let _ = self.events.send(AppEvent {
            op: id,
            event: Event::Cancelled {
                at_ns: Event::now(),
            },
        });
        AppError::cancelled(format!(
            "{action} was cancelled; no partial file was kept. Next: run it again (large \
             uploads resume)"
        ))
    }

    /// The configuration, read now.
    pub fn config(&self) -> AppResult<Config> {
        Ok(Config::load(&self.paths)?)
    }

    /// The policy, read now.
    pub fn policy(&self) -> AppResult<crate::policy::Policy> {
        Ok(crate::policy::Policy::load(&self.paths)?)
    }

    /// The catalog for writing, or read-only (an empty one when none exists yet) for a dry
    /// run, which writes nothing at all.
    fn catalog(&self, dry_run: bool) -> AppResult<Catalog> {
        Ok(if dry_run {
            Catalog::open_read_only(&self.paths)?
        } else {
            Catalog::open(&self.paths)?
        })
    }

    /// The selected profile (the choice, else `STOWAGE_PROFILE`, else the config's default,
    /// else `local`) and why it was selected.
    fn selected<'c>(&self, config: &'c Config) -> AppResult<(&'c Profile, Selection)> {
        Ok(config.select(self.profile.as_deref(), self.env_profile.as_deref())?)
    }

    /// The profile `name` names, else the selected one, and why it was chosen.
    pub fn profile(&self, name: Option<&str>) -> AppResult<(Profile, Selection)> {
        let config = self.config()?;
        let (p, why) = match name {
            Some(n) => config.select(Some(n), None)?,
            None => self.selected(&config)?,
        };
        Ok((p.clone(), why))
    }

    /// The store of `profile`, opened once and reused while the profile stays the same.
    async fn store(&self, profile: &Profile) -> AppResult<Arc<dyn Store>> {
        if let Some((p, s)) = self.stores.lock().expect("stores lock").get(&profile.name) {
            if p == profile {
                return Ok(s.clone());
            }
        }
        let store = open_store(profile, &self.paths).await?;
        self.stores
            .lock()
            .expect("stores lock")
            .insert(profile.name.clone(), (profile.clone(), store.clone()));
        Ok(store)
    }

    /// The selected profile's session.
    async fn session(&self) -> AppResult<Session> {
        self.session_for(None).await
    }

    /// The session of profile `name`, else of the selected one.
    async fn session_for(&self, name: Option<&str>) -> AppResult<Session> {
        let config = self.config()?;
        let (profile, selection) = match name {
            Some(n) => config.select(Some(n), None)?,
            None => self.selected(&config)?,
        };
        Ok(Session {
            store: self.store(profile).await?,
            paths: self.paths.clone(),
            profile: profile.clone(),
            selection,
        })
    }

    /// The stores of every named profile that opens (for reading recorded locations).
    async fn stores_for(
        &self,
        config: &Config,
        wanted: impl IntoIterator<Item = String>,
    ) -> HashMap<String, Arc<dyn Store>> {
        let mut stores = HashMap::new();
        for name in wanted {
            if stores.contains_key(&name) {
                continue;
            }
            if let Some(p) = config.profiles.get(&name) {
                if let Ok(s) = self.store(p).await {
                    stores.insert(name, s);
                }
            }
        }
        stores
    }

    /// The profile sync writes to first (and restore reads first): the chosen profile, else
    /// `[sync] primary`, else the selected one.
    fn primary<'c>(&self, config: &'c Config) -> AppResult<&'c Profile> {
        Ok(match (&self.profile, &config.sync.primary) {
            (None, Some(p)) => config.select(Some(p.as_str()), None)?.0,
            _ => self.selected(config)?.0,
        })
    }

    /// The download cache for a read, or None with a warning when it cannot be opened: reads
    /// still work without it.
    fn read_cache(
        &self,
        config: &Config,
        warnings: &mut Vec<String>,
    ) -> Option<crate::cache::Cache> {
        match crate::cache::Cache::open(&self.paths, &config.cache) {
            Ok(c) => Some(c),
            Err(e) => {
                warnings.push(format!("reading without the cache: {e}"));
                None
            }
        }
    }

    /// Record what an action wrote (locations, versions, transfers, audit). The write itself
    /// already succeeded, so a catalog that cannot be written is a warning, not a failure:
    /// `stowage verify` then reports what the catalog lacks.
    fn record(session: &Session, writes: Vec<crate::record::Write>, warnings: &mut Vec<String>) {
        if let Err(e) = session.record_writes(&writes) {
            warnings.push(format!("the catalog did not record this: {e}"));
        }
    }

    /// Record an action's activity (audit, egress); a failure is a warning, as in
    /// [`App::record`].
    fn remember(
        session: &Session,
        activity: Vec<crate::catalog::Activity>,
        warnings: &mut Vec<String>,
    ) {
        if let Err(e) = session.record(&activity) {
            warnings.push(format!("the catalog did not record this: {e}"));
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

/// A running operation: its id, cancellation, and its events.
struct Op<'a> {
    app: &'a App,
    id: OpId,
    token: CancellationToken,
}

impl Op<'_> {
    /// Send one event of this operation (nobody listening is fine).
    fn emit(&self, event: Event) {
        let _ = self.app.events.send(AppEvent { op: self.id, event });
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        self.app.ops.lock().expect("ops lock").remove(&self.id);
    }
}

/// One item of an action over several: its result, or the error it met.
#[derive(Debug)]
pub struct Item<T>(pub Result<T, AppError>);

impl<T> Item<T> {
    /// The item's result, if it succeeded.
    pub fn ok(&self) -> Option<&T> {
        self.0.as_ref().ok()
    }
}

impl<T: Serialize> Serialize for Item<T> {
    /// `{…the result, "ok": true}` or `{"ok": false, "error": {…}}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let value = match &self.0 {
            Ok(v) => {
                let mut v = serde_json::to_value(v).map_err(S::Error::custom)?;
                if let Some(map) = v.as_object_mut() {
                    map.insert("ok".into(), true.into());
                }
                v
            }
            Err(e) => serde_json::json!({"ok": false, "error": e}),
        };
        value.serialize(s)
    }
}

impl<T: TS> TS for Item<T> {
    type WithoutGenerics = Item<ts_rs::Dummy>;
    type OptionInnerType = Self;
    fn name() -> String {
        format!("Item<{}>", T::name())
    }
    fn inline() -> String {
        format!(
            "({} & {{ ok: true }}) | {{ ok: false, error: AppError }}",
            T::inline()
        )
    }
    fn decl() -> String {
        "type Item<T> = (T & { ok: true }) | { ok: false, error: AppError };".into()
    }
    fn decl_concrete() -> String {
        Self::decl()
    }
    fn inline_flattened() -> String {
        Self::inline()
    }
}

/// How a batch ended: None when every item succeeded, else the batch error (the only
/// failure when there was one item).
pub fn batch_failure<'a, T: 'a>(items: impl IntoIterator<Item = &'a Item<T>>) -> Option<AppError> {
    let (mut total, mut failed, mut first) = (0, 0, None);
    for i in items {
        total += 1;
        if let Err(e) = &i.0 {
            failed += 1;
            first.get_or_insert(e);
        }
    }
    first.map(|e| AppError::several(e, failed, total))
}

/// Collect core results as items.
fn items<T>(results: Vec<crate::Result<T>>) -> Vec<Item<T>> {
    results
        .into_iter()
        .map(|r| Item(r.map_err(AppError::from)))
        .collect()
}

/// `file` relative to `cwd` with `/` separators, `.` and `..` resolved lexically; a file
/// outside `cwd` keeps its whole path so folder patterns like `cache/**` still apply.
pub fn relative_path(cwd: &Path, file: &Path) -> String {
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

/// `--org`, checked like the policy file's `org`.
fn org_arg(org: Option<&str>) -> AppResult<Option<String>> {
    org.map(crate::policy::validate_org)
        .transpose()
        .map_err(|m| AppError::usage(format!("--org: {m}")))
}
