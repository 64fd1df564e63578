//! Edges a user meets from the shell and on other S3 servers: closed pipes, stalled servers,
//! compression by name, hints and exit codes.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::proxy::{Fault, Proxy};
use common::*;

/// `stowage ls | head`: the reader goes away after one line; the listing stops quietly with
/// status 141 (no panic, no error text).
#[test]
fn closed_stdout_ends_a_long_listing_quietly() {
    let sb = Sandbox::new();
    sb.run(&["buckets", "create", "big"]).ok();
    let dir = sb.path("data/store/big/many");
    std::fs::create_dir_all(&dir).unwrap();
    // About 200 KB of listing: more than a pipe buffer holds, so the writer meets the close.
    for i in 0..3000 {
        std::fs::write(dir.join(format!("file-{i:05}.txt")), b"x").unwrap();
    }
    for args in [&["ls", "-r", "big"][..], &["--json", "ls", "-r", "big"][..]] {
        let mut child = sb
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read the start only (the JSON document is one long line).
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The reader is dropped here: the pipe is closed with most of the listing unsent.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// A server whose ListParts lists parts without an ETag (s3s-fs): an upload killed after some
/// parts resumes from them (number and size match), and the result is byte-identical.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_resume_keeps_parts_listed_without_an_etag() {
    let proxy = Proxy::start(&s3_endpoint(), Fault::NoPartETags).await;
    let sb = s3_sandbox();
    // Small parts, one at a time, all through the proxy (the resume record names the endpoint).
    sb.write_config(&format!(
        "default_profile = \"seaweed\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{}\"\n\
         region = \"us-east-1\"\npath_style = true\npart_size = 5242880\nconcurrency = 1\n",
        proxy.url
    ));
    let bucket = unique("stowage-noetag");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let body = data(32 << 20, 11);
    std::fs::write(sb.work("weights.bin"), &body).unwrap();
    let dest = format!("{bucket}/weights.bin");
    let mut child = tokio::process::Command::from(sb.command(&["-q", "put", "weights.bin", &dest]))
        .spawn()
        .unwrap();
    let resume_dir = sb.path("data/resume/s3");
    // Kill as soon as the saved state records a stored part.
    loop {
        let parts = common::stored_parts(&resume_dir);
        if parts >= 1 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the upload finished before it could be killed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().await.unwrap(); // SIGKILL: no cleanup runs

    let doc = sb
        .run_async(&["--json", "put", "weights.bin", &dest])
        .await
        .ok()
        .json();
    let done = &doc["uploaded"][0];
    let resumed = done["resumed_from"].as_u64().unwrap();
    assert!(
        resumed >= 5 << 20 && resumed < body.len() as u64,
        "the stored parts were kept: {doc}"
    );
    sb.run_async(&["get", &dest, "back.bin"]).await.ok();
    assert!(std::fs::read(sb.work("back.bin")).unwrap() == body);
}

/// `buckets create` on S3 servers that lack a feature or a permission, and on a name taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bucket_creation_says_what_happened() {
    let direct = s3_sandbox();
    let bucket = unique("stowage-nopolicy");
    let _guard = BucketGuard {
        sb: &direct,
        bucket: bucket.clone(),
    };
    // A server without bucket policies (NotImplemented): permanent, and the bucket is there.
    let proxy = Proxy::start(
        &s3_endpoint(),
        Fault::Refuse {
            pass: 0,
            request: "?policy",
            status: 501,
            code: "NotImplemented",
        },
    )
    .await;
    let sb = s3_sandbox_via(&proxy.url);
    let run = sb
        .run_async(&["buckets", "create", &bucket, "--public"])
        .await
        .code(8);
    assert!(run.stderr.contains("the bucket exists, private"), "{run:?}");
    assert!(
        run.stderr
            .contains("Next: share objects with `stowage url`"),
        "{run:?}"
    );
    let listed = direct.run_async(&["buckets", "ls"]).await.ok();
    assert!(listed.stdout.lines().any(|l| l == bucket), "{listed:?}");

    // A name that is taken: no flag to suggest, the bucket is usable as it is.
    let run = direct
        .run_async(&["buckets", "create", &bucket])
        .await
        .code(4);
    assert!(run.stderr.contains("use it as it is"), "{run:?}");
    assert!(!run.stderr.contains("--overwrite"), "{run:?}");
    let doc = direct
        .run_async(&["--json", "buckets", "create", &bucket])
        .await
        .code(4)
        .json();
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("use it as it is"),
        "{doc}"
    );

    // A key that may not create buckets: the hint is about the permission, not credentials.
    let proxy = Proxy::start(
        &s3_endpoint(),
        Fault::Refuse {
            pass: 0,
            request: "PUT /stowage-denied",
            status: 403,
            code: "AccessDenied",
        },
    )
    .await;
    let sb = s3_sandbox_via(&proxy.url);
    let denied = unique("stowage-denied");
    let run = sb.run_async(&["buckets", "create", &denied]).await.code(5);
    assert!(run.stderr.contains("may not create buckets"), "{run:?}");
    assert!(!run.stderr.contains("stowage login"), "{run:?}");
    let listed = direct.run_async(&["buckets", "ls"]).await.ok();
    assert!(!listed.stdout.contains(&denied), "{listed:?}");
}

