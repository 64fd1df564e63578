//! The same report from sums: the catalog streams each stored object's figures once (joined
//! and filtered in SQL, nothing allocated per row) into [`SummaryScan`], which sums them per
//! cell and keeps the candidates of the largest and stalest lists, for every grouping at once.

use super::*;

/// Which stored objects a report covers: the dashboard's filters, and `cost`'s `--org`,
/// `--provider`, `--since` and `--until`. Empty: everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct CostFilter {
    /// Only this organization ([`NO_ORG`] for objects without one).
    pub org: Option<String>,
    /// Only this provider label (`local`, `s3 (host:port)`, `supabase`).
    pub provider: Option<String>,
    /// Only objects stored at or after this time.
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub stored_after: Option<OffsetDateTime>,
    /// Only objects stored before this time.
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub stored_before: Option<OffsetDateTime>,
    /// Only this user's own copies and transfers (`me`), or everyone's (`team`, default).
    #[serde(default)]
    pub scope: crate::catalog::Scope,
}

impl CostFilter {
    /// True when the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        *self == CostFilter::default()
    }

    /// What the filter kept, for a report's notes (`None` when it keeps everything).
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(o) = &self.org {
            parts.push(format!("organization {o}"));
        }
        if let Some(p) = &self.provider {
            parts.push(format!("provider {p}"));
        }
        if self.scope == crate::catalog::Scope::Me {
            parts.push("yours".to_string());
        }
        let day = |t: &OffsetDateTime| t.date().to_string();
        match (&self.stored_after, &self.stored_before) {
            (Some(a), Some(b)) => parts.push(format!("stored from {} to {}", day(a), day(b))),
            (Some(a), None) => parts.push(format!("stored since {}", day(a))),
            (None, Some(b)) => parts.push(format!("stored before {}", day(b))),
            (None, None) => {}
        }
        (!parts.is_empty()).then(|| {
            format!(
                "Filtered: only objects of {}. With an organization filter, a bucket's \
                 transfers count in proportion to the organization's share of its stored bytes.",
                parts.join(", ")
            )
        })
    }
}

/// The providers and organizations a scan saw, filters aside: what the dashboard's filters
/// offer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct CostScope {
    /// Provider labels, in the order first stored.
    pub providers: Vec<String>,
    /// Organizations ([`NO_ORG`] for objects without one), in the order first stored.
    pub orgs: Vec<String>,
}

/// One stored object as the catalog's cost scan reads it, borrowed from the row.
#[derive(Clone, Copy, Debug)]
pub struct ScanRow<'r> {
    /// The location's id (storage order).
    pub id: i64,
    /// Provider label.
    pub provider: &'r str,
    /// Bucket.
    pub bucket: &'r str,
    /// The artifact's id.
    pub artifact: i64,
    /// Organization, empty when none.
    pub org: &'r str,
    /// Folder.
    pub folder: &'r str,
    /// Kind.
    pub kind: &'r str,
    /// Bytes as stored.
    pub stored_bytes: u64,
    /// Bytes before compression.
    pub original_bytes: u64,
    /// When it was stored, in nanoseconds since the epoch.
    pub stored_at_ns: i64,
    /// When it was last read, in nanoseconds since the epoch.
    pub last_read_ns: Option<i64>,
    /// The teammate who stored it; empty for this user's own.
    pub member: &'r str,
}

/// Sums of the objects of one (provider and bucket, organization and folder and kind).
#[derive(Clone, Copy, Default)]
struct Fine {
    first: i64,
    objects: u64,
    stored: u64,
    original: u64,
    savings: u64,
    growth: [u64; 3],
    stale_objects: u64,
    stale_bytes: u64,
}

