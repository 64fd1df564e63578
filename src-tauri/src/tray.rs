//! The tray icon (idle, syncing with a count, or error, in its title and tooltip) with its
//! menu (open, pause or resume sync, quit), and OS notifications for transfers that failed
//! for good and providers that went down or came back, rate-limited by the app layer's
//! `Notices`. Tray clicks are not delivered on Linux, so the menu is the way in, and every
//! action also exists in the window (the Sync view).

use std::sync::Arc;
use std::time::{Duration, Instant};

use stowage_core::app::{App, AppEvent, Notices, WatcherState};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::syncing;

/// Build the tray and keep it current; tray problems (no tray on this desktop) are logged,
/// never fatal.
pub fn start<R: Runtime>(handle: &AppHandle<R>) {
    if let Err(e) = build(handle) {
        tracing::warn!("no tray icon: {e}");
    }
}

fn build<R: Runtime>(handle: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(handle, "open", "Open Stowage", true, None::<&str>)?;
    let pause = MenuItem::with_id(handle, "pause", "Pause sync", true, None::<&str>)?;
    let quit = MenuItem::with_id(handle, "quit", "Quit Stowage", true, None::<&str>)?;
    let menu = Menu::with_items(handle, &[&open, &pause, &quit])?;
    let mut tray = TrayIconBuilder::with_id("stowage")
        .tooltip("Stowage")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show(app),
            "pause" => {
                let state = app.state::<Arc<App>>().inner().clone();
                if state.watching().is_some() {
                    let app = app.clone();
                    tauri::async_runtime::spawn(async move {
                        syncing::stop_and_wait(&app.state::<Arc<App>>()).await;
                    });
                } else {
                    syncing::restart(app);
                }
            }
            "quit" => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    // Transfers in flight go back to the queue; uploads resume next time.
                    syncing::stop_and_wait(&app.state::<Arc<App>>()).await;
                    app.exit(0);
                });
            }
            _ => {}
        });
    if let Some(icon) = handle.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    let tray = tray.build(handle)?;
    // Keep the title, tooltip and the pause item in step with the sync state.
    let app = handle.state::<Arc<App>>().inner().clone();
    tauri::async_runtime::spawn(async move {
        let mut last = String::new();
        loop {
            let (text, watching) = match app.sync_status(&[], 0) {
                Ok(s) => {
                    let c = &s.queue.counts;
                    let down = s.queue.health.iter().filter(|h| !h.up).count();
                    let watching = !matches!(s.watcher, WatcherState::Stopped { .. });
                    let text = if c.failed > 0 || down > 0 {
                        format!(
                            "Stowage: error ({} failed, {down} provider(s) down)",
                            c.failed
                        )
                    } else if c.running + c.queued > 0 {
                        format!("Stowage: syncing {}", c.running + c.queued)
                    } else if watching {
                        "Stowage: idle, watching".to_string()
                    } else {
                        "Stowage: idle".to_string()
                    };
                    (text, watching)
                }
                Err(e) => (format!("Stowage: error ({})", e.message), false),
            };
            if text != last {
                let _ = tray.set_tooltip(Some(&text));
                let _ = tray.set_title(Some(text.trim_start_matches("Stowage: ")));
                let _ = pause.set_text(if watching {
                    "Pause sync"
                } else {
                    "Resume sync"
                });
                last = text;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    Ok(())
}

/// Show and focus the window.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Turn the app layer's events into OS notifications, rate-limited.
pub fn notify<R: Runtime>(handle: &AppHandle<R>, app: &App) {
    let mut events = app.events();
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        let mut notices = Notices::default();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            let due = tokio::select! {
                e = events.recv() => match e {
                    Ok(AppEvent { event, .. }) => notices.offer(&event, Instant::now()),
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
                _ = tick.tick() => notices.due(Instant::now()),
            };
            for n in due {
                if let Err(e) = handle
                    .notification()
                    .builder()
                    .title(&n.title)
                    .body(&n.body)
                    .show()
                {
                    tracing::warn!("notification not shown: {e}");
                }
            }
        }
    });
}
