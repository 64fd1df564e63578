//! `stowage login` and `stowage profile add|show|rm`: argument handling and printing over
//! stowage-core's config and secrets modules. Secret values are read into
//! [`Secret`] at once and never printed; output names places only.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::Value;
use stowage_core::app::{AddProfileRequest, AppError};
use stowage_core::secrets::{Field, Secret};

use crate::{doc, CmdResult, Ctx, Failed};

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
    /// Store the team database's password (the `[team]` section) instead of a profile's.
    #[arg(long, conflicts_with_all = ["access_key_id", "anon"])]
    team: bool,
}

#[derive(Args)]
pub struct AddArgs {
    /// The profile's name: letters, digits, `-`, `_` and `.`.
    name: String,
    /// The provider.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(stowage_store::provider::PROVIDERS.iter().map(|p| p.kind)))]
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
) -> Result<Secret, Failed> {
    let value = if from_stdin {
        match lines.next() {
            Some(Ok(line)) => line,
            Some(Err(e)) => {
                return Err(AppError::usage(format!(
                    "cannot read the {what} from standard input: {e}"
                ))
                .into())
            }
            None => {
                return Err(AppError::usage(format!(
                    "standard input ended before the {what}; send it as one line"
                ))
                .into())
            }
        }
    } else {
        rpassword::prompt_password(prompt).map_err(|e| {
            AppError::usage(format!("cannot read the {what} from the terminal: {e}"))
        })?
    };
    let secret = Secret::new(value);
    if secret.is_empty() {
        return Err(AppError::usage(format!("the {what} is empty; nothing was stored")).into());
    }
    Ok(secret)
}

