//! Profile secrets in the OS keyring: one entry per profile and field under the service
//! `stowage` (user `PROFILE/secret_access_key`, `PROFILE/service_role_key`, …).
//!
//! Which store holds them: macOS Keychain and Windows Credential Manager on those systems; on
//! Linux the Secret Service (GNOME Keyring, KWallet) when a session bus answers, else the
//! kernel's keyutils. `STOWAGE_KEYRING=secret-service|keyutils` chooses one explicitly. When
//! no keyring can be reached, storing fails with an error naming the fix: there is never a
//! plain-text fallback.
//!
//! Values travel as [`Secret`], which never formats its content.

use std::fmt;

use serde::Serialize;
use stowage_store::ErrorKind;

use crate::config::Profile;
use crate::error::{Error, Result};

/// The keyring service every Stowage entry is stored under.
pub const SERVICE: &str = "stowage";

/// The variable that chooses the keyring backend.
pub const KEYRING_VAR: &str = "STOWAGE_KEYRING";

/// A secret value: its `Debug` and `Display` never show any character of it, and its memory
/// is overwritten when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value (surrounding whitespace, e.g. a pasted newline, is dropped).
    pub fn new(value: impl Into<String>) -> Secret {
        let mut s: String = value.into();
        let trimmed = s.trim();
        if trimmed.len() != s.len() {
            let t = trimmed.to_string();
            wipe(&mut s);
            s = t;
        }
        Secret(s)
    }

    /// The value, for handing to a backend only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn wipe(s: &mut str) {
    // SAFETY: zero bytes keep the string valid UTF-8.
    for b in unsafe { s.as_bytes_mut() } {
        // Volatile, so the compiler does not drop the writes to a buffer about to be freed.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// A secret arrives (from the window's settings) as a string, and is wrapped at once; it
/// never serialises.
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One credential field of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// S3 access key id (not secret on its own, kept with its secret).
    AccessKeyId,
    /// S3 secret access key.
    SecretAccessKey,
    /// Supabase service-role key.
    ServiceRoleKey,
    /// Supabase anon (public) key, used when there is no service-role key.
    AnonKey,
}

impl Field {
    /// Every field, in display order.
    pub const ALL: [Field; 4] = [
        Field::AccessKeyId,
        Field::SecretAccessKey,
        Field::ServiceRoleKey,
        Field::AnonKey,
    ];

    /// The field's name in entries and JSON: `secret_access_key`.
    pub fn name(self) -> &'static str {
        match self {
            Field::AccessKeyId => "access_key_id",
            Field::SecretAccessKey => "secret_access_key",
            Field::ServiceRoleKey => "service_role_key",
            Field::AnonKey => "anon_key",
        }
    }

    /// Its description ([`stowage_store::provider`]).
    fn described(self) -> &'static stowage_store::provider::SecretField {
        stowage_store::provider::secret_fields()
            .find(|f| f.name == self.name())
            .expect("every field is described by its provider")
    }

    /// Words for prompts and messages: `secret access key`.
    pub fn label(self) -> &'static str {
        self.described().label
    }

    /// The environment variable that supplies it when the keyring has none.
    pub fn env_var(self) -> &'static str {
        self.described().env_var
    }

    /// Whether the value must never be shown (the access key id may be).
    pub fn is_secret(self) -> bool {
        self.described().secret
    }

    /// The fields a profile kind (`s3`, `supabase`, `local`) keeps in the keyring.
    pub fn for_kind(kind: &str) -> Vec<Field> {
        stowage_store::provider::provider(kind)
            .map(|p| {
                p.secrets
                    .iter()
                    .filter_map(|f| Field::parse(f.name))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The fields `login` asks for on a profile kind: those asked by default, or with
    /// `alternative` the others (Supabase's anon key instead of its service-role key).
    pub fn to_ask(kind: &str, alternative: bool) -> Vec<Field> {
        let Some(p) = stowage_store::provider::provider(kind) else {
            return Vec::new();
        };
        let wanted = |f: &&stowage_store::provider::SecretField| f.asked != alternative;
        let fields: Vec<Field> = p
            .secrets
            .iter()
            .filter(wanted)
            .filter_map(|f| Field::parse(f.name))
            .collect();
        if fields.is_empty() {
            Field::to_ask(kind, false)
        } else {
            fields
        }
    }

    /// Parse a field name as written in entries and flags.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.name() == name.replace('-', "_"))
    }
}

/// Which credential store holds the entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyringKind {
    /// The freedesktop Secret Service over D-Bus (GNOME Keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel's keyutils (in memory: gone after a reboot).
    Keyutils,
    /// The platform store (macOS Keychain, Windows Credential Manager).
    Native,
}

