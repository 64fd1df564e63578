//! Building the report from every stored object: groups, providers, the largest and stalest artifacts, growth and forecasts.

use super::*;

/// Per (group, bucket) sums from the one pass over objects.
#[derive(Clone, Copy, Default)]
pub(super) struct Cell {
    pub(super) group: u32,
    pub(super) bucket: u32,
    pub(super) objects: u64,
    pub(super) stored: u64,
    pub(super) original: u64,
    pub(super) savings: u64,
    pub(super) growth: [u64; 3],
    pub(super) stale_objects: u64,
    pub(super) stale_bytes: u64,
}

/// Per bucket transfer sums from the pass over transfers.
#[derive(Clone, Copy, Default)]
pub(super) struct BucketTransfers {
    pub(super) down_bytes: u64,
    pub(super) up_bytes: u64,
    pub(super) up_requests: u64,
    pub(super) down_requests: u64,
}

pub(super) struct BucketInfo<'a> {
    pub(super) provider: u32,
    pub(super) name: &'a str,
    pub(super) transfers: BucketTransfers,
    // Its group when grouping by bucket (NONE until known).
    pub(super) group: u32,
}

pub(super) struct ProviderAcc<'a> {
    pub(super) label: &'a str,
    pub(super) kind: ProviderKind,
    pub(super) rates: Rates,
    // Its group when grouping by provider (NONE until known).
    pub(super) group: u32,
    pub(super) objects: u64,
    pub(super) stored: u64,
    pub(super) savings: u64,
    pub(super) forecast_growth: u64,
    pub(super) down_bytes: u64,
    // Per-byte rates once free tiers are applied to the totals.
    pub(super) storage_rate: f64,
    pub(super) savings_rate: f64,
    pub(super) forecast_rate: f64,
    pub(super) egress_rate: f64,
}

/// A top-N list kept as a heap whose top is the entry to drop first.
pub(super) struct TopN<K: Ord> {
    pub(super) heap: BinaryHeap<K>,
}

impl<K: Ord> TopN<K> {
    pub(super) fn new() -> Self {
        TopN {
            heap: BinaryHeap::with_capacity(LIST_LEN + 1),
        }
    }

    /// Offer an entry; the heap's greatest is the weakest kept, so keys are built to make
    /// "drop first" greatest.
    #[inline]
    pub(super) fn offer(&mut self, k: K) {
        if self.heap.len() < LIST_LEN {
            self.heap.push(k);
        } else if let Some(top) = self.heap.peek() {
            if k < *top {
                self.heap.pop();
                self.heap.push(k);
            }
        }
    }

    pub(super) fn sorted(self) -> Vec<K> {
        self.heap.into_sorted_vec()
    }
}

/// Largest: drop the smallest first, so the key is (Reverse(size), index).
pub(super) type LargeKey = (Reverse<u64>, u32);

/// Stalest: drop the most recently read first, so the key is (last access, index).
pub(super) type StaleKey = (i64, u32);

pub(super) struct GroupAcc {
    pub(super) name: String,
    pub(super) largest: TopN<LargeKey>,
    pub(super) stalest: TopN<StaleKey>,
}

impl GroupAcc {
    pub(super) fn new(name: String) -> Self {
        GroupAcc {
            name,
            largest: TopN::new(),
            stalest: TopN::new(),
        }
    }
}

/// Index of strings borrowed from the inputs, so no string is cloned per object.
pub(super) struct Interner<'a> {
    pub(super) map: HashMap<(&'a str, &'a str), u32>,
    pub(super) last: Option<((&'a str, &'a str), u32)>,
}

impl<'a> Interner<'a> {
    pub(super) fn new() -> Self {
        Interner {
            map: HashMap::new(),
            last: None,
        }
    }

    /// The index of `key`, calling `add` to create it (catalog rows come clustered, so the
    /// last key is checked before hashing).
    #[inline]
    pub(super) fn get(&mut self, key: (&'a str, &'a str), add: impl FnOnce() -> u32) -> u32 {
        if let Some((k, i)) = self.last {
            if k == key {
                return i;
            }
        }
        let i = *self.map.entry(key).or_insert_with(add);
        self.last = Some((key, i));
        i
    }
}

/// The last access of an object: its last read, or its storing if never read since.
#[inline]
pub(super) fn last_access(o: &StoredObject) -> OffsetDateTime {
    match o.last_read {
        Some(r) if r > o.stored_at => r,
        _ => o.stored_at,
    }
}

