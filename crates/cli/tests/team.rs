//! The team catalog on a real PostgreSQL: two simulated machines (two data folders) syncing
//! through one database, label moves converging, a push killed mid-batch, the database
//! stopped and restarted, row-level security by organization, the password kept out of
//! every file and output, and a newer schema refused.
//!
//! `scripts/test` starts a private cluster and sets STOWAGE_TEST_PG_URL (a superuser's URL);
//! each test makes its own database in it. The outage test starts its own cluster with the
//! server binaries in STOWAGE_TEST_PG_BIN.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const HOW_TO_RUN: &str = "STOWAGE_TEST_PG_URL is not set: run the tests with `scripts/test`, \
     which starts a private PostgreSQL cluster (Debian's postgresql package)";

/// A blocking client for checks and setup.
struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    fn connect(url: &str) -> Pg {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connecting to the test database: {e}"));
            tokio::spawn(conn);
            client
        });
        Pg { rt, client }
    }

    fn exec(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    fn try_exec(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.rt.block_on(self.client.batch_execute(sql))
    }

    fn count(&self, sql: &str) -> i64 {
        self.rt
            .block_on(self.client.query_one(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    }

    fn strings(&self, sql: &str) -> Vec<String> {
        self.rt
            .block_on(self.client.query(sql, &[]))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

fn admin_url() -> String {
    std::env::var("STOWAGE_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect(HOW_TO_RUN)
}

/// `url` pointing at database `db` instead, without TLS (the test cluster has none).
fn with_db(url: &str, db: &str) -> String {
    let base = url.rsplit_once('/').expect("a URL with a database").0;
    format!("{base}/{db}?sslmode=disable")
}

/// A new, empty database in the test cluster: its URL (as the superuser).
fn fresh_db() -> String {
    let name = unique("team").replace('-', "_");
    Pg::connect(&admin_url()).exec(&format!("CREATE DATABASE {name}"));
    with_db(&admin_url(), &name)
}

/// A machine: its own data folder, the shared SeaweedFS profile `seaweed`, and the team
/// database's URL.
fn machine(url: &str, member: &str) -> Sandbox {
    let mut sb = s3_sandbox();
    sb.env("STOWAGE_TEAM_DATABASE_URL", url)
        .env("STOWAGE_TEAM_MEMBER", member);
    sb
}

/// (artifact, version, sha256, labels, stored keys) of every version a machine lists.
type Listed = BTreeSet<(String, String, String, Vec<String>, Vec<String>)>;

fn listing(sb: &Sandbox, scope: &str) -> Listed {
    let v = sb
        .run(&["versions", "--json", "--scope", scope])
        .ok()
        .json();
    v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let strings = |a: &Value| -> Vec<String> {
                let mut s: Vec<String> = a
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect();
                s.sort();
                s
            };
            let mut keys: Vec<String> = v["locations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    format!(
                        "{}/{}",
                        l["bucket"].as_str().unwrap(),
                        l["key"].as_str().unwrap()
                    )
                })
                .collect();
            keys.sort();
            (
                v["artifact"].as_str().unwrap().to_string(),
                v["version"].as_str().unwrap().to_string(),
                v["sha256"].as_str().unwrap().to_string(),
                strings(&v["labels"]),
                keys,
            )
        })
        .collect()
}

fn status(sb: &Sandbox) -> Value {
    sb.run(&["team", "status", "--json"]).ok().json()
}

#[test]
fn two_machines_see_each_others_artifacts_and_one_file_stays_one_version() {
    let url = fresh_db();
    let ana = machine(&url, "ana");
    let bob = machine(&url, "bob");
    let bucket = unique("team-two");
    let _guard = BucketGuard {
        sb: &ana,
        bucket: bucket.clone(),
    };
    ana.run(&["buckets", "create", &bucket]).ok();
    let models = format!("{bucket}/models/");
    // The same file on both machines, and one file each.
    std::fs::write(ana.work("model_v1.pt"), data(40_000, 1)).unwrap();
    std::fs::write(bob.work("model_v1.pt"), data(40_000, 1)).unwrap();
    std::fs::write(ana.work("model_v2.pt"), data(40_000, 2)).unwrap();
    std::fs::write(bob.work("dataset-train_v1.json"), b"[{\"x\": 1}]").unwrap();
    ana.run(&["put", "model_v1.pt", "model_v2.pt", &models])
        .ok();
    // Bob puts the same bytes at the same key (over ana's object, which is the same).
    bob.run(&["put", "--overwrite", "model_v1.pt", &models])
        .ok();
    bob.run(&[
        "put",
        "dataset-train_v1.json",
        &format!("{bucket}/datasets/"),
    ])
    .ok();

    ana.run(&["team", "sync"]).ok();
    bob.run(&["team", "sync"]).ok();
    ana.run(&["team", "sync"]).ok();

    let seen_by_ana = listing(&ana, "team");
    let seen_by_bob = listing(&bob, "team");
    assert_eq!(
        seen_by_ana, seen_by_bob,
        "both machines list the same versions"
    );
    let names: Vec<(&str, &str)> = seen_by_ana
        .iter()
        .map(|(a, v, ..)| (a.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("datasets/dataset-train.json", "v1"),
            ("models/model.pt", "v1"),
            ("models/model.pt", "v2")
        ],
        "{seen_by_ana:#?}"
    );
    // One version for the one file put on both machines, in the database too.
    let pg = Pg::connect(&url);
    assert_eq!(
        pg.count("SELECT COUNT(*) FROM stowage.versions WHERE family = 'model' AND NOT deleted"),
        2
    );
    assert_eq!(
        pg.count("SELECT COUNT(*) FROM stowage.locations WHERE NOT deleted"),
        3
    );
    // Each sees its own with --scope me: ana put both models; bob the dataset and model v1.
    let mine = |sb: &Sandbox| -> Vec<String> {
        listing(sb, "me")
            .into_iter()
            .map(|(a, v, ..)| format!("{a}@{v}"))
            .collect()
    };
    assert_eq!(mine(&ana), ["models/model.pt@v1", "models/model.pt@v2"]);
    assert_eq!(
        mine(&bob),
        ["datasets/dataset-train.json@v1", "models/model.pt@v1"]
    );

    // Bob restores ana's v2 through the location the team catalog gave him.
    let out = bob.work("restored.pt");
    bob.run(&["restore", "model@v2", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), data(40_000, 2));

    // A third machine starts from the team's rows, without listing a bucket.
    let cleo = machine(&url, "cleo");
    let rebuilt = cleo.run(&["team", "rebuild", "--json"]).ok().json();
    assert!(rebuilt["applied"].as_u64().unwrap() >= 7, "{rebuilt}");
    assert_eq!(listing(&cleo, "team"), seen_by_ana);
    assert!(listing(&cleo, "me").is_empty());
    // A second rebuild is refused: the catalog is not empty.
    let again = cleo.run(&["team", "rebuild"]).code(2);
    assert!(again.stderr.contains("team pull"), "{again:?}");

    // Cost by member: ana's copies and bob's.
    let cost = ana.run(&["cost", "--by", "member", "--json"]).ok().json();
    let groups: BTreeSet<String> = cost["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert!(groups.contains("ana") && groups.contains("bob"), "{cost}");

    // The seeds' metadata table shape, for the team's own SQL.
    let paths = pg.strings(
        "SELECT results_file_path FROM stowage.training_results ORDER BY results_file_path",
    );
    assert_eq!(
        paths,
        [
            format!("{bucket}/datasets/dataset-train_v1.json"),
            format!("{bucket}/models/model_v1.pt"),
            format!("{bucket}/models/model_v2.pt")
        ]
    );
    assert_eq!(
        pg.count(
            "SELECT COUNT(*) FROM stowage.training_results
             WHERE file_size_bytes = 40000 AND NOT compressed AND name = 'models/model.pt'"
        ),
        2
    );
}

#[test]
fn a_teammates_copy_is_recorded_under_the_profile_here_that_reaches_the_same_server() {
    let url = fresh_db();
    let ana = machine(&url, "ana");
    // Dora reaches the same SeaweedFS through a profile of her own name, beside another S3
    // server.
    let mut dora = Sandbox::new();
    dora.write_config(&format!(
        "default_profile = \"lab\"\n\n[profiles.archive]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:9\"\nregion = \"us-east-1\"\npath_style = true\n\n[profiles.lab]\nkind = \"s3\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\npath_style = true\n",
        s3_endpoint()
    ));
    let (ak, sk) = s3_credentials();
    dora.env("AWS_ACCESS_KEY_ID", &ak)
        .env("AWS_SECRET_ACCESS_KEY", &sk)
        .env("STOWAGE_TEAM_DATABASE_URL", &url)
        .env("STOWAGE_TEAM_MEMBER", "dora");
    let bucket = unique("team-names");
    let _guard = BucketGuard {
        sb: &ana,
        bucket: bucket.clone(),
    };
    ana.run(&["buckets", "create", &bucket]).ok();
    let models = format!("{bucket}/models/");
    std::fs::write(ana.work("model_v1.pt"), data(30_000, 1)).unwrap();
    std::fs::write(ana.work("model_v2.pt"), data(30_000, 2)).unwrap();
    std::fs::write(dora.work("model_v1.pt"), data(30_000, 1)).unwrap();
    ana.run(&["put", "model_v1.pt", "model_v2.pt", &models])
        .ok();
    // Dora stores the same file at the same key herself.
    dora.run(&["put", "--overwrite", "model_v1.pt", &models])
        .ok();
    ana.run(&["team", "push"]).ok();
    dora.run(&["team", "sync"]).ok();

    // Every copy is recorded under `lab`, once: ana's `seaweed` copy of v1 is dora's own.
    let v = dora.run(&["versions", "--json"]).ok().json();
    let mut copies: Vec<(String, String, String)> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| {
            let version = v["version"].as_str().unwrap().to_string();
            v["locations"].as_array().unwrap().iter().map(move |l| {
                (
                    version.clone(),
                    l["profile"].as_str().unwrap().to_string(),
                    l["key"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    copies.sort();
    assert_eq!(
        copies,
        [
            ("v1".into(), "lab".into(), "models/model_v1.pt".into()),
            ("v2".into(), "lab".into(), "models/model_v2.pt".into())
        ],
        "{v}"
    );
    // So she reads ana's v2 through it, and verify checks both copies there.
    let out = dora.work("restored.pt");
    dora.run(&["restore", "model@v2", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), data(30_000, 2));
    let verified = dora.run(&["verify", "--json"]).ok().json();
    assert_eq!(verified["checked"], 2, "{verified}");
}

#[test]
fn concurrent_label_moves_converge_and_the_losing_move_is_kept() {
    let url = fresh_db();
    let ana = machine(&url, "ana");
    let bob = machine(&url, "bob");
    let bucket = unique("team-label");
    let _guard = BucketGuard {
        sb: &ana,
        bucket: bucket.clone(),
    };
    ana.run(&["buckets", "create", &bucket]).ok();
    std::fs::write(ana.work("model_v1.pt"), data(1000, 1)).unwrap();
    std::fs::write(ana.work("model_v2.pt"), data(1000, 2)).unwrap();
    ana.run(&[
        "put",
        "model_v1.pt",
        "model_v2.pt",
        &format!("{bucket}/models/"),
    ])
    .ok();
    ana.run(&["team", "sync"]).ok();
    bob.run(&["team", "sync"]).ok();

    // Both move `production` before either hears of the other's move; bob's is later.
    ana.run(&["label", "model@v1", "production"]).ok();
    std::thread::sleep(Duration::from_millis(5));
    bob.run(&["label", "model@v2", "production"]).ok();
    // The later move wins whichever arrives first: here the loser arrives last.
    bob.run(&["team", "push"]).ok();
    let lost = ana.run(&["team", "push", "--json"]).ok().json();
    assert_eq!(lost["conflicts"], 1, "{lost}");
    ana.run(&["team", "pull"]).ok();
    bob.run(&["team", "pull"]).ok();
    let labelled = |sb: &Sandbox| -> Vec<String> {
        listing(sb, "team")
            .into_iter()
            .filter(|(.., labels, _)| labels.contains(&"production".to_string()))
            .map(|(_, v, ..)| v)
            .collect()
    };
    assert_eq!(labelled(&ana), ["v2"]);
    assert_eq!(labelled(&bob), ["v2"]);
    let s = status(&ana);
    assert_eq!(s["remote"]["label_conflicts"], 1, "{s}");
    assert_eq!(s["conflicts"][0]["lost"], "v1", "{s}");
    assert_eq!(s["conflicts"][0]["member"], "ana", "{s}");
    assert_eq!(s["conflicts"][0]["won"], "v2", "{s}");

    // Again, the winner arriving last: it replaces the earlier, concurrent move.
    bob.run(&["label", "model@v1", "staging"]).ok();
    std::thread::sleep(Duration::from_millis(5));
    ana.run(&["label", "model@v2", "staging"]).ok();
    bob.run(&["team", "push"]).ok();
    ana.run(&["team", "push"]).ok();
    for sb in [&ana, &bob] {
        sb.run(&["team", "pull"]).ok();
    }
    let staged = |sb: &Sandbox| -> Vec<String> {
        listing(sb, "team")
            .into_iter()
            .filter(|(.., labels, _)| labels.contains(&"staging".to_string()))
            .map(|(_, v, ..)| v)
            .collect()
    };
    assert_eq!(staged(&ana), ["v2"]);
    assert_eq!(staged(&bob), ["v2"]);
    let pg = Pg::connect(&url);
    assert_eq!(
        pg.strings("SELECT version || ' by ' || member FROM stowage.label_conflicts ORDER BY id"),
        ["v1 by ana", "v1 by bob"]
    );
}

#[test]
fn a_push_killed_mid_batch_loses_nothing_and_duplicates_nothing() {
    let url = fresh_db();
    // The built-in local store: its copies stay on this machine, but every artifact,
    // version and transfer goes to the team.
    let mut ana = Sandbox::new();
    ana.env("STOWAGE_TEAM_DATABASE_URL", &url)
        .env("STOWAGE_TEAM_MEMBER", "ana");
    let dir = ana.work("many");
    std::fs::create_dir_all(&dir).unwrap();
    let n = 2500;
    let mut args = vec!["put".to_string()];
    for i in 0..n {
        let name = format!("result-{i:05}_v1.json");
        std::fs::write(dir.join(&name), format!("{{\"accuracy\": 0.{i:05}}}")).unwrap();
        args.push(format!("many/{name}"));
    }
    args.push("results/runs/".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ana.run(&args).ok();
    let pending = status(&ana)["pending"].as_u64().unwrap();
    assert!(pending >= 2 * n, "{pending}");

    let pg = Pg::connect(&url);
    let versions = || pg.count("SELECT COUNT(*) FROM stowage.versions");
    let mut partial = 0;
    for _ in 0..5 {
        if status(&ana)["pending"] == 0 {
            break;
        }
        let before = versions();
        let mut child = ana
            .command(&["team", "push"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once a batch has committed and before the last has.
        let start = Instant::now();
        while versions() == before && start.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = versions();
        if now > before && (now as u64) < n {
            partial += 1;
        }
    }
    assert!(
        partial > 0,
        "no push was killed part-way; the batches are too small"
    );
    // Finish, and check that the database holds each row once.
    ana.run(&["team", "push"]).ok();
    assert_eq!(status(&ana)["pending"], 0);
    assert_eq!(versions(), n as i64);
    assert_eq!(
        pg.count("SELECT COUNT(DISTINCT (folder, family, extension, version, sha256)) FROM stowage.versions"),
        n as i64
    );
    assert_eq!(pg.count("SELECT COUNT(*) FROM stowage.artifacts"), n as i64);
    let local_bytes: i64 = {
        let c = rusqlite::Connection::open(ana.path("data/catalog.sqlite3")).unwrap();
        c.query_row("SELECT SUM(bytes) FROM transfers", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        pg.count("SELECT SUM(bytes)::bigint FROM stowage.transfers"),
        local_bytes,
        "each transfer counted once"
    );
    // A teammate sees every one of them, once.
    let bob = machine(&url, "bob");
    bob.run(&["team", "rebuild"]).ok();
    assert_eq!(listing(&bob, "team").len(), n as usize);
}

/// A private PostgreSQL cluster this test may stop and start.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

fn as_owner(program: &Path) -> std::process::Command {
    // The server refuses to run as root: as root, run it as `postgres`.
    if unsafe_is_root() {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        std::process::Command::new(program)
    }
}

fn unsafe_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    fn start() -> Cluster {
        let bin = PathBuf::from(std::env::var("STOWAGE_TEST_PG_BIN").expect(HOW_TO_RUN));
        let dir = tempfile::Builder::new()
            .prefix("stowage-pg-test")
            .tempdir_in("/tmp")
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.path().join("pw"), "outage-test-password\n").unwrap();
        let status = std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let out = as_owner(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8"])
            .arg(format!("--pwfile={}", dir.path().join("pw").display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        let c = Cluster { dir, bin, port };
        c.up();
        c
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres:outage-test-password@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    fn up(&self) {
        let out = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
                self.port,
                self.dir.path().display()
            ))
            .arg("start")
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {out:?}");
    }

    fn down(&self) {
        let out = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl stop: {out:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

#[test]
fn with_the_database_down_local_work_goes_on_and_the_outbox_drains_after() {
    let cluster = Cluster::start();
    let url = cluster.url();
    let ana = machine(&url, "ana");
    let bucket = unique("team-outage");
    let _guard = BucketGuard {
        sb: &ana,
        bucket: bucket.clone(),
    };
    ana.run(&["buckets", "create", &bucket]).ok();
    std::fs::write(ana.work("model_v1.pt"), data(2000, 1)).unwrap();
    ana.run(&["put", "model_v1.pt", &format!("{bucket}/models/")])
        .ok();
    ana.run(&["team", "push"]).ok();

    cluster.down();
    // Local work goes on.
    std::fs::write(ana.work("model_v2.pt"), data(2000, 2)).unwrap();
    ana.run(&["put", "model_v2.pt", &format!("{bucket}/models/")])
        .ok();
    ana.run(&["label", "model@v2", "production"]).ok();
    let failed = ana.run(&["team", "push"]);
    assert_ne!(failed.code, 0, "{failed:?}");
    assert!(
        failed.stderr.contains("team database")
            && failed.stderr.contains("127.0.0.1")
            && failed.stderr.contains("outbox waits"),
        "the error names the database and the next step: {failed:?}"
    );
    let s = status(&ana);
    assert_eq!(s["reachable"], false, "{s}");
    assert!(s["pending"].as_u64().unwrap() >= 3, "{s}");

    cluster.up();
    let pushed = ana.run(&["team", "push", "--json"]).ok().json();
    assert!(pushed["sent"].as_u64().unwrap() >= 3, "{pushed}");
    assert_eq!(status(&ana)["pending"], 0);
    let bob = machine(&url, "bob");
    bob.run(&["team", "rebuild"]).ok();
    assert_eq!(listing(&bob, "team"), listing(&ana, "team"));
}

#[test]
fn a_member_bound_to_an_organization_reads_only_its_rows() {
    let url = fresh_db();
    let pg = Pg::connect(&url);
    let mut machines = Vec::new();
    for (member, org) in [("ana", "acme"), ("bob", "globex")] {
        let mut sb = Sandbox::new();
        sb.write_config(&format!(
            "default_profile = \"store\"\n\n[profiles.store]\nkind = \"local\"\nroot = \"{}\"\norg = \"{org}\"\n\n[team]\norg = \"{org}\"\n",
            sb.path("store").display()
        ));
        sb.env("STOWAGE_TEAM_DATABASE_URL", &url)
            .env("STOWAGE_TEAM_MEMBER", member);
        std::fs::write(
            sb.work(&format!("{member}_v1.json")),
            b"{\"accuracy\": 0.5}",
        )
        .unwrap();
        sb.run(&[
            "put",
            &format!("{member}_v1.json"),
            &format!("results/{org}/runs/"),
        ])
        .ok();
        sb.run(&["team", "push"]).ok();
        machines.push(sb);
    }
    assert_eq!(
        pg.strings("SELECT DISTINCT org FROM stowage.versions ORDER BY org"),
        ["acme", "globex"]
    );
    let role = unique("member").replace('-', "_");
    let stranger = unique("stranger").replace('-', "_");
    let ana = &machines[0];
    // Binding is refused, with nothing changed, for a role that does not exist yet, a member
    // the team has not seen, an organization the member is not in, and nothing to bind.
    let no_role = ana.run(&["team", "bind", "ana", "--role", &role]).code(3);
    assert!(
        no_role
            .stderr
            .contains(&format!("no database role `{role}`"))
            && no_role.stderr.contains("CREATE ROLE"),
        "{no_role:?}"
    );
    let no_member = ana.run(&["team", "bind", "zed", "--user", "u"]).code(3);
    assert!(
        no_member.stderr.contains("no member `zed`")
            && no_member.stderr.contains("ana, bob")
            && no_member.stderr.contains("stowage team members"),
        "{no_member:?}"
    );
    let wrong_org = ana
        .run(&["team", "bind", "ana", "--org", "globex", "--user", "u"])
        .code(3);
    assert!(
        wrong_org.stderr.contains("not in organization `globex`")
            && wrong_org.stderr.contains("`acme`"),
        "{wrong_org:?}"
    );
    let nothing = ana.run(&["team", "bind", "ana"]).code(2);
    assert!(nothing.stderr.contains("--role"), "{nothing:?}");
    assert_eq!(
        pg.count(
            "SELECT COUNT(*) FROM stowage.members WHERE db_role IS NOT NULL OR user_id IS NOT NULL"
        ),
        0
    );
    pg.exec(&format!(
        "CREATE ROLE {role} LOGIN; CREATE ROLE {stranger} LOGIN;"
    ));
    ana.run(&["team", "bind", "ana", "--role", &role]).ok();
    machines[1]
        .run(&[
            "team", "bind", "bob", "--org", "globex", "--user", "user-bob",
        ])
        .ok();
    let listed = ana.run(&["team", "members"]).ok().stdout;
    assert!(
        listed.lines().any(|l| l.starts_with("ana ")
            && l.contains("acme")
            && l.contains(&format!("role {role}, user -"))
            && l.ends_with("1 machine, 1 version")),
        "{listed}"
    );
    let members = ana.run(&["team", "members", "--json"]).ok().json();
    let bound: Vec<(String, String, Value, Value, u64)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["org"].as_str().unwrap().to_string(),
                m["db_role"].clone(),
                m["user_id"].clone(),
                m["versions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        bound,
        [
            (
                "ana".into(),
                "acme".into(),
                Value::from(role.as_str()),
                Value::Null,
                1
            ),
            (
                "bob".into(),
                "globex".into(),
                Value::Null,
                Value::from("user-bob"),
                1
            )
        ]
    );
    // A database role bound to acme.
    pg.exec(&format!("SET ROLE {role}"));
    assert_eq!(
        pg.strings("SELECT DISTINCT org FROM stowage.versions"),
        ["acme"]
    );
    assert_eq!(
        pg.strings("SELECT DISTINCT org FROM stowage.artifacts"),
        ["acme"]
    );
    assert_eq!(
        pg.strings("SELECT org FROM stowage.training_results"),
        ["acme"]
    );
    assert_eq!(
        pg.strings("SELECT DISTINCT org FROM stowage.machines"),
        ["acme"]
    );
    assert!(
        pg.try_exec("DELETE FROM stowage.versions").is_err(),
        "members only read"
    );
    pg.exec("RESET ROLE");
    // A Supabase user (the REST API's JWT claims) bound to globex.
    pg.exec(&format!(
        "SET ROLE {stranger}; SET request.jwt.claims = '{{\"sub\": \"user-bob\"}}'"
    ));
    assert_eq!(
        pg.strings("SELECT DISTINCT org FROM stowage.versions"),
        ["globex"]
    );
    // Bound to nothing: nothing.
    pg.exec("RESET request.jwt.claims");
    assert_eq!(pg.count("SELECT COUNT(*) FROM stowage.versions"), 0);
    assert_eq!(pg.count("SELECT COUNT(*) FROM stowage.training_results"), 0);
    pg.exec("RESET ROLE");
    // Unbound, the role reads nothing again.
    let unbound = ana.run(&["team", "unbind", "ana", "--json"]).ok().json();
    assert_eq!(unbound["db_role"], Value::Null, "{unbound}");
    pg.exec(&format!("SET ROLE {role}"));
    assert_eq!(pg.count("SELECT COUNT(*) FROM stowage.versions"), 0);
    pg.exec("RESET ROLE");
}

#[test]
fn the_password_lives_in_the_keyring_and_never_shows() {
    let planted = format!("PLANTED-SECRET-{}", unique("pw").replace('-', ""));
    let admin = Pg::connect(&admin_url());
    let role = unique("owner").replace('-', "_");
    let db = format!("{role}_db");
    admin.exec(&format!("CREATE ROLE {role} LOGIN PASSWORD '{planted}'"));
    admin.exec(&format!("CREATE DATABASE {db} OWNER {role}"));
    let port = admin_url()
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut sb = Sandbox::new();
    sb.env("STOWAGE_KEYRING", "keyutils")
        .env("STOWAGE_LOG", "trace")
        .env("STOWAGE_TEAM_MEMBER", "ana");
    sb.write_config(&format!(
        "[team]\nhost = \"127.0.0.1\"\nport = {port}\ndatabase = \"{db}\"\nuser = \"{role}\"\ntls = \"disable\"\n"
    ));
    let mut runs = Vec::new();
    // No password yet: refused, saying how to store one.
    let refused = sb.run(&["team", "status", "--json"]).ok();
    assert!(
        refused.stdout.contains("login --team") || refused.stdout.contains("password"),
        "{refused:?}"
    );
    runs.push(refused);
    let mut login = sb
        .command(&["login", "--team", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(login.stdin.take().unwrap(), "{planted}").unwrap();
    let login: Run = login.wait_with_output().unwrap().into();
    runs.push(login.ok());
    std::fs::write(sb.work("model_v1.pt"), data(100, 1)).unwrap();
    runs.push(sb.run(&["put", "model_v1.pt", "models/"]).ok());
    runs.push(sb.run(&["team", "sync"]).ok());
    let s = sb.run(&["team", "status", "--json"]).ok();
    assert_eq!(s.json()["password_from"], "keyring", "{s:?}");
    assert_eq!(s.json()["reachable"], true, "{s:?}");
    runs.push(s);
    // A wrong password in the environment's URL: refused, and not shown either.
    let wrong = format!("PLANTED-WRONG-{}", unique("pw").replace('-', ""));
    let mut bad = Sandbox::new();
    bad.env(
        "STOWAGE_TEAM_DATABASE_URL",
        &format!("postgres://{role}:{wrong}@127.0.0.1:{port}/{db}?sslmode=disable"),
    )
    .env("STOWAGE_LOG", "trace");
    let refused = bad.run(&["team", "push"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("password"), "{refused:?}");
    for r in runs.iter().chain([&refused]) {
        for secret in [&planted, &wrong] {
            assert!(
                !r.stdout.contains(secret.as_str()) && !r.stderr.contains(secret.as_str()),
                "a secret leaked into output: {r:?}"
            );
        }
    }
    for dir in [sb.dir.path(), bad.dir.path()] {
        for file in files(dir) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            for secret in [&planted, &wrong] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "the password is in {}",
                    file.display()
                );
            }
        }
    }
    // Nor in the team database's rows.
    let pg = Pg::connect(&with_db(&admin_url(), &db));
    let dump = pg.strings(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM stowage.machines) t
         UNION ALL SELECT string_agg(t::text, ' ') FROM (SELECT * FROM stowage.versions) t",
    );
    assert!(dump.iter().all(|d| !d.contains(&planted)), "{dump:?}");
    let _ = sb.run(&["profile", "ls"]);
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_team_schema_newer_than_this_stowage_is_refused() {
    let url = fresh_db();
    let ana = machine(&url, "ana");
    ana.run(&["team", "push"]).ok();
    let pg = Pg::connect(&url);
    pg.exec("INSERT INTO stowage.schema_version (version) VALUES (99)");
    let refused = ana.run(&["team", "pull"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("version 99")
            && refused.stderr.contains("upgrade Stowage")
            && refused.stderr.contains("nothing was changed"),
        "{refused:?}"
    );
    // Nothing was changed: the version stays, no table was touched.
    assert_eq!(
        pg.count("SELECT MAX(version)::bigint FROM stowage.schema_version"),
        99
    );
    // And without a team configured, the commands say how to configure one.
    let alone = Sandbox::new();
    let r = alone.run(&["team", "push"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("[team]") && r.stderr.contains("STOWAGE_TEAM_DATABASE_URL"),
        "{r:?}"
    );
}

#[test]
fn tls_is_required_verified_or_refused_as_configured() {
    let ca = std::env::var("STOWAGE_TEST_PG_CA").expect(HOW_TO_RUN);
    let admin = Pg::connect(&admin_url());
    // `tls_only` may connect only over TLS (scripts/lib/postgres.sh's pg_hba.conf).
    if admin.count("SELECT COUNT(*) FROM pg_roles WHERE rolname = 'tls_only'") == 0 {
        let _ = admin.try_exec("CREATE ROLE tls_only LOGIN PASSWORD 'tls-only-password'");
    }
    let db = unique("tls").replace('-', "_");
    admin.exec(&format!("CREATE DATABASE {db} OWNER tls_only"));
    let port = admin_url()
        .rsplit_once(':')
        .unwrap()
        .1
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let url = |host: &str, mode: &str| {
        format!("postgres://tls_only:tls-only-password@{host}:{port}/{db}?sslmode={mode}")
    };
    let run = |url: &str, config: &str| {
        let mut sb = Sandbox::new();
        sb.env("STOWAGE_TEAM_DATABASE_URL", url);
        sb.write_config(config);
        sb.run(&["team", "push"])
    };
    // Without TLS the server turns it away, and the error says so.
    let plain = run(&url("127.0.0.1", "disable"), "");
    assert_ne!(plain.code, 0, "{plain:?}");
    assert!(plain.stderr.contains("no encryption"), "{plain:?}");
    // `require`: encrypted, the certificate not checked (libpq's meaning).
    run(&url("127.0.0.1", "require"), "").ok();
    // `verify-full` with the server's CA: checked against it and the host name.
    let verified = format!("[team]\ntls = \"verify-full\"\nca_file = \"{ca}\"\n");
    run(&url("localhost", "require"), &verified).ok();
    run(&url("127.0.0.1", "require"), &verified).ok();
    // `verify-full` against the system's roots: a self-signed certificate is refused.
    let refused = run(
        &url("localhost", "require"),
        "[team]\ntls = \"verify-full\"\n",
    );
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stderr.contains("certificate") && refused.stderr.contains("team database"),
        "{refused:?}"
    );
}

#[test]
fn a_running_watch_pushes_and_pulls_on_its_own() {
    let url = fresh_db();
    let ana = machine(&url, "ana");
    let bob = machine(&url, "bob");
    let bucket = unique("team-watch");
    let _guard = BucketGuard {
        sb: &ana,
        bucket: bucket.clone(),
    };
    let config = std::fs::read_to_string(ana.path("config/config.toml")).unwrap();
    ana.write_config(&format!(
        "{config}\n[sync]\nbucket = \"{bucket}\"\n\n[team]\nevery = \"1s\"\n"
    ));
    ana.run(&["buckets", "create", &bucket]).ok();
    // Bob shares a model; ana's watch brings it in without a team command.
    std::fs::write(bob.work("model-bob_v1.pt"), data(1000, 7)).unwrap();
    bob.run(&["put", "model-bob_v1.pt", &format!("{bucket}/models/")])
        .ok();
    bob.run(&["team", "push"]).ok();
    let project = ana.work("proj");
    std::fs::create_dir_all(&project).unwrap();
    let mut watch = ana
        .command(&["watch", "proj"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A model written into the watched folder: uploaded by policy, then pushed by the watch.
    std::fs::write(project.join("model-ana_v1.pt"), data(200_000, 8)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let names = |sb: &Sandbox| -> Vec<String> {
        listing(sb, "team").into_iter().map(|(a, ..)| a).collect()
    };
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        bob.run(&["team", "pull"]).ok();
        seen = names(&bob);
        if seen.iter().any(|n| n.ends_with("model-ana.pt")) && names(&ana).len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        seen.iter().any(|n| n.ends_with("model-ana.pt")),
        "bob never saw ana's watched model: {seen:?}"
    );
    assert_eq!(
        names(&ana),
        ["models/model-ana.pt", "models/model-bob.pt"],
        "ana's watch pulled bob's model"
    );
}
