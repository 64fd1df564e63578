//! Profiles and providers: the profile list, a connection test, migrate between profiles,
//! verify the catalog against the providers, and the download cache.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{items, App, AppError, AppResult, Item};
use crate::cache::{Cache, CacheEntry, CleanScope, Cleaned};
use crate::config::ProfileSource;
use crate::migrate::{self, Endpoint, MigrateOptions, MigrateOutcome, VerifyReport};
use crate::sync::PolicyChange;
use crate::{transfer, Config, Profile, Selection};

/// One profile as listed.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ProfileEntry {
    /// Its settings (no secrets: those live in the keyring or the environment).
    #[serde(flatten)]
    pub profile: Profile,
    /// Where its credentials come from.
    pub credentials: String,
    /// Whether it is the one commands use now.
    pub selected: bool,
    /// Where it is defined: `built in`, or the config file.
    pub defined_in: String,
}

/// `profile ls`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ProfileList {
    /// The config file.
    pub config_file: PathBuf,
    /// Whether it exists (else only the built-in profile is there).
    pub config_file_exists: bool,
    /// The profile commands use now.
    pub selected: Option<String>,
    /// Why it was selected.
    pub selected_by: Option<Selection>,
    /// Why none could be selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_error: Option<String>,
    /// Every profile.
    pub profiles: Vec<ProfileEntry>,
    /// Where `sync`, `watch` and the window's auto-sync upload: `[sync]` primary (None: the
    /// selected profile) and secondary (None: no second copy).
    pub sync_primary: Option<String>,
    /// The second copy's profile.
    pub sync_secondary: Option<String>,
}

/// A profile's connection test.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ConnectionTest {
    /// The profile.
    pub profile: String,
    /// Its kind.
    pub kind: String,
    /// Whether its store answered a bucket listing.
    pub ok: bool,
    /// Buckets it listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<usize>,
    /// How long the listing took, in milliseconds.
    #[ts(type = "number")]
    pub millis: u64,
    /// Where its credentials come from.
    pub credentials: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AppError>,
}

/// `migrate --from P --to Q`.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct MigrateRequest {
    /// The profile to copy from.
    pub from: String,
    /// The profile to copy to.
    pub to: String,
    /// Only this source bucket.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The target bucket [default: the source bucket's name].
    #[serde(default)]
    pub to_bucket: Option<String>,
    /// Only keys matching this glob.
    #[serde(default)]
    pub filter: Option<String>,
    /// Every object in the source bucket, not only what the catalog records there.
    #[serde(default)]
    pub all_objects: bool,
    /// Delete each source object once its copy is verified.
    #[serde(default)]
    pub delete_source: bool,
    /// Objects in flight at once.
    pub concurrency: usize,
    /// Plan and check, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Totals of a migration.
#[derive(Clone, Debug, Default, Serialize, TS)]
pub struct MigrateSummary {
    /// Objects copied.
    pub copied: usize,
    /// Objects already on the target.
    pub skipped: usize,
    /// Objects a dry run would copy.
    pub planned: usize,
    /// Objects that failed.
    pub failed: usize,
    /// Source objects deleted after their copy was verified.
    pub source_deleted: usize,
    /// Bytes that crossed the network through Stowage.
    #[ts(type = "number")]
    pub bytes_moved: u64,
}

/// What `migrate` did, one item per object.
#[derive(Debug, Serialize, TS)]
pub struct MigrateResult {
    /// Each object.
    pub migrated: Vec<Item<MigrateOutcome>>,
    /// The totals.
    pub summary: MigrateSummary,
    /// Whether this was only planned.
    pub dry_run: bool,
}

impl MigrateResult {
    /// How the action ended.
    pub fn failure(&self) -> Option<AppError> {
        super::batch_failure(&self.migrated)
    }
}

/// What `verify` found.
#[derive(Clone, Debug, Serialize, TS)]
pub struct VerifyResult {
    /// The catalog against the providers.
    #[serde(flatten)]
    pub report: VerifyReport,
    /// Files stored by a rule the policy no longer gives.
    pub policy_changes: Vec<PolicyChange>,
    /// Whether repairs were asked for.
    #[serde(skip)]
    pub fix: bool,
}

