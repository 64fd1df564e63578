//! The catalog's unit tests.

use super::*;

/// `cost` sums in SQL: the report from the sums equals the report from every row, for
/// every grouping, with compressed and stale objects, ties in size, several providers,
/// buckets, folders and organizations, and transfers in and out of the window.
#[test]
fn cost_summary_gives_the_same_report_as_every_row() {
    use crate::cost::{self, GroupBy, PriceTable};
    let dir = tempfile::tempdir().unwrap();
    let c = Catalog::open_at(&dir.path().join("c.sqlite3")).unwrap();
    let now = OffsetDateTime::now_utc();
    let day: i64 = 86_400 * 1_000_000_000;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let providers = ["s3", "s3 (minio:9000)", "supabase", "local", "ftp"];
    let folders = ["models/", "training-data/", "exports/"];
    let orgs = [None, Some("acme"), Some("beta")];
    c.batch(|c| {
        for a in 0..60 {
            let folder = folders[rnd(3) as usize];
            let aid = c.upsert_artifact(
                orgs[rnd(3) as usize],
                &format!("fam-{a}"),
                if folder == "models/" {
                    "model"
                } else {
                    "dataset"
                },
                None,
                folder,
            )?;
            for n in 0..(1 + rnd(6)) {
                // Few sizes, so ties in the largest lists are common.
                let size = 1 + rnd(8) * (1 << (20 + rnd(12)));
                let mut v = version(aid, &format!("v{n}"), &format!("{a}-{n}"), None);
                v.size = size;
                v.original_size = if rnd(2) == 0 {
                    size
                } else {
                    size * 3 + rnd(100)
                };
                let vid = c.insert_version(&v)?;
                for _ in 0..(1 + rnd(2)) {
                    let p = providers[rnd(5) as usize];
                    let key = format!("k/{a}/{n}/{}", rnd(1_000_000));
                    let mut l = location(&key);
                    l.profile = p.into();
                    l.provider = p.into();
                    l.bucket = format!("b{}", rnd(3));
                    l.size = size;
                    l.stored_at = now - time::Duration::days(rnd(200) as i64);
                    c.add_location(vid, &l)?;
                    if rnd(2) == 0 {
                        c.conn
                            .execute(
                                "UPDATE locations SET last_read = stored_at + ?2 WHERE key = ?1",
                                params![key, rnd(150) as i64 * day],
                            )
                            .map_err(c.err())?;
                    }
                }
            }
        }
        for _ in 0..300 {
            let p = providers[rnd(5) as usize];
            let dir = if rnd(2) == 0 {
                Direction::Upload
            } else {
                Direction::Download
            };
            c.record_transfer(p, p, &format!("b{}", rnd(4)), dir, rnd(1 << 34), 1 + rnd(9))?;
        }
        c.conn
            .execute("UPDATE transfers SET at = at - (id % 70) * ?1", [day])
            .map_err(c.err())?;
        Ok(())
    })
    .unwrap();
    let (objects, transfers) = c.cost_inputs().unwrap();
    assert!(objects.len() > 100, "{} objects", objects.len());
    let prices = PriceTable::default();
    for by in GroupBy::ALL {
        let rows = cost::report(&objects, &transfers, &prices, by, now);
        let summary = c.cost_summary(by, now).unwrap();
        assert!(summary.candidates.len() < objects.len());
        let summed = cost::report_summary(&summary, &prices, by, now);
        assert!(rows.total.stale_objects > 0 && rows.total.largest.len() == 20);
        assert_eq!(
            serde_json::to_value(&summed).unwrap(),
            serde_json::to_value(&rows).unwrap(),
            "grouped by {}",
            by.as_str()
        );
    }
    // One scan for every grouping gives what one scan per grouping gives; and a filter gives
    // the report of the objects it keeps (a provider filter keeps that provider's transfers).
    let all = cost::CostFilter::default();
    let (together, scope) = c.cost_summaries(&GroupBy::ALL, &all, now).unwrap();
    assert_eq!(scope.providers.len(), 5);
    assert_eq!(scope.orgs.len(), 3, "{:?}", scope.orgs);
    for (s, by) in together.iter().zip(GroupBy::ALL) {
        let alone = c.cost_summary(by, now).unwrap();
        assert_eq!(
            json(&cost::report_summary(s, &prices, by, now)),
            json(&cost::report_summary(&alone, &prices, by, now))
        );
    }
    let filters = [
        cost::CostFilter {
            provider: Some("supabase".into()),
            ..all.clone()
        },
        cost::CostFilter {
            stored_after: Some(now - time::Duration::days(100)),
            stored_before: Some(now - time::Duration::days(20)),
            ..all.clone()
        },
        cost::CostFilter {
            org: Some("acme".into()),
            ..all.clone()
        },
        cost::CostFilter {
            org: Some(cost::NO_ORG.into()),
            provider: Some("s3".into()),
            ..all.clone()
        },
    ];
    for f in &filters {
        let kept: Vec<_> = objects
            .iter()
            .filter(|o| f.provider.as_ref().is_none_or(|p| *p == o.provider))
            .filter(|o| {
                f.org
                    .as_deref()
                    .is_none_or(|g| g == o.org.as_deref().unwrap_or(cost::NO_ORG))
            })
            .filter(|o| f.stored_after.is_none_or(|a| o.stored_at >= a))
            .filter(|o| f.stored_before.is_none_or(|b| o.stored_at < b))
            .cloned()
            .collect();
        assert!(!kept.is_empty() && kept.len() < objects.len(), "{f:?}");
        let moved: Vec<_> = transfers
            .iter()
            .filter(|t| f.provider.as_ref().is_none_or(|p| *p == t.provider))
            .cloned()
            .collect();
        let (summaries, _) = c.cost_summaries(&GroupBy::ALL, f, now).unwrap();
        for (s, by) in summaries.iter().zip(GroupBy::ALL) {
            let summed = cost::report_summary(s, &prices, by, now);
            let rows = cost::report(&kept, &moved, &prices, by, now);
            if f.org.is_none() {
                assert_eq!(json(&summed), json(&rows), "{f:?} by {}", by.as_str());
            } else {
                // An organization's share of a bucket's transfers is an estimate: compare what
                // the objects alone decide.
                let t = (&summed.total, &rows.total);
                assert_eq!(
                    (
                        t.0.objects,
                        t.0.stored_bytes,
                        t.0.original_bytes,
                        t.0.stale_bytes
                    ),
                    (
                        t.1.objects,
                        t.1.stored_bytes,
                        t.1.original_bytes,
                        t.1.stale_bytes
                    ),
                    "{f:?}"
                );
                assert_eq!(json(&t.0.largest), json(&t.1.largest));
                assert_eq!(json(&t.0.stalest), json(&t.1.stalest));
                assert!(t.0.egress_bytes_30d <= total_egress(&c, now));
            }
        }
    }
}

