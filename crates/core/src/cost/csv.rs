//! A report's tables as CSV (`cost --csv TABLE`, the dashboard's exports): raw bytes and
//! dollars, one row per line, RFC 4180 quoting.

use super::*;

/// Which table of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum CostTable {
    /// One row per group, then the total.
    #[default]
    Groups,
    /// One row per provider (where free tiers apply).
    Providers,
    /// The largest artifacts of all groups.
    Largest,
    /// The stalest artifacts of all groups.
    Stalest,
}

impl CostTable {
    /// Every table, as `--csv` lists them.
    pub const ALL: [CostTable; 4] = [
        CostTable::Groups,
        CostTable::Providers,
        CostTable::Largest,
        CostTable::Stalest,
    ];

    /// The name used by `--csv` and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            CostTable::Groups => "groups",
            CostTable::Providers => "providers",
            CostTable::Largest => "largest",
            CostTable::Stalest => "stalest",
        }
    }
}

impl FromStr for CostTable {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        CostTable::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no cost table `{s}`; use groups, providers, largest or stalest"
                ))
            })
    }
}

/// One CSV field, quoted when it holds a comma, a quote or a line break.
fn field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn line(out: &mut String, fields: &[String]) {
    let fields: Vec<String> = fields.iter().map(|f| field(f)).collect();
    out.push_str(&fields.join(","));
    out.push('\n');
}

fn usd(v: f64) -> String {
    format!("{v:.4}")
}

/// `table` of `report` as CSV, with a header line; dollar figures are estimates, to 4 places.
pub fn csv(report: &CostReport, table: CostTable) -> String {
    let mut out = String::new();
    match table {
        CostTable::Groups => {
            line(
                &mut out,
                &[
                    report.group_by.as_str(),
                    "objects",
                    "stored_bytes",
                    "original_bytes",
                    "savings_bytes",
                    "storage_monthly_usd_est",
                    "egress_usd_est_30d",
                    "requests_usd_est_30d",
                    "total_monthly_usd_est",
                    "growth_bytes_30d",
                    "forecast_stored_bytes_3mo_est",
                    "stale_bytes",
                    "postgres_jsonb_monthly_usd_est",
                ]
                .map(String::from),
            );
            for g in report.groups.iter().chain([&report.total]) {
                line(
                    &mut out,
                    &[
                        g.name.clone(),
                        g.objects.to_string(),
                        g.stored_bytes.to_string(),
                        g.original_bytes.to_string(),
                        g.savings_bytes.to_string(),
                        usd(g.storage_monthly_usd_est),
                        usd(g.egress_usd_est_30d),
                        usd(g.requests_usd_est_30d),
                        usd(g.total_monthly_usd_est),
                        g.growth_bytes_30d.to_string(),
                        g.forecast_stored_bytes_3mo_est.to_string(),
                        g.stale_bytes.to_string(),
                        usd(g.postgres_jsonb_monthly_usd_est),
                    ],
                );
            }
        }
        CostTable::Providers => {
            line(
                &mut out,
                &[
                    "provider",
                    "objects",
                    "stored_bytes",
                    "storage_monthly_usd_est",
                    "egress_bytes_30d",
                    "egress_usd_est_30d",
                    "requests_usd_est_30d",
                    "total_monthly_usd_est",
                ]
                .map(String::from),
            );
            for p in &report.providers {
                line(
                    &mut out,
                    &[
                        p.provider.clone(),
                        p.objects.to_string(),
                        p.stored_bytes.to_string(),
                        usd(p.storage_monthly_usd_est),
                        p.egress_bytes_30d.to_string(),
                        usd(p.egress_usd_est_30d),
                        usd(p.requests_usd_est_30d),
                        usd(p.total_monthly_usd_est),
                    ],
                );
            }
        }
        CostTable::Largest | CostTable::Stalest => {
            line(
                &mut out,
                &[
                    "provider",
                    "bucket",
                    "key",
                    "family",
                    "version",
                    "kind",
                    "org",
                    "stored_bytes",
                    "original_bytes",
                    "days_unread",
                    "storage_monthly_usd_est",
                ]
                .map(String::from),
            );
            let list = if table == CostTable::Largest {
                &report.total.largest
            } else {
                &report.total.stalest
            };
            for a in list {
                line(
                    &mut out,
                    &[
                        a.provider.clone(),
                        a.bucket.clone(),
                        a.key.clone(),
                        a.family.clone(),
                        a.version.clone(),
                        a.kind.clone(),
                        a.org.clone().unwrap_or_default(),
                        a.stored_bytes.to_string(),
                        a.original_bytes.to_string(),
                        a.days_unread.to_string(),
                        usd(a.storage_monthly_usd_est),
                    ],
                );
            }
        }
    }
    out
}
