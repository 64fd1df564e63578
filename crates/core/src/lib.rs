//! Stowage core: the product's logic with no user interface. The CLI and the desktop app both
//! call these functions; nothing here prints.

pub mod app;
pub mod cache;
pub mod catalog;
pub mod compress;
pub mod config;
pub mod cost;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod events;
pub mod location;
pub mod metadata;
pub mod migrate;
pub mod open;
pub mod paths;
pub mod policy;
pub mod queue;
pub mod read;
pub mod record;
pub mod secrets;
pub mod sync;
pub mod team;
#[cfg(any(test, feature = "testdata"))]
pub mod testdata;
pub mod transfer;
pub mod units;
pub mod version;
pub mod watch;

use std::sync::Arc;

use stowage_store::Store;

pub use config::{Backend, Config, Profile, Selection};
pub use error::{Error, Result};
pub use location::Location;
pub use open::{credential_source, open_store};
pub use paths::Paths;
pub use units::{parse_duration, parse_duration_or_zero};

/// A selected profile and its open store.
#[derive(Debug)]
pub struct Session {
    /// Stowage's directories.
    pub paths: Paths,
    /// The profile in use.
    pub profile: Profile,
    /// Why that profile was chosen.
    pub selection: Selection,
    /// Its store.
    pub store: Arc<dyn Store>,
}

impl Session {
    /// Remember what a command did in the catalog (audit events, transfers for egress
    /// costs). Nothing is recorded for an empty list.
    pub fn record(&self, activity: &[catalog::Activity]) -> Result<()> {
        if activity.is_empty() {
            return Ok(());
        }
        catalog::Catalog::open(&self.paths)?.record_activity(
            &self.profile.name,
            self.store.provider(),
            activity,
        )
    }

    /// Record what a command wrote on this session's store ([`record::record_writes`]):
    /// locations, versions, transfers and audit events, in one transaction.
    pub fn record_writes(&self, writes: &[record::Write]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        record::record_writes(
            &catalog::Catalog::open(&self.paths)?,
            &self.profile.name,
            self.store.provider(),
            self.profile.org.as_deref(),
            writes,
        )
    }

    /// Load the configuration, select a profile (`flag`, then `STOWAGE_PROFILE`, then the
    /// config's default, then the embedded `local`) and open its store.
    pub async fn open(flag: Option<&str>) -> Result<Session> {
        let paths = Paths::from_env()?;
        let config = Config::load(&paths)?;
        let env = std::env::var("STOWAGE_PROFILE").ok();
        let (profile, selection) = config.select(flag, env.as_deref())?;
        let store = open_store(profile, &paths).await?;
        Ok(Session {
            paths,
            profile: profile.clone(),
            selection,
            store,
        })
    }

    /// Whether puts create a missing bucket: only local folder stores do.
    pub fn creates_buckets(&self) -> bool {
        matches!(self.profile.backend, Backend::Local(_))
    }
}
