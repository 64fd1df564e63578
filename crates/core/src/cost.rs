//! Cost and size estimates (M11): per provider, bucket, folder, kind or organization, the
//! storage, egress and request cost, compression savings, growth and a forecast, the largest
//! and stalest artifacts, and what Postgres JSONB would cost. Every figure is an estimate from
//! the editable price table; nothing here asks a provider's billing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::str::FromStr;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::error::Error;

/// One stored object as the catalog knows it; the input of [`report`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// Provider label as the store reports it (`local`, `s3 (host:port)`, `supabase`).
    pub provider: String,
    /// Bucket.
    pub bucket: String,
    /// Organization, if the artifact belongs to one.
    pub org: Option<String>,
    /// Folder (`models/`, `training-data/`, …).
    pub folder: String,
    /// Kind (dataset, model, catalog, …).
    pub kind: String,
    /// Family: the model's or dataset's name.
    pub family: String,
    /// Version.
    pub version: String,
    /// Object key.
    pub key: String,
    /// Bytes as stored (after compression).
    pub stored_bytes: u64,
    /// Bytes before compression (equal to `stored_bytes` when not compressed).
    pub original_bytes: u64,
    /// When it was stored.
    pub stored_at: time::OffsetDateTime,
    /// When it was last read, if ever.
    pub last_read: Option<time::OffsetDateTime>,
}

/// Which way a recorded transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// To the provider (ingress: free, but PUT requests).
    Upload,
    /// From the provider (egress and GET requests).
    Download,
}

/// One recorded transfer (bytes and requests against one bucket).
#[derive(Debug, Clone, PartialEq)]
pub struct TransferRecord {
    /// Provider label.
    pub provider: String,
    /// Bucket.
    pub bucket: String,
    /// Which way.
    pub direction: Direction,
    /// Bytes moved.
    pub bytes: u64,
    /// Requests made (parts, chunks, listings).
    pub requests: u64,
    /// When it finished.
    pub at: time::OffsetDateTime,
}

/// Bytes in one GB as providers bill it (AWS bills GB-months of 2^30 bytes).
pub const GB: f64 = 1_073_741_824.0;
/// How many artifacts the largest and stalest lists hold per group.
pub const LIST_LEN: usize = 20;
/// An artifact not read (or, never read, not stored) for this many days is stale.
pub const STALE_AFTER_DAYS: i64 = 90;
/// Transfers and growth are measured over windows of this many days ("a month").
pub const WINDOW_DAYS: i64 = 30;

/// Prices in USD, editable in the config's `[prices]` section; defaults from DESIGN.md.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct PriceTable {
    /// S3 Standard storage per GB-month.
    pub s3_storage_gb_month: f64,
    /// S3 PUT, COPY, POST and LIST requests per 1,000.
    pub s3_put_per_1000: f64,
    /// S3 GET and other requests per 1,000.
    pub s3_get_per_1000: f64,
    /// S3 egress per GB beyond the free allowance.
    pub s3_egress_gb: f64,
    /// S3 egress free each month, in GB.
    pub s3_egress_free_gb: f64,
    /// Supabase Storage per GB-month beyond the included storage.
    pub supabase_storage_gb_month: f64,
    /// Supabase storage included in the plan (Pro), in GB.
    pub supabase_storage_included_gb: f64,
    /// Supabase egress per GB beyond the included egress.
    pub supabase_egress_gb: f64,
    /// Supabase egress included in the plan (Pro) each month, in GB.
    pub supabase_egress_included_gb: f64,
    /// Postgres JSONB storage per GB-month, for the comparison.
    pub postgres_jsonb_gb_month: f64,
    /// A local folder's storage per GB-month (0: the disk is already paid for).
    pub local_storage_gb_month: f64,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            s3_storage_gb_month: 0.023,
            s3_put_per_1000: 0.005,
            s3_get_per_1000: 0.0004,
            s3_egress_gb: 0.09,
            s3_egress_free_gb: 100.0,
            supabase_storage_gb_month: 0.021,
            supabase_storage_included_gb: 100.0,
            supabase_egress_gb: 0.09,
            supabase_egress_included_gb: 250.0,
            postgres_jsonb_gb_month: 0.125,
            local_storage_gb_month: 0.0,
        }
    }
}

/// The rates that apply to one provider kind.
#[derive(Clone, Copy, Debug, Default)]
struct Rates {
    storage_gb_month: f64,
    storage_included_gb: f64,
    egress_gb: f64,
    egress_free_gb: f64,
    put_per_1000: f64,
    get_per_1000: f64,
}

impl Rates {
    fn storage(&self, bytes: f64) -> f64 {
        (bytes / GB - self.storage_included_gb).max(0.0) * self.storage_gb_month
    }

