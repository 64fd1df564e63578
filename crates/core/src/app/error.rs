//! The one error the app layer returns: everything a shell needs to show a failure — its
//! kind, the message, the file, provider, bucket and key involved, the next step, whether a
//! retry may help, and the CLI's exit code. Serialisable as the `error` of `--json` documents
//! and of the desktop app's IPC; built from core's [`crate::Error`], whose messages never
//! carry secrets.

use std::path::PathBuf;

use serde::Serialize;
use stowage_store::ErrorKind;
use ts_rs::TS;

use crate::Error;

/// Exit code: `watch --exit-when-idle` went idle with uploads waiting on a down provider.
pub const EXIT_WAITING: u8 = 9;
/// Exit code: interrupted (Ctrl-C) or cancelled.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failed action, ready to show.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct AppError {
    /// A stable name: usage, config, not_found, already_exists, conflict, unauthorized,
    /// unavailable, too_large, invalid_key, integrity, not_supported, cancelled, waiting,
    /// other.
    pub kind: String,
    /// The process exit code the CLI ends with (see `stowage --help`).
    pub exit_code: u8,
    /// The whole message: names the file, the provider and the next step.
    pub message: String,
    /// The provider (`s3`, `supabase`, `local`, `local file`…), for store errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The bucket involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The key involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The local file involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Whether the same action may succeed later unchanged (the provider was unreachable).
    pub retryable: bool,
    /// For a batch: how many items failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<usize>,
    /// For a batch: how many items were attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

/// The exit code for a store error kind.
fn store_exit(kind: &ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => 3,
        ErrorKind::AlreadyExists | ErrorKind::Conflict => 4,
        ErrorKind::Unauthorized => 5,
        ErrorKind::Unavailable => 6,
        ErrorKind::TooLarge { .. } | ErrorKind::InvalidKey | ErrorKind::Integrity => 7,
        ErrorKind::NotSupported => 8,
        ErrorKind::Other => 1,
    }
}

/// The stable name of a store error kind.
fn store_kind(kind: &ErrorKind) -> &'static str {
    match kind {
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
    }
}

impl AppError {
    /// An error of `kind` with this message (its next step after "Next: ", if any).
    fn plain(kind: &str, exit_code: u8, message: String) -> AppError {
        let hint = message.rsplit_once("Next: ").map(|(_, n)| n.to_string());
        AppError {
            kind: kind.into(),
            exit_code,
            message,
            provider: None,
            bucket: None,
            key: None,
            file: None,
            hint,
            retryable: false,
            failed: None,
            total: None,
        }
    }

    /// An argument or request that cannot be understood (exit 2).
    pub fn usage(message: impl Into<String>) -> AppError {
        AppError::plain("usage", 2, message.into())
    }

    /// The action was cancelled (by id, or by Ctrl-C).
    pub fn cancelled(message: impl Into<String>) -> AppError {
        AppError::plain("cancelled", EXIT_INTERRUPTED, message.into())
    }

    /// `watch` stopped with work waiting on a provider that is down (exit 9).
    pub fn waiting(message: impl Into<String>) -> AppError {
        let mut e = AppError::plain("waiting", EXIT_WAITING, message.into());
        e.retryable = true;
        e
    }

    /// The batch error for `failed` of `total` items, `first` being the first failure: the
    /// first itself when the batch had one item.
    pub fn several(first: &AppError, failed: usize, total: usize) -> AppError {
        if total == 1 {
            return first.clone();
        }
        AppError {
            message: format!("{failed} of {total} failed; first: {}", first.message),
            failed: Some(failed),
            total: Some(total),
            provider: None,
            bucket: None,
            key: None,
            file: None,
            ..first.clone()
        }
    }
}

impl From<&Error> for AppError {
    fn from(e: &Error) -> AppError {
        let message = e.to_string();
        match e {
            Error::Usage(_) => AppError::plain("usage", 2, message),
            Error::Config(_) => AppError::plain("config", 2, message),
            Error::Several {
                failed,
                total,
                first,
            } => {
                let first = AppError::from(&**first);
                AppError {
                    message,
                    failed: Some(*failed),
                    total: Some(*total),
                    provider: None,
                    bucket: None,
                    key: None,
                    file: None,
                    ..first
                }
            }
            Error::Store { source, file } => AppError {
                kind: store_kind(&source.kind).into(),
                exit_code: store_exit(&source.kind),
                hint: source
                    .next_step()
                    .map(str::to_string)
                    .or_else(|| message.rsplit_once("Next: ").map(|(_, n)| n.to_string())),
                message,
                provider: Some(source.provider.clone()),
                bucket: source.bucket.clone(),
                key: source.key.clone(),
                file: file.clone(),
                retryable: source.is_retryable(),
                failed: None,
                total: None,
            },
        }
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        AppError::from(&e)
    }
}

impl From<stowage_store::Error> for AppError {
    fn from(e: stowage_store::Error) -> AppError {
        AppError::from(Error::from(e))
    }
}

/// Result of an app-layer action.
pub type AppResult<T> = std::result::Result<T, AppError>;
