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

/// The `[prices]` section: USD, each field optional over the defaults of DESIGN.md.
///
/// ```toml
/// [prices]
/// s3_storage_gb_month = 0.0125   # S3 Standard-IA
/// supabase_storage_included_gb = 8
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrices {
    s3_storage_gb_month: Option<Spanned<f64>>,
    s3_put_per_1000: Option<Spanned<f64>>,
    s3_get_per_1000: Option<Spanned<f64>>,
    s3_egress_gb: Option<Spanned<f64>>,
    s3_egress_free_gb: Option<Spanned<f64>>,
    supabase_storage_gb_month: Option<Spanned<f64>>,
    supabase_storage_included_gb: Option<Spanned<f64>>,
    supabase_egress_gb: Option<Spanned<f64>>,
    supabase_egress_included_gb: Option<Spanned<f64>>,
    postgres_jsonb_gb_month: Option<Spanned<f64>>,
    local_storage_gb_month: Option<Spanned<f64>>,
}

impl RawPrices {
    fn into_table(self, at: &dyn Fn(usize, &str) -> Error) -> Result<crate::cost::PriceTable> {
        let mut t = crate::cost::PriceTable::default();
        let fields = [
            (
                "s3_storage_gb_month",
                self.s3_storage_gb_month,
                &mut t.s3_storage_gb_month,
            ),
            (
                "s3_put_per_1000",
                self.s3_put_per_1000,
                &mut t.s3_put_per_1000,
            ),
            (
                "s3_get_per_1000",
                self.s3_get_per_1000,
                &mut t.s3_get_per_1000,
            ),
            ("s3_egress_gb", self.s3_egress_gb, &mut t.s3_egress_gb),
            (
                "s3_egress_free_gb",
                self.s3_egress_free_gb,
                &mut t.s3_egress_free_gb,
            ),
            (
                "supabase_storage_gb_month",
                self.supabase_storage_gb_month,
                &mut t.supabase_storage_gb_month,
            ),
            (
                "supabase_storage_included_gb",
                self.supabase_storage_included_gb,
                &mut t.supabase_storage_included_gb,
            ),
            (
                "supabase_egress_gb",
                self.supabase_egress_gb,
                &mut t.supabase_egress_gb,
            ),
            (
                "supabase_egress_included_gb",
                self.supabase_egress_included_gb,
                &mut t.supabase_egress_included_gb,
            ),
            (
                "postgres_jsonb_gb_month",
                self.postgres_jsonb_gb_month,
                &mut t.postgres_jsonb_gb_month,
            ),
            (
                "local_storage_gb_month",
                self.local_storage_gb_month,
                &mut t.local_storage_gb_month,
            ),
        ];
        for (name, value, slot) in fields {
            if let Some(v) = value {
                let x = *v.get_ref();
                // A negative or infinite price would make every estimate nonsense.
                if !x.is_finite() || x < 0.0 {
                    return Err(at(
                        v.span().start,
                        &format!("`{name}` must be a price in USD, 0 or more"),
                    ));
                }
                *slot = x;
            }
        }
        Ok(t)
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

/// Whether a field name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace('-', "_");
    n == "key"
        || n.ends_with("_key")
        || n.ends_with("key_id")
        || n.starts_with("key_")
        || n.contains("apikey")
        || ["secret", "password", "passwd", "token", "credential", "jwt"]
            .iter()
            .any(|w| n.contains(w))
}

/// Why a secret-looking field at `offset` is refused, with the command that moves it into
/// the keyring (never the value).
fn secret_refusal(doc: &toml::de::DeTable<'_>, name: &str, offset: usize) -> String {
    // The profile whose table holds the field, if any.
    let profile = doc.get("profiles").and_then(|p| match p.get_ref() {
        toml::de::DeValue::Table(t) => t.iter().find_map(|(k, v)| match v.get_ref() {
            toml::de::DeValue::Table(pt) => find_secret(pt)
                .filter(|(_, o)| *o == offset)
                .map(|_| k.get_ref().to_string()),
            _ => None,
        }),
        _ => None,
    });
    let command = match &profile {
        Some(p) => format!("`stowage login --profile {p}`"),
        None => "`stowage login --profile NAME`".to_string(),
    };
    format!(
        "`{name}` looks like a secret, and secrets are never kept in the config file; remove \
         the line, then run {command} to keep it in the OS keyring ({SECRETS_FROM_ENV})"
    )
}

/// The first secret-looking key anywhere in the document, with its byte offset.
fn find_secret(table: &toml::de::DeTable<'_>) -> Option<(String, usize)> {
    for (k, v) in table.iter() {
        if looks_secret(k.get_ref()) {
            return Some((k.get_ref().to_string(), k.span().start));
        }
        if let Some(found) = find_secret_value(v.get_ref()) {
            return Some(found);
        }
    }
    None
}

fn find_secret_value(v: &toml::de::DeValue<'_>) -> Option<(String, usize)> {
    match v {
        toml::de::DeValue::Table(t) => find_secret(t),
        toml::de::DeValue::Array(a) => a.iter().find_map(|i| find_secret_value(i.get_ref())),
        _ => None,
    }
}

/// A profile to add to `config.toml` (`stowage profile add`): non-secret settings only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewProfile {
    /// `local`, `s3` or `supabase`.
    pub kind: String,
    /// Local: the folder (relative paths are taken from the current directory).
    pub root: Option<PathBuf>,
    /// S3: endpoint URL.
    pub endpoint: Option<String>,
    /// S3: region.
    pub region: Option<String>,
    /// S3: path-style addressing.
    pub path_style: Option<bool>,
    /// S3: a profile of `~/.aws/config`.
    pub aws_profile: Option<String>,
    /// Supabase: the project URL.
    pub url: Option<String>,
    /// S3 and Supabase: refuse uploads above this many bytes.
    pub max_object_size: Option<u64>,
    /// The organization the profile is bound to.
    pub org: Option<String>,
}

