//! Stowage's desktop app: a thin shell. Each command is one call into the app layer
//! (`stowage_core::app`), the layer the `stowage` CLI uses too; its results and errors cross
//! to the window as JSON, typed on the other side by the declarations generated from Rust.
//! Secrets never cross: no command returns one, and errors never hold one.

// A window-less console on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod dropped;
mod local;
mod syncing;
mod theme;
mod tray;

use std::sync::Arc;

use stowage_core::app::App;
use tauri::{Emitter, Manager};

/// The event every app-layer event is forwarded as.
pub const APP_EVENT: &str = "stowage://event";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOWAGE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let app = match App::open(None) {
        Ok(app) => Arc::new(app),
        Err(e) => {
            eprintln!("stowage-app: {}", e.message);
            std::process::exit(i32::from(e.exit_code));
        }
    };
    let ops = match local::Local::start(app.clone()) {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("stowage-app: cannot start its worker threads: {e}");
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        // First: a second launch hands its paths to this one and exits.
        .plugin(tauri_plugin_single_instance::init(|handle, argv, cwd| {
            if let Some(w) = handle.get_webview_window("main") {
                let _ = w.show();
                let _ = w.unminimize();
                let _ = w.set_focus();
            }
            let paths = dropped::paths_from_args(argv.iter().skip(1), std::path::Path::new(&cwd));
            if !paths.is_empty() {
                dropped::dropped(handle, paths);
            }
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![dropped::MINIMIZED]),
        ))
        .manage(app.clone())
        .manage(ops)
        .setup(move |tauri_app| {
            // The app layer's one event stream, forwarded to the window as it comes.
            let handle = tauri_app.handle().clone();
            let mut events = app.events();
            tauri::async_runtime::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match events.recv().await {
                        Ok(e) => {
                            let _ = handle.emit_to("main", APP_EVENT, &e);
                        }
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => break,
                    }
                }
            });
            // Auto-sync: the registered project folders are watched from the start; the tray
            // and notifications tell how it goes.
            syncing::restart(tauri_app.handle());
            tray::start(tauri_app.handle());
            tray::notify(tauri_app.handle(), &app);
            theme::follow(tauri_app.handle());
            if std::env::args().any(|a| a == dropped::MINIMIZED) {
                if let Some(w) = tauri_app.get_webview_window("main") {
                    let _ = w.hide();
                }
            }
            // Paths given on the command line are dropped onto the window once it is up.
            let cwd = std::env::current_dir().unwrap_or_default();
            let paths = dropped::paths_from_args(std::env::args().skip(1), &cwd);
            if !paths.is_empty() {
                dropped::dropped(tauri_app.handle(), paths);
            }
            Ok(())
        })
        .on_window_event(dropped::on_window_event)
        .invoke_handler(tauri::generate_handler![
            commands::library,
            commands::artifact,
            commands::metric_diff,
            commands::dashboard,
            commands::export_cost_csv,
            commands::drop_plan,
            commands::put,
            commands::get,
            commands::restore,
            commands::label,
            commands::delete_versions,
            commands::share_url,
            commands::cancel,
            commands::profiles,
            commands::reveal,
            commands::test_profile,
            commands::secret_fields,
            commands::save_profile,
            commands::remove_profile,
            commands::sync_status,
            commands::add_folder,
            commands::remove_folder,
            commands::pause_folder,
            commands::start_sync,
            commands::stop_sync,
            commands::queue_retry,
            commands::queue_cancel,
            commands::autostart,
            commands::cache,
            commands::cache_clean,
            commands::color_scheme,
            commands::policy_document,
            commands::check_policy,
            commands::save_policy,
            commands::prices,
            commands::set_prices,
            commands::team_status,
            commands::team_sync,
            commands::team_members,
            commands::set_sync_profiles,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("stowage-app: the window could not start: {e}");
        std::process::exit(1);
    }
}
