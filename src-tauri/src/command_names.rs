/// The commands the window may call (kept in one list for the build step and the handler).
pub const COMMANDS: &[&str] = &[
    "library",
    "artifact",
    "metric_diff",
    "drop_plan",
    "put",
    "get",
    "restore",
    "label",
    "delete_versions",
    "share_url",
    "cancel",
    "profiles",
    "reveal",
];
