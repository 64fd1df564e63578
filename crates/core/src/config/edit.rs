//! Editing config.toml in place (`profile add`, `profile rm`), keeping its comments and layout.

use super::*;

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
    /// Replace a profile of that name (its settings only: keyring entries stay).
    pub replace: bool,
}

pub(super) fn config_error(kind: stowage_store::ErrorKind, message: String, hint: String) -> Error {
    stowage_store::Error::new(kind, "config", message)
        .hint(hint)
        .into()
}

pub(super) fn read_document(file: &Path) -> Result<(String, toml_edit::DocumentMut)> {
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
pub(super) fn write_document(
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

pub(super) fn valid_profile_name(name: &str) -> Result<()> {
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
    if profiles.contains_key(name) && !new.replace {
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

/// Write `prices` as the `[prices]` section of `config.toml` (every field, so the file says
/// what the estimates use), keeping the rest of the file; checked as [`Config::load`] would
/// before anything is written. A negative or non-finite price is refused, naming the field.
pub fn set_prices(paths: &Paths, prices: &crate::cost::PriceTable) -> Result<Config> {
    use toml_edit::{value, Item, Table};
    let fields = serde_json::to_value(prices)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let mut t = Table::new();
    for (name, v) in &fields {
        let n = v.as_f64().unwrap_or(f64::NAN);
        if !n.is_finite() || n < 0.0 {
            return Err(Error::Usage(format!(
                "the price `{name}` must be a number of dollars (or GB) of at least 0"
            )));
        }
        t.insert(name, value(n));
    }
    let file = paths.config_file();
    let (_, mut doc) = read_document(&file)?;
    doc.insert("prices", Item::Table(t));
    write_document(&file, &doc, paths, "saving the prices", false)
}

/// Set which profiles `sync` and `watch` upload to: the `[sync]` section's `primary` and
/// `secondary` (None removes the key: the selected profile, no second copy), keeping its
/// bucket and the rest of the file; checked as [`Config::load`] would before anything is
/// written (a profile that is not defined, or the same one twice, is refused).
pub fn set_sync_profiles(
    paths: &Paths,
    primary: Option<&str>,
    secondary: Option<&str>,
) -> Result<Config> {
    use toml_edit::{value, Item, Table};
    let file = paths.config_file();
    let (_, mut doc) = read_document(&file)?;
    if !doc.contains_table("sync") {
        doc.insert("sync", Item::Table(Table::new()));
    }
    let sync = doc["sync"]
        .as_table_mut()
        .ok_or_else(|| Error::Config(format!("{}: [sync] is not a table", file.display())))?;
    for (key, profile) in [("primary", primary), ("secondary", secondary)] {
        match profile.filter(|p| !p.is_empty()) {
            Some(p) => {
                sync.insert(key, value(p));
            }
            None => {
                sync.remove(key);
            }
        }
    }
    write_document(&file, &doc, paths, "saving the sync profiles", false)
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
