//! The catalog tells the truth: whatever command wrote, moved or deleted an object, the
//! catalog's locations equal what the providers hold (key and SHA-256), no two files share
//! a version, folders are kept, policy edits are honoured and versions are found by either
//! spelling. Through the binary, on the local store and SeaweedFS.

mod common;

use std::collections::BTreeSet;

use common::proxy::{Fault, Proxy};
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The catalog's locations in `bucket`: (key, SHA-256).
fn catalogued(sb: &Sandbox, bucket: &str) -> BTreeSet<(String, String)> {
    let db = rusqlite::Connection::open(sb.path("data/catalog.sqlite3")).unwrap();
    let rows = db
        .prepare("SELECT key, sha256 FROM locations WHERE bucket = ?1")
        .unwrap()
        .query_map([bucket], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

/// What the provider holds in `bucket`: (key, SHA-256 of the bytes read back).
fn held(sb: &Sandbox, bucket: &str) -> BTreeSet<(String, String)> {
    let doc = sb.run(&["--json", "ls", "--recursive", bucket]).ok().json();
    let mut out = BTreeSet::new();
    for e in doc["entries"].as_array().unwrap() {
        if e["kind"] != "object" {
            continue;
        }
        let key = e["name"].as_str().unwrap().to_string();
        let dest = sb.path("work/.check");
        let _ = std::fs::remove_file(&dest);
        sb.run(&[
            "get",
            "--raw",
            "--force",
            &format!("{bucket}/{key}"),
            dest.to_str().unwrap(),
        ])
        .ok();
        out.insert((key, sha(&std::fs::read(&dest).unwrap())));
    }
    out
}

#[track_caller]
fn assert_true(sb: &Sandbox, bucket: &str) {
    assert_eq!(catalogued(sb, bucket), held(sb, bucket));
}

fn versions(sb: &Sandbox, spec: &str) -> Vec<Value> {
    sb.run(&["--json", "versions", spec]).ok().json()["versions"]
        .as_array()
        .unwrap()
        .clone()
}

/// put, put --archive, cp, mv, rm and rm --version, then verify (and verify --fix, which
/// must never bring a moved object back).
fn object_commands_keep_the_catalog_true(sb: &Sandbox, bucket: &str) {
    let v1 = data(40_000, 1);
    std::fs::write(sb.work("model-q-v1.pt"), &v1).unwrap();
    let dest = format!("{bucket}/models/");
    sb.run(&["put", "model-q-v1.pt", &dest]).ok();
    let vs = versions(sb, "model-q");
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0]["version"], "v1");
    assert_eq!(vs[0]["sha256"], sha(&v1));
    assert_eq!(vs[0]["artifact"], "models/model-q.pt");
    assert_eq!(vs[0]["locations"][0]["key"], "models/model-q-v1.pt");
    assert_true(sb, bucket);
    let doc = sb.run(&["--json", "verify"]).ok().json();
    assert_eq!(
        (doc["checked"].as_u64(), doc["ok"].as_u64()),
        (Some(1), Some(1))
    );

    // A copy is a second location of the same version; a move moves its location.
    sb.run(&[
        "cp",
        &format!("{bucket}/models/model-q-v1.pt"),
        &format!("{bucket}/backup/"),
    ])
    .ok();
    sb.run(&[
        "mv",
        &format!("{bucket}/backup/model-q-v1.pt"),
        &format!("{bucket}/moved/model-q-v1.pt"),
    ])
    .ok();
    let vs = versions(sb, "model-q");
    let keys: BTreeSet<&str> = vs[0]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["models/model-q-v1.pt", "moved/model-q-v1.pt"])
    );
    assert_true(sb, bucket);
    let doc = sb.run(&["--json", "verify", "--fix"]).ok().json();
    assert_eq!(doc["checked"], 2, "{doc}");
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0, "{doc}");
    assert!(!held(sb, bucket)
        .iter()
        .any(|(k, _)| k.starts_with("backup/")));

    // New content under the same name replaces the object and is version `v1+2`; `v1`
    // keeps its copy in moved/.
    let v1b = data(41_000, 2);
    std::fs::write(sb.work("model-q-v1.pt"), &v1b).unwrap();
    sb.run(&["put", "--overwrite", "model-q-v1.pt", &dest]).ok();
    let vs = versions(sb, "model-q");
    let tags: Vec<&str> = vs.iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v1+2", "v1"]);
    assert_true(sb, bucket);

    // rm forgets the location; removing a version's last copy forgets the version.
    sb.run(&["rm", &format!("{bucket}/moved/model-q-v1.pt")])
        .ok();
    let vs = versions(sb, "model-q");
    let tags: Vec<&str> = vs.iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(tags, ["v1+2"], "{vs:?}");
    assert_true(sb, bucket);

    // A folder as one archive is recorded like any object.
    std::fs::create_dir_all(sb.work("run-7")).unwrap();
    std::fs::write(sb.work("run-7/a.txt"), b"alpha").unwrap();
    sb.run(&["put", "--archive", "run-7", &format!("{bucket}/runs/")])
        .ok();
    let vs = versions(sb, "run-7");
    assert_eq!(vs[0]["locations"][0]["key"], "runs/run-7.tar.gz");
    assert_true(sb, bucket);

    // Deleting a version removes its objects and its row together; a dry run neither.
    sb.run(&["--dry-run", "rm", "--version", "model-q@v1+2"])
        .ok();
    assert_eq!(versions(sb, "model-q").len(), 1);
    assert!(held(sb, bucket)
        .iter()
        .any(|(k, _)| k == "models/model-q-v1.pt"));
    let run = sb.run(&["rm", "--version", "model-q@v1+2"]).ok();
    assert!(
        run.stdout.contains("deleted models/model-q.pt@v1+2"),
        "{run:?}"
    );
    sb.run(&["versions", "model-q"]).code(3);
    assert!(!held(sb, bucket)
        .iter()
        .any(|(k, _)| k == "models/model-q-v1.pt"));
    sb.run(&["rm", "--version", "model-q"]).code(2);
    assert_true(sb, bucket);
    let doc = sb.run(&["--json", "verify"]).ok().json();
    assert_eq!(doc["problems"].as_array().unwrap().len(), 0, "{doc}");
}

