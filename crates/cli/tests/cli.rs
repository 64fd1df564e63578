//! End-to-end tests of the real `stowage` binary: the zero-config local flow, SeaweedFS over
//! S3, the Supabase contract server, and configuration errors.

use std::path::Path;

use serde_json::Value;

mod common;
use common::*;

#[test]
fn zero_config_local_flow() {
    let sb = Sandbox::new();
    let content = data(300_000, 7);
    std::fs::write(sb.work("README.md"), &content).unwrap();

    // A fresh machine: no config file, the embedded `local` profile, the bucket made on put.
    let ls = sb.run(&["ls"]).ok();
    assert_eq!(ls.stdout, "");
    let put = sb.run(&["put", "README.md", "datasets/"]).ok();
    assert!(put.stdout.contains("datasets/README.md"), "{put:?}");
    assert!(sb.path("data/store/datasets/README.md").is_file());

    let ls = sb.run(&["ls", "datasets"]).ok();
    assert!(ls.stdout.contains("datasets/README.md"), "{ls:?}");
    let doc = sb.run(&["--json", "ls", "datasets"]).ok().json();
    assert_eq!(doc["entries"][0]["name"], "README.md");
    assert_eq!(doc["entries"][0]["size"], 300_000);
    let buckets = sb.run(&["--json", "ls"]).ok().json();
    assert_eq!(buckets["buckets"][0]["name"], "datasets");

    // Get it back, byte-identical; never over an existing file without --force.
    sb.run(&["get", "datasets/README.md", "copy.md"]).ok();
    assert_eq!(std::fs::read(sb.work("copy.md")).unwrap(), content);
    let again = sb.run(&["get", "datasets/README.md", "copy.md"]).code(4);
    assert!(
        again.stderr.contains("copy.md") && again.stderr.contains("--force"),
        "{again:?}"
    );
    std::fs::write(sb.work("copy.md"), b"old").unwrap();
    sb.run(&["get", "--force", "datasets/README.md", "copy.md"])
        .ok();
    assert_eq!(std::fs::read(sb.work("copy.md")).unwrap(), content);
    std::fs::create_dir(sb.work("into")).unwrap();
    let doc = sb
        .run(&["--json", "get", "datasets/README.md", "into"])
        .ok()
        .json();
    assert_eq!(doc["downloaded"][0]["verified"], true);
    assert_eq!(std::fs::read(sb.work("into/README.md")).unwrap(), content);
    // No temporary file is left beside the targets.
    let leftovers: Vec<_> = std::fs::read_dir(sb.path("work"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".stowage-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An existing object is not replaced without --overwrite (4); with it, it is.
    let exists = sb.run(&["put", "README.md", "datasets/"]).code(4);
    assert!(
        exists
            .stderr
            .starts_with("error: README.md: local: already exists")
            && exists.stderr.contains("--overwrite"),
        "{exists:?}"
    );
    sb.run(&["put", "--overwrite", "README.md", "datasets/"])
        .ok();

    // Missing objects and files are 3 and name what is missing.
    let missing = sb.run(&["get", "datasets/nope.md"]).code(3);
    assert!(missing.stderr.contains("datasets/nope.md"), "{missing:?}");
    let missing = sb.run(&["rm", "datasets/READMEE.md"]).code(3);
    assert!(
        missing.stderr.contains("datasets/READMEE.md"),
        "{missing:?}"
    );
    let missing = sb.run(&["put", "no-such-file.bin", "datasets/"]).code(3);
    assert!(missing.stderr.contains("no-such-file.bin"), "{missing:?}");
    let missing = sb.run(&["ls", "no-bucket"]).code(3);
    assert!(missing.stderr.contains("no-bucket"), "{missing:?}");

    // A local folder cannot sign URLs: a clear NotSupported answer with its own code.
    let url = sb.run(&["url", "datasets/README.md"]).code(8);
    assert!(
        url.stderr.starts_with("error: local: not supported"),
        "{url:?}"
    );
    let doc = sb
        .run(&["--json", "url", "datasets/README.md"])
        .code(8)
        .json();
    assert_eq!(doc["error"]["kind"], "not_supported");
    assert_eq!(doc["error"]["exit_code"], 8);

    // Copy and move within the store.
    sb.run(&["cp", "datasets/README.md", "datasets/backup/"])
        .ok();
    sb.run(&["mv", "datasets/backup/README.md", "datasets/moved.md"])
        .ok();
    sb.run(&["cp", "datasets/README.md", "datasets/moved.md"])
        .code(4);
    let ls = sb.run(&["ls", "--recursive", "datasets"]).ok();
    assert!(ls.stdout.contains("datasets/moved.md"), "{ls:?}");
    assert!(!ls.stdout.contains("backup/README.md"), "{ls:?}");

    // Remove; the listing is then empty.
    sb.run(&["rm", "datasets/README.md", "datasets/moved.md"])
        .ok();
    let doc = sb.run(&["--json", "ls", "datasets"]).ok().json();
    assert_eq!(doc["entries"], Value::Array(vec![]));
    let ls = sb.run(&["ls", "datasets"]).ok();
    assert_eq!(ls.stdout, "");
}

#[test]
fn dry_run_changes_nothing() {
    let sb = Sandbox::new();
    std::fs::write(sb.work("a.csv"), b"x,y\n1,2\n").unwrap();
    let store = sb.path("data/store");

    let run = sb.run(&["--dry-run", "put", "a.csv", "datasets/"]).ok();
    assert!(run.stdout.contains("would upload"), "{run:?}");
    assert!(!store.join("datasets").exists());
    sb.run(&["--dry-run", "buckets", "create", "models"]).ok();
    assert!(!store.join("models").exists());

    sb.run(&["put", "a.csv", "datasets/"]).ok();
    let before = store_tree(&store);
    for args in [
        &["--dry-run", "rm", "datasets/a.csv"][..],
        &["--dry-run", "rm", "--recursive", "datasets/"],
        &["--dry-run", "mv", "datasets/a.csv", "datasets/b.csv"],
        &["--dry-run", "cp", "datasets/a.csv", "datasets/b.csv"],
        &["--dry-run", "put", "--overwrite", "a.csv", "datasets/"],
        &["--dry-run", "get", "datasets/a.csv", "fetched.csv"],
    ] {
        let run = sb.run(args).ok();
        assert!(run.stdout.contains("would "), "{args:?}: {run:?}");
    }
    let doc = sb
        .run(&["--json", "--dry-run", "rm", "datasets/a.csv"])
        .ok()
        .json();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["removed"][0]["keys"][0], "a.csv");
    assert_eq!(store_tree(&store), before);
    assert!(!sb.work("fetched.csv").exists());
    // A dry run still reports what would fail.
    sb.run(&["--dry-run", "put", "a.csv", "datasets/"]).code(4);
    sb.run(&["--dry-run", "rm", "datasets/zzz.csv"]).code(3);
    sb.run(&["--dry-run", "buckets", "rm", "datasets"]).code(4);
}

#[test]
fn folders_and_many_files() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.work("run/checkpoints")).unwrap();
    std::fs::write(sb.work("run/metrics.json"), b"{\"loss\":0.1}").unwrap();
    std::fs::write(sb.work("run/checkpoints/epoch 1.pt"), data(5000, 1)).unwrap();
    std::fs::write(sb.work("notes.txt"), b"notes").unwrap();

    let doc = sb
        .run(&["--json", "put", "run", "notes.txt", "models/exp1"])
        .ok()
        .json();
    let keys: Vec<&str> = doc["uploaded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "exp1/run/checkpoints/epoch 1.pt",
            "exp1/run/metrics.json",
            "exp1/notes.txt"
        ]
    );
    let ls = sb.run(&["ls", "models/exp1/"]).ok();
    assert!(ls.stdout.contains("models/exp1/run/"), "{ls:?}");

    // One failure among several: the others still go, the code is the failure's.
    std::fs::write(sb.work("new.txt"), b"new").unwrap();
    let run = sb
        .run(&["--json", "put", "new.txt", "notes.txt", "models/exp1/"])
        .code(4);
    let doc = run.json();
    assert_eq!(doc["uploaded"][0]["ok"], true);
    assert_eq!(doc["uploaded"][1]["ok"], false);
    assert_eq!(doc["error"]["kind"], "already_exists");
    assert!(run.stderr.contains("1 of 2 failed"), "{run:?}");

    sb.run(&["get", "--recursive", "models/exp1/run", "restored"])
        .ok();
    assert_eq!(
        std::fs::read(sb.work("restored/checkpoints/epoch 1.pt")).unwrap(),
        data(5000, 1)
    );
    let folder = sb.run(&["rm", "models/exp1/run"]).code(3);
    assert!(folder.stderr.contains("--recursive"), "{folder:?}");
    let doc = sb
        .run(&["--json", "rm", "--recursive", "models/exp1/run"])
        .ok()
        .json();
    assert_eq!(doc["removed"][0]["keys"].as_array().unwrap().len(), 2);
    sb.run(&["rm", "--recursive", "models/exp1/run"]).code(3);
    // Usage errors are 2.
    sb.run(&["put", "notes.txt", "/abs"]).code(2);
    sb.run(&["url", "--expires", "soon", "models/exp1/notes.txt"])
        .code(2);
    sb.run(&["frobnicate"]).code(2);
    let doc = sb.run(&["--json", "frobnicate"]).code(2).json();
    assert_eq!(doc["error"]["kind"], "usage");
}