/// Forecast growth of the next three months from growth in the three last 30-day windows
/// (`[last 30 d, 30-60 d, 60-90 d]`): the least-squares line through the three points,
/// extended, each month at least 0.
pub(super) fn forecast(growth: [u64; 3]) -> [f64; 3] {
    let (y0, y1, y2) = (growth[2] as f64, growth[1] as f64, growth[0] as f64);
    let mean = (y0 + y1 + y2) / 3.0;
    // Points at months -2, -1, 0: slope = Σ(x-x̄)(y-ȳ)/Σ(x-x̄)² = (y2 - y0) / 2.
    let slope = (y2 - y0) / 2.0;
    [1.0, 2.0, 3.0].map(|k| (mean + slope * (k + 1.0)).max(0.0))
}

/// Split `total` over `weights` in proportion, exactly (largest remainder), so integer sums hold.
pub(super) fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| w as u128).sum();
    if sum == 0 {
        let mut out = vec![0; weights.len()];
        if let Some(first) = out.first_mut() {
            *first = total;
        }
        return out;
    }
    let mut out = Vec::with_capacity(weights.len());
    let mut rems = Vec::with_capacity(weights.len());
    let mut given = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        let p = total as u128 * w as u128;
        let share = (p / sum) as u64;
        given += share;
        out.push(share);
        rems.push((Reverse(p % sum), i));
    }
    rems.sort_unstable();
    for &(_, i) in rems.iter().take((total - given) as usize) {
        out[i] += 1;
    }
    out
}

pub(super) const NONE: u32 = u32::MAX;

/// The accumulators of one report.
pub(super) struct Builder<'a> {
    pub(super) prices: &'a PriceTable,
    pub(super) group_by: GroupBy,
    pub(super) providers: Vec<ProviderAcc<'a>>,
    pub(super) buckets: Vec<BucketInfo<'a>>,
    pub(super) bucket_index: Interner<'a>,
    pub(super) groups: Vec<GroupAcc>,
    pub(super) group_index: Interner<'a>,
    pub(super) cells: Vec<Cell>,
    // Cell index by [group][bucket] (NONE when absent): few of each, so no hashing.
    pub(super) cell_of: Vec<Vec<u32>>,
}

