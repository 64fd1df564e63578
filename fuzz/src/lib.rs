//! The checks behind each fuzz target. Each takes arbitrary bytes and panics when an invariant
//! breaks; libFuzzer (`cargo +nightly fuzz run NAME`) feeds it generated inputs, and the
//! stable replay binaries (`cargo build --bins`) feed it files from `fuzz/seeds/NAME`.

use std::path::{Path, PathBuf};

/// Run `check` over every file named on the command line (a folder means every file in it).
/// Returns the process exit code: 0 when all passed; a failing input panics with its name.
pub fn replay(check: fn(&[u8])) -> i32 {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        eprintln!("usage: TARGET FILE_OR_DIR…  (replays inputs; fuzz with `cargo +nightly fuzz run TARGET`)");
        return 2;
    }
    let mut files = Vec::new();
    for arg in &args {
        collect(arg, &mut files);
    }
    for file in &files {
        let data =
            std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        eprintln!("{}", file.display());
        check(&data);
    }
    println!("{} inputs passed", files.len());
    0
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out);
        }
    } else {
        out.push(path.to_path_buf());
    }
}

/// Key validation and organization confinement (`stowage_store::key`, `stowage_store::org`).
pub mod key {
    use stowage_store::key::{
        check_unambiguous, parse_prefix, validate_bucket, Key, MAX_KEY_BYTES,
    };
    use stowage_store::org::validate_org;
    use stowage_store::ErrorKind;
    use unicode_normalization::UnicodeNormalization;