impl KeyringKind {
    /// `secret-service`, `keyutils` or `native`.
    pub fn name(self) -> &'static str {
        match self {
            KeyringKind::SecretService => "secret-service",
            KeyringKind::Keyutils => "keyutils",
            KeyringKind::Native => "native",
        }
    }

    /// A description for messages: where the secret is.
    pub fn describe(self) -> &'static str {
        match self {
            KeyringKind::SecretService => "the Secret Service keyring (e.g. GNOME Keyring)",
            KeyringKind::Keyutils => {
                "the kernel keyring (keyutils; kept in memory until reboot or expiry)"
            }
            KeyringKind::Native => {
                if cfg!(target_os = "macos") {
                    "the macOS Keychain"
                } else if cfg!(windows) {
                    "the Windows Credential Manager"
                } else {
                    "the system keyring"
                }
            }
        }
    }
}

/// What to do when no keyring answers.
pub const NO_KEYRING_FIX: &str = "start and unlock a Secret Service (e.g. `gnome-keyring-daemon \
     --unlock --components=secrets` in a D-Bus session), or use STOWAGE_KEYRING=keyutils, or \
     pass the secrets through the environment instead (AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY for S3, SUPABASE_SERVICE_ROLE_KEY for Supabase)";

fn keyring_error(kind: ErrorKind, message: String, hint: &str) -> Error {
    stowage_store::Error::new(kind, "keyring", message)
        .hint(hint.to_string())
        .into()
}

/// The team database password's entry (no profile name has an `@`).
const TEAM_ENTRY: &str = "@team/database_password";
const TEAM_WHAT: &str = "the team database's password";

fn what(profile: &str, field: Field) -> String {
    format!("the {} of profile `{profile}`", field.label())
}

/// The keyring holding profile secrets.
#[derive(Clone, Debug)]
pub struct Keyring {
    kind: KeyringKind,
}

impl Keyring {
    /// The keyring `STOWAGE_KEYRING` chooses, else the platform's (on Linux the Secret
    /// Service when it answers, else keyutils). Fails with the fix when none is reachable.
    pub fn open() -> Result<Keyring> {
        let choice = std::env::var(KEYRING_VAR)
            .ok()
            .filter(|v| !v.trim().is_empty());
        Keyring::open_with(choice.as_deref())
    }

    /// The keyring `choice` names (`secret-service`, `keyutils`, `native`, `auto`/None).
    pub fn open_with(choice: Option<&str>) -> Result<Keyring> {
        let kind = match choice.map(str::trim) {
            None | Some("auto") => {
                if cfg!(target_os = "linux") {
                    match probe(KeyringKind::SecretService) {
                        Ok(()) => KeyringKind::SecretService,
                        Err(ss) => match probe(KeyringKind::Keyutils) {
                            Ok(()) => KeyringKind::Keyutils,
                            Err(ku) => {
                                return Err(keyring_error(
                                    ErrorKind::Unavailable,
                                    format!(
                                        "no keyring is reachable: the Secret Service did not \
                                         answer ({ss}) and the kernel keyring failed ({ku})"
                                    ),
                                    NO_KEYRING_FIX,
                                ))
                            }
                        },
                    }
                } else {
                    KeyringKind::Native
                }
            }
            Some("secret-service") if cfg!(target_os = "linux") => {
                probe(KeyringKind::SecretService).map_err(|e| {
                    keyring_error(
                        ErrorKind::Unavailable,
                        format!("the Secret Service keyring (chosen by {KEYRING_VAR}) did not answer: {e}"),
                        NO_KEYRING_FIX,
                    )
                })?;
                KeyringKind::SecretService
            }
            Some("keyutils") if cfg!(target_os = "linux") => {
                probe(KeyringKind::Keyutils).map_err(|e| {
                    keyring_error(
                        ErrorKind::Unavailable,
                        format!("the kernel keyring (chosen by {KEYRING_VAR}) failed: {e}"),
                        NO_KEYRING_FIX,
                    )
                })?;
                KeyringKind::Keyutils
            }
            Some("native") if !cfg!(target_os = "linux") => KeyringKind::Native,
            Some(other) => {
                return Err(Error::Config(format!(
                    "{KEYRING_VAR}={other} is not a keyring on this system; use {}",
                    if cfg!(target_os = "linux") {
                        "`secret-service` or `keyutils` (or unset it to choose automatically)"
                    } else {
                        "`native` (or unset it)"
                    }
                )))
            }
        };
        Ok(Keyring { kind })
    }