impl<'a> Builder<'a> {
    /// Empty accumulators for a report grouped by `group_by`.
    pub(super) fn new(prices: &'a PriceTable, group_by: GroupBy) -> Builder<'a> {
        Builder {
            prices,
            group_by,
            providers: Vec::new(),
            buckets: Vec::new(),
            bucket_index: Interner::new(),
            groups: Vec::new(),
            group_index: Interner::new(),
            cells: Vec::new(),
            cell_of: Vec::new(),
        }
    }

    /// The index of a bucket, adding it (and its provider) on first sight.
    pub(super) fn bucket(&mut self, provider: &'a str, bucket: &'a str) -> u32 {
        let (providers, buckets, prices) = (&mut self.providers, &mut self.buckets, self.prices);
        self.bucket_index.get((provider, bucket), || {
            let p = match providers.iter().position(|p| p.label == provider) {
                Some(i) => i,
                None => {
                    let kind = ProviderKind::of(provider);
                    providers.push(ProviderAcc {
                        label: provider,
                        kind,
                        rates: prices.rates(kind),
                        group: NONE,
                        objects: 0,
                        stored: 0,
                        savings: 0,
                        forecast_growth: 0,
                        down_bytes: 0,
                        storage_rate: 0.0,
                        savings_rate: 0.0,
                        forecast_rate: 0.0,
                        egress_rate: 0.0,
                    });
                    providers.len() - 1
                }
            };
            buckets.push(BucketInfo {
                provider: p as u32,
                name: bucket,
                transfers: BucketTransfers::default(),
                group: NONE,
            });
            (buckets.len() - 1) as u32
        })
    }

    pub(super) fn new_group(groups: &mut Vec<GroupAcc>, name: String) -> u32 {
        groups.push(GroupAcc::new(name));
        (groups.len() - 1) as u32
    }

    /// The group of a bucket when grouping by provider or bucket, cached on the bucket.
    /// Where an object counts: its bucket and group, and when it was stored and last used
    /// (whole seconds; a read before the store counts as the store).
    pub(super) fn place(&mut self, o: &'a StoredObject, group_by: GroupBy) -> (u32, u32, i64, i64) {
        let bucket = self.bucket(&o.provider, &o.bucket);
        let group = match group_by {
            GroupBy::Provider | GroupBy::Bucket => self.bucket_group(bucket),
            GroupBy::Folder => self.named_group(&o.folder),
            GroupBy::Kind => self.named_group(&o.kind),
            GroupBy::Org => self.named_group(o.org.as_deref().unwrap_or(NO_ORG)),
            GroupBy::Member => self.named_group(o.member.as_deref().unwrap_or(ME)),
        };
        let stored_at = o.stored_at.unix_timestamp();
        let access = o
            .last_read
            .map_or(stored_at, |r| r.unix_timestamp().max(stored_at));
        (bucket, group, stored_at, access)
    }

    pub(super) fn bucket_group(&mut self, b: u32) -> u32 {
        let info = &self.buckets[b as usize];
        let provider = &mut self.providers[info.provider as usize];
        match self.group_by {
            GroupBy::Bucket => {
                if info.group == NONE {
                    let name = format!("{}/{}", provider.label, info.name);
                    let g = Self::new_group(&mut self.groups, name);
                    self.buckets[b as usize].group = g;
                }
                self.buckets[b as usize].group
            }
            _ => {
                if provider.group == NONE {
                    provider.group = Self::new_group(&mut self.groups, provider.label.to_string());
                }
                provider.group
            }
        }
    }

    /// The group of a name (folder, kind or org).
    pub(super) fn named_group(&mut self, name: &'a str) -> u32 {
        let groups = &mut self.groups;
        self.group_index
            .get((name, ""), || Self::new_group(groups, name.to_string()))
    }

    pub(super) fn cell(&mut self, group: u32, bucket: u32) -> usize {
        let (g, b) = (group as usize, bucket as usize);
        if self.cell_of.len() <= g {
            self.cell_of.resize_with(g + 1, Vec::new);
        }
        let row = &mut self.cell_of[g];
        if row.len() <= b {
            row.resize(b + 1, NONE);
        }
        if row[b] == NONE {
            self.cells.push(Cell {
                group,
                bucket,
                ..Cell::default()
            });
            row[b] = (self.cells.len() - 1) as u32;
        }
        row[b] as usize
    }
}

/// Estimate costs of `objects` and `transfers` grouped by `group_by`, at `prices`, as of `now`.
///
/// One pass over objects sums per (group, bucket) cells; free tiers then apply to each
/// provider's totals, and each cell gets its bytes' share of its provider's cost.
pub fn report(
    objects: &[StoredObject],
    transfers: &[TransferRecord],
    prices: &PriceTable,
    group_by: GroupBy,
    now: OffsetDateTime,
) -> CostReport {
    let window = Duration::days(WINDOW_DAYS);
    // Whole seconds since the epoch: comparing these is cheaper than comparing date-times.
    let secs = |t: OffsetDateTime| t.unix_timestamp();
    let (cut30, cut60, cut90) = (
        secs(now - window),
        secs(now - window * 2),
        secs(now - window * 3),
    );
    let stale_cut = secs(now - Duration::days(STALE_AFTER_DAYS));
    let mut b = Builder::new(prices, group_by);
    let mut all_largest: TopN<LargeKey> = TopN::new();
    let mut all_stalest: TopN<StaleKey> = TopN::new();

    // The single pass over objects.
    for (i, o) in objects.iter().enumerate() {
        let i = i as u32;
        let (bucket, group, stored_at, access) = b.place(o, group_by);
        let stale = access < stale_cut;
        let ci = b.cell(group, bucket);
        let cell = &mut b.cells[ci];
        cell.objects += 1;
        cell.stored += o.stored_bytes;
        cell.original += o.original_bytes;
        cell.savings += o.original_bytes.saturating_sub(o.stored_bytes);
        if stored_at >= cut30 {
            cell.growth[0] += o.stored_bytes;
        } else if stored_at >= cut60 {
            cell.growth[1] += o.stored_bytes;
        } else if stored_at >= cut90 {
            cell.growth[2] += o.stored_bytes;
        }
        let g = &mut b.groups[group as usize];
        let large = (Reverse(o.stored_bytes), i);
        g.largest.offer(large);
        all_largest.offer(large);
        if stale {
            cell.stale_objects += 1;
            cell.stale_bytes += o.stored_bytes;
            g.stalest.offer((access, i));
            all_stalest.offer((access, i));
        }
    }

    // Transfers of the last 30 days, per bucket.
    for t in transfers.iter().filter(|t| secs(t.at) >= cut30) {
        let bucket = b.bucket(&t.provider, &t.bucket);
        let info = &mut b.buckets[bucket as usize].transfers;
        match t.direction {
            Direction::Download => {
                info.down_bytes += t.bytes;
                info.down_requests += t.requests;
            }
            Direction::Upload => {
                info.up_bytes += t.bytes;
                info.up_requests += t.requests;
            }
        }
    }

    finish(b, all_largest, all_stalest, objects, prices, group_by, now)
}

/// The rest of a report once cells, lists and transfers are summed.
pub(super) fn finish<'a>(
    mut b: Builder<'a>,
    all_largest: TopN<LargeKey>,
    all_stalest: TopN<StaleKey>,
    objects: &'a [StoredObject],
    prices: &PriceTable,
    group_by: GroupBy,
    now: OffsetDateTime,
) -> CostReport {
    // Provider totals, then free tiers on them, as per-byte rates.
    let mut cell_forecast = Vec::with_capacity(b.cells.len());
    for c in &b.cells {
        let p = &mut b.providers[b.buckets[c.bucket as usize].provider as usize];
        p.objects += c.objects;
        p.stored += c.stored;
        p.savings += c.savings;
        let f = forecast(c.growth).map(|m| m.round() as u64);
        p.forecast_growth += f.iter().sum::<u64>();
        cell_forecast.push(f);
    }
    for bk in &b.buckets {
        b.providers[bk.provider as usize].down_bytes += bk.transfers.down_bytes;
    }
    let per_byte = |cost: f64, bytes: u64| if bytes == 0 { 0.0 } else { cost / bytes as f64 };
    for p in &mut b.providers {
        let r = p.rates;
        let stored = p.stored as f64;
        p.storage_rate = per_byte(r.storage(stored), p.stored);
        p.savings_rate = per_byte(
            r.storage(stored + p.savings as f64) - r.storage(stored),
            p.savings,
        );
        let future = p.stored + p.forecast_growth;
        p.forecast_rate = per_byte(r.storage(future as f64), future);
        p.egress_rate = per_byte(r.egress(p.down_bytes as f64), p.down_bytes);
    }

    // Cells into groups.
    let mut out: Vec<GroupCost> = b
        .groups
        .iter()
        .map(|g| GroupCost {
            name: g.name.clone(),
            ..GroupCost::default()
        })
        .collect();
    for (c, f) in b.cells.iter().zip(&cell_forecast) {
        let p = &b.providers[b.buckets[c.bucket as usize].provider as usize];
        let g = &mut out[c.group as usize];
        g.objects += c.objects;
        g.stored_bytes += c.stored;
        g.original_bytes += c.original;
        g.savings_bytes += c.savings;
        g.savings_monthly_usd_est += c.savings as f64 * p.savings_rate;
        g.storage_monthly_usd_est += c.stored as f64 * p.storage_rate;
        g.growth_bytes_30d += c.growth[0];
        g.growth_bytes_30_60d += c.growth[1];
        g.growth_bytes_60_90d += c.growth[2];
        for (m, v) in g.forecast_growth_bytes_est.iter_mut().zip(f) {
            *m += v;
        }
        let future = c.stored + f.iter().sum::<u64>();
        g.forecast_stored_bytes_3mo_est += future;
        g.forecast_storage_monthly_usd_3mo_est += future as f64 * p.forecast_rate;
        g.stale_objects += c.stale_objects;
        g.stale_bytes += c.stale_bytes;
        g.stale_storage_monthly_usd_est += c.stale_bytes as f64 * p.storage_rate;
    }

    // Transfers into groups: directly by provider or bucket; otherwise (transfers record no
    // folder, kind or org) split over the bucket's groups by stored bytes.
    let mut cells_of_bucket: Vec<Vec<u32>> = vec![Vec::new(); b.buckets.len()];
    if !matches!(group_by, GroupBy::Provider | GroupBy::Bucket) {
        for (i, c) in b.cells.iter().enumerate() {
            cells_of_bucket[c.bucket as usize].push(i as u32);
        }
    }
    let mut unattributed: Option<usize> = None;
    for bucket in 0..b.buckets.len() as u32 {
        let t = b.buckets[bucket as usize].transfers;
        if t.down_bytes == 0 && t.up_bytes == 0 && t.up_requests == 0 && t.down_requests == 0 {
            continue;
        }
        let p = &b.providers[b.buckets[bucket as usize].provider as usize];
        let (egress_rate, rates) = (p.egress_rate, p.rates);
        let targets: Vec<(usize, u64)> = match group_by {
            GroupBy::Provider | GroupBy::Bucket => {
                let g = b.bucket_group(bucket) as usize;
                if g >= out.len() {
                    out.push(GroupCost {
                        name: b.groups[g].name.clone(),
                        ..GroupCost::default()
                    });
                }
                vec![(g, 1)]
            }
            _ => {
                let cells = &cells_of_bucket[bucket as usize];
                if cells.is_empty() {
                    let g = *unattributed.get_or_insert_with(|| {
                        out.push(GroupCost {
                            name: UNATTRIBUTED.to_string(),
                            ..GroupCost::default()
                        });
                        out.len() - 1
                    });
                    vec![(g, 1)]
                } else {
                    let by_bytes = cells.iter().any(|&c| b.cells[c as usize].stored > 0);
                    cells
                        .iter()
                        .map(|&c| {
                            let c = &b.cells[c as usize];
                            (
                                c.group as usize,
                                if by_bytes { c.stored } else { c.objects },
                            )
                        })
                        .collect()
                }
            }
        };
        let weights: Vec<u64> = targets.iter().map(|t| t.1).collect();
        let down = apportion(t.down_bytes, &weights);
        let up = apportion(t.up_bytes, &weights);
        let up_req = apportion(t.up_requests, &weights);
        let down_req = apportion(t.down_requests, &weights);
        for (k, &(g, _)) in targets.iter().enumerate() {
            let g = &mut out[g];
            g.egress_bytes_30d += down[k];
            g.upload_bytes_30d += up[k];
            g.requests_30d += up_req[k] + down_req[k];
            g.egress_usd_est_30d += down[k] as f64 * egress_rate;
            g.requests_usd_est_30d += rates.requests(up_req[k], down_req[k]);
        }
    }

    // Per-group lists, then the JSONB comparison and the month's total.
    let artifact = |i: u32, providers: &[ProviderAcc<'_>]| -> Artifact {
        let o = &objects[i as usize];
        let rate = providers
            .iter()
            .find(|p| p.label == o.provider)
            .map_or(0.0, |p| p.storage_rate);
        Artifact {
            provider: o.provider.clone(),
            bucket: o.bucket.clone(),
            key: o.key.clone(),
            folder: o.folder.clone(),
            kind: o.kind.clone(),
            family: o.family.clone(),
            version: o.version.clone(),
            org: o.org.clone(),
            artifact_id: o.artifact_id,
            stored_bytes: o.stored_bytes,
            original_bytes: o.original_bytes,
            stored_at: o.stored_at,
            last_read: o.last_read,
            days_unread: (now - last_access(o)).whole_days(),
            storage_monthly_usd_est: o.stored_bytes as f64 * rate,
        }
    };
    let groups = std::mem::take(&mut b.groups);
    for (g, acc) in out.iter_mut().zip(groups) {
        g.largest = acc
            .largest
            .sorted()
            .into_iter()
            .map(|(_, i)| artifact(i, &b.providers))
            .collect();
        g.stalest = acc
            .stalest
            .sorted()
            .into_iter()
            .map(|(_, i)| artifact(i, &b.providers))
            .collect();
    }
    let mut total = GroupCost {
        name: "total".to_string(),
        ..GroupCost::default()
    };
    for g in &mut out {
        g.postgres_jsonb_monthly_usd_est =
            g.original_bytes as f64 / GB * prices.postgres_jsonb_gb_month;
        g.total_monthly_usd_est =
            g.storage_monthly_usd_est + g.egress_usd_est_30d + g.requests_usd_est_30d;
        add_into(&mut total, g);
    }
    total.largest = all_largest
        .sorted()
        .into_iter()
        .map(|(_, i)| artifact(i, &b.providers))
        .collect();
    total.stalest = all_stalest
        .sorted()
        .into_iter()
        .map(|(_, i)| artifact(i, &b.providers))
        .collect();
    out.sort_by(|a, b| {
        b.total_monthly_usd_est
            .total_cmp(&a.total_monthly_usd_est)
            .then(b.stored_bytes.cmp(&a.stored_bytes))
            .then_with(|| a.name.cmp(&b.name))
    });

    let providers: Vec<ProviderCost> = b
        .providers
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let (mut up_req, mut down_req) = (0, 0);
            for bk in b.buckets.iter().filter(|bk| bk.provider as usize == pi) {
                up_req += bk.transfers.up_requests;
                down_req += bk.transfers.down_requests;
            }
            let storage = p.rates.storage(p.stored as f64);
            let egress = p.rates.egress(p.down_bytes as f64);
            let requests = p.rates.requests(up_req, down_req);
            ProviderCost {
                provider: p.label.to_string(),
                kind: p.kind,
                objects: p.objects,
                stored_bytes: p.stored,
                storage_included_gb: p.rates.storage_included_gb,
                storage_monthly_usd_est: storage,
                egress_bytes_30d: p.down_bytes,
                egress_free_gb: p.rates.egress_free_gb,
                egress_usd_est_30d: egress,
                requests_usd_est_30d: requests,
                total_monthly_usd_est: storage + egress + requests,
            }
        })
        .collect();

    let forecast_method = format!(
        "Linear: a least-squares line through the bytes stored in each of the last three \
         {WINDOW_DAYS}-day windows (60-90, 30-60 and 0-30 days ago), extended three months \
         (a month's growth never below 0), added to today's stored bytes and priced like today."
    );
    let mut notes = vec![
        "Every figure is an estimate (est.) from the price table, not a bill.".to_string(),
        "GB = 2^30 bytes; storage is priced per GB-month on the bytes stored now.".to_string(),
        format!(
            "Free tiers apply once per provider total, not per group (S3: {} GB egress; \
             Supabase: {} GB storage, {} GB egress); each group's cost is its share of its \
             provider's cost, in proportion to its bytes.",
            prices.s3_egress_free_gb,
            prices.supabase_storage_included_gb,
            prices.supabase_egress_included_gb
        ),
        format!(
            "Egress and requests come from transfers recorded in the last {WINDOW_DAYS} days: \
             downloads are egress and GET requests, uploads are PUT requests (S3 only)."
        ),
        format!("Stale: not read (or, never read, not stored) for {STALE_AFTER_DAYS} days."),
        format!(
            "Postgres JSONB: the original (uncompressed) bytes at ${} per GB-month, no free tier.",
            prices.postgres_jsonb_gb_month
        ),
        forecast_method.clone(),
    ];
    if !matches!(group_by, GroupBy::Provider | GroupBy::Bucket) {
        notes.push(format!(
            "Transfers are recorded per bucket, not per {}: a bucket's transfers are split over \
             its {}s in proportion to their stored bytes.",
            group_by.as_str(),
            group_by.as_str()
        ));
    }
    for p in providers.iter().filter(|p| p.kind == ProviderKind::Unknown) {
        notes.push(format!(
            "Provider `{}` is not local, s3… or supabase…: priced at $0.",
            p.provider
        ));
    }

    CostReport {
        estimate: true,
        generated_at: now,
        group_by,
        prices: prices.clone(),
        notes,
        forecast_method,
        providers,
        groups: out,
        total,
    }
}

