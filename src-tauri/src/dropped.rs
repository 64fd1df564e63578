//! Paths dropped onto the window, handed over by a second launch, or given on the command
//! line: one function turns them into the upload preview and shows it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stowage_core::app::{App, DropRequest};
use tauri::{AppHandle, Emitter, Manager, Runtime, Window, WindowEvent};

/// The event that carries an upload preview (or the error that prevented one) to the window.
pub const DROP_EVENT: &str = "stowage://drop";

/// Show the upload preview of `paths` in the window. The folders are walked off the window's
/// thread.
pub fn dropped<R: Runtime>(handle: &AppHandle<R>, paths: Vec<PathBuf>) {
    let app = handle.state::<Arc<App>>().inner().clone();
    let handle = handle.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let payload = match app.drop_plan(&DropRequest { paths, org: None }) {
            Ok(plan) => serde_json::json!({ "plan": plan }),
            Err(e) => serde_json::json!({ "error": e }),
        };
        let _ = handle.emit_to("main", DROP_EVENT, payload);
    });
}

/// Command-line arguments that name existing files or folders, made absolute.
/// The flag a start at login passes: the window stays hidden (auto-sync runs).
pub const MINIMIZED: &str = "--minimized";

pub fn paths_from_args<I, S>(args: I, cwd: &Path) -> Vec<PathBuf>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    args.into_iter()
        .filter(|a| a.as_ref() != MINIMIZED)
        .map(|a| cwd.join(a.as_ref()))
        .filter(|p| p.exists())
        .collect()
}

/// The window's events: a drop shows the preview; closing the window while transfers run or
/// folders are watched hides it instead (to the tray; without a tray, the app quits when the
/// work ends).
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    match event {
        WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) => {
            dropped(window.app_handle(), paths.clone());
        }
        WindowEvent::CloseRequested { api, .. } => {
            let app = window.state::<Arc<App>>().inner().clone();
            if app.running().is_empty() {
                return;
            }
            api.prevent_close();
            let _ = window.hide();
            let handle = window.app_handle().clone();
            if handle.tray_by_id("stowage").is_some() {
                // The tray keeps the app within reach (open, quit) while it works.
                return;
            }
            tauri::async_runtime::spawn(async move {
                while !app.running().is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                handle.exit(0);
            });
        }
        _ => {}
    }
}
