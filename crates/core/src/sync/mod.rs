//! One-shot sync of a project folder by policy (M3–M6), written once over [`Store`]: walk,
//! classify, skip what is unchanged, version, compress, upload to the primary (and secondary),
//! record in the catalog. Also restoring a recorded version and garbage-collecting old ones.
//!
//! Keys. A name-versioned file (`model-x-2026-01-06T03-27-22.json`) has a key of its own, so
//! its versions never collide. An unversioned name (`dataset.json`) keeps the latest content
//! at its policy key (`training-data/dataset.json.gz`); when the content changes, the object
//! holding the older version is first copied to `training-data/_versions/dataset.json/<sha12>.gz`
//! and the catalog moves that version's location there, so every version stays restorable and
//! the plain key always holds the newest. An object at a key the catalog does not know is never
//! overwritten.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
use stowage_store::{
    BucketOptions, ErrorKind, Key, ObjectPath, PutOptions, PutSource, Store, TransferEvent,
};
use time::OffsetDateTime;

use crate::catalog::{
    self, AuditEvent, Catalog, FileState, NewLocation, NewVersion, VersionInfo, VersionMetrics,
};
use crate::compress;
use crate::cost::Direction;
use crate::error::{local_error, Error, Result};
use crate::policy::{Destination, Policy};
use crate::transfer::{io_local, walk, ItemEvent, ProgressFn};
use crate::version::{self, VersionTag};

mod check;
mod gc;
mod keys;
mod plan;
mod run;

#[cfg(test)]
mod tests;

pub use check::*;
pub use gc::*;
pub use keys::*;
pub use plan::*;
pub use run::*;

/// Files uploaded at once.
pub const CONCURRENCY: usize = crate::transfer::DEFAULT_CONCURRENCY;

/// A store that sync writes to, with the profile it was opened from.
#[derive(Clone, Debug)]
pub struct Target {
    /// The profile's name (recorded in the catalog; never a credential).
    pub profile: String,
    /// Its open store.
    pub store: Arc<dyn Store>,
    /// Create the bucket when missing (local folder stores only).
    pub create_bucket: bool,
}

/// Where sync uploads.
#[derive(Clone, Debug)]
pub struct Targets {
    /// The primary store.
    pub primary: Target,
    /// The secondary store, for primary+secondary rules.
    pub secondary: Option<Target>,
    /// The bucket on both.
    pub bucket: String,
}

/// The tag and sort key of a new version: the name's version (`V`, then `V+2`, `V+3` when the
/// same name gets new content), or for unversioned names the next content number.
pub(crate) fn next_tag(
    catalog: &Catalog,
    artifact: i64,
    named: Option<&VersionTag>,
) -> Result<(String, String)> {
    match named {
        Some(v) => {
            let base = v.to_string();
            let base_key = tag_sort_key(v);
            if !catalog.has_version(artifact, &base)? {
                return Ok((base, base_key));
            }
            let mut n = 2u64;
            loop {
                let tag = format!("{base}+{n}");
                if !catalog.has_version(artifact, &tag)? {
                    return Ok((
                        tag,
                        format!("{base_key}+{}", crate::version::sort_key(&n.to_string())),
                    ));
                }
                n += 1;
            }
        }
        None => {
            let mut n = catalog.version_count(artifact)? + 1;
            loop {
                let tag = n.to_string();
                if !catalog.has_version(artifact, &tag)? {
                    return Ok((tag.clone(), format!("C{}", crate::version::sort_key(&tag))));
                }
                n += 1;
            }
        }
    }
}
