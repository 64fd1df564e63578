//! What the cost report reads: stored objects and transfers, summed in SQL.

use super::*;

pub(super) fn stored_object_row(r: &Row<'_>) -> rusqlite::Result<StoredObject> {
    Ok(StoredObject {
        provider: r.get(0)?,
        bucket: r.get(1)?,
        org: r
            .get::<_, String>(2)
            .map(|o| (!o.is_empty()).then_some(o))?,
        folder: r.get(3)?,
        kind: r.get(4)?,
        family: r.get(5)?,
        version: r.get(6)?,
        key: r.get(7)?,
        stored_bytes: r.get::<_, i64>(8)? as u64,
        original_bytes: r.get::<_, i64>(9)? as u64,
        stored_at: from_ns(r.get(10)?),
        last_read: r.get::<_, Option<i64>>(11)?.map(from_ns),
    })
}

impl Catalog {
    /// The inputs of the cost report grouped by `group_by` as of `now`, summed in SQL
    /// ([`crate::cost::report_summary`] over them equals [`crate::cost::report`] over
    /// [`Catalog::cost_inputs`]): stored objects per provider, bucket and group, the recent
    /// transfers per bucket, and only the objects that can make a largest or stalest list.
    pub fn cost_summary(
        &self,
        group_by: crate::cost::GroupBy,
        now: OffsetDateTime,
    ) -> Result<crate::cost::CostSummary> {
        use crate::cost::{BucketTransferSum, CostCell, GroupBy, LIST_LEN, NO_ORG};
        let ([cut30, cut60, cut90], stale_cut) = crate::cost::cuts(now);
        // The group's name, and what a largest or stalest list is kept per.
        let (group, partition) = match group_by {
            GroupBy::Provider => ("''", "provider"),
            GroupBy::Bucket => ("''", "provider, bucket"),
            GroupBy::Folder => ("a.folder", "g"),
            GroupBy::Kind => ("a.kind", "g"),
            GroupBy::Org => ("CASE WHEN a.org = '' THEN ?5 ELSE a.org END", "g"),
        };
        let no_org = format!("'{}'", NO_ORG.replace('\'', "''"));
        let group = group.replace("?5", &no_org);
        // Times in whole seconds, as the report compares them; the last access is the last
        // read, or the storing when never read since.
        let objects = format!(
            "WITH o AS (
               SELECT l.id AS id, l.provider AS provider, l.bucket AS bucket, {group} AS g,
                 l.size AS stored, v.original_size AS original,
                 l.stored_at / 1000000000 AS sat,
                 CASE WHEN l.last_read IS NULL THEN l.stored_at / 1000000000
                   ELSE MAX(l.last_read / 1000000000, l.stored_at / 1000000000) END AS acc
               FROM locations l JOIN versions v ON v.id = l.version_id
               JOIN artifacts a ON a.id = v.artifact_id)"
        );
        let args = params![cut30, cut60, cut90, stale_cut];
        let mut s = self
            .conn
            .prepare(&format!(
                "{objects}
                 SELECT provider, bucket, g, COUNT(*), SUM(stored), SUM(original),
                   SUM(MAX(original - stored, 0)),
                   SUM(CASE WHEN sat >= ?1 THEN stored ELSE 0 END),
                   SUM(CASE WHEN sat < ?1 AND sat >= ?2 THEN stored ELSE 0 END),
                   SUM(CASE WHEN sat < ?2 AND sat >= ?3 THEN stored ELSE 0 END),
                   SUM(acc < ?4), SUM(CASE WHEN acc < ?4 THEN stored ELSE 0 END),
                   MIN(id) AS first
                 FROM o GROUP BY provider, bucket, g ORDER BY first"
            ))
            .map_err(self.err())?;
        let u = |r: &Row<'_>, i: usize| r.get::<_, i64>(i).map(|v| v as u64);
        let cells = s
            .query_map(args, |r| {
                Ok(CostCell {
                    provider: r.get(0)?,
                    bucket: r.get(1)?,
                    group: r.get(2)?,
                    objects: u(r, 3)?,
                    stored_bytes: u(r, 4)?,
                    original_bytes: u(r, 5)?,
                    savings_bytes: u(r, 6)?,
                    growth: [u(r, 7)?, u(r, 8)?, u(r, 9)?],
                    stale_objects: u(r, 10)?,
                    stale_bytes: u(r, 11)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        // The largest LIST_LEN of each group, and the stalest LIST_LEN of its stale objects;
        // ties go to the earlier stored, as in the report.
        let mut s = self
            .conn
            .prepare(&format!(
                "{objects},
                 pick AS (
                   SELECT id FROM (SELECT id, ROW_NUMBER() OVER
                     (PARTITION BY {partition} ORDER BY stored DESC, id) AS n FROM o)
                   WHERE n <= {LIST_LEN}
                   UNION
                   SELECT id FROM (SELECT id, ROW_NUMBER() OVER
                     (PARTITION BY {partition} ORDER BY acc, id) AS n FROM o WHERE acc < ?4)
                   WHERE n <= {LIST_LEN})
                 SELECT l.provider, l.bucket, a.org, a.folder, a.kind, a.family, v.version,
                   l.key, l.size, v.original_size, l.stored_at, l.last_read
                 FROM locations l JOIN versions v ON v.id = l.version_id
                 JOIN artifacts a ON a.id = v.artifact_id
                 WHERE l.id IN (SELECT id FROM pick) ORDER BY l.id"
            ))
            .map_err(self.err())?;
        let candidates = s
            .query_map(args, stored_object_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT provider, bucket,
                   SUM(CASE WHEN direction = 'download' THEN bytes ELSE 0 END),
                   SUM(CASE WHEN direction = 'download' THEN 0 ELSE bytes END),
                   SUM(CASE WHEN direction = 'download' THEN 0 ELSE requests END),
                   SUM(CASE WHEN direction = 'download' THEN requests ELSE 0 END),
                   MIN(id) AS first
                 FROM transfers WHERE at / 1000000000 >= ?1
                 GROUP BY provider, bucket ORDER BY first",
            )
            .map_err(self.err())?;
        let transfers = s
            .query_map([cut30], |r| {
                Ok(BucketTransferSum {
                    provider: r.get(0)?,
                    bucket: r.get(1)?,
                    down_bytes: u(r, 2)?,
                    up_bytes: u(r, 3)?,
                    up_requests: u(r, 4)?,
                    down_requests: u(r, 5)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok(crate::cost::CostSummary {
            cells,
            transfers,
            candidates,
        })
    }

    /// The inputs of the cost report: every stored object and every recorded transfer.
    pub fn cost_inputs(&self) -> Result<(Vec<StoredObject>, Vec<TransferRecord>)> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT l.provider, l.bucket, a.org, a.folder, a.kind, a.family, v.version, l.key,
                   l.size, v.original_size, l.stored_at, l.last_read
                 FROM locations l JOIN versions v ON v.id = l.version_id
                 JOIN artifacts a ON a.id = v.artifact_id ORDER BY l.id",
            )
            .map_err(self.err())?;
        let objects = s
            .query_map([], stored_object_row)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT provider, bucket, direction, bytes, requests, at FROM transfers ORDER BY id",
            )
            .map_err(self.err())?;
        let transfers = s
            .query_map([], |r| {
                Ok(TransferRecord {
                    provider: r.get(0)?,
                    bucket: r.get(1)?,
                    direction: if r.get::<_, String>(2)? == "download" {
                        Direction::Download
                    } else {
                        Direction::Upload
                    },
                    bytes: r.get::<_, i64>(3)? as u64,
                    requests: r.get::<_, i64>(4)? as u64,
                    at: from_ns(r.get(5)?),
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err())?;
        Ok((objects, transfers))
    }
}