/// `migrate` into a bucket the target key may not create: one error, said once, with one
/// prefix and the permission hint; the dry run says "would be copied"; `--all-objects`
/// without `--bucket` asks for the bucket instead of copying the whole server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_says_a_run_wide_error_once() {
    let proxy = Proxy::start(
        &s3_endpoint(),
        Fault::Refuse {
            pass: 0,
            request: "PUT /stowage-denied",
            status: 403,
            code: "AccessDenied",
        },
    )
    .await;
    let sb = s3_sandbox_via(&proxy.url);
    let disk = sb.path("disk");
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&format!(
        "{config}\n[profiles.disk]\nkind = \"local\"\nroot = \"{}\"\n",
        disk.display()
    ));
    for name in ["a.bin", "b.bin", "c.bin"] {
        std::fs::write(sb.work(name), data(1000, name.len() as u64)).unwrap();
    }
    sb.run_async(&["--profile", "disk", "buckets", "create", "src"])
        .await
        .ok();
    sb.run_async(&[
        "--profile",
        "disk",
        "put",
        "a.bin",
        "b.bin",
        "c.bin",
        "src/",
    ])
    .await
    .ok();
    let denied = unique("stowage-denied");
    let args = [
        "migrate",
        "--from",
        "disk",
        "--to",
        "seaweed",
        "--bucket",
        "src",
        "--to-bucket",
        &denied,
        "--all-objects",
    ];
    let run = sb.run_async(&args).await.code(5);
    assert_eq!(run.stderr.matches("error:").count(), 1, "{run:?}");
    assert_eq!(run.stderr.matches("Next:").count(), 1, "{run:?}");
    assert_eq!(run.stderr.matches("s3 (127.0.0.1").count(), 1, "{run:?}");
    assert!(run.stderr.contains("may not create buckets"), "{run:?}");

    let mut dry = vec!["--dry-run"];
    dry.extend(args);
    let run = sb.run_async(&dry).await.ok();
    assert!(run.stdout.contains("3 would be copied"), "{run:?}");
    assert!(
        !run.stdout.lines().any(|l| l.starts_with("3 copied")),
        "{run:?}"
    );

    let run = sb
        .run_async(&[
            "migrate",
            "--from",
            "disk",
            "--to",
            "seaweed",
            "--all-objects",
        ])
        .await
        .code(2);
    assert!(
        run.stderr.contains("--bucket B (buckets on `disk`: src)"),
        "{run:?}"
    );
}

