//! Helpers shared by the CLI's end-to-end test files: a private sandbox per test, the real
//! binary, SeaweedFS and the Supabase contract server.
#![allow(dead_code)]

pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_stowage");

/// A private HOME, config, data and working folder for one test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

/// One finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
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
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "config", "data", "cache", "work"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Sandbox {
            dir,
            vars: Vec::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn work(&self, rel: &str) -> PathBuf {
        self.path("work").join(rel)
    }

    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.path("config/config.toml"), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        // STOWAGE_TEST_BIN runs the tests against another build (a copy of this one, or a
        // release binary).
        let bin = std::env::var("STOWAGE_TEST_BIN").unwrap_or_else(|_| BIN.to_string());
        let mut c = Command::new(bin);
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
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }

    /// Run without blocking the runtime that serves an in-process server.
    pub async fn run_async(&self, args: &[&str]) -> Run {
        tokio::process::Command::from(self.command(args))
            .output()
            .await
            .unwrap()
            .into()
    }
}

/// Deterministic, incompressible test data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
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

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

pub fn store_tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    pub fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
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

/// The S3 endpoint of the SeaweedFS that `scripts/test` starts.
pub fn s3_endpoint() -> String {
    match std::env::var("STOWAGE_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!(
            "STOWAGE_TEST_S3_ENDPOINT is not set: start SeaweedFS and run the tests with \
             `scripts/test` (or set STOWAGE_TEST_S3_ENDPOINT=http://127.0.0.1:8333 with \
             STOWAGE_TEST_S3_ACCESS_KEY/STOWAGE_TEST_S3_SECRET_KEY)"
        ),
    }
}

pub fn s3_sandbox() -> Sandbox {
    s3_sandbox_via(&s3_endpoint())
}

/// A sandbox whose `seaweed` profile reaches SeaweedFS at `endpoint` (e.g. a fault proxy).
pub fn s3_sandbox_via(endpoint: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write_config(&format!(
        "default_profile = \"seaweed\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\n"
    ));
    let (ak, sk) = s3_credentials();
    sb.env("AWS_ACCESS_KEY_ID", &ak)
        .env("AWS_SECRET_ACCESS_KEY", &sk);
    sb
}

/// The test S3 server's access key id and secret (`scripts/test` exports them).
pub fn s3_credentials() -> (String, String) {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    (
        var("STOWAGE_TEST_S3_ACCESS_KEY", "testak"),
        var("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123"),
    )
}

/// Empties and deletes a test bucket even when the test fails.
pub struct BucketGuard<'a> {
    pub sb: &'a Sandbox,
    pub bucket: String,
}

impl Drop for BucketGuard<'_> {
    fn drop(&mut self) {
        let _ = self
            .sb
            .run(&["rm", "--recursive", &format!("{}/", self.bucket)]);
        let _ = self.sb.run(&["buckets", "rm", &self.bucket]);
    }
}

/// A Supabase contract server in this process, with its data folder.
pub async fn contract_server() -> (tempfile::TempDir, stowage_supabase_contract::RunningServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = stowage_supabase_contract::start(stowage_supabase_contract::ServerConfig {
        data_dir: dir.path().to_path_buf(),
        jwt_secret: "a-test-jwt-secret-of-at-least-32-characters".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
    })
    .await
    .unwrap();
    (dir, server)
}

/// The most parts any saved multipart upload in `resume_dir` records. Only the records
/// (`*.json`) count: a record is written to a temporary file and renamed into place, so a
/// kill before the rename leaves the record as it was.
#[allow(dead_code)]
pub fn stored_parts(resume_dir: &Path) -> usize {
    std::fs::read_dir(resume_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
        .map(|v| v["parts"].as_array().map_or(0, Vec::len))
        .max()
        .unwrap_or(0)
}
