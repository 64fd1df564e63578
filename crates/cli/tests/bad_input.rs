//! The bad-input suite: names, files, configuration, servers, gzip and metadata that are wrong
//! in every way we could think of. Each case asserts the exit code, a message that names the
//! file or key, the provider and a next step, no panic, and that nothing was lost: every file
//! that was there is still there byte for byte, and nothing half-written was left behind (in
//! the working folder or in the store).
//!
//! Decisions recorded here:
//! - Windows reserved names (`CON`, `nul.txt`, `COM1`) and names ending in `.` or a space are
//!   **accepted with a warning** on `put`: every provider stores them and Linux/macOS folders
//!   hold them; the warning says they cannot be downloaded to a Windows folder under that name.
//! - An unreadable file (mode 000) cannot be tested as unreadable when the tests run as root
//!   (root reads it anyway): the case detects that and then asserts the upload succeeds with
//!   the right bytes instead.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::proxy::{Fault, Proxy};
use common::*;

/// What a path held before a case ran.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Snap {
    File(Vec<u8>),
    Link(PathBuf),
    Dir,
    Other,
}

fn snapshot(root: &Path) -> BTreeMap<String, Snap> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Snap>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let snap = if meta.file_type().is_symlink() {
                Snap::Link(std::fs::read_link(&p).unwrap())
            } else if meta.is_dir() {
                walk(&p, root, out);
                Snap::Dir
            } else if meta.is_file() {
                // Mode 000 files are read back with the mode restored for a moment.
                Snap::File(read_anyway(&p))
            } else {
                Snap::Other
            };
            out.insert(rel, snap);
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn read_anyway(p: &Path) -> Vec<u8> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::read(p) {
        Ok(b) => b,
        Err(_) => {
            let mode = std::fs::metadata(p).unwrap().permissions();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
            let b = std::fs::read(p).unwrap();
            std::fs::set_permissions(p, mode).unwrap();
            b
        }
    }
}

type Setup = Box<dyn Fn(&Sandbox)>;

/// One bad input and what must happen.
struct Case {
    name: &'static str,
    setup: Setup,
    args: Vec<String>,
    code: i32,
    /// Each must appear in the output (errors on stderr): the file or key, the provider, the
    /// next step.
    says: Vec<String>,
    /// Must not appear in stderr (raw control characters, secrets).
    never: Vec<String>,
    /// Files the case may create in the working folder (successful downloads).
    creates: Vec<&'static str>,
    /// Whether the store may change (successful uploads).
    stores: bool,
}

fn case(name: &'static str, args: &[&str], code: i32, says: &[&str]) -> Case {
    Case {
        name,
        setup: Box::new(|_| {}),
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        says: says.iter().map(|s| s.to_string()).collect(),
        never: Vec::new(),
        creates: Vec::new(),
        stores: false,
    }
}

impl Case {
    fn setup(mut self, f: impl Fn(&Sandbox) + 'static) -> Case {
        self.setup = Box::new(f);
        self
    }
    fn args(mut self, args: Vec<String>) -> Case {
        self.args = args;
        self
    }
    fn never(mut self, s: &str) -> Case {
        self.never.push(s.to_string());
        self
    }
    fn creates(mut self, f: &'static str) -> Case {
        self.creates.push(f);
        self
    }
    fn stores(mut self) -> Case {
        self.stores = true;
        self
    }
}

/// The files every local case starts with.
fn base(sb: &Sandbox) {
    std::fs::write(sb.work("f.txt"), b"hello, stowage\n").unwrap();
    std::fs::write(sb.work("data.bin"), data(100_000, 7)).unwrap();
    sb.run(&["put", "f.txt", "datasets/"]).ok();
}

/// Run `case` in a fresh sandbox made by `sandbox` and check everything; returns what went wrong.
/// Where a case's stored objects are, compared before and after it runs.
enum Held<'a> {
    /// Not compared (the case checks its own outcome).
    Unchecked,
    /// The local store's folder.
    Folder(&'a Path),
    /// A bucket on a server, read through an administrator's sandbox: every key, its bytes.
    Bucket(&'a Sandbox, &'a str),
}

impl Held<'_> {
    async fn snapshot(&self) -> Option<BTreeMap<String, Snap>> {
        match self {
            Held::Unchecked => None,
            Held::Folder(dir) => Some(snapshot(dir)),
            Held::Bucket(admin, bucket) => {
                let doc = admin
                    .run_async(&["--json", "ls", "--recursive", bucket])
                    .await
                    .ok()
                    .json();
                let dest = admin.work(".held");
                let mut out = BTreeMap::new();
                for e in doc["entries"].as_array().unwrap() {
                    let key = e["name"].as_str().unwrap();
                    if e["kind"] != "object" {
                        out.insert(key.to_string(), Snap::Dir);
                        continue;
                    }
                    let at = format!("{bucket}/{key}");
                    let to = dest.to_str().unwrap();
                    admin
                        .run_async(&["get", "--raw", "--force", &at, to])
                        .await
                        .ok();
                    out.insert(key.to_string(), Snap::File(std::fs::read(&dest).unwrap()));
                }
                let _ = std::fs::remove_file(&dest);
                Some(out)
            }
        }
    }
}

