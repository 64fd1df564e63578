//! Migration, verify, the download cache and the read path (cache → primary → secondary), end
//! to end on the real binary against SeaweedFS and the Supabase contract server.

mod common;
use common::*;

use std::path::Path;

use serde_json::Value;

/// An address nothing listens on: a profile pointed here is "down".
const DEAD: &str = "http://127.0.0.1:9";

struct Setup<'a> {
    seaweed: &'a str,
    team: Option<&'a str>,
    disk: Option<&'a Path>,
    primary: &'a str,
    secondary: Option<&'a str>,
    bucket: &'a str,
    extra: &'a str,
}

fn write_setup(sb: &Sandbox, s: &Setup) {
    let mut text = format!(
        "default_profile = \"{}\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{}\"\n\
         region = \"us-east-1\"\npath_style = true\n",
        s.primary, s.seaweed
    );
    if let Some(url) = s.team {
        text.push_str(&format!(
            "\n[profiles.team]\nkind = \"supabase\"\nurl = \"{url}\"\n"
        ));
    }
    if let Some(root) = s.disk {
        text.push_str(&format!(
            "\n[profiles.disk]\nkind = \"local\"\nroot = \"{}\"\n",
            root.display()
        ));
    }
    text.push_str(&format!(
        "\n[sync]\nprimary = \"{}\"\nbucket = \"{}\"\n",
        s.primary, s.bucket
    ));
    if let Some(sec) = s.secondary {
        text.push_str(&format!("secondary = \"{sec}\"\n"));
    }
    text.push_str(s.extra);
    sb.write_config(&text);
}

/// Run a command as another machine would (its own catalog): the providers change behind
/// this catalog's back, which is what verify and the read fallbacks are for. Commands run
/// here record what they write, so damage done through them would be recorded.
fn elsewhere(sb: &Sandbox, args: &[&str]) -> std::process::Command {
    let mut c = sb.command(args);
    c.env("STOWAGE_DATA_DIR", sb.path("elsewhere"));
    c
}

async fn elsewhere_async(sb: &Sandbox, args: &[&str]) -> Run {
    tokio::process::Command::from(elsewhere(sb, args))
        .output()
        .await
        .unwrap()
        .into()
}

/// A project folder of model files (stored as is) and one JSON dataset (stored gzipped):
/// (relative path, key, content).
fn project(sb: &Sandbox, models: usize, size: usize) -> Vec<(String, String, Vec<u8>)> {
    let root = sb.work(".beast-mode");
    std::fs::create_dir_all(&root).unwrap();
    let mut out = Vec::new();
    for i in 0..models {
        let name = format!("model{}-v1.pt", (b'a' + i as u8) as char);
        let content = data(size, 1001 + 2 * i as u64);
        std::fs::write(root.join(&name), &content).unwrap();
        out.push((name.clone(), format!("models/{name}"), content));
    }
    out
}

fn gz_dataset(sb: &Sandbox) -> Vec<u8> {
    let mut text = String::from("[");
    for i in 0..40_000 {
        text.push_str(&format!("{{\"id\":{i},\"label\":\"row {}\"}},", i % 97));
    }
    text.push_str("{}]");
    std::fs::write(sb.work(".beast-mode/dataset.json"), &text).unwrap();
    text.into_bytes()
}

fn catalog(sb: &Sandbox) -> rusqlite::Connection {
    rusqlite::Connection::open(sb.path("data/catalog.sqlite3")).unwrap()
}

fn locations_on(sb: &Sandbox, profile: &str) -> i64 {
    catalog(sb)
        .query_row(
            "SELECT COUNT(*) FROM locations WHERE profile = ?1",
            [profile],
            |r| r.get(0),
        )
        .unwrap()
}

fn transfers(sb: &Sandbox) -> i64 {
    catalog(sb)
        .query_row("SELECT COUNT(*) FROM transfers", [], |r| r.get(0))
        .unwrap()
}

