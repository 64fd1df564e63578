//! Our users' own folder layouts (the seeds), synced through the binary against SeaweedFS:
//! after each pass the catalog's locations equal what the bucket holds (key and SHA-256 of
//! the bytes read back), files keep their folders, and no two files share a version.
//!
//! - training results keyed by `{session_id}/` (training-results-migration.md), with a
//!   session's results deleted together with their catalog row;
//! - CodebeGen's generations: `gen-001/main.py` and `gen-002/main.py` stay two files;
//! - BEAST-MODE's `.beast-mode/` (ml-storage-strategy.md) with a policy edit: a rule changed
//!   so that `dataset.json` goes to the primary, and the next sync uploads it;
//! - FairMind's two organizations (model-storage-setup.md) with org-bound profiles: `sync`
//!   uses the profile's org.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use sha2::{Digest, Sha256};

/// Runs the binary cargo built for this test, or `STOWAGE_TEST_BIN` (to run the same layouts
/// against another build).
trait Exec {
    fn exec(&self, args: &[&str]) -> Run;
}

impl Exec for Sandbox {
    fn exec(&self, args: &[&str]) -> Run {
        let c = self.command(args);
        let Some(bin) = std::env::var_os("STOWAGE_TEST_BIN") else {
            return self.run(args);
        };
        let mut other = std::process::Command::new(bin);
        other.args(c.get_args());
        if let Some(dir) = c.get_current_dir() {
            other.current_dir(dir);
        }
        for (k, v) in c.get_envs() {
            match v {
                Some(v) => other.env(k, v),
                None => other.env_remove(k),
            };
        }
        other.output().unwrap().into()
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A SeaweedFS sandbox whose `sync` uploads to a fresh bucket (deleted at the end), with a
/// second sandbox that has no catalog, to read the bucket straight from the server.
struct Seed {
    sb: Sandbox,
    checker: Sandbox,
    bucket: String,
}

impl Seed {
    fn new(prefix: &str, profiles: &str) -> Seed {
        let sb = s3_sandbox();
        let bucket = unique(prefix);
        let endpoint = s3_endpoint();
        sb.write_config(&format!(
            "default_profile = \"seaweed\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\n\
             {profiles}\n[sync]\nbucket = \"{bucket}\"\n"
        ));
        sb.exec(&["--profile", "seaweed", "buckets", "create", &bucket])
            .ok();
        Seed {
            sb,
            checker: s3_sandbox(),
            bucket,
        }
    }

    fn policy(&self, text: &str) {
        std::fs::write(self.sb.path("config/policy.toml"), text).unwrap();
    }

    /// Key → SHA-256 of the bytes the bucket holds.
    fn held(&self) -> BTreeMap<String, String> {
        let dir = self.checker.path("work/held");
        let _ = std::fs::remove_dir_all(&dir);
        let listing = self
            .checker
            .exec(&["--json", "ls", "--recursive", &self.bucket])
            .ok()
            .json();
        let any = listing["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "object");
        if !any {
            return BTreeMap::new();
        }
        self.checker
            .exec(&[
                "-q",
                "get",
                "--recursive",
                "--raw",
                &format!("{}/", self.bucket),
                dir.to_str().unwrap(),
            ])
            .ok();
        store_tree(&dir)
            .into_iter()
            .map(|k| {
                let s = sha(&std::fs::read(dir.join(&k)).unwrap());
                (k, s)
            })
            .collect()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.sb.path("data/catalog.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// Key → SHA-256 of the catalog's locations in the bucket.
    fn catalogued(&self) -> BTreeMap<String, String> {
        let db = self.db();
        let mut st = db
            .prepare("SELECT key, sha256 FROM locations WHERE bucket = ?1")
            .unwrap();
        let rows = st
            .query_map([&self.bucket], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    }

    /// Each location's version: key → (version row id, artifact row id).
    fn version_of(&self) -> BTreeMap<String, (i64, i64)> {
        let db = self.db();
        let mut st = db
            .prepare(
                "SELECT l.key, v.id, v.artifact_id FROM locations l \
                 JOIN versions v ON v.id = l.version_id WHERE l.bucket = ?1",
            )
            .unwrap();
        let rows = st
            .query_map([&self.bucket], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows
    }

    /// How commands name the version stored at `key`: `ARTIFACT@VERSION`, the artifact by its
    /// folder, family and extension.
    fn spec_of(&self, key: &str) -> String {
        let db = self.db();
        let has_extension: bool = db
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('artifacts') WHERE name = 'extension'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            > 0;
        let ext = if has_extension { "a.extension" } else { "''" };
        db.query_row(
            &format!(
                "SELECT a.folder || a.family || CASE WHEN {ext} = '' THEN '' ELSE '.' || {ext} END \
                 || '@' || v.version FROM locations l JOIN versions v ON v.id = l.version_id \
                 JOIN artifacts a ON a.id = v.artifact_id WHERE l.bucket = ?1 AND l.key = ?2"
            ),
            [&self.bucket, key],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("{key} is not catalogued: {e}"))
    }

    #[track_caller]
    fn assert_truth(&self) -> BTreeMap<String, String> {
        let held = self.held();
        assert_eq!(self.catalogued(), held, "the catalog is not the truth");
        held
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        let _ = self
            .checker
            .exec(&["rm", "--recursive", &format!("{}/", self.bucket)]);
        let _ = self.checker.exec(&["buckets", "rm", &self.bucket]);
    }
}

/// A training-results JSON of about 100 KB: metrics at the top, a large history below.
fn results_json(accuracy: f64, seed: u64) -> Vec<u8> {
    let history: Vec<String> = data(12_000, seed)
        .iter()
        .map(|b| format!("{}", *b as f64 / 255.0))
        .collect();
    format!(
        "{{\"accuracy\": {accuracy}, \"loss\": {}, \"epochs\": 30, \"model_type\": \"lstm\", \
         \"history\": {{\"loss\": [{}]}}}}",
        1.0 - accuracy,
        history.join(", ")
    )
    .into_bytes()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// training-results-migration.md: bucket `training-results`, one folder per session
/// (`{session_id}/training_results_<ts>.json.gz`, the model, `plots/`). Two sessions write
/// files of the same names; each stays its own, compressed, with its metrics; a session's
/// results are deleted together with their catalog row.
#[tokio::test]
async fn training_results_keyed_by_session() {
    let seed = Seed::new("training-results", "");
    seed.policy(
        "[[rule]]\nname = \"sessions\"\npatterns = [\"*\"]\ndestination = \"primary\"\nfolder = \"\"\n",
    );
    let root = seed.sb.work("training-results");
    let sessions = [
        "3f2b6c1e-8a4d-4f0e-9b7a-2c5d1e6f7a80",
        "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
    ];
    let name = "training_results_20251022_130000.json";
    let mut results = BTreeMap::new();
    for (i, sid) in sessions.iter().enumerate() {
        let json = results_json(0.9 + i as f64 / 100.0, i as u64 + 1);
        write(&root, &format!("{sid}/{name}"), &json);
        write(
            &root,
            &format!("{sid}/model_20251022_130000.h5"),
            &data(150_000, 10 + i as u64),
        );
        write(
            &root,
            &format!("{sid}/plots/loss_curve.png"),
            &data(2_000, 20 + i as u64),
        );
        results.insert(*sid, json);
    }
    let doc = seed
        .sb
        .exec(&["--json", "sync", "training-results"])
        .ok()
        .json();
    assert_eq!(doc["uploaded"], 6, "{doc}");
    let held = seed.assert_truth();
    let want: BTreeSet<String> = sessions
        .iter()
        .flat_map(|sid| {
            [
                format!("{sid}/{name}.gz"),
                format!("{sid}/model_20251022_130000.h5"),
                format!("{sid}/plots/loss_curve.png"),
            ]
        })
        .collect();
    assert_eq!(held.keys().cloned().collect::<BTreeSet<_>>(), want);
    for (sid, json) in &results {
        let dir = seed.checker.path("work/held");
        let stored = std::fs::read(dir.join(format!("{sid}/{name}.gz"))).unwrap();
        assert_eq!(&gunzip(&stored), json, "{sid}: results stored gzipped");
    }
    // Six files, six versions, six artifacts: the sessions' same-named files stay apart.
    let versions = seed.version_of();
    let ids: BTreeSet<i64> = versions.values().map(|(v, _)| *v).collect();
    let artifacts: BTreeSet<i64> = versions.values().map(|(_, a)| *a).collect();
    assert_eq!((ids.len(), artifacts.len()), (6, 6), "{versions:?}");
    // Metrics are recorded per session's results.
    let db = seed.db();
    let accuracies: Vec<f64> = db
        .prepare(
            "SELECT v.accuracy FROM versions v JOIN locations l ON l.version_id = v.id \
             WHERE l.key LIKE '%.json.gz' ORDER BY l.key",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(accuracies, [0.9, 0.91]);
    drop(db);
    let doc = seed
        .sb
        .exec(&["--json", "sync", "training-results"])
        .ok()
        .json();
    assert_eq!(doc["uploaded"], 0, "{doc}");

    // Each session's results restore by their folder.
    for (sid, json) in &results {
        let out = seed.sb.work("restored.json");
        let spec = seed.spec_of(&format!("{sid}/{name}.gz"));
        assert!(spec.starts_with(&format!("{sid}/")), "{spec}");
        seed.sb
            .exec(&["restore", "--force", &spec, out.to_str().unwrap()])
            .ok();
        assert_eq!(&std::fs::read(&out).unwrap(), json, "{sid}");
    }

    // Deleting a session's results: the object and its catalog row go together.
    let victim = format!("{}/{name}", sessions[0]);
    let (vid, _) = versions[&format!("{victim}.gz")];
    let spec = seed.spec_of(&format!("{victim}.gz"));
    seed.sb.exec(&["rm", "--version", &spec]).ok();
    let held = seed.assert_truth();
    assert!(!held.contains_key(&format!("{victim}.gz")), "{held:?}");
    assert!(held.contains_key(&format!("{}/{name}.gz", sessions[1])));
    let left: i64 = seed
        .db()
        .query_row("SELECT COUNT(*) FROM versions WHERE id = ?1", [vid], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(left, 0, "the version row outlived its object");
    let doc = seed.sb.exec(&["--json", "verify"]).ok().json();
    assert_eq!(doc["problems"].as_array().map(Vec::len), Some(0), "{doc}");
}

/// CodebeGen (hybrid-storage-integration.md): a project's generations, each a folder with
/// `main.py`. Two generations are two files for ever: neither becomes a version of the
/// other, a change to one touches only it, and each restores by its folder.
#[tokio::test]
async fn codebegen_generations_stay_apart() {
    let seed = Seed::new("codebegen", "");
    seed.policy(
        "[[rule]]\nname = \"generations\"\npatterns = [\"*.py\", \"*.md\"]\ndestination = \"primary\"\n\
         folder = \"generations/\"\nkind = \"other\"\n",
    );
    let root = seed.sb.work("abc-123");
    let gen1 = b"print('hello from generation one')\n".to_vec();
    let gen2 = b"print('hello from generation two')\n".to_vec();
    write(&root, "gen-001/main.py", &gen1);
    write(&root, "gen-001/README.md", b"# Project\n");
    write(&root, "gen-002/main.py", &gen2);
    write(&root, "gen-002/README.md", b"# Project, take two\n");
    for pass in 0..2 {
        let doc = seed.sb.exec(&["--json", "sync", "abc-123"]).ok().json();
        assert_eq!(doc["uploaded"], if pass == 0 { 4 } else { 0 }, "{doc}");
        let held = seed.assert_truth();
        assert_eq!(
            held.keys().cloned().collect::<Vec<_>>(),
            [
                "generations/gen-001/README.md",
                "generations/gen-001/main.py",
                "generations/gen-002/README.md",
                "generations/gen-002/main.py",
            ],
            "pass {pass}"
        );
        assert_eq!(held["generations/gen-001/main.py"], sha(&gen1));
        assert_eq!(held["generations/gen-002/main.py"], sha(&gen2));
    }
    let before = seed.version_of();
    let a1 = before["generations/gen-001/main.py"];
    let a2 = before["generations/gen-002/main.py"];
    assert_ne!(a1.1, a2.1, "two generations' main.py are one artifact");

    // A change to gen-002 is a new version of gen-002 alone.
    let gen2b = b"print('generation two, revised')\n".to_vec();
    write(&root, "gen-002/main.py", &gen2b);
    let doc = seed.sb.exec(&["--json", "sync", "abc-123"]).ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    let held = seed.assert_truth();
    assert_eq!(held["generations/gen-001/main.py"], sha(&gen1));
    assert_eq!(held["generations/gen-002/main.py"], sha(&gen2b));
    let after = seed.version_of();
    assert_eq!(
        after["generations/gen-001/main.py"], a1,
        "gen-001 was touched"
    );
    let b2 = after["generations/gen-002/main.py"];
    assert_eq!(b2.1, a2.1, "the new gen-002 is another artifact");
    assert_ne!(b2.0, a2.0, "the new gen-002 is no new version");
    assert!(
        held.keys()
            .filter(|k| k.contains("_versions/"))
            .all(|k| k.starts_with("generations/gen-002/_versions/main.py/")),
        "{held:?}"
    );

    for (spec, want) in [("gen-001/main.py", &gen1), ("gen-002/main.py", &gen2b)] {
        let out = seed.sb.work("out.py");
        seed.sb
            .exec(&["restore", "--force", spec, out.to_str().unwrap()])
            .ok();
        assert_eq!(&std::fs::read(&out).unwrap(), want, "{spec}");
    }

    // The seed's cloud copies: each generation as one tar.gz, recorded like any object.
    for g in ["gen-001", "gen-002"] {
        seed.sb
            .exec(&[
                "put",
                "--archive",
                &format!("abc-123/{g}"),
                &format!("{}/archives/abc-123/", seed.bucket),
            ])
            .ok();
    }
    let held = seed.assert_truth();
    for g in ["gen-001", "gen-002"] {
        let key = format!("archives/abc-123/{g}.tar.gz");
        assert!(held.contains_key(&key), "{held:?}");
        let out = seed.sb.work(&format!("extracted-{g}"));
        seed.sb
            .exec(&[
                "get",
                "--extract",
                &format!("{}/{key}", seed.bucket),
                out.to_str().unwrap(),
            ])
            .ok();
        let main = std::fs::read(out.join("main.py")).unwrap();
        assert_eq!(
            main,
            if g == "gen-001" {
                gen1.clone()
            } else {
                gen2b.clone()
            }
        );
    }
    let doc = seed.sb.exec(&["--json", "verify"]).ok().json();
    assert_eq!(doc["problems"].as_array().map(Vec::len), Some(0), "{doc}");
}

/// BEAST-MODE (ml-storage-strategy.md): `.beast-mode/` by the default decision matrix, a
/// model and its results sharing a timestamp, then a policy edit: `dataset.json` (about
/// 200 KB, kept local by default) goes to the primary, and the next sync uploads it.
#[tokio::test]
async fn beast_mode_policy_edit_uploads_the_dataset() {
    let seed = Seed::new("ml-artifacts", "");
    let root = seed.sb.work(".beast-mode");
    let json_of = |n: usize, seed: u64| -> Vec<u8> {
        let v: Vec<String> = data(n, seed).iter().map(|b| b.to_string()).collect();
        format!("{{\"rows\": [{}]}}", v.join(",")).into_bytes()
    };
    let features = json_of(400_000, 1); // about 1.4 MB: training data
    let dataset = json_of(60_000, 2); // about 200 KB: local by default
    let model = data(300_000, 3);
    write(
        &root,
        "training-data/enhanced-features-2026-01-06T05-13-48-424Z.json",
        &features,
    );
    write(&root, "training-data/dataset.json", &dataset);
    write(&root, "models/model-2026-01-06T20-26-17.pt", &model);
    write(
        &root,
        "results/model-2026-01-06T20-26-17.json",
        &results_json(0.87, 4),
    );
    write(&root, "logs/train.log", b"epoch 1 loss 0.9\n");
    write(&root, "cache/scan.tmp", b"scratch");
    write(&root, "small/config.json", br#"{"lr": 0.001}"#);

    let doc = seed.sb.exec(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["sync"]["failed"], 0, "{doc}");
    let held = seed.assert_truth();
    let keys: BTreeSet<&str> = held.keys().map(String::as_str).collect();
    assert!(
        keys.contains("training-data/enhanced-features-2026-01-06T05-13-48-424Z.json.gz"),
        "{keys:?}"
    );
    assert!(
        keys.contains("models/model-2026-01-06T20-26-17.pt"),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.contains("results/model-2026-01-06T20-26-17.json")),
        "the results beside the model: {keys:?}"
    );
    assert!(
        !keys.iter().any(|k| k.contains("dataset")
            || k.contains("train.log")
            || k.contains("scan.tmp")
            || k.contains("config.json")),
        "{keys:?}"
    );
    // The model and its results share a timestamp and are two artifacts.
    let v = seed.version_of();
    let model_art = v["models/model-2026-01-06T20-26-17.pt"].1;
    let results_art = v
        .iter()
        .find(|(k, _)| k.contains("results/model-2026-01-06T20-26-17.json"))
        .unwrap()
        .1
         .1;
    assert_ne!(model_art, results_art);

    // touch changes nothing.
    write(&root, "training-data/dataset.json", &dataset);
    let doc = seed.sb.exec(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["uploaded"], 0, "{doc}");

    // The edit: dataset.json goes to the primary.
    seed.policy(
        "[[rule]]\nname = \"datasets-to-primary\"\npatterns = [\"dataset.json\", \"dataset-split.json\"]\n\
         destination = \"primary\"\nfolder = \"training-data/\"\nkind = \"dataset\"\n",
    );
    let plan = seed.sb.exec(&["--dry-run", "sync", ".beast-mode"]).ok();
    let line = plan
        .stdout
        .lines()
        .find(|l| l.contains("dataset.json"))
        .unwrap_or_else(|| panic!("{plan:?}"));
    assert!(!line.contains("(unchanged)"), "{line}");
    let doc = seed.sb.exec(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["uploaded"], 1, "{doc}");
    let held = seed.assert_truth();
    let stored =
        std::fs::read(seed.checker.path("work/held/training-data/dataset.json.gz")).unwrap();
    assert_eq!(gunzip(&stored), dataset);
    assert!(held.contains_key("training-data/dataset.json.gz"));
    let doc = seed.sb.exec(&["--json", "sync", ".beast-mode"]).ok().json();
    assert_eq!(doc["uploaded"], 0, "{doc}");
    let doc = seed.sb.exec(&["--json", "verify"]).ok().json();
    assert_eq!(doc["problems"].as_array().map(Vec::len), Some(0), "{doc}");
    let out = seed.sb.work("dataset.restored.json");
    seed.sb
        .exec(&["restore", "dataset", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(out).unwrap(), dataset);
}

/// FairMind (model-storage-setup.md): one bucket, a folder per organization (`demo_org/`,
/// `admin_org/`), each team with a profile bound to its org. `sync` with such a profile
/// stores under that org and records it; a profile cannot sync into the other org; each
/// model restores by its family and either spelling of its version.
#[tokio::test]
async fn fairmind_org_bound_profiles_sync_into_their_org() {
    let endpoint = s3_endpoint();
    let bound = |name: &str, org: &str| {
        format!(
            "\n[profiles.{name}]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\norg = \"{org}\"\n"
        )
    };
    let seed = Seed::new(
        "ai-models",
        &format!(
            "{}{}",
            bound("demo", "demo_org"),
            bound("admin", "admin_org")
        ),
    );
    seed.policy(
        "[[rule]]\nname = \"models\"\npatterns = [\"*.pkl\", \"*.h5\", \"*.pt\", \"*.xgb\", \"*.json\"]\n\
         destination = \"primary\"\nfolder = \"\"\nkind = \"model\"\ncompress = false\n",
    );
    let demo = seed.sb.work("demo");
    let admin = seed.sb.work("admin");
    let files = [
        (&demo, "credit_risk_v2.1.pkl", 1u64),
        (&demo, "fraud_detection_v1.5.2.h5", 2),
        (&demo, "chatbot_gpt4_finetuned.json", 3),
        (&admin, "loan_approval_v3.0.xgb", 4),
        (&admin, "inventory_forecast_v1.1.json", 5),
    ];
    for (dir, name, s) in &files {
        write(dir, name, &data(8_000, *s));
    }
    for (profile, dir) in [("demo", "demo"), ("admin", "admin")] {
        let run = seed.sb.exec(&["--json", "--profile", profile, "sync", dir]);
        assert_eq!(run.code, 0, "{profile}: {run:?}");
        let doc = run.json();
        assert_eq!(doc["sync"]["failed"], 0, "{doc}");
    }
    let held = seed.assert_truth();
    let want: BTreeSet<String> = files
        .iter()
        .map(|(dir, name, _)| {
            let org = if *dir == &demo {
                "demo_org"
            } else {
                "admin_org"
            };
            format!("{org}/{name}")
        })
        .collect();
    assert_eq!(held.keys().cloned().collect::<BTreeSet<_>>(), want);
    // Every artifact carries its org.
    let orgs: Vec<(String, String)> = seed
        .db()
        .prepare("SELECT family, org FROM artifacts ORDER BY family")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (family, org) in &orgs {
        let want = if ["credit_risk", "fraud_detection", "chatbot_gpt4_finetuned"]
            .contains(&family.as_str())
        {
            "demo_org"
        } else {
            "admin_org"
        };
        assert_eq!(org, want, "{family}: {orgs:?}");
    }
    // The demo profile sees only its org, and cannot sync into the other.
    let listing = seed
        .sb
        .exec(&[
            "--json",
            "--profile",
            "demo",
            "ls",
            "--recursive",
            &seed.bucket,
        ])
        .ok()
        .json();
    for e in listing["entries"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(name.starts_with("demo_org/"), "{listing}");
    }
    write(&admin, "price_optimization_v1.3.pkl", &data(8_000, 6));
    let run = seed
        .sb
        .exec(&["--profile", "demo", "sync", "admin", "--org", "admin_org"]);
    // Refused before any request: the profile's org and the one asked for differ.
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("bound to organization `demo_org`"),
        "{run:?}"
    );
    assert_eq!(seed.assert_truth(), held, "a refused sync wrote something");
    // Each model restores by its family, with or without the `v`.
    for spec in ["credit_risk@2.1", "credit_risk@v2.1", "loan_approval@3.0"] {
        let out = seed.sb.work("model.out");
        let run = seed
            .sb
            .exec(&["restore", "--force", spec, out.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{spec}: {run:?}");
        let want = if spec.starts_with("credit") { 1 } else { 4 };
        assert_eq!(std::fs::read(&out).unwrap(), data(8_000, want), "{spec}");
    }
    let doc = seed.sb.exec(&["--json", "verify"]).ok().json();
    assert_eq!(doc["problems"].as_array().map(Vec::len), Some(0), "{doc}");
}
