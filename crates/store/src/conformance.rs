//! The conformance suite: plain async functions that every backend's tests call with a store
//! and a fresh, empty bucket. A backend is done when it passes all of them. Each function
//! panics with a message naming what broke.

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::{
    delete_prefix, sha256_hex, BucketOptions, ByteRange, ErrorKind, Key, ListEntry, ListOptions,
    ObjectPath, PutOptions, PutSource, Store, TransferEvent, UrlMethod,
};

const MIB: usize = 1 << 20;

/// Deterministic pseudo-random bytes (xorshift), fast enough for large test objects.
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A unique bucket name for a test.
pub fn bucket_name(test: &str) -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let test: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("t-{}-{}", &test[..test.len().min(30)], &suffix[..12])
}

fn path(bucket: &str, key: &str) -> ObjectPath {
    ObjectPath::new(bucket, key).expect("valid test key")
}

async fn put_bytes(store: &dyn Store, p: &ObjectPath, data: &[u8]) {
    let opts = PutOptions {
        overwrite: true,
        ..Default::default()
    };
    let res = store
        .put(p, PutSource::Bytes(Bytes::copy_from_slice(data)), &opts)
        .await
        .unwrap_or_else(|e| panic!("put {p}: {e}"));
    assert_eq!(res.size, data.len() as u64, "put {p} size");
    assert_eq!(res.sha256, sha256_hex(data), "put {p} sha256");
}

async fn get_all(store: &dyn Store, p: &ObjectPath) -> Bytes {
    store
        .get(p, None)
        .await
        .unwrap_or_else(|e| panic!("get {p}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("reading {p}: {e}"))
}

async fn list_names(store: &dyn Store, bucket: &str, options: ListOptions) -> Vec<String> {
    store
        .list(bucket, options)
        .map_ok(|e| match e {
            ListEntry::Object(m) => m.key.to_string(),
            ListEntry::Prefix(p) => p,
        })
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("list {bucket}: {e}"))
}

/// Create and delete buckets: duplicates, non-empty and missing buckets give typed errors.
pub async fn buckets(store: &dyn Store, name: &str) {
    store
        .create_bucket(name, &BucketOptions::default())
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {e}"));
    let listed = store.list_buckets().await.expect("list buckets");
    assert!(
        listed.iter().any(|b| b.name == name),
        "new bucket {name} is listed"
    );
    let dup = store
        .create_bucket(name, &BucketOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        dup.kind,
        ErrorKind::AlreadyExists,
        "duplicate bucket: {dup}"
    );
    put_bytes(store, &path(name, "keep.txt"), b"x").await;
    let busy = store.delete_bucket(name).await.unwrap_err();
    assert_eq!(
        busy.kind,
        ErrorKind::Conflict,
        "deleting a non-empty bucket: {busy}"
    );
    store
        .delete(&path(name, "keep.txt"))
        .await
        .expect("delete object");
    store
        .delete_bucket(name)
        .await
        .unwrap_or_else(|e| panic!("delete bucket: {e}"));
    let listed = store.list_buckets().await.expect("list buckets");
    assert!(
        !listed.iter().any(|b| b.name == name),
        "deleted bucket is gone"
    );
    let missing = store.delete_bucket(name).await.unwrap_err();
    assert_eq!(
        missing.kind,
        ErrorKind::NotFound,
        "deleting a missing bucket: {missing}"
    );
    // Each backend has its own rule (`Not_Valid` is a Supabase name); no backend takes `#`.
    let bad = store
        .create_bucket("Not#Valid", &BucketOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        bad.kind,
        ErrorKind::InvalidKey,
        "invalid bucket name: {bad}"
    );
}

/// Round trips of 0 B, 1 B, 5 MiB + 1 and 64 MiB + 3, from bytes, a reader of unknown length
/// and a file; content, size and SHA-256 survive.
pub async fn round_trips(store: &dyn Store, bucket: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, len) in [0usize, 1, 5 * MIB + 1, 64 * MIB + 3]
        .into_iter()
        .enumerate()
    {
        let data = test_data(len, i as u64 + 1);
        let sha = sha256_hex(&data);
        let sources: Vec<(&str, PutSource)> = vec![
            ("bytes", PutSource::Bytes(Bytes::from(data.clone()))),
            (
                "reader",
                PutSource::Reader {
                    reader: Box::new(std::io::Cursor::new(data.clone())),
                    size: None,
                },
            ),
            ("file", {
                let f = dir.path().join(format!("f{i}"));
                std::fs::write(&f, &data).expect("write temp file");
                PutSource::File(f)
            }),
        ];
        for (how, source) in sources {
            // The biggest object goes through once, from a file, to keep the suite quick.
            if len > 8 * MIB && how != "file" {
                continue;
            }
            let p = path(bucket, &format!("round/{len}-{how}.bin"));
            let res = store
                .put(&p, source, &PutOptions::default())
                .await
                .unwrap_or_else(|e| panic!("put {len} bytes from {how}: {e}"));
            assert_eq!(
                (res.size, res.sha256.as_str()),
                (len as u64, sha.as_str()),
                "put result for {p}"
            );
            let meta = store
                .head(&p)
                .await
                .unwrap_or_else(|e| panic!("head {p}: {e}"));
            assert_eq!(meta.size, len as u64, "head size of {p}");
            assert_eq!(
                meta.sha256.as_deref(),
                Some(sha.as_str()),
                "head records the SHA-256 of {p}"
            );
            let got = store
                .get(&p, None)
                .await
                .unwrap_or_else(|e| panic!("get {p}: {e}"));
            assert_eq!(got.meta.size, len as u64);
            let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
            let mut n = 0u64;
            let mut body = got.body;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.unwrap_or_else(|e| panic!("download of {p}: {e}"));
                n += chunk.len() as u64;
                sha2::Digest::update(&mut hasher, &chunk);
            }
            assert_eq!(n, len as u64, "downloaded size of {p}");
            assert_eq!(
                hex::encode(sha2::Digest::finalize(hasher)),
                sha,
                "downloaded content of {p}"
            );
        }
    }
}

