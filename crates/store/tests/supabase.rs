//! The conformance suite and Supabase-specific checks against the contract server (an
//! in-process imitation of supabase/storage v1.26.5, see `crates/supabase-contract`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stowage_store::conformance as c;
use stowage_store::supabase::{SupabaseConfig, SupabaseStore};
use stowage_store::{
    BucketOptions, ByteRange, ErrorKind, Key, ObjectPath, PutOptions, PutSource, Store,
    TransferEvent, UrlMethod,
};
use stowage_supabase_contract::{RunningServer, ServerConfig};

const JWT_SECRET: &str = "stowage-test-jwt-secret-at-least-32-chars";
const MIB: usize = 1 << 20;

struct Fixture {
    server: RunningServer,
    store: SupabaseStore,
    bucket: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(test: &str) -> Fixture {
        Fixture::with_bucket(test, BucketOptions::default()).await
    }

    async fn with_bucket(test: &str, options: BucketOptions) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let server = stowage_supabase_contract::start(ServerConfig {
            data_dir: dir.path().join("server"),
            jwt_secret: JWT_SECRET.into(),
            addr: "127.0.0.1:0".parse().unwrap(),
        })
        .await
        .expect("start the contract server");
        let store = store_for(&server, &server.service_role_key, &dir);
        let bucket = c::bucket_name(test);
        store.create_bucket(&bucket, &options).await.unwrap();
        Fixture {
            server,
            store,
            bucket,
            dir,
        }
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::new(&self.bucket, key).unwrap()
    }
}

