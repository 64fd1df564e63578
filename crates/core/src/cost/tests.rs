//! Unit tests.

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
        member: None,
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
        artifact_id: 0,
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
    close(
        p.total_monthly_usd_est,
        p.storage_monthly_usd_est + 5.40 + p.requests_usd_est_30d,
    );
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
            let tol =
                |a: f64, b: f64| assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()), "{by:?} {a} {b}");
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

/// CSV: a header, one line per group and the total; fields with commas or quotes quoted; the
/// lists by key.
#[test]
fn csv_tables_quote_and_sum() {
    let (objects, transfers) = fixture();
    let mut objects = objects;
    objects[0].folder = "models, \"big\"/".into();
    let r = report(
        &objects,
        &transfers,
        &PriceTable::default(),
        GroupBy::Folder,
        now(),
    );
    let text = csv(&r, CostTable::Groups);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), r.groups.len() + 2);
    assert!(lines[0].starts_with("folder,objects,stored_bytes,"));
    assert!(text.contains("\"models, \"\"big\"\"/\","), "{text}");
    assert!(lines.last().unwrap().starts_with(&format!(
        "total,{},{}",
        r.total.objects, r.total.stored_bytes
    )));
    let largest = csv(&r, CostTable::Largest);
    assert_eq!(largest.lines().count(), r.total.largest.len() + 1);
    assert!(largest
        .lines()
        .nth(1)
        .unwrap()
        .contains(&r.total.largest[0].key));
    assert_eq!("stalest".parse::<CostTable>().unwrap(), CostTable::Stalest);
    assert!("nope".parse::<CostTable>().is_err());
}