/// Keys a user will type: spaces, unicode, `%` sequences, `<&`, deep nesting. Each either
/// round-trips and lists, or (where the provider cannot hold it) is refused with
/// [`ErrorKind::InvalidKey`] before anything is sent.
pub async fn awkward_keys(store: &dyn Store, bucket: &str) {
    let keys = [
        "with space/file name.txt",
        "unicode/こんにちは-ün-😀.json",
        "percent/%20%2F%zz.txt",
        "xml/<&>.txt",
        "punct/a+b=c&d;e,f@g$h!(i)'j*k:l?.txt",
        "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.bin",
        "dots/..hidden/x..y/.z",
    ];
    let mut stored = Vec::new();
    for (i, raw) in keys.iter().enumerate() {
        let key = Key::parse(raw).expect("valid key");
        let p = ObjectPath {
            bucket: bucket.to_string(),
            key: key.clone(),
        };
        let data = format!("content {i}");
        match store.check_key(&key) {
            Ok(()) => {
                put_bytes(store, &p, data.as_bytes()).await;
                assert_eq!(
                    get_all(store, &p).await,
                    data.as_bytes(),
                    "content of {raw}"
                );
                assert_eq!(store.head(&p).await.expect("head").key, key);
                stored.push(raw.to_string());
            }
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::InvalidKey, "{raw}: {e}");
                let put = store
                    .put(
                        &p,
                        PutSource::Bytes(Bytes::from(data)),
                        &PutOptions::default(),
                    )
                    .await;
                let err = put.expect_err("a key the provider refuses must not be stored");
                assert_eq!(err.kind, ErrorKind::InvalidKey, "put {raw}: {err}");
                assert!(
                    err.to_string().contains(raw),
                    "the error names the key: {err}"
                );
            }
        }
    }
    assert!(!stored.is_empty());
    let mut expected = stored.clone();
    expected.sort();
    assert_eq!(
        list_names(store, bucket, ListOptions::default()).await,
        expected
    );
    // Invalid keys never reach a store: the Key type refuses them.
    for bad in ["../escape", "/abs", "a//b", "nul\0", "trailing/"] {
        assert_eq!(
            Key::parse(bad).unwrap_err().kind,
            ErrorKind::InvalidKey,
            "{bad:?}"
        );
    }
}