fn summary(doc: &Value, field: &str) -> u64 {
    doc["summary"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no summary.{field} in {doc}"))
}

fn items(doc: &Value) -> Vec<Value> {
    doc["migrated"].as_array().cloned().unwrap_or_default()
}

fn sha(content: &[u8]) -> String {
    stowage_store::sha256_hex(content)
}

/// Two S3 buckets' worth of cleanup on SeaweedFS, whatever profile is the default later.
struct SeaweedBuckets {
    sb_endpoint: String,
    names: Vec<String>,
}

impl Drop for SeaweedBuckets {
    fn drop(&mut self) {
        let sb = s3_sandbox();
        sb.write_config(&format!(
            "default_profile = \"seaweed\"\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{}\"\n\
             region = \"us-east-1\"\npath_style = true\n",
            self.sb_endpoint
        ));
        for b in &self.names {
            let _ = BucketGuard {
                sb: &sb,
                bucket: b.clone(),
            };
        }
    }
}

/// SeaweedFS → Supabase (streamed, filter first, then the rest, skipping what is there) and
/// back into another bucket with --delete-source. A dry run changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_seaweedfs_to_supabase_and_back() {
    let (_server_dir, server) = contract_server().await;
    let endpoint = s3_endpoint();
    let mut sb = s3_sandbox();
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    let (bucket, back) = (unique("mig-a"), unique("mig-b"));
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone(), back.clone()],
    };
    write_setup(
        &sb,
        &Setup {
            seaweed: &endpoint,
            team: Some(&server.url),
            disk: None,
            primary: "seaweed",
            secondary: None,
            bucket: &bucket,
            extra: "",
        },
    );
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let files = project(&sb, 3, 300_000);
    let dataset = gz_dataset(&sb);
    let synced = sb
        .run_async(&["--json", "sync", ".beast-mode"])
        .await
        .ok()
        .json();
    assert_eq!(synced["uploaded"], 4, "{synced}");
    assert_eq!(locations_on(&sb, "seaweed"), 4);

    // A dry run plans all four and changes nothing: no bucket on Supabase, no location.
    let plan = sb
        .run_async(&[
            "--json",
            "--dry-run",
            "migrate",
            "--from",
            "seaweed",
            "--to",
            "team",
        ])
        .await
        .ok()
        .json();
    assert_eq!(summary(&plan, "planned"), 4, "{plan}");
    assert!(
        items(&plan).iter().all(|i| i["method"] == "streamed"),
        "{plan}"
    );
    assert_eq!(locations_on(&sb, "team"), 0);
    sb.run_async(&["--profile", "team", "ls", &bucket])
        .await
        .code(3);

    // --filter picks one object.
    let one = sb
        .run_async(&[
            "--json",
            "migrate",
            "--from",
            "seaweed",
            "--to",
            "team",
            "--filter",
            "models/modela*",
        ])
        .await
        .ok()
        .json();
    assert_eq!(summary(&one, "copied"), 1, "{one}");
    let first = &items(&one)[0];
    assert_eq!(first["to"], format!("team:{bucket}/models/modela-v1.pt"));
    assert_eq!(first["bytes_moved"], 300_000);
    assert_eq!(first["sha256"], sha(&files[0].2));
    assert_eq!(locations_on(&sb, "team"), 1);

    // The rest: the filtered one is already verified there and is not copied again.
    let rest = sb
        .run_async(&["--json", "migrate", "--from", "seaweed", "--to", "team"])
        .await
        .ok()
        .json();
    assert_eq!(
        (summary(&rest, "copied"), summary(&rest, "skipped")),
        (3, 1),
        "{rest}"
    );
    assert_eq!(locations_on(&sb, "team"), 4);
    for (_, key, content) in &files {
        let out = sb.work(&format!("team-{}", key.replace('/', "_")));
        sb.run_async(&[
            "--profile",
            "team",
            "get",
            &format!("{bucket}/{key}"),
            out.to_str().unwrap(),
        ])
        .await
        .ok();
        assert_eq!(&std::fs::read(&out).unwrap(), content);
    }
    // The gzipped dataset travelled as stored and still restores to the original.
    sb.run_async(&["--profile", "team", "restore", "dataset", "ds.json"])
        .await
        .ok();
    assert_eq!(std::fs::read(sb.work("ds.json")).unwrap(), dataset);

    // And back, into another SeaweedFS bucket, deleting each verified source.
    let home = sb
        .run_async(&[
            "--json",
            "migrate",
            "--from",
            "team",
            "--to",
            "seaweed",
            "--to-bucket",
            &back,
            "--delete-source",
        ])
        .await
        .ok()
        .json();
    assert_eq!(summary(&home, "copied"), 4, "{home}");
    assert_eq!(summary(&home, "source_deleted"), 4, "{home}");
    assert_eq!(locations_on(&sb, "team"), 0);
    assert_eq!(locations_on(&sb, "seaweed"), 8);
    let left = sb
        .run_async(&["--json", "--profile", "team", "ls", "-r", &bucket])
        .await
        .ok()
        .json();
    assert_eq!(left["entries"].as_array().unwrap().len(), 0, "{left}");
    for (_, key, content) in &files {
        let out = sb.work(&format!("back-{}", key.replace('/', "_")));
        sb.run_async(&["get", &format!("{back}/{key}"), out.to_str().unwrap()])
            .await
            .ok();
        assert_eq!(&std::fs::read(&out).unwrap(), content);
    }
    server.shutdown().await;
}

