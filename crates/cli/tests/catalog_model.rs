//! A model-based test of the catalog: random sequences of `put`, `put --archive`, `sync` of a
//! project folder with sub-folders, `rm`, `mv`, `cp`, `migrate` (local store ⇄ SeaweedFS),
//! `restore`, `label`, `gc` and policy edits, run through the real binary, with the local
//! store as the primary in one test and SeaweedFS in the other. After every step:
//!
//! - the catalog's locations equal what the providers hold, by key and SHA-256 of the bytes
//!   read back (and size);
//! - every location of a version holds that version's bytes, and no artifact mixes versions
//!   of two different source files (the test knows which file every content came from);
//! - a synced file's keys keep its sub-folders;
//! - what the test's model expects the providers to hold, they hold.
//!
//! CI runs a fixed seed and a few hundred steps. Locally, `STOWAGE_MODEL_STEPS=N` (per test)
//! runs longer and `STOWAGE_MODEL_SEED=S` picks another sequence; the number of steps that
//! ran clean is printed (`--nocapture`).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use sha2::{Digest, Sha256};

/// Project files synced from `proj/`: one name in several sub-folders on purpose.
const PROJECT_FILES: &[&str] = &[
    "main.bin",
    "gen-a/main.bin",
    "gen-b/main.bin",
    "gen-b/deep/main.bin",
    "runs/alpha.bin",
    "gen-a/beta.bin",
];
/// Where `put` writes (one name in two folders), from `src/<folder>/<name>`.
const PUT_NAMES: &[&str] = &["alpha.bin", "gamma.bin"];
const PUT_FOLDERS: &[&str] = &["put/x/", "put/y/z/"];
/// Folders archived by `put --archive` into `archives/<name>.tar.gz`.
const ARCHIVES: &[&str] = &["bundle", "kit"];
/// Where `cp` and `mv` put objects (keeping the name): the user's own choice of key.
const COPY_FOLDERS: &[&str] = &["copies/", "moved/"];
/// The sync rule's folder, changed by policy edits.
const POLICY_FOLDERS: &[&str] = &["proj/", "lab/proj/"];
const LABELS: &[&str] = &["production", "staging"];