/// Names seen in one column, each once.
#[derive(Default)]
struct Names {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Names {
    fn get(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.index
            .insert(name.to_string(), (self.names.len() - 1) as u32);
        (self.names.len() - 1) as u32
    }
}

/// The cost scan: fed every stored object once ([`SummaryScan::row`]), it gives the
/// [`CostSummary`] of each grouping asked for ([`SummaryScan::finish`]). Per object it costs
/// a few comparisons: names are interned per artifact and per bucket, not per row.
pub struct SummaryScan {
    groupings: Vec<GroupBy>,
    filter: CostFilter,
    after_ns: Option<i64>,
    before_ns: Option<i64>,
    cuts: [i64; 3],
    stale_cut: i64,
    /// (provider, bucket, provider's index).
    pbs: Vec<(String, String, u32)>,
    providers: Names,
    last_pb: Option<usize>,
    /// org, folder, kind and member, as indexes into `names`.
    dims: Vec<[u32; 4]>,
    dims_index: HashMap<[u32; 4], u32>,
    names: [Names; 4],
    /// Per artifact and member: its dims.
    of_artifact: HashMap<(i64, u32), u32>,
    last_artifact: Option<(i64, u32, u32)>,
    /// This user's index among the members.
    me: u32,
    fine: HashMap<(u32, u32), Fine>,
    /// Stored bytes per (provider, bucket): all, and those the filter kept.
    bucket_all: Vec<u64>,
    bucket_kept: Vec<u64>,
    /// Per grouping, per partition: the largest, and the stalest of the stale.
    largest: Vec<Vec<TopN<LargestById>>>,
    stalest: Vec<Vec<TopN<StalestById>>>,
}

const NS: i64 = 1_000_000_000;

/// A largest-list entry by location id: (Reverse(stored bytes), id).
type LargestById = (Reverse<u64>, i64);
/// A stalest-list entry by location id: (last access in seconds, id).
type StalestById = (i64, i64);

impl SummaryScan {
    /// A scan for `groupings`, keeping what `filter` keeps, as of `now`.
    pub fn new(groupings: &[GroupBy], filter: &CostFilter, now: OffsetDateTime) -> SummaryScan {
        let (cuts, stale_cut) = cuts(now);
        let ns = |t: &OffsetDateTime| (t.unix_timestamp_nanos()).clamp(0, i64::MAX as i128) as i64;
        SummaryScan {
            groupings: groupings.to_vec(),
            filter: filter.clone(),
            after_ns: filter.stored_after.as_ref().map(ns),
            before_ns: filter.stored_before.as_ref().map(ns),
            cuts,
            stale_cut,
            pbs: Vec::new(),
            providers: Names::default(),
            last_pb: None,
            dims: Vec::new(),
            dims_index: HashMap::new(),
            names: {
                let mut names: [Names; 4] = Default::default();
                names[3].get(ME);
                names
            },
            me: 0,
            of_artifact: HashMap::new(),
            last_artifact: None,
            fine: HashMap::new(),
            bucket_all: Vec::new(),
            bucket_kept: Vec::new(),
            largest: groupings.iter().map(|_| Vec::new()).collect(),
            stalest: groupings.iter().map(|_| Vec::new()).collect(),
        }
    }

    fn pb(&mut self, provider: &str, bucket: &str) -> usize {
        if let Some(i) = self.last_pb {
            let (p, b, _) = &self.pbs[i];
            if p == provider && b == bucket {
                return i;
            }
        }
        let i = match self
            .pbs
            .iter()
            .position(|(p, b, _)| p == provider && b == bucket)
        {
            Some(i) => i,
            None => {
                let p = self.providers.get(provider);
                self.pbs.push((provider.to_string(), bucket.to_string(), p));
                self.bucket_all.push(0);
                self.bucket_kept.push(0);
                self.pbs.len() - 1
            }
        };
        self.last_pb = Some(i);
        i
    }

    fn dims(&mut self, r: &ScanRow<'_>) -> u32 {
        // Most copies are this user's: their member costs no lookup.
        let member = if r.member.is_empty() {
            self.me
        } else {
            self.names[3].get(r.member)
        };
        if let Some((a, m, d)) = self.last_artifact {
            if a == r.artifact && m == member {
                return d;
            }
        }
        let d = match self.of_artifact.get(&(r.artifact, member)) {
            Some(&d) => d,
            None => {
                let org = if r.org.is_empty() { NO_ORG } else { r.org };
                let key = [
                    self.names[0].get(org),
                    self.names[1].get(r.folder),
                    self.names[2].get(r.kind),
                    member,
                ];
                let dims = &mut self.dims;
                let d = *self.dims_index.entry(key).or_insert_with(|| {
                    dims.push(key);
                    (dims.len() - 1) as u32
                });
                self.of_artifact.insert((r.artifact, member), d);
                d
            }
        };
        self.last_artifact = Some((r.artifact, member, d));
        d
    }

    /// Count one stored object.
    #[inline]
    pub fn row(&mut self, r: &ScanRow<'_>) {
        let pb = self.pb(r.provider, r.bucket);
        let d = self.dims(r);
        self.bucket_all[pb] += r.stored_bytes;
        if self.after_ns.is_some_and(|a| r.stored_at_ns < a)
            || self.before_ns.is_some_and(|b| r.stored_at_ns >= b)
            || self
                .filter
                .provider
                .as_deref()
                .is_some_and(|p| p != r.provider)
            || self
                .filter
                .org
                .as_deref()
                .is_some_and(|o| o != self.names[0].names[self.dims[d as usize][0] as usize])
            || (self.filter.scope == crate::catalog::Scope::Me && !r.member.is_empty())
        {
            return;
        }
        self.bucket_kept[pb] += r.stored_bytes;
        let stored_at = r.stored_at_ns / NS;
        let access = r
            .last_read_ns
            .map_or(stored_at, |l| (l / NS).max(stored_at));
        let stale = access < self.stale_cut;
        let f = self.fine.entry((pb as u32, d)).or_insert(Fine {
            first: r.id,
            ..Fine::default()
        });
        f.first = f.first.min(r.id);
        f.objects += 1;
        f.stored += r.stored_bytes;
        f.original += r.original_bytes;
        f.savings += r.original_bytes.saturating_sub(r.stored_bytes);
        let [c30, c60, c90] = self.cuts;
        if stored_at >= c30 {
            f.growth[0] += r.stored_bytes;
        } else if stored_at >= c60 {
            f.growth[1] += r.stored_bytes;
        } else if stored_at >= c90 {
            f.growth[2] += r.stored_bytes;
        }
        if stale {
            f.stale_objects += 1;
            f.stale_bytes += r.stored_bytes;
        }
        let dims = self.dims[d as usize];
        for (gi, g) in self.groupings.iter().enumerate() {
            let part = match g {
                GroupBy::Provider => self.pbs[pb].2,
                GroupBy::Bucket => pb as u32,
                GroupBy::Org => dims[0],
                GroupBy::Folder => dims[1],
                GroupBy::Kind => dims[2],
                GroupBy::Member => dims[3],
            } as usize;
            let largest = &mut self.largest[gi];
            if largest.len() <= part {
                largest.resize_with(part + 1, TopN::new);
            }
            largest[part].offer((Reverse(r.stored_bytes), r.id));
            if stale {
                let stalest = &mut self.stalest[gi];
                if stalest.len() <= part {
                    stalest.resize_with(part + 1, TopN::new);
                }
                stalest[part].offer((access, r.id));
            }
        }
    }