fn json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

/// Bytes downloaded in the last 30 days, all buckets.
fn total_egress(c: &Catalog, now: OffsetDateTime) -> u64 {
    let s = c.cost_summary(crate::cost::GroupBy::Provider, now).unwrap();
    s.transfers.iter().map(|t| t.down_bytes).sum()
}

fn version(artifact_id: i64, tag: &str, sha: &str, accuracy: Option<f64>) -> NewVersion {
    NewVersion {
        artifact_id,
        version: tag.into(),
        sha256: sha.into(),
        size: 10,
        original_size: 40,
        encoding: Some("gzip".into()),
        mtime_ns: Some(1),
        source_path: Some("/p/x.json".into()),
        created_at: OffsetDateTime::now_utc(),
        metrics: VersionMetrics {
            accuracy,
            other: [("f1".to_string(), 0.5)].into(),
            ..Default::default()
        },
    }
}

fn location(key: &str) -> NewLocation {
    NewLocation {
        profile: "lab".into(),
        provider: "s3".into(),
        bucket: "ml-artifacts".into(),
        key: key.into(),
        size: 10,
        etag: Some("\"e\"".into()),
        sha256: Some("ab".into()),
        stored_at: OffsetDateTime::now_utc(),
    }
}

#[test]
fn catalog_migrates_from_empty_and_reopens_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let c = Catalog::open_at(&path).unwrap();
        assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
        let a = c
            .upsert_artifact(None, "dataset", "dataset", None, "training-data/")
            .unwrap();
        c.insert_version(&version(a, "1", "aa", None)).unwrap();
        let mode: String = c
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    // Re-opening runs no migration again and keeps the rows.
    let c = Catalog::open_at(&path).unwrap();
    assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
    let a = c.artifact(None, "dataset").unwrap().unwrap();
    assert_eq!(c.version_count(a.id).unwrap(), 1);
    let fk: i64 = c
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    // A catalog from a newer Stowage is refused, not damaged.
    c.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let err = Catalog::open_at(&path).unwrap_err().to_string();
    assert!(err.contains("newer Stowage"), "{err}");
}