#[derive(Clone, Debug)]
enum Op {
    /// Write a project file: new content, or (same) rewrite the bytes it has.
    Edit {
        file: usize,
        seed: u64,
        same: bool,
    },
    Sync,
    Put {
        name: usize,
        folder: usize,
        overwrite: bool,
        seed: u64,
    },
    PutArchive {
        dir: usize,
        seed: u64,
    },
    Rm {
        pick: usize,
    },
    Mv {
        pick: usize,
        to: usize,
    },
    Cp {
        pick: usize,
        to: usize,
    },
    /// Primary → other profile, or back.
    Migrate {
        back: bool,
        delete_source: bool,
    },
    Restore {
        pick: usize,
    },
    Label {
        pick: usize,
        label: usize,
    },
    Gc {
        keep_last: usize,
    },
    /// The rule's folder, whether it uploads, and whether it stores gzip.
    Policy {
        folder: usize,
        upload: bool,
        gzip: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let idx = || 0usize..64;
    prop_oneof![
        4 => (0..PROJECT_FILES.len(), 0u64..1 << 20, proptest::bool::weighted(0.2))
            .prop_map(|(file, seed, same)| Op::Edit { file, seed, same }),
        4 => Just(Op::Sync),
        3 => (0..PUT_NAMES.len(), 0..PUT_FOLDERS.len(), any::<bool>(), 0u64..1 << 20)
            .prop_map(|(name, folder, overwrite, seed)| Op::Put { name, folder, overwrite, seed }),
        1 => (0..ARCHIVES.len(), 0u64..1 << 20).prop_map(|(dir, seed)| Op::PutArchive { dir, seed }),
        2 => idx().prop_map(|pick| Op::Rm { pick }),
        2 => (idx(), 0..COPY_FOLDERS.len()).prop_map(|(pick, to)| Op::Mv { pick, to }),
        2 => (idx(), 0..COPY_FOLDERS.len()).prop_map(|(pick, to)| Op::Cp { pick, to }),
        2 => (any::<bool>(), proptest::bool::weighted(0.3))
            .prop_map(|(back, delete_source)| Op::Migrate { back, delete_source }),
        2 => idx().prop_map(|pick| Op::Restore { pick }),
        1 => (idx(), 0..LABELS.len()).prop_map(|(pick, label)| Op::Label { pick, label }),
        1 => (1usize..3).prop_map(|keep_last| Op::Gc { keep_last }),
        1 => (0..POLICY_FOLDERS.len(), proptest::bool::weighted(0.75), proptest::bool::weighted(0.3))
            .prop_map(|(folder, upload, gzip)| Op::Policy { folder, upload, gzip }),
    ]
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The binary to run: the one cargo built for this test, or `STOWAGE_TEST_BIN` (to run the
/// same sequences against another build).
fn command(sb: &Sandbox, args: &[&str]) -> Command {
    let c = sb.command(args);
    let Some(bin) = std::env::var_os("STOWAGE_TEST_BIN") else {
        return c;
    };
    let mut other = Command::new(bin);
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
    other
}

fn run(sb: &Sandbox, args: &[&str]) -> Run {
    command(sb, args).output().unwrap().into()
}

/// What the model expects at a key.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Sha(String),
    /// Present, bytes not predicted (a tar.gz archive).
    Any,
}

/// One catalogued location, joined to its version and artifact.
#[derive(Clone, Debug)]
struct Loc {
    profile: String,
    bucket: String,
    key: String,
    size: i64,
    sha256: Option<String>,
    version_id: i64,
    version: String,
    version_sha: String,
    encoding: Option<String>,
    artifact_id: i64,
    /// How commands name the artifact.
    spec: String,
}

#[derive(Clone, Debug)]
struct VersionRow {
    id: i64,
    artifact_id: i64,
    version: String,
    sort_key: String,
    sha256: String,
    spec: String,
}

#[derive(Default, Debug)]
struct CatalogView {
    locations: Vec<Loc>,
    versions: Vec<VersionRow>,
    /// (artifact id, label) → version id.
    labels: BTreeMap<(i64, String), i64>,
}

/// Read the catalog read-only (an absent catalog is an empty one).
fn read_catalog(data_dir: &Path) -> Result<CatalogView, String> {
    let path = data_dir.join("catalog.sqlite3");
    if !path.exists() {
        return Ok(CatalogView::default());
    }
    let e = |e: rusqlite::Error| format!("reading {}: {e}", path.display());
    let db = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(e)?;
    let has_extension = db
        .prepare("SELECT name FROM pragma_table_info('artifacts')")
        .map_err(e)?
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(e)?
        .filter_map(|r| r.ok())
        .any(|c| c == "extension");
    let ext = if has_extension { "a.extension" } else { "''" };
    // An artifact is named by folder, family and extension (`proj/gen-a/main.bin`).
    let spec =
        format!("a.folder || a.family || CASE WHEN {ext} = '' THEN '' ELSE '.' || {ext} END");
    let orphans: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM locations l LEFT JOIN versions v ON v.id = l.version_id \
             LEFT JOIN artifacts a ON a.id = v.artifact_id WHERE a.id IS NULL",
            [],
            |r| r.get(0),
        )
        .map_err(e)?;
    if orphans > 0 {
        return Err(format!(
            "{orphans} location rows point to no version or artifact"
        ));
    }
    let locations = db
        .prepare(&format!(
            "SELECT l.profile, l.bucket, l.key, l.size, l.sha256, v.id, v.version, v.sha256, \
             v.encoding, a.id, {spec} FROM locations l JOIN versions v ON v.id = l.version_id \
             JOIN artifacts a ON a.id = v.artifact_id ORDER BY l.id"
        ))
        .map_err(e)?
        .query_map([], |r| {
            Ok(Loc {
                profile: r.get(0)?,
                bucket: r.get(1)?,
                key: r.get(2)?,
                size: r.get(3)?,
                sha256: r.get(4)?,
                version_id: r.get(5)?,
                version: r.get(6)?,
                version_sha: r.get(7)?,
                encoding: r.get(8)?,
                artifact_id: r.get(9)?,
                spec: r.get(10)?,
            })
        })
        .map_err(e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(e)?;
    let versions = db
        .prepare(&format!(
            "SELECT v.id, v.artifact_id, v.version, v.sort_key, v.sha256, {spec} \
             FROM versions v JOIN artifacts a ON a.id = v.artifact_id ORDER BY v.id"
        ))
        .map_err(e)?
        .query_map([], |r| {
            Ok(VersionRow {
                id: r.get(0)?,
                artifact_id: r.get(1)?,
                version: r.get(2)?,
                sort_key: r.get(3)?,
                sha256: r.get(4)?,
                spec: r.get(5)?,
            })
        })
        .map_err(e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(e)?;
    let labels = db
        .prepare("SELECT artifact_id, name, version_id FROM labels")
        .map_err(e)?
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .map_err(e)?
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map_err(e)?;
    Ok(CatalogView {
        locations,
        versions,
        labels,
    })
}

/// What the providers hold: (profile, key) → (SHA-256, size).
type Held = BTreeMap<(String, String), (String, u64)>;

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, base, out);
        } else {
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&p).unwrap()));
        }
    }
}

