//! Unit tests.

use super::*;
use stowage_store::local::LocalStore;

fn json(len: usize, seed: u64) -> Vec<u8> {
    let mut out = format!("{{\"accuracy\":0.9{seed},\"loss\":0.1,\"rows\":[").into_bytes();
    let mut i = seed;
    while out.len() + 40 < len {
        out.extend_from_slice(format!("{{\"id\":{i},\"v\":{}}},", i * 7 % 1000).as_bytes());
        i += 1;
    }
    out.extend_from_slice(b"0]}");
    out
}

fn targets(root: &Path) -> Targets {
    Targets {
        primary: Target {
            profile: "local".into(),
            store: Arc::new(LocalStore::new(root).unwrap()),
            create_bucket: true,
        },
        secondary: Some(Target {
            profile: "backup".into(),
            store: Arc::new(LocalStore::new(root.join("backup")).unwrap()),
            create_bucket: true,
        }),
        bucket: "ml-artifacts".into(),
    }
}

/// A crash after an upload finished but before it was recorded: the run of the same row
/// after restart finds the object (same SHA-256), records it and sends nothing; with an
/// older version at the key, the archive made before the crash is not made again.
#[tokio::test]
async fn sync_run_target_records_an_upload_a_crash_left_unrecorded_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    let file = proj.join("weights.bin");
    let v1 = json(2_000, 1);
    std::fs::write(&file, &v1).unwrap();
    let store_root = dir.path().join("store");
    let targets = targets(&store_root);
    let t = &targets.primary;
    t.store
        .create_bucket("ml-artifacts", &BucketOptions::default())
        .await
        .unwrap();
    let policy = Policy::parse(
        "[[rule]]\nname = \"all\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"runs/\"\ncompress = false\n",
        Path::new("policy.toml"),
    )
    .unwrap();
    let catalog = std::sync::Mutex::new(Catalog::in_memory().unwrap());
    let planned = |path: &Path| {
        let meta = std::fs::metadata(path).unwrap();
        plan_file(
            path.to_path_buf(),
            "weights.bin".into(),
            &meta,
            &policy,
            None,
            None,
        )
        .unwrap()
    };
    let key = ObjectPath::new("ml-artifacts", "runs/weights.bin").unwrap();
    // The crashed run's upload landed; nothing was recorded.
    t.store
        .put(&key, PutSource::File(file.clone()), &PutOptions::default())
        .await
        .unwrap();
    let mut committed = 0;
    let o = run_target(
        &catalog,
        None,
        &planned(&file),
        t,
        "ml-artifacts",
        None,
        |_, _| {
            committed += 1;
            Ok(())
        },
    )
    .await
    .unwrap();
    assert!(o.already_stored);
    assert_eq!(committed, 1);
    assert_eq!(o.version, "1");
    // New content; the crashed run archived v1 and uploaded v2, then died unrecorded.
    let v2 = json(2_100, 2);
    std::fs::write(&file, &v2).unwrap();
    let sha1 = hex::encode(Sha256::digest(&v1));
    let archive = ObjectPath::new("ml-artifacts", &archive_key("runs/weights.bin", &sha1)).unwrap();
    t.store.copy(&key, &archive, true).await.unwrap();
    let put = PutOptions {
        overwrite: true,
        ..Default::default()
    };
    t.store
        .put(&key, PutSource::File(file.clone()), &put)
        .await
        .unwrap();
    let o = run_target(
        &catalog,
        None,
        &planned(&file),
        t,
        "ml-artifacts",
        None,
        |_, _| Ok(()),
    )
    .await
    .unwrap();
    assert!(o.already_stored);
    assert_eq!(o.version, "2");
    let c = catalog.lock().unwrap();
    let versions = c
        .versions(&catalog::VersionQuery {
            family: Some("weights".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(versions.len(), 2, "one version per content, none twice");
    assert_eq!(versions[0].locations[0].key, "runs/weights.bin");
    assert_eq!(versions[1].locations[0].key, archive.key.as_str());
    // The key holds v2, the archive v1: nothing was archived or replaced again.
    let root = store_root.join("ml-artifacts");
    assert_eq!(std::fs::read(root.join("runs/weights.bin")).unwrap(), v2);
    assert_eq!(std::fs::read(root.join(archive.key.as_str())).unwrap(), v1);
    let archived: Vec<_> = std::fs::read_dir(root.join("runs/_versions/weights.bin"))
        .unwrap()
        .collect();
    assert_eq!(archived.len(), 1);
}

#[test]
fn sync_archive_keys_keep_folder_and_encoding() {
    let sha = "0123456789abcdef0123";
    assert_eq!(
        archive_key("training-data/dataset.json.gz", sha),
        "training-data/_versions/dataset.json/0123456789ab.gz"
    );
    assert_eq!(
        archive_key("acme/models/m.pt", sha),
        "acme/models/_versions/m.pt/0123456789ab"
    );
    assert_eq!(archive_key("x.csv", sha), "_versions/x.csv/0123456789ab");
    assert!(Key::parse(&archive_key("training-data/dataset.json.gz", sha)).is_ok());
}

#[test]
fn sync_tag_sort_keys_order_like_version_tags() {
    let mut names = vec![
        "m-2026-01-06T03-27-22.json",
        "m-v2.10.json",
        "m-2026-01-05T21-01-16.json",
        "m-v2.9.json",
        "m-2026-01-06T01-48-25.json",
    ];
    let tags: Vec<VersionTag> = names
        .iter()
        .map(|n| version::parse_name(n).version.unwrap())
        .collect();
    let mut by_key = tags.clone();
    by_key.sort_by_key(tag_sort_key);
    let mut by_ord = tags;
    by_ord.sort();
    assert_eq!(by_key, by_ord);
    names.clear();
}

#[tokio::test]
async fn sync_dual_writes_and_versions_changed_content_of_a_versioned_name() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("model-q-v1.json"), json(150_000, 2)).unwrap();
    let store_root = dir.path().join("store");
    let targets = targets(&store_root);
    let catalog = Catalog::in_memory().unwrap();
    let policy = Policy::parse(
        "[[rule]]\nname = \"both\"\npatterns = [\"model-*\"]\ndestination = \"primary+secondary\"\nfolder = \"models/\"\n",
        Path::new("policy.toml"),
    )
    .unwrap();
    let p = plan(&proj, &policy, &catalog, Some("acme")).unwrap();
    let r = run(&p, &catalog, &targets, None).await.unwrap();
    assert_eq!(r.uploaded, 2);
    for root in [store_root.clone(), store_root.join("backup")] {
        assert!(root
            .join("ml-artifacts/acme/models/model-q-v1.json.gz")
            .is_file());
    }
    // The same name with new content: version `v1+2`, newest, the old one archived.
    std::fs::write(proj.join("model-q-v1.json"), json(160_000, 5)).unwrap();
    let p = plan(&proj, &policy, &catalog, Some("acme")).unwrap();
    let r = run(&p, &catalog, &targets, None).await.unwrap();
    assert_eq!(r.uploaded, 2);
    assert_eq!(r.files[0].version.as_deref(), Some("v1+2"));
    let v = catalog.resolve(Some("acme"), "model-q", None).unwrap();
    assert_eq!(v.version, "v1+2");
    assert_eq!(v.locations.len(), 2);
    let old = catalog
        .resolve(Some("acme"), "model-q", Some("v1"))
        .unwrap();
    assert!(old
        .locations
        .iter()
        .all(|l| l.key.starts_with("acme/models/_versions/model-q-v1.json/")));
    let (objects, transfers) = catalog.cost_inputs().unwrap();
    assert_eq!(objects.len(), 4);
    assert!(objects.iter().all(|o| o.org.as_deref() == Some("acme")));
    assert!(transfers.len() >= 4);
}