/// Ranged reads: bounded, open-ended, suffix, and one past the end.
pub async fn ranges(store: &dyn Store, bucket: &str) {
    let p = path(bucket, "range/data.txt");
    let data = b"0123456789abcdefghijklmnopqrstuvwxyz";
    put_bytes(store, &p, data).await;
    let cases = [
        (ByteRange::Bounded { start: 0, end: 5 }, 0..5),
        (ByteRange::Bounded { start: 10, end: 20 }, 10..20),
        (
            ByteRange::Bounded {
                start: 30,
                end: 100,
            },
            30..data.len(),
        ),
        (ByteRange::From(7), 7..data.len()),
        (ByteRange::Suffix(5), data.len() - 5..data.len()),
    ];
    for (range, expected) in cases {
        let got = store
            .get(&p, Some(range))
            .await
            .unwrap_or_else(|e| panic!("get {range:?}: {e}"));
        assert_eq!(
            got.meta.size,
            data.len() as u64,
            "whole size reported for {range:?}"
        );
        assert_eq!(
            got.range,
            expected.start as u64..expected.end as u64,
            "range reported for {range:?}"
        );
        let body = got.bytes().await.expect("range body");
        assert_eq!(&body[..], &data[expected], "content of {range:?}");
    }
    let err = store
        .get(&p, Some(ByteRange::From(1000)))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_ne!(
        err.kind,
        ErrorKind::NotFound,
        "an unsatisfiable range is not a missing object: {err}"
    );
}

