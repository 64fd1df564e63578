//! `stowage login` and `stowage profile add|show|rm`: argument handling and printing over
//! stowage-core's config and secrets modules. Secret values are read into
//! [`Secret`] at once and never printed; output names places only.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};
use stowage_core::config::{self, NewProfile};
use stowage_core::open::credential_report;
use stowage_core::secrets::{self, Field, Secret};
use stowage_core::Error;

use crate::{CmdResult, Ctx};

#[derive(Args)]
pub struct LoginArgs {
    /// Read the secret from standard input (its first line) instead of asking; for S3
    /// without --access-key-id the first line is the access key id and the second the
    /// secret access key.
    #[arg(long)]
    stdin: bool,
    /// S3: the access key id (not secret; asked for when missing).
    #[arg(long, value_name = "ID")]
    access_key_id: Option<String>,
    /// Supabase: store an anon key instead of the service-role key.
    #[arg(long)]
    anon: bool,
}

#[derive(Args)]
pub struct AddArgs {
    /// The profile's name: letters, digits, `-`, `_` and `.`.
    name: String,
    /// The provider.
    #[arg(long, value_parser = ["s3", "supabase", "local"])]
    kind: String,
    /// S3: the endpoint URL (SeaweedFS, MinIO, R2…); omit for AWS.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// S3: the region.
    #[arg(long)]
    region: Option<String>,
    /// S3: path-style addressing, which most self-hosted servers need.
    #[arg(long)]
    path_style: bool,
    /// S3: a profile of ~/.aws/config to take credentials from.
    #[arg(long, value_name = "NAME")]
    aws_profile: Option<String>,
    /// Supabase: the project URL, e.g. https://abcd.supabase.co.
    #[arg(long)]
    url: Option<String>,
    /// Local: the folder holding one directory per bucket.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// S3 and Supabase: refuse uploads above this many bytes.
    #[arg(long, value_name = "BYTES")]
    max_object_size: Option<u64>,
    /// Bind the profile to an organization: it only sees keys under ORG/.
    #[arg(long)]
    org: Option<String>,
    /// Also make it the default profile.
    #[arg(long = "default")]
    make_default: bool,
}

/// Read one secret: from the next stdin line with --stdin, else without echo on the terminal.
fn read_secret(
    lines: &mut dyn Iterator<Item = std::io::Result<String>>,
    from_stdin: bool,
    prompt: &str,
    what: &str,
) -> Result<Secret, Error> {
    let value = if from_stdin {
        match lines.next() {
            Some(Ok(line)) => line,
            Some(Err(e)) => {
                return Err(Error::Usage(format!(
                    "cannot read the {what} from standard input: {e}"
                )))
            }
            None => {
                return Err(Error::Usage(format!(
                    "standard input ended before the {what}; send it as one line"
                )))
            }
        }
    } else {
        rpassword::prompt_password(prompt)
            .map_err(|e| Error::Usage(format!("cannot read the {what} from the terminal: {e}")))?
    };
    let secret = Secret::new(value);
    if secret.is_empty() {
        return Err(Error::Usage(format!(
            "the {what} is empty; nothing was stored"
        )));
    }
    Ok(secret)
}

