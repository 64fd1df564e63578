//! The conformance suite against the local folder store.

use stowage_store::conformance as c;
use stowage_store::local::LocalStore;
use stowage_store::{BucketOptions, Store};

async fn fresh(test: &str) -> (tempfile::TempDir, LocalStore, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let bucket = c::bucket_name(test);
    store
        .create_bucket(&bucket, &BucketOptions::default())
        .await
        .unwrap();
    (dir, store, bucket)
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_dir, store, bucket) = fresh(stringify!($name)).await;
            c::$name(&store, &bucket).await;
        }
    )*};
}

conformance!(
    round_trips,
    awkward_keys,
    ranges,
    list_order_and_pagination,
    delete_many_with_missing,
    overwrite_is_explicit,
    copy_and_move,
    signed_urls,
    missing_things,
);

#[tokio::test]
async fn buckets() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    c::buckets(&store, &c::bucket_name("buckets")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_interruption() {
    let (_dir, store, bucket) = fresh("resume").await;
    // Local writes are atomic in one go: an interrupted put leaves nothing half-written.
    c::resume_after_interruption(&store, &bucket, 24 << 20, false).await;
}

#[tokio::test]
async fn over_limit_is_not_applicable_but_unreadable_files_are_clear() {
    let (dir, store, bucket) = fresh("unreadable").await;
    let missing = dir.path().join("no-such-file.bin");
    let p = stowage_store::ObjectPath::new(&bucket, "x.bin").unwrap();
    let err = store
        .put(
            &p,
            stowage_store::PutSource::File(missing.clone()),
            &Default::default(),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("no-such-file.bin") && text.contains("Next:"),
        "{text}"
    );
}

#[tokio::test]
async fn a_key_under_an_object_is_a_conflict_not_a_loss() {
    let (_dir, store, bucket) = fresh("conflict").await;
    let file = stowage_store::ObjectPath::new(&bucket, "a").unwrap();
    store
        .put(&file, b"file".to_vec().into(), &Default::default())
        .await
        .unwrap();
    let below = stowage_store::ObjectPath::new(&bucket, "a/b").unwrap();
    let err = store
        .put(&below, b"x".to_vec().into(), &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a/b"), "{err}");
    let kept = store.get(&file, None).await.unwrap().bytes().await.unwrap();
    assert_eq!(&kept[..], b"file");
}
