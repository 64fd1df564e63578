//! Where Stowage keeps its files: the platform directories, each overridable from the
//! environment (tests and portable installs use that).

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};

/// Stowage's directories.
#[derive(Clone, Debug, Serialize)]
pub struct Paths {
    /// Holds `config.toml` (`STOWAGE_CONFIG_DIR`).
    pub config_dir: PathBuf,
    /// Holds the default local store and resume state (`STOWAGE_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Holds caches (`STOWAGE_CACHE_DIR`).
    pub cache_dir: PathBuf,
}

impl Paths {
    /// The platform directories, with `STOWAGE_CONFIG_DIR`, `STOWAGE_DATA_DIR` and
    /// `STOWAGE_CACHE_DIR` taking precedence.
    pub fn from_env() -> Result<Paths> {
        let from_env = |var: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let (config, data, cache) = (
            from_env("STOWAGE_CONFIG_DIR"),
            from_env("STOWAGE_DATA_DIR"),
            from_env("STOWAGE_CACHE_DIR"),
        );
        // Only ask the platform when something is not overridden: it needs a home directory.
        let dirs = if config.is_none() || data.is_none() || cache.is_none() {
            Some(
                directories::ProjectDirs::from("", "", "stowage").ok_or_else(|| {
                    Error::Config(
                        "cannot find the home directory to keep Stowage's files in; set HOME, or \
                     STOWAGE_CONFIG_DIR, STOWAGE_DATA_DIR and STOWAGE_CACHE_DIR"
                            .into(),
                    )
                })?,
            )
        } else {
            None
        };
        let pick = |over: Option<PathBuf>, f: fn(&directories::ProjectDirs) -> PathBuf| {
            over.unwrap_or_else(|| f(dirs.as_ref().expect("checked above")))
        };
        Ok(Paths {
            config_dir: pick(config, |d| d.config_dir().to_path_buf()),
            data_dir: pick(data, |d| d.data_dir().to_path_buf()),
            cache_dir: pick(cache, |d| d.cache_dir().to_path_buf()),
        })
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// Where the embedded `local` profile keeps its buckets.
    pub fn default_local_root(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    /// Where interrupted uploads are remembered.
    pub fn resume_dir(&self) -> PathBuf {
        self.data_dir.join("resume")
    }
}