#[test]
fn help_documents_exit_codes() {
    let sb = Sandbox::new();
    let help = sb.run(&["--help"]).ok();
    for line in [
        "Exit codes:",
        "3  not found",
        "4  already exists",
        "5  unauthorized",
        "6  unavailable",
    ] {
        assert!(help.stdout.contains(line), "{line}: {}", help.stdout);
    }
}

#[test]
fn config_errors_are_clear_and_never_echo_secrets() {
    let mut sb = Sandbox::new();
    sb.write_config("[profiles.lab]\nkind = \"s3\"\nendpiont = \"http://127.0.0.1:1\"\n");
    let run = sb.run(&["ls"]).code(2);
    assert!(
        run.stderr
            .contains("config.toml:3:1: unknown field `endpiont`"),
        "{run:?}"
    );
    let run = sb.run(&["profile", "ls"]).code(2);
    assert!(run.stderr.contains("unknown field `endpiont`"), "{run:?}");

    let secret = "wJalrXUtnFEMI-K7MDENG-SECRETVALUE";
    sb.write_config(&format!(
        "[profiles.lab]\nkind = \"s3\"\nregion = \"us-east-1\"\nsecret_access_key = \"{secret}\"\n"
    ));
    for args in [&["ls"][..], &["--json", "ls"], &["profile", "ls"]] {
        let run = sb.run(args).code(2);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("config.toml:4:1"), "{run:?}");
        assert!(all.contains("looks like a secret"), "{run:?}");
        assert!(all.contains("AWS_SECRET_ACCESS_KEY"), "{run:?}");
        assert!(!all.contains(secret), "the secret was echoed: {run:?}");
    }
    sb.write_config(&format!(
        "[profiles.team]\nkind = \"supabase\"\nservice_role_key = {secret}\n"
    ));
    let run = sb.run(&["ls"]).code(2);
    assert!(
        !format!("{}{}", run.stdout, run.stderr).contains(secret),
        "{run:?}"
    );

    // A profile that is not defined, chosen by flag or environment.
    sb.write_config(
        "default_profile = \"lab\"\n[profiles.lab]\nkind = \"local\"\nroot = \"lab-store\"\n",
    );
    let run = sb.run(&["--profile", "nope", "ls"]).code(2);
    assert!(run.stderr.contains("no profile `nope`"), "{run:?}");
    sb.env("STOWAGE_PROFILE", "gone");
    let run = sb.run(&["ls"]).code(2);
    assert!(run.stderr.contains("STOWAGE_PROFILE"), "{run:?}");
    let doc = sb
        .run(&["--json", "--profile", "lab", "profile", "ls"])
        .ok()
        .json();
    assert_eq!(doc["selected"], "lab");
    assert_eq!(doc["selected_by"], "flag");
    assert_eq!(doc["profiles"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn s3_seaweedfs_flow() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-cli");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    sb.run(&["buckets", "create", &bucket]).code(4);
    let doc = sb.run(&["--json", "buckets", "ls"]).ok().json();
    assert!(
        doc["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == bucket.as_str()),
        "{doc}"
    );

    // 20 MiB goes multipart (above the 16 MiB threshold).
    let content = data(20 << 20, 42);
    std::fs::write(sb.work("weights.bin"), &content).unwrap();
    let dest = format!("{bucket}/models/");
    let doc = sb.run(&["--json", "put", "weights.bin", &dest]).ok().json();
    assert_eq!(doc["uploaded"][0]["size"], 20 << 20);
    assert_eq!(doc["uploaded"][0]["key"], "models/weights.bin");
    sb.run(&["put", "weights.bin", &dest]).code(4);

    let object = format!("{bucket}/models/weights.bin");
    let ls = sb.run(&["ls", "--recursive", &bucket]).ok();
    assert!(ls.stdout.contains(&object), "{ls:?}");

    let doc = sb.run(&["--json", "get", &object, "back.bin"]).ok().json();
    assert_eq!(doc["downloaded"][0]["verified"], true);
    assert!(std::fs::read(sb.work("back.bin")).unwrap() == content);

    // A signed URL fetches the object with no credentials.
    let url = sb.run(&["url", "--expires", "30m", &object]).ok();
    let link = url.stdout.trim();
    assert!(link.starts_with("http"), "{url:?}");
    let body = reqwest::get(link).await.unwrap();
    assert!(body.status().is_success(), "{}", body.status());
    assert!(body.bytes().await.unwrap() == content);
    sb.run(&["url", "--expires", "30d", &object]).code(1);

    sb.run(&["mv", &object, &format!("{bucket}/archive/")]).ok();
    sb.run(&["get", &object, "gone.bin"]).code(3);
    let archived = format!("{bucket}/archive/weights.bin");
    sb.run(&["buckets", "rm", &bucket]).code(4);
    sb.run(&["rm", &archived]).ok();
    sb.run(&["rm", &archived]).code(3);
    sb.run(&["buckets", "rm", &bucket]).ok();
    sb.run(&["ls", &bucket]).code(3);
}

#[tokio::test]
async fn s3_wrong_credentials_are_unauthorized() {
    let mut sb = s3_sandbox();
    sb.env("AWS_SECRET_ACCESS_KEY", "definitely-not-the-secret");
    let run = sb.run_async(&["ls"]).await.code(5);
    assert!(run.stderr.starts_with("error: s3"), "{run:?}");
    assert!(!run.stderr.contains("definitely-not-the-secret"), "{run:?}");
    assert!(run.stderr.contains("profile `seaweed`"), "{run:?}");

    // No credentials anywhere: unauthorized, naming the profile and what to set.
    let mut sb = Sandbox::new();
    sb.write_config(&format!(
        "[profiles.bare]\nkind = \"s3\"\nendpoint = \"{}\"\npath_style = true\n",
        s3_endpoint()
    ));
    sb.env("STOWAGE_PROFILE", "bare");
    let run = sb.run_async(&["ls"]).await.code(5);
    assert!(
        run.stderr.contains("no AWS credentials were found")
            && run.stderr.contains("profile `bare`")
            && run.stderr.contains("AWS_ACCESS_KEY_ID"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supabase_contract_flow_never_shows_the_key() {
    let (_server_dir, server) = contract_server().await;
    let key = server.service_role_key.clone();
    let mut sb = Sandbox::new();
    sb.write_config("default_profile = \"team\"\n[profiles.team]\nkind = \"supabase\"\n");

    // Without a key: unauthorized, naming the variable to set.
    sb.env("SUPABASE_URL", &server.url);
    let run = sb.run_async(&["ls"]).await.code(5);
    assert!(run.stderr.contains("SUPABASE_SERVICE_ROLE_KEY"), "{run:?}");
    assert!(run.stderr.contains("team"), "{run:?}");

    sb.env("SUPABASE_SERVICE_ROLE_KEY", &key);
    let mut outputs = Vec::new();
    let bucket = unique("cli");
    let content = data(1 << 20, 3);
    std::fs::write(sb.work("train.csv"), &content).unwrap();
    let object = format!("{bucket}/data/train.csv");
    let steps: Vec<(Vec<String>, i32)> = [
        (vec!["profile", "ls"], 0),
        (vec!["--json", "profile", "ls"], 0),
        (vec!["buckets", "create", &bucket], 0),
        (vec!["buckets", "create", &bucket], 4),
        (
            vec!["--json", "put", "train.csv", &format!("{bucket}/data/")],
            0,
        ),
        (vec!["put", "train.csv", &format!("{bucket}/data/")], 4),
        (vec!["ls", "--recursive", &bucket], 0),
        (vec!["get", &object, "back.csv"], 0),
        (vec!["--json", "get", &format!("{bucket}/data/none.csv")], 3),
        (vec!["rm", &format!("{bucket}/data/none.csv")], 3),
        (vec!["cp", &object, &format!("{bucket}/copy/")], 0),
        (vec!["--json", "ls", &format!("{bucket}/copy/")], 0),
        (
            vec!["put", "train.csv", &format!("{bucket}/ünïcode.csv")],
            7,
        ),
        (vec!["ls", "no-such-bucket-here"], 3),
    ]
    .into_iter()
    .map(|(a, c)| (a.into_iter().map(String::from).collect(), c))
    .collect();
    for (args, code) in &steps {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = sb.run_async(&args).await.code(*code);
        outputs.push(run);
    }
    assert_eq!(std::fs::read(sb.work("back.csv")).unwrap(), content);
    assert!(outputs[1]
        .stdout
        .contains("SUPABASE_SERVICE_ROLE_KEY from the environment"));

    let url = sb.run_async(&["--json", "url", &object]).await.ok();
    let link = url.json()["url"].as_str().unwrap().to_string();
    let fetched = reqwest::get(&link).await.unwrap();
    assert!(fetched.status().is_success(), "{}", fetched.status());
    assert!(fetched.bytes().await.unwrap() == content);
    outputs.push(url);

    // Even with every log on, the key stays out of the output.
    sb.env("STOWAGE_LOG", "trace");
    outputs.push(sb.run_async(&["ls", "--recursive", &bucket]).await.ok());
    outputs.push(sb.run_async(&["get", &object, "back.csv"]).await.code(4));
    // A wrong key is refused and not echoed either.
    let wrong =
        stowage_supabase_contract::mint_jwt("not-the-server-secret", "service_role", 4_000_000_000);
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &wrong);
    let run = sb.run_async(&["ls", &bucket]).await.code(5);
    assert!(
        !run.stderr.contains(&wrong) && !run.stdout.contains(&wrong),
        "{run:?}"
    );
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &key);
    sb.env("STOWAGE_LOG", "off");

    outputs.push(
        sb.run_async(&["rm", "--recursive", &format!("{bucket}/")])
            .await
            .ok(),
    );
    outputs.push(sb.run_async(&["buckets", "rm", &bucket]).await.ok());
    for run in &outputs {
        assert!(
            !run.stdout.contains(&key) && !run.stderr.contains(&key),
            "the service-role key appeared in the output: {run:?}"
        );
        // Neither does its signature half alone.
        let signature = key.rsplit('.').next().unwrap();
        assert!(!run.stdout.contains(signature) && !run.stderr.contains(signature));
    }
    server.shutdown().await;
}

/// A real `kill -9` in the middle of a multipart upload: the next `put` of the same file
/// resumes from the parts SeaweedFS already holds, and the object verifies.
#[tokio::test]
async fn s3_put_resumes_after_kill_9() {
    let sb = s3_sandbox();
    // Small parts, one at a time: the upload is still running when it is killed.
    sb.write_config(&format!(
        "default_profile = \"seaweed\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{}\"\n\
         region = \"us-east-1\"\npath_style = true\npart_size = 5242880\nconcurrency = 1\n",
        s3_endpoint()
    ));
    let bucket = unique("stowage-kill");
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    let body = data(48 << 20, 9);
    std::fs::write(sb.work("weights.bin"), &body).unwrap();
    let dest = format!("{bucket}/models/weights.bin");

    let mut child = sb
        .command(&["-q", "put", "weights.bin", &dest])
        .spawn()
        .unwrap();
    let resume_dir = sb.path("data/resume/s3");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
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
        assert!(
            std::time::Instant::now() < deadline,
            "no part was stored within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    child.wait().unwrap();
    sb.run(&["get", &dest, "partial.bin"]).code(3); // nothing half-uploaded is visible

    // The store's log says why a resume would start over.
    let run: Run = sb
        .command(&["--json", "put", "weights.bin", &dest])
        .env("STOWAGE_LOG", "stowage_store=debug")
        .output()
        .unwrap()
        .into();
    let run = run.ok();
    let doc = run.json();
    let done = &doc["uploaded"][0];
    let resumed = done["resumed_from"].as_u64().unwrap();
    assert!(
        resumed >= 5 << 20 && resumed < body.len() as u64,
        "{doc}\n{}",
        run.stderr
    );
    assert_eq!(done["size"].as_u64(), Some(body.len() as u64), "{doc}");
    sb.run(&["get", &dest, "back.bin"]).ok();
    assert!(
        std::fs::read(sb.work("back.bin")).unwrap() == body,
        "the resumed object is byte-identical"
    );
    let left: Vec<_> = std::fs::read_dir(&resume_dir).unwrap().flatten().collect();
    assert!(
        left.is_empty(),
        "the resume record is removed once the upload is done"
    );
}

/// Create `rel` under the working folder with `size` bytes (sparse: only the size matters).
fn sized_file(sb: &Sandbox, rel: &str, size: u64) {
    let path = sb.work(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
}

#[test]
fn explain_follows_the_decision_matrix() {
    let sb = Sandbox::new();
    // (file, size, rule, kind, destination, key, compress): the storage strategy's files.
    type Case = (
        &'static str,
        u64,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        bool,
    );
    let cases: &[Case] = &[
        (
            "enhanced-features-2026-01-06T05-13-48-424Z.json",
            3_400_000,
            "training-data",
            "dataset",
            "primary",
            Some("training-data/enhanced-features-2026-01-06T05-13-48-424Z.json"),
            true,
        ),
        (
            "model-notable-quality-2026-01-05T21-01-16.json",
            1_700_000,
            "models",
            "model",
            "primary",
            Some("models/model-notable-quality-2026-01-05T21-01-16.json"),
            true,
        ),
        (
            "model-notable-quality-2026-01-06T01-48-25.json",
            648_000,
            "models",
            "model",
            "primary",
            Some("models/model-notable-quality-2026-01-06T01-48-25.json"),
            true,
        ),
        (
            "COMPLETE_CATALOG_FIXED.json",
            5_500_000,
            "catalogs",
            "catalog",
            "primary",
            Some("catalogs/COMPLETE_CATALOG_FIXED.json"),
            true,
        ),
        (
            "scans/scan-owner-repo.json",
            20_000,
            "small-files",
            "other",
            "local",
            None,
            false,
        ),
        ("train.log", 250_000, "logs", "log", "never", None, false),
        (
            "cache/x.bin",
            2_000_000,
            "caches",
            "cache",
            "never",
            None,
            false,
        ),
    ];
    for (file, size, ..) in cases {
        sized_file(&sb, file, *size);
    }
    let mut args = vec!["--json", "explain"];
    args.extend(cases.iter().map(|c| c.0));
    let doc = sb.run(&args).ok().json();
    assert_eq!(doc["policy"], Value::Null, "built-in defaults: {doc}");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), cases.len());
    for (got, (file, size, rule, kind, dest, key, compress)) in files.iter().zip(cases) {
        let want = serde_json::json!({
            "path": file, "size": size, "rule": rule, "kind": kind, "destination": dest,
            "key": key, "compress": compress,
        });
        for field in [
            "path",
            "size",
            "rule",
            "kind",
            "destination",
            "key",
            "compress",
        ] {
            assert_eq!(got[field], want[field], "{file}: {field} in {got}");
        }
    }
    // The 648 KB model passed over the three never-leave rules and the dataset rule.
    let skipped: Vec<&str> = files[2]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["temporary-files", "caches", "logs", "training-data"]
    );

    // Text: rule, kind, size, destination, key, compression and the skipped rules.
    let out = sb
        .run(&["explain", "--org", "acme", cases[2].0])
        .ok()
        .stdout;
    for line in [
        "policy: built-in defaults",
        "rule:        models (matches `model-*`; size 648 KB is at least 100 KB)",
        "kind:        model",
        "size:        648 KB (648000 bytes)",
        "destination: primary",
        "key:         acme/models/model-notable-quality-2026-01-06T01-48-25.json (stored with .gz appended)",
        "compress:    yes (gzip)",
        "skipped training-data: matches none of `enhanced-features-*.json`, `dataset*.json`",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    // Paths count from the current folder: `./cache/../train.log` is `train.log`.
    let doc = sb
        .run(&["--json", "explain", "./cache/../train.log"])
        .ok()
        .json();
    assert_eq!(doc["files"][0]["path"], "train.log");
    // A missing file is "not found", and the others are still explained.
    let doc = sb
        .run(&["--json", "explain", "train.log", "nope.json"])
        .code(3)
        .json();
    assert_eq!(doc["files"][0]["rule"], "logs");
    assert_eq!(doc["error"]["kind"], "not_found");
}

#[test]
fn explain_uses_policy_toml_and_rejects_a_bad_one() {
    let sb = Sandbox::new();
    sized_file(&sb, "weights.bin", 6 << 20);
    std::fs::write(
        sb.path("config/policy.toml"),
        "org = \"lab\"\n[[rule]]\nname = \"weights\"\npatterns = [\"*.bin\"]\nmin_size = \"5MiB\"\n\
         destination = \"primary+secondary\"\nfolder = \"models/raw/\"\nkind = \"model\"\n",
    )
    .unwrap();
    let doc = sb.run(&["--json", "explain", "weights.bin"]).ok().json();
    let f = &doc["files"][0];
    assert_eq!(f["rule"], "weights", "{doc}");
    assert_eq!(f["destination"], "primary+secondary");
    assert_eq!(f["key"], "lab/models/raw/weights.bin");
    assert!(doc["policy"].as_str().unwrap().ends_with("policy.toml"));

    std::fs::write(
        sb.path("config/policy.toml"),
        "[[rule]]\nname = \"broken\"\npatterns = [\"*.json\", \"[abc\"]\ndestination = \"primary\"\n",
    )
    .unwrap();
    let run = sb.run(&["explain", "weights.bin"]).code(2);
    assert!(
        run.stderr
            .contains("policy.toml:3:23: invalid pattern `[abc` in rule `broken`"),
        "{run:?}"
    );
    std::fs::write(
        sb.path("config/policy.toml"),
        "[[rule]]\nname = \"x\"\ndestination = \"cloud\"\n",
    )
    .unwrap();
    let doc = sb.run(&["--json", "explain", "weights.bin"]).code(2).json();
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("policy.toml:3:15: unknown variant `cloud`"),
        "{doc}"
    );
    assert_eq!(doc["error"]["kind"], "config");
}

#[test]
fn cost_estimates_on_an_empty_catalog_then_after_a_local_sync() {
    let sb = Sandbox::new();
    // Empty catalog: zero figures, still labelled estimates.
    let doc = sb.run(&["--json", "cost"]).ok().json();
    assert_eq!(doc["estimate"], true, "{doc}");
    assert_eq!(doc["group_by"], "provider");
    assert_eq!(doc["total"]["objects"], 0);
    assert_eq!(doc["total"]["total_monthly_usd_est"], 0.0);
    assert!(doc["notes"][0].as_str().unwrap().contains("estimate"));
    let text = sb.run(&["cost"]).ok().stdout;
    assert!(
        text.contains("est.") && text.contains("Estimates, not bills"),
        "{text}"
    );
    sb.run(&["--json", "cost", "--by", "size"]).code(2);

    // A small project synced to the built-in local profile.
    let dir = sb.work("project");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::create_dir_all(dir.join("training-data")).unwrap();
    std::fs::write(dir.join("models/model.pt"), data(300 * 1024, 7)).unwrap();
    let rows: String = (0..40_000)
        .map(|i| format!("{{\"id\":{i},\"text\":\"sample {}\"}}\n", i % 97))
        .collect();
    std::fs::write(dir.join("training-data/train.jsonl"), rows).unwrap();
    sb.run(&["sync", dir.to_str().unwrap()]).ok();

    let doc = sb.run(&["--json", "cost", "--by", "folder"]).ok().json();
    let total = &doc["total"];
    assert!(total["objects"].as_u64().unwrap() >= 1, "{doc}");
    assert!(total["stored_bytes"].as_u64().unwrap() > 0, "{doc}");
    assert!(total["original_bytes"].as_u64() >= total["stored_bytes"].as_u64());
    // A local folder costs nothing; the same bytes in Postgres would.
    assert_eq!(total["storage_monthly_usd_est"], 0.0, "{doc}");
    assert!(total["postgres_jsonb_monthly_usd_est"].as_f64().unwrap() > 0.0);
    assert_eq!(
        total["growth_bytes_30d"], total["stored_bytes"],
        "everything was stored just now"
    );
    assert_eq!(doc["providers"][0]["kind"], "local", "{doc}");
    let text = sb.run(&["cost", "--by", "kind"]).ok().stdout;
    assert!(
        text.contains("Largest artifacts") && text.contains("#") && text.contains("est."),
        "{text}"
    );
}

// ---- sync, versions, restore, label, gc ----

/// Deterministic JSON of exactly `len` bytes (compressible, like real training files), with
/// top-level metrics so the catalog has something to record.
fn json_file(len: usize, seed: u64) -> Vec<u8> {
    let head = format!(
        "{{\"model_type\":\"xgboost\",\"accuracy\":0.{:02},\"loss\":0.{:02},\"epochs\":{},\"rows\":[",
        80 + seed % 19,
        10 + seed % 30,
        5 + seed % 20
    );
    let mut out = head.into_bytes();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let tail = b"\"end\"]}";
    while out.len() + 64 + tail.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(
            format!("{{\"id\":{},\"score\":{}}},", x % 100_000, x % 1000).as_bytes(),
        );
    }
    while out.len() + tail.len() < len {
        out.push(b' ');
    }
    out.extend_from_slice(tail);
    assert_eq!(out.len(), len);
    out
}

/// The `.beast-mode` folder of the ML storage strategy, at its stated sizes (decimal units, as
/// the strategy writes them), returned as (relative path, content seed).
fn seed_layout(root: &Path) -> Vec<(&'static str, usize)> {
    let files: Vec<(&str, usize)> = vec![
        ("enhanced-features-2026-01-06T05-13-48-424Z.json", 3_400_000),
        ("enhanced-features-2026-01-06T02-54-15-865Z.json", 3_300_000),
        ("enhanced-features-2026-01-06T02-53-58-291Z.json", 3_000_000),
        ("model-notable-quality-2026-01-05T21-01-16.json", 1_700_000),
        ("model-notable-quality-2026-01-06T01-48-25.json", 648_000),
        ("model-notable-quality-2026-01-06T03-27-22.json", 624_000),
        ("COMPLETE_CATALOG_FIXED.json", 5_500_000),
        ("TOP_REPOS_WITH_CODE.json", 4_400_000),
        ("COMPLETE_CATALOG.json", 1_100_000),
        ("dataset.json", 2_000_000),
        ("audit-2026-01-05.json", 150_000),
        ("model-small-2026-01-04T10-00-00.json", 60_000),
        ("scans/repo-scan-alpha.json", 12_000),
        ("scans/repo-scan-beta.json", 45_000),
        ("train.log", 20_000),
        ("cache/features-cache.json", 30_000),
        ("training.tmp", 5_000),
    ];
    for (i, (rel, len)) in files.iter().enumerate() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, json_file(*len, i as u64 + 1)).unwrap();
    }
    files
}