    /// Every keyring this process can reach: on Linux the Secret Service and keyutils, each
    /// when it answers; elsewhere the platform's.
    pub fn reachable() -> Vec<Keyring> {
        if cfg!(target_os = "linux") {
            [KeyringKind::SecretService, KeyringKind::Keyutils]
                .into_iter()
                .filter(|k| probe(*k).is_ok())
                .map(|kind| Keyring { kind })
                .collect()
        } else {
            vec![Keyring {
                kind: KeyringKind::Native,
            }]
        }
    }

    /// Which store this is.
    pub fn kind(&self) -> KeyringKind {
        self.kind
    }

    /// The entry's user name: `PROFILE/field`.
    pub fn user(profile: &str, field: Field) -> String {
        format!("{profile}/{}", field.name())
    }

    fn entry(&self, profile: &str, field: Field) -> Result<keyring::Entry> {
        self.entry_for(&Keyring::user(profile, field))
            .map_err(|e| self.failure(&what(profile, field), "open", e))
    }

    fn entry_for(&self, user: &str) -> keyring::Result<keyring::Entry> {
        match self.kind {
            #[cfg(target_os = "linux")]
            KeyringKind::SecretService => {
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, user)
                    .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
            }
            #[cfg(target_os = "linux")]
            KeyringKind::Keyutils => {
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, user)
                    .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
            }
            _ => keyring::Entry::new(SERVICE, user),
        }
    }

    /// `what`: the entry in words (`the secret access key of profile `s3``).
    fn failure(&self, what: &str, doing: &str, e: keyring::Error) -> Error {
        // keyring's messages describe the platform failure; they never carry the value.
        let kind = match e {
            keyring::Error::NoStorageAccess(_) => ErrorKind::Unauthorized,
            keyring::Error::PlatformFailure(_) => ErrorKind::Unavailable,
            _ => ErrorKind::Other,
        };
        keyring_error(
            kind,
            format!(
                "cannot {doing} {what} in {}: {}",
                self.kind.describe(),
                describe_keyring_error(&e)
            ),
            if kind == ErrorKind::Unauthorized {
                "unlock the keyring (log in to the desktop session, or run `gnome-keyring-daemon \
                 --unlock`), then try again"
            } else {
                NO_KEYRING_FIX
            },
        )
    }

    /// The team database's password, or None when the keyring has none.
    pub fn team_password(&self) -> Result<Option<Secret>> {
        let entry = self
            .entry_for(TEAM_ENTRY)
            .map_err(|e| self.failure(TEAM_WHAT, "open", e))?;
        match entry.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.failure(TEAM_WHAT, "read", e)),
        }
    }

    /// Store the team database's password, replacing any earlier one, and read it back.
    pub fn set_team_password(&self, value: &Secret) -> Result<()> {
        if value.is_empty() {
            return Err(Error::Usage(
                "the team database's password is empty; nothing was stored".into(),
            ));
        }
        let entry = self
            .entry_for(TEAM_ENTRY)
            .map_err(|e| self.failure(TEAM_WHAT, "open", e))?;
        entry
            .set_password(value.expose())
            .map_err(|e| self.failure(TEAM_WHAT, "store", e))?;
        match entry.get_password() {
            Ok(v) if v == value.expose() => Ok(()),
            Ok(_) | Err(keyring::Error::NoEntry) => Err(keyring_error(
                ErrorKind::Integrity,
                format!("{} did not keep {TEAM_WHAT}", self.kind.describe()),
                NO_KEYRING_FIX,
            )),
            Err(e) => Err(self.failure(TEAM_WHAT, "read back", e)),
        }
    }

    /// Remove the team database's password; false when there was none.
    pub fn delete_team_password(&self) -> Result<bool> {
        let entry = self
            .entry_for(TEAM_ENTRY)
            .map_err(|e| self.failure(TEAM_WHAT, "open", e))?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.failure(TEAM_WHAT, "remove", e)),
        }
    }

    /// The profile's `field`, or None when the keyring has no such entry.
    pub fn get(&self, profile: &str, field: Field) -> Result<Option<Secret>> {
        match self.entry(profile, field)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.failure(&what(profile, field), "read", e)),
        }
    }

    /// Store the profile's `field`, replacing any earlier value.
    pub fn set(&self, profile: &str, field: Field, value: &Secret) -> Result<()> {
        if value.is_empty() {
            return Err(Error::Usage(format!(
                "the {} of profile `{profile}` is empty; nothing was stored",
                field.label()
            )));
        }
        let entry = self.entry(profile, field)?;
        entry
            .set_password(value.expose())
            .map_err(|e| self.failure(&what(profile, field), "store", e))?;
        // Read it back: a keyring that accepts and drops entries would otherwise leave the
        // user believing the secret is kept.
        match entry.get_password() {
            Ok(v) if v == value.expose() => Ok(()),
            Ok(_) | Err(keyring::Error::NoEntry) => Err(keyring_error(
                ErrorKind::Integrity,
                format!(
                    "{} did not keep the {} of profile `{profile}`",
                    self.kind.describe(),
                    field.label()
                ),
                NO_KEYRING_FIX,
            )),
            Err(e) => Err(self.failure(&what(profile, field), "read back", e)),
        }
    }

    /// Remove the profile's `field`; false when there was none.
    pub fn delete(&self, profile: &str, field: Field) -> Result<bool> {
        match self.entry(profile, field)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.failure(&what(profile, field), "remove", e)),
        }
    }

    /// Which of the profile's fields (of its kind) have entries.
    pub fn stored(&self, profile: &str, kind: &str) -> Result<Vec<Field>> {
        let mut out = Vec::new();
        for f in Field::for_kind(kind) {
            if self.get(profile, f)?.is_some() {
                out.push(f);
            }
        }
        Ok(out)
    }
}

