//! The team catalog (M11, M14): one PostgreSQL database (the team's Supabase database, or
//! any PostgreSQL 14+) holding every member's artifacts, versions, copies, labels and
//! transfers, synced from each machine's local catalog, which stays the default and works
//! offline.
//!
//! - Every local catalog change goes into the catalog's outbox in its own transaction (the
//!   schema's triggers, once linked). [`Team::push`] sends it in batches, idempotently
//!   (upserts on natural keys; tombstones for deletions), and only then forgets it: a push
//!   killed at any point loses nothing and duplicates nothing.
//! - [`Team::pull`] applies the others' changes since the cursor, from one snapshot, in one
//!   local transaction that also advances the cursor.
//! - Label moves carry a hybrid logical clock: the later clock wins (on a tie, the larger
//!   machine id), the same on every machine; the losing move is kept in
//!   `stowage.label_conflicts`.
//!
//! The password comes from the OS keyring (`stowage login --team`) or from
//! STOWAGE_TEAM_DATABASE_URL / DATABASE_URL; it is never written, logged or shown.

mod schema;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use stowage_store::ErrorKind;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, IsolationLevel, Row};

use crate::catalog::{ArtifactKey, Catalog, Change, TeamArtifact, TeamLabel, TeamLocation};
use crate::catalog::{TeamTransfer, TeamVersion};
use crate::config::{Config, TeamConfig, TlsMode};
use crate::error::{Error, Result};
use crate::secrets::Keyring;

pub use schema::{MIGRATIONS, SCHEMA_VERSION};

/// The variables that may name the team database (with its password), in order.
pub const URL_VARS: [&str; 2] = ["STOWAGE_TEAM_DATABASE_URL", "DATABASE_URL"];

/// Outbox entries sent per transaction.
const PUSH_BATCH: usize = 2_000;

/// The name errors give the database.
const PROVIDER: &str = "team database";

/// Where the team database is and who this user is in it.
#[derive(Clone)]
pub struct Target {
    pg: tokio_postgres::Config,
    tls: TlsMode,
    ca_file: Option<std::path::PathBuf>,
    /// This user's name in the team.
    pub member: String,
    /// The organization this user works in (empty: none).
    pub org: String,
    /// `user@host:port/database`, for messages (never the password).
    pub describe: String,
    /// Where the password came from: `keyring`, an environment variable, or none.
    pub password_from: Option<String>,
    /// How often a running watch pushes and pulls.
    pub every: Duration,
    /// This machine's profiles (name, provider label), by name: a teammate's copy pulled
    /// here is recorded under the profile that reaches the same provider.
    profiles: Vec<(String, String)>,
}