/// The decision matrix for the seed layout: (file, kind, destination, key, compress).
fn seed_plan() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    Option<String>,
    bool,
)> {
    let up = |file, kind, folder: &str| {
        (
            file,
            kind,
            "primary",
            Some(format!("{folder}/{file}.gz")),
            true,
        )
    };
    vec![
        up("COMPLETE_CATALOG.json", "catalog", "catalogs"),
        up("COMPLETE_CATALOG_FIXED.json", "catalog", "catalogs"),
        up("TOP_REPOS_WITH_CODE.json", "catalog", "catalogs"),
        up("audit-2026-01-05.json", "export", "exports"),
        ("cache/features-cache.json", "cache", "never", None, false),
        up("dataset.json", "dataset", "training-data"),
        up(
            "enhanced-features-2026-01-06T02-53-58-291Z.json",
            "dataset",
            "training-data",
        ),
        up(
            "enhanced-features-2026-01-06T02-54-15-865Z.json",
            "dataset",
            "training-data",
        ),
        up(
            "enhanced-features-2026-01-06T05-13-48-424Z.json",
            "dataset",
            "training-data",
        ),
        up(
            "model-notable-quality-2026-01-05T21-01-16.json",
            "model",
            "models",
        ),
        up(
            "model-notable-quality-2026-01-06T01-48-25.json",
            "model",
            "models",
        ),
        up(
            "model-notable-quality-2026-01-06T03-27-22.json",
            "model",
            "models",
        ),
        (
            "model-small-2026-01-04T10-00-00.json",
            "model",
            "local",
            None,
            false,
        ),
        ("scans/repo-scan-alpha.json", "other", "local", None, false),
        ("scans/repo-scan-beta.json", "other", "local", None, false),
        ("train.log", "log", "never", None, false),
        ("training.tmp", "temp", "never", None, false),
    ]
}