/// Local folder → SeaweedFS streams; SeaweedFS bucket → bucket on the same server is a
/// server-side copy: no byte through this machine and no transfer recorded.
#[test]
fn migrate_local_to_s3_then_server_side_between_buckets() {
    let endpoint = s3_endpoint();
    let sb = s3_sandbox();
    let (bucket, other) = (unique("mig-l"), unique("mig-c"));
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone(), other.clone()],
    };
    let disk = sb.path("disk");
    write_setup(
        &sb,
        &Setup {
            seaweed: &endpoint,
            team: None,
            disk: Some(&disk),
            primary: "disk",
            secondary: None,
            bucket: &bucket,
            extra: "",
        },
    );
    let files = project(&sb, 2, 400_000);
    sb.run(&["sync", ".beast-mode"]).ok();
    assert_eq!(locations_on(&sb, "disk"), 2);

    let up = sb
        .run(&["--json", "migrate", "--from", "disk", "--to", "seaweed"])
        .ok()
        .json();
    assert_eq!(summary(&up, "copied"), 2, "{up}");
    assert!(items(&up)
        .iter()
        .all(|i| i["method"] == "streamed" && i["verified"] == true));
    assert_eq!(summary(&up, "bytes_moved"), 800_000);
    // The local source is untouched without --delete-source.
    for (_, key, content) in &files {
        assert_eq!(
            &std::fs::read(disk.join(&bucket).join(key)).unwrap(),
            content
        );
    }

    let before = transfers(&sb);
    let copy = sb
        .run(&[
            "--json",
            "migrate",
            "--from",
            "seaweed",
            "--to",
            "seaweed",
            "--to-bucket",
            &other,
        ])
        .ok()
        .json();
    assert_eq!(summary(&copy, "copied"), 2, "{copy}");
    assert!(
        items(&copy)
            .iter()
            .all(|i| i["method"] == "server_copy" && i["bytes_moved"] == 0),
        "{copy}"
    );
    assert_eq!(
        transfers(&sb),
        before,
        "a server-side copy moves no bytes here"
    );
    for (_, key, content) in &files {
        let out = sb.work(&format!("c-{}", key.replace('/', "_")));
        sb.run(&[
            "--profile",
            "seaweed",
            "get",
            &format!("{other}/{key}"),
            out.to_str().unwrap(),
        ])
        .ok();
        assert_eq!(&std::fs::read(&out).unwrap(), content);
    }
    // Same profile, same bucket: refused as a usage error.
    sb.run(&["migrate", "--from", "seaweed", "--to", "seaweed"])
        .code(2);
    // An unknown profile names the known ones.
    let run = sb
        .run(&["migrate", "--from", "nope", "--to", "seaweed"])
        .code(2);
    assert!(
        run.stderr.contains("`disk`") && run.stderr.contains("`seaweed`"),
        "{run:?}"
    );
}