    fn egress(&self, bytes: f64) -> f64 {
        (bytes / GB - self.egress_free_gb).max(0.0) * self.egress_gb
    }

    fn requests(&self, uploads: u64, downloads: u64) -> f64 {
        uploads as f64 / 1000.0 * self.put_per_1000 + downloads as f64 / 1000.0 * self.get_per_1000
    }
}

impl PriceTable {
    fn rates(&self, kind: ProviderKind) -> Rates {
        match kind {
            ProviderKind::S3 => Rates {
                storage_gb_month: self.s3_storage_gb_month,
                storage_included_gb: 0.0,
                egress_gb: self.s3_egress_gb,
                egress_free_gb: self.s3_egress_free_gb,
                put_per_1000: self.s3_put_per_1000,
                get_per_1000: self.s3_get_per_1000,
            },
            ProviderKind::Supabase => Rates {
                storage_gb_month: self.supabase_storage_gb_month,
                storage_included_gb: self.supabase_storage_included_gb,
                egress_gb: self.supabase_egress_gb,
                egress_free_gb: self.supabase_egress_included_gb,
                ..Rates::default()
            },
            ProviderKind::Local => Rates {
                storage_gb_month: self.local_storage_gb_month,
                ..Rates::default()
            },
            ProviderKind::Unknown => Rates::default(),
        }
    }
}

/// Which price list a provider label follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// `local`: a folder.
    Local,
    /// `s3`, `s3 (host:port)`: S3 prices.
    S3,
    /// `supabase…`: Supabase Pro prices.
    Supabase,
    /// Anything else: priced at $0 and named in the notes.
    Unknown,
}

impl ProviderKind {
    /// The kind of a provider label as stores report it (`local`, `s3 (host:port)`, `supabase`).
    pub fn of(label: &str) -> ProviderKind {
        match stowage_store::provider::of_label(label).map(|p| p.price_kind) {
            Some("local") => ProviderKind::Local,
            Some("s3") => ProviderKind::S3,
            Some("supabase") => ProviderKind::Supabase,
            _ => ProviderKind::Unknown,
        }
    }
}

/// What the report's groups are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// One group per provider label.
    #[default]
    Provider,
    /// One group per bucket of a provider (`provider/bucket`).
    Bucket,
    /// One group per folder (across providers).
    Folder,
    /// One group per kind (dataset, model, …).
    Kind,
    /// One group per organization (`(no org)` when unset).
    Org,
}

impl GroupBy {
    /// Every grouping, in the order the CLI lists them.
    pub const ALL: [GroupBy; 5] = [
        GroupBy::Provider,
        GroupBy::Bucket,
        GroupBy::Folder,
        GroupBy::Kind,
        GroupBy::Org,
    ];

    /// The name used by `--by` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Bucket => "bucket",
            GroupBy::Folder => "folder",
            GroupBy::Kind => "kind",
            GroupBy::Org => "org",
        }
    }
}

impl FromStr for GroupBy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "cannot group costs by `{s}`; use provider, bucket, folder, kind or org"
                ))
            })
    }
}

/// The group name of objects with no organization.
pub const NO_ORG: &str = "(no org)";
/// The group that takes transfers of buckets holding no catalogued objects (when grouping by
/// folder, kind or org, which transfers do not record).
pub const UNATTRIBUTED: &str = "(transfers of buckets without objects)";

/// The cost estimate: per-provider totals (where free tiers apply), groups and their sum.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct CostReport {
    /// Always true: these are estimates from the price table, not bills.
    pub estimate: bool,
    /// When the report was computed; windows end here.
    #[ts(type = "string")]
    #[ts(type = "string")]
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// What the groups are.
    pub group_by: GroupBy,
    /// The prices used.
    pub prices: PriceTable,
    /// How the figures were reached (free tiers, allocation, forecast, staleness).
    pub notes: Vec<String>,
    /// The forecast's method in one sentence.
    pub forecast_method: String,
    /// Per provider totals, where free tiers were applied.
    pub providers: Vec<ProviderCost>,
    /// The groups, costliest first.
    pub groups: Vec<GroupCost>,
    /// The sum of every group (its lists span all objects).
    pub total: GroupCost,
}

/// One provider's totals, where its free tiers apply.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct ProviderCost {
    /// The provider label.
    pub provider: String,
    /// Which price list applied.
    pub kind: ProviderKind,
    /// Objects stored there.
    pub objects: u64,
    /// Bytes stored there.
    pub stored_bytes: u64,
    /// Storage included for free, in GB.
    pub storage_included_gb: f64,
    /// Monthly storage cost after the included storage, est.
    pub storage_monthly_usd_est: f64,
    /// Bytes downloaded in the last 30 days.
    pub egress_bytes_30d: u64,
    /// Free egress per month, in GB.
    pub egress_free_gb: f64,
    /// Egress cost of the last 30 days after the free allowance, est.
    pub egress_usd_est_30d: f64,
    /// Request cost of the last 30 days, est.
    pub requests_usd_est_30d: f64,
}