/// `stowage login [--profile P]`: ask for the profile's secrets and keep them in the keyring.
pub fn login(ctx: &Ctx, a: LoginArgs) -> CmdResult {
    let (profile, _) = ctx.app.profile(None)?;
    let profile = &profile;
    let kind = profile.backend.kind();
    if Field::for_kind(kind).is_empty() {
        return Err(Error::Usage(format!(
            "profile `{}` is a {kind} profile, which needs no secrets; choose another with \
             --profile (see `stowage profile ls`)",
            profile.name
        ))
        .into());
    }
    if kind != "s3" && a.access_key_id.is_some() {
        return Err(Error::Usage("--access-key-id is for S3 profiles".into()).into());
    }
    if kind != "supabase" && a.anon {
        return Err(Error::Usage("--anon is for Supabase profiles".into()).into());
    }
    if !a.stdin && !ctx.dry_run && !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "standard input is not a terminal, so the secret cannot be asked for without \
             echo: pass --stdin to read it from standard input (e.g. `printf '%s\\n' \"$KEY\" \
             | stowage login --stdin --profile NAME`)"
                .into(),
        )
        .into());
    }
    let mut values = Vec::new();
    if !ctx.dry_run {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        let p = &profile.name;
        match kind {
            "s3" => {
                let id = match &a.access_key_id {
                    Some(id) => id.trim().to_string(),
                    None if a.stdin => match lines.next() {
                        Some(Ok(l)) => l.trim().to_string(),
                        _ => {
                            return Err(Error::Usage(
                                "standard input ended before the access key id; send it \
                                 (or pass --access-key-id) then the secret access key"
                                    .into(),
                            )
                            .into())
                        }
                    },
                    None => {
                        // Not secret: read with echo, through the same locked stdin.
                        eprint!("Access key id for profile `{p}`: ");
                        let _ = std::io::stderr().flush();
                        match lines.next() {
                            Some(Ok(l)) => l.trim().to_string(),
                            Some(Err(e)) => {
                                return Err(Error::Usage(format!(
                                    "cannot read the access key id: {e}"
                                ))
                                .into())
                            }
                            None => String::new(),
                        }
                    }
                };
                if id.is_empty() {
                    return Err(Error::Usage("the access key id is empty".into()).into());
                }
                let secret = read_secret(
                    &mut lines,
                    a.stdin,
                    &format!("Secret access key for profile `{p}` (not shown): "),
                    "secret access key",
                )?;
                values.push((Field::AccessKeyId, Secret::new(id)));
                values.push((Field::SecretAccessKey, secret));
            }
            _ => {
                let field = if a.anon {
                    Field::AnonKey
                } else {
                    Field::ServiceRoleKey
                };
                let secret = read_secret(
                    &mut lines,
                    a.stdin,
                    &format!("Supabase {} for profile `{p}` (not shown): ", field.label()),
                    field.label(),
                )?;
                values.push((field, secret));
            }
        }
    } else {
        // Plan with placeholders: nothing is read or stored.
        let fields: &[Field] = match kind {
            "s3" => &[Field::AccessKeyId, Field::SecretAccessKey],
            _ if a.anon => &[Field::AnonKey],
            _ => &[Field::ServiceRoleKey],
        };
        values.extend(fields.iter().map(|f| (*f, Secret::new("planned"))));
    }
    let report = secrets::store_profile_secrets(profile, &values, ctx.dry_run)?;
    drop(values);
    let what = match kind {
        "s3" => "access key id and secret access key".to_string(),
        _ if a.anon => "anon key".to_string(),
        _ => "service-role key".to_string(),
    };
    ctx.say(format!(
        "{} the {what} of profile `{}` in {}: service `{}`, entries {}",
        if ctx.dry_run { "would store" } else { "stored" },
        report.profile,
        report.keyring_description,
        report.service,
        report
            .stored
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for r in &report.removed {
        ctx.say(format!(
            "{} the earlier entry `{r}`",
            if ctx.dry_run {
                "would remove"
            } else {
                "removed"
            }
        ));
    }
    if !ctx.dry_run {
        ctx.say(format!(
            "profile `{}` now takes these credentials from the keyring, before the environment",
            report.profile
        ));
    }
    Ok(serde_json::to_value(&report).expect("serialisable"))
}

/// `stowage profile add NAME --kind …`: write a profile (no secrets) into config.toml.
pub fn add(ctx: &Ctx, a: AddArgs) -> CmdResult {
    let paths = ctx.app.paths();
    let new = NewProfile {
        kind: a.kind,
        root: a.root,
        endpoint: a.endpoint,
        region: a.region,
        path_style: a.path_style.then_some(true),
        aws_profile: a.aws_profile,
        url: a.url,
        max_object_size: a.max_object_size,
        org: a.org,
    };
    let profile = config::add_profile(paths, &a.name, &new, a.make_default, ctx.dry_run)?;
    let file = paths.config_file();
    ctx.say(format!(
        "{} profile `{}` ({}) to {}{}",
        if ctx.dry_run { "would add" } else { "added" },
        profile.name,
        profile.backend.kind(),
        file.display(),
        if a.make_default {
            " as the default profile"
        } else {
            ""
        }
    ));
    if !Field::for_kind(profile.backend.kind()).is_empty() {
        ctx.say(format!(
            "next: `stowage login --profile {}` keeps its secrets in the OS keyring",
            profile.name
        ));
    }
    let mut v = serde_json::to_value(&profile).expect("serialisable");
    v["config_file"] = json!(file);
    v["default"] = json!(a.make_default);
    v["dry_run"] = json!(ctx.dry_run);
    Ok(v)
}

/// `stowage profile show [NAME]`: every setting, and where each credential comes from.
pub fn show(ctx: &Ctx, name: Option<String>) -> CmdResult {
    let config = ctx.app.config()?;
    let (profile, why) = ctx.app.profile(name.as_deref())?;
    let profile = &profile;
    let report = credential_report(profile);
    let mut v = serde_json::to_value(profile).expect("serialisable");
    let from = match profile.source {
        config::ProfileSource::Embedded => "built in".to_string(),
        config::ProfileSource::ConfigFile => config.file.display().to_string(),
    };
    let mut lines = vec![
        format!("name: {}", profile.name),
        format!("kind: {}", profile.backend.kind()),
        format!("from: {from}"),
    ];
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            if matches!(k.as_str(), "name" | "kind" | "source") || val.is_null() {
                continue;
            }
            lines.push(match val {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            });
        }
    }
    if name.is_none() {
        lines.push(format!("selected by: {why}"));
    }
    if !report.fields.is_empty() {
        lines.push("credentials:".to_string());
        for f in &report.fields {
            lines.push(format!("  {}: {}", f.field, f.detail));
        }
    } else {
        lines.push(format!("credentials: {}", report.summary));
    }
    if let Some(p) = &report.keyring_problem {
        lines.push(format!("keyring: not consulted ({p})"));
    }
    ctx.data(lines.join("\n"));
    v["config_file"] = json!(config.file);
    v["credentials"] = serde_json::to_value(&report).expect("serialisable");
    Ok(v)
}

/// `stowage profile rm NAME`: remove it from config.toml and its secrets from the keyring.
pub fn rm(ctx: &Ctx, name: String) -> CmdResult {
    let paths = ctx.app.paths();
    let r = secrets::remove_profile(paths, &name, ctx.dry_run)?;
    let file = paths.config_file();
    ctx.say(format!(
        "{} profile `{name}` from {}{}",
        if ctx.dry_run {
            "would remove"
        } else {
            "removed"
        },
        file.display(),
        if r.config.was_default {
            " (it was the default profile; the default is now the built-in `local`)"
        } else {
            ""
        }
    ));
    if !r.keyring_entries.is_empty() {
        ctx.say(format!(
            "{} its keyring entries {}",
            if ctx.dry_run {
                "would remove"
            } else {
                "removed"
            },
            r.keyring_entries
                .iter()
                .map(|e| format!("`{}` ({})", e.entry, e.keyring))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(p) = &r.keyring_problem {
        eprintln!(
            "warning: the keyring could not be cleaned, so entries of `{name}` may remain: {p}"
        );
    }
    let mut v = serde_json::to_value(&r).expect("serialisable");
    v["config_file"] = json!(file);
    Ok(v)
}
