//! The window's commands: each one call into the app layer. Those that move bytes run on the
//! operations thread (`Local`); catalog reads run on the async runtime's threads, never on
//! the window's.

use std::path::PathBuf;
use std::sync::Arc;

use stowage_core::app::{self, App, AppError, OpId};
use stowage_core::cache::CleanScope;
use stowage_core::catalog::{LibraryPage, LibraryQuery};
use stowage_core::read::UrlRead;
use tauri::{AppHandle, Runtime, State};

use crate::local::Local;
use crate::syncing;

type Res<T> = Result<T, AppError>;
type AppState<'a> = State<'a, Arc<App>>;
type Ops<'a> = State<'a, Local>;

#[tauri::command]
pub async fn library(app: AppState<'_>, query: LibraryQuery) -> Res<LibraryPage> {
    app.library(&query)
}

#[tauri::command]
pub async fn artifact(app: AppState<'_>, id: i64) -> Res<app::ArtifactDetail> {
    app.artifact(id)
}

#[tauri::command]
pub async fn metric_diff(
    app: AppState<'_>,
    a: String,
    b: String,
    org: Option<String>,
) -> Res<app::MetricDiff> {
    app.metric_diff(&a, &b, org.as_deref())
}

#[tauri::command]
pub async fn dashboard(
    app: AppState<'_>,
    filter: stowage_core::cost::CostFilter,
) -> Res<app::Dashboard> {
    app.dashboard(&filter)
}

#[tauri::command]
pub async fn export_cost_csv(
    app: AppState<'_>,
    request: app::CostCsvRequest,
) -> Res<app::CsvExport> {
    app.export_cost_csv(&request)
}

#[tauri::command]
pub async fn drop_plan(app: AppState<'_>, request: app::DropRequest) -> Res<app::DropPlan> {
    app.drop_plan(&request)
}

#[tauri::command]
pub async fn put(ops: Ops<'_>, request: app::PutRequest) -> Res<app::PutResult> {
    ops.run(|app| async move { app.put(request).await }).await
}

#[tauri::command]
pub async fn get(ops: Ops<'_>, request: app::GetRequest) -> Res<app::GetResult> {
    ops.run(|app| async move { app.get(request).await }).await
}

#[tauri::command]
pub async fn restore(ops: Ops<'_>, request: app::RestoreRequest) -> Res<app::RestoreResult> {
    ops.run(|app| async move { app.restore(request).await })
        .await
}

#[tauri::command]
pub async fn label(
    app: AppState<'_>,
    spec: String,
    name: String,
    org: Option<String>,
) -> Res<app::Labelled> {
    app.label(&spec, &name, org.as_deref(), false)
}

#[tauri::command]
pub async fn delete_versions(
    ops: Ops<'_>,
    specs: Vec<String>,
    org: Option<String>,
) -> Res<app::DeleteVersionsResult> {
    ops.run(|app| async move { app.delete_versions(&specs, org.as_deref(), false).await })
        .await
}

#[tauri::command]
pub async fn share_url(ops: Ops<'_>, request: app::UrlRequest) -> Res<UrlRead> {
    ops.run(|app| async move { app.url(&request).await }).await
}

#[tauri::command]
pub fn cancel(app: AppState<'_>, op: u64) -> bool {
    app.cancel(OpId(op))
}

#[tauri::command]
pub async fn profiles(app: AppState<'_>) -> Res<app::ProfileList> {
    app.profiles()
}

#[tauri::command]
pub async fn reveal(path: PathBuf) -> Res<()> {
    tauri_plugin_opener::reveal_item_in_dir(&path)
        .map_err(|e| AppError::usage(format!("cannot show {} in its folder: {e}", path.display())))
}

#[tauri::command]
pub async fn test_profile(ops: Ops<'_>, name: String) -> Res<app::ConnectionTest> {
    ops.run(|app| async move { app.test_profile(&name).await })
        .await
}

#[tauri::command]
pub fn secret_fields(app: AppState<'_>, kind: String) -> Vec<app::SecretFieldInfo> {
    app.secret_fields(&kind)
}

#[tauri::command]
pub async fn save_profile(
    app: AppState<'_>,
    request: app::SaveProfileRequest,
) -> Res<app::SavedProfile> {
    app.save_profile(request)
}

#[tauri::command]
pub async fn remove_profile(app: AppState<'_>, name: String) -> Res<app::ProfileRemoved> {
    app.remove_profile(&name, false)
}

#[tauri::command]
pub async fn sync_status(
    app: AppState<'_>,
    states: Vec<String>,
    limit: u64,
) -> Res<app::SyncStatus> {
    app.sync_status(&states, limit)
}