/// One group's figures; dollar and forecast fields are estimates (`_est`).
#[derive(Clone, Debug, Default, Serialize, ts_rs::TS)]
pub struct GroupCost {
    /// The group's name (`total` for the sum).
    pub name: String,
    /// Objects in the group.
    pub objects: u64,
    /// Bytes as stored (after compression).
    pub stored_bytes: u64,
    /// Bytes before compression.
    pub original_bytes: u64,
    /// Bytes compression saved (sum over objects of original minus stored, never negative).
    pub savings_bytes: u64,
    /// What those saved bytes would cost per month, est.
    pub savings_monthly_usd_est: f64,
    /// Monthly storage cost (its share of its providers' cost after free tiers), est.
    pub storage_monthly_usd_est: f64,
    /// Bytes downloaded in the last 30 days (split by stored bytes for folder/kind/org).
    pub egress_bytes_30d: u64,
    /// Bytes uploaded in the last 30 days (split likewise).
    pub upload_bytes_30d: u64,
    /// Requests in the last 30 days (split likewise).
    pub requests_30d: u64,
    /// Egress cost of the last 30 days, est.
    pub egress_usd_est_30d: f64,
    /// Request cost of the last 30 days, est.
    pub requests_usd_est_30d: f64,
    /// Storage + egress + requests: a month's cost, est.
    pub total_monthly_usd_est: f64,
    /// Bytes of objects stored in the last 30 days.
    pub growth_bytes_30d: u64,
    /// Bytes of objects stored 30 to 60 days ago.
    pub growth_bytes_30_60d: u64,
    /// Bytes of objects stored 60 to 90 days ago.
    pub growth_bytes_60_90d: u64,
    /// Forecast growth in each of the next three months, est.
    pub forecast_growth_bytes_est: [u64; 3],
    /// Stored bytes in three months, est.
    pub forecast_stored_bytes_3mo_est: u64,
    /// Monthly storage cost in three months, est.
    pub forecast_storage_monthly_usd_3mo_est: f64,
    /// Objects not read for 90 days.
    pub stale_objects: u64,
    /// Their stored bytes.
    pub stale_bytes: u64,
    /// Their monthly storage cost, est.
    pub stale_storage_monthly_usd_est: f64,
    /// What the original bytes would cost per month as Postgres JSONB, est.
    pub postgres_jsonb_monthly_usd_est: f64,
    /// The largest artifacts, largest first.
    pub largest: Vec<Artifact>,
    /// The stale artifacts longest unread, oldest first.
    pub stalest: Vec<Artifact>,
}

/// One artifact in a largest or stalest list.
#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct Artifact {
    /// Provider label.
    pub provider: String,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Folder.
    pub folder: String,
    /// Kind.
    pub kind: String,
    /// Family (model or dataset name).
    pub family: String,
    /// Version.
    pub version: String,
    /// Organization.
    pub org: Option<String>,
    /// Bytes as stored.
    pub stored_bytes: u64,
    /// Bytes before compression.
    pub original_bytes: u64,
    /// When it was stored.
    #[ts(type = "string")]
    #[serde(with = "time::serde::rfc3339")]
    pub stored_at: OffsetDateTime,
    /// When it was last read, if ever.
    #[ts(type = "string | null")]
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_read: Option<OffsetDateTime>,
    /// Whole days since it was last read (or stored, if never read).
    pub days_unread: i64,
    /// Its monthly storage cost, est.
    pub storage_monthly_usd_est: f64,
}

/// Per (group, bucket) sums from the one pass over objects.
#[derive(Clone, Copy, Default)]
struct Cell {
    group: u32,
    bucket: u32,
    objects: u64,
    stored: u64,
    original: u64,
    savings: u64,
    growth: [u64; 3],
    stale_objects: u64,
    stale_bytes: u64,
}

/// Per bucket transfer sums from the pass over transfers.
#[derive(Clone, Copy, Default)]
struct BucketTransfers {
    down_bytes: u64,
    up_bytes: u64,
    up_requests: u64,
    down_requests: u64,
}

struct BucketInfo<'a> {
    provider: u32,
    name: &'a str,
    transfers: BucketTransfers,
    // Its group when grouping by bucket (NONE until known).
    group: u32,
}