#[test]
fn object_commands_keep_the_catalog_true_on_the_local_store() {
    let sb = Sandbox::new();
    object_commands_keep_the_catalog_true(&sb, "lab");
}

#[tokio::test]
async fn object_commands_keep_the_catalog_true_on_seaweedfs() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-truth");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    object_commands_keep_the_catalog_true(&sb, &bucket);

    // What `put` wrote is read through the catalog: restored once from the provider, then
    // from the local cache while the provider is unreachable.
    let body = data(25_000, 9);
    std::fs::write(sb.work("weights-v3.pt"), &body).unwrap();
    sb.run(&["put", "weights-v3.pt", &format!("{bucket}/models/")])
        .ok();
    let first = sb
        .run(&["--json", "restore", "weights@3", "w1.pt"])
        .ok()
        .json();
    assert_eq!(first["source"], "primary", "{first}");
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&config.replace(&s3_endpoint(), "http://127.0.0.1:9"));
    let offline = sb
        .run(&["--json", "restore", "weights@v3", "w2.pt"])
        .ok()
        .json();
    assert_eq!(offline["source"], "cache", "{offline}");
    assert_eq!(std::fs::read(sb.work("w2.pt")).unwrap(), body);
    sb.write_config(&config);
}

/// `rm -r` refused part of the way (the server refuses the second batch of deletes, of at
/// most 1,000 keys each): the objects it removed leave the catalog, the ones still held stay,
/// and the error counts what failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_refused_part_of_the_way_records_exactly_what_was_removed() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-rm-part");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    sync_config(&sb, &bucket, "seaweed");
    let dir = sb.work("proj/runs");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..1003 {
        std::fs::write(dir.join(format!("sample{i:04}x.py")), data(3_000, i)).unwrap();
    }
    std::fs::write(
        sb.path("config/policy.toml"),
        "[[rule]]\nname = \"all\"\npatterns = [\"*\"]\ndestination = \"primary\"\n",
    )
    .unwrap();
    sb.run(&["sync", "proj"]).ok();
    let before = catalogued(&sb, &bucket);
    assert_eq!(before.len(), 1003);
    let first = &before.iter().next().unwrap().0;
    let folder = &first[..first.rfind('/').unwrap()];

    let proxy = Proxy::start(
        &s3_endpoint(),
        Fault::Refuse {
            request: "?delete",
            pass: 1,
            status: 403,
            code: "AccessDenied",
        },
    )
    .await;
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&config.replace(&s3_endpoint(), &proxy.url));
    let run = sb
        .run_async(&["rm", "-r", &format!("{bucket}/{folder}")])
        .await
        .code(5);
    assert!(run.stderr.contains("3 of 1003 failed"), "{run:?}");
    sb.write_config(&config);

    let after = catalogued(&sb, &bucket);
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(after.is_subset(&before));
    assert_true(&sb, &bucket);
    let doc = sb.run(&["--json", "verify"]).ok().json();
    assert_eq!(doc["checked"], 3, "{doc}");
}

