//! The flow a reqwest-based client uses against `{url}/storage/v1`: upload, signed URL, TUS.

#[tokio::test]
async fn reqwest_flow_under_storage_v1() {
    let dir = std::env::temp_dir().join(format!("supabase-contract-flow-{}", uuid::Uuid::new_v4()));
    let server = stowage_supabase_contract::start(stowage_supabase_contract::ServerConfig {
        data_dir: dir.clone(),
        jwt_secret: "flow-test-secret-with-enough-length".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    let base = format!("{}/storage/v1", server.url);
    let key = &server.service_role_key;
    let http = reqwest::Client::new();
    let auth = |r: reqwest::RequestBuilder| r.header("apikey", key).bearer_auth(key);

    let r = auth(http.post(format!("{base}/bucket")))
        .json(&serde_json::json!({"name": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = auth(http.post(format!("{base}/object/b/dir/a%20b.txt")))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["Key"],
        "b/dir/a b.txt"
    );

    // signedURL is relative to the API root and not percent-encoded: the client encodes it.
    let r = auth(http.post(format!("{base}/object/sign/b/dir/a%20b.txt")))
        .json(&serde_json::json!({"expiresIn": 60}))
        .send()
        .await
        .unwrap();
    let signed = r.json::<serde_json::Value>().await.unwrap()["signedURL"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        signed.starts_with("/object/sign/b/dir/a b.txt?token="),
        "{signed}"
    );
    let r = http
        .get(format!("{base}{}", signed.replace(' ', "%20")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "hello");

    // TUS: Location is absolute and keeps the /storage/v1 prefix.
    let r = auth(http.post(format!("{base}/upload/resumable")))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "3")
        .header("upload-metadata", "bucketName Yg==,objectName dC5iaW4=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with(&format!("{base}/upload/resumable/")),
        "{loc}"
    );
    let r = auth(http.patch(&loc))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body("xyz")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["upload-offset"], "3");
    let r = auth(http.get(format!("{base}/object/b/t.bin")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "xyz");

    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
