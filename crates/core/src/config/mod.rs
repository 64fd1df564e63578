//! Profiles: named stores in `config.toml`, holding only non-secret fields. Secrets come from
//! the OS keyring (`stowage login`, see secrets.rs) or the environment; a config field that
//! looks like one is refused without echoing its value. With no config file, the embedded `local` profile works alone.
//!
//! ```toml
//! default_profile = "lab"
//!
//! [profiles.lab]
//! kind = "s3"
//! endpoint = "http://127.0.0.1:8333"
//! region = "us-east-1"
//! path_style = true
//!
//! [profiles.team]
//! kind = "supabase"
//! url = "https://abcd.supabase.co"
//!
//! [sync]                    # optional: where `stowage sync` uploads
//! primary = "lab"           # default: the selected profile
//! secondary = "team"        # optional: primary+secondary rules also go here
//! bucket = "ml-artifacts"   # the default
//!
//! [cache]                   # optional: downloads kept for reads (see `cache`)
//! ttl = "7d"                # unused this long: expired (default 7d)
//! max_size = "10 GiB"       # least recently used go first past this (default 10 GiB)
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::units::line_col;

mod edit;
mod prices;
mod secrets;
mod settings;

#[cfg(test)]
mod tests;

pub use edit::*;
use prices::*;
pub use secrets::*;
pub use settings::*;

/// The name of the embedded profile used when nothing else is configured.
pub const DEFAULT_PROFILE: &str = "local";

/// Where secrets come from, for messages that refuse or miss one.
pub const SECRETS_FROM_ENV: &str = "or pass them through the environment: AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY (or ~/.aws, AWS_PROFILE) for S3, SUPABASE_SERVICE_ROLE_KEY (or \
     SUPABASE_ANON_KEY) for Supabase";

/// The loaded configuration: every profile, the embedded one included.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// The configuration file's path.
    pub file: PathBuf,
    /// Whether that file exists (without it only the embedded profile is known).
    pub file_exists: bool,
    /// `default_profile` from the file.
    pub default_profile: Option<String>,
    /// All profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// The `[sync]` section.
    pub sync: SyncConfig,
    /// The `[prices]` section over the defaults, for cost estimates.
    pub prices: crate::cost::PriceTable,
    /// The `[cache]` section: how long downloads stay cached and how much space they may take.
    pub cache: CacheConfig,
    /// The `[watch]` section: the auto-sync engine's settle time, concurrency and retries.
    pub watch: WatchConfig,
    /// The `[team]` section: the team catalog's database, when there is one.
    pub team: Option<TeamConfig>,
}

/// The bucket `stowage sync` uploads to when none is configured (from the storage strategy).
pub const DEFAULT_SYNC_BUCKET: &str = "ml-artifacts";

/// Where `stowage sync` uploads: the `[sync]` section.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SyncConfig {
    /// The primary store's profile; None uses the selected profile.
    pub primary: Option<String>,
    /// The secondary store's profile, for primary+secondary rules.
    pub secondary: Option<String>,
    /// The bucket on both stores.
    pub bucket: String,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            primary: None,
            secondary: None,
            bucket: DEFAULT_SYNC_BUCKET.to_string(),
        }
    }
}

/// A named store and how to reach it, without secrets.
#[derive(Clone, Debug, Serialize, PartialEq, ts_rs::TS)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// Where it was defined.
    pub source: ProfileSource,
    /// The provider and its settings.
    #[serde(flatten)]
    pub backend: Backend,
    /// The organization this profile is bound to (`org = "acme"`): it can address only keys
    /// under `acme/` (see `stowage_store::org`). One plain key segment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// Where a profile was defined.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    /// Built into Stowage.
    Embedded,
    /// The configuration file.
    ConfigFile,
}

/// A provider and its non-secret settings.
#[derive(Clone, Debug, Serialize, PartialEq, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Backend {
    /// A local folder (creates missing buckets on first put).
    Local(LocalProfile),
    /// An S3-compatible endpoint.
    S3(S3Profile),
    /// Supabase Storage.
    Supabase(SupabaseProfile),
}

impl Backend {
    /// `local`, `s3` or `supabase`.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Local(_) => "local",
            Backend::S3(_) => "s3",
            Backend::Supabase(_) => "supabase",
        }
    }

    /// The provider label its store gives itself, which the catalog records with each copy:
    /// `s3 (127.0.0.1:8333)`, `supabase`, `local`.
    pub fn label(&self) -> String {
        let endpoint = match self {
            Backend::S3(s) => s.endpoint.as_deref(),
            Backend::Supabase(s) => s.url.as_deref(),
            Backend::Local(_) => None,
        };
        stowage_store::provider::label(self.kind(), endpoint)
    }
}

