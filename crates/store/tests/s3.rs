//! The conformance suite against a real S3-compatible server (SeaweedFS in CI; any endpoint
//! given by STOWAGE_TEST_S3_ENDPOINT). These tests never skip: without a server they fail and
//! say how to start one.

use stowage_store::conformance as c;
use stowage_store::s3::{S3Config, S3Credentials, S3Store};
use stowage_store::{BucketOptions, Store};

fn env(name: &str, default: Option<&str>) -> String {
    std::env::var(name).ok().or(default.map(String::from)).unwrap_or_else(|| {
        panic!("{name} is not set: start SeaweedFS and the tests with `scripts/test` (see README.md)")
    })
}

fn config(resume: Option<&std::path::Path>) -> S3Config {
    S3Config {
        endpoint: Some(env("STOWAGE_TEST_S3_ENDPOINT", None)),
        region: Some("us-east-1".into()),
        force_path_style: true,
        credentials: Some(S3Credentials {
            access_key_id: env("STOWAGE_TEST_S3_ACCESS_KEY", Some("testak")),
            secret_access_key: env("STOWAGE_TEST_S3_SECRET_KEY", Some("testsecretkey123")),
            session_token: None,
        }),
        resume_dir: resume.map(|p| p.to_path_buf()),
        // Small parts keep the multipart paths busy with test-sized objects.
        multipart_threshold: 8 << 20,
        part_size: 5 << 20,
        ..Default::default()
    }
}

struct Fixture {
    store: S3Store,
    bucket: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(test: &str, tweak: impl FnOnce(&mut S3Config)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(Some(&dir.path().join("resume")));
        tweak(&mut cfg);
        let store = S3Store::new(cfg).await.unwrap();
        let bucket = c::bucket_name(test);
        store
            .create_bucket(&bucket, &BucketOptions::default())
            .await
            .unwrap();
        Fixture {
            store,
            bucket,
            _dir: dir,
        }
    }

    async fn cleanup(self) {
        stowage_store::delete_prefix(&self.store, &self.bucket, "")
            .await
            .unwrap();
        self.store.delete_bucket(&self.bucket).await.unwrap();
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let f = Fixture::new(stringify!($name), |_| {}).await;
            c::$name(&f.store, &f.bucket).await;
            f.cleanup().await;
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
    let store = S3Store::new(config(None)).await.unwrap();
    c::buckets(&store, &c::bucket_name("buckets")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_interruption() {
    let f = Fixture::new("resume", |_| {}).await;
    c::resume_after_interruption(&f.store, &f.bucket, 40 << 20, true).await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_limit() {
    let f = Fixture::new("limit", |cfg| cfg.max_object_size = Some(1 << 20)).await;
    c::over_limit(&f.store, &f.bucket, 1 << 20).await;
    f.cleanup().await;
}

#[tokio::test]
async fn wrong_credentials() {
    let planted = "planted-Secret-4f1d9c";
    let mut cfg = config(None);
    cfg.credentials = Some(S3Credentials {
        access_key_id: "testak".into(),
        secret_access_key: planted.into(),
        session_token: None,
    });
    let bad = S3Store::new(cfg).await.unwrap();
    let good = Fixture::new("auth", |_| {}).await;
    c::wrong_credentials(&bad, &good.bucket, planted).await;
    good.cleanup().await;
}

#[tokio::test]
async fn unreachable_endpoint_is_retryable_and_clear() {
    let mut cfg = config(None);
    cfg.endpoint = Some("http://127.0.0.1:9".into());
    let store = S3Store::new(cfg).await.unwrap();
    let err = store.list_buckets().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains("127.0.0.1:9"),
        "names the endpoint: {err}"
    );
}
