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
use stowage_supabase_contract::{Mode, RunningServer, ServerConfig};

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
        Fixture::in_mode(test, options, Mode::Lenient).await
    }

    async fn strict(test: &str) -> Fixture {
        Fixture::in_mode(test, BucketOptions::default(), Mode::Strict).await
    }

    async fn in_mode(test: &str, options: BucketOptions, mode: Mode) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let server = stowage_supabase_contract::start_with_mode(
            ServerConfig {
                data_dir: dir.path().join("server"),
                jwt_secret: JWT_SECRET.into(),
                addr: "127.0.0.1:0".parse().unwrap(),
            },
            mode,
        )
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

/// The same suite against the strict contract server, which reproduces every recorded quirk
/// of the real one (HTTP 500 for `bytes=-N`, a 206 that closes the connection for an
/// unsatisfiable range, ...): the client's workarounds are what make these pass.
mod strict {
    use super::*;

    macro_rules! strict_conformance {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let f = Fixture::strict(stringify!($name)).await;
                c::$name(&f.store, &f.bucket).await;
            }
        )*};
    }

    strict_conformance!(
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
        let f = Fixture::strict("buckets-setup").await;
        c::buckets(&f.store, &c::bucket_name("buckets")).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resume_after_interruption() {
        let f = Fixture::strict("resume").await;
        c::resume_after_interruption(&f.store, &f.bucket, 14 * MIB, true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tus_overwrite_and_suffix_range() {
        // `bytes=-5` answers HTTP 500 here: the client asks for a bounded range instead.
        let f = Fixture::strict("tus-suffix").await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.bin");
        let data = c::test_data(6 * MIB + 7, 4);
        std::fs::write(&file, &data).unwrap();
        let p = f.path("tus/big.bin");
        f.store
            .put(&p, PutSource::File(file), &PutOptions::default())
            .await
            .unwrap();
        let got = f.store.get(&p, Some(ByteRange::Suffix(5))).await.unwrap();
        assert_eq!(&got.bytes().await.unwrap()[..], &data[data.len() - 5..]);
        let err = f
            .store
            .get(&p, Some(ByteRange::From(data.len() as u64 + 10)))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_ne!(err.kind, ErrorKind::NotFound, "{err}");
        assert!(!err.is_retryable(), "{err}");
    }

    /// Deleting an object whose key ends in `/` (written by another client) leaves a folder
    /// entry that blocks the bucket's deletion; `delete_bucket` clears it and succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_phantom_folder_does_not_block_deleting_the_bucket() {
        let f = Fixture::strict("phantom").await;
        let http = reqwest::Client::new();
        let key = &f.server.service_role_key;
        let url = format!("{}/storage/v1/object/{}/trailing/", f.server.url, f.bucket);
        for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
            let mut req = http.request(method.clone(), &url).bearer_auth(key);
            if method == reqwest::Method::POST {
                req = req.header("content-type", "text/plain").body("t");
            }
            let resp = req.send().await.unwrap();
            assert!(resp.status().is_success(), "{method}: {}", resp.status());
        }
        // The server still lists the folder, and refuses a plain bucket delete.
        let raw = http
            .delete(format!("{}/storage/v1/bucket/{}", f.server.url, f.bucket))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = raw.json().await.unwrap();
        assert_eq!(
            body["message"], "The related resource does not exist",
            "{body}"
        );
        f.store.delete_bucket(&f.bucket).await.unwrap();
        let listed = f.store.list_buckets().await.unwrap();
        assert!(!listed.iter().any(|b| b.name == f.bucket), "{listed:?}");
    }

    /// A segment over 255 bytes fails on the file backend every time (HTTP 500): not a
    /// retryable outage, but a key to shorten, and nothing is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_segment_is_a_key_problem_not_an_outage() {
        let f = Fixture::strict("long-segment").await;
        let p = f.path(&format!("long/{}.txt", "y".repeat(300)));
        let err = f
            .store
            .put(&p, Bytes::from_static(b"x").into(), &PutOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidKey, "{err}");
        assert!(!err.is_retryable(), "{err}");
        assert!(err.to_string().contains("255"), "{err}");
        assert_eq!(
            f.store.head(&p).await.unwrap_err().kind,
            ErrorKind::NotFound
        );
    }
}

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