fn bucket_keys(sb: &Sandbox, bucket: &str) -> Vec<String> {
    let doc = sb.run(&["--json", "ls", "--recursive", bucket]).ok().json();
    let mut keys: Vec<String> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn sync_seed_layout_to_seaweedfs() {
    let sb = s3_sandbox();
    let bucket = unique("stowage-sync");
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&format!(
        "{config}\n[sync]\nprimary = \"seaweed\"\nbucket = \"{bucket}\"\n"
    ));
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run(&["buckets", "create", &bucket]).ok();
    let root = sb.work(".beast-mode");
    let files = seed_layout(&root);

    // The dry run's plan is the strategy's decision matrix, and it changes nothing.
    let doc = sb
        .run(&["--json", "--dry-run", "sync", ".beast-mode"])
        .ok()
        .json();
    let plan: Vec<_> = doc["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_string(),
                p["kind"].as_str().unwrap().to_string(),
                p["destination"].as_str().unwrap().to_string(),
                p["key"].as_str().map(str::to_string),
                p["compress"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected: Vec<_> = seed_plan()
        .into_iter()
        .map(|(f, k, d, key, c)| (f.to_string(), k.to_string(), d.to_string(), key, c))
        .collect();
    assert_eq!(plan, expected);
    assert!(!sb.path("data/catalog.sqlite3").exists());
    assert!(bucket_keys(&sb, &bucket).is_empty());
    let text = sb.run(&["--dry-run", "sync", ".beast-mode"]).ok();
    assert!(
        text.stdout
            .contains("dataset.json → dataset → primary → training-data/dataset.json.gz → gzip"),
        "{text:?}"
    );

    // The real sync produces exactly that layout in the bucket.
    let doc = sb.run(&["--json", "sync", ".beast-mode"]).ok().json();
    let mut want: Vec<String> = expected.iter().filter_map(|p| p.3.clone()).collect();
    want.sort();
    assert_eq!(doc["uploaded"], want.len());
    assert_eq!(bucket_keys(&sb, &bucket), want);
    let model = doc["sync"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "model-notable-quality-2026-01-05T21-01-16.json")
        .unwrap()
        .clone();
    assert_eq!(model["version"], "2026-01-05T21-01-16");
    assert_eq!(model["family"], "model-notable-quality");
    assert!(model["uploads"][0]["size"].as_u64().unwrap() < 1_700_000);

    // A second sync uploads nothing; nor does one after a file is rewritten unchanged.
    let doc = sb.run(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["uploaded"], 0, "{doc}");
    std::fs::write(root.join("dataset.json"), json_file(2_000_000, 10)).unwrap();
    let doc = sb.run(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["uploaded"], 0, "{doc}");

    // New content: a new version; the old one is kept under .versions/ and listed.
    let original = std::fs::read(root.join("dataset.json")).unwrap();
    assert_eq!(files[9].0, "dataset.json");
    std::fs::write(root.join("dataset.json"), json_file(2_000_000, 99)).unwrap();
    let doc = sb.run(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    let keys = bucket_keys(&sb, &bucket);
    assert_eq!(keys.len(), want.len() + 1, "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("training-data/_versions/dataset.json/") && k.ends_with(".gz")),
        "{keys:?}"
    );
    let doc = sb.run(&["--json", "versions", "dataset"]).ok().json();
    let versions = doc["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{doc}");
    assert_eq!(versions[0]["version"], "2");
    assert_eq!(versions[0]["latest"], true);
    assert_eq!(versions[1]["version"], "1");
    assert_eq!(versions[1]["original_size"], 2_000_000);
    assert!(versions[1]["size"].as_u64().unwrap() < 2_000_000);
    assert_eq!(versions[1]["encoding"], "gzip");
    let text = sb.run(&["versions", "dataset"]).ok();
    assert!(text.stdout.contains("dataset@2 (latest)"), "{text:?}");
    assert!(text.stdout.contains("at seaweed:"), "{text:?}");
    assert!(text.stdout.contains("accuracy="), "{text:?}");

    // Restore the older version: byte-identical, never over a local file without --force.
    sb.run(&["restore", "dataset@1", "old-dataset.json"]).ok();
    assert_eq!(
        std::fs::read(sb.work("old-dataset.json")).unwrap(),
        original
    );
    let again = sb
        .run(&["restore", "dataset@1", "old-dataset.json"])
        .code(4);
    assert!(again.stderr.contains("--force"), "{again:?}");
    sb.run(&["restore", "--force", "dataset", "old-dataset.json"])
        .ok();
    assert_eq!(
        std::fs::read(sb.work("old-dataset.json")).unwrap(),
        json_file(2_000_000, 99)
    );
    sb.run(&["restore", "dataset@7"]).code(3);

    // Label version 1, add a third; gc keeps the labelled and the latest, removes version 2.
    sb.run(&["label", "dataset@1", "production"]).ok();
    std::fs::write(root.join("dataset.json"), json_file(2_000_000, 123)).unwrap();
    sb.run(&["sync", ".beast-mode"]).ok();
    // Durations are whole seconds: let version 2 become older than one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let dry = sb
        .run(&[
            "--json",
            "--dry-run",
            "gc",
            "--keep-last",
            "1",
            "--older-than",
            "1s",
            "dataset",
        ])
        .ok()
        .json();
    assert_eq!(dry["removed"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(bucket_keys(&sb, &bucket).len(), want.len() + 2);
    let doc = sb
        .run(&[
            "--json",
            "gc",
            "--keep-last",
            "1",
            "--older-than",
            "1s",
            "dataset",
        ])
        .ok()
        .json();
    let removed = doc["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{doc}");
    assert_eq!(removed[0]["family"], "dataset");
    assert_eq!(removed[0]["version"], "2");
    let doc = sb.run(&["--json", "versions", "dataset"]).ok().json();
    let tags: Vec<_> = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["3", "1"]);
    assert_eq!(doc["versions"][1]["labels"][0], "production");
    assert_eq!(bucket_keys(&sb, &bucket).len(), want.len() + 1);
    sb.run(&[
        "restore",
        "--force",
        "dataset@production",
        "old-dataset.json",
    ])
    .ok();
    assert_eq!(
        std::fs::read(sb.work("old-dataset.json")).unwrap(),
        original
    );
}

#[test]
fn sync_local_profile_versions_filters_and_refusals() {
    let sb = Sandbox::new();
    let root = sb.work("proj");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("model-a-v1.json"), json_file(200_000, 1)).unwrap();
    std::fs::write(root.join("model-a-v2.json"), json_file(300_000, 2)).unwrap();
    std::fs::write(root.join("sub/run.log"), b"log").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&root, root.join("sub/loop")).unwrap();
    let doc = sb.run(&["--json", "sync", "proj"]).ok().json();
    assert_eq!(doc["uploaded"], 2, "{doc}");
    let store = sb.path("data/store/ml-artifacts/models");
    assert!(store.join("model-a-v1.json.gz").is_file());

    // Sort, filter, limit.
    let doc = sb
        .run(&["--json", "versions", "model-a", "--sort", "accuracy"])
        .ok()
        .json();
    let acc: Vec<f64> = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["metrics"]["accuracy"].as_f64().unwrap())
        .collect();
    assert_eq!(acc.len(), 2);
    assert!(acc[0] >= acc[1], "{acc:?}");
    let doc = sb
        .run(&[
            "--json",
            "versions",
            "model-a",
            "--filter",
            "accuracy>0.815",
        ])
        .ok()
        .json();
    assert_eq!(doc["versions"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["versions"][0]["version"], "v2");
    let doc = sb
        .run(&["--json", "versions", "model-a", "--limit", "1"])
        .ok()
        .json();
    assert_eq!(doc["versions"][0]["version"], "v2");
    sb.run(&["versions", "model-a", "--filter", "accuracy~1"])
        .code(2);
    sb.run(&["versions", "model-a", "--sort", "size"]).code(2);
    sb.run(&["versions", "no-such-family"]).code(3);
    sb.run(&["label", "model-a", "production"]).code(2);

    // An object Stowage did not write is never replaced.
    std::fs::write(root.join("model-b-v1.json"), json_file(200_000, 3)).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("model-b-v1.json.gz"), b"someone else's").unwrap();
    let run = sb.run(&["--json", "sync", "proj"]).code(4);
    let doc = run.json();
    assert_eq!(doc["sync"]["failed"], 1, "{doc}");
    assert_eq!(
        std::fs::read(store.join("model-b-v1.json.gz")).unwrap(),
        b"someone else's"
    );
    assert!(run.stderr.contains("never replaces"), "{run:?}");
}

#[test]
fn get_decompresses_gz_objects_unless_raw() {
    let sb = Sandbox::new();
    let json = format!("{{\"loss\":0.1,\"rows\":[{}0]}}", "0.125,".repeat(50_000));
    let gz = std::process::Command::new("gzip")
        .args(["-6", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        gz.stdin
            .as_ref()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
    }
    let packed = gz.wait_with_output().unwrap().stdout;
    std::fs::write(sb.work("results.json.gz"), &packed).unwrap();
    sb.run(&["put", "results.json.gz", "runs/"]).ok();

    // The .gz key: decompressed, named without .gz.
    let run = sb.run(&["get", "runs/results.json.gz", "out/"]).ok();
    assert!(run.stdout.contains("decompressed from"), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(sb.work("out/results.json")).unwrap(),
        json
    );
    // The name without .gz finds the .gz object.
    sb.run(&["get", "runs/results.json", "plain.json"]).ok();
    assert_eq!(
        std::fs::read_to_string(sb.work("plain.json")).unwrap(),
        json
    );
    // --raw keeps the stored bytes and name.
    sb.run(&["get", "--raw", "runs/results.json.gz", "raw/"])
        .ok();
    assert_eq!(
        std::fs::read(sb.work("raw/results.json.gz")).unwrap(),
        packed
    );
    let help = sb.run(&["get", "--help"]).ok();
    assert!(help.stdout.contains("--raw"), "{help:?}");

    // A damaged .gz: a clear error, no partial file, the existing local file untouched.
    std::fs::write(sb.work("bad.json.gz"), &packed[..packed.len() / 2]).unwrap();
    sb.run(&["put", "bad.json.gz", "runs/"]).ok();
    std::fs::write(sb.work("bad.json"), b"precious").unwrap();
    let run = sb.run(&["get", "--force", "runs/bad.json.gz", "bad.json"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("stored object is damaged"), "{run:?}");
    assert_eq!(std::fs::read(sb.work("bad.json")).unwrap(), b"precious");
    sb.run(&["get", "runs/bad.json.gz", "fresh/"]);
    assert!(!sb.work("fresh/bad.json").exists());
    let parts = store_tree(&sb.work("fresh"));
    assert!(parts.is_empty(), "{parts:?}");
}

/// A folder stored as one `.tar.gz` artifact and restored byte-identical; unpacking never
/// lands on a folder that holds files unless forced.
#[test]
fn folder_round_trips_as_one_tar_gz_artifact() {
    let sb = Sandbox::new();
    let run = sb.work("run-42");
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    std::fs::write(run.join("metrics.json"), br#"{"accuracy": 0.91}"#).unwrap();
    let weights = data(300_000, 5);
    std::fs::write(run.join("checkpoints/epoch-3.pt"), &weights).unwrap();

    sb.run(&["--dry-run", "put", "--archive", "run-42", "results/"])
        .ok();
    sb.run(&["ls", "results"]).code(3);
    let doc = sb
        .run(&["--json", "put", "--archive", "run-42", "results/"])
        .ok()
        .json();
    assert_eq!(doc["uploaded"][0]["key"], "run-42.tar.gz", "{doc}");

    sb.run(&["get", "--extract", "results/run-42.tar.gz", "restored"])
        .ok();
    let back = sb.work("restored");
    assert_eq!(
        std::fs::read(back.join("checkpoints/epoch-3.pt")).unwrap(),
        weights
    );
    assert_eq!(
        std::fs::read(back.join("metrics.json")).unwrap(),
        br#"{"accuracy": 0.91}"#
    );
    // No temporary archive is left beside the result.
    let beside: Vec<_> = std::fs::read_dir(sb.path("work"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside.len(), 2, "{beside:?}");

    let refused = sb
        .run(&["get", "--extract", "results/run-42.tar.gz", "restored"])
        .code(4);
    assert!(
        refused.stderr.contains("not empty") && refused.stderr.contains("--force"),
        "{refused:?}"
    );
    sb.run(&[
        "get",
        "--extract",
        "--force",
        "results/run-42.tar.gz",
        "restored",
    ])
    .ok();
    sb.run(&["put", "--archive", "run-42/metrics.json", "results/"])
        .code(1);
}

/// Plain `put`, `get` and `rm` leave an audit trail and the transfers that egress costs come
/// from; a dry run leaves nothing.
#[test]
fn commands_are_recorded_in_the_catalog() {
    let sb = Sandbox::new();
    let body = data(70_000, 3);
    std::fs::write(sb.work("scan.bin"), &body).unwrap();
    sb.run(&["--dry-run", "put", "scan.bin", "scans/"]).ok();
    sb.run(&["put", "scan.bin", "scans/"]).ok();
    sb.run(&["get", "scans/scan.bin", "back.bin"]).ok();
    sb.run(&["rm", "scans/scan.bin"]).ok();

    let db = rusqlite::Connection::open(sb.path("data/catalog.sqlite3")).unwrap();
    let actions: Vec<(String, String, String)> = db
        .prepare("SELECT action, profile, key FROM audit_events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expect = |a: &str| (a.to_string(), "local".to_string(), "scan.bin".to_string());
    assert_eq!(actions, [expect("put"), expect("get"), expect("delete")]);
    let transfers: Vec<(String, i64)> = db
        .prepare("SELECT direction, bytes FROM transfers ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        transfers,
        [
            ("upload".to_string(), 70_000),
            ("download".to_string(), 70_000)
        ]
    );
}

/// The same seed tree synced to the Supabase contract server lands in the same layout, and a
/// second sync uploads nothing: sync is written once over `Store`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_seed_layout_to_supabase() {
    let (_server_dir, server) = contract_server().await;
    let mut sb = Sandbox::new();
    let bucket = unique("sync-sb");
    sb.write_config(&format!(
        "default_profile = \"team\"\n[profiles.team]\nkind = \"supabase\"\n\n[sync]\nprimary = \"team\"\nbucket = \"{bucket}\"\n"
    ));
    sb.env("SUPABASE_URL", &server.url)
        .env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    sb.run(&["buckets", "create", &bucket]).ok();
    seed_layout(&sb.work(".beast-mode"));

    let doc = sb.run(&["--json", "sync", ".beast-mode"]).ok().json();
    let mut want: Vec<String> = seed_plan().into_iter().filter_map(|p| p.3).collect();
    want.sort();
    assert_eq!(doc["uploaded"], want.len(), "{doc}");
    assert_eq!(bucket_keys(&sb, &bucket), want);
    let again = sb.run(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(again["uploaded"], 0, "{again}");
    let versions = sb
        .run(&["--json", "versions", "model-notable-quality"])
        .ok()
        .json();
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(3),
        "{versions}"
    );
    server.shutdown().await;
}
