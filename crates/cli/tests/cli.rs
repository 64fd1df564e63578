//! End-to-end tests of the real `stowage` binary: the zero-config local flow, SeaweedFS over
//! S3, the Supabase contract server, and configuration errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

/// A private HOME, config, data and working folder for one test.
struct Sandbox {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    #[track_caller]
    fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "{self:?}");
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "config", "data", "cache", "work"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Sandbox {
            dir,
            vars: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn work(&self, rel: &str) -> PathBuf {
        self.path("work").join(rel)
    }

    fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.path("config/config.toml"), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args).current_dir(self.path("work"));
        // Nothing from the developer's own setup leaks in.
        for (k, _) in std::env::vars() {
            let ours =
                k.starts_with("STOWAGE_") || k.starts_with("SUPABASE_") || k.starts_with("AWS_");
            if ours && k != "AWS_CA_BUNDLE" {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("home/.config"))
            .env("XDG_DATA_HOME", self.path("home/.local/share"))
            .env("STOWAGE_CONFIG_DIR", self.path("config"))
            .env("STOWAGE_DATA_DIR", self.path("data"))
            .env("STOWAGE_CACHE_DIR", self.path("cache"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Run synchronously (no server in this process).
    fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }

    /// Run without blocking the runtime that serves an in-process server.
    async fn run_async(&self, args: &[&str]) -> Run {
        tokio::process::Command::from(self.command(args))
            .output()
            .await
            .unwrap()
            .into()
    }
}

/// Deterministic, incompressible test data.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

fn store_tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

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

/// The S3 endpoint of the SeaweedFS that `scripts/test` starts.
fn s3_endpoint() -> String {
    match std::env::var("STOWAGE_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!(
            "STOWAGE_TEST_S3_ENDPOINT is not set: start SeaweedFS and run the tests with \
             `scripts/test` (or set STOWAGE_TEST_S3_ENDPOINT=http://127.0.0.1:8333 with \
             STOWAGE_TEST_S3_ACCESS_KEY/STOWAGE_TEST_S3_SECRET_KEY)"
        ),
    }
}

fn s3_sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    let endpoint = s3_endpoint();
    sb.write_config(&format!(
        "default_profile = \"seaweed\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\n"
    ));
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    sb.env(
        "AWS_ACCESS_KEY_ID",
        &var("STOWAGE_TEST_S3_ACCESS_KEY", "testak"),
    )
    .env(
        "AWS_SECRET_ACCESS_KEY",
        &var("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123"),
    );
    sb
}

/// Empties and deletes a test bucket even when the test fails.
struct BucketGuard<'a> {
    sb: &'a Sandbox,
    bucket: String,
}

impl Drop for BucketGuard<'_> {
    fn drop(&mut self) {
        let _ = self
            .sb
            .run(&["rm", "--recursive", &format!("{}/", self.bucket)]);
        let _ = self.sb.run(&["buckets", "rm", &self.bucket]);
    }
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
    let server_dir = tempfile::tempdir().unwrap();
    let server = stowage_supabase_contract::start(stowage_supabase_contract::ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        jwt_secret: "a-test-jwt-secret-of-at-least-32-characters".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
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
        let parts = std::fs::read_dir(&resume_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|d| serde_json::from_slice::<Value>(&d).ok())
            .map(|v| v["parts"].as_array().map_or(0, Vec::len))
            .max()
            .unwrap_or(0);
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

    let doc = sb.run(&["--json", "put", "weights.bin", &dest]).ok().json();
    let done = &doc["uploaded"][0];
    let resumed = done["resumed_from"].as_u64().unwrap();
    assert!(resumed >= 5 << 20 && resumed < body.len() as u64, "{doc}");
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
