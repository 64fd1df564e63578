//! Turning a profile into a live store. Secrets are read from the environment here and handed
//! straight to the backend; they are never stored, logged or formatted into an error.

use std::sync::Arc;

use stowage_store::local::LocalStore;
use stowage_store::s3::{S3Config, S3Store};
use stowage_store::supabase::{SupabaseConfig, SupabaseStore};
use stowage_store::{ErrorKind, Store};

use crate::config::{Backend, Profile, S3Profile, SupabaseProfile};
use crate::credentials::CredentialHints;
use crate::error::Result;
use crate::paths::Paths;

/// Open the store a profile describes, with secrets from the environment: S3 through the AWS
/// credential chain, Supabase through `SUPABASE_URL` and `SUPABASE_SERVICE_ROLE_KEY` (or
/// `SUPABASE_ANON_KEY`).
pub async fn open_store(profile: &Profile, paths: &Paths) -> Result<Arc<dyn Store>> {
    Ok(match &profile.backend {
        Backend::Local(l) => Arc::new(LocalStore::new(&l.root)?),
        Backend::S3(s) => {
            let store = Arc::new(S3Store::new(s3_config(s, paths)).await?);
            Arc::new(CredentialHints::new(store, profile))
        }
        Backend::Supabase(s) => {
            let store = open_supabase(&profile.name, s, paths)?;
            Arc::new(CredentialHints::new(store, profile))
        }
    })
}

fn s3_config(s: &S3Profile, paths: &Paths) -> S3Config {
    let defaults = S3Config::default();
    S3Config {
        endpoint: s.endpoint.clone(),
        region: s.region.clone(),
        force_path_style: s.path_style,
        // The AWS chain: environment, ~/.aws, SSO, process credentials.
        credentials: None,
        aws_profile: s.aws_profile.clone().or_else(|| env("AWS_PROFILE")),
        resume_dir: Some(paths.resume_dir().join("s3")),
        max_object_size: s.max_object_size,
        multipart_threshold: defaults.multipart_threshold,
        part_size: s.part_size.unwrap_or(defaults.part_size),
        concurrency: s.concurrency.unwrap_or(defaults.concurrency),
    }
}

fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

fn missing(profile: &str, what: &str, var: &str) -> stowage_store::Error {
    stowage_store::Error::new(
        ErrorKind::Unauthorized,
        "supabase",
        format!("profile `{profile}` has no {what}"),
    )
    .hint(format!("set {var} in the environment"))
}

fn open_supabase(profile: &str, s: &SupabaseProfile, paths: &Paths) -> Result<Arc<dyn Store>> {
    let url = match s.url.clone().or_else(|| env("SUPABASE_URL")) {
        Some(u) => u,
        None => {
            return Err(missing(
                profile,
                "project URL",
                "SUPABASE_URL (or `url` in the profile)",
            )
            .into())
        }
    };
    let key = env("SUPABASE_SERVICE_ROLE_KEY")
        .or_else(|| env("SUPABASE_ANON_KEY"))
        .ok_or_else(|| {
            missing(
                profile,
                "API key",
                "SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY)",
            )
        })?;
    let store = SupabaseStore::new(SupabaseConfig {
        url,
        key,
        resume_dir: Some(paths.resume_dir().join("supabase")),
        max_object_size: s.max_object_size,
    })
    .map_err(|e| {
        // The backend's hints speak of a profile `key` setting; keys come from the environment.
        if e.kind == ErrorKind::Unauthorized {
            e.hint("check SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_ANON_KEY): copy the key again from the project's API settings")
        } else {
            e
        }
    })?;
    Ok(Arc::new(store))
}

/// Where a profile's credentials come from, for display: names variables and files, never
/// values.
pub fn credential_source(profile: &Profile) -> String {
    let set = |v: &str| env(v).is_some();
    match &profile.backend {
        Backend::Local(_) => "none needed".into(),
        Backend::S3(s) => {
            if set("AWS_ACCESS_KEY_ID") {
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment".into()
            } else if let Some(p) = s.aws_profile.clone().or_else(|| env("AWS_PROFILE")) {
                format!("AWS profile `{p}` (~/.aws)")
            } else {
                "AWS credential chain (~/.aws, AWS_PROFILE, SSO)".into()
            }
        }
        Backend::Supabase(s) => {
            let url = if s.url.is_some() {
                "url from the profile"
            } else if set("SUPABASE_URL") {
                "SUPABASE_URL from the environment"
            } else {
                "no URL: set SUPABASE_URL"
            };
            let key = if set("SUPABASE_SERVICE_ROLE_KEY") {
                "SUPABASE_SERVICE_ROLE_KEY from the environment"
            } else if set("SUPABASE_ANON_KEY") {
                "SUPABASE_ANON_KEY from the environment"
            } else {
                "no key: set SUPABASE_SERVICE_ROLE_KEY"
            };
            format!("{url}; {key}")
        }
    }
}