#[test]
fn catalog_upgrades_a_schema_2_file_keeping_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO artifacts (id, org, family, kind, folder, created_at)
               VALUES (7, '', 'main', 'other', 'generations/', 1);
             INSERT INTO versions (id, artifact_id, version, sort_key, sha256, size,
               original_size, created_at) VALUES (3, 7, '1', 'C0011', 'aa', 5, 5, 1);
             INSERT INTO artifacts (id, org, family, kind, folder, created_at)
               VALUES (8, '', 'credit_risk', 'model', 'models/', 1);
             INSERT INTO versions (id, artifact_id, version, sort_key, sha256, size,
               original_size, created_at) VALUES
               (4, 8, 'v2', 'N0012.', 'b1', 5, 5, 1),
               (5, 8, 'v2+2', 'N0012.+0012', 'b2', 5, 5, 1),
               (6, 8, 'v2.0.1', 'N0012.0010.0011.', 'b3', 5, 5, 1);
             INSERT INTO locations (version_id, profile, provider, bucket, key, size,
               sha256, stored_at) VALUES (3, 'lab', 's3', 'ml', 'generations/main.py', 5,
               'aa', 1);
             INSERT INTO labels (artifact_id, name, version_id, set_at)
               VALUES (7, 'production', 3, 1);
             INSERT INTO file_state (path, size, mtime_ns, sha256, synced_at)
               VALUES ('/p/gen-001/main.py', 5, 1, 'aa', 1);",
        )
        .unwrap();
    }
    let c = Catalog::open_at(&path).unwrap();
    assert_eq!(c.schema_version().unwrap(), SCHEMA_VERSION);
    // Old number versions sort with new ones (a pre-release before its release).
    let pre = NewVersion {
        artifact_id: 8,
        ..version(8, "v2.0.1-rc1", "b4", None)
    };
    let key = crate::version::number_sort_key(
        &[2, 0, 1],
        &[crate::version::PreId::Word("rc".into(), Some(1))],
    );
    c.insert_version_sorted(&pre, Some(&key)).unwrap();
    let tags: Vec<String> = c
        .versions(&VersionQuery {
            artifact: Some(8),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(tags, ["v2.0.1", "v2.0.1-rc1", "v2+2", "v2"]);
    let v = c.resolve(None, "main", Some("production")).unwrap();
    assert_eq!((v.id, v.locations.len()), (3, 1));
    assert_eq!(
        c.file_state("/p/gen-001/main.py")
            .unwrap()
            .unwrap()
            .decision,
        None
    );
    let fk: i64 = c
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    // The old artifact takes its extension when met again; a namesake in another folder
    // is another artifact, and naming `main` alone is then ambiguous.
    let a = c
        .upsert_artifact_at(None, "generations/", "main", "py", "other", None)
        .unwrap();
    assert_eq!(a, 7);
    let b = c
        .upsert_artifact_at(None, "generations/gen-002/", "main", "py", "other", None)
        .unwrap();
    assert_ne!(a, b);
    let err = c.artifact_named(None, "main").unwrap_err().to_string();
    assert!(
        err.contains("generations/main.py") && err.contains("generations/gen-002/main.py"),
        "{err}"
    );
    assert_eq!(c.artifact_named(None, "gen-002/main.py").unwrap().id, b);
    // Cascades still hold after the table was rebuilt.
    c.remove_version(3).unwrap();
    assert!(c
        .location_at("lab", "ml", "generations/main.py")
        .unwrap()
        .is_none());
    assert_eq!(c.labelled(a, "production").unwrap(), None);
}

#[test]
fn catalog_recording_keeps_versions_while_a_copy_is_stored() {
    let c = Catalog::in_memory().unwrap();
    let a = c
        .upsert_artifact_at(None, "models/", "m", "pt", "model", None)
        .unwrap();
    let v1 = c.insert_version(&version(a, "1", "s1", None)).unwrap();
    let v2 = c.insert_version(&version(a, "2", "s2", None)).unwrap();
    c.record_stored(v1, &location("models/m.pt")).unwrap();
    assert!(c
        .record_copied(
            "lab",
            ("ml-artifacts", "models/m.pt"),
            ("ml-artifacts", "b/m.pt")
        )
        .unwrap());
    assert!(c
        .record_moved(
            "lab",
            ("ml-artifacts", "b/m.pt"),
            ("ml-artifacts", "c/m.pt")
        )
        .unwrap());
    let keys: Vec<String> = c
        .locations_of(v1)
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert_eq!(keys, ["models/m.pt", "c/m.pt"]);
    // v2 overwrites models/m.pt: v1 keeps its copy in c/, so it stays.
    c.record_stored(v2, &location("models/m.pt")).unwrap();
    assert_eq!(c.locations_of(v1).unwrap().len(), 1);
    // Its last copy deleted, v1 goes; an unknown key changes nothing.
    assert!(c
        .record_deleted("lab", "ml-artifacts", "c/m.pt")
        .unwrap()
        .is_some());
    assert!(c
        .record_deleted("lab", "ml-artifacts", "nope")
        .unwrap()
        .is_none());
    assert_eq!(c.version_count(a).unwrap(), 1);
    // The last version's last copy: the artifact goes too.
    c.record_deleted("lab", "ml-artifacts", "models/m.pt")
        .unwrap();
    assert!(c.artifact_named(None, "m").is_err());
}

#[test]
fn catalog_read_only_open_never_creates_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_dir: dir.path().join("c"),
        data_dir: dir.path().join("d"),
        cache_dir: dir.path().join("k"),
    };
    let c = Catalog::open_read_only(&paths).unwrap();
    assert!(c.versions(&VersionQuery::default()).unwrap().is_empty());
    assert!(!paths.data_dir.exists());
    Catalog::open(&paths).unwrap();
    let ro = Catalog::open_read_only(&paths).unwrap();
    assert!(ro.upsert_artifact(None, "x", "x", None, "x/").is_err());
}