fn describe_keyring_error(e: &keyring::Error) -> String {
    match e {
        keyring::Error::NoStorageAccess(inner) => format!("the keyring is locked ({inner})"),
        keyring::Error::PlatformFailure(inner) => inner.to_string(),
        keyring::Error::NoEntry => "no entry".into(),
        keyring::Error::TooLong(what, _) => format!("the {what} is too long"),
        keyring::Error::Invalid(what, why) => format!("invalid {what}: {why}"),
        keyring::Error::Ambiguous(_) => {
            "several entries match; remove the duplicates with the keyring's own tool".into()
        }
        other => other.to_string(),
    }
}

/// Check that a backend answers, reading an entry that is never written.
fn probe(kind: KeyringKind) -> std::result::Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let user = "probe/none";
        let entry = match kind {
            KeyringKind::SecretService => {
                // libdbus would otherwise try to start a bus through X11 autolaunch.
                let has_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS")
                    .is_some_and(|v| !v.is_empty())
                    || std::path::Path::new(&format!("/run/user/{}/bus", uid())).exists();
                if !has_bus {
                    return Err(
                        "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".to_string()
                    );
                }
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, user)
                    .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
            }
            KeyringKind::Keyutils => {
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, user)
                    .map(|c| keyring::Entry::new_with_credential(Box::new(c)))
            }
            KeyringKind::Native => return Ok(()),
        }
        .map_err(|e| describe_keyring_error(&e))?;
        match entry.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe_keyring_error(&e)),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = kind;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn uid() -> u32 {
    // The owner of /proc/self is this process's real user.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// What [`store_profile_secrets`] did (or with `dry_run` would do): places, never values.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct StoredSecrets {
    /// The profile.
    pub profile: String,
    /// `secret-service`, `keyutils` or `native`.
    pub keyring: String,
    /// The keyring in words.
    pub keyring_description: String,
    /// The keyring service: `stowage`.
    pub service: String,
    /// Entries written (`PROFILE/field`).
    pub stored: Vec<String>,
    /// Entries of the profile removed because the new ones replace them.
    pub removed: Vec<String>,
    /// Nothing was changed.
    pub dry_run: bool,
}

