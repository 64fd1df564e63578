//! The app layer end to end on the local store (and on SeaweedFS when the test environment
//! names one), cancellation by operation id, the error document, and the TypeScript
//! declarations that must match the Rust types.

use std::path::Path;

use ts_rs::TS;

use super::*;
use crate::catalog::{Catalog, LibraryQuery, LibrarySort};

fn app_in(dir: &Path) -> App {
    App::with_paths(
        Paths {
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
            cache_dir: dir.join("cache"),
        },
        None,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_then_library_detail_restore_and_cost_on_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let file = dir.path().join("model-q-v2.pt");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();

    let put = app
        .put(PutRequest {
            files: vec![file.clone()],
            dest: "models/".into(),
            compress: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(put.failure().is_none(), "{put:?}");
    let stored = put.uploaded[0].ok().unwrap();
    assert_eq!(
        (stored.bucket.as_str(), stored.key.as_str()),
        ("models", "model-q-v2.pt")
    );

    // The library shows one artifact, with its version, size and location.
    let page = app
        .library(&LibraryQuery {
            search: Some("model-q".into()),
            sort: LibrarySort::Updated,
            limit: 50,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 1);
    let row = &page.rows[0];
    assert_eq!(
        (row.family.as_str(), row.latest.as_str()),
        ("model-q", "v2")
    );
    assert_eq!(
        (row.versions, row.stored_bytes, row.locations),
        (1, 300_000, 1)
    );
    assert_eq!(row.profiles, vec!["local".to_string()]);
    // A search that matches nothing gives an empty page, not an error; `%` is literal.
    let none = app
        .library(&LibraryQuery {
            search: Some("%".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((none.total, none.rows.len()), (0, 0));

    // Two more artifacts: each order gives its own page, and pages do not overlap.
    for (name, len) in [("alpha.bin", 10_usize), ("zeta.bin", 900_000)] {
        let f = dir.path().join(name);
        std::fs::write(&f, vec![1u8; len]).unwrap();
        let r = app
            .put(PutRequest {
                files: vec![f],
                dest: "data/".into(),
                compress: Some(false),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(r.failure().is_none());
    }
    let names = |sort, offset, limit| {
        let p = app
            .library(&LibraryQuery {
                sort,
                offset,
                limit,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(p.total, 3);
        p.rows.into_iter().map(|r| r.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(LibrarySort::Name, 0, 10),
        ["alpha.bin", "model-q.pt", "zeta.bin"]
    );
    assert_eq!(
        names(LibrarySort::Size, 0, 10),
        ["zeta.bin", "model-q.pt", "alpha.bin"]
    );
    assert_eq!(names(LibrarySort::Updated, 0, 1), ["zeta.bin"]);
    assert_eq!(names(LibrarySort::Name, 1, 1), ["model-q.pt"]);

    let detail = app.artifact(row.id).unwrap();
    assert_eq!(detail.versions.len(), 1);
    assert_eq!(detail.versions[0].locations[0].key, "model-q-v2.pt");

    // Restore gives back the same bytes.
    let out = dir.path().join("restored.pt");
    let restored = app
        .restore(RestoreRequest {
            spec: "model-q@v2".into(),
            dest: Some(out.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(restored.read.restored.version, "v2");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    // Cost counts the stored bytes.
    let cost = serde_json::to_value(app.cost(&CostRequest::default()).unwrap()).unwrap();
    assert_eq!(
        cost["total"]["stored_bytes"],
        300_000 + 10 + 900_000,
        "{cost}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The guard only keeps memory-measuring tests of this process from running meanwhile.
#[allow(clippy::await_holding_lock)]
async fn an_operation_is_cancelled_by_its_id() {
    // 96 MiB in memory: not while another test measures its memory.
    let _heavy = crate::testdata::heavy();
    let dir = tempfile::tempdir().unwrap();
    let app = std::sync::Arc::new(app_in(dir.path()));
    let file = dir.path().join("big.bin");
    std::fs::write(&file, vec![7u8; 96 << 20]).unwrap();
    // Cancel the put as soon as its first item starts moving.
    let mut events = app.events();
    let canceller = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(e) = events.recv().await {
                seen.push(serde_json::to_value(&e).unwrap());
                match e.event {
                    Event::Hashing { .. } | Event::Started { .. } | Event::Progress { .. }
                        if seen.iter().filter(|s| s["event"] == "cancelled").count() == 0 =>
                    {
                        assert!(app.running().contains(&e.op));
                        app.cancel(e.op);
                    }
                    Event::Ended { .. } => break,
                    _ => {}
                }
            }
            seen
        })
    };
    let err = app
        .put(PutRequest {
            files: vec![file],
            dest: "bucket/big.bin".into(),
            compress: Some(false),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.exit_code),
        ("cancelled", EXIT_INTERRUPTED)
    );
    let seen = canceller.await.unwrap();
    let op = &seen[0]["op"];
    assert!(seen.iter().all(|e| &e["op"] == op), "{seen:?}");
    assert_eq!(seen[0]["event"], "began");
    assert!(seen.iter().any(|e| e["event"] == "cancelled"), "{seen:?}");
    assert_eq!(seen.last().unwrap()["event"], "ended");
    assert_eq!(seen.last().unwrap()["ok"], false);
    // Nothing was stored, nothing recorded, and no operation is left running.
    assert!(app.running().is_empty());
    assert!(!dir.path().join("data/local/bucket/big.bin").exists());
    let page = app
        .library(&LibraryQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 0);
    assert!(!app.cancel(OpId(9_999)));
}

/// Registered folders in the sync view: added (canonical, its `.beast-mode` watched), paused
/// (no longer among the folders watch takes), resumed, removed; a file is refused; nobody
/// watches until asked, and `watch_registered` with nothing to watch is not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_are_added_paused_resumed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join(".beast-mode")).unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "x").unwrap();
    assert_eq!(app.add_folder(&file, None).unwrap_err().kind, "usage");

    let added = app.add_folder(&project.join("."), None).unwrap();
    let canonical = std::fs::canonicalize(&project).unwrap();
    assert_eq!(added.path, canonical);
    assert_eq!(added.root, canonical.join(".beast-mode"));
    assert!(added.exists && !added.paused);
    let status = app.sync_status(&[], 10).unwrap();
    assert_eq!(status.folders.len(), 1);
    assert!(matches!(
        status.watcher,
        WatcherState::Stopped { error: None }
    ));
    let watched = || crate::watch::default_roots(&Catalog::open(app.paths()).unwrap()).unwrap();
    assert_eq!(watched(), vec![canonical.join(".beast-mode")]);

    assert!(app.pause_folder(&canonical, true).unwrap().paused);
    assert!(watched().is_empty());
    assert!(app.watch_registered(|_| {}).await.unwrap().is_none());
    assert!(!app.pause_folder(&canonical, false).unwrap().paused);
    assert_eq!(watched().len(), 1);

    app.remove_folder(&canonical).unwrap();
    assert!(app.sync_status(&[], 10).unwrap().folders.is_empty());
    assert_eq!(app.remove_folder(&canonical).unwrap_err().kind, "usage");
}

/// The policy editor: a starter when there is no file; edited text checked (its rules, the
/// samples' decisions) before anything is written; a faulty rule named with its line and
/// refused on save; saved text used at once.
#[test]
fn the_policy_editor_checks_explains_and_saves() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let doc = app.policy_document().unwrap();
    assert!(!doc.exists && doc.text.contains("include_defaults = true"));
    let starter = app.check_policy(&doc.text, &[]);
    assert!(starter.error.is_none());
    // Its example, uncommented, is a valid rule too.
    let (head, tail) = doc.text.split_once("# [[rule]]").unwrap();
    let example = format!("{head}[[rule]]{}", tail.replace("\n# ", "\n"));
    let example = app.check_policy(&example, &[]);
    assert!(example.error.is_none(), "{:?}", example.error);
    assert_eq!(example.rules[0].name, "csv-exports");
    assert_eq!(
        starter.rules.len(),
        crate::policy::Policy::defaults().rules().len()
    );

    let text = "include_defaults = true\n[[rule]]\nname = \"csv-local\"\npatterns = [\"*.csv\"]\ndestination = \"local\"\n";
    let sample = PolicySample {
        path: "exports/a.csv".into(),
        size: Some(10_000_000),
    };
    let checked = app.check_policy(text, std::slice::from_ref(&sample));
    assert!(checked.error.is_none());
    assert_eq!(checked.rules[0].name, "csv-local");
    assert_eq!(checked.rules.len(), starter.rules.len() + 1);
    assert_eq!(
        checked.explained[0].ok().unwrap().decision.rule,
        "csv-local"
    );
    assert_ne!(
        app.check_policy(&doc.text, &[sample]).explained[0]
            .ok()
            .unwrap()
            .decision
            .rule,
        "csv-local"
    );

    let bad = "[[rule]]\nname = \"broken\"\npatterns = [\"[\"]\ndestination = \"local\"\n";
    let e = app.check_policy(bad, &[]).error.unwrap();
    assert!(
        e.message.contains(":3:") && e.message.contains("rule `broken`"),
        "{}",
        e.message
    );
    assert!(app.save_policy(bad).is_err());
    assert!(!crate::policy::Policy::file(app.paths()).exists());

    assert!(app.save_policy(text).unwrap().exists);
    assert_eq!(app.policy().unwrap().rules()[0].name, "csv-local");
}

/// The price table: saved into config.toml's `[prices]` (the rest of the file kept), used by
/// the next report; a negative price refused, naming it, with nothing written.
#[test]
fn prices_are_saved_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/config.toml"),
        "# my settings\n[cache]\nttl = \"2h\"\n",
    )
    .unwrap();
    let mut p = app.prices().unwrap();
    assert_eq!(p, crate::cost::PriceTable::default());
    p.s3_storage_gb_month = 0.0125;
    assert_eq!(app.set_prices(&p).unwrap(), p);
    assert_eq!(app.cost(&CostRequest::default()).unwrap().prices, p);
    let text = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
    assert!(text.contains("# my settings") && text.contains("ttl = \"2h\""));
    assert!(text.contains("s3_storage_gb_month = 0.0125"));
    let mut bad = p.clone();
    bad.s3_egress_gb = -1.0;
    let e = app.set_prices(&bad).unwrap_err();
    assert!(e.message.contains("s3_egress_gb"), "{}", e.message);
    assert_eq!(app.prices().unwrap(), p);
}

#[test]
fn every_error_kind_serialises_with_its_exit_code_and_next_step() {
    use stowage_store::ErrorKind as K;
    let cases = [
        (K::NotFound, "not_found", 3),
        (K::AlreadyExists, "already_exists", 4),
        (K::Conflict, "conflict", 4),
        (K::Unauthorized, "unauthorized", 5),
        (K::Unavailable, "unavailable", 6),
        (K::TooLarge { limit: Some(5) }, "too_large", 7),
        (K::InvalidKey, "invalid_key", 7),
        (K::Integrity, "integrity", 7),
        (K::NotSupported, "not_supported", 8),
        (K::Other, "other", 1),
    ];
    for (kind, name, code) in cases {
        let e: AppError = crate::Error::from(
            stowage_store::Error::new(kind, "s3", "it went wrong").hint("do the next thing"),
        )
        .with_file("/tmp/f.bin")
        .into();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], name);
        assert_eq!(v["exit_code"], code);
        assert_eq!(v["provider"], "s3");
        assert_eq!(v["file"], "/tmp/f.bin");
        assert_eq!(v["hint"], "do the next thing");
        assert_eq!(v["retryable"], kind == K::Unavailable);
        assert!(v["message"].as_str().unwrap().contains("it went wrong"));
    }
    let usage: AppError = crate::Error::Usage("bad flag. Next: pass --flag".into()).into();
    assert_eq!((usage.kind.as_str(), usage.exit_code), ("usage", 2));
    assert_eq!(usage.hint.as_deref(), Some("pass --flag"));
    let config: AppError = crate::Error::Config("bad config".into()).into();
    assert_eq!((config.kind.as_str(), config.exit_code), ("config", 2));
    let waiting = AppError::waiting("3 uploads wait");
    assert_eq!((waiting.exit_code, waiting.retryable), (EXIT_WAITING, true));
    // A batch takes its first failure's kind and code, and counts.
    let first = AppError::from(crate::Error::from(stowage_store::Error::new(
        K::Unauthorized,
        "supabase",
        "no",
    )));
    let batch = AppError::several(&first, 2, 5);
    assert_eq!(
        (batch.exit_code, batch.failed, batch.total),
        (5, Some(2), Some(5))
    );
    assert!(batch.message.starts_with("2 of 5 failed; first: "));
    assert_eq!(AppError::several(&first, 1, 1), first);
}

/// Every type the shells see, declared for TypeScript.
fn declarations() -> String {
    let decls = [
        AppError::decl(),
        OpId::decl(),
        AppEvent::decl(),
        Event::decl(),
        <Item<ts_rs::Dummy>>::decl(),
        PutRequest::decl(),
        PutResult::decl(),
        GetRequest::decl(),
        GetResult::decl(),
        Extracted::decl(),
        ExtractResult::decl(),
        LsResult::decl(),
        RmResult::decl(),
        Copied::decl(),
        UrlRequest::decl(),
        BucketCreated::decl(),
        BucketDeleted::decl(),
        BucketList::decl(),
        VersionsRequest::decl(),
        VersionList::decl(),
        DeletedVersion::decl(),
        DeleteVersionsResult::decl(),
        RestoreRequest::decl(),
        RestoreResult::decl(),
        Labelled::decl(),
        GcResult::decl(),
        ArtifactDetail::decl(),
        MetricChange::decl(),
        MetricDiff::decl(),
        LibraryQuery::decl(),
        LibrarySort::decl(),
        crate::catalog::LibraryRow::decl(),
        crate::catalog::LibraryPage::decl(),
        Explained::decl(),
        ExplainResult::decl(),
        SyncRequest::decl(),
        SyncResult::decl(),
        WatchRequest::decl(),
        Watching::decl(),
        WatchResult::decl(),
        QueueList::decl(),
        QueueChange::decl(),
        ProfileEntry::decl(),
        ProfileList::decl(),
        ConnectionTest::decl(),
        MigrateRequest::decl(),
        MigrateSummary::decl(),
        MigrateResult::decl(),
        VerifyResult::decl(),
        CacheList::decl(),
        AddProfileRequest::decl(),
        SecretFieldInfo::decl(),
        SecretValue::decl(),
        SaveProfileRequest::decl(),
        SavedProfile::decl(),
        AddedProfile::decl(),
        ProfileDetail::decl(),
        ProfileRemoved::decl(),
        LoginPlan::decl(),
        crate::open::CredentialReport::decl(),
        crate::open::FieldSource::decl(),
        crate::secrets::Field::decl(),
        crate::secrets::StoredSecrets::decl(),
        crate::secrets::RemovedEntry::decl(),
        crate::secrets::RemovedProfileAndSecrets::decl(),
        crate::config::RemovedProfile::decl(),
        crate::transfer::PutOutcome::decl(),
        crate::transfer::GetOutcome::decl(),
        crate::transfer::Bucket::decl(),
        crate::transfer::Entry::decl(),
        crate::transfer::EntryKind::decl(),
        crate::transfer::RemoveOutcome::decl(),
        crate::transfer::CopyOutcome::decl(),
        crate::transfer::SignedUrl::decl(),
        crate::read::UrlRead::decl(),
        crate::read::RestoreRead::decl(),
        crate::read::ReadInfo::decl(),
        crate::read::Restored::decl(),
        crate::sync::Collected::decl(),
        crate::sync::PlannedFile::decl(),
        crate::sync::Action::decl(),
        crate::sync::Problem::decl(),
        crate::sync::SyncReport::decl(),
        crate::sync::FileOutcome::decl(),
        crate::sync::Upload::decl(),
        crate::sync::PolicyChange::decl(),
        crate::catalog::VersionInfo::decl(),
        crate::catalog::StoredLocation::decl(),
        crate::catalog::VersionMetrics::decl(),
        crate::engine::Summary::decl(),
        crate::queue::Row::decl(),
        crate::queue::Counts::decl(),
        crate::queue::Health::decl(),
        crate::queue::Role::decl(),
        crate::queue::State::decl(),
        crate::migrate::MigrateOutcome::decl(),
        crate::migrate::VerifyReport::decl(),
        crate::migrate::Problem::decl(),
        crate::cache::CacheEntry::decl(),
        crate::cache::Cleaned::decl(),
        crate::cost::CostReport::decl(),
        crate::cost::GroupBy::decl(),
        crate::cost::PriceTable::decl(),
        crate::cost::ProviderCost::decl(),
        crate::cost::ProviderKind::decl(),
        crate::cost::GroupCost::decl(),
        crate::cost::Artifact::decl(),
        crate::cost::CostFilter::decl(),
        crate::cost::CostScope::decl(),
        crate::cost::CostTable::decl(),
        super::CostRequest::decl(),
        super::Dashboard::decl(),
        super::TimelinePoint::decl(),
        super::CostCsvRequest::decl(),
        super::CsvExport::decl(),
        super::WatchedFolder::decl(),
        super::WatcherState::decl(),
        super::SyncStatus::decl(),
        super::PolicyDocument::decl(),
        super::PolicySample::decl(),
        super::PolicyCheck::decl(),
        crate::policy::Rule::decl(),
        crate::config::Profile::decl(),
        crate::config::ProfileSource::decl(),
        crate::config::Backend::decl(),
        crate::config::LocalProfile::decl(),
        crate::config::S3Profile::decl(),
        crate::config::SupabaseProfile::decl(),
        crate::config::Selection::decl(),
        <serde_json::Value as TS>::decl(),
        super::DropRequest::decl(),
        super::DropFile::decl(),
        super::DropPlan::decl(),
        crate::policy::Explanation::decl(),
        crate::policy::SkippedRule::decl(),
        crate::policy::Decision::decl(),
        crate::policy::Kind::decl(),
        crate::policy::Destination::decl(),
        crate::catalog::Scope::decl(),
        super::TeamStatus::decl(),
        super::TeamSyncReport::decl(),
        crate::team::PushReport::decl(),
        crate::team::PullReport::decl(),
        crate::team::RemoteCounts::decl(),
        crate::team::LabelConflict::decl(),
        crate::team::TeamMember::decl(),
    ];
    let mut out = String::from(
        "// The app layer's types, generated from the Rust types in crates/core by the test\n\
         // `app::tests::typescript_declarations_match_the_rust_types`; do not edit. Refresh:\n\
         // STOWAGE_UPDATE_BINDINGS=1 cargo test -p stowage-core --lib typescript_declarations\n\
         // Integers are JSON numbers (sizes stay below 2^53).\n",
    );
    for d in decls {
        out.push_str("\nexport ");
        // Sizes and ids travel as JSON numbers, not bigints.
        out.push_str(&d.replace("bigint", "number"));
        out.push('\n');
    }
    out
}

#[test]
fn typescript_declarations_match_the_rust_types() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("bindings/app.ts");
    let now = declarations();
    if std::env::var_os("STOWAGE_UPDATE_BINDINGS").is_some() {
        std::fs::write(&file, &now).unwrap();
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == now,
        "{} is out of date with the Rust types; refresh it with \
         STOWAGE_UPDATE_BINDINGS=1 cargo test -p stowage-core --lib typescript_declarations",
        file.display()
    );
}
