//! Exit codes: the documented table. Each error carries its own code
//! (`stowage_core::app::AppError::exit_code`).

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