/// Settings of a local folder store.
#[derive(Clone, Debug, Serialize, PartialEq, ts_rs::TS)]
pub struct LocalProfile {
    /// The folder holding one directory per bucket.
    pub root: PathBuf,
}

/// Settings of an S3-compatible store.
#[derive(Clone, Debug, Default, Serialize, PartialEq, ts_rs::TS)]
pub struct S3Profile {
    /// Endpoint URL; None for AWS.
    pub endpoint: Option<String>,
    /// Region; None for the AWS chain's.
    pub region: Option<String>,
    /// Path-style addressing, which most self-hosted servers need.
    pub path_style: bool,
    /// A profile of `~/.aws/config`; None uses `AWS_PROFILE` or the default.
    pub aws_profile: Option<String>,
    /// Refuse uploads above this many bytes.
    pub max_object_size: Option<u64>,
    /// Multipart part size in bytes.
    pub part_size: Option<u64>,
    /// Parts in flight at once.
    pub concurrency: Option<usize>,
    /// Seconds a request may go without a byte moving before it fails as unavailable
    /// (default 30; `STOWAGE_READ_TIMEOUT_SECS` overrides it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<u64>,
}

/// Settings of a Supabase Storage store.
#[derive(Clone, Debug, Default, Serialize, PartialEq, ts_rs::TS)]
pub struct SupabaseProfile {
    /// The project URL; None takes `SUPABASE_URL`.
    pub url: Option<String>,
    /// Refuse uploads above this many bytes.
    pub max_object_size: Option<u64>,
}

/// Why a profile was selected.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// `--profile`.
    Flag,
    /// `STOWAGE_PROFILE`.
    Environment,
    /// `default_profile` in the configuration file.
    ConfigDefault,
    /// Nothing chose: the embedded default.
    BuiltIn,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Selection::Flag => "--profile",
            Selection::Environment => "STOWAGE_PROFILE",
            Selection::ConfigDefault => "default_profile in the config file",
            Selection::BuiltIn => "built-in default",
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    default_profile: Option<Spanned<String>>,
    #[serde(default)]
    profiles: BTreeMap<Spanned<String>, RawProfile>,
    sync: Option<RawSync>,
    prices: Option<RawPrices>,
    cache: Option<RawCache>,
    watch: Option<RawWatch>,
    team: Option<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    primary: Option<Spanned<String>>,
    secondary: Option<Spanned<String>>,
    bucket: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Local,
    S3,
    Supabase,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    kind: Spanned<Kind>,
    root: Option<Spanned<PathBuf>>,
    endpoint: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    path_style: Option<Spanned<bool>>,
    aws_profile: Option<Spanned<String>>,
    max_object_size: Option<Spanned<u64>>,
    part_size: Option<Spanned<u64>>,
    concurrency: Option<Spanned<usize>>,
    read_timeout: Option<Spanned<u64>>,
    url: Option<Spanned<String>>,
    org: Option<Spanned<String>>,
}

