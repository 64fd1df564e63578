//! What storage costs: the cost report, the dashboard (every grouping at once, with the
//! growth line) and CSV exports — one scan of the catalog each, the same figures everywhere.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use stowage_store::ErrorKind;

use super::{App, AppResult};
use crate::cost::{self, CostFilter, CostReport, CostScope, CostTable, GroupBy};
use crate::error::local_error;

/// `cost [--by …] [--org …] [--provider …] [--since …] [--until …]`.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct CostRequest {
    /// What each row is.
    #[serde(default)]
    pub by: GroupBy,
    /// Which objects count.
    #[serde(default)]
    pub filter: CostFilter,
}

/// The dashboard: the cost report by every grouping, from one scan of the catalog.
#[derive(Clone, Debug, Serialize, TS)]
pub struct Dashboard {
    /// The filter applied.
    pub filter: CostFilter,
    /// The providers and organizations there are, filters aside.
    pub scope: CostScope,
    /// One report per grouping, in [`GroupBy::ALL`]'s order (provider, bucket, folder, kind,
    /// org): the figures `cost --json --by …` prints. The largest and stalest lists are kept
    /// only in the first report's total (per-group lists are left out: nothing shows them).
    pub reports: Vec<CostReport>,
    /// Stored bytes three, two and one month ago, now, and forecast one, two and three months
    /// ahead: the growth line.
    pub timeline: Vec<TimelinePoint>,
}

/// One point of the growth line.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct TimelinePoint {
    /// Months from now (-3 … 3).
    pub months: i32,
    /// Bytes stored then (for the past: today's bytes less what was stored since).
    pub stored_bytes: u64,
    /// An estimate from the forecast.
    pub forecast: bool,
}

/// The growth line of a report's total: the past from its growth windows, the future from
/// its forecast.
pub fn timeline(report: &CostReport) -> Vec<TimelinePoint> {
    let t = &report.total;
    let now = t.stored_bytes;
    let past = [
        t.growth_bytes_30d + t.growth_bytes_30_60d + t.growth_bytes_60_90d,
        t.growth_bytes_30d + t.growth_bytes_30_60d,
        t.growth_bytes_30d,
    ];
    let mut points: Vec<TimelinePoint> = past
        .iter()
        .zip(-3..)
        .map(|(&since, months)| TimelinePoint {
            months,
            stored_bytes: now.saturating_sub(since),
            forecast: false,
        })
        .collect();
    points.push(TimelinePoint {
        months: 0,
        stored_bytes: now,
        forecast: false,
    });
    let mut future = now;
    for (months, growth) in (1..).zip(t.forecast_growth_bytes_est) {
        future += growth;
        points.push(TimelinePoint {
            months,
            stored_bytes: future,
            forecast: true,
        });
    }
    points
}

/// `cost --csv TABLE`, or the dashboard's export: a table of a report, written to a file.
#[derive(Clone, Debug, Default, Deserialize, TS)]
pub struct CostCsvRequest {
    /// Which report.
    #[serde(default)]
    pub report: CostRequest,
    /// Which of its tables.
    #[serde(default)]
    pub table: CostTable,
    /// Where to write; the user's Downloads folder (or Stowage's data folder) when None.
    #[serde(default)]
    #[ts(type = "string | null")]
    pub path: Option<PathBuf>,
}

/// A CSV file written.
#[derive(Clone, Debug, Serialize, TS)]
pub struct CsvExport {
    /// Where it is.
    #[ts(type = "string")]
    pub path: PathBuf,
    /// Rows below the header.
    pub rows: u64,
}

impl App {
    /// `cost`: storage, egress and request estimates from the catalog at the config's
    /// `[prices]`, for the objects the filter keeps.
    pub fn cost(&self, r: &CostRequest) -> AppResult<CostReport> {
        let (mut reports, _) = self.reports(&[r.by], &r.filter)?;
        Ok(reports.remove(0))
    }

    /// The price table the estimates use (`[prices]` over the defaults).
    pub fn prices(&self) -> AppResult<cost::PriceTable> {
        Ok(self.config()?.prices)
    }

    /// Save the price table into config.toml's `[prices]`; the next report uses it.
    pub fn set_prices(&self, prices: &cost::PriceTable) -> AppResult<cost::PriceTable> {
        Ok(crate::config::set_prices(&self.paths, prices)?.prices)
    }

    /// One report per grouping from one scan of the catalog, and what the scan saw.
    fn reports(
        &self,
        groupings: &[GroupBy],
        filter: &CostFilter,
    ) -> AppResult<(Vec<CostReport>, CostScope)> {
        let config = self.config()?;
        let catalog = self.catalog(false)?;
        let now = time::OffsetDateTime::now_utc();
        let (summaries, scope) = catalog.cost_summaries(groupings, filter, now)?;
        let reports = summaries
            .iter()
            .zip(groupings)
            .map(|(s, &by)| {
                let mut r = cost::report_summary(s, &config.prices, by, now);
                r.notes.extend(filter.describe());
                if by == GroupBy::Member {
                    // This user's own copies carry the name the team knows them by.
                    let me = crate::team::member_name(&config);
                    for g in r.groups.iter_mut().filter(|g| g.name == cost::ME) {
                        g.name = me.clone();
                    }
                }
                r
            })
            .collect();
        Ok((reports, scope))
    }

    /// The dashboard: every grouping's report of the objects `filter` keeps, and the growth
    /// line.
    pub fn dashboard(&self, filter: &CostFilter) -> AppResult<Dashboard> {
        let (mut reports, scope) = self.reports(&GroupBy::ALL, filter)?;
        for (i, r) in reports.iter_mut().enumerate() {
            for g in &mut r.groups {
                g.largest.clear();
                g.stalest.clear();
            }
            if i > 0 {
                r.total.largest.clear();
                r.total.stalest.clear();
            }
        }
        let timeline = timeline(&reports[0]);
        Ok(Dashboard {
            filter: filter.clone(),
            scope,
            reports,
            timeline,
        })
    }

    /// A report's table as CSV, written to `path` (or a new file in the Downloads folder).
    pub fn export_cost_csv(&self, r: &CostCsvRequest) -> AppResult<CsvExport> {
        let report = self.cost(&r.report)?;
        let text = cost::csv(&report, r.table);
        let path = match &r.path {
            Some(p) => p.clone(),
            None => {
                let dir = directories::UserDirs::new()
                    .and_then(|u| u.download_dir().map(PathBuf::from))
                    .filter(|d| d.is_dir())
                    .unwrap_or_else(|| self.paths().data_dir.clone());
                let stamp = report.generated_at.unix_timestamp();
                dir.join(format!(
                    "stowage-cost-{}-by-{}-{stamp}.csv",
                    r.table.as_str(),
                    report.group_by.as_str()
                ))
            }
        };
        let write = || -> std::io::Result<()> {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mut temp = tempfile::Builder::new()
                .prefix(".stowage-")
                .suffix(".part")
                .tempfile_in(dir)?;
            temp.write_all(text.as_bytes())?;
            temp.as_file().sync_all()?;
            temp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| {
            local_error(
                ErrorKind::Other,
                &path,
                format!("writing the CSV: {e}"),
                "choose a folder you can write to",
            )
        })?;
        Ok(CsvExport {
            rows: text.lines().count().saturating_sub(1) as u64,
            path,
        })
    }
}