#[tokio::test]
async fn sync_versions_archives_restores_and_collects() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(proj.join("logs")).unwrap();
    std::fs::write(proj.join("dataset.json"), json(1_200_000, 1)).unwrap();
    std::fs::write(proj.join("model-q-v1.json"), json(150_000, 2)).unwrap();
    std::fs::write(proj.join("notes.txt"), b"small").unwrap();
    std::fs::write(proj.join("logs/run.log"), b"log").unwrap();
    let store_root = dir.path().join("store");
    let targets = targets(&store_root);
    let catalog = Catalog::in_memory().unwrap();
    let policy = Policy::defaults();

    let p = plan(&proj, &policy, &catalog, None).unwrap();
    let actions: Vec<_> = p
        .files
        .iter()
        .map(|f| (f.file.as_str(), f.action))
        .collect();
    assert_eq!(
        actions,
        [
            ("dataset.json", Action::Upload),
            ("logs/run.log", Action::Never),
            ("model-q-v1.json", Action::Upload),
            ("notes.txt", Action::Local),
        ]
    );
    let r = run(&p, &catalog, &targets, None).await.unwrap();
    assert!(r.error.is_none());
    assert_eq!(r.uploaded, 2);
    assert_eq!(r.new_versions, 3);
    assert!(store_root
        .join("ml-artifacts/training-data/dataset.json.gz")
        .is_file());

    // Unchanged: nothing read, nothing uploaded.
    let p = plan(&proj, &policy, &catalog, None).unwrap();
    assert!(p
        .files
        .iter()
        .all(|f| matches!(f.action, Action::Unchanged | Action::Never)));
    assert_eq!(run(&p, &catalog, &targets, None).await.unwrap().uploaded, 0);

    // New content of an unversioned name: the old object moves under _versions/.
    std::fs::write(proj.join("dataset.json"), json(1_300_000, 3)).unwrap();
    let p = plan(&proj, &policy, &catalog, None).unwrap();
    let r = run(&p, &catalog, &targets, None).await.unwrap();
    assert_eq!(r.uploaded, 1);
    let archived = r.files[0].uploads[0].archived_previous_to.clone().unwrap();
    assert!(store_root.join("ml-artifacts").join(&archived).is_file());
    let versions = catalog
        .versions(&catalog::VersionQuery {
            family: Some("dataset".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>(),
        ["2", "1"]
    );
    assert_eq!(versions[1].locations[0].key, archived);
    assert_eq!(versions[1].metrics.accuracy, Some(0.91));

    let stores: HashMap<String, Arc<dyn Store>> =
        [("local".to_string(), targets.primary.store.clone())].into();
    let dest = dir.path().join("restored.json");
    let reader = crate::read::Reader::new(stores.clone());
    let got = crate::read::restore(&catalog, &versions[1], &reader, &dest, false, false)
        .await
        .unwrap();
    assert!(got.restored.decompressed);
    assert_eq!(std::fs::read(&dest).unwrap(), json(1_200_000, 1));
    assert!(
        crate::read::restore(&catalog, &versions[1], &reader, &dest, false, false)
            .await
            .is_err()
    );

    // gc keeps the latest; with version 1 labelled nothing goes, without it, it does.
    catalog.set_label(versions[1].id, "production").unwrap();
    let keep = Retention {
        keep_last: 1,
        older_than: Duration::ZERO,
        family: Some("dataset".into()),
    };
    assert!(gc(&catalog, &keep, &stores, false)
        .await
        .unwrap()
        .is_empty());
    catalog.set_label(versions[0].id, "production").unwrap();
    let removed = gc(&catalog, &keep, &stores, false).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].version, "1");
    assert!(!store_root.join("ml-artifacts").join(&archived).exists());
    assert_eq!(catalog.audit_log().unwrap().last().unwrap().1, "gc");
}