/// --delete-source deletes only sources whose copy verified: a target that already holds
/// different content refuses that one object, and its source survives.
#[test]
fn delete_source_keeps_what_did_not_verify() {
    let endpoint = s3_endpoint();
    let sb = s3_sandbox();
    let bucket = unique("mig-d");
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone()],
    };
    let disk = sb.path("disk");
    write_setup(
        &sb,
        &Setup {
            seaweed: &endpoint,
            team: None,
            disk: Some(&disk),
            primary: "disk",
            secondary: None,
            bucket: &bucket,
            extra: "",
        },
    );
    let files = project(&sb, 2, 200_000);
    sb.run(&["sync", ".beast-mode"]).ok();
    // Someone else's different object already sits where modelb would go.
    sb.run(&["--profile", "seaweed", "buckets", "create", &bucket])
        .ok();
    std::fs::write(sb.work("other.bin"), data(1234, 9)).unwrap();
    Run::from(
        elsewhere(
            &sb,
            &[
                "--profile",
                "seaweed",
                "put",
                "other.bin",
                &format!("{bucket}/models/modelb-v1.pt"),
            ],
        )
        .output()
        .unwrap(),
    )
    .ok();

    let run = sb.run(&[
        "--json",
        "migrate",
        "--from",
        "disk",
        "--to",
        "seaweed",
        "--delete-source",
    ]);
    assert_eq!(run.code, 4, "{run:?}");
    let doc = run.json();
    assert_eq!(summary(&doc, "source_deleted"), 1, "{doc}");
    assert_eq!(summary(&doc, "failed"), 1, "{doc}");
    assert!(
        run.stderr.contains("different object is already there"),
        "{run:?}"
    );
    assert!(run.stderr.contains("source is kept"), "{run:?}");
    // modela moved; modelb's source is still there, and still catalogued on disk.
    assert!(!disk.join(&bucket).join(&files[0].1).exists());
    assert_eq!(
        std::fs::read(disk.join(&bucket).join(&files[1].1)).unwrap(),
        files[1].2
    );
    assert_eq!(locations_on(&sb, "disk"), 1);
    assert_eq!(locations_on(&sb, "seaweed"), 1);
    // The foreign object was not replaced.
    sb.run(&[
        "--profile",
        "seaweed",
        "get",
        &format!("{bucket}/models/modelb-v1.pt"),
        "theirs.bin",
    ])
    .ok();
    assert_eq!(std::fs::read(sb.work("theirs.bin")).unwrap(), data(1234, 9));
}

