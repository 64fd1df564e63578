//! Exit codes: the one place that maps an error to the process's exit status.

use stowage_core::Error;
use stowage_store::ErrorKind;

/// The documented exit codes, shown by `stowage --help`.
pub const TABLE: &str = "\
Exit codes:
  0  success
  1  other error
  2  usage or configuration error (bad arguments, unknown profile, invalid config file)
  3  not found (object, bucket, local file)
  4  already exists or conflict (pass --overwrite / --force; bucket not empty)
  5  unauthorized (credentials missing, wrong or without permission)
  6  unavailable (provider unreachable or busy; retry later)
  7  rejected content (too large, invalid key or name, integrity check failed)
  8  not supported by this provider (e.g. signed URLs on a local folder)
  9  `watch --exit-when-idle` stopped with work waiting on a provider that is down
130  interrupted (Ctrl-C)
141  stdout was closed early (e.g. `stowage ls | head`): output stops quietly, as coreutils do";

/// stdout was closed by its reader (128 + SIGPIPE, as a shell reports for coreutils).
pub const BROKEN_PIPE: u8 = 141;

/// `watch --exit-when-idle` went idle with uploads waiting on a provider that is down.
pub const WAITING: u8 = 9;

/// Interrupted by Ctrl-C.
pub const INTERRUPTED: u8 = 130;

/// The exit code for a core error.
pub fn code_for(err: &Error) -> u8 {
    match err {
        Error::Usage(_) | Error::Config(_) => 2,
        Error::Several { first, .. } => code_for(first),
        Error::Store { source, .. } => match source.kind {
            ErrorKind::NotFound => 3,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => 4,
            ErrorKind::Unauthorized => 5,
            ErrorKind::Unavailable => 6,
            ErrorKind::TooLarge { .. } | ErrorKind::InvalidKey | ErrorKind::Integrity => 7,
            ErrorKind::NotSupported => 8,
            ErrorKind::Other => 1,
        },
    }
}

/// A stable name for an error's kind, for `--json` output.
pub fn kind_name(err: &Error) -> &'static str {
    match err {
        Error::Usage(_) => "usage",
        Error::Config(_) => "config",
        Error::Several { first, .. } => kind_name(first),
        Error::Store { source, .. } => match source.kind {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::TooLarge { .. } => "too_large",
            ErrorKind::InvalidKey => "invalid_key",
            ErrorKind::Integrity => "integrity",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::Other => "other",
        },
    }
}
