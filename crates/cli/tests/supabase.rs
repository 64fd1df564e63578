//! What the real Supabase Storage server showed, end to end on the real binary against the
//! contract server (which answers as the real one does): Supabase's own bucket names, signed
//! URLs for keys with reserved characters, a wrong key, copies into a missing bucket.

mod common;
use common::*;

async fn sandbox(server: &stowage_supabase_contract::RunningServer, key: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write_config("default_profile = \"team\"\n[profiles.team]\nkind = \"supabase\"\n");
    sb.env("SUPABASE_URL", &server.url)
        .env("SUPABASE_SERVICE_ROLE_KEY", key);
    sb
}

/// `user_uploads` and `Avatars` are Supabase bucket names: `buckets ls` lists them, and
/// `ls`, `put`, `get` and `rm` use them. The local store keeps S3's rule, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_bucket_names_are_not_held_to_s3s_rule() {
    let (_dir, server) = contract_server().await;
    let sb = sandbox(&server, &server.service_role_key).await;
    std::fs::write(sb.work("a.txt"), b"named").unwrap();
    let tag = unique("n").replace('-', "_");
    for bucket in [format!("user_uploads_{tag}"), format!("Avatars_{tag}")] {
        sb.run_async(&["buckets", "create", &bucket]).await.ok();
        let listed = sb.run_async(&["buckets", "ls"]).await.ok();
        assert!(listed.stdout.contains(&bucket), "{listed:?}");
        sb.run_async(&["put", "a.txt", &format!("{bucket}/d/")])
            .await
            .ok();
        let ls = sb.run_async(&["ls", "--recursive", &bucket]).await.ok();
        assert!(ls.stdout.contains("d/a.txt"), "{ls:?}");
        sb.run_async(&["get", &format!("{bucket}/d/a.txt"), "back.txt"])
            .await
            .ok();
        assert_eq!(std::fs::read(sb.work("back.txt")).unwrap(), b"named");
        std::fs::remove_file(sb.work("back.txt")).unwrap();
        sb.run_async(&["rm", &format!("{bucket}/d/a.txt")])
            .await
            .ok();
        sb.run_async(&["buckets", "rm", &bucket]).await.ok();
    }
    // Nothing any backend accepts is still refused before a request, as a usage problem.
    let run = sb.run_async(&["ls", "bad#bucket"]).await;
    assert_ne!(run.code, 0, "{run:?}");
    // The local store keeps S3's rule and names it.
    let local = Sandbox::new();
    let run = local.run(&["ls", "Avatars"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("lowercase"), "{run:?}");
    server.shutdown().await;
}

/// `url` for keys with `$ & + , : ; = ? @` prints a URL that downloads the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_works_for_keys_with_reserved_characters() {
    let (_dir, server) = contract_server().await;
    let sb = sandbox(&server, &server.service_role_key).await;
    let bucket = unique("urls");
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    std::fs::write(sb.work("f.txt"), b"reserved").unwrap();
    for key in ["a+b.txt", "q?.txt", "all $&+,:;=?@.txt"] {
        let object = format!("{bucket}/r/{key}");
        sb.run_async(&["put", "f.txt", &object]).await.ok();
        let run = sb.run_async(&["--json", "url", &object]).await.ok();
        let link = run.json()["url"].as_str().unwrap().to_string();
        let resp = reqwest::get(&link).await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        assert!(
            status.is_success(),
            "{key}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(&body[..], b"reserved", "{key}");
    }
    server.shutdown().await;
}

/// With a wrong key, `get`, `url`, `rm` and `cp` report the key (unauthorized, exit 5), not
/// a missing object, and never print it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_unauthorized_for_every_command() {
    let (_dir, server) = contract_server().await;
    let good = sandbox(&server, &server.service_role_key).await;
    let bucket = unique("wrongkey");
    good.run_async(&["buckets", "create", &bucket]).await.ok();
    std::fs::write(good.work("x.txt"), b"x").unwrap();
    let object = format!("{bucket}/k/x.txt");
    good.run_async(&["put", "x.txt", &object]).await.ok();

    let wrong =
        stowage_supabase_contract::mint_jwt("not-the-server-secret", "service_role", 4_000_000_000);
    let bad = sandbox(&server, &wrong).await;
    let copy = format!("{bucket}/k/copy.txt");
    for args in [
        vec!["get", object.as_str(), "out.txt"],
        vec!["url", object.as_str()],
        vec!["rm", object.as_str()],
        vec!["cp", object.as_str(), copy.as_str()],
    ] {
        let run = bad.run_async(&args).await.code(5);
        assert!(
            run.stderr.contains("SUPABASE_SERVICE_ROLE_KEY"),
            "{args:?}: {run:?}"
        );
        assert!(
            !run.stderr.contains("not found") && !run.stderr.contains(&wrong),
            "{args:?}: {run:?}"
        );
    }
    // Nothing changed on the server.
    let ls = good.run_async(&["ls", "--recursive", &bucket]).await.ok();
    assert!(
        ls.stdout.contains("k/x.txt") && !ls.stdout.contains("copy.txt"),
        "{ls:?}"
    );
    server.shutdown().await;
}

/// `cp` and `mv` into a missing bucket name that bucket and the next step (exit 3), and leave
/// the source where it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_and_mv_into_a_missing_bucket_name_the_destination() {
    let (_dir, server) = contract_server().await;
    let sb = sandbox(&server, &server.service_role_key).await;
    let bucket = unique("src");
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    std::fs::write(sb.work("x.txt"), b"x").unwrap();
    let object = format!("{bucket}/x.txt");
    sb.run_async(&["put", "x.txt", &object]).await.ok();
    let missing = unique("nowhere");
    for verb in ["cp", "mv"] {
        let run = sb
            .run_async(&[verb, &object, &format!("{missing}/x.txt")])
            .await
            .code(3);
        assert!(
            run.stderr.contains(&format!("`{missing}` does not exist"))
                && run.stderr.contains(&format!("buckets create {missing}"))
                && !run.stderr.contains("folder entry"),
            "{verb}: {run:?}"
        );
    }
    let ls = sb.run_async(&["ls", &bucket]).await.ok();
    assert!(ls.stdout.contains("x.txt"), "{ls:?}");
    server.shutdown().await;
}
