//! The same report from sums the catalog computes in SQL, without loading every row.

use super::*;

/// The summed inputs of a report, as the catalog computes them in SQL
/// ([`crate::catalog::Catalog::cost_summary`]): [`report_summary`] over them equals [`report`]
/// over every stored object and transfer, without loading every row.
#[derive(Clone, Debug, Default)]
pub struct CostSummary {
    /// Stored objects summed per provider, bucket and group, in the order of each cell's
    /// first object.
    pub cells: Vec<CostCell>,
    /// Transfers of the last 30 days summed per provider and bucket, in the order of each
    /// bucket's first transfer.
    pub transfers: Vec<BucketTransferSum>,
    /// Every object that can be in a largest or stalest list (at least the largest and the
    /// stalest [`LIST_LEN`] of each group), in storage order.
    pub candidates: Vec<StoredObject>,
}

/// Stored objects of one provider, bucket and group, summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostCell {
    /// Provider label.
    pub provider: String,
    /// Bucket.
    pub bucket: String,
    /// The folder, kind or organization ([`NO_ORG`] when none) grouped by; empty when
    /// grouping by provider or bucket.
    pub group: String,
    /// Objects.
    pub objects: u64,
    /// Bytes as stored.
    pub stored_bytes: u64,
    /// Bytes before compression.
    pub original_bytes: u64,
    /// Sum over objects of original minus stored bytes, never negative.
    pub savings_bytes: u64,
    /// Bytes stored in the last 30 days, 30 to 60 and 60 to 90 days ago.
    pub growth: [u64; 3],
    /// Objects not read for [`STALE_AFTER_DAYS`] days.
    pub stale_objects: u64,
    /// Their stored bytes.
    pub stale_bytes: u64,
}

/// Transfers of one provider and bucket in the last 30 days, summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BucketTransferSum {
    /// Provider label.
    pub provider: String,
    /// Bucket.
    pub bucket: String,
    /// Bytes downloaded.
    pub down_bytes: u64,
    /// Bytes uploaded.
    pub up_bytes: u64,
    /// Upload requests.
    pub up_requests: u64,
    /// Download requests.
    pub down_requests: u64,
}

/// The windows of a report as of `now`, in whole seconds since the epoch: growth cuts at 30,
/// 60 and 90 days, and the stale cut.
pub fn cuts(now: OffsetDateTime) -> ([i64; 3], i64) {
    let window = Duration::days(WINDOW_DAYS);
    let secs = |t: OffsetDateTime| t.unix_timestamp();
    (
        [
            secs(now - window),
            secs(now - window * 2),
            secs(now - window * 3),
        ],
        secs(now - Duration::days(STALE_AFTER_DAYS)),
    )
}

/// [`report`] from sums ([`CostSummary`]): the same report, from far less input.
pub fn report_summary(
    summary: &CostSummary,
    prices: &PriceTable,
    group_by: GroupBy,
    now: OffsetDateTime,
) -> CostReport {
    let (_, stale_cut) = cuts(now);
    let mut b = Builder::new(prices, group_by);
    let mut all_largest: TopN<LargeKey> = TopN::new();
    let mut all_stalest: TopN<StaleKey> = TopN::new();
    for c in &summary.cells {
        let bucket = b.bucket(&c.provider, &c.bucket);
        let group = match group_by {
            GroupBy::Provider | GroupBy::Bucket => b.bucket_group(bucket),
            _ => b.named_group(&c.group),
        };
        let ci = b.cell(group, bucket);
        let cell = &mut b.cells[ci];
        cell.objects += c.objects;
        cell.stored += c.stored_bytes;
        cell.original += c.original_bytes;
        cell.savings += c.savings_bytes;
        for (g, v) in cell.growth.iter_mut().zip(c.growth) {
            *g += v;
        }
        cell.stale_objects += c.stale_objects;
        cell.stale_bytes += c.stale_bytes;
    }
    for (i, o) in summary.candidates.iter().enumerate() {
        let i = i as u32;
        let (_, group, _, access) = b.place(o, group_by);
        let g = &mut b.groups[group as usize];
        let large = (Reverse(o.stored_bytes), i);
        g.largest.offer(large);
        all_largest.offer(large);
        if access < stale_cut {
            g.stalest.offer((access, i));
            all_stalest.offer((access, i));
        }
    }
    for t in &summary.transfers {
        let bucket = b.bucket(&t.provider, &t.bucket);
        let info = &mut b.buckets[bucket as usize].transfers;
        info.down_bytes += t.down_bytes;
        info.down_requests += t.down_requests;
        info.up_bytes += t.up_bytes;
        info.up_requests += t.up_requests;
    }
    finish(
        b,
        all_largest,
        all_stalest,
        &summary.candidates,
        prices,
        group_by,
        now,
    )
}