struct ProviderAcc<'a> {
    label: &'a str,
    kind: ProviderKind,
    rates: Rates,
    // Its group when grouping by provider (NONE until known).
    group: u32,
    objects: u64,
    stored: u64,
    savings: u64,
    forecast_growth: u64,
    down_bytes: u64,
    // Per-byte rates once free tiers are applied to the totals.
    storage_rate: f64,
    savings_rate: f64,
    forecast_rate: f64,
    egress_rate: f64,
}

/// A top-N list kept as a heap whose top is the entry to drop first.
struct TopN<K: Ord> {
    heap: BinaryHeap<K>,
}

impl<K: Ord> TopN<K> {
    fn new() -> Self {
        TopN {
            heap: BinaryHeap::with_capacity(LIST_LEN + 1),
        }
    }

    /// Offer an entry; the heap's greatest is the weakest kept, so keys are built to make
    /// "drop first" greatest.
    #[inline]
    fn offer(&mut self, k: K) {
        if self.heap.len() < LIST_LEN {
            self.heap.push(k);
        } else if let Some(top) = self.heap.peek() {
            if k < *top {
                self.heap.pop();
                self.heap.push(k);
            }
        }
    }

    fn sorted(self) -> Vec<K> {
        self.heap.into_sorted_vec()
    }
}

/// Largest: drop the smallest first, so the key is (Reverse(size), index).
type LargeKey = (Reverse<u64>, u32);
/// Stalest: drop the most recently read first, so the key is (last access, index).
type StaleKey = (i64, u32);

struct GroupAcc {
    name: String,
    largest: TopN<LargeKey>,
    stalest: TopN<StaleKey>,
}

impl GroupAcc {
    fn new(name: String) -> Self {
        GroupAcc {
            name,
            largest: TopN::new(),
            stalest: TopN::new(),
        }
    }
}

/// Index of strings borrowed from the inputs, so no string is cloned per object.
struct Interner<'a> {
    map: HashMap<(&'a str, &'a str), u32>,
    last: Option<((&'a str, &'a str), u32)>,
}

impl<'a> Interner<'a> {
    fn new() -> Self {
        Interner {
            map: HashMap::new(),
            last: None,
        }
    }