fn config_error(kind: stowage_store::ErrorKind, message: String, hint: String) -> Error {
    stowage_store::Error::new(kind, "config", message)
        .hint(hint)
        .into()
}

fn read_document(file: &Path) -> Result<(String, toml_edit::DocumentMut)> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read the config file {}: {e}; check its permissions",
                file.display()
            )))
        }
    };
    let doc = text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        Error::Config(format!(
            "{}: invalid TOML ({}); fix the file first",
            file.display(),
            e.message().trim()
        ))
    })?;
    Ok((text, doc))
}

/// Check the edited document as `Config::load` will, then replace the file atomically.
fn write_document(
    file: &Path,
    doc: &toml_edit::DocumentMut,
    paths: &Paths,
    what: &str,
    dry_run: bool,
) -> Result<Config> {
    let text = doc.to_string();
    let config = Config::parse(&text, file, paths).map_err(|e| {
        Error::Config(format!(
            "{what} would leave the config file invalid, so nothing was written: {e}"
        ))
    })?;
    if dry_run {
        return Ok(config);
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Config(format!(
            "cannot create the config folder {}: {e}; check its permissions",
            dir.display()
        ))
    })?;
    let tmp = dir.join(format!(".config.toml.{}.tmp", std::process::id()));
    let written = std::fs::write(&tmp, &text).and_then(|()| std::fs::rename(&tmp, file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Config(format!(
            "cannot write the config file {}: {e}; check its permissions",
            file.display()
        )));
    }
    Ok(config)
}

fn valid_profile_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::Usage(format!(
            "`{name}` is not a profile name: use letters, digits, `-`, `_` and `.`"
        )));
    }
    Ok(())
}