/// Listing 2,500 keys: ascending byte order, paging to the end with small pages, prefixes and
/// the delimiter; then a bulk delete of everything.
pub async fn list_order_and_pagination(store: &dyn Store, bucket: &str) {
    let mut keys: Vec<String> = (0..2490)
        .map(|i| format!("many/{:05}.json", i * 7 % 2490))
        .collect();
    // Byte order traps: `-` sorts before `/`, upper case before lower case, digits before letters.
    keys.extend(
        [
            "a-c",
            "a/b",
            "a0",
            "A",
            "b",
            "many-extra",
            "many/sub/x",
            "many/sub/y",
            "z/1",
            "z/2",
        ]
        .map(String::from),
    );
    futures::stream::iter(keys.iter())
        .map(|k| async move {
            let p = path(bucket, k);
            store
                .put(
                    &p,
                    PutSource::Bytes(Bytes::from(k.clone())),
                    &PutOptions::default(),
                )
                .await
                .unwrap_or_else(|e| panic!("put {k}: {e}"));
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    keys.sort();
    let all = list_names(
        store,
        bucket,
        ListOptions {
            page_size: Some(1000),
            ..Default::default()
        },
    )
    .await;
    // Recursive listings come in the provider's order (S3 and the local store: byte order;
    // SeaweedFS: path-segment order), complete and without duplicates.
    let mut sorted = all.clone();
    sorted.sort();
    assert_same_list(&sorted, &keys, "recursive list is complete, each key once");
    let small_pages = list_names(
        store,
        bucket,
        ListOptions {
            prefix: "many/".into(),
            page_size: Some(333),
            ..Default::default()
        },
    )
    .await;
    let mut small_pages = small_pages;
    small_pages.sort();
    let expected: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("many/"))
        .cloned()
        .collect();
    assert_same_list(&small_pages, &expected, "prefix listing with small pages");
    let top = list_names(
        store,
        bucket,
        ListOptions {
            delimiter: true,
            ..Default::default()
        },
    )
    .await;
    // One level at a time, every provider lists in ascending byte order.
    assert_eq!(
        top,
        ["A", "a-c", "a/", "a0", "b", "many-extra", "many/", "z/"],
        "delimiter listing in byte order"
    );
    let sub = list_names(
        store,
        bucket,
        ListOptions {
            prefix: "many/sub/".into(),
            delimiter: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(sub, ["many/sub/x", "many/sub/y"]);
    let partial = list_names(
        store,
        bucket,
        ListOptions {
            prefix: "many/0000".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        partial.len(),
        10,
        "a prefix that is not a folder: {partial:?}"
    );
    let none = list_names(
        store,
        bucket,
        ListOptions {
            prefix: "nothing/".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(none.is_empty());
    let deleted = delete_prefix(store, bucket, "")
        .await
        .expect("delete everything");
    assert_eq!(deleted, 2500);
    assert!(
        list_names(store, bucket, ListOptions::default())
            .await
            .is_empty(),
        "bucket is empty after bulk delete"
    );
}

/// Compare long listings and report the first difference, not thousands of names.
fn assert_same_list(got: &[String], expected: &[String], what: &str) {
    if let Some(i) = (0..got.len().max(expected.len())).find(|&i| got.get(i) != expected.get(i)) {
        panic!(
            "{what}: {} entries listed, {} expected; first difference at #{i}: listed {:?}, expected {:?}",
            got.len(),
            expected.len(),
            got.get(i),
            expected.get(i)
        );
    }
}

/// Bulk delete with a key that does not exist: the others go, the missing one is no failure.
pub async fn delete_many_with_missing(store: &dyn Store, bucket: &str) {
    for k in ["del/a", "del/b", "del/keep"] {
        put_bytes(store, &path(bucket, k), k.as_bytes()).await;
    }
    let keys: Vec<Key> = ["del/a", "del/missing", "del/b"]
        .iter()
        .map(|k| Key::parse(k).unwrap())
        .collect();
    let failures = store.delete_many(bucket, &keys).await.expect("delete_many");
    assert!(
        failures.is_empty(),
        "missing keys are not failures: {:?}",
        failures.iter().map(|f| f.1.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        list_names(
            store,
            bucket,
            ListOptions {
                prefix: "del/".into(),
                ..Default::default()
            }
        )
        .await,
        ["del/keep"]
    );
    store
        .delete(&path(bucket, "del/never-existed"))
        .await
        .expect("deleting a missing object is not an error");
    store
        .delete(&path(bucket, "del/keep"))
        .await
        .expect("delete");
    let gone = store.head(&path(bucket, "del/keep")).await.unwrap_err();
    assert_eq!(gone.kind, ErrorKind::NotFound);
}

/// Overwriting is explicit: a second put without `overwrite` is refused and changes nothing.
pub async fn overwrite_is_explicit(store: &dyn Store, bucket: &str) {
    let p = path(bucket, "ow/file.txt");
    store
        .put(
            &p,
            PutSource::Bytes(Bytes::from_static(b"first")),
            &PutOptions::default(),
        )
        .await
        .expect("first put");
    let err = store
        .put(
            &p,
            PutSource::Bytes(Bytes::from_static(b"second")),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AlreadyExists, "{err}");
    assert!(
        err.to_string().contains("ow/file.txt"),
        "the error names the key: {err}"
    );
    assert_eq!(
        get_all(store, &p).await,
        &b"first"[..],
        "the refused put changed nothing"
    );
    let opts = PutOptions {
        overwrite: true,
        ..Default::default()
    };
    store
        .put(&p, PutSource::Bytes(Bytes::from_static(b"second")), &opts)
        .await
        .expect("overwrite");
    assert_eq!(get_all(store, &p).await, &b"second"[..]);
}

/// Copy and move, onto new and existing keys, and from a missing source.
pub async fn copy_and_move(store: &dyn Store, bucket: &str) {
    let src = path(bucket, "cm/src.txt");
    let data = b"copy me";
    put_bytes(store, &src, data).await;
    let dst = path(bucket, "cm/copy.txt");
    store
        .copy(&src, &dst, false)
        .await
        .unwrap_or_else(|e| panic!("copy: {e}"));
    assert_eq!(get_all(store, &dst).await, &data[..]);
    assert_eq!(
        store.head(&dst).await.expect("head").sha256.as_deref(),
        Some(sha256_hex(data).as_str()),
        "copy keeps the SHA-256"
    );
    let other = path(bucket, "cm/other.txt");
    put_bytes(store, &other, b"other").await;
    let err = store.copy(&src, &other, false).await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::AlreadyExists,
        "copy onto an existing key: {err}"
    );
    assert_eq!(get_all(store, &other).await, &b"other"[..]);
    store
        .copy(&src, &other, true)
        .await
        .expect("copy with overwrite");
    assert_eq!(get_all(store, &other).await, &data[..]);
    let moved = path(bucket, "cm/moved/here.txt");
    store
        .rename(&dst, &moved, false)
        .await
        .unwrap_or_else(|e| panic!("move: {e}"));
    assert_eq!(get_all(store, &moved).await, &data[..]);
    assert_eq!(
        store.head(&dst).await.unwrap_err().kind,
        ErrorKind::NotFound,
        "moved source is gone"
    );
    let err = store.rename(&moved, &other, false).await.unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::AlreadyExists,
        "move onto an existing key: {err}"
    );
    assert_eq!(
        get_all(store, &moved).await,
        &data[..],
        "a refused move keeps the source"
    );
    store
        .rename(&moved, &other, true)
        .await
        .expect("move with overwrite");
    assert_eq!(
        store.head(&moved).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let missing = path(bucket, "cm/missing.txt");
    let err = store
        .copy(&missing, &path(bucket, "cm/x.txt"), false)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::NotFound,
        "copy from a missing source: {err}"
    );
    let err = store
        .rename(&missing, &path(bucket, "cm/x.txt"), false)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::NotFound,
        "move from a missing source: {err}"
    );
}

/// Signed URLs: a GET URL fetched over plain HTTP returns the content, a PUT URL uploads, and
/// an expired URL is refused. A store that cannot sign says [`ErrorKind::NotSupported`].
pub async fn signed_urls(store: &dyn Store, bucket: &str) {
    let p = path(bucket, "share/report file.json");
    let data = br#"{"accuracy": 0.93}"#;
    put_bytes(store, &p, data).await;
    let url = match store
        .signed_url(&p, UrlMethod::Get, Duration::from_secs(3600))
        .await
    {
        Ok(url) => url,
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::NotSupported, "{e}");
            assert!(
                e.hint.is_some(),
                "NotSupported says what to do instead: {e}"
            );
            return;
        }
    };
    let http = reqwest::Client::new();
    let resp = http.get(&url).send().await.expect("fetch signed URL");
    assert!(resp.status().is_success(), "signed GET: {}", resp.status());
    assert_eq!(&resp.bytes().await.expect("body")[..], &data[..]);

    let up = path(bucket, "share/uploaded.txt");
    let put_url = store
        .signed_url(&up, UrlMethod::Put, Duration::from_secs(600))
        .await
        .expect("signed PUT url");
    let resp = http
        .put(&put_url)
        .header("content-type", "text/plain")
        .body("via signed url")
        .send()
        .await
        .expect("signed PUT");
    assert!(
        resp.status().is_success(),
        "signed PUT: {} {}",
        resp.status(),
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(get_all(store, &up).await, &b"via signed url"[..]);

    let short = store
        .signed_url(&p, UrlMethod::Get, Duration::from_secs(1))
        .await
        .expect("short url");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let resp = http.get(&short).send().await.expect("fetch expired URL");
    assert!(
        resp.status().is_client_error(),
        "an expired URL is refused, got {}",
        resp.status()
    );
    let mut tampered = url.clone();
    let last = tampered.pop().expect("non-empty url");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let resp = http
        .get(&tampered)
        .send()
        .await
        .expect("fetch tampered URL");
    assert!(
        resp.status().is_client_error(),
        "a tampered URL is refused, got {}",
        resp.status()
    );
}

/// Typed errors for a missing object and a missing bucket, naming provider, bucket and key.
pub async fn missing_things(store: &dyn Store, bucket: &str) {
    let p = path(bucket, "nope/missing.bin");
    for err in [
        store.head(&p).await.unwrap_err(),
        store.get(&p, None).await.map(|_| ()).unwrap_err(),
        store
            .get(&p, Some(ByteRange::From(0)))
            .await
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("nope/missing.bin") && text.contains(bucket),
            "names bucket and key: {text}"
        );
        assert!(
            text.starts_with(store.provider()),
            "names the provider: {text}"
        );
        assert!(text.contains("Next:"), "says what to do: {text}");
    }
    let gone = format!("{bucket}-missing");
    let q = path(&gone, "x.txt");
    let err = store.get(&q, None).await.map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "missing bucket: {err}");
    assert!(err.to_string().contains(&gone), "{err}");
    let err = store
        .put(
            &q,
            PutSource::Bytes(Bytes::from_static(b"x")),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::NotFound,
        "put into a missing bucket: {err}"
    );
    let listed: Result<Vec<_>, _> = store
        .list(&gone, ListOptions::default())
        .try_collect()
        .await;
    match listed {
        Err(e) => assert_eq!(e.kind, ErrorKind::NotFound, "{e}"),
        // Supabase lists a missing bucket as empty; that is all a client can see.
        Ok(entries) => assert!(entries.is_empty()),
    }
}

/// A store built with wrong credentials fails with [`ErrorKind::Unauthorized`] and the error
/// carries no secret.
pub async fn wrong_credentials(bad: &dyn Store, bucket: &str, secret: &str) {
    let p = path(bucket, "auth/x.txt");
    let errors = [
        bad.put(
            &p,
            PutSource::Bytes(Bytes::from_static(b"x")),
            &PutOptions::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err(),
        bad.list_buckets().await.map(|_| ()).unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(secret),
            "the secret leaked into an error: {text}"
        );
    }
    assert!(
        !format!("{bad:?}").contains(secret),
        "the secret leaked into Debug"
    );
}

/// An upload over `limit` bytes is refused with [`ErrorKind::TooLarge`] naming the limit; one
/// of exactly `limit` bytes is stored.
pub async fn over_limit(store: &dyn Store, bucket: &str, limit: u64) {
    let p = path(bucket, "limit/big.bin");
    let err = store
        .put(
            &p,
            PutSource::Bytes(Bytes::from(test_data(limit as usize + 1, 9))),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err.kind, ErrorKind::TooLarge { .. }), "{err}");
    assert!(
        err.to_string().contains(&limit.to_string()),
        "names the limit: {err}"
    );
    assert!(err.hint.is_some(), "says what to do: {err}");
    assert_eq!(
        store.head(&p).await.unwrap_err().kind,
        ErrorKind::NotFound,
        "nothing was stored"
    );
    let ok = path(bucket, "limit/exact.bin");
    put_bytes(store, &ok, &test_data(limit as usize, 10)).await;
}

