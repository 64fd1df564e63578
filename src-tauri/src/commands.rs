//! The window's commands: each one call into the app layer. Those that move bytes run on the
//! operations thread (`Local`); catalog reads run on the async runtime's threads, never on
//! the window's.

use std::path::PathBuf;
use std::sync::Arc;

use stowage_core::app::{self, App, AppError, OpId};
use stowage_core::catalog::{LibraryPage, LibraryQuery};
use stowage_core::read::UrlRead;
use tauri::State;

use crate::local::Local;

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
