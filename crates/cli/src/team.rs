//! `stowage team status|push|pull|sync|rebuild|members|bind|unbind`: the team catalog on PostgreSQL.

use clap::Subcommand;
use stowage_core::app::TeamStatus;
use stowage_core::team::{Binding, TeamMember};

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
    /// List the members by organization, with the role or user bound to each.
    Members,
    /// Let a database role or a Supabase user read one organization's rows (row-level
    /// security): bind them to a member of it.
    Bind {
        /// The member (their `[team] member` name).
        member: String,
        /// The organization (needed when the member is in several).
        #[arg(long)]
        org: Option<String>,
        /// A database role (`CREATE ROLE ... LOGIN` first).
        #[arg(long)]
        role: Option<String>,
        /// A Supabase user's id (the JWT's `sub`), for reads through Supabase's REST API.
        #[arg(long)]
        user: Option<String>,
    },
    /// Remove a member's role and user bindings in an organization.
    Unbind {
        /// The member.
        member: String,
        /// The organization (needed when the member is in several).
        #[arg(long)]
        org: Option<String>,
    },
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
        TeamCommand::Members => {
            let members = ctx.app.team_members().await?;
            if members.is_empty() {
                ctx.say("no members yet: a member joins with their first `stowage team` command");
            }
            for m in &members {
                ctx.data(member_line(m));
            }
            Ok(doc(&members))
        }
        TeamCommand::Bind {
            member,
            org,
            role,
            user,
        } => {
            let m = ctx
                .app
                .team_bind(
                    member,
                    org,
                    Binding {
                        db_role: role,
                        user_id: user,
                    },
                )
                .await?;
            ctx.say(format!("bound: {}", member_line(&m)));
            Ok(doc(&m))
        }
        TeamCommand::Unbind { member, org } => {
            let m = ctx.app.team_unbind(member, org).await?;
            ctx.say(format!("unbound: {}", member_line(&m)));
            Ok(doc(&m))
        }
    }
}

/// `ana  acme  role analyst_ana, user -  2 machines, 14 versions`
fn member_line(m: &TeamMember) -> String {
    let org = if m.org.is_empty() { "(no org)" } else { &m.org };
    let count = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{:<12} {:<12} role {}, user {}  {}, {}",
        m.name,
        org,
        m.db_role.as_deref().unwrap_or("-"),
        m.user_id.as_deref().unwrap_or("-"),
        count(m.machines, "machine"),
        count(m.versions, "version")
    )
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