struct World {
    sb: Sandbox,
    /// A second sandbox with no catalog, to read SeaweedFS objects straight from the server.
    checker: Sandbox,
    bucket: String,
    primary: &'static str,
    other: &'static str,
    model: BTreeMap<(String, String), Expect>,
    /// Content SHA-256 → the source file it was written to (`proj:REL` or `put:KEY`).
    origin: HashMap<String, String>,
    /// The policy: folder index, whether the rule uploads, whether it gzips.
    policy: (usize, bool, bool),
    /// Current project files: index → SHA-256.
    project: BTreeMap<usize, String>,
    /// What the last sync stored per file: (SHA-256, folder, upload, gzip).
    synced: BTreeMap<usize, (String, usize, bool, bool)>,
    /// (artifact id, label) → version id, as last set.
    labels: BTreeMap<(i64, String), i64>,
    counter: u64,
    log: Vec<String>,
}

const LAB: &str = "lab";
const SEAWEED: &str = "seaweed";

impl World {
    fn new(primary: &'static str) -> World {
        let mut sb = s3_sandbox();
        let checker = s3_sandbox();
        let other = if primary == LAB { SEAWEED } else { LAB };
        let bucket = unique("stowage-model");
        sb.env("STOWAGE_PROFILE", primary);
        sb.write_config(&format!(
            "default_profile = \"{primary}\"\n\n\
             [profiles.lab]\nkind = \"local\"\nroot = \"{}\"\n\n\
             [profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\npath_style = true\n\n\
             [sync]\nprimary = \"{primary}\"\nbucket = \"{bucket}\"\n",
            sb.path("lab-store").display(),
            s3_endpoint(),
        ));
        let w = World {
            sb,
            checker,
            bucket,
            primary,
            other,
            model: BTreeMap::new(),
            origin: HashMap::new(),
            policy: (0, true, false),
            project: BTreeMap::new(),
            synced: BTreeMap::new(),
            labels: BTreeMap::new(),
            counter: 0,
            log: Vec::new(),
        };
        w.write_policy();
        std::fs::create_dir_all(w.sb.work("proj")).unwrap();
        for p in [LAB, SEAWEED] {
            run(&w.sb, &["--profile", p, "buckets", "create", &w.bucket]).ok();
        }
        w
    }

    fn write_policy(&self) {
        let (folder, upload, gzip) = self.policy;
        let rule = if upload {
            format!(
                "destination = \"primary\"\nfolder = \"{}\"\ncompress = {gzip}\n",
                POLICY_FOLDERS[folder]
            )
        } else {
            "destination = \"local\"\n".to_string()
        };
        std::fs::write(
            self.sb.path("config/policy.toml"),
            format!(
                "compress_min_size = \"1KiB\"\n\n[[rule]]\nname = \"project\"\npatterns = [\"*.bin\"]\nkind = \"other\"\n{rule}"
            ),
        )
        .unwrap();
    }