async fn check(case: &Case, sb: &Sandbox, held: Held<'_>) -> Result<(), String> {
    (case.setup)(sb);
    let work_before = snapshot(&sb.work(""));
    let store_before = held.snapshot().await;
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let run = sb.run_async(&args).await;
    let name = case.name;
    let mut problems = Vec::new();
    if run.code != case.code {
        problems.push(format!("exit code {} (want {})", run.code, case.code));
    }
    if run.code == 101 || run.stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    let output = format!("{}{}", run.stderr, run.stdout);
    for s in &case.says {
        if !output.contains(s.as_str()) {
            problems.push(format!("stderr does not say {s:?}"));
        }
    }
    for s in &case.never {
        if run.stderr.contains(s.as_str()) || run.stdout.contains(s.as_str()) {
            problems.push(format!("output shows {s:?}"));
        }
    }
    // Nothing lost: every file still there, byte for byte; nothing new but what may be.
    let work_after = snapshot(&sb.work(""));
    for (path, before) in &work_before {
        match work_after.get(path) {
            None => problems.push(format!("{path} was removed")),
            Some(after) if after != before && !case.creates.contains(&path.as_str()) => {
                problems.push(format!("{path} changed"))
            }
            _ => {}
        }
    }
    for path in work_after.keys() {
        if !work_before.contains_key(path) && !case.creates.iter().any(|c| path.starts_with(c)) {
            problems.push(format!("{path} was left in the working folder"));
        }
    }
    if let (Some(before), Some(after)) = (store_before, held.snapshot().await) {
        if !case.stores && after != before {
            problems.push(format!(
                "the store changed: {:?}",
                after
                    .keys()
                    .filter(|k| !before.contains_key(*k))
                    .collect::<Vec<_>>()
            ));
        }
        for (path, snap) in &before {
            if matches!(snap, Snap::File(_)) && after.get(path) != Some(snap) {
                problems.push(format!("stored {path} changed or vanished"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{name}: {}\n  args: {:?}\n  stderr: {}\n  stdout: {}",
            problems.join("; "),
            case.args,
            run.stderr.trim(),
            run.stdout.trim()
        ))
    }
}

fn report(results: Vec<Result<(), String>>, at_least: usize) {
    assert!(results.len() >= at_least, "{} cases", results.len());
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} bad-input cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `datasets/KEY` where KEY is `bytes` long, in segments a local folder can hold.
fn long_key(bytes: usize) -> String {
    let mut key = String::new();
    while bytes - key.len() > 201 {
        key.push_str(&"k".repeat(200));
        key.push('/');
    }
    key.push_str(&"k".repeat(bytes - key.len()));
    assert_eq!(key.len(), bytes);
    format!("datasets/{key}")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn privileged() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("probe");
    std::fs::write(&p, b"x").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::read(&p).is_ok()
}

fn local_cases() -> Vec<Case> {
    let key_cases: Vec<Case> = vec![
        case(
            "empty destination",
            &["put", "f.txt", ""],
            2,
            &["has no bucket", "BUCKET/KEY"],
        ),
        case(
            "dot-dot key",
            &["put", "f.txt", "datasets/../x"],
            7,
            &["`../x`", "`..` segment", "stowage", "Next:"],
        ),
        case(
            "dot-dot deeper",
            &["put", "f.txt", "datasets/a/../../etc/passwd"],
            7,
            &["`..` segment", "Next:"],
        ),
        case(
            "dot key",
            &["put", "f.txt", "datasets/a/./b"],
            7,
            &["`.` segment", "Next:"],
        ),
        case(
            "absolute key",
            &["put", "f.txt", "/datasets/x"],
            2,
            &["`/datasets/x`", "has no bucket", "for example"],
        ),
        case(
            "empty segment",
            &["put", "f.txt", "datasets/a//b"],
            7,
            &["`a//b`", "empty segment", "Next:"],
        ),
        case(
            "control character",
            &["put", "f.txt", "datasets/a\u{1}b"],
            7,
            &["U+0001", "a\\u{1}b", "Next:"],
        )
        .never("\u{1}"),
        case(
            "escape sequence",
            &["put", "f.txt", "datasets/a\u{1b}[31mred"],
            7,
            &["U+001B", "Next:"],
        )
        .never("\u{1b}"),
        case(
            "newline",
            &["put", "f.txt", "datasets/two\nlines"],
            7,
            &["U+000A", "Next:"],
        ),
        case(
            "tab",
            &["put", "f.txt", "datasets/a\tb"],
            7,
            &["U+0009", "Next:"],
        ),
        case(
            "delete character",
            &["put", "f.txt", "datasets/a\u{7f}b"],
            7,
            &["U+007F", "Next:"],
        )
        .never("\u{7f}"),
        case(
            "key over 1024 bytes",
            &[],
            7,
            &["1025 bytes", "limit is 1024", "Next:"],
        )
        .args(vec!["put".into(), "f.txt".into(), long_key(1025)]),
        case("key of exactly 1024 bytes", &[], 0, &["uploaded"])
            .args(vec!["put".into(), "f.txt".into(), long_key(1024)])
            .stores(),
        case(
            "right-to-left override",
            &["put", "f.txt", "datasets/rtl\u{202e}txt.exe"],
            7,
            &["U+202E", "Next:"],
        )
        .never("\u{202e}"),
        case(
            "right-to-left mark",
            &["put", "f.txt", "datasets/a\u{200f}b"],
            7,
            &["U+200F", "Next:"],
        )
        .never("\u{200f}"),
        case(
            "bidi isolate",
            &["put", "f.txt", "datasets/a\u{2066}b"],
            7,
            &["U+2066", "Next:"],
        ),
        case(
            "windows CON",
            &["put", "f.txt", "datasets/CON"],
            0,
            &["warning:", "`CON` is a reserved device name on Windows"],
        )
        .stores(),
        case(
            "windows nul.txt",
            &["put", "f.txt", "datasets/nul.txt"],
            0,
            &["warning:", "reserved device name"],
        )
        .stores(),
        case(
            "windows COM1 folder",
            &["put", "f.txt", "datasets/COM1/f.txt"],
            0,
            &["warning:", "`COM1`"],
        )
        .stores(),
        case(
            "windows lpt9",
            &["put", "f.txt", "datasets/lpt9.log"],
            0,
            &["warning:", "`lpt9.log`"],
        )
        .stores(),
        case(
            "trailing dot",
            &["put", "f.txt", "datasets/trail."],
            0,
            &["warning:", "ends with a dot or a space"],
        )
        .stores(),
        case(
            "trailing space",
            &["put", "f.txt", "datasets/trail "],
            0,
            &["warning:", "ends with a dot or a space"],
        )
        .stores(),
        case(
            "bucket with capitals",
            &["put", "f.txt", "BadBucket/x"],
            7,
            &["`BadBucket`", "Next: choose a name like"],
        ),
        case(
            "bucket too short",
            &["put", "f.txt", "ab/x"],
            7,
            &["`ab`", "Next:"],
        ),
        case(
            "bucket with underscore",
            &["get", "my_bucket/x", "out"],
            7,
            &["`my_bucket`", "Next:"],
        ),
        case("ls dot-dot", &["ls", "datasets/.."], 7, &["`..`", "Next:"]),
        case(
            "get dot-dot",
            &["get", "datasets/../x", "out"],
            7,
            &["`..`", "Next:"],
        ),
        case(
            "rm dot-dot",
            &["rm", "datasets/a/../../x"],
            7,
            &["`..`", "Next:"],
        ),
        case(
            "cp to dot-dot",
            &["cp", "datasets/f.txt", "datasets/../x"],
            7,
            &["`..`", "Next:"],
        ),
        case(
            "mv from absolute",
            &["mv", "/datasets/f.txt", "datasets/y"],
            2,
            &["has no bucket"],
        ),
        case(
            "file named with a control character",
            &["put", "bad\u{1}name.txt", "datasets/"],
            7,
            &["U+0001", "Next:"],
        )
        .setup(|sb| std::fs::write(sb.work("bad\u{1}name.txt"), b"x").unwrap())
        .never("\u{1}"),
        case(
            "file named with a right-to-left override",
            &["put", "evil\u{202e}fdp.exe", "datasets/"],
            7,
            &["U+202E", "Next:"],
        )
        .setup(|sb| std::fs::write(sb.work("evil\u{202e}fdp.exe"), b"x").unwrap()),
    ];
    let file_cases: Vec<Case> = vec![
        case(
            "zero-byte file",
            &["put", "empty.bin", "datasets/"],
            0,
            &["uploaded", "0 B"],
        )
        .setup(|sb| std::fs::write(sb.work("empty.bin"), b"").unwrap())
        .stores(),
        case(
            "zero-byte download",
            &["get", "datasets/empty.bin", "back.bin"],
            0,
            &[],
        )
        .setup(|sb| {
            std::fs::write(sb.work("empty.bin"), b"").unwrap();
            sb.run(&["put", "empty.bin", "datasets/"]).ok();
        })
        .creates("back.bin"),
        case(
            "missing file",
            &["put", "nofile.txt", "datasets/"],
            3,
            &[
                "nofile.txt",
                "local file",
                "not found",
                "Next: check the path",
            ],
        ),
        case(
            "unreadable file",
            &["put", "locked.txt", "datasets/"],
            if privileged() { 0 } else { 1 },
            if privileged() {
                &["uploaded locked.txt"]
            } else {
                &["locked.txt", "local file", "ermission denied", "Next:"]
            },
        )
        .setup(|sb| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(sb.work("locked.txt"), b"secret-ish").unwrap();
            std::fs::set_permissions(
                sb.work("locked.txt"),
                std::fs::Permissions::from_mode(0o000),
            )
            .unwrap();
        })
        .stores(),
        case(
            "symlink loop",
            &["put", "loop1", "datasets/"],
            1,
            &["loop1", "local file", "symbolic links", "Next:"],
        )
        .setup(|sb| {
            std::os::unix::fs::symlink("loop2", sb.work("loop1")).unwrap();
            std::os::unix::fs::symlink("loop1", sb.work("loop2")).unwrap();
        }),
        case(
            "dangling symlink",
            &["put", "dangling", "datasets/"],
            3,
            &["dangling", "local file", "not found", "Next:"],
        )
        .setup(|sb| std::os::unix::fs::symlink("nowhere", sb.work("dangling")).unwrap()),
        case(
            "fifo",
            &["put", "fifo", "datasets/"],
            1,
            &[
                "fifo",
                "local file",
                "not a regular file",
                "Next: pass files or folders",
            ],
        )
        .setup(|sb| {
            let status = std::process::Command::new("mkfifo")
                .arg(sb.work("fifo"))
                .status()
                .unwrap();
            assert!(status.success());
        }),
        case(
            "character device",
            &["put", "/dev/zero", "datasets/"],
            1,
            &["/dev/zero", "not a regular file", "Next:"],
        ),
        case(
            "folder where a file is expected (extract target)",
            &["get", "datasets/f.txt", "f.txt/inside"],
            4,
            &["f.txt", "local file", "Next:"],
        ),
        case(
            "existing local file",
            &["get", "datasets/f.txt", "f.txt"],
            4,
            &["f.txt", "already exists", "--force"],
        ),
        case(
            "existing object",
            &["put", "f.txt", "datasets/"],
            4,
            &["datasets/f.txt", "--overwrite"],
        ),
        case(
            "missing object",
            &["get", "datasets/none.txt", "none.txt"],
            3,
            &["datasets/none.txt", "local", "not found", "Next:"],
        ),
        case(
            "missing bucket",
            &["get", "no-such-bucket/f.txt", "out.txt"],
            3,
            &["no-such-bucket", "not found", "Next:"],
        ),
        case(
            "folder into a file key",
            &["put", "dir", "datasets/f.txt"],
            4,
            &["datasets/f.txt", "Next:"],
        )
        .setup(|sb| {
            std::fs::create_dir(sb.work("dir")).unwrap();
            std::fs::write(sb.work("dir/a.txt"), b"a").unwrap();
        }),
    ];
    let config_cases: Vec<Case> = vec![
        case("unknown top-level key", &["ls"], 2, &["config.toml:1:1", "colour"])
            .setup(|sb| sb.write_config("colour = \"red\"\n")),
        case("unknown profile key", &["ls"], 2, &["config.toml:3", "bucket_name"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"local\"\nbucket_name = \"x\"\n")),
        case("wrong type", &["ls"], 2, &["config.toml:4:14", "expected a boolean", "stowage profile ls --help"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:1\"\npath_style = \"yes\"\n")),
        case("wrong type for a number", &["ls"], 2, &["config.toml:3:15", "expected usize", "stowage profile ls --help"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"s3\"\nconcurrency = \"many\"\n")),
        case("invalid toml", &["ls"], 2, &["config.toml:1", "invalid TOML"])
            .setup(|sb| sb.write_config("[profiles.p\nkind = local\n")),
        case("unknown kind", &["ls"], 2, &["config.toml:2", "ftp"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"ftp\"\n")),
        case("undefined default profile", &["ls"], 2, &["config.toml:1", "`nope` is not defined"])
            .setup(|sb| sb.write_config("default_profile = \"nope\"\n")),
        case("org with dot-dot", &["ls"], 2, &["config.toml:3", "organization", "acme"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"local\"\norg = \"..\"\n")),
        case("org with a slash", &["ls"], 2, &["config.toml:3", "without `/`"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"local\"\norg = \"acme/other\"\n")),
        case("org percent-encoded", &["ls"], 2, &["config.toml:3", "%2F"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"local\"\norg = \"acme%2Fother\"\n")),
        case("org with a division slash", &["ls"], 2, &["config.toml:3", "DIVISION SLASH"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"local\"\norg = \"acme\u{2215}other\"\n")),
        case("secret in the config", &["ls"], 2, &["config.toml:3", "secret"])
            .setup(|sb| sb.write_config("[profiles.p]\nkind = \"s3\"\nsecret_access_key = \"planted-secret-value\"\n"))
            .never("planted-secret-value"),
        case("config is a folder", &["ls"], 2, &["config.toml"])
            .setup(|sb| std::fs::create_dir(sb.path("config/config.toml")).unwrap()),
        case("unknown --profile", &["--profile", "nope", "ls"], 2, &["no profile `nope`", "stowage profile ls"]),
        case("bad duration", &["url", "datasets/f.txt", "--expires", "banana"], 2, &["`banana` is not a duration", "`1h`"]),
        case("invalid glob in policy", &["explain", "f.txt"], 2, &["policy.toml", "[a-"])
            .setup(|sb| write_policy(sb, "[[rule]]\nname = \"broken\"\npatterns = [\"[a-\"]\ndestination = \"primary\"\n")),
        case("unknown rule field in policy", &["explain", "f.txt"], 2, &["policy.toml:4", "colour"])
            .setup(|sb| write_policy(sb, "[[rule]]\nname = \"r\"\ndestination = \"primary\"\ncolour = \"red\"\n")),
        case("wrong type in policy", &["explain", "f.txt"], 2, &["policy.toml:3", "min_size"])
            .setup(|sb| write_policy(sb, "[[rule]]\nname = \"r\"\nmin_size = true\ndestination = \"primary\"\n")),
        case("unknown destination in policy", &["explain", "f.txt"], 2, &["policy.toml:3", "cloud"])
            .setup(|sb| write_policy(sb, "[[rule]]\nname = \"r\"\ndestination = \"cloud\"\n")),
        case("escaping folder in policy", &["explain", "f.txt"], 2, &["policy.toml:4", "../up/"])
            .setup(|sb| write_policy(sb, "[[rule]]\nname = \"r\"\ndestination = \"primary\"\nfolder = \"../up/\"\n")),
        case("bad org in policy", &["explain", "f.txt"], 2, &["policy.toml:1", "org"])
            .setup(|sb| write_policy(sb, "org = \"a/b\"\n")),
    ];
    let gzip_cases: Vec<Case> = vec![
        case(
            "corrupt gzip",
            &["get", "datasets/bad.gz", "out"],
            7,
            &["datasets/bad.gz", "damaged", "not touched", "Next:"],
        )
        .setup(|sb| {
            // `put` gives a .gz key gzip bytes; a rename makes the damaged object other
            // tools can leave.
            std::fs::write(sb.work("bad.bin"), b"this is not gzip at all").unwrap();
            sb.run(&["put", "bad.bin", "datasets/"]).ok();
            sb.run(&["mv", "datasets/bad.bin", "datasets/bad.gz"]).ok();
        }),
        case(
            "truncated gzip",
            &["get", "datasets/cut.json.gz", "out.json"],
            7,
            &["datasets/cut.json.gz", "damaged", "Next:"],
        )
        .setup(|sb| {
            let full = gzip(&data(200_000, 3));
            std::fs::write(sb.work("cut.json.gz"), &full[..full.len() / 2]).unwrap();
            sb.run(&["put", "cut.json.gz", "datasets/"]).ok();
        }),
        case(
            "gzip with a bad checksum",
            &["get", "datasets/crc.gz", "out"],
            7,
            &["datasets/crc.gz", "Next:"],
        )
        .setup(|sb| {
            let mut gz = gzip(b"{\"accuracy\": 0.5}");
            let n = gz.len();
            gz[n - 8] ^= 0xff;
            std::fs::write(sb.work("crc.gz"), &gz).unwrap();
            sb.run(&["put", "crc.gz", "datasets/"]).ok();
        }),
        case(
            "decompression bomb",
            &["get", "datasets/bomb.json.gz", "bomb.json"],
            7,
            &["datasets/bomb.json.gz", "Next:"],
        )
        .setup(|sb| {
            // 256 MiB of zeros in ~250 KB: beyond the 1000:1 ratio cap.
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..256 {
                enc.write_all(&zeros).unwrap();
            }
            std::fs::write(sb.work("bomb.json.gz"), enc.finish().unwrap()).unwrap();
            sb.run(&["put", "bomb.json.gz", "datasets/"]).ok();
        }),
        case(
            "corrupt gzip with --raw",
            &["get", "--raw", "datasets/bad.gz", "raw.gz"],
            0,
            &[],
        )
        .setup(|sb| {
            // `put` gives a .gz key gzip bytes; a rename makes the damaged object other
            // tools can leave.
            std::fs::write(sb.work("bad.bin"), b"this is not gzip at all").unwrap();
            sb.run(&["put", "bad.bin", "datasets/"]).ok();
            sb.run(&["mv", "datasets/bad.bin", "datasets/bad.gz"]).ok();
        })
        .creates("raw.gz"),
    ];
    let mut all = Vec::new();
    all.extend(key_cases);
    all.extend(file_cases);
    all.extend(config_cases);
    all.extend(gzip_cases);
    all
}

fn write_policy(sb: &Sandbox, text: &str) {
    std::fs::write(sb.path("config/policy.toml"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_bad_inputs() {
    let mut results = Vec::new();
    for case in local_cases() {
        let sb = Sandbox::new();
        base(&sb);
        let store = sb.path("data/store");
        results.push(check(&case, &sb, Held::Folder(&store)).await);
    }
    report(results, 60);
}

/// Training-results JSON that is invalid, absurdly deep or holds absurd numbers: `sync` keeps
/// going (a results file with a syntax error still syncs, without metrics), never panics and
/// never changes the file; `versions` lists what it could read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_bad_inputs() {
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, String)> = vec![
        ("invalid", "{\"accuracy\": 0.5".into()),
        ("deep", deep),
        (
            "huge exponent",
            "{\"accuracy\": 1e999, \"loss\": 0.25}".into(),
        ),
        (
            "2^80",
            "{\"epochs\": 1208925819614629174706176, \"loss\": 0.25}".into(),
        ),
    ];
    let mut results = Vec::new();
    for (name, text) in cases {
        let sb = Sandbox::new();
        sb.write_config("[sync]\nprimary = \"local\"\nbucket = \"mlsync\"\n");
        std::fs::create_dir(sb.work("runs")).unwrap();
        let file = "runs/model-x-2026-01-06T20-26-17.json";
        std::fs::write(sb.work(file), &text).unwrap();
        let c = case(name, &["sync", "runs"], 0, &[]).stores();
        let r = check(&c, &sb, Held::Unchecked).await;
        let versions = sb.run_async(&["--json", "versions"]).await;
        let r = r.and_then(|()| {
            if versions.code != 0 || versions.stderr.contains("panicked") {
                return Err(format!("{name}: versions failed: {versions:?}"));
            }
            let listed = versions.stdout.contains("model-x");
            let loss = versions.stdout.contains("0.25");
            match name {
                "2^80" if !(listed && loss) => Err(format!(
                    "{name}: the readable metric is lost: {}",
                    versions.stdout
                )),
                _ if !listed => Err(format!("{name}: not listed: {}", versions.stdout)),
                _ => Ok(()),
            }
        });
        results.push(r);
    }
    report(results, 4);
}

/// A file that grows, shrinks or vanishes while it is uploaded: the upload either stores
/// exactly what was hashed (the whole old or new content) or fails naming the file; never a
/// mix, never a panic, never a lost source.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn files_changing_under_an_upload() {
    for change in ["grows", "shrinks", "vanishes"] {
        let sb = Sandbox::new();
        let original = data(48 << 20, 11);
        std::fs::write(sb.work("big.bin"), &original).unwrap();
        let child = tokio::process::Command::from(sb.command(&["put", "big.bin", "datasets/"]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut after = original.clone();
        match change {
            "grows" => {
                let extra = data(1 << 20, 12);
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(sb.work("big.bin"))
                    .unwrap();
                f.write_all(&extra).unwrap();
                after.extend_from_slice(&extra);
            }
            "shrinks" => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(sb.work("big.bin"))
                    .unwrap();
                f.set_len(1 << 20).unwrap();
                after.truncate(1 << 20);
            }
            _ => std::fs::remove_file(sb.work("big.bin")).unwrap(),
        }
        let run: Run = child.wait_with_output().await.unwrap().into();
        assert!(
            run.code != 101 && !run.stderr.contains("panicked"),
            "{change}: {run:?}"
        );
        if change != "vanishes" {
            assert_eq!(
                std::fs::read(sb.work("big.bin")).unwrap(),
                after,
                "{change}: source changed by us"
            );
        }
        let stored = sb.path("data/store/datasets/big.bin");
        if run.code == 0 {
            let got = std::fs::read(&stored).unwrap();
            assert!(
                got == original || got == after,
                "{change}: stored {} bytes, a mix of old and new",
                got.len()
            );
        } else {
            assert!(run.stderr.contains("big.bin"), "{change}: {run:?}");
            assert!(run.stderr.contains("Next:"), "{change}: {run:?}");
            assert!(
                !stored.exists(),
                "{change}: a partial object was left: {run:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Servers: SeaweedFS and the Supabase contract server, directly and through the fault proxy.

fn s3_sandbox_at(endpoint: &str, extra: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write_config(&format!(
        "default_profile = \"seaweed\"\n\n[profiles.seaweed]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\npath_style = true\n{extra}"
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

fn supabase_sandbox(url: &str, key: &str, extra: &str) -> Sandbox {
    let mut sb = Sandbox::new();
    sb.write_config(&format!(
        "default_profile = \"team\"\n[profiles.team]\nkind = \"supabase\"\n{extra}"
    ));
    sb.env("SUPABASE_URL", url)
        .env("SUPABASE_SERVICE_ROLE_KEY", key);
    sb
}

/// Set-up uploads retry a few times: a SeaweedFS busy with other tests' buckets answers
/// `InternalError` now and then. The cases themselves never retry.
async fn seed(sb: &Sandbox, args: &[&str]) {
    let mut last = None;
    for _ in 0..5 {
        let run = sb.run_async(args).await;
        if run.code == 0 {
            return;
        }
        last = Some(run);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("set-up {args:?} failed: {last:?}");
}

fn files(sb: &Sandbox) {
    std::fs::write(sb.work("f.txt"), b"hello, stowage\n").unwrap();
    std::fs::write(sb.work("big.bin"), data(300_000, 5)).unwrap();
}

/// The org escapes, through the real CLI against a real server: (args, exit code, says).
fn org_cases(bucket: &str) -> Vec<Case> {
    let b = |k: &str| format!("{bucket}/{k}");
    let owned = |v: Vec<String>| v;
    vec![
        case(
            "org: other org's key",
            &[],
            5,
            &["`acme`", "outside `acme/`", "Next:"],
        )
        .args(owned(vec!["put".into(), "f.txt".into(), b("other/x.txt")])),
        case("org: look-alike prefix", &[], 5, &["outside `acme/`"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acmeevil/x.txt"),
        ]),
        case("org: no prefix", &[], 5, &["outside `acme/`"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("x.txt"),
        ]),
        case("org: percent-encoded dot-dot", &[], 7, &["%2e", "Next:"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/%2e%2e/other/x.txt"),
        ]),
        case("org: percent-encoded slash", &[], 7, &["%2F", "Next:"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/..%2Fother/x.txt"),
        ]),
        case("org: encoded backslash", &[], 7, &["%5C"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/..%5Cother"),
        ]),
        case("org: division slash", &[], 7, &["DIVISION SLASH"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/..\u{2215}other/x.txt"),
        ]),
        case("org: fraction slash", &[], 7, &["FRACTION SLASH"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/..\u{2044}other"),
        ]),
        case("org: fullwidth solidus", &[], 7, &["FULLWIDTH SOLIDUS"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/..\u{ff0f}other"),
        ]),
        case("org: fullwidth dots", &[], 7, &["FULLWIDTH FULL STOP"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/\u{ff0e}\u{ff0e}/other"),
        ]),
        case("org: dot-dot", &[], 7, &["`..` segment"]).args(vec![
            "put".into(),
            "f.txt".into(),
            b("acme/../other/x.txt"),
        ]),
        case("org: get other", &[], 5, &["outside `acme/`"]).args(vec![
            "get".into(),
            b("other/secret.txt"),
            "stolen.txt".into(),
        ]),
        case("org: ls other", &[], 5, &["outside `acme/`"]).args(vec!["ls".into(), b("other/")]),
        case("org: rm other", &[], 5, &["outside `acme/`"])
            .args(vec!["rm".into(), b("other/secret.txt")]),
        case("org: cp out", &[], 5, &["outside `acme/`"]).args(vec![
            "cp".into(),
            b("acme/mine.txt"),
            b("other/mine.txt"),
        ]),
        case("org: mv in", &[], 5, &["outside `acme/`"]).args(vec![
            "mv".into(),
            b("other/secret.txt"),
            b("acme/stolen.txt"),
        ]),
    ]
}

/// An org-bound listing shows `acme/` only, while the bucket holds `other/` too (the admin's
/// listing shows it: without that, the check could not fail).
async fn check_org_listing(admin: &Sandbox, sb: &Sandbox, bucket: &str) {
    let all = admin.run_async(&["ls", "--recursive", bucket]).await.ok();
    assert!(all.stdout.contains("other/secret.txt"), "{all:?}");
    let run = sb.run_async(&["ls", "--recursive", bucket]).await.ok();
    assert!(run.stdout.contains("acme/mine.txt"), "{run:?}");
    assert!(
        !run.stdout.contains("other/") && !run.stdout.contains("secret"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_bad_inputs() {
    let endpoint = s3_endpoint();
    let admin = s3_sandbox_at(&endpoint, "");
    files(&admin);
    let bucket = unique("badin").to_lowercase();
    admin.run_async(&["buckets", "create", &bucket]).await.ok();
    let _guard = BucketGuard {
        sb: &admin,
        bucket: bucket.clone(),
    };
    seed(
        &admin,
        &["put", "f.txt", &format!("{bucket}/other/secret.txt")],
    )
    .await;
    seed(
        &admin,
        &["put", "f.txt", &format!("{bucket}/acme/mine.txt")],
    )
    .await;
    let label = "s3 (127.0.0.1";
    let b = |k: &str| format!("{bucket}/{k}");

    let mut cases = vec![
        case(
            "s3: wrong secret",
            &[],
            5,
            &[label, "AWS_SECRET_ACCESS_KEY", "seaweed"],
        )
        .args(vec!["put".into(), "f.txt".into(), b("x.txt")])
        .never("wrong-secret-key-planted"),
        case(
            "s3: wrong access key",
            &[],
            5,
            &[label, "AWS_ACCESS_KEY_ID"],
        )
        .args(vec!["ls".into(), bucket.clone()]),
        case(
            "s3: missing bucket put",
            &["put", "f.txt", "no-such-bucket-stowage-x/f.txt"],
            3,
            &["no-such-bucket-stowage-x", label, "Next:"],
        ),
        case(
            "s3: missing bucket get",
            &["get", "no-such-bucket-stowage-x/f.txt", "out.txt"],
            3,
            &["no-such-bucket-stowage-x", label, "Next:"],
        ),
        case("s3: missing object", &[], 3, &["none.txt", label, "Next:"]).args(vec![
            "get".into(),
            b("none.txt"),
            "none.txt".into(),
        ]),
    ];
    cases.extend(org_cases(&bucket));
    let mut results = Vec::new();
    for case in &cases {
        let mut sb = if case.name.starts_with("org:") {
            s3_sandbox_at(&endpoint, "org = \"acme\"\n")
        } else {
            s3_sandbox_at(&endpoint, "")
        };
        match case.name {
            "s3: wrong secret" => {
                sb.env("AWS_SECRET_ACCESS_KEY", "wrong-secret-key-planted");
            }
            "s3: wrong access key" => {
                sb.env("AWS_ACCESS_KEY_ID", "nosuchkeyid");
            }
            _ => {}
        }
        files(&sb);
        results.push(check(case, &sb, Held::Bucket(&admin, &bucket)).await);
    }
    // Each case left the bucket's keys and bytes as they were (`check`); an org listing
    // shows only `acme/`.
    let org = s3_sandbox_at(&endpoint, "org = \"acme\"\n");
    check_org_listing(&admin, &org, &bucket).await;
    report(results, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supabase_bad_inputs() {
    let (_dir, server) = contract_server().await;
    let key = server.service_role_key.clone();
    let admin = supabase_sandbox(&server.url, &key, "");
    files(&admin);
    let bucket = unique("badin").to_lowercase();
    admin.run_async(&["buckets", "create", &bucket]).await.ok();
    seed(
        &admin,
        &["put", "f.txt", &format!("{bucket}/other/secret.txt")],
    )
    .await;
    seed(
        &admin,
        &["put", "f.txt", &format!("{bucket}/acme/mine.txt")],
    )
    .await;
    // A bucket with a 100 KB limit, made with the store directly (the CLI has no flag for it).
    let small = unique("small").to_lowercase();
    let store =
        stowage_store::supabase::SupabaseStore::new(stowage_store::supabase::SupabaseConfig {
            url: server.url.clone(),
            key: key.clone(),
            resume_dir: None,
            max_object_size: None,
        })
        .unwrap();
    use stowage_store::Store;
    store
        .create_bucket(
            &small,
            &stowage_store::BucketOptions {
                file_size_limit: Some(100_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = |k: &str| format!("{bucket}/{k}");
    let wrong =
        stowage_supabase_contract::mint_jwt("not-the-server-secret", "service_role", 4_000_000_000);

    let mut cases = vec![
        case(
            "supabase: wrong key",
            &[],
            5,
            &["supabase", "SUPABASE_SERVICE_ROLE_KEY", "team"],
        )
        .args(vec!["ls".into(), bucket.clone()])
        .never(&wrong),
        case(
            "supabase: missing bucket put",
            &["put", "f.txt", "no-such-bucket-stowage-x/f.txt"],
            3,
            &["no-such-bucket-stowage-x", "supabase", "Next:"],
        ),
        case(
            "supabase: missing bucket get",
            &["get", "no-such-bucket-stowage-x/f.txt", "out.txt"],
            3,
            &["no-such-bucket-stowage-x", "supabase", "Next:"],
        ),
        case(
            "supabase: over the size limit (413)",
            &[],
            7,
            &["big.bin", "supabase", "Next:"],
        )
        .args(vec![
            "put".into(),
            "big.bin".into(),
            format!("{small}/big.bin"),
        ]),
        case(
            "supabase: non-portable key",
            &[],
            7,
            &["ünï.txt", "supabase", "Next:"],
        )
        .args(vec!["put".into(), "f.txt".into(), b("ünï.txt")]),
    ];
    cases.extend(org_cases(&bucket));
    let mut results = Vec::new();
    for case in &cases {
        let extra = if case.name.starts_with("org:") {
            "org = \"acme\"\n"
        } else {
            ""
        };
        let k = if case.name == "supabase: wrong key" {
            &wrong
        } else {
            &key
        };
        let sb = supabase_sandbox(&server.url, k, extra);
        files(&sb);
        results.push(check(case, &sb, Held::Bucket(&admin, &bucket)).await);
    }
    // Each case left the main bucket's keys and bytes as they were (`check`).
    let smalls = admin.run_async(&["ls", &small]).await.ok();
    assert!(
        !smalls.stdout.contains("big.bin"),
        "a partial object was left: {smalls:?}"
    );
    let org = supabase_sandbox(&server.url, &key, "org = \"acme\"\n");
    check_org_listing(&admin, &org, &bucket).await;
    report(results, 20);
}

/// What the fault proxy does to each provider: a short burst of 503s is retried to success,
/// a long one fails as unavailable; a download cut short fails as unavailable (retry), an
/// altered one fails the integrity check; a server that stops answering fails as unavailable;
/// the destination is never left half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_between_us_and_seaweedfs() {
    faults("s3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_between_us_and_supabase() {
    faults("supabase").await;
}

struct FaultCase {
    fault: Fault,
    args: Vec<String>,
    code: i32,
    says: Vec<&'static str>,
    stores: bool,
}

async fn faults(provider: &str) {
    let (_dir, server) = contract_server().await;
    let key = server.service_role_key.clone();
    let content = data(300_000, 5);
    let upstream = match provider {
        "s3" => s3_endpoint(),
        _ => server.url.clone(),
    };
    let sandbox = |url: &str| match provider {
        "s3" => s3_sandbox_at(url, ""),
        _ => supabase_sandbox(url, &key, ""),
    };
    let direct = sandbox(&upstream);
    files(&direct);
    let bucket = unique("fault").to_lowercase();
    direct.run_async(&["buckets", "create", &bucket]).await.ok();
    let _guard = BucketGuard {
        sb: &direct,
        bucket: bucket.clone(),
    };
    seed(&direct, &["put", "big.bin", &format!("{bucket}/big.bin")]).await;
    let label = if provider == "s3" {
        "s3 (127.0.0.1"
    } else {
        "supabase"
    };
    let at = |k: &str| format!("{bucket}/{k}");
    let mut cases = vec![
        FaultCase {
            fault: Fault::ServerErrors(2),
            args: vec!["get".into(), at("big.bin"), "burst.bin".into()],
            code: 0,
            says: vec!["big.bin"],
            stores: false,
        },
        FaultCase {
            fault: Fault::ServerErrors(1000),
            args: vec!["put".into(), "big.bin".into(), at("never.bin")],
            code: 6,
            // The file; S3 names the bucket (its first request checks it), Supabase the key.
            says: vec![label, "big.bin", "fault-", "Next:"],
            stores: false,
        },
        FaultCase {
            fault: Fault::ServerErrors(1000),
            args: vec!["get".into(), at("big.bin"), "unavailable.bin".into()],
            code: 6,
            says: vec![label, "big.bin", "Next:"],
            stores: false,
        },
        FaultCase {
            fault: Fault::TruncateBody,
            args: vec!["get".into(), at("big.bin"), "cut.bin".into()],
            code: 6,
            says: vec![label, "big.bin", "Next:"],
            stores: false,
        },
        FaultCase {
            fault: Fault::CorruptBody,
            args: vec!["get".into(), at("big.bin"), "bad.bin".into()],
            code: 7,
            says: vec![label, "big.bin", "Next:"],
            stores: false,
        },
    ];
    if provider == "s3" {
        // Supabase uploads stream their body, so they are not repeated; they resume instead.
        cases.push(FaultCase {
            fault: Fault::ServerErrors(2),
            args: vec!["put".into(), "big.bin".into(), at("retried.bin")],
            code: 0,
            says: vec!["retried.bin"],
            stores: true,
        });
    }
    // A server that accepts the connection and never answers: the read watchdog
    // (`STOWAGE_READ_TIMEOUT_SECS`, shortened below) fails it as unavailable.
    cases.push(FaultCase {
        fault: Fault::Stall,
        args: vec!["get".into(), at("big.bin"), "stalled.bin".into()],
        code: 6,
        says: vec![label, "big.bin", "Next:"],
        stores: false,
    });
    if provider == "s3" {
        cases.push(FaultCase {
            fault: Fault::Stall,
            args: vec!["put".into(), "big.bin".into(), at("stalled.bin")],
            code: 6,
            says: vec![label, "big.bin", "no byte moved for 2s", "Next:"],
            stores: false,
        });
        // Slow but moving, both ways, for longer than the watchdog's 2 s: never cut.
        cases.push(FaultCase {
            fault: Fault::Slow,
            args: vec!["put".into(), "big.bin".into(), at("slow.bin")],
            code: 0,
            says: vec!["slow.bin"],
            stores: true,
        });
        cases.push(FaultCase {
            fault: Fault::Slow,
            args: vec!["get".into(), at("big.bin"), "slow.bin".into()],
            code: 0,
            says: vec!["slow.bin"],
            stores: false,
        });
    }
    let mut results = Vec::new();
    for fc in cases {
        let proxy = Proxy::start(&upstream, fc.fault).await;
        let mut sb = sandbox(&proxy.url);
        if matches!(fc.fault, Fault::Stall | Fault::Slow) {
            sb.env("STOWAGE_READ_TIMEOUT_SECS", "2");
        }
        files(&sb);
        let name: &'static str = Box::leak(format!("{provider}: {:?}", fc.fault).into_boxed_str());
        let args: Vec<&str> = fc.args.iter().map(String::as_str).collect();
        let mut c = case(name, &args, fc.code, &fc.says);
        if fc.code == 0 && fc.args[0] == "get" {
            c = c.creates(Box::leak(fc.args[2].clone().into_boxed_str()));
        }
        if fc.stores {
            c = c.stores();
        }
        let r = check(&c, &sb, Held::Unchecked).await.and_then(|()| {
            if proxy.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return Err(format!("{name}: the proxy saw nothing"));
            }
            Ok(())
        });
        results.push(r);
    }
    // The retried upload is whole; the refused one left nothing.
    let back = direct
        .run_async(&["get", &at("retried.bin"), "retried.bin"])
        .await;
    if provider == "s3"
        && (back.code != 0 || std::fs::read(direct.work("retried.bin")).ok() != Some(content))
    {
        results.push(Err(format!(
            "{provider}: the retried upload is not whole: {back:?}"
        )));
    }
    let listed = direct.run_async(&["ls", &bucket]).await.ok();
    if listed.stdout.contains("never.bin") {
        results.push(Err(format!(
            "{provider}: a refused upload was stored: {listed:?}"
        )));
    }
    report(results, 5);
}