/// Supabase's bucket rule is not S3's: `user_uploads` and `Avatars` are names there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_bucket_names_with_underscores_and_capitals() {
    let f = Fixture::new("names").await;
    let suffix = c::bucket_name("n").replace('-', "_");
    for name in [
        format!("user_uploads_{suffix}"),
        format!("Avatars_{suffix}"),
    ] {
        f.store.check_bucket(&name).unwrap();
        f.store
            .create_bucket(&name, &BucketOptions::default())
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        let listed = f.store.list_buckets().await.unwrap();
        assert!(listed.iter().any(|b| b.name == name), "{listed:?}");
        let p = ObjectPath::new(&name, "a/b.txt").unwrap();
        f.store
            .put(
                &p,
                Bytes::from_static(b"named").into(),
                &PutOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("put into {name}: {e}"));
        let got = f.store.get(&p, None).await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], b"named");
        let keys: Vec<String> =
            futures::TryStreamExt::try_collect::<Vec<_>>(f.store.list(&name, Default::default()))
                .await
                .unwrap()
                .iter()
                .map(|e| e.name().to_string())
                .collect();
        assert_eq!(keys, ["a/b.txt"]);
        f.store.delete(&p).await.unwrap();
        f.store.delete_bucket(&name).await.unwrap();
    }
    // What Supabase refuses is refused before any request, naming the rule.
    for bad in ["a/b", "ünï", &"x".repeat(101)] {
        let e = f.store.check_bucket(bad).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidKey, "{bad}: {e}");
        let e = f
            .store
            .create_bucket(bad, &BucketOptions::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("1-100"), "{e}");
    }
}

/// Keys with `$ & + , : ; = ? @`: the single-object sign endpoint would sign the encoded
/// path (refused `InvalidSignature`); the URL Stowage hands out works for every key shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_work_for_reserved_characters() {
    let f = Fixture::new("sign-reserved").await;
    for (i, key) in [
        "r/a$b.txt",
        "r/a&b.txt",
        "r/a+b.txt",
        "r/a,b.txt",
        "r/a:b.txt",
        "r/a;b.txt",
        "r/a=b.txt",
        "r/a?b.txt",
        "r/a@b.txt",
        "r/all $&+,:;=?@ here.txt",
    ]
    .iter()
    .enumerate()
    {
        let p = f.path(key);
        let body = format!("content {i}");
        f.store
            .put(&p, Bytes::from(body.clone()).into(), &PutOptions::default())
            .await
            .unwrap();
        let url = f
            .store
            .signed_url(&p, UrlMethod::Get, Duration::from_secs(60))
            .await
            .unwrap();
        let resp = reqwest::get(&url).await.unwrap();
        let status = resp.status();
        let got = resp.bytes().await.unwrap();
        assert!(
            status.is_success(),
            "{key}: {status} {}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(&got[..], body.as_bytes(), "{key}");
    }
}