/// Add profile `name` to `config.toml`, keeping the file's other content and comments;
/// with `make_default` it also becomes `default_profile`. The result is checked as
/// [`Config::load`] would before anything is written; with `dry_run` nothing is. Returns
/// the profile as it will load.
pub fn add_profile(
    paths: &Paths,
    name: &str,
    new: &NewProfile,
    make_default: bool,
    dry_run: bool,
) -> Result<Profile> {
    use toml_edit::{value, Item, Table};
    valid_profile_name(name)?;
    let kind = new.kind.as_str();
    if stowage_store::provider::provider(kind).is_none() {
        return Err(Error::Usage(format!(
            "`{kind}` is not a profile kind: use {}",
            stowage_store::provider::kinds_in_words()
        )));
    }
    let given = [
        ("root", new.root.is_some()),
        ("endpoint", new.endpoint.is_some()),
        ("region", new.region.is_some()),
        ("path_style", new.path_style.is_some()),
        ("aws_profile", new.aws_profile.is_some()),
        ("url", new.url.is_some()),
        ("max_object_size", new.max_object_size.is_some()),
    ];
    for (setting, _) in given.iter().filter(|(_, g)| *g) {
        let kinds: Vec<&str> = stowage_store::provider::PROVIDERS
            .iter()
            .filter(|p| p.settings.iter().any(|s| s.name == *setting))
            .map(|p| p.kind)
            .collect();
        if !kinds.contains(&kind) {
            return Err(Error::Usage(format!(
                "--{} is a setting of {} profiles, not of `{kind}` ones",
                setting.replace('_', "-"),
                kinds.join(" and ")
            )));
        }
    }
    for (flag, u) in [("--endpoint", &new.endpoint), ("--url", &new.url)] {
        if let Some(u) = u {
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => {}
                _ => {
                    return Err(Error::Usage(format!(
                        "{flag} `{u}` is not an http:// or https:// URL (like \
                         `https://s3.example.com`)"
                    )))
                }
            }
        }
    }
    let file = paths.config_file();
    let (_, mut doc) = read_document(&file)?;
    if !doc.contains_key("profiles") {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert("profiles", Item::Table(t));
    }
    let profiles = doc["profiles"].as_table_like_mut().ok_or_else(|| {
        Error::Config(format!(
            "{}: `profiles` is not a table; fix the file first",
            file.display()
        ))
    })?;
    if profiles.contains_key(name) {
        return Err(config_error(
            stowage_store::ErrorKind::AlreadyExists,
            format!("profile `{name}` is already defined in {}", file.display()),
            format!(
                "pick another name, or remove it first with `stowage profile rm {name}` (its \
                 keyring entries go too)"
            ),
        ));
    }
    let mut t = Table::new();
    t.insert("kind", value(kind));
    if let Some(r) = &new.root {
        // Stored absolute: relative paths in the file are taken from the file's folder.
        let abs = if r.is_absolute() {
            r.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(r))
                .unwrap_or_else(|_| r.clone())
        };
        t.insert("root", value(abs.display().to_string()));
    }
    let strings = [
        ("endpoint", &new.endpoint),
        ("region", &new.region),
        ("aws_profile", &new.aws_profile),
        ("url", &new.url),
        ("org", &new.org),
    ];
    for (k, v) in strings {
        if let Some(v) = v {
            t.insert(k, value(v.as_str()));
        }
    }
    if let Some(p) = new.path_style {
        t.insert("path_style", value(p));
    }
    if let Some(m) = new.max_object_size {
        let m = i64::try_from(m)
            .map_err(|_| Error::Usage("--max-object-size is too large".to_string()))?;
        t.insert("max_object_size", value(m));
    }
    profiles.insert(name, Item::Table(t));
    if make_default {
        doc.insert("default_profile", value(name));
    }
    let config = write_document(
        &file,
        &doc,
        paths,
        &format!("adding profile `{name}`"),
        dry_run,
    )?;
    Ok(config.profiles[name].clone())
}