fn store_for(server: &RunningServer, key: &str, dir: &tempfile::TempDir) -> SupabaseStore {
    SupabaseStore::new(SupabaseConfig {
        url: server.url.clone(),
        key: key.to_string(),
        resume_dir: Some(dir.path().join("resume")),
        max_object_size: None,
    })
    .unwrap()
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let f = Fixture::new(stringify!($name)).await;
            c::$name(&f.store, &f.bucket).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets() {
    let f = Fixture::new("buckets-setup").await;
    c::buckets(&f.store, &c::bucket_name("buckets")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_interruption() {
    let f = Fixture::new("resume").await;
    // 14 MiB: three TUS chunks of 6 MiB, 6 MiB and 2 MiB; the first put is dropped after one.
    c::resume_after_interruption(&f.store, &f.bucket, 14 * MIB, true).await;
    assert!(
        std::fs::read_dir(f.dir.path().join("resume"))
            .unwrap()
            .next()
            .is_none(),
        "the resume record is removed once the upload is verified"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials() {
    let f = Fixture::new("auth").await;
    let wrong = stowage_supabase_contract::mint_jwt(
        "not-the-project-secret",
        "service_role",
        4_000_000_000,
    );
    let bad = store_for(&f.server, &wrong, &f.dir);
    c::wrong_credentials(&bad, &f.bucket, &wrong).await;
    // The anon role may not write to a private bucket (row-level security).
    let anon = store_for(&f.server, &f.server.anon_key, &f.dir);
    let p = f.path("auth/anon.txt");
    let err = anon
        .put(&p, Bytes::from_static(b"x").into(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(!format!("{err} {err:?}").contains(&f.server.anon_key));
    let expired = stowage_supabase_contract::mint_jwt(JWT_SECRET, "service_role", 1_000_000_000);
    let bad = store_for(&f.server, &expired, &f.dir);
    c::wrong_credentials(&bad, &f.bucket, &expired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_buckets_file_size_limit() {
    let f = Fixture::with_bucket(
        "limit",
        BucketOptions {
            file_size_limit: Some(MIB as u64),
            ..Default::default()
        },
    )
    .await;
    c::over_limit(&f.store, &f.bucket, MIB as u64).await;
    // Above the standard-upload size the refusal comes from TUS, with the same answer.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    std::fs::write(&file, c::test_data(7 * MIB, 3)).unwrap();
    let err = f
        .store
        .put(
            &f.path("limit/tus.bin"),
            PutSource::File(file),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::TooLarge {
            limit: Some(MIB as u64)
        },
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("1048576") && text.contains("file_size_limit"),
        "{text}"
    );
}

#[tokio::test]
async fn configured_max_object_size_refuses_before_sending() {
    let f = Fixture::new("max-size").await;
    let store = SupabaseStore::new(SupabaseConfig {
        url: f.server.url.clone(),
        key: f.server.service_role_key.clone(),
        resume_dir: None,
        max_object_size: Some(10),
    })
    .unwrap();
    let err = store
        .put(
            &f.path("x.bin"),
            Bytes::from_static(b"eleven bytes").into(),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::TooLarge { limit: Some(10) }, "{err}");
    assert_eq!(
        f.store.head(&f.path("x.bin")).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn unicode_keys_are_refused_before_any_request() {
    // A server that is not there: the refusal cannot have come from it.
    let store = SupabaseStore::new(SupabaseConfig {
        url: "http://127.0.0.1:9".into(),
        key: "k".into(),
        resume_dir: None,
        max_object_size: None,
    })
    .unwrap();
    let p = ObjectPath::new("data", "unicode/ün.txt").unwrap();
    let err = store
        .put(&p, Bytes::from_static(b"x").into(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidKey, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("unicode/ün.txt") && text.contains("ASCII letters"),
        "{text}"
    );
    for err in [
        store.head(&p).await.unwrap_err(),
        store.get(&p, None).await.map(|_| ()).unwrap_err(),
        store.delete(&p).await.unwrap_err(),
        store
            .signed_url(&p, UrlMethod::Get, Duration::from_secs(60))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind, ErrorKind::InvalidKey, "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_overwrite_is_explicit_and_reports_progress() {
    let f = Fixture::new("tus-overwrite").await;
    let dir = tempfile::tempdir().unwrap();
    let p = f.path("tus/file.bin");
    let first = dir.path().join("first.bin");
    let second = dir.path().join("second.bin");
    let (a, b) = (c::test_data(7 * MIB, 1), c::test_data(6 * MIB + 5, 2));
    std::fs::write(&first, &a).unwrap();
    std::fs::write(&second, &b).unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let options = PutOptions {
        progress: Some(Arc::new(move |ev| {
            if let TransferEvent::Sent(n) = ev {
                counter.fetch_add(n, Ordering::SeqCst);
            }
        })),
        ..Default::default()
    };
    let res = f
        .store
        .put(&p, PutSource::File(first), &options)
        .await
        .unwrap();
    assert_eq!((res.size, res.resumed_from), (a.len() as u64, 0));
    assert_eq!(
        sent.load(Ordering::SeqCst),
        a.len() as u64,
        "Sent events add up to the size"
    );
    let err = f
        .store
        .put(&p, PutSource::File(second.clone()), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AlreadyExists, "{err}");
    let overwrite = PutOptions {
        overwrite: true,
        ..Default::default()
    };
    let res = f
        .store
        .put(&p, PutSource::File(second), &overwrite)
        .await
        .unwrap();
    assert_eq!(res.sha256, stowage_store::sha256_hex(&b));
    let got = f.store.get(&p, Some(ByteRange::Suffix(5))).await.unwrap();
    assert_eq!(got.range, b.len() as u64 - 5..b.len() as u64);
    assert_eq!(&got.bytes().await.unwrap()[..], &b[b.len() - 5..]);
    let meta = f.store.head(&p).await.unwrap();
    assert_eq!(meta.size, b.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_upload_starts_over() {
    let f = Fixture::new("tus-gone").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    let data = c::test_data(13 * MIB, 5);
    std::fs::write(&file, &data).unwrap();
    let p = f.path("gone/big.bin");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let options = PutOptions {
        progress: Some(Arc::new(move |ev| {
            if let TransferEvent::Sent(_) = ev {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        })),
        ..Default::default()
    };
    tokio::select! {
        res = f.store.put(&p, PutSource::File(file.clone()), &options) => panic!("not interrupted: {res:?}"),
        _ = rx => {}
    }
    // Terminate the upload behind the client's back (TUS DELETE), as an expiry would.
    let record = std::fs::read_dir(f.dir.path().join("resume"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(record.path()).unwrap()).unwrap();
    let url = record["url"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .delete(url)
        .header("apikey", &f.server.service_role_key)
        .bearer_auth(&f.server.service_role_key)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "terminate: {}", resp.status());
    let res = f
        .store
        .put(&p, PutSource::File(file), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(res.resumed_from, 0, "a vanished upload starts over");
    assert_eq!(res.sha256, stowage_store::sha256_hex(&data));
}

#[tokio::test]
async fn signed_urls_are_absolute_under_storage_v1() {
    let f = Fixture::new("signed").await;
    let p = f.path("a dir/what?.txt");
    f.store
        .put(
            &p,
            Bytes::from_static(b"signed").into(),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    let url = f
        .store
        .signed_url(&p, UrlMethod::Get, Duration::from_secs(60))
        .await
        .unwrap();
    let base = f.server.url.trim_end_matches('/');
    assert!(
        url.starts_with(&format!("{base}/storage/v1/object/sign/")),
        "{url}"
    );
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], b"signed");
    let put = f
        .store
        .signed_url(
            &f.path("up load?.txt"),
            UrlMethod::Put,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(
        put.starts_with(&format!("{base}/storage/v1/object/upload/sign/")),
        "{put}"
    );
    let resp = reqwest::Client::new()
        .put(&put)
        .header("content-type", "text/plain")
        .body("via signed put")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "signed PUT: {}", resp.status());
    let got = f
        .store
        .get(&f.path("up load?.txt"), None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"via signed put");
    let missing = f
        .store
        .signed_url(&f.path("nope.txt"), UrlMethod::Get, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing}");
}

#[tokio::test]
async fn empty_bucket_then_delete() {
    let f = Fixture::new("empty").await;
    for k in ["a.txt", "d/b.txt", "d/e/c.txt"] {
        f.store
            .put(
                &f.path(k),
                Bytes::from_static(b"x").into(),
                &PutOptions::default(),
            )
            .await
            .unwrap();
    }
    let err = f.store.delete_bucket(&f.bucket).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("Next:"), "{err}");
    f.store.empty_bucket(&f.bucket).await.unwrap();
    f.store.delete_bucket(&f.bucket).await.unwrap();
    let err = f.store.empty_bucket(&f.bucket).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn batch_signing_returns_a_url_or_a_reason_per_key() {
    let f = Fixture::new("batch-sign").await;
    let present = Key::parse("sign/a b.txt").unwrap();
    let missing = Key::parse("sign/missing.txt").unwrap();
    let p = ObjectPath {
        bucket: f.bucket.clone(),
        key: present.clone(),
    };
    f.store
        .put(&p, b"signed".to_vec().into(), &Default::default())
        .await
        .unwrap();
    let answers = f
        .store
        .signed_urls(
            &f.bucket,
            &[present.clone(), missing.clone()],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(answers.len(), 2);
    let url = answers[0].1.as_ref().unwrap();
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(&body[..], b"signed");
    let err = answers[1].1.as_ref().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("sign/missing.txt"), "{err}");
}
