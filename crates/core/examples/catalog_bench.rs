//! Catalog query speed at scale: fills a catalog with 100,000 artifacts (3 versions each, each
//! stored once, metrics on models) and times `versions FAMILY`, a filter + sort, a label
//! lookup, the library pages the desktop app shows, and the cost summary. Run in release: `cargo run --release -p stowage-core --example catalog_bench`.
//! `CATALOG_BENCH_ARTIFACTS` changes the count; a path argument keeps the catalog there, and
//! `--seed-only` stops after filling it (the desktop app's tests and benchmarks seed their
//! 100,000-artifact Library this way).

use std::time::{Duration, Instant};

use stowage_core::catalog::{
    Catalog, Filter, LibraryQuery, LibrarySort, NewLocation, NewVersion, VersionMetrics,
    VersionQuery, VersionSort,
};
use time::OffsetDateTime;

const VERSIONS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let artifacts: usize = std::env::var("CATALOG_BENCH_ARTIFACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed_only = args.iter().any(|a| a == "--seed-only");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(Into::into)
        .unwrap_or_else(|| dir.path().join("catalog.sqlite3"));
    let catalog = Catalog::open_at(&path)?;
    let t = Instant::now();
    bulk_insert(&catalog, artifacts)?;
    println!(
        "inserted {artifacts} artifacts, {} versions in {:.1} s ({})",
        artifacts * VERSIONS,
        t.elapsed().as_secs_f64(),
        path.display()
    );
    if seed_only {
        return Ok(());
    }
    // A fresh connection, as the CLI has for every command.
    drop(catalog);
    let catalog = Catalog::open_at(&path)?;

    let family = format!("model-family-{:06}", artifacts / 2);
    let one = VersionQuery {
        family: Some(family.clone()),
        ..Default::default()
    };
    let filtered = VersionQuery {
        family: None,
        filters: vec![Filter::parse("accuracy>0.99")?],
        sort: VersionSort::Accuracy,
        limit: Some(50),
        ..Default::default()
    };
    let family_filtered = VersionQuery {
        family: Some(family.clone()),
        filters: vec![Filter::parse("accuracy>0.5")?],
        sort: VersionSort::Loss,
        ..Default::default()
    };
    let created = VersionQuery {
        sort: VersionSort::Created,
        limit: Some(50),
        ..Default::default()
    };
    for (name, q) in [
        ("versions FAMILY", &one),
        (
            "versions FAMILY --filter accuracy>0.5 --sort loss",
            &family_filtered,
        ),
        (
            "versions --filter accuracy>0.99 --sort accuracy --limit 50",
            &filtered,
        ),
        ("versions --sort created --limit 50", &created),
    ] {
        let (best, median, n) = time_it(|| catalog.versions(q).map(|v| v.len()))?;
        println!(
            "{name:<62} {n:>4} rows  median {:>7.2} ms  best {:>7.2} ms",
            ms(median),
            ms(best)
        );
    }
    let (best, median, _) = time_it(|| {
        catalog
            .resolve(None, &family, Some("production"))
            .map(|_| 1)
    })?;
    println!(
        "{:<62} {:>4} rows  median {:>7.2} ms  best {:>7.2} ms",
        "resolve FAMILY@production",
        1,
        ms(median),
        ms(best)
    );
    // The app's library: a window of 100 rows with the total, however many artifacts.
    let page = |sort, search: Option<&str>, offset| LibraryQuery {
        sort,
        search: search.map(str::to_string),
        offset,
        limit: 100,
        ..Default::default()
    };
    for (name, q) in [
        ("library page 1 by name", page(LibrarySort::Name, None, 0)),
        (
            "library page 500 by name",
            page(LibrarySort::Name, None, 49_900),
        ),
        (
            "library page 1 by last update",
            page(LibrarySort::Updated, None, 0),
        ),
        ("library page 1 by size", page(LibrarySort::Size, None, 0)),
        (
            "library search `family-0123` by name",
            page(LibrarySort::Name, Some("family-0123"), 0),
        ),
        (
            "library search `model-family-099999` (one row)",
            page(LibrarySort::Name, Some("model-family-099999"), 0),
        ),
        (
            "library page 1 by accuracy",
            page(LibrarySort::Accuracy, None, 0),
        ),
        ("library page 1 by loss", page(LibrarySort::Loss, None, 0)),
        (
            "library page 1 labelled `production`, by size",
            LibraryQuery {
                label: Some("production".into()),
                ..page(LibrarySort::Size, None, 0)
            },
        ),
    ] {
        let (best, median, n) = time_it(|| catalog.library(&q).map(|p| p.rows.len()))?;
        println!(
            "{name:<62} {n:>4} rows  median {:>7.2} ms  best {:>7.2} ms",
            ms(median),
            ms(best)
        );
    }
    let (best, median, n) = time_it(|| catalog.cost_inputs().map(|(o, _)| o.len()))?;
    println!(
        "{:<62} {n:>4} rows  median {:>7.2} ms  best {:>7.2} ms",
        "cost_inputs (every stored object)",
        ms(median),
        ms(best)
    );
    // What `stowage cost` does: one scan of the stored objects, then the report.
    let prices = stowage_core::cost::PriceTable::default();
    for by in stowage_core::cost::GroupBy::ALL {
        let (best, median, n) = time_it(|| {
            let now = OffsetDateTime::now_utc();
            let s = catalog.cost_summary(by, now)?;
            let r = stowage_core::cost::report_summary(&s, &prices, by, now);
            Ok(r.total.objects as usize)
        })?;
        println!(
            "{:<62} {n:>4} rows  median {:>7.2} ms  best {:>7.2} ms",
            format!("cost_summary + report_summary by {}", by.as_str()),
            ms(median),
            ms(best)
        );
    }
    // What the dashboard does: one scan for every grouping, then five reports.
    let (best, median, n) = time_it(|| {
        let now = OffsetDateTime::now_utc();
        let all = stowage_core::cost::GroupBy::ALL;
        let filter = stowage_core::cost::CostFilter::default();
        let (s, _) = catalog.cost_summaries(&all, &filter, now)?;
        let r: Vec<_> = s
            .iter()
            .zip(all)
            .map(|(s, by)| stowage_core::cost::report_summary(s, &prices, by, now))
            .collect();
        Ok(r[0].total.objects as usize)
    })?;
    println!(
        "{:<62} {n:>4} rows  median {:>7.2} ms  best {:>7.2} ms",
        "dashboard: cost_summaries (every grouping) + its reports",
        ms(median),
        ms(best)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time_it(
    mut f: impl FnMut() -> stowage_core::Result<usize>,
) -> stowage_core::Result<(Duration, Duration, usize)> {
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..15 {
        let t = Instant::now();
        n = f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times[0], times[times.len() / 2], n))
}

/// Deterministic rows, inserted through the public API in one transaction.
fn bulk_insert(catalog: &Catalog, artifacts: usize) -> stowage_core::Result<()> {
    let now = OffsetDateTime::now_utc();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    catalog.batch(|c| {
        for i in 0..artifacts {
            let family = format!("model-family-{i:06}");
            let id = c.upsert_artifact(None, &family, "model", Some("XGBoost"), "models/")?;
            for v in 0..VERSIONS {
                let r = next();
                let tag = format!("v{}.{}", v + 1, r % 10);
                let sha = format!("{:016x}{:016x}{:016x}{:016x}", r, next(), i, v);
                let vid = c.insert_version(&NewVersion {
                    artifact_id: id,
                    version: tag.clone(),
                    sha256: sha.clone(),
                    size: 1000 + r % 1_000_000,
                    original_size: 5000 + r % 5_000_000,
                    encoding: Some("gzip".into()),
                    mtime_ns: Some(i as i64),
                    source_path: Some(format!("/proj/.beast-mode/{family}-{tag}.json")),
                    created_at: now - time::Duration::seconds((r % 10_000_000) as i64),
                    metrics: VersionMetrics {
                        accuracy: Some((r % 10_000) as f64 / 10_000.0),
                        loss: Some((next() % 10_000) as f64 / 10_000.0),
                        epochs: Some((r % 100) as i64),
                        model_type: Some("xgboost".into()),
                        ..Default::default()
                    },
                })?;
                c.add_location(
                    vid,
                    &NewLocation {
                        profile: "lab".into(),
                        provider: "s3".into(),
                        bucket: "ml-artifacts".into(),
                        key: format!("models/{family}-{tag}.json.gz"),
                        size: 1000 + r % 1_000_000,
                        etag: Some(format!("\"{:032x}\"", r)),
                        sha256: Some(sha),
                        stored_at: now,
                    },
                )?;
                if v == 0 {
                    c.set_label(vid, "production")?;
                }
            }
        }
        Ok(())
    })
}