    /// The index of `key`, calling `add` to create it (catalog rows come clustered, so the
    /// last key is checked before hashing).
    #[inline]
    fn get(&mut self, key: (&'a str, &'a str), add: impl FnOnce() -> u32) -> u32 {
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
fn last_access(o: &StoredObject) -> OffsetDateTime {
    match o.last_read {
        Some(r) if r > o.stored_at => r,
        _ => o.stored_at,
    }
}

/// Forecast growth of the next three months from growth in the three last 30-day windows
/// (`[last 30 d, 30-60 d, 60-90 d]`): the least-squares line through the three points,
/// extended, each month at least 0.
fn forecast(growth: [u64; 3]) -> [f64; 3] {
    let (y0, y1, y2) = (growth[2] as f64, growth[1] as f64, growth[0] as f64);
    let mean = (y0 + y1 + y2) / 3.0;
    // Points at months -2, -1, 0: slope = Σ(x-x̄)(y-ȳ)/Σ(x-x̄)² = (y2 - y0) / 2.
    let slope = (y2 - y0) / 2.0;
    [1.0, 2.0, 3.0].map(|k| (mean + slope * (k + 1.0)).max(0.0))
}

/// Split `total` over `weights` in proportion, exactly (largest remainder), so integer sums hold.
fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
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

const NONE: u32 = u32::MAX;

/// The accumulators of one report.
struct Builder<'a> {
    prices: &'a PriceTable,
    group_by: GroupBy,
    providers: Vec<ProviderAcc<'a>>,
    buckets: Vec<BucketInfo<'a>>,
    bucket_index: Interner<'a>,
    groups: Vec<GroupAcc>,
    group_index: Interner<'a>,
    cells: Vec<Cell>,
    // Cell index by [group][bucket] (NONE when absent): few of each, so no hashing.
    cell_of: Vec<Vec<u32>>,
}

impl<'a> Builder<'a> {
    /// Empty accumulators for a report grouped by `group_by`.
    fn new(prices: &'a PriceTable, group_by: GroupBy) -> Builder<'a> {
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
    fn bucket(&mut self, provider: &'a str, bucket: &'a str) -> u32 {
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

    fn new_group(groups: &mut Vec<GroupAcc>, name: String) -> u32 {
        groups.push(GroupAcc::new(name));
        (groups.len() - 1) as u32
    }

    /// The group of a bucket when grouping by provider or bucket, cached on the bucket.
    fn bucket_group(&mut self, b: u32) -> u32 {
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
    fn named_group(&mut self, name: &'a str) -> u32 {
        let groups = &mut self.groups;
        self.group_index
            .get((name, ""), || Self::new_group(groups, name.to_string()))
    }

    fn cell(&mut self, group: u32, bucket: u32) -> usize {
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
        let bucket = b.bucket(&o.provider, &o.bucket);
        let group = match group_by {
            GroupBy::Provider | GroupBy::Bucket => b.bucket_group(bucket),
            GroupBy::Folder => b.named_group(&o.folder),
            GroupBy::Kind => b.named_group(&o.kind),
            GroupBy::Org => b.named_group(o.org.as_deref().unwrap_or(NO_ORG)),
        };
        let stored_at = secs(o.stored_at);
        let access = match o.last_read {
            Some(r) => secs(r).max(stored_at),
            None => stored_at,
        };
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
    let secs = |t: OffsetDateTime| t.unix_timestamp();
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
        let bucket = b.bucket(&o.provider, &o.bucket);
        let group = match group_by {
            GroupBy::Provider | GroupBy::Bucket => b.bucket_group(bucket),
            GroupBy::Folder => b.named_group(&o.folder),
            GroupBy::Kind => b.named_group(&o.kind),
            GroupBy::Org => b.named_group(o.org.as_deref().unwrap_or(NO_ORG)),
        };
        let stored_at = secs(o.stored_at);
        let access = match o.last_read {
            Some(r) => secs(r).max(stored_at),
            None => stored_at,
        };
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

/// The rest of a report once cells, lists and transfers are summed.
fn finish<'a>(
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
            ProviderCost {
                provider: p.label.to_string(),
                kind: p.kind,
                objects: p.objects,
                stored_bytes: p.stored,
                storage_included_gb: p.rates.storage_included_gb,
                storage_monthly_usd_est: p.rates.storage(p.stored as f64),
                egress_bytes_30d: p.down_bytes,
                egress_free_gb: p.rates.egress_free_gb,
                egress_usd_est_30d: p.rates.egress(p.down_bytes as f64),
                requests_usd_est_30d: p.rates.requests(up_req, down_req),
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
fn add_into(total: &mut GroupCost, g: &GroupCost) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = 1 << 30;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_735_689_600).unwrap() // 2025-01-01
    }

    fn days_ago(d: i64) -> OffsetDateTime {
        now() - Duration::days(d)
    }

    #[allow(clippy::too_many_arguments)]
    fn obj(
        provider: &str,
        bucket: &str,
        folder: &str,
        kind: &str,
        org: Option<&str>,
        key: &str,
        stored_gb: u64,
        original_gb: u64,
        stored_days: i64,
        read_days: Option<i64>,
    ) -> StoredObject {
        StoredObject {
            provider: provider.into(),
            bucket: bucket.into(),
            org: org.map(Into::into),
            folder: folder.into(),
            kind: kind.into(),
            family: key.into(),
            version: "v1".into(),
            key: key.into(),
            stored_bytes: stored_gb * G,
            original_bytes: original_gb * G,
            stored_at: days_ago(stored_days),
            last_read: read_days.map(days_ago),
        }
    }

    fn transfer(
        provider: &str,
        bucket: &str,
        d: Direction,
        gb: u64,
        req: u64,
        days: i64,
    ) -> TransferRecord {
        TransferRecord {
            provider: provider.into(),
            bucket: bucket.into(),
            direction: d,
            bytes: gb * G,
            requests: req,
            at: days_ago(days),
        }
    }

    /// Six objects over S3, Supabase and a local folder; figures in the tests are by hand.
    fn fixture() -> (Vec<StoredObject>, Vec<TransferRecord>) {
        let objects = vec![
            obj(
                "s3",
                "ml",
                "models/",
                "model",
                Some("acme"),
                "models/bert.pt",
                200,
                200,
                10,
                Some(1),
            ),
            obj(
                "s3",
                "ml",
                "training-data/",
                "dataset",
                Some("acme"),
                "training-data/a.json.gz",
                100,
                300,
                40,
                None,
            ),
            obj(
                "s3",
                "ml",
                "training-data/",
                "dataset",
                None,
                "training-data/old.csv",
                100,
                100,
                100,
                None,
            ),
            obj(
                "supabase",
                "team",
                "models/",
                "model",
                Some("acme"),
                "models/gpt.pt",
                150,
                150,
                70,
                Some(5),
            ),
            obj(
                "supabase",
                "team",
                "catalogs/",
                "catalog",
                Some("beta"),
                "catalogs/c.json.gz",
                50,
                100,
                200,
                Some(120),
            ),
            obj(
                "local",
                "scratch",
                "models/",
                "model",
                None,
                "models/tiny.pt",
                12,
                12,
                5,
                None,
            ),
        ];
        use Direction::*;
        let transfers = vec![
            transfer("s3", "ml", Download, 150, 2000, 1),
            transfer("s3", "ml", Download, 50, 1000, 40), // outside the 30-day window
            transfer("s3", "ml", Upload, 100, 5000, 2),
            transfer("supabase", "team", Download, 300, 12, 3),
            transfer("s3", "archive", Download, 10, 0, 1), // a bucket with no objects
        ];
        (objects, transfers)
    }

    fn run(by: GroupBy) -> CostReport {
        let (o, t) = fixture();
        report(&o, &t, &PriceTable::default(), by, now())
    }

    fn group<'r>(r: &'r CostReport, name: &str) -> &'r GroupCost {
        r.groups
            .iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("no group {name}"))
    }

    #[track_caller]
    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn storage_free_tier_savings_and_jsonb_by_provider() {
        let r = run(GroupBy::Provider);
        let s3 = group(&r, "s3");
        assert_eq!(
            (s3.objects, s3.stored_bytes, s3.original_bytes),
            (3, 400 * G, 600 * G)
        );
        close(s3.storage_monthly_usd_est, 400.0 * 0.023);
        // Supabase: 200 GB stored, 100 GB included: 100 GB at $0.021.
        let sb = group(&r, "supabase");
        close(sb.storage_monthly_usd_est, 2.10);
        close(group(&r, "local").storage_monthly_usd_est, 0.0);
        // Savings: what the saved bytes would add to the provider's bill.
        assert_eq!(s3.savings_bytes, 200 * G);
        close(s3.savings_monthly_usd_est, 200.0 * 0.023);
        assert_eq!(sb.savings_bytes, 50 * G);
        close(sb.savings_monthly_usd_est, (150.0 - 100.0) * 0.021);
        close(r.total.savings_monthly_usd_est, 4.60 + 1.05);
        // JSONB: original bytes at $0.125.
        close(s3.postgres_jsonb_monthly_usd_est, 600.0 * 0.125);
        close(r.total.postgres_jsonb_monthly_usd_est, 862.0 * 0.125);
        assert!(r.estimate);
        assert_eq!(r.groups[0].name, "s3", "costliest first");
    }

    #[test]
    fn egress_after_free_tier_and_requests() {
        let r = run(GroupBy::Provider);
        let s3 = group(&r, "s3");
        // 160 GB downloaded from S3 in 30 days (the 40-day-old one excluded): 60 GB billed.
        assert_eq!(s3.egress_bytes_30d, 160 * G);
        close(s3.egress_usd_est_30d, 60.0 * 0.09);
        // 5,000 PUTs and 2,000 GETs.
        assert_eq!(s3.requests_30d, 7000);
        close(s3.requests_usd_est_30d, 5.0 * 0.005 + 2.0 * 0.0004);
        close(s3.total_monthly_usd_est, 9.20 + 5.40 + 0.0258);
        let sb = group(&r, "supabase");
        close(sb.egress_usd_est_30d, 50.0 * 0.09);
        close(sb.requests_usd_est_30d, 0.0);
        let p = r.providers.iter().find(|p| p.provider == "s3").unwrap();
        close(p.egress_usd_est_30d, 5.40);
        assert_eq!(p.kind, ProviderKind::S3);
    }

    #[test]
    fn free_tiers_are_shared_in_proportion_across_groups() {
        let r = run(GroupBy::Folder);
        // Supabase's $2.10 (after 100 GB included) split 150:50 between models/ and catalogs/.
        close(
            group(&r, "models/").storage_monthly_usd_est,
            200.0 * 0.023 + 1.575,
        );
        close(group(&r, "catalogs/").storage_monthly_usd_est, 0.525);
        close(group(&r, "training-data/").storage_monthly_usd_est, 4.60);
        // S3 ml transfers split 200:200 by stored bytes; Supabase team 150:50.
        let models = group(&r, "models/");
        assert_eq!(models.egress_bytes_30d, 75 * G + 225 * G);
        close(models.egress_usd_est_30d, 75.0 * 0.03375 + 3.375);
        assert_eq!(models.requests_30d, 3500 + 9);
        close(group(&r, "catalogs/").egress_usd_est_30d, 1.125);
        // The bucket without objects has its own group.
        let un = group(&r, UNATTRIBUTED);
        assert_eq!((un.objects, un.egress_bytes_30d), (0, 10 * G));
        close(un.egress_usd_est_30d, 10.0 * 0.03375);
        assert!(r.notes.iter().any(|n| n.contains("split over")));

        let r = run(GroupBy::Org);
        close(
            group(&r, "acme").storage_monthly_usd_est,
            300.0 * 0.023 + 1.575,
        );
        assert_eq!(group(&r, NO_ORG).objects, 2);
        assert_eq!(group(&r, "beta").stored_bytes, 50 * G);

        let r = run(GroupBy::Bucket);
        assert_eq!(group(&r, "s3/archive").egress_bytes_30d, 10 * G);
        assert_eq!(group(&r, "s3/ml").objects, 3);
        let r = run(GroupBy::Kind);
        assert_eq!(group(&r, "model").objects, 3);
    }

    #[test]
    fn growth_and_linear_forecast() {
        let r = run(GroupBy::Provider);
        let s3 = group(&r, "s3");
        assert_eq!(
            (
                s3.growth_bytes_30d,
                s3.growth_bytes_30_60d,
                s3.growth_bytes_60_90d
            ),
            (200 * G, 100 * G, 0)
        );
        // 0, 100, 200 GB: +100 GB a month, so 300, 400, 500 GB next.
        assert_eq!(s3.forecast_growth_bytes_est, [300 * G, 400 * G, 500 * G]);
        assert_eq!(s3.forecast_stored_bytes_3mo_est, 1600 * G);
        close(s3.forecast_storage_monthly_usd_3mo_est, 1600.0 * 0.023);
        // 150, 0, 0 GB: falling, so no growth (never below 0).
        let sb = group(&r, "supabase");
        assert_eq!(sb.forecast_growth_bytes_est, [0, 0, 0]);
        close(sb.forecast_storage_monthly_usd_3mo_est, 2.10);
        // 0, 0, 12 GB: mean 4, slope 6: 16, 22, 28 GB.
        let local = group(&r, "local");
        assert_eq!(local.forecast_growth_bytes_est, [16 * G, 22 * G, 28 * G]);
        assert!(r.forecast_method.starts_with("Linear"));
    }

    #[test]
    fn stale_artifacts() {
        let r = run(GroupBy::Provider);
        // old.csv: stored 100 days ago, never read; c.json.gz: read 120 days ago. gpt.pt was
        // stored 70 days ago and read since: not stale.
        assert_eq!((r.total.stale_objects, r.total.stale_bytes), (2, 150 * G));
        let keys: Vec<_> = r.total.stalest.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["catalogs/c.json.gz", "training-data/old.csv"]);
        assert_eq!(r.total.stalest[0].days_unread, 120);
        close(group(&r, "s3").stale_storage_monthly_usd_est, 100.0 * 0.023);
        close(
            group(&r, "supabase").stale_storage_monthly_usd_est,
            50.0 * 0.0105,
        );
        // A last read before the store date counts from the store date.
        let mut o = fixture().0;
        o[3].last_read = Some(days_ago(95));
        let r = report(&o, &[], &PriceTable::default(), GroupBy::Provider, now());
        assert_eq!(r.total.stale_objects, 2);
    }