/// A key ending in `.gz` always holds gzip: plain content is gzipped for it (and `get` gives
/// the original back), or refused with `--no-compress`; `--compress` gzips under key + `.gz`;
/// without either flag policy.toml decides (JSON over 64 KB is gzipped).
#[test]
fn put_compresses_by_name_flag_and_policy() {
    let sb = Sandbox::new();
    let json = format!("{{\"rows\":[{}0]}}", "0.125,".repeat(20_000)); // about 120 KB
    std::fs::write(sb.work("x.json"), b"{\"small\":true}").unwrap();
    std::fs::write(sb.work("big.json"), &json).unwrap();
    sb.run(&["buckets", "create", "bkt"]).ok();
    let stored = |key: &str| std::fs::read(sb.path(&format!("data/store/bkt/{key}"))).ok();

    let run = sb.run(&["put", "x.json", "bkt/x.json.gz"]).ok();
    assert!(run.stdout.contains("gzipped from"), "{run:?}");
    assert!(stored("x.json.gz").unwrap().starts_with(&[0x1f, 0x8b]));
    let run = sb.run(&["get", "bkt/x.json.gz", "back.json"]).ok();
    assert!(run.stdout.contains("decompressed"), "{run:?}");
    assert_eq!(
        std::fs::read(sb.work("back.json")).unwrap(),
        b"{\"small\":true}"
    );

    let run = sb
        .run(&["put", "--no-compress", "x.json", "bkt/y.json.gz"])
        .code(7);
    assert!(run.stderr.contains("promises gzip"), "{run:?}");
    assert!(
        run.stderr.contains("Next: leave out --no-compress"),
        "{run:?}"
    );
    assert!(stored("y.json.gz").is_none());

    sb.run(&["put", "--compress", "x.json", "bkt/forced/"]).ok();
    assert!(stored("forced/x.json.gz")
        .unwrap()
        .starts_with(&[0x1f, 0x8b]));
    assert!(stored("forced/x.json").is_none());

    // The policy's default: JSON over 64 KB goes up gzipped; --no-compress keeps it plain.
    sb.run(&["put", "big.json", "bkt/auto/"]).ok();
    assert!(stored("auto/big.json.gz")
        .unwrap()
        .starts_with(&[0x1f, 0x8b]));
    sb.run(&["put", "--no-compress", "big.json", "bkt/plain/"])
        .ok();
    assert_eq!(stored("plain/big.json").unwrap(), json.as_bytes());
    sb.run(&["get", "bkt/auto/big.json.gz", "auto.json"]).ok();
    assert_eq!(std::fs::read_to_string(sb.work("auto.json")).unwrap(), json);
}

/// `put` without --content-type names the type from the extension (SeaweedFS serves it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_put_guesses_the_content_type() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-ctype");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    std::fs::write(sb.work("notes.txt"), "hello").unwrap();
    std::fs::write(sb.work("weights.bin"), [0u8, 1, 2]).unwrap();
    for (file, want) in [
        ("notes.txt", "text/plain"),
        ("weights.bin", "application/octet-stream"),
    ] {
        sb.run_async(&["put", file, &format!("{bucket}/")])
            .await
            .ok();
        let url = sb
            .run_async(&["url", &format!("{bucket}/{file}")])
            .await
            .ok()
            .stdout;
        let got = reqwest::get(url.trim()).await.unwrap();
        let ctype = got.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ctype.starts_with(want), "{file}: {ctype}");
    }
}