/// A wrong key: the server answers object reads with "Bucket not found"; Stowage says the
/// key was refused (Unauthorized), for reads, deletes, copies and signed URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_unauthorized_not_not_found() {
    let f = Fixture::new("wrong-key").await;
    let p = f.path("k/x.txt");
    f.store
        .put(&p, Bytes::from_static(b"x").into(), &PutOptions::default())
        .await
        .unwrap();
    let wrong = stowage_supabase_contract::mint_jwt(
        "not-the-project-secret-at-all-32chars",
        "service_role",
        4_000_000_000,
    );
    // The server's own answer to such a read, as recorded from the real server.
    let raw = reqwest::Client::new()
        .get(format!(
            "{}/storage/v1/object/{}/k/x.txt",
            f.server.url, f.bucket
        ))
        .bearer_auth(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(
        (body["statusCode"].as_str(), body["message"].as_str()),
        (Some("404"), Some("Bucket not found"))
    );
    let bad = store_for(&f.server, &wrong, &f.dir);
    let other = f.path("k/y.txt");
    let errors = [
        bad.get(&p, None).await.map(|_| ()).unwrap_err(),
        bad.head(&p).await.map(|_| ()).unwrap_err(),
        bad.delete(&p).await.unwrap_err(),
        bad.copy(&p, &other, false).await.unwrap_err(),
        bad.rename(&p, &other, false).await.unwrap_err(),
        bad.signed_url(&p, UrlMethod::Get, Duration::from_secs(60))
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
        let text = err.to_string();
        assert!(text.contains("SUPABASE_SERVICE_ROLE_KEY"), "{text}");
        assert!(!text.contains(&wrong), "{text}");
    }
    // Nothing changed.
    assert_eq!(f.store.head(&p).await.unwrap().size, 1);
    assert_eq!(
        f.store.head(&other).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    // A missing bucket with the right key is still "not found", and says so.
    let missing = ObjectPath::new("no-such-bucket-here", "x.txt").unwrap();
    let err = f.store.get(&missing, None).await.map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

/// Copy and move into a missing bucket: NotFound naming the destination bucket, with the next
/// step (create it), and nothing changed at the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_into_a_missing_bucket_name_the_destination() {
    let f = Fixture::new("dest-missing").await;
    let p = f.path("src/a.txt");
    f.store
        .put(&p, Bytes::from_static(b"a").into(), &PutOptions::default())
        .await
        .unwrap();
    let to = ObjectPath::new("no-such-destination", "a.txt").unwrap();
    for err in [
        f.store.copy(&p, &to, false).await.unwrap_err(),
        f.store.rename(&p, &to, false).await.unwrap_err(),
    ] {
        assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
        assert_eq!(err.bucket.as_deref(), Some("no-such-destination"), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("destination bucket `no-such-destination` does not exist")
                && text.contains("buckets create no-such-destination")
                && !text.contains("folder entry"),
            "{text}"
        );
    }
    assert_eq!(f.store.head(&p).await.unwrap().size, 1);
}

/// Without a content type, a bucket that restricts types refuses both upload paths alike
/// (the client names `application/octet-stream` on TUS too); with an allowed type, both work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_is_sent_on_both_upload_paths() {
    let f = Fixture::with_bucket(
        "mime",
        BucketOptions {
            allowed_mime_types: vec!["text/plain".into()],
            ..Default::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    std::fs::write(&big, c::test_data(7 * MIB, 8)).unwrap();
    let small = Bytes::from_static(b"small");
    let plain = PutOptions::default();
    let typed = PutOptions {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    let refused = [
        f.store
            .put(&f.path("m/small.txt"), small.clone().into(), &plain)
            .await
            .unwrap_err(),
        f.store
            .put(&f.path("m/big.txt"), PutSource::File(big.clone()), &plain)
            .await
            .unwrap_err(),
    ];
    for err in &refused {
        assert_eq!(err.kind, ErrorKind::Other, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("application/octet-stream") && text.contains("allowed_mime_types"),
            "{text}"
        );
    }
    for k in ["m/small.txt", "m/big.txt"] {
        assert_eq!(
            f.store.head(&f.path(k)).await.unwrap_err().kind,
            ErrorKind::NotFound
        );
    }
    f.store
        .put(&f.path("m/small.txt"), small.into(), &typed)
        .await
        .unwrap();
    f.store
        .put(&f.path("m/big.txt"), PutSource::File(big), &typed)
        .await
        .unwrap();
    let meta = f.store.head(&f.path("m/big.txt")).await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
}

/// The contract server, as the real one: a TUS upload that names no content type is accepted
/// by a bucket that restricts types (stored as application/octet-stream).
#[tokio::test]
async fn tus_without_a_content_type_is_accepted_by_the_server() {
    let f = Fixture::with_bucket(
        "tus-no-type",
        BucketOptions {
            allowed_mime_types: vec!["text/plain".into()],
            ..Default::default()
        },
    )
    .await;
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let http = reqwest::Client::new();
    let create = |ct: Option<&str>| {
        let mut meta = format!(
            "bucketName {},objectName {}",
            b64(&f.bucket),
            b64("t/no-type.bin")
        );
        if let Some(ct) = ct {
            meta.push_str(&format!(",contentType {}", b64(ct)));
        }
        http.post(format!("{}/storage/v1/upload/resumable", f.server.url))
            .bearer_auth(&f.server.service_role_key)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", "3")
            .header("upload-metadata", meta)
            .send()
    };
    let refused = create(Some("application/octet-stream")).await.unwrap();
    assert_eq!(refused.status(), 415);
    let created = create(None).await.unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let patched = http
        .patch(&location)
        .bearer_auth(&f.server.service_role_key)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 204);
    let meta = f.store.head(&f.path("t/no-type.bin")).await.unwrap();
    assert_eq!(
        meta.content_type.as_deref(),
        Some("application/octet-stream")
    );
}

/// The file changed after an interrupted TUS upload: the next put starts over and terminates
/// the old upload, which the server then no longer holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_upload_is_terminated() {
    let f = Fixture::new("tus-abandoned").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.bin");
    std::fs::write(&file, c::test_data(13 * MIB, 6)).unwrap();
    let p = f.path("abandoned/big.bin");
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
    let records: Vec<_> = std::fs::read_dir(f.dir.path().join("resume"))
        .unwrap()
        .collect();
    assert_eq!(records.len(), 1);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(records[0].as_ref().unwrap().path()).unwrap())
            .unwrap();
    let old = record["url"].as_str().unwrap().to_string();
    let head = |url: String| {
        let key = f.server.service_role_key.clone();
        async move {
            reqwest::Client::new()
                .head(url)
                .bearer_auth(key)
                .header("tus-resumable", "1.0.0")
                .send()
                .await
                .unwrap()
        }
    };
    let before = head(old.clone()).await;
    assert_eq!(before.status(), 200, "the partial upload is on the server");
    assert!(before.headers()["upload-offset"].to_str().unwrap() != "0");
    // The file changes (other content, another size); the upload restarts.
    let data = c::test_data(12 * MIB + 3, 7);
    std::fs::write(&file, &data).unwrap();
    let res = f
        .store
        .put(&p, PutSource::File(file), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(res.resumed_from, 0);
    assert_eq!(res.sha256, stowage_store::sha256_hex(&data));
    assert_eq!(
        head(old).await.status(),
        404,
        "the abandoned upload was terminated"
    );
    let got = f.store.get(&p, None).await.unwrap().bytes().await.unwrap();
    assert_eq!(
        stowage_store::sha256_hex(&got),
        stowage_store::sha256_hex(&data)
    );
}