/// `kill -9` in the middle of a migration of multipart objects, at several points, each with a
/// part upload in flight; every rerun goes on from the parts SeaweedFS already holds, the last
/// one completes without copying anything twice, and every object read back matches its
/// SHA-256. Nothing counts before it verifies, and the sources stay until then.
#[test]
fn interrupted_migration_resumes_without_copying_twice() {
    let endpoint = s3_endpoint();
    let sb = s3_sandbox();
    let bucket = unique("mig-k");
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone()],
    };
    let disk = sb.path("disk");
    write_setup(
        &sb,
        &Setup {
            seaweed: &endpoint,
            team: None,
            disk: Some(&disk),
            primary: "disk",
            secondary: None,
            bucket: &bucket,
            extra: "",
        },
    );
    // Objects above the 16 MiB multipart threshold in 5 MiB parts, one part at a time, so a
    // kill lands in the middle of an upload.
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&config.replace(
        "path_style = true\n",
        "path_style = true\npart_size = 5242880\nconcurrency = 1\n",
    ));
    let n = 6;
    let size = 18 << 20;
    let files = project(&sb, n, size);
    sb.run(&["sync", ".beast-mode"]).ok();
    assert_eq!(locations_on(&sb, "disk"), n as i64);
    let resume_dir = sb.path("data/resume/s3");

    // Killed with the first object's upload under way, then with the third's, then the
    // fifth's: each time at least one part of an unfinished object is stored.
    let mut recorded = 0;
    for kill_at in [0, 2, 4] {
        let mut child = sb
            .command(&[
                "migrate",
                "--from",
                "disk",
                "--to",
                "seaweed",
                "--concurrency",
                "1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let done_at_kill = loop {
            let done = if std::fs::metadata(sb.path("data/catalog.sqlite3")).is_ok() {
                catalog(&sb)
                    .query_row(
                        "SELECT COUNT(*) FROM locations WHERE profile = 'seaweed'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .unwrap_or(0)
            } else {
                0
            };
            let parts = common::stored_parts(&resume_dir);
            if done >= kill_at && (1..4).contains(&parts) {
                child.kill().unwrap(); // SIGKILL: no cleanup runs
                break done;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the migration ended ({status}) before it could be killed at {kill_at}");
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("no upload was under way after {kill_at} objects within 120 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        child.wait().unwrap();
        let now = locations_on(&sb, "seaweed");
        assert!(
            now >= done_at_kill && now >= recorded && now < n as i64,
            "killed at {kill_at}: {now} of {n} recorded (before: {recorded})"
        );
        assert!(
            common::stored_parts(&resume_dir) >= 1,
            "killed at {kill_at}: the interrupted upload's parts are on record"
        );
        if kill_at == 0 {
            assert_eq!(now, 0, "nothing counts before it verifies");
        }
        recorded = now;
    }
    // Every source is still there, untouched.
    for (_, key, content) in &files {
        assert_eq!(
            sha(&std::fs::read(disk.join(&bucket).join(key)).unwrap()),
            sha(content)
        );
    }

    let rerun = sb
        .run(&[
            "--json",
            "migrate",
            "--from",
            "disk",
            "--to",
            "seaweed",
            "--delete-source",
        ])
        .ok()
        .json();
    let (copied, skipped) = (summary(&rerun, "copied"), summary(&rerun, "skipped"));
    assert_eq!(copied + skipped, n as u64, "{rerun}");
    assert!(
        skipped >= recorded as u64,
        "verified copies are not made again: {rerun}"
    );
    let resumed: Vec<u64> = items(&rerun)
        .iter()
        .filter_map(|i| i["resumed_from"].as_u64())
        .filter(|&r| r > 0)
        .collect();
    assert_eq!(resumed.len(), 1, "the upload killed last goes on: {rerun}");
    assert!(((5 << 20)..size as u64).contains(&resumed[0]), "{rerun}");
    for i in items(&rerun) {
        if i["action"] == "skipped" {
            assert_eq!(i["bytes_moved"], 0, "{i}");
        }
    }
    assert_eq!(locations_on(&sb, "seaweed"), n as i64);
    assert_eq!(locations_on(&sb, "disk"), 0, "{rerun}");
    // Every object on SeaweedFS matches its source, byte for byte by SHA-256.
    let check = sb
        .run(&["--json", "--profile", "seaweed", "verify"])
        .ok()
        .json();
    assert_eq!(check["checked"], n, "{check}");
    assert_eq!(check["ok"], n, "{check}");
    for (_, key, content) in &files {
        assert!(!disk.join(&bucket).join(key).exists(), "{key} moved");
        let out = sb.work("check.bin");
        let _ = std::fs::remove_file(&out);
        sb.run(&[
            "--profile",
            "seaweed",
            "get",
            &format!("{bucket}/{key}"),
            out.to_str().unwrap(),
        ])
        .ok();
        assert_eq!(sha(&std::fs::read(&out).unwrap()), sha(content));
    }
    // Nothing staged or half-uploaded is left behind.
    for dir in ["data/migrate", "data/resume/s3"] {
        let left: Vec<_> = std::fs::read_dir(sb.path(dir))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
}

/// verify reports missing, different and extra objects (exit 7); --fix re-copies the missing
/// and different ones from the other copy; extras stay and are only reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_problems_and_fix_repairs_them() {
    let (_server_dir, server) = contract_server().await;
    let endpoint = s3_endpoint();
    let mut sb = s3_sandbox();
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    let bucket = unique("ver");
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone()],
    };
    write_setup(
        &sb,
        &Setup {
            seaweed: &endpoint,
            team: Some(&server.url),
            disk: None,
            primary: "seaweed",
            secondary: Some("team"),
            bucket: &bucket,
            extra: "",
        },
    );
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let files = project(&sb, 3, 100_000);
    sb.run_async(&["sync", ".beast-mode"]).await.ok();
    sb.run_async(&["migrate", "--from", "seaweed", "--to", "team"])
        .await
        .ok();
    let clean = sb.run_async(&["--json", "verify"]).await.ok().json();
    assert_eq!(
        (clean["checked"].as_u64(), clean["ok"].as_u64()),
        (Some(6), Some(6))
    );

    // Break the Supabase copies: one deleted, one replaced, one foreign object added.
    elsewhere_async(
        &sb,
        &[
            "--profile",
            "team",
            "rm",
            &format!("{bucket}/{}", files[0].1),
        ],
    )
    .await
    .ok();
    std::fs::write(sb.work("junk.bin"), data(5000, 77)).unwrap();
    elsewhere_async(
        &sb,
        &[
            "--profile",
            "team",
            "put",
            "--overwrite",
            "junk.bin",
            &format!("{bucket}/{}", files[1].1),
        ],
    )
    .await
    .ok();
    elsewhere_async(
        &sb,
        &[
            "--profile",
            "team",
            "put",
            "junk.bin",
            &format!("{bucket}/models/stray.bin"),
        ],
    )
    .await
    .ok();

    let run = sb.run_async(&["--json", "verify"]).await.code(7);
    let doc = run.json();
    let kinds = |doc: &Value| -> Vec<(String, String, bool)> {
        let mut k: Vec<_> = doc["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["kind"].as_str().unwrap().to_string(),
                    p["key"].as_str().unwrap().to_string(),
                    p["fixed"].as_bool().unwrap(),
                )
            })
            .collect();
        k.sort();
        k
    };
    assert_eq!(
        kinds(&doc),
        vec![
            ("different".into(), files[1].1.clone(), false),
            ("extra".into(), "models/stray.bin".into(), false),
            ("missing".into(), files[0].1.clone(), false),
        ],
        "{doc}"
    );
    assert!(doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["profile"] == "team"));
    assert!(run.stderr.contains("verify --fix"), "{run:?}");

    // A dry run of the fix names the source and repairs nothing.
    sb.run_async(&["--json", "--dry-run", "verify", "--fix"])
        .await
        .code(7);
    let fixed = sb
        .run_async(&["--json", "verify", "--fix"])
        .await
        .ok()
        .json();
    assert_eq!(fixed["fixed"], 2, "{fixed}");
    assert_eq!(
        kinds(&fixed),
        vec![
            ("different".into(), files[1].1.clone(), true),
            ("extra".into(), "models/stray.bin".into(), false),
            ("missing".into(), files[0].1.clone(), true),
        ]
    );
    for (_, key, content) in &files[..2] {
        let out = sb.work(&format!("fixed-{}", key.replace('/', "_")));
        sb.run_async(&[
            "--profile",
            "team",
            "get",
            &format!("{bucket}/{key}"),
            out.to_str().unwrap(),
        ])
        .await
        .ok();
        assert_eq!(&std::fs::read(&out).unwrap(), content);
    }
    // Only the extra object is left, and it is still there.
    let after = sb.run_async(&["--json", "verify"]).await.code(7).json();
    assert_eq!(
        kinds(&after),
        vec![("extra".into(), "models/stray.bin".into(), false)]
    );
    sb.run_async(&[
        "--profile",
        "team",
        "rm",
        &format!("{bucket}/models/stray.bin"),
    ])
    .await
    .ok();
    sb.run_async(&["verify"]).await.ok();
    server.shutdown().await;
}