/// Store `values` as the keyring credentials of `profile`, replacing whatever the keyring
/// held for it (an S3 profile needs the access key id and the secret access key; a Supabase
/// profile a service-role or an anon key). Each value is read back before this returns.
pub fn store_profile_secrets(
    profile: &Profile,
    values: &[(Field, Secret)],
    dry_run: bool,
) -> Result<StoredSecrets> {
    let kind = profile.backend.kind();
    let allowed = Field::for_kind(kind);
    if allowed.is_empty() {
        return Err(Error::Usage(format!(
            "profile `{}` is a {kind} profile, which needs no secrets",
            profile.name
        )));
    }
    for (f, _) in values {
        if !allowed.contains(f) {
            return Err(Error::Usage(format!(
                "a {kind} profile has no {}; it keeps {}",
                f.label(),
                allowed
                    .iter()
                    .map(|f| f.label())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
    }
    let has = |f: Field| values.iter().any(|(g, _)| *g == f);
    let complete = match kind {
        "s3" => has(Field::AccessKeyId) && has(Field::SecretAccessKey),
        _ => has(Field::ServiceRoleKey) != has(Field::AnonKey),
    };
    if !complete {
        return Err(Error::Usage(match kind {
            "s3" => format!(
                "profile `{}` needs both an access key id and a secret access key",
                profile.name
            ),
            _ => format!(
                "profile `{}` needs one key: the service-role key, or with --anon the anon key",
                profile.name
            ),
        }));
    }
    if let Some((f, _)) = values.iter().find(|(_, v)| v.is_empty()) {
        return Err(Error::Usage(format!(
            "the {} is empty; nothing was stored",
            f.label()
        )));
    }
    let keyring = Keyring::open()?;
    let mut report = StoredSecrets {
        profile: profile.name.clone(),
        keyring: keyring.kind().name().to_string(),
        keyring_description: keyring.kind().describe().to_string(),
        service: SERVICE.to_string(),
        stored: values
            .iter()
            .map(|(f, _)| Keyring::user(&profile.name, *f))
            .collect(),
        removed: Vec::new(),
        dry_run,
    };
    for &f in allowed.iter().filter(|f| !has(**f)) {
        let present = keyring.get(&profile.name, f)?.is_some();
        if present {
            if !dry_run {
                keyring.delete(&profile.name, f)?;
            }
            report.removed.push(Keyring::user(&profile.name, f));
        }
    }
    if !dry_run {
        for (f, v) in values {
            keyring.set(&profile.name, *f, v)?;
        }
    }
    Ok(report)
}

/// A keyring entry that was (or with `dry_run` would be) removed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct RemovedEntry {
    /// `PROFILE/field`.
    pub entry: String,
    /// The keyring that held it: `secret-service`, `keyutils` or `native`.
    pub keyring: String,
}

/// What [`remove_profile`] did: the config entry and the keyring entries.
#[derive(Clone, Debug, Serialize, PartialEq, ts_rs::TS)]
pub struct RemovedProfileAndSecrets {
    /// The config part.
    #[serde(flatten)]
    pub config: crate::config::RemovedProfile,
    /// Keyring entries removed (or with `dry_run` that would be), from every reachable keyring.
    pub keyring_entries: Vec<RemovedEntry>,
    /// Why a keyring could not be cleaned, when one could not (its entries, if any, stay).
    pub keyring_problem: Option<String>,
    /// Nothing was changed.
    pub dry_run: bool,
}

/// `stowage profile rm`: remove the profile from `config.toml` and its entries from every
/// keyring this process reaches (on Linux both the Secret Service and keyutils, whichever
/// `login` used). With `dry_run` nothing changes; the report says what would.
pub fn remove_profile(
    paths: &crate::paths::Paths,
    name: &str,
    dry_run: bool,
) -> Result<RemovedProfileAndSecrets> {
    // Checked (and with dry_run only planned) first: a refused removal touches no secret.
    let plan = crate::config::remove_profile(paths, name, true)?;
    let fields = Field::for_kind(plan.profile.backend.kind());
    let mut entries = Vec::new();
    let mut problem = None;
    if !fields.is_empty() {
        let keyrings = Keyring::reachable();
        if keyrings.is_empty() {
            problem = Some(format!("no keyring is reachable ({NO_KEYRING_FIX})"));
        }
        for k in keyrings {
            for &f in &fields {
                let result = if dry_run {
                    k.get(name, f).map(|v| v.is_some())
                } else {
                    k.delete(name, f)
                };
                match result {
                    Ok(true) => entries.push(RemovedEntry {
                        entry: Keyring::user(name, f),
                        keyring: k.kind().name().to_string(),
                    }),
                    Ok(false) => {}
                    Err(e) => problem = Some(e.to_string()),
                }
            }
        }
    }
    let config = if dry_run {
        plan
    } else {
        crate::config::remove_profile(paths, name, false)?
    };
    Ok(RemovedProfileAndSecrets {
        config,
        keyring_entries: entries,
        keyring_problem: problem,
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planted() -> String {
        format!(
            "PLANTED-SECRET-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }

    #[test]
    fn secret_never_formats_its_value() {
        let value = planted();
        let s = Secret::new(format!("  {value}\n"));
        assert_eq!(s.expose(), value, "surrounding whitespace is dropped");
        for shown in [
            format!("{s:?}"),
            format!("{s}"),
            format!("{s:#?}"),
            format!("{:?}", Some(&s)),
            format!("{:?}", vec![s.clone()]),
        ] {
            assert!(!shown.contains(&value), "{shown}");
            assert!(!shown.contains("PLANTED"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn fields_per_kind_and_names() {
        assert_eq!(
            Field::for_kind("s3"),
            &[Field::AccessKeyId, Field::SecretAccessKey]
        );
        assert_eq!(
            Field::for_kind("supabase"),
            &[Field::ServiceRoleKey, Field::AnonKey]
        );
        assert!(Field::for_kind("local").is_empty());
        assert_eq!(
            Keyring::user("lab", Field::SecretAccessKey),
            "lab/secret_access_key"
        );
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Some(f));
            // Every field name is one the config file refuses as a secret.
            assert!(crate::config::looks_secret(f.name()), "{}", f.name());
        }
        assert_eq!(
            Field::parse("service-role-key"),
            Some(Field::ServiceRoleKey)
        );
        assert!(!Field::AccessKeyId.is_secret() && Field::SecretAccessKey.is_secret());
    }

    #[test]
    fn an_unknown_backend_name_is_a_config_error_naming_the_choices() {
        let err = Keyring::open_with(Some("plaintext")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Config(_)), "{msg}");
        assert!(msg.contains("STOWAGE_KEYRING=plaintext"), "{msg}");
        #[cfg(target_os = "linux")]
        assert!(
            msg.contains("secret-service") && msg.contains("keyutils"),
            "{msg}"
        );
    }

    /// Round trip through a real backend: set, read, replace, delete; the value never shows
    /// in an error or Debug output. Runs against both Linux backends, and fails naming how to
    /// provide them when one is not reachable.
    #[cfg(target_os = "linux")]
    #[test]
    fn round_trip_in_each_reachable_real_keyring() {
        for choice in ["secret-service", "keyutils"] {
            let kr = Keyring::open_with(Some(choice)).unwrap_or_else(|e| {
                panic!(
                    "the {choice} keyring is not reachable from this test process ({e}); run the \
                     tests inside both real keyrings: `source scripts/lib/keyring.sh; \
                     with_keyrings cargo test -p stowage-core --lib secrets` (needs the \
                     gnome-keyring, dbus and keyutils packages)"
                )
            });
            assert_eq!(kr.kind().name(), choice);
            let profile = format!("unit-{}", planted());
            let value = Secret::new(planted());
            assert_eq!(kr.get(&profile, Field::SecretAccessKey).unwrap(), None);
            kr.set(&profile, Field::SecretAccessKey, &value).unwrap();
            let back = kr.get(&profile, Field::SecretAccessKey).unwrap().unwrap();
            assert_eq!(back.expose(), value.expose());
            assert!(!format!("{kr:?}{back:?}").contains(value.expose()));
            let other = Secret::new(planted() + "-2");
            kr.set(&profile, Field::SecretAccessKey, &other).unwrap();
            assert_eq!(
                kr.get(&profile, Field::SecretAccessKey)
                    .unwrap()
                    .unwrap()
                    .expose(),
                other.expose()
            );
            assert_eq!(
                kr.stored(&profile, "s3").unwrap(),
                vec![Field::SecretAccessKey]
            );
            // Another field and another profile are separate entries.
            assert_eq!(kr.get(&profile, Field::AccessKeyId).unwrap(), None);
            assert_eq!(
                kr.get(&format!("{profile}x"), Field::SecretAccessKey)
                    .unwrap(),
                None
            );
            let err = kr
                .set(&profile, Field::AnonKey, &Secret::new("  "))
                .unwrap_err();
            assert!(err.to_string().contains("empty"), "{err}");
            assert!(kr.delete(&profile, Field::SecretAccessKey).unwrap());
            assert!(!kr.delete(&profile, Field::SecretAccessKey).unwrap());
            assert_eq!(kr.get(&profile, Field::SecretAccessKey).unwrap(), None);
        }
    }
}
