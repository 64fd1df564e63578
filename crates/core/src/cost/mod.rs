//! Cost and size estimates (M11): per provider, bucket, folder, kind or organization, the
//! storage, egress and request cost, compression savings, growth and a forecast, the largest
//! and stalest artifacts, and what Postgres JSONB would cost. Every figure is an estimate from
//! the editable price table; nothing here asks a provider's billing.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::Error;

mod build;
mod csv;
mod prices;
mod summary;

#[cfg(test)]
mod tests;

pub use build::*;
pub use csv::*;
pub use prices::*;
pub use summary::*;

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
    /// The catalog's id of its artifact (0 when not from a catalog).
    pub artifact_id: i64,
    /// The teammate who stored it (None: this user).
    pub member: Option<String>,
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
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
    /// One group per team member who stored the copies (`(me)` for this user's own).
    Member,
}

impl GroupBy {
    /// Every grouping, in the order the CLI lists them.
    pub const ALL: [GroupBy; 6] = [
        GroupBy::Provider,
        GroupBy::Bucket,
        GroupBy::Folder,
        GroupBy::Kind,
        GroupBy::Org,
        GroupBy::Member,
    ];

    /// The name used by `--by` and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Bucket => "bucket",
            GroupBy::Folder => "folder",
            GroupBy::Kind => "kind",
            GroupBy::Org => "org",
            GroupBy::Member => "member",
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
                    "cannot group costs by `{s}`; use provider, bucket, folder, kind, org or member"
                ))
            })
    }
}

/// The group name of objects with no organization.
pub const NO_ORG: &str = "(no org)";

/// The member group of this user's own copies (the app names it after the team member).
pub const ME: &str = "(me)";
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
    /// Storage + egress + requests: a month's cost, est.
    pub total_monthly_usd_est: f64,
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
    /// The catalog's id of its artifact (opens its detail).
    pub artifact_id: i64,
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
