//! Times `cost::report` on 100,000 objects and 50,000 transfers for each grouping, and
//! `Catalog::cost_inputs` on a 100,000-row catalog.
//!
//! `cargo run --release -p stowage-core --example cost_bench`

use std::time::{Duration as Elapsed, Instant};

use stowage_core::catalog::{Catalog, NewLocation, NewVersion};
use stowage_core::cost::{self, Direction, GroupBy, PriceTable, StoredObject, TransferRecord};
use time::{Duration, OffsetDateTime};

const OBJECTS: usize = 100_000;
const TRANSFERS: usize = 50_000;
const RUNS: usize = 7;

/// xorshift: reproducible inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const PROVIDERS: [&str; 4] = ["s3", "s3 (minio:9000)", "supabase", "local"];
const FOLDERS: [&str; 4] = ["training-data/", "models/", "catalogs/", "exports/"];
const KINDS: [&str; 4] = ["dataset", "model", "catalog", "export"];

fn inputs(now: OffsetDateTime) -> (Vec<StoredObject>, Vec<TransferRecord>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let objects = (0..OBJECTS)
        .map(|i| {
            let f = rng.below(4) as usize;
            let family = format!("family-{}", i / 100);
            let stored = rng.below(1 << 30);
            let stored_at = now - Duration::minutes(rng.below(200 * 24 * 60) as i64);
            StoredObject {
                member: None,
                provider: PROVIDERS[rng.below(4) as usize].to_string(),
                bucket: format!("bucket-{}", rng.below(8)),
                org: [None, Some("acme"), Some("beta"), Some("gamma")][rng.below(4) as usize]
                    .map(str::to_string),
                folder: FOLDERS[f].to_string(),
                kind: KINDS[f].to_string(),
                key: format!("{}{family}/v{}.bin", FOLDERS[f], i % 100),
                family,
                version: format!("v{}", i % 100),
                stored_bytes: stored,
                original_bytes: stored + rng.below(1 << 29),
                stored_at,
                last_read: (rng.below(2) == 0)
                    .then(|| stored_at + Duration::minutes(rng.below(60 * 24 * 30) as i64)),
                artifact_id: (i / 100) as i64,
            }
        })
        .collect();
    let transfers = (0..TRANSFERS)
        .map(|_| TransferRecord {
            provider: PROVIDERS[rng.below(4) as usize].to_string(),
            bucket: format!("bucket-{}", rng.below(9)),
            direction: if rng.below(2) == 0 {
                Direction::Upload
            } else {
                Direction::Download
            },
            bytes: rng.below(1 << 31),
            requests: 1 + rng.below(20),
            at: now - Duration::minutes(rng.below(60 * 24 * 60) as i64),
        })
        .collect();
    (objects, transfers)
}

/// The median of `RUNS` timings of `f`.
fn median(mut f: impl FnMut()) -> Elapsed {
    let mut times: Vec<_> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn fill_catalog(catalog: &Catalog, objects: &[StoredObject], transfers: &[TransferRecord]) {
    catalog
        .batch(|c| {
            let mut artifact = (String::new(), 0);
            for o in objects {
                if artifact.0 != o.family {
                    let id =
                        c.upsert_artifact(o.org.as_deref(), &o.family, &o.kind, None, &o.folder)?;
                    artifact = (o.family.clone(), id);
                }
                let v = c.insert_version(&NewVersion {
                    artifact_id: artifact.1,
                    version: o.version.clone(),
                    sha256: format!("{:064x}", o.stored_bytes),
                    size: o.stored_bytes,
                    original_size: o.original_bytes,
                    encoding: None,
                    mtime_ns: None,
                    source_path: None,
                    created_at: o.stored_at,
                    metrics: Default::default(),
                })?;
                c.add_location(
                    v,
                    &NewLocation {
                        profile: o.provider.clone(),
                        provider: o.provider.clone(),
                        bucket: o.bucket.clone(),
                        key: o.key.clone(),
                        size: o.stored_bytes,
                        etag: None,
                        sha256: None,
                        stored_at: o.stored_at,
                    },
                )?;
            }
            for t in transfers {
                c.record_transfer(
                    &t.provider,
                    &t.provider,
                    &t.bucket,
                    t.direction,
                    t.bytes,
                    t.requests,
                )?;
            }
            Ok(())
        })
        .expect("filling the catalog");
}

fn main() {
    let now = OffsetDateTime::now_utc();
    let (objects, transfers) = inputs(now);
    let prices = PriceTable::default();
    println!(
        "cost::report on {} objects and {} transfers (median of {RUNS} runs)",
        objects.len(),
        transfers.len()
    );
    for by in GroupBy::ALL {
        let mut groups = 0;
        let t = median(|| {
            let r = cost::report(&objects, &transfers, &prices, by, now);
            groups = r.groups.len();
        });
        println!(
            "  by {:<8} {:>8.2} ms  ({groups} groups)",
            by.as_str(),
            t.as_secs_f64() * 1e3
        );
    }

    let dir = tempfile::tempdir().expect("a temporary folder");
    let catalog = Catalog::open_at(&dir.path().join("catalog.sqlite")).expect("a catalog");
    let t = Instant::now();
    fill_catalog(&catalog, &objects, &transfers);
    println!(
        "filled a catalog with {OBJECTS} locations in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let mut rows = 0;
    let read = median(|| {
        let (o, t) = catalog.cost_inputs().expect("cost inputs");
        rows = o.len() + t.len();
    });
    let (o, t) = catalog.cost_inputs().expect("cost inputs");
    let report = median(|| {
        cost::report(&o, &t, &prices, GroupBy::Folder, now);
    });
    println!(
        "Catalog::cost_inputs: {:.2} ms ({rows} rows); + report by folder: {:.2} ms in all",
        read.as_secs_f64() * 1e3,
        (read + report).as_secs_f64() * 1e3
    );
}