/// Add `g`'s sums into `total` (lists aside).
pub(super) fn add_into(total: &mut GroupCost, g: &GroupCost) {
    total.objects += g.objects;
    total.stored_bytes += g.stored_bytes;
    total.original_bytes += g.original_bytes;
    total.savings_bytes += g.savings_bytes;
    total.savings_monthly_usd_est += g.savings_monthly_usd_est;
    total.storage_monthly_usd_est += g.storage_monthly_usd_est;
    total.egress_bytes_30d += g.egress_bytes_30d;
    total.upload_bytes_30d += g.upload_bytes_30d;
    total.requests_30d += g.requests_30d;
    total.egress_usd_est_30d += g.egress_usd_est_30d;
    total.requests_usd_est_30d += g.requests_usd_est_30d;
    total.growth_bytes_30d += g.growth_bytes_30d;
    total.growth_bytes_30_60d += g.growth_bytes_30_60d;
    total.growth_bytes_60_90d += g.growth_bytes_60_90d;
    for (t, v) in total
        .forecast_growth_bytes_est
        .iter_mut()
        .zip(g.forecast_growth_bytes_est)
    {
        *t += v;
    }
    total.forecast_stored_bytes_3mo_est += g.forecast_stored_bytes_3mo_est;
    total.forecast_storage_monthly_usd_3mo_est += g.forecast_storage_monthly_usd_3mo_est;
    total.stale_objects += g.stale_objects;
    total.stale_bytes += g.stale_bytes;
    total.stale_storage_monthly_usd_est += g.stale_storage_monthly_usd_est;
    total.postgres_jsonb_monthly_usd_est += g.postgres_jsonb_monthly_usd_est;
    total.total_monthly_usd_est += g.total_monthly_usd_est;
}
