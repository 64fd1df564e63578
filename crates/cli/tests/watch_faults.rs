//! Fault tests of `stowage watch` (the auto-sync engine) against real servers, driving the
//! real binary: `kill -9` mid-sync, a SeaweedFS stopped mid-upload, a secondary that is down
//! during dual-write, files still being written, empty files and a burst of files.
//!
//! The shared SeaweedFS (`STOWAGE_TEST_S3_ENDPOINT`, started by `scripts/test`) serves most
//! tests; the ones that stop a server start their own `weed mini` (binary from
//! `STOWAGE_TEST_WEED_BIN`, exported by scripts/lib/seaweedfs.sh) on free ports with its own
//! data folder, and kill it when done.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// A private SeaweedFS that a test can stop and start again.

struct Weed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    args: Vec<String>,
    s3_port: u16,
}

fn free_ports(n: usize) -> Vec<u16> {
    // Hold them all at once so they differ; weed binds them right after.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Weed {
    fn bin() -> String {
        match std::env::var("STOWAGE_TEST_WEED_BIN") {
            Ok(b) if !b.is_empty() => b,
            _ => panic!(
                "STOWAGE_TEST_WEED_BIN is not set: these tests start and stop their own \
                 SeaweedFS. Run them with `scripts/test` (it installs SeaweedFS and exports it), \
                 or set STOWAGE_TEST_WEED_BIN=target/test-servers/seaweedfs-4.48/bin/weed"
            ),
        }
    }

    fn start() -> Weed {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let (ak, sk) = creds();
        std::fs::write(
            dir.path().join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{ak}","secretKey":"{sk}"}}],"actions":["Admin","Read","List","Tagging","Write"]}}]}}"#
            ),
        )
        .unwrap();
        let p = free_ports(15);
        let flags = [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "s3.port.iceberg",
            "s3.port.lance",
            "debug.port",
            "s3.debug.port",
            "admin.port",
            "admin.port.grpc",
            "webdav.port",
        ];
        let mut args = vec![
            "mini".to_string(),
            format!("-dir={}", dir.path().join("data").display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-s3.config={}", dir.path().join("s3.json").display()),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
        ];
        for (f, port) in flags.iter().zip(&p) {
            args.push(format!("-{f}={port}"));
        }
        let mut w = Weed {
            child: None,
            dir,
            args,
            s3_port: p[6],
        };
        w.resume();
        w
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// Start (again) on the same ports and data folder.
    fn resume(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::File::create(self.dir.path().join("weed.log")).unwrap();
        let child = Command::new(Weed::bin())
            .args(&self.args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", Weed::bin()));
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            // The S3 port answers once the filer behind it does.
            if std::net::TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < until,
                "SeaweedFS did not start; log: {}",
                std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Let the volume server register with the master before the first write.
        std::thread::sleep(Duration::from_secs(2));
    }

    /// Stop it hard, as a crash or a pulled cable would.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop();
    }
}

fn creds() -> (String, String) {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    (
        var("STOWAGE_TEST_S3_ACCESS_KEY", "testak"),
        var("STOWAGE_TEST_S3_SECRET_KEY", "testsecretkey123"),
    )
}

// ---------------------------------------------------------------------------------------
// `stowage watch --json` as a child process, its NDJSON events read as they come.

struct Watch {
    child: Child,
    rx: mpsc::Receiver<Value>,
    events: Vec<Value>,
}

fn watch(sb: &Sandbox, args: &[&str]) -> Watch {
    let mut all = vec!["--json", "watch"];
    all.extend_from_slice(args);
    let mut child = sb
        .command(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not one JSON document per line ({e}): {line}"));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    Watch {
        child,
        rx,
        events: Vec::new(),
    }
}

impl Watch {
    /// Read events until `done(events so far)` holds; fail after `limit` with what came.
    #[track_caller]
    fn until(&mut self, limit: Duration, what: &str, done: impl Fn(&[Value]) -> bool) {
        let end = Instant::now() + limit;
        while !done(&self.events) {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(v) => self.events.push(v),
                Err(_) => panic!(
                    "waiting for {what}: got {} events, the last: {:?}",
                    self.events.len(),
                    self.events.iter().rev().take(5).collect::<Vec<_>>()
                ),
            }
        }
    }

    fn count(&self, event: &str) -> usize {
        count(&self.events, event)
    }

    /// `kill -9`.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Ctrl-C; the exit code.
    fn interrupt(&mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        self.wait(Duration::from_secs(60))
    }

    /// Wait for the process to exit by itself, reading its remaining events.
    #[track_caller]
    fn wait(&mut self, limit: Duration) -> i32 {
        let end = Instant::now() + limit;
        loop {
            while let Ok(v) = self.rx.try_recv() {
                self.events.push(v);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                while let Ok(v) = self.rx.try_recv() {
                    self.events.push(v);
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!(
                    "stowage watch did not exit; the last events: {:?}",
                    self.events.iter().rev().take(5).collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(events: &[Value], event: &str) -> usize {
    events.iter().filter(|e| e["event"] == event).count()
}

// ---------------------------------------------------------------------------------------
// Setup and checks.

/// Everything in the watched folder goes to the primary under `runs/`, uncompressed (so the
/// stored SHA-256 is the file's).
const POLICY_PRIMARY: &str = "include_defaults = false\n\n[[rule]]\nname = \"all\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"runs/\"\ncompress = false\n";

/// An S3 sandbox syncing to `bucket` (created, and removed by the guard), with `extra`
/// config appended.
fn s3_project(bucket: &str, extra: &str, policy: &str) -> Sandbox {
    let sb = s3_sandbox();
    let base = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&format!(
        "{base}\n[sync]\nbucket = \"{bucket}\"\n\n[watch]\nsettle = \"300ms\"\nretry_base = \"200ms\"\nretry_max = \"2s\"\n{extra}"
    ));
    std::fs::write(sb.path("config/policy.toml"), policy).unwrap();
    std::fs::create_dir_all(sb.work("proj/.beast-mode")).unwrap();
    sb.run(&["buckets", "create", bucket]).ok();
    sb
}

fn catalog(sb: &Sandbox) -> rusqlite::Connection {
    rusqlite::Connection::open(sb.path("data/catalog.sqlite3")).unwrap()
}

fn query_i64(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn queue_states(sb: &Sandbox) -> BTreeMap<String, i64> {
    let c = catalog(sb);
    let mut s = c
        .prepare("SELECT state, COUNT(*) FROM queue GROUP BY state")
        .unwrap();
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every key in `bucket` (recursively).
fn bucket_keys(sb: &Sandbox, bucket: &str) -> BTreeSet<String> {
    let doc = sb.run(&["--json", "ls", "-r", bucket]).ok().json();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// Download `bucket/runs/` (which verifies each object's SHA-256) and compare every file with
/// the watched folder's.
fn assert_bucket_matches(sb: &Sandbox, bucket: &str, files: &BTreeMap<String, Vec<u8>>) {
    let expected: BTreeSet<String> = files.keys().map(|f| format!("runs/{f}")).collect();
    assert_eq!(bucket_keys(sb, bucket), expected, "the bucket's keys");
    let out = sb.work("downloaded");
    sb.run(&[
        "get",
        "-r",
        &format!("{bucket}/runs/"),
        out.to_str().unwrap(),
    ])
    .ok();
    for (name, content) in files {
        let got = std::fs::read(out.join(name)).unwrap();
        assert!(got == *content, "{name}: the stored content differs");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// Exactly once: one version per file, one location each, no archived copies, one done row
/// per transfer and no other rows.
fn assert_exactly_once(sb: &Sandbox, n: i64) {
    let c = catalog(sb);
    assert_eq!(query_i64(&c, "SELECT COUNT(*) FROM versions"), n);
    assert_eq!(
        query_i64(
            &c,
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM versions GROUP BY artifact_id)"
        ),
        1,
        "a file was versioned twice"
    );
    assert_eq!(query_i64(&c, "SELECT COUNT(*) FROM locations"), n);
    assert_eq!(
        query_i64(
            &c,
            "SELECT COUNT(*) FROM locations WHERE key LIKE '%/_versions/%'"
        ),
        0,
        "a file was archived"
    );
    assert_eq!(
        queue_states(sb),
        BTreeMap::from([("done".to_string(), n)]),
        "queue rows by state"
    );
    assert_eq!(query_i64(&c, "SELECT COUNT(DISTINCT path) FROM queue"), n);
}

fn write_files(dir: &Path, n: usize, size: impl Fn(usize) -> usize) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for i in 0..n {
        let name = format!("f{i:05}.bin");
        let content = data(size(i), i as u64 + 1);
        std::fs::write(dir.join(&name), &content).unwrap();
        files.insert(name, content);
    }
    files
}

// ---------------------------------------------------------------------------------------
// (a) kill -9 during a 1,000-file sync, at several points; then restart.

fn kill_and_restart(at_fraction: f64) {
    let bucket = unique("wkill");
    let sb = s3_project(&bucket, "concurrency = 8\n", POLICY_PRIMARY);
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    let dir = sb.work("proj/.beast-mode");
    let files = write_files(&dir, 1000, |i| 512 + i * 7);
    let target = (1000.0 * at_fraction) as usize;
    let mut w = watch(&sb, &["proj/.beast-mode"]);
    w.until(
        Duration::from_secs(240),
        &format!("{target} verified uploads"),
        |e| count(e, "verified") >= target,
    );
    w.kill9();
    let states = queue_states(&sb);
    let done_at_kill = states.get("done").copied().unwrap_or(0);
    assert!(
        (target as i64..1000).contains(&done_at_kill),
        "the kill came mid-sync: {states:?}"
    );
    // Restart with no folder given: the registered project is watched.
    let mut again = watch(&sb, &["--exit-when-idle"]);
    let code = again.wait(Duration::from_secs(300));
    assert_eq!(
        code,
        0,
        "{:?}",
        again.events.iter().rev().take(5).collect::<Vec<_>>()
    );
    assert_eq!(
        again.count("verified") as i64,
        1000 - done_at_kill,
        "the second run verifies exactly what the first did not"
    );
    assert_exactly_once(&sb, 1000);
    assert_bucket_matches(&sb, &bucket, &files);
}

#[test]
fn watch_kill9_after_10_percent_resumes_exactly_once() {
    kill_and_restart(0.10);
}

#[test]
fn watch_kill9_after_50_percent_resumes_exactly_once() {
    kill_and_restart(0.50);
}

#[test]
fn watch_kill9_after_90_percent_resumes_exactly_once() {
    kill_and_restart(0.90);
}

// ---------------------------------------------------------------------------------------
// (b) SeaweedFS stopped in the middle of a 256 MB upload, then started again.

#[test]
fn watch_resumes_a_256mb_upload_after_the_server_restarts() {
    let mut weed = Weed::start();
    let mut sb = Sandbox::new();
    let (ak, sk) = creds();
    sb.env("AWS_ACCESS_KEY_ID", &ak)
        .env("AWS_SECRET_ACCESS_KEY", &sk);
    let bucket = unique("wresume");
    sb.write_config(&format!(
        "default_profile = \"private\"\n\n[profiles.private]\nkind = \"s3\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\npath_style = true\npart_size = 8388608\nconcurrency = 2\n\n[sync]\nbucket = \"{bucket}\"\n\n[watch]\nsettle = \"300ms\"\nretry_base = \"200ms\"\nretry_max = \"1s\"\n",
        weed.endpoint()
    ));
    std::fs::write(sb.path("config/policy.toml"), POLICY_PRIMARY).unwrap();
    std::fs::create_dir_all(sb.work("proj/.beast-mode")).unwrap();
    sb.run(&["buckets", "create", &bucket]).ok();
    let size = 256 << 20;
    let content = data(size, 42);
    let file = sb.work("proj/.beast-mode/big.bin");
    std::fs::write(&file, &content).unwrap();
    let mut w = watch(&sb, &["proj/.beast-mode", "--exit-when-idle"]);
    // A third of it sent: stop the server.
    w.until(Duration::from_secs(240), "a third of the upload", |e| {
        e.iter()
            .any(|e| e["event"] == "progress" && e["bytes"].as_u64().unwrap() >= (size / 3) as u64)
    });
    weed.stop();
    w.until(Duration::from_secs(120), "the provider marked down", |e| {
        count(e, "provider_down") > 0
    });
    assert_eq!(w.count("verified"), 0);
    let c = catalog(&sb);
    let row: (String, Option<String>) = c
        .query_row("SELECT state, error_kind FROM queue", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(row.0, "queued", "the row waits for the provider");
    assert_eq!(row.1.as_deref(), Some("unavailable"));
    let health = sb.run(&["--json", "queue", "ls"]).ok().json();
    assert_eq!(health["health"][0]["up"], false, "{health}");
    weed.resume();
    let code = w.wait(Duration::from_secs(300));
    assert_eq!(code, 0);
    assert!(w.count("provider_up") >= 1);
    let verified: Vec<&Value> = w
        .events
        .iter()
        .filter(|e| e["event"] == "verified")
        .collect();
    assert_eq!(verified.len(), 1);
    let resumed = verified[0]["resumed_from"].as_u64().unwrap();
    eprintln!("256 MiB upload resumed from {resumed} bytes after the server restart");
    assert!(
        resumed > 0 && resumed < size as u64,
        "resumed from {resumed} of {size} bytes: fewer bytes were sent again than the whole file"
    );
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&content))
    };
    assert_eq!(verified[0]["sha256"], sha.as_str());
    // The stored object itself, read back and hashed by `get`.
    let out = sb.work("back.bin");
    sb.run(&[
        "get",
        &format!("{bucket}/runs/big.bin"),
        out.to_str().unwrap(),
    ])
    .ok();
    assert!(std::fs::read(&out).unwrap() == content);
    let _ = sb.run(&["rm", "-r", &format!("{bucket}/")]);
    let _ = sb.run(&["buckets", "rm", &bucket]);
}

// ---------------------------------------------------------------------------------------
// (c) The secondary down during dual-write: the primary's copies land; the secondary's wait
// and catch up when it returns.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_dual_write_catches_up_when_the_secondary_returns() {
    // The secondary: the Supabase contract server, stopped and started again on the same port
    // and data folder. (The blocking waits below leave its runtime a free worker.)
    let (server_dir, server) = contract_server().await;
    let url = server.url.clone();
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let bucket = unique("wdual");
    let policy = POLICY_PRIMARY.replace("\"primary\"", "\"primary+secondary\"");
    let mut sb = s3_project(&bucket, "", &policy);
    let base = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&base.replace(
        "[sync]\n",
        &format!(
            "[profiles.backup]\nkind = \"supabase\"\nurl = \"{url}\"\n\n[sync]\nprimary = \"seaweed\"\nsecondary = \"backup\"\n"
        ),
    ));
    sb.env("SUPABASE_SERVICE_ROLE_KEY", &server.service_role_key);
    let sb = sb;
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    sb.run_async(&["--profile", "backup", "buckets", "create", &bucket])
        .await
        .ok();
    server.shutdown().await;
    let files = write_files(&sb.work("proj/.beast-mode"), 20, |i| 1000 + i);
    let mut w = watch(&sb, &["proj/.beast-mode", "--exit-when-idle"]);
    let w = tokio::task::spawn_blocking(move || {
        w.until(
            Duration::from_secs(120),
            "the primary's copies and the secondary down",
            |e| {
                let of = |event: &str, profile: &str| {
                    e.iter()
                        .filter(|e| e["event"] == event && e["profile"] == profile)
                        .count()
                };
                // Every secondary attempt made so far has come back to the queue.
                of("verified", "seaweed") == 20
                    && count(e, "provider_down") > 0
                    && of("started", "backup") == of("retried", "backup")
            },
        );
        w
    })
    .await
    .unwrap();
    assert!(w
        .events
        .iter()
        .filter(|e| e["event"] == "verified")
        .all(|e| e["profile"] == "seaweed"));
    assert_eq!(w.count("failed"), 0, "a secondary outage fails nothing");
    // While it is down: the primary's rows are done, the secondary's wait, and the queue says so.
    let doc = sb.run_async(&["--json", "queue", "ls"]).await.ok().json();
    assert_eq!(doc["counts"]["done"], 20, "{doc}");
    assert_eq!(doc["counts"]["queued"], 20, "{doc}");
    let backup = doc["health"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["profile"] == "backup")
        .unwrap()
        .clone();
    assert_eq!(backup["up"], false, "{doc}");
    let mut w = w;
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "it waits for the secondary"
    );
    let server = stowage_supabase_contract::start(stowage_supabase_contract::ServerConfig {
        data_dir: server_dir.path().to_path_buf(),
        jwt_secret: "a-test-jwt-secret-of-at-least-32-characters".into(),
        addr,
    })
    .await
    .unwrap();
    let w = tokio::task::spawn_blocking(move || {
        let code = w.wait(Duration::from_secs(180));
        assert_eq!(code, 0);
        w
    })
    .await
    .unwrap();
    assert!(w.count("provider_up") >= 1);
    assert_eq!(
        w.events
            .iter()
            .filter(|e| e["event"] == "verified" && e["profile"] == "backup")
            .count(),
        20
    );
    // Both copies recorded: one version per file with two locations.
    let c = catalog(&sb);
    assert_eq!(query_i64(&c, "SELECT COUNT(*) FROM versions"), 20);
    assert_eq!(
        query_i64(
            &c,
            "SELECT COUNT(*) FROM locations WHERE profile = 'backup'"
        ),
        20
    );
    drop(c);
    assert_eq!(
        queue_states(&sb),
        BTreeMap::from([("done".to_string(), 40)])
    );
    let keys = sb
        .run_async(&["--json", "--profile", "backup", "ls", "-r", &bucket])
        .await
        .ok()
        .json();
    assert_eq!(keys["entries"].as_array().unwrap().len(), 20);
    let out = sb.work("from-backup");
    sb.run_async(&[
        "--profile",
        "backup",
        "get",
        "-r",
        &format!("{bucket}/runs/"),
        out.to_str().unwrap(),
    ])
    .await
    .ok();
    for (name, content) in &files {
        assert!(std::fs::read(out.join(name)).unwrap() == *content, "{name}");
    }
    let sb2 = &sb;
    let files2 = files.clone();
    let bucket2 = bucket.clone();
    tokio::task::block_in_place(|| assert_bucket_matches(sb2, &bucket2, &files2));
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// (d) A file appended to for 3 seconds is uploaded once, whole; (e) an empty file.

#[test]
fn watch_uploads_a_growing_file_once_finished_and_empty_files() {
    let bucket = unique("wgrow");
    let sb = s3_project(&bucket, "", POLICY_PRIMARY);
    // A settle time 20 times the gap between appends: a loaded machine that delays one
    // append by a few hundred milliseconds must not make the file look finished.
    let config = std::fs::read_to_string(sb.path("config/config.toml")).unwrap();
    sb.write_config(&config.replace("settle = \"300ms\"", "settle = \"2s\""));
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    let dir = sb.work("proj/.beast-mode");
    std::fs::write(dir.join("empty.bin"), b"").unwrap();
    let mut w = watch(&sb, &["proj/.beast-mode"]);
    w.until(Duration::from_secs(60), "the empty file", |e| {
        count(e, "verified") == 1
    });
    let empty = w
        .events
        .iter()
        .find(|e| e["event"] == "verified")
        .unwrap()
        .clone();
    assert_eq!(empty["key"], "runs/empty.bin");
    assert_eq!(empty["stored_size"], 0);
    // 3 s of appends, 100 ms apart (well under the settle time).
    let path = dir.join("growing.log.bin");
    let mut content = Vec::new();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).unwrap();
        for i in 0..30 {
            let chunk = data(10_000, i + 7);
            f.write_all(&chunk).unwrap();
            f.flush().unwrap();
            content.extend_from_slice(&chunk);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    w.until(Duration::from_secs(60), "the grown file", |e| {
        e.iter()
            .any(|e| e["event"] == "verified" && e["key"] == "runs/growing.log.bin")
    });
    // A moment for anything half-written to show up, then stop.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.interrupt(), 130);
    let grown: Vec<&Value> = w
        .events
        .iter()
        .filter(|e| e["event"] == "verified" && e["key"] == "runs/growing.log.bin")
        .collect();
    assert_eq!(grown.len(), 1, "uploaded once");
    assert_eq!(grown[0]["stored_size"], content.len());
    let c = catalog(&sb);
    assert_eq!(
        query_i64(
            &c,
            "SELECT COUNT(*) FROM versions v JOIN artifacts a ON a.id = v.artifact_id \
             WHERE a.family LIKE 'growing%'"
        ),
        1,
        "one version"
    );
    let files = BTreeMap::from([
        ("empty.bin".to_string(), Vec::new()),
        ("growing.log.bin".to_string(), content),
    ]);
    assert_bucket_matches(&sb, &bucket, &files);
    // Ctrl-C left nothing running.
    assert!(!queue_states(&sb).contains_key("running"));
}

// ---------------------------------------------------------------------------------------
// (f) A burst of 5,000 files written while watching.

#[test]
fn watch_takes_a_burst_of_5000_files() {
    let bucket = unique("wburst");
    let sb = s3_project(&bucket, "concurrency = 16\n", POLICY_PRIMARY);
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    let dir = sb.work("proj/.beast-mode");
    let mut w = watch(&sb, &["proj/.beast-mode"]);
    w.until(Duration::from_secs(60), "the start-up scan", |e| {
        count(e, "scan_done") == 1
    });
    let files = write_files(&dir, 5000, |i| 64 + i % 512);
    w.until(Duration::from_secs(600), "5,000 verified uploads", |e| {
        count(e, "verified") >= 5000
    });
    assert_eq!(w.interrupt(), 130);
    assert_eq!(w.count("verified"), 5000);
    assert_eq!(w.count("failed"), 0);
    assert_exactly_once(&sb, 5000);
    let expected: BTreeSet<String> = files.keys().map(|f| format!("runs/{f}")).collect();
    assert_eq!(bucket_keys(&sb, &bucket), expected);
}

// ---------------------------------------------------------------------------------------
// Queue commands and a second watcher.

#[test]
fn watch_refuses_a_second_watcher_and_queue_commands_explain_bad_ids() {
    let bucket = unique("wlock");
    let sb = s3_project(&bucket, "", POLICY_PRIMARY);
    let _guard = BucketGuard {
        sb: &sb,
        bucket: bucket.clone(),
    };
    let mut w = watch(&sb, &["proj/.beast-mode"]);
    w.until(Duration::from_secs(60), "the start-up scan", |e| {
        count(e, "scan_done") == 1
    });
    let second = sb.run(&["watch", "proj/.beast-mode"]);
    assert_ne!(second.code, 0);
    assert!(
        second.stderr.contains("another `stowage watch`")
            && second.stderr.contains(&format!("process {}", w.child.id()))
            && second.stderr.contains("watch.lock"),
        "{second:?}"
    );
    assert_eq!(w.interrupt(), 130);
    let missing = sb.run(&["queue", "retry", "4242"]).code(3);
    assert!(missing.stderr.contains("no queue row 4242"), "{missing:?}");
    assert!(missing.stderr.contains("stowage queue ls"), "{missing:?}");
    let none = Sandbox::new().run(&["watch"]).code(2);
    assert!(
        none.stderr.contains("stowage watch .beast-mode"),
        "{none:?}"
    );
}

// ---------------------------------------------------------------------------------------
// A file that cannot be synced: a failed row with a clear error, a nonzero exit, and the
// queue commands that show, retry and cancel it. (The local folder profile: no server.)

#[test]
fn watch_records_a_refused_file_and_queue_retry_and_cancel_manage_it() {
    let sb = Sandbox::new();
    sb.write_config("[watch]\nsettle = \"200ms\"\n");
    std::fs::write(sb.path("config/policy.toml"), POLICY_PRIMARY).unwrap();
    let dir = sb.work("proj/.beast-mode");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.bin"), b"fine").unwrap();
    let bad = dir.join("bad\u{1}name.bin");
    std::fs::write(&bad, b"refused").unwrap();
    let mut w = watch(&sb, &["proj/.beast-mode", "--exit-when-idle"]);
    let code = w.wait(Duration::from_secs(60));
    assert_eq!(code, 1, "a permanent failure makes the idle exit nonzero");
    assert_eq!(
        w.events.last().unwrap()["error"]["message"]
            .as_str()
            .map(|m| m.contains("1 of them in this run")),
        Some(true),
        "{:?}",
        w.events.last()
    );
    assert_eq!(w.count("verified"), 1);
    let failed = w.events.iter().find(|e| e["event"] == "failed").unwrap();
    let message = failed["error"].as_str().unwrap();
    assert!(
        message.contains("bad") && message.contains("control character"),
        "the error names the file and the problem: {message}"
    );
    let id = failed["id"].as_i64().unwrap();
    // queue ls shows it with its error.
    let doc = sb
        .run(&["--json", "queue", "ls", "--state", "failed"])
        .ok()
        .json();
    assert_eq!(doc["rows"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["rows"][0]["id"], id);
    assert_eq!(doc["rows"][0]["error_kind"], "usage");
    let text = sb.run(&["queue", "ls"]).ok();
    assert!(text.stdout.contains("control character"), "{text:?}");
    sb.run(&["queue", "ls", "--state", "bogus"]).code(2);
    // Retry puts it back; a done row cannot be retried or cancelled.
    let done_id = w.events.iter().find(|e| e["event"] == "verified").unwrap()["id"]
        .as_i64()
        .unwrap();
    let refused = sb.run(&["queue", "retry", &done_id.to_string()]).code(2);
    assert!(refused.stderr.contains("is done"), "{refused:?}");
    sb.run(&["queue", "retry", &id.to_string()]).ok();
    let doc = sb.run(&["--json", "queue", "ls"]).ok().json();
    assert_eq!(doc["counts"]["queued"], 1, "{doc}");
    // Cancelled, it stays out: the next run plans nothing for the same content and exits 0.
    sb.run(&["queue", "cancel", &id.to_string()]).ok();
    let mut again = watch(&sb, &["--exit-when-idle"]);
    assert_eq!(again.wait(Duration::from_secs(60)), 0);
    assert_eq!(again.count("failed"), 0);
    assert_eq!(again.count("queued"), 0);
    let doc = sb.run(&["--json", "queue", "ls"]).ok().json();
    assert_eq!(doc["counts"]["cancelled"], 1, "{doc}");
    assert_eq!(doc["counts"]["done"], 1, "{doc}");
}