impl Target {
    /// The profile here through which `provider` is reached for a copy a teammate stored
    /// through their profile `theirs`: `theirs` if it is the same provider here, else the
    /// first profile here of that provider, else `theirs` (reads then say it is not
    /// configured here).
    fn profile_here(&self, theirs: &str, provider: &str) -> String {
        let same = |(_, label): &&(String, String)| label == provider;
        self.profiles
            .iter()
            .filter(same)
            .find(|(name, _)| name == theirs)
            .or_else(|| self.profiles.iter().find(same))
            .map_or_else(|| theirs.to_string(), |(name, _)| name.clone())
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("database", &self.describe)
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// This user's name in the team: `[team] member`, else the login name.
pub fn member_name(config: &Config) -> String {
    config
        .team
        .as_ref()
        .and_then(|t| t.member.clone())
        .unwrap_or_else(login_name)
}

fn login_name() -> String {
    ["STOWAGE_TEAM_MEMBER", "USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "me".into())
}

fn team_error(kind: ErrorKind, message: String, hint: &str) -> Error {
    stowage_store::Error::new(kind, PROVIDER, message)
        .hint(hint.to_string())
        .into()
}

const NOT_CONFIGURED: &str = "no team database is configured: add a [team] section (host, port, \
     database, user, tls) to config.toml and run `stowage login --team`, or set \
     STOWAGE_TEAM_DATABASE_URL";

/// The team database the configuration names, with its password from the environment's URL
/// or the keyring; None when there is none.
pub fn target(config: &Config) -> Result<Option<Target>> {
    let team = config.team.clone();
    let url = URL_VARS.iter().find_map(|v| {
        std::env::var(v)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .map(|u| (*v, u))
    });
    let (pg, tls, ca_file, password_from) = match (&url, &team) {
        (Some((var, url)), team) => {
            let pg: tokio_postgres::Config = url.parse().map_err(|_| {
                // The parser's message may quote the URL, password and all.
                Error::Config(format!(
                    "{var} is not a PostgreSQL connection URL; write it like \
                     postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require"
                ))
            })?;
            let tls = match pg.get_ssl_mode() {
                tokio_postgres::config::SslMode::Disable => TlsMode::Disable,
                _ => team.as_ref().map_or(TlsMode::Require, |t| t.tls),
            };
            let from = pg.get_password().map(|_| var.to_string());
            (pg, tls, team.as_ref().and_then(|t| t.ca_file.clone()), from)
        }
        (None, Some(t)) => {
            let mut pg = tokio_postgres::Config::new();
            pg.host(&t.host)
                .port(t.port)
                .dbname(&t.database)
                .user(&t.user);
            let mut from = None;
            if let Some(Some(p)) = Keyring::open()
                .ok()
                .map(|k| k.team_password())
                .transpose()?
            {
                pg.password(p.expose());
                from = Some("keyring".to_string());
            }
            (pg, t.tls, t.ca_file.clone(), from)
        }
        (None, None) => return Ok(None),
    };
    let mut pg = pg;
    pg.connect_timeout(Duration::from_secs(5))
        .application_name("stowage")
        .ssl_mode(if tls == TlsMode::Disable {
            tokio_postgres::config::SslMode::Disable
        } else {
            tokio_postgres::config::SslMode::Require
        });
    let host = pg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let describe = format!(
        "{}@{host}:{}/{}",
        pg.get_user().unwrap_or("postgres"),
        pg.get_ports().first().copied().unwrap_or(5432),
        pg.get_dbname().unwrap_or("postgres")
    );
    let TeamConfig {
        member, org, every, ..
    } = team.unwrap_or(TeamConfig {
        host: String::new(),
        port: 5432,
        database: String::new(),
        user: String::new(),
        tls,
        ca_file: None,
        member: None,
        org: None,
        every: crate::config::TEAM_EVERY,
    });
    Ok(Some(Target {
        pg,
        tls,
        ca_file,
        member: member.unwrap_or_else(login_name),
        org: org.unwrap_or_default(),
        describe,
        password_from,
        every,
        profiles: config
            .profiles
            .values()
            .map(|p| (p.name.clone(), p.backend.label()))
            .collect(),
    }))
}

/// The configured target, or the error saying how to configure one.
pub fn require_target(config: &Config) -> Result<Target> {
    target(config)?.ok_or_else(|| Error::Config(NOT_CONFIGURED.into()))
}

/// A certificate check that accepts any certificate (TLS mode `require`, as libpq's).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(t: &Target) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| team_error(ErrorKind::Other, format!("TLS setup: {e}"), "report this"))?;
    Ok(match t.tls {
        TlsMode::VerifyFull => {
            let mut roots = rustls::RootCertStore::empty();
            if let Some(ca) = &t.ca_file {
                use rustls::pki_types::pem::PemObject;
                let certs = rustls::pki_types::CertificateDer::pem_file_iter(ca)
                    .and_then(|i| i.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| {
                        Error::Config(format!(
                            "[team] ca_file {}: not a PEM certificate ({e}); download the \
                             database's CA certificate again",
                            ca.display()
                        ))
                    })?;
                roots.add_parsable_certificates(certs);
            } else {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    })
}

/// A database error in words, with the next step; never the password.
fn pg_error(t: &Target, doing: &str, e: tokio_postgres::Error) -> Error {
    use tokio_postgres::error::SqlState;
    let code = e.code().cloned();
    let detail = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    };
    let (kind, hint) = match code {
        Some(c)
            if c == SqlState::INVALID_PASSWORD
                || c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            (
                ErrorKind::Unauthorized,
                "store the database password with `stowage login --team` (or set \
             STOWAGE_TEAM_DATABASE_URL), then try again",
            )
        }
        Some(c) if c == SqlState::INSUFFICIENT_PRIVILEGE => (
            ErrorKind::Unauthorized,
            "connect as a role that owns the `stowage` schema (or may create it): [team] user",
        ),
        None if detail.contains("certificate") => (
            ErrorKind::Unauthorized,
            "the server's certificate is not trusted: set [team] ca_file to the database's CA \
             certificate (PEM), or tls = \"require\" to encrypt without checking it",
        ),
        None if detail.contains("password missing") => (
            ErrorKind::Unauthorized,
            "the database asks for a password: store it with `stowage login --team` (or set \
             STOWAGE_TEAM_DATABASE_URL), then try again",
        ),
        Some(_) => (
            ErrorKind::Other,
            "check the team database; `stowage team status` shows what Stowage sees",
        ),
        None if e.is_closed() || detail.contains("connect") || detail.contains("timed out") => (
            ErrorKind::Unavailable,
            "the database did not answer; local work goes on and the outbox waits. Check \
             [team] host and port, then run `stowage team push` again",
        ),
        None => (
            ErrorKind::Unavailable,
            "the connection failed; local work goes on and the outbox waits. Try `stowage team \
             push` again",
        ),
    };
    let mut message = format!("{doing} on {}: {detail}", t.describe);
    if kind == ErrorKind::Unauthorized && t.password_from.is_none() {
        message.push_str(" (no password is stored for it)");
    }
    team_error(kind, message, hint)
}

/// What `stowage team push` did.
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct PushReport {
    /// Rows sent (artifacts, versions, copies, labels, transfers).
    pub sent: u64,
    /// Transactions used.
    pub batches: u64,
    /// Label moves that lost to a concurrent move (kept in `stowage.label_conflicts`).
    pub conflicts: u64,
}

/// What `stowage team pull` did.
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct PullReport {
    /// Rows applied from other machines.
    pub applied: u64,
    /// The change sequence now reached.
    pub cursor: i64,
}

/// What the team database holds, as `stowage team status` shows it.
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct RemoteCounts {
    /// The schema version there.
    pub schema: i32,
    /// Artifacts (not deleted).
    pub artifacts: u64,
    /// Versions (not deleted).
    pub versions: u64,
    /// Members.
    pub members: u64,
    /// Machines.
    pub machines: u64,
    /// Label moves that lost.
    pub label_conflicts: u64,
    /// The newest change sequence.
    pub head: i64,
}

/// One label move that lost to a concurrent one.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct LabelConflict {
    /// The artifact's name.
    pub artifact: String,
    /// The label.
    pub label: String,
    /// The version the losing move pointed at.
    pub lost: String,
    /// Who made it.
    pub member: String,
    /// The version the label points at instead.
    pub won: String,
}

/// A member of the team in one organization, and what binds readers to it (row-level
/// security: a database role, or a Supabase user id, reads that organization's rows).
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct TeamMember {
    /// The member's name (`[team] member`).
    pub name: String,
    /// The organization (empty: none).
    pub org: String,
    /// The database role bound to it.
    pub db_role: Option<String>,
    /// The Supabase user id (the JWT's `sub`) bound to it.
    pub user_id: Option<String>,
    /// The member's machines in that organization.
    pub machines: u64,
    /// The member's versions there (not deleted).
    pub versions: u64,
}

/// What `team bind` sets: a database role, a Supabase user id, or both.
#[derive(Clone, Debug, Default)]
pub struct Binding {
    /// The database role.
    pub db_role: Option<String>,
    /// The Supabase user id.
    pub user_id: Option<String>,
}

/// A connection to the team database, its schema up to date and this machine registered.
pub struct Team {
    client: Client,
    target: Target,
    machine: String,
}

fn machine_id() -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(hostname().as_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(crate::units::now_ns().to_le_bytes());
    h.update(format!("{:?}", std::thread::current().id()).as_bytes());
    hex::encode(&h.finalize()[..12])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

impl Team {
    /// Connect, bring the schema up to date (refusing a newer one) and register this
    /// machine; the catalog is linked (its outbox on) from now on.
    pub async fn connect(target: &Target, catalog: &Catalog) -> Result<Team> {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(target)?);
        let (client, connection) = target
            .pg
            .connect(tls)
            .await
            .map_err(|e| pg_error(target, "connecting", e))?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; the next call says so.
            let _ = connection.await;
        });
        migrate(&client, target).await?;
        let machine = catalog.team_link_up(&machine_id())?;
        client
            .execute(
                "INSERT INTO stowage.machines (id, member, hostname, org) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET member = excluded.member,
                   hostname = excluded.hostname, org = excluded.org, last_seen = now()",
                &[&machine, &target.member, &hostname(), &target.org],
            )
            .await
            .map_err(|e| pg_error(target, "registering this machine", e))?;
        client
            .execute(
                "INSERT INTO stowage.members (name, org) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&target.member, &target.org],
            )
            .await
            .map_err(|e| pg_error(target, "registering this member", e))?;
        Ok(Team {
            client,
            target: target.clone(),
            machine,
        })
    }

    /// This machine's id.
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// Send the outbox, a batch per transaction, each acknowledged locally only after the
    /// database committed it.
    pub async fn push(&mut self, catalog: &Catalog) -> Result<PushReport> {
        let mut report = PushReport::default();
        loop {
            let outbox = catalog.team_outbox(PUSH_BATCH)?;
            if outbox.last_id == 0 {
                return Ok(report);
            }
            let tx = self
                .client
                .transaction()
                .await
                .map_err(|e| pg_error(&self.target, "pushing", e))?;
            let t = &self.target;
            let err = |e| pg_error(t, "pushing", e);
            // Pushes take turns: a change sequence is never committed below one already
            // seen by a puller.
            tx.execute("SELECT pg_advisory_xact_lock(7243001)", &[])
                .await
                .map_err(err)?;
            let conflicts = send(&tx, &outbox.changes, &self.machine, t).await?;
            tx.commit().await.map_err(err)?;
            catalog.team_acknowledge(outbox.last_id)?;
            report.sent += outbox.changes.len() as u64;
            report.batches += 1;
            report.conflicts += conflicts;
        }
    }

    /// Apply the other machines' changes since the cursor, from one snapshot, in one local
    /// transaction with the new cursor. `bulk`: the catalog is empty (a rebuild).
    pub async fn pull(&mut self, catalog: &Catalog, bulk: bool) -> Result<PullReport> {
        let t = self.target.clone();
        let err = |e| pg_error(&t, "pulling", e);
        let cursor = catalog.team_link()?.cursor;
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(err)?;
        let mut applier = catalog.team_applier(bulk)?;
        let mut report = PullReport { applied: 0, cursor };
        let mut hlc = 0;
        for (table, sql) in PULLS {
            // Streamed: memory stays flat whatever the team's size.
            let rows = tx
                .query_raw(*sql, [&cursor as &(dyn ToSql + Sync)])
                .await
                .map_err(err)?;
            futures::pin_mut!(rows);
            while let Some(row) = futures::StreamExt::next(&mut rows).await {
                let row = row.map_err(err)?;
                let seq: i64 = row.get("seq");
                report.cursor = report.cursor.max(seq);
                let machine: &str = row.get("machine");
                if machine == self.machine {
                    continue;
                }
                let change = pulled(table, &row, &self.target);
                if let Change::Label(l, _) = &change {
                    hlc = hlc.max(l.hlc);
                }
                applier.apply(&change)?;
                report.applied += 1;
            }
        }
        applier.finish(report.cursor, hlc)?;
        let _ = tx.commit().await;
        Ok(report)
    }

    /// What the database holds.
    pub async fn counts(&self) -> Result<RemoteCounts> {
        let row = self
            .client
            .query_one(
                "SELECT (SELECT MAX(version) FROM stowage.schema_version),
                   (SELECT COUNT(*) FROM stowage.artifacts WHERE NOT deleted),
                   (SELECT COUNT(*) FROM stowage.versions WHERE NOT deleted),
                   (SELECT COUNT(DISTINCT name) FROM stowage.members),
                   (SELECT COUNT(*) FROM stowage.machines),
                   (SELECT COUNT(*) FROM stowage.label_conflicts),
                   GREATEST((SELECT MAX(seq) FROM stowage.artifacts),
                            (SELECT MAX(seq) FROM stowage.versions),
                            (SELECT MAX(seq) FROM stowage.locations),
                            (SELECT MAX(seq) FROM stowage.labels),
                            (SELECT MAX(seq) FROM stowage.transfers))",
                &[],
            )
            .await
            .map_err(|e| pg_error(&self.target, "reading the status", e))?;
        Ok(RemoteCounts {
            schema: row.get(0),
            artifacts: row.get::<_, i64>(1) as u64,
            versions: row.get::<_, i64>(2) as u64,
            members: row.get::<_, i64>(3) as u64,
            machines: row.get::<_, i64>(4) as u64,
            label_conflicts: row.get::<_, i64>(5) as u64,
            head: row.get::<_, Option<i64>>(6).unwrap_or(0),
        })
    }

    /// Every member, by organization, with their bindings.
    pub async fn members(&self) -> Result<Vec<TeamMember>> {
        let rows = self
            .client
            .query(
                "SELECT m.name, m.org, m.db_role, m.user_id,
                   (SELECT COUNT(*) FROM stowage.machines x
                     WHERE x.member = m.name AND x.org = m.org),
                   (SELECT COUNT(*) FROM stowage.versions v
                     WHERE v.member = m.name AND v.org = m.org AND NOT v.deleted)
                 FROM stowage.members m ORDER BY m.name, m.org",
                &[],
            )
            .await
            .map_err(|e| pg_error(&self.target, "reading the members", e))?;
        Ok(rows.iter().map(member_from).collect())
    }

    /// Bind `member` in `org` (None: their only organization) to what `binding` names,
    /// leaving what it does not name; or, with `None`, remove both bindings. Refuses a member
    /// the team has not seen and a database role that does not exist.
    pub async fn bind(
        &self,
        member: &str,
        org: Option<&str>,
        binding: Option<&Binding>,
    ) -> Result<TeamMember> {
        let all = self.members().await?;
        let theirs: Vec<&TeamMember> = all.iter().filter(|m| m.name == member).collect();
        let named = |ms: &[&TeamMember]| {
            ms.iter()
                .map(|m| format!("`{}`", m.org))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found = match (org, theirs.as_slice()) {
            (_, []) => {
                let mut known: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
                known.dedup();
                return Err(team_error(
                    ErrorKind::NotFound,
                    format!(
                        "no member `{member}` in the team database {} (members: {})",
                        self.target.describe,
                        if known.is_empty() {
                            "none yet".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                    "a member joins with their first `stowage team` command ([team] member \
                     names them); check the name with `stowage team members`",
                ));
            }
            (None, [one]) => *one,
            (None, several) => {
                return Err(Error::Usage(format!(
                    "member `{member}` is in several organizations ({}): say which with --org",
                    named(several)
                )))
            }
            (Some(o), several) => match several.iter().find(|m| m.org == o) {
                Some(m) => *m,
                None => {
                    return Err(team_error(
                        ErrorKind::NotFound,
                        format!(
                            "member `{member}` is not in organization `{o}` (theirs: {})",
                            named(several)
                        ),
                        "a member joins an organization with a `stowage team` command from a \
                         machine whose [team] org names it",
                    ))
                }
            },
        };
        if let Some(role) = binding.and_then(|b| b.db_role.as_deref()) {
            let exists = self
                .client
                .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
                .await
                .map_err(|e| pg_error(&self.target, "looking up the role", e))?
                .is_some();
            if !exists {
                return Err(team_error(
                    ErrorKind::NotFound,
                    format!(
                        "no database role `{role}` on {}; nothing was bound",
                        self.target.describe
                    ),
                    "create it first (`CREATE ROLE name LOGIN PASSWORD '...'`), or bind a \
                     Supabase user with --user",
                ));
            }
        }
        let (role, user, clear) = match binding {
            Some(b) => (b.db_role.as_deref(), b.user_id.as_deref(), false),
            None => (None, None, true),
        };
        let row = self
            .client
            .query_one(
                "UPDATE stowage.members m
                 SET db_role = CASE WHEN $5 THEN NULL ELSE COALESCE($3, m.db_role) END,
                     user_id = CASE WHEN $5 THEN NULL ELSE COALESCE($4, m.user_id) END
                 WHERE m.name = $1 AND m.org = $2
                 RETURNING m.name, m.org, m.db_role, m.user_id,
                   (SELECT COUNT(*) FROM stowage.machines x
                     WHERE x.member = m.name AND x.org = m.org),
                   (SELECT COUNT(*) FROM stowage.versions v
                     WHERE v.member = m.name AND v.org = m.org AND NOT v.deleted)",
                &[&found.name, &found.org, &role, &user, &clear],
            )
            .await
            .map_err(|e| pg_error(&self.target, "binding the member", e))?;
        Ok(member_from(&row))
    }

    /// The newest label moves that lost, newest first.
    pub async fn conflicts(&self, limit: i64) -> Result<Vec<LabelConflict>> {
        let rows = self
            .client
            .query(
                "SELECT folder || family || CASE WHEN extension = '' THEN '' ELSE '.' || extension END,
                   name, version, member, winner_version
                 FROM stowage.label_conflicts ORDER BY id DESC LIMIT $1",
                &[&limit],
            )
            .await
            .map_err(|e| pg_error(&self.target, "reading label conflicts", e))?;
        Ok(rows
            .iter()
            .map(|r| LabelConflict {
                artifact: r.get(0),
                label: r.get(1),
                lost: r.get(2),
                member: r.get(3),
                won: r.get(4),
            })
            .collect())
    }
}

fn member_from(r: &Row) -> TeamMember {
    TeamMember {
        name: r.get(0),
        org: r.get(1),
        db_role: r.get(2),
        user_id: r.get(3),
        machines: r.get::<_, i64>(4) as u64,
        versions: r.get::<_, i64>(5) as u64,
    }
}

/// Create or upgrade the schema, one migration per transaction, under an advisory lock;
/// refuse a schema newer than this build knows.
async fn migrate(client: &Client, t: &Target) -> Result<()> {
    let err = |e| pg_error(t, "preparing the schema", e);
    client
        .batch_execute(
            "SELECT pg_advisory_lock(7243000);
             CREATE SCHEMA IF NOT EXISTS stowage;
             CREATE TABLE IF NOT EXISTS stowage.schema_version (
                 version integer NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());",
        )
        .await
        .map_err(err)?;
    let result = async {
        let current: i32 = client
            .query_one("SELECT COALESCE(MAX(version), 0) FROM stowage.schema_version", &[])
            .await
            .map_err(err)?
            .get(0);
        if current > SCHEMA_VERSION {
            return Err(team_error(
                ErrorKind::Other,
                format!(
                    "the team database {} has the `stowage` schema at version {current}, newer \
                     than this Stowage knows ({SCHEMA_VERSION}); nothing was changed",
                    t.describe
                ),
                "upgrade Stowage on this machine to the version your team uses",
            ));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as i32 + 1;
            let applied = client
                .batch_execute(&format!(
                    "BEGIN; {sql}; INSERT INTO stowage.schema_version (version) VALUES ({version}); COMMIT;"
                ))
                .await;
            if let Err(e) = applied {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(err(e));
            }
        }
        Ok(())
    }
    .await;
    let _ = client
        .batch_execute("SELECT pg_advisory_unlock(7243000)")
        .await;
    result
}

/// The pulls, in dependency order: each selects the rows changed after the cursor.
const PULLS: &[(&str, &str)] = &[
    (
        "artifact",
        "SELECT org, folder, family, extension, kind, framework, created_ns, member, machine,
           seq, deleted FROM stowage.artifacts WHERE seq > $1 ORDER BY seq",
    ),
    (
        "version",
        "SELECT org, folder, family, extension, version, sha256, size, original_size, encoding,
           mtime_ns, source_path, created_ns, accuracy, loss, epochs, model_type, dataset_count,
           training_split, other_metrics::text AS other_metrics, member, machine, seq, deleted
         FROM stowage.versions WHERE seq > $1 ORDER BY seq",
    ),
    (
        "location",
        "SELECT provider, bucket, key, profile, org, folder, family, extension, version,
           version_sha256, size, etag, sha256, stored_ns, member, machine, seq, deleted
         FROM stowage.locations WHERE seq > $1 ORDER BY seq",
    ),
    (
        "label",
        "SELECT org, folder, family, extension, name, version, version_sha256, hlc, member,
           machine, seq, deleted FROM stowage.labels WHERE seq > $1 ORDER BY seq",
    ),
    (
        "transfer",
        "SELECT local_id, profile, provider, bucket, direction, bytes, requests, at_ns, member,
           machine, seq FROM stowage.transfers WHERE seq > $1 ORDER BY seq",
    ),
];

fn key_from(row: &Row) -> ArtifactKey {
    ArtifactKey {
        org: row.get("org"),
        folder: row.get("folder"),
        family: row.get("family"),
        extension: row.get("extension"),
    }
}

/// A pulled row as a change; a row of `me` (from another of my machines) is my own.
fn pulled(table: &str, row: &Row, here: &Target) -> Change {
    let member: String = row.get("member");
    let member = (member != here.member).then_some(member);
    let profile = || here.profile_here(row.get("profile"), row.get("provider"));
    let deleted = || row.get::<_, bool>("deleted");
    match table {
        "artifact" if deleted() => Change::ArtifactGone(key_from(row)),
        "artifact" => Change::Artifact(TeamArtifact {
            key: key_from(row),
            kind: row.get("kind"),
            framework: row.get("framework"),
            created_ns: row.get("created_ns"),
        }),
        "version" if deleted() => {
            Change::VersionGone(key_from(row), row.get("version"), row.get("sha256"))
        }
        "version" => Change::Version(
            TeamVersion {
                artifact: key_from(row),
                version: row.get("version"),
                sha256: row.get("sha256"),
                size: row.get("size"),
                original_size: row.get("original_size"),
                encoding: row.get("encoding"),
                mtime_ns: row.get("mtime_ns"),
                source_path: row.get("source_path"),
                created_ns: row.get("created_ns"),
                accuracy: row.get("accuracy"),
                loss: row.get("loss"),
                epochs: row.get("epochs"),
                model_type: row.get("model_type"),
                dataset_count: row.get("dataset_count"),
                training_split: row.get("training_split"),
                other_metrics: row.get("other_metrics"),
            },
            member,
        ),
        "location" if deleted() => {
            Change::LocationGone(row.get("provider"), row.get("bucket"), row.get("key"))
        }
        "location" => Change::Location(
            TeamLocation {
                provider: row.get("provider"),
                bucket: row.get("bucket"),
                key: row.get("key"),
                profile: profile(),
                artifact: key_from(row),
                version: row.get("version"),
                version_sha256: row.get("version_sha256"),
                size: row.get("size"),
                etag: row.get("etag"),
                sha256: row.get("sha256"),
                stored_ns: row.get("stored_ns"),
            },
            member,
        ),
        "label" => {
            let gone = deleted();
            Change::Label(
                TeamLabel {
                    artifact: key_from(row),
                    name: row.get("name"),
                    version: if gone {
                        String::new()
                    } else {
                        row.get("version")
                    },
                    version_sha256: if gone {
                        String::new()
                    } else {
                        row.get("version_sha256")
                    },
                    hlc: row.get("hlc"),
                    base: 0,
                },
                member,
            )
        }
        _ => Change::Transfer(
            TeamTransfer {
                local_id: row.get("local_id"),
                profile: profile(),
                provider: row.get("provider"),
                bucket: row.get("bucket"),
                direction: row.get("direction"),
                bytes: row.get("bytes"),
                requests: row.get("requests"),
                at_ns: row.get("at_ns"),
            },
            member,
        ),
    }
}

/// Columns of one kind of row, gathered for one `unnest` statement.
#[derive(Default)]
struct Columns {
    text: Vec<Vec<Option<String>>>,
    int: Vec<Vec<Option<i64>>>,
    float: Vec<Vec<Option<f64>>>,
}

impl Columns {
    fn new(texts: usize, ints: usize, floats: usize) -> Columns {
        Columns {
            text: vec![Vec::new(); texts],
            int: vec![Vec::new(); ints],
            float: vec![Vec::new(); floats],
        }
    }

    fn len(&self) -> usize {
        self.text.first().map_or(0, Vec::len)
    }

    fn push(&mut self, texts: &[Option<&str>], ints: &[Option<i64>], floats: &[Option<f64>]) {
        for (c, v) in self.text.iter_mut().zip(texts) {
            c.push(v.map(str::to_string));
        }
        for (c, v) in self.int.iter_mut().zip(ints) {
            c.push(*v);
        }
        for (c, v) in self.float.iter_mut().zip(floats) {
            c.push(*v);
        }
    }

    /// The parameters, texts then integers then floats, then `extra`.
    fn params<'a>(&'a self, extra: &[&'a (dyn ToSql + Sync)]) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut p: Vec<&(dyn ToSql + Sync)> = Vec::new();
        p.extend(self.text.iter().map(|c| c as &(dyn ToSql + Sync)));
        p.extend(self.int.iter().map(|c| c as &(dyn ToSql + Sync)));
        p.extend(self.float.iter().map(|c| c as &(dyn ToSql + Sync)));
        p.extend_from_slice(extra);
        p
    }
}

fn key_texts(k: &ArtifactKey) -> [Option<&str>; 4] {
    [
        Some(&k.org),
        Some(&k.folder),
        Some(&k.family),
        Some(&k.extension),
    ]
}

/// Send one batch of changes inside `tx`; returns how many label moves lost.
async fn send(
    tx: &tokio_postgres::Transaction<'_>,
    changes: &[Change],
    machine: &str,
    t: &Target,
) -> Result<u64> {
    let err = |e| pg_error(t, "pushing", e);
    let me = t.member.as_str();
    let mut artifacts = Columns::new(6, 1, 0);
    let mut artifacts_gone = Columns::new(4, 0, 0);
    let mut versions = Columns::new(12, 6, 2);
    let mut versions_gone = Columns::new(6, 0, 0);
    let mut locations = Columns::new(13, 2, 0);
    let mut locations_gone = Columns::new(3, 0, 0);
    let mut transfers = Columns::new(5, 4, 0);
    let mut labels = Vec::new();
    for c in changes {
        match c {
            Change::Artifact(a) => {
                let [o, f, fa, e] = key_texts(&a.key);
                artifacts.push(
                    &[o, f, fa, e, Some(&a.kind), a.framework.as_deref()],
                    &[Some(a.created_ns)],
                    &[],
                );
            }
            Change::ArtifactGone(k) => artifacts_gone.push(&key_texts(k), &[], &[]),
            Change::Version(v, member) => {
                let [o, f, fa, e] = key_texts(&v.artifact);
                versions.push(
                    &[
                        o,
                        f,
                        fa,
                        e,
                        Some(&v.version),
                        Some(&v.sha256),
                        v.encoding.as_deref(),
                        v.source_path.as_deref(),
                        v.model_type.as_deref(),
                        v.training_split.as_deref(),
                        v.other_metrics.as_deref(),
                        Some(member.as_deref().unwrap_or(me)),
                    ],
                    &[
                        Some(v.size),
                        Some(v.original_size),
                        v.mtime_ns,
                        Some(v.created_ns),
                        v.epochs,
                        v.dataset_count,
                    ],
                    &[v.accuracy, v.loss],
                );
            }
            Change::VersionGone(k, version, sha) => {
                let [o, f, fa, e] = key_texts(k);
                versions_gone.push(&[o, f, fa, e, Some(version), Some(sha)], &[], &[]);
            }
            Change::Location(l, member) => {
                let [o, f, fa, e] = key_texts(&l.artifact);
                locations.push(
                    &[
                        Some(&l.provider),
                        Some(&l.bucket),
                        Some(&l.key),
                        Some(&l.profile),
                        o,
                        f,
                        fa,
                        e,
                        Some(&l.version),
                        Some(&l.version_sha256),
                        l.etag.as_deref(),
                        l.sha256.as_deref(),
                        Some(member.as_deref().unwrap_or(me)),
                    ],
                    &[Some(l.size), Some(l.stored_ns)],
                    &[],
                );
            }
            Change::LocationGone(p, b, k) => {
                locations_gone.push(&[Some(p), Some(b), Some(k)], &[], &[])
            }
            Change::Label(l, member) => labels.push((l, member)),
            Change::Transfer(x, member) => transfers.push(
                &[
                    Some(&x.profile),
                    Some(&x.provider),
                    Some(&x.bucket),
                    Some(&x.direction),
                    Some(member.as_deref().unwrap_or(me)),
                ],
                &[
                    Some(x.local_id),
                    Some(x.bytes),
                    Some(x.requests),
                    Some(x.at_ns),
                ],
                &[],
            ),
        }
    }
    let m: &(dyn ToSql + Sync) = &machine;
    let me_param: &(dyn ToSql + Sync) = &me;
    let org: &(dyn ToSql + Sync) = &t.org;
    if artifacts.len() > 0 {
        tx.execute(
            "INSERT INTO stowage.artifacts (org, folder, family, extension, kind, framework,
               created_ns, member, machine, seq)
             SELECT u.org, u.folder, u.family, u.extension, u.kind, u.framework, u.created_ns,
               $8, $9, nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::bigint[])
               AS u(org, folder, family, extension, kind, framework, created_ns)
             ON CONFLICT (org, folder, family, extension) DO UPDATE
               SET kind = excluded.kind, framework = excluded.framework,
                   machine = excluded.machine, seq = excluded.seq, deleted = false",
            &artifacts.params(&[me_param, m]),
        )
        .await
        .map_err(err)?;
    }
    if versions.len() > 0 {
        tx.execute(
            "INSERT INTO stowage.versions (org, folder, family, extension, version, sha256,
               encoding, source_path, model_type, training_split, other_metrics, member,
               size, original_size, mtime_ns, created_ns, epochs, dataset_count, accuracy, loss,
               machine, seq)
             SELECT u.org, u.folder, u.family, u.extension, u.version, u.sha256, u.encoding,
               u.source_path, u.model_type, u.training_split, u.other_metrics::jsonb, u.member,
               u.size, u.original_size, u.mtime_ns, u.created_ns, u.epochs, u.dataset_count,
               u.accuracy, u.loss, $21, nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                         $12::text[], $13::bigint[], $14::bigint[], $15::bigint[],
                         $16::bigint[], $17::bigint[], $18::bigint[], $19::float8[],
                         $20::float8[])
               AS u(org, folder, family, extension, version, sha256, encoding, source_path,
                    model_type, training_split, other_metrics, member, size, original_size,
                    mtime_ns, created_ns, epochs, dataset_count, accuracy, loss)
             ON CONFLICT (org, folder, family, extension, version, sha256) DO UPDATE
               SET size = excluded.size, original_size = excluded.original_size,
                   encoding = excluded.encoding, accuracy = excluded.accuracy,
                   loss = excluded.loss, epochs = excluded.epochs,
                   model_type = excluded.model_type, dataset_count = excluded.dataset_count,
                   training_split = excluded.training_split,
                   other_metrics = excluded.other_metrics, machine = excluded.machine,
                   seq = excluded.seq, deleted = false",
            &versions.params(&[m]),
        )
        .await
        .map_err(err)?;
    }
    if locations.len() > 0 {
        tx.execute(
            "INSERT INTO stowage.locations (provider, bucket, key, profile, org, folder, family,
               extension, version, version_sha256, etag, sha256, member, size, stored_ns,
               machine, seq)
             SELECT u.provider, u.bucket, u.key, u.profile, u.org, u.folder, u.family,
               u.extension, u.version, u.version_sha256, u.etag, u.sha256, u.member, u.size,
               u.stored_ns, $16, nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                         $12::text[], $13::text[], $14::bigint[], $15::bigint[])
               AS u(provider, bucket, key, profile, org, folder, family, extension, version,
                    version_sha256, etag, sha256, member, size, stored_ns)
             ON CONFLICT (provider, bucket, key) DO UPDATE
               SET profile = excluded.profile, org = excluded.org, folder = excluded.folder,
                   family = excluded.family, extension = excluded.extension,
                   version = excluded.version, version_sha256 = excluded.version_sha256,
                   etag = excluded.etag, sha256 = excluded.sha256, member = excluded.member,
                   size = excluded.size, stored_ns = excluded.stored_ns,
                   machine = excluded.machine, seq = excluded.seq, deleted = false",
            &locations.params(&[m]),
        )
        .await
        .map_err(err)?;
    }
    if transfers.len() > 0 {
        tx.execute(
            "INSERT INTO stowage.transfers (profile, provider, bucket, direction, member,
               local_id, bytes, requests, at_ns, machine, org, seq)
             SELECT u.profile, u.provider, u.bucket, u.direction, u.member, u.local_id,
               u.bytes, u.requests, u.at_ns, $10, $11, nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
               AS u(profile, provider, bucket, direction, member, local_id, bytes, requests,
                    at_ns)
             ON CONFLICT (machine, local_id) DO NOTHING",
            &transfers.params(&[m, org]),
        )
        .await
        .map_err(err)?;
    }
    if locations_gone.len() > 0 {
        tx.execute(
            "UPDATE stowage.locations t SET deleted = true, machine = $4,
               seq = nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[]) AS u(provider, bucket, key)
             WHERE (t.provider, t.bucket, t.key) = (u.provider, u.bucket, u.key)
               AND NOT t.deleted",
            &locations_gone.params(&[m]),
        )
        .await
        .map_err(err)?;
    }
    if versions_gone.len() > 0 {
        tx.execute(
            "UPDATE stowage.versions t SET deleted = true, machine = $7,
               seq = nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
               AS u(org, folder, family, extension, version, sha256)
             WHERE (t.org, t.folder, t.family, t.extension, t.version, t.sha256)
                 = (u.org, u.folder, u.family, u.extension, u.version, u.sha256)
               AND NOT t.deleted
               AND NOT EXISTS (SELECT 1 FROM stowage.locations o
                               WHERE (o.org, o.folder, o.family, o.extension, o.version_sha256)
                                   = (t.org, t.folder, t.family, t.extension, t.sha256)
                                 AND NOT o.deleted)",
            &versions_gone.params(&[m]),
        )
        .await
        .map_err(err)?;
    }
    if artifacts_gone.len() > 0 {
        tx.execute(
            "UPDATE stowage.artifacts t SET deleted = true, machine = $5,
               seq = nextval('stowage.change_seq')
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
               AS u(org, folder, family, extension)
             WHERE (t.org, t.folder, t.family, t.extension)
                 = (u.org, u.folder, u.family, u.extension)
               AND NOT t.deleted
               AND NOT EXISTS (SELECT 1 FROM stowage.versions v
                               WHERE (v.org, v.folder, v.family, v.extension)
                                   = (t.org, t.folder, t.family, t.extension)
                                 AND NOT v.deleted)",
            &artifacts_gone.params(&[m]),
        )
        .await
        .map_err(err)?;
    }
    let lost = send_labels(tx, &labels, machine, t).await?;
    Ok(lost)
}