/// `migrate` records what it copies; a default migrate sees objects `put` wrote.
#[test]
fn migrate_copies_what_put_recorded_and_records_it() {
    let sb = Sandbox::new();
    sb.write_config(&format!(
        "[profiles.a]\nkind = \"local\"\nroot = \"{}\"\n\n[profiles.b]\nkind = \"local\"\nroot = \"{}\"\n",
        sb.path("a").display(),
        sb.path("b").display()
    ));
    let body = data(30_000, 5);
    std::fs::write(sb.work("train.csv"), &body).unwrap();
    sb.run(&["--profile", "a", "put", "train.csv", "lab/data/"])
        .ok();
    let doc = sb
        .run(&["--json", "migrate", "--from", "a", "--to", "b"])
        .ok()
        .json();
    assert_eq!(doc["migrated"].as_array().map(Vec::len), Some(1), "{doc}");
    let vs = versions(&sb, "train");
    let profiles: BTreeSet<&str> = vs[0]["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, BTreeSet::from(["a", "b"]), "{vs:?}");
    assert_eq!(
        std::fs::read(sb.path("b/lab/data/train.csv")).unwrap(),
        body
    );
    let doc = sb.run(&["--json", "verify"]).ok().json();
    assert_eq!(
        (doc["checked"].as_u64(), doc["ok"].as_u64()),
        (Some(2), Some(2))
    );

    // An object another tool wrote: copied with --all-objects, verified, and then recorded
    // (both copies), so later commands see it.
    let other = data(12_000, 6);
    std::fs::write(sb.path("a/lab/data/extra-v2.bin"), &other).unwrap();
    sb.run(&[
        "migrate",
        "--from",
        "a",
        "--to",
        "b",
        "--all-objects",
        "--bucket",
        "lab",
    ])
    .ok();
    let vs = versions(&sb, "extra");
    assert_eq!(vs[0]["version"], "v2", "{vs:?}");
    assert_eq!(vs[0]["sha256"], sha(&other));
    assert_eq!(vs[0]["locations"].as_array().unwrap().len(), 2, "{vs:?}");
    let doc = sb.run(&["--json", "verify"]).ok().json();
    assert_eq!(doc["ok"], 4, "{doc}");
}

fn sync_config(sb: &Sandbox, bucket: &str, profile: &str) {
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap_or_default();
    sb.write_config(&format!(
        "{config}\n[sync]\nprimary = \"{profile}\"\nbucket = \"{bucket}\"\n"
    ));
}

/// Two files of one name in two folders are two artifacts with two keys; a model and its
/// results sharing a timestamp are too; an ambiguous family names the candidates.
fn sync_keeps_folders(sb: &Sandbox, bucket: &str) {
    let root = sb.work("proj");
    for (dir, seed) in [("gen-001", 1), ("gen-002", 2)] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        std::fs::write(root.join(dir).join("main.py"), data(3_000, seed)).unwrap();
    }
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::create_dir_all(root.join("results")).unwrap();
    std::fs::write(
        root.join("models/model-2026-01-06T20-26-17.pt"),
        data(20_000, 3),
    )
    .unwrap();
    std::fs::write(
        root.join("results/model-2026-01-06T20-26-17.json"),
        br#"{"accuracy": 0.9}"#,
    )
    .unwrap();
    // Training results keyed by session, one timestamped name in each (the seed's
    // `{session_id}/` layout).
    for (session, seed) in [("sess-a", 11), ("sess-b", 12)] {
        std::fs::create_dir_all(root.join(session)).unwrap();
        std::fs::write(
            root.join(session)
                .join("training_results_20251022_130000.json"),
            format!("{{\"accuracy\": 0.{seed}}}"),
        )
        .unwrap();
    }
    std::fs::write(
        sb.path("config/policy.toml"),
        "[[rule]]\nname = \"code\"\npatterns = [\"*.py\"]\ndestination = \"primary\"\nfolder = \"generations/\"\nkind = \"other\"\n\n\
         [[rule]]\nname = \"rest\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"runs/\"\ncompress = false\n",
    )
    .unwrap();
    let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
    assert_eq!(doc["uploaded"], 6, "{doc}");
    for _ in 0..2 {
        let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
        assert_eq!(doc["uploaded"], 0, "{doc}");
    }
    let keys: BTreeSet<String> = catalogued(sb, bucket).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "generations/gen-001/main.py".to_string(),
            "generations/gen-002/main.py".to_string(),
            "runs/models/model-2026-01-06T20-26-17.pt".to_string(),
            "runs/results/model-2026-01-06T20-26-17.json".to_string(),
            "runs/sess-a/training_results_20251022_130000.json".to_string(),
            "runs/sess-b/training_results_20251022_130000.json".to_string(),
        ])
    );
    assert_true(sb, bucket);
    // Each file is version 1 of its own artifact: nothing merged, nothing archived.
    assert_eq!(versions(sb, "main").len(), 2);
    sb.run(&["versions", "main.py"]).code(2);
    sb.run(&["versions", "gen-009/main.py"]).code(3);
    for spec in ["gen-001/main.py", "generations/gen-002/main"] {
        let vs = versions(sb, spec);
        assert_eq!(vs.len(), 1, "{spec}: {vs:?}");
        assert_eq!(vs[0]["version"], "1");
    }
    for session in ["sess-a", "sess-b"] {
        let vs = versions(sb, &format!("{session}/training_results"));
        assert_eq!(vs.len(), 1, "{session}: {vs:?}");
        assert_eq!(vs[0]["version"], "20251022_130000");
    }
    let run = sb.run(&["restore", "main", "out.py"]).code(2);
    assert!(
        run.stderr.contains("generations/gen-001/main.py")
            && run.stderr.contains("generations/gen-002/main.py")
            && run.stderr.contains("name one by its folder"),
        "{run:?}"
    );
    sb.run(&["restore", "gen-002/main.py", "out.py"]).ok();
    // Two names for one version of one artifact: the second file is refused, the rest
    // syncs, and the next run says it again instead of failing every file.
    std::fs::write(root.join("models/model_v1.pt"), data(1_000, 7)).unwrap();
    std::fs::write(root.join("models/model-v1.pt"), data(1_000, 8)).unwrap();
    for _ in 0..2 {
        let run = sb.run(&["--json", "sync", "proj"]).code(2);
        let doc = run.json();
        assert_eq!(doc["sync"]["failed"], 1, "{doc}");
        assert!(run.stderr.contains("rename one"), "{run:?}");
    }
    assert_true(sb, bucket);
    assert_eq!(std::fs::read(sb.work("out.py")).unwrap(), data(3_000, 2));
    let run = sb
        .run(&["restore", "runs/models/model@2026-01-06T20-26-17", "m.pt"])
        .ok();
    assert!(run.stdout.contains("restored"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("m.pt")).unwrap(), data(20_000, 3));
}