#[test]
fn catalog_versions_labels_filters_and_cost_inputs() {
    let c = Catalog::in_memory().unwrap();
    let a = c
        .upsert_artifact(
            Some("acme"),
            "model-notable-quality",
            "model",
            None,
            "models/",
        )
        .unwrap();
    // Upsert returns the same artifact.
    assert_eq!(
        c.upsert_artifact(
            Some("acme"),
            "model-notable-quality",
            "model",
            None,
            "models/"
        )
        .unwrap(),
        a
    );
    let v1 = c
        .insert_version(&version(a, "2026-01-05T21-01-16", "s1", Some(0.8)))
        .unwrap();
    let v2 = c
        .insert_version(&version(a, "2026-01-06T03-27-22", "s2", Some(0.95)))
        .unwrap();
    let v3 = c
        .insert_version(&version(a, "2026-01-06T01-48-25", "s3", None))
        .unwrap();
    c.add_location(v1, &location("models/a")).unwrap();
    c.add_location(v2, &location("models/b")).unwrap();
    c.set_label(v1, "production").unwrap();
    let q = VersionQuery {
        family: Some("model-notable-quality".into()),
        ..Default::default()
    };
    let all = c.versions(&q).unwrap();
    let tags: Vec<_> = all.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(
        tags,
        [
            "2026-01-06T03-27-22",
            "2026-01-06T01-48-25",
            "2026-01-05T21-01-16"
        ]
    );
    assert!(all[0].latest && !all[1].latest);
    assert_eq!(all[2].labels, ["production"]);
    assert_eq!(all[0].locations[0].key, "models/b");
    assert_eq!(all[0].metrics.other["f1"], 0.5);
    assert_eq!(all[0].org.as_deref(), Some("acme"));

    // Moving a label moves it.
    c.set_label(v3, "production").unwrap();
    assert_eq!(c.labelled(a, "production").unwrap(), Some(v3));
    let r = c
        .resolve(None, "model-notable-quality", Some("production"))
        .unwrap();
    assert_eq!(r.id, v3);
    assert_eq!(
        c.resolve(None, "model-notable-quality", None).unwrap().id,
        v2
    );
    assert!(c.resolve(None, "nope", None).is_err());
    let err = c
        .resolve(None, "model-notable-quality", Some("v9"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("2026-01-05T21-01-16"), "{err}");

    let filtered = c
        .versions(&VersionQuery {
            filters: vec![Filter::parse("accuracy>0.9").unwrap()],
            sort: VersionSort::Accuracy,
            ..q.clone()
        })
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].id, v2);
    let by_acc = c
        .versions(&VersionQuery {
            sort: VersionSort::Accuracy,
            limit: Some(2),
            ..q.clone()
        })
        .unwrap();
    assert_eq!(
        by_acc.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![v2, v1]
    );
    assert!(Filter::parse("accuracy~1").is_err());
    assert!(Filter::parse("drop table>1").is_err());
    assert!(Filter::parse("model_type>x").is_err());
    assert!(Filter::parse("model_type=xgboost").is_ok());

    c.record_transfer("lab", "s3", "ml-artifacts", Direction::Upload, 10, 1)
        .unwrap();
    let (objects, transfers) = c.cost_inputs().unwrap();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0].org.as_deref(), Some("acme"));
    assert_eq!(objects[0].original_bytes, 40);
    assert_eq!(objects[0].stored_bytes, 10);
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].direction, Direction::Upload);

    // Removing a version cascades to its locations and labels.
    c.remove_version(v3).unwrap();
    assert_eq!(c.labelled(a, "production").unwrap(), None);
    c.remove_version(v1).unwrap();
    assert_eq!(c.cost_inputs().unwrap().0.len(), 1);
}

