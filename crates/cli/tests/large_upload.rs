//! The main large-upload path: `sync` of a big compressible file, gzipped on the way and so
//! streamed with unknown length, above the multipart (SeaweedFS, 16 MiB) and TUS (Supabase,
//! 6 MB) thresholds. A recording proxy in front of each real server shows which protocol
//! carried it; the stored bytes must gunzip to the source and the catalog must record both
//! the original and the stored form.

mod common;

use std::io::Read;

use common::proxy::{Fault, Proxy};
use common::*;
use sha2::{Digest, Sha256};

/// About 64 MB of JSON rows whose numbers are random: gzip keeps about a third of it, so the
/// stored object (about 22 MB) is above both thresholds.
fn big_dataset() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::with_capacity(65_000_000);
    text.push('[');
    let mut i = 0u64;
    while text.len() < 64_000_000 {
        text.push_str(&format!(
            "{{\"id\":{i},\"loss\":0.{:012},\"grad\":{:016}}},\n",
            next() % 1_000_000_000_000,
            next() % 10_000_000_000_000_000
        ));
        i += 1;
    }
    text.push_str("{}]");
    text.into_bytes()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("the stored object is gzip");
    out
}

/// The one location sync recorded on `profile`: its key, and the catalog's row checked
/// against the source and the stored bytes.
fn recorded_key(sb: &Sandbox, profile: &str, bucket: &str) -> String {
    let db = rusqlite::Connection::open(sb.path("data/catalog.sqlite3")).unwrap();
    let mut s = db
        .prepare("SELECT key FROM locations WHERE profile = ?1 AND bucket = ?2")
        .unwrap();
    let keys: Vec<String> = s
        .query_map([profile, bucket], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(keys.len(), 1, "one location on {profile}: {keys:?}");
    keys.into_iter().next().unwrap()
}

#[track_caller]
fn check_catalog(sb: &Sandbox, profile: &str, key: &str, source: &[u8], stored: &[u8]) {
    let db = rusqlite::Connection::open(sb.path("data/catalog.sqlite3")).unwrap();
    let row: (String, i64, Option<String>, i64, Option<String>) = db
        .query_row(
            "SELECT v.sha256, v.original_size, v.encoding, l.size, l.sha256
             FROM locations l JOIN versions v ON v.id = l.version_id
             WHERE l.profile = ?1 AND l.key = ?2",
            [profile, key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row.0, sha(source), "the version is the source's content");
    assert_eq!(row.1, source.len() as i64);
    assert_eq!(row.2.as_deref(), Some("gzip"));
    assert_eq!(
        row.3,
        stored.len() as i64,
        "the location is the stored object"
    );
    assert_eq!(row.4.as_deref(), Some(sha(stored).as_str()));
}

fn sync_config(profiles: &str, primary: &str, bucket: &str) -> String {
    format!("default_profile = \"{primary}\"\n\n{profiles}\n[sync]\nprimary = \"{primary}\"\nbucket = \"{bucket}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sync_of_a_big_compressible_file_goes_multipart_gzipped() {
    let endpoint = s3_endpoint();
    let proxy = Proxy::start(&endpoint, Fault::Record).await;
    let sb = s3_sandbox();
    let bucket = unique("big-gz");
    sb.write_config(&sync_config(
        &format!(
            "[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\npath_style = true\n",
            proxy.url
        ),
        "seaweed",
        &bucket,
    ));
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let source = big_dataset();
    std::fs::create_dir_all(sb.work("proj")).unwrap();
    std::fs::write(sb.work("proj/dataset.json"), &source).unwrap();
    proxy.requests.lock().unwrap().clear();
    let doc = sb.run_async(&["--json", "sync", "proj"]).await.ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    let key = recorded_key(&sb, "seaweed", &bucket);
    assert!(key.ends_with(".gz"), "{key}");

    // Multipart: created, parts sent, completed; no single PUT of the object.
    let requests = proxy.requests.lock().unwrap().clone();
    let object = format!("/{bucket}/{key}");
    let on_object = |method: &str, query: &str| {
        requests
            .iter()
            .filter(|l| l.starts_with(&format!("{method} {object}?")) && l.contains(query))
            .count()
    };
    assert_eq!(on_object("POST", "uploads"), 1, "{requests:#?}");
    assert!(on_object("PUT", "partNumber=") >= 2, "{requests:#?}");
    assert_eq!(on_object("POST", "uploadId="), 1, "{requests:#?}");
    assert!(
        !requests
            .iter()
            .any(|l| l.starts_with(&format!("PUT {object} "))),
        "{requests:#?}"
    );

    // The stored bytes are gzip of the source, and above the multipart threshold.
    let path = format!("{bucket}/{key}");
    sb.run_async(&["get", "--raw", &path, "stored.gz"])
        .await
        .ok();
    let stored = std::fs::read(sb.work("stored.gz")).unwrap();
    assert!(stored.len() > 16 << 20, "{} bytes stored", stored.len());
    assert!(
        gunzip(&stored) == source,
        "the stored object gunzips to the source"
    );
    check_catalog(&sb, "seaweed", &key, &source, &stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_sync_of_a_big_compressible_file_goes_by_tus_gzipped() {
    let (_server_dir, server) = contract_server().await;
    let proxy = Proxy::start(&server.url, Fault::Record).await;
    let mut sb = Sandbox::new();
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    let bucket = unique("big-gz");
    sb.write_config(&sync_config(
        &format!(
            "[profiles.team]\nkind = \"supabase\"\nurl = \"{}\"\n",
            proxy.url
        ),
        "team",
        &bucket,
    ));
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let source = big_dataset();
    std::fs::create_dir_all(sb.work("proj")).unwrap();
    std::fs::write(sb.work("proj/dataset.json"), &source).unwrap();
    proxy.requests.lock().unwrap().clear();
    let doc = sb.run_async(&["--json", "sync", "proj"]).await.ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    let key = recorded_key(&sb, "team", &bucket);
    assert!(key.ends_with(".gz"), "{key}");

    // TUS: one upload created, its bytes sent in PATCH requests; no standard upload.
    let requests = proxy.requests.lock().unwrap().clone();
    let count = |prefix: &str| requests.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count("POST /storage/v1/upload/resumable"),
        1,
        "{requests:#?}"
    );
    assert!(
        count("PATCH /storage/v1/upload/resumable/") >= 2,
        "{requests:#?}"
    );
    assert_eq!(
        count(&format!("POST /storage/v1/object/{bucket}/"))
            + count(&format!("PUT /storage/v1/object/{bucket}/")),
        0,
        "{requests:#?}"
    );

    let path = format!("{bucket}/{key}");
    sb.run_async(&["get", "--raw", &path, "stored.gz"])
        .await
        .ok();
    let stored = std::fs::read(sb.work("stored.gz")).unwrap();
    assert!(stored.len() > 6_000_000, "{} bytes stored", stored.len());
    assert!(
        gunzip(&stored) == source,
        "the stored object gunzips to the source"
    );
    check_catalog(&sb, "team", &key, &source, &stored);
    sb.run_async(&["rm", "-r", &format!("{bucket}/")])
        .await
        .ok();
    sb.run_async(&["buckets", "rm", &bucket]).await.ok();
    drop(proxy);
    server.shutdown().await;
}
