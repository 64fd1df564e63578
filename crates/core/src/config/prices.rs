//! The `[prices]` section as written, read into the cost model's price table.

use super::*;

/// The `[prices]` section: USD, each field optional over the defaults of DESIGN.md.
///
/// ```toml
/// [prices]
/// s3_storage_gb_month = 0.0125   # S3 Standard-IA
/// supabase_storage_included_gb = 8
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrices {
    s3_storage_gb_month: Option<Spanned<f64>>,
    s3_put_per_1000: Option<Spanned<f64>>,
    s3_get_per_1000: Option<Spanned<f64>>,
    s3_egress_gb: Option<Spanned<f64>>,
    s3_egress_free_gb: Option<Spanned<f64>>,
    supabase_storage_gb_month: Option<Spanned<f64>>,
    supabase_storage_included_gb: Option<Spanned<f64>>,
    supabase_egress_gb: Option<Spanned<f64>>,
    supabase_egress_included_gb: Option<Spanned<f64>>,
    postgres_jsonb_gb_month: Option<Spanned<f64>>,
    local_storage_gb_month: Option<Spanned<f64>>,
}

impl RawPrices {
    pub(super) fn into_table(
        self,
        at: &dyn Fn(usize, &str) -> Error,
    ) -> Result<crate::cost::PriceTable> {
        let mut t = crate::cost::PriceTable::default();
        let fields = [
            (
                "s3_storage_gb_month",
                self.s3_storage_gb_month,
                &mut t.s3_storage_gb_month,
            ),
            (
                "s3_put_per_1000",
                self.s3_put_per_1000,
                &mut t.s3_put_per_1000,
            ),
            (
                "s3_get_per_1000",
                self.s3_get_per_1000,
                &mut t.s3_get_per_1000,
            ),
            ("s3_egress_gb", self.s3_egress_gb, &mut t.s3_egress_gb),
            (
                "s3_egress_free_gb",
                self.s3_egress_free_gb,
                &mut t.s3_egress_free_gb,
            ),
            (
                "supabase_storage_gb_month",
                self.supabase_storage_gb_month,
                &mut t.supabase_storage_gb_month,
            ),
            (
                "supabase_storage_included_gb",
                self.supabase_storage_included_gb,
                &mut t.supabase_storage_included_gb,
            ),
            (
                "supabase_egress_gb",
                self.supabase_egress_gb,
                &mut t.supabase_egress_gb,
            ),
            (
                "supabase_egress_included_gb",
                self.supabase_egress_included_gb,
                &mut t.supabase_egress_included_gb,
            ),
            (
                "postgres_jsonb_gb_month",
                self.postgres_jsonb_gb_month,
                &mut t.postgres_jsonb_gb_month,
            ),
            (
                "local_storage_gb_month",
                self.local_storage_gb_month,
                &mut t.local_storage_gb_month,
            ),
        ];
        for (name, value, slot) in fields {
            if let Some(v) = value {
                let x = *v.get_ref();
                // A negative or infinite price would make every estimate nonsense.
                if !x.is_finite() || x < 0.0 {
                    return Err(at(
                        v.span().start,
                        &format!("`{name}` must be a price in USD, 0 or more"),
                    ));
                }
                *slot = x;
            }
        }
        Ok(t)
    }
}