/// What [`remove_profile`] did.
#[derive(Clone, Debug, Serialize, PartialEq, ts_rs::TS)]
pub struct RemovedProfile {
    /// The profile as it was.
    pub profile: Profile,
    /// Whether `default_profile` named it and was removed too.
    pub was_default: bool,
}

/// Remove profile `name` from `config.toml`, keeping the rest of the file; a
/// `default_profile` naming it goes too. A profile that `[sync]` names is refused (the file
/// would no longer load). With `dry_run` nothing is written.
pub fn remove_profile(paths: &Paths, name: &str, dry_run: bool) -> Result<RemovedProfile> {
    let file = paths.config_file();
    let (text, mut doc) = read_document(&file)?;
    let before = Config::parse(&text, &file, paths)?;
    let in_file = doc
        .get("profiles")
        .and_then(|p| p.as_table_like())
        .is_some_and(|p| p.contains_key(name));
    if !in_file {
        let why = if name == DEFAULT_PROFILE {
            format!("`{name}` is the built-in profile, which cannot be removed")
        } else {
            format!("no profile `{name}` in {}", file.display())
        };
        return Err(config_error(
            stowage_store::ErrorKind::NotFound,
            why,
            format!("known profiles: {}", before.names()),
        ));
    }
    for (role, p) in [
        ("primary", &before.sync.primary),
        ("secondary", &before.sync.secondary),
    ] {
        if p.as_deref() == Some(name) {
            return Err(config_error(
                stowage_store::ErrorKind::Conflict,
                format!(
                    "profile `{name}` is the [sync] {role} in {}",
                    file.display()
                ),
                format!("change `{role}` in the [sync] section first, then remove `{name}`"),
            ));
        }
    }
    let profile = before.profiles[name].clone();
    if let Some(p) = doc["profiles"].as_table_like_mut() {
        p.remove(name);
    }
    let was_default = before.default_profile.as_deref() == Some(name);
    if was_default {
        // Comments above the line (often the file's own header) are kept, at the top.
        let comments = doc.as_table_mut().key_mut("default_profile").and_then(|k| {
            let p = k.leaf_decor().prefix()?.as_str()?;
            p.contains('#').then(|| p.to_string())
        });
        doc.remove("default_profile");
        if let Some(c) = comments {
            let root = doc.as_table_mut().decor_mut();
            let before = root
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or_default()
                .to_string();
            root.set_prefix(format!("{before}{c}"));
        }
    }
    write_document(
        &file,
        &doc,
        paths,
        &format!("removing profile `{name}`"),
        dry_run,
    )?;
    Ok(RemovedProfile {
        profile,
        was_default,
    })
}

// ---- the [cache] and [watch] sections ----

/// Default time an unused entry stays: 7 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Default size cap: 10 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;

/// The `[cache]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CacheConfig {
    /// An entry not used for this long is expired.
    #[serde(with = "secs")]
    pub ttl: Duration,
    /// The most bytes the cache keeps; least recently used entries are evicted past it.
    pub max_size: u64,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: DEFAULT_TTL,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// `[cache]` as written in config.toml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCache {
    ttl: Option<Spanned<String>>,
    max_size: Option<Spanned<String>>,
}

impl RawCache {
    pub(crate) fn into_config(self, at: &dyn Fn(usize, &str) -> Error) -> Result<CacheConfig> {
        let mut c = CacheConfig::default();
        if let Some(ttl) = self.ttl {
            c.ttl = crate::units::parse_duration(ttl.get_ref()).map_err(|_| {
                at(
                    ttl.span().start,
                    &format!(
                        "[cache] ttl `{}` is not a duration; write it like \"12h\" or \"7d\"",
                        ttl.get_ref()
                    ),
                )
            })?;
        }
        if let Some(max) = self.max_size {
            c.max_size = crate::units::parse_size(max.get_ref()).map_err(|m| {
                at(
                    max.span().start,
                    &format!("[cache] max_size: {m}; write it like \"10 GiB\" or \"500MB\""),
                )
            })?;
        }
        Ok(c)
    }
}