    /// The ids of the objects that can be in a largest or stalest list, in storage order.
    pub fn candidate_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .largest
            .iter()
            .flatten()
            .flat_map(|t| t.heap.iter().map(|k| k.1))
            .chain(
                self.stalest
                    .iter()
                    .flatten()
                    .flat_map(|t| t.heap.iter().map(|k| k.1)),
            )
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The summary of each grouping asked for (in that order), from the scan, the transfers of
    /// the last 30 days per bucket, and the candidates ([`SummaryScan::candidate_ids`]' rows);
    /// and what the scan saw.
    pub fn finish(
        self,
        transfers: Vec<BucketTransferSum>,
        candidates: Vec<StoredObject>,
    ) -> (Vec<CostSummary>, CostScope) {
        let mut fine: Vec<((u32, u32), Fine)> = self.fine.into_iter().collect();
        fine.sort_unstable_by_key(|(_, f)| f.first);
        // A bucket's transfers, for the objects the filter kept.
        let transfers: Vec<BucketTransferSum> = transfers
            .into_iter()
            .filter(|t| {
                self.filter
                    .provider
                    .as_ref()
                    .is_none_or(|p| *p == t.provider)
            })
            .filter_map(|t| {
                if self.filter.org.is_none() {
                    return Some(t);
                }
                let pb = self
                    .pbs
                    .iter()
                    .position(|(p, b, _)| *p == t.provider && *b == t.bucket)?;
                let (kept, all) = (self.bucket_kept[pb] as u128, self.bucket_all[pb] as u128);
                let share = |v: u64| (v as u128 * kept).checked_div(all).unwrap_or(0) as u64;
                (kept > 0).then(|| BucketTransferSum {
                    down_bytes: share(t.down_bytes),
                    up_bytes: share(t.up_bytes),
                    up_requests: share(t.up_requests),
                    down_requests: share(t.down_requests),
                    ..t
                })
            })
            .collect();
        let summaries = self
            .groupings
            .iter()
            .map(|&g| {
                let mut cells: Vec<(i64, CostCell)> = Vec::new();
                let mut at: HashMap<(u32, u32), usize> = HashMap::new();
                for &((pb, d), f) in &fine {
                    let dims = self.dims[d as usize];
                    let (column, name) = match g {
                        GroupBy::Provider | GroupBy::Bucket => (None, u32::MAX),
                        GroupBy::Org => (Some(0), dims[0]),
                        GroupBy::Folder => (Some(1), dims[1]),
                        GroupBy::Kind => (Some(2), dims[2]),
                        GroupBy::Member => (Some(3), dims[3]),
                    };
                    let i = *at.entry((pb, name)).or_insert_with(|| {
                        let (provider, bucket, _) = &self.pbs[pb as usize];
                        cells.push((
                            f.first,
                            CostCell {
                                provider: provider.clone(),
                                bucket: bucket.clone(),
                                group: column.map_or_else(String::new, |c: usize| {
                                    self.names[c].names[name as usize].clone()
                                }),
                                ..CostCell::default()
                            },
                        ));
                        cells.len() - 1
                    });
                    let (first, c) = &mut cells[i];
                    *first = (*first).min(f.first);
                    c.objects += f.objects;
                    c.stored_bytes += f.stored;
                    c.original_bytes += f.original;
                    c.savings_bytes += f.savings;
                    for (a, b) in c.growth.iter_mut().zip(f.growth) {
                        *a += b;
                    }
                    c.stale_objects += f.stale_objects;
                    c.stale_bytes += f.stale_bytes;
                }
                cells.sort_by_key(|(first, _)| *first);
                CostSummary {
                    cells: cells.into_iter().map(|(_, c)| c).collect(),
                    transfers: transfers.clone(),
                    candidates: candidates.clone(),
                }
            })
            .collect();
        let [orgs, ..] = self.names;
        let scope = CostScope {
            providers: self.providers.names,
            orgs: orgs.names,
        };
        (summaries, scope)
    }
}

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