fn cache_entries(sb: &Sandbox) -> Vec<Value> {
    sb.run(&["--json", "cache", "ls"]).ok().json()["entries"]
        .as_array()
        .unwrap()
        .clone()
}

/// A cached version is served with the provider unreachable; a corrupt entry is never served
/// but fetched again; `get` of a catalogued object uses the cache too.
#[test]
fn cache_serves_without_network_and_refetches_corrupt_entries() {
    let endpoint = s3_endpoint();
    let sb = s3_sandbox();
    let bucket = unique("cache");
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone()],
    };
    let live = |seaweed: &str| {
        write_setup(
            &sb,
            &Setup {
                seaweed,
                team: None,
                disk: None,
                primary: "seaweed",
                secondary: None,
                bucket: &bucket,
                extra: "",
            },
        )
    };
    live(&endpoint);
    sb.run(&["buckets", "create", &bucket]).ok();
    let files = project(&sb, 1, 250_000);
    let dataset = gz_dataset(&sb);
    sb.run(&["sync", ".beast-mode"]).ok();

    let first = sb
        .run(&["--json", "restore", "modela", "a1.pt"])
        .ok()
        .json();
    assert_eq!(first["source"], "primary", "{first}");
    let ds = sb
        .run(&["--json", "restore", "dataset", "d1.json"])
        .ok()
        .json();
    assert_eq!(ds["source"], "primary", "{ds}");
    let entries = cache_entries(&sb);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().any(|e| e["sha256"] == sha(&files[0].2)));
    // The gzipped dataset is cached as restored: decompressed, under its original SHA-256.
    assert!(entries.iter().any(|e| e["sha256"] == sha(&dataset)));

    // The provider goes away: reads still succeed, from the cache.
    live(DEAD);
    let hit = sb
        .run(&["--json", "restore", "modela", "a2.pt"])
        .ok()
        .json();
    assert_eq!(hit["source"], "cache", "{hit}");
    assert_eq!(std::fs::read(sb.work("a2.pt")).unwrap(), files[0].2);
    sb.run(&["restore", "dataset", "d2.json"]).ok();
    assert_eq!(std::fs::read(sb.work("d2.json")).unwrap(), dataset);
    let got = sb
        .run(&["get", &format!("{bucket}/models/modela-v1.pt"), "g.pt"])
        .ok();
    assert!(
        got.stderr.contains("served from the local cache"),
        "{got:?}"
    );
    assert_eq!(std::fs::read(sb.work("g.pt")).unwrap(), files[0].2);
    // An uncatalogued object still needs the provider.
    sb.run(&["get", &format!("{bucket}/models/none.pt"), "n.pt"])
        .code(6);

    // Corrupt the cached model: it is not served (no provider: the restore fails, and writes
    // nothing), then fetched again when the provider is back.
    let blob = sb
        .path("cache/blobs")
        .join(&sha(&files[0].2)[..2])
        .join(sha(&files[0].2));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let run = sb.run(&["restore", "modela", "a3.pt"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(!sb.work("a3.pt").exists());
    live(&endpoint);
    let again = sb
        .run(&["--json", "restore", "modela", "a3.pt"])
        .ok()
        .json();
    assert_eq!(again["source"], "primary", "{again}");
    assert_eq!(std::fs::read(sb.work("a3.pt")).unwrap(), files[0].2);
    assert_eq!(
        std::fs::read(&blob).unwrap(),
        files[0].2,
        "the entry was fetched again"
    );

    // cache clean --all --dry-run removes nothing; without --dry-run everything.
    let planned = sb
        .run(&["--json", "--dry-run", "cache", "clean", "--all"])
        .ok()
        .json();
    assert_eq!(planned["removed"].as_array().unwrap().len(), 2);
    assert_eq!(cache_entries(&sb).len(), 2);
    sb.run(&["cache", "clean", "--all"]).ok();
    assert!(cache_entries(&sb).is_empty());
}

/// `[cache] max_size` evicts the least recently used entry first; `ttl` expires entries.
#[test]
fn cache_size_cap_and_ttl_from_config() {
    let endpoint = s3_endpoint();
    let sb = s3_sandbox();
    let bucket = unique("cachecap");
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone()],
    };
    let setup = |extra: &str| {
        write_setup(
            &sb,
            &Setup {
                seaweed: &endpoint,
                team: None,
                disk: None,
                primary: "seaweed",
                secondary: None,
                bucket: &bucket,
                extra,
            },
        )
    };
    setup("\n[cache]\nmax_size = \"700KB\"\n");
    sb.run(&["buckets", "create", &bucket]).ok();
    let files = project(&sb, 3, 300_000);
    sb.run(&["sync", ".beast-mode"]).ok();
    sb.run(&["restore", "modela", "a.pt"]).ok();
    sb.run(&["restore", "modelb", "b.pt"]).ok();
    // Using modela makes modelb the least recently used.
    let hit = sb
        .run(&["--json", "restore", "modela", "a2.pt"])
        .ok()
        .json();
    assert_eq!(hit["source"], "cache");
    sb.run(&["restore", "modelc", "c.pt"]).ok();
    let held: Vec<String> = cache_entries(&sb)
        .iter()
        .map(|e| e["sha256"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held.contains(&sha(&files[0].2)) && held.contains(&sha(&files[2].2)));
    assert!(
        !held.contains(&sha(&files[1].2)),
        "the LRU entry went first"
    );
    let ls = sb.run(&["--json", "cache", "ls"]).ok().json();
    assert_eq!(ls["max_size"], 700_000);
    assert_eq!(ls["total"], 600_000);

    // A one-second TTL: after two seconds unused, entries are expired and not served.
    setup("\n[cache]\nttl = \"1s\"\n");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let entries = cache_entries(&sb);
    assert!(entries.iter().all(|e| e["expired"] == true), "{entries:?}");
    let planned = sb
        .run(&["--json", "--dry-run", "cache", "clean", "--expired"])
        .ok()
        .json();
    assert_eq!(planned["removed"].as_array().unwrap().len(), 2, "{planned}");
    assert_eq!(cache_entries(&sb).len(), 2, "a dry run removes nothing");
    let miss = sb
        .run(&["--json", "restore", "modela", "a3.pt"])
        .ok()
        .json();
    assert_eq!(miss["source"], "primary", "{miss}");
    // Storing modela again evicted the expired modelc. With a TTL of an hour, modela is
    // fresh however slowly the next commands start.
    setup("\n[cache]\nttl = \"1h\"\n");
    let left = cache_entries(&sb);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["sha256"], sha(&files[0].2));
    assert_eq!(left[0]["expired"], false);
    let cleaned = sb
        .run(&["--json", "cache", "clean", "--expired"])
        .ok()
        .json();
    assert_eq!(cleaned["removed"].as_array().unwrap().len(), 0, "{cleaned}");
}

