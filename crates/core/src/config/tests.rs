//! Unit tests.

use super::*;

fn paths() -> Paths {
    Paths {
        config_dir: "/cfg".into(),
        data_dir: "/data".into(),
        cache_dir: "/cache".into(),
    }
}

fn parse(text: &str) -> Result<Config> {
    Config::parse(text, Path::new("/cfg/config.toml"), &paths())
}

#[test]
fn no_file_gives_the_embedded_local_profile() {
    let c = Config::embedded("/cfg/config.toml".into(), &paths());
    let (p, why) = c.select(None, None).unwrap();
    assert_eq!(why, Selection::BuiltIn);
    assert_eq!(
        p.backend,
        Backend::Local(LocalProfile {
            root: "/data/store".into()
        })
    );
}

#[test]
fn parses_profiles_and_selects_by_precedence() {
    let c = parse(
        r#"
default_profile = "lab"
[profiles.lab]
kind = "s3"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
path_style = true
part_size = 8388608
[profiles.team]
kind = "supabase"
url = "https://abcd.supabase.co"
[profiles.scratch]
kind = "local"
root = "scratch"
"#,
    )
    .unwrap();
    assert_eq!(c.profiles.len(), 4);
    assert_eq!(c.select(None, None).unwrap().0.name, "lab");
    assert_eq!(
        c.select(None, Some("team")).unwrap().1,
        Selection::Environment
    );
    assert_eq!(
        c.select(Some("local"), Some("team")).unwrap().0.name,
        "local"
    );
    match &c.profiles["scratch"].backend {
        Backend::Local(l) => assert_eq!(l.root, Path::new("/cfg/scratch")),
        other => panic!("{other:?}"),
    }
    let err = c.select(Some("nope"), None).unwrap_err().to_string();
    assert!(
        err.contains("no profile `nope`") && err.contains("`lab`"),
        "{err}"
    );
}

#[test]
fn sync_section_defaults_names_profiles_and_refuses_unknown_keys() {
    let c = parse("[profiles.lab]\nkind = \"local\"\n").unwrap();
    assert_eq!(c.sync, SyncConfig::default());
    assert_eq!(c.sync.bucket, "ml-artifacts");
    let c = parse(
        "[profiles.lab]\nkind = \"local\"\n[sync]\nprimary = \"lab\"\nsecondary = \"local\"\nbucket = \"team-ml\"\n",
    )
    .unwrap();
    assert_eq!(c.sync.primary.as_deref(), Some("lab"));
    assert_eq!(c.sync.secondary.as_deref(), Some("local"));
    assert_eq!(c.sync.bucket, "team-ml");
    let err = parse("[sync]\nprimary = \"nope\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains(":2:11: [sync] names profile `nope`"), "{err}");
    let err = parse("[sync]\nbucket = \"x\"\nprimry = \"local\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `primry`"), "{err}");
    let err = parse("[sync]\naccess_key = \"hunter2\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("looks like a secret") && !err.contains("hunter2"),
        "{err}"
    );
    let err = parse("[sync]\nbucket = \"Not#Valid\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("[sync] bucket"), "{err}");
}

#[test]
fn unknown_keys_are_refused_with_their_position() {
    let err = parse("[profiles.lab]\nkind = \"s3\"\nendpiont = \"http://x\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/cfg/config.toml:3:1: unknown field `endpiont`"),
        "{err}"
    );
    let err = parse("[profiles.lab]\nkind = \"local\"\nurl = \"http://x\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(":3:7: `url` is not a setting of `local`"),
        "{err}"
    );
    let err = parse("[profiles.lab]\nkind = \"ftp\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains(":2:8:"), "{err}");
    let err = parse("default_profile = \"x\"\n").unwrap_err().to_string();
    assert!(
        err.contains(":1:19: default_profile `x` is not defined"),
        "{err}"
    );
}

#[test]
fn prices_override_defaults_and_refuse_unknown_or_negative_fields() {
    let c = parse("[prices]\ns3_storage_gb_month = 0.0125\nsupabase_storage_included_gb = 8\n")
        .unwrap();
    assert_eq!(c.prices.s3_storage_gb_month, 0.0125);
    assert_eq!(c.prices.supabase_storage_included_gb, 8.0);
    assert_eq!(c.prices.s3_egress_gb, 0.09);
    assert_eq!(
        parse("").unwrap().prices,
        crate::cost::PriceTable::default()
    );
    let err = parse("[prices]\ns3_storage_gb_month = 0.02\ns3_storrage = 1\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/cfg/config.toml:3:1: unknown field `s3_storrage`"),
        "{err}"
    );
    let err = parse("[prices]\ns3_egress_gb = -1.0\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(":2:16: `s3_egress_gb` must be a price in USD"),
        "{err}"
    );
}

#[test]
fn secrets_are_refused_without_echoing_them() {
    for field in [
        "secret_access_key",
        "service_role_key",
        "key",
        "password",
        "token",
        "access_key_id",
        "anon-key",
    ] {
        let text = format!("[profiles.lab]\nkind = \"s3\"\n{field} = \"hunter2-value\"\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains(&format!(":3:1: `{field}` looks like a secret")),
            "{err}"
        );
        assert!(err.contains("SUPABASE_SERVICE_ROLE_KEY"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    // Even in a syntax error the value is not quoted.
    let err = parse("[profiles.lab]\npassword = hunter2\n")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!looks_secret("aws_profile") && !looks_secret("max_object_size"));
}
