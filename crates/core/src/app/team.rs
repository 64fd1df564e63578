//! The team catalog's actions: status, push, pull, sync, rebuild, and the database password
//! in the keyring; and the push-then-pull a running watch repeats.

use serde::Serialize;
use ts_rs::TS;

use super::*;
use crate::secrets::{Keyring, Secret};
use crate::team::TeamMember;
use crate::team::{self, Binding, LabelConflict, PullReport, PushReport, RemoteCounts, Team};

/// `team status`: the link as this catalog records it, and what the database holds.
#[derive(Clone, Debug, Default, Serialize, TS)]
pub struct TeamStatus {
    /// Whether a team database is configured.
    pub configured: bool,
    /// `user@host:port/database` (never the password).
    pub database: Option<String>,
    /// This user's name in the team.
    pub member: Option<String>,
    /// Where the password comes from (`keyring`, a variable), if anywhere.
    pub password_from: Option<String>,
    /// This machine's id, once linked.
    pub machine: Option<String>,
    /// Whether this catalog writes its changes to the outbox.
    pub linked: bool,
    /// Changes waiting to be pushed.
    pub pending: u64,
    /// The last change sequence pulled.
    pub cursor: i64,
    /// Whether the database answered just now.
    pub reachable: bool,
    /// Why it did not.
    pub error: Option<String>,
    /// What it holds.
    pub remote: Option<RemoteCounts>,
    /// The newest label moves that lost to concurrent ones.
    pub conflicts: Vec<LabelConflict>,
}

/// `team sync`: what was pushed, then pulled.
#[derive(Clone, Debug, Default, Serialize, TS)]
pub struct TeamSyncReport {
    /// The push.
    pub pushed: PushReport,
    /// The pull.
    pub pulled: PullReport,
    /// Changes still waiting (0 unless the push failed part-way).
    pub pending: u64,
}

/// A task that stops when dropped.
pub(super) struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Work done with the catalog and a connection to the team database.
type TeamWork<T> = Box<
    dyn for<'c> FnOnce(
            &'c Catalog,
            &'c mut Team,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, crate::Error>> + 'c>,
        > + Send,
>;

/// Open the catalog, connect to the team database and do `work`, on a blocking thread (the
/// catalog is a SQLite connection, kept on one thread) driven by the app's runtime.
async fn on_team<T: Send + 'static>(
    paths: crate::Paths,
    target: team::Target,
    work: TeamWork<T>,
) -> Result<T, crate::Error> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(async {
            let catalog = Catalog::open(&paths)?;
            let mut team = Team::connect(&target, &catalog).await?;
            work(&catalog, &mut team).await
        })
    })
    .await
    .map_err(|e| {
        crate::Error::Config(format!(
            "the team database task stopped ({e}); run the command again"
        ))
    })?
}

/// Push, then pull.
async fn push_then_pull(c: &Catalog, t: &mut Team) -> Result<TeamSyncReport, crate::Error> {
    let pushed = t.push(c).await?;
    let pulled = t.pull(c, false).await?;
    Ok(TeamSyncReport {
        pushed,
        pulled,
        pending: c.team_link()?.pending,
    })
}

/// While a watch runs: push, then pull, every `[team] every`. A database that does not
/// answer is tried again next time; meanwhile the outbox keeps every change.
pub(super) fn team_ticker(paths: crate::Paths, target: team::Target) -> Ticker {
    Ticker(tokio::spawn(async move {
        loop {
            tokio::time::sleep(target.every).await;
            let work: TeamWork<TeamSyncReport> = Box::new(|c, t| Box::pin(push_then_pull(c, t)));
            let _ = on_team(paths.clone(), target.clone(), work).await;
        }
    }))
}