    #[test]
    fn largest_twenty_in_order() {
        let objects: Vec<_> = (0..25u64)
            .map(|i| {
                // Sizes 0..=12 twice over, so ties are kept in input order.
                let mut o = obj(
                    "s3",
                    "b",
                    "f/",
                    "model",
                    None,
                    &format!("k{i:02}"),
                    0,
                    0,
                    1,
                    None,
                );
                o.stored_bytes = i % 13;
                o
            })
            .collect();
        let r = report(&objects, &[], &PriceTable::default(), GroupBy::Kind, now());
        let got: Vec<_> = r
            .total
            .largest
            .iter()
            .map(|a| (a.stored_bytes, a.key.as_str()))
            .collect();
        assert_eq!(got.len(), LIST_LEN);
        assert_eq!(
            &got[..4],
            &[(12, "k12"), (11, "k11"), (11, "k24"), (10, "k10")]
        );
        assert!(got.windows(2).all(|w| w[0].0 >= w[1].0));
        assert_eq!(r.groups[0].largest.len(), LIST_LEN);
    }

    #[test]
    fn empty_catalog_gives_zero_estimates() {
        let r = report(&[], &[], &PriceTable::default(), GroupBy::Provider, now());
        assert!(r.groups.is_empty() && r.estimate);
        assert_eq!(r.total.total_monthly_usd_est, 0.0);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["total"]["storage_monthly_usd_est"], 0.0);
        assert_eq!(json["estimate"], true);
    }