#[test]
fn catalog_file_state_batch_and_audit() {
    let c = Catalog::in_memory().unwrap();
    let s = FileState {
        size: 3,
        mtime_ns: 5,
        sha256: "x".into(),
        decision: None,
    };
    c.batch(|c| {
        c.set_file_state("/a/b", &s)?;
        c.set_file_state("/c/d", &s)?;
        c.audit(&AuditEvent {
            action: "put",
            key: Some("k"),
            ..Default::default()
        })
    })
    .unwrap();
    assert_eq!(c.file_states("/a/").unwrap().len(), 1);
    assert_eq!(c.file_states("").unwrap().len(), 2);
    let failed: Result<()> = c.batch(|c| {
        c.set_file_state("/e", &s)?;
        Err(Error::Usage("stop".into()))
    });
    assert!(failed.is_err());
    assert_eq!(c.file_states("").unwrap().len(), 2);
    assert_eq!(c.audit_log().unwrap()[0].1, "put");
    // An unknown action is refused by the schema.
    assert!(c
        .audit(&AuditEvent {
            action: "steal",
            ..Default::default()
        })
        .is_err());
    c.register_folder(Path::new("/proj"), Some("acme")).unwrap();
    assert_eq!(c.folders().unwrap()[0].1.as_deref(), Some("acme"));
}

#[test]
fn catalog_sort_key_is_natural() {
    let mut tags = vec!["v10", "v9", "v2.1", "v2.10", "1", "2", "10"];
    tags.sort_by_key(|t| sort_key(t));
    assert_eq!(tags, ["1", "2", "10", "v2.1", "v2.10", "v9", "v10"]);
}

/// The library's row of an artifact, as a fresh aggregate over its versions, locations and
/// labels computes it.
fn aggregate(
    c: &Catalog,
    artifact: i64,
) -> (
    i64,
    i64,
    i64,
    Option<String>,
    i64,
    String,
    String,
    Option<f64>,
) {
    c.conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM versions WHERE artifact_id = ?1),
                    (SELECT COALESCE(SUM(size), 0) FROM versions WHERE artifact_id = ?1),
                    (SELECT COALESCE(SUM(original_size), 0) FROM versions WHERE artifact_id = ?1),
                    (SELECT version FROM versions WHERE artifact_id = ?1
                      ORDER BY sort_key DESC, id DESC LIMIT 1),
                    (SELECT COUNT(*) FROM locations o JOIN versions v ON v.id = o.version_id
                      WHERE v.artifact_id = ?1),
                    (SELECT COALESCE(GROUP_CONCAT(p), '') FROM (SELECT DISTINCT o.profile p
                      FROM locations o JOIN versions v ON v.id = o.version_id
                      WHERE v.artifact_id = ?1 ORDER BY 1)),
                    (SELECT COALESCE(GROUP_CONCAT(name), '') FROM (SELECT name FROM labels
                      WHERE artifact_id = ?1 ORDER BY 1)),
                    (SELECT accuracy FROM versions WHERE artifact_id = ?1
                      ORDER BY sort_key DESC, id DESC LIMIT 1)",
            [artifact],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .unwrap()
}

/// The row the library shows for an artifact, in the same shape.
fn summary(
    c: &Catalog,
    artifact: i64,
) -> (
    i64,
    i64,
    i64,
    Option<String>,
    i64,
    String,
    String,
    Option<f64>,
) {
    c.conn
        .query_row(
            "SELECT n_versions, stored_bytes, original_bytes, latest_version, n_locations,
                    profiles, labels, accuracy FROM artifacts WHERE id = ?1",
            [artifact],
            |r| {
                let set = |s: String| super::library::set_of(&s).join(",");
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    set(r.get(5)?),
                    set(r.get(6)?),
                    r.get(7)?,
                ))
            },
        )
        .unwrap()
}

