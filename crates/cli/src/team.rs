//! `stowage team status|push|pull|sync|rebuild`: the team catalog on PostgreSQL.

use clap::Subcommand;
use stowage_core::app::TeamStatus;

use crate::{doc, CmdResult, Ctx};

#[derive(Subcommand)]
pub enum TeamCommand {
    /// Show the team database, this machine's link, waiting changes and label conflicts.
    Status,
    /// Send this catalog's waiting changes to the team database.
    Push,
    /// Apply the other machines' changes since the last pull.
    Pull,
    /// Push, then pull.
    Sync,
    /// Fill an empty local catalog from the team's rows (a new machine).
    Rebuild,
}

pub async fn team(ctx: &Ctx, c: TeamCommand) -> CmdResult {
    match c {
        TeamCommand::Status => {
            let s = ctx.app.team_status().await?;
            render_status(ctx, &s);
            Ok(doc(&s))
        }
        TeamCommand::Push => {
            let r = ctx.app.team_push().await?;
            ctx.say(format!(
                "pushed {} changes in {} transactions{}",
                r.sent,
                r.batches,
                conflicts(r.conflicts)
            ));
            Ok(doc(&r))
        }
        TeamCommand::Pull => {
            let r = ctx.app.team_pull().await?;
            ctx.say(format!(
                "applied {} changes; at change {}",
                r.applied, r.cursor
            ));
            Ok(doc(&r))
        }
        TeamCommand::Sync => {
            let r = ctx.app.team_sync().await?;
            ctx.say(format!(
                "pushed {} changes{}; applied {} from the team; at change {}",
                r.pushed.sent,
                conflicts(r.pushed.conflicts),
                r.pulled.applied,
                r.pulled.cursor
            ));
            Ok(doc(&r))
        }
        TeamCommand::Rebuild => {
            let r = ctx.app.team_rebuild().await?;
            ctx.say(format!(
                "rebuilt the catalog from {} team rows; at change {}",
                r.applied, r.cursor
            ));
            Ok(doc(&r))
        }
    }
}

fn conflicts(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} label moves lost to later ones; see `stowage team status`)")
    }
}

fn render_status(ctx: &Ctx, s: &TeamStatus) {
    if !s.configured {
        ctx.data(
            "no team database is configured: add a [team] section to config.toml (host, port, \
             database, user, tls) and run `stowage login --team`, or set \
             STOWAGE_TEAM_DATABASE_URL",
        );
        return;
    }
    let line = |k: &str, v: String| ctx.data(format!("{k:<10} {v}"));
    line("database", s.database.clone().unwrap_or_default());
    line("member", s.member.clone().unwrap_or_default());
    line(
        "password",
        s.password_from
            .as_deref()
            .map_or("none stored (`stowage login --team`)".into(), |f| {
                format!("from {f}")
            }),
    );
    line(
        "machine",
        s.machine.clone().unwrap_or_else(|| "not linked yet".into()),
    );
    line("pending", format!("{} changes to push", s.pending));
    line("cursor", format!("change {}", s.cursor));
    match (&s.remote, &s.error) {
        (Some(r), _) => {
            line(
                "team",
                format!(
                    "{} artifacts, {} versions, {} members, {} machines; newest change {}; \
                     schema {}",
                    r.artifacts, r.versions, r.members, r.machines, r.head, r.schema
                ),
            );
            if r.label_conflicts > 0 {
                line(
                    "conflicts",
                    format!("{} label moves lost:", r.label_conflicts),
                );
                for c in &s.conflicts {
                    ctx.data(format!(
                        "  {} `{}`: {}'s move to {} lost to {}",
                        c.artifact, c.label, c.member, c.lost, c.won
                    ));
                }
            }
        }
        (None, Some(e)) => line("reachable", format!("no: {e}")),
        (None, None) => {}
    }
}