/// An upload interrupted after its first stored part (the process killed) resumes from the
/// stored parts on the next put of the same file, and the result verifies. `expect_resume`
/// is false for stores that write atomically in one go (local), which must simply succeed.
pub async fn resume_after_interruption(
    store: &dyn Store,
    bucket: &str,
    size: usize,
    expect_resume: bool,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.bin");
    let data = test_data(size, 42);
    std::fs::write(&file, &data).expect("write file");
    let p = path(bucket, "resume/big.bin");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let options = PutOptions {
        progress: Some(std::sync::Arc::new(move |ev| {
            if let TransferEvent::Sent(_) = ev {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        })),
        ..Default::default()
    };
    // Drop the upload as soon as one part is stored, like a kill -9 between parts.
    tokio::select! {
        res = store.put(&p, PutSource::File(file.clone()), &options) => {
            res.unwrap_or_else(|e| panic!("first attempt: {e}"));
            assert!(!expect_resume, "the upload finished before it could be interrupted; use a larger size");
        }
        _ = rx => {}
    }
    let resumed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = resumed.clone();
    let options = PutOptions {
        overwrite: true,
        progress: Some(std::sync::Arc::new(move |ev| {
            if let TransferEvent::Resumed(n) = ev {
                seen.store(n, std::sync::atomic::Ordering::SeqCst);
            }
        })),
        ..Default::default()
    };
    let res = store
        .put(&p, PutSource::File(file), &options)
        .await
        .unwrap_or_else(|e| panic!("resumed put: {e}"));
    assert_eq!(res.sha256, sha256_hex(&data));
    assert_eq!(res.size, size as u64);
    if expect_resume {
        assert!(
            res.resumed_from > 0,
            "the second put resumed instead of starting over"
        );
        assert!(res.resumed_from < size as u64);
        assert_eq!(
            resumed.load(std::sync::atomic::Ordering::SeqCst),
            res.resumed_from,
            "a Resumed event was reported"
        );
    }
    let got = get_all(store, &p).await;
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(&data),
        "resumed object content"
    );
}
