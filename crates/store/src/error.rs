//! Typed errors a caller can act on. Every message names the provider, the bucket and the key
//! (when there is one) and, where we know it, the next step. Secrets are never formatted in.

use std::fmt;

/// What went wrong, in terms a caller can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The object or bucket does not exist.
    NotFound,
    /// The object or bucket exists and overwriting was not asked for.
    AlreadyExists,
    /// Credentials are missing, wrong or lack permission.
    Unauthorized,
    /// The object is larger than the provider or bucket accepts.
    TooLarge {
        /// The limit in bytes, when the provider tells it.
        limit: Option<u64>,
    },
    /// The key (or bucket name) cannot be stored by this provider.
    InvalidKey,
    /// The provider could not be reached or answered with a transient failure: retry later.
    Unavailable,
    /// The request conflicts with the current state (a file where a folder is needed, an
    /// upload that changed under us, a bucket that is not empty).
    Conflict,
    /// The provider cannot do this at all (signed URLs on a local folder).
    NotSupported,
    /// The content did not match what was sent (size or SHA-256).
    Integrity,
    /// Anything else.
    Other,
}

impl ErrorKind {
    fn label(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::TooLarge { .. } => "too large",
            ErrorKind::InvalidKey => "invalid key",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Conflict => "conflict",
            ErrorKind::NotSupported => "not supported",
            ErrorKind::Integrity => "integrity check failed",
            ErrorKind::Other => "error",
        }
    }
}

/// An error from a [`crate::Store`]. The details sit behind one box so results stay small;
/// their fields read through `Deref` (`err.kind`, `err.hint`).
#[derive(Debug)]
pub struct Error(Box<ErrorDetails>);

/// What an [`Error`] says.
#[derive(Debug)]
pub struct ErrorDetails {
    /// What went wrong.
    pub kind: ErrorKind,
    /// `local`, `s3`, `supabase` (plus the endpoint host when useful).
    pub provider: String,
    /// The bucket involved, if any.
    pub bucket: Option<String>,
    /// The key involved, if any.
    pub key: Option<String>,
    /// The provider's own words, secrets removed.
    pub message: String,
    /// What the user can do next.
    pub hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl std::ops::Deref for Error {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl Error {
    /// A new error of `kind` from `provider`.
    pub fn new(kind: ErrorKind, provider: impl Into<String>, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorDetails {
            kind,
            provider: provider.into(),
            bucket: None,
            key: None,
            message: message.into(),
            hint: None,
            source: None,
        }))
    }

    /// Attach the bucket.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// Attach the key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Attach bucket and key when not already set.
    pub fn at(mut self, bucket: &str, key: Option<&str>) -> Self {
        if self.bucket.is_none() {
            self.bucket = Some(bucket.to_string());
        }
        if self.key.is_none() {
            self.key = key.map(str::to_string);
        }
        self
    }

    /// Attach advice for the user.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attach the underlying cause (its Display must not carry secrets).
    pub fn source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The error for deleting a bucket that still holds objects.
    pub fn bucket_not_empty(provider: impl Into<String>, bucket: &str) -> Self {
        Error::new(ErrorKind::Conflict, provider, "the bucket is not empty")
            .bucket(bucket)
            .hint("delete its objects first (`stowage rm --recursive BUCKET/`)")
    }

    /// The next step the message ends with: the hint given, else the kind's default.
    pub fn next_step(&self) -> Option<&str> {
        self.hint.as_deref().or(self.default_hint())
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }

    /// Fill in a default hint for the kind when none was given.
    fn default_hint(&self) -> Option<&'static str> {
        match self.kind {
            // "Bucket not found" on an object request (Supabase) is about the bucket too.
            ErrorKind::NotFound
                if self.key.is_none() || self.message.to_ascii_lowercase().contains("bucket") =>
            {
                Some("check the bucket name, or create it with `stowage buckets create`")
            }
            ErrorKind::NotFound => Some("check the key with `stowage ls`"),
            ErrorKind::AlreadyExists if self.key.is_none() => {
                Some("the bucket is already there: use it as it is, or pick another name")
            }
            ErrorKind::AlreadyExists => Some("pass --overwrite to replace it"),
            ErrorKind::Unauthorized => {
                Some("check the profile's credentials and that they may access this bucket")
            }
            ErrorKind::Unavailable => Some("the provider did not answer; retry later"),
            ErrorKind::InvalidKey => {
                Some("rename the object using letters, digits, '/', '-', '_' and '.'")
            }
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.kind {
            ErrorKind::InvalidKey if self.key.is_none() && self.bucket.is_some() => {
                "invalid bucket name"
            }
            _ => self.kind.label(),
        };
        write!(f, "{}: {label}", self.provider)?;
        match (&self.bucket, &self.key) {
            (Some(b), Some(k)) => write!(f, " for `{b}/{k}`")?,
            (Some(b), None) => write!(f, " for bucket `{b}`")?,
            (None, Some(k)) => write!(f, " for `{k}`")?,
            (None, None) => {}
        }
        if let ErrorKind::TooLarge { limit: Some(limit) } = self.kind {
            write!(f, " (limit {limit} bytes)")?;
        }
        let message = self.message.trim_end_matches('.');
        if !message.is_empty() {
            write!(f, ": {message}")?;
        }
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        if let Some(hint) = self.next_step() {
            write!(f, ". Next: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Result with a store [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Map a local I/O error on `path` into a store error of `provider`.
pub fn io_error(provider: &str, what: &str, err: std::io::Error) -> Error {
    use std::io::ErrorKind as K;
    let kind = match err.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::PermissionDenied => ErrorKind::Unauthorized,
        K::NotADirectory | K::IsADirectory | K::DirectoryNotEmpty => ErrorKind::Conflict,
        K::InvalidFilename | K::InvalidInput => ErrorKind::InvalidKey,
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => ErrorKind::TooLarge { limit: None },
        K::TimedOut | K::Interrupted | K::ConnectionReset | K::ConnectionRefused => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Other,
    };
    Error::new(kind, provider, format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_provider_bucket_key_and_next_step() {
        let e = Error::new(ErrorKind::NotFound, "s3", "no such key")
            .bucket("data")
            .key("a/b.json");
        let s = e.to_string();
        assert!(s.starts_with("s3: not found for `data/a/b.json`"), "{s}");
        assert!(s.contains("Next: "), "{s}");
        let e = Error::new(ErrorKind::TooLarge { limit: Some(10) }, "supabase", "")
            .hint("raise the bucket limit");
        assert_eq!(
            e.to_string(),
            "supabase: too large (limit 10 bytes). Next: raise the bucket limit"
        );
        assert!(!e.is_retryable());
        assert!(Error::new(ErrorKind::Unavailable, "s3", "503").is_retryable());
    }
}
