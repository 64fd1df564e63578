//! The app's own watcher (auto-sync): started at launch when project folders are registered,
//! restarted when they change, stopped and started again from the sync view and the tray.
//! One at a time: restarts take turns, and the app layer's watch lock keeps a `stowage watch`
//! elsewhere and this one from both running.

use std::sync::Arc;
use std::time::Duration;

use stowage_core::app::App;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::{oneshot, Mutex};

use crate::local::Local;

static TURN: Mutex<()> = Mutex::const_new(());

/// Stop the watcher if it runs, then watch the registered folders again.
pub fn restart<R: Runtime>(handle: &AppHandle<R>) {
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        let _turn = TURN.lock().await;
        let app = handle.state::<Arc<App>>().inner().clone();
        stop_and_wait(&app).await;
        let (started_tx, started) = oneshot::channel::<()>();
        let ops = handle.state::<Local>();
        let job = ops.run(move |app| async move {
            // Its outcome is kept by the app layer and shown by the sync view.
            let _ = app
                .watch_registered(move |_| {
                    let _ = started_tx.send(());
                })
                .await;
        });
        // Hold the turn until it watches or has given up; the watch itself goes on.
        tokio::select! {
            _ = started => {}
            _ = job => {}
        }
    });
}

/// Stop the watcher (its transfers in flight go back to the queue) and wait until it is gone.
pub async fn stop_and_wait(app: &App) {
    if app.stop_watching() {
        while app.watching().is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
