//! The tray icon (idle, syncing with a count, or error: in its picture, a blue or red badge
//! on the app's icon, and in its title and tooltip) with its
//! menu (open, pause or resume sync, quit), and OS notifications for transfers that failed
//! for good and providers that went down or came back, rate-limited by the app layer's
//! `Notices`. Tray clicks are not delivered on Linux, so the menu is the way in, and every
//! action also exists in the window (the Sync view).

use std::sync::Arc;
use std::time::{Duration, Instant};

use stowage_core::app::{App, AppEvent, Notices, WatcherState};
use stowage_core::events::Event;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

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
    let icons = handle.default_window_icon().map(|icon| {
        [
            icon.clone().to_owned(),
            badge(icon, SYNCING),
            badge(icon, ERROR),
        ]
    });
    if let Some([idle, ..]) = &icons {
        tray = tray.icon(idle.clone());
    }
    let tray = tray.build(handle)?;
    // Keep the title, tooltip and the pause item in step with the sync state: read again
    // when the app layer reports a change, and every 10 s for what another process (a
    // watch or queue command in a terminal) changed.
    let app = handle.state::<Arc<App>>().inner().clone();
    tauri::async_runtime::spawn(async move {
        let mut events = app.events();
        let mut last = String::new();
        loop {
            let (text, watching, state) = match app.sync_status(&[], 0) {
                Ok(s) => {
                    let c = &s.queue.counts;
                    let down = s.queue.health.iter().filter(|h| !h.up).count();
                    let watching = !matches!(s.watcher, WatcherState::Stopped { .. });
                    let (text, state) = if c.failed > 0 || down > 0 {
                        (
                            format!(
                                "Stowage: error ({} failed, {down} provider(s) down)",
                                c.failed
                            ),
                            2,
                        )
                    } else if c.running + c.queued > 0 {
                        (format!("Stowage: syncing {}", c.running + c.queued), 1)
                    } else if watching {
                        ("Stowage: idle, watching".to_string(), 0)
                    } else {
                        ("Stowage: idle".to_string(), 0)
                    };
                    (text, watching, state)
                }
                Err(e) => (format!("Stowage: error ({})", e.message), false, 2),
            };
            if text != last {
                if let Some(icons) = &icons {
                    let _ = tray.set_icon(Some(icons[state].clone()));
                }
                let _ = tray.set_tooltip(Some(&text));
                let _ = tray.set_title(Some(text.trim_start_matches("Stowage: ")));
                let _ = pause.set_text(if watching {
                    "Pause sync"
                } else {
                    "Resume sync"
                });
                last = text;
            }
            tokio::select! {
                changed = next_change(&mut events) => {
                    if !changed {
                        break;
                    }
                    // A burst (a folder's files verified one after another) is read once.
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    while let Ok(_) | Err(TryRecvError::Lagged(_)) = events.try_recv() {}
                }
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            }
        }
    });
    Ok(())
}

/// Wait for an event that may change the sync state (not a transfer's progress); false once
/// the stream has closed.
async fn next_change(events: &mut broadcast::Receiver<AppEvent>) -> bool {
    loop {
        match events.recv().await {
            Ok(AppEvent {
                event: Event::Progress { .. } | Event::Hashing { .. },
                ..
            }) => continue,
            Ok(_) | Err(RecvError::Lagged(_)) => return true,
            Err(RecvError::Closed) => return false,
        }
    }
}

/// The syncing badge's colour, and the error badge's.
const SYNCING: [u8; 3] = [0x25, 0x63, 0xeb];
const ERROR: [u8; 3] = [0xdc, 0x26, 0x26];

/// The icon with a round badge of `rgb` in its lower right corner, ringed in white so it
/// reads on dark and light panels alike.
fn badge(icon: &Image<'_>, rgb: [u8; 3]) -> Image<'static> {
    let (w, h) = (icon.width(), icon.height());
    let mut px = icon.rgba().to_vec();
    let r = w.min(h) as f32 * 0.22;
    let (cx, cy) = (w as f32 - r - 1.0, h as f32 - r - 1.0);
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let i = ((y * w + x) * 4) as usize;
            if d <= r {
                px[i..i + 4].copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
            } else if d <= r + 1.5 {
                px[i..i + 4].copy_from_slice(&[255, 255, 255, 255]);
            }
        }
    }
    Image::new_owned(px, w, h)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_colours_the_corner_and_keeps_the_rest() {
        let (w, h) = (32u32, 32u32);
        let base = Image::new_owned(vec![10; (w * h * 4) as usize], w, h);
        let red = badge(&base, ERROR);
        let at = |img: &Image<'_>, x: u32, y: u32| {
            let i = ((y * w + x) * 4) as usize;
            img.rgba()[i..i + 4].to_vec()
        };
        assert_eq!(at(&red, 25, 25), vec![0xdc, 0x26, 0x26, 255]);
        assert_eq!(at(&red, 4, 4), vec![10, 10, 10, 10]);
        assert_eq!(at(&red, 16, 4), vec![10, 10, 10, 10]);
        assert_ne!(at(&badge(&base, SYNCING), 25, 25), at(&red, 25, 25));
    }
}