/// The `[watch]` section of config.toml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WatchConfig {
    /// How long a file must stay unchanged before it is uploaded.
    pub settle: Duration,
    /// Transfers in flight at once.
    pub concurrency: usize,
    /// Attempts before a transient error fails a row for good (an unreachable provider's
    /// rows wait for it without using theirs up).
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles, up to `retry_max`, with jitter.
    pub retry_base: Duration,
    /// The longest delay between retries (and between probes of a provider that is down).
    pub retry_max: Duration,
    /// How long an idle run waits for a provider that is down before it stops with that
    /// provider's work still queued (`watch --exit-when-idle`; a passing outage is waited out).
    pub down_grace: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            settle: Duration::from_secs(2),
            concurrency: crate::transfer::DEFAULT_CONCURRENCY,
            max_attempts: 8,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            down_grace: Duration::from_secs(60),
        }
    }
}

/// `[watch]` as written in config.toml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWatch {
    settle: Option<Spanned<String>>,
    concurrency: Option<Spanned<usize>>,
    max_attempts: Option<Spanned<u32>>,
    retry_base: Option<Spanned<String>>,
    retry_max: Option<Spanned<String>>,
}

impl RawWatch {
    pub(crate) fn into_config(self, at: &dyn Fn(usize, &str) -> Error) -> Result<WatchConfig> {
        let mut c = WatchConfig::default();
        let duration = |v: &Spanned<String>, name: &str| {
            crate::units::parse_short_duration(v.get_ref()).map_err(|_| {
                at(
                    v.span().start,
                    &format!(
                        "[watch] {name} `{}` is not a duration; write it like \"2s\" or \"500ms\"",
                        v.get_ref()
                    ),
                )
            })
        };
        if let Some(v) = &self.settle {
            c.settle = duration(v, "settle")?;
        }
        if let Some(v) = &self.retry_base {
            c.retry_base = duration(v, "retry_base")?;
        }
        if let Some(v) = &self.retry_max {
            c.retry_max = duration(v, "retry_max")?;
        }
        if let Some(v) = self.concurrency {
            if *v.get_ref() == 0 || *v.get_ref() > 256 {
                return Err(at(
                    v.span().start,
                    "[watch] concurrency must be between 1 and 256",
                ));
            }
            c.concurrency = v.into_inner();
        }
        if let Some(v) = self.max_attempts {
            if *v.get_ref() == 0 {
                return Err(at(
                    v.span().start,
                    "[watch] max_attempts must be at least 1",
                ));
            }
            c.max_attempts = v.into_inner();
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths {
            config_dir: "/cfg".into(),
            data_dir: "/data".into(),
            cache_dir: "/cache".into(),
        }
    }

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/cfg/config.toml"), &paths())
    }

    #[test]
    fn no_file_gives_the_embedded_local_profile() {
        let c = Config::embedded("/cfg/config.toml".into(), &paths());
        let (p, why) = c.select(None, None).unwrap();
        assert_eq!(why, Selection::BuiltIn);
        assert_eq!(
            p.backend,
            Backend::Local(LocalProfile {
                root: "/data/store".into()
            })
        );
    }

    #[test]
    fn parses_profiles_and_selects_by_precedence() {
        let c = parse(
            r#"
default_profile = "lab"
[profiles.lab]
kind = "s3"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
path_style = true
part_size = 8388608
[profiles.team]
kind = "supabase"
url = "https://abcd.supabase.co"
[profiles.scratch]
kind = "local"
root = "scratch"
"#,
        )
        .unwrap();
        assert_eq!(c.profiles.len(), 4);
        assert_eq!(c.select(None, None).unwrap().0.name, "lab");
        assert_eq!(
            c.select(None, Some("team")).unwrap().1,
            Selection::Environment
        );
        assert_eq!(
            c.select(Some("local"), Some("team")).unwrap().0.name,
            "local"
        );
        match &c.profiles["scratch"].backend {
            Backend::Local(l) => assert_eq!(l.root, Path::new("/cfg/scratch")),
            other => panic!("{other:?}"),
        }
        let err = c.select(Some("nope"), None).unwrap_err().to_string();
        assert!(
            err.contains("no profile `nope`") && err.contains("`lab`"),
            "{err}"
        );
    }