/// `stowage login [--profile P]`: ask for the profile's secrets and keep them in the keyring.
pub fn login(ctx: &Ctx, a: LoginArgs) -> CmdResult {
    if a.team {
        return login_team(ctx, a.stdin);
    }
    let plan = ctx.app.login_plan(a.anon, a.access_key_id.is_some())?;
    if !a.stdin && !ctx.dry_run && !std::io::stdin().is_terminal() {
        return Err(AppError::usage(
            "standard input is not a terminal, so the secret cannot be asked for without \
             echo: pass --stdin to read it from standard input (e.g. `printf '%s\\n' \"$KEY\" \
             | stowage login --stdin --profile NAME`)",
        )
        .into());
    }
    let mut values = Vec::new();
    if ctx.dry_run {
        // Plan with placeholders: nothing is read or stored.
        values.extend(plan.fields.iter().map(|f| (*f, Secret::new("planned"))));
    } else {
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        let p = &plan.profile;
        for field in &plan.fields {
            let value = match field {
                Field::AccessKeyId => {
                    let id = match &a.access_key_id {
                        Some(id) => id.trim().to_string(),
                        None if a.stdin => match lines.next() {
                            Some(Ok(l)) => l.trim().to_string(),
                            _ => {
                                return Err(AppError::usage(
                                    "standard input ended before the access key id; send it \
                                     (or pass --access-key-id) then the secret access key",
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
                                    return Err(AppError::usage(format!(
                                        "cannot read the access key id: {e}"
                                    ))
                                    .into())
                                }
                                None => String::new(),
                            }
                        }
                    };
                    if id.is_empty() {
                        return Err(AppError::usage("the access key id is empty").into());
                    }
                    Secret::new(id)
                }
                Field::SecretAccessKey => read_secret(
                    &mut lines,
                    a.stdin,
                    &format!("Secret access key for profile `{p}` (not shown): "),
                    "secret access key",
                )?,
                other => read_secret(
                    &mut lines,
                    a.stdin,
                    &format!("Supabase {} for profile `{p}` (not shown): ", other.label()),
                    other.label(),
                )?,
            };
            values.push((*field, value));
        }
    }
    let report = ctx.app.login(None, &values, ctx.dry_run)?;
    drop(values);
    let what = plan
        .fields
        .iter()
        .map(|f| f.label())
        .collect::<Vec<_>>()
        .join(" and ");
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
    Ok(doc(&report))
}

/// `stowage login --team`: the team database's password into the keyring.
fn login_team(ctx: &Ctx, stdin: bool) -> CmdResult {
    if !stdin && !ctx.dry_run && !std::io::stdin().is_terminal() {
        return Err(AppError::usage(
            "standard input is not a terminal, so the password cannot be asked for without \
             echo: pass --stdin to read it from standard input",
        )
        .into());
    }
    if ctx.dry_run {
        ctx.say("would store the team database's password in the keyring");
        return Ok(serde_json::json!({"stored": false}));
    }
    let stdin_handle = std::io::stdin();
    let mut lines = stdin_handle.lock().lines();
    let password = read_secret(
        &mut lines,
        stdin,
        "Team database password (not shown): ",
        "team database password",
    )?;
    let keyring = ctx.app.team_login(&password)?;
    drop(password);
    ctx.say(format!(
        "stored the team database's password in {keyring}; `stowage team status` checks it"
    ));
    Ok(serde_json::json!({"stored": true, "keyring": keyring}))
}

/// `stowage profile add NAME --kind …`: write a profile (no secrets) into config.toml.
pub fn add(ctx: &Ctx, a: AddArgs) -> CmdResult {
    let r = ctx.app.add_profile(&AddProfileRequest {
        name: a.name,
        kind: a.kind,
        root: a.root,
        endpoint: a.endpoint,
        region: a.region,
        path_style: a.path_style,
        aws_profile: a.aws_profile,
        url: a.url,
        max_object_size: a.max_object_size,
        org: a.org,
        replace: false,
        make_default: a.make_default,
        dry_run: ctx.dry_run,
    })?;
    ctx.say(format!(
        "{} profile `{}` ({}) to {}{}",
        if ctx.dry_run { "would add" } else { "added" },
        r.profile.name,
        r.profile.backend.kind(),
        r.config_file.display(),
        if r.default {
            " as the default profile"
        } else {
            ""
        }
    ));
    if r.needs_login {
        ctx.say(format!(
            "next: `stowage login --profile {}` keeps its secrets in the OS keyring",
            r.profile.name
        ));
    }
    Ok(doc(&r))
}

/// `stowage profile show [NAME]`: every setting, and where each credential comes from.
pub fn show(ctx: &Ctx, name: Option<String>) -> CmdResult {
    let r = ctx.app.show_profile(name.as_deref())?;
    let mut lines = vec![
        format!("name: {}", r.profile.name),
        format!("kind: {}", r.profile.backend.kind()),
        format!("from: {}", r.defined_in),
    ];
    if let Some(obj) = doc(&r.profile).as_object() {
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
    if let Some(why) = r.selected_by {
        lines.push(format!("selected by: {why}"));
    }
    let report = &r.credentials;
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
    Ok(doc(&r))
}

/// `stowage profile rm NAME`: remove it from config.toml and its secrets from the keyring.
pub fn rm(ctx: &Ctx, name: String) -> CmdResult {
    let r = ctx.app.remove_profile(&name, ctx.dry_run)?;
    let removed = &r.removed;
    ctx.say(format!(
        "{} profile `{name}` from {}{}",
        if ctx.dry_run {
            "would remove"
        } else {
            "removed"
        },
        r.config_file.display(),
        if removed.config.was_default {
            " (it was the default profile; the default is now the built-in `local`)"
        } else {
            ""
        }
    ));
    if !removed.keyring_entries.is_empty() {
        ctx.say(format!(
            "{} its keyring entries {}",
            if ctx.dry_run {
                "would remove"
            } else {
                "removed"
            },
            removed
                .keyring_entries
                .iter()
                .map(|e| format!("`{}` ({})", e.entry, e.keyring))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(p) = &removed.keyring_problem {
        eprintln!(
            "warning: the keyring could not be cleaned, so entries of `{name}` may remain: {p}"
        );
    }
    Ok(doc(&r))
}
