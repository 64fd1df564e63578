//! What the cost report reads: stored objects, scanned once, and transfers, summed in SQL.

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
        artifact_id: r.get(12)?,
        member: r.get(13)?,
    })
}

impl Catalog {
    /// The inputs of the cost report grouped by `group_by` as of `now`
    /// ([`crate::cost::report_summary`] over them equals [`crate::cost::report`] over
    /// [`Catalog::cost_inputs`]).
    pub fn cost_summary(
        &self,
        group_by: crate::cost::GroupBy,
        now: OffsetDateTime,
    ) -> Result<crate::cost::CostSummary> {
        let (mut s, _) =
            self.cost_summaries(&[group_by], &crate::cost::CostFilter::default(), now)?;
        Ok(s.pop().unwrap_or_default())
    }

    /// The inputs of one cost report per grouping in `groupings`, of the objects `filter`
    /// keeps, as of `now`, from one pass over the stored objects: SQL joins each location to
    /// its version and artifact and hands over its figures borrowed (no GROUP BY: sorting
    /// 300,000 rows costs SQLite more than the whole scan); [`crate::cost::SummaryScan`] sums
    /// them. Then only the objects that can make a largest or stalest list are read whole.
    pub fn cost_summaries(
        &self,
        groupings: &[crate::cost::GroupBy],
        filter: &crate::cost::CostFilter,
        now: OffsetDateTime,
    ) -> Result<(Vec<crate::cost::CostSummary>, crate::cost::CostScope)> {
        use crate::cost::{BucketTransferSum, ScanRow, SummaryScan};
        let mut scan = SummaryScan::new(groupings, filter, now);
        {
            let mut s = self
                .conn
                .prepare_cached(
                    "SELECT l.id, l.provider, l.bucket, v.artifact_id, a.org, a.folder, a.kind,
                       l.size, v.original_size, l.stored_at, l.last_read, COALESCE(l.member, '')
                     FROM locations l JOIN versions v ON v.id = l.version_id
                     JOIN artifacts a ON a.id = v.artifact_id",
                )
                .map_err(self.err())?;
            let mut rows = s.query([]).map_err(self.err())?;
            while let Some(r) = rows.next().map_err(self.err())? {
                // Borrowed from the row: nothing is allocated per object.
                let str_at = |i: usize| -> rusqlite::Result<&str> {
                    r.get_ref(i)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            i,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })
                };
                let row = (|| {
                    Ok::<_, rusqlite::Error>(ScanRow {
                        id: r.get(0)?,
                        provider: str_at(1)?,
                        bucket: str_at(2)?,
                        artifact: r.get(3)?,
                        org: str_at(4)?,
                        folder: str_at(5)?,
                        kind: str_at(6)?,
                        stored_bytes: r.get::<_, i64>(7)? as u64,
                        original_bytes: r.get::<_, i64>(8)? as u64,
                        stored_at_ns: r.get(9)?,
                        last_read_ns: r.get(10)?,
                        member: str_at(11)?,
                    })
                })()
                .map_err(self.err())?;
                scan.row(&row);
            }
        }
        let ids = scan.candidate_ids();
        let mut candidates = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let mut s = self
                .conn
                .prepare(&format!(
                    "SELECT l.provider, l.bucket, a.org, a.folder, a.kind, a.family, v.version,
                       l.key, l.size, v.original_size, l.stored_at, l.last_read, a.id, l.member
                     FROM locations l JOIN versions v ON v.id = l.version_id
                     JOIN artifacts a ON a.id = v.artifact_id
                     WHERE l.id IN ({list}) ORDER BY l.id"
                ))
                .map_err(self.err())?;
            let rows = s
                .query_map([], stored_object_row)
                .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(self.err())?;
            candidates.extend(rows);
        }
        let ([cut30, ..], _) = crate::cost::cuts(now);
        let u = |r: &Row<'_>, i: usize| r.get::<_, i64>(i).map(|v| v as u64);
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT provider, bucket,
                   SUM(CASE WHEN direction = 'download' THEN bytes ELSE 0 END),
                   SUM(CASE WHEN direction = 'download' THEN 0 ELSE bytes END),
                   SUM(CASE WHEN direction = 'download' THEN 0 ELSE requests END),
                   SUM(CASE WHEN direction = 'download' THEN requests ELSE 0 END),
                   MIN(id) AS first
                 FROM transfers WHERE at / 1000000000 >= ?1 AND (?2 OR member IS NULL)
                 GROUP BY provider, bucket ORDER BY first",
            )
            .map_err(self.err())?;
        let everyone = filter.scope == Scope::Team;
        let transfers = s
            .query_map(params![cut30, everyone], |r| {
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
        Ok(scan.finish(transfers, candidates))
    }

    /// The inputs of the cost report: every stored object and every recorded transfer.
    pub fn cost_inputs(&self) -> Result<(Vec<StoredObject>, Vec<TransferRecord>)> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT l.provider, l.bucket, a.org, a.folder, a.kind, a.family, v.version, l.key,
                   l.size, v.original_size, l.stored_at, l.last_read, a.id, l.member
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
