//! Core errors: store errors (with the local file involved, when there is one), configuration
//! errors and usage errors. Callers branch on [`Error::kind`]; secrets are never formatted in.

use std::path::PathBuf;

use stowage_store::ErrorKind;

/// An error from a core operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store (or local file) operation failed.
    #[error("{}{source}", file.as_ref().map(|f| format!("{}: ", printable_path(f))).unwrap_or_default())]
    Store {
        /// The store's error, which names provider, bucket, key and next step (boxed: it is
        /// large, and results travel through every call).
        source: Box<stowage_store::Error>,
        /// The local file being read or written, if any.
        file: Option<PathBuf>,
    },
    /// The configuration file or a profile is wrong; the message names the file and the fix.
    #[error("{0}")]
    Config(String),
    /// An argument cannot be understood (a location, a duration).
    #[error("{0}")]
    Usage(String),
    /// Some items of a batch failed; each was reported as it happened.
    #[error("{failed} of {total} failed; first: {first}")]
    Several {
        /// How many failed.
        failed: usize,
        /// How many were attempted.
        total: usize,
        /// The first failure (its kind decides the batch's kind).
        first: Box<Error>,
    },
}

impl Error {
    /// The store error kind behind this error, if it came from a store or a local file.
    pub fn kind(&self) -> Option<&ErrorKind> {
        match self {
            Error::Store { source, .. } => Some(&source.kind),
            Error::Several { first, .. } => first.kind(),
            Error::Config(_) | Error::Usage(_) => None,
        }
    }

    /// Attach the local file involved.
    pub fn with_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            Error::Store { source, file: None } => Error::Store {
                source,
                file: Some(path.into()),
            },
            other => other,
        }
    }
}

impl From<stowage_store::Error> for Error {
    fn from(source: stowage_store::Error) -> Self {
        Error::Store {
            source: Box::new(source),
            file: None,
        }
    }
}

/// Result with a core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A store error about a local file (`provider` "local file").
pub(crate) fn local_error(
    kind: ErrorKind,
    path: &std::path::Path,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> Error {
    Error::Store {
        source: Box::new(stowage_store::Error::new(kind, "local file", message).hint(hint)),
        file: Some(path.to_path_buf()),
    }
}

/// A path as shown in a message: control and bidi characters escaped, so a file name cannot
/// garble or rewrite the terminal (`bad\u{1b}[2Jname` shows as typed, not as a clear-screen).
pub(crate) fn printable_path(path: &std::path::Path) -> String {
    path.display()
        .to_string()
        .chars()
        .flat_map(|c| {
            let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