impl Config {
    /// Load `config.toml` from `paths.config_dir`; a missing file gives the embedded profile.
    pub fn load(paths: &Paths) -> Result<Config> {
        let file = paths.config_file();
        match std::fs::read_to_string(&file) {
            Ok(text) => Config::parse(&text, &file, paths),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::embedded(file, paths)),
            Err(e) => Err(Error::Config(format!(
                "cannot read the config file {}: {e}; check its permissions",
                file.display()
            ))),
        }
    }

    fn embedded(file: PathBuf, paths: &Paths) -> Config {
        let mut profiles = BTreeMap::new();
        profiles.insert(DEFAULT_PROFILE.to_string(), embedded_profile(paths));
        Config {
            file,
            file_exists: false,
            default_profile: None,
            profiles,
            sync: SyncConfig::default(),
            prices: crate::cost::PriceTable::default(),
            cache: CacheConfig::default(),
            watch: WatchConfig::default(),
            team: None,
        }
    }

    /// Parse configuration `text` read from `file`.
    pub fn parse(text: &str, file: &Path, paths: &Paths) -> Result<Config> {
        let at = |offset: usize, message: &str| {
            let (line, col) = line_col(text, offset);
            Error::Config(format!("{}:{line}:{col}: {message}", file.display()))
        };
        // Look for secrets before typed parsing: serde's messages may quote values.
        let doc = toml::de::DeTable::parse(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                &format!("invalid TOML: {}", e.message().trim()),
            )
        })?;
        if let Some((name, offset)) = find_secret(doc.get_ref()) {
            return Err(at(offset, &secret_refusal(doc.get_ref(), &name, offset)));
        }
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                &format!(
                    "{}; see the profile fields in `stowage profile ls --help`",
                    e.message().trim()
                ),
            )
        })?;
        let mut config = Config::embedded(file.to_path_buf(), paths);
        config.file_exists = true;
        let base = file.parent().unwrap_or(Path::new("."));
        for (name, rp) in raw.profiles {
            let span = name.span();
            let name = name.into_inner();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(at(
                    span.start,
                    "profile names use letters, digits, `-`, `_` and `.`",
                ));
            }
            let mut rp = rp;
            let org = match rp.org.take() {
                None => None,
                Some(o) => Some(stowage_store::org::validate_org(o.get_ref()).map_err(|e| {
                    let hint = e.hint.as_deref().unwrap_or_default();
                    at(o.span().start, &format!("{}; {hint}", e.message))
                })?),
            };
            let backend = rp.into_backend(&at, base, paths)?;
            config.profiles.insert(
                name.clone(),
                Profile {
                    name,
                    source: ProfileSource::ConfigFile,
                    backend,
                    org,
                },
            );
        }
        if let Some(default) = raw.default_profile {
            if !config.profiles.contains_key(default.get_ref()) {
                return Err(at(
                    default.span().start,
                    &format!(
                        "default_profile `{}` is not defined; known profiles: {}",
                        default.get_ref(),
                        config.names()
                    ),
                ));
            }
            config.default_profile = Some(default.into_inner());
        }
        if let Some(prices) = raw.prices {
            config.prices = prices.into_table(&at)?;
        }
        if let Some(watch) = raw.watch {
            config.watch = watch.into_config(&at)?;
        }
        if let Some(team) = raw.team {
            config.team = Some(team.into_config(base, &at)?);
        }
        if let Some(cache) = raw.cache {
            config.cache = cache.into_config(&at)?;
        }
        if let Some(sync) = raw.sync {
            for p in [&sync.primary, &sync.secondary].into_iter().flatten() {
                if !config.profiles.contains_key(p.get_ref()) {
                    return Err(at(
                        p.span().start,
                        &format!(
                            "[sync] names profile `{}`, which is not defined; known profiles: {}",
                            p.get_ref(),
                            config.names()
                        ),
                    ));
                }
            }
            if let (Some(p), Some(s)) = (&sync.primary, &sync.secondary) {
                if p.get_ref() == s.get_ref() {
                    return Err(at(
                        s.span().start,
                        "[sync] secondary must differ from primary, or a second copy adds nothing",
                    ));
                }
            }
            if let Some(b) = &sync.bucket {
                // The store checks its own rule when it is used (Supabase allows `_` and
                // capitals); here only names no backend accepts are refused.
                if let Err(e) = stowage_store::key::validate_any_bucket("stowage", b.get_ref()) {
                    return Err(at(b.span().start, &format!("[sync] bucket: {}", e.message)));
                }
            }
            config.sync = SyncConfig {
                primary: sync.primary.map(Spanned::into_inner),
                secondary: sync.secondary.map(Spanned::into_inner),
                bucket: sync
                    .bucket
                    .map_or_else(|| DEFAULT_SYNC_BUCKET.to_string(), Spanned::into_inner),
            };
        }
        Ok(config)
    }

    fn names(&self) -> String {
        self.profiles
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The profile to use: `flag` (`--profile`), else `env` (`STOWAGE_PROFILE`), else
    /// `default_profile`, else the embedded `local`.
    pub fn select(&self, flag: Option<&str>, env: Option<&str>) -> Result<(&Profile, Selection)> {
        let (name, why) = match (flag, env.filter(|e| !e.is_empty()), &self.default_profile) {
            (Some(f), _, _) => (f, Selection::Flag),
            (None, Some(e), _) => (e, Selection::Environment),
            (None, None, Some(d)) => (d.as_str(), Selection::ConfigDefault),
            (None, None, None) => (DEFAULT_PROFILE, Selection::BuiltIn),
        };
        match self.profiles.get(name) {
            Some(p) => Ok((p, why)),
            None => Err(Error::Config(format!(
                "no profile `{name}` (chosen by {why}); known profiles: {}. Define it in {} \
                 or pick one listed by `stowage profile ls`",
                self.names(),
                self.file.display()
            ))),
        }
    }
}

