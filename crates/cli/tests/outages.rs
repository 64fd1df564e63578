//! Sync against organizations, missing buckets and a primary that does not answer: the
//! dry run sees what the real run would meet, and an outage leaves every copy accounted for.

mod common;

use common::*;

const POLICY: &str = "include_defaults = false\n\n[[rule]]\nname = \"all\"\npatterns = [\"*\"]\n\
                      destination = \"primary+secondary\"\nfolder = \"data/\"\ncompress = false\n";

#[test]
fn sync_uses_the_profiles_org_and_refuses_another() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-org");
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&format!(
        "{}\norg = \"acme\"\n\n[sync]\nprimary = \"seaweed\"\nbucket = \"{bucket}\"\n",
        config.trim_end()
    ));
    std::fs::write(sb.path("config/policy.toml"), POLICY).unwrap();
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    let root = sb.work("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.bin"), data(1000, 1)).unwrap();

    // Another organization, by flag: refused before anything is written.
    let run = sb.run(&["sync", "proj", "--org", "beta"]).code(2);
    assert!(
        run.stderr.contains("bound to organization `acme`"),
        "{run:?}"
    );
    assert!(
        !sb.path("data/catalog.sqlite3").exists() || {
            let doc = sb.run(&["--json", "versions"]).ok().json();
            doc["versions"].as_array().unwrap().is_empty()
        }
    );

    // No flag: the profile's organization.
    let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    let key = doc["sync"]["files"][0]["uploads"][0]["key"]
        .as_str()
        .unwrap();
    assert_eq!(key, "acme/data/a.bin");
    // The family resolves to the one artifact, of `acme`.
    let out = sb.work("restored");
    sb.run(&["restore", "a", out.to_str().unwrap()]).ok();
}

#[test]
fn sync_into_a_missing_bucket_says_it_once_and_the_dry_run_sees_it() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-missing");
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&format!(
        "{config}\n[sync]\nprimary = \"seaweed\"\nbucket = \"{bucket}\"\n"
    ));
    std::fs::write(sb.path("config/policy.toml"), POLICY).unwrap();
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    let root = sb.work("proj");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..5 {
        std::fs::write(root.join(format!("f{i}.bin")), data(1000, i)).unwrap();
    }
    let dry = sb.run(&["--dry-run", "sync", "proj"]);
    assert_ne!(dry.code, 0, "{dry:?}");
    assert!(dry.stderr.contains("--create-bucket"), "{dry:?}");

    let run = sb.run(&["sync", "proj"]).code(3);
    assert_eq!(run.stderr.matches("--create-bucket").count(), 1, "{run:?}");

    let doc = sb
        .run(&["--json", "sync", "proj", "--create-bucket"])
        .ok()
        .json();
    assert_eq!(doc["uploaded"], 5, "{doc}");
}

#[test]
fn sync_with_the_primary_down_records_the_secondary_and_queues_the_primary() {
    let sb = Sandbox::new();
    let store = sb.path("secondary-store");
    // The primary is an S3 endpoint on a closed loopback port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    sb.write_config(&format!(
        "[profiles.down]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         region = \"us-east-1\"\npath_style = true\n\n\
         [profiles.backup]\nkind = \"local\"\nroot = \"{}\"\n\n\
         [sync]\nprimary = \"down\"\nsecondary = \"backup\"\nbucket = \"ml-artifacts\"\n",
        store.display()
    ));
    let mut sb = sb;
    sb.env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y");
    std::fs::write(sb.path("config/policy.toml"), POLICY).unwrap();
    let root = sb.work("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.bin"), data(1000, 7)).unwrap();

    let run = sb.run(&["sync", "proj"]).code(6);
    assert!(run.stdout.contains("queued a.bin → down"), "{run:?}");
    assert!(run.stdout.contains("0 failed"), "{run:?}");
    // The secondary copy is recorded, and its bytes are there.
    assert_eq!(
        std::fs::read(store.join("ml-artifacts/data/a.bin")).unwrap(),
        data(1000, 7)
    );
    let doc = sb.run(&["--json", "versions", "a"]).ok().json();
    let locations = doc["versions"][0]["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 1, "{doc}");
    assert_eq!(locations[0]["profile"], "backup", "{doc}");
    // The primary copy waits in the durable queue.
    let doc = sb.run(&["--json", "queue", "ls"]).ok().json();
    let text = doc.to_string();
    assert!(
        text.contains("\"down\"") && text.contains("queued"),
        "{doc}"
    );
    // `watch --exit-when-idle` does not wait for ever on the down provider: once only its
    // work remains (here with no grace), it says what waits, for whom, and exits 9. The row
    // stays queued.
    let run = sb
        .run(&["watch", "proj", "--exit-when-idle", "--wait-down", "0s"])
        .code(9);
    assert!(
        run.stderr.contains("waiting: 1 upload(s) for `down`"),
        "{run:?}"
    );
    let doc = sb.run(&["--json", "queue", "ls"]).ok().json();
    assert!(doc.to_string().contains("queued"), "{doc}");
}