#[test]
fn sync_keeps_folders_on_the_local_store() {
    let sb = Sandbox::new();
    sync_config(&sb, "ml-lab", "local");
    sync_keeps_folders(&sb, "ml-lab");
}

#[tokio::test]
async fn sync_keeps_folders_on_seaweedfs() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-folders");
    sync_config(&sb, &bucket, "seaweed");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    sync_keeps_folders(&sb, &bucket);
}

/// A rule edited so that a file already seen goes elsewhere: the next sync stores it there.
#[test]
fn a_policy_edit_replans_files_already_synced() {
    let sb = Sandbox::new();
    sync_config(&sb, "ml-lab", "local");
    let root = sb.work("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("dataset.json"), br#"{"rows": [1, 2, 3]}"#).unwrap();
    let policy = |dest: &str| {
        std::fs::write(
            sb.path("config/policy.toml"),
            format!(
                "[[rule]]\nname = \"data\"\npatterns = [\"dataset.json\"]\ndestination = \"{dest}\"\n{}",
                if dest == "local" {
                    ""
                } else {
                    "folder = \"training-data/\"\ncompress = false\n"
                }
            ),
        )
        .unwrap();
    };
    policy("local");
    let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
    assert_eq!(doc["uploaded"], 0, "{doc}");
    assert_eq!(doc["sync"]["new_versions"], 1, "{doc}");
    sb.run(&["verify"]).ok();
    policy("primary");
    // verify reports the disagreement until the next sync.
    let run = sb.run(&["--json", "verify"]).code(7);
    let changes = run.json()["policy_changes"].clone();
    assert_eq!(changes.as_array().map(Vec::len), Some(1), "{run:?}");
    assert_eq!(
        changes[0]["now"],
        "primary|training-data/dataset.json|as is"
    );
    let plan = sb.run(&["--dry-run", "sync", "proj"]).ok();
    assert!(!plan.stdout.contains("(unchanged)"), "{plan:?}");
    let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    assert!(sb
        .path("data/store/ml-lab/training-data/dataset.json")
        .is_file());
    sb.run(&["verify"]).ok();
    // Content unchanged: still one version, now stored.
    let vs = versions(&sb, "dataset");
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0]["locations"][0]["key"], "training-data/dataset.json");
    // Moved to another folder by the next edit: stored there too, and then unchanged.
    std::fs::write(
        sb.path("config/policy.toml"),
        "[[rule]]\nname = \"data\"\npatterns = [\"dataset.json\"]\ndestination = \"primary\"\nfolder = \"datasets/\"\ncompress = false\n",
    )
    .unwrap();
    // `watch` honours the edit too (here, touched and unchanged in content).
    let f = std::fs::File::options()
        .append(true)
        .open(root.join("dataset.json"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);
    sb.run(&["watch", "proj", "--exit-when-idle"]).ok();
    assert!(sb.path("data/store/ml-lab/datasets/dataset.json").is_file());
    let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
    assert_eq!(doc["uploaded"], 0, "{doc}");
    let vs = versions(&sb, "dataset");
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0]["artifact"], "datasets/dataset.json");
    assert_eq!(vs[0]["locations"].as_array().unwrap().len(), 2, "{vs:?}");
    assert_true(&sb, "ml-lab");
}