    /// Invariants: a key that validates re-validates to itself and is NFC, at most 1,024
    /// bytes, relative, without empty, `.` or `..` segments, `\`, control or bidi characters;
    /// refusals are `InvalidKey` with the key shown printable; a prefix re-validates to
    /// itself; an org-confined key (one that also passes `check_unambiguous` and starts with
    /// `acme/`) cannot leave `acme/` under percent-decoding or NFKC folding.
    pub fn check(data: &[u8]) {
        let raw = String::from_utf8_lossy(data);
        match Key::parse(&raw) {
            Ok(k) => {
                let s = k.as_str();
                assert_eq!(Key::parse(s).unwrap(), k, "re-validates to itself");
                assert!(s.len() <= MAX_KEY_BYTES);
                assert!(!s.starts_with('/') && !s.contains('\\'));
                assert!(
                    s.split('/').all(|seg| !matches!(seg, "" | "." | "..")),
                    "{s:?}"
                );
                assert!(!s.chars().any(char::is_control), "{s:?}");
                assert!(s.nfc().eq(s.chars()), "NFC");
                assert!(k.file_name().len() <= s.len() && !k.file_name().contains('/'));
                confined(s);
            }
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::InvalidKey);
                let shown = e.to_string();
                assert!(
                    !shown.chars().any(|c| c.is_control() && c != '\n'),
                    "{shown:?}"
                );
            }
        }
        if let Ok(p) = parse_prefix(&raw) {
            assert_eq!(
                parse_prefix(&p).unwrap(),
                p,
                "prefix re-validates to itself"
            );
        }
        let _ = validate_bucket("s3", &raw);
        if let Ok(org) = validate_org(&raw) {
            assert!(!org.contains('/') && !matches!(org.as_str(), "." | ".."));
            assert_eq!(validate_org(&org).unwrap(), org);
            check_unambiguous(&org).unwrap();
        }
    }

    /// For a valid key `s`: if `acme/{s}` passes the org checks, no decoding escapes `acme/`.
    fn confined(s: &str) {
        let scoped = format!("acme/{s}");
        let Ok(k) = Key::parse(&scoped) else { return };
        if check_unambiguous(k.as_str()).is_err() {
            return;
        }
        let segments = k.as_str().matches('/').count();
        for decoded in [
            percent_decode(k.as_str()),
            percent_decode(&percent_decode(k.as_str())),
            k.as_str().nfkc().collect::<String>(),
            percent_decode(&k.as_str().nfkc().collect::<String>()),
        ] {
            assert_eq!(
                decoded.matches('/').count(),
                segments,
                "{decoded:?} from {k:?}"
            );
            assert!(decoded.starts_with("acme/"), "{decoded:?}");
            assert!(
                decoded
                    .split('/')
                    .all(|seg| !matches!(seg, "" | "." | "..")),
                "{decoded:?} from {k:?}"
            );
            assert!(
                !decoded.contains('\\') && !decoded.contains('\0'),
                "{decoded:?}"
            );
        }
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                let h = (b[i + 1] as char).to_digit(16);
                let l = (b[i + 2] as char).to_digit(16);
                if let (Some(h), Some(l)) = (h, l) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Version names (`stowage_core::version`).
pub mod version {
    use std::cmp::Ordering;

    use stowage_core::version::{parse_name, VersionTag};

    /// Invariants: parsing never panics; a version leaves a non-empty family; versions order
    /// totally (antisymmetric, consistent with `==`, transitive); a parsed timestamp written
    /// back the canonical way parses to the same instant, a number to the same components.
    pub fn check(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let names: Vec<&str> = text.splitn(3, '\n').collect();
        let mut tags = Vec::new();
        for name in &names {
            let parsed = parse_name(name);
            let _ = parsed.to_string();
            if let Some(tag) = parsed.version {
                assert!(
                    !parsed.family.is_empty(),
                    "{name:?}: version without family"
                );
                assert!(name.contains(tag.as_written()));
                roundtrip(&tag);
                tags.push(tag);
            }
            if !parsed.extension.is_empty() {
                assert!(name.contains(&format!(".{}", parsed.extension)), "{name:?}");
            }
        }
        // Derived tags widen the set compared: the canonical forms.
        let extra: Vec<VersionTag> = tags
            .iter()
            .map(|t| match t {
                VersionTag::Timestamp(at, _) => VersionTag::timestamp(*at),
                VersionTag::Number(c, _) => VersionTag::number(c),
            })
            .collect();
        tags.extend(extra);
        for a in &tags {
            assert_eq!(a.cmp(a), Ordering::Equal);
            for b in &tags {
                let ab = a.cmp(b);
                assert_eq!(ab, b.cmp(a).reverse(), "{a:?} {b:?}");
                assert_eq!(ab == Ordering::Equal, a == b, "{a:?} {b:?}");
                for c in &tags {
                    if ab != Ordering::Greater && b.cmp(c) != Ordering::Greater {
                        assert_ne!(a.cmp(c), Ordering::Greater, "{a:?} {b:?} {c:?}");
                    }
                }
            }
        }
    }

    fn roundtrip(tag: &VersionTag) {
        match tag {
            VersionTag::Timestamp(at, _) => {
                let canonical = VersionTag::timestamp(*at);
                let again = parse_name(&format!("run-{}.json", canonical.as_written()));
                match again.version {
                    Some(VersionTag::Timestamp(t, _)) => assert_eq!(t, *at, "{canonical:?}"),
                    other => panic!("{canonical:?} reparsed as {other:?}"),
                }
            }
            VersionTag::Number(components, _) => {
                let canonical = VersionTag::number(components);
                let again = parse_name(&format!("model_{}.pt", canonical.as_written()));
                match again.version {
                    Some(VersionTag::Number(c, _)) => assert_eq!(&c, components),
                    other => panic!("{canonical:?} reparsed as {other:?}"),
                }
            }
        }
    }
}

/// Policy files (`stowage_core::policy` from TOML).
pub mod policy {
    use std::path::Path;

    use stowage_core::policy::Policy;
    use stowage_store::key::Key;

    const PATHS: &[&str] = &[
        "model-notable-quality-2026-01-06T20-26-17.json",
        "models/credit_risk_v2.1.pkl",
        "data/train.csv",
        "a/b/c/weights.pt",
        "notes ü.txt",
        ".beast-mode/run.log",
        "x.tar.gz",
    ];
    const SIZES: &[u64] = &[0, 1, 99_999, 100_000, 5_000_000_000, u64::MAX];

    /// Invariants: an invalid policy is an error naming the file; a valid one classifies any
    /// path and size without panicking, `explain` agrees with `classify`, an uploading
    /// decision carries a valid key (re-validating to itself) or says why not, a non-uploading
    /// one carries no key, and with an org the key of an `org_prefix` rule starts with it.
    pub fn check(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let file = Path::new("/fuzz/cfg/policy.toml");
        let policy = match Policy::parse(text, file) {
            Ok(p) => p,
            Err(e) => {
                assert!(e.to_string().contains("policy.toml"), "{e}");
                return;
            }
        };
        for path in PATHS {
            for &size in SIZES {
                for org in [None, Some("acme")] {
                    let d = policy.classify(path, size, org);
                    let x = policy.explain(path, size, org);
                    assert_eq!(x.decision, d);
                    let rule = policy.rules().iter().find(|r| r.name == d.rule);
                    if d.destination.uploads() {
                        match &d.key {
                            Some(k) => {
                                let parsed = Key::parse(k).unwrap_or_else(|e| panic!("{k:?}: {e}"));
                                assert_eq!(parsed.as_str(), k);
                                let org = org.or(policy.org.as_deref());
                                if let (Some(org), Some(rule)) = (org, rule) {
                                    if rule.org_prefix {
                                        assert!(k.starts_with(&format!("{org}/")), "{k} {org}");
                                    }
                                }
                            }
                            None => assert!(d.key_error.is_some(), "{d:?}"),
                        }
                    } else {
                        assert_eq!(d.key, None, "{d:?}");
                    }
                }
            }
        }
    }
}

/// Training-results metadata (`stowage_core::metadata`, streamed JSON).
pub mod metadata {
    use std::io::Write;

    use stowage_core::metadata::extract;

    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().unwrap();
    }

    /// Invariants: extraction never panics; every number it reports is finite; an error names
    /// the file; and the same bytes gzipped give the same answer.
    pub fn check(data: &[u8]) {
        DIR.with(|dir| {
            let plain = dir.path().join("results.json");
            std::fs::write(&plain, data).unwrap();
            let a = extract(&plain);
            match &a {
                Ok(Some(m)) => {
                    for v in [m.accuracy, m.loss, m.training_split].into_iter().flatten() {
                        assert!(v.is_finite(), "{m:?}");
                    }
                    assert!(m.other.values().all(|v| v.is_finite()), "{m:?}");
                }
                Ok(None) => {}
                Err(e) => assert!(e.to_string().contains("results.json"), "{e}"),
            }
            if data.starts_with(&[0x1f, 0x8b]) {
                return;
            }
            let gz = dir.path().join("results.json.gz");
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(data).unwrap();
            std::fs::write(&gz, enc.finish().unwrap()).unwrap();
            let b = extract(&gz);
            match (&a, &b) {
                (Ok(x), Ok(y)) => assert_eq!(x, y),
                (Err(_), Err(_)) => {}
                _ => panic!("plain {a:?} but gzipped {b:?}"),
            }
        })
    }
}