impl VerifyResult {
    /// How the action ended: problems left standing (extra objects fail a check, not a
    /// fix), and policy changes not yet synced.
    pub fn failure(&self) -> Option<AppError> {
        let (report, changes) = (&self.report, self.policy_changes.len());
        let unresolved = report
            .problems
            .iter()
            .filter(|p| !p.fixed && (!self.fix || p.kind != "extra"))
            .count()
            + changes;
        if unresolved == 0 {
            return None;
        }
        let hint = if unresolved == changes {
            "run `stowage sync` on the listed folders to store the files by the current policy"
        } else if self.fix {
            "repair the listed objects by hand, or restore them from another machine"
        } else {
            "run `stowage verify --fix` to re-copy missing and different objects"
        };
        Some(AppError::from(
            stowage_store::Error::new(
                stowage_store::ErrorKind::Integrity,
                "stowage",
                format!(
                    "{unresolved} of {} checks found a problem",
                    report.checked.max(unresolved)
                ),
            )
            .hint(hint),
        ))
    }
}

/// `cache ls`.
#[derive(Clone, Debug, Serialize, TS)]
pub struct CacheList {
    /// The cache folder.
    pub dir: PathBuf,
    /// Every entry.
    pub entries: Vec<CacheEntry>,
    /// Bytes held.
    #[ts(type = "number")]
    pub total: u64,
    /// The cap.
    #[ts(type = "number")]
    pub max_size: u64,
    /// How long an entry serves reads.
    #[ts(type = "number")]
    pub ttl_secs: u64,
}

impl App {
    /// `profile ls`: every profile, which one is selected and why.
    pub fn profiles(&self) -> AppResult<ProfileList> {
        let config = self.config()?;
        let selected = self.selected(&config);
        let (sel_name, sel_why) = match &selected {
            Ok((p, why)) => (Some(p.name.clone()), Some(*why)),
            Err(_) => (None, None),
        };
        let profiles = config
            .profiles
            .values()
            .map(|p| ProfileEntry {
                credentials: crate::credential_source(p),
                selected: sel_name.as_deref() == Some(&p.name),
                defined_in: match p.source {
                    ProfileSource::Embedded => "built in".to_string(),
                    ProfileSource::ConfigFile => config.file.display().to_string(),
                },
                profile: p.clone(),
            })
            .collect();
        Ok(ProfileList {
            config_file: config.file.clone(),
            config_file_exists: config.file_exists,
            selected: sel_name,
            selected_by: sel_why,
            selection_error: selected.err().map(|e| e.message),
            profiles,
            sync_primary: config.sync.primary.clone(),
            sync_secondary: config.sync.secondary.clone(),
        })
    }

    /// Settings' "Sync uploads to": the `[sync]` primary and secondary profiles (None: the
    /// selected profile; no second copy). The next sync, and the window's watcher once
    /// restarted, use them.
    pub fn set_sync_profiles(
        &self,
        primary: Option<&str>,
        secondary: Option<&str>,
    ) -> AppResult<ProfileList> {
        crate::config::set_sync_profiles(&self.paths, primary, secondary)?;
        self.profiles()
    }

    /// Open `name`'s store and list its buckets: does the profile work?
    pub async fn test_profile(&self, name: &str) -> AppResult<ConnectionTest> {
        let config = self.config()?;
        let (profile, _) = config.select(Some(name), None)?;
        let start = std::time::Instant::now();
        let listed = async {
            let store = crate::open_store(profile, &self.paths).await?;
            transfer::list_buckets(&*store).await
        }
        .await;
        Ok(ConnectionTest {
            profile: profile.name.clone(),
            kind: profile.backend.kind().to_string(),
            ok: listed.is_ok(),
            buckets: listed.as_ref().ok().map(Vec::len),
            millis: start.elapsed().as_millis() as u64,
            credentials: crate::credential_source(profile),
            error: listed.err().map(AppError::from),
        })
    }

    /// The endpoint (profile and store) called `name`.
    async fn endpoint(&self, config: &Config, name: &str) -> AppResult<Endpoint> {
        let Some(p) = config.profiles.get(name) else {
            let names = config
                .profiles
                .keys()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(crate::Error::Config(format!(
                "no profile `{name}`; known profiles: {names}. Define it in config.toml or \
                 pick one listed by `stowage profile ls`"
            ))
            .into());
        };
        Ok(Endpoint::new(p, self.store(p).await?))
    }

    /// Where streamed copies are staged (kept between runs so uploads resume).
    fn staging_dir(&self) -> PathBuf {
        self.paths.data_dir.join("migrate")
    }