/// The primary down (dead endpoint) or lacking the object: reads come from the secondary
/// with a warning naming the provider, and `url` signs from the secondary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fall_back_to_the_secondary() {
    let (_server_dir, server) = contract_server().await;
    let endpoint = s3_endpoint();
    let mut sb = s3_sandbox();
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    let bucket = unique("fall");
    let _cleanup = SeaweedBuckets {
        sb_endpoint: endpoint.clone(),
        names: vec![bucket.clone()],
    };
    let setup = |seaweed: &str| {
        write_setup(
            &sb,
            &Setup {
                seaweed,
                team: Some(&server.url),
                disk: None,
                primary: "seaweed",
                secondary: Some("team"),
                bucket: &bucket,
                extra: "\n[cache]\nmax_size = \"1B\"\n",
            },
        )
    };
    setup(&endpoint);
    sb.run_async(&["buckets", "create", &bucket]).await.ok();
    let files = project(&sb, 2, 200_000);
    sb.run_async(&["sync", ".beast-mode"]).await.ok();
    sb.run_async(&["migrate", "--from", "seaweed", "--to", "team"])
        .await
        .ok();

    // Primary unreachable.
    setup(DEAD);
    let run = sb
        .run_async(&["--json", "restore", "modela", "a.pt"])
        .await
        .ok();
    let doc = run.json();
    assert_eq!(doc["source"], "secondary", "{doc}");
    assert!(doc["from"].as_str().unwrap().starts_with("team:"), "{doc}");
    assert!(
        run.stderr
            .contains("primary `seaweed` (s3 (127.0.0.1:9)) failed"),
        "the warning names the profile and provider: {run:?}"
    );
    assert_eq!(std::fs::read(sb.work("a.pt")).unwrap(), files[0].2);

    // Primary up but without the object.
    setup(&endpoint);
    elsewhere_async(&sb, &["rm", &format!("{bucket}/{}", files[1].1)])
        .await
        .ok();
    let run = sb
        .run_async(&["--json", "restore", "modelb", "b.pt"])
        .await
        .ok();
    assert_eq!(run.json()["source"], "secondary", "{run:?}");
    assert!(run.stderr.contains("seaweed"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("b.pt")).unwrap(), files[1].2);
    // `get` of the catalogued key falls back the same way.
    let got = sb
        .run_async(&["get", &format!("{bucket}/{}", files[1].1), "bg.pt"])
        .await
        .ok();
    assert!(got.stderr.contains("trying the next copy"), "{got:?}");
    assert_eq!(std::fs::read(sb.work("bg.pt")).unwrap(), files[1].2);

    // url: the primary holds modela, so it signs; it lacks modelb, so the secondary signs.
    let a = sb
        .run_async(&["--json", "url", &format!("{bucket}/{}", files[0].1)])
        .await
        .ok()
        .json();
    assert_eq!(
        (a["source"].as_str(), a["profile"].as_str()),
        (Some("primary"), Some("seaweed"))
    );
    let b = sb
        .run_async(&["--json", "url", &format!("{bucket}/{}", files[1].1)])
        .await
        .ok()
        .json();
    assert_eq!(
        (b["source"].as_str(), b["profile"].as_str()),
        (Some("secondary"), Some("team"))
    );
    // Even with every log on, the service-role key appears nowhere in a fallback read.
    setup(DEAD);
    let mut cmd = sb.command(&["restore", "--force", "modela", "a.pt"]);
    cmd.env("STOWAGE_LOG", "trace");
    let traced: Run = tokio::process::Command::from(cmd)
        .output()
        .await
        .unwrap()
        .into();
    let traced = traced.ok();
    let key = &server.service_role_key;
    assert!(!traced.stdout.contains(key.as_str()) && !traced.stderr.contains(key.as_str()));
    let signature = key.rsplit('.').next().unwrap();
    assert!(!traced.stderr.contains(signature), "{traced:?}");
    setup(&endpoint);
    let link = b["url"].as_str().unwrap();
    assert!(link.starts_with(&server.url), "{link}");
    let body = reqwest::get(link).await.unwrap().bytes().await.unwrap();
    assert_eq!(body.as_ref(), files[1].2.as_slice());
    server.shutdown().await;
}