/// Small things a user meets on the local store: `get KEY -`, `gc --older-than 0s`, bucket
/// names called names, `--json` hints, a profile without its URL.
#[test]
fn small_edges_on_the_local_store() {
    let sb = Sandbox::new();
    std::fs::write(sb.work("f.bin"), data(5000, 3)).unwrap();
    sb.run(&["put", "f.bin", "bkt/"]).ok();

    // `-` is stdout: the bytes, verified, and no file named `-`.
    let out = sb.command(&["get", "bkt/f.bin", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, data(5000, 3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("→ stdout") && stderr.contains("SHA-256 verified"),
        "{stderr}"
    );
    assert!(!sb.work("-").exists());
    let run = sb.run(&["get", "bkt/missing.bin", "-"]).code(3);
    assert!(run.stdout.is_empty(), "{run:?}");

    sb.run(&["gc", "--keep-last", "1", "--older-than", "0s"])
        .ok();

    let long = format!("bkt/{}/f.bin", "a".repeat(300));
    let run = sb.run(&["put", "f.bin", &long]).code(7);
    assert!(run.stderr.contains("longer than 255 bytes"), "{run:?}");

    let run = sb.run(&["put", "f.bin", "Bad_Bucket/f.bin"]).code(7);
    assert!(run.stderr.contains("invalid bucket name"), "{run:?}");
    assert!(!run.stderr.contains("invalid key"), "{run:?}");

    // `--json`: the hint is the message's next step, never null beside a "Next:".
    let doc = sb
        .run(&["--json", "get", "bkt/missing.bin", "x"])
        .code(3)
        .json();
    let hint = doc["error"]["hint"].as_str().expect("a hint");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.ends_with(&format!("Next: {hint}")), "{doc}");

    // A Supabase profile without its URL is a configuration error, not a credential one.
    sb.write_config("[profiles.sb]\nkind = \"supabase\"\n");
    let run = sb.run(&["--profile", "sb", "ls"]).code(2);
    assert!(run.stderr.contains("has no project URL"), "{run:?}");
    let doc = sb.run(&["--json", "--profile", "sb", "ls"]).code(2).json();
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("SUPABASE_URL"),
        "{doc}"
    );
}

/// URL expiry in whole seconds; `url --put` on a key that exists (Supabase signs uploads only
/// for new keys) suggests what works, not a flag `url` lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_expiry_and_upload_url_hints() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-url");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    std::fs::write(sb.work("f.txt"), "hello").unwrap();
    sb.run_async(&["put", "f.txt", &format!("{bucket}/")])
        .await
        .ok();
    let run = sb
        .run_async(&["url", &format!("{bucket}/f.txt")])
        .await
        .ok();
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("expires "))
        .unwrap();
    let when = line["expires ".len()..].split(' ').next().unwrap();
    assert!(when.ends_with('Z') && !when.contains('.'), "{line}");

    let (_dir, server) = contract_server().await;
    let mut team = Sandbox::new();
    team.write_config("default_profile = \"team\"\n[profiles.team]\nkind = \"supabase\"\n");
    team.env("SUPABASE_URL", &server.url)
        .env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    std::fs::write(team.work("f.txt"), "hello").unwrap();
    team.run_async(&["buckets", "create", "team-bkt"])
        .await
        .ok();
    team.run_async(&["put", "f.txt", "team-bkt/"]).await.ok();
    let run = team
        .run_async(&["url", "--put", "team-bkt/f.txt"])
        .await
        .code(4);
    assert!(run.stderr.contains("remove the object first"), "{run:?}");
    assert!(!run.stderr.contains("--overwrite"), "{run:?}");

    // A missing bucket is named as such, not the key.
    let run = team
        .run_async(&["put", "f.txt", "no-such-bucket/f.txt"])
        .await
        .code(3);
    assert!(
        run.stderr.contains("Next: check the bucket name"),
        "{run:?}"
    );
}

/// An object another tool wrote (no SHA-256 in its metadata) is checked against the MD5 its
/// single-part ETag states: a good download says so, an altered one fails the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_downloads_without_sha256_are_checked_by_md5_etag() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-md5");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    // Written by "another tool": a plain PUT to a signed URL, no Stowage metadata.
    let content = data(200_000, 21);
    let url = sb
        .run_async(&["url", "--put", &format!("{bucket}/other.bin")])
        .await
        .ok()
        .stdout;
    let put = reqwest::Client::new()
        .put(url.trim())
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{put:?}");

    let run = sb
        .run_async(&["get", &format!("{bucket}/other.bin"), "other.bin"])
        .await
        .ok();
    assert!(run.stdout.contains("MD5 verified"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("other.bin")).unwrap(), content);

    let proxy = Proxy::start(&s3_endpoint(), Fault::CorruptBody).await;
    let via = s3_sandbox_via(&proxy.url);
    let run = via
        .run_async(&["get", &format!("{bucket}/other.bin"), "bad.bin"])
        .await
        .code(7);
    assert!(run.stderr.contains("MD5"), "{run:?}");
    assert!(!via.work("bad.bin").exists());
}

