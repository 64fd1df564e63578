//! Turning a profile into a live store. Secrets are looked up in this order: the profile's
//! entries in the OS keyring (`stowage login --profile P` puts them there), then the
//! environment (for S3 the AWS credential chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
//! `~/.aws/credentials`, `AWS_PROFILE`, SSO; for Supabase `SUPABASE_SERVICE_ROLE_KEY`, then
//! `SUPABASE_ANON_KEY`). They are handed straight to the backend: never stored elsewhere,
//! logged or formatted into an error.

use std::sync::Arc;

use serde::Serialize;
use stowage_store::local::LocalStore;
use stowage_store::s3::{S3Config, S3Credentials, S3Store};
use stowage_store::supabase::{SupabaseConfig, SupabaseStore};
use stowage_store::{ErrorKind, Store};

use crate::config::{Backend, Profile, S3Profile, SupabaseProfile};
use crate::credentials::CredentialHints;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::secrets::{Field, Keyring, KeyringKind, Secret, KEYRING_VAR};

/// Open the store a profile describes, with its secrets from the keyring, else the
/// environment: S3 through the AWS credential chain, Supabase through `SUPABASE_URL` and
/// `SUPABASE_SERVICE_ROLE_KEY` (or `SUPABASE_ANON_KEY`).
pub async fn open_store(profile: &Profile, paths: &Paths) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = match &profile.backend {
        Backend::Local(l) => Arc::new(LocalStore::new(&l.root)?),
        Backend::S3(s) => {
            let keyring = read_keyring()?;
            let (credentials, from) = s3_keyring_credentials(&profile.name, keyring.as_ref())?;
            let mut config = s3_config(s, paths);
            config.credentials = credentials;
            let store = Arc::new(S3Store::new(config).await?);
            Arc::new(CredentialHints::with_keyring(store, profile, from))
        }
        Backend::Supabase(s) => {
            let keyring = read_keyring()?;
            let (store, from) = open_supabase(&profile.name, s, paths, keyring.as_ref())?;
            Arc::new(CredentialHints::with_keyring(store, profile, from))
        }
    };
    Ok(stowage_store::org::OrgScoped::scope(
        store,
        profile.org.as_deref(),
    )?)
}

/// The keyring to read secrets from. With `STOWAGE_KEYRING` set, that keyring must answer;
/// otherwise an unreachable keyring just means the secrets come from the environment.
fn read_keyring() -> Result<Option<Keyring>> {
    let explicit = env(KEYRING_VAR).is_some();
    match Keyring::open() {
        Ok(k) => Ok(Some(k)),
        Err(e) if explicit => Err(e),
        Err(_) => Ok(None),
    }
}

/// A keyring lookup that treats a failing keyring like an empty one, unless it was chosen
/// explicitly with `STOWAGE_KEYRING`.
fn lookup(keyring: Option<&Keyring>, profile: &str, field: Field) -> Result<Option<Secret>> {
    let Some(k) = keyring else {
        return Ok(None);
    };
    match k.get(profile, field) {
        Ok(v) => Ok(v),
        Err(e) if env(KEYRING_VAR).is_some() => Err(e),
        Err(_) => Ok(None),
    }
}

/// S3 credentials from the keyring: both the access key id and the secret, or neither (the
/// AWS chain then applies).
fn s3_keyring_credentials(
    profile: &str,
    keyring: Option<&Keyring>,
) -> Result<(Option<S3Credentials>, Option<KeyringKind>)> {
    let id = lookup(keyring, profile, Field::AccessKeyId)?;
    let secret = lookup(keyring, profile, Field::SecretAccessKey)?;
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((
            Some(S3Credentials {
                access_key_id: id.expose().to_string(),
                secret_access_key: secret.expose().to_string(),
                session_token: None,
            }),
            keyring.map(Keyring::kind),
        )),
        (None, None) => Ok((None, None)),
        (id, _) => {
            let (has, lacks) = if id.is_some() {
                (Field::AccessKeyId, Field::SecretAccessKey)
            } else {
                (Field::SecretAccessKey, Field::AccessKeyId)
            };
            Err(Error::Config(format!(
                "profile `{profile}` has an {} in the keyring but no {}; run `stowage login \
                 --profile {profile}` to store both",
                has.label(),
                lacks.label()
            )))
        }
    }
}

