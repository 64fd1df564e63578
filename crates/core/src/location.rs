//! Remote locations as users type them: `BUCKET`, `BUCKET/KEY` or `BUCKET/PREFIX/` (a trailing
//! `/` means a folder), and durations like `30m`, `1h`, `7d`.

use std::fmt;

use serde::Serialize;
use stowage_store::key::{parse_prefix, validate_any_bucket};
use stowage_store::{Key, ObjectPath};

use crate::error::{Error, Result};

/// A bucket and an optional key or folder in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The key or prefix after the bucket, as validated (empty for the whole bucket).
    pub path: String,
}

impl Location {
    /// Parse `BUCKET[/KEY_OR_PREFIX]`; the bucket name and key are validated.
    pub fn parse(raw: &str) -> Result<Location> {
        let (bucket, rest) = raw.split_once('/').unwrap_or((raw, ""));
        if bucket.is_empty() {
            return Err(Error::Usage(format!(
                "`{raw}` has no bucket; write a remote location as BUCKET/KEY, for example \
                 `datasets/train.csv`, or BUCKET/FOLDER/"
            )));
        }
        // The backend applies its own bucket rule; here only what no backend accepts.
        validate_any_bucket("stowage", bucket)?;
        let path = parse_prefix(rest)?;
        Ok(Location {
            bucket: bucket.to_string(),
            path,
        })
    }

    /// Whether this names a folder (the bucket itself, or a path ending in `/`).
    pub fn is_folder(&self) -> bool {
        self.path.is_empty() || self.path.ends_with('/')
    }

    /// The object this names; a folder is a usage error.
    pub fn object(&self) -> Result<ObjectPath> {
        if self.is_folder() {
            return Err(Error::Usage(format!(
                "`{self}` is a folder; name an object like `{}/file.bin`",
                self.bucket
            )));
        }
        Ok(ObjectPath::new(&self.bucket, &self.path)?)
    }

    /// The object for a file called `name`: inside this folder, or this exact key.
    pub fn object_for(&self, name: &str) -> Result<ObjectPath> {
        if self.is_folder() {
            Ok(ObjectPath::new(
                &self.bucket,
                &format!("{}{name}", self.path),
            )?)
        } else {
            self.object()
        }
    }

    /// This location as a folder: `BUCKET/PATH/` (the bucket alone stays as it is).
    pub fn as_folder(&self) -> Location {
        let mut l = self.clone();
        if !l.is_folder() {
            l.path.push('/');
        }
        l
    }

    /// The key of an object relative to this folder, for laying it out locally.
    pub fn relative<'k>(&self, key: &'k Key) -> &'k str {
        let prefix = self.as_folder().path;
        key.as_str()
            .strip_prefix(prefix.as_str())
            .unwrap_or(key.as_str())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}/", self.bucket)
        } else {
            write!(f, "{}/{}", self.bucket, self.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = Location::parse("datasets").unwrap();
        assert!(l.is_folder());
        assert_eq!(l.object_for("a.csv").unwrap().to_string(), "datasets/a.csv");
        let l = Location::parse("datasets/train/").unwrap();
        assert_eq!(
            l.object_for("a.csv").unwrap().to_string(),
            "datasets/train/a.csv"
        );
        let l = Location::parse("datasets/train/x.csv").unwrap();
        assert_eq!(
            l.object_for("a.csv").unwrap().to_string(),
            "datasets/train/x.csv"
        );
        assert_eq!(l.as_folder().path, "train/x.csv/");
        assert!(Location::parse("/x").is_err());
        // Bucket rules belong to the backend: a Supabase name passes here.
        assert_eq!(Location::parse("Avatars/x").unwrap().bucket, "Avatars");
        assert_eq!(
            Location::parse("user_uploads").unwrap().bucket,
            "user_uploads"
        );
        assert!(Location::parse("bad#bucket/x").is_err());
        assert!(Location::parse("datasets/../etc").is_err());
        assert!(Location::parse("datasets/").unwrap().object().is_err());
    }
}
