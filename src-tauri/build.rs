fn main() {
    // Only the commands listed here exist for the window, and only those its capability
    // grants (capabilities/main.json) can be called.
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(stowage_app_commands::COMMANDS)),
    )
    .expect("tauri build step");
}

mod stowage_app_commands {
    include!("src/command_names.rs");
}
