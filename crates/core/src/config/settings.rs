//! The `[cache]` and `[watch]` sections.

use super::*;

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

/// How the connection to the team database is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// No TLS (a database on this machine or a private network).
    Disable,
    /// TLS, the server's certificate not checked (like libpq's `require`).
    #[default]
    Require,
    /// TLS, the certificate checked against the system's roots (or `ca_file`) and the host.
    VerifyFull,
}

/// The `[team]` section of config.toml: the team catalog's PostgreSQL database. The
/// password is never here: it lives in the OS keyring (`stowage login --team`) or comes
/// from STOWAGE_TEAM_DATABASE_URL / DATABASE_URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TeamConfig {
    /// The server's host name.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The database (Supabase: `postgres`).
    pub database: String,
    /// The role to connect as.
    pub user: String,
    /// TLS.
    pub tls: TlsMode,
    /// A CA certificate (PEM) to trust for `verify-full` (Supabase's, say).
    pub ca_file: Option<std::path::PathBuf>,
    /// This user's name in the team (default: the login name).
    pub member: Option<String>,
    /// The organization this member works in (rows are readable by its members).
    pub org: Option<String>,
    /// How often a running watch (or the window's auto-sync) pushes and pulls.
    pub every: Duration,
}

/// The default of `[team] every`.
pub const TEAM_EVERY: Duration = Duration::from_secs(30);

/// `[team]` as written in config.toml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTeam {
    host: Option<String>,
    port: Option<u16>,
    database: Option<String>,
    user: Option<String>,
    tls: Option<TlsMode>,
    ca_file: Option<std::path::PathBuf>,
    member: Option<String>,
    org: Option<String>,
    every: Option<Spanned<String>>,
}

impl RawTeam {
    pub(crate) fn into_config(
        self,
        base: &std::path::Path,
        at: &dyn Fn(usize, &str) -> Error,
    ) -> Result<TeamConfig> {
        let every = match &self.every {
            None => TEAM_EVERY,
            Some(v) => crate::units::parse_short_duration(v.get_ref())
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    at(
                        v.span().start,
                        &format!(
                            "[team] every `{}` is not a duration; write it like \"30s\" or \"5m\"",
                            v.get_ref()
                        ),
                    )
                })?,
        };
        Ok(TeamConfig {
            host: self.host.unwrap_or_else(|| "localhost".into()),
            port: self.port.unwrap_or(5432),
            database: self.database.unwrap_or_else(|| "postgres".into()),
            user: self.user.unwrap_or_else(|| "postgres".into()),
            tls: self.tls.unwrap_or_default(),
            ca_file: self.ca_file.map(|p| base.join(p)),
            member: self.member.filter(|m| !m.is_empty()),
            org: self.org.filter(|o| !o.is_empty()),
            every,
        })
    }
}
