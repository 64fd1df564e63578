//! Transfers (for egress costs) and the audit log.

use super::*;

/// One audit event to record.
#[derive(Clone, Debug, Default)]
pub struct AuditEvent<'a> {
    /// `put`, `get`, `url`, `delete`, `restore`, `label` or `gc`.
    pub action: &'a str,
    /// The profile used.
    pub profile: Option<&'a str>,
    /// The bucket.
    pub bucket: Option<&'a str>,
    /// The key.
    pub key: Option<&'a str>,
    /// Free text (never a secret).
    pub detail: Option<String>,
}

/// One thing a command did to an object, for the audit log and (when bytes moved) the
/// transfer record that egress costs come from.
#[derive(Clone, Debug)]
pub struct Activity {
    /// `put`, `get`, `url` or `delete`.
    pub action: &'static str,
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes moved and their direction, when the action transferred content.
    pub moved: Option<(Direction, u64)>,
}

impl Catalog {
    /// Record a transfer's bytes and requests (the cost dashboard's input).
    #[allow(clippy::too_many_arguments)]
    pub fn record_transfer(
        &self,
        profile: &str,
        provider: &str,
        bucket: &str,
        direction: Direction,
        bytes: u64,
        requests: u64,
    ) -> Result<()> {
        let direction = match direction {
            Direction::Upload => "upload",
            Direction::Download => "download",
        };
        self.conn
            .prepare_cached(
                "INSERT INTO transfers (profile, provider, bucket, direction, bytes, requests, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    profile,
                    provider,
                    bucket,
                    direction,
                    bytes as i64,
                    requests as i64,
                    now_ns()
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Append an audit event.
    pub fn audit(&self, e: &AuditEvent<'_>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit_events (at, action, profile, bucket, key, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    now_ns(),
                    e.action,
                    e.profile,
                    e.bucket,
                    e.key,
                    e.detail
                ])
            })
            .map_err(self.err())?;
        Ok(())
    }

    /// Record what a command did with `profile` (of `provider`), in one transaction.
    pub fn record_activity(
        &self,
        profile: &str,
        provider: &str,
        activity: &[Activity],
    ) -> Result<()> {
        self.batch(|c| {
            for a in activity {
                c.audit(&AuditEvent {
                    action: a.action,
                    profile: Some(profile),
                    bucket: Some(&a.bucket),
                    key: Some(&a.key),
                    detail: None,
                })?;
                if let Some((direction, bytes)) = a.moved {
                    c.record_transfer(profile, provider, &a.bucket, direction, bytes, 1)?;
                }
            }
            Ok(())
        })
    }

    /// The audit log, oldest first: (time, action, profile, bucket, key, detail).
    #[allow(clippy::type_complexity)]
    pub fn audit_log(
        &self,
    ) -> Result<
        Vec<(
            OffsetDateTime,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        )>,
    > {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT at, action, profile, bucket, key, detail FROM audit_events ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = s
            .query_map([], |r| {
                Ok((
                    from_ns(r.get(0)?),
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(rows)
    }
}