#[tauri::command]
pub async fn add_folder<R: Runtime>(
    app: AppState<'_>,
    handle: AppHandle<R>,
    path: PathBuf,
    org: Option<String>,
) -> Res<app::WatchedFolder> {
    let folder = app.add_folder(&path, org.as_deref())?;
    syncing::restart(&handle);
    Ok(folder)
}

#[tauri::command]
pub async fn remove_folder<R: Runtime>(
    app: AppState<'_>,
    handle: AppHandle<R>,
    path: PathBuf,
) -> Res<app::WatchedFolder> {
    let folder = app.remove_folder(&path)?;
    syncing::restart(&handle);
    Ok(folder)
}

#[tauri::command]
pub async fn pause_folder<R: Runtime>(
    app: AppState<'_>,
    handle: AppHandle<R>,
    path: PathBuf,
    paused: bool,
) -> Res<app::WatchedFolder> {
    let folder = app.pause_folder(&path, paused)?;
    syncing::restart(&handle);
    Ok(folder)
}

#[tauri::command]
pub fn start_sync<R: Runtime>(handle: AppHandle<R>) {
    syncing::restart(&handle);
}

#[tauri::command]
pub async fn stop_sync(app: AppState<'_>) -> Res<()> {
    syncing::stop_and_wait(&app).await;
    Ok(())
}

#[tauri::command]
pub async fn queue_retry(app: AppState<'_>, id: Option<i64>) -> Res<app::QueueChange> {
    app.queue_retry(id, false)
}

#[tauri::command]
pub async fn queue_cancel(app: AppState<'_>, id: i64) -> Res<app::QueueChange> {
    app.queue_cancel(id, false)
}

/// Start at login, minimised (auto-sync runs, the window stays hidden): set when `enabled` is
/// given; whether it is on.
#[tauri::command]
pub async fn autostart<R: Runtime>(handle: AppHandle<R>, enabled: Option<bool>) -> Res<bool> {
    use tauri_plugin_autostart::ManagerExt;
    let launcher = handle.autolaunch();
    let failed = |e: tauri_plugin_autostart::Error| {
        AppError::usage(format!("cannot change starting at login: {e}; check that your autostart folder (~/.config/autostart) is writable"))
    };
    match enabled {
        Some(true) => launcher.enable().map_err(failed)?,
        Some(false) => launcher.disable().map_err(failed)?,
        None => {}
    }
    launcher.is_enabled().map_err(failed)
}

#[tauri::command]
pub async fn cache(app: AppState<'_>) -> Res<app::CacheList> {
    app.cache()
}

/// Clean the download cache: everything, or only what is past its TTL.
#[tauri::command]
pub async fn cache_clean(app: AppState<'_>, all: bool) -> Res<stowage_core::cache::Cleaned> {
    let scope = if all {
        CleanScope::All
    } else {
        CleanScope::Expired
    };
    app.cache_clean(scope, false)
}

/// The desktop's colour scheme (`dark`, `light`, or none: the page's own setting applies).
#[tauri::command]
pub async fn color_scheme() -> Option<&'static str> {
    crate::theme::current()
}

#[tauri::command]
pub async fn policy_document(app: AppState<'_>) -> Res<app::PolicyDocument> {
    app.policy_document()
}

#[tauri::command]
pub async fn check_policy(
    app: AppState<'_>,
    text: String,
    samples: Vec<app::PolicySample>,
) -> Res<app::PolicyCheck> {
    Ok(app.check_policy(&text, &samples))
}

#[tauri::command]
pub async fn save_policy(app: AppState<'_>, text: String) -> Res<app::PolicyDocument> {
    app.save_policy(&text)
}

#[tauri::command]
pub async fn prices(app: AppState<'_>) -> Res<stowage_core::cost::PriceTable> {
    app.prices()
}

#[tauri::command]
pub async fn set_prices(
    app: AppState<'_>,
    prices: stowage_core::cost::PriceTable,
) -> Res<stowage_core::cost::PriceTable> {
    app.set_prices(&prices)
}

#[tauri::command]
pub async fn team_status(app: AppState<'_>) -> Res<app::TeamStatus> {
    app.team_status().await
}

#[tauri::command]
pub async fn team_sync(app: AppState<'_>) -> Res<app::TeamSyncReport> {
    app.team_sync().await
}

#[tauri::command]
pub async fn team_members(app: AppState<'_>) -> Res<Vec<stowage_core::team::TeamMember>> {
    app.team_members().await
}

#[tauri::command]
pub async fn set_sync_profiles<R: Runtime>(
    app: AppState<'_>,
    handle: AppHandle<R>,
    primary: Option<String>,
    secondary: Option<String>,
) -> Res<app::ProfileList> {
    let list = app.set_sync_profiles(primary.as_deref(), secondary.as_deref())?;
    syncing::restart(&handle);
    Ok(list)
}