/// Every write — versions added and removed, copies stored, moved and removed, labels set
/// and moved — leaves each artifact's library row equal to a fresh aggregate: the triggers
/// keep it, whichever function wrote.
#[test]
fn library_rows_stay_equal_to_a_fresh_aggregate_after_random_writes() {
    let dir = tempfile::tempdir().unwrap();
    let c = Catalog::open_at(&dir.path().join("c.sqlite3")).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    // An artifact whose last version goes is forgotten; upserting it again makes it anew.
    let artifacts = |c: &Catalog| -> Vec<i64> {
        (0..4)
            .map(|i| {
                c.upsert_artifact(None, &format!("fam-{i}"), "model", None, "models/")
                    .unwrap()
            })
            .collect()
    };
    let mut versions: Vec<(i64, i64)> = Vec::new();
    let mut locations: Vec<i64> = Vec::new();
    let mut next = 0;
    for step in 0..400 {
        let a = artifacts(&c)[rnd(4) as usize];
        match rnd(7) {
            0 | 1 => {
                next += 1;
                let mut v = version(a, &format!("v{next}"), &format!("{next:064x}"), None);
                v.size = 1 + rnd(1000);
                v.original_size = v.size + rnd(1000);
                v.metrics.accuracy = (rnd(3) > 0).then(|| rnd(100) as f64 / 100.0);
                versions.push((c.insert_version(&v).unwrap(), a));
            }
            2 if !versions.is_empty() => {
                let (vid, _) = versions[rnd(versions.len() as u64) as usize];
                let mut l = location(&format!("k/{step}"));
                l.profile = ["lab", "team", "local"][rnd(3) as usize].into();
                c.add_location(vid, &l).unwrap();
                locations.push(
                    c.conn
                        .query_row("SELECT MAX(id) FROM locations", [], |r| r.get(0))
                        .unwrap(),
                );
            }
            3 if !locations.is_empty() => {
                let l = locations.swap_remove(rnd(locations.len() as u64) as usize);
                if rnd(2) == 0 {
                    c.remove_location(l).unwrap();
                } else {
                    c.move_location(l, &format!("moved/{step}")).unwrap();
                    locations.push(l);
                }
            }
            4 if !versions.is_empty() => {
                let (vid, _) = versions[rnd(versions.len() as u64) as usize];
                c.set_label(vid, ["production", "staging"][rnd(2) as usize])
                    .unwrap();
            }
            5 if !versions.is_empty() => {
                let (vid, _) = versions.swap_remove(rnd(versions.len() as u64) as usize);
                c.remove_version(vid).unwrap();
                locations.retain(|&l| {
                    c.conn
                        .query_row("SELECT 1 FROM locations WHERE id = ?1", [l], |_| Ok(()))
                        .is_ok()
                });
            }
            _ => {}
        }
        let alive: Vec<i64> = c
            .conn
            .prepare("SELECT id FROM artifacts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for a in alive {
            assert_eq!(
                summary(&c, a),
                aggregate(&c, a),
                "artifact {a} after step {step}"
            );
        }
    }
    let artifacts = artifacts(&c);
    // The library lists exactly the artifacts that have versions, with those figures.
    let page = c
        .library(&LibraryQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    let with_versions = artifacts
        .iter()
        .filter(|&&a| aggregate(&c, a).0 > 0)
        .count();
    assert_eq!(page.total as usize, with_versions);
    for row in &page.rows {
        let (n, stored, original, latest, locs, profiles, labels, accuracy) = aggregate(&c, row.id);
        assert_eq!(row.versions as i64, n);
        assert_eq!(row.stored_bytes as i64, stored);
        assert_eq!(row.original_bytes as i64, original);
        assert_eq!(Some(row.latest.clone()), latest);
        assert_eq!(row.locations as i64, locs);
        assert_eq!(row.profiles.join(","), profiles);
        assert_eq!(row.labels.join(","), labels);
        assert_eq!(row.accuracy, accuracy);
    }
}

/// Filters and sorts of the library, on rows whose order is known.
#[test]
fn library_filters_sorts_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let c = Catalog::open_at(&dir.path().join("c.sqlite3")).unwrap();
    // name, kind, org, size, accuracy, label, profile/provider
    let rows = [
        (
            "alpha",
            "model",
            None,
            300,
            Some(0.70),
            Some("production"),
            ("lab", "s3"),
        ),
        (
            "bravo",
            "model",
            Some("acme"),
            100,
            Some(0.95),
            None,
            ("team", "supabase"),
        ),
        (
            "charlie",
            "dataset",
            None,
            200,
            None,
            None,
            ("minio", "s3 (127.0.0.1:9000)"),
        ),
        (
            "delta",
            "model",
            None,
            400,
            Some(0.80),
            Some("staging"),
            ("local", "local"),
        ),
    ];
    for (i, (name, kind, org, size, acc, label, (profile, provider))) in rows.iter().enumerate() {
        let a = c.upsert_artifact(*org, name, kind, None, "m/").unwrap();
        let mut v = version(a, "v1", &format!("{i:064x}"), *acc);
        v.size = *size;
        v.created_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + i as i64);
        let vid = c.insert_version(&v).unwrap();
        let mut l = location(&format!("m/{name}"));
        l.profile = profile.to_string();
        l.provider = provider.to_string();
        c.add_location(vid, &l).unwrap();
        if let Some(label) = label {
            c.set_label(vid, label).unwrap();
        }
    }
    let names = |q: LibraryQuery| -> Vec<String> {
        c.library(&LibraryQuery { limit: 10, ..q })
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.family)
            .collect()
    };
    let q = |sort, desc| LibraryQuery {
        sort,
        desc,
        ..Default::default()
    };
    assert_eq!(
        names(q(LibrarySort::Name, None)),
        ["alpha", "bravo", "charlie", "delta"]
    );
    assert_eq!(
        names(q(LibrarySort::Name, Some(true))),
        ["delta", "charlie", "bravo", "alpha"]
    );
    // Best accuracy first; none last, in either direction.
    assert_eq!(
        names(q(LibrarySort::Accuracy, None)),
        ["bravo", "delta", "alpha", "charlie"]
    );
    assert_eq!(
        names(q(LibrarySort::Accuracy, Some(false))),
        ["alpha", "delta", "bravo", "charlie"]
    );
    assert_eq!(
        names(q(LibrarySort::Size, None)),
        ["delta", "alpha", "charlie", "bravo"]
    );
    assert_eq!(
        names(q(LibrarySort::Updated, None)),
        ["delta", "charlie", "bravo", "alpha"]
    );
    assert_eq!(
        names(q(LibrarySort::Kind, None)),
        ["charlie", "alpha", "bravo", "delta"]
    );
    let only = |f: fn(&mut LibraryQuery)| {
        let mut q = LibraryQuery::default();
        f(&mut q);
        names(q)
    };
    assert_eq!(only(|q| q.label = Some("production".into())), ["alpha"]);
    // A kind takes in its endpoints (`s3 (127.0.0.1:9000)` is an s3); a label is itself.
    assert_eq!(
        only(|q| q.provider = Some("s3".into())),
        ["alpha", "charlie"]
    );
    assert_eq!(
        only(|q| q.provider = Some("s3 (127.0.0.1:9000)".into())),
        ["charlie"]
    );
    assert_eq!(
        only(|q| q.provider = Some("s3 (".into())),
        Vec::<String>::new()
    );
    assert_eq!(only(|q| q.profile = Some("team".into())), ["bravo"]);
    assert_eq!(only(|q| q.org = Some("acme".into())), ["bravo"]);
    assert_eq!(only(|q| q.kind = Some("dataset".into())), ["charlie"]);
    assert_eq!(only(|q| q.min_size = Some(250)), ["alpha", "delta"]);
    assert_eq!(only(|q| q.max_size = Some(200)), ["bravo", "charlie"]);
    assert_eq!(only(|q| q.min_accuracy = Some(0.75)), ["bravo", "delta"]);
    // Search ignores case; `_` and `%` match themselves.
    assert_eq!(only(|q| q.search = Some("RAV".into())), ["bravo"]);
    assert_eq!(only(|q| q.search = Some("a_".into())), Vec::<String>::new());
    let day = |d: i64| {
        (OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + d))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut q = LibraryQuery {
        updated_after: Some(day(1)),
        updated_before: Some(day(2)),
        ..Default::default()
    };
    assert_eq!(names(q.clone()), ["bravo", "charlie"]);
    // Pages: the total counts every match; the window holds `limit` rows from `offset`.
    q = LibraryQuery {
        offset: 1,
        limit: 2,
        ..Default::default()
    };
    let page = c.library(&q).unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.family.as_str())
            .collect::<Vec<_>>(),
        ["bravo", "charlie"]
    );
    // The total is the same whether it is counted or follows from a short last window.
    for (offset, rows) in [(3, 1), (4, 0), (10, 0), (0, 2)] {
        let page = c
            .library(&LibraryQuery {
                offset,
                limit: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((page.total, page.rows.len()), (4, rows), "offset {offset}");
    }
    let row = &page.rows[0];
    assert_eq!(
        (row.providers.clone(), row.profiles.clone()),
        (vec!["supabase".to_string()], vec!["team".to_string()])
    );
    // A bad time names the field and the value.
    let err = c
        .library(&LibraryQuery {
            updated_after: Some("yesterday".into()),
            limit: 1,
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("updated_after") && err.contains("yesterday"),
        "{err}"
    );
}

/// Pulled changes applied in bulk (a rebuild) and one at a time leave the same rows, and the
/// library's row of each artifact equal to a fresh aggregate; the outbox stays empty.
#[test]
fn pulled_changes_give_the_same_rows_in_bulk_and_one_by_one() {
    let key = |i: usize| ArtifactKey {
        org: String::new(),
        folder: "models/".into(),
        family: format!("m{i}"),
        extension: "pt".into(),
    };
    let mut changes = Vec::new();
    for i in 0..20 {
        changes.push(Change::Artifact(TeamArtifact {
            key: key(i),
            kind: "model".into(),
            framework: Some("PyTorch".into()),
            created_ns: 1,
        }));
        for v in 1..=3 {
            let sha = format!("{i:02}{v:062}");
            changes.push(Change::Version(
                TeamVersion {
                    artifact: key(i),
                    version: format!("v{v}"),
                    sha256: sha.clone(),
                    size: 100 * v,
                    original_size: 200 * v,
                    encoding: None,
                    mtime_ns: None,
                    source_path: None,
                    created_ns: v,
                    accuracy: Some(0.5 + v as f64 / 10.0),
                    loss: None,
                    epochs: None,
                    model_type: None,
                    dataset_count: None,
                    training_split: None,
                    other_metrics: None,
                },
                Some("bob".into()),
            ));
            if v < 3 {
                changes.push(Change::Location(
                    TeamLocation {
                        provider: "s3".into(),
                        bucket: "b".into(),
                        key: format!("models/m{i}_v{v}.pt"),
                        profile: if v == 1 { "lab" } else { "cloud" }.into(),
                        artifact: key(i),
                        version: format!("v{v}"),
                        version_sha256: sha.clone(),
                        size: 100 * v,
                        etag: None,
                        sha256: None,
                        stored_ns: 5,
                    },
                    Some("bob".into()),
                ));
            }
        }
        // The same content under another tag is the same version; another file under a
        // taken tag keeps its own.
        changes.push(Change::Version(
            TeamVersion {
                artifact: key(i),
                version: "v9".into(),
                sha256: format!("{i:02}{:062}", 1),
                size: 1,
                original_size: 1,
                encoding: None,
                mtime_ns: None,
                source_path: None,
                created_ns: 9,
                accuracy: None,
                loss: None,
                epochs: None,
                model_type: None,
                dataset_count: None,
                training_split: None,
                other_metrics: None,
            },
            None,
        ));
        changes.push(Change::Version(
            TeamVersion {
                artifact: key(i),
                version: "v1".into(),
                sha256: format!("{i:02}{:062}", 8),
                size: 1,
                original_size: 1,
                encoding: None,
                mtime_ns: None,
                source_path: None,
                created_ns: 8,
                accuracy: None,
                loss: None,
                epochs: None,
                model_type: None,
                dataset_count: None,
                training_split: None,
                other_metrics: None,
            },
            None,
        ));
        changes.push(Change::Label(
            TeamLabel {
                artifact: key(i),
                name: "production".into(),
                version: "v2".into(),
                version_sha256: format!("{i:02}{:062}", 2),
                hlc: 7,
                base: 0,
            },
            None,
        ));
    }
    let rows = |c: &Catalog| {
        c.conn
            .prepare(
                "SELECT a.family, v.version, v.sha256, v.member, v.sort_key,
                   (SELECT COUNT(*) FROM locations o WHERE o.version_id = v.id)
                 FROM versions v JOIN artifacts a ON a.id = v.artifact_id ORDER BY 1, 2",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
    };
    let mut results = Vec::new();
    for bulk in [true, false] {
        let c = Catalog::in_memory().unwrap();
        c.team_link_up("machine-a").unwrap();
        let mut applier = c.team_applier(bulk).unwrap();
        for change in &changes {
            applier.apply(change).unwrap();
        }
        applier.finish(42, 7).unwrap();
        let link = c.team_link().unwrap();
        assert_eq!((link.cursor, link.pending), (42, 0), "bulk {bulk}");
        let ids: Vec<i64> = c
            .conn
            .prepare("SELECT id FROM artifacts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(ids.len(), 20);
        for id in ids {
            assert_eq!(
                summary(&c, id),
                aggregate(&c, id),
                "bulk {bulk}, artifact {id}"
            );
        }
        results.push(rows(&c));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].len(), 20 * 4);
    assert!(
        results[0].iter().any(|r| r.1 == "v1+00000000"),
        "{:?}",
        results[0]
    );
}