    /// `migrate --from P --to Q`: copy (server-side where one server holds both) what the
    /// catalog records on P, verify each copy and record it.
    pub async fn migrate(&self, r: MigrateRequest) -> AppResult<MigrateResult> {
        self.run("migrate", |op| async move {
            let config = self.config()?;
            let catalog = self.catalog(r.dry_run)?;
            if r.concurrency == 0 {
                return Err(AppError::usage("--concurrency must be at least 1"));
            }
            let from = self.endpoint(&config, &r.from).await?;
            let to = self.endpoint(&config, &r.to).await?;
            if r.all_objects && r.bucket.is_none() {
                // Every bucket on a server is rarely what is meant: ask which.
                let names = transfer::list_buckets(&*from.store)
                    .await?
                    .into_iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>();
                return Err(AppError::usage(format!(
                    "--all-objects copies every object of a bucket: name it with --bucket B \
                     (buckets on `{}`: {})",
                    from.profile,
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            let options = MigrateOptions {
                bucket: r.bucket.clone(),
                to_bucket: r.to_bucket.clone(),
                filter: r.filter.clone(),
                all_objects: r.all_objects,
                dry_run: r.dry_run,
                delete_source: r.delete_source,
                concurrency: r.concurrency,
                staging_dir: self.staging_dir(),
            };
            let planned = migrate::plan(&catalog, &from, &options).await?;
            let tracked = planned
                .iter()
                .enumerate()
                .map(|(i, m)| crate::events::Tracked {
                    id: i as i64,
                    path: PathBuf::from(&m.key),
                    profile: to.profile.clone(),
                    bucket: m.to_bucket.clone(),
                    key: m.key.clone(),
                    size: m.size.unwrap_or(0),
                })
                .collect();
            let results = if planned.is_empty() {
                Vec::new()
            } else {
                migrate::run(
                    &catalog,
                    &from,
                    &to,
                    &planned,
                    &options,
                    op.progress(tracked),
                )
                .await?
            };
            let ok = || results.iter().flatten();
            let count = |action: &str| ok().filter(|o| o.action == action).count();
            let summary = MigrateSummary {
                copied: count("copied"),
                skipped: count("skipped"),
                planned: count("planned"),
                failed: results.iter().filter(|r| r.is_err()).count(),
                source_deleted: ok().filter(|o| o.source_deleted).count(),
                bytes_moved: ok().map(|o| o.bytes_moved).sum(),
            };
            Ok(MigrateResult {
                migrated: items(results),
                summary,
                dry_run: r.dry_run,
            })
        })
        .await
    }

    /// `verify [--fix]`: compare every catalogued location (on the chosen profile only, when
    /// one was chosen) with its provider; with `fix`, re-copy missing and different objects
    /// from a copy that verifies. Also lists files stored by a rule the policy no longer
    /// gives.
    pub async fn verify(&self, fix: bool, dry_run: bool) -> AppResult<VerifyResult> {
        self.run("verify", |_op| async move {
            let config = self.config()?;
            let catalog = self.catalog(dry_run || !fix)?;
            let mut endpoints = HashMap::new();
            for name in config.profiles.keys() {
                if let Ok(e) = self.endpoint(&config, name).await {
                    endpoints.insert(name.clone(), e);
                }
            }
            let profiles: Vec<String> = self.profile.iter().cloned().collect();
            let report = migrate::verify(
                &catalog,
                &endpoints,
                &profiles,
                fix,
                dry_run,
                &self.staging_dir(),
            )
            .await?;
            let policy = self.policy()?;
            Ok(VerifyResult {
                report,
                policy_changes: crate::sync::policy_changes(&catalog, &policy)?,
                fix,
            })
        })
        .await
    }

    /// `cache ls`.
    pub fn cache(&self) -> AppResult<CacheList> {
        let config = self.config()?;
        let cache = Cache::open(&self.paths, &config.cache)?;
        let entries = cache.entries()?;
        Ok(CacheList {
            dir: cache.dir().to_path_buf(),
            total: entries.iter().map(|e| e.size).sum(),
            entries,
            max_size: cache.config().max_size,
            ttl_secs: cache.config().ttl.as_secs(),
        })
    }

    /// `cache clean`: expired entries and the least recently used beyond the cap (or all,
    /// or only the expired).
    pub fn cache_clean(&self, scope: CleanScope, dry_run: bool) -> AppResult<Cleaned> {
        let config = self.config()?;
        let cache = Cache::open(&self.paths, &config.cache)?;
        Ok(cache.clean(scope, dry_run)?)
    }
}

/// `profile add NAME --kind …`: the settings of a new profile (no secrets).
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct AddProfileRequest {
    /// Its name: letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The provider kind: `local`, `s3` or `supabase`.
    pub kind: String,
    /// Local: the folder holding one directory per bucket.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// S3: the endpoint URL (omit for AWS).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3: the region.
    #[serde(default)]
    pub region: Option<String>,
    /// S3: path-style addressing.
    #[serde(default)]
    pub path_style: bool,
    /// S3: a profile of `~/.aws/config` to take credentials from.
    #[serde(default)]
    pub aws_profile: Option<String>,
    /// Supabase: the project URL.
    #[serde(default)]
    pub url: Option<String>,
    /// S3 and Supabase: refuse uploads above this many bytes.
    #[serde(default)]
    #[ts(type = "number | null")]
    pub max_object_size: Option<u64>,
    /// Bind the profile to an organization.
    #[serde(default)]
    pub org: Option<String>,
    /// Also make it the default profile.
    #[serde(default)]
    pub make_default: bool,
    /// Replace the profile of that name (editing it; its keyring entries stay).
    #[serde(default)]
    pub replace: bool,
    /// Check and report, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A profile added to config.toml.
#[derive(Clone, Debug, Serialize, TS)]
pub struct AddedProfile {
    /// Its settings.
    #[serde(flatten)]
    pub profile: Profile,
    /// The config file written.
    pub config_file: PathBuf,
    /// Whether it became the default profile.
    pub default: bool,
    /// Whether it needs `login` before it works (its kind keeps secrets in the keyring).
    pub needs_login: bool,
    /// Whether this was only planned.
    pub dry_run: bool,
}

/// One profile's settings and where each credential comes from (never a value).
#[derive(Clone, Debug, Serialize, TS)]
pub struct ProfileDetail {
    /// Its settings.
    #[serde(flatten)]
    pub profile: Profile,
    /// The config file.
    pub config_file: PathBuf,
    /// Where it is defined: `built in`, or the config file.
    pub defined_in: String,
    /// Why it was selected, when no name was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_by: Option<Selection>,
    /// Where each credential comes from.
    pub credentials: crate::open::CredentialReport,
}

/// A profile removed, with its keyring entries.
#[derive(Clone, Debug, Serialize, TS)]
pub struct ProfileRemoved {
    /// What was removed.
    #[serde(flatten)]
    pub removed: crate::secrets::RemovedProfileAndSecrets,
    /// The config file.
    pub config_file: PathBuf,
}

/// A credential field as a form asks for it.
#[derive(Clone, Debug, Serialize, TS)]
pub struct SecretFieldInfo {
    /// The field.
    pub field: crate::secrets::Field,
    /// Words for the form: `secret access key`.
    pub label: String,
    /// Whether its value is shown masked (the access key id is not).
    pub secret: bool,
    /// The environment variable that supplies it when the keyring has none.
    pub env_var: String,
}

/// A credential typed into the window: it goes to the OS keyring and never comes back.
#[derive(Deserialize, TS)]
pub struct SecretValue {
    /// Which field.
    pub field: crate::secrets::Field,
    /// The value.
    #[ts(type = "string")]
    pub value: crate::secrets::Secret,
}

/// The window's "Save profile": settings for config.toml, secrets for the keyring.
#[derive(Deserialize, TS)]
pub struct SaveProfileRequest {
    /// The profile's settings.
    pub profile: AddProfileRequest,
    /// Its secrets; none keeps what the keyring holds.
    #[serde(default)]
    pub secrets: Vec<SecretValue>,
}

/// A profile saved, and where its secrets went (never their values).
#[derive(Clone, Debug, Serialize, TS)]
pub struct SavedProfile {
    /// The profile as written.
    pub added: AddedProfile,
    /// The keyring entries written, when secrets were given.
    pub secrets: Option<crate::secrets::StoredSecrets>,
}

/// What `login` asks for: the profile and its secret fields, in order.
#[derive(Clone, Debug, Serialize, TS)]
pub struct LoginPlan {
    /// The profile.
    pub profile: String,
    /// Its kind.
    pub kind: String,
    /// The fields to ask for, in order.
    pub fields: Vec<crate::secrets::Field>,
}

impl App {
    /// `profile add`: write a profile (no secrets) into config.toml.
    pub fn add_profile(&self, r: &AddProfileRequest) -> AppResult<AddedProfile> {
        let new = crate::config::NewProfile {
            kind: r.kind.clone(),
            root: r.root.clone(),
            endpoint: r.endpoint.clone(),
            region: r.region.clone(),
            path_style: r.path_style.then_some(true),
            aws_profile: r.aws_profile.clone(),
            url: r.url.clone(),
            max_object_size: r.max_object_size,
            org: r.org.clone(),
            replace: r.replace,
        };
        let profile =
            crate::config::add_profile(&self.paths, &r.name, &new, r.make_default, r.dry_run)?;
        Ok(AddedProfile {
            needs_login: !crate::secrets::Field::for_kind(profile.backend.kind()).is_empty(),
            profile,
            config_file: self.paths.config_file(),
            default: r.make_default,
            dry_run: r.dry_run,
        })
    }

    /// `profile show [NAME]`: the settings and where each credential comes from.
    pub fn show_profile(&self, name: Option<&str>) -> AppResult<ProfileDetail> {
        let config = self.config()?;
        let (profile, why) = self.profile(name)?;
        Ok(ProfileDetail {
            credentials: crate::open::credential_report(&profile),
            defined_in: match profile.source {
                ProfileSource::Embedded => "built in".to_string(),
                ProfileSource::ConfigFile => config.file.display().to_string(),
            },
            selected_by: name.is_none().then_some(why),
            profile,
            config_file: config.file,
        })
    }

    /// `profile rm NAME`: remove it from config.toml and its secrets from every reachable
    /// keyring.
    pub fn remove_profile(&self, name: &str, dry_run: bool) -> AppResult<ProfileRemoved> {
        Ok(ProfileRemoved {
            removed: crate::secrets::remove_profile(&self.paths, name, dry_run)?,
            config_file: self.paths.config_file(),
        })
    }

    /// What `login` asks for on the selected profile: an S3 profile's access key id and
    /// secret access key, a Supabase profile's service-role key (or with `anon` its anon
    /// key). A profile with no secrets, or a flag for another kind, is refused.
    pub fn login_plan(&self, anon: bool, access_key_id: bool) -> AppResult<LoginPlan> {
        use crate::secrets::Field;
        let (profile, _) = self.profile(None)?;
        let kind = profile.backend.kind();
        if Field::for_kind(kind).is_empty() {
            return Err(AppError::usage(format!(
                "profile `{}` is a {kind} profile, which needs no secrets; choose another with \
                 --profile (see `stowage profile ls`)",
                profile.name
            )));
        }
        let has = |f: Field| Field::for_kind(kind).contains(&f);
        if access_key_id && !has(Field::AccessKeyId) {
            return Err(AppError::usage("--access-key-id is for S3 profiles"));
        }
        if anon && !has(Field::AnonKey) {
            return Err(AppError::usage("--anon is for Supabase profiles"));
        }
        let fields = Field::to_ask(kind, anon);
        Ok(LoginPlan {
            profile: profile.name.clone(),
            kind: kind.to_string(),
            fields,
        })
    }

    /// `login`: keep a profile's secrets (the selected profile's when `name` is None) in the
    /// OS keyring, replacing what it held, each read back before this returns. Secrets go in
    /// and never come out: the result names entries, never values.
    pub fn login(
        &self,
        name: Option<&str>,
        values: &[(crate::secrets::Field, crate::secrets::Secret)],
        dry_run: bool,
    ) -> AppResult<crate::secrets::StoredSecrets> {
        let (profile, _) = self.profile(name)?;
        Ok(crate::secrets::store_profile_secrets(
            &profile, values, dry_run,
        )?)
    }

    /// The credential fields a profile kind's form asks for (`login`'s, in order).
    pub fn secret_fields(&self, kind: &str) -> Vec<SecretFieldInfo> {
        crate::secrets::Field::to_ask(kind, false)
            .into_iter()
            .map(|f| SecretFieldInfo {
                field: f,
                label: f.label().to_string(),
                secret: f.is_secret(),
                env_var: f.env_var().to_string(),
            })
            .collect()
    }

    /// The window's "Save profile": check the settings and the secrets, write the profile
    /// into config.toml, then the secrets into the OS keyring (read back before this
    /// returns). Nothing is written when either is refused.
    pub fn save_profile(&self, r: SaveProfileRequest) -> AppResult<SavedProfile> {
        let dry = AddProfileRequest {
            dry_run: true,
            ..r.profile.clone()
        };
        let planned = self.add_profile(&dry)?;
        let values: Vec<_> = r
            .secrets
            .into_iter()
            .filter(|s| !s.value.is_empty())
            .map(|s| (s.field, s.value))
            .collect();
        if !values.is_empty() {
            crate::secrets::store_profile_secrets(&planned.profile, &values, true)?;
        }
        let added = self.add_profile(&r.profile)?;
        let secrets = if values.is_empty() || r.profile.dry_run {
            None
        } else {
            Some(self.login(Some(&added.profile.name), &values, false)?)
        };
        Ok(SavedProfile { added, secrets })
    }
}