    #[test]
    fn sync_section_defaults_names_profiles_and_refuses_unknown_keys() {
        let c = parse("[profiles.lab]\nkind = \"local\"\n").unwrap();
        assert_eq!(c.sync, SyncConfig::default());
        assert_eq!(c.sync.bucket, "ml-artifacts");
        let c = parse(
            "[profiles.lab]\nkind = \"local\"\n[sync]\nprimary = \"lab\"\nsecondary = \"local\"\nbucket = \"team-ml\"\n",
        )
        .unwrap();
        assert_eq!(c.sync.primary.as_deref(), Some("lab"));
        assert_eq!(c.sync.secondary.as_deref(), Some("local"));
        assert_eq!(c.sync.bucket, "team-ml");
        let err = parse("[sync]\nprimary = \"nope\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains(":2:11: [sync] names profile `nope`"), "{err}");
        let err = parse("[sync]\nbucket = \"x\"\nprimry = \"local\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `primry`"), "{err}");
        let err = parse("[sync]\naccess_key = \"hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("looks like a secret") && !err.contains("hunter2"),
            "{err}"
        );
        let err = parse("[sync]\nbucket = \"Not#Valid\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[sync] bucket"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_position() {
        let err = parse("[profiles.lab]\nkind = \"s3\"\nendpiont = \"http://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/cfg/config.toml:3:1: unknown field `endpiont`"),
            "{err}"
        );
        let err = parse("[profiles.lab]\nkind = \"local\"\nurl = \"http://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":3:7: `url` is not a setting of `local`"),
            "{err}"
        );
        let err = parse("[profiles.lab]\nkind = \"ftp\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains(":2:8:"), "{err}");
        let err = parse("default_profile = \"x\"\n").unwrap_err().to_string();
        assert!(
            err.contains(":1:19: default_profile `x` is not defined"),
            "{err}"
        );
    }

    #[test]
    fn prices_override_defaults_and_refuse_unknown_or_negative_fields() {
        let c = parse("[prices]\ns3_storage_gb_month = 0.0125\nsupabase_storage_included_gb = 8\n")
            .unwrap();
        assert_eq!(c.prices.s3_storage_gb_month, 0.0125);
        assert_eq!(c.prices.supabase_storage_included_gb, 8.0);
        assert_eq!(c.prices.s3_egress_gb, 0.09);
        assert_eq!(
            parse("").unwrap().prices,
            crate::cost::PriceTable::default()
        );
        let err = parse("[prices]\ns3_storage_gb_month = 0.02\ns3_storrage = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/cfg/config.toml:3:1: unknown field `s3_storrage`"),
            "{err}"
        );
        let err = parse("[prices]\ns3_egress_gb = -1.0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":2:16: `s3_egress_gb` must be a price in USD"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_refused_without_echoing_them() {
        for field in [
            "secret_access_key",
            "service_role_key",
            "key",
            "password",
            "token",
            "access_key_id",
            "anon-key",
        ] {
            let text = format!("[profiles.lab]\nkind = \"s3\"\n{field} = \"hunter2-value\"\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(&format!(":3:1: `{field}` looks like a secret")),
                "{err}"
            );
            assert!(err.contains("SUPABASE_SERVICE_ROLE_KEY"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        // Even in a syntax error the value is not quoted.
        let err = parse("[profiles.lab]\npassword = hunter2\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!looks_secret("aws_profile") && !looks_secret("max_object_size"));
    }
}