/// The embedded `local` profile: a folder store under the data directory.
pub fn embedded_profile(paths: &Paths) -> Profile {
    Profile {
        name: DEFAULT_PROFILE.to_string(),
        source: ProfileSource::Embedded,
        backend: Backend::Local(LocalProfile {
            root: paths.default_local_root(),
        }),
        org: None,
    }
}

impl RawProfile {
    fn into_backend(
        self,
        at: &dyn Fn(usize, &str) -> Error,
        base: &Path,
        paths: &Paths,
    ) -> Result<Backend> {
        let kind = *self.kind.get_ref();
        let kind_name = match kind {
            Kind::Local => "local",
            Kind::S3 => "s3",
            Kind::Supabase => "supabase",
        };
        // Each field belongs to some kinds; a field of another kind is a mistake worth naming.
        let check = |name: &str, span: Option<std::ops::Range<usize>>, kinds: &[Kind]| match span {
            Some(s) if !kinds.contains(&kind) => Err(at(
                s.start,
                &format!("`{name}` is not a setting of `{kind_name}` profiles"),
            )),
            _ => Ok(()),
        };
        use Kind::*;
        check("root", self.root.as_ref().map(|v| v.span()), &[Local])?;
        check("endpoint", self.endpoint.as_ref().map(|v| v.span()), &[S3])?;
        check("region", self.region.as_ref().map(|v| v.span()), &[S3])?;
        check(
            "path_style",
            self.path_style.as_ref().map(|v| v.span()),
            &[S3],
        )?;
        check(
            "aws_profile",
            self.aws_profile.as_ref().map(|v| v.span()),
            &[S3],
        )?;
        check(
            "part_size",
            self.part_size.as_ref().map(|v| v.span()),
            &[S3],
        )?;
        check(
            "concurrency",
            self.concurrency.as_ref().map(|v| v.span()),
            &[S3],
        )?;
        check(
            "read_timeout",
            self.read_timeout.as_ref().map(|v| v.span()),
            &[S3],
        )?;
        if let Some(t) = &self.read_timeout {
            if *t.get_ref() == 0 {
                return Err(at(
                    t.span().start,
                    "read_timeout must be at least 1 (seconds)",
                ));
            }
        }
        check("url", self.url.as_ref().map(|v| v.span()), &[Supabase])?;
        check(
            "max_object_size",
            self.max_object_size.as_ref().map(|v| v.span()),
            &[S3, Supabase],
        )?;
        let check_url = |v: &Option<Spanned<String>>| -> Result<Option<String>> {
            match v {
                None => Ok(None),
                Some(s) => match url::Url::parse(s.get_ref()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {
                        Ok(Some(s.get_ref().clone()))
                    }
                    _ => Err(at(
                        s.span().start,
                        "expected an http:// or https:// URL like `https://s3.example.com`",
                    )),
                },
            }
        };
        if let Some(c) = &self.concurrency {
            if *c.get_ref() == 0 {
                return Err(at(c.span().start, "concurrency must be at least 1"));
            }
        }
        let val = |v: Option<Spanned<u64>>| v.map(Spanned::into_inner);
        Ok(match kind {
            Local => Backend::Local(LocalProfile {
                root: match self.root {
                    Some(r) => resolve_path(r.get_ref(), base),
                    None => paths.default_local_root(),
                },
            }),
            S3 => Backend::S3(S3Profile {
                endpoint: check_url(&self.endpoint)?,
                region: self.region.map(Spanned::into_inner),
                path_style: self.path_style.is_some_and(|p| *p.get_ref()),
                aws_profile: self.aws_profile.map(Spanned::into_inner),
                max_object_size: val(self.max_object_size),
                part_size: val(self.part_size),
                concurrency: self.concurrency.map(Spanned::into_inner),
                read_timeout: val(self.read_timeout),
            }),
            Supabase => Backend::Supabase(SupabaseProfile {
                url: check_url(&self.url)?,
                max_object_size: val(self.max_object_size),
            }),
        })
    }
}

/// `~/x` from the home directory, relative paths from the config file's folder.
fn resolve_path(p: &Path, base: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