/// `@2.1` and `@v2.1` are one version; a pre-release is a version of the same family,
/// ordered before its release.
#[test]
fn versions_take_either_spelling_and_prereleases_join_the_family() {
    let sb = Sandbox::new();
    sync_config(&sb, "ml-lab", "local");
    let root = sb.work("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        sb.path("config/policy.toml"),
        "[[rule]]\nname = \"models\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"models/\"\n",
    )
    .unwrap();
    for (name, seed) in [
        ("credit_risk_v2.1.pkl", 1),
        ("credit_risk_v2.0.0-rc1.pkl", 2),
        ("credit_risk_v2.0.0.pkl", 3),
    ] {
        std::fs::write(root.join(name), data(5_000, seed)).unwrap();
    }
    sb.run(&["sync", "proj"]).ok();
    let tags: Vec<String> = versions(&sb, "credit_risk")
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["v2.1", "v2.0.0", "v2.0.0-rc1"]);
    for spec in ["credit_risk@2.1", "credit_risk@v2.1"] {
        let _ = std::fs::remove_file(sb.work("out.pkl"));
        sb.run(&["restore", spec, "out.pkl"]).ok();
        assert_eq!(std::fs::read(sb.work("out.pkl")).unwrap(), data(5_000, 1));
    }
    let _ = std::fs::remove_file(sb.work("out.pkl"));
    sb.run(&["restore", "credit_risk@2.0.0-rc1", "out.pkl"])
        .ok();
    assert_eq!(std::fs::read(sb.work("out.pkl")).unwrap(), data(5_000, 2));
    sb.run(&["label", "credit_risk@2.0.0", "production"]).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_commands_keep_the_catalog_true_on_the_supabase_contract_server() {
    let (_server_dir, server) = contract_server().await;
    let mut sb = Sandbox::new();
    sb.write_config("default_profile = \"team\"\n[profiles.team]\nkind = \"supabase\"\n");
    sb.env("SUPABASE_URL", &server.url)
        .env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    let bucket = unique("truth");
    // The binary talks to the server this runtime serves: run it off the runtime's threads.
    tokio::task::spawn_blocking(move || {
        sb.run(&["buckets", "create", &bucket]).ok();
        object_commands_keep_the_catalog_true(&sb, &bucket);
    })
    .await
    .unwrap();
}

/// A file gzipped on the way by `put` (a `.gz` key) is recorded as the file it was: the
/// version's content is the original, so `restore` gives back the original bytes.
#[test]
fn a_put_gzipped_by_name_restores_the_original() {
    let sb = Sandbox::new();
    let text: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("{i},row,{}\n", i * 7).into_bytes())
        .collect();
    std::fs::write(sb.work("rows.csv"), &text).unwrap();
    sb.run(&["put", "rows.csv", "lab/data/rows.csv.gz"]).ok();
    let vs = versions(&sb, "data/rows.csv");
    assert_eq!(vs.len(), 1, "{vs:?}");
    assert_eq!(vs[0]["sha256"], sha(&text));
    assert_eq!(vs[0]["locations"][0]["key"], "data/rows.csv.gz");
    assert_true(&sb, "lab");
    sb.run(&["restore", "data/rows.csv", "back.csv"]).ok();
    assert_eq!(std::fs::read(sb.work("back.csv")).unwrap(), text);
}
