//! The price table (`[prices]` in config.toml) and the rates each provider kind pays.

use super::*;

/// Prices in USD, editable in the config's `[prices]` section; defaults from DESIGN.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
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
pub(super) struct Rates {
    pub(super) storage_gb_month: f64,
    pub(super) storage_included_gb: f64,
    pub(super) egress_gb: f64,
    pub(super) egress_free_gb: f64,
    pub(super) put_per_1000: f64,
    pub(super) get_per_1000: f64,
}

impl Rates {
    pub(super) fn storage(&self, bytes: f64) -> f64 {
        (bytes / GB - self.storage_included_gb).max(0.0) * self.storage_gb_month
    }

    pub(super) fn egress(&self, bytes: f64) -> f64 {
        (bytes / GB - self.egress_free_gb).max(0.0) * self.egress_gb
    }

    pub(super) fn requests(&self, uploads: u64, downloads: u64) -> f64 {
        uploads as f64 / 1000.0 * self.put_per_1000 + downloads as f64 / 1000.0 * self.get_per_1000
    }
}

impl PriceTable {
    pub(super) fn rates(&self, kind: ProviderKind) -> Rates {
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