impl App {
    /// Run `work` with the catalog and a connection to the team database, on a blocking
    /// thread.
    async fn with_team<T, F>(&self, action: &'static str, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(
                &'c Catalog,
                &'c mut Team,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<T, crate::Error>> + 'c>,
            > + Send
            + 'static,
    {
        let target = team::require_target(&self.config()?)?;
        let paths = self.paths.clone();
        self.run(action, |_op| async move {
            Ok(on_team(paths, target, Box::new(work)).await?)
        })
        .await
    }

    /// `team push`: send this catalog's outbox to the team database.
    pub async fn team_push(&self) -> AppResult<PushReport> {
        self.with_team("team push", |c, t| Box::pin(t.push(c)))
            .await
    }

    /// `team pull`: apply the other machines' changes since the last pull.
    pub async fn team_pull(&self) -> AppResult<PullReport> {
        self.with_team("team pull", |c, t| Box::pin(t.pull(c, false)))
            .await
    }

    /// `team sync`: push, then pull.
    pub async fn team_sync(&self) -> AppResult<TeamSyncReport> {
        self.with_team("team sync", |c, t| Box::pin(push_then_pull(c, t)))
            .await
    }

    /// `team rebuild`: fill an empty local catalog from the team's rows.
    pub async fn team_rebuild(&self) -> AppResult<PullReport> {
        let artifacts = self.catalog(false)?.artifact_count()?;
        if artifacts > 0 {
            return Err(AppError::usage(format!(
                "the local catalog already records {artifacts} artifacts; rebuild fills an \
                 empty one. Run `stowage team pull` to bring it up to date instead"
            )));
        }
        self.with_team("team rebuild", |c, t| Box::pin(t.pull(c, true)))
            .await
    }

    /// `team status`: the local link, and the database's counts when it answers.
    pub async fn team_status(&self) -> AppResult<TeamStatus> {
        let config = self.config()?;
        let link = self.catalog(false)?.team_link()?;
        let mut status = TeamStatus {
            machine: link.machine,
            linked: link.linked,
            pending: link.pending,
            cursor: link.cursor,
            ..TeamStatus::default()
        };
        let Some(target) = team::target(&config)? else {
            return Ok(status);
        };
        status.configured = true;
        status.database = Some(target.describe.clone());
        status.member = Some(target.member.clone());
        status.password_from = target.password_from.clone();
        let remote = self
            .with_team("team status", |_, t| {
                Box::pin(async move { Ok((t.counts().await?, t.conflicts(10).await?)) })
            })
            .await;
        match remote {
            Ok((counts, conflicts)) => {
                status.reachable = true;
                status.remote = Some(counts);
                status.conflicts = conflicts;
                let link = self.catalog(false)?.team_link()?;
                status.machine = link.machine;
                status.linked = link.linked;
                status.pending = link.pending;
            }
            Err(e) => status.error = Some(e.message),
        }
        Ok(status)
    }

    /// `team members`: every member, by organization, with what binds readers to it.
    pub async fn team_members(&self) -> AppResult<Vec<TeamMember>> {
        self.with_team("team members", |_, t| Box::pin(t.members()))
            .await
    }

    /// `team bind`: bind `member` in `org` (their only one when None) to a database role
    /// and/or a Supabase user id, so that reader reads that organization's rows.
    pub async fn team_bind(
        &self,
        member: String,
        org: Option<String>,
        binding: Binding,
    ) -> AppResult<TeamMember> {
        if binding.db_role.is_none() && binding.user_id.is_none() {
            return Err(AppError::usage(
                "say what to bind: --role ROLE (a database role) and/or --user ID (a Supabase \
                 user's id)",
            ));
        }
        self.with_team("team bind", move |_, t| {
            Box::pin(async move { t.bind(&member, org.as_deref(), Some(&binding)).await })
        })
        .await
    }

    /// `team unbind`: remove `member`'s role and user bindings in `org`.
    pub async fn team_unbind(&self, member: String, org: Option<String>) -> AppResult<TeamMember> {
        self.with_team("team unbind", move |_, t| {
            Box::pin(async move { t.bind(&member, org.as_deref(), None).await })
        })
        .await
    }

    /// `login --team`: keep the team database's password in the OS keyring.
    pub fn team_login(&self, password: &Secret) -> AppResult<String> {
        let keyring = Keyring::open()?;
        keyring.set_team_password(password)?;
        Ok(keyring.kind().describe().to_string())
    }
}