/// Send label moves: each replaces the label when its clock is later (on a tie, its machine
/// id larger); a move that loses is kept in `label_conflicts`, and so is a concurrent move it
/// replaces. Returns how many of these moves lost. A move sent before is a no-op.
async fn send_labels(
    tx: &tokio_postgres::Transaction<'_>,
    labels: &[(&TeamLabel, &Option<String>)],
    machine: &str,
    t: &Target,
) -> Result<u64> {
    if labels.is_empty() {
        return Ok(0);
    }
    let err = |e| pg_error(t, "pushing labels", e);
    let mut keys = Columns::new(5, 0, 0);
    for (l, _) in labels {
        let [o, f, fa, e] = key_texts(&l.artifact);
        keys.push(&[o, f, fa, e, Some(&l.name)], &[], &[]);
    }
    let rows = tx
        .query(
            "SELECT t.org, t.folder, t.family, t.extension, t.name, t.version, t.version_sha256,
               t.hlc, t.machine, t.member, t.deleted
             FROM stowage.labels t
             JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
               AS u(org, folder, family, extension, name)
               USING (org, folder, family, extension, name)
             FOR UPDATE OF t",
            &keys.params(&[]),
        )
        .await
        .map_err(err)?;
    type Current = (String, String, i64, String, String, bool);
    let current: HashMap<(String, String, String, String, String), Current> = rows
        .iter()
        .map(|r| {
            (
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)),
                (r.get(5), r.get(6), r.get(7), r.get(8), r.get(9), r.get(10)),
            )
        })
        .collect();
    let me = t.member.as_str();
    let mut winners = Columns::new(8, 1, 0);
    let mut losers = Columns::new(11, 2, 0);
    let mut lost = 0;
    for (l, member) in labels {
        let member = member.as_deref().unwrap_or(me);
        let k = &l.artifact;
        let [o, f, fa, e] = key_texts(k);
        let at = (
            k.org.clone(),
            k.folder.clone(),
            k.family.clone(),
            k.extension.clone(),
            l.name.clone(),
        );
        if let Some((tv, tsha, thlc, tmachine, tmember, tdeleted)) = current.get(&at) {
            let (theirs, ours) = ((*thlc, tmachine.as_str()), (l.hlc, machine));
            if theirs == ours {
                continue; // sent before: a replay
            }
            if theirs > ours {
                // Ours lost: the label stays; our move is kept as the loser.
                losers.push(
                    &[
                        o,
                        f,
                        fa,
                        e,
                        Some(&l.name),
                        Some(&l.version),
                        Some(&l.version_sha256),
                        Some(member),
                        Some(machine),
                        Some(tv),
                        Some(tmachine),
                    ],
                    &[Some(l.hlc), Some(*thlc)],
                    &[],
                );
                lost += 1;
                continue;
            }
            if *thlc > l.base && !tdeleted {
                // Theirs was concurrent with ours (our mover had not seen it) and loses.
                losers.push(
                    &[
                        o,
                        f,
                        fa,
                        e,
                        Some(&l.name),
                        Some(tv),
                        Some(tsha),
                        Some(tmember),
                        Some(tmachine),
                        Some(&l.version),
                        Some(machine),
                    ],
                    &[Some(*thlc), Some(l.hlc)],
                    &[],
                );
            }
        }
        winners.push(
            &[
                o,
                f,
                fa,
                e,
                Some(&l.name),
                Some(&l.version),
                Some(&l.version_sha256),
                Some(member),
            ],
            &[Some(l.hlc)],
            &[],
        );
    }
    if winners.len() > 0 {
        let m: &(dyn ToSql + Sync) = &machine;
        tx.execute(
            "INSERT INTO stowage.labels (org, folder, family, extension, name, version,
               version_sha256, member, hlc, machine, seq, deleted)
             SELECT u.org, u.folder, u.family, u.extension, u.name, u.version,
               u.version_sha256, u.member, u.hlc, $10, nextval('stowage.change_seq'),
               u.version = ''
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::bigint[])
               AS u(org, folder, family, extension, name, version, version_sha256, member, hlc)
             ON CONFLICT (org, folder, family, extension, name) DO UPDATE
               SET version = excluded.version, version_sha256 = excluded.version_sha256,
                   hlc = excluded.hlc, member = excluded.member, machine = excluded.machine,
                   seq = excluded.seq, deleted = excluded.deleted",
            &winners.params(&[m]),
        )
        .await
        .map_err(err)?;
    }
    if losers.len() > 0 {
        tx.execute(
            "INSERT INTO stowage.label_conflicts (org, folder, family, extension, name, version,
               version_sha256, member, machine, winner_version, winner_machine, hlc, winner_hlc)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                                  $11::text[], $12::bigint[], $13::bigint[])
             ON CONFLICT DO NOTHING",
            &losers.params(&[]),
        )
        .await
        .map_err(err)?;
    }
    Ok(lost)
}
