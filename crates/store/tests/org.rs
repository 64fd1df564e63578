//! Organization isolation against the Supabase contract server. The service-role key bypasses
//! row-level security, so nothing on the server stops a profile from reaching another
//! organization's keys: `OrgScoped` is the only check, and this proves it holds end to end.
//! (That refused calls never reach the inner store is proven by the recording store in
//! `org.rs`'s unit tests.)

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use stowage_store::conformance as c;
use stowage_store::org::{OrgScoped, ESCAPES};
use stowage_store::supabase::{SupabaseConfig, SupabaseStore};
use stowage_store::{
    BucketOptions, ErrorKind, ListEntry, ListOptions, ObjectPath, PutOptions, PutSource, Store,
    UrlMethod,
};
use stowage_supabase_contract::ServerConfig;

const JWT_SECRET: &str = "stowage-test-jwt-secret-at-least-32-chars";

fn p(bucket: &str, key: &str) -> ObjectPath {
    ObjectPath::new(bucket, key).unwrap()
}

async fn everything(store: &dyn Store, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let keys: Vec<ListEntry> = store
        .list(bucket, ListOptions::default())
        .try_collect()
        .await
        .unwrap();
    let mut out = Vec::new();
    for e in keys {
        let body = store.get(&p(bucket, e.name()), None).await.unwrap();
        out.push((e.name().to_string(), body.bytes().await.unwrap().to_vec()));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_org_profile_cannot_reach_other_orgs_on_supabase() {
    let dir = tempfile::tempdir().unwrap();
    let server = stowage_supabase_contract::start(ServerConfig {
        data_dir: dir.path().join("server"),
        jwt_secret: JWT_SECRET.into(),
        addr: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .expect("start the contract server");
    let raw: Arc<dyn Store> = Arc::new(
        SupabaseStore::new(SupabaseConfig {
            url: server.url.clone(),
            key: server.service_role_key.clone(),
            resume_dir: Some(dir.path().join("resume")),
            max_object_size: None,
        })
        .unwrap(),
    );
    let bucket = c::bucket_name("org-isolation");
    raw.create_bucket(&bucket, &BucketOptions::default())
        .await
        .unwrap();
    for key in [
        "acme/models/m.pt",
        "other/secret.bin",
        "acmeevil/secret.bin",
    ] {
        raw.put(
            &p(&bucket, key),
            PutSource::Bytes(key.as_bytes().to_vec().into()),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    }
    let before = everything(raw.as_ref(), &bucket).await;
    let scoped = OrgScoped::new(raw.clone(), "acme").unwrap();
    let ok = p(&bucket, "acme/models/m.pt");
    let hour = Duration::from_secs(3600);

    for (bad, kind) in ESCAPES {
        let b = p(&bucket, bad);
        let results = [
            scoped
                .put(
                    &b,
                    PutSource::Bytes("pwned".into()),
                    &PutOptions {
                        overwrite: true,
                        ..Default::default()
                    },
                )
                .await
                .map(drop),
            scoped.get(&b, None).await.map(drop),
            scoped.head(&b).await.map(drop),
            scoped.delete(&b).await,
            scoped
                .delete_many(&bucket, std::slice::from_ref(&b.key))
                .await
                .map(drop),
            scoped.copy(&ok, &b, true).await,
            scoped.copy(&b, &ok, true).await,
            scoped.rename(&b, &ok, true).await,
            scoped.rename(&ok, &b, true).await,
            scoped.signed_url(&b, UrlMethod::Get, hour).await.map(drop),
            scoped.signed_url(&b, UrlMethod::Put, hour).await.map(drop),
        ];
        for (i, r) in results.into_iter().enumerate() {
            let e = r.expect_err(&format!("call {i} with {bad:?} must be refused"));
            assert_eq!(e.kind, *kind, "call {i} {bad:?}: {e}");
            assert!(e.to_string().contains("supabase"), "{e}");
        }
    }
    // Nothing changed on the server.
    assert_eq!(everything(raw.as_ref(), &bucket).await, before);

    // The organization's own keys work end to end, and listings show only them.
    let mine = p(&bucket, "acme/results/r.json");
    scoped
        .put(&mine, PutSource::Bytes("{}".into()), &PutOptions::default())
        .await
        .unwrap();
    let url = scoped
        .signed_url(&mine, UrlMethod::Get, hour)
        .await
        .unwrap();
    assert_eq!(
        reqwest::get(&url).await.unwrap().bytes().await.unwrap(),
        "{}"
    );
    let listed: Vec<String> = scoped
        .list(&bucket, ListOptions::default())
        .map_ok(|e| e.name().to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, ["acme/models/m.pt", "acme/results/r.json"]);
    let top: Vec<String> = scoped
        .list(
            &bucket,
            ListOptions {
                delimiter: true,
                ..Default::default()
            },
        )
        .map_ok(|e| e.name().to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(top, ["acme/"]);
    let e = scoped
        .list(
            &bucket,
            ListOptions {
                prefix: "other/".into(),
                ..Default::default()
            },
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    server.shutdown().await;
}