fn s3_config(s: &S3Profile, paths: &Paths) -> S3Config {
    let defaults = S3Config::default();
    S3Config {
        endpoint: s.endpoint.clone(),
        region: s.region.clone(),
        force_path_style: s.path_style,
        // The AWS chain (environment, ~/.aws, SSO, process credentials) unless the keyring
        // supplies them.
        credentials: None,
        aws_profile: s.aws_profile.clone().or_else(|| env("AWS_PROFILE")),
        resume_dir: Some(paths.resume_dir().join("s3")),
        max_object_size: s.max_object_size,
        multipart_threshold: defaults.multipart_threshold,
        part_size: s.part_size.unwrap_or(defaults.part_size),
        concurrency: s.concurrency.unwrap_or(defaults.concurrency),
        // How long a request may go without a byte moving: `STOWAGE_READ_TIMEOUT_SECS` (the
        // same knob as Supabase's read timeout), else the profile's `read_timeout`, else the
        // store's default (30 s).
        stall_timeout: env(STALL_VAR)
            .and_then(|v| v.parse::<u64>().ok().filter(|&s| s > 0))
            .or(s.read_timeout)
            .map(std::time::Duration::from_secs)
            .unwrap_or(defaults.stall_timeout),
    }
}

/// Overrides how long an S3 request may stall before it fails as unavailable (seconds).
const STALL_VAR: &str = "STOWAGE_READ_TIMEOUT_SECS";

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn missing(profile: &str, what: &str, var: &str) -> stowage_store::Error {
    stowage_store::Error::new(
        ErrorKind::Unauthorized,
        "supabase",
        format!("profile `{profile}` has no {what}"),
    )
    .hint(format!(
        "run `stowage login --profile {profile}` to store it in the keyring, or set {var} in \
         the environment"
    ))
}

fn open_supabase(
    profile: &str,
    s: &SupabaseProfile,
    paths: &Paths,
    keyring: Option<&Keyring>,
) -> Result<(Arc<dyn Store>, Option<KeyringKind>)> {
    let url = match s.url.clone().or_else(|| env("SUPABASE_URL")) {
        Some(u) => u,
        None => {
            // A setting that is missing, not a credential: a configuration error (exit 2).
            return Err(Error::Config(format!(
                "supabase profile `{profile}` has no project URL. Next: set `url = \
                 \"https://<ref>.supabase.co\"` in its section of config.toml (or add it with \
                 `stowage profile add {profile} --kind supabase --url URL`), or set SUPABASE_URL \
                 in the environment"
            )));
        }
    };
    let from_keyring = match lookup(keyring, profile, Field::ServiceRoleKey)? {
        Some(k) => Some(k),
        None => lookup(keyring, profile, Field::AnonKey)?,
    };
    let (key, from) = match from_keyring {
        Some(k) => (k, keyring.map(Keyring::kind)),
        None => (
            env("SUPABASE_SERVICE_ROLE_KEY")
                .or_else(|| env("SUPABASE_ANON_KEY"))
                .map(Secret::new)
                .ok_or_else(|| {
                    missing(
                        profile,
                        "API key",
                        "SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY)",
                    )
                })?,
            None,
        ),
    };
    let store = SupabaseStore::new(SupabaseConfig {
        url,
        key: key.expose().to_string(),
        resume_dir: Some(paths.resume_dir().join("supabase")),
        max_object_size: s.max_object_size,
    })
    .map_err(|e| {
        // The backend's hints speak of a profile `key` setting; keys come from the keyring
        // or the environment.
        if e.kind == ErrorKind::Unauthorized {
            let hint = match from {
                Some(_) => format!(
                    "the key stored in the keyring for profile `{profile}` is not usable: run \
                     `stowage login --profile {profile}` with the key copied again from the \
                     project's API settings"
                ),
                None => "check SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY): copy the key \
                         again from the project's API settings"
                    .to_string(),
            };
            e.hint(hint)
        } else {
            e
        }
    })?;
    Ok((Arc::new(store), from))
}