/// An S3 client of the test server's own, writing objects as other tools do.
async fn other_tool() -> aws_sdk_s3::Client {
    let (ak, sk) = s3_credentials();
    let creds = aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "test");
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(s3_endpoint())
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .build(),
    )
}

/// A two-part multipart upload (its ETag is no MD5), with rclone's `md5chksum` metadata when
/// given.
async fn multipart(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content: &[u8],
    md5chksum: Option<&[u8]>,
) {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let mut create = client.create_multipart_upload().bucket(bucket).key(key);
    if let Some(sum) = md5chksum {
        let digest = <md5::Md5 as md5::Digest>::digest(sum);
        create = create.metadata("md5chksum", b64(&digest));
    }
    let id = create.send().await.unwrap().upload_id.unwrap();
    let mut parts = Vec::new();
    for (i, chunk) in content.chunks(5 << 20).enumerate() {
        let n = i as i32 + 1;
        let out = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag)
                .build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Objects other tools wrote carry no SHA-256 of Stowage's; a download is checked by what
/// their provider states: the full-object CRC-64/NVME current AWS SDKs and CLIs send, the MD5
/// rclone keeps in `md5chksum` on a multipart upload. A stated checksum the bytes do not match
/// fails the download, naming the checksum and where it was stated, and leaves no file; an
/// object with nothing stated says "not verified".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_downloads_of_other_tools_objects_are_checked_by_the_checksum_they_state() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-sums");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let client = other_tool().await;
    let get = |key: &str| {
        let (src, dst) = (format!("{bucket}/{key}"), key.to_string());
        let sb = &sb;
        async move { sb.run_async(&["get", &src, &dst]).await }
    };

    let small = data(300_000, 5);
    client
        .put_object()
        .bucket(&bucket)
        .key("aws-cli.bin")
        .body(small.clone().into())
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc64Nvme)
        .send()
        .await
        .unwrap();
    let run = get("aws-cli.bin").await.ok();
    assert!(run.stdout.contains("CRC-64/NVME verified"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("aws-cli.bin")).unwrap(), small);

    let big = data((5 << 20) + 70_000, 6);
    multipart(&client, &bucket, "rclone.bin", &big, Some(&big)).await;
    let run = get("rclone.bin").await.ok();
    assert!(run.stdout.contains("MD5 verified"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("rclone.bin")).unwrap(), big);

    // The metadata states another content's MD5: the bytes are not what was written.
    multipart(&client, &bucket, "stale.bin", &big, Some(b"other content")).await;
    let run = get("stale.bin").await.code(7);
    assert!(
        run.stderr.contains("MD5") && run.stderr.contains("rclone's md5chksum"),
        "{run:?}"
    );
    assert!(!sb.work("stale.bin").exists());

    multipart(&client, &bucket, "bare.bin", &big, None).await;
    let run = get("bare.bin").await.ok();
    assert!(run.stdout.contains("not verified"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("bare.bin")).unwrap(), big);
}

/// The stall limit is a profile setting too (`read_timeout`, seconds): a server that never
/// answers fails as unavailable after it; 0 is refused as a configuration error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_profile_read_timeout_ends_a_stall() {
    let proxy = Proxy::start(&s3_endpoint(), Fault::Stall).await;
    let sb = s3_sandbox_via(&proxy.url);
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&format!("{config}read_timeout = 1\n"));
    let run = sb.run_async(&["ls", "any-bucket"]).await.code(6);
    assert!(run.stderr.contains("no byte moved for 1s"), "{run:?}");
    assert!(run.stderr.contains("Next:"), "{run:?}");
    sb.write_config(&format!("{config}read_timeout = 0\n"));
    let run = sb.run_async(&["ls", "any-bucket"]).await.code(2);
    assert!(
        run.stderr.contains("read_timeout must be at least 1"),
        "{run:?}"
    );
}
