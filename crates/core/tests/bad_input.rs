//! Core-level bad inputs: metadata JSON, gzip bodies, policy files and config files that are
//! wrong. Each case asserts the error's kind and that its message names the file (or object),
//! the provider or layer, and what to do next; and that nothing panics. The CLI suite
//! (crates/cli/tests/bad_input.rs) covers the same ground end to end with exit codes.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt;
use stowage_core::compress::{gunzip_stream, gunzip_stream_limited, GunzipLimits};
use stowage_core::config::Config;
use stowage_core::metadata::extract;
use stowage_core::policy::Policy;
use stowage_core::Paths;
use stowage_store::ErrorKind;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn metadata_json_that_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let deep_array = format!("{{\"a\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    // (name, content, Ok(expected accuracy, loss) or Err(words the message must hold))
    type Want = Result<(Option<f64>, Option<f64>), &'static [&'static str]>;
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        (
            "invalid.json",
            b"{\"accuracy\": 0.5".to_vec(),
            Err(&[
                "invalid.json",
                "not valid JSON",
                "line 1",
                "check that the file",
            ]),
        ),
        (
            "garbage.json",
            b"{nope}".to_vec(),
            Err(&["garbage.json", "not valid JSON", "check that the file"]),
        ),
        (
            "trailing.json",
            b"{\"loss\": 1} {\"loss\": 2}".to_vec(),
            Err(&["trailing.json", "not valid JSON"]),
        ),
        (
            "deep-array.json",
            deep_array.into_bytes(),
            Err(&[
                "deep-array.json",
                "nested deeper than",
                "check that the file",
            ]),
        ),
        (
            "deep-object.json",
            deep_object.into_bytes(),
            Err(&["deep-object.json", "nested deeper than"]),
        ),
        (
            "deep-in-string.json",
            format!("{{\"note\": \"{}\", \"loss\": 0.5}}", "[".repeat(20_000)).into_bytes(),
            Ok((None, Some(0.5))),
        ),
        // A number literal beyond f64 is refused by the JSON reader: the whole file is an error
        // naming the position (so `sync` records the version without metrics). A numeric
        // string beyond f64 is only not a value: the rest still counts.
        (
            "huge-exponent.json",
            b"{\"accuracy\": 1e999, \"loss\": 0.25}".to_vec(),
            Err(&[
                "huge-exponent.json",
                "number out of range",
                "line 1 column 19",
                "check that the file",
            ]),
        ),
        (
            "huge-string-number.json",
            b"{\"accuracy\": \"1e999\", \"loss\": 0.25}".to_vec(),
            Ok((None, Some(0.25))),
        ),
        (
            "2pow80.json",
            b"{\"accuracy\": 1208925819614629174706176, \"loss\": 0.25}".to_vec(),
            Ok((Some(1208925819614629174706176.0), Some(0.25))),
        ),
        (
            "negative-2pow80.json",
            b"{\"loss\": -1208925819614629174706176}".to_vec(),
            Ok((None, Some(-1208925819614629174706176.0))),
        ),
        (
            "nan-strings.json",
            b"{\"accuracy\": \"NaN\", \"loss\": \"inf\", \"f1\": 0.5}".to_vec(),
            Ok((None, None)),
        ),
        (
            "not-an-object.json",
            b"[1, 2, 3]".to_vec(),
            Ok((None, None)),
        ),
        ("empty.json", b"".to_vec(), Ok((None, None))),
        (
            "binary.json",
            vec![0xff, 0xfe, 0x00, 0x7b],
            Ok((None, None)),
        ),
        (
            "invalid-utf8.json",
            b"{\"model_type\": \"\xff\xfe\", \"loss\": 0.5}".to_vec(),
            Err(&["invalid-utf8.json", "not valid JSON"]),
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, want) in cases {
        for gz in [false, true] {
            let (file, content) = if gz {
                (format!("{name}.gz"), gzip(&bytes))
            } else {
                (name.to_string(), bytes.clone())
            };
            let path = write(dir.path(), &file, &content);
            let got = std::panic::catch_unwind(|| extract(&path));
            let Ok(got) = got else {
                failures.push(format!("{file}: panicked"));
                continue;
            };
            match (&want, got) {
                (Ok((acc, loss)), Ok(m)) => {
                    let m = m.unwrap_or_default();
                    if (m.accuracy, m.loss) != (*acc, *loss) {
                        failures.push(format!(
                            "{file}: got {m:?}, want accuracy {acc:?} loss {loss:?}"
                        ));
                    }
                    let all = [m.accuracy, m.loss, m.training_split].into_iter().flatten();
                    if !all.chain(m.other.values().copied()).all(f64::is_finite) {
                        failures.push(format!("{file}: a non-finite value: {m:?}"));
                    }
                }
                (Err(words), Err(e)) => {
                    let text = e.to_string();
                    for w in *words {
                        let w = if gz && *w == name { file.as_str() } else { w };
                        if !text.contains(w) {
                            failures.push(format!("{file}: message lacks {w:?}: {text}"));
                        }
                    }
                    if !text.contains("local file") {
                        failures.push(format!("{file}: message does not name the layer: {text}"));
                    }
                }
                (want, got) => failures.push(format!("{file}: want {want:?}, got {got:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn gunzip_all(
    body: Vec<u8>,
    limits: Option<GunzipLimits>,
) -> (u64, Option<stowage_store::Error>) {
    // Fed in 64 KiB pieces, as a download arrives.
    let chunks: Vec<stowage_store::Result<Bytes>> = body
        .chunks(64 << 10)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let input = futures::stream::iter(chunks).boxed();
    let mut out = match limits {
        Some(l) => gunzip_stream_limited(input, "bkt/runs/r.json.gz", l),
        None => gunzip_stream(input, "bkt/runs/r.json.gz"),
    };
    let mut produced = 0;
    while let Some(item) = out.next().await {
        match item {
            Ok(b) => produced += b.len() as u64,
            Err(e) => return (produced, Some(e)),
        }
    }
    (produced, None)
}

#[tokio::test]
async fn gzip_bodies_that_are_wrong() {
    let good = gzip(&vec![b'x'; 100_000]);
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let mut bad_len = good.clone();
    bad_len[n - 1] ^= 0x01;
    let mut flipped = good.clone();
    flipped[n / 2] ^= 0xff;
    // (name, body, kind)
    let cases: Vec<(&str, Vec<u8>, ErrorKind)> = vec![
        (
            "not gzip",
            b"plain text, not gzip".to_vec(),
            ErrorKind::Integrity,
        ),
        ("empty", Vec::new(), ErrorKind::Integrity),
        ("header only", good[..10].to_vec(), ErrorKind::Integrity),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            ErrorKind::Integrity,
        ),
        (
            "no trailer",
            good[..good.len() - 8].to_vec(),
            ErrorKind::Integrity,
        ),
        ("bad crc", bad_crc, ErrorKind::Integrity),
        ("bad length", bad_len, ErrorKind::Integrity),
        ("flipped byte", flipped, ErrorKind::Integrity),
    ];
    for (name, body, kind) in cases {
        let (_, err) = gunzip_all(body, None).await;
        let e = err.unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(e.kind, kind, "{name}: {e}");
        let text = e.to_string();
        assert!(text.contains("bkt/runs/r.json.gz"), "{name}: {text}");
        assert!(text.contains("gzip"), "{name}: {text}");
        assert!(e.hint.is_some(), "{name}: {text}");
    }
    // A good body still passes, so the cases above fail for their damage alone.
    let (produced, err) = gunzip_all(good, None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(produced, 100_000);
}

#[tokio::test]
async fn decompression_bombs_are_stopped_early() {
    // 512 MiB of zeros is ~500 KB of gzip: a 1,000:1 ratio cap stops it long before the end.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..512 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let (produced, err) = gunzip_all(bomb.clone(), None).await;
    let e = err.expect("the bomb was refused");
    assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
    assert!(produced < 512 << 20, "stopped after {produced} bytes");
    assert!(e.to_string().contains("bkt/runs/r.json.gz"), "{e}");
    assert!(e.hint.is_some(), "{e}");
    // With the recorded original size as the cap, output beyond it is refused too.
    let (produced, err) = gunzip_all(
        gzip(&vec![7u8; 300_000]),
        Some(GunzipLimits {
            max_ratio: 1_000_000,
            max_output: Some(100_000),
        }),
    )
    .await;
    let e = err.expect("beyond the recorded size");
    assert!(matches!(e.kind, ErrorKind::TooLarge { .. }), "{e}");
    assert!(produced <= 100_000, "{produced}");
}

#[test]
fn policy_files_that_are_wrong() {
    let file = Path::new("/cfg/policy.toml");
    // (text, words the message must hold)
    let cases: Vec<(&str, &[&str])> = vec![
        (
            "[[rule]]\nname = \"r\"\npatterns = [\"[a-\"]\ndestination = \"primary\"\n",
            &["policy.toml:3", "[a-"],
        ),
        (
            "[[rule]]\nname = \"r\"\npatterns = [\"{a,b\"]\ndestination = \"primary\"\n",
            &["policy.toml:3", "{a,b"],
        ),
        (
            "[[rule]]\nname = \"r\"\npatterns = [\"a\\\\\"]\ndestination = \"primary\"\n",
            &["policy.toml:3"],
        ),
        (
            "[[rule]]\nname = \"r\"\npatterns = [\"\"]\ndestination = \"primary\"\n",
            &["policy.toml:3"],
        ),
        (
            "[[rule]]\nname = \"r\"\ndestination = \"primary\"\ncolour = \"red\"\n",
            &["policy.toml:4", "colour", "a rule has"],
        ),
        (
            "[[rule]]\nname = \"r\"\nmin_size = true\ndestination = \"primary\"\n",
            &["policy.toml:3", "min_size"],
        ),
        (
            "[[rule]]\nname = \"r\"\nmin_size = \"12 parsecs\"\ndestination = \"primary\"\n",
            &["policy.toml:3", "unknown size unit `parsecs`", "use B, KB"],
        ),
        (
            "[[rule]]\nname = \"r\"\ndestination = \"cloud\"\n",
            &["policy.toml:3", "cloud"],
        ),
        (
            "[[rule]]\nname = \"r\"\ndestination = \"primary\"\nfolder = \"../up/\"\n",
            &["policy.toml:4", "../up/"],
        ),
        (
            "[[rule]]\nname = \"r\"\ndestination = \"primary\"\nkinds = [\"spaceship\"]\n",
            &["policy.toml:4", "spaceship"],
        ),
        ("org = \"a/b\"\n", &["policy.toml:1", "org"]),
        ("org = \"..\"\n", &["policy.toml:1", "org"]),
        ("org = 7\n", &["policy.toml:1", "org"]),
        (
            "[[rule]]\ndestination = \"primary\"\n",
            &["policy.toml:1", "name"],
        ),
        ("rule = 3\n", &["policy.toml:1"]),
        ("[[rule\n", &["policy.toml:1"]),
    ];
    for (text, words) in cases {
        let e = Policy::parse(text, file).expect_err(text);
        let msg = e.to_string();
        for w in words {
            assert!(msg.contains(w), "{text:?}: message lacks {w:?}: {msg}");
        }
    }
}

#[test]
fn config_files_that_are_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        config_dir: dir.path().join("config"),
        data_dir: dir.path().join("data"),
        cache_dir: dir.path().join("cache"),
    };
    let file = dir.path().join("config/config.toml");
    let cases: Vec<(&str, &[&str])> = vec![
        ("colour = \"red\"\n", &["config.toml:1:1", "colour"]),
        (
            "[profiles.p]\nkind = \"local\"\nbucket_name = \"x\"\n",
            &["config.toml:3", "bucket_name"],
        ),
        (
            "[profiles.p]\nkind = \"s3\"\npath_style = \"yes\"\n",
            &[
                "config.toml:3:14",
                "expected a boolean",
                "stowage profile ls --help",
            ],
        ),
        (
            "[profiles.p]\nkind = \"s3\"\nconcurrency = -1\n",
            &[
                "config.toml:3:15",
                "expected usize",
                "stowage profile ls --help",
            ],
        ),
        (
            "[profiles.p]\nkind = \"s3\"\nconcurrency = 0\n",
            &["config.toml:3", "at least 1"],
        ),
        (
            "[profiles.p]\nkind = \"s3\"\nendpoint = \"ftp://x\"\n",
            &["config.toml:3", "http://"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\nendpoint = \"http://x\"\n",
            &["config.toml:3", "not a setting of `local` profiles"],
        ),
        ("[profiles.p]\nkind = \"ftp\"\n", &["config.toml:2", "ftp"]),
        (
            "[profiles.\"bad name\"]\nkind = \"local\"\n",
            &["config.toml:1", "profile names"],
        ),
        (
            "default_profile = \"nope\"\n",
            &["config.toml:1", "`nope` is not defined"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = \"..\"\n",
            &["config.toml:3", "organization"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = \"a/b\"\n",
            &["config.toml:3", "without `/`"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = \"a%2Fb\"\n",
            &["config.toml:3", "%2F"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = \"a\u{2044}b\"\n",
            &["config.toml:3", "FRACTION SLASH"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = \"\u{ff0e}\u{ff0e}\"\n",
            &["config.toml:3", "FULLWIDTH FULL STOP"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = \"\"\n",
            &["config.toml:3", "organization"],
        ),
        (
            "[profiles.p]\nkind = \"local\"\norg = 5\n",
            &["config.toml:3:7", "expected a string"],
        ),
        ("[profiles.p\n", &["config.toml:1", "invalid TOML"]),
    ];
    for (text, words) in cases {
        let e = Config::parse(text, &file, &paths).expect_err(text);
        let msg = e.to_string();
        for w in words {
            assert!(msg.contains(w), "{text:?}: message lacks {w:?}: {msg}");
        }
    }
    // A good org is kept, normalised to NFC.
    let c = Config::parse(
        "[profiles.p]\nkind = \"local\"\norg = \"cafe\u{301}\"\n",
        &file,
        &paths,
    )
    .unwrap();
    assert_eq!(c.profiles["p"].org.as_deref(), Some("caf\u{e9}"));
}