    fn fresh(&mut self, seed: u64) -> Vec<u8> {
        self.counter += 1;
        let len = 500 + (seed % 6000) as usize;
        data(len, seed ^ self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn fail(&self, what: String) -> TestCaseError {
        TestCaseError::fail(format!(
            "{what}\nsteps so far:\n  {}",
            self.log.join("\n  ")
        ))
    }

    fn expect_ok(&self, r: &Run, what: &str) -> Result<(), TestCaseError> {
        if r.code == 0 {
            Ok(())
        } else {
            Err(self.fail(format!("{what} exited {}: {r:?}", r.code)))
        }
    }

    /// Everything the two providers hold in the bucket, hashed from the bytes.
    fn held(&self) -> Result<Held, TestCaseError> {
        let mut out = Held::new();
        let mut files = Vec::new();
        let root = self.sb.path("lab-store").join(&self.bucket);
        walk(&root, &root, &mut files);
        for (k, b) in files {
            out.insert((LAB.into(), k), (sha(&b), b.len() as u64));
        }
        let listing = run(
            &self.checker,
            &["--json", "ls", "--recursive", &self.bucket],
        );
        self.expect_ok(&listing, "ls of SeaweedFS")?;
        let listed: BTreeSet<String> = listing.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "object")
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect();
        if !listed.is_empty() {
            let dir = self.checker.path("work/held");
            let _ = std::fs::remove_dir_all(&dir);
            let got = run(
                &self.checker,
                &[
                    "-q",
                    "get",
                    "--recursive",
                    "--raw",
                    &format!("{}/", self.bucket),
                    dir.to_str().unwrap(),
                ],
            );
            self.expect_ok(&got, "get -r of SeaweedFS")?;
            let mut files = Vec::new();
            walk(&dir, &dir, &mut files);
            let got: BTreeSet<String> = files.iter().map(|(k, _)| k.clone()).collect();
            if got != listed {
                return Err(self.fail(format!(
                    "get -r wrote {got:?}, the listing shows {listed:?}"
                )));
            }
            for (k, b) in files {
                out.insert((SEAWEED.into(), k), (sha(&b), b.len() as u64));
            }
        }
        Ok(out)
    }

    fn catalog(&self) -> Result<CatalogView, TestCaseError> {
        read_catalog(&self.sb.path("data")).map_err(|e| self.fail(e))
    }

    fn keys_on(&self, held: &Held, profile: &str) -> Vec<String> {
        held.keys()
            .filter(|(p, _)| p == profile)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// The invariants, after every step.
    fn check(&mut self) -> Result<Held, TestCaseError> {
        let held = self.held()?;
        let cat = self.catalog()?;
        // 1. The catalog's locations are exactly what the providers hold.
        let mut catalogued = Held::new();
        for l in &cat.locations {
            if l.bucket != self.bucket {
                return Err(self.fail(format!("a location in a bucket never written: {l:?}")));
            }
            let Some(s) = &l.sha256 else {
                return Err(self.fail(format!("a location without SHA-256: {l:?}")));
            };
            catalogued.insert(
                (l.profile.clone(), l.key.clone()),
                (s.clone(), l.size as u64),
            );
        }
        if catalogued.len() != cat.locations.len() {
            return Err(self.fail("one key recorded twice in the catalog".into()));
        }
        if catalogued != held {
            let missing: Vec<_> = held
                .iter()
                .filter(|(k, v)| catalogued.get(*k) != Some(*v))
                .collect();
            let stale: Vec<_> = catalogued
                .iter()
                .filter(|(k, v)| held.get(*k) != Some(*v))
                .collect();
            return Err(self.fail(format!(
                "the catalog is not the truth\n  held but not catalogued (or different): {missing:?}\n  \
                 catalogued but not held (or different): {stale:?}"
            )));
        }
        // 2. What the model expects is held.
        for ((p, k), want) in &self.model {
            match (held.get(&(p.clone(), k.clone())), want) {
                (None, _) => return Err(self.fail(format!("{p}:{k} should be held and is not"))),
                (Some((got, _)), Expect::Sha(s)) if got != s => {
                    return Err(self.fail(format!(
                        "{p}:{k} holds {got}, expected {s} ({:?})",
                        self.origin.get(s)
                    )))
                }
                _ => {}
            }
        }
        // 3. Every location of a version holds that version's bytes; an artifact's versions
        //    come from one source file; a synced file's keys keep its sub-folders.
        let mut by_version: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        let mut sources: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        for l in &cat.locations {
            let s = l.sha256.clone().unwrap_or_default();
            by_version
                .entry(l.version_id)
                .or_default()
                .insert(s.clone());
            if l.encoding.is_none() && s != l.version_sha {
                return Err(self.fail(format!(
                    "{}:{} holds {s}, its version {}@{} is {}",
                    l.profile, l.key, l.spec, l.version, l.version_sha
                )));
            }
            if let Some(src) = self.origin.get(&l.version_sha) {
                sources
                    .entry(l.artifact_id)
                    .or_default()
                    .insert(src.clone());
                if let Some(rel) = src.strip_prefix("proj:") {
                    let user_chosen = COPY_FOLDERS.iter().any(|f| l.key.starts_with(f));
                    let (dir, name) = match rel.rsplit_once('/') {
                        Some((d, n)) => (format!("{d}/"), n),
                        None => (String::new(), rel),
                    };
                    let kept = l.key.ends_with(&format!("/{rel}"))
                        || l.key.ends_with(&format!("/{rel}.gz"))
                        || l.key.contains(&format!("{dir}_versions/{name}/"));
                    if !user_chosen && !kept {
                        return Err(self.fail(format!(
                            "{}:{} holds project file {rel}, which lost its folder",
                            l.profile, l.key
                        )));
                    }
                }
            }
        }
        for (v, shas) in &by_version {
            if shas.len() > 1 {
                return Err(self.fail(format!(
                    "version {v} has copies of different bytes: {shas:?}"
                )));
            }
        }
        for (a, srcs) in &sources {
            if srcs.len() > 1 {
                let spec = cat
                    .versions
                    .iter()
                    .find(|v| v.artifact_id == *a)
                    .map(|v| v.spec.clone());
                return Err(self.fail(format!(
                    "artifact {spec:?} merges versions of different files: {srcs:?}"
                )));
            }
        }
        // 4. Labels stay where they were put while their version lives.
        let live: BTreeSet<i64> = cat.versions.iter().map(|v| v.id).collect();
        self.labels.retain(|_, v| live.contains(v));
        for (k, v) in &self.labels {
            if cat.labels.get(k) != Some(v) {
                return Err(self.fail(format!(
                    "label {k:?} should name version {v}; the catalog has {:?}",
                    cat.labels.get(k)
                )));
            }
        }
        Ok(held)
    }

    fn step(&mut self, op: &Op, held: &Held) -> Result<(), TestCaseError> {
        let b = self.bucket.clone();
        let primary = self.primary.to_string();
        match op {
            Op::Edit { file, seed, same } => {
                let rel = PROJECT_FILES[*file];
                let path = self.sb.work("proj").join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                if *same && path.exists() {
                    let bytes = std::fs::read(&path).unwrap();
                    std::fs::write(&path, bytes).unwrap();
                    self.log.push(format!("rewrite proj/{rel} (same bytes)"));
                } else {
                    // Text (hex), so that a rule with `compress = true` gzips it.
                    let bytes = hex::encode(self.fresh(*seed)).into_bytes();
                    let s = sha(&bytes);
                    std::fs::write(&path, &bytes).unwrap();
                    self.origin.insert(s.clone(), format!("proj:{rel}"));
                    self.project.insert(*file, s);
                    self.log
                        .push(format!("write proj/{rel} ({} bytes)", bytes.len()));
                }
            }
            Op::Sync => {
                self.log.push("sync proj".into());
                let r = run(&self.sb, &["sync", "proj"]);
                self.expect_ok(&r, "sync")?;
                let (folder, upload, gzip) = self.policy;
                let mut gzipped = Vec::new();
                for (file, s) in self.project.clone() {
                    let now = (s.clone(), folder, upload, gzip);
                    if self.synced.get(&file) == Some(&now) {
                        continue;
                    }
                    if let Some((_, old_folder, true, old_gzip)) = self.synced.get(&file) {
                        // Stored before by another decision: where that copy went is the
                        // implementation's choice (kept, or archived under _versions/).
                        let old = format!(
                            "{}{}{}",
                            POLICY_FOLDERS[*old_folder],
                            PROJECT_FILES[file],
                            if *old_gzip { ".gz" } else { "" }
                        );
                        self.model.remove(&(primary.clone(), old));
                    }
                    if upload {
                        let key = format!("{}{}", POLICY_FOLDERS[folder], PROJECT_FILES[file]);
                        if gzip {
                            // `compress = true` gzips what gains from it, under `KEY.gz`
                            // (the bytes are the encoder's: `restore` checks the content).
                            gzipped.push((key, s));
                        } else {
                            self.model.insert((primary.clone(), key), Expect::Sha(s));
                        }
                    }
                    self.synced.insert(file, now);
                }
                if !gzipped.is_empty() {
                    let now = self.held()?;
                    for (key, s) in gzipped {
                        let gz = format!("{key}.gz");
                        if now.contains_key(&(primary.clone(), gz.clone())) {
                            self.model.insert((primary.clone(), gz), Expect::Any);
                        } else if now.contains_key(&(primary.clone(), key.clone())) {
                            self.model.insert((primary.clone(), key), Expect::Sha(s));
                        } else {
                            return Err(self.fail(format!("sync stored neither {key} nor {gz}")));
                        }
                    }
                }
            }
            Op::Put {
                name,
                folder,
                overwrite,
                seed,
            } => {
                let (name, folder) = (PUT_NAMES[*name], PUT_FOLDERS[*folder]);
                let src = format!("src/{folder}{name}");
                let bytes = self.fresh(*seed);
                let s = sha(&bytes);
                std::fs::create_dir_all(self.sb.work(&format!("src/{folder}"))).unwrap();
                std::fs::write(self.sb.work(&src), &bytes).unwrap();
                let key = format!("{folder}{name}");
                let dest = format!("{b}/{folder}");
                let mut args = vec!["put", src.as_str(), dest.as_str()];
                if *overwrite {
                    args.insert(1, "--overwrite");
                }
                self.log.push(args.join(" "));
                let r = run(&self.sb, &args);
                let exists = held.contains_key(&(primary.clone(), key.clone()));
                if exists && !overwrite {
                    if r.code != 4 {
                        return Err(self.fail(format!("put onto {key} without --overwrite: {r:?}")));
                    }
                } else {
                    self.expect_ok(&r, "put")?;
                    self.origin.insert(s.clone(), format!("put:{key}"));
                    self.model.insert((primary, key), Expect::Sha(s));
                }
            }
            Op::PutArchive { dir, seed } => {
                let name = ARCHIVES[*dir];
                let root = self.sb.work(&format!("arch/{name}"));
                std::fs::create_dir_all(root.join("sub")).unwrap();
                let one = self.fresh(*seed);
                let two = self.fresh(seed.rotate_left(7));
                std::fs::write(root.join("a.bin"), one).unwrap();
                std::fs::write(root.join("sub/b.bin"), two).unwrap();
                let src = format!("arch/{name}");
                let dest = format!("{b}/archives/");
                self.log
                    .push(format!("put --archive --overwrite {src} {dest}"));
                let r = run(&self.sb, &["put", "--archive", "--overwrite", &src, &dest]);
                self.expect_ok(&r, "put --archive")?;
                self.model
                    .insert((primary, format!("archives/{name}.tar.gz")), Expect::Any);
            }
            Op::Rm { pick } => {
                let keys = self.keys_on(held, &primary);
                if keys.is_empty() {
                    return Ok(());
                }
                let key = &keys[pick % keys.len()];
                self.log.push(format!("rm {b}/{key}"));
                let r = run(&self.sb, &["rm", &format!("{b}/{key}")]);
                self.expect_ok(&r, "rm")?;
                self.model.remove(&(primary.clone(), key.clone()));
                let after = self.held()?;
                if after.contains_key(&(primary, key.clone())) {
                    return Err(self.fail(format!("rm left {key}")));
                }
            }
            Op::Mv { pick, to } | Op::Cp { pick, to } => {
                let is_mv = matches!(op, Op::Mv { .. });
                let keys = self.keys_on(held, &primary);
                if keys.is_empty() {
                    return Ok(());
                }
                let src = keys[pick % keys.len()].clone();
                let name = src.rsplit('/').next().unwrap();
                let dst = format!("{}{name}", COPY_FOLDERS[*to]);
                if dst == src {
                    return Ok(());
                }
                let verb = if is_mv { "mv" } else { "cp" };
                self.log
                    .push(format!("{verb} {b}/{src} {b}/{}", COPY_FOLDERS[*to]));
                let r = run(
                    &self.sb,
                    &[
                        verb,
                        &format!("{b}/{src}"),
                        &format!("{b}/{}", COPY_FOLDERS[*to]),
                    ],
                );
                if held.contains_key(&(primary.clone(), dst.clone())) {
                    if r.code != 4 {
                        return Err(self.fail(format!("{verb} onto existing {dst}: {r:?}")));
                    }
                    return Ok(());
                }
                self.expect_ok(&r, verb)?;
                let (s, _) = held[&(primary.clone(), src.clone())].clone();
                self.model.insert((primary.clone(), dst), Expect::Sha(s));
                if is_mv {
                    self.model.remove(&(primary, src));
                }
            }
            Op::Migrate {
                back,
                delete_source,
            } => {
                let (from, to) = if *back {
                    (self.other, self.primary)
                } else {
                    (self.primary, self.other)
                };
                let mut args = vec!["migrate", "--from", from, "--to", to, "--bucket", &b];
                if *delete_source {
                    args.push("--delete-source");
                }
                self.log.push(args.join(" "));
                let r = run(&self.sb, &args);
                let mut conflicts = 0;
                for key in self.keys_on(held, from) {
                    let (s, _) = &held[&(from.to_string(), key.clone())];
                    match held.get(&(to.to_string(), key.clone())) {
                        Some((t, _)) if t != s => conflicts += 1,
                        _ => {
                            self.model
                                .insert((to.to_string(), key.clone()), Expect::Sha(s.clone()));
                            if *delete_source {
                                self.model.remove(&(from.to_string(), key.clone()));
                            }
                        }
                    }
                }
                if conflicts == 0 {
                    self.expect_ok(&r, "migrate")?;
                } else if r.code == 0 || r.code == 101 {
                    return Err(self.fail(format!(
                        "migrate met {conflicts} different object(s) on the target: {r:?}"
                    )));
                }
                if *delete_source {
                    let after = self.held()?;
                    for key in self.keys_on(held, from) {
                        let (s, _) = &held[&(from.to_string(), key.clone())];
                        let copied =
                            after.get(&(to.to_string(), key.clone())).map(|x| &x.0) == Some(s);
                        let kept = after.contains_key(&(from.to_string(), key.clone()));
                        let conflicted = held
                            .get(&(to.to_string(), key.clone()))
                            .is_some_and(|(t, _)| t != s);
                        if conflicted != kept || (!conflicted && !copied) {
                            return Err(self.fail(format!(
                                "migrate --delete-source: {from}:{key} kept={kept}, copied={copied}, \
                                 conflict={conflicted}"
                            )));
                        }
                    }
                }
            }
            Op::Restore { pick } => {
                let cat = self.catalog()?;
                let stored: BTreeSet<i64> = cat.locations.iter().map(|l| l.version_id).collect();
                let vs: Vec<&VersionRow> = cat
                    .versions
                    .iter()
                    .filter(|v| stored.contains(&v.id))
                    .collect();
                if vs.is_empty() {
                    return Ok(());
                }
                let v = vs[pick % vs.len()];
                let spec = format!("{}@{}", v.spec, v.version);
                let dest = self.sb.work("restored.out");
                self.log.push(format!("restore {spec}"));
                let r = run(
                    &self.sb,
                    &["restore", "--force", &spec, dest.to_str().unwrap()],
                );
                self.expect_ok(&r, "restore")?;
                let got = sha(&std::fs::read(&dest).unwrap());
                if got != v.sha256 {
                    return Err(self.fail(format!(
                        "restore {spec} wrote {got}, the version is {}",
                        v.sha256
                    )));
                }
            }
            Op::Label { pick, label } => {
                let cat = self.catalog()?;
                let stored: BTreeSet<i64> = cat.locations.iter().map(|l| l.version_id).collect();
                let vs: Vec<&VersionRow> = cat
                    .versions
                    .iter()
                    .filter(|v| stored.contains(&v.id))
                    .collect();
                if vs.is_empty() {
                    return Ok(());
                }
                let v = vs[pick % vs.len()];
                let spec = format!("{}@{}", v.spec, v.version);
                self.log.push(format!("label {spec} {}", LABELS[*label]));
                let r = run(&self.sb, &["label", &spec, LABELS[*label]]);
                self.expect_ok(&r, "label")?;
                self.labels
                    .insert((v.artifact_id, LABELS[*label].to_string()), v.id);
            }
            Op::Gc { keep_last } => {
                let before = self.catalog()?;
                // Never the latest of an artifact, never a labelled version.
                let mut protected: BTreeSet<i64> = before.labels.values().copied().collect();
                let mut latest: BTreeMap<i64, &VersionRow> = BTreeMap::new();
                for v in &before.versions {
                    let e = latest.entry(v.artifact_id).or_insert(v);
                    if v.sort_key > e.sort_key {
                        *e = v;
                    }
                }
                protected.extend(latest.values().map(|v| v.id));
                let keep = keep_last.to_string();
                self.log
                    .push(format!("gc --keep-last {keep} --older-than 1s"));
                let r = run(
                    &self.sb,
                    &["gc", "--keep-last", &keep, "--older-than", "1s"],
                );
                self.expect_ok(&r, "gc")?;
                let after = self.catalog()?;
                let locs = |c: &CatalogView, v: i64| -> BTreeSet<(String, String)> {
                    c.locations
                        .iter()
                        .filter(|l| l.version_id == v)
                        .map(|l| (l.profile.clone(), l.key.clone()))
                        .collect()
                };
                for v in &protected {
                    if locs(&before, *v) != locs(&after, *v) {
                        return Err(self.fail(format!(
                            "gc touched version {v}, the latest or labelled: {:?} → {:?}",
                            locs(&before, *v),
                            locs(&after, *v)
                        )));
                    }
                }
                // What gc removed is no longer expected.
                let now: BTreeSet<(String, String)> = after
                    .locations
                    .iter()
                    .map(|l| (l.profile.clone(), l.key.clone()))
                    .collect();
                let gone: BTreeSet<(String, String)> = before
                    .locations
                    .iter()
                    .map(|l| (l.profile.clone(), l.key.clone()))
                    .filter(|k| !now.contains(k))
                    .collect();
                self.model.retain(|k, _| !gone.contains(k));
            }
            Op::Policy {
                folder,
                upload,
                gzip,
            } => {
                self.policy = (*folder, *upload, *gzip);
                self.write_policy();
                self.log.push(format!(
                    "policy: *.bin → {} {}{}",
                    if *upload { "primary" } else { "local" },
                    POLICY_FOLDERS[*folder],
                    if *upload && *gzip { " gzip" } else { "" }
                ));
            }
        }
        Ok(())
    }

    /// `verify` agrees at the end of a sequence (after a sync, so no policy edit is pending).
    fn verify(&self) -> Result<(), TestCaseError> {
        let r = run(&self.sb, &["--json", "verify"]);
        self.expect_ok(&r, "verify")?;
        let doc = r.json();
        let problems = doc["problems"].as_array().map_or(0, Vec::len);
        if problems > 0 {
            return Err(self.fail(format!("verify found problems: {doc}")));
        }
        Ok(())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = run(
            &self.sb,
            &[
                "--profile",
                SEAWEED,
                "rm",
                "--recursive",
                &format!("{}/", self.bucket),
            ],
        );
        let _ = run(
            &self.sb,
            &["--profile", SEAWEED, "buckets", "rm", &self.bucket],
        );
    }
}

/// Runs one sequence; on success, the commands it ran (skipped steps are not listed).
fn run_case(primary: &'static str, ops: &[Op]) -> Result<Vec<String>, TestCaseError> {
    let mut w = World::new(primary);
    let mut held = w.check()?;
    for op in ops {
        w.step(op, &held)?;
        held = w.check()?;
    }
    // A last sync stores the project by the current policy; then `verify` finds nothing.
    w.step(&Op::Sync, &held)?;
    w.check()?;
    w.verify()?;
    Ok(std::mem::take(&mut w.log))
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn model_test(primary: &'static str) {
    const STEPS_PER_CASE: usize = 16;
    let steps = env_u64("STOWAGE_MODEL_STEPS").unwrap_or(160) as usize;
    let cases = steps.div_ceil(STEPS_PER_CASE).max(1) as u32;
    let seed = env_u64("STOWAGE_MODEL_SEED").unwrap_or(20_261_204);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + primary.len()].copy_from_slice(primary.as_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 128,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    let strategy = proptest::collection::vec(op(), STEPS_PER_CASE / 2..=STEPS_PER_CASE * 3 / 2);
    // Steps of the sequences that passed whole (shrinking runs excluded).
    let clean = AtomicUsize::new(0);
    let ran = std::sync::Mutex::new(BTreeMap::<String, usize>::new());
    let result = runner.run(&strategy, |ops| {
        let log = run_case(primary, &ops)?;
        clean.fetch_add(ops.len(), Ordering::Relaxed);
        let mut ran = ran.lock().unwrap();
        for line in log {
            let verb = match line.split([' ', ':']).next().unwrap_or_default() {
                "put" if line.contains("--archive") => "put --archive",
                "migrate" if line.contains("--delete-source") => "migrate --delete-source",
                v => v,
            };
            *ran.entry(verb.to_string()).or_default() += 1;
        }
        Ok(())
    });
    let clean = clean.load(Ordering::Relaxed);
    let ran = ran.into_inner().unwrap();
    match result {
        Ok(()) => eprintln!(
            "catalog model ({primary} primary, seed {seed}): {cases} sequences, {clean} steps \
             ran clean; commands run: {ran:?}"
        ),
        Err(TestError::Fail(reason, ops)) => panic!(
            "catalog model ({primary} primary, seed {seed}) failed; the smallest sequence \
             found has {} steps, and failed so:\n{reason}",
            ops.len()
        ),
        Err(e) => panic!("catalog model ({primary} primary, seed {seed}): {e}"),
    }
}

#[test]
fn catalog_model_on_the_local_store() {
    model_test(LAB);
}

#[test]
fn catalog_model_on_seaweedfs() {
    model_test(SEAWEED);
}
