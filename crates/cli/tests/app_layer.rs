//! The app layer (the API under the CLI and the desktop app) against a real S3 server:
//! put → library page → artifact detail → restore → cost on SeaweedFS, with the events of
//! each operation. The local-store path is covered by core's unit tests.

mod common;

use stowage_core::app::{App, PutRequest, RestoreRequest};
use stowage_core::catalog::{LibraryQuery, LibrarySort};
use stowage_core::Paths;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_library_detail_restore_and_cost_on_seaweedfs() {
    let endpoint = common::s3_endpoint();
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    // This file's only test: the credentials reach the store through the environment, as
    // they do for a user without a keyring entry.
    std::env::set_var(
        "AWS_ACCESS_KEY_ID",
        var("STOWAGE_TEST_S3_ACCESS_KEY", "testak"),
    );
    std::env::set_var(
        "AWS_SECRET_ACCESS_KEY",
        var("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123"),
    );
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_dir: dir.path().join("config"),
        data_dir: dir.path().join("data"),
        cache_dir: dir.path().join("cache"),
    };
    std::fs::create_dir_all(&paths.config_dir).unwrap();
    std::fs::write(
        paths.config_file(),
        format!(
            "[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \
             \"us-east-1\"\npath_style = true\n"
        ),
    )
    .unwrap();
    let app = App::with_paths(paths, Some("seaweed".into()));
    let bucket = format!("app-layer-{}", std::process::id());
    app.create_bucket(&bucket, false, false).await.unwrap();

    let file = dir.path().join("classifier-v3.pt");
    let bytes = common::data(5 << 20, 11);
    std::fs::write(&file, &bytes).unwrap();
    let mut events = app.events();
    let put = app
        .put(PutRequest {
            files: vec![file],
            dest: format!("{bucket}/models/"),
            compress: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(put.failure().is_none(), "{put:?}");
    // One operation's events: began, started, progress up to the size, done, ended.
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(serde_json::to_value(&e).unwrap());
    }
    let kinds: Vec<&str> = seen.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"began"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"ended"), "{kinds:?}");
    assert!(
        kinds.contains(&"started") && kinds.contains(&"done"),
        "{kinds:?}"
    );
    let last_progress = seen
        .iter()
        .rev()
        .find(|e| e["event"] == "progress")
        .unwrap();
    assert_eq!(last_progress["bytes"], 5 << 20);
    assert!(seen.iter().all(|e| e["op"] == seen[0]["op"]));

    let page = app
        .library(&LibraryQuery {
            search: Some("classifier".into()),
            sort: LibrarySort::Size,
            limit: 20,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 1);
    let row = &page.rows[0];
    assert_eq!((row.latest.as_str(), row.stored_bytes), ("v3", 5 << 20));
    assert_eq!(row.profiles, vec!["seaweed".to_string()]);
    let detail = app.artifact(row.id).unwrap();
    let loc = &detail.versions[0].locations[0];
    assert_eq!(
        (loc.bucket.as_str(), loc.key.as_str()),
        (bucket.as_str(), "models/classifier-v3.pt")
    );

    let out = dir.path().join("back.pt");
    let r = app
        .restore(RestoreRequest {
            spec: "classifier@v3".into(),
            dest: Some(out.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        r.read.read.from,
        format!("seaweed:{bucket}/models/classifier-v3.pt")
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    let cost = serde_json::to_value(
        app.cost(&stowage_core::app::CostRequest {
            by: stowage_core::cost::GroupBy::Bucket,
            ..Default::default()
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(cost["total"]["stored_bytes"], 5 << 20, "{cost}");

    let gone = app
        .rm(&[format!("{bucket}/models/classifier-v3.pt")], false, false)
        .await
        .unwrap();
    assert!(gone.failure().is_none());
    app.delete_bucket(&bucket, false).await.unwrap();
    // The catalog follows: nothing is left to list.
    let page = app
        .library(&LibraryQuery {
            limit: 20,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.total, 0);
}