    #[test]
    fn unknown_providers_are_priced_at_zero_and_named() {
        let o = vec![obj("ftp", "b", "f/", "k", None, "x", 10, 10, 1, None)];
        let r = report(&o, &[], &PriceTable::default(), GroupBy::Provider, now());
        close(r.total.storage_monthly_usd_est, 0.0);
        assert!(r.notes.iter().any(|n| n.contains("`ftp`")));
        assert_eq!(ProviderKind::of("s3 (127.0.0.1:8333)"), ProviderKind::S3);
        assert_eq!(ProviderKind::of("Supabase"), ProviderKind::Supabase);
        assert_eq!("Folder".parse::<GroupBy>().unwrap(), GroupBy::Folder);
        assert!("size".parse::<GroupBy>().is_err());
    }

    /// xorshift: deterministic pseudo-random inputs without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn group_sums_equal_totals_and_provider_totals() {
        const PROVIDERS: [&str; 5] = ["s3", "s3 (minio:9000)", "supabase", "local", "ftp"];
        for seed in 1..40u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let n = rng.below(400) as usize;
            let objects: Vec<_> = (0..n)
                .map(|i| {
                    let p = PROVIDERS[rng.below(5) as usize];
                    let stored = rng.below(300) * G / 4 + rng.below(1000);
                    let mut o = obj(
                        p,
                        &format!("b{}", rng.below(4)),
                        &format!("f{}/", rng.below(6)),
                        &format!("k{}", rng.below(3)),
                        [None, Some("a"), Some("b")][rng.below(3) as usize],
                        &format!("key{i}"),
                        0,
                        0,
                        rng.below(200) as i64,
                        rng.below(2).eq(&1).then(|| rng.below(200) as i64),
                    );
                    o.stored_bytes = stored;
                    o.original_bytes = stored + rng.below(3) * rng.below(50 * G);
                    o
                })
                .collect();
            let transfers: Vec<_> = (0..rng.below(100))
                .map(|_| {
                    let mut t = transfer(
                        PROVIDERS[rng.below(5) as usize],
                        &format!("b{}", rng.below(6)),
                        [Direction::Upload, Direction::Download][rng.below(2) as usize],
                        0,
                        rng.below(10_000),
                        rng.below(60) as i64,
                    );
                    t.bytes = rng.below(200 * G);
                    t
                })
                .collect();
            let mut storage_by = Vec::new();
            for by in GroupBy::ALL {
                let r = report(&objects, &transfers, &PriceTable::default(), by, now());
                let mut sum = GroupCost::default();
                for g in &r.groups {
                    add_into(&mut sum, g);
                }
                let t = &r.total;
                assert_eq!(sum.objects, n as u64);
                assert_eq!(
                    (
                        sum.objects,
                        sum.stored_bytes,
                        sum.original_bytes,
                        sum.savings_bytes
                    ),
                    (t.objects, t.stored_bytes, t.original_bytes, t.savings_bytes)
                );
                assert_eq!(
                    (sum.egress_bytes_30d, sum.upload_bytes_30d, sum.requests_30d),
                    (t.egress_bytes_30d, t.upload_bytes_30d, t.requests_30d)
                );
                assert_eq!(
                    (
                        sum.growth_bytes_30d,
                        sum.stale_bytes,
                        sum.forecast_stored_bytes_3mo_est
                    ),
                    (
                        t.growth_bytes_30d,
                        t.stale_bytes,
                        t.forecast_stored_bytes_3mo_est
                    )
                );
                let tol = |a: f64, b: f64| {
                    assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()), "{by:?} {a} {b}")
                };
                tol(sum.storage_monthly_usd_est, t.storage_monthly_usd_est);
                tol(sum.total_monthly_usd_est, t.total_monthly_usd_est);
                tol(sum.savings_monthly_usd_est, t.savings_monthly_usd_est);
                // And the groups share exactly the providers' bills.
                let p = |f: fn(&ProviderCost) -> f64| r.providers.iter().map(f).sum::<f64>();
                tol(t.storage_monthly_usd_est, p(|p| p.storage_monthly_usd_est));
                tol(t.egress_usd_est_30d, p(|p| p.egress_usd_est_30d));
                tol(t.requests_usd_est_30d, p(|p| p.requests_usd_est_30d));
                assert_eq!(
                    t.stored_bytes,
                    r.providers.iter().map(|p| p.stored_bytes).sum::<u64>()
                );
                storage_by.push(t.total_monthly_usd_est);
                assert!(t.largest.len() <= LIST_LEN && t.stalest.len() <= LIST_LEN);
            }
            // The grouping changes how the bill is cut, not the bill.
            for v in &storage_by {
                assert!((v - storage_by[0]).abs() < 1e-6 * (1.0 + v.abs()));
            }
        }
    }

    #[test]
    fn apportion_is_exact_and_proportional() {
        assert_eq!(apportion(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(apportion(7, &[0, 0]), [7, 0]);
        assert_eq!(
            apportion(u64::MAX, &[u64::MAX, 1])
                .iter()
                .map(|&v| v as u128)
                .sum::<u128>(),
            u64::MAX as u128
        );
        assert_eq!(apportion(100, &[3, 1]), [75, 25]);
    }
}