/// Where one credential of a profile comes from: a place, never a value.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct FieldSource {
    /// The field: `access_key_id`, `secret_access_key`, `service_role_key`, `anon_key`, `url`
    /// or `credentials` (the AWS chain as a whole).
    pub field: String,
    /// `keyring`, `environment`, `aws_profile`, `aws_chain`, `profile` or `missing`.
    pub origin: String,
    /// In words: "set in the Secret Service keyring", "from SUPABASE_SERVICE_ROLE_KEY".
    pub detail: String,
}

/// Where all of a profile's credentials come from, for `profile ls` and `profile show`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct CredentialReport {
    /// The keyring consulted (`secret-service`, `keyutils`, `native`), if one answered.
    pub keyring: Option<String>,
    /// Why no keyring was consulted, when none answered (no values in it).
    pub keyring_problem: Option<String>,
    /// One line per credential.
    pub fields: Vec<FieldSource>,
    /// One line for all of them.
    pub summary: String,
}

fn source(field: &str, origin: &str, detail: impl Into<String>) -> FieldSource {
    FieldSource {
        field: field.to_string(),
        origin: origin.to_string(),
        detail: detail.into(),
    }
}

/// Where a profile's credentials come from, in the order [`open_store`] looks: names the
/// keyring, variables and files, never values.
pub fn credential_report(profile: &Profile) -> CredentialReport {
    if let Backend::Local(_) = profile.backend {
        return CredentialReport {
            keyring: None,
            keyring_problem: None,
            fields: Vec::new(),
            summary: "none needed".into(),
        };
    }
    let (keyring, keyring_problem) = match Keyring::open() {
        Ok(k) => (Some(k), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let in_keyring = |field: Field| -> Option<String> {
        let k = keyring.as_ref()?;
        match k.get(&profile.name, field) {
            Ok(Some(_)) => Some(format!("set in {}", k.kind().describe())),
            _ => None,
        }
    };
    let set = |v: &str| env(v).is_some();
    let mut fields = Vec::new();
    let summary = match &profile.backend {
        Backend::Local(_) => unreachable!("handled above"),
        Backend::S3(s) => {
            let id = in_keyring(Field::AccessKeyId);
            let secret = in_keyring(Field::SecretAccessKey);
            if let (Some(id), Some(secret)) = (&id, &secret) {
                fields.push(source("access_key_id", "keyring", id.clone()));
                fields.push(source("secret_access_key", "keyring", secret.clone()));
                format!("access key id and secret access key {secret}")
            } else {
                for (f, d) in [(Field::AccessKeyId, &id), (Field::SecretAccessKey, &secret)] {
                    if let Some(d) = d {
                        fields.push(source(
                            f.name(),
                            "keyring",
                            format!("{d}, but not its pair: run `stowage login` again"),
                        ));
                    }
                }
                if set("AWS_ACCESS_KEY_ID") {
                    fields.push(source(
                        "access_key_id",
                        "environment",
                        "from AWS_ACCESS_KEY_ID",
                    ));
                    fields.push(source(
                        "secret_access_key",
                        if set("AWS_SECRET_ACCESS_KEY") {
                            "environment"
                        } else {
                            "missing"
                        },
                        if set("AWS_SECRET_ACCESS_KEY") {
                            "from AWS_SECRET_ACCESS_KEY"
                        } else {
                            "not set: AWS_SECRET_ACCESS_KEY is missing"
                        },
                    ));
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment".to_string()
                } else if let Some(p) = s.aws_profile.clone().or_else(|| env("AWS_PROFILE")) {
                    let d = format!("AWS profile `{p}` (~/.aws/credentials, ~/.aws/config)");
                    fields.push(source("credentials", "aws_profile", d.clone()));
                    d
                } else {
                    let d = "AWS credential chain (~/.aws, AWS_PROFILE, SSO)";
                    fields.push(source("credentials", "aws_chain", d));
                    d.to_string()
                }
            }
        }
        Backend::Supabase(s) => {
            let url = if s.url.is_some() {
                fields.push(source("url", "profile", "from the profile"));
                "url from the profile"
            } else if set("SUPABASE_URL") {
                fields.push(source("url", "environment", "from SUPABASE_URL"));
                "SUPABASE_URL from the environment"
            } else {
                fields.push(source(
                    "url",
                    "missing",
                    "not set: add `url` or set SUPABASE_URL",
                ));
                "no URL: set SUPABASE_URL"
            };
            let key = if let Some(d) = in_keyring(Field::ServiceRoleKey) {
                fields.push(source("service_role_key", "keyring", d.clone()));
                format!("service-role key {d}")
            } else if let Some(d) = in_keyring(Field::AnonKey) {
                fields.push(source("anon_key", "keyring", d.clone()));
                format!("anon key {d}")
            } else if set("SUPABASE_SERVICE_ROLE_KEY") {
                fields.push(source(
                    "service_role_key",
                    "environment",
                    "from SUPABASE_SERVICE_ROLE_KEY",
                ));
                "SUPABASE_SERVICE_ROLE_KEY from the environment".to_string()
            } else if set("SUPABASE_ANON_KEY") {
                fields.push(source("anon_key", "environment", "from SUPABASE_ANON_KEY"));
                "SUPABASE_ANON_KEY from the environment".to_string()
            } else {
                fields.push(source(
                    "service_role_key",
                    "missing",
                    format!(
                        "not set: run `stowage login --profile {}` or set \
                         SUPABASE_SERVICE_ROLE_KEY",
                        profile.name
                    ),
                ));
                format!(
                    "no key: run `stowage login --profile {}` or set SUPABASE_SERVICE_ROLE_KEY",
                    profile.name
                )
            };
            format!("{url}; {key}")
        }
    };
    CredentialReport {
        keyring: keyring.map(|k| k.kind().name().to_string()),
        keyring_problem,
        fields,
        summary,
    }
}

/// Where a profile's credentials come from, in one line: names the keyring, variables and
/// files, never values.
pub fn credential_source(profile: &Profile) -> String {
    credential_report(profile).summary
}

// Its one test needs the kernel keyring.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// With both S3 fields in a real keyring they become the store's explicit credentials;
    /// with only one, opening fails naming `stowage login`; with none, the AWS chain applies.
    #[cfg(target_os = "linux")]
    #[test]
    fn s3_credentials_come_from_the_keyring_whole_or_not_at_all() {
        let kr = Keyring::open_with(Some("keyutils")).unwrap_or_else(|e| {
            panic!(
                "the kernel keyring is not reachable ({e}); run the tests inside it: `source \
                 scripts/lib/keyring.sh; with_keyrings cargo test -p stowage-core --lib open`"
            )
        });
        let profile = format!("open-unit-{}", std::process::id());
        let (none, from) = s3_keyring_credentials(&profile, Some(&kr)).unwrap();
        assert!(none.is_none() && from.is_none());
        kr.set(&profile, Field::AccessKeyId, &Secret::new("AKUNIT"))
            .unwrap();
        let err = s3_keyring_credentials(&profile, Some(&kr))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no secret access key")
                && err.contains(&format!("stowage login --profile {profile}")),
            "{err}"
        );
        let planted = format!("PLANTED-SECRET-open-{}", std::process::id());
        kr.set(&profile, Field::SecretAccessKey, &Secret::new(&planted))
            .unwrap();
        let (creds, from) = s3_keyring_credentials(&profile, Some(&kr)).unwrap();
        let creds = creds.expect("credentials from the keyring");
        assert_eq!(creds.access_key_id, "AKUNIT");
        assert_eq!(creds.secret_access_key, planted);
        assert_eq!(from, Some(KeyringKind::Keyutils));
        assert!(!format!("{creds:?}").contains(&planted));
        kr.delete(&profile, Field::AccessKeyId).unwrap();
        kr.delete(&profile, Field::SecretAccessKey).unwrap();
        // No keyring at all: the chain.
        let (none, _) = s3_keyring_credentials(&profile, None).unwrap();
        assert!(none.is_none());
    }
}
